"""Storage and stream backends of the reference platform: `embedded` (in-process) and `redis`.

`open_backend(settings)` picks one; both satisfy `twin.serve.backends.base.Backend`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twin.serve.backends.base import Backend
    from twin.serve.state import ServeSettings

__all__ = ["open_backend"]


def open_backend(settings: ServeSettings) -> Backend:
    """The backend the settings ask for (not started: call `await backend.start()`)."""
    if settings.redis_url:
        from twin.serve.backends.redis import RedisBackend

        return RedisBackend(settings.redis_url, shards=settings.consumers)
    from twin.serve.backends.embedded import EmbeddedBackend

    return EmbeddedBackend(settings.data_dir, shards=settings.consumers)
