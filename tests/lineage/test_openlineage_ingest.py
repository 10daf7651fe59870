"""OpenLineage ingestion end to end: the official client, over real HTTP, against `headwater serve`.

Every composition is checked against numbers worked out by hand from the design's rule (section 2);
the comments beside them show the arithmetic.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from fastapi.testclient import TestClient
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import RunState, StaticDataset
from openlineage.client.transport.http import HttpCompression, HttpTransport

from app.lineage.events import HEADWATER_ORIGIN_SCHEMA_ID
from tests.conftest import LiveServer, truncate
from tests.lineage.pipeline import (
    API_KEY,
    HUMAN_EDITS,
    ORIGIN_DEFINITION,
    TRAINED,
    Builder,
    LicenseDatasetFacet,
    Pipeline,
    new_run_id,
    origin_schema_url,
    wire,
)

MAX_BODY = 64 * 1024
PROBLEM_JSON = "application/problem+json"


# --- one server for the module, emptied between tests ------------------------------------------


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    return {"HEADWATER_MAX_BODY_BYTES": str(MAX_BODY)}


@pytest.fixture
def live(module_server: LiveServer, committed_url: str) -> Iterator[LiveServer]:
    truncate(committed_url)
    yield module_server
    truncate(committed_url)


@pytest.fixture
def api(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client() as client:
        yield client


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A clean OpenLineage configuration: none from the shell, no openlineage.yml in the way.

    ``OpenLineageClient()`` copies ``OPENLINEAGE_URL`` into ``OPENLINEAGE__TRANSPORT__…``
    variables straight into ``os.environ``, behind monkeypatch's back; they are dropped here so
    that they cannot configure a client created by a later test.
    """
    for key in [k for k in os.environ if k.startswith("OPENLINEAGE")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    yield monkeypatch
    for key in [k for k in os.environ if k.startswith("OPENLINEAGE")]:
        del os.environ[key]


CLIENT_SETUPS = ["env", "env-gzip", "config-gzip"]


def make_client(setup: str, live: LiveServer, environment: pytest.MonkeyPatch) -> Any:
    """An OpenLineageClient configured the way a pipeline would configure it."""
    environment.setenv("OPENLINEAGE_URL", live.url)
    if setup == "env":
        # The plain variables: no arguments, HttpTransport to {URL}/api/v1/lineage.
        environment.setenv("OPENLINEAGE_API_KEY", API_KEY)
        client = OpenLineageClient()
    elif setup == "env-gzip":
        # The simple variables have no compression setting; the structured ones do.
        environment.setenv("OPENLINEAGE__TRANSPORT__TYPE", "http")
        environment.setenv("OPENLINEAGE__TRANSPORT__URL", live.url)
        environment.setenv("OPENLINEAGE__TRANSPORT__COMPRESSION", "gzip")
        environment.setenv(
            "OPENLINEAGE__TRANSPORT__AUTH", json.dumps({"type": "api_key", "apiKey": API_KEY})
        )
        client = OpenLineageClient()
    else:
        client = OpenLineageClient(
            config={
                "transport": {
                    "type": "http",
                    "url": os.environ["OPENLINEAGE_URL"],
                    "compression": "gzip",
                    "auth": {"type": "api_key", "apiKey": API_KEY},
                }
            }
        )
    assert isinstance(client.transport, HttpTransport)
    assert client.transport.url == live.url
    assert client.transport.endpoint == "api/v1/lineage"
    expected = None if setup == "env" else HttpCompression.GZIP
    assert client.transport.compression == expected
    return client


@pytest.fixture
def pipeline(live: LiveServer, environment: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    client = make_client("env", live, environment)
    yield Pipeline(base_url=live.url, client=client)
    client.close()


# --- reading back --------------------------------------------------------------------------------


def versions(api: httpx.Client, kind: str, namespace: str, name: str) -> list[dict[str, Any]]:
    response = api.get(f"/api/v1/{kind}s", params={"namespace": namespace, "name": name})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def one(
    api: httpx.Client, kind: str, namespace: str, name: str, version: str | None = None
) -> dict[str, Any]:
    params = {"namespace": namespace, "name": name}
    if version is not None:
        params["version"] = version
    response = api.get(f"/api/v1/{kind}s", params=params)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert len(items) == 1, items
    found: dict[str, Any] = items[0]
    return found


def lineage(api: httpx.Client, node: dict[str, Any], direction: str = "upstream") -> dict[str, Any]:
    kind = "model" if "training_run_id" in node else "dataset"
    response = api.get(f"/api/v1/{kind}s/{node['id']}/lineage", params={"direction": direction})
    assert response.status_code == 200, response.text
    graph: dict[str, Any] = response.json()
    return graph


def named_edges(graph: dict[str, Any]) -> set[tuple[str, str, str, float | None]]:
    """Edges as (child name@version, parent name@version, relation, amount), for comparison."""
    label = {n["id"]: f"{n['name']}@{n['version']}" for n in graph["nodes"]}
    return {
        (label[e["child_id"]], label[e["parent_id"]], e["relation"], e["amount"])
        for e in graph["edges"]
    }


def events_of(api: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    response = api.get("/api/v1/lineage/events", params={"run_id": run_id, "limit": 200})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def training_run(api: httpx.Client, model: dict[str, Any]) -> dict[str, Any]:
    assert model["training_run_id"], model
    response = api.get(f"/api/v1/training-runs/{model['training_run_id']}")
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


def composition(
    histogram: dict[int, float],
    *,
    unknown: float = 0.0,
    total: float | None,
    load: float,
    mean: float,
) -> dict[str, Any]:
    """The contract's composition object, from figures worked out by hand."""
    return {
        "human_fraction": histogram.get(0, 0.0),
        "synthetic_fraction": sum(m for d, m in histogram.items() if d >= 1),
        "unknown_fraction": unknown,
        "depth_histogram": {str(d): m for d, m in histogram.items()},
        "max_depth": max((d for d in histogram), default=0),
        "mean_synthetic_depth": mean,
        "depth_load": load,
        "total_amount": total,
    }


def assert_composition(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        if key == "depth_histogram":
            assert set(actual[key]) == set(value), (actual, expected)
            for depth, mass in value.items():
                assert actual[key][depth] == pytest.approx(mass, abs=1e-9), (key, actual)
        elif value is None or (isinstance(value, int) and key == "max_depth"):
            assert actual[key] == value, (key, actual)
        else:
            assert actual[key] == pytest.approx(value, abs=1e-9), (key, actual)
    assert actual.get("stale", False) is False


# --- the recursive pipeline, through the real client ---------------------------------------------

HUMAN = composition({0: 1.0}, total=1000, load=0, mean=0)
# generated by a model trained on human data: everything one generation deep
GENERATION_1 = composition({1: 1.0}, total=4000, load=1.0, mean=1.0)
GENERATION_2 = composition({2: 1.0}, total=2000, load=2.0, mean=2.0)
# 600 human + 300 at depth 1 + 100 at depth 2, of 1000:
#   load = 1·0.3 + 2·0.1 = 0.5; mean depth = 0.5 / 0.4 = 1.25
MIX = composition({0: 0.6, 1: 0.3, 2: 0.1}, total=1000, load=0.5, mean=1.25)

# After human-web is corrected to 80 % human, 20 % synthetic at depth 1:
HUMAN_CORRECTED = composition({0: 0.8, 1: 0.2}, total=1000, load=0.2, mean=1.0)
# shifted one generation: 0.8 at depth 1, 0.2 at depth 2; load 0.8 + 0.4 = 1.2
GENERATION_1_CORRECTED = composition({1: 0.8, 2: 0.2}, total=4000, load=1.2, mean=1.2)
# and again: 0.8 at depth 2, 0.2 at depth 3; load 1.6 + 0.6 = 2.2
GENERATION_2_CORRECTED = composition({2: 0.8, 3: 0.2}, total=2000, load=2.2, mean=2.2)
# 600·(0.8 h, 0.2 d1) + 300·(0.8 d1, 0.2 d2) + 100·(0.8 d2, 0.2 d3), of 1000:
#   h 480, d1 120 + 240 = 360, d2 60 + 80 = 140, d3 20
#   load = 0.36 + 2·0.14 + 3·0.02 = 0.70; synthetic 0.52; mean 0.70 / 0.52
MIX_CORRECTED = composition(
    {0: 0.48, 1: 0.36, 2: 0.14, 3: 0.02}, total=1000, load=0.70, mean=0.70 / 0.52
)


def report_recursive_pipeline(p: Pipeline) -> dict[str, str]:
    """Human data → model 1 → generated data → model 2 → generated data → a mix → model 3.

    Returns the run ids by step.
    """
    runs: dict[str, str] = {}
    human = p.origin(human=1)
    runs["crawl"] = p.run(
        "crawl.human-web", [], [p.writes("human-web", rows=1000, version="2024-05", origin=human)]
    )
    # unversioned input: the newest version, 2024-05
    runs["train-1"] = p.run(
        "train.chat",
        [p.reads("human-web", rows=1000)],
        [p.writes("chat", model=True, version="1")],
    )
    prompts = p.reads(
        "prompts", rows=50, version="p1", origin=p.origin(digitalSourceType=HUMAN_EDITS)
    )
    runs["generate-1"] = p.run(
        "generate.qa",
        [prompts, p.reads("chat", model=True, version="1")],
        [p.writes("synthetic-qa", rows=4000)],
    )
    runs["train-2"] = p.run(
        "train.chat",
        [p.reads("synthetic-qa", rows=4000)],
        [p.writes("chat", model=True, version="2")],
    )
    runs["generate-2"] = p.run(
        "generate.qa",
        [prompts, p.reads("chat", model=True, version="2")],
        [p.writes("synthetic-qa", rows=2000)],
    )
    runs["mix"] = p.run(
        "curate.mix",
        [
            p.reads("human-web", rows=600),
            p.reads("synthetic-qa", rows=300, version=runs["generate-1"]),
            # the newest version: generation 2's
            p.reads("synthetic-qa", rows=100),
        ],
        [p.writes("mix", rows=1000, version="v1")],
    )
    runs["train-3"] = p.run(
        "train.chat",
        [p.reads("mix", rows=1000)],
        [p.writes("chat", model=True, version="3")],
    )
    return runs


@pytest.mark.parametrize("setup", CLIENT_SETUPS)
def test_recursive_pipeline_through_the_client(
    setup: str, live: LiveServer, api: httpx.Client, environment: pytest.MonkeyPatch
) -> None:
    client = make_client(setup, live, environment)
    p = Pipeline(base_url=live.url, client=client)

    runs = report_recursive_pipeline(p)

    # on the wire: the bearer token, and gzip when configured
    assert len(p.sent) == 14
    for sent in p.sent:
        assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
        if setup == "env":
            assert "Content-Encoding" not in sent.headers
            json.loads(sent.body)
        else:
            assert sent.headers["Content-Encoding"] == "gzip"
            json.loads(gzip.decompress(sent.body))
        assert sent.answer["status"] == "accepted"

    ns, models = "s3://corpus", "hf://acme"
    human_web = one(api, "dataset", ns, "human-web")
    assert human_web["version"] == "2024-05"
    assert human_web["size"] == 1000
    assert human_web["origin"]["human"] == 1.0
    assert_composition(human_web["composition"], HUMAN)

    chat_1 = one(api, "model", models, "chat", "1")
    assert_composition(chat_1["composition"], HUMAN)

    generated = versions(api, "dataset", ns, "synthetic-qa")
    assert [g["version"] for g in generated] == [runs["generate-2"], runs["generate-1"]]
    qa_2, qa_1 = generated
    assert_composition(qa_1["composition"], GENERATION_1)
    assert_composition(qa_2["composition"], GENERATION_2)
    assert qa_1["origin"] is None

    chat_2 = one(api, "model", models, "chat", "2")
    assert_composition(chat_2["composition"], GENERATION_1)

    mix = one(api, "dataset", ns, "mix")
    assert_composition(mix["composition"], MIX)
    chat_3 = one(api, "model", models, "chat", "3")
    assert_composition(chat_3["composition"], MIX)

    prompts = one(api, "dataset", ns, "prompts")
    assert prompts["version"] == "p1"
    assert_composition(prompts["composition"], composition({0: 1.0}, total=None, load=0, mean=0))

    q1, q2 = f"synthetic-qa@{runs['generate-1']}", f"synthetic-qa@{runs['generate-2']}"
    upstream_of_mix = {
        ("mix@v1", "human-web@2024-05", "derived_from", 600.0),
        ("mix@v1", q1, "derived_from", 300.0),
        ("mix@v1", q2, "derived_from", 100.0),
        (q2, "chat@2", "generated_by", None),
        (q2, "prompts@p1", "used", 50.0),
        ("chat@2", q1, "trained_on", 4000.0),
        (q1, "chat@1", "generated_by", None),
        (q1, "prompts@p1", "used", 50.0),
        ("chat@1", "human-web@2024-05", "trained_on", 1000.0),
    }
    graph = lineage(api, mix)
    assert named_edges(graph) == upstream_of_mix
    assert {n["name"] for n in graph["nodes"]} == {
        "mix",
        "human-web",
        "synthetic-qa",
        "chat",
        "prompts",
    }
    assert named_edges(lineage(api, chat_3)) == upstream_of_mix | {
        ("chat@3", "mix@v1", "trained_on", 1000.0)
    }
    downstream = lineage(api, human_web, "downstream")
    assert {f"{n['name']}@{n['version']}" for n in graph["nodes"]} - {
        f"{n['name']}@{n['version']}" for n in downstream["nodes"]
    } == {"prompts@p1"}

    # one training run per trained model, with the training set the events named
    run_1 = training_run(api, chat_1)
    assert [(m["name"], m["version"], m["amount"]) for m in run_1["training_set"]] == [
        ("human-web", "2024-05", 1000.0)
    ]
    assert_composition(run_1["composition"], HUMAN)
    run_3 = training_run(api, chat_3)
    assert_composition(run_3["composition"], MIX)
    findings = {f["rule"]: f["status"] for f in run_3["findings"]}
    # 60 % human sits between 10 % and 67 %; a depth load of 0.5 between 0.25 and 1.0
    assert findings["human_fraction"] == "warn"
    assert findings["depth_load"] == "warn"
    assert run_3["verdict"] == "warn"

    # every accepted event is kept raw, under its run
    for run_id in runs.values():
        stored = events_of(api, run_id)
        assert [e["event_type"] for e in stored] == ["COMPLETE", "START"]
        assert all(e["run_id"] == run_id for e in stored)
    bodies = [gzip.decompress(s.body) if setup != "env" else s.body for s in p.sent]
    stored_payloads = [e["payload"] for r in runs.values() for e in events_of(api, r)]
    assert sorted(map(canonical, stored_payloads)) == sorted(
        canonical(json.loads(b)) for b in bodies
    )
    client.close()


def canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True)


# --- delivery ------------------------------------------------------------------------------------


def split_runs(p: Pipeline, *, reverse: bool) -> None:
    """Two runs whose START names the inputs and whose COMPLETE names the outputs (and, for the
    generation run, the model), sent in order or COMPLETE first."""
    clean = p.origin(human=1)
    synthetic = p.origin(digitalSourceType=TRAINED)
    for name, origin in (("clean", clean), ("synthetic", synthetic)):
        p.emit(
            p.dataset_event(
                StaticDataset(
                    namespace=p.namespace, name=name, facets=p.facets(version="1", origin=origin)
                )
            )
        )
    train, generate = new_run_id(), new_run_id()
    events = [
        [
            p.run_event(
                "train.m",
                [
                    p.reads("clean", rows=300, version="1"),
                    p.reads("synthetic", rows=700, version="1"),
                ],
                [],
                run_id=train,
                state=RunState.START,
            ),
            p.run_event("train.m", [], [p.writes("m", model=True, version="1")], run_id=train),
        ],
        [
            p.run_event(
                "generate.gen",
                [p.reads("prompts", rows=10, version="p")],
                [p.writes("gen")],
                run_id=generate,
                state=RunState.START,
            ),
            p.run_event(
                "generate.gen",
                [p.reads("m", model=True, version="1")],
                [p.writes("gen", rows=500)],
                run_id=generate,
            ),
        ],
    ]
    for run in events:
        for event in reversed(run) if reverse else run:
            sent = p.emit(event)
            assert (sent.status, sent.answer["status"]) == (201, "accepted"), sent.answer


def graph_shape(api: httpx.Client, namespace: str) -> tuple[Any, ...]:
    gen = one(api, "dataset", namespace, "gen")
    graph = lineage(api, gen)
    edges = {(e[0].split("@")[0], e[1].split("@")[0], e[2], e[3]) for e in named_edges(graph)}
    compositions = {n["name"]: json.dumps(n["composition"], sort_keys=True) for n in graph["nodes"]}
    return edges, compositions


def test_out_of_order_events_of_a_run_end_in_the_same_graph(
    pipeline: Pipeline, api: httpx.Client
) -> None:
    in_order = Pipeline(
        base_url=pipeline.base_url,
        client=pipeline.client,
        namespace="s3://in-order",
        model_namespace="hf://in-order",
    )
    out_of_order = Pipeline(
        base_url=pipeline.base_url,
        client=pipeline.client,
        namespace="s3://out-of-order",
        model_namespace="hf://out-of-order",
    )

    split_runs(in_order, reverse=False)
    split_runs(out_of_order, reverse=True)

    assert graph_shape(api, "s3://in-order") == graph_shape(api, "s3://out-of-order")
    edges, _ = graph_shape(api, "s3://out-of-order")
    assert edges == {
        ("m", "clean", "trained_on", 300.0),
        ("m", "synthetic", "trained_on", 700.0),
        ("gen", "m", "generated_by", None),
        # fed to the generator beside the model: a prompt, not a source of the data
        ("gen", "prompts", "used", 10.0),
    }
    # m: 300 human + 700 at depth 1; gen: shifted, 0.3 at depth 1 + 0.7 at depth 2
    model = one(api, "model", "hf://out-of-order", "m")
    assert_composition(
        model["composition"], composition({0: 0.3, 1: 0.7}, total=1000, load=0.7, mean=1.0)
    )
    assert training_run(api, model)["training_set"]
    gen = one(api, "dataset", "s3://out-of-order", "gen")
    assert_composition(
        gen["composition"], composition({1: 0.3, 2: 0.7}, total=500, load=1.7, mean=1.7)
    )


def test_redelivered_event_answers_duplicate_and_changes_nothing(
    pipeline: Pipeline, api: httpx.Client
) -> None:
    p = pipeline
    report_recursive_pipeline(p)
    event = p.run_event(
        "curate.mix",
        [p.reads("human-web", rows=500), p.reads("synthetic-qa", rows=500)],
        [p.writes("mix", rows=1000)],
    )
    first = p.emit(event)
    assert first.status == 201
    run_id = first.answer["run_id"]

    def state() -> Any:
        mixes = versions(api, "dataset", "s3://corpus", "mix")
        chat_3 = one(api, "model", "hf://acme", "chat", "3")
        return (
            mixes,
            versions(api, "dataset", "s3://corpus", "synthetic-qa"),
            versions(api, "model", "hf://acme", "chat"),
            events_of(api, run_id),
            api.get("/api/v1/lineage/events", params={"limit": 200}).json(),
            lineage(api, mixes[0]),
            training_run(api, chat_3),
        )

    before = state()
    assert len(before[0]) == 2
    assert len(before[3]) == 1

    again = p.emit(event)
    assert again.body == first.body
    assert again.status == 200
    assert again.answer["status"] == "duplicate"
    assert again.answer["run_id"] == run_id

    # the same event with its keys in another order is the same event
    reordered = json.loads(again.body)
    reordered = {k: reordered[k] for k in reversed(reordered)}
    response = api.post("/api/v1/lineage", json=reordered)
    assert (response.status_code, response.json()["status"]) == (200, "duplicate")

    assert state() == before


def test_changed_origin_is_a_correction_that_propagates_downstream(
    pipeline: Pipeline, api: httpx.Client
) -> None:
    p = pipeline
    report_recursive_pipeline(p)
    chat_1 = one(api, "model", "hf://acme", "chat", "1")
    run_1_before = training_run(api, chat_1)
    run_3_before = training_run(api, one(api, "model", "hf://acme", "chat", "3"))

    corrected = p.origin(human=0.8, synthetic=0.2)
    sent = p.emit(
        p.dataset_event(
            StaticDataset(
                namespace=p.namespace,
                name="human-web",
                facets=p.facets(version="2024-05", origin=corrected),
            )
        )
    )
    assert (sent.status, sent.answer["status"]) == (201, "accepted")

    human_web = one(api, "dataset", "s3://corpus", "human-web")
    assert human_web["origin"]["human"] == pytest.approx(0.8)
    assert human_web["origin"]["synthetic"] == pytest.approx(0.2)
    assert (
        human_web["facets"]["headwater_origin"]
        == wire(p.dataset_event(StaticDataset(namespace="x", name="y", facets={"o": corrected})))[
            "dataset"
        ]["facets"]["o"]
    )
    assert_composition(human_web["composition"], HUMAN_CORRECTED)
    chat_1 = one(api, "model", "hf://acme", "chat", "1")
    assert_composition(chat_1["composition"], HUMAN_CORRECTED)
    qa_2, qa_1 = versions(api, "dataset", "s3://corpus", "synthetic-qa")
    assert_composition(qa_1["composition"], GENERATION_1_CORRECTED)
    assert_composition(
        one(api, "model", "hf://acme", "chat", "2")["composition"], GENERATION_1_CORRECTED
    )
    assert_composition(qa_2["composition"], GENERATION_2_CORRECTED)
    assert_composition(one(api, "dataset", "s3://corpus", "mix")["composition"], MIX_CORRECTED)
    chat_3 = one(api, "model", "hf://acme", "chat", "3")
    assert_composition(chat_3["composition"], MIX_CORRECTED)

    # the training runs downstream were re-evaluated, and remember how they were judged before
    run_1 = training_run(api, chat_1)
    assert run_1["id"] == run_1_before["id"]
    assert_composition(run_1["composition"], HUMAN_CORRECTED)
    assert len(run_1["history"]) == len(run_1_before["history"]) + 1
    assert [h["composition"]["human_fraction"] for h in run_1["history"]].count(1.0) >= 1
    assert any("OpenLineage" in h["cause"] for h in run_1["history"])
    run_3 = training_run(api, chat_3)
    assert_composition(run_3["composition"], MIX_CORRECTED)
    assert len(run_3["history"]) == len(run_3_before["history"]) + 1


def test_dataset_and_job_events_are_accepted_and_unknown_facets_kept(
    pipeline: Pipeline, api: httpx.Client
) -> None:
    p = pipeline
    letters = StaticDataset(
        namespace=p.namespace,
        name="letters",
        facets=p.facets(
            origin=p.origin(digitalSourceType=HUMAN_EDITS), license=LicenseDatasetFacet()
        ),
    )
    sent = p.emit(p.dataset_event(letters))
    assert (sent.status, sent.answer["status"], sent.answer["run_id"]) == (201, "accepted", None)
    sent = p.emit(
        p.job_event(
            "clean.letters",
            [p.reads("letters", rows=100)],
            [p.writes("letters-clean", rows=80, license=LicenseDatasetFacet(spdx="MIT"))],
        )
    )
    assert (sent.status, sent.answer["edges"]) == (201, 1)

    stored = one(api, "dataset", p.namespace, "letters")
    assert stored["version"] == "unversioned"
    license_facet = stored["facets"]["license"]
    assert license_facet["spdx"] == "CC-BY-4.0"
    assert license_facet["_schemaURL"] == "https://example.com/facets/LicenseDatasetFacet.json"
    assert_composition(stored["composition"], composition({0: 1.0}, total=None, load=0, mean=0))

    clean = one(api, "dataset", p.namespace, "letters-clean")
    assert clean["facets"]["license"]["spdx"] == "MIT"
    assert named_edges(lineage(api, clean)) == {
        ("letters-clean@unversioned", "letters@unversioned", "derived_from", 100.0)
    }
    # 100 rows read make 80: with no residual, the total is the amount read
    assert_composition(clean["composition"], composition({0: 1.0}, total=100, load=0, mean=0))

    kinds = [e["event_kind"] for e in api.get("/api/v1/lineage/events").json()["items"]]
    assert kinds == ["job", "dataset"]


def test_incremental_update_of_an_unversioned_dataset_has_no_self_loop(
    pipeline: Pipeline, api: httpx.Client
) -> None:
    p = pipeline
    first = p.run("load.table", [], [p.writes("table", rows=1000, origin=p.origin(human=1))])
    second = p.run("append.table", [p.reads("table", rows=1000)], [p.writes("table", rows=1500)])
    third = p.run("append.table", [p.reads("table", rows=1500)], [p.writes("table", rows=1800)])
    # the first run of an incremental job: nothing to read yet but what it writes
    only = p.run("append.fresh", [p.reads("fresh", rows=0)], [p.writes("fresh", rows=10)])

    tables = versions(api, "dataset", p.namespace, "table")
    assert [t["version"] for t in tables] == [third, second, first]
    latest = tables[0]
    graph = lineage(api, latest)
    assert named_edges(graph) == {
        (f"table@{third}", f"table@{second}", "derived_from", 1500.0),
        (f"table@{second}", f"table@{first}", "derived_from", 1000.0),
    }
    assert all(e["child_id"] != e["parent_id"] for e in graph["edges"])
    # 1000 human rows read, 500 appended of undeclared origin: 2/3 human, 1/3 unknown
    assert_composition(
        tables[1]["composition"],
        composition({0: 2 / 3}, unknown=1 / 3, total=1500, load=0, mean=0),
    )
    # 1500 read (2/3 human) + 300 appended: 1000 / 1800 human
    assert_composition(
        latest["composition"],
        composition({0: 1000 / 1800}, unknown=800 / 1800, total=1800, load=0, mean=0),
    )

    fresh = versions(api, "dataset", p.namespace, "fresh")
    assert [f["version"] for f in fresh] == [only]
    assert lineage(api, fresh[0])["edges"] == []


def test_event_closing_a_cycle_is_refused_and_nothing_of_it_is_stored(
    pipeline: Pipeline, api: httpx.Client
) -> None:
    p = pipeline
    p.run("derive.b", [p.reads("a", version="1")], [p.writes("b", version="1")])
    before = (
        api.get("/api/v1/lineage/events", params={"limit": 200}).json(),
        lineage(api, one(api, "dataset", p.namespace, "a"), "downstream"),
        one(api, "dataset", p.namespace, "a"),
    )

    closing = p.run_event(
        "derive.a",
        [p.reads("b", version="1")],
        [
            p.writes("a", version="1", license=LicenseDatasetFacet()),
            p.writes("c", version="1", rows=5),
        ],
    )
    with pytest.raises(requests.HTTPError):
        p.emit(closing)
    refused = p.sent[-1]
    assert refused.status == 409
    assert refused.headers["Content-Type"] == "application/json"
    assert refused.answer["type"].endswith("/cycle")
    assert refused.answer["status"] == 409
    assert "a@1" in refused.answer["detail"]

    assert versions(api, "dataset", p.namespace, "c") == []
    assert events_of(api, closing.run.runId) == []
    after = (
        api.get("/api/v1/lineage/events", params={"limit": 200}).json(),
        lineage(api, one(api, "dataset", p.namespace, "a"), "downstream"),
        one(api, "dataset", p.namespace, "a"),
    )
    assert after == before


def test_an_acknowledged_event_is_visible_to_the_next_request(
    live: LiveServer, api: httpx.Client
) -> None:
    b = Builder(live.url)
    for i in range(60):
        event = wire(b.run_event("load", [], [b.writes(f"d{i}", rows=1)]))
        if i % 2:
            response = api.post("/api/v1/lineage/batch", json=[event])
            assert response.status_code == 200, response.text
        else:
            response = api.post("/api/v1/lineage", json=event)
            assert response.status_code == 201, response.text
        assert len(events_of(api, event["run"]["runId"])) == 1, f"write {i} not yet visible"


def test_a_batch_cannot_close_a_cycle_through_versions_it_created(
    live: LiveServer, api: httpx.Client
) -> None:
    """One transaction records the whole batch: a version an earlier event created is a leaf
    only until a later event hangs something below it."""
    b = Builder(live.url)

    def step(job: str, source: str, target: str) -> dict[str, Any]:
        return wire(
            b.run_event(job, [b.reads(source, version="1")], [b.writes(target, version="1")])
        )

    forward, onward, closing = step("b", "a", "b"), step("c", "b", "c"), step("a", "c", "a")

    response = api.post("/api/v1/lineage/batch", json=[forward, onward, closing])

    assert response.status_code == 207, response.text
    items = response.json()["items"]
    assert [i["status"] for i in items] == ["accepted", "accepted", "rejected"]
    assert items[2]["problem"]["type"].endswith("/cycle")
    (a,) = versions(api, "dataset", b.namespace, "a")
    assert lineage(api, a, "upstream")["edges"] == []


# --- invalid events ------------------------------------------------------------------------------


def valid_event() -> dict[str, Any]:
    b = Builder("http://headwater.example")
    return wire(
        b.run_event(
            "train.chat",
            [b.reads("web", rows=10, origin=b.origin(digitalSourceType=HUMAN_EDITS))],
            [b.writes("out", rows=20, origin=b.origin(human=0.5, synthetic=0.5))],
        )
    )


def at(*path: str | int) -> Callable[[dict[str, Any]], tuple[Any, str | int]]:
    def find(event: dict[str, Any]) -> tuple[Any, str | int]:
        target: Any = event
        for part in path[:-1]:
            target = target[part]
        return target, path[-1]

    return find


def put(value: Any, *path: str | int) -> Callable[[dict[str, Any]], None]:
    def mutate(event: dict[str, Any]) -> None:
        target, key = at(*path)(event)
        target[key] = value

    return mutate


def delete(*path: str | int) -> Callable[[dict[str, Any]], None]:
    def mutate(event: dict[str, Any]) -> None:
        target, key = at(*path)(event)
        del target[key]

    return mutate


ORIGIN = ("outputs", 0, "facets", "headwater_origin")
IN_ORIGIN = ("inputs", 0, "facets", "headwater_origin")
INVALID = [
    ("missing eventTime", delete("eventTime"), ["body.eventTime"]),
    ("bad runId", put("run-42", "run", "runId"), ["body.run.runId"]),
    (
        "negative output rowCount",
        put(-1, "outputs", 0, "outputFacets", "outputStatistics", "rowCount"),
        ["body.outputs.0.outputFacets.outputStatistics.rowCount"],
    ),
    (
        "negative input rowCount",
        put(-5, "inputs", 0, "inputFacets", "inputStatistics", "rowCount"),
        ["body.inputs.0.inputFacets.inputStatistics.rowCount"],
    ),
    (
        "origin fractions over one",
        put(0.9, *ORIGIN, "human"),
        ["body.outputs.0.facets.headwater_origin"],
    ),
    (
        "origin fraction above one",
        put(1.5, *ORIGIN, "human"),
        ["body.outputs.0.facets.headwater_origin.human"],
    ),
    (
        "unknown digitalSourceType",
        put(
            "http://cv.iptc.org/newscodes/digitalsourcetype/paintedByHand",
            *IN_ORIGIN,
            "digitalSourceType",
        ),
        ["body.inputs.0.facets.headwater_origin.digitalSourceType"],
    ),
]


@pytest.mark.parametrize(
    ("mutate", "locs"), [pytest.param(m, locs, id=name) for name, m, locs in INVALID]
)
def test_invalid_event_is_a_problem_naming_the_field(
    client: TestClient, mutate: Callable[[dict[str, Any]], None], locs: list[str]
) -> None:
    event = valid_event()
    mutate(event)

    response = client.post("/api/v1/lineage", json=event)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == 422
    assert [e["loc"] for e in problem["errors"]] == locs
    assert all(e["msg"] for e in problem["errors"])
    for loc in locs:
        assert loc in problem["detail"]
    assert client.get("/api/v1/lineage/events").json()["items"] == []


def test_every_wrong_field_is_named_at_once(client: TestClient) -> None:
    event = valid_event()
    for name, mutate, _ in INVALID:
        if name != "origin fractions over one":
            mutate(event)

    response = client.post("/api/v1/lineage", json=event)

    assert response.status_code == 422
    assert {e["loc"] for e in response.json()["errors"]} == {
        loc for name, _, locs in INVALID if name != "origin fractions over one" for loc in locs
    }


@pytest.mark.parametrize("body", [[], ["an", "array"], "an event", 3, None, True])
def test_a_body_that_is_not_an_object_is_a_problem(client: TestClient, body: Any) -> None:
    response = client.post("/api/v1/lineage", json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert [e["loc"] for e in response.json()["errors"]] == ["body"]


@pytest.mark.parametrize("raw", [b'{"eventTime": ', b"{'single': 'quotes'}", b"", b"\xff\xfe"])
def test_malformed_json_is_a_problem(client: TestClient, raw: bytes) -> None:
    response = client.post(
        "/api/v1/lineage", content=raw, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    errors = response.json()["errors"]
    assert errors
    assert all(re.fullmatch(r"body(\.\d+)?", e["loc"]) for e in errors), errors


def test_batch_accepts_the_good_events_and_names_the_rejected_one(
    live: LiveServer, api: httpx.Client
) -> None:
    b = Builder(live.url)
    good = [
        wire(b.run_event("load", [], [b.writes("one", rows=1, origin=b.origin(human=1))])),
        wire(b.run_event("load", [], [b.writes("two", rows=2, origin=b.origin(human=1))])),
    ]
    bad = wire(b.run_event("load", [], [b.writes("three", rows=3)]))
    bad["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] = -3

    response = api.post("/api/v1/lineage/batch", json=[good[0], bad, good[1], good[0]])

    assert response.status_code == 207, response.text
    result = response.json()
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (2, 1, 1)
    assert [i["status"] for i in result["items"]] == [
        "accepted",
        "rejected",
        "accepted",
        "duplicate",
    ]
    rejected = result["items"][1]
    assert rejected["index"] == 1
    assert rejected["problem"]["status"] == 422
    assert [e["loc"] for e in rejected["problem"]["errors"]] == [
        "body.outputs.0.outputFacets.outputStatistics.rowCount"
    ]
    for event in good:
        assert len(events_of(api, event["run"]["runId"])) == 1
    assert events_of(api, bad["run"]["runId"]) == []
    assert versions(api, "dataset", b.namespace, "three") == []
    assert [d["size"] for d in versions(api, "dataset", b.namespace, "two")] == [2.0]

    all_good = api.post("/api/v1/lineage/batch", json=good)
    assert all_good.status_code == 200
    assert all_good.json()["duplicates"] == 2


def test_batch_with_an_element_that_is_not_an_object_keeps_the_others(
    live: LiveServer, api: httpx.Client
) -> None:
    b = Builder(live.url)
    good = wire(b.run_event("load", [], [b.writes("one", rows=1)]))

    response = api.post("/api/v1/lineage/batch", json=[good, "not an event"])

    assert response.status_code == 207, response.text
    items = response.json()["items"]
    assert [i["status"] for i in items] == ["accepted", "rejected"]
    assert [e["loc"] for e in items[1]["problem"]["errors"]] == ["body"]
    assert len(events_of(api, good["run"]["runId"])) == 1


def test_invalid_event_through_the_client_raises(pipeline: Pipeline, api: httpx.Client) -> None:
    p = pipeline
    event = p.run_event("load", [], [p.writes("x", origin=p.origin(human=0.9, synthetic=0.9))])

    with pytest.raises(requests.HTTPError) as raised:
        p.emit(event)

    assert raised.value.response is not None
    assert raised.value.response.status_code == 422
    assert p.sent[-1].headers["Authorization"] == f"Bearer {API_KEY}"
    assert [e["loc"] for e in p.sent[-1].answer["errors"]] == [
        "body.outputs.0.facets.headwater_origin"
    ]
    assert versions(api, "dataset", p.namespace, "x") == []


# --- bodies: gzip and size -----------------------------------------------------------------------


def post_raw(api: httpx.Client, content: Any, **headers: str) -> httpx.Response:
    return api.post(
        "/api/v1/lineage",
        content=content,
        headers={"Content-Type": "application/json", **headers},
    )


def test_gzip_body_is_accepted(live: LiveServer, api: httpx.Client) -> None:
    event = valid_event()

    response = post_raw(
        api, gzip.compress(json.dumps(event).encode()), **{"Content-Encoding": "gzip"}
    )

    assert response.status_code == 201, response.text
    assert events_of(api, event["run"]["runId"])[0]["payload"] == event


COMPRESSED = gzip.compress(json.dumps(valid_event()).encode())


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not gzip at all", id="not gzip"),
        pytest.param(COMPRESSED[: len(COMPRESSED) // 2], id="truncated"),
        # the whole deflate stream, but not the CRC-32 and length that vouch for it
        pytest.param(COMPRESSED[:-8], id="no trailer"),
        pytest.param(COMPRESSED[:-8] + b"\0" * 8, id="bad checksum"),
        pytest.param(COMPRESSED + b"trailing", id="trailing garbage"),
    ],
)
def test_malformed_gzip_is_a_bad_request(live: LiveServer, api: httpx.Client, body: bytes) -> None:
    response = post_raw(api, body, **{"Content-Encoding": "gzip"})

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"].endswith("/bad-encoding")
    assert api.get("/api/v1/lineage/events").json()["items"] == []


def test_gzip_bomb_and_oversized_bodies_are_refused(live: LiveServer, api: httpx.Client) -> None:
    # a valid event padded with whitespace: small on the wire, far over the limit inflated
    padded = json.dumps(valid_event()).encode() + b" " * (MAX_BODY * 50)
    bomb = gzip.compress(padded, compresslevel=9)
    assert len(bomb) < MAX_BODY / 4

    responses = [
        post_raw(api, bomb, **{"Content-Encoding": "gzip"}),
        # over the limit as declared by Content-Length
        post_raw(api, padded[: MAX_BODY + 1]),
        # over the limit without a Content-Length: chunked
        post_raw(api, iter([padded[i : i + 8192] for i in range(0, MAX_BODY * 2, 8192)])),
        api.post(
            "/api/v1/lineage/batch",
            content=b"[" + b" " * MAX_BODY + b"]",
            headers={"Content-Type": "application/json"},
        ),
    ]

    for response in responses:
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["status"] == 413
    assert api.get("/api/v1/lineage/events").json()["items"] == []


def test_unsupported_content_encoding_is_refused(live: LiveServer, api: httpx.Client) -> None:
    response = post_raw(api, b"{}", **{"Content-Encoding": "br"})

    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM_JSON


# --- the facet's schema --------------------------------------------------------------------------

OPENLINEAGE_DATASET_FACET = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetFacet"
ANNOTATIONS = {"description", "default", "example", "format", "$schema", "$id", "$defs"}


def schema_errors(
    schema: dict[str, Any], value: Any, root: dict[str, Any], path: str = ""
) -> list[str]:
    """What ``value`` breaks of ``schema``: the keywords this facet's schema uses, no more.

    An unexpected keyword is an error of its own, so the check cannot pass by ignoring a rule.
    """
    errors: list[str] = []
    for keyword, rule in schema.items():
        if keyword in ANNOTATIONS or (keyword == "properties" and not isinstance(value, dict)):
            continue
        if keyword == "$ref":
            if rule == OPENLINEAGE_DATASET_FACET:
                # the OpenLineage spec's DatasetFacet: _producer and _schemaURL are required URIs
                for key in ("_producer", "_schemaURL"):
                    if not isinstance(value, dict) or not isinstance(value.get(key), str):
                        errors.append(f"{path}/{key}: required")
            else:
                assert rule.startswith("#/"), rule
                target: Any = root
                for part in rule[2:].split("/"):
                    target = target[part]
                errors += schema_errors(target, value, root, path)
        elif keyword == "allOf":
            for sub in rule:
                errors += schema_errors(sub, value, root, path)
        elif keyword == "anyOf":
            if all(schema_errors(sub, value, root, path) for sub in rule):
                errors.append(f"{path}: matches none of anyOf")
        elif keyword == "type":
            valid = {
                "object": isinstance(value, dict),
                "string": isinstance(value, str),
                "number": isinstance(value, int | float) and not isinstance(value, bool),
                "integer": isinstance(value, int | float)
                and not isinstance(value, bool)
                and float(value).is_integer(),
            }[rule]
            if not valid:
                errors.append(f"{path}: not {rule}")
        elif keyword == "properties":
            for key, sub in rule.items():
                if key in value:
                    errors += schema_errors(sub, value[key], root, f"{path}/{key}")
        elif keyword == "required":
            errors += [f"{path}/{key}: required" for key in rule if key not in value]
        elif keyword == "minimum":
            if isinstance(value, int | float) and value < rule:
                errors.append(f"{path}: below {rule}")
        elif keyword == "maximum":
            if isinstance(value, int | float) and value > rule:
                errors.append(f"{path}: above {rule}")
        elif keyword == "enum":
            if value not in rule:
                errors.append(f"{path}: not one of the enum")
        else:
            errors.append(f"{path}: the check does not know the keyword {keyword!r}")
    return errors


def test_served_schema_is_the_schema_url_and_validates_the_facets_sent(
    live: LiveServer, api: httpx.Client
) -> None:
    b = Builder(live.url)
    schema_url = origin_schema_url(live.url)
    document, _, fragment = schema_url.partition("#")
    assert document == live.url + HEADWATER_ORIGIN_SCHEMA_ID
    assert "#" + fragment == ORIGIN_DEFINITION

    response = httpx.get(document)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/schema+json"
    schema = response.json()
    assert schema["$id"] == HEADWATER_ORIGIN_SCHEMA_ID
    definition: Any = schema
    for part in fragment.lstrip("/").split("/"):
        definition = definition[part]
    assert definition is schema["$defs"]["HeadwaterOriginDatasetFacet"]

    sent = [
        b.origin(human=1),
        b.origin(human=0.8, synthetic=0.2),
        b.origin(digitalSourceType=HUMAN_EDITS),
        b.origin(digitalSourceType=TRAINED),
        b.origin(human=0.5, synthetic=0.3, unknown=0.2, synthetic_depth=3),
    ]
    for facet in sent:
        body = wire(b.run_event("load", [], [b.writes("x", origin=facet)]))
        as_sent = body["outputs"][0]["facets"]["headwater_origin"]
        assert as_sent["_schemaURL"] == schema_url
        assert schema_errors(definition, as_sent, schema) == [], as_sent
        assert schema_errors(schema, {"headwater_origin": as_sent}, schema) == []
        assert api.post("/api/v1/lineage", json=body).status_code == 201

    # what the schema refuses, the service refuses too
    refused = [
        b.origin(human=1.5),
        b.origin(synthetic=-0.1),
        b.origin(human=1, synthetic_depth=0),
        b.origin(human=1, synthetic_depth=1.5),
        b.origin(digitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/paintedByHand"),
        b.origin(),
    ]
    for facet in refused:
        body = wire(b.run_event("load", [], [b.writes("x", origin=facet)]))
        as_sent = body["outputs"][0]["facets"]["headwater_origin"]
        assert schema_errors(definition, as_sent, schema), as_sent
        assert api.post("/api/v1/lineage", json=body).status_code == 422, as_sent
