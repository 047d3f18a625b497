"""Incident windows as the report shows them: clipped to the run, their true length told.

A scenario may describe an incident longer than the run (a surge of eight hours in a
one-hour run) or one that starts after it ends. The plots mark only what the run
simulated; a window that covers the whole run is stated, not hatched over every plot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from twin.report.units import MISSING, fmt_count, fmt_duration_s
from twin.results.reading import Window

__all__ = ["Shown", "clip_windows", "incident_rows", "marked_windows"]


@dataclass(frozen=True)
class Shown:
    """An incident as the run saw it: the clipped window and how it relates to the run."""

    window: Window  # clipped to [start, end] of the run
    described_end_s: float  # the end the scenario gave (inf: open-ended)
    whole_run: bool  # covers the run from its first to its last second

    @property
    def cut(self) -> bool:
        return self.described_end_s > self.window.end_s


def clip_windows(windows: Sequence[Window], start_s: float, end_s: float) -> tuple[Shown, ...]:
    """Windows that overlap the run `[start_s, end_s]`, clipped to it; the others dropped."""
    shown = []
    for window in windows:
        low, high = max(window.start_s, start_s), min(window.end_s, end_s)
        if high <= low:
            continue
        clipped = Window(window.label, low, high)
        shown.append(Shown(clipped, window.end_s, low <= start_s and high >= end_s))
    return tuple(shown)


def marked_windows(shown: Sequence[Shown]) -> tuple[Window, ...]:
    """The windows the time plots hatch: all but those covering the whole run."""
    return tuple(s.window for s in shown if not s.whole_run)


def _ends(item: Shown) -> str:
    end = item.window.end_s
    if not item.cut:
        return f"{fmt_count(round(end))} s"
    if math.isinf(item.described_end_s):
        return f"{fmt_count(round(end))} s (end of run; open-ended)"
    described = fmt_duration_s(item.described_end_s)
    return f"{fmt_count(round(end))} s (end of run; described to {described})"


def _starts(start_s: float) -> str:
    if start_s <= 0:
        return "start of run"
    return f"{fmt_count(round(start_s))} s ({fmt_duration_s(start_s)})"


def incident_rows(shown: Sequence[Shown]) -> list[tuple[str, str, str, str, str]]:
    """Per incident: name, start, end within the run, length within the run, how it is drawn."""
    rows = []
    for item in shown:
        window = item.window
        start = _starts(window.start_s)
        drawn = "whole run: not hatched" if item.whole_run else "hatched on every time plot"
        length = fmt_duration_s(window.end_s - window.start_s) if window.end_s > 0 else MISSING
        rows.append((window.label, start, _ends(item), length, drawn))
    return rows
