"""Stored reminders and the day's call list: recompute, list, record what a call gave.

Every write is one transaction of the caller's session; every reminder change is audited
and queued for the hub (entity "reminder") through carehub.changes.log_changes.
"""

from __future__ import annotations

import re
import time as clock
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import String, bindparam, func, insert, or_, type_coerce, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from carehub.caseload.models import Patient, PatientPhone, RelatedPerson
from carehub.caseload.services import flag_phone_for_check, get_patient
from carehub.changes import log_changes
from carehub.coordination.audit import Change
from carehub.coordination.services import as_utc, record_action, stored_utc
from carehub.errors import InputError, NotFoundError
from carehub.prevention.calllist import (
    CallOrder,
    call_list,
    call_list_items,
    call_order,
)
from carehub.prevention.engine import DERIVED_KINDS, assess, fr_date, shift
from carehub.prevention.models import CLOSED_STATES, OPEN_STATES, REMINDER_STATES, Reminder
from carehub.prevention.priority import user_id
from carehub.prevention.rules import RuleSet, load_rules
from carehub.prevention.types import (
    ESCALATION_STEPS,
    CallListItem,
    ReasonLine,
    day_bounds,
    from_local,
    local,
)
from carehub.text import fold
from carehub.timeutil import utcnow
from carehub.users.access import require_caseload_access, require_patient_access

Outcome = Literal["reached", "no_answer", "voicemail", "wrong_number", "refused", "callback"]
OUTCOMES: tuple[Outcome, ...] = ("reached", "no_answer", "voicemail", "wrong_number",
                                 "refused", "callback")
OUTCOME_LABELS_FR: dict[str, str] = {
    "reached": "Joint(e)", "no_answer": "Pas de réponse", "voicemail": "Messagerie",
    "wrong_number": "Faux numéro", "refused": "Refus", "callback": "Rappeler à…",
}
UNANSWERED: tuple[str, ...] = ("no_answer", "voicemail")
CALLBACK = "followup.callback"
# Reasons a call settles by itself when the patient is reached.
SETTLED_BY_A_CALL = ("followup.discharge", "followup.new_arrival", CALLBACK)
CAMPAIGN_PREFIX = "campaign."
# The call list lives in calllist.py; the contract names this module as its home.
__all__ = ["CallListItem", "CallOrder", "OutcomeResult", "ReasonLine", "RecomputeReport",
           "call_list", "call_list_items", "call_order", "close_reminder", "create_campaign",
           "due_callbacks", "plan_callback", "recompute_reminders", "record_call_outcome"]


# ------------------------------------------------------------------------------ plain data


@dataclass(frozen=True)
class RecomputeReport:
    as_of: date
    patients: int
    created: int
    updated: int
    done: int  # closed because a new act settled them
    cancelled: int  # no longer apply (aged out, campaign over, patient closed...)
    reopened: int  # postponed until a day now reached
    seconds: float

    def summary(self) -> str:
        return (f"Reminders at {self.as_of.isoformat()} for {self.patients} patients: "
                f"{self.created} created, {self.updated} updated, {self.done} done, "
                f"{self.cancelled} cancelled, {self.reopened} reopened in "
                f"{self.seconds:.1f} s.")


@dataclass(frozen=True)
class OutcomeResult:
    action_id: uuid.UUID
    next_attempt_at: datetime | None
    escalation: str | None
    states: dict[uuid.UUID, str]  # reminder id -> its new state


# ------------------------------------------------------------------------------ helpers


def _payload(r: Any) -> dict[str, Any]:
    return {
        "id": str(r.id), "patient_id": str(r.patient_id), "reason": r.reason,
        "label_fr": r.label_fr, "due_date": r.due_date.isoformat(), "state": r.state,
        "planned_at": stored_utc(r.planned_at).isoformat() if r.planned_at else None,
        "postponed_until": r.postponed_until.isoformat() if r.postponed_until else None,
        "attempts": r.attempts, "escalation": r.escalation,
        "explanation_fr": r.explanation_fr, "points": r.points,
        "last_done": r.last_done.isoformat() if r.last_done else None,
        "campaign_id": str(r.campaign_id) if r.campaign_id else None, "note": r.note,
        "closed_on": r.closed_on.isoformat() if r.closed_on else None,
    }


