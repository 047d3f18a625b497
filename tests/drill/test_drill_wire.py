"""The drill's wire format (`twin.drill.wire`): what one side of the process boundary writes,
the other reads, and a file that is not in the format is refused naming the file and field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from locustfiles.drill_plan import load_plan
from locustfiles.drill_recorder import Recorder
from twin.drill.measure import merge_records
from twin.drill.plan import plan_document
from twin.drill.profile import load_profile
from twin.drill.run import DrillOptions, compile_drill
from twin.drill.wire import FORMAT, read_records
from twin.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
RIDER = {"rider_id": "rider-0", "name": "Ada Lovelace", "email": "ada@example.org",
         "device": "bike", "device_id": "bike-00ff00ff00", "rendition": 3,
         "rider_token": "rider-token", "device_token": "device-token"}  # fmt: skip


@pytest.fixture(scope="module")
def drill() -> tuple[Any, Any]:
    """The iot-pipeline-overload scenario compiled for a 60 s drill at 480x."""
    options = DrillOptions(scenario=ROOT / "scenarios/iot-pipeline-overload.yaml",
                           out=Path("unused"), target="local", scale=1e-4, speedup=480)  # fmt: skip
    _, _, compiled, work = compile_drill(options)
    return compiled, work


def _plan_file(folder: Path, drill: tuple[Any, Any]) -> tuple[Any, Path]:
    """The plan twin writes for `drill`, and the file it writes it to (as `twin.drill.run`)."""
    _, work = drill
    live = [{"id": "live-1", "start": 1_700_000_100.0, "end": 1_700_002_800.0, "weight": 1.0}]
    plan = plan_document(work, t0=1_700_000_000.0, pool=[RIDER], live=live,
                         on_demand={"od-1": 1800.0, "od-2": 2700.0}, out_dir=folder / "load",
                         seed=7, segment_s=4.0, od=[(1200.0, 0.25), (1800.0, 0.75)],
                         profile=load_profile()[0].to_wire())  # fmt: skip
    path = folder / "plan.json"
    path.write_text(json.dumps(plan.to_json()), encoding="utf-8")
    return plan, path


def test_the_plan_twin_writes_is_the_plan_the_riders_read(tmp_path, drill, monkeypatch):
    _, work = drill
    plan, path = _plan_file(tmp_path, drill)
    monkeypatch.setenv("TWIN_DRILL_PLAN", str(path))
    read = load_plan()  # the Locust side, from the file `TWIN_DRILL_PLAN` names
    assert read == plan
    assert json.loads(path.read_text())["format"] == FORMAT
    assert len(read.users) == 60 and read.users[:10] == (3, 3, 3, 3, 3, 4, 3, 3, 4, 4)
    assert read.at(read.users, 9.5) == 4.0 and read.spawn_rate == 18.0
    # every class with riders in the run: those taking early joiners before its end included
    assert len(read.scenario_live) == len(work.live_classes) == 45
    first = work.live_classes[0]
    assert read.scenario_live[0].start == pytest.approx(first.start_s / 480)
    assert read.scenario_live[0].weight == pytest.approx(first.riders)
    assert read.target_live[0].end == 1_700_002_800.0 and read.on_demand["od-2"] == 2700.0
    assert read.od_lengths == ((1200.0, 0.25), (1800.0, 0.75)) and read.riders == (RIDER,)
    assert (read.segment_s, read.telemetry_batch_s, read.feedback_share) == (4.0, 5.0, 0.3)
    assert read.out_dir == str(tmp_path / "load") and read.seed == 7
    assert all(0 <= i < 45 and w > 0 for second in read.live_joins for i, w in second)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: d["constants"].pop("feedback_share"), "constants.feedback_share", "missing"),
        (lambda d: d["scenario_live"][0].update(colour="red"), "scenario_live.0.colour",
         "unknown field"),
        (lambda d: d.update(users=[3, "4"]), "users.1", "must be a whole number, got str"),
        (lambda d: d["live_joins"][5].append([2]), "live_joins.5.0", "must hold 2 items"),
        (lambda d: d.update(format=FORMAT + 1), "format", f"version {FORMAT + 1} of the drill's"),
    ],
)  # fmt: skip
def test_a_plan_not_in_the_format_is_refused_naming_the_field(tmp_path, drill, change, field,
                                                              message):  # fmt: skip
    _, path = _plan_file(tmp_path, drill)
    doc = json.loads(path.read_text())
    if field == "live_joins.5.0":
        doc["live_joins"][5] = []  # a second whose only join is [2]
    change(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as caught:
        load_plan(path)
    assert (caught.value.source, caught.value.field) == (str(path), field)
    assert str(caught.value).startswith(f"{path}: {field}: {message}")


def _records(folder: Path) -> Path:
    """One load process's records: two joins (one sent 2.2 s late, failed) and a segment."""
    rec = Recorder(t0=1000.0, window_s=2.0, clock=lambda: 1010.0)
    rec.record("join", 1000.5, 1000.5, 1000.520, True, 310)
    rec.record("join", 1001.0, 1003.2, 1003.250, False)
    rec.note_error("join", "HTTP 503")
    rec.record("segment", 1004.0, 1004.0, 1004.004, True, 250_000)
    rec.count("segments_degraded", 2)
    return rec.dump(folder)


