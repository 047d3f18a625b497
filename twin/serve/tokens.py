"""Signed bearer tokens: who is calling (`rider`, `device` or `admin`), until when, which token.

A token is `base64url(payload).base64url(HMAC-SHA256(secret, payload))` where the payload is
the JSON `{"k": kind, "s": subject, "e": expiry, "j": token id}`. No library is needed for so
small a format, and the HMAC comparison is constant-time. The secret is at least
`MIN_SECRET_BYTES` long. Lifetimes are capped by kind: `TTL_DEFAULT_S` when none is asked for,
never more than `TTL_MAX_S` (a token claiming a longer life is refused on arrival too). The
id (`jti`) is what `twin token --revoke` names; a `Signer` refuses the ids in its `revoked` set.
`require(request, kind, subject_id)` is what a handler calls: it answers 401 for a missing,
malformed, forged, expired or revoked token and 403 when the token
belongs to someone else. An admin token passes every check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from aiohttp import web

from twin.serve.problems import ApiError

__all__ = [
    "KINDS",
    "MIN_SECRET_BYTES",
    "SUBJECT",
    "TTL_DEFAULT_S",
    "TTL_MAX_S",
    "Signer",
    "Subject",
    "TokenError",
    "bearer",
    "check_secret",
    "check_ttl",
    "require",
    "sign",
    "verify",
]

KINDS = ("rider", "device", "admin")
MIN_SECRET_BYTES = 32
HOUR_S, DAY_S = 3600.0, 86_400.0
TTL_DEFAULT_S = {"rider": DAY_S, "device": DAY_S, "admin": HOUR_S}
TTL_MAX_S = {"rider": 7 * DAY_S, "device": 7 * DAY_S, "admin": DAY_S}
_CLOCK_SKEW_S = 60.0


class TokenError(Exception):
    """A token that cannot be trusted; the message says why (for the 401 body)."""


@dataclass(frozen=True, slots=True)
class Subject:
    """The verified holder of a token."""

    kind: str
    id: str
    expires: float
    jti: str = ""

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


def check_secret(secret: str) -> str:
    """`secret`, or ValueError when it is shorter than `MIN_SECRET_BYTES` (never shown)."""
    size = len(secret.encode())
    if size < MIN_SECRET_BYTES:
        raise ValueError(f"must be at least {MIN_SECRET_BYTES} bytes, got {size}")
    return secret


def check_ttl(kind: str, ttl_s: float | None) -> float:
    """The lifetime of a `kind` token: `ttl_s` if in (0, TTL_MAX_S[kind]], its default if None."""
    if ttl_s is None:
        return TTL_DEFAULT_S[kind]
    most = TTL_MAX_S[kind]
    if not 0 < ttl_s <= most:
        whose = "an admin" if kind == "admin" else f"a {kind}"
        raise ValueError(f"must be in (0, {most:g}] seconds for {whose} token, got {ttl_s:g}")
    return ttl_s


def sign(
    kind: str,
    subject_id: str,
    secret: str,
    ttl_s: float | None = None,
    *,
    now: float | None = None,
    jti: str | None = None,
) -> str:
    """A token for `kind:subject_id` valid for `ttl_s` seconds from `now` (default by kind)."""
    if kind not in KINDS:
        raise ValueError(f"token kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not subject_id:
        raise ValueError("token subject must not be empty")
    ttl_s = check_ttl(kind, ttl_s)
    expires = round((time.time() if now is None else now) + ttl_s)
    doc = {"k": kind, "s": subject_id, "e": expires, "j": jti or secrets.token_hex(8)}
    payload = json.dumps(doc, separators=(",", ":"))
    body = _b64(payload.encode())
    return f"{body}.{_mac(secret, body)}"


def _decode(body: str) -> Subject:
    try:
        doc = json.loads(_unb64(body))
    except (ValueError, binascii.Error) as exc:
        raise TokenError("malformed token") from exc
    if not isinstance(doc, dict):
        raise TokenError("malformed token")
    kind, ident, expires, jti = doc.get("k"), doc.get("s"), doc.get("e"), doc.get("j")
    if kind not in KINDS or not isinstance(ident, str) or not isinstance(expires, int):
        raise TokenError("malformed token")
    if not isinstance(jti, str) or not jti:
        raise TokenError("malformed token")
    return Subject(kind, ident, float(expires), jti)


def verify(token: str, secret: str, *, now: float | None = None) -> Subject:
    """The token's subject, or `TokenError` if it is malformed, forged or expired."""
    body, dot, mac = token.partition(".")
    if not dot or not body or not mac or not body.isascii() or not mac.isascii():
        raise TokenError("malformed token")
    if not hmac.compare_digest(mac, _mac(secret, body)):
        raise TokenError("bad token signature")
    subject = _decode(body)
    now = time.time() if now is None else now
    if subject.expires <= now:
        raise TokenError("token expired")
    if subject.expires - now > TTL_MAX_S[subject.kind] + _CLOCK_SKEW_S:
        raise TokenError(f"token lifetime exceeds the maximum for a {subject.kind} token")
    return subject


class Signer:
    """Signs and verifies with one secret, remembering tokens it already verified.

    A drill sends the same few thousand tokens over and over; the memo saves an HMAC and a JSON
    parse per request. It is bounded and emptied when full, so a flood of distinct forged tokens
    costs memory only up to `memo_size`; forged tokens are never memoised. `revoked` holds the
    ids refused even when well signed (kept current by `twin.serve.revocation`).
    """

    def __init__(self, secret: str, *, memo_size: int = 100_000) -> None:
        self.secret = check_secret(secret)
        self.revoked: frozenset[str] = frozenset()
        self._memo: dict[str, Subject] = {}
        self._memo_size = memo_size

    def sign(self, kind: str, subject_id: str, ttl_s: float | None = None) -> str:
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
        if subject.jti in self.revoked:
            raise TokenError("token revoked")
        return subject


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
