"""The bad-input table of issue 17: inputs a user can get wrong, each run as the real `twin`
command in its own process, with its exit code, its first line on stderr and its wall time.

Every case must end with exit code 2, exactly one line on stderr, no traceback, in under a
second on an idle machine (`tests/config/test_bad_inputs.py` runs every case and allows 5 s
for a busy CI machine). Cases run in a fresh folder holding `net.yaml` (scenarios/
mmc-example.yaml), `dp.yaml` (scenarios/daily-peak.yaml), its `architectures/`, a minimal
`run/summary.json` for the gate, and the case's own files.

    python benchmarks/bad_inputs.py [--out bad-inputs.md]   # a Markdown table
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
NET = (SCENARIOS / "mmc-example.yaml").read_text(encoding="utf-8")
PLATFORM = (SCENARIOS / "daily-peak.yaml").read_text(encoding="utf-8")
SUMMARY = (
    '{"scenario": "s", "engine": "fluid", "services": {"api": {"latency_ms": {"p99": 80.0}}},'
    ' "requests": {"join": {"count": 10, "latency_ms": {"p99": 300.0}}}}'
)
RUN = ["run", "--out", "out", "-q"]
ARCH = "architecture_changes.components"


def net(old: str, new: str) -> str:
    """The bare-network example with one piece of text replaced."""
    assert old in NET, old
    return NET.replace(old, new, 1)


def platform(old: str, new: str) -> str:
    """The daily-peak platform scenario with one piece of text replaced."""
    assert old in PLATFORM, old
    return PLATFORM.replace(old, new, 1)


def bomb(levels: int = 9) -> str:
    """A "billion laughs": 9 levels of 9 aliases, 387M strings once expanded."""
    lines = ["lol: &a [" + ", ".join(['"lol"'] * 9) + "]"]
    for level in range(1, levels):
        aliases = ", ".join([f"*{chr(96 + level)}"] * 9)
        lines.append(f"l{level}: &{chr(97 + level)} [{aliases}]")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Case:
    """An input (`what`), the command's arguments, and the files the folder needs for it."""

    what: str
    args: list[str]
    files: dict[str, str | bytes | Callable[[Path], None]] = field(default_factory=dict)


def _big(path: Path) -> None:
    with path.open("wb") as out:
        out.write(b"name: big\n")
        out.truncate(17 * 1024 * 1024)


FLUID = ["--engine", "fluid"]


def on_net(what: str, old: str, new: str, *extra: str) -> Case:
    return Case(what, [*RUN, "x.yaml", *extra], {"x.yaml": net(old, new)})


def on_platform(what: str, old: str, new: str) -> Case:
    return Case(what, [*RUN, "x.yaml", *FLUID], {"x.yaml": platform(old, new)})


def a_file(what: str, content: str | bytes | Callable[[Path], None]) -> Case:
    return Case(what, [*RUN, "x.yaml"], {"x.yaml": content})


def setting(what: str, scenario: str, *sets: str, extra: tuple[str, ...] = ()) -> Case:
    """`twin run SCENARIO --set S ...` (daily-peak on the fluid engine, or the bare network)."""
    engine = FLUID if scenario == "dp.yaml" else []
    return Case(what, [*RUN, scenario, *engine, *extra, *(a for s in sets for a in ("--set", s))])


