"""``headwater sources verify``: check every original human source from where the command runs.

The machine that runs it holds the storage credentials; the service needs none. The command
asks the service for the sources, checks each one (``app.sources.checking``) in a bounded
pool of threads, reports the results back, which re-judges the training runs downstream of any
source whose status changed, and prints what it found.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Final, TextIO

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from app.client_options import DEFAULT_URL, BearerToken, ServiceUrl
from app.sources.checking import Outcome, check_source

EXIT_VERIFIED: Final = 0
EXIT_NOT_PRESERVED: Final = 1
EXIT_COULD_NOT_RUN: Final = 2

SOURCES_PATH: Final = "/api/v1/sources"
CHECKS_PATH: Final = "/api/v1/sources/checks"
PAGE: Final = 500
REPORT_CHUNK: Final = 500
LOCAL_PROBLEM: Final = "urn:headwater:sources:"

_STYLE: Final = {
    "verified": "bold green",
    "changed": "bold red",
    "lost": "bold red",
    "unchecked": "yellow",
}

sources_cli = typer.Typer(
    help="Original human sources: are they still within reach?", no_args_is_help=True
)


class CouldNotRun(Exception):
    def __init__(self, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.document = {"type": LOCAL_PROBLEM + slug, "title": "Could not run", "detail": detail}


@dataclass(frozen=True)
class VerifyOptions:
    url: str = DEFAULT_URL
    token: str | None = None
    namespace: str | None = None
    workers: int = 4
    timeout: float = 60.0
    json_output: bool = False


class Service:
    """The calls the command makes, each turning a failure into ``CouldNotRun``."""

    def __init__(self, options: VerifyOptions, transport: httpx.BaseTransport | None) -> None:
        headers = {"Accept": "application/json, application/problem+json"}
        if options.token:
            headers["Authorization"] = f"Bearer {options.token}"
        self.url = options.url.rstrip("/")
        self.client = httpx.Client(
            base_url=self.url, headers=headers, timeout=options.timeout, transport=transport
        )

    def close(self) -> None:
        self.client.close()

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise CouldNotRun(
                "timeout", f"The Headwater service at {self.url} did not answer in time."
            ) from None
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise CouldNotRun(
                "unreachable",
                f"Cannot reach the Headwater service at {self.url} ({exc or type(exc).__name__});"
                " is it running, and is --url (or HEADWATER_URL) right?",
            ) from None
        try:
            document = response.json()
        except ValueError:
            document = None
        if response.status_code != 200 or not isinstance(document, dict):
            detail = document.get("detail") if isinstance(document, dict) else None
            raise CouldNotRun(
                "refused",
                f"The Headwater service at {self.url} answered {method} {path} with HTTP "
                f"{response.status_code}" + (f": {detail}" if detail else "."),
            )
        return document

    def sources(self, namespace: str | None) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            # which training runs depend on each source comes back with the results
            params: dict[str, Any] = {"limit": PAGE, "runs": "false"}
            if namespace is not None:
                params["namespace"] = namespace
            if cursor is not None:
                params["cursor"] = cursor
            page = self.call("GET", SOURCES_PATH, params=params)
            yield from page.get("items", [])
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def report(self, results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        recorded: list[dict[str, Any]] = []
        for start in range(0, len(results), REPORT_CHUNK):
            chunk = list(results[start : start + REPORT_CHUNK])
            answer = self.call("POST", CHECKS_PATH, json={"checks": chunk})
            recorded.extend(answer.get("items", []))
        return recorded


def check_all(
    sources: Sequence[Mapping[str, Any]],
    *,
    workers: int,
    timeout: float,
    done: Callable[[], None] = lambda: None,
) -> list[Outcome]:
    """Each source's outcome, in the order given; at most ``workers`` checks at a time."""

    def one(source: Mapping[str, Any]) -> Outcome:
        try:
            return check_source(
                str(source["uri"]),
                source.get("checksum"),
                source.get("archive_uri"),
                timeout=timeout,
            )
        finally:
            done()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify") as pool:
        return list(pool.map(one, sources))


def result_of(source: Mapping[str, Any], outcome: Outcome) -> dict[str, Any]:
    body = {"id": source["id"], **asdict(outcome)}
    return {k: v for k, v in body.items() if v is not None}


def exit_code(statuses: Sequence[str]) -> int:
    """1 when any source is changed or lost; unchecked ones neither pass nor fail."""
    return EXIT_NOT_PRESERVED if {"changed", "lost"} & set(statuses) else EXIT_VERIFIED


