"""The time a request spends waiting for a store's group commit, timed apart from the rest.

A Redis with `appendfsync always` answers the commands it read in one pass of its event loop
after one fsync of the AOF: every write waits for a commit whose length is the disk's (4 to 60
ms on a shared disk, more when it is busy). The Redis backend times its writes' round trips
under `waiting_for_commit()`; the admission middleware (`twin.serve.admission`) gives each
request a `CommitWait` and reports it in `/metrics` (`twin_commit_wait_seconds{route}`), so
an operator, and `benchmarks/bench_overload.py`, can see how much of the time in the server
is Redis' fsync. (The admission limit does not leave it out: tried, README "Overload".)

The accumulator travels in a context variable set by the middleware for its request's task
(aiohttp runs a request's middlewares and handler in one task), so a backend needs no handle
on the request; outside a request (the stream processor, tests) nothing is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["CURRENT", "CommitWait", "waiting_for_commit"]


class CommitWait:
    """One request's time waiting for commits: the finished waits and the one in progress."""

    __slots__ = ("since", "spent_s")

    def __init__(self) -> None:
        self.spent_s = 0.0
        self.since: float | None = None  # the start of a wait in progress

    def begin(self, now: float) -> None:
        self.since = now

    def end(self, now: float) -> None:
        if self.since is not None:
            self.spent_s += now - self.since
            self.since = None

    def total(self, now: float) -> float:
        """Seconds waited by `now`, the wait in progress included."""
        return self.spent_s + (0.0 if self.since is None else now - self.since)


CURRENT: ContextVar[CommitWait | None] = ContextVar("twin_commit_wait", default=None)


@contextmanager
def waiting_for_commit() -> Iterator[None]:
    """Count the enclosed round trip as the current request's wait for a group commit."""
    wait = CURRENT.get()
    if wait is None:
        yield
        return
    wait.begin(time.perf_counter())
    try:
        yield
    finally:
        wait.end(time.perf_counter())
