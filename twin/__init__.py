"""twin: a capacity digital twin for connected-fitness platforms.

The subpackages are layers, listed from the ground up; each imports only from the ones before
it (import-linter checks this in `make lint` and `make test`; `a | b` may not import each other):

    errors | rng       the exception tree | a random stream per component, from the run's seed
    config             files to validated models: both scenario kinds, architectures, overrides
    platform | analytic
                       the connected-fitness domain: riders, classes, demand, workload, cost |
                       queueing theory the engines are checked against
    sim                the engines (exact, fluid) and their input model; nothing of the domain
    results            summary.json as a typed model, SLOs, gate, compare, capacity, file writing
    runs               the one seam: read a scenario once, build, compile, choose the engine,
                       return the complete result (cost, theory, SLO verdicts)
    report | serve     every page (run, compare, capacity, drill) | the reference platform
    drill              drills against a real platform: plan, Locust, measurement, prediction
    cli                the `twin` command: parsing and printing only
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
