"""``headwater gate``: judge a proposed training set from a shell or a CI job, by exit code.

The command is a thin client of ``POST /api/v1/gate``: the service is the only judge, so this
module reads the proposed set (a file or flags), sends it, and turns the answer into a report
and an exit code. Each step is a small function so that tests can drive it without a shell.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, TextIO

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console

from app.client_options import DEFAULT_URL, BearerToken, ServiceUrl
from app.errors import Problem
from app.gate_input import (
    GATE_PATH,
    Undecided,
    bad_input,
    build_request,
    local_problem,
    parse_dataset,
    parse_model,
    read_request_file,
)
from app.gate_report import EXIT_UNDECIDED, exit_code, render_report
from app.policies.schemas import GateResponse

DEFAULT_TIMEOUT: Final = 30.0


# --- the call ----------------------------------------------------------------------------------


def endpoint(url: str) -> str:
    return url.rstrip("/") + GATE_PATH


def encode(body: Mapping[str, Any]) -> bytes:
    try:
        return json.dumps(body, allow_nan=False, default=str).encode()
    except ValueError:
        raise bad_input(
            "The request holds a number that is not finite (NaN or infinity)."
        ) from None


def post_gate(
    url: str,
    body: Mapping[str, Any],
    *,
    token: str | None,
    timeout: float,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Response:
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, application/problem+json",
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    content = encode(body)
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            return client.post(endpoint(url), content=content, headers=headers)
    except httpx.TimeoutException:
        raise local_problem(
            "timeout",
            "Service timed out",
            f"The Headwater service at {url} did not answer within {timeout:g} s; raise "
            "--timeout if the training set is large.",
            url=url,
        ) from None
    except (httpx.TransportError, httpx.InvalidURL) as exc:
        raise local_problem(
            "unreachable",
            "Service unreachable",
            f"Cannot reach the Headwater service at {url} ({exc or type(exc).__name__}); is it "
            "running, and is --url (or HEADWATER_URL) right?",
            url=url,
        ) from None


def _problem(response: httpx.Response) -> Problem | None:
    """The answer as a problem document, or ``None`` when it is not one."""
    try:
        return Problem.model_validate_json(response.content)
    except ValidationError:
        return None


def _validation_summary(errors: Sequence[Mapping[str, Any]] | None) -> str:
    if not errors:
        return ""
    parts = [f"{e.get('loc', '?')}: {e.get('msg', '')}".strip() for e in errors[:5]]
    more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def _problem_sentence(status: int, problem: Problem | None, url: str) -> str:
    detail = problem.detail.strip() if problem is not None else ""
    if status == 422:
        errors = _validation_summary(problem.errors if problem is not None else None)
        what = errors or detail or "no reason given"
        return f"The service refused the request as invalid: {what.rstrip('.')}."
    if status == 404 and detail:
        return detail
    if status in (401, 403):
        return f"The Headwater service at {url} refused the credentials (HTTP {status}): " + (
            detail or "check --token or HEADWATER_TOKEN."
        )
    if status >= 500:
        return f"The Headwater service at {url} failed (HTTP {status}): " + (
            detail or "its answer was not a problem document."
        )
    return f"The Headwater service at {url} answered HTTP {status}: " + (
        detail or "its answer was not a problem document."
    )


def _not_an_answer(url: str, status: int) -> Undecided:
    return local_problem(
        "bad-answer",
        "Not a gate answer",
        f"The service at {url} answered {GATE_PATH} without a verdict this client "
        "knows; is --url pointing at Headwater?",
        url=url,
        status=status,
    )


def interpret(response: httpx.Response, url: str) -> GateResponse:
    """The gate's answer, or ``Undecided`` when there is none to act on."""
    status = response.status_code
    if status == 200:
        try:
            return GateResponse.model_validate_json(response.content)
        except ValidationError:
            raise _not_an_answer(url, status) from None
    problem = _problem(response)
    if 300 <= status < 400 and problem is None:
        sentence = (
            f"The Headwater service at {url} redirected the request (HTTP {status}) to "
            f"{response.headers.get('location') or 'another address'}; point --url at it."
        )
        raise local_problem("redirect", "Redirected", sentence, url=url, status=status)
    sentence = _problem_sentence(status, problem, url)
    if problem is not None:
        raise Undecided(sentence, response.text)
    raise local_problem("bad-answer", "No problem document", sentence, url=url, status=status)


