"""Load shows before saturation (issue 15, item 6): on both engines, a station's latency grows
with riders as queueing says it must, well before anything saturates.

Riders sweep the phase-1 monolith (no autoscaling: its API tier is two c4.large of two Rails
workers each, four servers) from utilization ~0.3 to ~0.9, ten minutes after the 18:00 class
start of a weekday evening, when the offered load is flat (within 1 % from 18:10 to 18:15;
at 18:15 a class ends and it drops by 13 %, so no run goes past five minutes). The
API's service time is made exponential (mean 25 ms, `architecture_changes`), so the station
is an M/M/4 and its law is known: Erlang C gives the mean sojourn, and its tail (a wait that
is zero with probability 1 - C, else exponential at c*mu - lam, plus the service) gives the
p99. The law is evaluated at the arrival rate the station saw in the run (arrivals over the
simulated seconds), so what is tested is the station, not the demand model.

Tolerances. The fluid engine computes the station from the same law tick by tick: it must
land within 2 % (ticks with slightly different loads average to nearly the same). The exact
engine samples one replication of riders, and two things move it off the law:
- sampling error, which grows with load: at rho ~0.88 the queue's relaxation time
  1 / (mu (sqrt(c) - sqrt(a))^2) is ~2 s, so three minutes hold ~90 independent stretches;
- its arrivals are riders' periodic calls (a bike's telemetry batch every 5 s, playlist and
  leaderboard polls), Poisson only over windows short against the periods: over the queue's
  relaxation time near saturation they are smoother than Poisson, so it queues less than
  M/M/c says.
Measured on seeds 1-4 (180 s; `_api` below): at rho 0.25-0.6 every error is within 2.7 %
(mean and p99); at rho 0.84-0.88 the mean is off by -7.0 % to +5.5 % and the p99 by -3 % to
-19 % (always below the law: the smoothing). So up to rho 0.7 the exact engine is held to
5 % (mean) and 8 % (p99), above it to 12 % and 25 %. The slow version runs four points for
the whole flat five minutes on four seeds, checking growth in the order of the load each seed's
station saw; the targets hold for the four seeds' errors averaged at each point, and each seed
alone within twice them (at rho 0.88-0.90 one seed's mean was -12.6 %).

The fast version's top point averages three seeds' errors (each against the law at its own
rate). One seed there is a draw with a standard deviation of ~5 % on the mean (seeds 1-8 at
22,000 riders, 180 s: -9.3 % to +3.6 %, mean -3.0 %; p99 -18.8 % to +17.7 %), so any change
to the riders' random stream could move it past 12 % (one such change gave -14.7 %); three
seeds bring it to ~2.7 %.
"""

from __future__ import annotations

import itertools

import pytest

from twin.analytic.erlang import mmc
from twin.runs.run import run_file

SERVICE_S = 0.025
SERVERS = 4  # phase1-monolith: api count 2 x servers_per_instance 2
BASE = (
    "architecture=phase1-monolith",
    "start=2021-03-09T18:10:00",  # ten minutes after the 18:00 class start: a flat load
    f"architecture_changes.components.api.station.service="
    f"{{dist: exponential, mean_s: {SERVICE_S}}}",
)
# Riders for utilizations of about 0.3, 0.6 and 0.88 at the API.
FAST_RIDERS = (7_500, 15_000, 22_000)
# Four points: the law's p99 rises 7.7 % from rho 0.3 to 0.6, more than the exact engine's
# sampling error there; finer steps at low load would test the noise.
SLOW_RIDERS = (7_500, 15_000, 19_000, 22_000)

def _tolerance(engine: str, utilization: float) -> tuple[float, float]:
    """(mean, p99) relative to the M/M/c law; see the module."""
    if engine == "fluid":
        return 0.02, 0.02
    return (0.05, 0.08) if utilization <= 0.7 else (0.12, 0.25)


