"""Checking one source where the command runs: open it through fsspec, hash it as it streams.

What a check can conclude, and what it must not: a copy that answers with the recorded
checksum is ``verified``; one that answers with another is ``changed``; one that is not there
(or whose store cannot be reached) is ``lost``. A check that could not look — no fsspec backend
for the scheme, no credentials for the store, access refused, a checksum in a form this
command cannot compute — is ``unchecked`` with the reason, never ``lost``: missing credentials
say nothing about the data.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import fsspec

from app.sources.models import Copy, SourceStatus

CHUNK: Final = 1 << 20
CHECKSUM: Final = re.compile(r"^sha256:([0-9a-fA-F]{64})$")

# Where a scheme's fsspec backend comes from, to say what to install.
EXTRAS: Final = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}

# Exceptions that mean "you may not look" rather than "it is not there", by class name, so that
# no optional backend has to be importable to recognise its own.
CREDENTIAL_ERRORS: Final = frozenset(
    {
        "NoCredentialsError",
        "PartialCredentialsError",
        "CredentialRetrievalError",
        "NoAuthTokenError",
        "UnauthorizedSSOTokenError",
        "TokenRetrievalError",
        "DefaultCredentialsError",
        "RefreshError",
        "GatedRepoError",
        "LocalTokenNotFoundError",
    }
)


@dataclass(frozen=True)
class Outcome:
    status: SourceStatus
    reason: str | None = None
    observed_checksum: str | None = None
    answered_by: Copy | None = None


class CannotCheck(Exception):
    """The copy could not be looked at; the reason is the message."""


class NotThere(Exception):
    """The copy is gone or its store unreachable; the reason is the message."""


def _names(error: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(error).__mro__}


def _http_status(error: BaseException) -> int | None:
    status = getattr(error, "status", None)
    if isinstance(status, int):
        return status
    response = getattr(error, "response", None)
    code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


def classify(error: BaseException, uri: str) -> CannotCheck | NotThere:
    """What an error met while reading ``uri`` says about it."""
    cause = error.__cause__
    if isinstance(error, FileNotFoundError) and cause is not None:
        # fsspec's HTTP backend reports any failure to stat a URL as not found; the cause
        # says whether it was refused (credentials) or unreachable
        return classify(cause, uri)
    names = _names(error)
    said = str(error) or type(error).__name__
    if names & CREDENTIAL_ERRORS:
        return CannotCheck(f"no credentials for {uri} on this machine ({type(error).__name__})")
    status = _http_status(error)
    if isinstance(error, PermissionError) or status in (401, 403, 407):
        return CannotCheck(f"access to {uri} was refused: {said}")
    if isinstance(error, FileNotFoundError) or status in (404, 410):
        return NotThere(f"not found at {uri}")
    if isinstance(error, IsADirectoryError):
        return CannotCheck(f"{uri} is a directory; a checksum names one file")
    if isinstance(error, ImportError):
        return CannotCheck(f"the fsspec backend for {uri} cannot be loaded: {said}")
    if isinstance(error, OSError | TimeoutError) or "ClientError" in names or status is not None:
        return NotThere(f"unreachable at {uri}: {said}")
    return CannotCheck(f"checking {uri} failed: {type(error).__name__}: {said}")


def open_options(protocol: str, timeout: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """Options for the filesystem and for opening a file on it."""
    if protocol in ("http", "https"):
        import aiohttp

        # block_size=0 streams the body, so servers without Range support answer too
        timeouts = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        return {"client_kwargs": {"timeout": timeouts}}, {"block_size": 0}
    return {}, {}


def sha256_of(
    uri: str, *, timeout: float = 60.0, progress: Callable[[int], None] | None = None
) -> str:
    """``sha256:<hex>`` of what ``uri`` holds, read in chunks (memory holds one chunk)."""
    protocol = uri.split("://", 1)[0].lower() if "://" in uri else "file"
    storage, reading = open_options(protocol, timeout)
    try:
        fs, path = fsspec.core.url_to_fs(uri, **storage)
    except (ValueError, ImportError) as exc:
        extra = EXTRAS.get(protocol)
        hint = f"; install headwater[{extra}]" if extra else ""
        raise CannotCheck(f"no fsspec backend for {protocol}:// on this machine{hint}") from exc
    digest = hashlib.sha256()
    try:
        with fs.open(path, "rb", **reading) as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                if progress is not None:
                    progress(len(chunk))
    except Exception as exc:
        raise classify(exc, uri) from exc
    return "sha256:" + digest.hexdigest()


def check_copy(
    uri: str,
    checksum: str | None,
    *,
    timeout: float,
    progress: Callable[[int], None] | None = None,
) -> Outcome:
    """One copy against the recorded checksum."""
    expected: str | None = None
    if checksum is not None:
        match = CHECKSUM.match(checksum.strip())
        if match is None:
            return Outcome(
                "unchecked", f"the recorded checksum {checksum!r} is not sha256:<64 hex digits>"
            )
        expected = "sha256:" + match.group(1).lower()
    try:
        observed = sha256_of(uri, timeout=timeout, progress=progress)
    except CannotCheck as exc:
        return Outcome("unchecked", str(exc))
    except NotThere as exc:
        return Outcome("lost", str(exc))
    if expected is None:
        return Outcome(
            "verified", "no checksum is recorded, so only that it can be read was checked", observed
        )
    if observed != expected:
        return Outcome("changed", f"{uri} now hashes to {observed}, not {expected}", observed)
    return Outcome("verified", None, observed)


def check_source(
    uri: str,
    checksum: str | None,
    archive_uri: str | None,
    *,
    timeout: float = 60.0,
    progress: Callable[[int], None] | None = None,
) -> Outcome:
    """The original first; when it is lost or changed and a preserved copy is named, the copy.

    A verified copy keeps the source verified and says so; otherwise the original's finding
    stands, with what the copy showed beside it.
    """
    original = check_copy(uri, checksum, timeout=timeout, progress=progress)
    if original.status == "verified":
        return Outcome("verified", original.reason, original.observed_checksum, "original")
    if original.status == "unchecked" or archive_uri is None:
        return original
    archive = check_copy(archive_uri, checksum, timeout=timeout, progress=progress)
    if archive.status == "verified":
        return Outcome(
            "verified",
            f"the original is {original.status} ({original.reason}); the preserved copy at "
            f"{archive_uri} matches",
            archive.observed_checksum,
            "archive",
        )
    return Outcome(
        original.status,
        f"{original.reason}; the preserved copy is {archive.status} too ({archive.reason})",
        original.observed_checksum,
    )
