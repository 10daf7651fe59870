"""Inputs larger than PostgreSQL's limits on parameters and expression depth."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.artifacts.models import Artifact
from app.composition import repository as composition_repository
from app.db import equals_any


def test_id_sets_beyond_65535_parameters_are_one_array(session: Session) -> None:
    ids = [uuid.uuid4() for _ in range(70_000)]
    assert session.scalars(select(Artifact).where(equals_any(Artifact.id, ids))).all() == []
    composition_repository.mark_stale(session, ids)


def test_a_gate_over_ten_thousand_unversioned_datasets_answers(client: TestClient) -> None:
    proposal = {
        "training_set": [{"namespace": "big", "name": f"d{i}"} for i in range(10_000)],
    }
    response = client.post("/api/v1/gate", json=proposal)
    assert response.status_code == 404
    assert len(response.json()["missing"]) == 10_000
