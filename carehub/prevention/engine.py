"""The reminder engine: which reasons are due for whom at an as-of date, since when and why.

Two halves:
- gathering, set-wise in SQL: one SELECT per rule over every patient (or a given few),
  the last dates of the rule's acts by GROUP BY over fact_coding/clinical_fact, exclusions
  as NOT IN sets, plus the reminders closed "done" with their act's date;
- deciding, per gathered row, by the small `decide` function of the rule's kind (dates only,
  no database), shared with the naive evaluator (naive.py) that gathers the same evidence
  patient by patient through the ORM. The test oracle compares the two on the demo caseload.

Dates: "N months after D" is SQLite's date(D, '+N months') (the day overflows into the next
month: 31/08 + 6 months = 03/03), written `shift` here; aged >= N at D is shift(birth, 12N) <= D,
so someone born on 29 February comes of age on 1 March in common years (as age_on says).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, String, and_, func, or_, type_coerce, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from carehub.caseload.models import ClinicalFact, FactCoding, Patient
from carehub.caseload.summary import INACTIVE_CONDITION_STATUSES
from carehub.caseload.vocabulary import Concept, coding_condition, vocabulary
from carehub.prevention.models import Reminder
from carehub.prevention.rules import Act, Campaign, Rule, RuleSet, load_rules

NOT_DONE_STATUSES = ("not-done", "entered-in-error", "cancelled")
NEVER_TRUE_STATUSES = ("refuted", "entered-in-error", "not-done", "cancelled")
INACTIVE_CONDITIONS = tuple(sorted(INACTIVE_CONDITION_STATUSES))
PREGNANCY_MONTHS = 10
DERIVED_KINDS = ("interval", "seasonal", "fixed_ages", "doses", "age_bands", "discharge",
                 "new_arrival", "frailty")
FOLLOWED_STATUSES = ("active", "paused")  # closed and deceased patients get no reminder
SQL_CHUNK = 500


@dataclass(frozen=True)
class DueReason:
    code: str  # reason code from DOMAIN.md §1
    label_fr: str  # "Dépistage du cancer du sein"
    due_date: date  # since when it is due
    overdue_days: int  # (as_of - due_date).days, >= 0
    explanation_fr: str  # "dernière mammographie le 02/03/2024, à refaire tous les 2 ans"
    script_fr: str  # what the nurse says on the phone
    points: int = 0  # the rule's own priority points (base, plus "first" bonus)
    last_done: date | None = None  # the act the due date follows from, if any


# ------------------------------------------------------------------------------ dates


def shift(day: date, months: int) -> date:
    """SQLite's date(day, '+N months'): the day of month overflows into the next month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, 1) + timedelta(days=day.day - 1)


def aged_at_least(birth: date, years: int, as_of: date) -> bool:
    return shift(birth, 12 * years) <= as_of


def age_years(birth: date, as_of: date) -> int:
    before = (as_of.month, as_of.day) < (birth.month, birth.day)
    return as_of.year - birth.year - int(before)


def fr_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def fr_every(months: int) -> str:
    """'tous les 2 ans', 'tous les ans', 'tous les 6 mois'."""
    if months in (1, 12):
        return "tous les mois" if months == 1 else "tous les ans"
    return f"tous les {fr_months(months)}"


def fr_months(months: int) -> str:
    if months % 12 == 0:
        years = months // 12
        return f"{years} an" if years == 1 else f"{years} ans"
    return f"{months} mois"


# ------------------------------------------------------------------------------ evidence


@dataclass(frozen=True)
class PatientInfo:
    id: uuid.UUID
    sex: str
    birth_date: date
    fragility_level: int | None
    registered_on: date | None
    created_on: date
    has_gp: bool


@dataclass
class Evidence:
    """What the engine knows of one patient for one rule (gathered by SQL or by the ORM)."""

    patient: PatientInfo
    last: dict[str, date | None] = field(default_factory=dict)  # per act name
    done: date | None = None  # latest reminder of this rule closed "done" (the act's date)
    doses: int = 0  # distinct dated doses (vaccines), done reminders included
    last_dose: date | None = None
    risk_since: date | None = None  # earliest onset of an active at-risk condition
    discharge: date | None = None
    first: bool = False  # discharge: 75+, heart failure or COPD

    def latest_act(self) -> date | None:
        """The latest act or dose that counts for the rule (what settles a reminder)."""
        days = [d for d in (*self.last.values(), self.done, self.last_dose) if d is not None]
        return max(days, default=None)


