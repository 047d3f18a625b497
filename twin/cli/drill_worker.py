"""`twin drill-worker --master-host HOST [--master-port PORT]`: load for a drill run elsewhere.

Start `twin drill SCENARIO ... --master --expect-workers N` on one machine, then this on each
of N machines (`twin.drill.worker`): each worker takes the plan from the master and its share
of the riders, and the master merges every worker's records. An unreachable master or a
worker from another checkout is one line and exit code 2.
"""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("drill-worker")
    def drill_worker(
        master_host: str = typer.Option(..., "--master-host", help="The drill master's host."),
        master_port: int = typer.Option(5557, "--master-port", help="Its --master-bind-port."),
        log: Path | None = typer.Option(None, "--log", help="Keep the worker's Locust log here."),
    ) -> None:
        """Make load for a `twin drill --master` running on another machine."""
        from twin.drill.worker import run_worker  # deferred: only this command needs it

        run_worker(master_host, master_port, log)
        typer.echo(f"twin drill-worker: the drill at {master_host}:{master_port} is over")
