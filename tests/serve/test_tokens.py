"""Tokens: signing, verification, forgery, expiry, and the `twin token` command."""

from __future__ import annotations

import base64
import json

import pytest

from twin.cli.app import main
from twin.serve.tokens import DEV_SECRET, Signer, TokenError, secret_from_env, sign, verify


def test_a_token_names_its_kind_subject_and_expiry() -> None:
    token = sign("device", "bike-7", "s3cret", 60.0, now=1000.0)
    subject = verify(token, "s3cret", now=1059.0)
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
    token = sign("rider", "r1", "s3cret", 60.0)
    with pytest.raises(TokenError, match=reason):
        verify(mangle(token), "s3cret")  # type: ignore[operator]


def test_a_token_signed_with_another_secret_or_forged_payload_is_refused() -> None:
    token = sign("rider", "r1", "other", 60.0)
    with pytest.raises(TokenError, match="signature"):
        verify(token, "s3cret")
    mac = sign("rider", "r1", "s3cret", 60.0).split(".")[1]
    forged = json.dumps({"k": "admin", "s": "r1", "e": 9_999_999_999}).encode()
    forged_body = base64.urlsafe_b64encode(forged).rstrip(b"=").decode()
    with pytest.raises(TokenError, match="signature"):
        verify(f"{forged_body}.{mac}", "s3cret")


def test_expired_tokens_are_refused_even_when_memoised() -> None:
    signer = Signer("s3cret")
    token = sign("rider", "r1", "s3cret", 60.0, now=0.0)
    with pytest.raises(TokenError, match="expired"):
        signer.verify(token)
    fresh = signer.sign("rider", "r2", 3600.0)
    assert signer.verify(fresh) is signer.verify(fresh)  # the memo answers the second time


def test_the_secret_comes_from_twin_secret_or_is_the_development_default() -> None:
    assert secret_from_env({"TWIN_SECRET": "abc"}) == ("abc", False)
    assert secret_from_env({}) == (DEV_SECRET, True)


def test_twin_token_prints_a_token_the_server_accepts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWIN_SECRET", "cli-secret")
    assert main(["token", "--device", "bike-9", "--ttl", "120"]) == 0
    out, err = capsys.readouterr()
    subject = verify(out.strip(), "cli-secret")
    assert (subject.kind, subject.id) == ("device", "bike-9") and err == ""
    assert main(["token", "--admin"]) == 0
    assert verify(capsys.readouterr().out.strip(), "cli-secret").kind == "admin"


def test_twin_token_warns_loudly_without_a_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TWIN_SECRET", raising=False)
    assert main(["token", "--rider", "r1"]) == 0
    out, err = capsys.readouterr()
    assert verify(out.strip(), DEV_SECRET).id == "r1"
    assert err.startswith("WARNING: TWIN_SECRET is not set")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "twin: twin token: give exactly one of --rider ID, --device ID, --admin"),
        (["--rider", "a", "--admin"], "twin: twin token: give exactly one of"),
        (["--rider", "a b"], "twin: --rider: 'a b' is not an id"),
        (["--rider", "a", "--ttl", "0"], "twin: --ttl: must be > 0 seconds, got 0"),
    ],
)
def test_twin_token_refuses_bad_options_in_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["token", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