STATION = "network.stations.api"
TWO = "{servers: 1, service: {dist: exponential, mean_s: 0.1}, routes: {%s: 1.0}}"
GATE = ["gate", "run", "--slo"]
CASES: list[Case] = [
    # The issue's own list.
    a_file("YAML alias bomb (9 x 9 aliases)", bomb()),
    on_net("`rate_per_s: .inf`", "rate_per_s: 3.6", "rate_per_s: .inf"),
    on_net("`rate_per_s: .nan`", "rate_per_s: 3.6", "rate_per_s: .nan"),
    on_net("`servers: 1000000000`", "servers: 4", "servers: 1000000000"),
    on_net("`duration_s: 1e15` (bare network, exact engine)", "duration_s: 200000",
           "duration_s: 1e15"),
    on_net("`duration_s: 1e15` (bare network, fluid engine)", "duration_s: 200000",
           "duration_s: 1e15", *FLUID),
    on_platform("`duration_s: 1e15` (platform)", "duration_s: 3600", "duration_s: 1e15"),
    on_platform("`riders: 1e15`", "riders: 3000000", "riders: 1e15"),
    setting("`--riders 1000000000`", "dp.yaml", extra=("--riders", "1000000000")),
    setting("`--seed -1`", "net.yaml", extra=("--seed", "-1")),
    on_net("`routes: {api: 1.0}` (a station routing to itself)", "routes: {exit: 1.0}",
           "routes: {api: 1.0}"),
    on_net("a duplicate key", "seed: 1\n", "seed: 1\nseed: 2\n"),
    on_net("misspelled top-level key `duraton_s` in the file", "duration_s:", "duraton_s:"),
    setting("`--set duraton_s=5`", "net.yaml", "duraton_s=5"),
    setting("`--set architecture_changes.components.cdnn.cdn.egress_gbps=50000`", "dp.yaml",
            f"{ARCH}.cdnn.cdn.egress_gbps=50000"),
    setting("`--set architecture_changes.components.cdn.cdn.egress_gbpz=50000`", "dp.yaml",
            f"{ARCH}.cdn.cdn.egress_gbpz=50000"),
    Case("gate: `--slo requests.jion.latency_ms.p99<=500`",
         [*GATE, "requests.jion.latency_ms.p99<=500"]),
    Case("gate: `--junit` into a folder that does not exist",
         [*GATE, "requests.join.latency_ms.p99<=500", "--junit", "no/such/j.xml"]),
    # Files that are not what they seem.
    Case("`/dev/zero` as the scenario (never ends)", [*RUN, "/dev/zero"]),
    Case("a folder as the scenario", [*RUN, "architectures"]),
    Case("a file that does not exist", [*RUN, "nowhere.yaml"]),
    a_file("a binary file (not UTF-8)", b"\xff\xfe\x00name: x"),
    a_file("an empty file", ""),
    a_file("a file over 16 MiB", _big),
    a_file("YAML that does not parse", "name: [unclosed\n"),
    a_file("a recursive alias", "name: &a [*a]\n"),
    a_file("YAML nested 200 deep", "name: " + "[" * 200 + "]" * 200),
    on_net("`kind: galaxy`", "kind: network", "kind: galaxy"),
    # --set and the options.
    setting("`--set` without `=`", "net.yaml", "duration_s"),
    setting("`--set` with a value that is not YAML", "net.yaml", "network=[1, "),
    setting("`--set network.stations.apii.servers=3` (unknown station)", "net.yaml",
            "network.stations.apii.servers=3"),
    setting("`--set network.sources.9.to=api` (no such list item)", "net.yaml",
            "network.sources.9.to=api"),
    setting("`--replications 100000`", "net.yaml", extra=("--replications", "100000")),
    setting("`--replications 0`", "net.yaml", extra=("--replications", "0")),
    setting("`--seed 9223372036854775808` (2**63)", "net.yaml",
            extra=("--seed", "9223372036854775808")),
    # Sizes past a limit.
    on_net("`rate_per_s: 2e9`", "rate_per_s: 3.6", "rate_per_s: 2e9"),
    on_net("`rate_per_s: 1e6` on the exact engine (2e11 station visits)", "rate_per_s: 3.6",
           "rate_per_s: 1e6", "--engine", "exact"),
    on_net("`interval_s: 1e-6` (timeseries rows)", "seed: 1\n", "seed: 1\ninterval_s: 1e-6\n"),
    on_net("`seed: 1e30` in the file", "seed: 1\n", "seed: 1e30\n"),
    on_platform("`tick_s: 0.001` on a platform (3.6M ticks)", "tick_s: 1\n", "tick_s: 0.001\n"),
    setting("growth x100 on 3M riders", "dp.yaml", "demand.growth={factor: 100, over_s: 600}"),
    setting("a surge of x1e6", "dp.yaml",
            "incidents=[{type: surge, multiplier: 1e6, start_s: 0, end_s: 60}]"),
    setting("`stream.shards: 1e9` as an architecture change", "dp.yaml",
            f"{ARCH}.kinesis.stream.shards=1e9"),
    setting("`count: 1e9` instances as an architecture change", "dp.yaml",
            f"{ARCH}.api.count=1e9"),
    setting("`servers_per_instance: 1e12` as an architecture change", "dp.yaml",
            f"{ARCH}.api.station.servers_per_instance=1e12"),
    setting("two stations routing only to each other", "net.yaml",
            f"network.stations.a={TWO % 'b'}", f"network.stations.b={TWO % 'a'}",
            f"{STATION}.routes={{a: 0.1, exit: 0.9}}"),
    # Values that are wrong in kind.
    setting("`egress_gbps: .inf` as an architecture change", "dp.yaml",
            f"{ARCH}.cdn.cdn.egress_gbps=.inf"),
    setting("an SLO target `.nan`", "dp.yaml", "slo.0.target=.nan"),
    setting("`timezone: Mars/Olympus`", "dp.yaml", "timezone=Mars/Olympus"),
    setting("an incident on an unknown component", "dp.yaml",
            "incidents=[{type: component_down, component: mainframe, start_s: 0, end_s: 9}]"),
    setting("`architecture: phase9` (no such architecture)", "dp.yaml", "architecture=phase9"),
]  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    """What a case did: exit code, stderr lines, wall seconds."""

    code: int
    stderr: list[str]
    seconds: float


