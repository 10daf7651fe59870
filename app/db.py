"""The store: declarative base, engine, one transaction per request."""

from __future__ import annotations

import dataclasses
import select
import uuid
from collections import namedtuple
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import orjson
import psycopg
from anyio import CancelScope
from fastapi import Depends, Request
from pydantic import BaseModel
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    MetaData,
    Select,
    any_,
    bindparam,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from starlette.concurrency import run_in_threadpool

from app.metrics import LOCK_WAIT_SECONDS

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def equals_any(
    column: QueryableAttribute[uuid.UUID], ids: Iterable[uuid.UUID]
) -> ColumnElement[bool]:
    """``column = ANY(:ids)`` with the ids as one array parameter: ``IN`` binds one parameter
    per value, and a large subgraph has more ids than PostgreSQL's 65,535 parameters."""
    return column == any_(bindparam(None, list(ids), type_=ARRAY(UUID(as_uuid=True))))


Shape = TypeVar("Shape", bound="DataclassInstance | BaseModel")


def row_as(shape: type[Shape], row: object, **given: Any) -> Shape:
    """``shape`` (a dataclass or a Pydantic model) made from a row, or any object whose
    attributes bear its field names: each field is the attribute of that name, but for those
    ``given`` (computed, or converted). ``from_attributes`` does this for a model whose every
    field is an attribute; this is for one that adds computed fields to the ones it copies."""
    names = (
        shape.model_fields
        if issubclass(shape, BaseModel)
        else [f.name for f in dataclasses.fields(shape)]
    )
    return shape(**{name: getattr(row, name) for name in names if name not in given}, **given)


def normalize_url(url: str) -> str:
    """Accept the URL forms people paste (postgres://, postgresql://) and use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def discard_if_closed_by_server(
    dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
) -> None:
    """Replace a pooled connection the server closed while it sat idle (a restart, a crash,
    ``pg_terminate_backend``), before a request uses it.

    An idle connection has nothing to read until the server says it is closing it (a FATAL
    notice, then the end of the stream): asking the socket whether it has anything to read is
    a system call, where a ping (``pool_pre_ping``) is a round trip on every checkout. The pool
    opens a fresh connection in its place."""
    poll = select.poll()
    poll.register(dbapi_connection.fileno(), select.POLLIN)
    if poll.poll(0):
        raise DisconnectionError("the server closed this connection while it was idle")


class DriverRead:
    """A statement built and compiled once, run by psycopg itself on a session's connection:
    for the point read, where SQLAlchemy's execution of a statement (its cache key, an
    execution context, the result's metadata from every column's description, the row) cost
    more in Python than the driver's (a read, its round trip included, took 0.60 to 0.68 times
    as long by the driver, measured alternating on one pool).

    The values are psycopg's, loaded as the engine configured it (JSON by orjson): what
    SQLAlchemy's rows hold for the same columns, whose types need no processing of their own.
    A row is a named tuple of the statement's column names. A driver error is raised as
    SQLAlchemy's own (a lost connection as ``OperationalError``, a 503), and a connection the
    server closed is invalidated, as SQLAlchemy would, so the pool never hands it out again."""

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        dialect: Dialect = PGDialect_psycopg()  # type: ignore[no-untyped-call]
        self.sql = str(statement.compile(dialect=dialect))
        self.row: type[Any] = namedtuple("Row", statement.selected_columns.keys())  # type: ignore[misc]

    def first(self, session: Session, params: Mapping[str, Any]) -> Any:
        """The first row (None: there is none)."""
        connection = session.connection()
        driver = connection.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        try:
            with driver.cursor() as cursor:
                values = cursor.execute(self.sql, params).fetchone()
        except psycopg.Error as exc:
            closed = connection.dialect.is_disconnect(cast(Any, exc), connection.connection, None)
            if closed:
                connection.invalidate(exc)
            raise DBAPIError.instance(
                self.sql,
                dict(params),
                exc,
                psycopg.Error,
                connection_invalidated=closed,
                dialect=connection.dialect,
            ) from exc
        return None if values is None else self.row._make(values)


@dataclass
class Database:
    engine: Engine
    sessions: sessionmaker[Session]
    # the same pool, each statement its own transaction (see get_session)
    read_sessions: sessionmaker[Session]

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        pool_size: int = 10,
        max_overflow: int = 20,
        pool_timeout: float = 5.0,
        connect_timeout: int = 3,
    ) -> Database:
        engine = create_engine(
            normalize_url(url),
            pool_size=pool_size,
            max_overflow=max_overflow,
            # a request waits this long for a connection, then answers 503: with the database
            # down or every connection busy, requests fail fast instead of queueing unbounded
            pool_timeout=pool_timeout,
            connect_args={"connect_timeout": connect_timeout},
            # compositions are JSON read on every mixture: orjson parses them several times
            # faster than the standard library, to the same floats
            json_serializer=json_dumps,
            json_deserializer=orjson.loads,
        )
        event.listen(engine, "checkout", discard_if_closed_by_server)
        return cls(
            engine,
            sessionmaker(engine, expire_on_commit=False),
            sessionmaker(
                engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
            ),
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session of its own in a transaction of its own, committed when the block ends and
        rolled back when it raises (``finish``). Unlike ``sessionmaker.begin()``, a write whose
        whole transaction rolled back to retry (``writes.write``) may go on in the block."""
        session = self.sessions()
        try:
            yield session
        except BaseException as exc:
            finish(session, exc)
            raise
        finish(session, None)

    def dispose(self) -> None:
        self.engine.dispose()


