"""The capacity page: `capacity.html` beside `capacity.png`, from what `twin capacity` found.

The answer in a sentence (the largest load meeting every SLO, its headroom over the
scenario's own load, whether replications confirmed it), the SLO that bound it with its value
on either side of the answer, every load the search probed as a table (each SLO's reading
there, the ones it missed marked), and the plot. Built from `capacity.json`'s document and
the search's SLOs; rendered with the run report's templates (`capacity.html.j2`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import twin
from twin.report.html import environment
from twin.report.tables import Cell, Table
from twin.report.units import MISSING, fmt_count, fmt_metric, fmt_pct
from twin.results.capacity import distinct
from twin.results.files import write_text
from twin.results.slo import OPS, Slo

__all__ = ["CAPACITY_NAME", "capacity_context", "render_capacity"]

CAPACITY_NAME = "capacity.html"


def _load(knob: str, value: object) -> str:
    """Riders as a count; a load factor as `x1.25`."""
    if not isinstance(value, int | float):
        return MISSING
    return fmt_count(round(value)) if knob == "riders" else f"x{value:.3g}"


def _knob_words(knob: str) -> str:
    return "riders" if knob == "riders" else "load factor (x the scenario's rates)"


def headline(document: Mapping[str, Any]) -> str:
    """The answer in one sentence."""
    knob = str(document["knob"])
    best = document.get(f"max_{knob}")
    slos = "; ".join(document.get("slo", []))
    if best is None:
        return f"No load the search tried meets every SLO ({slos})."
    head = document.get("headroom")
    scenario = _load(knob, document.get(f"scenario_{knob}"))
    confirmed = "confirmed" if document.get("confirmed") else "not confirmed"
    what = "riders" if knob == "riders" else "the scenario's rates"
    return (
        f"Every SLO ({slos}) is met up to {_load(knob, best)} {what}: {_signed(head)} against "
        f"the scenario's {scenario}, {confirmed} with replications."
    )


def _signed(share: object) -> str:
    if not isinstance(share, int | float):
        return MISSING
    return ("+" if share >= 0 else "") + fmt_pct(share)


def binding_text(document: Mapping[str, Any]) -> str:
    """Which SLO bound the answer and what it read on either side of it."""
    binding = document.get("binding_slo")
    knob = str(document["knob"])
    if not isinstance(binding, Mapping):
        return "No failing load above the answer was probed: nothing bound it within the search."

    def at(point: object, verdict: str) -> str:
        if not isinstance(point, Mapping):
            return f"no load {verdict} it"
        value = fmt_metric(binding["metric"], point.get("observed"))
        return f"{value} at {_load(knob, point.get('load'))} ({verdict} it)"

    return (
        f"Bound by “{binding['name']}” (target {binding['op']} "
        f"{fmt_metric(binding['metric'], binding['target'])}): "
        f"{at(binding.get('below'), 'meets')}, {at(binding.get('above'), 'misses')}."
    )


def probes_table(document: Mapping[str, Any], slos: Sequence[Slo]) -> Table:
    """Every probed load, lowest first: the verdict, replications and each SLO's reading."""
    knob = str(document["knob"])
    slos = distinct(slos)
    rows = []
    for probe in sorted(document.get("probes", []), key=lambda p: p["load"]):
        verdict = Cell("meets", css="pass") if probe["passed"] else Cell("misses", css="fail")
        cells = [Cell(_load(knob, probe["load"]), str(probe["load"]), css="name"), verdict]
        cells.append(Cell(fmt_count(probe.get("replications", 1))))
        cells += [_reading(slo, probe["observed"].get(slo.metric)) for slo in slos]
        rows.append(tuple(cells))
    columns = (knob.replace("_", " "), "every SLO", "replications", *(s.name for s in slos))
    note = "A reading in red misses its SLO; the answer is the largest load that meets them all."
    return Table(columns, tuple(rows), note)


def _reading(slo: Slo, value: object) -> Cell:
    shown = fmt_metric(slo.metric, value)
    met = isinstance(value, int | float) and OPS[slo.op](value, slo.target)
    return Cell(shown, "" if value is None else repr(value), css="" if met else "differ")


def capacity_context(
    document: Mapping[str, Any], slos: Sequence[Slo], image: str
) -> dict[str, Any]:
    """What `capacity.html.j2` shows."""
    knob = str(document["knob"])
    best = _load(knob, document.get(f"max_{knob}"))
    facts = [
        ("scenario", str(document["scenario"])),
        ("engine", str(document["engine"])),
        ("searched", _knob_words(knob)),
        ("largest load meeting every SLO", best),
        ("the scenario's", _load(knob, document.get(f"scenario_{knob}"))),
        ("headroom", _signed(document.get("headroom"))),
        ("confirmed", "yes" if document.get("confirmed") else "no"),
        ("loads probed", fmt_count(len(document.get("probes", [])))),
    ]  # fmt: skip
    return {
        "version": twin.__version__,
        "scenario": document["scenario"],
        "facts": facts,
        "headline": headline(document),
        "binding": binding_text(document),
        "passed": document.get(f"max_{knob}") is not None,
        "probes": probes_table(document, slos),
        "image": image,
    }


def render_capacity(
    out_dir: Path, document: Mapping[str, Any], slos: Sequence[Slo], image: str = "capacity.png"
) -> Path:
    """Write `capacity.html` into `out_dir` (beside the plot `image`); its path."""
    page = (
        environment()
        .get_template("capacity.html.j2")
        .render(capacity_context(document, slos, image))
    )
    path = out_dir / CAPACITY_NAME
    write_text(path, page)
    return path
