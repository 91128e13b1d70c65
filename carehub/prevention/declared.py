"""Acts done outside CareHub, as the patient (a letter, the DMP) says: declared facts.

"Mammographie faite en mars 2025", "vaccin grippe à la pharmacie le 20/10", "ne sait
pas": during a call or at a new patient's intake, the nurse records what was done
elsewhere with an approximate date (a day, a month or a year) and its source. A known act
becomes a clinical fact of its own provenance (source_system urn:carehub:declared:<source>,
the precision and source in its text), audited; it settles the open reminder of that
reason (done on the act's date, the provenance in its note, audited and queued for the hub
like any reminder change) and the reminders are recomputed for the patient, so the next
cycle starts from the rule as after an imported act. "Ne sait pas" settles nothing: it is
noted on the reminder (audited, synced) so that the list says it was asked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from carehub.caseload.models import ClinicalFact, FactCoding
from carehub.caseload.services import get_patient
from carehub.changes import log_changes
from carehub.coordination.audit import Change
from carehub.errors import InputError
from carehub.prevention.engine import HISTORY_KINDS, fr_date
from carehub.prevention.models import OPEN_STATES, Reminder
from carehub.prevention.recompute import recompute_reminders
from carehub.prevention.reminder_rows import log_reminder_changes
from carehub.prevention.rules import Rule, RuleSet, load_rules
from carehub.timeutil import utcnow
from carehub.users.access import require_patient_access

Source = Literal["patient", "letter", "dmp"]
SOURCE_LABELS_FR: dict[str, str] = {"patient": "déclaré par le patient",
                                    "letter": "courrier", "dmp": "DMP"}
Precision = Literal["day", "month", "year"]
PRECISIONS: tuple[Precision, ...] = ("day", "month", "year")
DECLARED_SYSTEM = "urn:carehub:declared"
MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
             "septembre", "octobre", "novembre", "décembre")
_VACCINE_KINDS = ("seasonal", "fixed_ages", "doses")


@dataclass(frozen=True)
class DeclarableAct:
    """What may be declared for a reason: the act, the fact kind and the code it is kept as."""

    reason: str
    label_fr: str  # the reason's label: "Dépistage du cancer du sein"
    act_fr: str  # "Mammographie", "Vaccin"
    kind: str  # procedure, immunization, observation...
    system: str | None  # None: the rule names no code (settled by its reminder only)
    code: str | None


def _first_code(codes: dict[str, tuple[str, ...]]) -> tuple[str, str] | None:
    for system, values in codes.items():
        for value in values:
            if not value.endswith("*"):
                return system, value
    return None


def _declarable(rule: Rule) -> DeclarableAct | None:
    if rule.kind not in HISTORY_KINDS:
        return None
    if rule.kind in _VACCINE_KINDS:
        if rule.concept is None:
            return None
        found = _first_code(rule.concept.codes)
        return DeclarableAct(rule.code, rule.label, rule.label, "immunization", *found) \
            if found else None
    for act in rule.acts:
        found = _first_code(act.concept.codes)
        if found and act.kinds:
            return DeclarableAct(rule.code, rule.label, act.label, act.kinds[0], *found)
    # No code for it in the rules (Mon bilan prévention, the frailty screening): the fact
    # keeps the provenance and a reminder closed "done" on its date is what counts.
    return DeclarableAct(rule.code, rule.label, rule.label, "procedure", None, None)


def declarable_acts(rules: RuleSet | None = None) -> list[DeclarableAct]:
    """Every reason an act done elsewhere may settle, in the rules' order."""
    ruleset = rules or load_rules()
    return [d for d in map(_declarable, ruleset.rules.values()) if d is not None]


def approximate_date_fr(on: date, precision: Precision) -> str:
    """'le 20/10/2026', 'en mars 2025', 'en 2019'."""
    if precision == "year":
        return f"en {on.year}"
    if precision == "month":
        return f"en {MONTHS_FR[on.month - 1]} {on.year}"
    return f"le {fr_date(on)}"


def approximate(on: date, precision: Precision) -> date:
    """The day an approximate date is kept as: its first (the cycle starts no later)."""
    if precision == "year":
        return date(on.year, 1, 1)
    if precision == "month":
        return on.replace(day=1)
    return on


@dataclass(frozen=True)
class DeclaredResult:
    fact_id: uuid.UUID | None  # None: "ne sait pas"
    settled: tuple[uuid.UUID, ...]  # reminders closed as done by it
    noted: tuple[uuid.UUID, ...]  # reminders the answer was noted on
    next_due: date | None  # the next cycle's due date when it is already due


