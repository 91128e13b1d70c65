"""The SQL of a patient's priority, shared by the day's call list and the contact plan
(carehub.prevention.calllist, carehub.prevention.plan), and the parameters it takes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from carehub.prevention.rules import RuleSet
from carehub.prevention.types import day_bounds
from carehub.users.models import User


def user_id(session: Session, user: str) -> uuid.UUID | None:
    found = session.execute(sa_select(col(User.id)).where(col(User.name) == user)).first()
    return found[0] if found else None


# The patients back from a stay: one pass over ix_coding_cohort (the codings carry their
# fact's kind and dates), a set probed per patient, never a fact row read.
_RECENT_STAY_SQL = """p.id IN (
    SELECT c.patient_id FROM fact_coding c
     WHERE c.system = :stay_system AND c.code IN :stay_codes AND c.kind = 'encounter'
       AND c.end_date >= :recent_from AND c.end_date <= :as_of)"""
# A reminder's own priority: the rule's points, a point per day overdue (capped), and the
# bonuses of an escalation and of a promised call-back whose hour has come. The part that
# does not depend on the hour (_REASON_BASE_SQL) is what the call queue stores.
_CALLBACK_SQL = "(r.state = 'planned' AND r.reason = 'followup.callback')"
_REASON_BASE_SQL = """(r.points
    + min(max(CAST(julianday(:as_of) - julianday(r.due_date) AS INTEGER), 0), :cap) * :per_day
    + CASE WHEN r.escalation IS NOT NULL THEN :w_escalation ELSE 0 END)"""
_REASON_PRIORITY_SQL = f"""({_REASON_BASE_SQL}
    + CASE WHEN {_CALLBACK_SQL} AND r.planned_at <= :now_utc THEN :w_planned ELSE 0 END)"""
_AGE_SQL = """(CAST(substr(:as_of, 1, 4) AS INTEGER) - CAST(substr(p.birth_date, 1, 4) AS INTEGER)
    - (substr(:as_of, 6, 5) < substr(p.birth_date, 6, 5)))"""


def stored(moment: datetime) -> str:
    """A UTC moment as SQLite holds it, for comparisons in hand-written SQL."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _stay_codes(ruleset: RuleSet) -> tuple[str, list[str]]:
    rule = next((r for r in ruleset.rules.values() if r.kind == "discharge"), None)
    if rule is None or rule.concept is None:
        return "", [""]
    system, codes = next(iter(rule.concept.codes.items()))
    return system, [c for c in codes if not c.endswith("*")] or [""]


def _params(ruleset: RuleSet, manager: uuid.UUID, as_of: date, local_now: datetime
            ) -> dict[str, Any]:
    day_start, day_end = day_bounds(as_of)
    system, codes = _stay_codes(ruleset)
    weights = ruleset.priority
    return {
        "manager": manager.hex, "as_of": as_of.isoformat(), "day_start": stored(day_start),
        "day_end": stored(day_end), "stay_system": system, "stay_codes": codes,
        "recent_from": (as_of - timedelta(days=ruleset.settings.recent_stay_days)).isoformat(),
        "now_utc": stored(local_now.astimezone()), "now_time": local_now.strftime("%H:%M:%S"),
        "cap": weights.overdue_days_cap, "per_day": weights.per_overdue_day,
        "w_escalation": weights.escalation, "w_planned": weights.planned_callback,
        "w_fragility": weights.per_fragility_level, "w_age85": weights.age_85,
        "w_age75": weights.age_75, "w_recent": weights.recent_stay,
        "w_other": weights.per_other_reason,
    }
