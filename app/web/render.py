"""Templates, number formats, and error pages in place of problem documents for people."""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import gate_report
from app.errors import ProblemError
from app.web.auth import ScopeMissing, TokenRejected, TokenRequired
from app.web.graph import NODE_HEIGHT, NODE_WIDTH

log = logging.getLogger("headwater")
HERE = Path(__file__).parent
NONE = "\N{EN DASH}"
templates = Jinja2Templates(directory=HERE / "templates")

# Paths that answer machines even when a browser asks.
MACHINE_PATHS = ("/api/", "/openapi.json", "/healthz", "/readyz", "/metrics")


def pct(value: Any) -> str:
    """A fraction as a percentage a person reads at a glance, never rounding away a non-zero."""
    if not isinstance(value, int | float) or not math.isfinite(value):
        return NONE
    shown = value * 100
    if value == 0:
        return "0 %"
    if 0 < shown < 0.1:
        return "< 0.1 %"
    if 99.9 < shown < 100:
        return "> 99.9 %"
    return f"{shown:.1f}".rstrip("0").rstrip(".") + " %"


def num(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return NONE
    if abs(value) >= 100 or value == int(value):
        return f"{round(value):,}".replace(",", " ")
    return f"{value:.4g}"


def when(value: Any) -> str:
    if not isinstance(value, datetime):
        return NONE
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value.utcoffset() is not None else str(value)


def hue(synthetic: float) -> str:
    """A node's fill: pale teal for human, through sand, to pale red for synthetic; light
    enough that dark text keeps a contrast above 7:1 everywhere on the scale."""
    stops = [(0.0, (204, 236, 230)), (0.5, (246, 226, 170)), (1.0, (248, 190, 180))]
    s = min(max(synthetic, 0.0), 1.0)
    for (a, ca), (b, cb) in itertools.pairwise(stops):
        if s <= b:
            t = (s - a) / (b - a)
            r, g, bl = (round(x + (y - x) * t) for x, y in zip(ca, cb, strict=True))
            return f"rgb({r},{g},{bl})"
    return "rgb(248,190,180)"


def short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


templates.env.filters.update(
    pct=pct,
    num=num,
    when=when,
    hue=hue,
    short=short,
    # a finding's figures in the words `headwater gate` uses
    observed=lambda finding: gate_report.observed_text(finding.rule, finding.observed),
    thresholds=lambda finding: gate_report.threshold_text(finding.rule, finding.threshold),
)


def query(params: Mapping[str, Any] | list[tuple[str, Any]]) -> str:
    items = params.items() if isinstance(params, Mapping) else params
    return urlencode([(k, v) for k, v in items if v not in (None, "")])


templates.env.globals.update(query=query, node_width=NODE_WIDTH, node_height=NODE_HEIGHT)


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


class PageError(Exception):
    """A page that cannot be shown: a person reads why, with the status a machine expects."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


def is_page(request: Request) -> bool:
    if getattr(request.state, "page", False):
        return True
    path = request.url.path
    if path.startswith(MACHINE_PATHS):
        return False
    return "text/html" in request.headers.get("accept", "")


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    return page(request, "error.html", {"title": title, "detail": detail}, status)


def sign_in_page(request: Request, rejected: bool) -> HTMLResponse:
    response = page(
        request,
        "sign_in.html",
        {
            "next": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            "rejected": rejected,
        },
        401,
    )
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


Handler = Callable[[Request, Any], Awaitable[Response]]


def install(app: FastAPI) -> None:
    """Pages answer errors with pages; everything else keeps its problem documents."""

    def for_people(exc_class: type[Exception], render: Callable[[Request, Any], Response]) -> None:
        previous: Handler | None = app.exception_handlers.get(exc_class)  # type: ignore[assignment]

        async def handle(request: Request, exc: Any) -> Response:
            if is_page(request) or previous is None:
                return render(request, exc)
            return await previous(request, exc)

        app.add_exception_handler(exc_class, handle)

    for_people(PageError, lambda r, e: error_page(r, e.status, e.title, e.detail))
    for_people(TokenRequired, lambda r, e: sign_in_page(r, rejected=False))
    for_people(TokenRejected, lambda r, e: sign_in_page(r, rejected=True))
    for_people(ScopeMissing, lambda r, e: error_page(r, 403, "Not allowed", str(e)))
    for_people(ProblemError, lambda r, e: error_page(r, e.status, e.title, e.detail))
    for_people(
        StarletteHTTPException,
        lambda r, e: error_page(
            r,
            e.status_code,
            "Page not found" if e.status_code == 404 else "Cannot show this page",
            "There is no page at this address." if e.status_code == 404 else str(e.detail),
        ),
    )
    for_people(
        DataError,
        lambda r, e: error_page(
            r, 400, "Bad request", "The request has a value this page cannot use."
        ),
    )
    for_people(
        RequestValidationError,
        lambda r, e: error_page(
            r, 400, "Bad request", "The address has a value this page cannot use."
        ),
    )
    for_people(
        Exception,
        lambda r, e: error_page(
            r, 500, "Something went wrong", "The service failed; it has been logged."
        ),
    )
