"""The connected-fitness platform: catalogue, riders, demand, workload, architectures and cost.

Everything here is pure calculation over NumPy arrays and frozen models; the engines in
`twin.sim` consume what `compile_platform` produces. `register()` teaches the scenario loader
the `platform` kind.
"""

from __future__ import annotations

__all__ = ["register"]


def register() -> None:
    """Register the `platform` scenario kind with the loader (idempotent)."""
    from twin.platform.scenario import register_platform_kind

    register_platform_kind()
