"""The retraction tests use the auth tests' app and tokens."""

from tests.auth.conftest import issue, secured

__all__ = ["issue", "secured"]
