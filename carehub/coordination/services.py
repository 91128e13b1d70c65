"""Record and list coordination actions; every action is audited and queued for the hub."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from carehub.caseload.models import Patient
from carehub.caseload.services import resolve_patient
from carehub.changes import log_change
from carehub.coordination.audit import Change
from carehub.coordination.models import ACTION_TYPES, CoordinationAction
from carehub.errors import InputError, NotFoundError
from carehub.text import control_problem
from carehub.timeutil import utcnow
from carehub.users.access import require_patient_access, visible_patients_clause

MAX_NOTE_LENGTH = 10_000


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is read as the workstation's local time."""
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(UTC)


def stored_utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes: they were stored in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class ActionRow:
    id: uuid.UUID
    patient_id: uuid.UUID
    ins: str | None
    type: str
    at: datetime  # aware, UTC
    author: str
    duration_s: int | None
    outcome: str | None
    note: str | None
    practitioner_id: str | None
    practitioner_name: str | None
    organisation: str | None
    reminder_id: uuid.UUID | None
    amends_id: uuid.UUID | None
    details: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """The CLI contract's keys first, then what else the action carries."""
        return {
            "id": str(self.id), "patient_id": str(self.patient_id), "ins": self.ins,
            "type": self.type, "at": self.at.astimezone().isoformat(),
            "author": self.author, "note": self.note, "duration_s": self.duration_s,
            "outcome": self.outcome, "practitioner_id": self.practitioner_id,
            "practitioner_name": self.practitioner_name, "organisation": self.organisation,
            "reminder_id": str(self.reminder_id) if self.reminder_id else None,
            "amends_id": str(self.amends_id) if self.amends_id else None,
        }


def _check_type(action_type: str) -> None:
    if action_type not in ACTION_TYPES:
        raise InputError(
            f"Unknown action type {action_type!r}; expected one of {', '.join(ACTION_TYPES)}.",
            f"Type d'action inconnu « {action_type} » ; types possibles : "
            f"{', '.join(ACTION_TYPES)}.",
        )


def _check_amended(session: Session, amends: uuid.UUID | None, patient_id: uuid.UUID) -> None:
    if amends is None:
        return
    earlier = session.get(CoordinationAction, amends)
    if earlier is None:
        raise NotFoundError(f"No action {amends} to amend.", f"Aucune action {amends} à corriger.")
    if earlier.patient_id != patient_id:
        raise InputError(f"Action {amends} belongs to another patient; a correction must "
                         "concern the same patient.",
                         f"L'action {amends} concerne un autre patient ; une correction doit "
                         "porter sur le même patient.")


def _payload(action: CoordinationAction, ins: str | None) -> dict[str, Any]:
    """What the hub needs to store the action as it is (JSON-safe)."""
    return {
        "id": str(action.id), "patient_id": str(action.patient_id), "ins": ins,
        "type": action.type, "at": action.at.isoformat(), "author": action.author,
        "duration_s": action.duration_s, "outcome": action.outcome, "note": action.note,
        "practitioner_id": action.practitioner_id,
        "practitioner_name": action.practitioner_name, "organisation": action.organisation,
        "reminder_id": str(action.reminder_id) if action.reminder_id else None,
        "amends_id": str(action.amends_id) if action.amends_id else None,
        "details": action.details, "recorded_at": action.recorded_at.isoformat(),
    }


def record_action(session: Session, *, patient_ref: str | uuid.UUID, action_type: str,
                  actor: str, at: datetime | None = None, note: str | None = None,
                  duration_s: int | None = None, outcome: str | None = None,
                  practitioner_id: str | None = None, practitioner_name: str | None = None,
                  organisation: str | None = None, reminder_id: uuid.UUID | None = None,
                  amends: uuid.UUID | None = None,
                  details: dict[str, Any] | None = None) -> uuid.UUID:
    """Log one action for a patient (by local id or INS); returns its id."""
    _check_type(action_type)
    patient = resolve_patient(session, ref=str(patient_ref))
    require_patient_access(session, patient_id=patient.id, purpose="actions")
    if duration_s is not None and duration_s < 0:
        raise InputError("An action's duration cannot be negative.",
                         "La durée d'une action ne peut pas être négative.")
    for label, label_fr, text in (("note", "La note", note), ("outcome", "Le résultat", outcome),
                                  ("practitioner's name", "Le nom du professionnel",
                                   practitioner_name),
                                  ("organisation", "L'organisme", organisation)):
        problem = control_problem(text) if text else None
        if problem:
            raise InputError(f"The {label} {problem} (an invisible character, often pasted); "
                             "remove it.",
                             f"{label_fr} contient un caractère invisible (souvent collé) ; "
                             "retirez-le.")
    if note is not None and len(note) > MAX_NOTE_LENGTH:
        raise InputError(f"The note is longer than {MAX_NOTE_LENGTH} characters.",
                         f"La note dépasse {MAX_NOTE_LENGTH} caractères.")
    _check_amended(session, amends, patient.id)
    action = CoordinationAction(
        patient_id=patient.id, type=action_type, at=as_utc(at or utcnow()), author=actor,
        duration_s=duration_s, outcome=outcome, note=note or None,
        practitioner_id=practitioner_id, practitioner_name=practitioner_name,
        organisation=organisation, reminder_id=reminder_id, amends_id=amends,
        details=details or {}, recorded_at=utcnow(),
    )
    session.add(action)
    session.flush()
    payload = _payload(action, patient.ins)
    log_change(session, Change(actor, "action", str(action.id), "create", payload))
    return action.id


def _row(action: CoordinationAction, ins: str | None) -> ActionRow:
    return ActionRow(
        id=action.id, patient_id=action.patient_id, ins=ins, type=action.type,
        at=stored_utc(action.at), author=action.author, duration_s=action.duration_s,
        outcome=action.outcome, note=action.note, practitioner_id=action.practitioner_id,
        practitioner_name=action.practitioner_name, organisation=action.organisation,
        reminder_id=action.reminder_id, amends_id=action.amends_id, details=action.details,
    )


def list_actions(session: Session, *, patient_ref: str | uuid.UUID | None = None,
                 since: datetime | None = None, limit: int | None = None) -> list[ActionRow]:
    """Actions, newest first; of one patient when `patient_ref` is given."""
    query = (sa_select(CoordinationAction, col(Patient.ins))
             .join(Patient, col(Patient.id) == col(CoordinationAction.patient_id))
             .where(visible_patients_clause(session, clinical=True)))
    if patient_ref is not None:
        patient = resolve_patient(session, ref=str(patient_ref))
        require_patient_access(session, patient_id=patient.id, purpose="actions")
        query = query.where(col(CoordinationAction.patient_id) == patient.id)
    if since is not None:
        query = query.where(col(CoordinationAction.at) >= as_utc(since))
    query = query.order_by(col(CoordinationAction.at).desc(),
                           col(CoordinationAction.recorded_at).desc())
    if limit is not None:
        query = query.limit(limit)
    return [_row(action, ins) for action, ins in session.execute(query).all()]
