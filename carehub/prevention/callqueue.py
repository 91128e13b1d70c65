"""The call queue: one stored row per patient on a care manager's call list, so that the
day's order of a 50,000-patient team is read from an index instead of being computed
over every reminder, phone, call and stay on each reading.

A row holds what the order reads that does not depend on the hour: the priority's parts
(the reasons' points and days overdue, fragility, age, a recent stay, other reasons; the
call-backs whose bonus starts at their hour), the earliest due date and call-back, the
calling hours and whether she is phoned. The hour's part (who can be called now, the
call-backs whose hour has come) is applied when the rows are read (`ORDER_SQL`).

Derived data, rebuilt from the database (migration 0015): a care manager's rows are
built for one day and set of rules (`call_queue_state.digest`), and triggers put a
patient in `call_queue_stale` whenever her record, a phone, a reminder, a call or SMS,
or a stay coding of hers is written (a recompute, an outcome, an import, a sync).
`refresh_call_queue`, run before every reading in the reader's transaction, rebuilds the
whole list when the day or rules changed, else only the stale patients' rows.
"""

from __future__ import annotations

import hashlib
import time as clock
import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from carehub.prevention.priority import (
    _AGE_SQL,
    _CALLBACK_SQL,
    _REASON_BASE_SQL,
    _RECENT_STAY_SQL,
    _params,
)
from carehub.prevention.rules import RuleSet

# Reminders to act on at :as_of (r = reminder): due; planned for that day or before;
# postponed until then; unreachable with an escalation step to take.
ON_THE_LIST_SQL = """(
    (r.state = 'due' AND r.due_date <= :as_of)
 OR (r.state = 'planned' AND r.planned_at < :day_end)
 OR (r.state = 'postponed' AND r.postponed_until <= :as_of)
 OR (r.state = 'unreachable' AND r.escalation IS NOT NULL))"""
# Her active patients: by the care-manager index (`+` keeps SQLite off the status index,
# which would scan every active patient of the database); or the stale ones, by id (`+`
# keeps it off the care-manager index, which would read all of hers).
MINE_SQL = "p.care_manager_id = :manager AND +p.status = 'active' AND p.deceased_date IS NULL"
_STALE_SQL = ("p.id IN (SELECT patient_id FROM call_queue_stale) AND +p.care_manager_id = "
              ":manager AND +p.status = 'active' AND p.deceased_date IS NULL")
_NOT_REACHED_SQL = """NOT EXISTS (
    SELECT 1 FROM coordination_action a
     WHERE a.patient_id = p.id AND a.at >= :day_start AND a.at < :day_end
       AND a.type IN ('call', 'sms') AND a.outcome = 'reached')"""
# Phoned, unless deaf, or preferring SMS (with a mobile that may receive them), e-mail (with
# an address), a letter or a visit, or with no number left to call: what `channel` says.
_PHONED_SQL = """(NOT p.deaf_or_hard_of_hearing
    AND NOT (p.preferred_channel = 'sms' AND EXISTS (
        SELECT 1 FROM patient_phone ph WHERE ph.patient_id = p.id AND ph.kind = 'mobile'
           AND ph.sms_consent AND NOT ph.needs_check))
    AND NOT (p.preferred_channel = 'email' AND p.email IS NOT NULL)
    AND p.preferred_channel NOT IN ('letter', 'visit')
    AND EXISTS (SELECT 1 FROM patient_phone ph WHERE ph.patient_id = p.id
                   AND NOT ph.needs_check))"""
