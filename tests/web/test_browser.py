"""The pages in headless Chromium: a person finds a dataset, follows its ancestry, reads a
failing training run, expands the graph, and runs the gate.

Screenshots of every page land in ``test-artifacts/screenshots/`` (git-ignored) for review.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, LiveServer
from tests.web import scenario

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-artifacts" / "screenshots"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not CHROMIUM.exists():
    pytest.skip(
        "no Chromium at /usr/bin/chromium (Debian's `chromium` package; .ci/run installs it)",
        allow_module_level=True,
    )

Page = sync_api.Page
expect = sync_api.expect


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: sync_api.Browser, live_server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    # nothing but the service: a request to any other host is refused and fails the test
    elsewhere: list[str] = []

    def refuse(route: sync_api.Route) -> None:
        elsewhere.append(route.request.url)
        route.abort()

    context.route(re.compile(r"^(?!" + re.escape(live_server.url) + ").*"), refuse)
    opened = context.new_page()
    yield opened
    context.close()
    assert not elsewhere, f"the pages asked other hosts: {elsewhere}"


@pytest.fixture
def ids(live_server: LiveServer) -> dict[str, str]:
    with live_server.client() as client:
        return scenario.load(client)


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_search_dataset_ancestor_run_expand_gate(page: Page, ids: dict[str, str]) -> None:
    # search: substring of the name, newest first, each with its bar written out
    page.goto("/")
    expect(page.get_by_role("heading", name="Find a dataset or model")).to_be_visible()
    shot(page, "01-search-empty")
    page.get_by_label("Name or namespace").fill("samples")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("writer-1/samples")  # newest first
    expect(rows.nth(1)).to_contain_text("writer-0/samples")
    expect(rows.nth(0)).to_contain_text("100 % synthetic")
    shot(page, "02-search-results")

    # the dataset: depth bar with figures, contributors, graph
    rows.nth(0).get_by_role("link", name="writer-1/samples").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("writer-1/samples")
    figures = page.locator("table.figures")
    expect(figures).to_contain_text("synthetic, depth 1")
    expect(figures).to_contain_text("16.7 %")
    expect(figures).to_contain_text("synthetic, depth 2")
    expect(figures).to_contain_text("83.3 %")
    expect(page.locator(".headline")).to_contain_text("deepest generation: depth 2")
    expect(
        page.locator("section", has=page.get_by_role("heading", name="Why")).first
    ).to_contain_text("writer@1")
    graph = page.locator("svg.graph")
    # by default 3 generations up (all 5 ancestors) and 2 down (writer@2, the mix, writer@3)
    expect(graph.locator(".node")).to_have_count(9)
    expect(page.locator("#graph-summary")).to_contain_text("Showing 5 of 5 ancestors and 3 of 3")
    shot(page, "03-dataset")

    # an ancestor in the graph: the model that generated it
    graph.get_by_role("link", name=re.compile(r"^model models\/writer@1:")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("writer")
    expect(page.get_by_role("heading", level=1)).to_contain_text("@1")
    expect(
        page.locator("section", has=page.get_by_role("heading", name="Training run"))
    ).to_contain_text("warn")
    shot(page, "04-model")

    # the collapsing generation's training run: fail, with findings, remedy and history
    page.goto(f"/models/{ids['v2']}")
    page.get_by_role("link", name="See the findings, remediation and history").click()
    expect(page.locator(".verdict-line")).to_contain_text("fail")
    findings = page.locator("table.findings")
    expect(findings.locator("tr", has_text="replace")).to_contain_text("fail")
    expect(findings.locator("tr", has_text="human_fraction")).to_contain_text("0 %")
    expect(page.get_by_role("heading", name="Remediation: what would make it pass")).to_be_visible()
    expect(page.locator("ol.timeline li")).to_have_count(1)
    expect(page.locator(".loop")).to_contain_text("writer@1")
    shot(page, "05-training-run")

    # a verdict history with its causes: the crawl's origin was corrected after writer@3 trained
    page.goto(f"/training-runs/{ids['v3_run']}")
    timeline = page.locator("ol.timeline li")
    expect(timeline).to_have_count(2)
    expect(timeline.nth(0)).to_contain_text("a quarter is LLM-written")
    expect(timeline.nth(1)).to_contain_text("model models/writer@3 recorded")
    shot(page, "05b-training-run-history")

    # expand: the oldest generation is one click away
    page.goto(f"/datasets/{ids['samples1']}")
    page.get_by_label("Generations upstream").fill("2")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.locator("#graph-summary")).to_contain_text("Showing 3 of 5 ancestors (2 hidden)")
    expect(graph.locator(".node", has_text="writer@0")).to_have_count(0)
    shot(page, "06-dataset-two-generations")
    page.get_by_role(
        "link", name=re.compile(r"^Show 1 hidden parents of writer-0\/samples")
    ).click()
    expect(graph.locator(".node", has_text="writer@0")).to_have_count(1)
    expect(page.locator("#graph-summary")).to_contain_text("Showing 4 of 5 ancestors (1 hidden)")
    shot(page, "07-dataset-expanded")

    # a node with many parents shows the nearest and says how many are hidden
    page.goto(f"/datasets/{ids['sharded']}")
    expect(page.locator("#graph-summary")).to_contain_text(
        f"Showing 40 of {scenario.SHARDS} ancestors ({scenario.SHARDS - 40} hidden)"
    )
    shot(page, "08-many-parents")

    # training runs: filter by verdict
    page.goto("/training-runs")
    expect(page.locator("table.list tbody tr")).to_have_count(4)
    page.get_by_label("Verdict").select_option("fail")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.list tbody tr")).to_have_count(1)
    expect(page.locator("table.list tbody tr")).to_contain_text("writer@2")
    shot(page, "09-training-runs-fail")

    # the gate: pick with search, set an amount, name the model, judge
    page.goto("/gate")
    page.get_by_label("Find dataset versions by name or namespace").fill("web/2019")
    page.get_by_role("button", name="Find", exact=True).click()
    page.get_by_role("button", name="Add web/2019@1 from s3://lake").click()
    page.get_by_label("Find dataset versions by name or namespace").fill("writer-1")
    page.get_by_role("button", name="Find", exact=True).click()
    page.get_by_role("button", name="Add writer-1/samples@1 from s3://lake").click()
    page.get_by_label("Amount of writer-1/samples@1").fill("250000")
    page.get_by_label("Namespace", exact=True).fill("models")
    page.get_by_label("Name", exact=True).fill("writer")
    page.get_by_role("button", name="Judge this training set").click()
    answer = page.locator("section.answer")
    expect(answer.get_by_role("heading", name=re.compile("Verdict"))).to_contain_text("warn")
    expect(answer.locator(".headline")).to_contain_text("80 % human")
    expect(answer.locator(".headline")).to_contain_text("20 % synthetic")
    expect(answer.locator("pre.cli").first).to_contain_text("--dataset 's3://lake::web/2019@1'")
    expect(answer.locator("pre.cli").nth(1)).to_contain_text("Verdict: WARN under policy default@")
    shot(page, "10-gate")


def test_unknown_ids_and_bad_input_are_pages(page: Page, ids: dict[str, str]) -> None:
    response = page.goto("/datasets/00000000-0000-0000-0000-000000000000")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    shot(page, "11-not-found")
    response = page.goto(f"/datasets/{ids['sharded']}?up=abc&parents_of=zzz&cursor=%%")
    assert response is not None and response.status == 200
    response = page.goto("/gate?pick=" + ids["web"] + "&amount=lots&judge=1")
    assert response is not None and response.status == 200
    expect(page.get_by_role("alert")).to_contain_text("is not an amount")


def test_the_sign_in_form(page: Page) -> None:
    page.goto("/sign-in?next=/gate")
    expect(page.get_by_label("Token")).to_have_attribute("type", "password")
    expect(page.locator("input[name=next]")).to_have_value("/gate")
    shot(page, "12-sign-in")


def test_keyboard_reaches_the_graph(page: Page, ids: dict[str, str]) -> None:
    page.goto(f"/datasets/{ids['samples1']}")
    page.locator("svg.graph").get_by_role("link").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert re.search(r"/(datasets|models)/[0-9a-f-]{36}$", page.url)


@pytest.fixture(scope="module", autouse=True)
def _fresh_screenshots() -> None:
    shutil.rmtree(SHOTS, ignore_errors=True)
