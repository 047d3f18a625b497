"""Target profiles (`twin.drill.profile`) and the journey that reads only them.

The shipped profiles load and say what they drive; a wrong profile is one line naming the file
and the field; templates fill in as JSON values; tokens come from a CSV file, a command or a
static header; the player is a standard HLS client (master playlist, relative and absolute
URIs, a live sliding window by `EXT-X-MEDIA-SEQUENCE`, `EXT-X-ENDLIST`).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from twin.cli.app import main
from twin.drill.profile import apply_auth, load_profile
from twin.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "locustfiles"))  # the load side's modules, as Locust imports them
POOL = [
    {
        "rider_id": f"rider-{i}",
        "device_id": f"bike-{i}",
        "device": "bike",
        "rendition": 2,
        "rider_token": "signed-r",
        "device_token": "signed-d",
    }
    for i in range(3)
]


def _profile(tmp_path: Path, doc: dict[str, Any], name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_the_shipped_profiles_say_what_they_drive():
    reference, _ = load_profile()
    assert (
        reference.name == "reference-platform"
        and reference.not_driven(
            [
                "recommend",
                "join",
                "playlist",
                "segment",
                "telemetry",
                "leaderboard",
                "workout",
                "feedback",
                "master",
            ]
        )
        == []
    )
    nginx, path = load_profile("nginx-hls")
    assert path.name == "nginx-hls.yaml" and nginx.auth.kind == "none"
    assert nginx.not_driven(["join", "playlist", "segment", "feedback"]) == ["join", "feedback"]
    wire = nginx.to_wire()
    assert wire.auth_header is None and wire.requests == {} and wire.streams


@pytest.mark.parametrize(
    ("change", "where", "says"),
    [
        ({"requests": {"bogus": {"path": "/x"}}}, "requests.bogus", "unknown request type"),
        (
            {"requests": {"join": {"path": "/v1/{klass}/join"}}},
            "requests.join.path",
            "unknown variable {klass}",
        ),
        (
            {"requests": {"recommend": {"path": "/r", "body": {"c": "{class}"}}}},
            "requests.recommend.body",
            "unknown variable {class}",
        ),
        (
            {"requests": {"join": {"path": "/j/{class!r}"}}},
            "requests.join.path",
            "only plain {variable} names",
        ),
        (
            {"streaming": {"live_master": "/live/{channel}.m3u8"}},
            "streaming.live_master",
            "unknown variable {channel}",
        ),
        ({"requests": {"feedback": {"path": "/f/{workout}"}}}, "requests.feedback", "needs"),
        ({"auth": {"kind": "token"}}, "auth", ""),
        ({"requests": {}, "streaming": None}, "requests", "drives nothing"),
    ],
)
def test_a_wrong_profile_is_one_line_naming_file_and_field(tmp_path, capsys, change, where, says):
    doc = {
        "name": "x",
        "classes": {"on_demand": {"c": 60}},
        "streaming": {"live_master": "/{class}/master.m3u8"},
        **change,
    }
    path = _profile(tmp_path, doc)
    with pytest.raises(InputError) as caught:
        load_profile(path)
    assert caught.value.source == str(path) and caught.value.field.startswith(where)
    assert says in caught.value.message
    # through the CLI: one line, exit 2, before any drill starts
    code = main(
        [
            "drill",
            "daily-peak",
            "--host",
            "http://127.0.0.1:9",
            "--profile",
            str(path),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"{path}: {where}" in err


def test_an_unknown_shipped_profile_names_the_shipped_ones(capsys, tmp_path):
    code = main(
        ["drill", "daily-peak", "--target", "local", "--profile", "nginx", "--out", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert (
        code == 2
        and "--profile: no profile 'nginx' (shipped: nginx-hls, reference-platform)" in err
    )


def test_templates_fill_in_as_json_values():
    from drill_profile import capture, render

    body = {"id": "{device}", "n": "{seq}", "samples": "{samples}", "note": "{rider} in {class}"}
    got = render(
        body, {"device": "bike-1", "seq": 7, "samples": [{"a": 1}], "rider": "r", "class": "c"}
    )
    assert got == {"id": "bike-1", "n": 7, "samples": [{"a": 1}], "note": "r in c"}
    assert render(["{x}", 3, None], {"x": 1.5}) == [1.5, 3, None]
    reply = '{"recommendations": [{"class_id": "a"}, {"class_id": "b"}, {"score": 1}]}'
    assert capture(reply, "recommendations.class_id") == ["a", "b"]
    assert capture('{"workout_id": "w-9"}', "workout_id") == "w-9"
    assert capture("<html>", "workout_id") is None


def test_tokens_from_a_csv_file_a_command_or_a_static_header(tmp_path):
    (tmp_path / "tokens.csv").write_text("rider_token,device_token\nA,a\nB,b\nC,c\n")
    base = {"name": "t", "streaming": {"live_master": "/{class}.m3u8"}}
    csv_profile, where = load_profile(
        _profile(tmp_path, {**base, "auth": {"kind": "csv", "file": "tokens.csv"}})
    )
    pool = apply_auth(csv_profile, where, POOL)
    assert [(r["rider_token"], r["device_token"]) for r in pool] == [
        ("A", "a"),
        ("B", "b"),
        ("C", "c"),
    ]
    with pytest.raises(InputError, match="holds 3 tokens; the drill's pool is 4"):
        apply_auth(csv_profile, where, [*POOL, POOL[0]])
    command, where = load_profile(
        _profile(
            tmp_path,
            {**base, "auth": {"kind": "command", "command": "sh -c 'echo tok-$TWIN_RIDER_ID'"}},
        )
    )
    assert [r["rider_token"] for r in apply_auth(command, where, POOL)] == [
        "tok-rider-0",
        "tok-rider-1",
        "tok-rider-2",
    ]
    failing, where = load_profile(
        _profile(tmp_path, {**base, "auth": {"kind": "command", "command": "false"}})
    )
    with pytest.raises(InputError, match=r"auth\.command: exit 1 and no token for rider-0"):
        apply_auth(failing, where, POOL)
    header, _ = load_profile(
        _profile(tmp_path, {**base, "auth": {"kind": "header", "name": "X-Api-Key", "value": "k"}})
    )
    wire = header.to_wire()
    assert wire.auth_header is None and wire.headers == {"X-Api-Key": "k"}


# -- the journey on a profile: a fake clock and fake HTTP --------------------------------


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


CDN = "https://cdn.example.net/live"


def _live_origin(clock: _Clock, sent: list[tuple[str, str, dict, Any]]) -> Any:
    """A live HLS origin on the fake clock: a master playlist with a relative and an absolute
    variant, and a five-segment window that moves on every 4 s (EXT-X-MEDIA-SEQUENCE)."""
    from drill_journey import Reply

    def http(method, url, name, headers, body, ok):
        sent.append((name, url, headers, body))
        if url.endswith("master.m3u8"):
            return Reply(
                200,
                "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=3000000\nlow/index.m3u8\n"
                f"#EXT-X-STREAM-INF:BANDWIDTH=6000000\n{CDN}/high/index.m3u8\n",
                99,
            )
        if url.endswith("index.m3u8"):
            last = int(clock.now // 4)
            first = max(0, last - 4)
            lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:4", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
            for seq in range(first, last + 1):
                lines += ["#EXTINF:4.0,", f"seg{seq}.ts"]
            return Reply(200, "\n".join(lines), 50)
        return Reply(200 if method == "GET" else 201, '{"workout_id": "w-1"}', 1000)

    return http


def _journey(clock: _Clock, sent: list, profile: Any, rendition: int = 1) -> Any:
    from drill_journey import Rider
    from drill_plan import LiveClass, Plan
    from drill_recorder import Recorder

    plan = Plan(
        t0=0.0,
        duration_s=200,
        speedup=60.0,
        users=(1,) * 200,
        spawn_rate=10.0,
        live_start_share=(1.0,) * 200,
        active_live_share=(1.0,) * 200,
        scenario_live=(LiveClass("s", 0.0, 60.0, 1.0),),
        live_joins=(((0, 1.0),),) * 200,
        od_lengths=((1200.0, 1.0),),
        target_live=(LiveClass("ch-1", -100.0, 1000.0, 1.0),),
        on_demand={"od-1": 600.0},
        riders=(),
        out_dir="",
        segment_s=4.0,
        telemetry_batch_s=5.0,
        leaderboard_live_s=5.0,
        leaderboard_od_s=10.0,
        feedback_share=1.0,
        seed=0,
        profile=profile,
    )
    rider = {**POOL[0], "rendition": rendition, "rider_token": "R", "device_token": "D"}
    r = Rider(
        plan, rider, _live_origin(clock, sent), Recorder(0.0), random.Random(3), clock.sleep, clock
    )
    r.first = False
    return r


def test_the_live_player_follows_the_window_and_absolute_uris():
    clock, sent = _Clock(10.0), []
    rider = _journey(clock, sent, load_profile()[0].to_wire(), rendition=1)
    rider.session()
    names = [n for n, *_ in sent]
    assert names[:3] == ["recommend", "join", "master"] and names[-2:] == ["workout", "feedback"]
    playlists = [u for n, u, *_ in sent if n == "playlist"]
    segments = [u for n, u, *_ in sent if n == "segment"]
    # the top variant's URI is absolute (a CDN): the player uses it as it is, and resolves
    # each segment against it
    assert set(playlists) == {f"{CDN}/high/index.m3u8"}
    assert segments and all(u.startswith(f"{CDN}/high/seg") for u in segments)
    numbers = [int(u.rsplit("seg", 1)[1].removesuffix(".ts")) for u in segments]
    # joins at the live edge, then every segment the window newly lists, once, in order
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    # the first reload comes within a target duration of the start (a random phase): its
    # window's newest segment
    assert numbers[0] in (10 // 4, 14 // 4) and len(numbers) >= 10
    assert rider.rec.names["segment"].count == len(numbers)


def test_every_request_is_the_profiles(tmp_path):
    doc = {
        "name": "other",
        "auth_header": "X-Token",
        "auth_prefix": "",
        "headers": {"X-App": "t"},
        "streaming": {"live_master": "/tv/{class}/master.m3u8"},
        "requests": {
            "join": {
                "method": "PUT",
                "path": "/api/sessions/{class}",
                "body": {"who": "{rider}"},
                "ok": [204],
            },
            "telemetry": {
                "method": "POST",
                "path": "/api/metrics/{device}",
                "token": "device",
                "body": {"first": "{seq}", "points": "{samples}"},
                "sample": {"n": "{seq}", "rpm": "{cadence_rpm}"},
            },
        },
    }
    profile, _ = load_profile(_profile(tmp_path, doc))
    clock, sent = _Clock(10.0), []
    rider = _journey(clock, sent, profile.to_wire())
    rider.session()
    names = {n for n, *_ in sent}
    assert names == {"join", "master", "playlist", "segment", "telemetry"}  # no other type
    join = next(s for s in sent if s[0] == "join")
    assert join[1] == "/api/sessions/ch-1" and join[3] == {"who": "rider-0"}
    assert join[2] == {"X-App": "t", "X-Token": "R"}
    assert rider.rec.names["join"].errors == 1  # the fake answers 201; the profile wants 204
    batch = next(s for s in sent if s[0] == "telemetry")
    assert batch[1] == "/api/metrics/bike-0" and batch[2]["X-Token"] == "D"
    points = batch[3]["points"]
    assert len(points) == 5 and set(points[0]) == {"n", "rpm"}
    assert batch[3]["first"] == points[0]["n"] and points[-1]["n"] == points[0]["n"] + 4
    assert next(u for n, u, *_ in sent if n == "master") == "/tv/ch-1/master.m3u8"


def test_the_master_and_media_parsers_read_rfc_8216():
    from drill_hls import parse_master_playlist, parse_media_playlist, resolve

    master = (
        '#EXTM3U\n#EXT-X-STREAM-INF:AVERAGE-BANDWIDTH=1,BANDWIDTH=6000000,CODECS="a,b"\n'
        "mid.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=3000000\n/abs/low.m3u8\n"
    )
    assert [(v.bandwidth, v.uri) for v in parse_master_playlist(master)] == [
        (3000000, "/abs/low.m3u8"),
        (6000000, "mid.m3u8"),
    ]
    assert resolve("/hls/live/master.m3u8", "v0/index.m3u8") == "/hls/live/v0/index.m3u8"
    assert resolve("/hls/live/master.m3u8", "/abs/low.m3u8") == "/abs/low.m3u8"
    assert resolve("http://a/b/master.m3u8", "https://c/d.ts") == "https://c/d.ts"
    media = parse_media_playlist(
        "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:41\n#EXTINF:4.0,\ns41.ts\n"
        "#EXTINF:3.5,\ns42.ts\n#EXT-X-ENDLIST\n"
    )
    assert media.segments == ((41, 4.0, "s41.ts"), (42, 3.5, "s42.ts")) and media.ended
    assert [v.uri for v in parse_master_playlist("#EXTM3U\n#EXTINF:4,\na.ts\n")] == [
        ""
    ]  # a media playlist given as the master
    with pytest.raises(ValueError, match="no #EXTM3U"):
        parse_master_playlist("<!doctype html><title>x</title>")


def test_an_ended_playlist_is_parsed_once_per_process_and_a_live_one_every_time():
    """A class end starts dozens of on-demand players in one second on the load process's one
    loop: identical VOD bytes are parsed once, and segment URIs are resolved when fetched."""
    from drill_player import Playlists

    vod = "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n" + "#EXTINF:4.0,\nseg.ts\n" * 675
    vod += "#EXT-X-ENDLIST\n"
    live = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:4.0,\ns7.ts\n"
    playlists = Playlists()
    first = playlists.parse(vod, 4.0)
    assert playlists.parse(vod, 4.0) is first and len(first.segments) == 675
    assert playlists.parse(live, 4.0) is not playlists.parse(live, 4.0)
    assert list(playlists.parsed) == [vod]
    with pytest.raises(ValueError):
        playlists.parse("<html>", 4.0)