def prepare(folder: Path, case: Case) -> None:
    """The folder a case runs in: the shared files, then the case's own."""
    (folder / "architectures").symlink_to(SCENARIOS / "architectures")
    (folder / "net.yaml").write_text(NET, encoding="utf-8")
    (folder / "dp.yaml").write_text(PLATFORM, encoding="utf-8")
    (folder / "run").mkdir()
    (folder / "run" / "summary.json").write_text(SUMMARY, encoding="utf-8")
    for name, content in case.files.items():
        path = folder / name
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def run_case(case: Case, *, timeout: float = 60.0) -> Outcome:
    """Run the case's command as `python -m twin.cli.app` in a fresh folder; time it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    with tempfile.TemporaryDirectory(prefix="twin-bad-") as tmp:
        folder = Path(tmp)
        prepare(folder, case)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "twin.cli.app", *case.args],
            cwd=folder, env=env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - started
    return Outcome(done.returncode, done.stderr.splitlines(), seconds)


def markdown(rows: list[tuple[Case, Outcome]]) -> str:
    """The table: input | exit code | first stderr line | seconds."""
    lines = [
        "| # | input | command | exit | first line on stderr | stderr lines | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, (case, out) in enumerate(rows, 1):
        first = out.stderr[0] if out.stderr else ""
        command = " ".join(a for a in case.args if a not in ("--out", "out", "-q"))
        cells = [str(i), case.what, f"`twin {_cell(command)}`", str(out.code), f"`{_cell(first)}`"]
        lines.append(f"| {' | '.join(cells)} | {len(out.stderr)} | {out.seconds:.2f} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="Write the Markdown table here.")
    args = parser.parse_args(argv)
    rows = [(case, run_case(case)) for case in CASES]
    table = markdown(rows)
    slowest = max(out.seconds for _, out in rows)
    good = sum(o.code == 2 and len(o.stderr) == 1 and o.seconds < 1.0 for _, o in rows)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    note = (
        f"\n{good} of {len(rows)} cases: exit 2, one line, under 1 s; slowest {slowest:.2f} s"
        f" (wall time of the whole process; {os.cpu_count()} cores, load average {load})\n"
    )
    if args.out is not None:
        args.out.write_text(table + note, encoding="utf-8")
    print(table + note, end="")
    return 0 if good == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
