"""Helpers for the team-hub tests: what a nurse does on her workstation, what it holds."""

from __future__ import annotations

import os
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from carehub.caseload.fhir_import import import_fhir_file
from carehub.caseload.models import Patient
from carehub.caseload.services import PatientInput, create_patient, update_patient
from carehub.coordination.models import CoordinationAction
from carehub.coordination.services import record_action
from carehub.db import Database
from carehub.identifiers import ins_key
from carehub.sync.outbox import OutboxEntry
from carehub.sync.service import SyncReport, sync
from carehub.users.services import ensure_user

PRACTICE_EXPORT = Path(__file__).parent / "data" / "fhir" / "practice_export.json"
REPO_ROOT = Path(__file__).resolve().parents[1]
MARIE_INS = "253072B07300470"


def make_ins(number: int) -> str:
    """A valid test INS (NIR with its key) for a made-up woman born in 1940."""
    body = f"2400575{number:06d}"
    return f"{body}{ins_key(body):02d}"


def import_export(database: Database, nurse: str) -> None:
    with database.transaction() as session:
        ensure_user(session, name=nurse)
        import_fhir_file(session, path=PRACTICE_EXPORT, actor=nurse, assign_to=nurse)


def new_patient(database: Database, nurse: str, birth_name: str, *, ins: str | None = None,
                care_manager: str | None = None, **fields: Any) -> uuid.UUID:
    with database.transaction() as session:
        ensure_user(session, name=nurse)
        return create_patient(session, data=PatientInput(
            birth_name=birth_name, given_names=fields.pop("given_names", "Jeanne"),
            birth_date=fields.pop("birth_date", date(1940, 5, 17)), ins=ins, **fields),
            actor=nurse, care_manager=care_manager)


def carehub_command(database: Database, nurse: str, *args: str) -> list[str]:
    """`carehub --db ... --user ... ARGS` as a child process would run it."""
    return [sys.executable, "-m", "carehub.cli", "--db", str(database.path), "--user", nurse,
            *args]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def edit_patient(database: Database, nurse: str, patient_id: uuid.UUID, **fields: Any) -> None:
    from carehub.caseload.services import get_patient, patient_input_from

    with database.transaction() as session:
        data = patient_input_from(session, get_patient(session, patient_id=patient_id))
        update_patient(session, patient_id=patient_id, actor=nurse,
                       data=data.model_copy(update=fields))


def act(database: Database, nurse: str, patient: str | uuid.UUID, note: str,
        action_type: str = "call", **extra: Any) -> uuid.UUID:
    with database.transaction() as session:
        return record_action(session, patient_ref=patient, action_type=action_type,
                             actor=nurse, note=note, **extra)


def run_sync(database: Database, hub_url: str, nurse: str, **options: Any) -> SyncReport:
    return sync(database, hub_url=hub_url, user=nurse, **options)


def actions(database: Database) -> set[tuple[str, str | None]]:
    """(patient INS or birth name, note) of every action: comparable across workstations."""
    with database.session() as session:
        rows = session.exec(select(Patient.ins, Patient.birth_name, CoordinationAction.note)
                            .join(Patient, col(Patient.id) == CoordinationAction.patient_id))
        return {(ins or name, note) for ins, name, note in rows}


def action_ids(database: Database) -> set[uuid.UUID]:
    with database.session() as session:
        return set(session.exec(select(CoordinationAction.id)))


def patients(database: Database) -> dict[uuid.UUID, dict[str, Any]]:
    with database.session() as session:
        return {p.id: {"ins": p.ins, "birth_name": p.birth_name, "used_name": p.used_name,
                       "given_names": p.given_names, "commune_insee": p.commune_insee,
                       "email": p.email, "fragility_level": p.fragility_level}
                for p in session.exec(select(Patient))}


def pending(database: Database) -> int:
    with database.session() as session:
        return int(session.exec(select(func.count()).select_from(OutboxEntry).where(
            col(OutboxEntry.sent_at).is_(None), col(OutboxEntry.refused_at).is_(None))).one())


def patient_by_ins(database: Database, ins: str) -> Patient:
    with database.session() as session:
        return session.exec(select(Patient).where(Patient.ins == ins)).one()
