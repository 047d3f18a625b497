"""The validation cache's code version: one engine's change reruns that engine's units only."""

from __future__ import annotations

from pathlib import Path

from tests.validation.runs import code_version


def _tree(root: Path) -> None:
    for name, text in {
        "sim/exact/station.py": "a = 1\n",
        "sim/fluid/flow.py": "b = 1\n",
        "sim/caps.py": "c = 1\n",
        "config/scaling.py": "d = 1\n",
        "scenarios/x.yaml": "e: 1\n",
    }.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_an_engines_own_package_changes_only_its_version(tmp_path: Path) -> None:
    _tree(tmp_path)
    before = {e: code_version(tmp_path, e) for e in ("exact", "fluid", None)}
    (tmp_path / "sim/fluid/flow.py").write_text("b = 2\n", encoding="utf-8")
    after = {e: code_version(tmp_path, e) for e in ("exact", "fluid", None)}
    assert after["exact"] == before["exact"]
    assert after["fluid"] != before["fluid"]
    assert after[None] != before[None]  # the table's version covers both


def test_what_both_engines_share_changes_both(tmp_path: Path) -> None:
    _tree(tmp_path)
    before = {e: code_version(tmp_path, e) for e in ("exact", "fluid")}
    for shared in ("sim/caps.py", "config/scaling.py", "scenarios/x.yaml"):
        path = tmp_path / shared
        path.write_text(path.read_text(encoding="utf-8") + "# changed\n", encoding="utf-8")
        after = {e: code_version(tmp_path, e) for e in ("exact", "fluid")}
        assert after["exact"] != before["exact"] and after["fluid"] != before["fluid"], shared
        before = after


def test_stored_drills_profiles_and_schemas_change_no_version(tmp_path: Path) -> None:
    _tree(tmp_path)
    before = {e: code_version(tmp_path, e) for e in ("exact", "fluid", None)}
    for name in ("scenarios/calibration/d1/summary.json", "scenarios/profiles/nginx.yaml",
                 "scenarios/schema/summary.schema.json"):  # fmt: skip
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n", encoding="utf-8")
    assert {e: code_version(tmp_path, e) for e in ("exact", "fluid", None)} == before
    (tmp_path / "scenarios/architectures").mkdir()
    (tmp_path / "scenarios/architectures/a.yaml").write_text("f: 1\n", encoding="utf-8")
    assert code_version(tmp_path, "exact") != before["exact"]  # an architecture is an input
