"""Work drawn in a child process while this one writes: the laptop's second core.

A thread would share the interpreter lock with the writer: the SQLite driver lets go of
it on every row it steps, and a busy parsing thread then keeps the writer waiting. A plain
`python -c` child (not multiprocessing: it never re-imports the caller's main module, so
any script, the CLI or the Qt app can use it) gets a core of its own. The setup goes to
the child pickled on its stdin; its items come back pickled on its stdout, the pipe's
buffer holding the child back when the writer is slower.

A CareHubError raised in the child (a malformed file...) is raised again here as it was;
anything else becomes a RuntimeError carrying the child's traceback.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from carehub.errors import CareHubError


def can_start_child() -> bool:
    """False in a frozen app: there is no interpreter to start."""
    return not getattr(sys, "frozen", False)


@dataclass(frozen=True)
class _Failure:
    error: CareHubError | None
    traceback: str


_DONE = "done"


def items_from_child(entry: str, setup: object) -> Iterator[Any]:
    """The items `entry` (a module:function calling `serve`) produces from `setup`."""
    module, function = entry.split(":")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    child = subprocess.Popen(
        [sys.executable, "-c", f"from {module} import {function}; {function}()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert child.stdin is not None and child.stdout is not None
    try:
        pickle.dump(setup, child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        child.stdin.close()
        while True:
            try:
                item = pickle.load(child.stdout)  # our own child's output
            except EOFError:
                raise RuntimeError(
                    f"{entry} process ended unexpectedly ({child.wait()})") from None
            if isinstance(item, _Failure):
                if item.error is not None:
                    raise item.error
                raise RuntimeError(f"{entry} process failed:\n{item.traceback}")
            if isinstance(item, str) and item == _DONE:
                return
            yield item
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()


def serve(produce: Callable[[Any], Iterable[Any]]) -> None:
    """The child's side: setup from stdin, every item of `produce(setup)` to stdout."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints go to stderr, not into the item stream
    setup = pickle.load(sys.stdin.buffer)
    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    # No memo: items are plain trees of fresh values (no cycles), and remembering every
    # string of a 20,000-row batch made pickling cost five times what it does without.
    pickler.fast = True
    try:
        for item in produce(setup):
            pickler.dump(item)
        pickle.dump(_DONE, out)
    except CareHubError as exc:
        pickle.dump(_Failure(exc, traceback.format_exc()), out)
    except BaseException:  # the parent raises it again with this traceback
        pickle.dump(_Failure(None, traceback.format_exc()), out)
    out.close()
