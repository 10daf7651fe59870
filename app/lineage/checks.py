"""What an OpenLineage event must be before it is mapped and recorded: storable by PostgreSQL,
shallow enough to handle, and written only where the actor may write; and its fingerprint, by
which a redelivery is known."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from app.errors import InvalidInput
from app.lineage import intents


def fingerprint(payload: Mapping[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def invalid(error: intents.EventInvalid) -> InvalidInput:
    errors = [
        {"loc": ".".join(str(p) for p in ("body", *e.loc)), "msg": e.msg, "type": "value_error"}
        for e in error.errors
    ]
    fields = ", ".join(e["loc"] for e in errors)
    return InvalidInput(f"The OpenLineage event is not valid: check {fields}.", errors=errors)


def written_namespaces(payload: Mapping[str, Any], event: intents.MappedEvent) -> list[str]:
    """The namespaces an event writes to: each output's, and each dataset's whose origin it
    declares (a ``headwater_origin`` facet on an input corrects that input)."""
    named: list[str] = [str(d["namespace"]) for d in payload.get("outputs") or []]
    named += [node.key.namespace for node in event.nodes if node.origin is not None]
    if event.kind == "dataset":
        named += [node.key.namespace for node in event.nodes]
    return list(dict.fromkeys(named))


# Deeper than any facet the OpenLineage integrations write (column lineage, nested schemas),
# and shallow enough that copying and encoding an event never exhausts Python's stack.
MAX_NESTING = 100


def nesting(value: Any) -> int:
    """How deeply JSON arrays and objects nest in ``value``, counted without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_NESTING:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def check_storable(payload: Mapping[str, Any]) -> None:
    """Refuse events nested too deeply to handle, and text PostgreSQL cannot store: a NUL
    character, or a lone UTF-16 surrogate (``\\ud800``), which JSON can escape but UTF-8
    cannot encode."""
    if nesting(payload) > MAX_NESTING:
        raise InvalidInput(
            f"The event nests arrays and objects more than {MAX_NESTING} levels deep.",
            errors=[{"loc": "body", "msg": "nested too deeply", "type": "value_error"}],
        )
    if "\\u0000" in json.dumps(payload):
        raise InvalidInput(
            "The event contains a NUL character, which PostgreSQL cannot store; remove it.",
            errors=[{"loc": "body", "msg": "contains \\u0000", "type": "value_error"}],
        )
    try:
        json.dumps(payload, ensure_ascii=False).encode()
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            "The event contains a lone UTF-16 surrogate (such as \\ud800), which is not"
            " Unicode text; send valid UTF-8.",
            errors=[{"loc": "body", "msg": "contains a lone surrogate", "type": "value_error"}],
        ) from exc
