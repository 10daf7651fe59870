"""The options every command that talks to a running service shares: where it is, and the
token to send it."""

from __future__ import annotations

from typing import Annotated, Final

import typer

DEFAULT_URL: Final = "http://127.0.0.1:8000"

ServiceUrl = Annotated[
    str,
    typer.Option("--url", metavar="URL", envvar="HEADWATER_URL", help="The Headwater service."),
]
BearerToken = Annotated[
    str | None,
    typer.Option(
        "--token",
        metavar="TOKEN",
        envvar="HEADWATER_TOKEN",
        help="Sent as 'Authorization: Bearer'.",
        show_default=False,
    ),
]
