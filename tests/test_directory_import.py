"""Import of the Annuaire Santé extract: places, phones, identifiers, updates, refusals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from carehub.coordination.audit import AuditEvent
from carehub.db import Database
from carehub.directory.extract_import import ImportProgress, import_extract
from carehub.directory.models import Practitioner, PractitionerActivity
from carehub.errors import InputError

FIXTURE = Path(__file__).parent / "data" / "annuaire" / "PS_LibreAcces_Personne_activite.txt"


def import_file(db: Database, path: Path = FIXTURE,
                progress: list[ImportProgress] | None = None) -> None:
    with db.transaction() as session:
        import_extract(session, path=path, actor="alice",
                       progress=progress.append if progress is not None else None)


def activities(session: Session, national_id: str) -> list[PractitionerActivity]:
    return list(session.scalars(select(PractitionerActivity).where(
        PractitionerActivity.practitioner_id == national_id)))


def counts(db: Database) -> tuple[int, int]:
    with db.session() as session:
        return (session.scalar(select(func.count()).select_from(Practitioner)) or 0,
                session.scalar(select(func.count()).select_from(PractitionerActivity)) or 0)


def rewrite(tmp_path: Path, edit: str, name: str = "extract.txt") -> Path:
    lines = FIXTURE.read_text(encoding="utf-8").splitlines(keepends=True)
    if edit == "drop-first-practitioner":
        lines = [lines[0], *lines[2:]]
    elif edit == "extra-field":
        lines[5] = lines[5].rstrip("\n") + "surplus|\n"
    elif edit == "wrong-header":
        lines[0] = lines[0].replace("Identification nationale PP", "Identifiant national")
    target = tmp_path / name
    target.write_text("".join(lines), encoding="utf-8")
    return target


def test_sites_are_placed_by_commune_then_postal_code_then_cedex_and_abroad_kept(
        db: Database) -> None:
    import_file(db)
    with db.session() as session:
        leroy = activities(session, "810000000033")[0]  # empty commune code, postal 41350
        garnier = activities(session, "810000000041")[0]  # Bureau cedex only
        smith = activities(session, "810000000058")[0]  # London
        dubois = activities(session, "810000000025")
    assert (leroy.commune_code, leroy.place_insee) == (None, "41212")  # St-Gervais, by name
    assert garnier.place_insee == "41018" and "41016 BLOIS CEDEX" in garnier.address
    assert smith.place_insee is None and smith.country_code == "99132"
    assert "Royaume-Uni" in smith.address
    assert sorted(a.place_insee or "" for a in dubois) == ["37261", "41295"]  # two sites


def test_phones_are_stored_e164_and_unreadable_ones_kept_aside(db: Database) -> None:
    import_file(db)
    with db.session() as session:
        phones = {pid: [(a.phone, a.phone2, a.unparsed_phone) for a in activities(session, pid)]
                  for pid in ("810000000017", "810000000033", "810000000041", "0419876543",
                              "810000000058", "810000000116")}
    assert phones["810000000017"] == [("+33254781234", None, None)]  # bare digits
    assert phones["810000000033"] == [("+33254432109", None, None)]  # dots
    assert phones["810000000041"] == [("+33254556677", None, None)]  # two in one field
    assert phones["0419876543"] == [(None, None, "1234")]  # not a number: flagged
    assert phones["810000000058"] == [("+442079460958", None, None)]  # abroad
    assert phones["810000000116"] == [("+33254200000", "+33612345678", None)]


def test_rpps_failing_its_check_is_kept_and_flagged_and_adeli_is_not_an_rpps(
        db: Database) -> None:
    import_file(db)
    with db.session() as session:
        flagged = session.scalars(select(Practitioner).where(
            Practitioner.identifier_valid == False)).all()  # noqa: E712
        nurse = session.get(Practitioner, "0419876543")
    assert [p.last_name for p in flagged] == ["ROUX"]
    assert nurse is not None and nurse.id_type == "0" and nurse.identifier_valid


def test_progress_reaches_the_whole_file_and_the_import_is_audited(db: Database) -> None:
    seen: list[ImportProgress] = []
    import_file(db, progress=seen)
    assert seen[-1].fraction == 1.0 and seen[-1].rows == 13
    with db.session() as session:
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.entity == "directory_import")).all()
    assert len(events) == 1 and events[0].details["rows"] == 13


def test_a_newer_extract_updates_in_place_and_marks_absent_practitioners_inactive(
        db: Database, tmp_path: Path) -> None:
    import_file(db)
    import_file(db)  # the same file again: nothing duplicated
    assert counts(db) == (12, 13)
    import_file(db, rewrite(tmp_path, "drop-first-practitioner"))
    with db.session() as session:
        martin = session.get(Practitioner, "810000000017")
        active = session.scalar(select(func.count()).select_from(Practitioner)
                                .where(Practitioner.active == True))  # noqa: E712
        kept_sites = activities(session, "810000000017")
    assert martin is not None and not martin.active  # absent: inactive, not deleted
    assert len(kept_sites) == 1  # her last known site stays with her
    assert active == 11
    assert counts(db) == (12, 13)
    import_file(db)  # listed again: active again
    with db.session() as session:
        martin = session.get(Practitioner, "810000000017")
    assert martin is not None and martin.active


@pytest.mark.parametrize(("edit", "line", "words"), [
    ("wrong-header", 1, "not an Annuaire Santé extract header (missing columns "
                        "'Identification nationale PP')"),
    ("extra-field", 6, "53 fields where the header has 52"),
])
def test_a_malformed_file_is_refused_with_its_line_and_changes_nothing(
        db: Database, tmp_path: Path, edit: str, line: int, words: str) -> None:
    import_file(db)
    before = counts(db)
    with pytest.raises(InputError) as refused:
        import_file(db, rewrite(tmp_path, edit))
    assert f"extract.txt, line {line}: {words}" in refused.value.message
    assert "nothing was imported" in refused.value.message
    assert counts(db) == before


def test_bad_encoding_is_refused_with_its_line(db: Database, tmp_path: Path) -> None:
    data = FIXTURE.read_bytes().splitlines(keepends=True)
    data[10] = data[10].replace("Médecin".encode(), "Médecin".encode("latin-1"))
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"".join(data))
    with pytest.raises(InputError, match=r"latin1.txt, line 11: not UTF-8"):
        import_file(db, bad)
    assert counts(db) == (0, 0)


def directory_rows(database: Database) -> list[tuple[object, ...]]:
    """What the directory holds, without the row ids the import happens to give."""
    with database.session() as session:
        connection = session.connection()
        practitioners = connection.exec_driver_sql(
            "SELECT id, identifier_valid, civility, last_name, first_name, search_text, active "
            "FROM practitioner ORDER BY id").all()
        sites = connection.exec_driver_sql(
            "SELECT practitioner_id, profession_code, specialty_code, address, place_insee, "
            "phone, phone2, unparsed_phone FROM practitioner_activity ORDER BY 1, 4").all()
    return [*practitioners, *sites]


def test_parsing_in_a_child_process_and_rebuilding_indexes_give_the_same_directory(
        workstation: Callable[[str], Database]) -> None:
    """The national file is parsed in a child process and written without its indexes;
    the fixture, small, is not: both paths forced here must agree with the plain one."""
    plain, child, bulk = workstation("plain"), workstation("child"), workstation("bulk")
    for database, options in ((plain, {"parallel": False, "bulk": False}),
                              (child, {"parallel": True, "bulk": False}),
                              (bulk, {"parallel": True, "bulk": True})):
        with database.transaction() as session:
            import_extract(session, path=FIXTURE, actor="alice", **options)
    assert len(directory_rows(plain)) == 12 + 13
    assert directory_rows(child) == directory_rows(plain)
    assert directory_rows(bulk) == directory_rows(plain)
    with bulk.session() as session:
        indexes = {name for (name,) in session.connection().exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_%' "
            "AND tbl_name IN ('practitioner', 'practitioner_activity')")}
    assert indexes == {"ix_activity_place"}  # built again


def test_a_malformed_line_found_by_the_parsing_child_is_refused_and_changes_nothing(
        db: Database, tmp_path: Path) -> None:
    import_file(db)
    before = counts(db)
    with pytest.raises(InputError) as refused, db.transaction() as session:
        import_extract(session, path=rewrite(tmp_path, "extra-field"), actor="alice",
                       parallel=True, bulk=True)
    assert "extract.txt, line 6: 53 fields where the header has 52" in refused.value.message
    assert counts(db) == before
    with db.session() as session:
        index_count = session.connection().exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
            "AND name = 'ix_activity_place'").scalar()
    assert index_count == 1  # the dropped indexes came back with the rollback
