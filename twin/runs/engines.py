"""Which engine runs a model: the one place an engine is chosen.

A model is what an engine is given: a bare network (`NetworkScenario`) or a compiled platform
(`CompiledPlatform`). Both engines take both; only the exact engine adds replications until
a precision is met, and only on a bare network.
"""

from __future__ import annotations

from collections.abc import Callable

from twin.config.network import NetworkScenario
from twin.errors import InputError
from twin.sim.exact import run_exact
from twin.sim.exact.platform import run_exact_platform
from twin.sim.fluid import run_fluid
from twin.sim.platform_input import CompiledPlatform
from twin.sim.result import RunResult

__all__ = ["ENGINES", "check_engine", "simulate"]

ENGINES = ("exact", "fluid")
Progress = Callable[[float, float], None]


def check_engine(engine: str) -> str:
    """`engine` if the twin has it, else an InputError naming `--engine`."""
    if engine not in ENGINES:
        raise InputError(
            "--engine", None, f"unknown engine {engine!r} (known: {', '.join(ENGINES)})"
        )
    return engine


def simulate(
    model: NetworkScenario | CompiledPlatform,
    *,
    engine: str,
    name: str,
    seed: int,
    replications: int = 1,
    precision: float | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run `model` on `engine`; `name` and `seed` are the scenario's."""
    check_engine(engine)
    if precision is not None and not (engine == "exact" and isinstance(model, NetworkScenario)):
        raise InputError(
            "--precision", None, "only the exact engine on a bare network adds replications"
        )
    if isinstance(model, NetworkScenario):
        if engine == "exact":
            return run_exact(
                model, seed=seed, replications=replications, precision=precision,
                progress=progress,
            )  # fmt: skip
        return run_fluid(model, seed=seed, replications=replications, progress=progress)
    if engine == "exact":
        return run_exact_platform(
            model, name=name, seed=seed, replications=replications, progress=progress
        )
    return run_fluid(model, seed=seed, replications=replications, progress=progress)
