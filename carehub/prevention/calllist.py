"""The day's call list: ordered in one SELECT, its lines built from a second one.

The order (priority, calling hours, call-backs) is read from the call queue, the stored
rows of each patient on the list (carehub.prevention.callqueue), so that a 50,000-patient
team list is one indexed query; the lines (phones, reasons, caregiver) come from one more
SELECT returning one row per patient with JSON arrays.
Re-exported by carehub.prevention.services (the contract's home of call_list).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import cache
from typing import Any

from sqlalchemy import bindparam, text
from sqlmodel import Session

from carehub.caseload.ids import PatientIds
from carehub.caseload.summary import PhoneLine, age_on, display_name, phone_line
from carehub.phones import format_phone
from carehub.prevention.callqueue import (
    MINE_SQL,
    ON_THE_LIST_SQL,
    ORDER_SQL,
    PACKED_ORDER_SQL,
    refresh_call_queue,
)
from carehub.prevention.engine import HISTORY_KINDS
from carehub.prevention.priority import _REASON_PRIORITY_SQL, _params, user_id
from carehub.prevention.rules import RuleSet, load_rules
from carehub.prevention.types import (
    ESCALATION_STEPS,
    CallListItem,
    ReasonLine,
    local,
)
from carehub.users.access import require_caseload_access

# Her active patients, or a page of them by id (`+` keeps SQLite off the status index).
_MINE_PAGE_SQL = ("p.id IN :only AND +p.care_manager_id = :manager AND +p.status = 'active' "
                  "AND p.deceased_date IS NULL")
ITEMS_SQL = f"""
SELECT p.id, p.ins, p.birth_name, p.used_name, p.given_names, p.sex, p.birth_date, p.email,
       p.preferred_channel, p.call_after, p.call_before, p.preferred_hours_note,
       p.deaf_or_hard_of_hearing, p.fragility_level, p.gp_name, p.gp_rpps,
       (SELECT json_group_array(json_array(r.id, r.reason, r.label_fr, r.due_date, r.state,
                                           r.planned_at, r.attempts, r.escalation,
                                           r.explanation_fr, {_REASON_PRIORITY_SQL},
                                           r.last_done, r.note))
          FROM reminder r WHERE r.patient_id = p.id AND {ON_THE_LIST_SQL}) AS reminders,
       (SELECT json_group_array(json_array(ph.e164, ph.kind, ph.label, ph.sms_consent,
                                           ph.needs_check))
          FROM (SELECT * FROM patient_phone ph WHERE ph.patient_id = p.id
                ORDER BY ph.position) AS ph) AS phones,
       (SELECT rp.name || coalesce(' (' || rp.relationship || ')', '') || char(9)
               || coalesce(rp.phone_e164, '')
          FROM related_person rp
         WHERE rp.patient_id = p.id
           AND (rp.is_caregiver OR rp.is_trusted_person OR rp.is_emergency_contact)
         ORDER BY rp.is_caregiver DESC, rp.is_trusted_person DESC, rp.name LIMIT 1) AS circle
  FROM patient p
 WHERE {{mine}}
