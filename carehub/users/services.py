"""Users: the acting care manager is created on first use, as the CLI contract expects."""

from __future__ import annotations

from sqlmodel import Session, col, select

from carehub.users.models import User


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
