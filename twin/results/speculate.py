"""Run a sequential search several steps ahead: evaluate at once the requests it may make next.

A search is a generator that yields a request, is sent back whether it passed, and returns
its answer. Being deterministic in the outcomes it is sent, it can be replayed with outcomes
that have not happened yet: from where it stands, the next request is certain, and after it
the two requests it would make on a pass or a fail, and so on. `drive` evaluates the first
`width` distinct requests of that tree (breadth first, and the cheapest first of those equally
far ahead, so that the work thrown away is small) in one batch, then walks the real path
through the answers; a request off the path was wasted work, never a different answer. So the
search takes the same path, probe for probe, whatever the width: a parallel search is
bit-identical to a serial one, and `width` 1 is the serial search itself.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["Finished", "drive", "replay"]

Q = TypeVar("Q", bound=Hashable)  # a request
E = TypeVar("E")  # what evaluating a request gives
Search = Callable[[], Generator[Q, bool, Any]]

_MAX_DEPTH = 8  # how many steps ahead speculation looks at most


@dataclass(frozen=True)
class Finished(Generic[Q]):
    """The search returned `value` after the outcomes it was sent."""

    value: Any


def replay(search: Search[Q], outcomes: Sequence[bool]) -> Q | Finished[Q]:
    """The request `search` makes after `outcomes`, or Finished with its answer."""
    steps = search()
    try:
        request = next(steps)
        for outcome in outcomes:
            request = steps.send(outcome)
    except StopIteration as stop:
        return Finished(stop.value)
    steps.close()
    return request


def _ahead(
    search: Search[Q], outcomes: list[bool], width: int, known: set[Q], cost: Callable[[Q], float]
) -> list[Q]:
    """Up to `width` distinct requests not in `known`, level by level from `outcomes` (the
    certain one first), the cheapest first within a level."""
    batch: list[Q] = []
    level = [list(outcomes)]
    for _ in range(_MAX_DEPTH):
        steps = [(replay(search, history), history) for history in level]
        open_steps = [(s, h) for s, h in steps if not isinstance(s, Finished)]
        for step, _history in sorted(open_steps, key=lambda sh: cost(sh[0])):
            if step not in known and step not in batch:
                batch.append(step)
                if len(batch) >= width:
                    return batch
        level = [[*h, outcome] for _s, h in open_steps for outcome in (True, False)]
    return batch


def drive(
    search: Search[Q],
    evaluate: Callable[[list[Q]], list[E]],
    passed: Callable[[Q, E], bool],
    *,
    width: int = 1,
    cost: Callable[[Q], float] = lambda _request: 1.0,
) -> tuple[Any, list[tuple[Q, E]]]:
    """Run `search` to its answer; `evaluate` a batch of requests (up to `width` at once) to
    their results, `passed(request, result)` the outcome. Returns the answer and the path:
    each request the search made, in order, with its result. Of the requests equally far
    ahead, the cheapest by `cost` are speculated on first."""
    known: dict[Q, E] = {}
    path: list[tuple[Q, E]] = []
    outcomes: list[bool] = []
    while True:
        step = replay(search, outcomes)
        if isinstance(step, Finished):
            return step.value, path
        if step not in known:
            batch = _ahead(search, outcomes, max(1, width), set(known), cost)
            known.update(zip(batch, evaluate(batch), strict=True))
        result = known[step]
        path.append((step, result))
        outcomes.append(passed(step, result))
