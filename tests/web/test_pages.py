"""The pages in-process: what they answer for unknown ids, bad input, searches and sign-in."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from app.web.auth import ALL_SCOPES, Principal, TokenRejected, TokenRequired, get_verifier
from app.web.render import pct
from tests.web import scenario


@pytest.fixture
def ids(client: TestClient) -> dict[str, str]:
    return scenario.load(client)  # type: ignore[arg-type]


def html(client: TestClient, path: str, **kwargs: Any) -> tuple[int, str]:
    response = client.get(path, **kwargs)
    assert response.headers["content-type"].startswith("text/html"), response.text
    return response.status_code, response.text


def test_percentages_are_written_out_without_rounding_away_a_share() -> None:
    assert pct(0.0) == "0 %"
    assert pct(1.0) == "100 %"
    assert pct(1 / 6) == "16.7 %"
    assert pct(0.5) == "50 %"
    assert pct(0.00001) == "< 0.1 %"
    assert pct(0.99999) == "> 99.9 %"


def test_unknown_and_malformed_ids_are_not_found_pages(
    client: TestClient, ids: dict[str, str]
) -> None:
    for path in [
        f"/datasets/{uuid.uuid4()}",
        "/datasets/not-an-id",
        f"/datasets/{ids['v1']}",  # a model is not a dataset
        f"/models/{ids['web']}",
        f"/training-runs/{uuid.uuid4()}",
        "/training-runs/%00",
        "/no/such/page",
    ]:
        status, body = html(client, path, headers={"accept": "text/html"})
        assert status == 404, path
        assert "<h1>" in body and "Search for a dataset or model" in body


def test_machines_keep_their_problem_documents(client: TestClient) -> None:
    response = client.get("/api/v1/datasets/not-an-id", headers={"accept": "text/html"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/no/such/page").headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "query",
    [
        "up=-5&down=999999999999999999999&parents_of=x&children_of=&cursor=%25%25",
        "up=abc&parents_of=00000000-0000-0000-0000-000000000000",
    ],
)
def test_bad_graph_parameters_still_show_the_page(
    client: TestClient, ids: dict[str, str], query: str
) -> None:
    status, body = html(client, f"/datasets/{ids['samples1']}?{query}")
    assert status == 200
    assert "writer-1/samples" in body


@pytest.mark.parametrize(
    "query",
    [
        "q=%25&match=nonsense&kind=everything&cursor=garbage",
        "q=" + "x" * 5000,
        "namespace=%00",
    ],
)
def test_bad_search_input_is_never_an_error(
    client: TestClient, ids: dict[str, str], query: str
) -> None:
    status, _ = html(client, f"/?{query}")
    assert status == 200


def test_bad_listing_and_gate_input_is_never_an_error(
    client: TestClient, ids: dict[str, str]
) -> None:
    assert html(client, "/training-runs?verdict=maybe&cursor=zzz")[0] == 200
    status, body = html(
        client,
        f"/gate?pick={ids['web']}&amount=-3&pick=nonsense&add=zzz&judge=1&policy=%2F%2F",
    )
    assert status == 200
    assert "is not an amount" in body
    status, body = html(client, f"/gate?pick={ids['web']}&judge=1&policy=no-such-policy")
    assert status == 200 and "No policy is named" in body
    status, body = html(client, f"/gate?pick={ids['web']}&judge=1&model_namespace=models")
    assert status == 200 and "both its namespace and its name" in body


def names(body: str) -> list[str]:
    return re.findall(r'<a href="/(?:dataset|model)s/[0-9a-f-]+">([^<]+)</a>', body)


def test_search_by_prefix_substring_and_exact_newest_first(
    client: TestClient, ids: dict[str, str]
) -> None:
    assert names(html(client, "/?q=samples")[1]) == ["writer-1/samples", "writer-0/samples"]
    assert names(html(client, "/?q=samples&match=prefix")[1]) == []
    assert names(html(client, "/?q=writer&match=prefix&kind=dataset")[1]) == [
        "writer-1/samples",
        "writer-0/samples",
    ]
    assert names(html(client, "/?q=writer&kind=model")[1]) == ["writer"] * 4
    assert names(html(client, "/?q=web/2019&match=exact")[1]) == ["web/2019"]
    assert names(html(client, "/?namespace=S3://LA&match=prefix&q=crawl")[1]) == ["crawl/2025"]
    # LIKE's wildcards are searched for, not obeyed
    assert names(html(client, "/?q=_")[1]) == []


def test_search_pages_through_everything(client: TestClient, ids: dict[str, str]) -> None:
    seen: list[str] = []
    path = "/?q=shards"
    while path:
        body = html(client, path)[1]
        seen += names(body)
        found = re.search(r'<a rel="next" href="([^"]+)"', body)
        path = found.group(1).replace("&amp;", "&") if found else ""
    assert sorted(seen) == [f"shards/{i:03d}" for i in range(scenario.SHARDS)]


def test_a_model_page_shows_its_training_run_and_verdict(
    client: TestClient, ids: dict[str, str]
) -> None:
    body = html(client, f"/models/{ids['v2']}")[1]
    assert f'href="/training-runs/{ids["v2_run"]}"' in body
    assert "✗ fail" in body
    body = html(client, f"/datasets/{ids['crawl']}")[1]
    assert "Declared as 25 % human, 25 % synthetic (at depth 1), 50 % unknown" in body


def test_expanding_a_node_outside_the_page_changes_nothing(
    client: TestClient, ids: dict[str, str]
) -> None:
    plain = html(client, f"/datasets/{ids['samples1']}?up=1")[1]
    stale = html(client, f"/datasets/{ids['samples1']}?up=1&parents_of={ids['web']}")[1]
    assert plain.count('class="node') == stale.count('class="node')


# --- signing in --------------------------------------------------------------------------------

TOKEN = "s3cret"


def requiring_token(request: Request, token: str | None) -> Principal:
    if token is None:
        raise TokenRequired
    if token == "reader":
        return Principal("reader", frozenset({"read"}))
    if token != TOKEN:
        raise TokenRejected
    return Principal("ci", ALL_SCOPES)


@pytest.fixture
def guarded(client: TestClient) -> Iterator[TestClient]:
    client.app.dependency_overrides[get_verifier] = lambda: requiring_token  # type: ignore[attr-defined]
    yield client
    client.app.dependency_overrides.pop(get_verifier)  # type: ignore[attr-defined]


def test_without_authentication_no_sign_in_form_shows(client: TestClient) -> None:
    status, body = html(client, "/")
    assert status == 200
    assert 'name="token"' not in body and "Sign out" not in body


def test_pages_ask_for_a_token_and_keep_it_for_the_session(guarded: TestClient) -> None:
    status, body = html(guarded, "/training-runs?verdict=fail")
    assert status == 401 and 'name="token"' in body
    assert 'value="/training-runs?verdict=fail"' in body

    rejected = guarded.post(
        "/sign-in", data={"token": "wrong", "next": "/"}, follow_redirects=False
    )
    assert rejected.status_code == 401 and "was not accepted" in rejected.text

    accepted = guarded.post(
        "/sign-in",
        data={"token": TOKEN, "next": "/training-runs?verdict=fail"},
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    assert accepted.headers["location"] == "/training-runs?verdict=fail"
    cookie = accepted.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "max-age" not in cookie and "expires" not in cookie  # gone with the browser session

    status, body = html(guarded, "/training-runs?verdict=fail")
    assert status == 200 and "Sign out" in body
    # the API never takes the pages' cookie in place of a bearer token
    assert guarded.post("/sign-out", follow_redirects=False).status_code == 303
    assert html(guarded, "/")[0] == 401


def test_a_token_without_the_scope_gets_a_page_that_says_so(guarded: TestClient) -> None:
    guarded.cookies.set("headwater_token", "reader")
    assert html(guarded, "/")[0] == 200
    status, body = html(guarded, "/gate")
    assert status == 403 and "gate" in body


def test_sign_in_leads_only_to_this_service(guarded: TestClient) -> None:
    for target in ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"]:
        answer = guarded.post(
            "/sign-in", data={"token": TOKEN, "next": target}, follow_redirects=False
        )
        assert answer.headers["location"] == "/", target
    foreign = guarded.post(
        "/sign-in",
        data={"token": TOKEN, "next": "/"},
        headers={"origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert foreign.status_code == 403
