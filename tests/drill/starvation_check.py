"""Each drill's prediction error with the old speed index (CPU time alone) and the new one
(times the stall factor of the wait for a CPU), with one calibrated architecture file.

    python tests/drill/starvation_check.py ARCHITECTURE.yaml DRILL_DIR...

For each drill folder: its wait for a CPU per CPU second, the two indices, and, over the
figures that count (`twin.drill.out_of_sample`: >= 20 requests, percentile pinned within
25 %), how many are within 25 % and the mean |error| under each. The README's "Machine speed"
figures are this script's output. (Drills that replayed an incident are predicted without
it here: use `twin calibrate --validate` for those.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from twin.config.architecture import load_architecture
from twin.drill.out_of_sample import error_rows, totals
from twin.drill.predict import predict, speed_parts
from twin.drill.profile import load_profile
from twin.drill.run import DrillOptions, compile_drill


def _check(architecture: object, folder: Path) -> None:
    measured = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    d = measured["drill"]
    options = DrillOptions(scenario=Path(d["scenario_file"]), out=folder, target="local",
                           scale=d["scale"], speedup=d["speedup"],
                           duration=d["duration_s"])  # fmt: skip
    profile = load_profile(d.get("profile"))[0]  # the types the drill drove (nginx: two)
    scenario, _arch, _compiled, work = compile_drill(options, profile)
    parts = speed_parts(measured, architecture.load_cpu)  # type: ignore[attr-defined]
    print(f"{folder}: wait/CPU {parts['wait_per_cpu']}, calibration's "
          f"{parts['calibration_wait_per_cpu']}, cpu index {parts['cpu_index']}, "
          f"stall factor {parts['stall_factor']}")  # fmt: skip
    for label, speed in (("old (CPU)", parts["cpu_index"]), ("new", parts["speed_index"])):
        predicted = predict(scenario, architecture, work, seed=scenario.seed, replications=3,
                            speed=speed)  # fmt: skip
        rows = error_rows(str(folder), measured, predicted)
        t = totals(rows)
        errors = ", ".join(f"{r['request']} {r['q']} {r['error']:+.0%}" for r in rows
                           if r["counts"])  # fmt: skip
        print(f"  {label:9} index {speed or 1.0:.3f}: {t['within_target']} of {t['counted']} "
              f"within 25 %, mean |error| {t['mean_abs_error']}; {errors}")  # fmt: skip
        for q in ("p50", "p95"):  # every type's, pinned or not (a busy drill pins few)
            signed = sorted(r["error"] for r in rows if r["q"] == q and r["count"] >= 20)
            e = [abs(x) for x in signed]
            print(f"    every {q} of >= 20 requests: {sum(x <= 0.25 for x in e)} of {len(e)} "
                  f"within 25 %, mean |error| {sum(e) / max(len(e), 1):.0%}, "
                  f"median error {signed[len(signed) // 2] if signed else 0:+.0%}")  # fmt: skip


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    architecture = load_architecture(Path(argv[0]))
    for folder in argv[1:]:
        _check(architecture, Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
