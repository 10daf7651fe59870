"""Keyset pagination with opaque cursors: stable under concurrent inserts, O(limit) per page."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, Protocol, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from app.errors import InvalidInput, ProblemError

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=512, description="The `next_cursor` of the previous page; omit for the first."
    ),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


Position = tuple[datetime, uuid.UUID]
"""Where a newest-first list stands: the last row's creation time and id."""

S = TypeVar("S", bound=Select[*tuple[Any, ...]])


class Named(Protocol):
    """A row of a list in name order (a policy, a token): its name is where the next page starts."""

    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=Named)


def newest_first(
    query: S,
    created: ColumnElement[datetime] | InstrumentedAttribute[datetime],
    id_: ColumnElement[uuid.UUID] | InstrumentedAttribute[uuid.UUID],
    after: Position | None,
    limit: int,
) -> S:
    """``query`` newest first by ``(created, id_)``, from just after ``after``: the keyset every
    newest-first list pages by, so a row inserted meanwhile neither repeats nor hides one."""
    if after is not None:
        query = query.where(tuple_(created, id_) < tuple_(*after))
    return query.order_by(created.desc(), id_.desc()).limit(limit)


def where_given(
    query: S,
    *filters: tuple[ColumnElement[Any] | InstrumentedAttribute[Any], object],
) -> S:
    """``query`` narrowed to the rows whose column equals each value given: a list's optional
    filters, where None leaves that column free."""
    for column, value in filters:
        if value is not None:
            query = query.where(column == value)
    return query


def encode_cursor(listing: str, created_at: datetime, id_: uuid.UUID) -> str:
    raw = json.dumps([listing, created_at.isoformat(), str(id_)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def invalid_cursor() -> InvalidInput:
    return InvalidInput.at(
        "query.cursor",
        "invalid cursor",
        "The cursor is not one this service issued; pass the `next_cursor` of a previous page.",
    )


def decode_cursor(listing: str, cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The position a cursor of ``listing`` stands for (None: the first page).

    Each cursor names the list that issued it: a position in one list means nothing in another.
    """
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded))
        if not (isinstance(decoded, list) and len(decoded) == 3):
            raise ValueError("not a cursor")
        issuer, created_at, id_ = decoded
        position = datetime.fromisoformat(created_at), uuid.UUID(id_)
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise invalid_cursor() from exc
    if issuer != listing:
        raise ProblemError(
            f"The cursor belongs to the list of {issuer}, not to the list of {listing};"
            " pass the `next_cursor` of a previous page of this list.",
            errors=[
                {"loc": "query.cursor", "msg": "cursor of another list", "type": "value_error"}
            ],
        )
    return position


def next_cursor(
    listing: str,
    rows: Sequence[R],
    limit: int,
    position: Callable[[R], Position],
) -> str | None:
    """Lists fetch ``limit + 1`` rows; when the extra one came, the next page starts after
    row ``limit``."""
    return encode_cursor(listing, *position(rows[limit - 1])) if len(rows) > limit else None


def page(
    fetch: Callable[[int], Sequence[R]],
    limit: int,
    read: Callable[[Sequence[R]], list[T]],
    cursor_of: Callable[[R], str],
) -> Page[T]:
    """One page of a list: ``fetch(limit + 1)`` rows, the first ``limit`` of them ``read`` into
    items; when the extra row came, the next page starts after row ``limit``."""
    rows = fetch(limit + 1)
    more = len(rows) > limit
    return Page(items=read(rows[:limit]), next_cursor=cursor_of(rows[limit - 1]) if more else None)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What a list was asked for: ``limit`` items from just after ``cursor`` (None: the first)."""

    limit: int = DEFAULT_LIMIT
    cursor: str | None = None

    def newest_first(
        self,
        listing: str,
        fetch: Callable[[Position | None, int], Sequence[R]],
        read: Callable[[Sequence[R]], list[T]],
        position: Callable[[R], Position],
    ) -> Page[T]:
        """One page of the newest-first list ``listing`` (:func:`newest_first`): ``fetch(after,
        n)`` rows, ``read`` into items, ``position`` telling where a row stands."""
        after = decode_cursor(listing, self.cursor)
        return page(
            lambda n: fetch(after, n),
            self.limit,
            read,
            lambda row: encode_cursor(listing, *position(row)),
        )

    def by_name(
        self,
        fetch: Callable[[str | None, int], Sequence[N]],
        read: Callable[[Sequence[N]], list[T]],
    ) -> Page[T]:
        """One page of a list in the order of its unique names (policies, tokens): ``fetch(after,
        n)`` rows after the name ``after``; the cursor is the last name of the page before."""
        return page(lambda n: fetch(self.cursor, n), self.limit, read, lambda row: row.name)


def page_request(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> PageRequest:
    """The ``limit`` and ``cursor`` query parameters every list route takes, as one value."""
    return PageRequest(limit, cursor)


Paging = Annotated[PageRequest, Depends(page_request)]
