"""Tokens: signing, verification, forgery, expiry, and the `twin token` command."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
from pathlib import Path

import pytest

from twin.cli.app import main
from twin.errors import InputError
from twin.serve.secret import load_secret
from twin.serve.tokens import TTL_MAX_S, Signer, TokenError, sign, verify

S = "s3cret-" * 5  # 35 bytes: secrets are at least 32


def test_a_token_names_its_kind_subject_and_expiry() -> None:
    token = sign("device", "bike-7", S, 60.0, now=1000.0)
    subject = verify(token, S, now=1059.0)
    assert (subject.kind, subject.id, subject.expires, subject.key) == (
        "device", "bike-7", 1060.0, "device:bike-7",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda t: t + "x", "bad token signature"),
        (lambda t: t.replace(".", ""), "malformed token"),
        (lambda t: "." + t.split(".")[1], "malformed token"),
        (lambda t: "é" + t, "malformed token"),
    ],
)
def test_mangled_tokens_are_refused(mangle: object, reason: str) -> None:
    token = sign("rider", "r1", S, 60.0)
    with pytest.raises(TokenError, match=reason):
        verify(mangle(token), S)  # type: ignore[operator]


def test_a_token_signed_with_another_secret_or_forged_payload_is_refused() -> None:
    token = sign("rider", "r1", "other", 60.0)
    with pytest.raises(TokenError, match="signature"):
        verify(token, S)
    mac = sign("rider", "r1", S, 60.0).split(".")[1]
    forged = json.dumps({"k": "admin", "s": "r1", "e": 9_999_999_999}).encode()
    forged_body = base64.urlsafe_b64encode(forged).rstrip(b"=").decode()
    with pytest.raises(TokenError, match="signature"):
        verify(f"{forged_body}.{mac}", S)


def test_expired_tokens_are_refused_even_when_memoised() -> None:
    signer = Signer(S)
    token = sign("rider", "r1", S, 60.0, now=0.0)
    with pytest.raises(TokenError, match="expired"):
        signer.verify(token)
    fresh = signer.sign("rider", "r2", 3600.0)
    assert signer.verify(fresh) is signer.verify(fresh)  # the memo answers the second time


def test_the_secret_is_twin_secret_or_a_random_file_made_once_mode_600(tmp_path: Path) -> None:
    assert load_secret(tmp_path, create=True, env={"TWIN_SECRET": S}) == S
    assert not (tmp_path / "secret").exists()
    with pytest.raises(InputError, match="at least 32 bytes, got 1"):
        load_secret(tmp_path, create=True, env={"TWIN_SECRET": "a"})
    with pytest.raises(InputError, match="no secret yet"):
        load_secret(tmp_path / "state", create=False, env={})
    made = load_secret(tmp_path / "state", create=True, env={})
    assert len(bytes.fromhex(made)) == 32
    assert (tmp_path / "state" / "secret").stat().st_mode & 0o777 == 0o600
    assert load_secret(tmp_path / "state", create=False, env={}) == made  # reused, not remade
    (tmp_path / "state" / "secret").chmod(0o644)
    with pytest.raises(InputError, match="readable by others"):
        load_secret(tmp_path / "state", create=True, env={})


def test_lifetimes_are_capped_by_kind_and_tokens_carry_an_id() -> None:
    rider = verify(sign("rider", "r1", S, now=0.0), S, now=1.0)
    admin = verify(sign("admin", "ops", S, now=0.0), S, now=1.0)
    assert (rider.expires, admin.expires) == (86_400.0, 3600.0)
    assert len(rider.jti) == 16 and rider.jti != admin.jti
    for kind in ("rider", "device", "admin"):
        with pytest.raises(ValueError, match="must be in"):
            sign(kind, "x", S, TTL_MAX_S[kind] + 1)
    body = (
        base64.urlsafe_b64encode(
            json.dumps({"k": "admin", "s": "a", "e": 10**9, "j": "0" * 16}).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    mac = (
        base64.urlsafe_b64encode(hmac.new(S.encode(), body.encode(), hashlib.sha256).digest())
        .rstrip(b"=")
        .decode()
    )
    with pytest.raises(TokenError, match="lifetime exceeds"):  # well signed, too long a life
        verify(f"{body}.{mac}", S, now=0.0)


def test_a_revoked_token_is_refused_even_when_memoised() -> None:
    signer = Signer(S)
    token = signer.sign("rider", "r1")
    subject = signer.verify(token)
    signer.revoked = frozenset({subject.jti})
    with pytest.raises(TokenError, match="revoked"):
        signer.verify(token)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Signer("short")


def test_twin_token_signs_with_the_servers_secret_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TWIN_SECRET", raising=False)
    assert main(["token", "--rider", "r1", "--data-dir", str(tmp_path)]) == 2
    assert "no secret yet" in capsys.readouterr().err
    secret = load_secret(tmp_path, create=True)  # what `twin serve` does at start
    assert main(["token", "--rider", "r1", "--data-dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert verify(out.strip(), secret).id == "r1" and err == ""
    assert secret not in out


def test_twin_token_prints_a_token_the_server_accepts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWIN_SECRET", S)
    assert main(["token", "--device", "bike-9", "--ttl", "120"]) == 0
    out, err = capsys.readouterr()
    subject = verify(out.strip(), S)
    assert (subject.kind, subject.id) == ("device", "bike-9") and err == ""
    assert main(["token", "--admin"]) == 0
    assert verify(capsys.readouterr().out.strip(), S).kind == "admin"


def test_twin_token_revokes_into_the_embedded_store(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["token", "--revoke", "0123456789abcdef", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "revoked token 0123456789abcdef\n"
    with sqlite3.connect(tmp_path / "twin-serve.sqlite3") as conn:
        assert [r[0] for r in conn.execute("SELECT jti FROM revoked")] == ["0123456789abcdef"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "twin: twin token: give exactly one of --rider ID, --device ID, --admin"),
        (["--rider", "a", "--admin"], "twin: twin token: give exactly one of"),
        (["--rider", "a b"], "twin: --rider: 'a b' is not an id"),
        (["--rider", "a", "--ttl", "0"], "twin: --ttl: must be in (0, 604800] seconds for a"),
        (["--rider", "a", "--ttl", "1e15"], "twin: --ttl: must be in (0, 604800] seconds"),
        (["--admin", "--ttl", "86401"], "twin: --ttl: must be in (0, 86400] seconds for an"),
        (["--revoke", "nope"], "twin: --revoke: 'nope' is not a token id"),
    ],
)
def test_twin_token_refuses_bad_options_in_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["token", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
