"""``headwater gate``: the real command against a real service, and its parts on their own."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.composition.schemas import CompositionRead
from app.gate_cli import GateOptions, run
from app.gate_input import (
    DatasetSpec,
    ModelSpec,
    Undecided,
    build_request,
    format_dataset,
    parse_dataset,
    parse_model,
    parse_request_text,
)
from app.gate_report import (
    EXIT_BLOCKED,
    EXIT_PROCEED,
    EXIT_UNDECIDED,
    composition_line,
    exit_code,
    threshold_text,
)
from tests.conftest import ROOT, Done, LiveServer, free_port, headwater

LAKE = "s3://lake"
HUMAN = f"{LAKE}::web/2019@v1"
SYNTHETIC = f"{LAKE}::synthetic/chat@v1"


# --- the service, seeded once: the gate writes nothing, so its tests can share one graph -------


def post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def seed(client: httpx.Client) -> None:
    """Human web text, a model trained on it, the data that model generated, and human
    datasets whose versions YAML would misread."""
    human = post(
        client,
        "/api/v1/datasets",
        {
            "namespace": LAKE,
            "name": "web/2019",
            "version": "v1",
            "size": 1000,
            "origin": {"human": 1},
        },
    )
    lm = post(
        client,
        "/api/v1/models",
        {
            "namespace": "models",
            "name": "lm",
            "version": "0",
            "training_set": [{"id": human["id"]}],
        },
    )
    post(
        client,
        "/api/v1/datasets",
        {
            "namespace": LAKE,
            "name": "synthetic/chat",
            "version": "v1",
            "size": 1000,
            "parents": [{"id": lm["id"], "relation": "generated_by"}],
        },
    )
    for name, version in (("news", "2024-01-01"), ("papers", "1.10")):
        post(
            client,
            "/api/v1/datasets",
            {
                "namespace": LAKE,
                "name": name,
                "version": version,
                "size": 500,
                "origin": {"human": 1},
            },
        )


@pytest.fixture(scope="module")
def service(module_server: LiveServer) -> LiveServer:
    with module_server.client() as client:
        seed(client)
    return module_server


def headwater_gate(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Done:
    return headwater("gate", *args, env=env, stdin=stdin)


def headwater_gate_process(*args: str) -> subprocess.CompletedProcess[str]:
    """The command in an interpreter of its own, as CI runs ``python -m app gate``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    environment["COLUMNS"] = "80"
    return subprocess.run(
        [sys.executable, "-m", "app", "gate", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=120,
    )


def gate_directly(service: LiveServer, body: dict[str, Any]) -> dict[str, Any]:
    with service.client() as client:
        response = client.post("/api/v1/gate", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


# --- verdicts and exit codes through the real command ------------------------------------------


def test_a_human_training_set_passes(service: LiveServer) -> None:
    done = headwater_gate_process("--url", service.url, "--dataset", HUMAN)
    assert done.returncode == EXIT_PROCEED, done.stderr
    assert "Verdict: PASS under policy default@" in done.stdout
    for rule in ("human_fraction", "depth_load", "deep_tail", "unknown_fraction"):
        assert rule in done.stdout
    assert "Composition: 100 % human, 0 % synthetic, 0 % unknown" in done.stdout
    assert "Remediation" not in done.stdout
    assert done.stderr == ""


def test_a_warning_lets_the_job_proceed_unless_strict(service: LiveServer) -> None:
    lenient = headwater_gate("--url", service.url, "--dataset", HUMAN, "--dataset", SYNTHETIC)
    strict = headwater_gate(
        "--url", service.url, "--dataset", HUMAN, "--dataset", SYNTHETIC, "--strict"
    )
    assert lenient.returncode == EXIT_PROCEED, lenient.stderr
    assert strict.returncode == EXIT_BLOCKED, strict.stderr
    assert "Verdict: WARN" in lenient.stdout
    assert "may proceed" in lenient.stdout
    assert "blocked" in strict.stdout
    assert "Composition: 50 % human, 50 % synthetic" in lenient.stdout
    assert "Remediation:" in lenient.stdout


def test_a_failing_set_blocks_the_job_and_names_human_sources(service: LiveServer) -> None:
    done = headwater_gate("--url", service.url, "--dataset", SYNTHETIC)
    assert done.returncode == EXIT_BLOCKED, done.stderr
    assert "Verdict: FAIL" in done.stdout
    assert "human_fraction (fail)" in done.stdout
    assert "Remediation:" in done.stdout
    # Sources are printed in the flag syntax, so they can be pasted back as --dataset.
    assert f"{HUMAN} (size 1,000)" in done.stdout


def test_amounts_in_the_flags_reach_the_service(service: LiveServer) -> None:
    # 3000 human : 1000 synthetic is 75 % human and a depth load of 0.25: both pass.
    done = headwater_gate(
        "--url", service.url, "--dataset", f"{HUMAN}=3000", "--dataset", f"{SYNTHETIC}=1e3"
    )
    assert done.returncode == EXIT_PROCEED, done.stdout + done.stderr
    assert "Composition: 75 % human" in done.stdout
    assert "total amount 4,000" in done.stdout


def test_a_default_namespace_and_the_newest_version(service: LiveServer) -> None:
    done = headwater_gate(
        "--url", service.url, "--namespace", LAKE, "--dataset", "web/2019", "--json"
    )
    assert done.returncode == EXIT_PROCEED, done.stderr
    member = json.loads(done.stdout)["training_set"][0]
    assert (member["namespace"], member["name"], member["version"]) == (LAKE, "web/2019", "v1")


def test_json_output_is_exactly_the_service_answer(service: LiveServer) -> None:
    done = headwater_gate(
        "--url", service.url, "--dataset", HUMAN, "--dataset", SYNTHETIC, "--json"
    )
    assert done.returncode == EXIT_PROCEED, done.stderr
    expected = gate_directly(
        service,
        {
            "training_set": [
                {"namespace": LAKE, "name": "web/2019", "version": "v1"},
                {"namespace": LAKE, "name": "synthetic/chat", "version": "v1"},
            ]
        },
    )
    assert json.loads(done.stdout) == expected
    assert done.stderr == ""


def test_the_model_flag_turns_on_the_self_consuming_rules(service: LiveServer) -> None:
    without = headwater_gate(
        "--url", service.url, "--dataset", HUMAN, "--dataset", SYNTHETIC, "--json"
    )
    done = headwater_gate(
        "--url",
        service.url,
        "--dataset",
        HUMAN,
        "--dataset",
        SYNTHETIC,
        "--model",
        "models::lm",
        "--json",
    )
    assert json.loads(without.stdout)["previous_generation"] is None
    answer = json.loads(done.stdout)
    assert answer["previous_generation"]["name"] == "lm"
    fresh = next(f for f in answer["findings"] if f["rule"] == "fresh_real")
    assert fresh["status"] == "warn"


def test_a_request_file_with_a_policy_override(service: LiveServer, tmp_path: Path) -> None:
    request = {"training_set": [{"namespace": LAKE, "name": "synthetic/chat"}], "policy": "x"}
    path = tmp_path / "set.json"
    path.write_text(json.dumps(request))
    done = headwater_gate("--url", service.url, "--file", str(path), "--policy", "default")
    assert done.returncode == EXIT_BLOCKED, done.stderr
    assert "default@" in done.stdout


def test_a_yaml_file_keeps_versions_as_written(service: LiveServer, tmp_path: Path) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(
        "# versions YAML would read as a date and as the number 1.1\n"
        "training_set:\n"
        "  - {namespace: 's3://lake', name: news, version: 2024-01-01}\n"
        "  - namespace: s3://lake\n"
        "    name: papers\n"
        "    version: 1.10\n"
        "    amount: 500\n"
    )
    done = headwater_gate("--url", service.url, "--file", str(path), "--json")
    assert done.returncode == EXIT_PROCEED, done.stderr
    versions = [m["version"] for m in json.loads(done.stdout)["training_set"]]
    assert versions == ["2024-01-01", "1.10"]


def test_yaml_on_standard_input_is_detected(service: LiveServer) -> None:
    done = headwater_gate(
        "--url",
        service.url,
        "--file",
        "-",
        stdin="training_set:\n  - {namespace: 's3://lake', name: web/2019}\n",
    )
    assert done.returncode == EXIT_PROCEED, done.stderr
    assert "PASS" in done.stdout


def test_the_url_comes_from_the_environment(service: LiveServer) -> None:
    done = headwater_gate("--dataset", HUMAN, env={"HEADWATER_URL": service.url + "/"})
    assert done.returncode == EXIT_PROCEED, done.stderr


# --- when the gate cannot decide ---------------------------------------------------------------


def test_an_unknown_dataset_is_named(service: LiveServer) -> None:
    done = headwater_gate(
        "--url", service.url, "--dataset", HUMAN, "--dataset", "s3://lake::ghost@9"
    )
    assert done.returncode == EXIT_UNDECIDED
    assert "s3://lake/ghost@9" in done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1


def test_an_unknown_dataset_with_json_prints_the_problem(service: LiveServer) -> None:
    done = headwater_gate("--url", service.url, "--dataset", "s3://lake::ghost", "--json")
    assert done.returncode == EXIT_UNDECIDED
    problem = json.loads(done.stdout)
    assert problem["status"] == 404
    assert problem["missing"][0]["name"] == "ghost"
    assert "s3://lake/ghost" in done.stderr


def test_an_unknown_policy_cannot_decide(service: LiveServer) -> None:
    done = headwater_gate("--url", service.url, "--dataset", HUMAN, "--policy", "nope")
    assert done.returncode == EXIT_UNDECIDED
    assert "nope" in done.stderr


def test_a_request_the_service_refuses_cannot_decide(service: LiveServer, tmp_path: Path) -> None:
    path = tmp_path / "empty-set.json"
    path.write_text('{"training_set": []}')
    done = headwater_gate("--url", service.url, "--file", str(path), "--json")
    assert done.returncode == EXIT_UNDECIDED
    assert "refused the request as invalid: body.training_set" in done.stderr
    assert json.loads(done.stdout)["status"] == 422


def test_an_unreachable_service_cannot_decide() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = headwater_gate("--url", url, "--dataset", HUMAN, "--json")
    assert done.returncode == EXIT_UNDECIDED
    assert f"Cannot reach the Headwater service at {url}" in done.stderr
    problem = json.loads(done.stdout)
    assert problem["type"] == "urn:headwater:gate:unreachable"
    assert problem["url"] == url


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.json", None, "Cannot read"),
        ("broken.json", '{"training_set": [', "is not valid JSON"),
        ("broken.yaml", "training_set: [a, b\n", "is not valid YAML"),
        ("list.json", "[]", "must hold one object"),
        ("empty.yml", "\n", "is empty"),
    ],
)
def test_a_bad_input_file_cannot_decide(
    tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    # No service is needed: bad input is refused before anything is sent.
    done = headwater_gate("--url", f"http://127.0.0.1:{free_port()}", "--file", str(path))
    assert done.returncode == EXIT_UNDECIDED
    assert message in done.stderr
    assert done.stdout == ""


def test_a_bad_flag_cannot_decide() -> None:
    done = headwater_gate("--dataset", "web/2019", "--json")
    assert done.returncode == EXIT_UNDECIDED
    assert "names no namespace" in done.stderr
    assert json.loads(done.stdout)["type"] == "urn:headwater:gate:bad-input"


# --- against a stand-in service: the token, failures and timeouts ------------------------------


class StandIn:
    """A minimal HTTP server that records each request and answers as told."""

    def __init__(self, answer: Callable[[], tuple[int, str, bytes]]) -> None:
        self.headers: list[dict[str, str]] = []
        self.answer = answer
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                stand_in.headers.append(dict(self.headers))
                status, content_type, body = stand_in.answer()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                # a client that timed out has hung up; there is no one left to answer
                with contextlib.suppress(ConnectionError):
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


COMPOSITION = {
    "human_fraction": 1.0,
    "synthetic_fraction": 0.0,
    "unknown_fraction": 0.0,
    "depth_histogram": {"0": 1.0},
    "max_depth": 0,
    "mean_synthetic_depth": 0.0,
    "depth_load": 0.0,
    "total_amount": 1000.0,
}
PASSING = {
    "verdict": "pass",
    "policy": {"name": "default", "version": 1},
    "composition": COMPOSITION,
    "findings": [],
    "remediation": None,
    "previous_generation": None,
    "training_set": [],
}


def test_the_token_is_sent_as_a_bearer_token() -> None:
    with StandIn(lambda: (200, "application/json", json.dumps(PASSING).encode())) as stand_in:
        done = headwater_gate(
            "--url", stand_in.url, "--dataset", HUMAN, env={"HEADWATER_TOKEN": "s3cret"}
        )
    assert done.returncode == EXIT_PROCEED, done.stderr
    assert stand_in.headers[0]["Authorization"] == "Bearer s3cret"


def test_a_failing_service_cannot_decide() -> None:
    page = b"<html>502 Bad Gateway</html>"
    with StandIn(lambda: (502, "text/html", page)) as stand_in:
        done = headwater_gate("--url", stand_in.url, "--dataset", HUMAN)
    assert done.returncode == EXIT_UNDECIDED
    assert "failed (HTTP 502)" in done.stderr


def test_a_slow_service_times_out() -> None:
    answered = threading.Event()

    def slow() -> tuple[int, str, bytes]:
        answered.wait(timeout=30)
        return 200, "application/json", json.dumps(PASSING).encode()

    with StandIn(slow) as stand_in:
        try:
            done = headwater_gate("--url", stand_in.url, "--dataset", HUMAN, "--timeout", "0.5")
        finally:
            answered.set()
    assert done.returncode == EXIT_UNDECIDED
    assert "did not answer within 0.5 s" in done.stderr


# --- the exit code -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verdict", "strict", "code"),
    [
        ("pass", False, 0),
        ("pass", True, 0),
        ("warn", False, 0),
        ("warn", True, 1),
        ("fail", False, 1),
        ("fail", True, 1),
        (None, False, 2),
        (None, True, 2),
        ("error", False, 2),
        ("PASS", False, 2),
        ("", True, 2),
    ],
)
def test_exit_code(verdict: str | None, strict: bool, code: int) -> None:
    assert exit_code(verdict, strict=strict) == code


