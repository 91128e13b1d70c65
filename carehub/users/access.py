"""Who may see what, checked by the services themselves (not only hidden in the UI).

The acting user rides on the session: `session.info[ACTING_USER]` (carehub/db.py), set by
the CLI from --user / CAREHUB_USER and by the app from the signed-in user. When it is
absent (internal jobs, migrations, imports, the scheduler's recomputation) nothing is
checked: this is a convenience on a workstation whose file is already encrypted with the
OS account's key. The lock is the team hub, where each care manager connects with her own
PostgreSQL role and row-level security (migrations/hub) limits what she can pull.

The checks apply only once the workstation's roles are set up (`roles_set_up`): some user
is a supervisor or an administrator, or some user has a password. Before that (a fresh
single-nurse workstation, where every user was created as a care manager on first use)
nothing is restricted, as for the workload figures: DESIGN.md's CLI acts by default as the
login name, and scripts such as `carehub import fhir F --assign-to bob` then
`carehub patients list --json` expect bob's patients. The acting user is still recorded
as the author of every change.

- a care manager sees her own caseload, the caseloads or single patients she covers for
  today (Coverage), and the patients she opened by breaking the glass (AccessGrant, until
  it expires);
- a supervisor sees every patient's identity line (to rebalance caseloads and reassign),
  but clinical content (summary, timeline, actions, call list, cohort search, exports)
  only for the patients she follows herself, covers, or opened by breaking the glass;
- an administrator manages users; she sees identity lines but no clinical content of a
  patient she does not follow.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import date

from sqlalchemy import ColumnElement, and_, exists, false, or_, true
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from carehub.caseload.models import Patient
from carehub.db import ACTING_USER
from carehub.errors import CareHubError
from carehub.timeutil import today, utcnow
from carehub.users.models import ROLE_LABELS_FR, AccessGrant, Coverage, User

# Purposes that show only who the patient is and where she lives (the caseload table,
# search, "near the patient"); every other purpose reads clinical content.
IDENTITY_PURPOSES = frozenset({"identity", "search", "directory"})
SEES_ALL_IDENTITIES = frozenset({"supervisor", "administrator"})


class AccessDenied(CareHubError):
    """The acting user may not see or do this."""


def acting_user(session: Session) -> str | None:
    """The user the session acts for (the author of its changes), or None (internal job)."""
    name = session.info.get(ACTING_USER)
    return str(name) if name else None


def roles_set_up(session: Session) -> bool:
    """Whether access is enforced here: some user is a supervisor or an administrator,
    or some user has a password."""
    query = sa_select(exists().where(or_(
        col(User.role).in_(tuple(SEES_ALL_IDENTITIES)), col(User.password_hash).is_not(None))))
    return bool(session.execute(query).scalar())


def checked_user(session: Session) -> str | None:
    """The acting user whose rights are checked, or None when nothing is checked (an
    internal job, or a workstation whose roles are not set up yet: `roles_set_up`)."""
    name = acting_user(session)
    return name if name is not None and roles_set_up(session) else None


@contextmanager
def unchecked(session: Session) -> Iterator[Session]:
    """The session without its acting user for the block: for the few service steps that
    must read a record before the user is allowed to (break the glass, reassignment)."""
    saved = session.info.pop(ACTING_USER, None)
    try:
        yield session
    finally:
        if saved is not None:
            session.info[ACTING_USER] = saved


def _find_user(session: Session, name: str) -> User | None:
    return session.execute(sa_select(User).where(col(User.name) == name)).scalars().first()


def require_user(session: Session, *, user: str) -> User:
    """The active user called `user`, or AccessDenied."""
    found = _find_user(session, user)
    if found is None:
        raise AccessDenied(f"Unknown user {user!r} on this workstation.",
                           f"Utilisateur « {user} » inconnu sur ce poste.")
    if not found.active:
        raise AccessDenied(f"User {user!r} is deactivated.",
                           f"Le compte « {user} » est désactivé.")
    return found


def require_role(session: Session, *, user: str, roles: Collection[str]) -> User:
    """The active user called `user` if her role is one of `roles`, else AccessDenied."""
    found = require_user(session, user=user)
    if found.role not in roles:
        wanted = ", ".join(sorted(roles))
        wanted_fr = ", ".join(ROLE_LABELS_FR.get(r, r).lower() for r in sorted(roles))
        raise AccessDenied(
            f"{user} is a {found.role}: this needs the role {wanted}.",
            f"{user} est {ROLE_LABELS_FR.get(found.role, found.role).lower()} : il faut "
            f"être {wanted_fr}.")
    return found


def require_acting_role(session: Session, *, roles: Collection[str]) -> User | None:
    """require_role for the session's acting user; None when nothing is checked."""
    name = checked_user(session)
    return None if name is None else require_role(session, user=name, roles=roles)


