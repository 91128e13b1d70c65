"""Plain data shared by the call list and the call workflow (no database access here)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from carehub.caseload.summary import PhoneLine
from carehub.coordination.services import stored_utc

ESCALATION_STEPS: tuple[str, ...] = ("caregiver", "gp", "home_visit")


@dataclass(frozen=True)
class ReasonLine:
    """One due reason of a call-list line."""

    reminder_id: uuid.UUID
    code: str
    label_fr: str
    due_date: date
    overdue_days: int
    explanation_fr: str
    script_fr: str
    state: str
    planned_at: datetime | None = None
    attempts: int = 0
    escalation: str | None = None
    priority: int = 0
    # Nothing in CareHub tells when it was last done (it may have been, elsewhere): to ask.
    history_unknown: bool = False
    note: str | None = None  # what the nurse noted on it ("ne sait pas", a declared act)


@dataclass(frozen=True)
class CallListItem:
    patient_id: uuid.UUID
    ins: str | None
    name: str
    age: int
    sex: str
    phones: tuple[PhoneLine, ...]  # usable numbers, in the patient's order
    channel: str  # "phone", or "sms"/"email"/"letter"/"visit" when not phoned
    channel_reason_fr: str | None
    call_after: time | None
    call_before: time | None
    reasons: tuple[ReasonLine, ...]  # grouped, most urgent first
    due_date: date  # earliest
    priority: int  # higher = call first
    planned_at: datetime | None  # a planned call-back (UTC)
    attempts: int  # unreachable attempts so far
    escalation: str | None  # "caregiver" | "gp" | "home_visit" once unreachable
    caregiver: str | None  # "Marie Durand (fille) 06 12 34 56 78"
    email: str | None = None
    gp_name: str | None = None
    fragility_level: int | None = None
    phones_to_check: tuple[PhoneLine, ...] = ()  # numbers flagged after a wrong number
    hours_note: str | None = None
    available_from: time | None = None  # when today the call can be made (local)

    def as_json(self) -> dict[str, Any]:
        """DESIGN.md's keys first (patient_id, ins, reasons, due_date, priority), then more."""
        return {
            "patient_id": str(self.patient_id), "ins": self.ins,
            "reasons": [r.code for r in self.reasons], "due_date": self.due_date.isoformat(),
            "priority": self.priority, "name": self.name, "age": self.age, "sex": self.sex,
            "channel": self.channel, "channel_reason": self.channel_reason_fr,
            "phones": [p.e164 for p in self.phones],
            "call_after": self.call_after.strftime("%H:%M") if self.call_after else None,
            "call_before": self.call_before.strftime("%H:%M") if self.call_before else None,
            "planned_at": self.planned_at.isoformat() if self.planned_at else None,
            "attempts": self.attempts, "escalation": self.escalation,
            "caregiver": self.caregiver,
            "details": [{"reminder_id": str(r.reminder_id), "code": r.code,
                         "label": r.label_fr, "due_date": r.due_date.isoformat(),
                         "overdue_days": r.overdue_days, "explanation": r.explanation_fr,
                         "state": r.state, "history_unknown": r.history_unknown}
                        for r in self.reasons],
        }


def local(moment: datetime) -> datetime:
    """A stored or aware UTC moment in the workstation's local time (naive)."""
    return stored_utc(moment).astimezone().replace(tzinfo=None)


def from_local(day: date, at: time) -> datetime:
    """Local wall-clock time on `day`, as an aware UTC datetime."""
    return datetime.combine(day, at).astimezone().astimezone(UTC)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    return from_local(day, time(0)), from_local(day + timedelta(days=1), time(0))
