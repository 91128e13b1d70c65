"""Checks an outbox entry passes before it leaves the workstation.

The hub checks every entry itself; these catch, here and with a clear reason, what would
only come back refused (a NUL or control character, a date that does not exist, a clock
that is not one), so a bad entry is marked refused at once and never holds up the others.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from carehub.sync.hub import HLC_PATTERN, REFUSED, Outcome, PushEntry

# Any control character but tab, line feed and carriage return; lone surrogates.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_DATE_FIELD = re.compile(r"(^|_)(date|on)$")
_MOMENT_FIELD = re.compile(r"(^at$|_at$)")


def text_problem(value: str) -> str | None:
    """Why this text cannot be stored or sent (None when it can)."""
    if "\x00" in value:
        return "a NUL character"
    if _CONTROL.search(value):
        return "a control character"
    if _SURROGATE.search(value):
        return "an invalid character (a lone surrogate)"
    return None


def _strings(value: Any) -> Any:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def entry_problem(entry: PushEntry) -> Outcome | None:
    """A local refusal for an entry the hub would refuse for its content, or None."""
    if not HLC_PATTERN.match(entry.hlc or ""):
        return Outcome(REFUSED, "invalid_clock", f"The change's clock {entry.hlc!r} is not one.")
    for text in _strings(entry.fields):
        problem = text_problem(text)
        if problem:
            return Outcome(REFUSED, "invalid_text",
                           f"A text of this change holds {problem}; correct the record here "
                           "(the change was not sent).")
    for name, value in entry.fields.items():
        if not isinstance(value, str):
            continue
        try:
            if _DATE_FIELD.search(name):
                date.fromisoformat(value[:10])
                if len(value) > 10:
                    datetime.fromisoformat(value)
            elif _MOMENT_FIELD.search(name):
                datetime.fromisoformat(value)
        except ValueError:
            return Outcome(REFUSED, "invalid_date",
                           f"The {name} of this change ({value!r}) is not a real date; "
                           "correct the record here (the change was not sent).")
    return None
