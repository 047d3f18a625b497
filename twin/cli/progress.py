"""A progress bar that appears only when a run takes more than a moment, and only for people."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

__all__ = ["progress_bar"]

_DELAY_S = 1.0


class _DelayedBar:
    """Calls to `update(done, total)`; the bar is drawn once `_DELAY_S` has passed."""

    def __init__(self, label: str, enabled: bool) -> None:
        self._label = label
        self._enabled = enabled
        self._started = time.monotonic()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def update(self, done: float, total: float) -> None:
        if not self._enabled:
            return
        if self._progress is None:
            if time.monotonic() - self._started < _DELAY_S:
                return
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>5.1f}%"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self._label, total=total)
        assert self._task is not None
        self._progress.update(self._task, completed=done, total=total)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


@contextmanager
def progress_bar(label: str, *, enabled: bool = True) -> Iterator[_DelayedBar]:
    """Yield a bar for `update(done, total)`; drawn only on a terminal and after a second."""
    bar = _DelayedBar(label, enabled and sys.stderr.isatty())
    try:
        yield bar
    finally:
        bar.close()
