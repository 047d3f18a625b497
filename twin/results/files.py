"""Where a run's files go and how they are written: atomically, so nothing is half-written.

Every file is written to a temporary name in its own folder and moved into place with
`os.replace`, so a reader (or a CI job) sees either the old file or the whole new one.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from twin.errors import InputError
from twin.results.summary import Summary

__all__ = [
    "default_out_dir",
    "prepare_out_dir",
    "timeseries_csv",
    "write_bytes",
    "write_json",
    "write_summary",
    "write_text",
    "write_timeseries",
]

REPORTS = Path("reports")


def default_out_dir(scenario_name: str, now: datetime | None = None) -> Path:
    """`reports/<scenario>-<YYYYmmdd-HHMMSS>`, with a suffix if that folder exists already."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", scenario_name).strip("-") or "run"
    base = REPORTS / f"{safe}-{stamp}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def prepare_out_dir(out: Path) -> Path:
    """Create the output folder (and parents), refusing a path that is a file."""
    if out.exists() and not out.is_dir():
        raise InputError(str(out), None, "--out must be a folder, and this is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(str(out), None, f"cannot create the folder ({exc.strerror})") from None
    return out


def write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; a report is meant to be shared
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: Path, text: str) -> Path:
    """Write `text` to `path` atomically (UTF-8)."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write a mapping as indented JSON (NaN is not JSON: callers give None instead)."""
    return write_text(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


def write_summary(path: Path, summary: Mapping[str, Any] | Summary) -> Path:
    """Write a `summary.json` (or a drill's `predicted.json`) from the typed model: whoever made
    the mapping, what lands on disk has the keys and types `Summary` declares."""
    model = summary if isinstance(summary, Summary) else Summary.from_mapping(summary)
    return write_json(path, model.to_mapping())


def write_timeseries(path: Path, frame: pd.DataFrame) -> Path:
    """Write the time series table as CSV."""
    return write_text(path, timeseries_csv(frame))


def timeseries_csv(frame: pd.DataFrame) -> str:
    """The time series table as `timeseries.csv` holds it."""
    return frame.to_csv(index=False, float_format="%.6g")
