"""What one dataset of an OpenLineage event says: its kind, version, amounts, origin, other
identifiers and the datasets its columns are read from, read off its validated facets."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from app.composition.origin import Origin
from app.lineage import events
from app.lineage.intents import Kind, Measure, NodeKey, Unit

# Namespaces that name a store whose files fsspec can read: with them, namespace and name
# combine into the dataset's location (the OpenLineage naming spec: scheme:[//authority]path).
STORAGE_SCHEMES: Final = frozenset(
    {"file", "s3", "s3a", "s3n", "gs", "gcs", "hdfs", "abfs", "abfss", "az", "hf", "http", "https"}
)
SHA256_VERSION: Final = re.compile(r"^sha256:[0-9a-fA-F]{64}$")


def dataset_location(namespace: str, name: str, version: str) -> dict[str, str]:
    """The ``uri`` and ``checksum`` a dataset named in an event carries, where it says them.

    No facet of the OpenLineage spec carries a checksum; a content-addressed version does:
    a ``datasetVersion`` of the form ``sha256:<hex>`` is the data's checksum."""
    found: dict[str, str] = {}
    scheme, separator, _ = namespace.partition("://")
    scheme = (scheme if separator else namespace).lower()
    if scheme in STORAGE_SCHEMES:
        root = namespace if separator else f"{scheme}://"
        found["uri"] = root.rstrip("/") + "/" + name.lstrip("/") if separator else root + name
    if SHA256_VERSION.match(version):
        found["checksum"] = version.lower()
    return found


@dataclass(slots=True)
class Dataset:
    kind: Kind
    namespace: str
    name: str
    version: str | None
    measures: dict[Unit, Measure]
    origin: Origin | None
    facets: dict[str, Any]
    identifiers: tuple[tuple[str, str], ...] = ()
    column_inputs: tuple[tuple[str, str], ...] = ()

    def measure(self, unit: Unit) -> Measure:
        return self.measures.get(unit, (None, None))

    def key(self, default_version: str | None, fallback_version: str | None) -> NodeKey:
        if self.version is not None:
            return NodeKey(self.kind, self.namespace, self.name, self.version, None)
        if default_version is not None:
            return NodeKey(self.kind, self.namespace, self.name, default_version, None)
        return NodeKey(self.kind, self.namespace, self.name, None, fallback_version)


def column_lineage_inputs(
    inputs: Sequence[Dataset], output_keys: Sequence[NodeKey], outputs: Sequence[Dataset]
) -> list[Dataset]:
    """Datasets an output's column lineage reads that the event's ``inputs`` leave out (AWS
    Glue's Spark integration does): they are upstream of that output all the same."""
    named = {(d.namespace, d.name) for d in inputs}
    named |= {(k.namespace, k.name) for k in output_keys}
    hidden = dict.fromkeys(n for d in outputs for n in d.column_inputs if n not in named)
    return [
        Dataset(
            kind="dataset",
            namespace=ns,
            name=name,
            version=None,
            measures={},
            origin=None,
            facets={},
        )
        for ns, name in hidden
    ]


def unit_of(datasets: Sequence[Dataset]) -> Unit:
    """The unit of one run's amounts: rows when any dataset counts them, else bytes. Mixing
    them would weigh one parent's rows against another's bytes."""
    return "rows" if any("rows" in d.measures for d in datasets) else "bytes"


def read_dataset(
    dataset: events.StaticDataset,
    raw: Mapping[str, Any],
    role: events.Facets | None,
    role_facets: str | None,
) -> Dataset:
    facets = dataset.facets or events.DatasetFacets()
    declared = facets.datasetType.datasetType if facets.datasetType is not None else None
    measures: dict[Unit, Measure] = {}
    if role is not None and role_facets is not None:
        for facet_name, field_name, unit in MEASURES[role_facets]:
            facet = getattr(role, facet_name, None)
            value = getattr(facet, field_name, None) if facet is not None else None
            if value is not None and unit not in measures:
                measures[unit] = (value, f"{facet_name}.{field_name}")
    raw_facets = raw.get("facets") or {}
    return Dataset(
        kind="model" if declared is not None and declared.strip().upper() == "MODEL" else "dataset",
        namespace=dataset.namespace,
        name=dataset.name,
        version=facets.version.datasetVersion if facets.version is not None else None,
        measures=measures,
        origin=facets.headwater_origin.origin if facets.headwater_origin is not None else None,
        facets=copy.deepcopy(dict(raw_facets)),
        identifiers=_identifiers(facets.symlinks, (dataset.namespace, dataset.name)),
        column_inputs=_column_inputs(facets.columnLineage),
    )


def _column_inputs(facet: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """The datasets the ``columnLineage`` facet says the dataset's columns come from (each
    field's ``inputFields``, and the dataset-level ``dataset`` list). Entries without a
    namespace and a name are skipped: the facet is descriptive, and a malformed entry must not
    cost the event its lineage."""
    if facet is None:
        return ()
    entries: list[Any] = []
    fields = facet.get("fields")
    if isinstance(fields, Mapping):
        for spec in fields.values():
            if isinstance(spec, Mapping) and isinstance(spec.get("inputFields"), list | tuple):
                entries += spec["inputFields"]
    if isinstance(facet.get("dataset"), list | tuple):
        entries += facet["dataset"]
    found: dict[tuple[str, str], None] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        named = (entry.get("namespace"), entry.get("name"))
        if all(isinstance(part, str) and part.strip() for part in named):
            found[(str(named[0]), str(named[1]))] = None
    return tuple(found)


def _identifiers(
    facet: events.SymlinksFacet | None, own: tuple[str, str]
) -> tuple[tuple[str, str], ...]:
    """Every identifier of a dataset with a ``symlinks`` facet, the one to record it under first
    (see ``NodeIntent.identifiers``). A symlink without a namespace or a name is skipped: it
    names nothing on its own."""
    if facet is None or not facet.identifiers:
        return ()
    tables: list[tuple[str, str]] = []
    others: list[tuple[str, str]] = []
    for link in facet.identifiers:
        if link.namespace is None or link.name is None or (link.namespace, link.name) == own:
            continue
        is_table = isinstance(link.type, str) and link.type.upper() == "TABLE"
        (tables if is_table else others).append((link.namespace, link.name))
    if not tables and not others:
        return ()
    return tuple(dict.fromkeys([*tables, own, *others]))


MEASURES: Mapping[str, Sequence[tuple[str, str, Unit]]] = {
    "inputFacets": (
        ("inputStatistics", "rowCount", "rows"),
        ("dataQualityMetrics", "rowCount", "rows"),
        ("inputStatistics", "size", "bytes"),
        ("dataQualityMetrics", "bytes", "bytes"),
    ),
    "outputFacets": (
        ("outputStatistics", "rowCount", "rows"),
        ("outputStatistics", "size", "bytes"),
    ),
}
