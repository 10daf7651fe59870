"""Every valid event of the shared corpus of real OpenLineage events is accepted."""

from __future__ import annotations

from collections import Counter

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.graph_check import check_graph
from tests.lineage import corpus


def test_every_valid_corpus_event_is_accepted(client: TestClient, session: Session) -> None:
    answers: Counter[int] = Counter()
    refused: list[str] = []
    for path, body in corpus.events():
        response = client.post("/api/v1/lineage", json=body)
        answers[response.status_code] += 1
        if response.status_code not in (200, 201) and path not in corpus.MAY_BE_REJECTED:
            refused.append(f"{path}: {response.status_code} {response.text[:300]}")
    assert not refused, "\n".join(refused)
    assert sum(answers.values()) == 426
    assert answers[201] > 400, answers
    check_graph(session)