def _log(session: Session, actor: str, changed: Iterable[tuple[Any, str, dict[str, Any]]]
         ) -> None:
    """Audit + outbox for reminders changed: (row, "create"/"update", details)."""
    rows = list(changed)
    if not rows:
        return
    changes, payloads = [], []
    for reminder, action, details in rows:
        payload = _payload(reminder)
        changes.append(Change(actor, "reminder", str(reminder.id), action,
                              {**details, "reason": reminder.reason, "state": reminder.state,
                               "patient_id": str(reminder.patient_id)}))
        payloads.append(payload)
    log_changes(session, changes, payloads)


def _hex(column: Any) -> Any:
    return type_coerce(column, String())


# ------------------------------------------------------------------------------ recompute


def recompute_reminders(session: Session, *, as_of: date, actor: str,
                        patient_ids: Sequence[uuid.UUID] | None = None,
                        rules: RuleSet | None = None) -> RecomputeReport:
    """Bring the stored reminders in line with the facts at `as_of`.

    New due reasons become reminders (state due); open ones get their new due date and
    explanation; those a new act settled are closed as done (with the act's date), those no
    longer applying (aged out, excluded, campaign over, patient closed) as cancelled;
    postponed ones whose day has come are due again. A settled cycle is not reopened: done
    never, declined or cancelled after `ask_again_after_months`. Campaign and call-back
    reminders are left as they are (they do not follow from facts).
    """
    started = clock.perf_counter()
    ruleset = rules or load_rules()
    found = assess(session, as_of=as_of, rules=ruleset, patient_ids=patient_ids)
    derived = [code for code, rule in ruleset.rules.items() if rule.kind in DERIVED_KINDS]
    ask_again_from = shift(as_of, -ruleset.settings.ask_again_after_months)
    existing = _existing(session, derived, patient_ids)
    now = utcnow()
    new_rows: list[_Stored] = []
    changed: list[tuple[Any, str, dict[str, Any]]] = []
    counts = dict.fromkeys(("created", "updated", "done", "cancelled", "reopened"), 0)
    due_keys: set[tuple[uuid.UUID, str]] = set()
    for patient_id, reasons in found.due.items():
        for reason in reasons:
            key = (patient_id, reason.code)
            due_keys.add(key)
            rows = existing.get(key, [])
            open_row = next((r for r in rows if r.state in OPEN_STATES), None)
            if open_row is not None:
                before = {"due_date": open_row.due_date.isoformat(),
                          "explanation_fr": open_row.explanation_fr}
                moved = (open_row.due_date != reason.due_date
                         or open_row.explanation_fr != reason.explanation_fr
                         or open_row.points != reason.points
                         or open_row.last_done != reason.last_done)
                reopened = open_row.state == "postponed" and open_row.postponed_until \
                    is not None and open_row.postponed_until <= as_of
                if not (moved or reopened):
                    continue
                if moved and open_row.due_date != reason.due_date:
                    open_row.attempts, open_row.escalation = 0, None  # a new cycle
                open_row.due_date = reason.due_date
                open_row.explanation_fr = reason.explanation_fr
                open_row.points, open_row.last_done = reason.points, reason.last_done
                details: dict[str, Any] = {"before": before, "by": "recompute"}
                if reopened:
                    details["from_state"] = open_row.state
                    open_row.state, open_row.postponed_until = "due", None
                    counts["reopened"] += 1
                else:
                    counts["updated"] += 1
                open_row.updated_at = now
                changed.append((open_row, "update", details))
                continue
            if any(_settles(r, reason.due_date, ask_again_from) for r in rows):
                continue
            row = _Stored(id=uuid.uuid4(), patient_id=patient_id, reason=reason.code,
                          due_date=reason.due_date, state="due",
                          explanation_fr=reason.explanation_fr, points=reason.points,
                          last_done=reason.last_done, created_at=now, updated_at=now)
            new_rows.append(row)
            changed.append((row, "create", {"by": "recompute"}))
            counts["created"] += 1
    in_scope = found.followed if patient_ids is None else set(patient_ids)
    for key, rows in existing.items():
        if key in due_keys:
            continue
        patient_id, code = key
        for row in rows:
            if row.state not in OPEN_STATES:
                continue
            act = found.latest_act.get(key)
            if patient_id in found.followed and act is not None and (
                    row.last_done is None or act > row.last_done):
                row.state, row.closed_on = "done", act
                counts["done"] += 1
                why = "new act recorded"
            elif patient_id in in_scope or patient_id not in found.followed:
                row.state, row.closed_on = "cancelled", as_of
                counts["cancelled"] += 1
                why = "no longer applies" if patient_id in found.followed \
                    else "patient no longer followed"
            else:
                continue
            row.updated_at = now
            changed.append((row, "update", {"by": "recompute", "why": why, "rule": code}))
    _cancel_unfollowed_others(session, found.followed, patient_ids, as_of, now, changed, counts)
    _write(session, new_rows, [c[0] for c in changed
                               if c[1] == "update" and isinstance(c[0], _Stored)])
    _log(session, actor, changed)
    return RecomputeReport(as_of=as_of, patients=len(found.followed), seconds=clock.perf_counter()
                           - started, **counts)