def _api(engine: str, riders: int, duration_s: int, seed: int) -> dict:
    sets = [*BASE, f"duration_s={duration_s}", f"population.riders={riders}"]
    summary = run_file("daily-peak", sets, engine=engine, seed=seed).summary
    api = summary["services"]["api"]
    rate = api["arrivals"] / summary["simulated_seconds"]
    law = mmc(rate, 1.0 / SERVICE_S, SERVERS, name="api")
    return {
        "riders": riders,
        "utilization": api["utilization_mean"],
        "law_utilization": law.utilization,
        "mean": api["latency_ms"]["mean"],
        "p99": api["latency_ms"]["p99"],
        "law_mean": law.sojourn_mean * 1e3,
        "law_p99": law.sojourn_quantile(0.99) * 1e3,
        "dropped": api["dropped"],
    }


def _check_sweep(points: list[dict], engine: str, widen: float = 1.0) -> None:
    # The sweep spans the range (a seed's riders in class vary: 0.78-0.88 at the top point).
    assert points[0]["utilization"] < 0.4 and 0.75 < points[-1]["utilization"] < 0.95
    for p in points:
        mean_tol, p99_tol = (widen * t for t in _tolerance(engine, p["law_utilization"]))
        assert p["dropped"] == 0, p  # not saturated: nothing shed
        assert p["utilization"] == pytest.approx(p["law_utilization"], rel=0.03), p
        assert p["mean"] == pytest.approx(p["law_mean"], rel=mean_tol), p
        assert p["p99"] == pytest.approx(p["law_p99"], rel=p99_tol), p
    for low, high in itertools.pairwise(points):
        assert high["utilization"] > low["utilization"]
        assert high["mean"] > low["mean"], (low, high)
        assert high["p99"] > low["p99"], (low, high)
    # The law's own growth over the sweep is large against the tolerance: the test has teeth.
    assert points[-1]["law_p99"] > 1.4 * points[0]["law_p99"]


def _averaged(points: list[dict]) -> dict:
    """One point for several seeds at the same riders: each seed's mean and p99 relative to
    the law at its own rate, averaged, applied to the first seed's law."""
    first = points[0]

    def error(key: str) -> float:
        return sum(p[key] / p[f"law_{key}"] - 1.0 for p in points) / len(points)

    return {**first, "mean": first["law_mean"] * (1.0 + error("mean")),
            "p99": first["law_p99"] * (1.0 + error("p99"))}  # fmt: skip


@pytest.mark.parametrize("engine", ["exact", "fluid"])
def test_api_latency_grows_with_riders_as_mmc_says(engine: str) -> None:
    points = [_api(engine, riders, 180, seed=1) for riders in FAST_RIDERS]
    if engine == "exact":  # the top point's sampling error: three seeds (see the module)
        more = [_api(engine, FAST_RIDERS[-1], 180, seed=seed) for seed in (2, 3)]
        points[-1] = _averaged([points[-1], *more])
    _check_sweep(points, engine)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("engine", ["exact", "fluid"])
def test_api_latency_follows_mmc_over_a_fine_sweep(engine: str) -> None:
    """Four seeds, each a sweep. One seed's top point is a single draw near saturation (seeds
    3 and 4 on the exact engine, 300 s: rho 0.90 and 0.88, mean -12.6 % and -12.1 %, p99 -15 %
    and -17 %; seeds 1 and 2 there: +4.0 % and -4.3 %), so the targets hold for the four seeds'
    errors averaged at each riders' point, as the fast version's top point does; each seed
    alone must grow in the order of its load and stay within twice the targets."""
    sweeps = [[_api(engine, riders, 300, seed=seed) for riders in SLOW_RIDERS]
              for seed in (1, 2, 3, 4)]  # fmt: skip
    for points in sweeps:
        # In load order: a seed's riders in class vary by several percent (seed 2 on the exact
        # engine: utilization 0.81 at 19,000 riders, 0.77 at 22,000), so growth is checked
        # against the load the station saw, which is what queueing speaks of.
        _check_sweep(sorted(points, key=lambda p: p["utilization"]), engine, widen=2.0)
    pooled = [_averaged([points[i] for points in sweeps]) for i in range(len(SLOW_RIDERS))]
    _check_sweep(pooled, engine)
