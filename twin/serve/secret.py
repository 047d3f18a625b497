"""Where `twin serve` and `twin token` find the signing secret: never a constant.

`TWIN_SECRET` when it is set (at least 32 bytes), else the file `secret` in the state folder
(`--data-dir`): 32 random bytes, hex-encoded, created mode 600 on the first `twin serve` and
reused after. `twin token` only reads it (`create=False`), so a token is signed with exactly
the secret the server verifies with. A secret that is too short, or a secret file that others
can read, is refused in one line; the secret itself is never printed.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from twin.errors import InputError
from twin.serve.tokens import MIN_SECRET_BYTES, check_secret

__all__ = ["SECRET_FILE", "load_secret", "private_dir"]

SECRET_FILE = "secret"
ENV = "TWIN_SECRET"


def private_dir(folder: Path) -> Path:
    """`folder`, created mode 700 if it did not exist."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _checked(secret: str, source: str) -> str:
    try:
        return check_secret(secret)
    except ValueError as exc:
        raise InputError(source, None, str(exc)) from None


def _create(path: Path) -> None:
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_hex(MIN_SECRET_BYTES) + "\n")


def _read(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise InputError(str(path), None, f"readable by others (mode {mode:o}): chmod 600 it")
    return _checked(path.read_text(encoding="ascii").strip(), str(path))


def load_secret(data_dir: Path, *, create: bool, env: Mapping[str, str] | None = None) -> str:
    """The signing secret: `TWIN_SECRET`, else `data_dir/secret` (made first if `create`)."""
    value = (os.environ if env is None else env).get(ENV, "")
    if value:
        return _checked(value, ENV)
    path = Path(data_dir) / SECRET_FILE
    if not path.exists():
        if not create:
            raise InputError(
                str(path), None,
                f"no secret yet: start `twin serve --data-dir {data_dir}` once, or set {ENV}",
            )  # fmt: skip
        _create(path)
    return _read(path)
