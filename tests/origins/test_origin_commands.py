"""`headwater origin from-card` and `from-c2pa`: origins read locally from the standards people
already use, posted to a live service through the client package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.origin_cli import (
    NoOrigin,
    origin_from_card,
    origin_from_manifest,
    read_card,
    read_manifest,
)
from headwater_client import Headwater
from tests.conftest import LiveServer
from tests.origins.c2pa_fixture import signed_png

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
runner = CliRunner()


def card(tmp_path: Path, metadata: str) -> Path:
    path = tmp_path / "README.md"
    path.write_text(f"---\n{metadata}\n---\n\n# A dataset\n\nSome prose.\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("metadata", "origin"),
    [
        ({"language_creators": ["found", "crowdsourced"]}, {"human": 1.0}),
        ({"language_creators": ["expert-generated"]}, {"human": 1.0}),
        ({"language_creators": ["machine-generated"]}, {"synthetic": 1.0}),
        ({"language_creators": ["found", "machine-generated"]}, {"unknown": 1.0}),
        ({"language_creators": ["other"]}, {"unknown": 1.0}),
        ({"annotations_creators": ["machine-generated"]}, {"synthetic": 1.0}),
        (
            {"annotations_creators": ["machine-generated"], "language_creators": ["found"]},
            {"human": 1.0},
        ),
    ],
)
def test_card_metadata_maps_to_an_origin(metadata: dict[str, Any], origin: dict[str, Any]) -> None:
    assert origin_from_card(metadata)[0] == origin


@pytest.mark.parametrize("metadata", [{}, {"annotations_creators": ["no-annotation"]}])
def test_a_card_without_creators_declares_nothing(metadata: dict[str, Any]) -> None:
    with pytest.raises(NoOrigin):
        origin_from_card(metadata)


def test_the_card_parser_reads_a_local_readme(tmp_path: Path) -> None:
    data = read_card(card(tmp_path, "language_creators:\n- crowdsourced\nlicense: mit"))
    assert data["language_creators"] == ["crowdsourced"]
    assert origin_from_card(data)[0] == {"human": 1.0}


def test_the_manifest_digital_source_type_is_read_from_a_signed_file(tmp_path: Path) -> None:
    path = signed_png(tmp_path / "generated.png", IPTC + "trainedAlgorithmicMedia")
    store, state = read_manifest(path)
    assert state.lower() in ("valid", "trusted")
    assert origin_from_manifest(store)[0] == {"digitalSourceType": IPTC + "trainedAlgorithmicMedia"}


def test_a_file_without_a_manifest_declares_nothing(tmp_path: Path) -> None:
    plain = tmp_path / "plain.png"
    plain.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(NoOrigin):
        read_manifest(plain)


@pytest.fixture
def service(live_server: LiveServer) -> Iterator[str]:
    yield live_server.url


def invoke(*args: str) -> Any:
    return runner.invoke(cli, ["origin", *args])


def test_from_card_records_then_corrects_the_version(service: str, tmp_path: Path) -> None:
    key = ["--namespace", "hf://acme", "--name", "reviews", "--version", "1", "--url", service]
    human = card(tmp_path, "language_creators:\n- found")
    result = invoke("from-card", str(human), *key, "--json")
    assert result.exit_code == 0, result.output
    assert '"status": "recorded"' in result.output

    machine = card(tmp_path, "language_creators:\n- machine-generated")
    result = invoke("from-card", str(machine), *key)
    assert result.exit_code == 0, result.output
    assert "corrected" in result.output
    with Headwater(service) as hw:
        found = hw.find("dataset", "hf://acme", "reviews", "1")
    assert found is not None
    assert found["composition"]["synthetic_fraction"] == 1.0


def test_from_c2pa_records_the_declared_type(service: str, tmp_path: Path) -> None:
    path = signed_png(tmp_path / "photo.png", IPTC + "digitalCapture")
    key = ["--namespace", "s3://images", "--name", "photo", "--version", "1", "--url", service]
    result = invoke("from-c2pa", str(path), *key)
    assert result.exit_code == 0, result.output
    with Headwater(service) as hw:
        found = hw.find("dataset", "s3://images", "photo", "1")
    assert found is not None
    assert found["origin"]["digitalSourceType"] == IPTC + "digitalCapture"
    assert found["composition"]["human_fraction"] == 1.0


def test_exit_codes_for_no_origin_and_no_file(tmp_path: Path) -> None:
    key = ["--namespace", "n", "--name", "d", "--version", "1", "--dry-run"]
    assert invoke("from-card", str(card(tmp_path, "license: mit")), *key).exit_code == 1
    assert invoke("from-card", str(tmp_path / "missing.md"), *key).exit_code == 2
    dry = invoke("from-card", str(card(tmp_path, "language_creators: [found]")), *key, "--json")
    assert dry.exit_code == 0 and '"dry-run"' in dry.output
