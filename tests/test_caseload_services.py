"""Patient services: validation, audit and outbox of every change, search."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError
from sqlmodel import select

from carehub.caseload.models import PatientPhone
from carehub.caseload.services import (
    PatientInput,
    create_patient,
    patient_input_from,
    resolve_patient,
    search_patient_ids,
    update_patient,
)
from carehub.coordination.audit import AuditEvent, verify_chain
from carehub.db import Database
from carehub.errors import InputError
from carehub.sync.outbox import OutboxEntry


def _jeanne(**changes: object) -> PatientInput:
    values: dict[str, object] = {
        "ins": "295109912611193", "birth_name": "Martin", "used_name": "Durand",
        "given_names": "Jeanne Marie", "sex": "F", "birth_date": date(1950, 3, 2),
        "commune_insee": "41018",
        "phones": [{"number": "06 12 34 56 78", "sms_consent": True}, {"number": "02 54 78 12 34"}],
    }
    values.update(changes)
    return PatientInput.model_validate(values)


def test_phones_are_stored_e164_with_their_kind_and_sms_only_on_mobiles(db: Database) -> None:
    with db.transaction() as session:
        patient_id = create_patient(session, data=_jeanne(phones=[
            {"number": "06 12 34 56 78", "sms_consent": True},
            {"number": "0254781234", "sms_consent": True}]), actor="alice")
    with db.session() as session:
        phones = session.exec(select(PatientPhone).where(PatientPhone.patient_id == patient_id)
                              .order_by(PatientPhone.position)).all()
    assert [(p.e164, p.kind, p.sms_consent) for p in phones] == [
        ("+33612345678", "mobile", True), ("+33254781234", "fixed", False)]


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("ins", "295109912611194", "wrong INS key"),
    ("birth_name", "", "at least 1 character"),
    ("birth_date", date(2999, 1, 1), "in the future"),
    ("sex", "X", "F, M or U"),
])
def test_invalid_input_is_refused_with_the_reason(field: str, value: object,
                                                  expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        _jeanne(**{field: value})


def test_invalid_phone_is_refused_and_nothing_is_written(db: Database) -> None:
    with pytest.raises(InputError, match="Invalid phone number") as caught, \
            db.transaction() as session:
        create_patient(session, data=_jeanne(phones=[{"number": "01 00"}]), actor="alice")
    assert "Numéro de téléphone invalide" in caught.value.message_fr
    with db.session() as session:
        assert search_patient_ids(session) == []
        assert session.exec(select(AuditEvent)).all() == []


def test_an_ins_belongs_to_one_patient_only(db: Database) -> None:
    with db.transaction() as session:
        create_patient(session, data=_jeanne(), actor="alice")
    with pytest.raises(InputError, match="already belongs"), db.transaction() as session:
        create_patient(session, data=_jeanne(birth_name="Autre"), actor="alice")


def test_unknown_commune_is_refused(db: Database) -> None:
    with pytest.raises(InputError, match="Unknown commune"), db.transaction() as session:
        create_patient(session, data=_jeanne(commune_insee="99999"), actor="alice")


def test_update_audits_the_changed_fields_with_old_values_and_queues_them(db: Database) -> None:
    with db.transaction() as session:
        patient_id = create_patient(session, data=_jeanne(), actor="alice")
    with db.transaction() as session:
        form = patient_input_from(session, resolve_patient(session, ref=str(patient_id)))
        changed = update_patient(session, patient_id=patient_id, actor="bob",
                                 data=form.model_copy(update={"used_name": "Leroy"}))
    assert changed == ["used_name"]
    with db.session() as session:
        events = session.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()
        outbox = session.exec(select(OutboxEntry).order_by(OutboxEntry.seq)).all()
        assert verify_chain(session).intact
    assert [(e.actor, e.action) for e in events] == [("alice", "create"), ("bob", "update")]
    assert events[1].details["before"] == {"used_name": "Durand"}
    assert [o.op for o in outbox] == ["create", "update"]
    assert outbox[1].payload == {"used_name": "Leroy"}


def test_saving_an_unchanged_form_logs_nothing(db: Database) -> None:
    with db.transaction() as session:
        patient_id = create_patient(session, data=_jeanne(), actor="alice")
    with db.transaction() as session:
        form = patient_input_from(session, resolve_patient(session, ref="295109912611193"))
        assert update_patient(session, patient_id=patient_id, data=form, actor="bob") == []
    with db.session() as session:
        assert len(session.exec(select(AuditEvent)).all()) == 1


@pytest.mark.parametrize("typed", ["durand", "MARTIN", "jean mar", "2951099", "06 12",
                                   "06 12 34 56 78", "0612345678", "+33612345678", "blois",
                                   "Blöis"])
def test_search_finds_by_name_ins_phone_and_commune(db: Database, typed: str) -> None:
    with db.transaction() as session:
        patient_id = create_patient(session, data=_jeanne(), actor="alice")
        create_patient(session, data=_jeanne(ins=None, birth_name="Bernard", used_name=None,
                                             given_names="Paul", sex="M", commune_insee="23096",
                                             phones=[]), actor="alice")
    with db.session() as session:
        assert search_patient_ids(session, text=typed) == [patient_id]


def test_search_filters_combine_with_text(db: Database) -> None:
    with db.transaction() as session:
        active = create_patient(session, data=_jeanne(fragility_level=2), actor="alice")
        create_patient(session, data=_jeanne(ins=None, status="closed"), actor="bob")
    with db.session() as session:
        assert search_patient_ids(session, text="martin", statuses=["active"]) == [active]
        assert search_patient_ids(session, fragility_levels=[2]) == [active]
        assert search_patient_ids(session, care_manager="alice") == [active]
        assert search_patient_ids(session, care_manager="carol") == []
