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
from pathlib import Path
from typing import Annotated, Any, Final, Literal, TextIO

import httpx
import typer
import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

EXIT_PROCEED: Final = 0
EXIT_BLOCKED: Final = 1
EXIT_UNDECIDED: Final = 2

DEFAULT_URL: Final = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT: Final = 30.0
GATE_PATH: Final = "/api/v1/gate"
VERDICTS: Final = ("pass", "warn", "fail")

# Problems found before or without an answer from the service have no HTTP status and no
# server to resolve a relative type against, so their type is a URN of their own.
LOCAL_PROBLEM: Final = "urn:headwater:gate:"

SEPARATORS: Final = frozenset("@=:\\")


def exit_code(verdict: str | None, *, strict: bool) -> int:
    """0 lets the job proceed, 1 blocks it, 2 says the gate could not decide; ``None`` (no
    verdict) and any verdict this client does not know are undecided, never a pass."""
    if verdict == "pass":
        return EXIT_PROCEED
    if verdict == "warn":
        return EXIT_BLOCKED if strict else EXIT_PROCEED
    if verdict == "fail":
        return EXIT_BLOCKED
    return EXIT_UNDECIDED


class Undecided(Exception):
    """The gate cannot reach a verdict: ``sentence`` tells a person why, ``document`` is the
    problem document (JSON text) that ``--json`` prints for a machine."""

    def __init__(self, sentence: str, document: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.document = document


def local_problem(slug: str, title: str, detail: str, **extensions: Any) -> Undecided:
    document = {"type": LOCAL_PROBLEM + slug, "title": title, "detail": detail, **extensions}
    return Undecided(detail, json.dumps(document, indent=2))


def bad_input(detail: str) -> Undecided:
    return local_problem("bad-input", "Bad input", detail)


# --- the flag syntax ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSpec:
    namespace: str
    name: str
    version: str | None = None
    amount: float | None = None

    def item(self) -> dict[str, Any]:
        body: dict[str, Any] = {"namespace": self.namespace, "name": self.name}
        if self.version is not None:
            body["version"] = self.version
        if self.amount is not None:
            body["amount"] = self.amount
        return body


@dataclass(frozen=True)
class ModelSpec:
    namespace: str
    name: str


@dataclass(frozen=True)
class _Char:
    char: str
    escaped: bool

    def plain(self, char: str) -> bool:
        return not self.escaped and self.char == char


def _scan(text: str) -> list[_Char]:
    chars: list[_Char] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in SEPARATORS:
            chars.append(_Char(text[i + 1], escaped=True))
            i += 2
        else:
            # A backslash before anything else is kept, so Windows paths need no escaping.
            chars.append(_Char(text[i], escaped=False))
            i += 1
    return chars


def _join(chars: Sequence[_Char]) -> str:
    return "".join(c.char for c in chars)


def _positions(chars: Sequence[_Char], char: str) -> list[int]:
    return [i for i, c in enumerate(chars) if c.plain(char)]


def _namespace_separators(chars: Sequence[_Char]) -> list[int]:
    # Overlapping matches count, so ':::' is reported as ambiguous rather than split silently.
    return [i for i in range(len(chars) - 1) if chars[i].plain(":") and chars[i + 1].plain(":")]


_ESCAPE_HINT = r"write a literal '@', '=' or ':' as '\@', '\=' or '\:'"


def _split_namespace(
    text: str, chars: list[_Char], default_namespace: str | None, what: str
) -> tuple[str, list[_Char]]:
    separators = _namespace_separators(chars)
    if len(separators) > 1:
        raise bad_input(f"{what} {text!r} has more than one '::'; {_ESCAPE_HINT}.")
    if not separators:
        if default_namespace is None:
            raise bad_input(
                f"{what} {text!r} names no namespace: write NAMESPACE::NAME, or give --namespace."
            )
        return default_namespace, chars
    at = separators[0]
    namespace = _join(chars[:at])
    if not namespace:
        raise bad_input(f"{what} {text!r} has an empty namespace before '::'.")
    return namespace, chars[at + 2 :]


def _amount(text: str, source: str) -> float:
    try:
        amount = float(text)
    except ValueError:
        raise bad_input(f"The amount in {source!r} is not a number: {text!r}.") from None
    if not math.isfinite(amount) or amount < 0:
        raise bad_input(f"The amount in {source!r} must be a finite number of at least 0.")
    return amount


def parse_dataset(text: str, default_namespace: str | None = None) -> DatasetSpec:
    """``NAMESPACE::NAME[@VERSION][=AMOUNT]``.

    The namespace ends at the one '::' (URIs such as ``s3://bucket`` and
    ``postgres://user@host:5432`` contain single colons, '@' and '=' and need no escaping);
    in what follows, the one '@' starts the version and the one '=' the amount. A backslash
    makes the next '@', '=', ':' or backslash literal. Without '::' the namespace is
    ``default_namespace``.
    """
    chars = _scan(text)
    namespace, rest = _split_namespace(text, chars, default_namespace, "The dataset")
    ats, equals = _positions(rest, "@"), _positions(rest, "=")
    if len(ats) > 1 or len(equals) > 1:
        raise bad_input(f"The dataset {text!r} has more than one '@' or '='; {_ESCAPE_HINT}.")
    amount: float | None = None
    if equals:
        if ats and ats[0] > equals[0]:
            raise bad_input(
                f"The dataset {text!r} gives its amount before its version: write "
                "NAMESPACE::NAME@VERSION=AMOUNT."
            )
        amount = _amount(_join(rest[equals[0] + 1 :]), text)
        rest = rest[: equals[0]]
    version: str | None = None
    if ats:
        version = _join(rest[ats[0] + 1 :])
        if not version:
            raise bad_input(f"The dataset {text!r} has an empty version after '@'.")
        rest = rest[: ats[0]]
    name = _join(rest)
    if not name:
        raise bad_input(f"The dataset {text!r} has an empty name.")
    return DatasetSpec(namespace, name, version, amount)


def parse_model(text: str) -> ModelSpec:
    """``NAMESPACE::NAME``, escaped as for datasets. A namespace is required: a model put in
    the datasets' namespace by default would silently match nothing and switch the
    self-consuming rules off."""
    chars = _scan(text)
    namespace, rest = _split_namespace(text, chars, None, "The model")
    if _positions(rest, "@") or _positions(rest, "="):
        raise bad_input(
            f"The model {text!r} names a version or amount, but the gate takes a model by "
            f"namespace and name only; {_ESCAPE_HINT}."
        )
    name = _join(rest)
    if not name:
        raise bad_input(f"The model {text!r} has an empty name.")
    return ModelSpec(namespace, name)


def _escape(text: str, specials: str, *, first: str = "", last: str = "") -> str:
    out: list[str] = []
    for i, char in enumerate(text):
        colon_run = char == ":" and (text[i - 1 : i] == ":" or text[i + 1 : i + 2] == ":")
        edge = (i == 0 and char in first) or (i == len(text) - 1 and char in last)
        if char == "\\" or char in specials or colon_run or edge:
            out.append("\\")
        out.append(char)
    return "".join(out)


def format_dataset(spec: DatasetSpec) -> str:
    """The ``--dataset`` argument that names ``spec``: what a person can paste back."""
    text = _escape(spec.namespace, "", last=":") + "::" + _escape(spec.name, "@=", first=":")
    if spec.version is not None:
        text += "@" + _escape(spec.version, "@=")
    if spec.amount is not None:
        text += "=" + repr(spec.amount)
    return text


# --- reading a request file --------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    pass


# YAML 1.1 reads `version: 1.10` as the number 1.1 and `version: 2024-01-01` as a date; the
# scalars that name things are kept as written, since that text is what was recorded.
_NAMING_KEYS: Final = frozenset({"namespace", "name", "version", "policy"})
_NULL_TAG: Final = "tag:yaml.org,2002:null"


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if (
            isinstance(key, str)
            and key in _NAMING_KEYS
            and isinstance(value_node, yaml.ScalarNode)
            and value_node.tag != _NULL_TAG
        ):
            result[key] = value_node.value
        else:
            result[key] = loader.construct_object(value_node, deep=True)
    return result


_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)

