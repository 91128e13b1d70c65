"""What a call (or an SMS) gave: the action recorded and every open reminder's new state."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from carehub.caseload.models import Patient, PatientPhone, RelatedPerson
from carehub.caseload.services import flag_phone_for_check, get_patient
from carehub.coordination.services import as_utc, record_action
from carehub.errors import InputError
from carehub.prevention.callbacks import plan_callback
from carehub.prevention.models import Reminder
from carehub.prevention.reminder_rows import (
    CALLBACK,
    CAMPAIGN_PREFIX,
    log_reminder_changes,
    open_reminders,
)
from carehub.prevention.rules import RuleSet, load_rules
from carehub.prevention.types import ESCALATION_STEPS, from_local, local
from carehub.timeutil import utcnow
from carehub.users.access import require_patient_access

Outcome = Literal["reached", "no_answer", "voicemail", "wrong_number", "refused", "callback"]
OUTCOMES: tuple[Outcome, ...] = ("reached", "no_answer", "voicemail", "wrong_number",
                                 "refused", "callback")
OUTCOME_LABELS_FR: dict[str, str] = {
    "reached": "Joint(e)", "no_answer": "Pas de réponse", "voicemail": "Messagerie",
    "wrong_number": "Faux numéro", "refused": "Refus", "callback": "Rappeler à…",
}
UNANSWERED: tuple[str, ...] = ("no_answer", "voicemail")
# Reasons a call settles by itself when the patient is reached.
SETTLED_BY_A_CALL = ("followup.discharge", "followup.new_arrival", CALLBACK)


@dataclass(frozen=True)
class OutcomeResult:
    action_id: uuid.UUID
    next_attempt_at: datetime | None
    escalation: str | None
    states: dict[uuid.UUID, str]  # reminder id -> its new state


def _escalation_after(session: Session, patient: Patient, current: str | None) -> str:
    """The next step once a patient is unreachable: caregiver (if one with a phone), then
    the médecin traitant (if known), then a home visit."""
    steps = []
    has_contact = session.execute(
        sa_select(func.count()).select_from(RelatedPerson)
        .where(col(RelatedPerson.patient_id) == patient.id,
               col(RelatedPerson.phone_e164).is_not(None),
               or_(col(RelatedPerson.is_caregiver), col(RelatedPerson.is_trusted_person),
                   col(RelatedPerson.is_emergency_contact)))).scalar_one()
    if has_contact:
        steps.append("caregiver")
    if patient.gp_rpps or patient.gp_name:
        steps.append("gp")
    steps.append("home_visit")
    if current is None or current not in steps:
        return steps[0] if current is None else next(
            (s for s in steps if ESCALATION_STEPS.index(s) > ESCALATION_STEPS.index(current)),
            "home_visit")
    index = steps.index(current)
    return steps[min(index + 1, len(steps) - 1)]


def next_attempt(patient: Patient, at: datetime, ruleset: RuleSet) -> datetime:
    """Another time of day for the next try: the next attempt slot after `at` that is at
    least two hours later and not in the same half-day, on a working day, inside the
    patient's call_after/call_before window. Returned in UTC."""
    when = local(at)
    settings = ruleset.settings
    morning = when.time() < time(12)
    day = when.date()
    for _ in range(15):
        for slot in settings.attempt_slots:
            candidate = slot
            if patient.call_after and candidate < patient.call_after:
                candidate = patient.call_after
            if patient.call_before and candidate >= patient.call_before:
                continue
            moment = datetime.combine(day, candidate)
            if moment <= when + timedelta(hours=2):
                continue
            if day == when.date() and (candidate < time(12)) == morning:
                continue  # same half-day: try another time of day
            if day.isoweekday() not in settings.working_days:
                continue
            return from_local(day, candidate)
        day += timedelta(days=1)
    return from_local(when.date() + timedelta(days=1), settings.attempt_slots[0])


def _check_ids(open_rows: Mapping[uuid.UUID, Reminder], ids: Iterable[uuid.UUID],
               what: str) -> None:
    for reminder_id in ids:
        if reminder_id not in open_rows:
            raise InputError(
                f"Reminder {reminder_id} ({what}) is not an open reminder of this patient.",
                f"Le rappel {reminder_id} ({what}) n'est pas un rappel en cours de ce patient.")


