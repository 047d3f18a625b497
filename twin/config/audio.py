"""The music that follows a rider's cadence (seed 002): the audio player and its tempo path.

A session playing partner music sends a cadence sample every `sample_every_s` on the `tempo`
route (device -> ingest -> tempo service); the answer, a new tempo, goes back to the app's
audio player, which crosses to it at the next grain of the overlapping BPM transitions it
holds pre-buffered (`transition_ms`). Seed 002: "a 120-180ms delay between pedal strokes and
music tempo adjustments ... Apple Fitness+ clocks in at 80-100ms ... Spotify's workaround?
Pre-buffering 30-second audio segments with overlapping BPM transitions".

Stroke-to-tempo lag = the device's own delay (sensor and Bluetooth hop) + the network's round
trip + the route's latency on the platform + the wait for the next transition grain, plus a
sample period for each update lost on the way (the next sample carries the change). The
player fetches `segment_s` of audio at a time from the CDN and keeps `buffer_s` ahead; when
the CDN cannot refill it the buffer runs dry: the rider hears a gap, and no tempo change
(`twin.sim.audio_buffer`, `twin.sim.tempo_lag`).

Every default is an ASSUMPTION sized so that phase 3's tempo path reproduces the seed's
120-180 ms; the rival's figures are the seed's.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from twin.config.network import Frozen, ServiceTime

__all__ = ["RIVAL_TEMPO_LAG_MS", "SEED_TEMPO_LAG_MS", "Audio"]

SEED_TEMPO_LAG_MS = (120.0, 180.0)  # seed 002: beta testers, stroke to tempo change
RIVAL_TEMPO_LAG_MS = (80.0, 100.0)  # seed 002: Apple Fitness+ for similar features

Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]

# ASSUMPTION: a mobile round trip to the platform's region, median ~68 ms (4G/LTE medians in
# public crowd-sourced reports run 40-70 ms), spread cv 0.25.
_RTT = ServiceTime(dist="lognormal", mean_s=0.070, cv=0.25)


class Audio(Frozen):
    """The audio player of sessions playing music that follows cadence, and their tempo path."""

    sample_every_s: Positive = Field(
        default=2.0,  # ASSUMPTION: the tempo follows sustained cadence, not each stroke
        description="A music session sends a cadence sample on the tempo route this often (s).",
    )
    device_ms: NonNegative = Field(
        default=30.0,  # ASSUMPTION: a Bluetooth LE notification interval of ~30 ms
        description="From the stroke to the sample leaving the device: sensor and BLE (ms).",
    )
    network_rtt: ServiceTime = Field(
        default=_RTT,
        description="The round trip between the rider's device and the platform (s).",
    )
    transition_ms: NonNegative = Field(
        default=40.0,  # ASSUMPTION: the pre-buffered BPM transitions overlap every 40 ms
        description="The player crosses to a new tempo at the next grain of its overlapping "
        "BPM transitions, this far apart (ms): the wait is uniform over it.",
    )
    segment_s: Positive = Field(
        default=30.0, description="Audio fetched at a time from the CDN (s; seed 002: 30 s)."
    )
    buffer_s: Positive = Field(
        default=30.0,
        description="Audio the player keeps ahead (s; seed 002: one 30 s segment); when it "
        "runs dry the rider hears a gap.",
    )
    bitrate_kbps: Positive = Field(
        default=160.0,  # ASSUMPTION: a music stream's normal quality (160 kb/s Ogg Vorbis)
        description="The audio's bitrate (kb/s): what a segment costs the CDN.",
    )
    fetch_speedup: Positive = Field(
        default=25.0,  # ASSUMPTION: a 4 Mb/s share of the rider's link over 160 kb/s of audio
        description="Seconds of audio a player fetches per second when the CDN delivers "
        "all it asks; the CDN's delivered share scales it.",
    )
