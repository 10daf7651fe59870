"""The secured app and token issuing of the auth tests, for the sources' scope test."""

from tests.auth.conftest import issue, secured

__all__ = ["issue", "secured"]
