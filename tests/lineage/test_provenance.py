"""PROV-JSON export: the `prov` package reads back what Headwater serves."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prov.model import ProvActivity, ProvAgent, ProvDerivation, ProvDocument, ProvEntity, ProvUsage

from tests.training.test_corrections import Pipeline


def read_back(client: TestClient, path: str) -> ProvDocument:
    response = client.get(path)
    assert response.status_code == 200, response.text
    document: ProvDocument = ProvDocument.deserialize(content=response.text, format="json")
    return document


def attribute(record: Any, name: str) -> Any:
    values = [v for k, v in record.attributes if k.localpart == name]
    assert len(values) == 1, (name, record.attributes)
    return values[0]


def test_a_model_trained_on_generated_data_reads_back_as_prov(client: TestClient) -> None:
    lab = Pipeline(client)
    human = lab.dataset("human", 1000, origin={"human": 1.0})
    base_run = lab.model("gen", human)
    base = lab.run(base_run)["model"]
    generated = lab.dataset(
        "generated",
        1000,
        parents=[
            {"id": base["id"], "kind": "model", "relation": "generated_by"},
            {"id": human["id"], "relation": "used"},
        ],
    )
    run_id = lab.model("student", human, generated)
    student = lab.run(run_id)["model"]

    doc = read_back(client, f"/api/v1/models/{student['id']}/provenance")
    entities = {attribute(r, "name"): r for r in doc.get_records(ProvEntity)}
    assert set(entities) == {"human", "gen", "generated", "student"}
    assert attribute(entities["student"], "human_fraction") == pytest.approx(0.5)
    assert attribute(entities["generated"], "max_depth") == 1
    activities = {str(a.identifier) for a in doc.get_records(ProvActivity)}
    assert f"headwater:training-run/{run_id}" in activities
    assert f"headwater:training-run/{base_run}" in activities
    (agent,) = doc.get_records(ProvAgent)
    assert str(agent.identifier) == f"headwater:model/{base['id']}"
    derived = {(str(d.args[0]), str(d.args[1])) for d in doc.get_records(ProvDerivation)}
    assert (f"headwater:model/{student['id']}", f"headwater:dataset/{generated['id']}") in derived
    # the prompt set was used by the generation, but passes no mass: no derivation
    assert (
        f"headwater:dataset/{generated['id']}",
        f"headwater:dataset/{human['id']}",
    ) not in derived
    used = {str(u.args[1]) for u in doc.get_records(ProvUsage)}
    assert f"headwater:dataset/{human['id']}" in used

    # a round trip through the package's own serializer keeps every record
    again = ProvDocument.deserialize(content=doc.serialize(format="json"), format="json")
    assert again == doc


def test_a_dataset_without_parents_is_one_entity(client: TestClient) -> None:
    lab = Pipeline(client)
    human = lab.dataset("alone", 10, origin={"human": 1.0})
    doc = read_back(client, f"/api/v1/datasets/{human['id']}/provenance")
    (entity,) = doc.get_records(ProvEntity)
    assert attribute(entity, "size") == 10
    assert json.loads(doc.serialize(format="json"))["entity"]
    assert client.get(f"/api/v1/models/{human['id']}/provenance").status_code == 404