def record_declared_act(session: Session, *, patient_id: uuid.UUID, reason: str,
                        actor: str, on: date | None = None, precision: Precision = "day",
                        source: str = "patient", known: bool = True,
                        as_of: date | None = None,
                        rules: RuleSet | None = None) -> DeclaredResult:
    """Record an act done outside CareHub (or that the patient does not know), in the
    caller's transaction: see the module's docstring."""
    ruleset = rules or load_rules()
    today = as_of or date.today()
    patient = get_patient(session, patient_id=patient_id)
    require_patient_access(session, patient_id=patient_id, purpose="declared act")
    rule = ruleset.rules.get(reason)
    act = _declarable(rule) if rule is not None else None
    if act is None:
        raise InputError(f"{reason!r} is not a reason an act done elsewhere can settle.",
                         f"« {reason} » ne se règle pas par un acte fait ailleurs.")
    if source not in SOURCE_LABELS_FR:
        raise InputError(f"Unknown source {source!r}; one of {', '.join(SOURCE_LABELS_FR)}.",
                         f"Source inconnue « {source} ».")
    if precision not in PRECISIONS:
        raise InputError(f"Unknown precision {precision!r}; one of day, month, year.",
                         f"Précision de date inconnue « {precision} ».")
    open_rows = list(session.execute(sa_select(Reminder).where(
        col(Reminder.patient_id) == patient_id, col(Reminder.reason) == reason,
        col(Reminder.state).in_(OPEN_STATES))).scalars())
    now = utcnow()
    label = SOURCE_LABELS_FR[source]
    if not known:
        note = f"{label} : ne sait pas (demandé le {fr_date(today)})"
        for row in open_rows:
            row.note, row.updated_at = note, now
        session.flush()
        log_reminder_changes(session, actor, [
            (r, "update", {"declared": "unknown", "source": source}) for r in open_rows])
        return DeclaredResult(None, (), tuple(r.id for r in open_rows), None)
    if on is None:
        raise InputError("A declared act needs its date (a month and a year are enough).",
                         "Indiquez la date de l'acte (le mois et l'année suffisent).")
    day = approximate(on, precision)
    if approximate(today, precision) < day:
        raise InputError("A declared act cannot be in the future.",
                         "Un acte déclaré ne peut pas être dans le futur.")
    if day < approximate(patient.birth_date, precision):
        raise InputError("A declared act cannot be before the patient's birth.",
                         "Un acte déclaré ne peut pas précéder la naissance du patient.")
    when = approximate_date_fr(day, precision)
    fact = ClinicalFact(patient_id=patient_id, kind=act.kind, status="completed",
                        start_date=day, display=f"{act.act_fr} {when} ({label})"[:300],
                        source_system=f"{DECLARED_SYSTEM}:{source}")
    fact.source_id = str(fact.id)
    session.add(fact)
    session.flush()
    if act.system is not None and act.code is not None:
        session.add(FactCoding.of(fact, system=act.system, code=act.code, display=act.act_fr))
    log_changes(session, [Change(actor, "clinical_fact", str(fact.id), "create", {
        "patient_id": str(patient_id), "reason": reason, "kind": act.kind,
        "system": act.system, "code": act.code, "date": day.isoformat(),
        "precision": precision, "source": source, "declared": True})])
    settled = [r for r in open_rows if r.last_done is None or day > r.last_done]
    before = {r.id: r.state for r in settled}
    note = f"{label} : {act.act_fr.lower()} {when}"
    for row in settled:
        row.state, row.closed_on, row.planned_at = "done", day, None
        row.note, row.updated_at = note, now
    session.flush()
    changed = [(r, "update", {"from_state": before[r.id], "declared": True,
                              "fact_id": str(fact.id), "source": source}) for r in settled]
    if act.code is None and not open_rows:
        # Nothing but a settled reminder tells the engine: one closed on the act's day.
        row = Reminder(patient_id=patient_id, reason=reason, due_date=day, state="done",
                       closed_on=day, last_done=None, note=note,
                       explanation_fr=f"{act.act_fr} {when} ({label})"[:400],
                       created_at=now, updated_at=now)
        session.add(row)
        session.flush()
        settled.append(row)
        changed.append((row, "create", {"declared": True, "fact_id": str(fact.id),
                                        "source": source}))
    log_reminder_changes(session, actor, changed)
    recompute_reminders(session, as_of=today, actor=actor, patient_ids=[patient_id],
                        rules=ruleset)
    following = session.execute(sa_select(col(Reminder.due_date)).where(
        col(Reminder.patient_id) == patient_id, col(Reminder.reason) == reason,
        col(Reminder.state).in_(OPEN_STATES))).scalar()
    return DeclaredResult(fact.id, tuple(r.id for r in settled), (), following)
