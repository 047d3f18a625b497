"""`twin serve`: run the reference platform (embedded by default, or on Redis with --redis).

Prints one line when ready (`twin serve: ready at http://... (backend ...)`), serves until
SIGINT or SIGTERM, and exits 0 after a clean shutdown. Tokens are signed with `TWIN_SECRET`, or
with the random secret kept in `--data-dir` (see `twin.serve.secret`); the fault-injection API
is there only with `--admin`. A bad option, a bad or unreachable
`--redis` URL, a Redis that would lose acknowledged writes (no AOF, or `appendfsync no`; unless
`--allow-data-loss`), or a port already taken is one line on stderr and exit code 2.
"""

from __future__ import annotations

from pathlib import Path

import typer

from twin.errors import InputError

__all__ = ["register"]

_DATA_DIR_HELP = (
    "State folder: the signing secret (made on the first start unless TWIN_SECRET is set) "
    "and the embedded backend's SQLite."
)

_MEDIA_CACHE_HELP = (
    "Folder of the encoded HLS segments (encoded there at the first start); "
    "default: $XDG_CACHE_HOME/twin/hls or ~/.cache/twin/hls."
)


# the options whose declarations take several lines (typer reads a default's Option)
_REDIS = typer.Option(
    None, "--redis", help="Redis URL (redis://host:6379/0); default: embedded backend."
)
_ADMIN = typer.Option(
    False, "--admin", help="Serve the fault-injection API (admin tokens), loopback only."
)
_ADMIN_REMOTE = typer.Option(
    False, "--admin-remote", help="With --admin: take admin requests from any address."
)
_DEVICE_RATE = typer.Option(10.0, "--device-rate", help="Telemetry samples/s per device.")
_EGRESS_MBPS = typer.Option(
    None, "--origin-egress-mbps", help="Cap on the streaming origin's egress."
)
_MAX_LAG = typer.Option(
    30.0, "--max-lag", help="Seconds a shard may sit on a backlog before /healthz is 503."
)
_ALLOW_DATA_LOSS = typer.Option(
    False, "--allow-data-loss", help="Serve on a Redis without AOF (else refused)."
)
_MAX_INFLIGHT = typer.Option(
    128,
    "--max-inflight",
    help="Most requests in progress per process (the limit in force adapts under it; "
    "past that limit, 503).",
)
_TLS_CERT = typer.Option(
    None, "--tls-cert", help="PEM certificate chain: serve HTTPS (with --tls-key)."
)
_CACHE_TTL = typer.Option(
    3600.0, "--cache-ttl", help="Seconds a recommendation stays cached (the seeds' 1 h)."
)


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        port: int = typer.Option(8080, "--port", help="TCP port (0: any free port)."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        redis: str | None = _REDIS,
        workers: int = typer.Option(1, "--workers", help="Server processes (needs --redis)."),
        data_dir: Path = typer.Option(Path(".twin-serve"), "--data-dir", help=_DATA_DIR_HELP),
        admin: bool = _ADMIN,
        admin_remote: bool = _ADMIN_REMOTE,
        consumers: int = typer.Option(4, "--consumers", help="Stream shards (one consumer each)."),
        riders: int = typer.Option(2000, "--riders", help="Population the recommender trains on."),
        seed: int = typer.Option(0, "--seed", help="Seed of the catalogue and population."),
        rate: float = typer.Option(10.0, "--rate", help="Requests/s per token."),
        burst: float = typer.Option(20.0, "--burst", help="Burst per token."),
        device_rate: float = _DEVICE_RATE,
        egress_mbps: float | None = _EGRESS_MBPS,
        media_cache: Path | None = typer.Option(None, "--media-cache", help=_MEDIA_CACHE_HELP),
        max_lag: float = _MAX_LAG,
        allow_data_loss: bool = _ALLOW_DATA_LOSS,
        max_inflight: int = _MAX_INFLIGHT,
        tls_cert: Path | None = _TLS_CERT,
        tls_key: Path | None = typer.Option(None, "--tls-key", help="PEM private key (HTTPS)."),
        cache_ttl: float = _CACHE_TTL,
    ) -> None:
        """Run the reference platform a drill can hit."""
        # Deferred: heavy libraries (pandas, pydantic, SimPy...) load only when the command runs.
        from twin.serve.runner import serve as run_server
        from twin.serve.sealing import load_key
        from twin.serve.secret import load_secret
        from twin.serve.state import ServeSettings

        if admin_remote and not admin:
            raise InputError("--admin-remote", None, "needs --admin")
        secret = load_secret(data_dir, create=True)
        load_key(data_dir)  # made here, once, before any worker reads it
        settings = ServeSettings(
            host=host, port=port, redis_url=redis, data_dir=data_dir, secret=secret,
            admin=admin, admin_remote=admin_remote,
            rate_per_s=rate, burst=burst, device_samples_per_s=device_rate,
            origin_egress_bps=None if egress_mbps is None else egress_mbps * 1e6,
            seed=seed, n_riders=riders, consumers=consumers, media_cache_dir=media_cache,
            max_lag_s=max_lag, allow_data_loss=allow_data_loss, max_inflight=max_inflight,
            tls_cert=tls_cert, tls_key=tls_key, cache_ttl_s=cache_ttl,
        )  # fmt: skip
        run_server(settings, workers, lambda line: print(line, flush=True))
