"""The same figures over the team hub's tables (PostgreSQL), for the whole team at once.

The hub holds the patients (caseload = the care manager's user name, fields as JSON), the
reminder states, the coordination actions and the team's users, so it gives every figure
but one: screening and vaccination coverage needs the clinical facts (acts, vaccines,
exclusions), which never leave the workstations. The hub's row-level security decides which
caseloads the reader's role sees: a supervisor is given `covers` on her team's caseloads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlmodel import Session

from carehub.prevention.engine import FOLLOWED_STATUSES
from carehub.prevention.models import CLOSED_STATES
from carehub.sync import credentials
from carehub.sync.hub import connect, parse_hub_url
from carehub.workload.service import (
    REACHED,
    Raw,
    WeekCalls,
    Workload,
    assemble,
    check_period,
    utc_bounds,
    visible_users,
    weekly_start,
)

UNAVAILABLE_FROM_HUB = ("coverage",)

FOLLOWED = ("coalesce(p.fields->>'status', 'active') = ANY(%(followed)s) "
            "AND p.fields->>'deceased_date' IS NULL")
PATIENTS = f"""
SELECT p.caseload, coalesce(p.fields->>'fragility_level', 'unknown'), count(*)
FROM patient p WHERE {FOLLOWED} GROUP BY 1, 2
"""
OVERDUE = f"""
SELECT p.caseload, count(*), count(DISTINCT r.patient_id)
FROM record r JOIN patient p ON p.id = r.patient_id
WHERE r.entity = 'reminder' AND {FOLLOWED}
  AND (r.fields->>'due_date')::date < %(end)s
  AND (r.fields->>'closed_on' IS NULL OR (r.fields->>'closed_on')::date > %(end)s)
  AND NOT (r.fields->>'state' = 'postponed' AND r.fields->>'postponed_until' IS NOT NULL
           AND (r.fields->>'postponed_until')::date > %(end)s)
  AND (r.fields->>'state' <> ALL(%(closed)s) OR r.fields->>'closed_on' IS NOT NULL)
GROUP BY 1
"""
CURRENT = """a.id NOT IN (SELECT (b.payload->>'amends_id')::uuid FROM action b
                   WHERE b.payload->>'amends_id' IS NOT NULL)"""
ACTIONS = f"""
SELECT a.author, a.type, count(*),
       count(*) FILTER (WHERE a.payload->>'outcome' = %(reached)s),
       coalesce(sum((a.payload->>'duration_s')::bigint), 0), count(a.payload->>'duration_s')
FROM action a WHERE a.at >= %(start)s AND a.at < %(stop)s AND {CURRENT}
GROUP BY 1, 2
"""
WEEKLY = f"""
SELECT a.author, date_trunc('week', a.at AT TIME ZONE 'UTC')::date AS week, count(*),
       count(*) FILTER (WHERE a.payload->>'outcome' = %(reached)s)
FROM action a WHERE a.type = 'call' AND a.at >= %(week_start)s AND a.at < %(stop)s
  AND {CURRENT}
GROUP BY 1, 2 ORDER BY 2, 1
"""


def hub_raw(cursor: Any, *, date_from: date, date_to: date) -> Raw:
    start, stop = utc_bounds(date_from, date_to)
    week_start, _ = utc_bounds(weekly_start(date_from, date_to), date_to)
    params = {"followed": list(FOLLOWED_STATUSES), "closed": list(CLOSED_STATES),
              "end": date_to, "reached": REACHED, "start": start,
              "stop": stop, "week_start": week_start}
    raw = Raw()
    cursor.execute(PATIENTS, params)
    raw.patients = {(who, str(level)): n for who, level, n in cursor.fetchall()}
    cursor.execute(OVERDUE, params)
    raw.overdue = {who: (n, people) for who, n, people in cursor.fetchall()}
    cursor.execute(ACTIONS, params)
    raw.actions = {(who, kind): (n, ok, int(secs), timed)
                   for who, kind, n, ok, secs, timed in cursor.fetchall()}
    cursor.execute(WEEKLY, params)
    raw.weekly = [WeekCalls(week=week, user=who, calls=n, reached=ok)
                  for who, week, n, ok in cursor.fetchall()]
    cursor.execute("SELECT name, display_name FROM hub_user")
    known = dict(cursor.fetchall())
    listed = {who for who, _ in raw.patients} | {who for who, _ in raw.actions}
    raw.names = {who: known.get(who) or who for who in listed}
    return raw


def hub_workload(session: Session, *, hub_url: str, date_from: date, date_to: date,
                 users: Sequence[str] | None = None, viewer: str | None = None,
                 password: str | None = None) -> Workload:
    """The team's figures from the hub (what the hub's role of `hub_url` may read); the
    local database only says what `viewer`'s role lets her see."""
    check_period(date_from, date_to)
    users = visible_users(session, viewer=viewer, users=users)
    address = parse_hub_url(hub_url)
    secret = password or address.password or credentials.get_password(hub=address.key,
                                                                      user=address.user)
    with connect(address, secret, application_name="carehub-workload") as conn, \
            conn.cursor() as cursor:
        raw = hub_raw(cursor, date_from=date_from, date_to=date_to)
    return assemble(raw, date_from=date_from, date_to=date_to, users=users,
                    source=address.key, unavailable=UNAVAILABLE_FROM_HUB)
