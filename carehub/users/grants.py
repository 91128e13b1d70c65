"""Break the glass and reassignment: the two ways past one's own caseload, both audited.

- `open_access`: a user opens a patient outside what she may see, giving a reason; the
  grant (who, whom, why, when, until when) is an audit event and a row the supervisor
  lists (`list_grants`).
- `reassign_patient`: a supervisor (or an administrator) hands a patient to another care
  manager; the patient's field care_manager changes through caseload's service, so the
  change is audited and synced to the hub.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from carehub.caseload.models import Patient
from carehub.caseload.services import resolve_patient, set_care_manager
from carehub.coordination.audit import Change, record_events
from carehub.errors import InputError
from carehub.timeutil import utcnow
from carehub.users.access import (
    acting_user,
    checked_user,
    require_role,
    require_user,
    unchecked,
)
from carehub.users.models import AccessGrant, User

GRANT_HOURS = 12  # one working day: the next day she asks again
MIN_REASON = 5
REASSIGNS = ("supervisor", "administrator")
SEES_GRANTS = ("supervisor", "administrator")


@dataclass(frozen=True)
class GrantRow:
    id: uuid.UUID
    user: str
    patient_id: uuid.UUID
    patient_name: str
    ins: str | None
    reason: str
    at: datetime
    expires_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"id": str(self.id), "user": self.user, "patient_id": str(self.patient_id),
                "patient": self.patient_name, "ins": self.ins, "reason": self.reason,
                "at": self.at.isoformat(), "expires_at": self.expires_at.isoformat()}


def open_access(session: Session, *, user: str, patient_ref: str, reason: str,
                hours: int = GRANT_HOURS) -> uuid.UUID:
    """Break the glass: `user` may read this patient for `hours`; returns the grant id."""
    reason = reason.strip()
    if len(reason) < MIN_REASON:
        raise InputError(f"Give a reason of at least {MIN_REASON} characters for opening "
                         "a patient outside your caseload.",
                         f"Indiquez un motif d'au moins {MIN_REASON} caractères.")
    opener = require_user(session, user=user)
    with unchecked(session):
        patient = resolve_patient(session, ref=patient_ref)
    now = utcnow()
    grant = AccessGrant(user_id=opener.id, patient_id=patient.id, reason=reason, at=now,
                        expires_at=now + timedelta(hours=hours))
    session.add(grant)
    session.flush()
    record_events(session, [Change(user, "access_grant", str(grant.id), "break_glass",
                                   {"patient_id": str(patient.id), "ins": patient.ins,
                                    "reason": reason,
                                    "expires_at": grant.expires_at.isoformat()})])
    return grant.id


def list_grants(session: Session, *, since: datetime | None = None) -> list[GrantRow]:
    """Break-the-glass grants, newest first: all of them for a supervisor or an
    administrator, one's own for anybody else."""
    query = (sa_select(AccessGrant, col(User.name), col(Patient.birth_name),
                       col(Patient.used_name), col(Patient.given_names), col(Patient.ins))
             .join(User, col(User.id) == col(AccessGrant.user_id))
             .join(Patient, col(Patient.id) == col(AccessGrant.patient_id)))
    name = checked_user(session)
    if name is not None and require_user(session, user=name).role not in SEES_GRANTS:
        query = query.where(col(User.name) == name)
    if since is not None:
        query = query.where(col(AccessGrant.at) >= since)
    query = query.order_by(col(AccessGrant.at).desc())
    return [GrantRow(g.id, user, g.patient_id, f"{used or birth} {given}", ins, g.reason,
                     g.at, g.expires_at)
            for g, user, birth, used, given, ins in session.execute(query).all()]


def reassign_patient(session: Session, *, patient_ref: str, to: str,
                     actor: str | None = None) -> str | None:
    """Give the patient to care manager `to` (supervisor or administrator only);
    returns the previous care manager's name."""
    by = actor or acting_user(session)
    checked = checked_user(session)
    if checked is not None:
        require_role(session, user=checked, roles=REASSIGNS)
    target = require_user(session, user=to)
    if target.role == "administrator":
        raise InputError(f"{to} is an administrator: patients go to care managers or "
                         "supervisors.",
                         f"{to} est administrateur : un patient est confié à une "
                         "IDE coordinatrice ou une encadrante.")
    with unchecked(session):
        patient = resolve_patient(session, ref=patient_ref)
        return set_care_manager(session, patient_id=patient.id, care_manager=to,
                                actor=by or "system")
