"""The summary charts of a run: latency percentiles per service and per request, and cost.

Pure figure building from `summary.json`: the percentile bars set each service's mean (with
its 95% confidence interval) beside the queueing-theory prediction when the summary has one,
so agreement with theory is visible at a glance. A chart whose data is absent is `None`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from twin.report.figures import Plot, new_figure, plain_ticks, set_value_scale
from twin.report.units import ci_bounds, fmt_usd
from twin.results.reading import cost_items, is_number

__all__ = ["cost_plot", "percentiles_plot"]

_BARS = (
    ("p50", "p50", "#9ecae1"),
    ("p95", "p95", "#4292c6"),
    ("p99", "p99", "#08519c"),
    ("p999", "p99.9", "#08306b"),
)


def _value(entry: object, *keys: str) -> float:
    """`entry[k1][k2]...` as a float, NaN when any step is missing."""
    for key in keys:
        if not isinstance(entry, Mapping) or key not in entry:
            return float("nan")
        entry = entry[key]
    return float(entry) if is_number(entry) else float("nan")


def _ci_errors(entries: Mapping[str, Any], means: np.ndarray) -> np.ndarray | None:
    lows, highs = [], []
    for entry in entries.values():
        latency = entry.get("latency_ms") if isinstance(entry, Mapping) else None
        bounds = ci_bounds(latency.get("ci95") if isinstance(latency, Mapping) else None)
        lows.append(bounds[0] if bounds else np.nan)
        highs.append(bounds[1] if bounds else np.nan)
    if np.all(np.isnan(lows)):
        return None
    errors = np.array([means - np.array(lows), np.array(highs) - means])
    return np.clip(np.nan_to_num(errors), 0.0, None)


def _floor_below(ax: Axes, values: list[float]) -> None:
    """Start a log axis a clear step below the smallest bar, so every bar shows its height."""
    positive = [v for v in values if np.isfinite(v) and v > 0]
    if positive:
        low = min(positive)
        floor = 10 ** np.floor(np.log10(low))
        ax.set_ylim(bottom=floor / 10 if low / floor < 2 else floor)


def _bars(ax: Axes, entries: Mapping[str, Any], predicted: Mapping[str, Any]) -> None:
    names = list(entries)
    x = np.arange(len(names), dtype=float)
    width = 0.8 / len(_BARS)
    shown: list[float] = []
    for j, (key, label, color) in enumerate(_BARS):
        values = [_value(entries[n], "latency_ms", key) for n in names]
        ax.bar(x + (j - 1.5) * width, values, width, label=label, color=color)
        shown += values
    means = np.array([_value(entries[n], "latency_ms", "mean") for n in names])
    theory = np.array([_value(predicted.get(n), "latency_ms_mean") for n in names])
    has_theory = bool(np.isfinite(theory).any())
    # Mean and prediction side by side on the group's centre, so neither hides the other.
    offset = width * 0.3 if has_theory else 0.0
    errors = _ci_errors(entries, means)
    label = "mean" + (" with 95% CI" if errors is not None else "")
    ax.errorbar(x - offset, means, yerr=errors, fmt="D", color="#e6550d", mec="black", ms=7,
                capsize=5, ecolor="black", label=label)  # fmt: skip
    if has_theory:
        ax.scatter(x + offset, theory, marker="*", s=220, color="#31a354", edgecolors="black",
                   linewidths=0.6, zorder=5, label="queueing theory mean")  # fmt: skip
    ax.set_xticks(x, [str(n) for n in names])
    if len(names) > 8:
        ax.tick_params(axis="x", labelrotation=30)
        for tick in ax.get_xticklabels():
            tick.set(ha="right", rotation_mode="anchor")
    ax.set_xlim(*((-0.7, len(names) - 0.3) if len(names) > 1 else (-1.5, 1.5)))
    ax.grid(axis="x", visible=False)
    scale = set_value_scale(ax, [*shown, *means, *theory], zero_possible=False)
    if scale == "log":
        _floor_below(ax, [*shown, *means, *theory])
    ax.set_ylabel("latency (ms, log scale)" if scale == "log" else "latency (ms)")
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i] == "queueing theory mean")
    ax.legend([handles[i] for i in order], [labels[i] for i in order], loc="upper left",
              bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)  # fmt: skip


def _measured(entries: object) -> tuple[dict[str, Any], list[str]]:
    """Entries with a latency to draw, and the names of those without one (not drawn)."""
    if not isinstance(entries, Mapping):
        return {}, []
    keys = [key for key, _, _ in _BARS] + ["mean"]
    has = {
        n: any(np.isfinite(_value(e, "latency_ms", k)) for k in keys) for n, e in entries.items()
    }
    return {n: e for n, e in entries.items() if has[n]}, [str(n) for n in entries if not has[n]]


def percentiles_plot(summary: Mapping[str, Any]) -> Plot | None:
    """Bars of p50/p95/p99/p99.9 per service (and per request type), with means and theory.

    Entries with no latency at all (a service nothing reached) are named in the caption."""
    services, idle = _measured(summary.get("services"))
    requests, unused = _measured(summary.get("requests"))
    candidates = [
        ("per service: wait + service at that station", services),
        ("end to end, per request type (or source)", requests),
    ]
    panels = [(title, entries) for title, entries in candidates if entries]
    if not panels:
        return None
    analytic = summary.get("analytic", {})
    stations = analytic.get("stations", {}) if isinstance(analytic, Mapping) else {}
    figure, axes = new_figure(len(panels), row_height_in=3.3)
    for ax, (title, entries) in zip(axes.flat, panels, strict=True):
        _bars(ax, entries, stations if "service" in title else {})
        ax.set_title(title, loc="left")
    figure.suptitle("Latency percentiles over the whole run (after warm-up)", x=0.01, ha="left")
    caption = (
        "Bars are latency percentiles over all requests after warm-up; the diamond is the "
        "mean with its 95% confidence interval across replications; a star is the "
        "queueing-theory prediction of the mean where the summary has one."
    )
    if idle or unused:
        caption += " Not drawn, no request completed there: " + ", ".join(idle + unused) + "."
    return Plot("percentiles", "Latency percentiles over the run", caption, figure)


def cost_plot(summary: Mapping[str, Any]) -> Plot | None:
    """Monthly cost by component, largest first, each bar labelled with its share."""
    items = cost_items(summary.get("cost"))
    if not items:
        return None
    total = sum(amount for _, amount in items)
    figure, axes = new_figure(1, row_height_in=max(2.2, 0.32 * len(items)))
    ax = axes[0, 0]
    names = [str(name) for name, _ in items][::-1]
    amounts = [amount for _, amount in items][::-1]
    ax.barh(names, amounts, color="#3182bd")
    for y, amount in enumerate(amounts):
        share = f" {fmt_usd(amount)!s} ({amount / total:.0%})" if total else ""
        ax.text(amount, y, share, va="center", fontsize=9)
    ax.set_xlim(0, max(amounts) * 1.25 if max(amounts) > 0 else 1)
    ax.set_xlabel("monthly cost (USD)")
    plain_ticks(ax, x=True)
    ax.grid(axis="y", visible=False)
    figure.suptitle("Monthly cost by component", x=0.01, ha="left")
    caption = "Monthly cost of each component at the run's load, in US dollars."
    return Plot("cost", "Monthly cost by component", caption, figure)