# Rules whose acts may have been done before CareHub followed the patient (elsewhere).
HISTORY_KINDS = ("interval", "seasonal", "fixed_ages", "doses", "age_bands", "frailty")


def decide(rule: Rule, ev: Evidence, as_of: date) -> DueReason | None:
    """The rule's verdict for this evidence at `as_of` (None: nothing due).

    A reason that follows from the patient's history is due no earlier than the day she
    entered CareHub's follow-up (her registration, else her record's creation): before
    it, CareHub knew nothing of her, and "due for 24 years" would only say so.
    """
    verdict = _DECISIONS.get(rule.kind)
    reason = verdict(rule, ev, as_of) if verdict else None
    if reason is not None and rule.kind in HISTORY_KINDS:
        since = min(ev.patient.registered_on or ev.patient.created_on, as_of)
        if reason.due_date < since:
            reason = replace(reason, due_date=since, overdue_days=(as_of - since).days)
    return reason


def _reason(rule: Rule, due: date, as_of: date, explanation: str, *, last: date | None,
            points: int | None = None, script: str | None = None) -> DueReason | None:
    if due > as_of:
        return None
    return DueReason(code=rule.code, label_fr=rule.label, due_date=due,
                     overdue_days=(as_of - due).days, explanation_fr=explanation,
                     script_fr=script or rule.script,
                     points=rule.priority if points is None else points, last_done=last)


def _in_ages(rule: Rule, birth: date, as_of: date) -> bool:
    if rule.min_age is not None and not aged_at_least(birth, rule.min_age, as_of):
        return False
    return rule.max_age is None or not aged_at_least(birth, rule.max_age + 1, as_of)


def _interval(rule: Rule, ev: Evidence, as_of: date) -> DueReason | None:
    p = ev.patient
    if (rule.sex and p.sex != rule.sex) or not _in_ages(rule, p.birth_date, as_of):
        return None
    eligible = shift(p.birth_date, 12 * (rule.min_age or 0))
    best: tuple[date, Act, date] | None = None  # (next due, act, its last date)
    for index, act in enumerate(rule.acts):
        lasts = [ev.last.get(act.name)] + ([ev.done] if index == 0 else [])
        last = max((d for d in lasts if d is not None), default=None)
        if last is not None and (best is None or shift(last, act.every_months) > best[0]):
            best = (shift(last, act.every_months), act, last)
    if best is None:
        return _reason(rule, eligible, as_of, rule.never, last=None)
    following, act, last = best
    return _reason(rule, max(eligible, following), as_of,
                   f"{act.last_fr} le {fr_date(last)}, à refaire {fr_every(act.every_months)}",
                   last=last)


def _active_campaign(rule: Rule, as_of: date) -> tuple[Campaign, date, date] | None:
    return _campaign_on(rule.campaigns, as_of)


@lru_cache(maxsize=256)
def _campaign_on(campaigns: tuple[Campaign, ...], as_of: date
                 ) -> tuple[Campaign, date, date] | None:
    """The campaign running on `as_of` with its first and last day (asked per patient)."""
    for campaign in campaigns:
        window = campaign.window(as_of)
        if window:
            return campaign, window[0], window[1]
    return None


def _seasonal(rule: Rule, ev: Evidence, as_of: date) -> DueReason | None:
    found = _active_campaign(rule, as_of)
    if found is None:
        return None
    campaign, first, last_day = found
    p = ev.patient
    paths: list[date] = []
    min_age = campaign.min_age if campaign.min_age is not None else rule.min_age
    if min_age is not None and aged_at_least(p.birth_date, min_age, as_of):
        paths.append(shift(p.birth_date, 12 * min_age))
    if campaign.min_age is None and ev.risk_since is not None:
        paths.append(ev.risk_since)
    if not paths:
        return None
    due = max(first, min(paths))
    window = f"campagne du {fr_date(first)} au {fr_date(last_day)}"
    last = ev.last_dose
    if campaign.done_since is not None:
        since = campaign.season_start(first)
        if last is not None and last >= since:
            return None
        text = f"{window}, pas de vaccin depuis le {fr_date(since)}"
        if last is not None:
            text += f" (dernier le {fr_date(last)})"
        return _reason(rule, due, as_of, text, last=last)
    months = rule.months_since_last_dose or 0
    if rule.older_age is not None and aged_at_least(p.birth_date, rule.older_age, as_of) \
            and rule.older_months_since_last_dose is not None:
        months = rule.older_months_since_last_dose
    if last is None:
        return _reason(rule, due, as_of, f"{window}, aucune dose enregistrée", last=None)
    due = max(due, shift(last, months))
    return _reason(rule, due, as_of, f"{window}, dernière dose le {fr_date(last)} "
                   f"(au moins {fr_months(months)} avant la suivante)", last=last)


