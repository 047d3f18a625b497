"""The request pipeline of `twin serve`, outermost first (after the edge's fault injection):

    metrics -> errors -> body limit -> auth -> rate limit -> handler

`metrics` times and counts every request by route name and final status. `errors` is the
promise that nothing a client sends earns a 500: `ApiError`s and aiohttp's own HTTP errors
(404 for no route, 405, 413) become `{"error": "..."}` with their status, storage that is down
is a 503 with `Retry-After` (nothing was acknowledged), a client that left mid-request is one
line at info level and a 499 in the metrics (`ClientGone`), and only a genuine bug is a logged
500.
`body_limit` refuses an announced body over `max_body_bytes` before reading it (aiohttp's
`client_max_size` catches unannounced ones). `auth` verifies a bearer token when one is sent
(a bad, expired or revoked one is a 401; a missing one is left to `require` in the handler); an
admin token is a 403 unless the server runs with `--admin`, and from a client that is not on
loopback unless also `--admin-remote` (behind a proxy on the same host, every client is).
`rate_limit` applies the per-token bucket; admin tokens are exempt so a drill can always clear
its faults. A telemetry handler spends the token's charge itself, with the write (one Redis
call); if it fails before that, the middleware spends it, so a flood of bad batches still
meets its 429. On the Redis backend, `share_faults` (innermost) publishes the faults after an
admin call changed them, so every worker process applies them (`twin.serve.fault_sync`).
"""

from __future__ import annotations

import ipaddress
import logging
import sqlite3
import time

from aiohttp import web
from aiohttp.typedefs import Handler
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from twin.serve.problems import ApiError
from twin.serve.ratelimit import Charge, refusal
from twin.serve.state import STATE
from twin.serve.tokens import SUBJECT, TokenError, bearer

__all__ = [
    "CHARGED_BY_HANDLER",
    "CLIENT_GONE",
    "PENDING_CHARGE",
    "PUBLIC_ROUTES",
    "ClientGone",
    "auth",
    "body_limit",
    "error_response",
    "errors",
    "metrics",
    "rate_limit",
    "refused",
    "route_name",
    "share_faults",
    "spend",
]

log = logging.getLogger("twin.serve")

PUBLIC_ROUTES = frozenset({"healthz", "metrics", "openapi"})
# Routes whose handler spends the token's charge itself, with the backend's write (telemetry:
# on Redis the token's bucket, the device's bucket and the write are one Lua call).
CHARGED_BY_HANDLER = frozenset({"telemetry"})
CLIENT_GONE = 499  # the status the metrics count for a request whose client left
PENDING_CHARGE = web.RequestKey("twin_pending_charge", Charge)
_KEPT_HEADERS = ("Retry-After", "Allow", "WWW-Authenticate")
# Storage that is down or restarting: the client should retry, and nothing was acknowledged.
_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, BusyLoadingError, sqlite3.OperationalError)


def route_name(request: web.Request) -> str:
    """The route's name (`telemetry`, ...), or `unmatched` for requests no route took."""
    return request.match_info.route.name or "unmatched"


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


@web.middleware
async def metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - started
        request.app[STATE].metrics.observe_request(
            route_name(request), request.method, status, elapsed
        )


def _http_error_message(request: web.Request, exc: web.HTTPException) -> str:
    if exc.status == 404 and route_name(request) == "unmatched":
        return f"no such resource: {request.method} {request.path}"
    if exc.status == 405:
        return f"method {request.method} not allowed on {request.path}"
    text = exc.text or ""
    return text if text and not text.startswith(f"{exc.status}:") else exc.reason


class ClientGone(web.Response):
    """What a handler whose client left answers: nothing is sent (the connection is closed).

    Counted in the metrics as 499 (nginx's "client closed request"), neither a 5xx of ours nor
    a 4xx we sent. Raised out of the handler instead, the reset reached aiohttp as an
    unhandled error: a traceback in the log for every player that closed its connection.
    """

    def __init__(self) -> None:
        super().__init__(status=CLIENT_GONE)

    async def prepare(self, request: web.BaseRequest) -> None:
        raise ConnectionResetError("the client closed the connection")


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.message, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        kept = {k: exc.headers[k] for k in _KEPT_HEADERS if k in exc.headers}
        return error_response(exc.status, _http_error_message(request, exc), kept)
    except _UNAVAILABLE as exc:
        log.warning("storage unavailable on %s %s: %s", request.method, request.path, exc)
        return error_response(503, "storage unavailable, retry", {"Retry-After": "1"})
    except ConnectionResetError as exc:  # the client left: no one to answer, not a bug
        log.info("client left mid-request: %s %s (%s)", request.method, request.path, exc)
        return ClientGone()
    except Exception:  # a bug of ours, not the client's: log it, answer 500 without details
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal server error")


@web.middleware
async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    limit = request.app[STATE].settings.max_body_bytes
    length = request.content_length
    if length is not None and length > limit:
        raise ApiError(413, f"body of {length} bytes exceeds the limit of {limit} bytes")
    return await handler(request)


@web.middleware
async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if route_name(request) not in PUBLIC_ROUTES:
        token = bearer(request)
        if token is not None:
            try:
                subject = request.app[STATE].signer.verify(token)
            except TokenError as exc:
                raise ApiError(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc
            if subject.kind == "admin":
                _admit_admin(request)
            request[SUBJECT] = subject
    return await handler(request)


def _admit_admin(request: web.Request) -> None:
    """403 unless the server takes admin tokens (`--admin`) from this client's address."""
    settings = request.app[STATE].settings
    if not settings.admin:
        raise ApiError(403, "admin tokens are not accepted: this server runs without --admin")
    if not settings.admin_remote and not _loopback(request.remote):
        raise ApiError(403, "admin requests are accepted from loopback only (--admin-remote)")


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:  # a Unix socket's peer, or anything unparsable: not loopback
        return False


@web.middleware
async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    subject = request.get(SUBJECT)
    if subject is None or subject.kind == "admin":
        return await handler(request)
    charge = Charge(request.app[STATE].user_limiter, subject.key)
    if route_name(request) not in CHARGED_BY_HANDLER:
        await spend(request, charge)
        return await handler(request)
    request[PENDING_CHARGE] = charge  # the handler spends it together with its own
    try:
        return await handler(request)
    except Exception:
        if request.get(PENDING_CHARGE) is not None:  # refused before: it still costs a token
            await spend(request, charge)
        raise


async def spend(request: web.Request, charge: Charge) -> None:
    """Spend `charge`, or raise its 429 (counted by limit name)."""
    wait = await charge.spend()
    if wait > 0:
        raise refused(request, charge, wait)


def refused(request: web.Request, charge: Charge, wait: float) -> ApiError:
    request.app[STATE].metrics.rate_limited.labels(charge.limiter.name).inc()
    return refusal(charge, wait)


@web.middleware
async def share_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """(Redis backend) After an admin call changed this worker's faults, publish them."""
    response = await handler(request)
    changed = request.method != "GET" and response.status < 400
    if changed and route_name(request).startswith("admin"):
        sync = request.app[STATE].fault_sync
        if sync is not None:
            await sync.publish()
    return response
