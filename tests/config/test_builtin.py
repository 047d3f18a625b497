"""Built-in scenarios and architectures: found by name from any folder, after a file beside the
scenario and a path; what was tried is named when nothing is found."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from twin.config.builtin import (
    architecture_candidates,
    builtin_architectures,
    builtin_folder,
    builtin_scenarios,
    find_scenario,
)
from twin.config.loader import load, load_platform
from twin.errors import InputError

ARCHITECTURES = ["nginx-origin", "phase1-monolith", "phase2-microservices", "phase3-global",
                 "reference-platform"]  # fmt: skip


@pytest.fixture
def lone(tmp_path: Path, scenarios_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """daily-peak.yaml alone in an empty folder, which is also the working folder."""
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(scenarios_dir / "daily-peak.yaml", folder / "daily-peak.yaml")
    monkeypatch.chdir(tmp_path)
    return folder / "daily-peak.yaml"


def _architecture_file(folder: Path, name: str, riders: int) -> Path:
    """A copy of phase1-monolith under another name and riders, to tell which file was read."""
    text = builtin_architectures()["phase1-monolith"].read_text(encoding="utf-8")
    text = text.replace("name: phase1-monolith", f"name: {name}").replace(
        "riders: 1000 ", f"riders: {riders} "
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_files_are_package_data_and_the_repository_folder_links_to_them(scenarios_dir):
    assert builtin_folder() == Path(__file__).resolve().parents[2] / "twin" / "scenarios"
    assert scenarios_dir.resolve() == builtin_folder().resolve()
    assert list(builtin_architectures()) == ARCHITECTURES
    assert {"new-year-surge", "new-year-surge-fixed", "mmc-example"} <= set(builtin_scenarios())


def test_a_scenario_alone_in_a_folder_uses_the_built_in_architecture(lone):
    scenario, arch = load_platform(lone)
    assert (scenario.name, arch.name, arch.riders) == ("daily-peak", "phase3-global", 3_000_000)


def test_a_file_beside_the_scenario_wins_over_the_built_in(lone):
    _architecture_file(lone.parent / "architectures", "phase3-global", riders=1234)
    _, arch = load_platform(lone)
    assert arch.riders == 1234


@pytest.mark.parametrize("given", ["archs/small.yaml", "archs/small", "ABSOLUTE"])
def test_a_path_works_with_or_without_yaml(lone, given):
    path = _architecture_file(lone.parent / "archs", "small", riders=777)
    given = str(path) if given == "ABSOLUTE" else given
    _, arch = load_platform(lone, [f"architecture={given}"])
    assert (arch.name, arch.riders) == ("small", 777)


def test_a_path_from_the_working_folder_works_too(lone):
    _architecture_file(Path.cwd() / "elsewhere", "small", riders=555)
    _, arch = load_platform(lone, ["architecture=elsewhere/small.yaml"])
    assert arch.riders == 555


def test_a_built_in_name_with_yaml_is_the_built_in(lone):
    _, arch = load_platform(lone, ["architecture=phase2-microservices.yaml"])
    assert arch.name == "phase2-microservices"


def test_the_order_tried_is_beside_then_path_then_built_in(lone):
    folder = lone.parent
    assert architecture_candidates("phase9", lone) == [
        folder / "architectures" / "phase9.yaml",
        folder / "phase9.yaml",
        Path("phase9.yaml"),
        builtin_folder() / "architectures" / "phase9.yaml",
    ]


def test_an_unknown_architecture_names_what_was_tried_and_the_built_ins(lone):
    with pytest.raises(InputError) as info:
        load(lone, ["architecture=my/arch.yaml"])
    err = info.value
    assert (err.source, err.field) == (str(lone), "architecture")
    assert err.message == (
        f"unknown architecture 'my/arch.yaml' (tried {lone.parent / 'my/arch.yaml'}, "
        f"my/arch.yaml; built-in: {', '.join(ARCHITECTURES)})"
    )
    assert "yaml.yaml" not in str(err)


def test_a_built_in_scenario_runs_by_name_from_any_folder(lone):
    assert find_scenario("new-year-surge") == builtin_scenarios()["new-year-surge"]
    loaded = load("new-year-surge-fixed")
    assert loaded.scenario.name == "new-year-surge-fixed"
    assert loaded.path == builtin_folder() / "new-year-surge-fixed.yaml"


def test_a_file_of_the_name_wins_over_the_built_in_scenario(lone):
    assert find_scenario(lone) == lone
    (Path.cwd() / "daily-peak").write_text("name: x\n", encoding="utf-8")
    assert find_scenario("daily-peak") == Path("daily-peak")


def test_an_unknown_scenario_name_lists_the_built_ins(lone):
    with pytest.raises(InputError) as info:
        find_scenario("new-year-surgee")
    assert info.value.source == "new-year-surgee"
    assert info.value.message.startswith("no such file, nor a built-in scenario (covid-growth, ")
    assert find_scenario("no/such/file.yaml") == Path("no/such/file.yaml")  # "no such file"
