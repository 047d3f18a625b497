"""What `twin calibrate` measures from what the drills saved instead of fitting it, and where
every other service's fit starts.

`MEASURED_DELAYS` names each measured service with how it is measured and from what (the
file's header quotes it): the load generator's `timer` from the request logs
(`twin.drill.lateness`), the recommender's `scoring` and the `sqlite` thread's time per call
from the target's metrics (`twin.drill.scoring`, `twin.drill.writer`), and the `wakeup` a
request sent on its own pays from both (`twin.drill.wake`). Without those files the file's
value stands, except for the services in `FITTED_UNMEASURED`, which are fitted as before they
could be measured. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping

from twin.drill.fit import Fit
from twin.drill.lateness import timer_fit
from twin.drill.loop_costs import MEASURED
from twin.drill.predict import SCORING, TIMER, WAKEUP
from twin.drill.scoring import scoring_fit
from twin.drill.wake import wakeup_offset
from twin.drill.writer import SQLITE, sqlite_fit

__all__ = ["FITTED_UNMEASURED", "MEASURED_DELAYS", "START_FIT", "fit_starts"]

# where a fitted delay's search starts (not the file's: a fit started elsewhere ends elsewhere)
START_FIT = Fit(0.001, 1.0)
# services measured from what the drills saved, not fitted: (how, from what)
MEASURED_DELAYS = {
    TIMER: (timer_fit, "the periodic requests' lateness in the drills' request logs"),
    SCORING: (scoring_fit, "`prediction_latency_seconds` in the target's metrics, per miss"),
    WAKEUP: (wakeup_offset, "requests sent on their own against those behind a response, in the "
                            "request logs and the handler times in the target's metrics"),
    SQLITE: (sqlite_fit, "`twin_sqlite_call_seconds` in the target's metrics: the SQLite "
                         "thread's busy time per writing request, calls"),
}  # fmt: skip
# measured when the drills can (their target exports it), else fitted like any other service
FITTED_UNMEASURED = frozenset({SQLITE})


def fit_starts(
    file_fits: Mapping[str, Fit], crossed: set[str], delays: Mapping[str, tuple[Fit, int]]
) -> tuple[dict[str, Fit], frozenset[str]]:
    """Where each service's fit starts, and the services not fitted. The loops' costs are
    measured (or the file's), the `MEASURED_DELAYS` measured (`delays`, or the file's; those
    in `FITTED_UNMEASURED` are fitted), a service no drill crossed keeps the file's; every
    other service starts at `START_FIT`, not the file's, since a fit started elsewhere ends
    elsewhere."""
    kept = set(delays) | (set(MEASURED_DELAYS) - FITTED_UNMEASURED)
    fixed = frozenset(n for n in file_fits if n in MEASURED or n in kept or n not in crossed)
    start = {n: f if n in fixed else START_FIT for n, f in file_fits.items()}
    start.update({n: fit for n, (fit, _) in delays.items()})  # measured, not fitted
    return start, fixed
