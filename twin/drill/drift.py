"""A drill's drift checks: each request type's measured latency against the twin's prediction.

The drill measures each type's latency from the intended send time into an HdrHistogram
(`twin.drill.measure`); the exact engine, predicting the same drill, keeps each type's latency
on the log-spaced bins of `twin.sim.sketch` (2.3 % wide). Both are put on the sketch's bins
(the coarser of the two) and `twin.results.drift.drift_check` runs KS and KL on them; the
verdict's rule is that module's. `latency_drift` takes what any caller has in memory (a
drill, or a validation of a calibrated model against drills: `Measured` and the engine's
`RunResult.latency_hist`), `drift_block` makes the summary's `drift.<type>` entries.
`telemetry_drift` does the same for the telemetry a drill's devices sent, as the platform
stored it, against the population's laws (`twin.platform.telemetry`).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from twin.drill.measure import Measured, merge_records, pool_measured
from twin.drill.target import Target
from twin.drill.wire import RECORD_GLOB
from twin.errors import InputError, TargetError
from twin.platform.telemetry import TELEMETRY_LAWS
from twin.results.drift import DriftCheck, drift_check
from twin.sim.sketch import BINS, EDGES, bin_index

__all__ = [
    "BIN_VALUES_MS",
    "baseline_latency",
    "drift_block",
    "hdr_on_sketch",
    "latency_drift",
    "read_baseline",
    "stored_telemetry",
    "telemetry_drift",
]

# each sketch bin's value (ms): its geometric middle; 0 below the first edge, the last edge above
BIN_VALUES_MS = 1e3 * np.concatenate(([0.0], np.sqrt(EDGES[:-1] * EDGES[1:]), [EDGES[-1]]))


def hdr_on_sketch(hist: HdrHistogram) -> np.ndarray:
    """An HdrHistogram of microseconds as counts on the sketch's bins (length `BINS`)."""
    counts = np.ctypeslib.as_array(hist.counts)
    index = np.flatnonzero(counts)
    if index.size == 0:
        return np.zeros(BINS)
    low = np.array([hist.get_lowest_equivalent_value(hist.get_value_from_index(int(i)))
                    for i in index], dtype=float)  # fmt: skip
    high = np.array([hist.get_highest_equivalent_value(int(v)) for v in low], dtype=float)
    seconds = 0.5 * (low + high) / 1e6
    return np.bincount(bin_index(seconds), weights=counts[index].astype(float), minlength=BINS)


def latency_drift(
    measured: Measured, predicted: Mapping[str, np.ndarray], types: list[str] | None = None
) -> dict[str, DriftCheck]:
    """Per request type measured and predicted (of `types`, default every type both have):
    the measured latency against the predicted, on the sketch's bins."""
    names = types if types is not None else sorted(set(measured.types) & set(predicted))
    out = {}
    for name in names:
        m, p = measured.types.get(name), predicted.get(name)
        if m is None or p is None:
            continue
        out[name] = drift_check(BIN_VALUES_MS, hdr_on_sketch(m.intended), np.asarray(p))
    return out


def read_baseline(folder: Path) -> Measured:
    """The measurements of an earlier drill in `folder` (`--drift-baseline`): its `load/`
    records, or every `run-*/load/` of a repeated one, pooled. A folder without records is an
    InputError naming it."""
    folder = Path(folder)
    loads = [folder / "load"] if (folder / "load").is_dir() else sorted(folder.glob("run-*/load"))
    loads = [d for d in loads if any(d.glob(RECORD_GLOB))]
    if not loads:
        raise InputError(str(folder), None, "no drill records in it (load/rec-*.json): give "
                         "the --out folder of an earlier twin drill")  # fmt: skip
    return pool_measured([merge_records(d) for d in loads])


def baseline_latency(baseline: Measured) -> dict[str, np.ndarray]:
    """An earlier drill's latency per request type on the sketch's bins: a reference for
    `latency_drift` in place of the prediction."""
    return {name: hdr_on_sketch(m.intended) for name, m in baseline.types.items()}


def drift_block(checks: Mapping[str, DriftCheck], against: str) -> dict[str, dict[str, Any]]:
    """The summary's `drift.<name>` entries (`against`: `predicted`, `baseline` or
    `population`)."""
    return {name: _entry(check, against) for name, check in checks.items()}


def _entry(check: DriftCheck, against: str) -> dict[str, Any]:
    def num(x: float, digits: int = 4) -> float | None:
        return None if not np.isfinite(x) else round(float(x), digits)

    return {
        "against": against,
        "n_measured": check.n_measured,
        "n_reference": check.n_reference,
        "ks_d": num(check.ks_d),
        "ks_p": None if not np.isfinite(check.ks_p) else float(f"{check.ks_p:.4g}"),
        "kl": num(check.kl),
        "median_measured": num(check.median_measured),
        "median_reference": num(check.median_reference),
        "verdict": check.verdict,
    }


# Telemetry fields on bins 1 unit wide over the platform's plausible range (`twin.serve.
# validation`: heart rate 25-250 bpm, cadence 0-200 rpm), KL on bins 5 units wide; the law's
# side is its expected counts for ten times the samples measured (nearly the law itself).
_FIELD_EDGES = np.arange(0.0, 251.0, 1.0)
_LAW_SAMPLES = 10


def telemetry_drift(
    values: Mapping[str, list[float]], laws: Mapping[str, Any]
) -> dict[str, DriftCheck]:
    """Per telemetry field with a law: the measured values against the population's law."""
    centres = 0.5 * (_FIELD_EDGES[:-1] + _FIELD_EDGES[1:])
    out = {}
    for name, law in laws.items():
        seen = np.asarray(values.get(name, []), dtype=float)
        counts, _ = np.histogram(seen, bins=_FIELD_EDGES)
        expected = np.rint(law.expected_counts(_FIELD_EDGES, _LAW_SAMPLES * seen.size))
        coarse = np.floor(centres / 5.0).astype(np.int64)
        out[name] = drift_check(centres, counts.astype(float), expected, coarse=coarse)
    return out


def stored_telemetry(
    target: Target, pool: list[dict[str, Any]], since: float
) -> dict[str, list[float]]:
    """The values of each telemetry field with a population law that `target` stored for the
    pool's devices from `since` (epoch s) on: read back with `GET /v1/devices/{id}/samples`,
    the reference API's (a device ridden in an earlier drill of the same host keeps those
    samples too: their time tells them apart)."""
    out: dict[str, list[float]] = {name: [] for name in TELEMETRY_LAWS}
    for rider in pool:
        if rider.get("device") == "app" or not rider.get("device_token"):
            continue
        with suppress(TargetError, ValueError):
            for sample in target.device_samples(rider["device_id"], rider["device_token"]):
                if not isinstance(sample.get("t"), int | float) or sample["t"] < since:
                    continue
                for name, values in out.items():
                    if isinstance(sample.get(name), int | float):
                        values.append(float(sample[name]))
    return out