# --- the flag syntax ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "spec"),
    [
        ("s3://lake::web/2019", DatasetSpec("s3://lake", "web/2019")),
        ("s3://lake::web/2019@v1", DatasetSpec("s3://lake", "web/2019", "v1")),
        ("s3://lake::web/2019@v1=500", DatasetSpec("s3://lake", "web/2019", "v1", 500.0)),
        ("s3://lake::web/2019=2.5e6", DatasetSpec("s3://lake", "web/2019", None, 2.5e6)),
        ("s3://lake::web@v1=0", DatasetSpec("s3://lake", "web", "v1", 0.0)),
        (
            "postgres://me@db:5432/prod?a=b::public.users@2024-01-01T00:00",
            DatasetSpec("postgres://me@db:5432/prod?a=b", "public.users", "2024-01-01T00:00"),
        ),
        (r"s3://lake::logs/dt\=2024-01-01", DatasetSpec("s3://lake", "logs/dt=2024-01-01")),
        (r"ns::me\@host@v\@2", DatasetSpec("ns", "me@host", "v@2")),
        (r"postgres://[\:\:1]:5432::t", DatasetSpec("postgres://[::1]:5432", "t")),
        (r"ns::a\:\:b", DatasetSpec("ns", "a::b")),
        (r"file::C:\data\set", DatasetSpec("file", r"C:\data\set")),
        (r"file::C:\\@1", DatasetSpec("file", "C:\\", "1")),
    ],
)
def test_dataset_flags(flag: str, spec: DatasetSpec) -> None:
    assert parse_dataset(flag) == spec


