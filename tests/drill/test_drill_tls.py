"""A drill over TLS: `twin serve --tls-cert/--tls-key` with a throwaway CA (trustme), and
`twin drill --host https://... --ca-cert` against it: Locust and the drill's own calls check
the server's certificate against that CA, and a drill without the CA is refused in one line.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.serve.helpers import SECRET, free_port
from twin.cli.app import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    cert.private_key_pem.write_to_path(str(files["key"]))
    for blob in cert.cert_chain_pems:  # the server's certificate, then its chain
        blob.write_to_path(str(files["cert"]), append=True)
    return files


@pytest.fixture(scope="module")
def https_server(
    tls_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "twin.cli.app", "serve", "--port", str(port), "--riders", "100",
           "--tls-cert", str(tls_files["cert"]), "--tls-key", str(tls_files["key"]),
           "--data-dir", str(tmp_path_factory.mktemp("serve"))]  # fmt: skip
    env = {**os.environ, "TWIN_SECRET": SECRET}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        assert f"ready at https://127.0.0.1:{port}" in line
        yield f"https://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stdout.close()


def _metrics(url: str, ca: Path) -> str:
    context = ssl.create_default_context(cafile=ca)
    with urllib.request.urlopen(f"{url}/metrics", context=context, timeout=10) as reply:
        return str(reply.read().decode())


def test_a_drill_over_tls_checks_the_certificate_and_measures(
    https_server: str, tls_files: dict[str, Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("TWIN_SECRET", SECRET)
    out = tmp_path / "drill"
    code = main(["drill", str(ROOT / "scenarios/daily-peak.yaml"), "--host", https_server,
                 "--ca-cert", str(tls_files["ca"]), "--scale", "3e-4", "--speedup", "180",
                 "--duration", "8", "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    requests = json.loads((out / "summary.json").read_text())["requests"]
    total = sum(r["count"] for r in requests.values())
    errors = sum(r["errors"] for r in requests.values())
    assert total > 100 and errors / total < 0.01
    assert requests["telemetry"]["count"] > 0
    counter = 'twin_http_requests_total{method="POST",route="telemetry",status="202"}'
    text = _metrics(https_server, tls_files["ca"])
    served = [ln for ln in text.splitlines() if ln.startswith(counter)]
    assert served and float(served[0].split()[-1]) > 0  # the server answered them, over TLS


def test_without_the_ca_the_drill_is_refused_in_one_line(
    https_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("TWIN_SECRET", SECRET)
    code = main(["drill", str(ROOT / "scenarios/daily-peak.yaml"), "--host", https_server,
                 "--out", str(tmp_path / "x")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"twin: cannot reach {https_server}: [SSL: CERTIFICATE_VERIFY_FAILED]")
    assert main(["drill", "daily-peak", "--host", "http://127.0.0.1:9", "--ca-cert",
                 str(tmp_path / "ca.pem")]) == 2  # fmt: skip
    assert "--ca-cert: only with an https:// --host" in capsys.readouterr().err


def test_serve_refuses_a_certificate_it_cannot_load(
    tls_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("TWIN_SECRET", SECRET)
    base = ["serve", "--port", "0", "--data-dir", str(tmp_path)]
    assert main([*base, "--tls-cert", str(tls_files["cert"])]) == 2
    assert "--tls-cert and --tls-key go together" in capsys.readouterr().err
    missing = tmp_path / "nope.pem"
    assert main([*base, "--tls-cert", str(missing), "--tls-key", str(tls_files["key"])]) == 2
    assert capsys.readouterr().err == f"twin: --tls-cert: no such file: {missing}\n"
    args = [*base, "--tls-cert", str(tls_files["ca"]), "--tls-key", str(tls_files["key"])]
    assert main(args) == 2  # the CA's certificate does not match the server's key
    err = capsys.readouterr().err
    assert err.startswith("twin: --tls-cert: ") and err.count("\n") == 1
