"""`--jobs N` and `--cluster ADDRESS`: where a command's units of work run (twin.runs.units).

Defined once so `twin run`, `twin capacity` and `twin sweep` spell and explain them alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from twin.runs.units import Units

__all__ = ["CLUSTER", "JOBS", "open_units"]

JOBS = typer.Option(
    None,
    "--jobs",
    "-j",
    help="Local processes for replications, probes or sweep points (default: every core; "
    "1 runs them one after another). Results are the same either way.",
)
CLUSTER = typer.Option(
    None,
    "--cluster",
    envvar="TWIN_CLUSTER",
    help="Run them on the Dask cluster whose scheduler is at this address (tcp://HOST:8786; "
    "default $TWIN_CLUSTER); its workers need twin installed.",
)


def open_units(jobs: int | None, cluster: str | None, *, units: int = 2) -> Units:
    """The runner for these options, checked (and a cluster reached) before any work starts;
    with fewer than two `units` of work to run, the options are checked and the work stays in
    this process (a pool or a cluster would only add its start-up)."""
    from twin.config.limits import check_jobs
    from twin.runs.units import Units, check_cluster
    from twin.runs.units import open_units as _open  # deferred: imports the engines' layer

    if units < 2:
        if jobs is not None:
            check_jobs(jobs)
        if cluster:
            check_cluster(cluster)
        return Units()
    return _open(jobs=jobs, cluster=cluster)
