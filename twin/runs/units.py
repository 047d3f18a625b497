"""Units of work: the independent pieces of a command, run one after another, on local
processes, or on a Dask distributed cluster, with the same results wherever they run.

A unit is a picklable function applied to one item: a replication of an engine, a probe of a
capacity search, a point of a sweep. Each draws only on its own seed streams (`twin.rng`), so
the results, handed back in the order of the items, are those of a serial run, bit for bit.

    units = open_units(jobs=None, cluster=None)   # all local cores; TWIN_CLUSTER if set
    with units:
        results = units.map(fn, items, done)       # done(k, n) as units finish

Local processes start by `forkserver` (`spawn` where there is none): the server imports the
engines once and each worker forks from it, so the command's own process imports no more than
it needs, and no worker inherits its threads or open files. A cluster is named by its
scheduler's address (`tcp://HOST:8786`); every worker needs twin installed (see README).
"""

from __future__ import annotations

import multiprocessing
import os
import re
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from multiprocessing import forkserver
from types import TracebackType
from typing import Any, TypeVar

from twin.config.limits import check_jobs
from twin.errors import InputError
from twin.sim.fanout import Done, serial

__all__ = [
    "CLUSTER_ENV",
    "DaskUnits",
    "LocalUnits",
    "Units",
    "check_cluster",
    "default_jobs",
    "open_units",
]

CLUSTER_ENV = "TWIN_CLUSTER"
R = TypeVar("R")

# What a forked worker should find imported already: the run seam and both engines.
_PRELOAD = ["twin.runs.run", "twin.sim.exact.platform", "twin.sim.fluid"]
_ADDRESS = re.compile(r"^(tcp|tls)://[^\s/:]+:\d{1,5}$")


def default_jobs() -> int:
    """The cores this process may run on (all of them unless an affinity mask says less)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity masks on this platform (macOS, Windows)
        return max(1, os.cpu_count() or 1)


class Units:
    """Runs units of work one after another in this process; `jobs` is 1.

    The base of the local and cluster runners; used as a context manager, which releases
    whatever processes or connections a runner opened."""

    jobs = 1

    def map(
        self, fn: Callable[[Any], R], items: Sequence[Any], done: Done | None = None
    ) -> list[R]:
        """`[fn(x) for x in items]`, in order; `done(k, n)` after each of the n units."""
        return serial(fn, items, done)

    @property
    def parallel(self) -> bool:
        return self.jobs > 1

    def close(self) -> None:
        """Release processes or connections (nothing to release here)."""

    def __enter__(self) -> Units:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class LocalUnits(Units):
    """Units on up to `jobs` local processes, started on the first map of two units or more.

    The fork server is started when the runner is made: it imports the engines while the
    command is still reading and compiling its input, so the first map finds it ready."""

    def __init__(self, jobs: int) -> None:
        self.jobs = check_jobs(jobs)
        self._pool: ProcessPoolExecutor | None = None
        self._context = _context()
        if self.jobs > 1 and self._context.get_start_method() == "forkserver":
            forkserver.ensure_running()  # returns at once; the server imports in the background

    def map(
        self, fn: Callable[[Any], R], items: Sequence[Any], done: Done | None = None
    ) -> list[R]:
        if self.jobs == 1 or len(items) < 2:
            return serial(fn, items, done)
        futures = [self._executor().submit(fn, item) for item in items]
        _wait(futures, done)
        return [f.result() for f in futures]

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=self._context)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def _wait(futures: Sequence[Future[Any]], done: Done | None) -> None:
    """Wait for every future; the first unit to fail cancels the others and raises."""
    try:
        for k, future in enumerate(as_completed(futures), start=1):
            future.result()
            if done is not None:
                done(k, len(futures))
    except BaseException:
        for future in futures:
            future.cancel()
        raise


class DaskUnits(Units):
    """Units on a Dask distributed cluster, whose scheduler listens at `address`.

    `jobs` is the cluster's worker threads when connected (what a capacity search may probe
    at once)."""

    def __init__(self, address: str) -> None:
        self.address = check_cluster(address)
        self._client = _connect(self.address)
        threads = sum(self._client.nthreads().values())
        self.jobs = max(1, int(threads))

    def map(
        self, fn: Callable[[Any], R], items: Sequence[Any], done: Done | None = None
    ) -> list[R]:
        from distributed import as_completed as dask_completed

        futures = self._client.map(fn, list(items), pure=False)
        try:
            for k, future in enumerate(dask_completed(futures, loop=self._client.loop), start=1):
                future.result()
                if done is not None:
                    done(k, len(futures))
        except BaseException:
            self._client.cancel(futures)
            raise
        return list(self._client.gather(futures))

    def close(self) -> None:
        self._client.close()


def check_cluster(address: str) -> str:
    """A scheduler address such as tcp://10.0.0.5:8786, or an InputError naming --cluster."""
    address = address.strip()
    if not _ADDRESS.match(address):
        raise InputError("--cluster", address, "expected a scheduler address like tcp://HOST:8786")
    return address


def _connect(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise InputError(
            "--cluster", address, "needs Dask distributed: pip install 'twin[cluster]'"
        ) from None
    host, port = address.split("://", 1)[1].rsplit(":", 1)
    try:  # a closed port is refused at once, where the client would retry for its timeout
        socket.create_connection((host, int(port)), timeout=5).close()
        return Client(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        message = f"no Dask scheduler answers there ({type(exc).__name__})"
        raise InputError("--cluster", address, message) from None


def open_units(jobs: int | None = None, cluster: str | None = None) -> Units:
    """The runner a command asked for: a cluster when named (or in TWIN_CLUSTER), else `jobs`
    local processes (all cores when None; 1 runs everything in this process)."""
    address = cluster or os.environ.get(CLUSTER_ENV) or None
    if address is not None:
        return DaskUnits(address)
    count = default_jobs() if jobs is None else check_jobs(jobs)
    return Units() if count == 1 else LocalUnits(count)
