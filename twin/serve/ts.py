"""MPEG-TS (ISO/IEC 13818-1) at the packet level: a segment template and its copies in time.

An HLS live stream here is one encoded segment repeated: segment `seq` is the template with
every PTS, DTS and PCR moved on by `seq` segment durations. `SegmentTemplate` is built once
from a muxer's output; it makes every PID carry a multiple of 16 payload packets (by splitting
payload packets in two with adaptation-field stuffing, or repeating a PSI table), so the 4-bit
continuity counters of segment `seq + 1` continue those of segment `seq` without rewriting, and
it indexes the byte offsets of every timestamp. `at(seq)` is then one copy and a vectorised
patch of a few hundred 5- and 6-byte fields, cheap enough for the request path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["PACKET", "SegmentTemplate", "cut", "null_packets"]

PACKET = 188
SYNC = 0x47
NULL_PID = 0x1FFF
_PSI_PIDS = frozenset({0x0000, 0x0011})  # PAT, SDT; the PMT PID is read from the PAT
_TS_MASK = (1 << 33) - 1  # PTS, DTS and the PCR base are 33-bit counts of a 90 kHz clock
_U8 = npt.NDArray[np.uint8]
_I64 = npt.NDArray[np.int64]


def null_packets(count: int) -> bytes:
    """`count` null packets (PID 0x1FFF), which a demuxer discards: constant-bit-rate padding."""
    return (bytes((SYNC, 0x1F, 0xFF, 0x10)) + b"\xff" * (PACKET - 4)) * count


def _pid(packet: bytes | bytearray) -> int:
    return ((packet[1] & 0x1F) << 8) | packet[2]


def _has_payload(packet: bytes | bytearray) -> bool:
    return bool(packet[3] & 0x10)


def _payload_start(packet: bytes | bytearray) -> int:
    """Where the payload begins: after the header and any adaptation field."""
    return 5 + packet[4] if packet[3] & 0x20 else 4


def _split(packet: bytes) -> tuple[bytes, bytes]:
    """One payload-only packet as two, each carrying half the payload after stuffing."""
    if packet[3] & 0x30 != 0x10:
        raise ValueError("only a payload-only packet can be split")
    payload = packet[4:]
    halves = (payload[: len(payload) // 2], payload[len(payload) // 2 :])
    out = []
    for index, half in enumerate(halves):
        pusi = packet[1] if index == 0 else packet[1] & ~0x40
        stuffing = PACKET - 4 - len(half) - 2  # adaptation length byte, flags byte
        header = bytes((SYNC, pusi, packet[2], (packet[3] & 0xCF) | 0x30, stuffing + 1, 0))
        out.append(header + b"\xff" * stuffing + half)
    return out[0], out[1]


def _pad_to_sixteen(packets: list[bytes]) -> list[bytes]:
    """Add payload packets until every PID carries a multiple of 16 (continuity wraps)."""
    counts: dict[int, int] = {}
    for packet in packets:
        if _has_payload(packet) and _pid(packet) != NULL_PID:
            counts[_pid(packet)] = counts.get(_pid(packet), 0) + 1
    psi = _PSI_PIDS | {_pmt_pid(packets)}
    for pid, count in counts.items():
        missing = -count % 16
        if pid in psi:
            first = next(p for p in packets if _pid(p) == pid)
            packets.extend([first] * missing)
            continue
        for index in range(len(packets) - 1, -1, -1):
            if missing == 0:
                break
            packet = packets[index]
            if _pid(packet) == pid and packet[3] & 0x30 == 0x10 and not packet[1] & 0x40:
                packets[index : index + 1] = _split(packet)
                missing -= 1
        if missing:
            raise ValueError(f"PID {pid:#x} has too few packets to pad to 16")
    return packets


def _pmt_pid(packets: list[bytes]) -> int:
    pat = next(p for p in packets if _pid(p) == 0)
    start = _payload_start(pat) + 1 + pat[_payload_start(pat)]  # skip the pointer field
    return ((pat[start + 10] & 0x1F) << 8) | pat[start + 11]  # first program's PID


def _renumber(packets: list[bytes]) -> bytearray:
    """Continuity counters from 0 per PID, counting packets that carry a payload."""
    next_cc: dict[int, int] = {}
    out = bytearray()
    for packet in packets:
        pid = _pid(packet)
        cc = next_cc.get(pid, 0)
        if _has_payload(packet):
            next_cc[pid] = (cc + 1) % 16
        else:
            cc = (cc - 1) % 16  # no payload: the counter stays at the last one sent
        out += packet[:3] + bytes(((packet[3] & 0xF0) | cc,)) + packet[4:]
    return out


@dataclass(frozen=True, slots=True)
class _Fields:
    """Where the timestamps are: offsets of 5-byte PTS/DTS and 6-byte PCR fields, and values."""

    ts_at: _I64
    ts: _I64
    pcr_at: _I64
    pcr: _I64


def _index(data: bytes | bytearray) -> _Fields:
    ts_at: list[int] = []
    pcr_at: list[int] = []
    for base in range(0, len(data), PACKET):
        packet = data[base : base + PACKET]
        if packet[3] & 0x20 and packet[4] > 0 and packet[5] & 0x10:
            pcr_at.append(base + 6)
        start = _payload_start(packet)
        if packet[1] & 0x40 and _pid(packet) != NULL_PID and packet[start : start + 3] == b"\0\0\1":
            flags = packet[start + 7] >> 6
            if flags & 2:
                ts_at.append(base + start + 9)
            if flags == 3:
                ts_at.append(base + start + 14)
    raw = np.frombuffer(bytes(data), dtype=np.uint8)
    ts = _read_ts(raw, np.array(ts_at, dtype=np.int64))
    pcr = _read_pcr_base(raw, np.array(pcr_at, dtype=np.int64))
    return _Fields(np.array(ts_at, np.int64), ts, np.array(pcr_at, np.int64), pcr)


def _read_ts(raw: _U8, at: _I64) -> _I64:
    b = [raw[at + k].astype(np.int64) for k in range(5)]
    return ((b[0] >> 1) & 7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1


def _read_pcr_base(raw: _U8, at: _I64) -> _I64:
    b = [raw[at + k].astype(np.int64) for k in range(5)]
    return b[0] << 25 | b[1] << 17 | b[2] << 9 | b[3] << 1 | b[4] >> 7


class SegmentTemplate:
    """One muxed segment, ready to be served as segment `seq` of an endless stream.

    Built from a muxer's output and the size the segment must have (null packets fill it).
    Only the packets that carry a timestamp differ from one segment to the next (a PES header
    per video frame and per audio frame, the PCR riding on the video's): `pieces(seq)` is the
    template's own bytes between those packets, as views, interleaved with fresh copies of
    them moved on by `seq` durations, so serving a segment copies a few tens of kilobytes
    however large it is. `at(seq)` is the same segment patched whole into one buffer.
    """

    def __init__(self, muxed: bytes, duration_s: float, nbytes: int) -> None:
        if len(muxed) % PACKET or muxed[:1] != bytes((SYNC,)):
            raise ValueError("not an MPEG transport stream (188-byte packets, sync 0x47)")
        packets = [muxed[i : i + PACKET] for i in range(0, len(muxed), PACKET)]
        packets = [p for p in _pad_to_sixteen(packets) if _pid(p) != NULL_PID]
        data = _renumber(packets)
        if len(data) > nbytes:
            raise ValueError(f"encoded segment is {len(data)} bytes, over its {nbytes}")
        data += null_packets((nbytes - len(data)) // PACKET)
        self.data = bytes(data)
        self.duration_s = duration_s
        self.fields = _index(self.data)
        self._hot = _gather(self.data, self.fields)
        self._cold = _cold_spans(self.data, self._hot.rows)

    def shift(self, seq: int) -> int:
        """How far segment `seq`'s clock runs ahead of the template's, in 90 kHz ticks."""
        return round(seq * self.duration_s * 90_000)

    def at(self, seq: int) -> bytearray:
        """Segment `seq` in one buffer: the template with every PTS, DTS and PCR moved on."""
        body = bytearray(self.data)
        _move(np.frombuffer(body, dtype=np.uint8), self.fields, self.shift(seq))
        return body

    def pieces(self, seq: int) -> list[bytes]:
        """Segment `seq` as pieces whose concatenation is `at(seq)`, none of them empty.

        The pieces between timestamped packets are the template's own (shared by every
        segment); only the timestamped packets, a few hundred, are copied and patched.
        """
        fresh = self._hot.packets.copy()
        _move(fresh, self._hot.fields, self.shift(seq))
        raw = fresh.tobytes()
        out = [b""] * (2 * len(self._hot.rows) + 1)
        out[0::2] = self._cold
        out[1::2] = [raw[k : k + PACKET] for k in range(0, len(raw), PACKET)]
        return [piece for piece in out if piece]


@dataclass(frozen=True, slots=True)
class _Hot:
    """The template's packets that carry a timestamp, gathered in order, and where in them."""

    rows: list[int]  # packet numbers in the template, ascending
    packets: _U8  # their bytes, one after the other
    fields: _Fields  # offsets into `packets`


