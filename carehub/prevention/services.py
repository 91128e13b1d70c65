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
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import String, and_, func, insert, or_, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from carehub.caseload.models import ClinicalFact, FactCoding, Patient, PatientPhone, RelatedPerson
from carehub.caseload.services import flag_phone_for_check, get_patient
from carehub.caseload.summary import PhoneLine, age_on, phone_line
from carehub.caseload.vocabulary import coding_condition
from carehub.changes import log_changes
from carehub.coordination.audit import Change
from carehub.coordination.models import CoordinationAction
from carehub.coordination.services import as_utc, record_action, stored_utc
from carehub.errors import InputError, NotFoundError
from carehub.prevention.engine import DERIVED_KINDS, assess, fr_date, shift
from carehub.prevention.models import CLOSED_STATES, OPEN_STATES, REMINDER_STATES, Reminder
from carehub.prevention.rules import RuleSet, load_rules
from carehub.text import fold
from carehub.timeutil import utcnow
from carehub.users.models import User

Outcome = Literal["reached", "no_answer", "voicemail", "wrong_number", "refused", "callback"]
OUTCOMES: tuple[Outcome, ...] = ("reached", "no_answer", "voicemail", "wrong_number",
                                 "refused", "callback")
OUTCOME_LABELS_FR: dict[str, str] = {
    "reached": "Joint(e)", "no_answer": "Pas de réponse", "voicemail": "Messagerie",
    "wrong_number": "Faux numéro", "refused": "Refus", "callback": "Rappeler à…",
}
UNANSWERED: tuple[str, ...] = ("no_answer", "voicemail")
ESCALATION_STEPS: tuple[str, ...] = ("caregiver", "gp", "home_visit")
CALLBACK = "followup.callback"
# Reasons a call settles by itself when the patient is reached.
SETTLED_BY_A_CALL = ("followup.discharge", "followup.new_arrival", CALLBACK)
CAMPAIGN_PREFIX = "campaign."


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
                         "state": r.state} for r in self.reasons],
        }


@dataclass(frozen=True)
class OutcomeResult:
    action_id: uuid.UUID
    next_attempt_at: datetime | None
    escalation: str | None
    states: dict[uuid.UUID, str]  # reminder id -> its new state


# ------------------------------------------------------------------------------ helpers


def _local(moment: datetime) -> datetime:
    """A stored or aware UTC moment in the workstation's local time (naive)."""
    return stored_utc(moment).astimezone().replace(tzinfo=None)


def _from_local(day: date, at: time) -> datetime:
    """Local wall-clock time on `day`, as an aware UTC datetime."""
    return datetime.combine(day, at).astimezone().astimezone(UTC)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    return _from_local(day, time(0)), _from_local(day + timedelta(days=1), time(0))


def _payload(r: Reminder) -> dict[str, Any]:
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


