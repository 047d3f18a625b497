"""The exact engine: SimPy, every request an event. It is the oracle the others answer to."""

from twin.sim.exact.engine import run_exact

__all__ = ["run_exact"]
