"""Segment templates (`ts`) on a real encode: segment `seq` in pieces is the whole-buffer rewrite,
its timestamps and continuity counters run on across a segment boundary, and a short last
segment is the template cut at a packet.

A small rendition (320x180) keeps the encode under a second; the served renditions are checked
over HTTP by `test_hls_client.py`.
"""

from __future__ import annotations

import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.serve.ts_checks import STEPS, continuity_breaks, pts_by_stream, steps_by_stream
from twin.serve import hls, ts
from twin.serve.faults import Faults
from twin.serve.hls_media import FPS, load_template
from twin.serve.streaming import Origin

SMALL = hls.Rendition("test", 320, 180, 600_000)
SEGMENT_S = 4.0


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def template(cache: Path) -> ts.SegmentTemplate:
    return load_template(SMALL, SEGMENT_S, cache)


@settings(max_examples=40, deadline=None)
@given(seq=st.integers(min_value=0, max_value=1 << 40))
def test_pieces_are_the_whole_buffer_rewrite(template: ts.SegmentTemplate, seq: int) -> None:
    pieces = template.pieces(seq)
    assert all(pieces) and b"".join(pieces) == bytes(template.at(seq))


def test_only_timestamped_packets_are_copied(template: ts.SegmentTemplate) -> None:
    # Each piece is either one packet carrying a timestamp (copied and patched), or a run of
    # the template's own bytes, shared with every other segment and never copied.
    pieces, other = template.pieces(7), template.pieces(8)
    patched = [k for k, piece in enumerate(pieces) if len(piece) == ts.PACKET]
    video_frames = round(SEGMENT_S * 25)
    assert video_frames <= len(patched) < 2 * video_frames  # a PES per frame, audio grouped
    shared = [k for k in range(len(pieces)) if k not in patched and len(pieces[k]) > ts.PACKET]
    assert all(pieces[k] is other[k] for k in shared)
    assert sum(len(pieces[k]) for k in patched) < len(template.data) // 10


def test_timestamps_run_on_across_consecutive_segments(template: ts.SegmentTemplate) -> None:
    for seq in (0, 41, (1 << 33) // 360_000):  # the last pair crosses the 33-bit wrap
        joined = b"".join(template.pieces(seq) + template.pieces(seq + 1))
        found = pts_by_stream(joined)
        assert steps_by_stream(found) == STEPS, seq
        assert len(found["video"]) == 2 * SEGMENT_S * FPS


def test_continuity_counters_run_on_across_a_segment_boundary(
    template: ts.SegmentTemplate,
) -> None:
    five, six = b"".join(template.pieces(5)), b"".join(template.pieces(6))
    assert continuity_breaks(five + six + b"".join(template.pieces(7))) == []
    # the check sees a lost packet: segment 6 without its first (the SDT, PID 0x11), found
    # where that PID is next sent
    lost = continuity_breaks(five + six[ts.PACKET :])
    assert [pid for _, pid in lost] == [0x11] and lost[0][0] >= len(five) // ts.PACKET


def test_segment_is_the_declared_size_and_the_cache_file_is_readable(
    template: ts.SegmentTemplate, cache: Path
) -> None:
    assert len(template.data) == hls.segment_bytes(SMALL.bandwidth_bps, SEGMENT_S) // 188 * 188
    (path,) = cache.glob("test-320x180-*.ts")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not list(cache.glob("*.part"))


def test_cut_keeps_the_first_bytes_in_pieces() -> None:
    pieces = [b"abc", b"de", b"fghij"]
    for nbytes in range(11):
        assert b"".join(ts.cut(pieces, nbytes)) == b"abcdefghij"[:nbytes]
    assert ts.cut(pieces, 4) == [b"abc", b"d"]


def test_a_short_last_segment_is_the_template_cut_at_a_packet(cache: Path) -> None:
    origin = Origin(None, Faults(), media_dir=cache, renditions=(SMALL,))
    info = SimpleNamespace(id="od-test", live=False, duration_s=10.0)  # 4 s, 4 s, 2 s
    template = origin.templates[SMALL.name]
    whole = b"".join(origin.segment(info, SMALL, 1))
    last = b"".join(origin.segment(info, SMALL, 2))
    assert whole == bytes(template.at(1))
    packets = len(template.data) // ts.PACKET
    assert last == bytes(template.at(2))[: round(packets / 2) * ts.PACKET]