def record_call_outcome(session: Session, *, patient_id: uuid.UUID, outcome: Outcome,
                        actor: str, at: datetime | None = None, duration_s: int | None = None,
                        note: str | None = None, channel: str = "call",
                        callback_at: datetime | None = None,
                        done: Mapping[uuid.UUID, date] | None = None,
                        declined: Sequence[uuid.UUID] = (),
                        postpone_until: Mapping[uuid.UUID, date] | None = None,
                        phone_e164: str | None = None,
                        rules: RuleSet | None = None) -> OutcomeResult:
    """What a call (or an SMS) gave, in the caller's transaction: a coordination action
    (type call/sms, outcome, duration, linked to the most urgent reminder) and every
    reminder's new state, audited and queued for the hub.

    reached: `done` (with the act's date), `declined` and `postpone_until` settle those
    reminders; discharge, welcome and call-back calls are settled by the call itself; the
    rest stay due. no_answer / voicemail: one more attempt on every open reminder, the next
    one planned at another time of day; after N attempts (rules settings) they become
    unreachable and escalate (caregiver, médecin traitant, home visit). wrong_number: that
    phone (`phone_e164`, default the first usable one) is flagged for checking; with no
    usable number left the patient escalates. refused: every open reminder not otherwise
    settled is declined. callback: a call-back is planned at `callback_at`.
    `at` may be in the past (a paper sheet entered afterwards).
    """
    ruleset = rules or load_rules()
    if outcome not in OUTCOMES:
        raise InputError(f"Unknown call outcome {outcome!r}; one of {', '.join(OUTCOMES)}.",
                         f"Résultat d'appel inconnu « {outcome} ».")
    if channel not in ("call", "sms"):
        raise InputError("The channel of a call outcome is call or sms.",
                         "Le canal d'un appel est « call » ou « sms ».")
    if outcome == "callback" and callback_at is None:
        raise InputError("A call-back outcome needs the time to call back.",
                         "« Rappeler à… » demande l'heure du rappel.")
    patient = get_patient(session, patient_id=patient_id)
    require_patient_access(session, patient_id=patient_id, purpose="call outcome")
    moment = as_utc(at or utcnow())
    if moment > utcnow() + timedelta(minutes=5):
        raise InputError("A call outcome cannot be dated in the future.",
                         "Le résultat d'un appel ne peut pas être daté dans le futur.")
    day = local(moment).date()
    done = dict(done or {})
    postpone = dict(postpone_until or {})
    open_rows = {r.id: r for r in open_reminders(session, patient_id)}
    _check_ids(open_rows, done, "done")
    _check_ids(open_rows, declined, "declined")
    _check_ids(open_rows, postpone, "postponed")
    for reminder_id, act_day in done.items():
        if act_day > day:
            raise InputError(f"Reminder {reminder_id}: the act cannot be after the call.",
                             "La date de l'acte ne peut pas être postérieure à l'appel.")
    for reminder_id, until in postpone.items():
        if until <= day:
            raise InputError(f"Reminder {reminder_id}: postpone until a later day.",
                             "Reporter à une date postérieure à l'appel.")
    flagged = None
    if outcome == "wrong_number":
        flagged = flag_phone_for_check(session, patient_id=patient_id, actor=actor,
                                       e164=phone_e164)
    ordered = sorted(open_rows.values(), key=lambda r: (-r.points, r.due_date, r.reason))
    action_id = record_action(
        session, patient_ref=patient_id, action_type=channel, actor=actor, at=moment,
        note=note, duration_s=duration_s, outcome=outcome,
        reminder_id=ordered[0].id if ordered else None,
        details={"reminders": [str(r.id) for r in ordered],
                 **({"phone": flagged} if flagged else {})})
    before = {r.id: r.state for r in ordered}
    next_at: datetime | None = None
    escalation: str | None = None
    now = utcnow()
    settled = set(done) | set(declined) | set(postpone)
    for reminder_id, act_day in done.items():
        row = open_rows[reminder_id]
        row.state, row.closed_on, row.planned_at = "done", act_day, None
    for reminder_id in declined:
        row = open_rows[reminder_id]
        row.state, row.closed_on, row.planned_at = "declined", day, None
    for reminder_id, until in postpone.items():
        row = open_rows[reminder_id]
        row.state, row.postponed_until, row.planned_at = "postponed", until, None
    rest = [r for r in ordered if r.id not in settled]
    if outcome == "reached" or (outcome == "callback" and channel == "call"):
        for row in rest:
            if outcome == "reached" and (row.reason in SETTLED_BY_A_CALL
                                         or row.reason.startswith(CAMPAIGN_PREFIX)):
                row.state, row.closed_on, row.planned_at = "done", day, None
            else:
                row.attempts, row.escalation = 0, None
                if row.state in ("planned", "unreachable"):
                    row.state, row.planned_at = "due", None
    elif outcome in UNANSWERED:
        limit = ruleset.settings.unreachable_after_attempts
        attempts = max((r.attempts for r in rest), default=0) + 1
        if attempts >= limit:
            current = max((r.escalation for r in rest if r.escalation),
                          key=ESCALATION_STEPS.index, default=None)
            escalation = _escalation_after(session, patient, current) if rest else None
        else:
            next_at = next_attempt(patient, moment, ruleset)
        for row in rest:
            row.attempts = attempts
            if escalation is not None:
                row.state, row.escalation, row.planned_at = "unreachable", escalation, None
            else:
                row.state, row.planned_at = "planned", next_at
    elif outcome == "wrong_number":
        usable = session.execute(
            sa_select(func.count()).select_from(PatientPhone)
            .where(col(PatientPhone.patient_id) == patient_id,
                   col(PatientPhone.needs_check).is_(False))).scalar_one()
        if not usable and rest:
            escalation = _escalation_after(session, patient, None)
            for row in rest:
                row.state, row.escalation, row.planned_at = "unreachable", escalation, None
    elif outcome == "refused":
        for row in rest:
            row.state, row.closed_on, row.planned_at = "declined", day, None
    if callback_at is not None and outcome != "refused":
        plan_callback(session, patient_id=patient_id, at=callback_at, actor=actor, note=note,
                      _from_call=action_id)
        next_at = as_utc(callback_at)
    changed = []
    for row in ordered:
        if row.state != before[row.id] or row in session.dirty:
            row.updated_at = now
            changed.append((row, "update", {"from_state": before[row.id],
                                            "action_id": str(action_id), "outcome": outcome}))
    session.flush()
    log_reminder_changes(session, actor, changed)
    return OutcomeResult(action_id=action_id, next_attempt_at=next_at, escalation=escalation,
                         states={r.id: r.state for r in ordered})