"""


@dataclass(frozen=True)
class CallOrder:
    """The day's call list as ordered ids and priorities only: what a long list's item
    model needs first; its lines come page by page from `call_list_items`."""

    patient_ids: PatientIds
    priorities: list[int]
    due_dates: list[date]

    def __len__(self) -> int:
        return len(self.patient_ids)


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

    @property
    def name(self) -> str:
        return display_name(birth_name=self.birth_name, used_name=self.used_name,
                            given_names=self.given_names, sex=self.sex)


def _iso_date(value: str) -> date:
    return date.fromisoformat(value[:10])


def _iso_time(value: str | None) -> time | None:
    return time.fromisoformat(value[:8]) if value else None


def _iso_utc(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None


def now_local(now: datetime | None, as_of: date, ruleset: RuleSet) -> datetime:
    """`now` as local wall-clock time; by default now if `as_of` is today, else the rules'
    default call time that day."""
    if now is not None:
        return now if now.tzinfo is None else now.astimezone().replace(tzinfo=None)
    current = datetime.now()
    if current.date() == as_of:
        return current
    return datetime.combine(as_of, ruleset.settings.default_call_time)


@cache
def _text(sql: str, paged: bool) -> Any:
    """The statement of `sql`, built once (text() parses the SQL for its parameters)."""
    statement = text(sql.format(mine=_MINE_PAGE_SQL if paged else MINE_SQL,
                                only=" AND patient_id IN :only" if paged else ""))
    if ":stay_codes" in sql:
        statement = statement.bindparams(bindparam("stay_codes", expanding=True))
    if paged:
        statement = statement.bindparams(bindparam("only", expanding=True))
    return statement


def _statement(sql: str, only: Sequence[uuid.UUID] | None, params: dict[str, Any]) -> Any:
    if only is not None:
        params["only"] = [i.hex for i in only] or [""]
    return _text(sql, only is not None)


def _order_rows(session: Session, ruleset: RuleSet, manager: uuid.UUID, as_of: date,
                local_now: datetime, only: Sequence[uuid.UUID] | None = None) -> list[Any]:
    """The list's rows (id, priority, due, bucket, planned, available) in call order, read
    from her call queue brought up to date first (carehub.prevention.callqueue)."""
    refresh_call_queue(session, rules=ruleset, manager=manager, as_of=as_of)
    params = _params(ruleset, manager, as_of, local_now)
    return list(session.connection().execute(_statement(ORDER_SQL, only, params), params).all())


def _share(session: Session, ruleset: RuleSet, manager: uuid.UUID, as_of: date
           ) -> list[uuid.UUID]:
    """The day's share of her contact plan, rebuilt first (carehub.prevention.plan)."""
    from carehub.prevention.plan import rebuild_plans, share_ids

    rebuild_plans(session, as_of=as_of, managers=[manager], rules=ruleset)
    return [uuid.UUID(hex=pid) for pid in share_ids(session, manager=manager, day=as_of)]


def call_order(session: Session, *, user: str, as_of: date, now: datetime | None = None,
               rules: RuleSet | None = None, plan: bool = True) -> CallOrder:
    """The order of `call_list` (ids, priorities, earliest due dates) in one SELECT, for
    lists too long to build every line up front (`plan=False`: the whole backlog of a
    supervisor's 50,000 patients). The columns come back as one string each (ids end to
    end, JSON arrays): one Python object per column, not one row per patient."""
    require_caseload_access(session, owner=user, purpose="call list")
    ruleset = rules or load_rules()
    manager = user_id(session, user)
    if manager is None:
        return CallOrder(PatientIds([]), [], [])
    only = _share(session, ruleset, manager, as_of) if plan else None
    if only == []:
        return CallOrder(PatientIds([]), [], [])
    refresh_call_queue(session, rules=ruleset, manager=manager, as_of=as_of)
    params = _params(ruleset, manager, as_of, now_local(now, as_of, ruleset))
    ids, priorities, due_dates = session.connection().execute(
        _statement(PACKED_ORDER_SQL, only, params), params).one()
    if ids is None:
        return CallOrder(PatientIds([]), [], [])
    return CallOrder(PatientIds(ids), json.loads(priorities),
                     list(map(date.fromisoformat, json.loads(due_dates))))  # 'YYYY-MM-DD'


def call_list(session: Session, *, user: str, as_of: date, now: datetime | None = None,
              rules: RuleSet | None = None, plan: bool = True) -> list[CallListItem]:
    """The acting care manager's calls for `as_of`, in the order to make them: her contact
    plan's share of that day (carehub.prevention.plan; `plan=False`: every due patient).

    One line per patient (active patients she follows, not already reached that day), all
    due reasons grouped, most urgent first. Order: call-backs whose hour has come (by hour),
    then whoever can be called now by priority, then those to call later today by the hour
    they can be called (call_after, a call-back), then those whose calling window
    (call_before) has passed. `now` (default: the current time if `as_of` is today, else
    the rules' default_call_time) decides who can be called now.
    """
    require_caseload_access(session, owner=user, purpose="call list")
    ruleset = rules or load_rules()
    manager = user_id(session, user)
    if manager is None:
        return []
    local_now = now_local(now, as_of, ruleset)
    only = _share(session, ruleset, manager, as_of) if plan else None
    if only == []:
        return []
    order = _order_rows(session, ruleset, manager, as_of, local_now, only)
    return _items(session, ruleset, manager, as_of, local_now, order, only)


