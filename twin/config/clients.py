"""How the platform's clients behave when a call is slow or fails: the scenario's `clients` block.

Every app, player and bike gives up on a call after a timeout and tries again after a
capped exponential backoff with jitter, as mobile SDKs do (AWS's "full jitter": a retry
waits a uniform time in [0, min(cap, base * 2^attempt)]). A rider who cannot join keeps
trying for `join_patience_s` and then gives up the class; a player that misses
`reconnect_after` segments in a row drops its stream and joins again (the reconnect storm
that follows every outage). The defaults are a mobile client's: ten seconds for an API
call, one segment duration for a segment (a player that has not received a segment by the
time it should play it stalls anyway), three retries.

    clients:
      timeout_s: {join: 5}        # per request type; others keep the defaults
      retries: 3
      backoff_base_s: 0.5
      backoff_cap_s: 8
      join_patience_s: 60
      reconnect_after: 2
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from twin.config.architecture import REQUEST_TYPES
from twin.config.network import FieldError, Frozen

__all__ = ["DEFAULT_TIMEOUT_S", "MAX_RETRIES", "NO_RETRY", "Clients"]

# A mobile API call's timeout (OkHttp and URLSession default to 10 s of read inactivity).
DEFAULT_TIMEOUT_S = 10.0
# Periodic calls are not retried: the next period sends a fresh one.
NO_RETRY = frozenset({"playlist", "segment", "leaderboard"})
MAX_RETRIES = 10  # past ten retries a client is a denial of service, not a policy
_MAX_S = 3600.0

Seconds = Annotated[float, Field(gt=0, le=_MAX_S, allow_inf_nan=False)]


class Clients(Frozen):
    """Client timeouts, retries with capped exponential backoff and jitter, and patience."""

    timeout_s: dict[str, Seconds] = Field(
        default_factory=dict,
        description="Seconds a client waits for each request type before giving up "
        f"(default {DEFAULT_TIMEOUT_S:g} s; a segment's default is the segment duration).",
    )
    retries: Annotated[int, Field(ge=0, le=MAX_RETRIES)] = Field(
        default=3, description="Retries after the first attempt of a failed or timed-out call."
    )
    backoff_base_s: Seconds = Field(
        default=0.5, description="First retry's backoff ceiling, seconds."
    )
    backoff_cap_s: Seconds = Field(default=8.0, description="Largest backoff ceiling, seconds.")
    jitter: bool = Field(
        default=True, description="Full jitter: wait uniform in [0, ceiling] (false: the ceiling)."
    )
    join_patience_s: Seconds = Field(
        default=60.0, description="Seconds a rider keeps trying to join before giving up the class."
    )
    reconnect_after: Annotated[int, Field(ge=1, le=100)] = Field(
        default=2,
        description="Segments missed in a row after which a player reconnects (joins again).",
    )

    @model_validator(mode="after")
    def _known(self) -> Clients:
        for name in self.timeout_s:
            if name not in REQUEST_TYPES:
                known = ", ".join(REQUEST_TYPES)
                raise FieldError(f"timeout_s.{name}", f"unknown request type (known: {known})")
        if self.backoff_cap_s < self.backoff_base_s:
            raise FieldError("backoff_cap_s", "must be >= backoff_base_s")
        return self

    def timeout_for(self, request_type: str, segment_s: float) -> float:
        """The timeout of `request_type` (a segment's defaults to the segment duration)."""
        default = segment_s if request_type == "segment" else DEFAULT_TIMEOUT_S
        return self.timeout_s.get(request_type, default)

    def backoff_ceiling(self, attempt: int) -> float:
        """The backoff ceiling before retry `attempt` (1 for the first retry)."""
        return min(self.backoff_cap_s, self.backoff_base_s * 2.0 ** (attempt - 1))
