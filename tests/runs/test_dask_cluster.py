"""Units of work on a real Dask cluster: a scheduler and two workers, separate processes on
loopback, give the same sweep and the same replications as this process alone."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from twin.cli.app import main

pytest.importorskip("distributed")
DASK = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
pytestmark = pytest.mark.skipif(DASK is None, reason="the dask command is not installed")

ROOT = Path(__file__).parents[2]
MMC = ROOT / "scenarios" / "mmc-example.yaml"
GRID = ["--grid", "architecture=phase2-microservices,phase3-global", "--grid", "riders=2e4"]
SMALL = ["--engine", "fluid", "--set", "duration_s=300", "-q"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    # Workers run without a nanny, so killing each process leaves nothing behind.
    for proc in reversed(procs):
        proc.kill()
    for proc in procs:
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dask scheduler` and two `dask worker`s (one thread each), killed at the end."""
    from distributed import Client

    assert DASK is not None
    scratch = tmp_path_factory.mktemp("dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    common = ["--no-dashboard"]
    log = (scratch / "cluster.log").open("wb")
    procs = [
        subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), *common],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=scratch,
        )
    ]
    try:
        for k in range(2):
            worker = [DASK, "worker", address, "--nthreads", "1", "--no-nanny", *common]
            worker += ["--host", "127.0.0.1"]
            worker += ["--local-directory", str(scratch / f"w{k}"), "--name", f"w{k}"]
            procs.append(
                subprocess.Popen(worker, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=scratch)
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="5s", set_as_default=False) as client:
                    client.wait_for_workers(2, timeout=max(1.0, deadline - time.monotonic()))
                    assert len(client.scheduler_info()["workers"]) == 2
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address
    finally:
        _stop(procs)
        log.close()


def test_a_sweep_on_the_cluster_equals_the_local_one(cluster: str, tmp_path: Path) -> None:
    there, here = tmp_path / "cluster", tmp_path / "local"
    assert (
        main(["sweep", "daily-peak", *GRID, *SMALL, "--cluster", cluster, "--out", str(there)]) == 0
    )
    assert main(["sweep", "daily-peak", *GRID, *SMALL, "--jobs", "1", "--out", str(here)]) == 0
    assert (there / "sweep.csv").read_bytes() == (here / "sweep.csv").read_bytes()
    assert (there / "sweep.parquet").read_bytes() == (here / "sweep.parquet").read_bytes()
    assert len((here / "sweep.csv").read_text().splitlines()) > 2 * 20


def test_replications_on_the_cluster_equal_local_ones(cluster: str, tmp_path: Path) -> None:
    args = ["run", str(MMC), "--engine", "exact", "--set", "duration_s=3000", "--set",
            "warmup_s=300", "--replications", "3", "-q"]  # fmt: skip
    assert main([*args, "--cluster", cluster, "--out", str(tmp_path / "c")]) == 0
    assert main([*args, "--jobs", "1", "--out", str(tmp_path / "l")]) == 0

    def summary(folder: str) -> dict[str, object]:
        data = json.loads((tmp_path / folder / "summary.json").read_text())
        data.pop("wall_seconds")
        return data

    assert summary("c") == summary("l")


def test_an_unreachable_cluster_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nobody = f"tcp://127.0.0.1:{_free_port()}"
    code = main(["sweep", "daily-peak", *GRID, *SMALL, "--cluster", nobody, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"twin: --cluster: {nobody}: no Dask scheduler answers")
    assert not (tmp_path / "sweep.csv").exists()


@pytest.mark.slow  # 20 s more on a quiet machine: in `make validate`
def test_a_capacity_search_on_the_cluster_equals_the_local_one(
    cluster: str, tmp_path: Path
) -> None:
    # Two worker threads: the search probes two loads at once and keeps the serial path.
    args = ["capacity", str(MMC), "--engine", "fluid", "--only", "--slo",
            "services.api.latency_ms.mean<=2000", "--set", "duration_s=3000", "--set",
            "warmup_s=300", "-q"]  # fmt: skip
    assert main([*args, "--cluster", cluster, "--out", str(tmp_path / "c")]) == 0
    assert main([*args, "--jobs", "1", "--out", str(tmp_path / "l")]) == 0
    there = (tmp_path / "c" / "capacity.json").read_bytes()
    assert there == (tmp_path / "l" / "capacity.json").read_bytes()
    assert json.loads(there)["confirmed"]