def test_a_default_namespace_applies_only_without_one() -> None:
    assert parse_dataset("web/2019@v1", "s3://lake") == DatasetSpec("s3://lake", "web/2019", "v1")
    assert parse_dataset("gs://b::x", "s3://lake") == DatasetSpec("gs://b", "x")


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("web/2019", "names no namespace"),
        ("::web", "empty namespace"),
        ("ns::", "empty name"),
        ("ns::@v1", "empty name"),
        ("ns::web@", "empty version"),
        ("ns::web=", "not a number"),
        ("ns::web=lots", "not a number"),
        ("ns::web=-1", "at least 0"),
        ("ns::web=nan", "finite"),
        ("ns::web=inf", "finite"),
        ("ns::web=5@v1", "amount before its version"),
        ("ns::web@v1@v2", "more than one '@'"),
        ("ns::web=1=2", "more than one '@' or '='"),
        ("ns::a::b", "more than one '::'"),
        ("ns:::b", "more than one '::'"),
    ],
)
def test_bad_dataset_flags_say_what_is_wrong(flag: str, message: str) -> None:
    with pytest.raises(Undecided, match=message):
        parse_dataset(flag)


def test_model_flags() -> None:
    assert parse_model("models::lm") == ModelSpec("models", "lm")
    assert parse_model(r"hf://org::lm\@large") == ModelSpec("hf://org", "lm@large")
    for bad, message in (("lm", "no namespace"), ("models::lm@3", "namespace and name only")):
        with pytest.raises(Undecided, match=message):
            parse_model(bad)


