"""The shared corpus of real OpenLineage events (``../shared/openlineage-corpus``), in the order
its SOURCES.md gives: scenarios sorted, files inside one in natural order, arrays in order."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

CORPUS = ROOT.parent / "shared" / "openlineage-corpus"

# Invalid on purpose (SOURCES.md): a consumer may reject these. Everything else must be accepted.
MAY_BE_REJECTED = {
    "fluentd-proxy/validation-events/event_no_run_id.json",
    "fluentd-proxy/validation-events/event_invalid_output_dataset_facet.json",
    "misc/compat-simple-run-event/simple_run_event.json",
}


def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the OpenLineage corpus is not at {CORPUS} (it lives outside the repository)")
    return CORPUS


def _natural(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def events(*scenario: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(file relative to the corpus, event) for every event under the given folders or files."""
    root = corpus_dir()
    targets = [root / s for s in scenario] if scenario else [root]
    files: list[Path] = []
    for target in targets:
        if target.is_file():
            files.append(target)
            continue
        for folder in sorted({p.parent for p in target.rglob("*.json")}):
            files += sorted(folder.glob("*.json"), key=_natural)
    for path in files:
        loaded = json.loads(path.read_text(encoding="utf-8"))
        for event in loaded if isinstance(loaded, list) else [loaded]:
            yield str(path.relative_to(root)), event
