"""The same figures over the team hub's tables (PostgreSQL), for the whole team at once.

The hub holds the patients (caseload = the care manager's user name, fields as JSON), the
reminder states, the coordination actions and the team's users, so it gives every figure
but one: screening and vaccination coverage needs the clinical facts (acts, vaccines,
exclusions), which never leave the workstations. The hub's function hub_workload decides
which caseloads the reader's role sees: a supervisor is given `covers` on her team's caseloads.
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



def hub_raw(cursor: Any, *, date_from: date, date_to: date) -> Raw:
    """The figures' counts from hub_workload(), over the caseloads the role follows or
    covers (the hub decides which)."""
    start, stop = utc_bounds(date_from, date_to)
    week_start, _ = utc_bounds(weekly_start(date_from, date_to), date_to)
    cursor.execute("SELECT hub_workload(%s, %s, %s, %s, %s, %s, %s)",
                   (start, stop, week_start, date_to, list(FOLLOWED_STATUSES),
                    list(CLOSED_STATES), REACHED))
    doc = cursor.fetchone()[0]
    raw = Raw()
    raw.patients = {(who, str(level)): int(n) for who, level, n in doc["patients"]}
    raw.overdue = {who: (int(n), int(people)) for who, n, people in doc["overdue"]}
    raw.actions = {(who, kind): (int(n), int(ok), int(secs), int(timed))
                   for who, kind, n, ok, secs, timed in doc["actions"]}
    raw.weekly = [WeekCalls(week=date.fromisoformat(week), user=who, calls=int(n),
                            reached=int(ok)) for who, week, n, ok in doc["weekly"]]
    known: dict[str, str] = doc["names"]
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