names = st.text(min_size=1, max_size=12)


@given(
    namespace=names,
    name=names,
    version=st.none() | names,
    amount=st.none() | st.floats(min_value=0, allow_nan=False, allow_infinity=False),
)
def test_a_formatted_dataset_parses_back(
    namespace: str, name: str, version: str | None, amount: float | None
) -> None:
    spec = DatasetSpec(namespace, name, version, amount)
    assert parse_dataset(format_dataset(spec)) == spec


def test_formatting_escapes_only_what_it_must() -> None:
    assert format_dataset(DatasetSpec("s3://lake", "web/2019", "v1")) == "s3://lake::web/2019@v1"
    assert format_dataset(DatasetSpec("ns", "dt=1", "a@b")) == r"ns::dt\=1@a\@b"


# --- request files and bodies ------------------------------------------------------------------


def test_json_is_detected_without_an_extension() -> None:
    body = parse_request_text('{"training_set": [{"namespace": "n", "name": "a"}]}', "stdin")
    assert body == {"training_set": [{"namespace": "n", "name": "a"}]}


def test_a_yaml_flow_mapping_is_not_mistaken_for_broken_json() -> None:
    body = parse_request_text("{training_set: [{namespace: n, name: a, version: 1.0}]}", "x")
    assert body == {"training_set": [{"namespace": "n", "name": "a", "version": "1.0"}]}


