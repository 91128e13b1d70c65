"""Hybrid logical clock: wall time in ms, a counter, the workstation's node id.

A clock is a fixed-width string, so comparing strings compares clocks: later wall time
wins, then the higher counter, then the node id (a stable tie-break between workstations).
Each workstation keeps the last clock it issued or saw; a clock it issues is always later
than both its wall clock and every clock it has seen, so a change made after a pull
always beats what the pull brought, whatever the two machines' wall clocks say.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

_WALL_DIGITS = 13
_COUNTER_DIGITS = 6


@dataclass(frozen=True, order=True)
class Hlc:
    wall_ms: int
    counter: int
    node: str

    def __str__(self) -> str:
        return f"{self.wall_ms:0{_WALL_DIGITS}d}.{self.counter:0{_COUNTER_DIGITS}d}.{self.node}"

    @classmethod
    def parse(cls, text: str) -> Hlc:
        wall, counter, node = text.split(".", 2)
        return cls(int(wall), int(counter), node)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def tick(last: Hlc | None, node: str, now_ms: int | None = None) -> Hlc:
    """The next clock for a local event."""
    now = wall_ms() if now_ms is None else now_ms
    if last is None or now > last.wall_ms:
        return Hlc(now, 0, node)
    return Hlc(last.wall_ms, last.counter + 1, node)


def observe(last: Hlc | None, remote: Hlc, node: str, now_ms: int | None = None) -> Hlc:
    """The clock after receiving `remote`: later than it and than everything before."""
    now = wall_ms() if now_ms is None else now_ms
    latest = max(last, remote) if last is not None else remote
    if now > latest.wall_ms:
        return Hlc(now, 0, node)
    return Hlc(latest.wall_ms, latest.counter + 1, node)


def from_millis(ms: int, node: str) -> Hlc:
    return Hlc(ms, 0, node)
