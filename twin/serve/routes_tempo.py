"""The tempo service: `POST /v1/devices/{device_id}/tempo` (route `tempo`, seed 002).

A bike, tread or phone sends its rider's cadence as it rides (`{"t": unix s, "cadence_rpm":
88}`); the backend keeps the device's samples of the last `WINDOW_S` seconds and the answer
is the music's new tempo for the app's audio player (`twin.serve.tempo_bpm`: the smoothed
cadence, one beat per stroke, folded into the music's range; `bpm` null when the rider
stopped). The sample is checked as telemetry is (its clock bounds and the cadence's), with
the device's token.
"""

from __future__ import annotations

import time

from aiohttp import web

from twin.serve.state import STATE
from twin.serve.tempo_bpm import WINDOW_S, tempo_of
from twin.serve.tokens import require
from twin.serve.validation import check_id, parse_json, parse_tempo

__all__ = ["setup"]


async def tempo(request: web.Request) -> web.Response:
    device_id = check_id(request.match_info["device_id"], "device_id")
    require(request, "device", device_id)
    state = request.app[STATE]
    settings = state.settings
    sample = parse_tempo(
        parse_json(await request.read()),
        now=time.time(),
        max_future_s=settings.max_future_s,
        max_age_s=settings.max_age_s,
    )
    window = await state.backend.cadence_window(device_id, sample.t, sample.cadence_rpm, WINDOW_S)
    answer = tempo_of(window)
    return web.json_response(
        {
            "device_id": device_id,
            "bpm": answer.bpm,
            "cadence_rpm": answer.cadence_rpm,
            "samples": answer.samples,
            "window_s": WINDOW_S,
        }
    )


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/devices/{device_id}/tempo", tempo, name="tempo")