def test_yaml_keeps_naming_scalars_but_reads_amounts_as_numbers() -> None:
    body = parse_request_text(
        "training_set:\n- {namespace: n, name: 2019, version: 2024-01-01, amount: 1000}\n"
        "model: {namespace: m, name: 7}\npolicy: 010\n",
        "set.yaml",
        "yaml",
    )
    assert body == {
        "training_set": [
            {"namespace": "n", "name": "2019", "version": "2024-01-01", "amount": 1000}
        ],
        "model": {"namespace": "m", "name": "7"},
        "policy": "010",
    }


def test_broken_json_reports_where() -> None:
    with pytest.raises(Undecided, match=r"not valid JSON: .*\(line 2, column"):
        parse_request_text('{"training_set":\n [}', "set")


def test_json_rejects_numbers_that_are_not_finite() -> None:
    with pytest.raises(Undecided, match="not valid JSON"):
        parse_request_text('{"training_set": [{"amount": NaN}]}', "set.json", "json")


def test_flags_override_a_file_and_never_mix_with_it() -> None:
    from_file = {"training_set": [{"namespace": "n", "name": "a"}], "policy": "old"}
    body = build_request(from_file, [], ModelSpec("m", "lm"), "new")
    assert body == {**from_file, "model": {"namespace": "m", "name": "lm"}, "policy": "new"}
    with pytest.raises(Undecided, match="not both"):
        build_request(from_file, [DatasetSpec("n", "a")], None, None)
    with pytest.raises(Undecided, match="Name the training set"):
        build_request(None, [], None, None)


# --- the answer, without a service -------------------------------------------------------------


def run_against(
    handler: Callable[[httpx.Request], httpx.Response], *, json_output: bool = False, **kw: Any
) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    options = GateOptions(
        datasets=(HUMAN,), url="http://headwater.test", json_output=json_output, **kw
    )
    code = run(
        options,
        stdin=io.StringIO(),
        stdout=stdout,
        stderr=stderr,
        transport=httpx.MockTransport(handler),
    )
    return code, stdout.getvalue(), stderr.getvalue()


