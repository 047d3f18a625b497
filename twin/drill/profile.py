"""Target profiles: how `twin drill` speaks to a platform, read from a YAML file (`--profile`).

A profile says, for each request type of the rider's journey, its method, path, body and
headers (templates naming the journey's variables: `{rider}`, `{device}`, `{class}`...), the
statuses that count as success and which token it presents; a type it leaves out is not driven
(nor planned, nor predicted). It says how tokens are made (signed with the target's secret,
one per rider from a CSV file or a command, one static header, or none), where the class list
comes from (the reference API, or listed in the profile), and the HLS master playlists the
player starts from. The reference platform's profile is shipped and is the default
(`twin/scenarios/profiles/reference-platform.yaml`); `twin schema profile` prints the schema.

The model validates the file (every error names the file and the field) and `to_wire` gives
the `twin.drill.wire.Profile` the plan carries to the load generators: the one definition.
"""

from __future__ import annotations

import csv
import os
import shlex
import string
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from twin.config.builtin import builtin_folder
from twin.config.files import read_yaml, validate
from twin.config.network import FieldError, Frozen
from twin.drill.wire import JOURNEY_TYPES, VARIABLES, Profile, RequestSpec
from twin.errors import InputError

__all__ = [
    "DEFAULT_PROFILE",
    "TargetProfile",
    "apply_auth",
    "load_profile",
    "profile_path",
    "profile_schema",
    "template_names",
]

DEFAULT_PROFILE = "reference-platform"
_OK = (200, 201, 202, 204)
Status = Annotated[int, Field(ge=100, le=599)]


def profile_path(name_or_path: str | Path | None) -> Path:
    """A profile file: a path, or the name of a shipped one (default: the reference's)."""
    if name_or_path is None:
        name_or_path = DEFAULT_PROFILE
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    shipped = builtin_folder() / "profiles" / f"{name_or_path}.yaml"
    if not shipped.is_file():
        known = ", ".join(sorted(p.stem for p in (builtin_folder() / "profiles").glob("*.yaml")))
        raise InputError("--profile", None, f"no profile {str(name_or_path)!r} (shipped: {known})")
    return shipped


def template_names(value: Any) -> Iterator[str]:
    """Every `{variable}` a template (a string, or a JSON value of strings) names."""
    if isinstance(value, str):
        try:
            parsed = list(string.Formatter().parse(value))
        except ValueError as exc:
            raise ValueError(f"is not a template ({exc})") from None
        for _text, name, spec, conversion in parsed:
            if name is not None:
                if not name or spec or conversion:
                    raise ValueError(f"{{{name}}}: only plain {{variable}} names are templates")
                yield name
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from template_names(str(k))
            yield from template_names(v)
    elif isinstance(value, list):
        for v in value:
            yield from template_names(v)


def _check_names(value: Any, where: str, allowed: Sequence[str]) -> None:
    try:
        names = list(template_names(value))
    except ValueError as exc:
        raise FieldError(where, str(exc)) from None
    for name in names:
        if name not in allowed:
            raise FieldError(
                where, f"names the unknown variable {{{name}}} (known here: {', '.join(allowed)})"
            )


