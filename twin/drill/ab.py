"""A/B drills: riders hashed into two variants of the platform, and the difference measured.

Assignment is the seed's (seed 000, `assign_variant`): a rider's id, salted with the
experiment's name, hashed to 0-99; below the split is `control` (variant A), the rest
`treatment` (B). The seed used Python's `hash`, which is salted per process; SHA-256 is
stable across processes and machines, so a rider is in the same variant in every drill.

`compare_variants` reports each request type's figures per variant and the difference
(treatment - control) with a 95 % interval: a block bootstrap over each variant's latency
windows (1 s each, in blocks of three consecutive windows, as the drill's own percentile
intervals: requests sent in the same seconds share a burst or a hiccup of the machine), the
two variants resampled independently (their riders are disjoint), 2,000 resamples, the
interval between the 2.5th and 97.5th percentiles of the resampled differences. Pure.
"""

from __future__ import annotations

import hashlib
import math
import shlex
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from twin.drill.drift import BIN_VALUES_MS, hdr_on_sketch
from twin.drill.measure import BLOCK_WINDOWS, Measured
from twin.errors import InputError, TargetError

__all__ = [
    "EXPERIMENT",
    "FIGURES",
    "SERVE_OPTIONS",
    "assign_variant",
    "compare_experience",
    "compare_variants",
    "in_variant",
    "meet",
    "serve_args",
    "variant_pool",
]

EXPERIMENT = "twin-drill-ab"
VARIANTS = ("control", "treatment")
FIGURES = {"mean": None, "p50": 0.50, "p95": 0.95, "p99": 0.99}
_RESAMPLES = 2000
_MIN_BLOCKS = 4  # fewer blocks a side: no interval
# `twin serve` options a local variant may set (the platform's configuration, not its plumbing)
SERVE_OPTIONS = ("--cache-ttl", "--consumers", "--rate", "--burst", "--device-rate",
                 "--max-inflight", "--origin-egress-mbps")  # fmt: skip


def assign_variant(rider_id: str, split: int, experiment: str = EXPERIMENT) -> str:
    """`control` when the rider's stable hash (0-99) is below `split`, else `treatment`."""
    digest = hashlib.sha256(f"{experiment}:{rider_id}".encode()).digest()
    return VARIANTS[0] if int.from_bytes(digest[:8], "big") % 100 < split else VARIANTS[1]


def in_variant(pool: list[dict[str, Any]], variant: str, split: int) -> list[dict[str, Any]]:
    """The riders of `pool` that `assign_variant` puts in `variant`."""
    return [r for r in pool if assign_variant(str(r["rider_id"]), split) == variant]


def variant_pool(
    make: Callable[[int], list[dict[str, Any]]], size: int, variant: str | None, split: int
) -> list[dict[str, Any]]:  # fmt: skip
    """`size` riders of the pool `make(n)` builds; in an A/B drill's `variant`, only riders
    hashed into it (the pool is made larger until it holds enough of them)."""
    if variant is None:
        return make(size)
    share = split / 100.0 if variant == VARIANTS[0] else 1.0 - split / 100.0
    n = math.ceil(size / share * 1.3) + 20
    while True:
        mine = in_variant(make(n), variant, split)
        if len(mine) >= size:
            return mine[:size]
        n *= 2


def meet(folder: Path, variant: str | None, timeout_s: float = 300.0) -> float:
    """Wait in `folder` for the other variant of an A/B drill to be ready (its platform up,
    its riders' tokens made); the moment the later of the two was (epoch s), from which
    both start their load. Without it, one variant's load would overlap the other's start-up
    or post-processing (training, prediction) on the same machine."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"{variant}.ready.part"  # renamed whole: the other never reads half
    part.write_text(repr(time.time()), encoding="utf-8")
    part.replace(folder / f"{variant}.ready")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        failed = [f for f in folder.glob("*.failed") if f.stem != variant]
        if failed:
            raise TargetError(f"the {failed[0].stem} variant's drill failed: "
                              f"{failed[0].read_text(encoding='utf-8').strip()}")  # fmt: skip
        found = [folder / f"{v}.ready" for v in VARIANTS]
        if all(f.is_file() and f.read_text(encoding="utf-8").strip() for f in found):
            return max(float(f.read_text(encoding="utf-8")) for f in found)
        time.sleep(0.1)
    raise TargetError(f"the other variant of the A/B drill was not ready within {timeout_s:g} s")


def serve_args(text: str) -> tuple[str, ...]:
    """`--ab "--cache-ttl 5"`: the `twin serve` options of a local variant, checked against
    `SERVE_OPTIONS` (an InputError naming `--ab` otherwise)."""
    try:
        args = tuple(shlex.split(text))
    except ValueError as exc:
        raise InputError("--ab", None, f"cannot read {text!r}: {exc}") from None
    names = [a.split("=", 1)[0] for a in args if a.startswith("--")]
    unknown = [n for n in names if n not in SERVE_OPTIONS]
    if not names or unknown:
        raise InputError("--ab", None, f"with --target local, give `twin serve` options of the "
                         f"variant, from {', '.join(SERVE_OPTIONS)}; got {text!r}")  # fmt: skip
    return args


def _window_matrix(windows: Mapping[int, Any], block: int) -> np.ndarray:
    """Counts on the sketch's bins per block of `block` consecutive latency windows."""
    rows: dict[int, np.ndarray] = {}
    for key, hist in windows.items():
        b = max(int(key), 0) // block
        counts = hdr_on_sketch(hist)
        rows[b] = rows[b] + counts if b in rows else counts
    return np.array([rows[b] for b in sorted(rows)]) if rows else np.zeros((0, BIN_VALUES_MS.size))


