"""Thousands of repaints of the table with data: PySide6 6.12.0 on CPython 3.11 aborts here.

6.12.0 drops a reference to None twice per repaint; a few thousand repaints end in
`Fatal Python error: none_dealloc` (SETUP-NOTES.md). This test is the tripwire for an
upgrade: the process must survive, and the table must still show its rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QTableView
from pytestqt.qtbot import QtBot

from carehub.db import Database
from tests.ui import add_patients
from ui.widgets.patient_table import COL_NAME, CaseloadModel, CaseloadQuery
from ui.worker import DatabaseWorker

REPAINTS = 3000


@pytest.fixture
def worker(db: Database) -> Iterator[DatabaseWorker]:
    worker = DatabaseWorker(db)
    yield worker
    worker.shutdown()


def test_the_table_survives_thousands_of_repaints(qtbot: QtBot, db: Database,
                                                  worker: DatabaseWorker) -> None:
    add_patients(db)
    model = CaseloadModel(worker)
    table = QTableView()
    table.setModel(model)
    qtbot.addWidget(table)
    table.resize(900, 300)
    with qtbot.waitSignal(model.resultShown, timeout=10_000):
        model.set_query(CaseloadQuery(), immediate=True)
    table.show()
    qtbot.waitExposed(table)
    for _ in range(REPAINTS):
        table.viewport().repaint()
    assert table.isVisible()
    assert model.index(0, COL_NAME).data() == "Durand (Martin)"
    assert not table.grab().isNull()