def _settles(row: _Stored, due_date: date, ask_again_from: date) -> bool:
    """Does this closed reminder settle the cycle due on `due_date`?"""
    if row.due_date != due_date or row.state not in CLOSED_STATES:
        return False
    if row.state == "done":
        return True
    return row.closed_on is None or row.closed_on > ask_again_from


@dataclass
class _Stored:
    """A reminder row as recompute reads and writes it (Core rows: no ORM objects for the
    hundreds of thousands of reminders of a team)."""

    id: uuid.UUID
    patient_id: uuid.UUID
    reason: str
    due_date: date
    state: str
    explanation_fr: str
    points: int
    last_done: date | None
    postponed_until: date | None = None
    closed_on: date | None = None
    attempts: int = 0
    escalation: str | None = None
    label_fr: str | None = None
    planned_at: datetime | None = None
    campaign_id: uuid.UUID | None = None
    note: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


_STORED_FIELDS = ("id", "patient_id", "reason", "due_date", "state", "explanation_fr",
                  "points", "last_done", "postponed_until", "closed_on", "attempts",
                  "escalation", "label_fr", "planned_at", "campaign_id", "note")
_TABLE = Reminder.__table__  # type: ignore[attr-defined]


def _optional_date(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def _existing(session: Session, reasons: Sequence[str],
              patient_ids: Sequence[uuid.UUID] | None
              ) -> dict[tuple[uuid.UUID, str], list[_Stored]]:
    """Stored reminders of the derived reasons, per (patient, reason): plain rows."""
    found: dict[tuple[uuid.UUID, str], list[_Stored]] = defaultdict(list)
    raw = [type_coerce(_TABLE.c[name], String()) for name in _STORED_FIELDS]
    base = sa_select(*raw).where(_TABLE.c.reason.in_(reasons))
    chunks: list[Any] = [None] if patient_ids is None else [
        list(patient_ids)[i:i + 500] for i in range(0, len(patient_ids), 500)]
    uuids: dict[str, uuid.UUID] = {}
    for chunk in chunks:
        query = base if chunk is None else base.where(_TABLE.c.patient_id.in_(chunk))
        for (rid, pid, reason, due, state, text_fr, points, last, until, closed, attempts,
             escalation, label, planned, campaign, note) in session.execute(query):
            patient = uuids.get(pid)
            if patient is None:
                patient = uuids[pid] = uuid.UUID(hex=pid)
            row = _Stored(
                id=uuid.UUID(hex=rid), patient_id=patient, reason=reason,
                due_date=date.fromisoformat(due), state=state, explanation_fr=text_fr,
                points=int(points), last_done=_optional_date(last),
                postponed_until=_optional_date(until), closed_on=_optional_date(closed),
                attempts=int(attempts), escalation=escalation, label_fr=label,
                planned_at=stored_utc(datetime.fromisoformat(planned)) if planned else None,
                campaign_id=uuid.UUID(hex=campaign) if campaign else None, note=note)
            found[(patient, reason)].append(row)
    return found


def _cancel_unfollowed_others(session: Session, followed: frozenset[uuid.UUID],
                              patient_ids: Sequence[uuid.UUID] | None, as_of: date,
                              now: datetime, changed: list[tuple[Any, str, dict[str, Any]]],
                              counts: dict[str, int]) -> None:
    """Open call-backs and campaign calls of patients closed or deceased are cancelled."""
    query = (sa_select(Reminder).join(Patient, col(Patient.id) == Reminder.patient_id)
             .where(col(Reminder.state).in_(OPEN_STATES),
                    or_(col(Reminder.reason) == CALLBACK,
                        col(Reminder.reason).startswith(CAMPAIGN_PREFIX)),
                    or_(col(Patient.status).in_(("closed", "deceased")),
                        col(Patient.deceased_date).is_not(None))))
    if patient_ids is not None:
        query = query.where(col(Reminder.patient_id).in_(list(patient_ids)))
    for row in session.execute(query).scalars():
        if row.patient_id in followed:
            continue
        row.state, row.closed_on, row.updated_at = "cancelled", as_of, now
        counts["cancelled"] += 1
        changed.append((row, "update", {"by": "recompute", "why": "patient no longer followed"}))


_UPDATED_FIELDS = ("state", "due_date", "explanation_fr", "points", "last_done", "closed_on",
                   "postponed_until", "attempts", "escalation", "updated_at")


def _write(session: Session, new_rows: Sequence[Any], updated: Sequence[_Stored]) -> None:
    """New rows and changed ones by Core executemany (tens of thousands at once); ORM
    objects of those reminders the session may hold are expired, to be read again."""
    session.flush()
    if new_rows:
        session.execute(insert(Reminder), [
            {"id": r.id, "patient_id": r.patient_id, "reason": r.reason, "label_fr": r.label_fr,
             "due_date": r.due_date, "state": r.state, "planned_at": r.planned_at,
             "postponed_until": r.postponed_until, "attempts": r.attempts,
             "escalation": r.escalation, "explanation_fr": r.explanation_fr,
             "points": r.points, "last_done": r.last_done, "campaign_id": r.campaign_id,
             "note": r.note, "closed_on": r.closed_on, "created_at": r.created_at,
             "updated_at": r.updated_at} for r in new_rows])
    if updated:
        session.connection().execute(
            update(_TABLE).where(_TABLE.c.id == bindparam("rid")),
            [{"rid": r.id, **{f: getattr(r, f) for f in _UPDATED_FIELDS}} for r in updated])
        held = {r.id for r in updated}
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Reminder) and obj.id in held:
                session.expire(obj)


