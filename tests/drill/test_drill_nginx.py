"""A drill of a target nobody here wrote: Debian's nginx serving HLS that Debian's ffmpeg makes.

The `nginx-hls` profile drives only the player (nginx has no API): it starts at the master
playlists, follows the relative URIs ffmpeg writes, reloads the live sliding window and
fetches each new segment, and plays the on-demand stream to its end and round again. The top
rendition's segments are slowed (nginx's `limit_rate`) so that a rider who wants it downloads
a segment more slowly than it plays and downshifts (ABR). nginx's own access log, which no
code here writes, checks the drill's counts and bytes.

The short drill (about 40 s in all) runs in `make test`; the slow test (`make validate`)
drills the origin at two loads, calibrates `nginx-origin` on them (`twin calibrate`) and
checks the fitted file on three drills at other loads (`--validate`: out of sample).
"""

from __future__ import annotations

import io
import json
import os
import re
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from tests.drill.nginx_hls import HlsOrigin, missing
from twin.cli.app import main

ROOT = Path(__file__).resolve().parents[2]
TOP_RATE = 1_500_000  # bytes/s: a 4 s top segment (8 MB) takes 5.4 s, longer than it plays
# the API types, and the tempo path (the profile predates it): an HLS origin serves none
API_TYPES = ["recommend", "join", "telemetry", "leaderboard", "workout", "feedback", "tempo"]
# nginx's default `combined` log line: request, status, bytes sent, referer, user agent
_LOG = re.compile(r'"GET (\S+) HTTP/1\.1" (\d{3}) (\d+) "[^"]*" "([^"]*)"')
_LOCUST_AGENT = "gevent-http-client"  # FastHttpUser's; twin's own checks come as Python-urllib


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Any:
    gone = missing()
    if gone:
        pytest.skip(f"not installed: {gone} (.ci/run installs nginx and ffmpeg)")
    hls = HlsOrigin(tmp_path_factory.mktemp("origin"), top_rate=TOP_RATE)
    hls.start()
    yield hls
    hls.stop()


def _drill(out: Path, url: str, *extra: str) -> tuple[int, str, str]:
    printed, errors = io.StringIO(), io.StringIO()
    with redirect_stdout(printed), redirect_stderr(errors):
        code = main(["drill", str(ROOT / "scenarios/daily-peak.yaml"), "--host", url,
                     "--profile", "nginx-hls", "--out", str(out), *extra])  # fmt: skip
    return code, printed.getvalue(), errors.getvalue()