def fixed_age_reached(rule: Rule, age: int) -> int | None:
    """The latest fixed age (25, 45, 65, then every 10 years) reached at `age`."""
    if not rule.ages or age < rule.ages[0]:
        return None
    top = rule.ages[-1]
    if age >= top and rule.then_every_years:
        return top + ((age - top) // rule.then_every_years) * rule.then_every_years
    return max(a for a in rule.ages if a <= age)


def _fixed_ages(rule: Rule, ev: Evidence, as_of: date) -> DueReason | None:
    p = ev.patient
    fixed = fixed_age_reached(rule, age_years(p.birth_date, as_of))
    if fixed is None:
        return None
    due = shift(p.birth_date, 12 * fixed)
    recent_from = shift(p.birth_date, 12 * (fixed - (rule.recent_dose_years or 0)))
    last = ev.last_dose
    if last is not None and last >= recent_from:
        return None
    text = f"rappel des {fixed} ans (le {fr_date(due)})"
    text += f", dernier rappel le {fr_date(last)}" if last else ", aucun rappel enregistré"
    return _reason(rule, due, as_of, text, last=last)


def _doses(rule: Rule, ev: Evidence, as_of: date) -> DueReason | None:
    p = ev.patient
    if not _in_ages(rule, p.birth_date, as_of) or ev.doses >= rule.doses:
        return None
    eligible = shift(p.birth_date, 12 * (rule.min_age or 0))
    if ev.doses == 0 or ev.last_dose is None:
        return _reason(rule, eligible, as_of, "aucune dose enregistrée", last=None)
    due = max(eligible, shift(ev.last_dose, rule.months_between))
    text = (f"{ev.doses} dose sur {rule.doses}, la dernière le {fr_date(ev.last_dose)} ; "
            f"la suivante {fr_months(rule.months_between)} après")
    return _reason(rule, due, as_of, text, last=ev.last_dose)


def age_band(rule: Rule, age: int) -> tuple[int, int] | None:
    return next(((low, high) for low, high in rule.bands if low <= age <= high), None)


def _age_bands(rule: Rule, ev: Evidence, as_of: date) -> DueReason | None:
    p = ev.patient
    band = age_band(rule, age_years(p.birth_date, as_of))
    if band is None:
        return None
    start = shift(p.birth_date, 12 * band[0])
    lasts = [d for d in (*ev.last.values(), ev.done) if d is not None]
    if any(d >= start for d in lasts):
        return None
    return _reason(rule, start, as_of, f"tranche {band[0]}–{band[1]} ans : {rule.never}",
                   last=None)


def _discharge(rule: Rule, ev: Evidence, as_of: date) -> DueReason | None:
    if ev.discharge is None:
        return None
    deadline = ev.discharge + timedelta(days=rule.call_within_days)
    text = (f"sortie d'hospitalisation le {fr_date(ev.discharge)}, appeler au plus tard le "
            f"{fr_date(deadline)}")
    points = rule.priority
    if ev.first:
        text += " (prioritaire)"
        points += rule.first_bonus
    return _reason(rule, ev.discharge, as_of, text, last=ev.discharge, points=points)


def _new_arrival(rule: Rule, ev: Evidence, as_of: date) -> DueReason | None:
    p = ev.patient
    registered = p.registered_on
    if registered is None or not (as_of - timedelta(days=rule.keep_days) <= registered):
        return None
    deadline = registered + timedelta(days=rule.call_within_days)
    text = f"inscrit(e) le {fr_date(registered)}, appel de bienvenue avant le {fr_date(deadline)}"
    script = rule.script
    if not p.has_gp:
        text += " ; pas de médecin traitant"
        if rule.no_gp_script:
            script = f"{script} {rule.no_gp_script}"
    return _reason(rule, registered, as_of, text, last=None, script=script)


def _frailty(rule: Rule, ev: Evidence, as_of: date) -> DueReason | None:
    p = ev.patient
    paths: list[date] = []
    if rule.min_age is not None and aged_at_least(p.birth_date, rule.min_age, as_of):
        paths.append(shift(p.birth_date, 12 * rule.min_age))
    if rule.min_fragility_level is not None and p.fragility_level is not None \
            and p.fragility_level >= rule.min_fragility_level:
        paths.append(p.registered_on or p.created_on)
    if not paths:
        return None
    eligible = min(paths)
    lasts = [d for d in (*ev.last.values(), ev.done) if d is not None]
    last = max(lasts, default=None)
    if last is None:
        return _reason(rule, eligible, as_of, rule.never, last=None)
    due = max(eligible, shift(last, rule.every_months))
    return _reason(rule, due, as_of, f"dernier repérage le {fr_date(last)}, à refaire "
                   f"{fr_every(rule.every_months)}", last=last)


_DECISIONS: dict[str, Callable[[Rule, Evidence, date], DueReason | None]] = {
    "interval": _interval, "seasonal": _seasonal, "fixed_ages": _fixed_ages, "doses": _doses,
    "age_bands": _age_bands, "discharge": _discharge, "new_arrival": _new_arrival,
    "frailty": _frailty,
}


# ------------------------------------------------------------------------------ SQL gathering


def _status(column: Any) -> ColumnElement[str]:
    return func.lower(func.coalesce(column, ""))


def _hex(column: Any) -> Any:
    return type_coerce(column, String())


class _Gatherer:
    """One SELECT per rule over the followed patients (all, or the `ids` given)."""

    def __init__(self, session: Session, as_of: date, ids: Sequence[uuid.UUID] | None) -> None:
        self.session = session
        self.as_of = as_of
        self.ids = list(ids) if ids is not None else None
        self.patients = self._patients()
        self.ages = {pid: age_years(p.birth_date, as_of) for pid, p in self.patients.items()}

    def _scope(self, column: Any) -> list[ColumnElement[bool]]:
        return [col(column).in_(self.ids)] if self.ids is not None else []

    def _patients(self) -> dict[str, PatientInfo]:
        query = (sa_select(_hex(Patient.id), col(Patient.sex), col(Patient.birth_date),
                           col(Patient.fragility_level), col(Patient.registered_on),
                           col(Patient.created_at), col(Patient.gp_rpps), col(Patient.gp_name))
                 .where(col(Patient.status).in_(FOLLOWED_STATUSES),
                        col(Patient.deceased_date).is_(None), *self._scope(Patient.id)))
        found = {}
        for hex_id, sex, birth, level, registered, created, rpps, gp in \
                self.session.execute(query):
            found[hex_id] = PatientInfo(
                id=uuid.UUID(hex=hex_id), sex=sex, birth_date=birth, fragility_level=level,
                registered_on=registered, created_on=_day(created), has_gp=bool(rpps or gp))
        return found

    def facts(self, concept: Concept, kinds: Sequence[str], *, act: Act | None = None
              ) -> Any:
        """(patient hex, date) of dated facts of `concept` up to the as-of date.

        The fact's kind, status and dates are read from its codings' copies (FactCoding),
        from ix_coding_cohort alone: looking each fact up cost seconds per rule for a
        50,000-patient team. Only a result filter needs the fact itself.
        """
        coding = FactCoding
        query = (sa_select(_hex(coding.patient_id).label("pid"),
                           col(coding.start_date).label("day"))
                 .where(coding_condition(concept), col(coding.kind).in_(kinds),
                        col(coding.start_date).is_not(None),
                        col(coding.start_date) <= self.as_of,
                        _status(coding.status).not_in(NOT_DONE_STATUSES),
                        *self._scope(coding.patient_id)))
        if act is not None and act.not_results:
            query = query.join(ClinicalFact, col(ClinicalFact.id) == coding.fact_id).where(
                _status(ClinicalFact.value_text).not_in(act.not_results))
        if act is not None and act.from_age is not None:
            query = query.join(Patient, col(Patient.id) == coding.patient_id).where(
                col(coding.start_date) >= func.date(Patient.birth_date,
                                                    f"+{act.from_age} years"))
        return query

    def done(self, rule: Rule) -> Any:
        return (sa_select(_hex(Reminder.patient_id).label("pid"),
                          col(Reminder.closed_on).label("day"))
                .where(col(Reminder.reason) == rule.code, col(Reminder.state) == "done",
                       col(Reminder.closed_on).is_not(None),
                       col(Reminder.closed_on) <= self.as_of, *self._scope(Reminder.patient_id)))

    def latest(self, query: Any) -> dict[str, date]:
        sub = query.subquery()
        grouped = sa_select(sub.c.pid, func.max(sub.c.day)).group_by(sub.c.pid)
        return {pid: _as_date(day) for pid, day in self.session.execute(grouped)}

    def count_and_latest(self, query: Any) -> dict[str, tuple[int, date]]:
        sub = query.subquery()
        grouped = sa_select(sub.c.pid, func.count(sub.c.day.distinct()),
                            func.max(sub.c.day)).group_by(sub.c.pid)
        return {pid: (n, _as_date(day)) for pid, n, day in self.session.execute(grouped)}

    def having(self, concept: Concept) -> set[str]:
        """Patients with any record of `concept` by the as-of date (exclusions: history)."""
        coding = FactCoding
        query = (sa_select(_hex(coding.patient_id))
                 .where(coding_condition(concept),
                        or_(col(coding.start_date).is_(None),
                            col(coding.start_date) <= self.as_of),
                        _status(coding.status).not_in(NEVER_TRUE_STATUSES),
                        *self._scope(coding.patient_id)).distinct())
        return set(self.session.execute(query).scalars())

    def active_since(self, concepts: Sequence[Concept], *, pregnancy: bool) -> dict[str, date]:
        """Earliest onset of a condition among `concepts` active at the as-of date (and of an
        active pregnancy when asked); undated onsets count as date.min."""
        as_of = self.as_of
        start, end = col(FactCoding.start_date), col(FactCoding.end_date)
        active = and_(col(FactCoding.kind) == "condition",
                      or_(start.is_(None), start <= as_of), or_(end.is_(None), end > as_of),
                      _status(FactCoding.status).not_in(INACTIVE_CONDITIONS))
        parts: list[Any] = []
        base = sa_select(_hex(FactCoding.patient_id).label("pid"),
                         func.coalesce(start, date.min).label("day"))
        if concepts:
            merged = or_(*(coding_condition(c) for c in concepts))
            parts.append(base.where(merged, active, *self._scope(FactCoding.patient_id)))
        if pregnancy:
            began_after = _months_back(as_of, PREGNANCY_MONTHS)
            parts.append(base.where(coding_condition(vocabulary().concept("pregnant")), active,
                                    start > began_after, end.is_(None),
                                    *self._scope(FactCoding.patient_id)))
        if not parts:
            return {}
        sub = union_all(*parts).subquery()
        grouped = sa_select(sub.c.pid, func.min(sub.c.day)).group_by(sub.c.pid)
        return {pid: _as_date(day) for pid, day in self.session.execute(grouped)}

    def discharges(self, rule: Rule) -> dict[str, date]:
        assert rule.concept is not None
        first = self.as_of - timedelta(days=rule.keep_days)
        end = col(FactCoding.end_date)
        query = (sa_select(_hex(FactCoding.patient_id).label("pid"), end.label("day"))
                 .where(coding_condition(rule.concept), col(FactCoding.kind) == "encounter",
                        end.is_not(None), end >= first, end <= self.as_of,
                        _status(FactCoding.status).not_in(NOT_DONE_STATUSES),
                        *self._scope(FactCoding.patient_id)))
        return self.latest(query)

    # -- evidence per rule

    def may_apply(self, rule: Rule, pid: str, risk: dict[str, date]) -> bool:
        """A cheap test by age, sex and fragility that `decide` could say due: the others
        get no evidence built (most of the work for 50,000 patients)."""
        age = self.ages[pid]
        if rule.kind in ("interval", "doses"):
            info = self.patients[pid]
            return not (rule.sex and info.sex != rule.sex) and (
                rule.min_age is None or age >= rule.min_age) and (
                rule.max_age is None or age <= rule.max_age)
        if rule.kind == "fixed_ages":
            return bool(rule.ages) and age >= rule.ages[0]
        if rule.kind == "age_bands":
            return age_band(rule, age) is not None
        if rule.kind == "seasonal":
            found = _active_campaign(rule, self.as_of)
            if found is None:
                return False
            low = found[0].min_age if found[0].min_age is not None else rule.min_age
            return (low is not None and age >= low) or (found[0].min_age is None
                                                          and pid in risk)
        if rule.kind == "frailty":
            level = self.patients[pid].fragility_level
            return (rule.min_age is not None and age >= rule.min_age) or (
                rule.min_fragility_level is not None and level is not None
                and level >= rule.min_fragility_level)
        return True

    def evidence(self, rule: Rule) -> Iterable[Evidence]:
        patients = self.patients
        if rule.kind == "interval":
            excluded: set[str] = set()
            for concept in rule.exclude:
                excluded |= self.having(concept)
            lasts = {act.name: self.latest(self.facts(act.concept, act.kinds, act=act))
                     for act in rule.acts}
            done = self.latest(self.done(rule))
            for pid, info in patients.items():
                if pid in excluded or not self.may_apply(rule, pid, {}):
                    continue
                yield Evidence(info, last={n: v.get(pid) for n, v in lasts.items()},
                               done=done.get(pid))
        elif rule.kind in ("seasonal", "fixed_ages", "doses"):
            if rule.kind == "seasonal" and _active_campaign(rule, self.as_of) is None:
                return
            assert rule.concept is not None
            doses = self.count_and_latest(union_all(
                self.facts(rule.concept, ("immunization",)), self.done(rule)))
            risk = (self.active_since(rule.at_risk_conditions, pregnancy=rule.at_risk_pregnant)
                    if rule.kind == "seasonal" else {})
            for pid, info in patients.items():
                if not self.may_apply(rule, pid, risk):
                    continue
                count, last = doses.get(pid, (0, None))
                yield Evidence(info, doses=count, last_dose=last, risk_since=risk.get(pid))
        elif rule.kind in ("age_bands", "frailty"):
            lasts = {act.name: self.latest(self.facts(act.concept, act.kinds, act=act))
                     for act in rule.acts}
            done = self.latest(self.done(rule))
            for pid, info in patients.items():
                if not self.may_apply(rule, pid, {}):
                    continue
                yield Evidence(info, last={n: v.get(pid) for n, v in lasts.items()},
                               done=done.get(pid))
        elif rule.kind == "discharge":
            found = self.discharges(rule)
            if not found:
                return
            first = self.active_since(rule.first_conditions, pregnancy=False) \
                if rule.first_conditions else {}
            for pid, day in found.items():
                stayed = patients.get(pid)
                if stayed is None:
                    continue
                older = rule.first_min_age is not None and aged_at_least(
                    stayed.birth_date, rule.first_min_age, self.as_of)
                yield Evidence(stayed, discharge=day, first=older or pid in first)
        elif rule.kind == "new_arrival":
            for info in patients.values():
                if info.registered_on is not None:
                    yield Evidence(info)


def _day(moment: datetime | date | str) -> date:
    if isinstance(moment, datetime):
        return moment.date()
    if isinstance(moment, date):
        return moment
    return date.fromisoformat(moment[:10])


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _months_back(day: date, months: int) -> date:
    return shift(day, -months)


def sort_reasons(reasons: list[DueReason]) -> list[DueReason]:
    """Most urgent first: the rule's points plus the days overdue, then the code."""
    return sorted(reasons, key=lambda r: (-(r.points + min(r.overdue_days, 365)), r.code))


@dataclass(frozen=True)
class Assessment:
    """The engine's answer for a set of patients at one date."""

    due: dict[uuid.UUID, list[DueReason]]  # most urgent first
    latest_act: dict[tuple[uuid.UUID, str], date]  # (patient, rule) -> latest counting act
    followed: frozenset[uuid.UUID]  # patients evaluated (active or paused, not deceased)


def assess(session: Session, *, as_of: date, rules: RuleSet | None = None,
           patient_ids: Sequence[uuid.UUID] | None = None) -> Assessment:
    """Every due reason of every followed patient (or of `patient_ids`)."""
    ruleset = rules or load_rules()
    found: dict[uuid.UUID, list[DueReason]] = {}
    latest: dict[tuple[uuid.UUID, str], date] = {}
    followed: set[uuid.UUID] = set()
    chunks: list[Sequence[uuid.UUID] | None]
    if patient_ids is None:
        chunks = [None]
    else:
        ids = list(patient_ids)
        chunks = [ids[i:i + SQL_CHUNK] for i in range(0, len(ids), SQL_CHUNK)]
    for chunk in chunks:
        gatherer = _Gatherer(session, as_of, chunk)
        followed.update(p.id for p in gatherer.patients.values())
        for rule in ruleset.rules.values():
            if rule.kind not in DERIVED_KINDS:
                continue
            for evidence in gatherer.evidence(rule):
                act = evidence.latest_act()
                if act is not None:
                    latest[(evidence.patient.id, rule.code)] = act
                reason = decide(rule, evidence, as_of)
                if reason is not None:
                    found.setdefault(evidence.patient.id, []).append(reason)
    return Assessment(due={pid: sort_reasons(r) for pid, r in found.items()},
                      latest_act=latest, followed=frozenset(followed))


def compute_due(session: Session, *, as_of: date, rules: RuleSet | None = None,
                patient_ids: Sequence[uuid.UUID] | None = None
                ) -> dict[uuid.UUID, list[DueReason]]:
    """Every due reason of every followed patient (or of `patient_ids`), most urgent first."""
    return assess(session, as_of=as_of, rules=rules, patient_ids=patient_ids).due


def due_reasons(session: Session, *, patient_id: uuid.UUID, as_of: date,
                rules: RuleSet | None = None) -> list[DueReason]:
    """The reasons due for one patient at `as_of`, most urgent first (from the facts)."""
    return compute_due(session, as_of=as_of, rules=rules, patient_ids=[patient_id]).get(
        patient_id, [])




# ------------------------------------------------------------------------------ coverage


def coverage_day(rule: Rule, as_of: date) -> date:
    """The day a rule's coverage is measured for `as_of`: that day itself, except for a
    seasonal rule outside its campaign, measured on the last day of the latest campaign."""
    if rule.kind != "seasonal" or _active_campaign(rule, as_of) is not None:
        return as_of
    ends = []
    for campaign in rule.campaigns:
        for year in (as_of.year - 2, as_of.year - 1, as_of.year):
            last = date(year + (1 if campaign.end < campaign.start else 0), *campaign.end)
            if last <= as_of:
                ends.append(last)
    return max(ends, default=as_of)


def _eligible(rule: Rule, ev: Evidence, as_of: date) -> bool:
    """Whether the rule concerns this patient at `as_of` (due or up to date), the same tests
    `decide` makes before looking at dates."""
    p = ev.patient
    if rule.kind == "interval":
        return not (rule.sex and p.sex != rule.sex) and _in_ages(rule, p.birth_date, as_of)
    if rule.kind == "seasonal":
        found = _active_campaign(rule, as_of)
        if found is None:
            return False
        campaign = found[0]
        min_age = campaign.min_age if campaign.min_age is not None else rule.min_age
        return (min_age is not None and aged_at_least(p.birth_date, min_age, as_of)) or (
            campaign.min_age is None and ev.risk_since is not None)
    return True


@dataclass(frozen=True)
class Coverage:
    """Who a rule concerns at a date, and who of them is not due (up to date)."""

    code: str
    as_of: date
    eligible: frozenset[uuid.UUID]
    up_to_date: frozenset[uuid.UUID]


def coverage(session: Session, *, as_of: date, codes: Sequence[str],
             rules: RuleSet | None = None,
             patient_ids: Sequence[uuid.UUID] | None = None) -> dict[str, Coverage]:
    """Every followed patient (or of `patient_ids`) a rule concerns at `as_of` (see
    `coverage_day`), and those of them it finds up to date: the gathering of `assess`,
    one SELECT per rule."""
    ruleset = rules or load_rules()
    found: dict[str, Coverage] = {}
    gatherers: dict[date, _Gatherer] = {}
    for code in codes:
        rule = ruleset.rules[code]
        day = coverage_day(rule, as_of)
        gatherer = gatherers.get(day) or gatherers.setdefault(
            day, _Gatherer(session, day, patient_ids))
        eligible: set[uuid.UUID] = set()
        current: set[uuid.UUID] = set()
        for evidence in gatherer.evidence(rule):
            if not _eligible(rule, evidence, day):
                continue
            eligible.add(evidence.patient.id)
            if decide(rule, evidence, day) is None:
                current.add(evidence.patient.id)
        found[code] = Coverage(code=code, as_of=day, eligible=frozenset(eligible),
                               up_to_date=frozenset(current))
    return found