def call_list_items(session: Session, *, user: str, as_of: date,
                    patient_ids: Sequence[uuid.UUID], now: datetime | None = None,
                    rules: RuleSet | None = None) -> list[CallListItem]:
    """The call-list lines of these patients (a page of `call_order`), in list order;
    patients not on the list that day are left out."""
    require_caseload_access(session, owner=user, purpose="call list")
    ruleset = rules or load_rules()
    manager = user_id(session, user)
    if manager is None or not patient_ids:
        return []
    local_now = now_local(now, as_of, ruleset)
    found: list[CallListItem] = []
    ids = list(patient_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        order = _order_rows(session, ruleset, manager, as_of, local_now, only=chunk)
        found.extend(_items(session, ruleset, manager, as_of, local_now, order, chunk))
    rank = {pid: i for i, pid in enumerate(ids)}
    return sorted(found, key=lambda item: rank.get(item.patient_id, len(rank)))


def _items(session: Session, ruleset: RuleSet, manager: uuid.UUID, as_of: date,
           local_now: datetime, order: list[Any], only: Sequence[uuid.UUID] | None
           ) -> list[CallListItem]:
    """The lines of the ordered rows: one SELECT, one row per patient with her reminders
    and phones as JSON arrays and the person to call instead."""
    if not order:
        return []
    params = _params(ruleset, manager, as_of, local_now)
    rows = {row[0]: row for row in
            session.connection().execute(_statement(ITEMS_SQL, only, params), params)}
    items = []
    for pid, priority, _due, _bucket, _planned, available in order:
        row = rows.get(pid)
        if row is None:
            continue
        patient = _Patient(uuid.UUID(hex=pid), row[1], row[2], row[3], row[4], row[5],
                           _iso_date(row[6]), row[7], row[8], _iso_time(row[9]),
                           _iso_time(row[10]), row[11], bool(row[12]), row[13], row[14])
        usable: list[PhoneLine] = []
        flagged: list[PhoneLine] = []
        for e164, kind, label, sms, needs_check in json.loads(row[17]):
            line = phone_line(e164, kind=kind, label=label, sms_consent=bool(sms))
            (flagged if needs_check else usable).append(line)
        caregiver = None
        if row[18]:
            who, _, number = row[18].partition("\t")
            caregiver = f"{who} {format_phone(number)}" if number else who
        items.append(_item(ruleset, patient, json.loads(row[16]), tuple(usable),
                           tuple(flagged), caregiver, priority, _iso_time(available), as_of))
    return items


def channel(patient: _Patient, phones: tuple[PhoneLine, ...]) -> tuple[str, str | None]:
    """How to reach the patient and why not by phone (a deaf patient is not phoned)."""
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


def _item(ruleset: RuleSet, patient: _Patient, reminders: list[list[Any]],
          phones: tuple[PhoneLine, ...], to_check: tuple[PhoneLine, ...], caregiver: str | None,
          priority: int, available: time | None, as_of: date) -> CallListItem:
    lines = []
    for rid, reason, label, due, state, planned, attempts, escalation, text_fr, points, \
            last_done, note in reminders:
        rule = ruleset.rules.get(reason)
        due_date = _iso_date(due)
        lines.append(ReasonLine(
            reminder_id=uuid.UUID(hex=rid), code=reason,
            label_fr=label or (rule.label if rule else reason), due_date=due_date,
            overdue_days=max((as_of - due_date).days, 0), explanation_fr=text_fr,
            script_fr=rule.script if rule else (label or ""), state=state,
            planned_at=_iso_utc(planned), attempts=attempts, escalation=escalation,
            priority=points, note=note,
            history_unknown=last_done is None and rule is not None
            and rule.kind in HISTORY_KINDS))
    lines.sort(key=lambda r: (-r.priority, r.due_date, r.code))
    how, why = channel(patient, phones)
    planned_at = [r.planned_at for r in lines if r.state == "planned" and r.planned_at]
    escalations = [r.escalation for r in lines if r.escalation]
    return CallListItem(
        patient_id=patient.id, ins=patient.ins, name=patient.name,
        age=age_on(patient.birth_date, as_of), sex=patient.sex, phones=phones,
        channel=how, channel_reason_fr=why, call_after=patient.call_after,
        call_before=patient.call_before, reasons=tuple(lines),
        due_date=min(r.due_date for r in lines), priority=priority,
        planned_at=min(planned_at) if planned_at else None,
        attempts=max(r.attempts for r in lines),
        escalation=max(escalations, key=ESCALATION_STEPS.index) if escalations else None,
        caregiver=caregiver, email=patient.email, gp_name=patient.gp_name,
        fragility_level=patient.fragility_level, phones_to_check=to_check,
        hours_note=patient.hours_note, available_from=available)


def is_later_today(item: CallListItem, now: datetime) -> bool:
    """Whether the line waits for an hour later today (call_after, a call-back)."""
    return item.available_from is not None and item.available_from > now.time() \
        and (item.planned_at is None or local(item.planned_at) > now)