class Request(Frozen):
    """One request type: what the journey sends for it."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field(
        "GET", description="The HTTP method."
    )
    path: str = Field(
        description="Path (or absolute URL) template, e.g. `/v1/classes/{class}/join`."
    )
    body: Any = Field(
        None,
        description="JSON body template: strings are templates; a string that is one "
        "`{variable}` alone becomes its value (a number, the samples list). null: no body.",
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Header templates.")
    ok: list[Status] = Field(
        default_factory=lambda: list(_OK), min_length=1,
        description="The statuses that count as success.",
    )  # fmt: skip
    token: Literal["rider", "device", "none"] = Field(
        "rider", description="Which of the rider's tokens the request presents."
    )
    capture: str | None = Field(
        None,
        description="A dotted path into the JSON reply (lists are mapped over) the journey "
        "keeps: `recommend`'s recommended class ids, `workout`'s id for `{workout}`.",
    )
    sample: Any = Field(
        None,
        description="`telemetry` only: the template of one sample of a batch (variables "
        "seq, t, cadence_rpm, resistance_pct, power_w, heart_rate_bpm, speed_kph); null: "
        "the reference platform's sample.",
    )


class SignedAuth(Frozen):
    """Tokens signed with the target's secret (`TWIN_SECRET`): the reference platform's."""

    kind: Literal["signed"] = Field(description="`signed`.")


class CsvAuth(Frozen):
    """One bearer token per rider from a CSV file with a header row."""

    kind: Literal["csv"] = Field(description="`csv`.")
    file: Path = Field(
        description="CSV with a `rider_token` column (and `device_token`, else the same); "
        "row i is rider i's. A relative path is from the profile's folder."
    )


class CommandAuth(Frozen):
    """One bearer token per rider printed by a command (run without a shell)."""

    kind: Literal["command"] = Field(description="`command`.")
    command: str = Field(
        description="Run once per rider with TWIN_RIDER_ID and TWIN_DEVICE_ID set; the first "
        "line it prints is the rider's token."
    )


class HeaderAuth(Frozen):
    """One static header on every request (an API key)."""

    kind: Literal["header"] = Field(description="`header`.")
    name: str = Field(min_length=1, description="The header's name, e.g. `X-Api-Key`.")
    value: str = Field(description="Its value.")


class NoAuth(Frozen):
    """No credentials at all (a public origin)."""

    kind: Literal["none"] = Field(description="`none`.")


Auth = Annotated[
    SignedAuth | CsvAuth | CommandAuth | HeaderAuth | NoAuth, Field(discriminator="kind")
]


class StaticClasses(Frozen):
    """Classes a target without a class API serves, listed in the profile."""

    live: list[str] = Field(
        default_factory=list, description="Live class ids, running for the whole drill."
    )
    on_demand: dict[str, Annotated[float, Field(gt=0)]] = Field(
        min_length=1, description="On-demand class ids and their lengths (s)."
    )


class Streaming(Frozen):
    """The HLS player's start: master playlist URL templates (variables rider, device, class)."""

    live_master: str | None = Field(
        None, description="A live class's master playlist, e.g. `/v1/live/{class}/master.m3u8`."
    )
    on_demand_master: str | None = Field(
        None, description="An on-demand class's master playlist (null: live only)."
    )
    ok: list[Status] = Field(
        default_factory=lambda: [200], min_length=1,
        description="The statuses that count as success for playlists and segments.",
    )  # fmt: skip


class TargetProfile(Frozen):
    """A target profile file (`twin drill --profile FILE`)."""

    name: str = Field(description="The profile's name (in the drill's summary and report).")
    description: str = Field("", description="One line about it, for people.")
    auth: Auth = Field(
        default_factory=lambda: SignedAuth(kind="signed"),
        description="How riders' tokens are made: signed, csv, command, header or none.",
    )  # fmt: skip
    auth_header: str = Field("Authorization", description="The header carrying a token.")
    auth_prefix: str = Field("Bearer ", description="What comes before the token in it.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Headers sent with every request."
    )
    classes: Literal["api"] | StaticClasses = Field(
        "api",
        description="`api`: read from the reference API's `GET /v1/classes`; else the classes "
        "listed here.",
    )
    streaming: Streaming | None = Field(
        None, description="The HLS player's master playlists (null: no streaming driven)."
    )
    requests: dict[str, Request] = Field(
        default_factory=dict,
        description="The journey's API request types this target is driven with (recommend, "
        "join, telemetry, leaderboard, workout, feedback, tempo); a type left out is not "
        "driven.",
        json_schema_extra={"propertyNames": {"enum": list(JOURNEY_TYPES)}},
    )

    @model_validator(mode="after")
    def _templates(self) -> TargetProfile:
        for rtype, spec in self.requests.items():
            if rtype not in JOURNEY_TYPES:
                raise FieldError(
                    f"requests.{rtype}",
                    f"unknown request type (known: {', '.join(JOURNEY_TYPES)})",
                )
            allowed = VARIABLES[rtype]
            for part in ("path", "body", "headers"):
                _check_names(getattr(spec, part), f"requests.{rtype}.{part}", allowed)
            if spec.sample is not None:
                if rtype != "telemetry":
                    raise FieldError(f"requests.{rtype}.sample", "is for telemetry only")
                _check_names(spec.sample, f"requests.{rtype}.sample", VARIABLES["sample"])
        if "feedback" in self.requests and "workout" not in self.requests:
            raise FieldError("requests.feedback", "needs `workout` (it rates the saved workout)")
        if self.streaming is not None:
            for part in ("live_master", "on_demand_master"):
                _check_names(getattr(self.streaming, part), f"streaming.{part}",
                             VARIABLES["master"])  # fmt: skip
        if not self.requests and (self.streaming is None or not self._streams()):
            raise FieldError("requests", "the profile drives nothing (no requests, no streaming)")
        return self

    def _streams(self) -> bool:
        s = self.streaming
        return s is not None and (s.live_master is not None or s.on_demand_master is not None)

    def not_driven(self, types: Sequence[str]) -> list[str]:
        """Those of the request types `types` this profile leaves out."""
        wire = self.to_wire()
        return [t for t in types if not wire.drives(t)]

    def to_wire(self) -> Profile:
        """The profile as the plan carries it to the load generators."""
        s = self.streaming
        header = self.auth_header if self.auth.kind in ("signed", "csv", "command") else None
        static = {**self.headers}
        if isinstance(self.auth, HeaderAuth):
            static[self.auth.name] = self.auth.value
        return Profile(
            name=self.name,
            requests={k: _wire_request(v) for k, v in self.requests.items()},
            live_master=None if s is None else s.live_master,
            vod_master=None if s is None else s.on_demand_master,
            auth_header=header,
            auth_prefix=self.auth_prefix,
            headers=static,
            hls_ok=tuple(s.ok) if s is not None else (200,),
        )


