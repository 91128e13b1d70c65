"""An ordered result of patient ids held as one string of stored hex ids, made UUIDs on read."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

HEX_LENGTH = 32  # a Uuid column as SQLite stores it: 32 hex digits, no dashes


class PatientIds(Sequence[uuid.UUID]):
    """The ids of a search or a list, in order, packed end to end in one string.

    A search may match 50,000 patients while a table shows 30 lines: one string (what
    SQLite's group_concat returns) costs one Python object where a list of ids cost
    50,000, and far more than the SQL itself. A line's id is cut out when it is read.
    """

    __slots__ = ("_packed",)

    def __init__(self, hex_ids: Iterable[str] | str = "") -> None:
        packed = hex_ids if isinstance(hex_ids, str) else "".join(hex_ids)
        if len(packed) % HEX_LENGTH:
            raise ValueError("patient ids are 32 hex digits each")
        self._packed = packed

    def __len__(self) -> int:
        return len(self._packed) // HEX_LENGTH

    def _hex_at(self, row: int) -> str:
        start = row * HEX_LENGTH
        return self._packed[start:start + HEX_LENGTH]

    @overload
    def __getitem__(self, index: int) -> uuid.UUID: ...
    @overload
    def __getitem__(self, index: slice) -> list[uuid.UUID]: ...
    def __getitem__(self, index: int | slice) -> uuid.UUID | list[uuid.UUID]:
        if isinstance(index, slice):
            return [uuid.UUID(hex=self._hex_at(row)) for row in range(len(self))[index]]
        size = len(self)
        row = index + size if index < 0 else index
        if not 0 <= row < size:
            raise IndexError("patient id index out of range")
        return uuid.UUID(hex=self._hex_at(row))

    def __iter__(self) -> Iterator[uuid.UUID]:
        return (uuid.UUID(hex=self._hex_at(row)) for row in range(len(self)))

    def index(self, value: Any, start: int = 0, stop: int | None = None) -> int:
        row = self._find(value, start, len(self) if stop is None else stop)
        if row is None:
            raise ValueError(f"{value} is not in the result")
        return row

    def _find(self, value: object, start: int, stop: int) -> int | None:
        """The row of `value` from `start` (before `stop`): a search in C over the string,
        checked to fall on an id's boundary (32 digits may straddle two ids)."""
        if not isinstance(value, uuid.UUID):
            return None
        size = len(self)
        start, stop = max(start + size if start < 0 else start, 0), min(
            stop + size if stop < 0 else stop, size)
        wanted = value.hex
        position = self._packed.find(wanted, start * HEX_LENGTH, stop * HEX_LENGTH)
        while position >= 0:
            if position % HEX_LENGTH == 0:
                return position // HEX_LENGTH
            position = self._packed.find(wanted, position + 1, stop * HEX_LENGTH)
        return None

    def __contains__(self, value: object) -> bool:
        return self._find(value, 0, len(self)) is not None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PatientIds):
            return self._packed == other._packed
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PatientIds({len(self)} ids)"