def _log(session: Session, actor: str, changed: Iterable[tuple[Reminder, str, dict[str, Any]]]
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


def _user_id(session: Session, user: str) -> uuid.UUID | None:
    found = session.execute(sa_select(col(User.id)).where(col(User.name) == user)).first()
    return found[0] if found else None


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
    new_rows: list[Reminder] = []
    changed: list[tuple[Reminder, str, dict[str, Any]]] = []
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
            row = Reminder(patient_id=patient_id, reason=reason.code, due_date=reason.due_date,
                           state="due", explanation_fr=reason.explanation_fr,
                           points=reason.points, last_done=reason.last_done, created_at=now,
                           updated_at=now)
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
    _write(session, new_rows, [c[0] for c in changed if c[1] == "update"])
    _log(session, actor, changed)
    return RecomputeReport(as_of=as_of, patients=len(found.followed), seconds=clock.perf_counter()
                           - started, **counts)


def _settles(row: Reminder, due_date: date, ask_again_from: date) -> bool:
    """Does this closed reminder settle the cycle due on `due_date`?"""
    if row.due_date != due_date or row.state not in CLOSED_STATES:
        return False
    if row.state == "done":
        return True
    return row.closed_on is None or row.closed_on > ask_again_from


def _existing(session: Session, reasons: Sequence[str],
              patient_ids: Sequence[uuid.UUID] | None
              ) -> dict[tuple[uuid.UUID, str], list[Reminder]]:
    """Stored reminders of the derived reasons, per (patient, reason)."""
    found: dict[tuple[uuid.UUID, str], list[Reminder]] = defaultdict(list)
    base = sa_select(Reminder).where(col(Reminder.reason).in_(reasons))
    chunks: list[Any] = [None] if patient_ids is None else [
        list(patient_ids)[i:i + 500] for i in range(0, len(patient_ids), 500)]
    for chunk in chunks:
        query = base if chunk is None else base.where(col(Reminder.patient_id).in_(chunk))
        for row in session.execute(query).scalars():
            found[(row.patient_id, row.reason)].append(row)
    return found


def _cancel_unfollowed_others(session: Session, followed: frozenset[uuid.UUID],
                              patient_ids: Sequence[uuid.UUID] | None, as_of: date,
                              now: datetime, changed: list[tuple[Reminder, str, dict[str, Any]]],
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


def _write(session: Session, new_rows: list[Reminder], updated: list[Reminder]) -> None:
    """New rows by one Core executemany (tens of thousands at once); the updated ones are
    the session's own objects, written by its flush."""
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
        session.flush()


# ------------------------------------------------------------------------------ call list


@dataclass
class _Patient:
    id: uuid.UUID
    ins: str | None
    birth_name: str
    used_name: str | None
    given_names: str
    sex: str
    birth_date: date
    email: str | None
    preferred_channel: str
    call_after: time | None
    call_before: time | None
    hours_note: str | None
    deaf: bool
    fragility_level: int | None
    gp_name: str | None
    gp_rpps: str | None

    @property
    def name(self) -> str:
        if self.used_name and self.used_name.upper() != self.birth_name.upper():
            born = "née" if self.sex == "F" else "né"
            return f"{self.used_name.upper()} {born} {self.birth_name.upper()} {self.given_names}"
        return f"{self.birth_name.upper()} {self.given_names}"


_PATIENT_COLUMNS = (Patient.id, Patient.ins, Patient.birth_name, Patient.used_name,
                    Patient.given_names, Patient.sex, Patient.birth_date, Patient.email,
                    Patient.preferred_channel, Patient.call_after, Patient.call_before,
                    Patient.preferred_hours_note, Patient.deaf_or_hard_of_hearing,
                    Patient.fragility_level, Patient.gp_name, Patient.gp_rpps)
_REMINDER_COLUMNS = (Reminder.id, Reminder.patient_id, Reminder.reason, Reminder.label_fr,
                     Reminder.due_date, Reminder.state, Reminder.planned_at,
                     Reminder.postponed_until, Reminder.attempts, Reminder.escalation,
                     Reminder.explanation_fr, Reminder.points)


def _on_the_list(as_of: date) -> Any:
    """Reminders to act on at `as_of`: due; planned for that day or before; postponed
    until then; unreachable with an escalation step to take."""
    _, day_end = _day_bounds(as_of)
    return or_(
        and_(col(Reminder.state) == "due", col(Reminder.due_date) <= as_of),
        and_(col(Reminder.state) == "planned", col(Reminder.planned_at) < day_end),
        and_(col(Reminder.state) == "postponed", col(Reminder.postponed_until) <= as_of),
        and_(col(Reminder.state) == "unreachable", col(Reminder.escalation).is_not(None)),
    )


def call_list(session: Session, *, user: str, as_of: date, now: datetime | None = None,
              rules: RuleSet | None = None) -> list[CallListItem]:
    """The acting care manager's calls for `as_of`, in the order to make them.

    One line per patient (active patients she follows, not already reached that day), all
    due reasons grouped. Order: call-backs whose hour has come, then whoever can be called
    now by priority, then those to call later today by the hour they can be called, then
    those whose calling window has passed. `now` (default: the current time if `as_of` is
    today, else the rules' default_call_time) decides who can be called now.
    """
    ruleset = rules or load_rules()
    manager = _user_id(session, user)
    if manager is None:
        return []
    mine = and_(col(Patient.care_manager_id) == manager, col(Patient.status) == "active",
                col(Patient.deceased_date).is_(None))
    return _build(session, ruleset, mine, _on_the_list(as_of), as_of, now)


def _build(session: Session, ruleset: RuleSet, patients: Any, reminders: Any, as_of: date,
           now: datetime | None) -> list[CallListItem]:
    rows = session.execute(
        sa_select(*_REMINDER_COLUMNS).join(Patient, col(Patient.id) == Reminder.patient_id)
        .where(patients, reminders)).all()
    if not rows:
        return []
    per_patient: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in rows:
        per_patient[row.patient_id].append(row)
    reached = _reached_today(session, patients, as_of)
    for patient_id in reached:
        per_patient.pop(patient_id, None)
    if not per_patient:
        return []
    info = _patients(session, patients, per_patient)
    phones, to_check = _phones(session, patients, per_patient)
    circle = _caregivers(session, patients, per_patient)
    recent = _recent_stays(session, ruleset, patients, as_of)
    local_now = _now_local(now, as_of, ruleset)
    items = []
    for patient_id, reminder_rows in per_patient.items():
        patient = info.get(patient_id)
        if patient is None:
            continue
        items.append(_item(ruleset, patient, reminder_rows, phones.get(patient_id, ()),
                           to_check.get(patient_id, ()), circle.get(patient_id), recent,
                           as_of, local_now))
    return _order(items, local_now)


def _now_local(now: datetime | None, as_of: date, ruleset: RuleSet) -> datetime:
    if now is not None:
        return now if now.tzinfo is None else now.astimezone().replace(tzinfo=None)
    current = datetime.now()
    if current.date() == as_of:
        return current
    return datetime.combine(as_of, ruleset.settings.default_call_time)


def _reached_today(session: Session, patients: Any, as_of: date) -> set[uuid.UUID]:
    first, last = _day_bounds(as_of)
    query = (sa_select(col(CoordinationAction.patient_id)).distinct()
             .join(Patient, col(Patient.id) == CoordinationAction.patient_id)
             .where(patients, col(CoordinationAction.type).in_(("call", "sms")),
                    col(CoordinationAction.outcome) == "reached",
                    col(CoordinationAction.at) >= first, col(CoordinationAction.at) < last))
    return set(session.execute(query).scalars())


def _patients(session: Session, patients: Any, wanted: Mapping[uuid.UUID, Any]
              ) -> dict[uuid.UUID, _Patient]:
    query = sa_select(*_PATIENT_COLUMNS).where(patients)
    if len(wanted) <= 500:
        query = query.where(col(Patient.id).in_(list(wanted)))
    return {row[0]: _Patient(*row) for row in session.execute(query) if row[0] in wanted}


def _phones(session: Session, patients: Any, wanted: Mapping[uuid.UUID, Any]
            ) -> tuple[dict[uuid.UUID, tuple[PhoneLine, ...]],
                       dict[uuid.UUID, tuple[PhoneLine, ...]]]:
    query = (sa_select(PatientPhone.patient_id, PatientPhone.e164, PatientPhone.kind,
                       PatientPhone.label, PatientPhone.sms_consent, PatientPhone.needs_check)
             .join(Patient, col(Patient.id) == PatientPhone.patient_id).where(patients)
             .order_by(col(PatientPhone.patient_id), col(PatientPhone.position)))
    if len(wanted) <= 500:
        query = query.where(col(PatientPhone.patient_id).in_(list(wanted)))
    usable: dict[uuid.UUID, list[PhoneLine]] = defaultdict(list)
    flagged: dict[uuid.UUID, list[PhoneLine]] = defaultdict(list)
    for patient_id, e164, kind, label, sms, needs_check in session.execute(query):
        if patient_id not in wanted:
            continue
        line = phone_line(e164, kind=kind, label=label, sms_consent=sms)
        (flagged if needs_check else usable)[patient_id].append(line)
    return ({k: tuple(v) for k, v in usable.items()}, {k: tuple(v) for k, v in flagged.items()})


def _caregivers(session: Session, patients: Any, wanted: Mapping[uuid.UUID, Any]
                ) -> dict[uuid.UUID, str]:
    """Who to call when the patient cannot be reached: caregiver, else trusted person, else
    emergency contact, as 'Marie Durand (fille) 06 12 34 56 78'."""
    query = (sa_select(RelatedPerson.patient_id, RelatedPerson.name, RelatedPerson.relationship,
                       RelatedPerson.phone_e164, RelatedPerson.phone_kind,
                       RelatedPerson.is_caregiver, RelatedPerson.is_trusted_person,
                       RelatedPerson.is_emergency_contact)
             .join(Patient, col(Patient.id) == RelatedPerson.patient_id)
             .where(patients, or_(col(RelatedPerson.is_caregiver),
                                  col(RelatedPerson.is_trusted_person),
                                  col(RelatedPerson.is_emergency_contact))))
    if len(wanted) <= 500:
        query = query.where(col(RelatedPerson.patient_id).in_(list(wanted)))
    best: dict[uuid.UUID, tuple[int, str]] = {}
    for pid, name, relationship, e164, kind, caregiver, trusted, emergency in \
            session.execute(query):
        if pid not in wanted:
            continue
        rank = 0 if caregiver else 1 if trusted else 2
        text = name + (f" ({relationship})" if relationship else "")
        if e164:
            text += " " + phone_line(e164, kind=kind).formatted
        if pid not in best or (rank, text) < best[pid]:
            best[pid] = (rank, text)
    return {pid: text for pid, (_, text) in best.items()}


def _recent_stays(session: Session, ruleset: RuleSet, patients: Any, as_of: date
                  ) -> set[uuid.UUID]:
    rule = next((r for r in ruleset.rules.values() if r.kind == "discharge"), None)
    if rule is None or rule.concept is None:
        return set()
    first = as_of - timedelta(days=ruleset.settings.recent_stay_days)
    query = (sa_select(col(FactCoding.patient_id)).distinct()
             .join(ClinicalFact, col(ClinicalFact.id) == FactCoding.fact_id)
             .join(Patient, col(Patient.id) == FactCoding.patient_id)
             .where(coding_condition(rule.concept), col(ClinicalFact.kind) == "encounter",
                    col(ClinicalFact.end_date) >= first, col(ClinicalFact.end_date) <= as_of,
                    patients))
    return set(session.execute(query).scalars())


def _channel(patient: _Patient, phones: tuple[PhoneLine, ...]) -> tuple[str, str | None]:
    sms = any(p.kind == "mobile" and p.sms_consent for p in phones)
    if patient.deaf:
        if sms:
            return "sms", ("patient(e) malentendant(e) : pas d'appel, SMS"
                           + (" ou e-mail" if patient.email else ""))
        if patient.email:
            return "email", "patient(e) malentendant(e) : pas d'appel, e-mail"
        return "letter", "patient(e) malentendant(e) sans SMS ni e-mail : courrier"
    preferred = patient.preferred_channel
    if preferred == "sms" and sms:
        return "sms", "préfère les SMS"
    if preferred == "email" and patient.email:
        return "email", "préfère l'e-mail"
    if preferred == "letter":
        return "letter", "préfère le courrier"
    if preferred == "visit":
        return "visit", "préfère une visite"
    if phones:
        return "phone", None
    if sms:
        return "sms", "aucun numéro à appeler"
    if patient.email:
        return "email", "aucun numéro valide : e-mail"
    return "letter", "aucun numéro valide : courrier"


def _item(ruleset: RuleSet, patient: _Patient, rows: list[Any], phones: tuple[PhoneLine, ...],
          to_check: tuple[PhoneLine, ...], caregiver: str | None, recent: set[uuid.UUID],
          as_of: date, now: datetime) -> CallListItem:
    weights = ruleset.priority
    age = age_on(patient.birth_date, as_of)
    base = (patient.fragility_level or 0) * weights.per_fragility_level
    base += weights.age_85 if age >= 85 else weights.age_75 if age >= 75 else 0
    if patient.id in recent:
        base += weights.recent_stay
    lines = []
    for row in rows:
        rule = ruleset.rules.get(row.reason)
        overdue = max((as_of - row.due_date).days, 0)
        planned = stored_utc(row.planned_at) if row.planned_at else None
        points = row.points + base + min(overdue, weights.overdue_days_cap) \
            * weights.per_overdue_day
        if row.state == "planned" and planned is not None and _local(planned) <= now:
            points += weights.planned_callback
        if row.escalation:
            points += weights.escalation
        label = row.label_fr or (rule.label if rule else row.reason)
        script = rule.script if rule else (row.label_fr or "")
        lines.append(ReasonLine(
            reminder_id=row.id, code=row.reason, label_fr=label, due_date=row.due_date,
            overdue_days=overdue, explanation_fr=row.explanation_fr, script_fr=script,
            state=row.state, planned_at=planned, attempts=row.attempts,
            escalation=row.escalation, priority=points))
    lines.sort(key=lambda r: (-r.priority, r.code))
    channel, channel_reason = _channel(patient, phones)
    planned_at = min((r.planned_at for r in lines if r.state == "planned" and r.planned_at),
                     default=None)
    escalation = max((r.escalation for r in lines if r.escalation),
                     key=ESCALATION_STEPS.index, default=None)
    available = None
    if channel == "phone" and patient.call_after:
        available = patient.call_after
    if planned_at is not None and _local(planned_at).date() == as_of:
        hour = _local(planned_at).time()
        available = max(available, hour) if available else hour
    return CallListItem(
        patient_id=patient.id, ins=patient.ins, name=patient.name, age=age, sex=patient.sex,
        phones=phones, channel=channel, channel_reason_fr=channel_reason,
        call_after=patient.call_after, call_before=patient.call_before,
        reasons=tuple(lines), due_date=min(r.due_date for r in lines),
        priority=lines[0].priority + weights.per_other_reason * (len(lines) - 1),
        planned_at=planned_at, attempts=max(r.attempts for r in lines),
        escalation=escalation, caregiver=caregiver, email=patient.email,
        gp_name=patient.gp_name, fragility_level=patient.fragility_level,
        phones_to_check=to_check, hours_note=patient.hours_note, available_from=available)


def _order(items: list[CallListItem], now: datetime) -> list[CallListItem]:
    """Call-backs due now first; then callable now by priority; then later today by hour;
    then those whose calling window has passed."""
    clock_now = now.time()

    def key(item: CallListItem) -> tuple[Any, ...]:
        phoned = item.channel == "phone"
        if item.planned_at is not None and _local(item.planned_at) <= now and not (
                phoned and item.call_before and item.call_before <= clock_now):
            return (0, _local(item.planned_at), -item.priority, item.name)
        if item.available_from is not None and item.available_from > clock_now:
            return (2, item.available_from, -item.priority, item.name)
        if phoned and item.call_before is not None and item.call_before <= clock_now:
            return (3, -item.priority, item.name)
        return (1, -item.priority, item.name)

    return sorted(items, key=key)


def due_callbacks(session: Session, *, user: str, now: datetime, within: timedelta,
                  rules: RuleSet | None = None) -> list[CallListItem]:
    """Patients with a planned call-back from now to `now + within` (or missed earlier
    today and still planned), as call-list lines, earliest first (for notifications)."""
    ruleset = rules or load_rules()
    manager = _user_id(session, user)
    if manager is None:
        return []
    moment = as_utc(now)
    today = _local(moment).date()
    first, _ = _day_bounds(today)
    mine = and_(col(Patient.care_manager_id) == manager, col(Patient.status) == "active",
                col(Patient.deceased_date).is_(None))
    planned = and_(col(Reminder.reason) == CALLBACK, col(Reminder.state) == "planned",
                   col(Reminder.planned_at) >= first,
                   col(Reminder.planned_at) <= moment + within)
    wanted = set(session.execute(
        sa_select(col(Reminder.patient_id)).join(Patient, col(Patient.id) == Reminder.patient_id)
        .where(mine, planned)).scalars())
    if not wanted:
        return []
    horizon = _local(moment + within)
    items = _build(session, ruleset, and_(mine, col(Patient.id).in_(list(wanted))),
                   _on_the_list(horizon.date()), horizon.date(), horizon)
    items = [i for i in items if i.planned_at is not None]
    return sorted(items, key=lambda i: (i.planned_at, i.name))


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
    local = _local(at)
    settings = ruleset.settings
    morning = local.time() < time(12)
    day = local.date()
    for _ in range(15):
        for slot in settings.attempt_slots:
            candidate = slot
            if patient.call_after and candidate < patient.call_after:
                candidate = patient.call_after
            if patient.call_before and candidate >= patient.call_before:
                continue
            moment = datetime.combine(day, candidate)
            if moment <= local + timedelta(hours=2):
                continue
            if day == local.date() and (candidate < time(12)) == morning:
                continue  # same half-day: try another time of day
            if day.isoweekday() not in settings.working_days:
                continue
            return _from_local(day, candidate)
        day += timedelta(days=1)
    return _from_local(local.date() + timedelta(days=1), settings.attempt_slots[0])


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
    moment = as_utc(at or utcnow())
    if moment > utcnow() + timedelta(minutes=5):
        raise InputError("A call outcome cannot be dated in the future.",
                         "Le résultat d'un appel ne peut pas être daté dans le futur.")
    day = _local(moment).date()
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
            if outcome == "reached" and row.reason in SETTLED_BY_A_CALL:
                row.state, row.closed_on, row.planned_at = "done", day, None
            elif outcome == "reached" and row.reason.startswith(CAMPAIGN_PREFIX):
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
    moment = as_utc(at)
    local = _local(moment)
    explanation = f"rappel prévu le {fr_date(local.date())} à {local:%H:%M}"
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
        callback = Reminder(patient_id=patient_id, reason=CALLBACK, due_date=local.date(),
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
                row.due_date, row.explanation_fr, row.note = local.date(), explanation, note
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
