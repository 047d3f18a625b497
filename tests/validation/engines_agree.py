"""The validation suite: every incident scenario and its fixed variant on both engines, at a
reduced scale, compared figure by figure (`tests.validation.agreement`).

    python tests/validation/engines_agree.py [--jobs 2] [--replications 5] [--only NAME ...]
                                         [--write]

runs what the cache lacks (`tests.validation.runs`), prints the rows outside their target,
and with `--write` writes docs/validation/engines.{csv,json,md} and the README's section
between its engines-agree markers. `make validate` runs it with `--write`, then the `slow`
tests, which assert every judged row (`test_engines_agree.py`) from the same cache.
"""

from __future__ import annotations

import argparse
import sys
import time
import types
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

if __name__ in {"__main__", "__mp_main__"}:
    # A package called `tests` is installed in site-packages by a dependency (Ciw): make
    # `tests` this repository's folder, as pytest does, before importing the modules beside this.
    _ROOT = Path(__file__).resolve().parents[2]
    sys.modules["tests"] = types.ModuleType("tests")
    sys.modules["tests"].__path__ = [str(_ROOT / "tests")]  # type: ignore[attr-defined]
    sys.path.insert(0, str(_ROOT))

from tests.validation import table
from tests.validation.agreement import Row, compare
from tests.validation.cases import CASES, Case, case_named
from tests.validation.runs import ROOT, code_version, load_or_run, units_for

__all__ = ["FLUID_RUNS", "REPLICATIONS", "case_rows", "main", "measure"]

REPLICATIONS = 5  # exact: a Student-t interval on 4 degrees of freedom
FLUID_RUNS = 2  # fluid: deterministic but for its probes; two seeds show how nearly
BASE_SEED = 1
DOCS = ROOT / "docs" / "validation"
README = ROOT / "README.md"


Runs = list[dict[str, Any]]


def measure(
    cases: Sequence[Case], *, replications: int = REPLICATIONS, fluid_runs: int = FLUID_RUNS,
    jobs: int = 2, say=lambda _: None,
) -> dict[Case, tuple[Runs, Runs, Runs]]:  # fmt: skip
    """Each case's exact and fluid summaries at its scale, and the fluid engine's at full
    scale (cached units, the rest run on `jobs` processes)."""
    wanted = {
        case: (units_for(case, "exact", replications, BASE_SEED),
               units_for(case, "fluid", fluid_runs, BASE_SEED),
               units_for(replace(case, scale=1.0), "fluid", 1, BASE_SEED))
        for case in cases
    }  # fmt: skip
    every = [u for units in wanted.values() for group in units for u in group]
    done = load_or_run(every, jobs=jobs, say=say)
    return {
        case: tuple([done[u] for u in group] for group in units)  # type: ignore[misc]
        for case, units in wanted.items()
    }


def case_rows(case: Case, exact: Runs, fluid: Runs, full: Runs) -> list[Row]:
    return compare(case.name, exact, fluid, full[0] if full else None)


def _meta(measured, replications: int, fluid_runs: int, command: str) -> dict[str, Any]:
    cases = {
        case.name: {
            "scale": case.scale, "sets": list(case.sets), "riders": int(exact[0]["riders"]),
            "exact_wall_s": sum(s["wall_seconds"] for s in exact) / len(exact),
            "fluid_wall_s": sum(s["wall_seconds"] for s in fluid) / len(fluid),
        }
        for case, (exact, fluid, _) in measured.items()
    }  # fmt: skip
    return {"command": command, "code_version": code_version(), "replications": replications,
            "fluid_runs": fluid_runs, "base_seed": BASE_SEED, "cases": cases}  # fmt: skip


def write(rows: list[Row], meta: dict[str, Any]) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / "engines.csv").write_text(table.to_csv(rows), encoding="utf-8")
    (DOCS / "engines.json").write_text(table.to_json(rows, meta) + "\n", encoding="utf-8")
    full = "# The engines' agreement, every row\n\n" + table.full_markdown(rows, meta)
    (DOCS / "engines.md").write_text(full, encoding="utf-8")
    text = README.read_text(encoding="utf-8")
    README.write_text(table.replace_section(text, table.readme_markdown(rows, meta)),
                      encoding="utf-8")  # fmt: skip


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.validation.engines_agree")
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--replications", type=int, default=REPLICATIONS)
    parser.add_argument("--fluid-runs", type=int, default=FLUID_RUNS)
    parser.add_argument("--only", nargs="*", default=None, help="case names (default: all)")
    parser.add_argument("--write", action="store_true", help="write docs/validation and README")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    cases = CASES if not args.only else tuple(case_named(n) for n in args.only)
    started = time.perf_counter()
    measured = measure(cases, replications=args.replications, fluid_runs=args.fluid_runs,
                       jobs=args.jobs, say=lambda m: print(m, flush=True))  # fmt: skip
    rows = [r for case, runs in measured.items() for r in case_rows(case, *runs)]
    out = [r for r in rows if r.passed is False]
    print(f"{len(rows)} rows, {len(out)} outside target ({time.perf_counter() - started:.0f} s)")
    for row in out:
        print(table._line(row))
    if args.write:
        command = "python tests/validation/engines_agree.py --write" + (
            "" if args.replications == REPLICATIONS else f" --replications {args.replications}")
        write(rows, _meta(measured, args.replications, args.fluid_runs, command))
        print(f"wrote {Path(DOCS).relative_to(ROOT)}/engines.{{csv,json,md}} and README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
