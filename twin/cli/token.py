"""`twin token --rider ID | --device ID | --admin`: print a signed bearer token.

The token is signed with the secret `twin serve` verifies with: `TWIN_SECRET`, or the secret
file `twin serve` made in its state folder (`--data-dir`, the same default). Lifetimes default
to a day (rider, device) or an hour (admin) and may be set with `--ttl` up to 7 days (rider,
device) or a day (admin). `twin token --revoke ID` revokes the token with that id (`--json`
prints it) in the store the server reads: Redis with `--redis URL`, else the state folder.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import typer

from twin.errors import InputError

__all__ = ["register"]

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
_TTL_HELP = "Validity in seconds (default 1 day, admin 1 hour; at most 7 days, admin 1 day)."
_JTI = re.compile(r"[0-9a-f]{16}")


def _subject(rider: str | None, device: str | None, admin: bool) -> tuple[str, str]:
    chosen = [(k, v) for k, v in (("rider", rider), ("device", device)) if v is not None]
    if admin:
        chosen.append(("admin", "admin"))
    if len(chosen) != 1:
        raise InputError("twin token", None, "give exactly one of --rider ID, --device ID, --admin")
    kind, ident = chosen[0]
    if not _ID.fullmatch(ident):
        raise InputError(f"--{kind}", None, f"{ident!r} is not an id (1-128 of A-Za-z0-9._:@-)")
    return kind, ident


def _revoke(jti: str, redis: str | None, data_dir: Path, quiet: bool) -> None:
    from twin.serve.revocation import revoke

    if not _JTI.fullmatch(jti):
        raise InputError("--revoke", None, f"{jti!r:.40} is not a token id (16 hex digits)")
    revoke(jti, redis_url=redis, data_dir=data_dir)
    if not quiet:
        print(f"revoked token {jti}")


def _mint(kind: str, ident: str, ttl: float | None, data_dir: Path, as_json: bool) -> None:
    from twin.serve.secret import load_secret
    from twin.serve.tokens import check_ttl, sign, verify

    try:
        ttl_s = check_ttl(kind, ttl)
    except ValueError as exc:
        raise InputError("--ttl", None, str(exc)) from None
    secret = load_secret(data_dir, create=False)
    value = sign(kind, ident, secret, ttl_s)
    if as_json:
        facts = {"token": value, "id": verify(value, secret).jti, "kind": kind, "subject": ident}
        print(json.dumps(facts | {"expires_at": round(time.time() + ttl_s)}))
        return
    print(value)


def register(app: typer.Typer) -> None:
    @app.command("token")
    def token(
        rider: str | None = typer.Option(None, "--rider", help="A rider token for this rider id."),
        device: str | None = typer.Option(None, "--device", help="A device token for this id."),
        admin: bool = typer.Option(False, "--admin", help="An admin token (fault injection)."),
        ttl: float | None = typer.Option(None, "--ttl", help=_TTL_HELP),
        data_dir: Path = typer.Option(
            Path(".twin-serve"), "--data-dir", help="The state folder of `twin serve`."
        ),
        revoke: str | None = typer.Option(None, "--revoke", help="Revoke the token with this id."),
        redis: str | None = typer.Option(
            None, "--redis", help="With --revoke: the Redis of `twin serve --redis`."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print token, id, subject, expiry."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing on --revoke."),
    ) -> None:
        """Print a signed bearer token for `twin serve`, or revoke one."""
        # Deferred: heavy libraries (pandas, pydantic, SimPy...) load only when the command runs.
        if revoke is not None:
            _revoke(revoke, redis, data_dir, quiet)
            return
        kind, ident = _subject(rider, device, admin)
        _mint(kind, ident, ttl, data_dir, as_json)