def finish(session: Session, failed: BaseException | None) -> None:
    """End a request's transaction: commit it, or roll it back after ``failed``; then give the
    connection back to the pool."""
    try:
        if failed is None:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


def unavailable(exc: BaseException) -> bool:
    """The database could not be reached, every connection was busy, or the connection broke:
    no statement was at fault, and another transaction now would meet the same. The write
    sequence, the worker and the HTTP answer all ask this one question."""
    if isinstance(exc, PoolTimeout | InterfaceError):
        return True
    if isinstance(exc, OperationalError):
        code = getattr(exc.orig, "sqlstate", None)
        # class 08: connection exception; 57P0x: the server is shutting down or restarting
        return exc.connection_invalidated or code is None or code.startswith(("08", "57P0"))
    return False


Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def writes_nothing(endpoint: Endpoint) -> Endpoint:
    """Mark an endpoint other than a GET's that writes nothing (the gate): its session runs as a
    GET's does, without BEGIN and COMMIT, at READ COMMITTED each statement reading a snapshot
    of its own, as it would inside a transaction."""
    endpoint.writes_nothing = True  # type: ignore[attr-defined]
    return endpoint


def writes_first(endpoint: Endpoint) -> Endpoint:
    """Mark a GET that writes before it reads (the audit listing seals the entries pending, to
    list them): its session is a transaction, committed before the answer, as a write's is,
    so that the locks its write takes last until that write commits."""
    endpoint.writes_first = True  # type: ignore[attr-defined]
    return endpoint


def transactional(request: Request) -> bool:
    """Whether a request's session is a transaction: every request's but a GET's and a
    ``writes_nothing`` route's, and a ``writes_first`` GET's too."""
    endpoint = request.scope.get("endpoint")
    if getattr(endpoint, "writes_first", False):
        return True
    return request.method != "GET" and not getattr(endpoint, "writes_nothing", False)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One request, one transaction: commit on success, roll back on any exception.

    A GET writes nothing, and at READ COMMITTED each of its statements reads a snapshot of its
    own inside a transaction or not: it runs without BEGIN and COMMIT, two round trips fewer
    on a point read that is otherwise one.

    Async, so that opening a session costs no hop to a worker thread: a session checks out its
    connection at its first statement, which runs in the endpoint's thread. A GET's session
    ends without I/O too (nothing to commit, and psycopg skips ROLLBACK on an idle connection
    when the pool takes it back); any other request's commit or rollback is a round trip, so
    it runs in a worker thread, shielded from cancellation so that the connection always goes
    back to the pool."""
    database: Database = request.app.state.database
    if not transactional(request):
        with database.read_sessions() as session:
            yield session
        return
    session = database.sessions()
    try:
        yield session
    except BaseException as exc:
        with CancelScope(shield=True):
            await run_in_threadpool(finish, session, exc)
        raise
    with CancelScope(shield=True):
        await run_in_threadpool(finish, session, None)


# scope="function": the transaction commits before the response is sent, so an acknowledged write
# is visible to the client's next request and a failed commit is never preceded by a 2xx.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def scope_text(*scope: str) -> str:
    """The text whose hash is the advisory lock key of a scope (``lock_scope``)."""
    return "\x1f".join(scope)


def lock_scope(session: Session, *scope: str) -> None:
    """Hold an advisory lock on one named thing (a natural key, an OpenLineage run) until the
    transaction ends, in every process on the database. Two scopes that hash alike only wait
    for each other; nothing else does."""
    with LOCK_WAIT_SECONDS.time():
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:scope, 0))"),
            {"scope": scope_text(*scope)},
        )


def lock_scopes(session: Session, scopes: Sequence[Sequence[str]]) -> None:
    """``lock_scope`` for many things in one statement, in a fixed order (so two writers that
    lock overlapping sets queue instead of deadlocking)."""
    if not scopes:
        return
    with LOCK_WAIT_SECONDS.time():
        session.execute(
            text(
                """
                SELECT pg_advisory_xact_lock(k)
                FROM (
                    SELECT DISTINCT hashtextextended(s, 0) AS k
                    FROM unnest(CAST(:scopes AS text[])) AS s
                ) keys
                ORDER BY k
                """
            ),
            {"scopes": [scope_text(*scope) for scope in scopes]},
        )
