"""The README's examples, extracted from the README itself and run as a newcomer would."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, LiveServer

README = (ROOT / "README.md").read_text(encoding="utf-8")


def block(after_heading: str, language: str) -> str:
    """The first ``language`` code block after the heading (or line) ``after_heading``."""
    start = README.index(after_heading)
    found = re.search(rf"```{language}\n(.*?)```", README[start:], re.DOTALL)
    assert found is not None, f"no {language} block after {after_heading!r}"
    return found.group(1)


def run_tour(server: LiveServer) -> str:
    script = block("## A five-minute tour", "sh").replace("http://127.0.0.1:8000", server.url)
    done = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    return done.stdout


@pytest.mark.skipif(
    shutil.which("jq") is None or shutil.which("curl") is None, reason="the tour uses curl and jq"
)
def test_the_tour_runs_twice(live_server: LiveServer) -> None:
    first = run_tour(live_server)
    second = run_tour(live_server)
    for output in (first, second):
        assert "null" not in output, output
        assert "/api/v1/problems/" not in output, output
    # step 6 prints the history of generation 0's verdicts: the second run adds nothing to it
    histories = [json.loads(out[out.rindex("[") :]) for out in (first, second)]
    assert histories[0] == histories[1]


def test_the_openlineage_example_runs_without_a_token(live_server: LiveServer) -> None:
    pytest.importorskip("openlineage.client")
    script = block("Or in code", "python")
    env = {k: v for k, v in os.environ.items() if k != "HEADWATER_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "HEADWATER_URL": live_server.url},
        cwd=Path(ROOT),
    )
    assert done.returncode == 0, done.stderr
    found = httpx.get(
        live_server.url + "/api/v1/models", params={"namespace": "hf://acme", "name": "chat"}
    ).json()["items"]
    assert [m["version"] for m in found] == ["1"]
    assert found[0]["training_run_id"] is not None
