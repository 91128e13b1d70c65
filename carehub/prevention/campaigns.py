"""Call campaigns: one reminder per chosen patient, shown on the call lists like any reason."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from carehub.caseload.models import Patient
from carehub.changes import log_changes
from carehub.coordination.audit import Change
from carehub.errors import InputError, NotFoundError
from carehub.prevention.models import Reminder
from carehub.prevention.reminder_rows import (
    CAMPAIGN_PREFIX,
    log_reminder_changes,
    write_reminders,
)
from carehub.text import fold
from carehub.timeutil import utcnow

_SLUG = re.compile(r"[^a-z0-9]+")


def campaign_slug(name: str) -> str:
    slug = _SLUG.sub("-", fold(name)).strip("-")
    return slug[:40] or "campagne"


def create_campaign(session: Session, *, name: str, label_fr: str,
                    patient_ids: Sequence[uuid.UUID], due_date: date, actor: str) -> uuid.UUID:
    """A call campaign: one reminder per patient (reason "campaign.<slug>", the campaign's
    label), due on `due_date`, shown on the call lists like any other reason."""
    if not name.strip() or not label_fr.strip():
        raise InputError("A campaign needs a name and a label.",
                         "Une campagne demande un nom et un libellé.")
    ids = list(dict.fromkeys(patient_ids))
    if not ids:
        raise InputError("A campaign needs at least one patient.",
                         "Une campagne demande au moins un patient.")
    known: set[uuid.UUID] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        known.update(session.execute(
            sa_select(col(Patient.id)).where(col(Patient.id).in_(chunk))).scalars())
    missing = [i for i in ids if i not in known]
    if missing:
        raise NotFoundError(f"No patient with id {missing[0]}; the campaign was not created.",
                            "Patient introuvable ; la campagne n'a pas été créée.")
    campaign_id = uuid.uuid4()
    reason = CAMPAIGN_PREFIX + campaign_slug(name)
    now = utcnow()
    label = label_fr.strip()[:200]
    rows = [Reminder(patient_id=pid, reason=reason, label_fr=label, due_date=due_date,
                     state="due", explanation_fr=f"campagne « {label} »"[:400],
                     campaign_id=campaign_id, created_at=now, updated_at=now) for pid in ids]
    write_reminders(session, rows, [])
    log_changes(session, [Change(actor, "campaign", str(campaign_id), "create",
                                 {"name": name, "label_fr": label, "reason": reason,
                                  "due_date": due_date.isoformat(), "patients": len(rows)})])
    log_reminder_changes(session, actor,
                         [(r, "create", {"campaign_id": str(campaign_id)}) for r in rows])
    return campaign_id