# ------------------------------------------------------------------------------ call list


def due_callbacks(session: Session, *, user: str, now: datetime, within: timedelta,
                  rules: RuleSet | None = None) -> list[CallListItem]:
    """Patients with a planned call-back from now to `now + within` (or missed earlier
    today and still planned), as call-list lines, earliest first (for notifications)."""
    require_caseload_access(session, owner=user, purpose="call-backs")
    ruleset = rules or load_rules()
    manager = user_id(session, user)
    if manager is None:
        return []
    moment = as_utc(now)
    today = local(moment).date()
    first, _ = day_bounds(today)
    wanted = list(session.execute(
        sa_select(col(Reminder.patient_id)).join(Patient, col(Patient.id) == Reminder.patient_id)
        .where(col(Patient.care_manager_id) == manager, col(Patient.status) == "active",
               col(Patient.deceased_date).is_(None), col(Reminder.reason) == CALLBACK,
               col(Reminder.state) == "planned", col(Reminder.planned_at) >= first,
               col(Reminder.planned_at) <= moment + within)).scalars())
    if not wanted:
        return []
    horizon = local(moment + within)
    items = call_list_items(session, user=user, as_of=horizon.date(), now=horizon,
                            patient_ids=wanted, rules=ruleset)
    items = [i for i in items if i.planned_at is not None]
    return sorted(items, key=lambda i: (i.planned_at or moment, i.name))


# ------------------------------------------------------------------------------ outcomes


