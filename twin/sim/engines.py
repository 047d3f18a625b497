"""Choose an engine by name for a loaded scenario: the one seam the CLI runs through."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twin.errors import InputError
from twin.sim.result import RunResult

__all__ = ["ENGINES", "simulate"]

ENGINES = ("exact", "fluid")


def simulate(
    scenario: Any,
    *,
    engine: str,
    seed: int | None = None,
    replications: int = 1,
    precision: float | None = None,
    progress: Callable[[float, float], None] | None = None,
) -> RunResult:
    """Run `scenario` on `engine` ("exact" or "fluid")."""
    if engine not in ENGINES:
        raise InputError(
            "--engine", None, f"unknown engine {engine!r} (known: {', '.join(ENGINES)})"
        )
    if engine == "exact":
        from twin.config.network import NetworkScenario
        from twin.sim.exact import run_exact

        if not isinstance(scenario, NetworkScenario):
            raise InputError(
                "--engine",
                None,
                "the exact engine runs bare networks; use --engine fluid for a platform",
            )
        return run_exact(
            scenario, seed=seed, replications=replications, precision=precision, progress=progress
        )
    from twin.config.network import NetworkScenario
    from twin.sim.fluid import run_fluid

    if not isinstance(scenario, NetworkScenario):
        raise TypeError("platform scenarios run through twin.sim.platform_run.run_platform_file")
    if precision is not None:
        raise InputError(
            "--precision", None, "only the exact engine adds replications to a precision"
        )
    return run_fluid(scenario, seed=seed, replications=replications, progress=progress)
