"""ASGI middleware: request bodies (size limit, gzip) and one log line per request; and the
response that carries a body already validated."""

from __future__ import annotations

import logging
import time
import uuid
import zlib
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import problem, unavailable
from app.metrics import observe_request

log = logging.getLogger("headwater.http")


def created(response: Response, is_new: bool) -> None:
    """Answer a write 201 when it recorded something new, 200 when what it sent was already
    recorded: repeating a write is safe, and its answer says which it was."""
    response.status_code = 201 if is_new else 200


def json_response(body: BaseModel, status_code: int = 200) -> Response:
    """``body`` as JSON, the bytes the route's ``response_model`` would send. A route that
    declares a response model and returns the model itself has it validated again (in a
    worker thread, for a sync route) before it is serialised; a body built from its schema
    needs neither, and the hot read routes answer sooner without them."""
    return Response(
        body.model_dump_json(by_alias=True), status_code=status_code, media_type="application/json"
    )


class TooLarge(Exception):
    pass


class BadEncoding(Exception):
    pass


def is_json(content_type: str) -> bool:
    """``application/json`` or a ``+json`` type, with any parameters (``charset=utf-8``)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class RequestBodyMiddleware:
    """Refuse bodies over ``max_bytes`` (413), before and after gzip decoding, and API bodies
    not sent as JSON (415); decode ``Content-Encoding: gzip`` as the OpenLineage clients send
    it when compression is on."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self.too_large(scope, receive, send)
            return
        # the API reads JSON only; pages for people (outside /api/) take their forms
        api = scope["path"].startswith("/api/")
        content_type = headers.get("content-type")
        if api and content_type is not None and not is_json(content_type):
            await self.not_json(scope, receive, send, f"Content-Type {content_type!r}")
            return
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip"):
            response = problem(
                415,
                "Unsupported content encoding",
                f"Content-Encoding {encoding!r} is not supported; send identity or gzip.",
                "unsupported-encoding",
            )
            await response(scope, receive, send)
            return
        try:
            body = await self.read(receive)
            if encoding == "gzip":
                body = self.gunzip(body)
        except TooLarge:
            await self.too_large(scope, receive, send)
            return
        except BadEncoding:
            response = problem(
                400,
                "Malformed body",
                "The body says Content-Encoding gzip but is not valid gzip data.",
                "bad-encoding",
            )
            await response(scope, receive, send)
            return
        if api and content_type is None and body:
            await self.not_json(scope, receive, send, "A body without a Content-Type")
            return
        if encoding == "gzip":
            # in place, not on a copy: the access log reads the matched route from this scope
            scope["headers"] = [
                (k, v)
                for k, v in scope["headers"]
                if k.lower() not in (b"content-encoding", b"content-length")
            ] + [(b"content-length", str(len(body)).encode())]
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def gunzip(self, body: bytes) -> bytes:
        """Decode every gzip member of the body, refusing truncation and trailing garbage."""
        out: list[bytes] = []
        size = 0
        rest = body
        while True:
            decoder = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            try:
                chunk = decoder.decompress(rest, self.max_bytes + 1 - size)
            except zlib.error as exc:
                raise BadEncoding from exc
            size += len(chunk)
            if size > self.max_bytes or decoder.unconsumed_tail:
                raise TooLarge
            if not decoder.eof:
                raise BadEncoding
            out.append(chunk)
            rest = decoder.unused_data
            if not rest:
                return b"".join(out)

    async def not_json(self, scope: Scope, receive: Receive, send: Send, what: str) -> None:
        response = problem(
            415,
            "Unsupported media type",
            f"{what} is not supported; send the body as application/json"
            " (with curl: -H 'content-type: application/json').",
            "unsupported-media-type",
        )
        await response(scope, receive, send)

    async def too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            "Payload too large",
            f"The request body is over the limit of {self.max_bytes} bytes"
            " (HEADWATER_MAX_BODY_BYTES); split it into smaller requests.",
            "payload-too-large",
        )
        await response(scope, receive, send)


class InFlightLimitMiddleware:
    """Answer 503 at once, with Retry-After, when ``limit`` requests are already in flight:
    past that they would only queue for a worker thread and a database connection, waiting
    without bound while the database is slow or away. Health probes are never refused."""

    EXEMPT = ("/healthz", "/readyz", "/metrics")

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            response = unavailable(
                f"{self.in_flight} requests are already in flight (HEADWATER_MAX_IN_FLIGHT);"
                " nothing was written."
            )
            await response(scope, receive, send)
            return
        # one event loop per process: no lock is needed around the count
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex[:16]
        outcome: dict[str, Any] = {"status": 500}

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            observe_request(scope, outcome["status"], time.perf_counter() - started)
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "query": scope.get("query_string", b"").decode("latin-1"),
                    "status": outcome["status"],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
