from pathlib import Path

from carehub.caseload.services import PatientInput, create_patient, list_patients
from carehub.coordination.audit import verify_chain
from carehub.db import Database
from carehub.sync.outbox import pending_count


def test_created_patient_is_listed_audited_and_queued(db: Database, db_path: Path) -> None:
    with db.transaction() as session:
        create_patient(session, data=PatientInput(
            ins="295109912611193", birth_name="Martin", given_names="Jeanne",
            sex="F", birth_date="1950-03-02", commune_insee="41018",
            phones=[{"number": "06 12 34 56 78", "sms_consent": True}]), actor="alice")
    with db.session() as session:
        rows = list_patients(session)
        assert [(r["ins"], r["commune_name"], r["care_manager"]) for r in rows] == [
            ("295109912611193", "Blois", "alice")]
        assert verify_chain(session).events == 1
        assert pending_count(session) == 1
    assert not db_path.read_bytes().startswith(b"SQLite format 3")
