"""Read a scenario file once: YAML, then `--set` overrides, then validation by `kind`.

A `network` scenario is a bare queueing network; a `platform` scenario names an architecture,
which is read and validated (with the scenario's `architecture_changes`) in the same pass, so
nothing above this layer opens a scenario or architecture file again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from twin.config.architecture import CHANGES, Architecture
from twin.config.builtin import find_scenario
from twin.config.files import read_yaml, validate
from twin.config.network import NetworkScenario
from twin.config.overrides import apply_overrides, parse_override
from twin.config.platform import PlatformScenario, build_platform_scenario
from twin.errors import InputError

__all__ = ["Loaded", "load", "load_platform", "load_scenario", "read_yaml"]


@dataclass(frozen=True)
class Loaded:
    """A validated scenario, its file, and its architecture (None for a bare network)."""

    path: Path
    scenario: NetworkScenario | PlatformScenario
    architecture: Architecture | None = None

    @property
    def kind(self) -> str:
        return "platform" if isinstance(self.scenario, PlatformScenario) else "network"


def _network(data: dict[str, Any], path: Path) -> Loaded:
    scenario = validate(lambda: NetworkScenario.model_validate(data), str(path))
    return Loaded(path=path, scenario=scenario)


def _platform(data: dict[str, Any], path: Path) -> Loaded:
    try:
        scenario, architecture = build_platform_scenario(data, path)
    except InputError as exc:
        if exc.source != CHANGES:
            raise
        # A bad change is the scenario's (or its --set's), not the architecture file's.
        raise InputError(str(path), f"{CHANGES}.{exc.field}", exc.message) from None
    return Loaded(path=path, scenario=scenario, architecture=architecture)


# A kind's builder gets the raw mapping and the file's path (to find sibling files).
_KINDS: dict[str, Callable[[dict[str, Any], Path], Loaded]] = {
    "network": _network,
    "platform": _platform,
}


def load(
    path: str | Path, overrides: Iterable[str] = (), *, data: dict[str, Any] | None = None
) -> Loaded:
    """Read, override and validate the scenario at `path` (and its architecture).

    A `path` that names no file but a built-in scenario (`new-year-surge`) reads that one.
    `data` is the file's mapping when the caller has read it already (`read_yaml`): a
    capacity search validates one file under many loads without reading it again.
    """
    path = find_scenario(path)
    raw = read_yaml(path) if data is None else data
    overrides = list(overrides)
    model = _MODELS.get(str(_kind(raw, overrides)))
    data = apply_overrides(raw, overrides, model=model, flat=("architecture_changes",))
    kind = data.get("kind", "network")
    builder = _KINDS.get(kind) if isinstance(kind, str) else None
    if builder is None:
        known = ", ".join(sorted(_KINDS))
        raise InputError(str(path), "kind", f"unknown kind {kind!r} (known: {known})")
    return builder(data, path)


# The model of each kind, against which `--set` paths are checked before they are set.
_MODELS: dict[str, type[BaseModel]] = {"network": NetworkScenario, "platform": PlatformScenario}


def _kind(data: dict[str, Any], overrides: list[str]) -> object:
    """The kind the scenario will have: its file's, or the last `--set kind=...`."""
    kind = data.get("kind", "network")
    for text in overrides:
        path, value = parse_override(text)
        if path == ["kind"]:
            kind = value
    return kind


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Any:
    """The validated scenario model at `path` (either kind)."""
    return load(path, overrides).scenario


def load_platform(
    path: str | Path, overrides: Iterable[str] = ()
) -> tuple[PlatformScenario, Architecture]:
    """A platform scenario file (with `--set` overrides) and its architecture."""
    loaded = load(path, overrides)
    if not isinstance(loaded.scenario, PlatformScenario) or loaded.architecture is None:
        raise InputError(str(path), "kind", "not a platform scenario (kind: platform)")
    return loaded.scenario, loaded.architecture
