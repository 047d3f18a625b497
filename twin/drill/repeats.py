"""How far identical drills agree: the floor an out-of-sample error is judged against.

Two drills of the same configuration (scenario, seed, target, profile, scale, speedup,
duration, workers, repeats) made minutes apart on the same machine measure different
percentiles: the machine's speed drifts and a light request's p95 lives in a few seconds of a
60 s drill. `repeat_agreement` takes the validation drills, groups the identical ones, and
scores each drill as a *prediction* of each of its repeats exactly as `twin calibrate
--validate` scores the model (`twin.drill.out_of_sample.error_rows`: relative error, the
target 25 %), over the figures both drills count (enough requests, percentile pinned down). It
sets the model's error on the same figures beside it: a model that misses no more often than a
repeat of the drill does is as good as the drill can tell. Pure calculation.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from twin.drill.out_of_sample import error_rows, totals

__all__ = ["CONFIG_KEYS", "config_of", "repeat_agreement"]

# what makes two drills identical: the summary's scenario and seed, and the drill's settings
CONFIG_KEYS = ("target", "profile", "scale", "speedup", "duration_s", "workers", "repeat")


def config_of(summary: Mapping[str, Any]) -> tuple[Any, ...]:
    """The drill's configuration: equal for drills that asked the same of the same target."""
    drill = summary.get("drill") or {}
    return (summary.get("scenario"), summary.get("seed"), *(drill.get(k) for k in CONFIG_KEYS))


def _counted(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {(r["request"], r["q"]): r for r in rows if r["counts"]}


def _figure(row: Mapping[str, Any]) -> tuple[str, str, str]:
    return row["drill"], row["request"], row["q"]


def repeat_agreement(
    drills: Sequence[tuple[str, Mapping[str, Any]]],
    model_rows: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any] | None:
    """`drills`: (folder, measured summary) of the validation set; `model_rows`: the model's
    error rows for them (`error_rows`). For every ordered pair of identical drills, one
    drill's figure as the prediction of the other's, over the figures both count; the totals
    (`totals`) of those rows and of the model's rows on the same (drill, request, percentile),
    both over the figures the model predicts when it is given. None when no two drills are
    identical."""
    groups: dict[tuple[Any, ...], list[tuple[str, Mapping[str, Any]]]] = defaultdict(list)
    for folder, summary in drills:
        groups[config_of(summary)].append((folder, summary))
    repeated = [g for g in groups.values() if len(g) > 1]
    if not repeated:
        return None
    rows: list[dict[str, Any]] = []
    for group in repeated:
        for (fa, a), (fb, b) in itertools.permutations(group, 2):
            kept = _counted(error_rows(fb, b, b))  # what the predicting drill counts
            rows += [{**r, "predicted_by": fb} for r in error_rows(fa, a, b)
                     if r["counts"] and (r["request"], r["q"]) in kept]  # fmt: skip
    if model_rows:  # only the figures the model predicts (it has no `resume`, `master`)
        predicted = {_figure(r) for r in model_rows}
        rows = [r for r in rows if _figure(r) in predicted]
    figures = {_figure(r) for r in rows}
    model = [r for r in model_rows if _figure(r) in figures]
    return {
        "groups": [sorted(folder for folder, _ in g) for g in repeated],
        "rows": rows,
        "repeats": totals(rows),
        "model": totals(model),
    }
