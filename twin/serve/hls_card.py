"""The picture in an HLS segment: a test card naming its rendition, with a running clock.

FFmpeg's `drawtext` filter is not in PyAV's wheels, so the card is drawn here: Pillow draws the
still part once (colour bars, the rendition's name, size, bit rate and frame rate), converted to
YUV 4:2:0 as x264 takes it; each frame then writes only what moves into the luma plane: a clock
and a bar sweeping across a grey ramp, both on a neutral background so their chroma is left
as it is. Pure calculation: arrays in, arrays out.

The clock reads `mm:ss.ff` (minutes, seconds, frame within the second) from the start of the
segment. One encoded segment is served for every sequence number (`ts`), so the same four
seconds repeat: the clock shows that a player advances frame by frame and where in a segment it
is, not the time within the class (that would need one encoded segment per sequence number).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

__all__ = ["Box", "Card", "clock_text", "luma_box"]

_U8 = npt.NDArray[np.uint8]
# 75 % colour bars (ITU-R BT.801 order): white, yellow, cyan, green, magenta, red, blue.
_BARS = ((191, 191, 191), (191, 191, 0), (0, 191, 191), (0, 191, 0), (191, 0, 191), (191, 0, 0),
         (0, 0, 191))  # fmt: skip
_BLACK_Y, _WHITE_Y = 16, 235  # video range luma (BT.709)
_CLOCK_CHARS = "0123456789:."


def clock_text(frame: int, fps: int) -> str:
    """`mm:ss.ff` of frame `frame` at `fps` frames a second (ff: the frame in its second)."""
    seconds, ff = divmod(frame, fps)
    return f"{seconds // 60:02d}:{seconds % 60:02d}.{ff:02d}"


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle of the picture, in pixels: rows `top:bottom`, columns `left:right`."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def region(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where things are on a `width` x `height` card, in pixels (even, for 4:2:0 chroma)."""

    width: int
    height: int

    def row(self, share: float) -> int:
        return int(self.height * share) // 2 * 2

    @property
    def bars_end(self) -> int:
        return self.row(0.5)

    @property
    def ramp_start(self) -> int:
        return self.row(0.82)

    @property
    def clock_box(self) -> Box:
        """Where the clock is drawn: on black, right of the labels."""
        right = self.width - self.width // 32 * 2
        return Box(self.row(0.6), self.width // 2 // 2 * 2, self.row(0.78), right)


class Card:
    """The frames of one rendition's test card: `frames(count, fps)` yields YUV 4:2:0 arrays.

    Each array is `(height * 3 // 2, width)` bytes, the planes one after the other (Y, then
    U and V at half size), the layout `av.VideoFrame.from_ndarray(..., format="yuv420p")` reads.
    """

    def __init__(self, width: int, height: int, title: str, lines: tuple[str, ...]) -> None:
        if width % 2 or height % 2:
            raise ValueError("a 4:2:0 picture needs an even width and height")
        self.layout = _Layout(width, height)
        self.still = _to_yuv420(_still(self.layout, title, lines))
        box = self.layout.clock_box
        self.glyphs = _glyphs(box.bottom - box.top)

    def frames(self, count: int, fps: int) -> Iterator[_U8]:
        """`count` frames: the still card with the clock and the sweep at each frame."""
        for index in range(count):
            frame = self.still.copy()
            self._draw_clock(frame, clock_text(index, fps))
            self._draw_sweep(frame, index / count)
            yield frame

    def _draw_clock(self, frame: _U8, text: str) -> None:
        box = self.layout.clock_box
        strip = np.hstack([self.glyphs[c] for c in text])
        height, width = strip.shape
        y0 = box.top + (box.bottom - box.top - height) // 2
        x0 = box.left + max(0, (box.right - box.left - width) // 2)
        width = min(width, box.right - x0)
        frame[y0 : y0 + height, x0 : x0 + width] = luma_box(strip[:, :width])

    def _draw_sweep(self, frame: _U8, progress: float) -> None:
        """A white bar at `progress` (0-1) of the width across the grey ramp."""
        lay = self.layout
        bar = max(2, lay.width // 96)
        x = int(progress * (lay.width - bar))
        frame[lay.ramp_start : lay.height, x : x + bar] = _WHITE_Y


def luma_box(mask: _U8) -> _U8:
    """Luma of white text (`mask`: 0-255 coverage) on black, in video range."""
    return (_BLACK_Y + mask.astype(np.uint16) * (_WHITE_Y - _BLACK_Y) // 255).astype(np.uint8)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's own scalable font (no font file needed on the machine)."""
    return ImageFont.load_default(size=max(8, size))


@cache
def _glyphs(box_height: int) -> dict[str, _U8]:
    """Each clock character as a coverage mask; every digit in a cell of one width, so the
    clock never jiggles as it counts."""
    font = _font(int(box_height * 0.7))
    digit = max(int(font.getlength(c)) for c in "0123456789") + 2
    height = int(box_height * 0.8) // 2 * 2
    out = {}
    for char in _CLOCK_CHARS:
        cell = digit if char.isdigit() else int(font.getlength(char)) + 2
        image = Image.new("L", (cell, height), 0)
        ImageDraw.Draw(image).text((cell / 2, height / 2), char, fill=255, font=font, anchor="mm")
        out[char] = np.asarray(image)
    return out


def _still(lay: _Layout, title: str, lines: tuple[str, ...]) -> Image.Image:
    """The card without what moves: bars, a black band with the labels, a grey ramp."""
    image = Image.new("RGB", (lay.width, lay.height), (0, 0, 0))
    draw = ImageDraw.Draw(image)
    bar = lay.width / len(_BARS)
    for index, colour in enumerate(_BARS):
        draw.rectangle((round(index * bar), 0, round((index + 1) * bar), lay.bars_end), colour)
    ramp = np.linspace(32, 224, lay.width).astype(np.uint8)
    grey = np.repeat(ramp[None, :, None], lay.height - lay.ramp_start, axis=0).repeat(3, axis=2)
    image.paste(Image.fromarray(grey, "RGB"), (0, lay.ramp_start))
    margin, small = lay.width // 32, _font(lay.row(0.04))
    draw.text((margin, lay.row(0.54)), title, fill=(235, 235, 235), font=_font(lay.row(0.08)))
    for index, line in enumerate(lines):
        draw.text((margin, lay.row(0.66 + 0.05 * index)), line, fill=(200, 200, 200), font=small)
    caption = "clock within the segment"
    draw.text((lay.clock_box.left, lay.row(0.54)), caption, fill=(200, 200, 200), font=small)
    return image


def _to_yuv420(image: Image.Image) -> _U8:
    """RGB to BT.709 video-range YUV 4:2:0 planes, stacked (chroma: the mean of 2 x 2)."""
    rgb = np.asarray(image, dtype=np.float32) / 255.0
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16 + 219 * (0.2126 * r + 0.7152 * g + 0.0722 * b)
    u = 128 + 224 * (-0.1146 * r - 0.3854 * g + 0.5 * b)
    v = 128 + 224 * (0.5 * r - 0.4542 * g - 0.0458 * b)
    height, width = y.shape
    planes = [np.rint(y).astype(np.uint8).ravel()]
    for chroma in (u, v):
        half = chroma.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
        planes.append(np.rint(half).astype(np.uint8).ravel())
    return np.concatenate(planes).reshape(height * 3 // 2, width)
