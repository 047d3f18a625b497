"""Storage and stream backends of the reference platform: `embedded` (in-process) and `redis`.

`open_backend(redis_url=..., data_dir=..., shards=...)` picks one; both satisfy
`twin.serve.backends.base.Backend`. The backends know nothing of the service's settings
(`twin.serve.state`): the caller passes what they need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from twin.serve.backends.base import Backend

__all__ = ["open_backend", "redact_url"]


def redact_url(url: str) -> str:
    """`url` with its password (if any) replaced by `***`: what logs and messages may show."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    if not password:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def open_backend(
    *, redis_url: str | None, data_dir: Path, shards: int, pool_size: int | None = None
) -> Backend:
    """The Redis backend when `redis_url` is given, else the embedded one under `data_dir`,
    each with `shards` stream shards (not started: call `await backend.start()`). `pool_size`:
    the Redis client's connections at most (None: redis-py's default, unbounded)."""
    # Imported here, not at the top: this package runs whenever any of its modules is imported
    # (`base` by most of twin.serve), and should load only the backend a process runs.
    if redis_url:
        from twin.serve.backends.redis import RedisBackend

        return RedisBackend(redis_url, shards=shards, pool_size=pool_size)
    from twin.serve.backends.embedded import EmbeddedBackend

    return EmbeddedBackend(data_dir, shards=shards)
