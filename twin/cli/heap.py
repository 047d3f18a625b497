"""The command's process and the garbage collector: what it need not walk.

A command imports NumPy, pandas, SciPy, pydantic's models and the engines: a few hundred
thousand objects that live as long as the process. The collector's full walks find nothing
to free among them, yet each walks them all: during the imports themselves (about a tenth of
their time), and at the interpreter's exit (a quarter to half a second after a `twin run`,
measured on a busy machine). `gc.freeze` sets objects aside from every later walk; a frozen
object is still freed when its last reference goes.
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["command_heap", "imports_set_aside", "skip_collection_at_exit"]


@contextmanager
def command_heap() -> Iterator[None]:
    """A command's run: what `imports_set_aside` froze inside it is collectable again after,
    so garbage made before it by a process that runs many commands (a test session) is still
    collected."""
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def imports_set_aside() -> Iterator[None]:
    """Import inside this block without collecting, then set everything alive aside from the
    collector's walks until the `command_heap` around it ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def skip_collection_at_exit() -> None:
    """Freeze the heap when the interpreter exits, before its own full collections; registered
    once however often a process calls it."""
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
