"""The cohort search screen as a care manager uses it: rows built with the mouse and keyboard,
the query typed, the count, saved searches and the CSV export, through real widgets."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QSpinBox
from pytestqt.qtbot import QtBot
from sqlmodel import select

from carehub.cohort.compiler import months_before
from carehub.coordination.audit import AuditEvent
from carehub.db import Database
from carehub.prevention.services import call_list
from tests.cohort_helpers import add_fact, add_patient
from tests.ui import add_patients
from ui.cohort.screen import CohortResultModel, CohortScreen, CriterionRowWidget, csv_bytes
from ui.main_window import MainWindow
from ui.widgets.patient_table import COL_NAME

REFERENCE_1 = ("sex F and age 25..45 and condition E04* and act mammography within 2y "
               "except pregnant")
REFERENCE_2 = ("condition E10*,E11*,icpc2:T89,icpc2:T90 and medication A10A* and lab 4548-4 "
               "count >= 3 within 1y and contact etp within 1y and vaccine flu within 1y")
TODAY = date.today()


def _born(years: int) -> date:
    born = months_before(TODAY, years * 12)
    assert born is not None
    return born - timedelta(days=40)


@pytest.fixture
def patients(db: Database) -> dict[str, uuid.UUID]:
    """Three women aged 35 with a goitre (one screened, one pregnant too, one never
    screened) and a diabetic man followed as reference search 2 asks."""
    ids: dict[str, uuid.UUID] = {}
    with db.transaction() as session:
        for name, mammography, pregnant in (("Durand", True, False), ("Petit", True, True),
                                            ("Moreau", False, False)):
            patient = add_patient(session, name, sex="F", born=_born(35), manager="alice")
            add_fact(session, patient, "condition", ("icd10", "E04.9"),
                     start=date(2020, 3, 1), status="active")
            if mammography:
                add_fact(session, patient, "procedure", ("snomed", "71651007"),
                         start=TODAY - timedelta(days=300))
            if pregnant:
                add_fact(session, patient, "condition", ("icd10", "Z34.9"),
                         start=TODAY - timedelta(days=60))
            ids[name] = patient
        man = add_patient(session, "Bernard", sex="M", born=_born(70), manager="bob")
        add_fact(session, man, "condition", ("icpc2", "T90"), start=date(2015, 1, 1))
        add_fact(session, man, "medication", ("atc", "A10AE04"), start=date(2016, 1, 1))
        for days in (20, 120, 250):
            add_fact(session, man, "observation", ("loinc", "4548-4"),
                     start=TODAY - timedelta(days=days), status="final")
        add_fact(session, man, "encounter", ("snomed", "311401005"),
                 start=TODAY - timedelta(days=90))
        add_fact(session, man, "immunization", ("cvx", "141"), start=TODAY - timedelta(days=45),
                 status="completed")
        ids["Bernard"] = man
    return ids


@pytest.fixture
def window(qtbot: QtBot, db: Database, patients: dict[str, uuid.UUID]) -> Iterator[MainWindow]:
    window = MainWindow(db, user="alice")
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.model.resultShown, timeout=10_000):
        window.show()
        window.start()
    qtbot.waitUntil(lambda: not window.worker.busy, timeout=10_000)
    yield window
    window.shutdown()


@pytest.fixture
def screen(qtbot: QtBot, window: MainWindow) -> CohortScreen:
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    screen: CohortScreen = window.cohort_screen
    assert window.pages.currentWidget() is screen
    return screen


def _names(screen: CohortScreen) -> list[str]:
    model = screen.model
    return [model.index(row, COL_NAME).data() for row in range(model.rowCount())]


def _choose(combo: QComboBox, data: object) -> None:
    """Pick an entry of a list (as choosing it with the mouse does)."""
    combo.setFocus()
    combo.setCurrentIndex(combo.findData(data))


def _type_number(qtbot: QtBot, spin: QSpinBox, value: int) -> None:
    spin.selectAll()
    qtbot.keyClicks(spin, str(value))


def _new_row(qtbot: QtBot, screen: CohortScreen, kind: str) -> CriterionRowWidget:
    before = len(screen.builder.items)
    qtbot.mouseClick(screen.builder.add_row_button, Qt.MouseButton.LeftButton)
    assert len(screen.builder.items) == before + 1
    row = screen.builder.items[-1]
    assert isinstance(row, CriterionRowWidget)
    qtbot.waitUntil(row.isVisible)  # a widget added to a shown layout appears a moment later
    _choose(row.kind, kind)
    return row


def _count(qtbot: QtBot, screen: CohortScreen, action: object) -> int:
    with qtbot.waitSignal(screen.countShown, timeout=10_000) as blocker:
        action()  # type: ignore[operator]
    count: int = blocker.args[0]
    return count


def test_building_the_first_reference_search_with_the_rows_writes_its_text(
        qtbot: QtBot, screen: CohortScreen) -> None:
    sex = _new_row(qtbot, screen, "sex")
    _choose(sex.sex, "F")
    age = _new_row(qtbot, screen, "age")
    assert age.low.isVisibleTo(age) and not age.codes.isVisibleTo(age)
    _type_number(qtbot, age.low, 25)
    _type_number(qtbot, age.high, 45)
    goitre = _new_row(qtbot, screen, "condition")
    qtbot.keyClicks(goitre.codes.lineEdit(), "E04*")
    act = _new_row(qtbot, screen, "act")
    qtbot.keyClicks(act.codes.lineEdit(), "mammography")
    assert act.concept_label.text() == "Mammographie"
    _choose(act.window_mode, "within")
    _type_number(qtbot, act.window_amount, 2)
    _choose(act.window_unit, "y")
    pregnant = _new_row(qtbot, screen, "pregnant")

    def exclude() -> None:
        qtbot.mouseClick(pregnant.negated, Qt.MouseButton.LeftButton)

    assert _count(qtbot, screen, exclude) == 1
    assert screen.text_field.text() == REFERENCE_1
    assert screen.count_label.text() == "1 patient"
    assert _names(screen) == ["Durand"]
    assert screen.error_label.text() == ""


def test_typing_the_second_reference_search_builds_its_rows_and_counts(
        qtbot: QtBot, screen: CohortScreen) -> None:
    count = _count(qtbot, screen, lambda: qtbot.keyClicks(screen.text_field, REFERENCE_2))
    assert count == 1 and _names(screen) == ["Bernard"]
    rows = screen.builder.rows()
    assert [r.current_kind() for r in rows] == ["condition", "medication", "lab", "contact",
                                                "vaccine"]
    lab = rows[2]
    assert (lab.codes.currentText(), lab.count_cmp.currentData(), lab.count_n.value(),
            lab.window_mode.currentData(), lab.window_amount.value(),
            lab.window_unit.currentData()) == ("4548-4", ">=", 3, "within", 1, "y")
    assert rows[0].codes.currentText() == "E10*, E11*, icpc2:T89, icpc2:T90"
    # A row changed with the mouse writes the text again, which still says the rest.
    assert _count(qtbot, screen, lambda: _type_number(qtbot, lab.count_n, 4)) == 0
    assert screen.text_field.text() == REFERENCE_2.replace("count >= 3", "count >= 4")
    assert screen.count_label.text() == "0 patient"


def test_a_group_or_and_non_from_the_text_and_back(qtbot: QtBot, screen: CohortScreen) -> None:
    expr = "condition E04* and (sex M or non pregnant)"
    assert _count(qtbot, screen, lambda: qtbot.keyClicks(screen.text_field, expr)) == 2
    assert sorted(_names(screen)) == ["Durand", "Moreau"]
    top = screen.builder
    assert top.op.currentData() == "and" and len(top.items) == 2
    group = top.items[1]
    assert not isinstance(group, CriterionRowWidget)
    assert group.op.currentData() == "or"
    assert [(r.current_kind(), r.negated.isChecked()) for r in group.rows()] == [
        ("sex", False), ("pregnant", True)]
    qtbot.mouseClick(group.remove, Qt.MouseButton.LeftButton)
    assert screen.text_field.text() == "condition E04*"
    qtbot.waitUntil(lambda: screen.count_label.text() == "3 patients", timeout=10_000)


def test_a_syntax_error_says_where_and_what_in_french_and_keeps_the_rows(
        qtbot: QtBot, screen: CohortScreen) -> None:
    _count(qtbot, screen, lambda: qtbot.keyClicks(screen.text_field, "sex F and age 25..45"))
    assert len(screen.builder.rows()) == 2
    qtbot.keyClicks(screen.text_field, " et age 30")
    assert screen.error_label.text() == (
        "Erreur dans la requête, colonne 31 : « .. » et la borne haute (ex. 25..45) "
        "attendu(e), trouvé la fin de la requête.")
    assert screen.count_label.text() == "— patient"
    assert [r.current_kind() for r in screen.builder.rows()] == ["sex", "age"]
    assert not screen.export_button.isEnabled()
    screen.text_field.clear()
    qtbot.keyClicks(screen.text_field, "vaccine grippe")
    assert "colonne 9" in screen.error_label.text()
    assert "un concept (" in screen.error_label.text() and "flu" in screen.error_label.text()


def test_an_incomplete_row_shows_what_is_missing(qtbot: QtBot, screen: CohortScreen) -> None:
    _new_row(qtbot, screen, "condition")
    assert screen.text_field.text() == "condition"
    assert "colonne 10" in screen.error_label.text()
    assert "un code (E11, E11*, icpc2:T90...) attendu(e)" in screen.error_label.text()


def test_a_saved_search_comes_back_by_its_name(qtbot: QtBot, screen: CohortScreen,
                                              window: MainWindow, db: Database) -> None:
    _count(qtbot, screen, lambda: qtbot.keyClicks(screen.text_field, REFERENCE_1))
    screen.name_field.insert("Goitres à surveiller")  # QTest types ASCII only
    with qtbot.waitSignal(screen.savedListed, timeout=10_000):
        qtbot.mouseClick(screen.save_button, Qt.MouseButton.LeftButton)
    assert screen.saved_combo.currentText() == "Goitres à surveiller"
    screen.text_field.clear()
    _count(qtbot, screen, lambda: qtbot.keyClicks(screen.text_field, "sex M"))
    assert [r.current_kind() for r in screen.builder.rows()] == ["sex"]

    # Another window on the same database (the next day) finds it in the list.
    other = MainWindow(db, user="alice")
    qtbot.addWidget(other)
    try:
        again = other.cohort_screen
        qtbot.waitUntil(lambda: again.saved_combo.count() == 2, timeout=10_000)
        count = _count(qtbot, again, lambda: again.choose_saved("Goitres à surveiller"))
        assert count == 1
        assert again.text_field.text() == REFERENCE_1
        assert [r.current_kind() for r in again.builder.rows()] == [
            "sex", "age", "condition", "act", "pregnant"]
        assert again.name_field.text() == "Goitres à surveiller"
    finally:
        other.shutdown()
    with db.session() as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.entity == "saved_search")).one()
    assert (event.action, event.actor, event.details["expr"]) == ("create", "alice", REFERENCE_1)


def test_saving_without_a_name_says_so(qtbot: QtBot, screen: CohortScreen) -> None:
    qtbot.keyClicks(screen.text_field, "sex F")
    with qtbot.waitSignal(screen.failed, timeout=10_000) as blocker:
        qtbot.mouseClick(screen.save_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["Donnez un nom à la recherche."]
    assert screen.error_label.text() == "Donnez un nom à la recherche."


def test_the_csv_export_opens_in_a_french_spreadsheet(qtbot: QtBot, screen: CohortScreen,
                                                      tmp_path: Path) -> None:
    _count(qtbot, screen, lambda: qtbot.keyClicks(screen.text_field, "condition E04*"))
    assert screen.export_button.isEnabled()
    path = tmp_path / "goitres.csv"
    with qtbot.waitSignal(screen.exported, timeout=10_000) as blocker:
        screen.export_csv(path)
    assert blocker.args == [str(path), 3]
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").split("\r\n")
    assert lines[0] == ("Nom;Prénom(s);Sexe;Naissance;Âge;Commune;Téléphone;INS;Statut;"
                        "Fragilité;IDE coordinatrice")
    rows = list(csv.reader(io.StringIO("\r\n".join(lines[1:])), delimiter=";"))
    assert [r[0] for r in rows if r] == ["Durand", "Moreau", "Petit"]
    durand = rows[0]
    assert durand[2] == "F" and durand[3] == _born(35).strftime("%d/%m/%Y")
    assert durand[4] == "35" and durand[8] == "Suivi actif" and durand[10] == "alice"
    assert "3 patients exportés" in screen.info_label.text()


def test_mine_only_keeps_the_users_patients(qtbot: QtBot, screen: CohortScreen) -> None:
    _count(qtbot, screen, lambda: qtbot.keyClicks(screen.text_field, "age >= 18"))
    assert screen.model.rowCount() == 4
    assert _count(qtbot, screen, lambda: qtbot.mouseClick(screen.mine,
                                                          Qt.MouseButton.LeftButton)) == 3
    assert "Bernard" not in _names(screen)


def test_the_result_model_passes_qt_model_tester(qtbot: QtBot, qtmodeltester: object,
                                                 window: MainWindow) -> None:
    model = CohortResultModel(window.worker)
    with qtbot.waitSignal(model.resultShown, timeout=10_000):
        model.set_expr("condition E04* or sex M", immediate=True)
    assert model.rowCount() == 4
    qtmodeltester.check(model)  # type: ignore[attr-defined]


def test_a_result_becomes_a_call_campaign_on_the_day_s_call_list(
        qtbot: QtBot, screen: CohortScreen, db: Database,
        patients: dict[str, uuid.UUID]) -> None:
    _count(qtbot, screen, lambda: qtbot.keyClicks(screen.text_field, "condition E04*"))
    screen.name_field.insert("Goitres à revoir")
    with qtbot.waitSignal(screen.campaignDialogOpened, timeout=5_000) as opened:
        qtbot.mouseClick(screen.campaign_button, Qt.MouseButton.LeftButton)
    dialog = opened.args[0]
    assert dialog.name.text() == "Goitres à revoir"
    ok = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)  # no reason given yet
    qtbot.waitUntil(lambda: dialog.error.text() != "", timeout=10_000)
    assert dialog.error.text() == "Une campagne demande un nom et un libellé."
    dialog.label.insert("Contrôle de la thyroïde")
    with qtbot.waitSignal(screen.campaignCreated, timeout=10_000) as created:
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert created.args[1] == 3
    assert screen.info_label.text() == (
        "Campagne « Goitres à revoir » : 3 rappels ajoutés aux listes d'appels")
    with db.session() as session:
        lines = {item.patient_id: item for item in call_list(session, user="alice",
                                                             as_of=TODAY)}
    women = {patients[n] for n in ("Durand", "Petit", "Moreau")}
    assert women <= set(lines)
    for patient_id in women:
        reasons = [r for r in lines[patient_id].reasons if r.code.startswith("campaign.")]
        assert [(r.code, r.label_fr) for r in reasons] == [
            ("campaign.goitres-a-revoir", "Contrôle de la thyroïde")]
    assert patients["Bernard"] not in lines


def test_the_patient_selected_in_the_results_is_shown_beside_them(
        qtbot: QtBot, screen: CohortScreen, patients: dict[str, uuid.UUID]) -> None:
    with qtbot.waitSignal(screen.patientShown, timeout=10_000) as shown:
        qtbot.keyClicks(screen.text_field, "condition E04*")
    assert shown.args == [patients["Durand"]]
    with qtbot.waitSignal(screen.patientShown, timeout=10_000) as shown:
        qtbot.keyClick(screen.table, Qt.Key.Key_Down)
    assert shown.args == [patients["Moreau"]]
    summary = screen.panel.shown_patient()
    assert summary is not None and summary.birth_name == "Moreau"


def test_the_csv_keeps_the_ins_as_text_grouped_as_on_the_carte_vitale(
        qapp: object, db: Database) -> None:
    ids = add_patients(db)
    with db.session() as session:
        data = csv_bytes(session, ids=[ids["jeanne"]], today=date(2026, 12, 1))
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][7] == "INS"
    assert rows[1][7] == "2 95 10 99 126 111 93"  # not 2.95101E+14 in a spreadsheet