def _gather(data: bytes, fields: _Fields) -> _Hot:
    rows = np.unique(np.concatenate([fields.ts_at, fields.pcr_at]) // PACKET)
    raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, PACKET)

    def moved(at: _I64) -> _I64:
        return np.searchsorted(rows, at // PACKET).astype(np.int64) * PACKET + at % PACKET

    gathered = _Fields(moved(fields.ts_at), fields.ts, moved(fields.pcr_at), fields.pcr)
    return _Hot([int(r) for r in rows], raw[rows].ravel(), gathered)


def _cold_spans(data: bytes, rows: list[int]) -> list[bytes]:
    """The template's bytes before, between and after the packets in `rows` (some empty)."""
    bounds = [0, *(b for r in rows for b in (r * PACKET, (r + 1) * PACKET)), len(data)]
    return [data[bounds[k] : bounds[k + 1]] for k in range(0, len(bounds), 2)]


def cut(pieces: list[bytes], nbytes: int) -> list[bytes]:
    """The first `nbytes` of the concatenation of `pieces`, still in pieces."""
    out: list[bytes] = []
    for piece in pieces:
        if nbytes <= 0:
            break
        out.append(piece[:nbytes])
        nbytes -= len(piece)
    return out


def _move(out: _U8, fields: _Fields, shift: int) -> None:
    """Every PTS, DTS and PCR base at `fields` in `out` moved on by `shift` ticks (33-bit)."""
    _write_ts(out, fields.ts_at, (fields.ts + shift) & _TS_MASK)
    _write_pcr_base(out, fields.pcr_at, (fields.pcr + shift) & _TS_MASK)


def _write_ts(out: _U8, at: _I64, value: _I64) -> None:
    out[at] = (out[at] & 0xF0) | ((value >> 29) & 0x0E) | 1
    out[at + 1] = (value >> 22) & 0xFF
    out[at + 2] = ((value >> 14) & 0xFE) | 1
    out[at + 3] = (value >> 7) & 0xFF
    out[at + 4] = ((value << 1) & 0xFE) | 1


def _write_pcr_base(out: _U8, at: _I64, base: _I64) -> None:
    out[at] = (base >> 25) & 0xFF
    out[at + 1] = (base >> 17) & 0xFF
    out[at + 2] = (base >> 9) & 0xFF
    out[at + 3] = (base >> 1) & 0xFF
    out[at + 4] = (out[at + 4] & 0x7F) | ((base & 1) << 7)