def test_the_records_a_load_process_writes_are_what_twin_merges(tmp_path):
    path = _records(tmp_path)
    back = read_records(path)
    assert path.name == f"rec-{os.getpid()}.json" and back.pid == os.getpid()
    assert back.to_json() == json.loads(path.read_text())  # decoded and encoded: the same
    assert (back.t0, back.window_s, back.written_at, back.cpu_s) == (1000.0, 2.0, 1010.0, None)
    join = back.names["join"]
    assert (join.count, join.errors, join.bytes, join.messages) == (2, 1, 310, {"HTTP 503": 1})
    assert join.per_second == {0: 1, 3: 1} and join.errors_per_second == {3: 1}
    assert sorted(join.windows) == [0, 1]
    measured = merge_records(tmp_path)
    m = measured.types["join"]
    assert m.intended.get_max_value() == pytest.approx(2_250_000, rel=1e-3)  # from intended
    assert m.service.get_max_value() == pytest.approx(50_000, rel=1e-3)
    assert [m.windows[k].get_total_count() for k in (0, 1)] == [1, 1]
    assert measured.types["segment"].bytes == 250_000 and measured.window_s == 2.0
    assert measured.experience["segments_degraded"] == 2.0 and measured.processes == 1


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: d["names"]["join"].pop("bytes"), "names.join.bytes", "missing"),
        (lambda d: d["names"]["join"].update(latency_ms=12.5), "names.join.latency_ms",
         "unknown field (expected intended_hdr, service_hdr, count,"),
        (lambda d: d.pop("window_s"), "window_s", "missing"),
        (lambda d: d.update(hostname="worker-1"), "hostname", "unknown field"),
        (lambda d: d["names"]["join"].update(count="2"), "names.join.count",
         "must be a whole number, got str"),
        (lambda d: d["names"]["join"]["per_second"].update(soon=1), "names.join.per_second.soon",
         "must be keyed by a whole number"),
        (lambda d: d.pop("format"), "format", "missing"),
        (lambda d: d.update(format=FORMAT + 1, hostname="worker-1"), "format",
         f"version {FORMAT + 1} of the drill's wire format; this twin reads version {FORMAT}"),
    ],
)  # fmt: skip
def test_a_record_with_a_missing_or_unknown_field_is_refused(tmp_path, change, field, message):
    path = _records(tmp_path)
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as caught:
        merge_records(tmp_path)
    assert (caught.value.source, caught.value.field) == (str(path), field)
    assert str(caught.value).startswith(f"{path}: {field}: {message}")


def test_a_record_file_that_is_not_json_is_refused_naming_it(tmp_path):
    path = _records(tmp_path)
    path.write_text(path.read_text()[:40])
    with pytest.raises(InputError, match=rf"^{path}: is not JSON"):
        merge_records(tmp_path)


def test_the_load_side_imports_nothing_heavy():
    """The wire format and the load generators' readers and writers of it import neither
    numpy nor pandas nor pydantic (twin's), nor locust or gevent (which monkey-patches)."""
    code = (
        "import sys; sys.path.insert(0, 'locustfiles')\n"
        "import twin.drill.wire\n"
        "heavy = lambda: sorted({m.split('.')[0] for m in sys.modules} & "
        "{'numpy', 'pandas', 'pydantic', 'locust', 'gevent', 'hdrh'})\n"
        "print(heavy())\n"
        "import drill_plan, drill_recorder\n"
        "print(heavy())\n"
    )
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])  # this checkout's twin
    env = {**os.environ, "PYTHONPATH": path}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True)  # fmt: skip
    assert out.stdout.split("\n")[:2] == ["[]", "['hdrh']"]