Format = Literal["json", "yaml"]


def _format_of(path: str) -> Format | None:
    suffix = Path(path).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".json":
        return "json"
    return None


def _reject_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def _load_json(text: str, source: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise bad_input(
            f"{source} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None
    except ValueError as exc:
        raise bad_input(f"{source} is not valid JSON: {exc}.") from None


def _load_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise bad_input(f"{source} is not valid YAML: {exc.problem}{where}.") from None
    except (yaml.YAMLError, TypeError) as exc:
        raise bad_input(f"{source} is not valid YAML: {exc}.") from None


def parse_request_text(text: str, source: str, fmt: Format | None = None) -> dict[str, Any]:
    """The gate request a file holds; without ``fmt``, JSON if it parses as JSON, else YAML."""
    if not text.strip():
        raise bad_input(f"{source} is empty.")
    if fmt == "json":
        loaded = _load_json(text, source)
    elif fmt == "yaml":
        loaded = _load_yaml(text, source)
    else:
        try:
            loaded = _load_json(text, source)
        except Undecided as as_json:
            try:
                loaded = _load_yaml(text, source)
            except Undecided:
                if text.lstrip()[:1] in ("{", "["):
                    raise as_json from None
                raise
    if not isinstance(loaded, dict):
        raise bad_input(
            f"{source} must hold one object with a training_set, as POST {GATE_PATH} takes."
        )
    return loaded


def read_request_file(path: str, stdin: TextIO) -> dict[str, Any]:
    if path == "-":
        return parse_request_text(stdin.read(), "standard input")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise bad_input(f"Cannot read {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise bad_input(f"Cannot read {path}: it is not UTF-8 text.") from None
    return parse_request_text(text, path, _format_of(path))


def build_request(
    from_file: Mapping[str, Any] | None,
    datasets: Sequence[DatasetSpec],
    model: ModelSpec | None,
    policy: str | None,
) -> dict[str, Any]:
    """The body of ``POST /api/v1/gate``; ``--model`` and ``--policy`` override a file's."""
    if from_file is not None and datasets:
        raise bad_input("Give the training set either with --file or with --dataset, not both.")
    if from_file is None and not datasets:
        raise bad_input("Name the training set: --file SET.json, or one --dataset per member.")
    body = dict(from_file) if from_file is not None else {}
    if datasets:
        body["training_set"] = [spec.item() for spec in datasets]
    if model is not None:
        body["model"] = {"namespace": model.namespace, "name": model.name}
    if policy is not None:
        body["policy"] = policy
    return body


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


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        loaded = response.json()
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None


def _validation_summary(errors: Any) -> str:
    if not isinstance(errors, list):
        return ""
    parts = [
        f"{e.get('loc', '?')}: {e.get('msg', '')}".strip()
        for e in errors[:5]
        if isinstance(e, dict)
    ]
    more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def _problem_sentence(status: int, problem: Mapping[str, Any] | None, url: str) -> str:
    detail = problem.get("detail") if problem is not None else None
    detail = detail.strip() if isinstance(detail, str) and detail.strip() else None
    if status == 422:
        errors = _validation_summary(problem.get("errors") if problem else None)
        what = errors or detail or "no reason given"
        return f"The service refused the request as invalid: {what.rstrip('.')}."
    if status == 404 and detail is not None:
        return detail
    if status in (401, 403):
        return f"The Headwater service at {url} refused the credentials (HTTP {status}): " + (
            detail or "check --token or HEADWATER_TOKEN."
        )
    if status >= 500:
        return f"The Headwater service at {url} failed (HTTP {status}): " + (
            detail or "its answer was not a problem document."
        )
    if 300 <= status < 400:
        return (
            f"The Headwater service at {url} redirected the request (HTTP {status}) to "
            f"{(problem and problem.get('location')) or 'another address'}; point --url at it."
        )
    return f"The Headwater service at {url} answered HTTP {status}: " + (
        detail or "its answer was not a problem document."
    )


def interpret(response: httpx.Response, url: str) -> dict[str, Any]:
    """The gate's answer, or ``Undecided`` when there is none to act on."""
    document = _json_object(response)
    status = response.status_code
    if status == 200:
        if document is None or document.get("verdict") not in VERDICTS:
            raise local_problem(
                "bad-answer",
                "Not a gate answer",
                f"The service at {url} answered {GATE_PATH} without a verdict this client "
                "knows; is --url pointing at Headwater?",
                url=url,
                status=status,
            )
        return document
    if 300 <= status < 400 and document is None:
        document = {"location": response.headers.get("location")}
        sentence = _problem_sentence(status, document, url)
        raise local_problem("redirect", "Redirected", sentence, url=url, status=status)
    sentence = _problem_sentence(status, document, url)
    if document is not None and "type" in document:
        raise Undecided(sentence, response.text)
    raise local_problem("bad-answer", "No problem document", sentence, url=url, status=status)


# --- the report --------------------------------------------------------------------------------

_STYLE: Final = {
    "pass": "bold green",
    "warn": "bold yellow",
    "fail": "bold red",
    "not_applicable": "dim",
}
_SHARE_RULES: Final = frozenset(
    {"human_fraction", "unknown_fraction", "deep_tail", "sources_preserved"}
)
_SHARE_KEYS: Final = frozenset(
    {"pass_at_least", "fail_below", "pass_at_most", "fail_above", "previous_human_fraction"}
)
_LIMIT_LABELS: Final = {
    "pass_at_least": "pass ≥ {}",
    "pass_at_most": "pass ≤ {}",
    "fail_below": "fail < {}",
    "fail_above": "fail > {}",
    "warn_below_ratio": "keep ≥ {}x",
    "min_ratio": "ratio ≥ {}x",
    "previous_human_amount": "previous {}",
    "previous_human_fraction": "previous {}",
    "added_synthetic_amount": "new synthetic {}",
}


def number(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.6g}"


def percent(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    return f"{value * 100:.5g} %"


def observed_text(rule: str, observed: Any) -> str:
    return percent(observed) if rule in _SHARE_RULES else number(observed)


def threshold_text(rule: str, threshold: Any) -> str:
    if not isinstance(threshold, Mapping):
        return ""
    limits = ("pass_at_least", "pass_at_most", "fail_below", "fail_above")
    keys = [k for k in limits if k in threshold]
    keys += [k for k in threshold if k not in limits and k != "min_depth"]
    parts: list[str] = []
    for key in keys:
        value = threshold[key]
        shown = percent(value) if rule in _SHARE_RULES and key in _SHARE_KEYS else number(value)
        label = _LIMIT_LABELS.get(key, key.replace("_", " ") + " {}")
        parts.append(label.format(shown))
    text = ", ".join(parts)
    if "min_depth" in threshold:
        text = f"depth ≥ {number(threshold['min_depth'])}: {text}"
    return text


def composition_line(composition: Any) -> str:
    if not isinstance(composition, Mapping):
        return "Composition: not given."
    line = (
        f"Composition: {percent(composition.get('human_fraction'))} human, "
        f"{percent(composition.get('synthetic_fraction'))} synthetic, "
        f"{percent(composition.get('unknown_fraction'))} unknown; "
        f"max depth {number(composition.get('max_depth'))}, "
        f"depth load {number(composition.get('depth_load'))}"
    )
    total = composition.get("total_amount")
    line += f"; total amount {number(total)}." if total is not None else "; total amount unknown."
    if composition.get("weights_assumed"):
        line += " Amounts are unknown, so the members were weighed equally."
    if composition.get("stale"):
        line += " An upstream correction is still being propagated to it."
    return line


def policy_label(policy: Any) -> str:
    if isinstance(policy, Mapping):
        return f"{policy.get('name', '?')}@{policy.get('version', '?')}"
    return "?"


def source_label(source: Any) -> str:
    if not isinstance(source, Mapping):
        return str(source)
    spec = DatasetSpec(
        str(source.get("namespace", "")), str(source.get("name", "")), str(source.get("version"))
    )
    return f"{format_dataset(spec)} (size {number(source.get('size'))})"


def findings_table(findings: Sequence[Any]) -> Table:
    table = Table(title="Findings", title_justify="left", show_lines=False)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Observed", justify="right")
    table.add_column("Threshold")
    for finding in findings:
        if not isinstance(finding, Mapping):
            continue
        rule = str(finding.get("rule", "?"))
        status = str(finding.get("status", "?"))
        table.add_row(
            Text(rule),
            Text(status, style=_STYLE.get(status, "")),
            Text(observed_text(rule, finding.get("observed"))),
            Text(threshold_text(rule, finding.get("threshold"))),
        )
    return table


def render_report(document: Mapping[str, Any], console: Console, *, strict: bool) -> None:
    # In a CI log, one line per sentence reads and greps better than rich's hard wrapping;
    # a terminal still gets wrapped prose.
    soft = not console.is_terminal

    def say(*parts: str | tuple[str, str]) -> None:
        console.print(Text.assemble(*parts), soft_wrap=soft)

    verdict = str(document.get("verdict"))
    findings = document.get("findings")
    findings = findings if isinstance(findings, list) else []
    console.print(findings_table(findings))
    consequence = {
        EXIT_PROCEED: "the job may proceed",
        EXIT_BLOCKED: "the job is blocked",
        EXIT_UNDECIDED: "the gate cannot decide",
    }[exit_code(verdict, strict=strict)]
    if verdict == "warn":
        consequence += " (--strict blocks on warn)" if strict else " (without --strict)"
    say(
        "Verdict: ",
        (verdict.upper(), _STYLE.get(verdict, "")),
        f" under policy {policy_label(document.get('policy'))}: {consequence}.",
    )
    say(composition_line(document.get("composition")))
    if verdict == "pass":
        return
    for finding in findings:
        if isinstance(finding, Mapping) and finding.get("status") in ("warn", "fail"):
            say(
                "• ",
                (str(finding.get("rule")), "bold"),
                f" ({finding.get('status')}): {finding.get('message', '')}",
            )
    remediation = document.get("remediation")
    if isinstance(remediation, Mapping):
        say(f"Remediation: {remediation.get('message', '')}")
        sources = remediation.get("sources")
        if isinstance(sources, list) and sources:
            say("Human-origin sources recorded here, largest first:")
            for source in sources:
                say(f"  {source_label(source)}")


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
        document = interpret(response, options.url)
    except Undecided as undecided:
        stderr.write(f"headwater gate: {undecided.sentence}\n")
        if options.json_output:
            stdout.write(undecided.document.rstrip("\n") + "\n")
        return EXIT_UNDECIDED
    if options.json_output:
        stdout.write(response.text.rstrip("\n") + "\n")
    else:
        render_report(document, Console(file=stdout, highlight=False), strict=options.strict)
    return exit_code(str(document["verdict"]), strict=options.strict)


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
    url: Annotated[
        str,
        typer.Option("--url", metavar="URL", envvar="HEADWATER_URL", help="The Headwater service."),
    ] = DEFAULT_URL,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            metavar="TOKEN",
            envvar="HEADWATER_TOKEN",
            help="Sent as 'Authorization: Bearer'.",
            show_default=False,
        ),
    ] = None,
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
