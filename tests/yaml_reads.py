"""Counting the YAML files a command reads, by path: a scenario is read once per command."""

from __future__ import annotations

import collections
import contextlib
import pathlib
from collections.abc import Iterator

import pytest


@contextlib.contextmanager
def counting_yaml_reads() -> Iterator[collections.Counter[str]]:
    """Within the block, every `.yaml` file read in this process is counted by resolved path."""
    reads: collections.Counter[str] = collections.Counter()
    original = pathlib.Path.read_text

    def read_text(self: pathlib.Path, *args: object, **kwargs: object) -> str:
        if self.suffix in (".yaml", ".yml"):
            reads[str(self.resolve())] += 1
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pathlib.Path, "read_text", read_text)
        yield reads
