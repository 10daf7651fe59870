"""The hash chain of the audit log, as pure functions over plain values.

An entry's ``content_hash`` covers its time, actor, operation and content; its ``hash`` covers
the previous entry's ``hash`` and its own ``content_hash``. Sequence numbers are outside the
hashes on purpose: an entry moved to another position still hashes correctly on its own, so
verification can tell a reordering (its link names another entry) from an alteration.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

GENESIS = "0" * 64


def canonical(content: Any) -> str:
    """The one text a content is stored and hashed as: sorted keys, no spaces, UTF-8."""
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def content_hash(recorded_at: datetime, actor: str, operation: str, content: str) -> str:
    stamp = recorded_at.astimezone(UTC).isoformat(timespec="microseconds")
    return hashlib.sha256(orjson.dumps([stamp, actor, operation, content])).hexdigest()


def link(previous_hash: str, content_hash: str) -> str:
    return hashlib.sha256(f"{previous_hash}:{content_hash}".encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    """An entry as stored (``sequence`` None: not sealed yet)."""

    id: str
    sequence: int | None
    recorded_at: datetime
    actor: str
    operation: str
    content: str
    content_hash: str
    previous_hash: str | None
    hash: str | None

    def altered(self) -> bool:
        """Whether its time, actor, operation or content no longer hash as recorded."""
        own = content_hash(self.recorded_at, self.actor, self.operation, self.content)
        return own != self.content_hash


Kind = Literal["altered", "removed", "reordered"]


@dataclass(frozen=True)
class Breach:
    """The first entry that is not as it was sealed."""

    kind: Kind
    sequence: int | None
    entry_id: str | None
    detail: str


@dataclass(frozen=True)
class Verdict:
    sealed: int
    pending: int
    head_hash: str
    breach: Breach | None


def verify(
    sealed: Iterable[Entry],
    pending: Iterable[Entry],
    head: tuple[int, str] | None,
    sealed_after: Callable[[str], int | None],
) -> Verdict:
    """Walk the sealed entries in sequence order and name the first breach.

    ``head`` is the (sequence, hash) the sealer last wrote; ``sealed_after(h)`` is the sequence
    of the entry whose hash is ``h`` (asked only once a link is broken)."""
    expected, previous = 1, GENESIS
    count = pending_count = 0

    def result(breach: Breach | None) -> Verdict:
        return Verdict(count, pending_count, previous, breach)

    for entry in sealed:
        assert entry.sequence is not None
        if entry.sequence != expected:
            return result(
                Breach(
                    "removed",
                    expected,
                    None,
                    f"Entry {expected} is missing: entry {expected - 1 or 'none'} is followed by"
                    f" entry {entry.sequence}.",
                )
            )
        if entry.altered():
            return result(
                Breach(
                    "altered",
                    expected,
                    entry.id,
                    f"Entry {expected}: its time, actor, operation or content changed after it"
                    " was recorded.",
                )
            )
        previous_hash = entry.previous_hash
        if previous_hash is None or link(previous_hash, entry.content_hash) != entry.hash:
            return result(
                Breach("altered", expected, entry.id, f"Entry {expected}: its hashes were changed.")
            )
        if previous_hash != previous:
            owner = sealed_after(previous_hash)
            if owner is not None:
                return result(
                    Breach(
                        "reordered",
                        expected,
                        entry.id,
                        f"Entry {expected} was sealed right after the entry now numbered {owner},"
                        f" not after entry {expected - 1}.",
                    )
                )
            return result(
                Breach(
                    "altered",
                    expected,
                    entry.id,
                    f"Entry {expected} does not follow entry {expected - 1}: that entry was"
                    " rewritten, or one between them was removed.",
                )
            )
        previous = entry.hash
        count += 1
        expected += 1
    last = expected - 1
    if head is not None:
        head_sequence, head_hash = head
        if head_sequence > last:
            return result(
                Breach(
                    "removed",
                    last + 1,
                    None,
                    f"Entries {last + 1} to {head_sequence} are missing: the chain was sealed up"
                    f" to entry {head_sequence}.",
                )
            )
        if head_sequence < last:
            return result(
                Breach(
                    "altered",
                    head_sequence + 1,
                    None,
                    f"Entry {head_sequence + 1} and later were not sealed by the service.",
                )
            )
        if head_hash != previous:
            return result(
                Breach("altered", last, None, f"Entry {last}: the chain does not end as sealed.")
            )
    elif last > 0:
        return result(Breach("removed", None, None, "The record of the chain's end is missing."))
    for entry in pending:
        if entry.altered():
            return result(
                Breach(
                    "altered",
                    None,
                    entry.id,
                    f"The entry {entry.id}, not sealed yet, changed after it was recorded.",
                )
            )
        pending_count += 1
    return result(None)
