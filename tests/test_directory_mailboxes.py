"""MSSanté mailboxes from the Annuaire Santé file Extraction_Correspondance_MSSante."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from carehub.db import Database
from carehub.directory.extract_import import import_directory_file
from carehub.directory.mailbox_import import MailboxImportReport
from carehub.directory.models import PractitionerMailbox
from carehub.directory.proximity import commune_origin, nearest_practitioners
from carehub.directory.services import DirectorySearch, printable_list, search_directory
from carehub.errors import InputError

DATA = Path(__file__).parent / "data" / "annuaire"
EXTRACT = DATA / "PS_LibreAcces_Personne_activite.txt"
MAILBOXES = DATA / "Extraction_Correspondance_MSSante_202611230800.txt"


def import_file(db: Database, path: Path) -> object:
    with db.transaction() as session:
        return import_directory_file(session, path=path, actor="alice")


def mailboxes_near_blois(db: Database) -> dict[str, str | None]:
    with db.session() as session:
        found = nearest_practitioners(session, origin=commune_origin(session, insee="41018"),
                                      radius_km=60, limit=50)
    return {p.last_name: p.mssante for p in found}


def stored(db: Database) -> list[tuple[str, str, bool]]:
    with db.session() as session:
        return [(m.practitioner_id, m.address, m.active) for m in session.scalars(
            select(PractitionerMailbox).order_by(PractitionerMailbox.address))]


def rewrite(tmp_path: Path, keep: int | None = None, edit: str | None = None) -> Path:
    lines = MAILBOXES.read_text(encoding="utf-8").splitlines(keepends=True)
    if keep is not None:
        lines = [lines[0], *lines[keep:]]
    if edit == "missing-field":
        lines[4] = lines[4].rsplit("|", 1)[0] + "\n"
    elif edit == "trailing-separator":
        lines = [line.rstrip("\n") + "|\n" for line in lines]
    target = tmp_path / "Extraction_Correspondance_MSSante_202612010800.txt"
    target.write_text("".join(lines), encoding="utf-8")
    return target


def test_the_file_is_told_by_its_header_and_fills_the_practitioners_mailboxes(
        db: Database) -> None:
    import_file(db, EXTRACT)
    report = import_file(db, MAILBOXES)
    assert isinstance(report, MailboxImportReport)
    assert (report.rows, report.mailboxes, report.practitioners, report.in_directory,
            report.other_rows, report.unreadable) == (8, 5, 4, 3, 2, 1)
    found = mailboxes_near_blois(db)
    assert found["MARTIN"] == "jeanne.martin@medecin.mssante.fr"
    assert found["DUBOIS"] == "p.dubois@ch-blois.mssante.fr"  # two listed: the first by name
    assert found["PETIT"] == "claire.petit@infirmier.mssante.fr"  # ADELI nurse
    assert found["LEROY"] is None  # "non renseigné" is no address
    assert found["GARNIER"] is None
    # Organisation mailboxes and one tied to nobody are not a practitioner's.
    assert all("secretariat" not in a and "interne" not in a for _p, a, _x in stored(db))


def test_mailboxes_imported_first_show_once_their_practitioner_arrives(db: Database) -> None:
    import_file(db, MAILBOXES)
    assert ("810000001239", "marie.lenoir@medecin.mssante.fr", True) in stored(db)
    import_file(db, EXTRACT)
    assert mailboxes_near_blois(db)["MARTIN"] == "jeanne.martin@medecin.mssante.fr"


def test_a_newer_file_marks_mailboxes_it_no_longer_lists_inactive(
        db: Database, tmp_path: Path) -> None:
    import_file(db, EXTRACT)
    import_file(db, MAILBOXES)
    report = import_file(db, rewrite(tmp_path, keep=2))  # MARTIN's line gone
    assert isinstance(report, MailboxImportReport) and report.deactivated == 1
    assert mailboxes_near_blois(db)["MARTIN"] is None
    assert ("810000000017", "jeanne.martin@medecin.mssante.fr", False) in stored(db)
    import_file(db, MAILBOXES)  # listed again: shown again
    assert mailboxes_near_blois(db)["MARTIN"] == "jeanne.martin@medecin.mssante.fr"


def test_a_trailing_separator_on_every_line_is_read_the_same(
        db: Database, tmp_path: Path) -> None:
    import_file(db, EXTRACT)
    import_file(db, rewrite(tmp_path, edit="trailing-separator"))
    assert mailboxes_near_blois(db)["MARTIN"] == "jeanne.martin@medecin.mssante.fr"


def test_a_line_with_a_field_missing_is_refused_with_its_line_and_changes_nothing(
        db: Database, tmp_path: Path) -> None:
    import_file(db, MAILBOXES)
    before = stored(db)
    with pytest.raises(InputError) as refused:
        import_file(db, rewrite(tmp_path, edit="missing-field"))
    assert refused.value.message == (
        "Extraction_Correspondance_MSSante_202612010800.txt, line 5: 30 fields where the "
        "header has 31; nothing was imported.")
    assert stored(db) == before
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(PractitionerMailbox)) == 5


def test_the_printed_list_gives_the_mailbox_for_the_professionals_around_the_patient(
        db: Database) -> None:
    import_file(db, EXTRACT)
    import_file(db, MAILBOXES)
    with db.session() as session:
        result = search_directory(session, search=DirectorySearch(
            commune="41018", profession="10", specialty="SM54", radius_km=25, limit=5))
    document = printable_list(result, radius_km=25, today=date(2026, 12, 1), large_print=False)
    martin = next(row for row in document["rows"] if "MARTIN" in row["name"])
    assert martin["mssante"] == "jeanne.martin@medecin.mssante.fr"
