"""The SQL-backed caseload model: pages on demand, French cells, stale searches dropped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import insert

from carehub.caseload.models import Patient
from carehub.caseload.services import search_text_for, sort_key_for
from carehub.db import Database
from tests.ui import add_patients
from ui.widgets.patient_table import PAGE_SIZE, PLACEHOLDER, CaseloadModel, CaseloadQuery
from ui.worker import DatabaseWorker


@pytest.fixture
def worker(db: Database) -> Iterator[DatabaseWorker]:
    worker = DatabaseWorker(db)
    yield worker
    worker.shutdown()


def _loaded(qtbot: QtBot, model: CaseloadModel, query: CaseloadQuery | None = None) -> None:
    with qtbot.waitSignal(model.resultShown, timeout=10_000):
        model.set_query(query or CaseloadQuery(), immediate=True)


def _cells(model: CaseloadModel, row: int) -> list[str]:
    return [model.index(row, column).data() for column in range(model.columnCount())]


def test_cells_are_shown_the_french_way(qtbot: QtBot, db: Database,
                                        worker: DatabaseWorker) -> None:
    add_patients(db)
    model = CaseloadModel(worker)
    _loaded(qtbot, model, CaseloadQuery(text="jeanne"))
    today = date.today()
    age = today.year - 1950 - ((today.month, today.day) < (3, 2))
    assert _cells(model, 0) == ["Durand (Martin)", "Jeanne Marie", "02/03/1950", str(age),
                                "Blois", "06 12 34 56 78", "295109912611193", "Suivi actif",
                                "2 – fragile", "alice"]
    assert model.headerData(2, Qt.Orientation.Horizontal) == "Naissance"


def test_the_model_passes_qt_model_tester_with_data_loaded(qtbot: QtBot, qtmodeltester: object,
                                                           db: Database,
                                                           worker: DatabaseWorker) -> None:
    add_patients(db)
    model = CaseloadModel(worker)
    _loaded(qtbot, model)
    assert model.rowCount() == 3
    qtmodeltester.check(model)  # type: ignore[attr-defined]


def _bulk_patients(db: Database, count: int) -> None:
    rows = []
    for n in range(count):
        name = f"Patient{n:05d}"
        rows.append({"birth_name": name, "given_names": "Test", "birth_date": date(1940, 1, 1),
                     "search_text": search_text_for(names=[name, "Test"], ins=None, phones=[],
                                                    commune_name=None),
                     "sort_key": sort_key_for(used_name=None, birth_name=name,
                                              given_names="Test")})
    with db.transaction() as session:
        session.execute(insert(Patient), rows)


def test_far_rows_show_a_placeholder_then_their_page(qtbot: QtBot, db: Database,
                                                     worker: DatabaseWorker) -> None:
    _bulk_patients(db, PAGE_SIZE * 2 + 50)
    model = CaseloadModel(worker)
    _loaded(qtbot, model)
    assert model.rowCount() == PAGE_SIZE * 2 + 50
    assert model.index(0, 0).data() == "Patient00000"
    far = PAGE_SIZE * 2 + 10
    with qtbot.waitSignal(model.dataChanged, timeout=10_000):
        assert model.index(far, 0).data() == PLACEHOLDER
    assert model.index(far, 0).data() == f"Patient{far:05d}"


def test_a_late_answer_to_an_older_search_is_dropped(qtbot: QtBot, db: Database,
                                                     worker: DatabaseWorker) -> None:
    add_patients(db)
    model = CaseloadModel(worker)
    shown: list[int] = []
    model.resultShown.connect(shown.append)
    model.set_query(CaseloadQuery(text="paul"), immediate=True)
    with qtbot.waitSignal(model.resultShown, timeout=10_000):
        model.set_query(CaseloadQuery(text="claire"), immediate=True)
    # Jobs run in order: the answer to "paul" came back first, and was dropped.
    assert shown == [1]
    assert model.index(0, 1).data() == "Claire"


def test_typing_is_debounced_into_one_search(qtbot: QtBot, db: Database,
                                             worker: DatabaseWorker) -> None:
    add_patients(db)
    model = CaseloadModel(worker)
    shown: list[int] = []
    model.resultShown.connect(shown.append)
    with qtbot.waitSignal(model.resultShown, timeout=10_000):
        for prefix in ("l", "le", "lef", "lefe"):
            model.set_query(CaseloadQuery(text=prefix))
    assert shown == [1]
    assert model.index(0, 0).data() == "Lefebvre"
