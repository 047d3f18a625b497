"""Reading how long processes waited for a CPU, from Linux's `/proc` (the I/O half; the rule
that uses it is `twin.drill.starvation`).

A process that waits for a core spends no CPU time, so CPU seconds alone read a starved
machine as a fast one; the scheduler counts the wait. Per task, `/proc/<pid>/task/<tid>/schedstat`
holds three numbers: time on a CPU (ns), time runnable but waiting on a run queue (ns), and
timeslices run (`Documentation/scheduler/sched-stats.rst`). A process's wait is the sum over
its tasks (threads; a thread that has exited takes its share with it). Machine-wide,
`/proc/pressure/cpu` (PSI, Linux 4.20+) gives `some ... total=<us>`: the time during which at
least one runnable task waited for a CPU (`Documentation/accounting/psi.rst`).

Every reader returns None where `/proc` lacks the file (another OS, an older kernel, a
container without PSI, a process that has ended): the drill then records null and the
prediction falls back to CPU time alone.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PROC", "cpu_pressure_s", "run_delay_s"]

PROC = Path("/proc")
_NS = 1e-9
_US = 1e-6


def _task_delay_ns(path: Path) -> int | None:
    """The run-queue delay (2nd field, ns) of one `schedstat` file; None if unreadable."""
    try:
        fields = path.read_text(encoding="ascii").split()
        return int(fields[1])
    except (OSError, IndexError, ValueError):
        return None


def run_delay_s(pid: int, proc: Path = PROC) -> float | None:
    """Seconds the process `pid`'s live tasks have spent runnable but waiting for a CPU, in
    total since each started; None when `/proc` has no `schedstat` for it."""
    tasks = sorted((proc / str(pid) / "task").glob("*/schedstat"))
    if not tasks:  # no per-task files: the process's own line (its main thread)
        tasks = [proc / str(pid) / "schedstat"]
    delays = [_task_delay_ns(path) for path in tasks]
    known = [d for d in delays if d is not None]
    return sum(known) * _NS if known else None


def cpu_pressure_s(proc: Path = PROC) -> float | None:
    """PSI's `some` total of `/proc/pressure/cpu` in seconds: how long, since boot, at least
    one runnable task waited for a CPU; None without PSI."""
    try:
        text = (proc / "pressure" / "cpu").read_text(encoding="ascii")
    except OSError:
        return None
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == "some":
            for word in words[1:]:
                key, _, value = word.partition("=")
                if key == "total" and value.isdigit():
                    return int(value) * _US
    return None
