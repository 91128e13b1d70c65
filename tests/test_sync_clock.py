"""Hybrid logical clocks and the per-field merge the hub applies (hub_merge, in SQL)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from carehub.sync.clock import Hlc, observe, tick
from tests.conftest import Hub


def test_clocks_order_as_text_as_they_order_as_values() -> None:
    clocks = [Hlc(1_000, 0, "b"), Hlc(1_000, 1, "a"), Hlc(999, 99, "z"), Hlc(10_000, 0, "a")]
    assert sorted(clocks) == sorted(clocks, key=str)
    assert [Hlc.parse(str(c)) for c in clocks] == clocks


def test_a_local_clock_never_goes_back_even_if_the_wall_clock_does() -> None:
    first = tick(None, "n", now_ms=5_000)
    second = tick(first, "n", now_ms=4_000)  # NTP stepped the clock back
    assert str(second) > str(first)
    assert tick(second, "n", now_ms=6_000) == Hlc(6_000, 0, "n")


def test_after_seeing_a_clock_from_the_future_every_new_one_is_later() -> None:
    remote = Hlc(9_000_000, 3, "other")
    seen = observe(tick(None, "n", now_ms=1_000), remote, "n", now_ms=1_000)
    assert seen > remote and tick(seen, "n", now_ms=1_001) > remote


@dataclass
class Row:
    fields: dict[str, Any]
    clocks: dict[str, dict[str, str]]


def _row(**fields: object) -> Row:
    return Row(dict(fields), {k: {"hlc": "0000000000100.000000.a", "by": "alice"}
                              for k in fields})


def merge_fields(hub: Hub, row: Row, incoming: dict[str, Any], *, hlc: str, by: str,
                 bases: dict[str, str | None]) -> list[dict[str, Any]]:
    """The hub's own merge (hub_merge, run by hub_push), on one row."""
    pid = uuid.uuid4()
    [(fields, clocks, conflicts)] = hub.query(
        "SELECT fields, clocks, conflicts FROM hub_merge(%s::jsonb, %s::jsonb, %s::jsonb, %s, "
        "%s, %s::jsonb, '{}', %s, 'patient', %s)",
        (json.dumps(row.fields), json.dumps(row.clocks), json.dumps(incoming), hlc, by,
         json.dumps(bases), pid, pid))
    row.fields, row.clocks = fields, clocks
    return list(conflicts)


def test_a_later_change_that_knew_the_value_replaces_it_without_conflict(hub: Hub) -> None:
    row = _row(email="a@x.fr")
    conflicts = merge_fields(hub, row, {"email": "b@x.fr"}, hlc="0000000000200.000000.b",
                             by="bob", bases={"email": "0000000000100.000000.a"})
    assert conflicts == [] and row.fields["email"] == "b@x.fr"


def test_concurrent_changes_keep_the_later_and_record_the_other(hub: Hub) -> None:
    row = _row(email="a@x.fr")
    [conflict] = merge_fields(hub, row, {"email": "b@x.fr"}, hlc="0000000000200.000000.b",
                              by="bob", bases={"email": None})
    assert row.fields["email"] == "b@x.fr"
    assert (conflict["kept_value"], conflict["overwritten_value"],
            conflict["kept_from"], conflict["overwritten_from"]) == ("b@x.fr", "a@x.fr",
                                                                     "bob", "alice")
    [late] = merge_fields(hub, row, {"email": "c@x.fr"}, hlc="0000000000150.000000.c",
                          by="carol", bases={})
    assert row.fields["email"] == "b@x.fr"  # an older change arriving late loses
    assert (late["kept_value"], late["overwritten_value"]) == ("b@x.fr", "c@x.fr")


def test_the_same_value_twice_is_no_conflict_and_fields_merge_one_by_one(hub: Hub) -> None:
    row = _row(email="a@x.fr", used_name="Martin")
    assert merge_fields(hub, row, {"email": "a@x.fr", "notes": "sourde"},
                        hlc="0000000000050.000000.b", by="bob", bases={}) == []
    assert row.fields == {"email": "a@x.fr", "used_name": "Martin", "notes": "sourde"}
