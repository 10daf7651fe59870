"""``headwater audit verify``: recompute the audit log's hash chain."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.audit import service
from app.audit.schemas import VerifyRead
from app.config import get_settings
from app.db import Database
from app.embedded import service_database

audit = typer.Typer(help="The record of writes.", no_args_is_help=True)


def check() -> VerifyRead:
    settings = get_settings()
    with service_database(settings.database_url, settings.data_dir) as url:
        database = Database.connect(url, pool_size=1)
        try:
            # one snapshot: a sealer running meanwhile cannot make the chain look broken
            with database.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with Session(bind=conn) as session, session.begin():
                    verdict = service.verify(session)
        finally:
            database.dispose()
    return VerifyRead(intact=verdict.breach is None, **asdict(verdict))


@audit.command()
def verify(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Exit 0 when the chain is intact, 1 naming the first altered, removed or reordered entry,
    2 when it could not be checked."""
    try:
        result = check()
    except SQLAlchemyError as exc:
        message = f"the audit log could not be read: {type(exc).__name__}"
        if as_json:
            typer.echo(json.dumps({"intact": None, "error": message}))
        else:
            typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(result.model_dump_json())
    elif result.breach is None:
        typer.echo(
            f"intact: {result.sealed} entries chained, {result.pending} waiting to be sealed;"
            f" head {result.head_hash}"
        )
    else:
        b = result.breach
        where = f"entry {b.sequence}" if b.sequence is not None else f"entry {b.entry_id}"
        typer.echo(f"{b.kind}: {where}: {b.detail}")
    raise typer.Exit(0 if result.breach is None else 1)
