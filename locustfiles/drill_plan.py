"""The drill plan as the load generators read it: one JSON file written by `twin drill`.

`twin.drill.plan` computes everything from the scenario (users per drill second, the share of
sessions that start live, the scenario's live classes on the compressed clock, the target's
class list, the rider pool with its tokens) so the Locust processes only read this file, named
by the `TWIN_DRILL_PLAN` environment variable. Its format is `twin.drill.wire.Plan`, the one
module of twin these processes import (it imports nothing but the standard library).
"""

from __future__ import annotations

import os
from pathlib import Path

from twin.drill.wire import IN_PROGRESS_S, LiveClass, Plan, Profile, RequestSpec, read_plan

__all__ = ["ENV_PLAN", "IN_PROGRESS_S", "LiveClass", "Plan", "Profile", "RequestSpec",
           "load_plan"]  # fmt: skip

ENV_PLAN = "TWIN_DRILL_PLAN"


def load_plan(path: str | Path | None = None) -> Plan:
    """Read the plan file (`path`, or the one `TWIN_DRILL_PLAN` names)."""
    where = path or os.environ.get(ENV_PLAN)
    if not where:
        raise RuntimeError(f"{ENV_PLAN} is not set: run the rider through `twin drill`")
    return read_plan(where)
