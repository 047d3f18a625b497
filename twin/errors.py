"""The one exception tree of twin. Every error a user can cause is a `TwinError`.

    TwinError                    anything twin refuses; the CLI prints it as one line, exit 2
    ├── InputError               a file or value is wrong: names the file and the field
    ├── UnstableError            an analytic model has a station at utilization >= 1
    └── TargetError              a host to drill or serve is unreachable or unusable

The CLI turns these into one line on stderr and exit code 2; nothing else does.
"""

from __future__ import annotations

__all__ = ["InputError", "TargetError", "TwinError", "UnstableError"]


class TwinError(Exception):
    """Base of every error twin reports to a user as a single line."""


class InputError(TwinError):
    """A scenario, architecture or option is wrong.

    `source` is the file (or "--set", "--riders", ...) and `field` the dotted path of the
    offending key, so the message reads `scenarios/x.yaml: network.sources.0.rate_per_s: ...`.
    """

    def __init__(self, source: str, field: str | None, message: str) -> None:
        self.source = source
        self.field = field
        self.message = message
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {message}")

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str | None, str]]:
        # Raised in a worker process, it crosses back to the command by pickle.
        return (type(self), (self.source, self.field, self.message))


class UnstableError(TwinError):
    """A station is offered more work than it can serve (utilization >= 1)."""

    def __init__(self, station: str, utilization: float) -> None:
        self.station = station
        self.utilization = utilization
        super().__init__(
            f"station {station!r} is unstable: utilization {utilization:.3f} >= 1, "
            "so it has no steady state (add servers or lower its arrival rate)"
        )

    def __reduce__(self) -> tuple[type[UnstableError], tuple[str, float]]:
        return (type(self), (self.station, self.utilization))


class TargetError(TwinError):
    """A host to drill or serve cannot be reached or answers nothing but errors."""
