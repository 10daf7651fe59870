"""The human mass of a training set, split among the sources it entered at."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.artifacts.models import Artifact
from app.policies import service as policy_service
from app.policies.preservation import Preservation, load_region, preservation
from tests.artifacts.test_api import dataset, model
from tests.sources.test_api import CHECKSUM, report


def test_credits_split_the_whole_human_fraction_among_the_sources(
    client: TestClient, session: Session
) -> None:
    uri = {"uri": "file:///corpora/x", "checksum": CHECKSUM}
    books = dataset(client, "books", size=1000, origin={"human": 1}, **uri)
    mixed = dataset(client, "mixed", size=500, origin={"human": 0.6, "synthetic": 0.4}, **uri)
    # 300 rows from books, and 200 more rows that entered here, declared human
    curated = dataset(
        client,
        "curated",
        size=500,
        origin={"human": 1},
        parents=[{"id": books["id"], "relation": "derived_from", "amount": 300}],
        **uri,
    )
    other = dataset(
        client, "other", size=10, parents=[{"id": books["id"], "relation": "derived_from"}]
    )
    lm = model(client, "lm", training_set=[{"id": books["id"]}])
    samples = dataset(
        client, "samples", size=400, parents=[{"id": lm["id"], "relation": "generated_by"}]
    )
    members = [
        policy_service.Member(session.get_one(Artifact, uuid.UUID(d["id"])), amount)
        for d, amount in ((curated, None), (mixed, 250.0), (samples, None))
    ]
    judged = policy_service.training_set_composition(members).composition
    # 500 curated (all human) + 250 mixed (150 human) + 400 synthetic samples = 650 / 1150
    assert abs(judged.human_fraction - 650 / 1150) < 1e-12

    shares = policy_service.member_shares(members)

    def found_now() -> Preservation:
        return preservation(load_region(session, list(shares)), shares)

    assert found_now().checked_human_fraction == 0.0  # nothing checked yet

    report(
        client,
        {"id": books["id"], "status": "lost"},
        {"id": mixed["id"], "status": "verified"},
        {"id": curated["id"], "status": "verified"},
    )
    found = found_now()
    assert abs(found.checked_human_fraction - judged.human_fraction) < 1e-12
    # books' 300 rows reach the set through curated; they are the part no longer verified
    assert abs(found.verified_human_fraction - (200 + 150) / 1150) < 1e-12
    # a region loaded for a whole batch of training sets answers each set the same
    wide = load_region(session, [*shares, uuid.UUID(other["id"]), uuid.UUID(books["id"])])
    assert preservation(wide, shares) == found

    report(client, {"id": mixed["id"], "status": "unchecked", "reason": "no credentials"})
    found = found_now()
    assert abs(found.checked_human_fraction - 500 / 1150) < 1e-12
    assert abs(found.verified_human_fraction - 200 / 1150) < 1e-12
