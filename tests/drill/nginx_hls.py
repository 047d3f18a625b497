"""An HLS origin nobody here wrote: Debian's nginx serving what Debian's ffmpeg encodes.

    HlsOrigin(folder).start() -> "http://127.0.0.1:PORT"     ... .stop()

Under `folder/root/hls/`: `live/`, a live stream ffmpeg writes in real time (`-re`, 4 s
segments, a sliding window of `window` segments with `delete_segments`) and `vod/`, an
on-demand stream encoded once (`-hls_playlist_type vod`, `EXT-X-ENDLIST`); each has three
renditions under a master playlist with relative URIs, as ffmpeg's `-master_pl_name` and
`-var_stream_map` write them. The renditions are small pictures at the twin's ladder's
bitrates (3, 6 and 16 Mbit/s: `twin.config.vocabulary.BITRATE_MBPS`), constant (x264's
`nal-hrd=cbr` pads them), so that a segment is as many bytes as the twin's model says. nginx runs
as a child process on a free loopback port with its own prefix, config and logs, no daemon;
`top_rate` (bytes/s per connection, nginx's `limit_rate`) slows the top rendition's segments
so that a player downloading them takes longer than they play and must downshift (ABR).
`index.html` answers HTML, for the bad-input test.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["FFMPEG", "NGINX", "HlsOrigin", "missing"]

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
SEGMENT_S = 4
FPS = 10
_LADDER = (("192:108", "3M"), ("320:180", "6M"), ("640:360", "16M"))


def missing() -> str | None:
    """What is not installed (None: both are)."""
    gone = [p for p in (NGINX, FFMPEG) if not Path(p).exists()]
    return ", ".join(gone) or None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _encode_args(out: Path, *, live: bool, window: int, seconds: float) -> list[str]:
    """ffmpeg's arguments: a test pattern in three renditions to an HLS folder `out`."""
    split = "".join(f"[s{i}]" for i in range(len(_LADDER)))
    scales = ";".join(f"[s{i}]scale={size}[v{i}]" for i, (size, _) in enumerate(_LADDER))
    args = [FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin"]
    args += ["-re"] if live else []
    args += ["-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={FPS}"]
    args += [] if live else ["-t", str(seconds)]
    args += ["-filter_complex", f"[0:v]split={len(_LADDER)}{split};{scales}"]
    for i, (_, rate) in enumerate(_LADDER):
        args += ["-map", f"[v{i}]", f"-b:v:{i}", rate, f"-minrate:v:{i}", rate,
                 f"-maxrate:v:{i}", rate, f"-bufsize:v:{i}", rate]  # fmt: skip
    gop = str(SEGMENT_S * FPS)  # a key frame starts every segment
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-x264-params", "nal-hrd=cbr",
             "-pix_fmt", "yuv420p", "-g", gop,
             "-keyint_min", gop, "-sc_threshold", "0", "-f", "hls", "-hls_time", str(SEGMENT_S),
             "-master_pl_name", "master.m3u8", "-var_stream_map",
             " ".join(f"v:{i}" for i in range(len(_LADDER)))]  # fmt: skip
    if live:
        args += ["-hls_list_size", str(window), "-hls_flags",
                 "delete_segments+independent_segments"]  # fmt: skip
    else:
        args += ["-hls_playlist_type", "vod", "-hls_flags", "independent_segments"]
    return [*args, "-hls_segment_filename", str(out / "v%v/seg%d.ts"), str(out / "v%v/index.m3u8")]


def _config(prefix: Path, root: Path, port: int, top_rate: int | None) -> str:
    # Run as root (CI), nginx would hand its workers to `nobody`, who cannot read pytest's
    # private temp folders: keep them as the user that started it.
    user = "user root;\n" if os.geteuid() == 0 else ""
    top = f"^/hls/[^/]+/v{len(_LADDER) - 1}/.*\\.ts$"  # the top rendition's segments
    slow = "" if top_rate is None else f"        location ~ {top} {{ limit_rate {top_rate}; }}\n"
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = " ".join(f"{kind}_temp_path {prefix}/{kind};" for kind in kinds)
    return (
        f"{user}worker_processes 1;\ndaemon off;\npid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log warn;\nevents {{ worker_connections 1024; }}\n"
        "http {\n"
        "    types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; text/html html; }\n"
        f"    access_log {prefix}/access.log;\n    {temp}\n"
        f"    server {{\n        listen 127.0.0.1:{port};\n        root {root};\n"
        "        location ~ \\.m3u8$ { add_header Cache-Control no-cache; }\n"
        f"{slow}    }}\n}}\n"
    )


class HlsOrigin:
    """nginx serving a live and an on-demand HLS stream that ffmpeg makes (see the module)."""

    def __init__(
        self, folder: Path, *, window: int = 5, vod_s: float = 40.0, top_rate: int | None = None
    ) -> None:
        self.folder = Path(folder)
        self.root = self.folder / "root"
        self.window, self.vod_s, self.top_rate = window, vod_s, top_rate
        self.procs: list[subprocess.Popen[bytes]] = []
        self.url = ""

    def start(self, timeout_s: float = 40.0) -> str:
        hls = self.root / "hls"
        for name in ("live", "vod"):
            (hls / name).mkdir(parents=True, exist_ok=True)
        (self.root / "index.html").write_text("<!doctype html><title>nginx</title>\n")
        subprocess.run(_encode_args(hls / "vod", live=False, window=0, seconds=self.vod_s),
                       check=True, timeout=120)  # fmt: skip
        self._spawn(_encode_args(hls / "live", live=True, window=self.window, seconds=0), "ffmpeg")
        port = _free_port()
        prefix = self.folder / "nginx"
        prefix.mkdir(parents=True, exist_ok=True)
        conf = prefix / "nginx.conf"
        conf.write_text(_config(prefix, self.root, port, self.top_rate), encoding="utf-8")
        self._spawn(
            [NGINX, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)], "nginx"
        )
        self.url = f"http://127.0.0.1:{port}"
        self._wait(hls / "live", port, time.monotonic() + timeout_s)
        return self.url

    def _spawn(self, args: list[str], name: str) -> None:
        with (self.folder / f"{name}.log").open("wb") as log:  # the child keeps its own copy
            self.procs.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT))

    def _wait(self, live: Path, port: int, deadline: float) -> None:
        """Until nginx listens and every live rendition lists a segment."""
        while time.monotonic() < deadline:
            if all(p.poll() is None for p in self.procs) and self._ready(live, port):
                return
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"the HLS origin did not come up (see {self.folder}/*.log)")

    def _ready(self, live: Path, port: int) -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return False
        if not (live / "master.m3u8").exists():
            return False
        for i in range(len(_LADDER)):
            index = live / f"v{i}" / "index.m3u8"
            if not index.exists() or index.read_text().count("#EXTINF") < 1:
                return False
        return True

    def stop(self) -> None:
        """Stop ffmpeg and nginx (SIGTERM, then SIGKILL); safe to call twice."""
        procs, self.procs = self.procs, []
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
