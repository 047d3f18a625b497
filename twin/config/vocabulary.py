"""The platform's vocabulary: the devices, markets, renditions and telemetry batch that every
layer names the same way (the domain, the engines, the reference platform and the drills).

Plain constants and frozen records, no behaviour: a lower layer than the domain may use them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BITRATE_MBPS",
    "DEVICES",
    "REGIONS",
    "REGION_CODES",
    "RENDITIONS",
    "TELEMETRY_BATCH_S",
    "Region",
]

DEVICES: tuple[str, ...] = ("bike", "tread", "app")


@dataclass(frozen=True, slots=True)
class Region:
    """One market (seed 003's list) with its share of riders and its time zones."""

    code: str
    name: str
    share: float
    zones: tuple[tuple[str, float], ...]


# The markets are seed 003's (US, UK, AU, DE, AT, CA, MX, SE, ES). Shares are an ASSUMPTION:
# the seeds give none; a North-American-heavy membership (most members are in the US) with
# small European and Australian markets, and the three partner-only markets (MX, SE, ES) small.
# Zone weights within a market follow its population by time zone (public census shares,
# rounded: US Eastern 47%, Central 29%, Mountain 7%, Pacific 17%).
REGIONS: tuple[Region, ...] = (
    Region(
        "US",
        "United States",
        0.800,
        (
            ("America/New_York", 0.47),
            ("America/Chicago", 0.29),
            ("America/Denver", 0.07),
            ("America/Los_Angeles", 0.17),
        ),
    ),
    Region("UK", "United Kingdom", 0.060, (("Europe/London", 1.0),)),
    Region("AU", "Australia", 0.030, (("Australia/Sydney", 0.80), ("Australia/Perth", 0.20))),
    Region("DE", "Germany", 0.030, (("Europe/Berlin", 1.0),)),
    Region("AT", "Austria", 0.005, (("Europe/Vienna", 1.0),)),
    Region("CA", "Canada", 0.060, (("America/Toronto", 0.75), ("America/Vancouver", 0.25))),
    Region("MX", "Mexico", 0.007, (("America/Mexico_City", 1.0),)),
    Region("SE", "Sweden", 0.004, (("Europe/Stockholm", 1.0),)),
    Region("ES", "Spain", 0.004, (("Europe/Madrid", 1.0),)),
)
REGION_CODES: tuple[str, ...] = tuple(r.code for r in REGIONS)

RENDITIONS: tuple[str, ...] = ("720p", "1080p", "4k")
# Bitrates: 720p ~3 Mb/s, 1080p ~6 Mb/s, 4K ~16 Mb/s, within Apple's HLS authoring
# specification ladder (720p 3-4.5, 1080p 6-7.8 Mb/s; 2160p 11.6-16.8 Mb/s HEVC).
BITRATE_MBPS = np.array([3.0, 6.0, 16.0])
TELEMETRY_BATCH_S = 5.0  # ASSUMPTION: a device posts its 1 Hz samples in batches every 5 s
