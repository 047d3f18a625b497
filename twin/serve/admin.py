"""The fault-injection admin API: what a drill calls to replay an incident for real.

Every route needs an admin token (`twin token --admin`). The faults document is

    {"routes": {"<route name>": {"latency_s": 0.2, "error_ratio": 0.05}},
     "paused_consumers": 0, "origin_down": false, "origin_egress_bps": null}

`GET /v1/admin/faults` reads it; `PATCH` merges a partial document (a route set to null is
cleared); `DELETE` clears everything; `PUT`/`DELETE /v1/admin/faults/routes/{route}` set or
clear one route. Route names are the app's own (the request-type vocabulary); the incidents
map onto these: the 2021 IoT overload is paused consumers, the 2022 broadcast failure is
`origin_down`, the 2020 surge's CDN limit is `origin_egress_bps` (bits per second).
A patch is validated whole before anything changes.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from twin.serve.fault_injection import is_faultable
from twin.serve.faults import Faults
from twin.serve.problems import ApiError, bad_request
from twin.serve.state import STATE
from twin.serve.tokens import require
from twin.serve.validation import parse_json

__all__ = ["MAX_EGRESS_BPS", "MAX_LATENCY_S", "faults_document", "setup"]

MAX_LATENCY_S = 60.0  # longer than any client waits; more would only pile up connections
MAX_EGRESS_BPS = 1e12  # 1 Tb/s: far above any origin, still a finite number
_ROUTE_FIELDS = frozenset({"latency_s", "error_ratio"})
_PATCH_FIELDS = frozenset({"routes", "paused_consumers", "origin_down", "origin_egress_bps"})


def faults_document(faults: Faults) -> dict[str, Any]:
    """The faults in force as the JSON document the API reads and writes."""
    names = sorted(set(faults.route_latency_s) | set(faults.route_error_ratio))
    routes = {
        name: {
            "latency_s": faults.route_latency_s.get(name, 0.0),
            "error_ratio": faults.route_error_ratio.get(name, 0.0),
        }
        for name in names
    }
    return {
        "routes": routes,
        "paused_consumers": faults.paused_consumers,
        "origin_down": faults.origin_down,
        "origin_egress_bps": faults.origin_egress_bps,
    }


def _number(value: Any, field: str, lo: float, hi: float) -> float:
    if type(value) not in (int, float) or not math.isfinite(value) or not lo <= value <= hi:
        raise bad_request(field, f"must be a number in {lo:g}..{hi:g}, got {value!r:.40}")
    return float(value)


def _route_fault(doc: Any, where: str) -> tuple[float, float]:
    if not isinstance(doc, dict):
        raise bad_request(where, "must be an object with latency_s and/or error_ratio")
    unknown = doc.keys() - _ROUTE_FIELDS
    if unknown:
        raise bad_request(where, f"unknown field {sorted(unknown)[0]!r}")
    latency = _number(doc.get("latency_s", 0.0), f"{where}.latency_s", 0.0, MAX_LATENCY_S)
    ratio = _number(doc.get("error_ratio", 0.0), f"{where}.error_ratio", 0.0, 1.0)
    return latency, ratio


def _known_route(app: web.Application, name: str, field: str) -> str:
    names = sorted(n for n in app.router.named_resources() if is_faultable(n))
    if name not in names:
        raise bad_request(field, f"unknown route {name!r:.60} (known: {', '.join(names)})")
    return name


def _set_route(faults: Faults, name: str, fault: tuple[float, float] | None) -> None:
    latency, ratio = fault or (0.0, 0.0)
    for table, value in ((faults.route_latency_s, latency), (faults.route_error_ratio, ratio)):
        if value > 0:
            table[name] = value
        else:
            table.pop(name, None)


def _parse_patch(app: web.Application, doc: Any) -> dict[str, Any]:
    """The validated changes of a PATCH; raises a 400 naming the first bad field."""
    if not isinstance(doc, dict):
        raise bad_request("", "must be a JSON object")
    unknown = doc.keys() - _PATCH_FIELDS
    if unknown:
        raise bad_request(sorted(unknown)[0], "unknown field")
    changes: dict[str, Any] = {"routes": _parse_routes(app, doc.get("routes", {}))}
    if "paused_consumers" in doc:
        most = app[STATE].settings.consumers
        value = doc["paused_consumers"]
        if type(value) is not int or not 0 <= value <= most:
            raise bad_request("paused_consumers", f"must be an integer in 0..{most}")
        changes["paused_consumers"] = value
    if "origin_down" in doc:
        if not isinstance(doc["origin_down"], bool):
            raise bad_request("origin_down", "must be true or false")
        changes["origin_down"] = doc["origin_down"]
    if "origin_egress_bps" in doc:
        bps = doc["origin_egress_bps"]
        if bps is not None:
            bps = _number(bps, "origin_egress_bps", 1.0, MAX_EGRESS_BPS)
        changes["origin_egress_bps"] = bps
    return changes


def _parse_routes(app: web.Application, routes: Any) -> dict[str, tuple[float, float] | None]:
    """`{route: fault or None}` from a patch's `routes` object."""
    if not isinstance(routes, dict):
        raise bad_request("routes", "must be an object keyed by route name")
    return {
        _known_route(app, name, f"routes.{name}"): (
            None if fault is None else _route_fault(fault, f"routes.{name}")
        )
        for name, fault in routes.items()
    }


def _apply(faults: Faults, changes: dict[str, Any]) -> None:
    for name, fault in changes.pop("routes").items():
        _set_route(faults, name, fault)
    for field, value in changes.items():
        setattr(faults, field, value)


async def _body(request: web.Request) -> Any:
    return parse_json(await request.read())


def _answer(request: web.Request) -> web.Response:
    return web.json_response(faults_document(request.app[STATE].faults))


async def get_faults(request: web.Request) -> web.Response:
    require(request, "admin")
    return _answer(request)


async def patch_faults(request: web.Request) -> web.Response:
    require(request, "admin")
    changes = _parse_patch(request.app, await _body(request))
    _apply(request.app[STATE].faults, changes)
    return _answer(request)


async def clear_faults(request: web.Request) -> web.Response:
    require(request, "admin")
    request.app[STATE].faults.clear()
    return _answer(request)


async def put_route(request: web.Request) -> web.Response:
    require(request, "admin")
    name = request.match_info["route"]
    if not is_faultable(name) or name not in request.app.router.named_resources():
        raise ApiError(404, f"unknown route {name!r:.60}")
    fault = _route_fault(await _body(request), "")
    _set_route(request.app[STATE].faults, name, fault)
    return _answer(request)


async def clear_route(request: web.Request) -> web.Response:
    require(request, "admin")
    name = request.match_info["route"]
    if not is_faultable(name) or name not in request.app.router.named_resources():
        raise ApiError(404, f"unknown route {name!r:.60}")
    _set_route(request.app[STATE].faults, name, None)
    return _answer(request)


def setup(app: web.Application) -> None:
    """Add the admin routes (names start with `admin`, which faults never touch)."""
    path = "/v1/admin/faults"
    app.router.add_get(path, get_faults, name="admin", allow_head=False)
    app.router.add_patch(path, patch_faults, name="admin.update")
    app.router.add_delete(path, clear_faults, name="admin.clear")
    app.router.add_put(f"{path}/routes/{{route}}", put_route, name="admin.route")
    app.router.add_delete(f"{path}/routes/{{route}}", clear_route, name="admin.route_clear")