# The rows of her patients on the list that day ({mine}: all of hers, or the stale ones).
# A call-back's bonus depends on the hour: her call-backs are kept as [[planned_at, base
# priority], ...] (only for the few patients who have one).
_BUILD_SQL = f"""
INSERT OR REPLACE INTO call_queue (patient_id, manager_id, top, callbacks, rest, due,
                                   planned, phoned, before, available, sort_key)
WITH s AS (
  SELECT p.rowid AS prow, r.patient_id AS pid, max({_REASON_BASE_SQL}) AS top, count(*) AS n,
         min(r.due_date) AS due,
         min(CASE WHEN r.state = 'planned' THEN r.planned_at END) AS planned,
         sum({_CALLBACK_SQL}) AS callbacks
    FROM patient p CROSS JOIN reminder r ON r.patient_id = p.id  -- patients drive
   WHERE {{mine}} AND {ON_THE_LIST_SQL}
   GROUP BY p.rowid  -- the order they come in (no sort); r from ix_reminder_call_list alone
), q AS MATERIALIZED (
  SELECT s.pid, p.care_manager_id AS manager, s.top, s.due, s.planned, p.sort_key,
         CASE WHEN s.callbacks > 0 THEN (
           SELECT json_group_array(json_array(r.planned_at, {_REASON_BASE_SQL}))
             FROM reminder r
            WHERE r.patient_id = s.pid AND {_CALLBACK_SQL} AND {ON_THE_LIST_SQL}) END
           AS callbacks,
         coalesce(p.fragility_level, 0) * :w_fragility
           + CASE WHEN {_AGE_SQL} >= 85 THEN :w_age85 WHEN {_AGE_SQL} >= 75 THEN :w_age75
                  ELSE 0 END
           + CASE WHEN {{recent}} THEN :w_recent ELSE 0 END
           + :w_other * (s.n - 1) AS rest,
         {_PHONED_SQL} AS phoned,
         substr(p.call_after, 1, 8) AS after, substr(p.call_before, 1, 8) AS before,
         CASE WHEN s.planned IS NOT NULL AND date(s.planned, 'localtime') = :as_of
              THEN time(s.planned, 'localtime') END AS planned_time
    FROM s JOIN patient p ON p.rowid = s.prow
   WHERE {_NOT_REACHED_SQL}
)
SELECT pid, manager, top, callbacks, rest, due, planned, phoned, before,
       CASE WHEN phoned AND after IS NOT NULL AND planned_time IS NOT NULL
            THEN max(after, planned_time)
            WHEN phoned AND after IS NOT NULL THEN after
            ELSE planned_time END,
       coalesce(sort_key, '')
  FROM q
"""
# Her list at the hour :now_utc / :now_time ({only}: a page of ids, or every row): call-backs
# whose hour has come (by hour), then whoever can be called now by priority, then those to
# call later today (by hour), then those whose calling window has passed.
ORDER_SQL = """
WITH o AS (
  SELECT patient_id AS pid, due, planned, phoned, before, available, sort_key,
         rest + CASE WHEN callbacks IS NULL THEN top ELSE max(top, coalesce((
           SELECT max(j.value ->> 1) + :w_planned FROM json_each(callbacks) j
            WHERE j.value ->> 0 <= :now_utc), top)) END AS priority
    FROM call_queue
   WHERE manager_id = :manager{only}
)
SELECT pid, priority, due,
       CASE WHEN planned IS NOT NULL AND planned <= :now_utc
                 AND NOT (phoned AND before IS NOT NULL AND before <= :now_time) THEN 0
            WHEN available IS NOT NULL AND available > :now_time THEN 2
            WHEN phoned AND before IS NOT NULL AND before <= :now_time THEN 3
            ELSE 1 END AS bucket,
       planned, available
  FROM o
 ORDER BY bucket, CASE bucket WHEN 0 THEN planned WHEN 2 THEN available END,
          priority DESC, sort_key, pid
"""
# A recent stay of one of a few patients, from her own codings (ix_coding_patient): the
# whole team's list reads every recent stay at once (_RECENT_STAY_SQL) instead.
_HER_RECENT_STAY_SQL = """EXISTS (
    SELECT 1 FROM fact_coding c
     WHERE c.patient_id = p.id AND c.system = :stay_system AND c.code IN :stay_codes
       AND c.kind = 'encounter' AND c.end_date >= :recent_from AND c.end_date <= :as_of)"""
