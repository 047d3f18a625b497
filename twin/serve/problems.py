"""The one error a handler raises to answer a client: `ApiError(status, message)`.

The error middleware turns it into a JSON body `{"error": message}` with that status, so no
handler formats an error response itself. Messages name the offending field the way the
validation does: `samples[3].heart_rate_bpm: 260 is above 250`.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ApiError", "bad_request", "not_found"]


class ApiError(Exception):
    """A client-caused failure: 4xx status, one-line message, optional extra headers."""

    def __init__(
        self, status: int, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def bad_request(field: str, message: str) -> ApiError:
    """A 400 naming the field: `bad_request("samples[3].seq", "must be >= 0")`."""
    return ApiError(400, f"{field}: {message}" if field else message)


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, f"unknown {what} {ident!r}")
