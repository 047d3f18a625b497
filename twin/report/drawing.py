"""Figures drawn to PNG on other cores, by processes that can be started before they are needed.

Drawing (laying out the axes, rasterizing, PNG encoding) is most of a report's time and each
figure is independent of the others, so the figures are shared among forked processes, a
figure at a time. `twin run` starts them before the engine runs: they import matplotlib on
another core while the engine works, and this process never imports it at all. The run's
summary and time series reach them once, through a pickle file each process reads once;
each is told which figure to draw and sends back the PNG bytes. The bytes are a serial
drawing's (same code, same style, no timestamps): only the wall time changes. With one core,
or where `fork` is unavailable, the figures are drawn in this process.

`submit` hands the figures out at once and returns them as they finish, in whatever order
they finish, each with its place in the report: the caller writes each PNG (a write and an
fsync) and prepares the rest of its page while the others are still being drawn.

This module imports neither matplotlib nor pandas: starting the processes costs nothing more.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from twin.results.reading import Window

__all__ = ["Drawing", "Drawn", "Submitted", "available_cores"]


@dataclass(frozen=True)
class Drawn:
    """One figure as PNG bytes, with its file stem, heading, caption and place in the report."""

    name: str
    title: str
    caption: str
    png: bytes
    order: int = 0


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


Payload = tuple[Mapping[str, Any], "pd.DataFrame", Sequence["Window"], Mapping[str, float] | None]

# In a drawing process: the payload file it read last and the makers built from it.
_LOADED: dict[str, Any] = {}


def _warm() -> None:
    """A drawing process's start: import what drawing needs while the caller works."""
    import twin.report.plots  # noqa: F401  (matplotlib, pandas and the plots)

    # What is here now lives as long as the process: keep it out of every later collection,
    # or the first full one (a few figures in) walks it all again, on the report's wait.
    gc.freeze()


def _makers(path: str) -> list[Any]:
    if _LOADED.get("path") != path:
        from twin.report.plots import plot_makers

        with open(path, "rb") as handle:
            payload: Payload = pickle.load(handle)
        _LOADED.update(path=path, makers=plot_makers(*payload))
    return list(_LOADED["makers"])


def _count(path: str) -> int:
    return len(_makers(path))


def _draw(path: str, index: int) -> Drawn | None:
    from twin.report.figures import plot_style, png_bytes

    with plot_style():
        plot = _makers(path)[index]()
        if plot is None:
            return None
        data = png_bytes(plot.figure)
    return Drawn(plot.name, plot.title, plot.caption, data, index)


def _draw_one(task: tuple[str, int]) -> Drawn | None:
    return _draw(*task)


def _tasks(path: str, count: int) -> list[tuple[str, int]]:
    return [(path, i) for i in range(count)]


class Submitted:
    """A report's figures handed out: iterate for them as they finish, in any order (`order`
    is each one's place in the report); leaving the `with` block removes the payload."""

    def __init__(self, results: Iterator[Drawn | None], folder: tempfile.TemporaryDirectory[str]):
        self._results = results
        self._folder = folder

    def __iter__(self) -> Iterator[Drawn]:
        return (d for d in self._results if d is not None)

    def __enter__(self) -> Submitted:
        return self

    def __exit__(self, *exc: object) -> None:
        self._folder.cleanup()
        _LOADED.clear()


class Drawing:
    """Processes that draw a report's figures: started (`start`), asked to draw one report's
    figures any number of times (`draw`), then closed (`close`, or leave a `with` block).

    With one process or none (`jobs` 1, one core, no `fork`), `draw` draws in this process.
    """

    def __init__(self, jobs: int | None = None) -> None:
        workers = available_cores() if jobs is None else jobs
        self._pool: Any = None
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            self._pool = multiprocessing.get_context("fork").Pool(workers, initializer=_warm)

    @classmethod
    def start(cls, jobs: int | None = None) -> Drawing:
        """Start the drawing processes now (default: one per available core)."""
        return cls(jobs)

    def draw(
        self, summary: Mapping[str, Any], ts: pd.DataFrame, windows: Sequence[Window],
        predicted: Mapping[str, float] | None = None,
    ) -> list[Drawn]:  # fmt: skip
        """Every figure the data allows, in report order, as PNG bytes."""
        with self.submit(summary, ts, windows, predicted) as drawn:
            return sorted(drawn, key=lambda d: d.order)

    def submit(
        self, summary: Mapping[str, Any], ts: pd.DataFrame, windows: Sequence[Window],
        predicted: Mapping[str, float] | None = None,
    ) -> Submitted:  # fmt: skip
        """Hand out every figure the data allows now, to be read as they finish."""
        folder = tempfile.TemporaryDirectory(prefix="twin-draw-")
        try:
            path = str(Path(folder.name) / "payload.pickle")
            with open(path, "wb") as handle:
                pickle.dump((summary, ts, windows, predicted), handle, pickle.HIGHEST_PROTOCOL)
            if self._pool is None:
                return Submitted(map(_draw_one, _tasks(path, _count(path))), folder)
            tasks = _tasks(path, self._pool.apply(_count, (path,)))
            return Submitted(self._pool.imap_unordered(_draw_one, tasks, chunksize=1), folder)
        except BaseException:
            folder.cleanup()
            raise

    def close(self) -> None:
        """Stop the processes (idle ones exit at once)."""
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> Drawing:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._pool is not None and exc is not None:
            self._pool.terminate()  # a failed run waits for no figure
        self.close()
