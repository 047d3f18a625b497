"""The connected-fitness platform, the domain: catalogue, riders, demand, workload and cost.

Everything here is pure calculation over NumPy arrays and the frozen models of `twin.config`;
it knows nothing of the engines (`twin.runs` compiles what it computes into their input).
"""

from __future__ import annotations

__all__: list[str] = []