# --- the command -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateOptions:
    file: str | None = None
    datasets: Sequence[str] = field(default_factory=tuple)
    namespace: str | None = None
    model: str | None = None
    policy: str | None = None
    url: str = DEFAULT_URL
    token: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    strict: bool = False
    json_output: bool = False


def request_for(options: GateOptions, stdin: TextIO) -> dict[str, Any]:
    if not (options.timeout > 0 and math.isfinite(options.timeout)):
        raise bad_input(f"--timeout must be a positive number of seconds, not {options.timeout}.")
    specs = [parse_dataset(text, options.namespace) for text in options.datasets]
    model = parse_model(options.model) if options.model is not None else None
    from_file = read_request_file(options.file, stdin) if options.file is not None else None
    return build_request(from_file, specs, model, options.policy)


def run(
    options: GateOptions,
    *,
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """The whole command; returns its exit code."""
    try:
        body = request_for(options, stdin)
        response = post_gate(
            options.url,
            body,
            token=options.token,
            timeout=options.timeout,
            transport=transport,
        )
        answer = interpret(response, options.url)
    except Undecided as undecided:
        stderr.write(f"headwater gate: {undecided.sentence}\n")
        if options.json_output:
            stdout.write(undecided.document.rstrip("\n") + "\n")
        return EXIT_UNDECIDED
    if options.json_output:
        stdout.write(response.text.rstrip("\n") + "\n")
    else:
        render_report(answer, Console(file=stdout, highlight=False), strict=options.strict)
    return exit_code(answer.verdict, strict=options.strict)


def gate(
    file: Annotated[
        str | None,
        typer.Option(
            "--file",
            metavar="PATH",
            help="The request body of POST /api/v1/gate, as JSON or YAML (by extension "
            ".json, .yaml or .yml, else detected); '-' reads standard input.",
        ),
    ] = None,
    dataset: Annotated[
        list[str] | None,
        typer.Option(
            "--dataset",
            metavar="NS::NAME[@VERSION][=AMOUNT]",
            help="A member of the training set; repeat for each. Omit @VERSION for the newest "
            "version and =AMOUNT for the dataset's size.",
            show_default=False,
        ),
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option(
            "--namespace",
            metavar="NS",
            help="The namespace of every --dataset written without 'NS::'.",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            metavar="NS::NAME",
            help="The model to be trained; enables the self-consuming-loop rules.",
        ),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy",
            metavar="NAME",
            help="The policy to judge by; the service uses 'default' when omitted.",
        ),
    ] = None,
    url: ServiceUrl = DEFAULT_URL,
    token: BearerToken = None,
    timeout: Annotated[
        float, typer.Option("--timeout", metavar="SECONDS", help="How long to wait for an answer.")
    ] = DEFAULT_TIMEOUT,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 on warn too, not only on fail.")
    ] = False,
    json_output: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the service's JSON answer (or the problem document) and nothing else.",
        ),
    ] = False,
) -> None:
    r"""Judge a proposed training set before training starts; the exit code is the verdict.

    Exit codes:
      0  pass, and warn unless --strict
      1  fail, and warn with --strict
      2  no verdict: bad input, service unreachable or failing, unknown dataset or policy

    A dataset is NAMESPACE::NAME\[@VERSION]\[=AMOUNT], e.g. 's3://lake::web/2019@v3=5e6'.
      The namespace ends at the one '::', so URIs such as postgres://user@host:5432 need no
      escaping; after it, '@' starts the version and '=' the amount. Without @VERSION the
      newest version is judged, without =AMOUNT the dataset's whole size.
      A backslash makes the next '@', '=', ':' or backslash literal: 's3://lake::logs/dt\=1'.
      With --namespace NS, '--dataset NAME' means NS::NAME.

    Examples:
      headwater gate --file training-set.yaml --strict
      headwater gate --model 'models::lm' --dataset 's3://lake::web/2019@v3' \
          --dataset 's3://lake::synthetic/chat@v7=2e5'
    """
    options = GateOptions(
        file=file,
        datasets=tuple(dataset or ()),
        namespace=namespace,
        model=model,
        policy=policy,
        url=url,
        token=token,
        timeout=timeout,
        strict=strict,
        json_output=json_output,
    )
    code = run(options, stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr)
    raise typer.Exit(code)
