"""`twin token --rider ID | --device ID | --admin`: print a signed bearer token.

The token is signed with `TWIN_SECRET`, the same secret `twin serve` verifies with. When it is
unset, both use a public development secret and say so loudly on stderr.
"""

from __future__ import annotations

import json
import re
import sys
import time

import typer

from twin.errors import InputError

__all__ = ["register"]

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")


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


def register(app: typer.Typer) -> None:
    @app.command("token")
    def token(
        rider: str | None = typer.Option(None, "--rider", help="A rider token for this rider id."),
        device: str | None = typer.Option(None, "--device", help="A device token for this id."),
        admin: bool = typer.Option(False, "--admin", help="An admin token (fault injection)."),
        ttl: float = typer.Option(30 * 86_400.0, "--ttl", help="Validity in seconds."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No warning about the secret."),
        as_json: bool = typer.Option(False, "--json", help="Print token, subject and expiry."),
    ) -> None:
        """Print a signed bearer token for `twin serve`."""
        # Deferred: heavy libraries (pandas, pydantic, SimPy...) load only when the command runs.
        from twin.serve.tokens import secret_from_env, sign

        kind, ident = _subject(rider, device, admin)
        if not ttl > 0:
            raise InputError("--ttl", None, f"must be > 0 seconds, got {ttl:g}")
        secret, is_default = secret_from_env()
        if is_default and not quiet:
            print(
                "WARNING: TWIN_SECRET is not set: this token is signed with the PUBLIC development"
                " secret and is only good for a development server.",
                file=sys.stderr,
            )
        value = sign(kind, ident, secret, ttl)
        if as_json:
            facts: dict[str, object] = {"token": value, "kind": kind, "subject": ident}
            facts |= {"expires_at": round(time.time() + ttl), "development_secret": is_default}
            print(json.dumps(facts))
            return
        print(value)
