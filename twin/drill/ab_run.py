"""`twin drill ... --ab B [--split 50]`: two variants of the platform drilled at once.

The control (variant A: `--target local` as it is, or `--host`) is drilled in this process
and the treatment (B: a local `twin serve` with the `twin serve` options `--ab` gives, or the
host `--ab` names) by a child `twin drill` started at the same moment, each a complete drill
into `control/` and `treatment/` (summary, prediction, drift checks, report). Each takes the
share of the scenario's riders its variant has (`--split`: the control's per cent) and rides
only the riders of the pool that the seed's stable hash puts in its variant
(`twin.drill.ab.assign_variant`). Both load records are then compared
(`twin.drill.ab.compare_variants`) into `ab.json` and one `report.html`
(`twin.report.ab_page`). The child is stopped however this process ends.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from twin.drill.ab import EXPERIMENT, compare_experience, compare_variants, serve_args
from twin.drill.drift import read_baseline
from twin.drill.target import Target
from twin.errors import InputError, TargetError
from twin.report.ab_page import render_ab_report
from twin.results.files import write_text

__all__ = ["AB_FILE", "check_ab", "run_ab"]

AB_FILE = "ab.json"
_CHILD_GRACE_S = 60.0


def check_ab(options: Any) -> tuple[str, ...]:
    """Bad input before any work: the split, and `--ab` (the treatment's `twin serve`
    options with `--target local`; with `--host`, a URL that answers). The serve options."""
    if not 1 <= options.split <= 99:
        raise InputError("--split", None, f"must be a whole per cent in 1-99, got {options.split}")
    if options.repeat != 1 or options.master or options.drift_baseline is not None:
        raise InputError("--ab", None, "drills two variants once each: no --repeat, --master "
                         "or --drift-baseline")  # fmt: skip
    if options.target is not None:
        return serve_args(str(options.ab))
    if not str(options.ab).startswith(("http://", "https://")):
        raise InputError("--ab", None, f"with --host, give the treatment's URL: {options.ab!r}")
    Target(str(options.ab), ca_cert=options.ca_cert).call("GET", "/healthz")  # else one line
    return ()


def _child_command(options: Any, folder: Path, args: tuple[str, ...]) -> list[str]:
    """The `twin drill` of the treatment, with its share of the riders."""
    share = (100 - options.split) / 100.0
    where = ["--target", "local"] if options.target else ["--host", str(options.ab)]
    command = [
        sys.executable, "-m", "twin.cli.app", "drill", str(options.scenario), *where,
        "--scale", repr(options.scale * share), "--speedup", repr(options.speedup),
        "--out", str(folder), "--quiet", "--ab-variant", "treatment",
        "--split", str(options.split), "--workers", str(options.workers),
        "--incidents" if options.replay_incidents else "--no-incidents",
    ]  # fmt: skip
    if options.duration is not None:
        command += ["--duration", repr(options.duration)]
    for flag, value in (("--architecture", options.architecture), ("--profile", options.profile),
                        ("--ca-cert", options.ca_cert)):  # fmt: skip
        if value is not None:
            command += [flag, str(value)]
    command += ["--ab-sync", str(Path(options.out) / "sync")]
    return command + ([f"--serve-args={' '.join(args)}"] if args else [])


def _tail(folder: Path) -> str:
    lines = (folder / "drill.log").read_text(errors="replace").strip()
    return lines.splitlines()[-1] if lines else "no output"


def _watch(child: subprocess.Popen[bytes], folder: Path, sync: Path) -> None:
    """Tell the control (waiting to start with it) when the treatment's drill failed."""
    if child.wait() != 0:
        sync.mkdir(parents=True, exist_ok=True)
        part = sync / "treatment.failed.part"  # renamed whole: the control never reads half
        part.write_text(_tail(folder), encoding="utf-8")
        part.replace(sync / "treatment.failed")


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()  # the child drill stops its Locust and its server (SIGTERM)
        try:
            child.wait(_CHILD_GRACE_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def run_ab(
    options: Any, run_one: Callable[[Any, Callable[[str], None]], dict[str, Any]],
    say: Callable[[str], None],
) -> dict[str, Any]:  # fmt: skip
    """Drill both variants (the control through `run_one`, twin.drill.run's `run_drill`) and
    write `ab.json` and `report.html`; the comparison."""
    args = check_ab(options)
    out = Path(options.out)
    folders = {"control": out / "control", "treatment": out / "treatment"}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "sync", ignore_errors=True)  # an earlier A/B drill's meeting
    say(f"A/B: {options.split} % of riders in control, the rest in treatment ({options.ab})")
    with (folders["treatment"] / "drill.log").open("wb") as log:
        child = subprocess.Popen(_child_command(options, folders["treatment"], args),
                                 stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    threading.Thread(target=_watch, args=(child, folders["treatment"], out / "sync"),
                     daemon=True).start()  # fmt: skip
    try:
        control = run_one(replace(options, out=folders["control"], ab=None,
                                  scale=options.scale * options.split / 100.0,
                                  variant="control", ab_sync=out / "sync"), say)  # fmt: skip
        code = child.wait(600.0)  # it started with the control, which has finished
    finally:
        _stop(child)
    if code != 0:
        tail = _tail(folders["treatment"])
        raise TargetError(f"the treatment's drill failed (exit {code}): {tail}")
    return _compare(options, out, folders, control, args, say)


def _compare(
    options: Any, out: Path, folders: dict[str, Path], control: dict[str, Any],
    args: tuple[str, ...], say: Callable[[str], None],
) -> dict[str, Any]:  # fmt: skip
    treatment = json.loads((folders["treatment"] / "summary.json").read_text(encoding="utf-8"))
    rng = np.random.default_rng(int(control.get("seed") or 0))
    measured = {name: read_baseline(folder) for name, folder in folders.items()}
    document = {
        "experiment": EXPERIMENT,
        "split": options.split,
        "assignment": "sha256 of 'experiment:rider_id' mod 100 < split: control",
        "interval": "95 % block bootstrap over 1 s latency windows (blocks of 3), variants "
                    "resampled independently, 2000 resamples; difference = treatment - control",
        "variants": {
            "control": {"folder": "control", "target": control["drill"]["host"],
                        "serve_args": [], "riders": control["riders"]},
            "treatment": {"folder": "treatment", "target": treatment["drill"]["host"],
                          "serve_args": list(args), "riders": treatment["riders"]},
        },
        "requests": compare_variants(measured["control"], measured["treatment"], rng),
        **compare_experience(control, treatment),
    }  # fmt: skip
    write_text(out / AB_FILE, json.dumps(document, indent=2) + "\n")
    render_ab_report(out, document, {"control": control, "treatment": treatment})
    say(f"A/B: wrote {out / AB_FILE} and {out / 'report.html'}")
    return document