def problem(status: int, detail: str) -> httpx.Response:
    body = {"type": "/api/v1/problems/x", "title": "T", "status": status, "detail": detail}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def test_the_request_carries_the_body_and_the_token() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=PASSING)

    code, _, _ = run_against(answer, token="t0k", model="models::lm", policy="p")
    assert code == EXIT_PROCEED
    assert seen[0].url == "http://headwater.test/api/v1/gate"
    assert seen[0].headers["authorization"] == "Bearer t0k"
    assert json.loads(seen[0].content) == {
        "training_set": [{"namespace": LAKE, "name": "web/2019", "version": "v1"}],
        "model": {"namespace": "models", "name": "lm"},
        "policy": "p",
    }


def test_no_token_sends_no_authorization() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=PASSING)

    run_against(answer)
    assert "authorization" not in seen[0].headers


@pytest.mark.parametrize(
    ("response", "says"),
    [
        (problem(500, "The service failed; it has been logged."), "failed (HTTP 500): The service"),
        (problem(503, "Not ready."), "failed (HTTP 503)"),
        (problem(401, "Who are you?"), "refused the credentials (HTTP 401): Who are you?"),
        (httpx.Response(404, text="nothing here"), "answered HTTP 404"),
        (httpx.Response(307, headers={"location": "https://hw/"}), "redirected"),
        (httpx.Response(200, json={"hello": "world"}), "without a verdict"),
        (httpx.Response(200, json={**PASSING, "verdict": "maybe"}), "without a verdict"),
        (httpx.Response(200, text="<html>"), "without a verdict"),
    ],
)
def test_answers_without_a_verdict_cannot_decide(response: httpx.Response, says: str) -> None:
    code, stdout, stderr = run_against(lambda _: response, json_output=True)
    assert code == EXIT_UNDECIDED
    assert says in stderr
    assert stderr.count("\n") == 1
    assert "type" in json.loads(stdout)


def test_a_service_problem_is_printed_as_the_service_wrote_it() -> None:
    answer = problem(500, "boom")
    code, stdout, _ = run_against(lambda _: answer, json_output=True)
    assert code == EXIT_UNDECIDED
    assert stdout == answer.text + "\n"


def test_a_connection_error_cannot_decide() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    code, stdout, stderr = run_against(refuse)
    assert code == EXIT_UNDECIDED
    assert "Cannot reach the Headwater service at http://headwater.test" in stderr
    assert stdout == ""


def test_a_bad_timeout_cannot_decide() -> None:
    code, _, stderr = run_against(lambda _: httpx.Response(200, json=PASSING), timeout=0)
    assert code == EXIT_UNDECIDED
    assert "--timeout" in stderr


def test_a_warning_is_blocked_only_under_strict() -> None:
    warning = {**PASSING, "verdict": "warn"}
    assert run_against(lambda _: httpx.Response(200, json=warning))[0] == EXIT_PROCEED
    assert run_against(lambda _: httpx.Response(200, json=warning), strict=True)[0] == 1


# --- the report's wording ----------------------------------------------------------------------


def test_thresholds_read_as_conditions() -> None:
    limits = {"pass_at_least": 0.67, "fail_below": 0.1}
    assert threshold_text("human_fraction", limits) == "pass ≥ 67 %, fail < 10 %"
    assert threshold_text("depth_load", {"pass_at_most": 0.25, "fail_above": 1.0}) == (
        "pass ≤ 0.25, fail > 1"
    )
    assert threshold_text("deep_tail", {"min_depth": 3, "pass_at_most": 0.1}) == (
        "depth ≥ 3: pass ≤ 10 %"
    )
    assert threshold_text("replace", {"warn_below_ratio": 1.0, "pass_at_least": 1000.0}) == (
        "pass ≥ 1,000, keep ≥ 1x"
    )


def test_the_composition_line_says_when_weights_were_assumed() -> None:
    line = composition_line(
        CompositionRead.model_validate(
            {
                **COMPOSITION,
                "human_fraction": 0.5,
                "synthetic_fraction": 0.25,
                "unknown_fraction": 0.25,
                "max_depth": 2,
                "depth_load": 0.375,
                "total_amount": None,
                "weights_assumed": True,
            }
        )
    )
    assert line.startswith("Composition: 50 % human, 25 % synthetic, 25 % unknown; max depth 2")
    assert "total amount unknown" in line
    assert "weighed equally" in line