def _figures(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Mean and quantiles (ms) of each row of histogram counts on the sketch's bins."""
    total = counts.sum(axis=1)
    cum = np.cumsum(counts, axis=1)
    out = {"mean": (counts @ BIN_VALUES_MS) / np.maximum(total, 1)}
    for name, q in FIGURES.items():
        if q is not None:
            at = (cum < np.maximum(1, np.floor(q * total + 0.5))[:, None]).sum(axis=1)
            out[name] = BIN_VALUES_MS[np.minimum(at, BIN_VALUES_MS.size - 1)]
    return out


def _resampled(matrix: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` block-bootstrap resamples of the histogram (n x bins)."""
    blocks = matrix.shape[0]
    weights = rng.multinomial(blocks, np.full(blocks, 1.0 / blocks), size=n)
    return weights @ matrix


def _type_figures(
    a: Any, b: Any, rng: np.random.Generator, resamples: int
) -> dict[str, dict[str, Any]]:
    """Per figure: control, treatment, difference and its 95 % interval (None: too few)."""
    ma, mb = _window_matrix(a.windows, BLOCK_WINDOWS), _window_matrix(b.windows, BLOCK_WINDOWS)
    point_a, point_b = _figures(ma.sum(axis=0)[None, :]), _figures(mb.sum(axis=0)[None, :])
    enough = min(ma.shape[0], mb.shape[0]) >= _MIN_BLOCKS
    boot_a = _figures(_resampled(ma, rng, resamples)) if enough else None
    boot_b = _figures(_resampled(mb, rng, resamples)) if enough else None
    out = {}
    for name in FIGURES:
        ci = None
        if boot_a is not None and boot_b is not None:
            lo, hi = np.percentile(boot_b[name] - boot_a[name], [2.5, 97.5])
            ci = [round(float(lo), 4), round(float(hi), 4)]
        va, vb = float(point_a[name][0]), float(point_b[name][0])
        out[name] = {"control": round(va, 4), "treatment": round(vb, 4),
                     "difference": round(vb - va, 4), "ci95": ci}  # fmt: skip
    return out


def compare_variants(
    control: Measured, treatment: Measured, rng: np.random.Generator,
    resamples: int = _RESAMPLES,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Per request type both variants sent: counts, errors and each latency figure (ms)
    per variant, with treatment - control and its 95 % block-bootstrap interval."""
    out = {}
    for name in sorted(set(control.types) & set(treatment.types)):
        a, b = control.types[name], treatment.types[name]
        if a.count == 0 or b.count == 0:
            continue
        out[name] = {
            "count": {"control": a.count, "treatment": b.count},
            "errors": {"control": a.errors, "treatment": b.errors},
            "latency_ms": _type_figures(a, b, rng, resamples),
        }
    return out


def _flat(block: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in block.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[f"{prefix}{key}"] = float(value)
    return out


def compare_experience(
    control: Mapping[str, Any], treatment: Mapping[str, Any]
) -> dict[str, Any]:  # fmt: skip
    """The riders' experience (each `experience` figure) and the SLO verdicts of both
    variants' summaries, with treatment - control; one value a drill, so no interval."""
    a, b = _flat(control.get("experience") or {}), _flat(treatment.get("experience") or {})
    experience = {
        key: {"control": a.get(key), "treatment": b.get(key),
              "difference": None if key not in a or key not in b else round(b[key] - a[key], 6)}
        for key in sorted(set(a) | set(b))
    }  # fmt: skip
    slos = {v["name"]: v for v in treatment.get("slo") or []}
    verdicts = [{"name": v["name"], "metric": v["metric"],
                 "control": {"observed": v["observed"], "passed": v["passed"]},
                 "treatment": {k: (slos.get(v["name"]) or {}).get(k) for k in ("observed",
                                                                               "passed")}}
                for v in control.get("slo") or []]  # fmt: skip
    return {"experience": experience, "slo": verdicts}
