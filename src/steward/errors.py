"""The one exception hierarchy of Steward.

Every error a user can cause is a :class:`StewardError` subclass. Each class carries the
machine-readable ``code`` sent to HTTP clients, the ``http_status`` the server answers
with and the ``exit_code`` the CLI exits with. Messages say what was wrong, the value
given and what to do; they are safe to show to API clients.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, ClassVar


class StewardError(Exception):
    """Root of every error Steward raises on purpose."""

    code: ClassVar[str] = "internal_error"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON error body the server sends for this error."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class InvalidInput(StewardError):
    """A value given by the caller is malformed or out of range."""

    code = "invalid_input"
    http_status = 400
    exit_code = 2


class NotFound(StewardError):
    """The named entity does not exist."""

    code = "not_found"
    http_status = 404
    exit_code = 3


class AlreadyExists(StewardError):
    """An entity with that identity exists already."""

    code = "already_exists"
    http_status = 409
    exit_code = 4


class Conflict(StewardError):
    """The request contradicts what is stored (a param re-logged with another value...)."""

    code = "conflict"
    http_status = 409
    exit_code = 4


class PermissionDenied(StewardError):
    """The actor may not do this."""

    code = "permission_denied"
    http_status = 403
    exit_code = 5


class PolicyViolation(StewardError):
    """A governance policy forbids this change."""

    code = "policy_violation"
    http_status = 422
    exit_code = 6


class IntegrityError(StewardError):
    """Stored content does not match its recorded hash: it was altered or corrupted."""

    code = "integrity_error"
    http_status = 409
    exit_code = 7


class ServerUnavailable(StewardError):
    """The team server cannot be reached or answered with a server error."""

    code = "server_unavailable"
    http_status = 503
    exit_code = 8


ERRORS_BY_CODE: dict[str, type[StewardError]] = {
    cls.code: cls
    for cls in (
        StewardError,
        InvalidInput,
        NotFound,
        AlreadyExists,
        Conflict,
        PermissionDenied,
        PolicyViolation,
        IntegrityError,
        ServerUnavailable,
    )
}


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return ' Did you mean 'x'?' for the closest choice, or '' when none is close."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