# The same order as three strings: the ids end to end, the priorities and the due dates
# as JSON arrays. SQLite keeps a subquery's ORDER BY under order-sensitive aggregates.
PACKED_ORDER_SQL = f"""
SELECT group_concat(pid, ''), json_group_array(priority), json_group_array(due)
  FROM ({ORDER_SQL})"""
# Stale entries settled by her refresh: her patients', and those of patients followed by
# nobody (or gone) once no row of theirs is left. A patient handed to another care manager
# stays stale for hers.
_SETTLED_SQL = """
DELETE FROM call_queue_stale
 WHERE EXISTS (SELECT 1 FROM patient p WHERE p.id = call_queue_stale.patient_id
                  AND p.care_manager_id = :manager)
    OR (NOT EXISTS (SELECT 1 FROM patient p WHERE p.id = call_queue_stale.patient_id
                       AND p.care_manager_id IS NOT NULL)
        AND NOT EXISTS (SELECT 1 FROM call_queue q
                         WHERE q.patient_id = call_queue_stale.patient_id))"""
# Stale patients beyond this (a recompute of everyone): her whole list is rebuilt, one pass
# over her patients costs less than one look-up per stale patient.
REBUILD_BY_ID_AT_MOST = 5_000
# What the rows are built from besides the data: the day, the rules' weights and stay
# codes, the local time zone (a call-back's local day and hour).
_NOT_BUILT_FROM = ("manager", "now_utc", "now_time")


def _digest(params: dict[str, Any]) -> str:
    built_from = sorted((k, repr(v)) for k, v in params.items() if k not in _NOT_BUILT_FROM)
    return hashlib.sha256(repr((built_from, clock.tzname)).encode()).hexdigest()[:32]


def _expanded(sql: str, params: dict[str, Any]) -> str:
    """`sql` with the stay codes as named placeholders (added to `params`)."""
    codes = params.pop("stay_codes")
    names = []
    for index, code in enumerate(codes):
        params[f"stay{index}"] = code
        names.append(f":stay{index}")
    return sql.replace(":stay_codes", f"({', '.join(names)})")


def refresh_call_queue(session: Session, *, rules: RuleSet, manager: uuid.UUID,
                       as_of: date) -> int:
    """Bring the care manager's queue to `as_of` and `rules` in the caller's transaction;
    returns how many patients' rows were built (0: it held)."""
    params = _params(rules, manager, as_of, datetime.combine(as_of, time()))
    digest = _digest(params)
    conn = session.connection()
    who = {"manager": manager.hex}
    built = conn.execute(text("SELECT digest FROM call_queue_state WHERE manager_id = :manager"),
                         who).scalar()
    stale = conn.execute(text("SELECT count(*) FROM call_queue_stale")).scalar_one()
    if built == digest and stale <= REBUILD_BY_ID_AT_MOST:
        if not stale:
            return 0
        conn.execute(text("DELETE FROM call_queue WHERE manager_id = :manager AND patient_id "
                          "IN (SELECT patient_id FROM call_queue_stale)"), who)
        mine, recent = _STALE_SQL, _HER_RECENT_STAY_SQL
    else:
        conn.execute(text("DELETE FROM call_queue WHERE manager_id = :manager"), who)
        conn.execute(text("INSERT OR REPLACE INTO call_queue_state (manager_id, digest) "
                          "VALUES (:manager, :digest)"), {**who, "digest": digest})
        mine, recent = MINE_SQL, _RECENT_STAY_SQL
    sql = _expanded(_BUILD_SQL.format(mine=mine, recent=recent), params)
    written = conn.exec_driver_sql(sql, params).rowcount
    conn.execute(text(_SETTLED_SQL), who)
    return int(written)
