"""Every writer of a composition writes its packed doubles beside it, in the same statement: after
each kind of write the stored ``composition_packed`` is, byte for byte, what the database's own
``pack_composition`` makes of the stored JSON, and what ``core.packed`` makes of the vector."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.composition.core import Composition, packed, unpacked
from app.db import json_dumps
from tests import graph_check


def unpacked_composition(stored: bytes) -> Composition:
    buckets, unknown = unpacked(stored)
    return Composition(tuple(buckets), unknown)


masses = st.floats(min_value=1e-15, max_value=1.0)


@given(st.dictionaries(st.integers(0, 5000), masses, max_size=20), masses)
def test_packing_round_trips_every_vector(depths: dict[int, float], unknown: float) -> None:
    total = sum(depths.values()) + unknown
    composition = Composition(
        tuple((d, m / total) for d, m in sorted(depths.items())), unknown / total
    )
    assert unpacked_composition(packed(composition)) == composition


def test_python_and_the_database_pack_alike(session: Session) -> None:
    vectors = [
        Composition.all_unknown(),
        Composition.all_human(),
        Composition(((0, 0.1), (1, 0.2), (7, 1e-15), (4096, 0.3 - 1e-15)), 0.4),
        Composition(((3, 1 / 3), (9, 2 / 3)), 0.0),
    ]
    for composition in vectors:
        from_sql = session.execute(
            text("SELECT pack_composition(CAST(:json AS jsonb))"),
            {"json": json_dumps(composition.to_json())},
        ).scalar_one()
        assert bytes(from_sql) == packed(composition)


class Lab:
    """Lineage in a namespace of its own, written through every door the service has."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.namespace = f"packed-{uuid.uuid4().hex}"

    def key(self, name: str) -> dict[str, str]:
        return {"namespace": self.namespace, "name": name, "version": "1"}

    def post(self, path: str, body: Any, status: int = 201) -> Any:
        response = self.client.post(path, json=body)
        assert response.status_code == status, response.text
        return response.json()

    def dataset(self, name: str, **body: Any) -> dict[str, Any]:
        created: dict[str, Any] = self.post("/api/v1/datasets", {**self.key(name), **body})
        return created

    def event(self, inputs: list[str], output: str) -> None:
        self.post(
            "/api/v1/lineage",
            {
                "eventType": "COMPLETE",
                "eventTime": "2026-11-26T09:00:00Z",
                "run": {"runId": str(uuid.uuid4())},
                "job": {"namespace": self.namespace, "name": "job"},
                "producer": "https://example.org/producer",
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                "inputs": [{"namespace": self.namespace, "name": n} for n in inputs],
                "outputs": [{"namespace": self.namespace, "name": output}],
            },
            status=201,
        )


def assert_packed_everywhere(session: Session, namespace: str) -> None:
    rows = session.execute(
        text(
            """
            SELECT composition, composition_packed,
                   composition_packed IS NOT DISTINCT FROM pack_composition(composition)
            FROM artifacts WHERE namespace = :ns
            """
        ),
        {"ns": namespace},
    ).all()
    assert rows
    for stored, bytes_, same_as_sql in rows:
        assert same_as_sql, stored
        assert bytes(bytes_) == packed(Composition.from_json(stored))


Write = Callable[[Lab], None]


def write_dataset(lab: Lab) -> None:
    lab.dataset("human", size=1000, origin={"human": 1.0})


def write_model(lab: Lab) -> None:
    web = lab.dataset("web", size=1000, origin={"human": 0.7, "synthetic": 0.3})
    lab.post("/api/v1/models", {**lab.key("lm"), "training_set": [{"id": web["id"]}]})


def write_batch(lab: Lab) -> None:
    lab.post(
        "/api/v1/batch",
        {
            "datasets": [
                {**lab.key("web"), "size": 1000, "origin": {"human": 1.0}},
                {**lab.key("vendor"), "size": 500, "origin": {"synthetic": 1.0}},
                {
                    **lab.key("mix"),
                    "parents": [
                        {**lab.key("web"), "relation": "derived_from"},
                        {**lab.key("vendor"), "relation": "derived_from", "amount": 250},
                    ],
                },
            ],
            "models": [{**lab.key("lm"), "training_set": [lab.key("mix")]}],
        },
        status=200,
    )


def write_event(lab: Lab) -> None:
    lab.event(["raw", "other"], "clean")


def write_correction(lab: Lab) -> None:
    root = lab.dataset("root", size=100, origin={"human": 1.0})
    lab.dataset("child", size=300, parents=[{"id": root["id"], "relation": "derived_from"}])
    response = lab.client.put(
        f"/api/v1/datasets/{root['id']}/origin",
        json={"human": 0.25, "synthetic": 0.75, "reason": "a vendor's share was found"},
    )
    assert response.status_code == 200, response.text


def write_retraction(lab: Lab) -> None:
    human = lab.dataset("human", size=100, origin={"human": 1.0})
    vendor = lab.dataset("vendor", size=100, origin={"synthetic": 1.0})
    lab.dataset(
        "mix",
        parents=[
            {"id": human["id"], "relation": "derived_from"},
            {"id": vendor["id"], "relation": "derived_from"},
        ],
    )
    edges = lab.client.get(f"/api/v1/datasets/{human['id']}/lineage?direction=downstream").json()
    (edge,) = edges["edges"]
    lab.post(f"/api/v1/edges/{edge['id']}/retraction", {"reason": "never read"})


def write_edge(lab: Lab) -> None:
    human = lab.dataset("human", size=100, origin={"human": 1.0})
    vendor = lab.dataset("vendor", size=100, origin={"synthetic": 1.0, "synthetic_depth": 3})
    lab.post(
        "/api/v1/edges",
        {"child": {"id": human["id"]}, "parent": {"id": vendor["id"]}, "relation": "derived_from"},
    )


@pytest.mark.parametrize(
    "write",
    [
        write_dataset,
        write_model,
        write_batch,
        write_event,
        write_correction,
        write_retraction,
        write_edge,
    ],
)
def test_every_writer_stores_the_packed_vector_of_its_json(
    client: TestClient, session: Session, write: Write
) -> None:
    lab = Lab(client)
    write(lab)
    assert_packed_everywhere(session, lab.namespace)
    graph_check.check_graph(session, [lab.namespace])
