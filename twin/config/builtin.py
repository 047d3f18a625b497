"""The scenarios and architectures shipped with twin, and how a name finds its file.

They are package data (`twin/scenarios/`, `twin/scenarios/architectures/`; the repository's
`scenarios/` is a link to the same folder), so `twin run new-year-surge` and a scenario copied
into any folder can name them. An architecture named by a scenario is looked up in this order:

1. beside the scenario: `architectures/NAME.yaml` in the scenario's folder;
2. as a path, with or without `.yaml`: from the scenario's folder, then the working folder;
3. the built-in architecture of that name.

The first file found wins; when none is, the error names every file tried and the built-ins.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from twin.errors import InputError

__all__ = [
    "ARCHITECTURES_DIR",
    "architecture_candidates",
    "builtin_architectures",
    "builtin_folder",
    "builtin_scenarios",
    "find_architecture",
    "find_scenario",
]

ARCHITECTURES_DIR = "architectures"
_SUFFIXES = (".yaml", ".yml")


def builtin_folder() -> Path:
    """The folder of the shipped scenarios (its `architectures/` holds the architectures)."""
    # twin is installed as files (its report templates and media are read from disk), so the
    # package's resources are a real folder.
    return Path(str(files("twin") / "scenarios"))


def builtin_scenarios() -> dict[str, Path]:
    """The shipped scenarios by name, sorted."""
    return _yaml_files(builtin_folder())


def builtin_architectures() -> dict[str, Path]:
    """The shipped architectures by name, sorted."""
    return _yaml_files(builtin_folder() / ARCHITECTURES_DIR)


def _yaml_files(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.glob("*.yaml"), key=lambda p: p.stem)}


def _bare(name: str) -> str | None:
    """`name` without `.yaml` when it names no folder (a name, not a path); else None."""
    stem = _without_suffix(name)
    return stem if stem and "/" not in stem and "\\" not in stem else None


def _without_suffix(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def find_scenario(given: str | Path) -> Path:
    """The scenario file `given` names: the file itself, else a built-in scenario by name.

    A missing path is returned as given (reading it fails with "no such file"); a missing
    name that no built-in has is an InputError listing the built-ins.
    """
    path = Path(given)
    name = _bare(str(given))
    if path.exists() or name is None:
        return path
    shipped = builtin_scenarios()
    if name not in shipped:
        names = ", ".join(shipped)
        raise InputError(str(given), None, f"no such file, nor a built-in scenario ({names})")
    return shipped[name]


def architecture_candidates(name: str, scenario_path: Path) -> list[Path]:
    """Every file that may hold architecture `name` for the scenario at `scenario_path`, in
    the order they are tried (see the module docstring)."""
    folder = scenario_path.parent
    as_path = Path(name if name.endswith(_SUFFIXES) else f"{name}.yaml")
    found: list[Path] = []
    bare = _bare(name)
    if bare:
        found.append(folder / ARCHITECTURES_DIR / f"{bare}.yaml")
    found += [as_path] if as_path.is_absolute() else [folder / as_path, as_path]
    if bare:
        found.append(builtin_folder() / ARCHITECTURES_DIR / f"{bare}.yaml")
    return list(dict.fromkeys(found))  # a scenario in the working folder tries a path once


def find_architecture(
    name: str, scenario_path: Path, *, where: tuple[str, str | None] | None = None
) -> Path:
    """The file of architecture `name` for the scenario at `scenario_path`.

    Raises InputError naming what was tried, on `where` (source, field): by default the
    scenario's `architecture` field.
    """
    tried = architecture_candidates(name, scenario_path)
    for path in tried:
        if path.is_file():
            return path
    source, field = where or (str(scenario_path), "architecture")
    shipped = ", ".join(builtin_architectures())
    raise InputError(
        source,
        field,
        f"unknown architecture {name!r} (tried {', '.join(map(str, tried))}; built-in: {shipped})",
    )
