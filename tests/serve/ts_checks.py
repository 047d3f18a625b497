"""Checks on MPEG-TS bytes as a player sees them: PTS per stream (FFmpeg's demuxer, through
PyAV) and continuity counters per PID (ISO/IEC 13818-1 2.4.3.3)."""

from __future__ import annotations

import io
from collections import defaultdict
from itertools import pairwise

import av

from twin.serve import ts

# 90 kHz ticks between consecutive packets: a 25 fps video frame, 1,024 AAC samples at 32 kHz
STEPS = {"video": {3_600}, "audio": {2_880}}


def pts_by_stream(data: bytes) -> dict[str, list[int]]:
    """Every packet's PTS per stream type, as PyAV's demuxer (FFmpeg's) reads them."""
    found: dict[str, list[int]] = defaultdict(list)
    with av.open(io.BytesIO(data), format="mpegts") as container:
        for packet in container.demux():
            if packet.pts is not None:
                found[packet.stream.type].append(packet.pts)
    return found


def continuity_breaks(data: bytes) -> list[tuple[int, int]]:
    """(packet number, PID) wherever a PID's 4-bit continuity counter does not step by one."""
    last: dict[int, int] = {}
    breaks = []
    for number in range(len(data) // ts.PACKET):
        packet = data[number * ts.PACKET : (number + 1) * ts.PACKET]
        pid, cc = ((packet[1] & 0x1F) << 8) | packet[2], packet[3] & 0x0F
        if pid == ts.NULL_PID or not packet[3] & 0x10:  # padding, or no payload
            continue
        if pid in last and cc != (last[pid] + 1) % 16:
            breaks.append((number, pid))
        last[pid] = cc
    return breaks


def steps_by_stream(found: dict[str, list[int]]) -> dict[str, set[int]]:
    """The distinct PTS steps of each stream, in the order sent (no B-frames), 33-bit wrap."""
    return {
        kind: {(b - a) % (1 << 33) for a, b in pairwise(values)} for kind, values in found.items()
    }
