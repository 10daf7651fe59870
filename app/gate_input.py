"""What ``headwater gate`` is asked: the ``--dataset``/``--model`` flag syntax, a request file
(JSON or YAML), and the body they make; and ``Undecided``, the answer when the input (or,
later, the service) leaves the gate without a verdict."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TextIO

import yaml

GATE_PATH: Final = "/api/v1/gate"


# Problems found before or without an answer from the service have no HTTP status and no
# server to resolve a relative type against, so their type is a URN of their own.
LOCAL_PROBLEM: Final = "urn:headwater:gate:"

SEPARATORS: Final = frozenset("@=:\\")


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

    def member(self) -> dict[str, Any]:
        """The member of the proposed training set this flag names, as the gate's body has it."""
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
        body["training_set"] = [spec.member() for spec in datasets]
    if model is not None:
        body["model"] = {"namespace": model.namespace, "name": model.name}
    if policy is not None:
        body["policy"] = policy
    return body