def label(source: Mapping[str, Any]) -> str:
    return f"{source.get('namespace')}::{source.get('name')}@{source.get('version')}"


def render(recorded: Sequence[Mapping[str, Any]], console: Console) -> None:
    soft = not console.is_terminal
    table = Table(title="Original human sources", title_justify="left")
    table.add_column("Source")
    table.add_column("Status", no_wrap=True)
    table.add_column("Copy", no_wrap=True)
    table.add_column("Why")
    for source in recorded:
        status = str(source.get("status"))
        table.add_row(
            Text(label(source)),
            Text(status, style=_STYLE.get(status, "")),
            Text(str(source.get("answered_by") or "-")),
            Text(str(source.get("reason") or "")),
        )
    console.print(table)
    counts = Counter(str(s.get("status")) for s in recorded)
    summary = ", ".join(f"{counts[s]} {s}" for s in ("verified", "changed", "lost", "unchecked"))
    console.print(f"{len(recorded)} sources: {summary}.", soft_wrap=soft)
    for source in recorded:
        if source.get("status") not in ("changed", "lost"):
            continue
        runs = source.get("training_runs") or []
        if not runs:
            continue
        named = ", ".join(
            f"{r['model']['namespace']}::{r['model']['name']}@{r['model']['version']}"
            f" ({r.get('verdict')})"
            for r in runs
        )
        console.print(
            f"{label(source)} is {source['status']}; training runs that depend on it: {named}.",
            soft_wrap=soft,
        )


def run(
    options: VerifyOptions,
    *,
    stdout: TextIO,
    stderr: TextIO,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """The whole command; returns its exit code."""
    if options.workers < 1 or not (options.timeout > 0 and math.isfinite(options.timeout)):
        stderr.write("headwater sources verify: --workers and --timeout must be positive.\n")
        return EXIT_COULD_NOT_RUN
    service = Service(options, transport)
    progress_console = Console(file=stderr)
    try:
        sources = list(service.sources(options.namespace))
        if options.json_output or not progress_console.is_terminal:
            outcomes = check_all(sources, workers=options.workers, timeout=options.timeout)
        else:
            with Progress(
                TextColumn("Checking sources"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=progress_console,
                transient=True,
            ) as progress:
                task = progress.add_task("verify", total=len(sources))
                outcomes = check_all(
                    sources,
                    workers=options.workers,
                    timeout=options.timeout,
                    done=lambda: progress.advance(task),
                )
        recorded = service.report([result_of(s, o) for s, o in zip(sources, outcomes, strict=True)])
    except CouldNotRun as failed:
        stderr.write(f"headwater sources verify: {failed.detail}\n")
        if options.json_output:
            stdout.write(json.dumps(failed.document, indent=2) + "\n")
        return EXIT_COULD_NOT_RUN
    finally:
        service.close()
    code = exit_code([str(s.get("status")) for s in recorded])
    if options.json_output:
        counts = Counter(str(s.get("status")) for s in recorded)
        stdout.write(json.dumps({"sources": recorded, "counts": dict(counts)}, indent=2) + "\n")
    else:
        render(recorded, Console(file=stdout, highlight=False))
    return code


@sources_cli.command("verify")
def verify(
    namespace: Annotated[
        str | None,
        typer.Option("--namespace", metavar="NS", help="Only the sources in this namespace."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the recorded results as JSON, nothing else.")
    ] = False,
    url: ServiceUrl = DEFAULT_URL,
    token: BearerToken = None,
    workers: Annotated[
        int, typer.Option("--workers", metavar="N", help="Sources checked at the same time.")
    ] = 4,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", metavar="SECONDS", help="How long a read may stall (service and stores)."
        ),
    ] = 60.0,
) -> None:
    r"""Check that every original human source still holds what was recorded.

    The results go to the service, which re-judges the training runs that depend on a source
    found changed or lost.

    Each source is read from this machine, with its credentials, through fsspec: file and
    http(s), hf; s3 and gcs with headwater\[s3] or headwater\[gcs]. It is
    hashed with SHA-256 as it streams. When the original is gone, a preserved copy
    (archive_uri) is tried. A missing backend or missing credentials leave a source
    unchecked, with the reason, never lost.

    Exit codes:
      0  every checked source is verified (unchecked ones say nothing)
      1  some source is changed or lost
      2  the check could not run (service unreachable, refused, bad options)
    """
    options = VerifyOptions(
        url=url,
        token=token,
        namespace=namespace,
        workers=workers,
        timeout=timeout,
        json_output=json_output,
    )
    raise typer.Exit(run(options, stdout=sys.stdout, stderr=sys.stderr))
