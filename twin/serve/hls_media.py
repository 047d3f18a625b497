"""The media behind the HLS playlists: one real segment per rendition, encoded once, kept on disk.

A segment is a test card (`hls_card`: colour bars, the rendition's name, size and bit rate,
a clock and a moving bar) in H.264 at the rendition's size and a 440 Hz tone in AAC, muxed to
MPEG-TS by PyAV (the FFmpeg libraries in its wheel). The video is constant bit rate (x264's
`nal-hrd=cbr`) with one closed GOP per segment, so every segment starts with a keyframe; null
packets fill it to exactly `hls.segment_bytes` (the declared bit rate times the duration, to a
188-byte packet). Audio runs at 32 kHz so a 4 s segment holds exactly 125 AAC frames and the
tone continues across segments without a gap or an overlap.

Encoding takes seconds (4K), so it happens once per rendition, size and segment duration, at
start-up (before the server says it is ready, so no player ever waits on an encoder), into
`cache_dir`; later starts read the file. `ts.SegmentTemplate` turns the file into segment
`seq` of the stream on request. The card is the same for every class: a title burned in per
class would mean an encode per class and rendition (seconds of a core for 4K, for each of
thousands of on-demand classes a drill picks at random) on the server a drill is measuring.
"""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

from twin.errors import InputError
from twin.serve import hls
from twin.serve.hls_card import Card
from twin.serve.ts import PACKET, SegmentTemplate

__all__ = ["AUDIO_RATE", "FPS", "card", "encode_segment", "load_template"]

FPS = 25
AUDIO_RATE = 32_000  # 4 s x 32 kHz = 125 AAC frames of 1,024 samples: segments join exactly
AUDIO_BPS = 96_000
VIDEO_SHARE = 0.82  # of the bit rate left after audio: TS and PES headers take ~5 %, CBR ~10 %
_AAC_FRAME = 1024
_VERSION = 3  # bump when the encoding changes, so cached files are not reused
_MODE = 0o644


def _cache_name(rendition: hls.Rendition, segment_s: float) -> str:
    r = rendition
    return f"{r.name}-{r.resolution}-{r.bandwidth_bps}-{segment_s:g}s-v{_VERSION}.ts"


def load_template(rendition: hls.Rendition, segment_s: float, cache_dir: Path) -> SegmentTemplate:
    """The template of `rendition`, encoded into `cache_dir` the first time it is asked for."""
    path = cache_dir / _cache_name(rendition, segment_s)
    try:
        if not path.exists():
            _encode_into(path, rendition, segment_s)
        muxed = path.read_bytes()
    except OSError as exc:
        raise InputError(
            str(cache_dir), None, f"cannot keep encoded HLS segments here ({exc.strerror}); "
            "name another folder with --media-cache",
        ) from exc  # fmt: skip
    nbytes = hls.segment_bytes(rendition.bandwidth_bps, segment_s) // PACKET * PACKET
    return SegmentTemplate(muxed, segment_s, nbytes)


def _encode_into(path: Path, rendition: hls.Rendition, segment_s: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name and renamed: two processes starting at once both
    # encode, and neither ever reads the other's half-written file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".ts.part")
    os.close(fd)
    try:
        encode_segment(Path(tmp), rendition, segment_s)
        os.chmod(tmp, _MODE)  # mkstemp makes it private; a cache is readable by all
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def encode_segment(path: Path, rendition: hls.Rendition, segment_s: float) -> None:
    """Encode one segment of `rendition` lasting `segment_s` seconds to `path` (MPEG-TS)."""
    import av  # the FFmpeg libraries load only when a segment is encoded

    # A muxing delay lets the muxer put several AAC frames in one PES packet (as the ffmpeg
    # command does by default): fewer packets carry a timestamp, fewer to patch per request.
    with av.open(str(path), "w", format="mpegts", options={"max_delay": "700000"}) as out:
        video = _video_stream(out, rendition, segment_s)
        audio = out.add_stream("aac", rate=AUDIO_RATE)
        audio.bit_rate = AUDIO_BPS
        audio.layout = "mono"
        _mux_video(out, video, rendition, segment_s)
        _mux_audio(out, audio, segment_s)


def _video_stream(out: Any, rendition: hls.Rendition, segment_s: float) -> Any:
    frames = round(segment_s * FPS)
    kbps = int((rendition.bandwidth_bps - AUDIO_BPS) * VIDEO_SHARE) // 1000
    stream = out.add_stream("libx264", rate=FPS)
    stream.width, stream.height, stream.pix_fmt = rendition.width, rendition.height, "yuv420p"
    stream.bit_rate = kbps * 1000
    stream.options = {
        "preset": "ultrafast",  # a 4K segment in ~2 s on one core; the pattern needs no more
        "x264-params": f"keyint={frames}:min-keyint={frames}:scenecut=0:bframes=0:"
        f"nal-hrd=cbr:force-cfr=1:vbv-maxrate={kbps}:vbv-bufsize={kbps}:"
        "colorprim=bt709:transfer=bt709:colormatrix=bt709",  # as hls_card converts
    }
    return stream


def card(rendition: hls.Rendition) -> Card:
    """The test card of `rendition`: its name, size and bit rate, and a clock."""
    r = rendition
    coding = f"{r.bandwidth_bps / 1e6:g} Mb/s · H.264 + AAC · {FPS} fps"
    return Card(
        r.width, r.height, f"{r.name} · {r.width}x{r.height}", (coding, "twin reference platform")
    )


def _mux_video(out: Any, stream: Any, rendition: hls.Rendition, segment_s: float) -> None:
    from av import VideoFrame

    for index, picture in enumerate(card(rendition).frames(round(segment_s * FPS), FPS)):
        frame = VideoFrame.from_ndarray(picture, format="yuv420p")
        frame.pts, frame.time_base = index, Fraction(1, FPS)
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def _mux_audio(out: Any, stream: Any, segment_s: float) -> None:
    """A tone of whole AAC frames, dropping the encoder's priming frame (pts < 0)."""
    import av

    graph = av.filter.Graph()
    tone = f"frequency=440:sample_rate={AUDIO_RATE}:samples_per_frame={_AAC_FRAME}"
    source = graph.add("sine", tone)
    fmt = graph.add("aformat", "sample_fmts=fltp:channel_layouts=mono")
    sink = graph.add("abuffersink")
    source.link_to(fmt)
    fmt.link_to(sink)
    graph.configure()
    limit = int(segment_s * AUDIO_RATE) // _AAC_FRAME * _AAC_FRAME
    packets = []
    for index in range(limit // _AAC_FRAME + 2):
        frame = sink.pull()
        frame.pts, frame.time_base = index * _AAC_FRAME, Fraction(1, AUDIO_RATE)
        packets += stream.encode(frame)
    packets += stream.encode(None)
    out.mux([p for p in packets if p.pts is not None and 0 <= p.pts < limit])
