"""The time a request spends waiting for a store's group commit, kept apart from the rest.

A Redis with `appendfsync always` answers the commands it read in one pass of its event loop
after one fsync of the AOF: every write waits for a commit whose length is the disk's (4 to 60
ms on a shared disk), however few requests the server admits. That wait is not a queue the
server's admission limit could shorten; fewer writes in flight only means fewer in each fsync.
So the Redis backend times its round trips under `waiting_for_commit()`, and the admission
limit (`twin.serve.admission`) leaves the fsync out of what it reads: the shortest of a
window's commit waits, what every write paid. The rest of a round trip (Redis' own queue,
and our event loop's delay in resuming the request once Redis answered) is queueing that
the number of requests in progress does drive, and stays in.

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