@pytest.fixture(scope="module")
def drill(origin: HlsOrigin, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("nginx-drill")
    log = origin.folder / "nginx" / "access.log"
    before = len(log.read_text().splitlines()) if log.exists() else 0
    first = _live_sequence(origin)
    # 20 s: ffmpeg writes a 4 s segment in real time, so the live window slides by about five
    # (10 s left it two, and one when the encoder fell a little behind on a busy machine)
    load = ["--scale", "3e-4", "--speedup", "180", "--duration", "20"]
    code, printed, errors = _drill(out, origin.url, *load, "--architecture", "nginx-origin")
    assert code == 0, errors
    lines = log.read_text().splitlines()[before:]
    return {"out": out, "summary": json.loads((out / "summary.json").read_text()),
            "written": _live_sequence(origin) - first,  # segments ffmpeg wrote meanwhile
            "predicted": json.loads((out / "predicted.json").read_text()),
            "access": [m.groups()[:3] for m in map(_LOG.search, lines)
                       if m and _LOCUST_AGENT in m.group(4)], "printed": printed}  # fmt: skip


def _live_sequence(origin: HlsOrigin) -> int:
    """The newest segment's number in the live stream's playlist now (its first rendition)."""
    text = (origin.root / "hls/live/v0/index.m3u8").read_text()
    return max((int(n) for n in re.findall(r"^seg(\d+)\.ts$", text, re.M)), default=0)


def test_the_player_plays_nginx_end_to_end_without_an_error(drill):
    requests = drill["summary"]["requests"]
    assert set(requests) <= {"master", "playlist", "segment", "resume"}
    assert requests["segment"]["count"] >= 40 and requests["playlist"]["count"] >= 15
    assert sum(r["errors"] for r in requests.values()) == 0
    # segment latencies from the HdrHistograms: a 1.5-8 MB file over loopback takes
    # milliseconds; the slowed top rendition's seconds make the tail
    seg = requests["segment"]["latency_ms"]
    assert 0.1 < seg["p50"] < 1000 and seg["p99"] > 1000
    drilled = drill["summary"]["drill"]
    assert drilled["profile"] == "nginx-hls" and drilled["not_driven"] == API_TYPES


def test_nginx_access_log_counts_what_the_drill_counted(drill):
    """nginx's own log: every playlist and segment the drill recorded was served, with the
    bytes the drill received (a segment still in flight when the drill stopped is logged by
    nginx but not recorded, hence at most a few more there)."""
    access = [a for a in drill["access"] if a[0].startswith("/hls/")]
    assert all(status == "200" for _, status, _ in access)
    requests = drill["summary"]["requests"]
    playlists = sum(1 for path, _, _ in access if path.endswith(".m3u8"))
    recorded = sum(requests[n]["count"] for n in ("master", "playlist", "resume") if n in requests)
    assert playlists == recorded
    segments = [(path, int(size)) for path, _, size in access if path.endswith(".ts")]
    extra = len(segments) - requests["segment"]["count"]
    assert 0 <= extra <= 5
    assert sum(size for _, size in segments) >= requests["segment"]["bytes"]


def test_the_live_window_slides_and_both_streams_are_played(drill):
    access = [path for path, _, _ in drill["access"]]
    live = [int(m.group(1)) for p in access if (m := re.search(r"/live/v\d/seg(\d+)\.ts$", p))]
    vod = [p for p in access if re.search(r"/vod/v\d/seg\d+\.ts$", p)]
    assert live and vod
    # the window holds 5 segments: players that reload it fetch the segments it newly lists,
    # from numbers the first window did not hold, and never one ffmpeg already deleted. ffmpeg
    # writes in real time, about five in 20 s, fewer when a busy machine starves it (two in a
    # whole parallel `make test`): the players follow what it wrote
    assert drill["written"] >= 1
    assert max(live) - min(live) >= min(2, drill["written"])
    variants = Counter(re.search(r"/(live|vod)/(v\d)/", p).group(2) for p in access
                       if p.endswith(".ts"))  # fmt: skip
    assert len(variants) >= 2  # riders' screens and bandwidths pick different renditions


def test_riders_on_the_slowed_top_rendition_downshift(drill):
    experience = drill["summary"]["experience"]
    assert experience["downshifts"] >= 1
    assert experience["video_degraded_fraction"] > 0


def test_the_prediction_and_the_report_leave_the_api_types_out(drill):
    predicted = drill["predicted"]["requests"]
    assert set(predicted) == {"playlist", "segment"}
    assert set(drill["predicted"]["prediction"]["requested_per_s"]) == {"playlist", "segment"}
    page = (drill["out"] / "report.html").read_text()
    assert "nginx-hls" in page and "It does not drive these request types" in page
    for rtype in API_TYPES:
        assert f"<code>{rtype}</code>" in page
    # no SLO about a type it did not drive is judged (the scenario's join p99 and lag SLOs)
    slos = {s["name"] for s in drill["summary"]["slo"]}
    assert not any("join" in s or "lag" in s for s in slos)


def test_an_hls_url_answering_html_is_one_line_naming_the_field(origin, tmp_path):
    profile = tmp_path / "html.yaml"
    text = (ROOT / "scenarios/profiles/nginx-hls.yaml").read_text()
    profile.write_text(text.replace("live_master: /hls/{class}/master.m3u8",
                                    "live_master: /index.html"))  # fmt: skip
    errors = io.StringIO()
    with redirect_stderr(errors), redirect_stdout(io.StringIO()):
        code = main(["drill", "daily-peak", "--host", origin.url, "--profile", str(profile),
                     "--duration", "5", "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2
    line = errors.getvalue()
    assert line.count("\n") == 1 and "Traceback" not in line
    assert f"{profile}: streaming.live_master: {origin.url}/index.html answers" in line
    assert "not an HLS playlist" in line


@pytest.mark.slow
@pytest.mark.timeout(2400)  # five 30 s drills and a calibration: ~8 min on a quiet machine
def test_calibrated_on_two_loads_the_twin_predicts_three_others(tmp_path_factory):
    """Drill nginx (no slowed rendition) at two loads, `twin calibrate` nginx-origin on them
    with three drills at other loads to check (`--validate`): the out-of-sample error of each
    counted p50 and p95, beside the in-sample one. Each check drill also carries the shipped
    model's prediction (predicted.json), set beside its measurement.

    The loads stay light (7-46 riders moving 1.5-8 MB segments): at 1e-3 (65 riders, ~60 MB/s
    through one Locust process) the load generator itself saturated on a busy 2-core machine
    (segment p50 114 ms against 20 ms at 3e-4), and a fit to that drill misled the model.
    `TWIN_NGINX_CALIBRATION=DIR` keeps the drills and the calibrated file there."""
    gone = missing()
    if gone:
        pytest.skip(f"not installed: {gone}")
    folder = Path(os.environ.get("TWIN_NGINX_CALIBRATION") or tmp_path_factory.mktemp("nginx"))
    hls = HlsOrigin(folder / "origin")
    hls.start()
    loads = (("fit-low", "2e-4"), ("fit-high", "5e-4"), ("check-1e-4", "1e-4"),
             ("check-3.5e-4", "3.5e-4"), ("check-7e-4", "7e-4"))  # fmt: skip
    try:
        for name, scale in loads:
            load = ["--scale", scale, "--speedup", "120", "--duration", "30"]
            code, _, errors = _drill(folder / name, hls.url, *load,
                                     "--architecture", "nginx-origin")  # fmt: skip
            assert code == 0, errors
    finally:
        hls.stop()
    fit = [str(folder / n) for n, _ in loads if n.startswith("fit")]
    check = [str(folder / n) for n, _ in loads if n.startswith("check")]
    printed = io.StringIO()
    with redirect_stdout(printed):
        code = main(["calibrate", *fit, "--validate", *check, "--architecture", "nginx-origin",
                     "-o", str(folder / "nginx-calibrated.yaml"), "--json"])  # fmt: skip
    assert code == 0
    result = json.loads(printed.getvalue())
    oos = result["out_of_sample"]
    for row in oos["rows"]:
        print(f"{Path(row['drill']).name:<14} {row['request']:<9} {row['q']} "
              f"measured {row['measured_ms']:8.2f} predicted {row['predicted_ms']:8.2f} "
              f"{row['error']:+.0%}{' *' if row['counts'] else ''}")  # fmt: skip
    print({k: v for k, v in oos.items() if k != "rows"}, result["in_sample"]["mean_abs_error"])
    assert {Path(r["drill"]).name for r in oos["rows"]} == {Path(c).name for c in check}
    assert {r["request"] for r in oos["rows"]} == {"playlist", "segment"}
    # a coarse bound, not the accuracy target (the README gives the measured table): a busy
    # 2-core machine moves a sub-millisecond playlist p50 2x between identical runs, and
    # widens a 30 s drill's intervals past 25 %, so that no figure may count; the bound holds
    # every figure of 100 requests or more, and there are some
    held = [row for row in oos["rows"] if row["count"] >= 100]
    assert held, oos["rows"]
    for row in held:
        assert 1 / 3 < 1 + row["error"] < 3.0, row
