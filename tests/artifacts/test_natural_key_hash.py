"""The hash of a version's natural key, which lookups of many keys at once probe."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.artifacts.models import Artifact
from app.db import scope_text
from tests.artifacts.test_api import dataset, model


def test_the_hash_is_the_advisory_lock_key_of_the_natural_key(
    client: TestClient, session: Session
) -> None:
    recorded = [
        dataset(client, "corpus:with\x1fseparators", namespace="s3://lake@eu", version="1.10"),
        model(client, "lm"),
    ]
    for version in recorded:
        key = [version[part] for part in ("kind", "namespace", "name", "version")]
        stored, expected = session.execute(
            text(
                "SELECT natural_key_hash, hashtextextended(:scope, 0) FROM artifacts WHERE id = :id"
            ),
            {"scope": scope_text("artifact", *key), "id": uuid.UUID(version["id"])},
        ).one()
        assert stored == expected


def test_loading_a_version_leaves_the_hash_unread(client: TestClient, session: Session) -> None:
    recorded = dataset(client, "books")
    artifact = session.get_one(Artifact, uuid.UUID(recorded["id"]))
    assert "natural_key_hash" not in artifact.__dict__
