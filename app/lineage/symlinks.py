"""One dataset under several identifiers (OpenLineage's ``symlinks`` facet).

Spark names a Hive table by its location (``file`` :: ``/tmp/warehouse/test``) with a symlink
to ``default.test``; Hive names the table itself. Every identifier an event gives a dataset
leads to one canonical identifier, under which its versions are recorded: the one already
recorded or already canonical, else the event's preferred one (a ``TABLE`` symlink). An
identifier that has versions of its own stays a dataset of its own: two recorded histories are
never merged behind the pipelines' backs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy.orm import Session

from app.lineage import intents
from app.lineage import repository as lineage_repository

Name = tuple[str, str]


def canonical_keys(
    session: Session,
    nodes: Sequence[intents.NodeIntent],
    keys: Iterable[intents.NodeKey],
) -> dict[intents.NodeKey, intents.NodeKey]:
    """Record the aliases ``nodes`` declare; map each key that names an alias to its canonical
    identifier (keys already canonical are left out)."""
    keys = list(keys)
    named = [(k.kind, k.namespace, k.name) for k in keys]
    named += [(n.key.kind, *name) for n in nodes for name in n.identifiers]
    aliases = dict(lineage_repository.canonical_names_each(session, named))
    for kind in ("dataset", "model"):
        groups = [n.identifiers for n in nodes if n.key.kind == kind and n.identifiers]
        known = {(k[1], k[2]): canonical for k, canonical in aliases.items() if k[0] == kind}
        if groups:
            wanted = [(k[1], k[2]) for k in named if k[0] == kind]
            recorded = lineage_repository.recorded_names(session, kind, wanted)
            fresh: dict[Name, Name] = {}
            for group in groups:
                target = next((known[n] for n in group if n in known), None) or next(
                    (n for n in group if n in recorded), group[0]
                )
                for name in group:
                    if name != target and name not in known and name not in recorded:
                        fresh[name] = target
                        known[name] = target
            lineage_repository.add_aliases(session, kind, fresh)
            aliases.update(((kind, *name), target) for name, target in fresh.items())
    return renamed(keys, aliases)


def renamed(
    keys: Iterable[intents.NodeKey], aliases: Mapping[lineage_repository.KindName, Name]
) -> dict[intents.NodeKey, intents.NodeKey]:
    """Each key that names an alias in ``aliases``, mapped to its canonical identifier."""
    found: dict[intents.NodeKey, intents.NodeKey] = {}
    for key in keys:
        canonical = aliases.get((key.kind, key.namespace, key.name))
        if canonical is not None:
            found[key] = dataclasses.replace(key, namespace=canonical[0], name=canonical[1])
    return found


def canonical_name(session: Session, kind: str, namespace: str, name: str) -> Name:
    """The identifier a dataset or model known by (namespace, name) is recorded under."""
    found = lineage_repository.canonical_names(session, kind, [(namespace, name)])
    return found.get((namespace, name), (namespace, name))
