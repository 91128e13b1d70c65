"""Work drawn in a child process while this one writes: the laptop's second core.

A thread would share the interpreter lock with the writer: the SQLite driver lets go of
it on every row it steps, and a busy parsing thread then keeps the writer waiting. A plain
`python -c` child (not multiprocessing: it never re-imports the caller's main module, so
any script, the CLI or the Qt app can use it) gets a core of its own. The setup goes to
the child pickled on its stdin; its items come back pickled on its stdout, a few frames
ahead at most: the pipe holds the child back when the writer is slower.

A CareHubError raised in the child (a malformed file...) is raised again here as it was;
anything else becomes a RuntimeError carrying the child's traceback.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import pickle
import struct
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from queue import Full, Queue
from typing import Any, BinaryIO

from carehub.errors import CareHubError


def can_start_child() -> bool:
    """False in a frozen app: there is no interpreter to start."""
    return not getattr(sys, "frozen", False)


@dataclass(frozen=True)
class _Failure:
    error: CareHubError | None
    traceback: str


_DONE = "done"
_LENGTH = struct.Struct("<Q")  # each item is framed: its pickle's length, then it


def items_from_child(entry: str, setup: object, *, ahead: int = 3) -> Iterator[Any]:
    """The items `entry` (a module:function calling `serve`) produces from `setup`.

    A thread reads the child's frames, at most `ahead` in advance, as bytes: reading lets
    go of the interpreter lock, so the consumer keeps its core. The frames are unpickled
    here, in the consumer's thread: unpickling on the reading thread held the lock for
    tens of milliseconds a frame and the writer, which gives the lock up on every row it
    steps, waited a switch interval each time to get it back.
    """
    module, function = entry.split(":")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    child = subprocess.Popen(
        [sys.executable, "-c", f"from {module} import {function}; {function}()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert child.stdin is not None and child.stdout is not None
    frames: Queue[bytes | None] = Queue(maxsize=ahead)
    stop = threading.Event()
    reader = threading.Thread(target=_read_frames, args=(child.stdout, frames, stop),
                              name=f"{module}-reader", daemon=True)
    try:
        pickle.dump(setup, child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        child.stdin.close()
        reader.start()
        while (frame := frames.get()) is not None:
            item = pickle.loads(frame)  # our own child's output
            if isinstance(item, _Failure):
                if item.error is not None:
                    raise item.error
                raise RuntimeError(f"{entry} process failed:\n{item.traceback}")
            if isinstance(item, str) and item == _DONE:
                return
            yield item
        raise RuntimeError(f"{entry} process ended unexpectedly ({child.wait()})")
    finally:
        stop.set()
        if child.poll() is None:
            child.kill()
        child.wait()
        if reader.is_alive():
            reader.join()
        child.stdout.close()


def _read_frames(stream: BinaryIO, frames: Queue[bytes | None], stop: threading.Event) -> None:
    """Length-prefixed frames from `stream` into `frames`; None at the end of the stream."""
    try:
        while not stop.is_set():
            head = stream.read(_LENGTH.size)
            if len(head) < _LENGTH.size:
                break
            (size,) = _LENGTH.unpack(head)
            frame = stream.read(size)
            if len(frame) < size:
                break
            while not stop.is_set():
                try:
                    frames.put(frame, timeout=0.1)
                    break
                except Full:
                    continue
    except (OSError, ValueError):  # the stream closed under us: the consumer has gone
        pass
    finally:
        with contextlib.suppress(Full):
            frames.put_nowait(None)


def serve(produce: Callable[[Any], Iterable[Any]]) -> None:
    """The child's side: setup from stdin, every item of `produce(setup)` to stdout."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints go to stderr, not into the item stream
    # The child lives for one task over acyclic data: the cyclic collector would only
    # walk its ever-growing batches (a sixth of the parsing time).
    gc.disable()
    setup = pickle.load(sys.stdin.buffer)
    try:
        for item in produce(setup):
            _write_frame(out, item)
        _write_frame(out, _DONE)
    except CareHubError as exc:
        _write_frame(out, _Failure(exc, traceback.format_exc()))
    except BaseException:  # the parent raises it again with this traceback
        _write_frame(out, _Failure(None, traceback.format_exc()))
    out.close()


def _write_frame(out: BinaryIO, item: object) -> None:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    # No memo: items are plain trees of fresh values (no cycles), and remembering every
    # string of a 20,000-row batch made pickling cost five times what it does without.
    pickler.fast = True
    pickler.dump(item)
    frame = buffer.getbuffer()
    out.write(_LENGTH.pack(len(frame)))
    out.write(frame)
