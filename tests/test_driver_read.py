"""A statement run by the driver on a session's connection (``DriverRead``): its rows, and its
errors raised as SQLAlchemy's, a connection the server closed taken out of the pool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import bindparam, column, create_engine, literal_column, select, text
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import Session

from app.db import Database, DriverRead

QUOTIENT = DriverRead(
    select(
        (literal_column("1") / bindparam("divisor")).label("quotient"),
        column("word").label("word"),
    )
    .select_from(text("(VALUES ('one'), ('two')) AS words(word)"))
    .where(column("word") == bindparam("word"))
)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database.connect(database_url, pool_size=1, max_overflow=0)
    yield database
    database.dispose()


def test_a_row_is_a_named_tuple_of_the_columns(session: Session) -> None:
    row = QUOTIENT.first(session, {"divisor": 1, "word": "two"})
    assert (row.quotient, row.word) == (1, "two")
    assert QUOTIENT.first(session, {"divisor": 1, "word": "three"}) is None


def test_an_error_is_sqlalchemys_and_the_connection_goes_on(database: Database) -> None:
    with database.read_sessions() as session:
        with pytest.raises(DataError):
            QUOTIENT.first(session, {"divisor": 0, "word": "one"})
        assert QUOTIENT.first(session, {"divisor": 1, "word": "one"}).word == "one"


def test_a_connection_the_server_closed_is_not_pooled_again(database: Database) -> None:
    with database.read_sessions() as session:
        backend = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        other = create_engine(database.engine.url)
        with other.begin() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        other.dispose()
        with pytest.raises(OperationalError) as raised:
            QUOTIENT.first(session, {"divisor": 1, "word": "one"})
        assert raised.value.connection_invalidated
    with database.read_sessions() as session:
        assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != backend
        assert QUOTIENT.first(session, {"divisor": 1, "word": "one"}).word == "one"
