"""Signed bearer tokens: who is calling (`rider`, `device` or `admin`) and until when.

A token is `base64url(payload).base64url(HMAC-SHA256(secret, payload))` where the payload is
the JSON `{"k": kind, "s": subject, "e": expiry}`. No library is needed for so small a format,
and the HMAC comparison is constant-time. `require(request, kind, subject_id)` is what a handler
calls: it answers 401 for a missing, malformed, forged or expired token and 403 when the token
belongs to someone else. An admin token passes every check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from twin.serve.problems import ApiError

__all__ = [
    "DEV_SECRET",
    "KINDS",
    "SUBJECT",
    "Signer",
    "Subject",
    "TokenError",
    "bearer",
    "require",
    "secret_from_env",
    "sign",
    "verify",
]

KINDS = ("rider", "device", "admin")
DEV_SECRET = "twin-development-secret-do-not-use-in-production"
DEFAULT_TTL_S = 30 * 86_400.0


class TokenError(Exception):
    """A token that cannot be trusted; the message says why (for the 401 body)."""


@dataclass(frozen=True, slots=True)
class Subject:
    """The verified holder of a token."""

    kind: str
    id: str
    expires: float

    @property
    def key(self) -> str:
        """Identity for per-token rate limits: `rider:r42`."""
        return f"{self.kind}:{self.id}"


# Where the auth middleware leaves the verified subject on the request.
SUBJECT = web.RequestKey("twin_subject", Subject)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), body.encode("ascii"), hashlib.sha256).digest())


def sign(
    kind: str,
    subject_id: str,
    secret: str,
    ttl_s: float = DEFAULT_TTL_S,
    *,
    now: float | None = None,
) -> str:
    """A token for `kind:subject_id` valid for `ttl_s` seconds from `now`."""
    if kind not in KINDS:
        raise ValueError(f"token kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not subject_id:
        raise ValueError("token subject must not be empty")
    if not ttl_s > 0:
        raise ValueError(f"token ttl must be > 0 seconds, got {ttl_s}")
    expires = round((time.time() if now is None else now) + ttl_s)
    payload = json.dumps({"k": kind, "s": subject_id, "e": expires}, separators=(",", ":"))
    body = _b64(payload.encode())
    return f"{body}.{_mac(secret, body)}"


def _decode(body: str) -> Subject:
    try:
        doc = json.loads(_unb64(body))
    except (ValueError, binascii.Error) as exc:
        raise TokenError("malformed token") from exc
    if not isinstance(doc, dict):
        raise TokenError("malformed token")
    kind, ident, expires = doc.get("k"), doc.get("s"), doc.get("e")
    if kind not in KINDS or not isinstance(ident, str) or not isinstance(expires, int):
        raise TokenError("malformed token")
    return Subject(kind, ident, float(expires))


def verify(token: str, secret: str, *, now: float | None = None) -> Subject:
    """The token's subject, or `TokenError` if it is malformed, forged or expired."""
    body, dot, mac = token.partition(".")
    if not dot or not body or not mac or not body.isascii() or not mac.isascii():
        raise TokenError("malformed token")
    if not hmac.compare_digest(mac, _mac(secret, body)):
        raise TokenError("bad token signature")
    subject = _decode(body)
    if subject.expires <= (time.time() if now is None else now):
        raise TokenError("token expired")
    return subject


class Signer:
    """Signs and verifies with one secret, remembering tokens it already verified.

    A drill sends the same few thousand tokens over and over; the memo saves an HMAC and a JSON
    parse per request. It is bounded and emptied when full, so a flood of distinct forged tokens
    costs memory only up to `memo_size`; forged tokens are never memoised.
    """

    def __init__(self, secret: str, *, memo_size: int = 100_000) -> None:
        self.secret = secret
        self._memo: dict[str, Subject] = {}
        self._memo_size = memo_size

    def sign(self, kind: str, subject_id: str, ttl_s: float = DEFAULT_TTL_S) -> str:
        return sign(kind, subject_id, self.secret, ttl_s)

    def verify(self, token: str) -> Subject:
        subject = self._memo.get(token)
        now = time.time()
        if subject is None:
            subject = verify(token, self.secret, now=now)
            if len(self._memo) >= self._memo_size:
                self._memo.clear()
            self._memo[token] = subject
        elif subject.expires <= now:
            del self._memo[token]
            raise TokenError("token expired")
        return subject


def secret_from_env(env: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """`(secret, is_development_default)` from `TWIN_SECRET`."""
    value = (os.environ if env is None else env).get("TWIN_SECRET", "")
    return (value, False) if value else (DEV_SECRET, True)


def bearer(request: web.Request) -> str | None:
    """The raw token of an `Authorization: Bearer ...` header, if any."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "Authorization header must be 'Bearer <token>'", headers=_CHALLENGE)
    return token.strip()


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="twin"'}


def require(
    request: web.Request, kind: str | None = None, subject_id: str | None = None
) -> Subject:
    """The caller's subject; 401 if unauthenticated, 403 if not `kind:subject_id` (admin passes).

    `kind=None` accepts any valid token; `subject_id=None` any subject of that kind.
    """
    subject: Subject | None = request.get(SUBJECT)
    if subject is None:
        raise ApiError(401, "missing bearer token", headers=_CHALLENGE)
    if subject.kind == "admin" or kind is None:
        return subject
    if subject.kind != kind:
        raise ApiError(403, f"a {subject.kind} token cannot do this: it needs a {kind} token")
    if subject_id is not None and subject.id != subject_id:
        raise ApiError(403, f"this token is for {kind} {subject.id!r}, not {subject_id!r}")
    return subject
