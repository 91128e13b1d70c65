"""The day's call list on paper, and the list model checked on its own."""

from __future__ import annotations

import html
from datetime import date, datetime
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter
from pytestqt.qtbot import QtBot

from carehub.db import Database
from carehub.prevention.services import call_list, recompute_reminders
from tests.ui import add_patients
from tests.ui.test_directory_screen import _first_page, _ink
from ui.my_day.model import COL_NAME, COL_SINCE, CallListModel
from ui.my_day.sheet import BOX, build_sheet, sheet_html, write_sheet_pdf


def _items(db: Database) -> list:  # type: ignore[type-arg]
    add_patients(db)
    with db.transaction() as session:
        recompute_reminders(session, as_of=date.today(), actor="alice")
    with db.session() as session:
        return call_list(session, user="alice", as_of=date.today())


def test_the_sheet_lists_each_patient_with_phones_reasons_and_boxes(db: Database) -> None:
    items = _items(db)
    assert items
    printed = datetime(2026, 12, 1, 7, 45)
    # Numbers and dates are kept whole with no-break spaces; read as plain text here.
    text = sheet_html(items, day=date(2026, 12, 1), user="alice",
                      printed_at=printed).replace("\u00a0", " ")
    assert "Appels du mardi 1er décembre 2026" in text
    assert "imprimée le 01/12/2026 à 07:45" in text
    for item in items:
        assert html.escape(item.name) in text
        for phone in item.phones:
            assert phone.formatted in text
        for reason in item.reasons:
            assert html.escape(reason.label_fr) in text
    assert text.count(BOX) >= 9 * len(items)  # outcomes, call-back, done, RDV, referral
    assert "Saisie après coup" in text


def test_the_sheet_pdf_has_ink_on_its_first_page(qtbot: QtBot, db: Database,
                                                 tmp_path: Path) -> None:
    items = _items(db)
    pdf = tmp_path / "appels.pdf"
    write_sheet_pdf(items, pdf, day=date.today(), user="alice", printed_at=datetime.now())
    assert pdf.read_bytes().startswith(b"%PDF")
    page = _first_page(pdf, tmp_path)
    if page.isNull():  # no poppler: the same layout painted on an A4-landscape image
        page = QImage(842, 595, QImage.Format.Format_RGB32)
        page.fill(Qt.GlobalColor.white)
        document = build_sheet(items, day=date.today(), user="alice",
                               printed_at=datetime.now())
        document.setTextWidth(page.width())
        painter = QPainter(page)
        document.drawContents(painter)
        painter.end()
    assert page.width() > page.height()  # landscape
    assert _ink(page) > 500


def test_an_empty_day_still_prints_a_sheet_that_says_so(tmp_path: Path) -> None:
    text = sheet_html([], day=date(2026, 12, 1), user="alice",
                      printed_at=datetime(2026, 12, 1, 8, 0))
    assert "Aucun appel prévu ce jour." in text
    assert "0 personne à contacter" in text
    pdf = tmp_path / "vide.pdf"
    write_sheet_pdf([], pdf, day=date(2026, 12, 1), user="alice",
                    printed_at=datetime(2026, 12, 1, 8, 0))
    assert pdf.stat().st_size > 0


def test_the_list_model_passes_the_model_tester_and_highlights_a_line(
        db: Database, qtmodeltester: object) -> None:
    items = _items(db)
    model = CallListModel()
    qtmodeltester.check(model)  # type: ignore[attr-defined]  # empty
    model.set_items(items, today=date.today())
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    assert model.rowCount() == len(items)
    assert model.index(0, COL_NAME).data() == items[0].name
    assert model.index(0, COL_SINCE).data().endswith((" j", " mois", " ans")) or \
        model.index(0, COL_SINCE).data() == "aujourd'hui"
    first = items[0].patient_id
    assert model.index(0, 0).data(Qt.ItemDataRole.BackgroundRole) is None
    model.highlight(first)
    assert model.is_highlighted(first)
    assert model.index(0, 0).data(Qt.ItemDataRole.BackgroundRole) is not None
    model.set_items(items[1:], today=date.today())  # she was dealt with: no highlight left
    assert not model.is_highlighted(first)
    qtmodeltester.check(model)  # type: ignore[attr-defined]
