"""A seeded generator of realistic lineage graphs.

The shape follows how model-collapse lineage looks in practice:

- a handful of **roots** that enter from outside: one very large human web corpus (the "giant"
  root most pretraining shards derive from), other human corpora (books, encyclopaedia, code,
  papers), crawl snapshots whose origin is only partly known, a scrape with no declared origin,
  a vendor's synthetic corpus, and prompt sets;
- **model families** trained over many generations; each generation's training mix combines
  human data with what the previous generations generated, in one of three regimes from the
  model-collapse literature:

  - ``accumulate`` — the human shard stays and every generation's (filtered) output is added;
  - ``replace`` — from generation 1 on, only the previous generation's output;
  - ``fresh`` — a fresh human shard every generation plus the previous generation's output;

- per generation: the training mix (``derived_from``), the model version (``trained_on``, and
  sometimes ``fine_tuned_from`` its predecessor), the data it generated (``generated_by``, with
  its prompt set as ``used``) and a filtered copy of it (``derived_from``);
- **fine-tunes** on instruction mixes (human instructions plus another family's output or a
  vendor's synthetic data), some of which generate chat logs in turn;
- **contamination**: some training mixes also take another family's generated data.

Every edge points to a node created earlier, so the graph is a DAG by construction. Sizes are
token counts; some sizes and edge amounts are left unknown, as pipelines leave them.

The fraction of nodes that descend from the giant root is steered (``giant_fraction``), so
that a correction of its origin touches a known, large part of the graph.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["dataset", "model"]
Variant = Literal["accumulate", "replace", "fresh"]

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
C2PA = "http://c2pa.org/digitalsourcetype/"


@dataclass(frozen=True, slots=True)
class OriginSpec:
    human: float
    synthetic: float
    unknown: float
    synthetic_depth: int | None = None
    digital_source_type: str | None = None


HUMAN = OriginSpec(1.0, 0.0, 0.0, None, IPTC + "digitalCapture")


@dataclass(slots=True)
class Node:
    id: uuid.UUID
    kind: Kind
    namespace: str
    name: str
    version: str
    size: float | None
    origin: OriginSpec | None
    uri: str | None
    giant: bool = False
    depth: int = 0  # longest path from the giant root (0 when not below it)


@dataclass(frozen=True, slots=True)
class Edge:
    id: uuid.UUID
    child: uuid.UUID
    parent: uuid.UUID
    relation: str
    amount: float | None


@dataclass
class Graph:
    seed: int
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    giant_root: uuid.UUID | None = None
    families: dict[str, int] = field(default_factory=dict)  # variant -> count
    generations: int = 0

    @property
    def giant_descendants(self) -> int:
        return sum(1 for n in self.nodes if n.giant) - 1

    def deep_descendant(self) -> Node:
        """The dataset farthest (longest path) below the giant root."""
        return max(
            (n for n in self.nodes if n.giant and n.kind == "dataset"), key=lambda n: n.depth
        )

    def roots(self) -> list[uuid.UUID]:
        children = {e.child for e in self.edges}
        return [n.id for n in self.nodes if n.id not in children]


class Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.graph = Graph(seed=seed)
        self.by_id: dict[uuid.UUID, Node] = {}
        self.seen: set[tuple[uuid.UUID, uuid.UUID, str]] = set()

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def node(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        version: str,
        *,
        size: float | None = None,
        origin: OriginSpec | None = None,
        uri: str | None = None,
    ) -> Node:
        node = Node(self.new_id(), kind, namespace, name, version, size, origin, uri)
        self.graph.nodes.append(node)
        self.by_id[node.id] = node
        return node

    def edge(self, child: Node, parent: Node, relation: str, amount: float | None) -> None:
        key = (child.id, parent.id, relation)
        if key in self.seen:
            raise ValueError(f"duplicate edge {key}")
        self.seen.add(key)
        self.graph.edges.append(Edge(self.new_id(), child.id, parent.id, relation, amount))
        if parent.giant:
            child.giant = True
            child.depth = max(child.depth, parent.depth + 1)


RECENT = 2000  # contamination draws from the most recent generated data


def recent(first: list[Node], second: list[Node], window: int = RECENT) -> list[Node]:
    """``(first + second)[-window:]`` without copying both lists (which made generation
    quadratic in the graph's size)."""
    if len(second) >= window:
        return second[-window:]
    return first[max(0, len(first) - (window - len(second))) :] + second


def _tokens(rng: random.Random, low: float, high: float) -> float:
    """A log-uniform token count, rounded to a whole number of thousands."""
    return float(round(10 ** rng.uniform(low, high), -3))


def generate(
    nodes: int,
    *,
    seed: int = 20241124,
    giant_fraction: float = 0.58,
    generations: tuple[int, int] = (6, 40),
) -> Graph:
    """A lineage graph of at least ``nodes`` nodes (it stops after the family that crosses it).

    ``giant_fraction`` of the nodes descend from the giant human root (within a family's size).
    """
    b = Builder(seed)
    rng = b.rng

    giant = b.node(
        "dataset",
        "s3://corpora",
        "common-crawl/en-2019",
        "2019-04",
        size=1.2e12,
        origin=HUMAN,
        uri="s3://corpora/common-crawl/en-2019/",
    )
    giant.giant = True
    b.graph.giant_root = giant.id

    def root(name: str, size: float | None, origin: OriginSpec | None, ns: str = "s3://corpora"):
        return b.node("dataset", ns, name, "v1", size=size, origin=origin, uri=f"{ns}/{name}/")

    books = root("books", 2.6e10, OriginSpec(1.0, 0.0, 0.0, None, IPTC + "digitalCreation"))
    wiki = root("wikipedia/en", 4.5e9, OriginSpec(1.0, 0.0, 0.0, None, IPTC + "humanEdits"))
    arxiv = root("arxiv", 3.0e10, OriginSpec(1.0, 0.0, 0.0))
    code = root("github-code", 1.5e11, OriginSpec(0.97, 0.0, 0.03))
    crawl_2023 = root("common-crawl/en-2023", 9.0e11, OriginSpec(0.8, 0.0, 0.2))
    crawl_2024 = root("common-crawl/en-2024", 9.5e11, OriginSpec(0.6, 0.05, 0.35, 1))
    crawl_2025 = root("common-crawl/en-2025", 1.0e12, OriginSpec(0.45, 0.1, 0.45, 1))
    scrape = root("forum-scrape", None, None)  # nothing declared: 100 % unknown, size unknown
    vendor = root(
        "vendor/synthetic-instructions",
        5.0e8,
        OriginSpec(0.0, 1.0, 0.0, 2, C2PA + "trainedAlgorithmicData"),
        ns="s3://vendor",
    )
    instructions = root("human-instructions", 2.0e8, OriginSpec(1.0, 0.0, 0.0))
    prompts = [
        root("prompts/human-written", 5.0e6, OriginSpec(1.0, 0.0, 0.0)),
        root("prompts/seed-tasks", 1.0e6, OriginSpec(1.0, 0.0, 0.0)),
        root("prompts/self-instruct", 2.0e7, OriginSpec(0.0, 1.0, 0.0, 1)),
        root("prompts/unlabelled", 3.0e6, None),
    ]
    other_sources = [books, wiki, arxiv, code, crawl_2023, crawl_2024, crawl_2025, scrape]
    extra_sources = [books, wiki, arxiv, code, crawl_2024, scrape]

    giant_count = 1
    # generated data other families may be contaminated with, split by whether it is below giant
    pool_giant: list[Node] = []
    pool_other: list[Node] = []
    orgs = ["acme", "borealis", "cobalt", "dunlin", "ember", "fjord", "gannet", "helix"]

    family = 0
    while len(b.graph.nodes) < nodes:
        family += 1
        variant: Variant = rng.choices(
            ("accumulate", "replace", "fresh"), weights=(0.45, 0.25, 0.30)
        )[0]
        b.graph.families[variant] = b.graph.families.get(variant, 0) + 1
        gens = rng.randint(*generations)
        b.graph.generations += gens
        before = len(b.graph.nodes)
        use_giant = giant_count < giant_fraction * before
        source = giant if use_giant else rng.choice(other_sources)
        org = rng.choice(orgs)
        ns, model_ns = f"s3://{org}-data", f"hf://{org}"
        name = f"{variant}-lm-{family:05d}"

        def shard(
            version: str, size: float, source: Node = source, ns: str = ns, name: str = name
        ) -> Node:
            """A slice of the family's human source (plus, sometimes, a second source)."""
            node = b.node("dataset", ns, f"{name}/pretrain-human", version, size=size)
            if rng.random() < 0.3:
                extra = rng.choice([s for s in extra_sources if s is not source])
                extra_amount = round(size * rng.uniform(0.05, 0.3), -3)
                b.edge(node, source, "derived_from", size - extra_amount)
                b.edge(node, extra, "derived_from", extra_amount)
            else:
                b.edge(node, source, "derived_from", size)
            return node

        human_size = _tokens(rng, 9.3, 10.5)
        human = shard("v1", human_size)
        outputs: list[Node] = []
        prev_model: Node | None = None
        prompt = rng.choice(prompts)
        for g in range(gens):
            parents: list[tuple[Node, float | None]] = []
            if variant == "accumulate":
                parents.append((human, human_size))
                parents += [(o, o.size) for o in outputs]
            elif variant == "replace":
                parents += [(human, human_size)] if g == 0 else [(outputs[-1], outputs[-1].size)]
            else:
                if g == 0:
                    parents.append((human, human_size))
                else:
                    fresh_size = _tokens(rng, 8.7, 9.7)
                    parents.append((shard(f"g{g}", fresh_size), fresh_size))
                    parents.append((outputs[-1], outputs[-1].size))
            # what it may be contaminated with: the last RECENT of the pool(s) it may draw from
            pool = recent(pool_giant, pool_other) if use_giant else pool_other
            if pool and rng.random() < 0.15:
                other = rng.choice(pool[-RECENT:])
                if all(other is not p for p, _ in parents):
                    parents.append((other, other.size))
            # amounts: mostly stated, sometimes left to the default (the parent's size)
            edges = [(p, a if rng.random() < 0.8 else None) for p, a in parents]
            known = [a if a is not None else p.size for p, a in edges]
            if any(k is None for k in known):
                size: float | None = None
            else:
                size = sum(k for k in known if k is not None)
                if rng.random() < 0.1:  # extra, unlabelled data beyond the recorded parents
                    size = round(size * rng.uniform(1.01, 1.2), -3)
            mix = b.node("dataset", ns, f"{name}/train-mix", f"g{g}", size=size)
            for parent, amount in edges:
                b.edge(mix, parent, "derived_from", amount)

            model = b.node("model", model_ns, name, f"v{g}")
            b.edge(model, mix, "trained_on", None)
            if prev_model is not None and rng.random() < 0.3:
                b.edge(model, prev_model, "fine_tuned_from", None)

            generated_size = _tokens(rng, 8.0, 9.3) if rng.random() > 0.02 else None
            generated = b.node(
                "dataset",
                ns,
                f"{name}/generated",
                f"g{g}",
                size=generated_size,
                uri=f"{ns}/{name}/generated/g{g}/",
            )
            b.edge(generated, model, "generated_by", None)
            b.edge(generated, prompt, "used", None)
            kept = None if generated_size is None else round(generated_size * 0.6, -3)
            filtered = b.node("dataset", ns, f"{name}/generated-filtered", f"g{g}", size=kept)
            b.edge(filtered, generated, "derived_from", kept)
            outputs.append(filtered)
            (pool_giant if use_giant else pool_other).append(filtered)

            if rng.random() < 0.25:
                sft_size = _tokens(rng, 7.5, 8.5)
                sft = b.node("dataset", ns, f"{name}/sft-mix", f"g{g}", size=sft_size)
                human_part = round(sft_size * rng.uniform(0.3, 0.8), -3)
                b.edge(sft, instructions, "derived_from", human_part)
                synthetic_source = (
                    rng.choice(pool[-RECENT:]) if pool and rng.random() < 0.6 else vendor
                )
                b.edge(sft, synthetic_source, "derived_from", sft_size - human_part)
                tuned = b.node("model", model_ns, f"{name}-instruct", f"v{g}")
                b.edge(tuned, sft, "trained_on", sft_size)
                b.edge(tuned, model, "fine_tuned_from", None)
                if rng.random() < 0.5:
                    logs = b.node(
                        "dataset",
                        ns,
                        f"{name}-instruct/chat-logs",
                        f"g{g}",
                        size=_tokens(rng, 7.0, 8.0),
                    )
                    b.edge(logs, tuned, "generated_by", None)
                    b.edge(logs, rng.choice(prompts), "used", None)
                    (pool_giant if use_giant else pool_other).append(logs)
            prev_model = model
        if use_giant:
            giant_count += len(b.graph.nodes) - before
    return b.graph


def describe(graph: Graph) -> dict[str, object]:
    kinds: dict[str, int] = {}
    for node in graph.nodes:
        kinds[node.kind] = kinds.get(node.kind, 0) + 1
    roots = set(graph.roots())
    relations: dict[str, int] = {}
    for edge in graph.edges:
        relations[edge.relation] = relations.get(edge.relation, 0) + 1
    return {
        "seed": graph.seed,
        "nodes": len(graph.nodes),
        "edges": len(graph.edges),
        "kinds": kinds,
        "relations": relations,
        "families": graph.families,
        "generations": graph.generations,
        "giant_root_descendants": graph.giant_descendants,
        "deepest_descendant_depth": graph.deep_descendant().depth,
        "roots": len(roots),
        "roots_without_origin": sum(1 for n in graph.nodes if n.id in roots and n.origin is None),
    }


def drawn_on(graph: Graph) -> tuple[list[Node], list[Node], list[Node]]:
    """What new writes draw their parents from: datasets of known size, models, prompt sets."""
    datasets = [n for n in graph.nodes if n.kind == "dataset" and n.size]
    models = [n for n in graph.nodes if n.kind == "model"]
    prompts = [n for n in graph.nodes if n.name.startswith("prompts/")]
    return datasets, models, prompts


def tag(rng: random.Random) -> str:
    """A short random tag (from the run's seeded generator) that keeps a run's names apart."""
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex[:8]


def sample(rng: random.Random, items: Sequence[Node], k: int) -> list[Node]:
    return rng.sample(list(items), min(k, len(items)))


if __name__ == "__main__":  # a quick look at what a size produces
    import json
    import sys

    print(
        json.dumps(describe(generate(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)), indent=2)
    )
