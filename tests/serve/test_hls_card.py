"""The test card burned into every segment: its clock counts frames, only the clock and the
sweep move, and the encoded segment shows them (decoded by FFmpeg through PyAV)."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest

from twin.serve import hls
from twin.serve.hls_card import Card, clock_text
from twin.serve.hls_media import FPS, card, load_template

SMALL = hls.Rendition("card", 640, 360, 1_200_000)


def test_clock_reads_minutes_seconds_and_frame() -> None:
    assert clock_text(0, 25) == "00:00.00"
    assert clock_text(59, 25) == "00:02.09"
    assert clock_text(61 * 25 + 24, 25) == "01:01.24"


def test_only_the_clock_and_the_sweep_move() -> None:
    still = Card(320, 180, "title", ("a line",))
    first, later = next(still.frames(100, 25)), list(still.frames(100, 25))[59]
    box, sweep = still.layout.clock_box, still.layout.ramp_start
    moved = np.argwhere(first[:180] != later[:180])
    assert len(moved)
    rows, columns = moved[:, 0], moved[:, 1]
    in_clock = (rows >= box.top) & (rows < box.bottom) & (columns >= box.left)
    assert np.all(in_clock | (moved[:, 0] >= sweep))
    assert np.array_equal(first[180:], later[180:])  # chroma untouched: the clock is luma only


def test_a_picture_needs_even_sides() -> None:
    with pytest.raises(ValueError, match="even"):
        Card(321, 180, "title", ())


def _decoded_luma(data: bytes, height: int) -> list[np.ndarray]:
    with av.open(io.BytesIO(data), format="mpegts") as container:
        return [f.to_ndarray(format="yuv420p")[:height] for f in container.decode(video=0)]


def test_the_encoded_segment_shows_the_clock_running(tmp_path: Path) -> None:
    template = load_template(SMALL, 4.0, tmp_path)
    decoded = _decoded_luma(bytes(template.at(3)), SMALL.height)
    drawn = list(card(SMALL).frames(len(decoded), FPS))
    box = card(SMALL).layout.clock_box.region

    def distance(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean(np.abs(a[box].astype(int) - b[box].astype(int))))

    assert len(decoded) == 4 * FPS
    for index in (0, 59, 99):  # what was drawn is what a player decodes...
        assert distance(decoded[index], drawn[index][: SMALL.height]) < 3
    # ...and the clock visibly changes: 00:00.00 against 00:02.09
    assert distance(decoded[0], decoded[59]) > 5 * distance(decoded[59], drawn[59][: SMALL.height])