def _wire_request(spec: Request) -> RequestSpec:
    return RequestSpec(
        method=spec.method, path=spec.path, body=spec.body, headers=dict(spec.headers),
        ok=tuple(spec.ok), token=spec.token, capture=spec.capture, sample=spec.sample,
    )  # fmt: skip


def profile_schema() -> dict[str, Any]:
    """The JSON Schema (draft 07) of a profile file: `twin schema profile`."""
    from twin.config.schema import file_schema  # deferred: only the schema command needs it

    return file_schema(TargetProfile, "twin target profile")


def load_profile(name_or_path: str | Path | None = None) -> tuple[TargetProfile, Path]:
    """The profile (a file, or a shipped profile's name; default the reference's), validated."""
    path = profile_path(name_or_path)
    data = read_yaml(path)
    return validate(lambda: TargetProfile.model_validate(data), str(path)), path


def apply_auth(
    profile: TargetProfile, where: Path, pool: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The pool with the tokens the profile's auth makes (signed: as the pool has them)."""
    auth = profile.auth
    pairs: list[tuple[str | None, str | None]]
    if isinstance(auth, SignedAuth):
        return pool
    if isinstance(auth, CsvAuth):
        pairs = list(_csv_tokens(where.parent / auth.file, str(where), len(pool)))
    elif isinstance(auth, CommandAuth):
        pairs = [_command_token(auth.command, r, str(where)) for r in pool]
    else:
        pairs = [(None, None)] * len(pool)
    return [
        {**r, "rider_token": a, "device_token": b} for r, (a, b) in zip(pool, pairs, strict=True)
    ]


def _csv_tokens(path: Path, source: str, n: int) -> list[tuple[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise InputError(source, "auth.file", f"cannot read {path} ({exc.strerror})") from None
    if not rows or "rider_token" not in rows[0]:
        raise InputError(str(path), "rider_token", "no such column (a header row names it)")
    if len(rows) < n:
        raise InputError(str(path), None, f"holds {len(rows)} tokens; the drill's pool is {n}")
    return [(r["rider_token"], r.get("device_token") or r["rider_token"]) for r in rows[:n]]


def _command_token(command: str, rider: Mapping[str, Any], source: str) -> tuple[str, str]:
    env = {**os.environ, "TWIN_RIDER_ID": str(rider["rider_id"]),
           "TWIN_DEVICE_ID": str(rider["device_id"])}  # fmt: skip
    try:
        done = subprocess.run(shlex.split(command), env=env, capture_output=True, text=True,
                              timeout=30, check=False)  # fmt: skip
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise InputError(source, "auth.command", f"cannot run ({exc})") from None
    token = (done.stdout.strip().splitlines() or [""])[0].strip()
    if done.returncode != 0 or not token:
        raise InputError(
            source, "auth.command", f"exit {done.returncode} and no token for {rider['rider_id']}"
        )
    return token, token
