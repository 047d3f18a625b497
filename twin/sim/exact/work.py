"""How much an exact run will simulate, known before it starts: its expected station visits.

Each visit is a few SimPy events, and the engine does about 90,000-150,000 visits a second
on an ordinary core, so a run's visits are its cost. A source's requests visit the stations
along its `path` (each hop by its share) or, on a bare network, as the routing sends them
(the traffic equations, `twin.config.network.visits_per_arrival`). A run past
`MAX_EXACT_VISITS` is refused before any event, pointing at the fluid engine.
"""

from __future__ import annotations

from twin.config.limits import check_exact_visits
from twin.config.network import visits_per_arrival
from twin.sim.exact.model import ExactModel

__all__ = ["check_exact_work", "expected_visits"]


def expected_visits(model: ExactModel) -> float:
    """Station visits one replication of `model` is expected to simulate."""
    routed = visits_per_arrival({st.name: dict(st.routes) for st in model.stations})
    total = 0.0
    for source in model.sources:
        per_request = sum(s for _, s in source.path) if source.path else routed[source.entry]
        total += source.schedule.total(model.duration_s) * per_request
    return total


def check_exact_work(model: ExactModel, replications: int) -> None:
    """Refuse a run whose expected visits over all replications pass MAX_EXACT_VISITS."""
    check_exact_visits(model.name, expected_visits(model) * replications)
