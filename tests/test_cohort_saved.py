"""Saved searches: a name for a query, replaced by saving again, removed with an audit trail."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from carehub.cohort.parser import QuerySyntaxError
from carehub.cohort.saved import delete_saved_search, list_saved_searches, save_search
from carehub.coordination.audit import AuditEvent
from carehub.db import Database
from carehub.errors import InputError, NotFoundError
from carehub.sync.outbox import pending_count


def _events(db: Database) -> list[tuple[str, str, dict[str, object]]]:
    with db.session() as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.entity == "saved_search")
                            .order_by(col(AuditEvent.seq)))
        return [(e.action, e.actor, e.details) for e in rows]


def test_saving_under_a_name_again_replaces_the_query_and_keeps_the_old_one_in_the_audit(
        db: Database) -> None:
    with db.transaction() as session:
        first = save_search(session, name="  Diabétiques   à rappeler ",
                            expr="condition diabetes", actor="alice")
    with db.transaction() as session:
        again = save_search(session, name="Diabétiques à rappeler",
                            expr="condition diabetes and age >= 65 ", actor="bob")
        same = save_search(session, name="Diabétiques à rappeler",
                           expr="condition diabetes and age >= 65", actor="bob")
    assert first == again == same
    with db.session() as session:
        saved = list_saved_searches(session)
    assert [(s.name, s.expr, s.created_by) for s in saved] == [
        ("Diabétiques à rappeler", "condition diabetes and age >= 65", "alice")]
    assert _events(db) == [
        ("create", "alice", {"name": "Diabétiques à rappeler", "expr": "condition diabetes"}),
        ("update", "bob", {"name": "Diabétiques à rappeler",
                           "expr": "condition diabetes and age >= 65",
                           "before": "condition diabetes"})]
    with db.session() as session:
        assert pending_count(session) == 0  # a tool of the workstation: not sent to the hub


def test_searches_are_listed_by_name(db: Database) -> None:
    with db.transaction() as session:
        for name in ("Vaccin grippe", "Dépistage sein", "Asthme"):
            save_search(session, name=name, expr="sex F", actor="alice")
        assert [s.name for s in list_saved_searches(session)] == [
            "Asthme", "Dépistage sein", "Vaccin grippe"]


@pytest.mark.parametrize(("name", "expr", "error", "french"), [
    ("", "sex F", InputError, "Donnez un nom à la recherche."),
    ("x" * 121, "sex F", InputError, "au plus 120 caractères"),
    ("Mauvaise", "sex F and", QuerySyntaxError, "colonne 10"),
])
def test_a_search_without_name_or_with_a_bad_query_is_refused_and_nothing_is_written(
        db: Database, name: str, expr: str, error: type[Exception], french: str) -> None:
    with pytest.raises(error) as caught, db.transaction() as session:
        save_search(session, name=name, expr=expr, actor="alice")
    assert french in caught.value.message_fr  # type: ignore[attr-defined]
    with db.session() as session:
        assert list_saved_searches(session) == []
    assert _events(db) == []


def test_deleting_a_search_is_audited_with_its_query(db: Database) -> None:
    with db.transaction() as session:
        search_id = save_search(session, name="Grossesses", expr="pregnant", actor="alice")
    with db.transaction() as session:
        delete_saved_search(session, search_id=search_id, actor="alice")
    with db.session() as session:
        assert list_saved_searches(session) == []
    assert _events(db)[-1] == ("delete", "alice", {"name": "Grossesses", "expr": "pregnant"})
    with pytest.raises(NotFoundError) as caught, db.transaction() as session:
        delete_saved_search(session, search_id=search_id, actor="alice")
    assert "n'existe plus" in caught.value.message_fr
