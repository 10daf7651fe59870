"""``headwater tokens``: create, list and revoke API tokens in the service's database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app import migrate
from app.auth import service
from app.auth.core import SCOPES
from app.auth.schemas import TokenCreate, TokenRead
from app.config import get_settings
from app.db import Database
from app.embedded import service_database
from app.errors import ProblemError
from app.pagination import PageRequest

tokens = typer.Typer(
    help="API tokens: created once and shown once, stored only as a hash.",
    no_args_is_help=True,
)

# who the audit log names for writes made from a shell on the service's machine
CLI_ACTOR = "cli"


@contextmanager
def transaction() -> Iterator[Session]:
    """One transaction on the service's database (migrated first: a fresh data directory's
    first admin token is created before the service ever ran)."""
    settings = get_settings()
    try:
        with service_database(settings.database_url, settings.data_dir) as url:
            migrate.upgrade(url)
            database = Database.connect(url, pool_size=1)
            try:
                with database.sessions() as session, session.begin():
                    yield session
            finally:
                database.dispose()
    except SQLAlchemyError as exc:
        typer.echo(f"error: the database could not be used: {type(exc).__name__}", err=True)
        raise typer.Exit(2) from None


def refuse(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@tokens.command()
def create(
    name: Annotated[str, typer.Option("--name", help="Unique; the audit log names writes by it.")],
    scope: Annotated[list[str], typer.Option("--scope", help=f"Repeatable: {', '.join(SCOPES)}.")],
    namespace: Annotated[
        list[str] | None,
        typer.Option("--namespace", help="Repeatable glob limiting writes, e.g. 's3://team-a/*'."),
    ] = None,
    expires_in: Annotated[
        float | None, typer.Option("--expires-in", help="Days until it expires.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Create a token and print its secret, this once."""
    try:
        body = TokenCreate(
            name=name,
            scopes=scope,
            namespaces=namespace or [],
            expires_in_days=expires_in,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise refuse(problems, 2) from None
    try:
        with transaction() as session:
            token, secret = service.create(session, body, actor=CLI_ACTOR)
            read = TokenRead.model_validate(token)
    except ProblemError as exc:
        raise refuse(exc.detail) from None
    if as_json:
        typer.echo(json.dumps({"name": read.name, "token": secret, "scopes": read.scopes}))
        return
    typer.echo(f"Created token {read.name!r} with scopes {', '.join(read.scopes)}.", err=True)
    typer.echo("Store it now; it is not shown again:", err=True)
    typer.echo(secret)


@tokens.command(name="list")
def list_tokens(
    as_json: Annotated[bool, typer.Option("--json", help="A JSON array on stdout.")] = False,
) -> None:
    """Every token, by name (never a secret)."""
    with transaction() as session:
        rows = service.listing(session, PageRequest(limit=1_000_000)).items
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows]))
        return
    for r in rows:
        state = "revoked" if r.revoked_at else "active"
        limits = f" namespaces={','.join(r.namespaces)}" if r.namespaces else ""
        expiry = f" expires={r.expires_at:%Y-%m-%d %H:%M}Z" if r.expires_at else ""
        used = f" last_used={r.last_used_at:%Y-%m-%d %H:%M}Z" if r.last_used_at else ""
        typer.echo(f"{r.name}\t{state}\tscopes={','.join(r.scopes)}{limits}{expiry}{used}")


@tokens.command()
def revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token: every request with it is refused from now on."""
    try:
        with transaction() as session:
            service.revoke(session, name, actor=CLI_ACTOR)
    except ProblemError as exc:
        raise refuse(exc.detail) from None
    typer.echo(f"Revoked token {name!r}.", err=True)
