"""The `twin` command: a Typer app whose commands live one per module beside this one.

`main()` is the console script. It is the single place where a `TwinError` becomes one
line on stderr and exit code 2, so no user ever sees a traceback for their own mistake.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import typer

from twin.cli.heap import skip_collection_at_exit
from twin.errors import TwinError

__all__ = ["app", "main"]

app = typer.Typer(
    name="twin",
    help="A capacity digital twin for connected-fitness platforms.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Each module defines `register(app)`. Listed here so `twin --help` shows a stable order.
_COMMANDS = (
    "run",
    "analyze",
    "compare",
    "capacity",
    "sweep",
    "gate",
    "serve",
    "token",
    "drill",
    "drill_worker",
    "calibrate",
    "architectures",
    "schema",
)


def _register_commands() -> None:
    for name in _COMMANDS:
        module_name = f"twin.cli.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue  # a command whose module is not written yet
        importlib.import_module(module_name).register(app)


@app.callback()
def _root() -> None:
    """A capacity digital twin for connected-fitness platforms."""


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; every TwinError becomes one line and exit code 2."""
    skip_collection_at_exit()  # the interpreter's own walks at exit find nothing to free
    from twin.cli.calibrate import spread_validate

    args = spread_validate(sys.argv[1:] if argv is None else argv)
    try:
        app(args=args, prog_name="twin")  # standalone: click prints usage errors (exit 2)
    except TwinError as exc:
        print(f"twin: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