def _open_reminders(session: Session, patient_id: uuid.UUID) -> list[Reminder]:
    return list(session.execute(
        sa_select(Reminder).where(col(Reminder.patient_id) == patient_id,
                                  col(Reminder.state).in_(OPEN_STATES))
        .order_by(col(Reminder.due_date), col(Reminder.reason))).scalars())


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
    open_rows = {r.id: r for r in _open_reminders(session, patient_id)}
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
    _log(session, actor, changed)
    return OutcomeResult(action_id=action_id, next_attempt_at=next_at, escalation=escalation,
                         states={r.id: r.state for r in ordered})


def plan_callback(session: Session, *, patient_id: uuid.UUID, at: datetime, actor: str,
                  note: str | None = None, _from_call: uuid.UUID | None = None) -> uuid.UUID:
    """Book a call at a date and time: a call-back reminder (planned), and the patient's
    other open reminders planned for the same call. Returns the call-back reminder's id."""
    get_patient(session, patient_id=patient_id)
    require_patient_access(session, patient_id=patient_id, purpose="call-back")
    moment = as_utc(at)
    when = local(moment)
    explanation = f"rappel prévu le {fr_date(when.date())} à {when:%H:%M}"
    if note:
        explanation += f" : {note}"
    explanation = explanation[:400]
    now = utcnow()
    changed: list[tuple[Reminder, str, dict[str, Any]]] = []
    rows = _open_reminders(session, patient_id)
    callback = next((r for r in rows if r.reason == CALLBACK), None)
    details: dict[str, Any] = {"planned_at": moment.isoformat()}
    if _from_call:
        details["action_id"] = str(_from_call)
    if callback is None:
        callback = Reminder(patient_id=patient_id, reason=CALLBACK, due_date=when.date(),
                            state="planned", planned_at=moment, explanation_fr=explanation,
                            note=note, created_at=now, updated_at=now)
        session.add(callback)
        session.flush()
        changed.append((callback, "create", details))
    for row in rows:
        if row.state in ("due", "planned", "unreachable") or row is callback:
            from_state = row.state
            row.state, row.planned_at, row.updated_at = "planned", moment, now
            if row is callback:
                row.due_date, row.explanation_fr, row.note = when.date(), explanation, note
            changed.append((row, "update", {**details, "from_state": from_state}))
    session.flush()
    _log(session, actor, changed)
    return callback.id


def close_reminder(session: Session, *, reminder_id: uuid.UUID, state: str, actor: str,
                   on: date | None = None, until: date | None = None) -> None:
    """Settle one reminder by hand: done (on the act's date), declined, cancelled,
    unreachable, postponed until a date, or due again (reopen a postponed/planned one)."""
    row = session.get(Reminder, reminder_id)
    if row is None:
        raise NotFoundError(f"No reminder {reminder_id}.", "Rappel introuvable.")
    require_patient_access(session, patient_id=row.patient_id, purpose="reminder")
    if state not in REMINDER_STATES or state == "planned":
        raise InputError(f"Cannot set a reminder to {state!r} here; one of done, declined, "
                         "cancelled, unreachable, postponed, due (plan a call-back to plan).",
                         f"État impossible « {state} » pour un rappel.")
    if row.state in CLOSED_STATES:
        raise InputError(f"Reminder {reminder_id} is already {row.state}; nothing changed.",
                         "Ce rappel est déjà clos ; rien n'a été modifié.")
    today = date.today()
    if state == "done" and on is not None and on > today:
        raise InputError("The act's date cannot be in the future.",
                         "La date de l'acte ne peut pas être dans le futur.")
    if state == "postponed" and (until is None or until <= today):
        raise InputError("Postpone until a day after today (--until).",
                         "Reporter à une date postérieure à aujourd'hui.")
    from_state = row.state
    row.state = state
    if state in CLOSED_STATES:
        row.closed_on = on or today
        row.planned_at = None
    elif state == "postponed":
        row.postponed_until, row.planned_at = until, None
    elif state == "due":
        row.postponed_until, row.planned_at = None, None
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    _log(session, actor, [(row, "update", {"from_state": from_state})])


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
    _write(session, rows, [])
    log_changes(session, [Change(actor, "campaign", str(campaign_id), "create",
                                 {"name": name, "label_fr": label, "reason": reason,
                                  "due_date": due_date.isoformat(), "patients": len(rows)})])
    _log(session, actor, [(r, "create", {"campaign_id": str(campaign_id)}) for r in rows])
    return campaign_id
