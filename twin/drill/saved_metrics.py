"""The target's `/metrics` page a drill saved in its folder (`twin.drill.lag.METRICS_NAME`):
the samples of one metric family, read with `prometheus_client`'s own parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from twin.errors import InputError

__all__ = ["metric_samples"]


def metric_samples(path: Path, name: str) -> list[Any]:
    """Every sample (`_sum`, `_count`, `_bucket`...) of the family `name` in the Prometheus
    text at `path`; a page that is not Prometheus text is one line naming the file."""
    try:
        families = list(text_string_to_metric_families(Path(path).read_text(encoding="utf-8")))
    except ValueError as err:
        raise InputError(str(path), None, f"not Prometheus text: {err}") from None
    return [s for family in families if family.name == name for s in family.samples]
