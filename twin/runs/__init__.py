"""The seam between the commands and the engines: read a scenario once, build and compile a
platform, choose the engine in one place, and return the complete result.

    compile          the domain (riders, sessions, workload, incidents) to the engines' input
    segment_service  a segment's service time where it is charged by the MB
    engines          which engine runs a model: the one place an engine is chosen
    complete         cost, incidents, queueing theory and SLO verdicts added to a run
    run              `run_file` and `run_loaded`: a scenario, run and complete
    units            units of work on every core or a Dask cluster, as a serial run gives them
    capacity         the capacity search's probes; sweep: a grid of designs x loads
"""

from twin.runs.run import Run, run_file, run_loaded

__all__ = ["Run", "run_file", "run_loaded"]
