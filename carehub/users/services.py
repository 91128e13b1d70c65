"""Users: the acting care manager is created on first use, as the CLI contract expects;
the administrator adds users, sets roles and passwords, deactivates (never deletes);
sign-in checks a password against its argon2id hash; coverage says who covers for whom.

Every change is one audit event (entity "user" or "coverage"); no password or hash is
ever written to the audit chain.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import exists
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from carehub.coordination.audit import Change, record_events
from carehub.errors import InputError, NotFoundError
from carehub.timeutil import utcnow
from carehub.users.access import (
    acting_user,
    require_acting_role,
    require_user,
)
from carehub.users.models import ROLES, Coverage, User
from carehub.users.passwords import hash_password, verify_password

MANAGES_USERS = ("administrator",)
MANAGES_COVERAGE = ("supervisor", "administrator")


def ensure_user(session: Session, *, name: str, role: str = "care_manager") -> User:
    """The user called `name`, created as a care manager if unknown."""
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        user = User(name=name, display_name=name, role=role)
        session.add(user)
        session.flush()
    return user


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.name))))


@dataclass(frozen=True)
class UserRow:
    name: str
    display_name: str
    role: str
    active: bool
    has_password: bool

    def as_json(self) -> dict[str, Any]:
        return {"user": self.name, "display_name": self.display_name, "role": self.role,
                "active": self.active, "has_password": self.has_password}


def user_rows(session: Session) -> list[UserRow]:
    return [UserRow(u.name, u.display_name, u.role, u.active, u.password_hash is not None)
            for u in list_users(session)]


def _audit(session: Session, actor: str, entity: str, entity_id: uuid.UUID, action: str,
           details: dict[str, Any]) -> None:
    record_events(session, [Change(actor, entity, str(entity_id), action, details)])


def _actor(session: Session, actor: str | None) -> str:
    return actor or acting_user(session) or "system"


def _require_admin(session: Session) -> None:
    """An administrator, or anyone while the workstation has none yet (its first set-up)."""
    has_admin = session.execute(sa_select(exists().where(
        col(User.role) == "administrator", col(User.active).is_(True)))).scalar()
    if has_admin:
        require_acting_role(session, roles=MANAGES_USERS)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InputError(f"Unknown role {role!r}: one of {', '.join(ROLES)}.",
                         f"Rôle inconnu « {role} ».")


def get_user(session: Session, *, name: str) -> User:
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        raise NotFoundError(f"No user called {name!r}.", f"Aucun utilisateur « {name} ».")
    return user


def add_user(session: Session, *, name: str, role: str = "care_manager",
             display_name: str | None = None, password: str | None = None,
             actor: str | None = None) -> User:
    """A new user (administrator only, once the workstation has one)."""
    _require_admin(session)
    _check_role(role)
    name = name.strip()
    if not name or len(name) > 64 or any(c.isspace() for c in name):
        raise InputError(f"A user name is 1 to 64 characters without spaces, not {name!r}.",
                         "Un identifiant compte 1 à 64 caractères, sans espace.")
    if session.exec(select(User).where(User.name == name)).first() is not None:
        raise InputError(f"User {name!r} already exists.", f"L'utilisateur « {name} » existe déjà.")
    user = User(name=name, display_name=(display_name or name).strip(), role=role)
    if password is not None:
        user.password_hash = hash_password(password)
        user.password_changed_at = utcnow()
    session.add(user)
    session.flush()
    _audit(session, _actor(session, actor), "user", user.id, "create",
           {"name": name, "role": role, "display_name": user.display_name,
            "password": password is not None})
    return user


def set_role(session: Session, *, name: str, role: str, actor: str | None = None) -> User:
    _require_admin(session)
    _check_role(role)
    user = get_user(session, name=name)
    if user.role != role:
        before, user.role = user.role, role
        session.flush()
        _audit(session, _actor(session, actor), "user", user.id, "set_role",
               {"name": name, "role": role, "before": before})
    return user


def set_password(session: Session, *, name: str, password: str,
                 actor: str | None = None) -> User:
    """A new password: by an administrator, or by the user for herself."""
    if acting_user(session) != name:
        _require_admin(session)
    user = get_user(session, name=name)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    session.flush()
    _audit(session, _actor(session, actor), "user", user.id, "set_password", {"name": name})
    return user


def deactivate_user(session: Session, *, name: str, actor: str | None = None) -> User:
    """The user can no longer sign in nor see anything; her history stays."""
    _require_admin(session)
    user = get_user(session, name=name)
    if user.active:
        user.active = False
        session.flush()
        _audit(session, _actor(session, actor), "user", user.id, "deactivate", {"name": name})
    return user


def workstation_has_passwords(session: Session) -> bool:
    """Whether sign-in by password is on: some active user has a password."""
    return bool(session.execute(sa_select(exists().where(
        col(User.password_hash).is_not(None), col(User.active).is_(True)))).scalar())


def sign_in(session: Session, *, name: str, password: str) -> User | None:
    """The user if the password is right and she is active, else None. Every attempt is
    an audit event, so the caller commits a failure too (it does not raise)."""
    user = session.exec(select(User).where(User.name == name)).first()
    ok = user is not None and user.active and verify_password(user.password_hash, password)
    record_events(session, [Change(name, "sign_in", name, "success" if ok else "failure", {})])
    return user if ok else None


@dataclass(frozen=True)
class CoverageRow:
    id: uuid.UUID
    user: str
    covers: str | None  # the colleague whose caseload is covered
    patient_id: uuid.UUID | None
    starts_on: date
    ends_on: date
    reason: str | None
    ended_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {"id": str(self.id), "user": self.user, "covers": self.covers,
                "patient_id": str(self.patient_id) if self.patient_id else None,
                "from": self.starts_on.isoformat(), "to": self.ends_on.isoformat(),
                "reason": self.reason,
                "ended_at": self.ended_at.isoformat() if self.ended_at else None}


def add_coverage(session: Session, *, user: str, starts_on: date, ends_on: date,
                 covers: str | None = None, patient_id: uuid.UUID | None = None,
                 reason: str | None = None, actor: str | None = None) -> uuid.UUID:
    """`user` covers for `covers`'s caseload, or for one patient, from..to inclusive.
    Set by a supervisor or an administrator, or by the colleague who is away."""
    if (covers is None) == (patient_id is None):
        raise InputError("Give either the colleague covered for or one patient.",
                         "Indiquez la collègue remplacée ou un patient.")
    if ends_on < starts_on:
        raise InputError(f"The coverage ends ({ends_on}) before it starts ({starts_on}).",
                         "Le remplacement se termine avant de commencer.")
    if acting_user(session) is not None and acting_user(session) != covers:
        require_acting_role(session, roles=MANAGES_COVERAGE)
    coverer = require_user(session, user=user)
    covered = get_user(session, name=covers) if covers is not None else None
    if covered is not None and covered.id == coverer.id:
        raise InputError(f"{user} cannot cover for herself.", f"{user} ne peut se remplacer.")
    row = Coverage(user_id=coverer.id, covered_user_id=covered.id if covered else None,
                   patient_id=patient_id, starts_on=starts_on, ends_on=ends_on,
                   reason=reason, created_by=_actor(session, actor))
    session.add(row)
    session.flush()
    _audit(session, row.created_by, "coverage", row.id, "create",
           {"user": user, "covers": covers, "patient_id": str(patient_id) if patient_id else None,
            "from": starts_on.isoformat(), "to": ends_on.isoformat(), "reason": reason})
    return row.id


def list_coverage(session: Session, *, current_on: date | None = None) -> list[CoverageRow]:
    """Coverage, newest start first; only those running on `current_on` when given."""
    coverer, covered = aliased(User), aliased(User)
    query = (sa_select(Coverage, col(coverer.name), col(covered.name))
             .join(coverer, col(coverer.id) == col(Coverage.user_id))
             .outerjoin(covered, col(covered.id) == col(Coverage.covered_user_id)))
    if current_on is not None:
        query = query.where(col(Coverage.starts_on) <= current_on,
                            col(Coverage.ends_on) >= current_on,
                            col(Coverage.ended_at).is_(None))
    query = query.order_by(col(Coverage.starts_on).desc(), col(Coverage.id))
    return [CoverageRow(c.id, user, covers, c.patient_id, c.starts_on, c.ends_on, c.reason,
                        c.ended_at) for c, user, covers in session.execute(query).all()]


def end_coverage(session: Session, *, coverage_id: uuid.UUID, actor: str | None = None) -> None:
    """Stop a coverage now (kept, with its end)."""
    row = session.get(Coverage, coverage_id)
    if row is None:
        raise NotFoundError(f"No coverage {coverage_id}.", "Remplacement introuvable.")
    covered = session.get(User, row.covered_user_id) if row.covered_user_id else None
    if acting_user(session) is not None and (covered is None
                                             or acting_user(session) != covered.name):
        require_acting_role(session, roles=MANAGES_COVERAGE)
    if row.ended_at is not None:
        raise InputError(f"Coverage {coverage_id} already ended.", "Ce remplacement est terminé.")
    row.ended_at = utcnow()
    session.flush()
    _audit(session, _actor(session, actor), "coverage", row.id, "end", {})

