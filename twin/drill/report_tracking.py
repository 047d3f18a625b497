"""The drill report's "Load shape" section: how closely the drill followed its plan.

Per drill second, the riders and request rate the plan asked for against what Locust achieved
(`tracking.csv`, `twin.drill.tracking.write_series`), as a figure; per window, the errors
against the 5 % target beside the rate's counting noise (`rate_noise`), so that a small
drill's sampling is not read as a shape that failed to follow. `verdict` is the pure part.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FIGURE", "tracking_section", "verdict"]

FIGURE = "tracking.png"
NOISE_SD = 2.0  # a rate error within two counting-noise sds is what sampling alone gives


def verdict(row: Mapping[str, Any], target: float) -> str:
    """`ok` (both errors within the target), `noise` (the rate's miss within 2 sd of its
    counting noise, the riders within target) or `miss`."""
    riders, rate, noise = row.get("riders_error"), row.get("rate_error"), row.get("rate_noise")
    if riders is not None and riders > target:
        return "miss"
    if rate is None or rate <= target:
        return "ok"
    return "noise" if noise is not None and rate <= NOISE_SD * noise else "miss"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f} %"


def _num(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f}"


def _table(tracked: Mapping[str, Any]) -> str:
    head = ["drill s", "riders (requested / achieved)", "error", "requests/s (requested / "
            "achieved)", "error", "counting noise (1 sd)", "verdict"]  # fmt: skip
    out = ['<div class="scroll"><table><thead><tr>']
    out += [f"<th>{html.escape(h)}</th>" for h in head] + ["</tr></thead><tbody>"]
    width, target = int(tracked.get("window_s") or 0), float(tracked.get("target") or 0.05)
    for row in tracked.get("windows", []):
        t = int(row["t_s"])
        cells = [
            f"{t}-{t + width}",
            f"{_num(row.get('riders_requested'))} / {_num(row.get('riders_achieved'))}",
            _pct(row.get("riders_error")),
            f"{_num(row.get('rate_requested'))} / {_num(row.get('rate_achieved'))}",
            _pct(row.get("rate_error")),
            _pct(row.get("rate_noise")),
            verdict(row, target),
        ]
        out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _figure(out_dir: Path, series: Mapping[str, np.ndarray], window: int) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    t = series["t_s"]
    # Locust's history skips a second now and then: the plot carries the last count over it
    seen = pd.Series(series["riders_achieved"]).ffill().to_numpy()
    shown = {**series, "riders_achieved": seen}
    fig, axes = plt.subplots(2, 1, figsize=(9, 4.8), dpi=110, sharex=True)
    panels = (("riders", "active riders (Locust users)"), ("rate", "requests per second"))
    for ax, (key, label) in zip(axes, panels, strict=True):
        ax.step(t, shown[f"{key}_requested"], where="post", color="#1f5fa8", lw=1.6,
                label="requested (the twin's workload, scaled)")  # fmt: skip
        ax.step(t, shown[f"{key}_achieved"], where="post", color="#d62728", lw=1.1,
                alpha=0.85, label="achieved")  # fmt: skip
        for edge in range(0, int(t.size) + 1, max(1, window)):
            ax.axvline(edge, color="#999999", lw=0.6, ls=":")
        ax.set_ylabel(label, fontsize=9)
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    axes[1].set_xlabel("drill second (dotted: the tracking windows)")
    fig.tight_layout()
    fig.savefig(out_dir / FIGURE)
    plt.close(fig)
    return FIGURE


def tracking_section(
    out_dir: Path, tracked: Mapping[str, Any] | None, series: Mapping[str, np.ndarray] | None,
    runs: int = 1,
) -> str:  # fmt: skip
    """The section's HTML (and `tracking.png` when the per-second series is there)."""
    if not tracked or not tracked.get("windows"):
        return ""
    target = float(tracked.get("target") or 0.05)
    which = f" The run shown is the one of {runs} that followed least well." if runs > 1 else ""
    note = (
        "How closely the drill followed its plan: the active riders and request rate the twin's "
        f"workload asks for (scaled, compressed) against what Locust achieved, per window of "
        f"{tracked.get('window_s')} s; the target is {target:.0%} or better. The riders draw "
        "their sessions at random, so a window's request count has counting noise of its own "
        f"(about 1/sqrt(n) for n requests): a rate error within {NOISE_SD:g} sd of it is "
        "marked <em>noise</em>, one beyond it <em>miss</em>." + which
    )
    fig = ""
    if series is not None and series["t_s"].size:
        image = _figure(out_dir, series, int(tracked.get("window_s") or 0))
        fig = (f'<figure><img src="{image}" alt="requested and achieved riders and request '
               'rate per drill second"><figcaption><strong>Load shape.</strong> Requested '
               "against achieved riders and requests per second, per drill second. "
               f'<span class="file">({image})</span></figcaption></figure>')  # fmt: skip
    return (f'<section id="tracking">\n<h2>Load shape: requested against achieved</h2>\n'
            f'<p class="note">{note}</p>\n{_table(tracked)}\n{fig}\n</section>\n\n')  # fmt: skip
