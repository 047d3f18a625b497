"""Telemetry samples encrypted at rest: AES-256-GCM under a key kept beside the secret.

Each sample's document (heart rate, cadence, power...) is stored as `{"sealed":"<base64url>"}`:
a 12-byte nonce, then the AES-GCM ciphertext and tag, with the device id as associated data (a
sealed sample moved to another device does not open). The nonce is a keyed BLAKE2b of the
document (a synthetic IV, as in SIV): the same document always seals to the same bytes, so a
retried sample is still recognised as a repeat by plain equality, inside SQLite and inside
Redis' Lua script, and two different documents never share a nonce (a 96-bit collision).
What that reveals is only that two stored samples are equal. What the stream processor needs
(times and power, for the leaderboards) travels beside the sealed documents, as before.

The key is the file `samples.key` in `--data-dir` (32 random bytes, hex, mode 600), made on
the first `twin serve` like the signing secret. Its id (a keyed hash, never the key) is
written into the store on the first start; a later start with another key, or with the key
file lost (a new one is made), is refused in one line naming the file, before anything is
served: the stored samples would not open. Documents stored before encryption (no `sealed`)
are served as they are.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import stat
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from twin.errors import InputError

if TYPE_CHECKING:
    from twin.serve.validation import TelemetryBatch

__all__ = ["KEY_FILE", "SampleSealer", "SealError", "load_key", "refuse_other_key"]

KEY_FILE = "samples.key"
KEY_BYTES = 32
_PREFIX = '{"sealed":"'
_SUFFIX = '"}'


class SealError(Exception):
    """A stored sample that does not open with this key (tampered, or another key's)."""


def _subkey(key: bytes, label: bytes) -> bytes:
    return hashlib.blake2b(key, digest_size=32, person=label).digest()


class SampleSealer:
    """Seals and opens sample documents for one key; `key_id` names the key, not reveals it."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"a samples key is {KEY_BYTES} bytes, got {len(key)}")
        self._aead = AESGCM(_subkey(key, b"twin-aes-gcm"))
        self._nonce_key = _subkey(key, b"twin-nonce")
        self.key_id = hashlib.blake2b(key, digest_size=8, person=b"twin-key-id").hexdigest()

    def seal(self, device_id: str, doc: str) -> str:
        data = doc.encode()
        nonce = hashlib.blake2b(data, key=self._nonce_key, digest_size=12).digest()
        sealed = nonce + self._aead.encrypt(nonce, data, device_id.encode())
        return _PREFIX + base64.urlsafe_b64encode(sealed).decode("ascii") + _SUFFIX

    def open(self, device_id: str, stored: str) -> str:
        """The document `seal` sealed (a document stored in clear comes back as it is)."""
        if not stored.startswith(_PREFIX):
            return stored
        raw = base64.urlsafe_b64decode(stored[len(_PREFIX) : -len(_SUFFIX)])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], device_id.encode()).decode()
        except InvalidTag as exc:
            raise SealError(f"a stored sample of device {device_id!r} does not open") from exc

    def seal_batch(self, batch: TelemetryBatch) -> TelemetryBatch:
        """The batch with each document sealed (`docs_json` stays a JSON array of objects)."""
        sealed = [self.seal(batch.device_id, doc) for doc in batch.docs]
        return replace(batch, docs_json=f"[{','.join(sealed)}]")


def load_key(data_dir: Path) -> bytes:
    """`data_dir/samples.key`, made (mode 600) if missing; refused if others can read it."""
    path = Path(data_dir) / KEY_FILE
    if not path.exists():
        Path(data_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(KEY_BYTES) + "\n")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise InputError(str(path), None, f"readable by others (mode {mode:o}): chmod 600 it")
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise InputError(str(path), None, f"not a key: {KEY_BYTES} bytes in hex expected")
    return key


def refuse_other_key(path: Path, stored_id: str, key_id: str) -> InputError:
    """The one-line error for a store sealed with another key than the one in `path`."""
    return InputError(
        str(path), None,
        f"the stored samples were sealed with key {stored_id}, this file holds key {key_id}: "
        "restore the key file they were sealed with (a lost key cannot be recovered)",
    )  # fmt: skip