def _covered_today(user_id: uuid.UUID, on: date) -> ColumnElement[bool]:
    return and_(col(Coverage.user_id) == user_id, col(Coverage.starts_on) <= on,
                col(Coverage.ends_on) >= on, col(Coverage.ended_at).is_(None))


def caseload_clause(user: User, *, on: date | None = None) -> ColumnElement[bool]:
    """Patients whose clinical content `user` may read: followed, covered, opened."""
    day = on or today()
    covered_caseloads = sa_select(col(Coverage.covered_user_id)).where(
        _covered_today(user.id, day), col(Coverage.covered_user_id).is_not(None))
    covered_patients = sa_select(col(Coverage.patient_id)).where(
        _covered_today(user.id, day), col(Coverage.patient_id).is_not(None))
    granted = sa_select(col(AccessGrant.patient_id)).where(
        col(AccessGrant.user_id) == user.id, col(AccessGrant.expires_at) > utcnow())
    return or_(col(Patient.care_manager_id) == user.id,
               col(Patient.care_manager_id).in_(covered_caseloads),
               col(Patient.id).in_(covered_patients),
               col(Patient.id).in_(granted))


def visible_patients_clause(session: Session, *, clinical: bool = False) -> ColumnElement[bool]:
    """A WHERE condition on `patient` for list and search queries: what the acting user
    may see (identity lines, or clinical content when `clinical`). TRUE when nothing is
    checked (`checked_user`)."""
    name = checked_user(session)
    if name is None:
        return true()
    user = _find_user(session, name)
    if user is None:
        return false()  # not yet created here: she follows nobody
    if not user.active:
        require_user(session, user=name)  # raises: deactivated
    if not clinical and user.role in SEES_ALL_IDENTITIES:
        return true()
    return caseload_clause(user)


def can_see_patient(session: Session, *, user: str, patient_id: uuid.UUID,
                    clinical: bool = True) -> bool:
    """Whether `user` may see this patient (her clinical content unless `clinical=False`)."""
    found = _find_user(session, user)
    if found is None or not found.active:
        return False
    if not clinical and found.role in SEES_ALL_IDENTITIES:
        return True
    query = sa_select(exists().where(col(Patient.id) == patient_id, caseload_clause(found)))
    return bool(session.execute(query).scalar())


def require_patient_access(session: Session, *, patient_id: uuid.UUID, purpose: str) -> None:
    """AccessDenied unless the acting user may see this patient for `purpose`
    ("identity", "search", "directory": who she is; anything else: clinical content)."""
    name = checked_user(session)
    if name is None:
        return
    user = require_user(session, user=name)
    clinical = purpose not in IDENTITY_PURPOSES
    if can_see_patient(session, user=name, patient_id=patient_id, clinical=clinical):
        return
    if user.role in SEES_ALL_IDENTITIES:
        raise AccessDenied(
            f"{name} is a {user.role}: she sees the clinical content ({purpose}) only of the "
            f"patients she follows. Patient {patient_id} is not one of them; to open it "
            "anyway give a reason: carehub access open --patient ID --reason TEXT.",
            f"En tant que {ROLE_LABELS_FR[user.role].lower()}, {name} ne voit le contenu "
            "clinique que des patients qu'elle suit. Pour ouvrir ce dossier quand même, "
            "indiquez un motif (bris de glace).")
    raise AccessDenied(
        f"Patient {patient_id} is neither in {name}'s caseload nor in one she covers for "
        f"({purpose} refused). To open it anyway give a reason: "
        "carehub access open --patient ID --reason TEXT.",
        f"Ce patient n'est ni dans la file active de {name} ni dans celle qu'elle remplace. "
        "Pour ouvrir son dossier quand même, indiquez un motif (bris de glace).")


def covered_caseloads(session: Session, *, user: str, on: date | None = None
                      ) -> list[tuple[str, str]]:
    """(name, display name) of the colleagues whose whole caseload `user` covers on `on`
    (today by default): the lists she may work besides her own."""
    found = _find_user(session, user)
    if found is None:
        return []
    rows = session.execute(
        sa_select(col(User.name), col(User.display_name))
        .join(Coverage, col(Coverage.covered_user_id) == User.id)
        .where(_covered_today(found.id, on or today())).distinct()
        .order_by(col(User.name)))
    return [(name, display or name) for name, display in rows]


def require_caseload_access(session: Session, *, owner: str, purpose: str) -> None:
    """AccessDenied unless the acting user is `owner` or covers her whole caseload today
    (the call list, the day's callbacks of someone)."""
    name = checked_user(session)
    if name is None:
        return
    user = require_user(session, user=name)
    if name == owner:
        return
    other = _find_user(session, owner)
    if other is not None:
        covers = sa_select(exists().where(_covered_today(user.id, today()),
                                          col(Coverage.covered_user_id) == other.id))
        if session.execute(covers).scalar():
            return
    raise AccessDenied(
        f"{name} does not cover for {owner}: {purpose} of {owner} refused.",
        f"{name} ne remplace pas {owner} : accès refusé.")
