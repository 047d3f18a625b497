"""How an engine hands its replications to whoever runs units of work: a map that keeps order.

The engines do not know about processes or clusters (`twin.runs.units` does). An engine given
a `Fanout` calls it once with a picklable function of a replication index and the indices to
run; it gets the results back in the order of the indices, exactly what a serial loop would
have made, because each replication draws only on its own streams (`twin.rng`). `done(k, n)`
is called in the calling process as units finish, for a progress bar.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

__all__ = ["Done", "Fanout", "serial"]

R = TypeVar("R")
Done = Callable[[int, int], None]


class Fanout(Protocol):
    """`fanout(fn, items, done)` is `[fn(x) for x in items]`, computed wherever it likes."""

    def __call__(
        self, fn: Callable[[Any], R], items: Sequence[Any], done: Done | None = None
    ) -> list[R]: ...


def serial(fn: Callable[[Any], R], items: Sequence[Any], done: Done | None = None) -> list[R]:
    """The in-process fanout: one unit after another."""
    results = []
    for item in items:
        results.append(fn(item))
        if done is not None:
            done(len(results), len(items))
    return results
