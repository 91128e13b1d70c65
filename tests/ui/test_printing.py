"""Every printed document read back as text (pdftotext) and as a picture (pdftoppm).

A phone number, a date or an e-mail address printed on two lines is a wrong number for the
reader: each is looked for whole on one line of the PDF's text, for both type sizes of the
directory's list, on long names and addresses, on the call sheet and the dashboard report.
poppler-utils is installed by `bash scripts/setup.sh`; without it these tests fail.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
from datetime import date, datetime
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from carehub.db import Database
from carehub.directory.extract_import import import_extract
from carehub.directory.proximity import NearbyPractitioner, Origin
from carehub.directory.services import DirectoryResult, printable_list
from carehub.phones import format_phone
from carehub.workload.service import Figures, Rate, WeekCalls, Workload
from tests.ui.test_directory_screen import FIXTURE, ROOT
from tests.ui.test_my_day_sheet import _items
from ui.dashboard.screen import MANAGER_COLUMNS, tables_html
from ui.dashboard.screen import write_pdf as write_report
from ui.directory.printout import (
    LARGE_MIN_POINTS,
    LARGE_PHONE_POINTS,
    NORMAL_POINTS,
    build_document,
    write_pdf,
)
from ui.my_day.sheet import write_sheet_pdf
from ui.paper import a4_layout, overflows, paint_rect, pdf_writer, text_document

EM_HEIGHT = 1.164  # DejaVu Sans: ascent + descent, in ems (pdftotext's word boxes)
DIGIT_HEIGHT = 0.729  # DejaVu Sans: the ink height of a digit, in ems
XHTML = "{http://www.w3.org/1999/xhtml}"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: poppler-utils is installed by bash scripts/setup.sh")
    return found


def pdf_text(pdf: Path, *pages: int) -> str:
    """The PDF as text, laid out as printed; no-break spaces and hyphens as plain ones."""
    chosen = ["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []
    out = subprocess.run([_tool("pdftotext"), "-layout", *chosen, str(pdf), "-"],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return unicodedata.normalize("NFKC", out).replace("\u2010", "-")


def page_count(pdf: Path) -> int:
    return pdf_text(pdf).count("\f")


def word_boxes(pdf: Path, page: int) -> list[tuple[str, float, float, float, float, float]]:
    """Words of one page: text, x0, y0, x1, y1 (points) and the type size they print at."""
    out = subprocess.run([_tool("pdftotext"), "-bbox-layout", "-f", str(page), "-l",
                          str(page), str(pdf), "-"],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    words = []
    for word in ET.fromstring(out).iter(f"{XHTML}word"):
        y0, y1 = float(word.attrib["yMin"]), float(word.attrib["yMax"])
        words.append((unicodedata.normalize("NFKC", word.text or "").replace("\u2010", "-"),
                      float(word.attrib["xMin"]), y0, float(word.attrib["xMax"]), y1,
                      (y1 - y0) / EM_HEIGHT))
    return words


def rendered_page(pdf: Path, tmp_path: Path, page: int = 1) -> QImage:
    """The page as printed, at 72 dpi (one pixel a point)."""
    subprocess.run([_tool("pdftoppm"), "-r", "72", "-png", "-f", str(page), "-l", str(page),
                    "-singlefile", str(pdf), str(tmp_path / "render")], check=True, timeout=60)
    return QImage(str(tmp_path / "render.png"))


def ink_height(image: QImage, box: tuple[float, float, float, float]) -> tuple[int, int]:
    """Rows holding ink inside `box` (x0, y0, x1, y1), and the darkest grey there."""
    x0, y0, x1, y1 = (round(v) for v in box)
    rows, darkest = [], 255
    for y in range(y0, y1 + 1):
        levels = [image.pixelColor(x, y).lightness() for x in range(x0, x1 + 1)]
        if min(levels) < 128:
            rows.append(y)
        darkest = min(darkest, *levels)
    return (rows[-1] - rows[0] + 1 if rows else 0), darkest


def whole_on_a_line(text: str, value: str) -> bool:
    return any(value in line for line in text.splitlines())


def whole_word(text: str, word: str) -> bool:
    return re.search(rf"(?<!\S){re.escape(word)}(?![\w-])", text) is not None


# ---------------------------------------------------------------- the directory's list

def _practitioner(index: int, **changes: object) -> NearbyPractitioner:
    phone = f"+3325440{index:04d}"
    values: dict[str, object] = dict(
        id=f"8100000{index:05d}", rpps=None, civility="Docteur", last_name=f"MARTIN{index}",
        first_name="Jeanne", profession="10", profession_label="Médecin", specialty="SM54",
        specialty_label="Médecine Générale", commune="41018", commune_name="Blois",
        distance_km=index * 3.7, phone=phone, phone_display=format_phone(phone),
        site_name=None, address=f"{index} Rue DE LA REPUBLIQUE, 41000 BLOIS", mssante=None)
    values.update(changes)
    return NearbyPractitioner(**values)  # type: ignore[arg-type]


LONG_MAILBOX = "marie-christine.delarochefoucauld-montmorency@ch-blois-vendome.mssante.fr"


def long_list() -> DirectoryResult:
    """Fourteen practitioners: long names and addresses, a long MSSanté address, a number
    abroad, one without a phone; more than a page in both type sizes."""
    rows = [_practitioner(i) for i in range(1, 15)]
    rows[0] = _practitioner(
        1, first_name="Marie-Christine Anne-Sophie",
        last_name="DE LA ROCHEFOUCAULD-MONTMORENCY-LAVAL", mssante=LONG_MAILBOX,
        site_name="CENTRE HOSPITALIER SIMONE VEIL",
        address="BATIMENT DES CONSULTATIONS EXTERNES ET DE LA MEDECINE POLYVALENTE, 12 BIS "
                "Avenue DU MARECHAL DE LATTRE DE TASSIGNY, BP 40123, 41016 BLOIS CEDEX")
    rows[1] = _practitioner(2, specialty_label="Cardiologie et maladies vasculaires",
                            mssante="j.martin2@medecin.mssante.fr",
                            address="8 Rue DES ECOLES, 41350 SAINT GERVAIS LA FORET",
                            commune_name="Saint-Gervais-la-Forêt")
    rows[2] = _practitioner(3, phone="+442079460958", phone_display=format_phone(
        "+442079460958"), address="10 HARLEY STREET, LONDON, Royaume-Uni")
    rows[3] = _practitioner(4, phone=None, phone_display=None)
    return DirectoryResult(Origin("41018", "Blois", 47.58, 1.33), None, rows)


def _long_document(large_print: bool) -> dict[str, object]:
    return printable_list(long_list(), radius_km=60, today=date(2026, 11, 23),
                          large_print=large_print)


@pytest.mark.parametrize("large_print", [False, True], ids=["normal", "large"])
def test_every_number_address_and_header_of_the_list_prints_whole(
        qtbot: QtBot, tmp_path: Path, large_print: bool) -> None:
    document = _long_document(large_print)
    pdf = tmp_path / "liste.pdf"
    pages = write_pdf(document, pdf)
    assert pages >= 2 and page_count(pdf) == pages
    text = pdf_text(pdf)
    rows = document["rows"]
    assert isinstance(rows, list)
    for row in rows:
        if row["phone"]:
            assert whole_on_a_line(text, row["phone"]), row["phone"]
        if row["mssante"]:
            assert whole_on_a_line(text, row["mssante"]), row["mssante"]
        assert whole_on_a_line(text, row["distance"])
        for word in re.split(r"[\s,]+", f"{row['name']} {row['site']} {row['address']}"):
            # A line may end after a hyphen (Saint-/Gervais), never inside a word.
            assert word == "" or whole_word(text, word) or all(
                re.search(rf"{re.escape(part)}(?!\w)", text) for part in word.split("-")), word
    assert "02 54 40 00 01" in text and "+44 20 7946 0958" in text
    assert whole_on_a_line(text, "23/11/2026")
    assert "8 rue des Écoles," in text and "Saint-Gervais-la-Forêt" in text
    headers = ("Professionnel", "et", "adresse", "Téléphone", "Distance") if not large_print \
        else ("Professionnels", "de", "santé", "près", "chez", "vous")
    for word in headers:
        assert whole_word(text, word), word
    for page in range(1, pages + 1):
        on_page = pdf_text(pdf, page)
        # Each page says how many practitioners, within what distance.
        assert "14 professionnels de santé à moins de 60 km de Blois" in on_page
        assert f"page {page} sur {pages}" in on_page
        if not large_print:  # the table's header row on every page, its words whole
            assert whole_word(on_page, "Téléphone") and whole_word(on_page, "Distance")


@pytest.mark.parametrize("large_print", [False, True], ids=["normal", "large"])
def test_the_list_fits_the_page_width_the_address_taking_the_room_left(
        qtbot: QtBot, tmp_path: Path, large_print: bool) -> None:
    writer = pdf_writer(tmp_path / "mesure.pdf", title="x", layout=a4_layout())
    text = build_document(_long_document(large_print), writer)
    text.setPageSize(paint_rect(writer, a4_layout()).size())
    assert not overflows(text)


def test_large_print_has_one_block_each_the_phone_its_largest_line(
        qtbot: QtBot, tmp_path: Path) -> None:
    document = _long_document(True)
    pdf = tmp_path / "gros.pdf"
    pages = write_pdf(document, pdf)
    phones = {row["phone"] for row in document["rows"] if row["phone"]}  # type: ignore[union-attr]
    for page in range(1, pages + 1):
        words = word_boxes(pdf, page)
        mailbox_words = {w for row in document["rows"] for w in  # type: ignore[union-attr]
                         (row["mssante"] or "").split()}
        body = [w for w in words if w[0] not in mailbox_words]
        assert min(size for *_box, size in body) >= LARGE_MIN_POINTS - 0.2
        largest = max(size for *_box, size in words)
        on_page = pdf_text(pdf, page)
        if not any(phone in on_page for phone in phones):
            continue  # the last page may hold the closing note only
        assert largest == pytest.approx(LARGE_PHONE_POINTS, abs=0.3)
        # Only phone numbers print at the largest size.
        big = " ".join(w[0] for w in words if w[5] > largest - 0.3)
        assert big and all(part in " ".join(phones) for part in big.split())
    # The first page as printed: the first phone number's digits are as tall as 30 pt
    # digits are, and black on white.
    first = document["rows"][0]["phone"]  # type: ignore[index]
    words = word_boxes(pdf, 1)
    digits = first.split()[0]
    box = next((x0, y0, x1, y1) for word, x0, y0, x1, y1, _s in words if word == digits
               and _s > LARGE_PHONE_POINTS - 1)
    image = rendered_page(pdf, tmp_path)
    height, darkest = ink_height(image, box)
    assert height / DIGIT_HEIGHT >= LARGE_PHONE_POINTS * 0.9
    assert darkest < 40  # black ink, not grey


def test_normal_print_phone_lines_print_at_body_size(qtbot: QtBot, tmp_path: Path) -> None:
    document = _long_document(False)
    pdf = tmp_path / "liste.pdf"
    write_pdf(document, pdf)
    phone = document["rows"][1]["phone"]  # type: ignore[index]
    words = word_boxes(pdf, 1)
    first = phone.split()[0]
    sizes = [s for word, *_box, s in words if word == first]
    assert sizes and min(sizes) >= NORMAL_POINTS - 0.2
    box = next((x0, y0, x1, y1) for word, x0, y0, x1, y1, _s in words if word == first)
    height, _darkest = ink_height(rendered_page(pdf, tmp_path), box)
    assert height / DIGIT_HEIGHT >= NORMAL_POINTS * 0.85


def test_the_cli_list_prints_addresses_in_french(db: Database, tmp_path: Path) -> None:
    with db.transaction() as session:
        import_extract(session, path=FIXTURE, actor="alice")
    out = tmp_path / "mairie.pdf"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    for large in ([], ["--large-print"]):
        result = subprocess.run(
            [sys.executable, "-m", "carehub.cli", "--db", str(db.path), "directory",
             "print", "--commune", "41295", "--radius", "10", *large, "--out", str(out)],
            env=env, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        text = pdf_text(out)
        assert whole_on_a_line(text, "3 place de l'Église, 41350 Vineuil")
        assert whole_on_a_line(text, "02 54 42 00 11")
        assert "EGLISE" not in text and "Distan\n" not in text


# ---------------------------------------------------------------- the day's call sheet

def test_the_call_sheet_keeps_every_number_and_header_word_whole(
        qtbot: QtBot, db: Database, tmp_path: Path) -> None:
    items = _items(db)
    long = dataclasses.replace(
        items[0], name="DE LA ROCHEFOUCAULD-MONTMORENCY née LEFEBVRE-DUCHÂTEAU "
                       "Marie-Christine Anne-Sophie",
        caregiver="Marie-Thérèse DURAND-LEFEBVRE (fille aînée) 06 12 34 56 78")
    sheet = [long, *items[1:], *(items * 8)]  # more than a page
    pdf = tmp_path / "appels.pdf"
    write_sheet_pdf(sheet, pdf, day=date(2026, 12, 1), user="alice",
                    printed_at=datetime(2026, 12, 1, 7, 45))
    text = pdf_text(pdf)
    assert page_count(pdf) >= 2
    for item in sheet:
        for phone in item.phones:
            assert whole_on_a_line(text, phone.formatted), phone.formatted
    assert whole_on_a_line(text, "06 12 34 56 78")  # the caregiver's
    assert whole_on_a_line(text, "Appels du mardi 1er décembre 2026")
    assert whole_on_a_line(text, "imprimée le 01/12/2026 à 07:45")
    for word in ("Patient", "Téléphones", "Motifs", "Résultat", "(cocher)", "Heure,",
                 "durée,", "notes"):
        assert whole_word(text, word), word
    for word in ("ROCHEFOUCAULD", "MONTMORENCY", "LEFEBVRE", "DUCHÂTEAU", "Anne-Sophie"):
        assert word in text
    writer = pdf_writer(tmp_path / "mesure.pdf", title="x",
                        layout=a4_layout(landscape=True, margins_mm=10))
    from ui.my_day.sheet import build_sheet

    laid = build_sheet(sheet, day=date(2026, 12, 1), user="alice",
                       printed_at=datetime(2026, 12, 1, 7, 45), device=writer)
    laid.setPageSize(paint_rect(writer, writer.pageLayout()).size())
    assert not overflows(laid)


# ---------------------------------------------------------------- the dashboard's report

def _figures(user: str, name: str) -> Figures:
    return Figures(user=user, display_name=name, patients=1234,
                   by_fragility={"0": 400, "1": 300, "2": 200, "3": 100, "unknown": 234},
                   overdue=5678, calls=9999, reached=8888, call_seconds=99_999,
                   timed_calls=100, actions={"referral": 1234, "call": 4567},
                   coverage={"screening.breast": Rate(
                       "screening.breast", "Dépistage organisé du cancer du sein", 1234, 2345,
                       date(2026, 11, 30))})


def test_the_dashboard_report_keeps_headers_and_figures_whole(
        qtbot: QtBot, tmp_path: Path) -> None:
    found = Workload(date(2026, 11, 1), date(2026, 11, 30),
                     [_figures("marie", "Marie-Christine Lefebvre-Duchâteau"),
                      _figures("bob", "Bob")], _figures("team", "Équipe"),
                     [WeekCalls(date(2026, 11, 2), "marie", 10, 5)])
    pdf = tmp_path / "rapport.pdf"
    pages = write_report(found, pdf, title="Tableau de bord de l'équipe")
    text = pdf_text(pdf, 2, pages)
    for header in MANAGER_COLUMNS:
        for word in header.split():
            assert whole_word(text, word), word
    for figure in ("16 min 40", "89 %", "53 %", "30/11/2026", "du 01/11/2026 au 30/11/2026"):
        assert whole_on_a_line(text, figure), figure
    writer = pdf_writer(tmp_path / "mesure.pdf", title="x",
                        layout=a4_layout(landscape=True, margins_mm=12))
    laid = text_document(tables_html(found), points=9, device=writer)
    laid.setPageSize(paint_rect(writer, writer.pageLayout()).size())
    assert not overflows(laid)


def test_the_print_dialogs_page_range_is_honoured_on_a_printer(
        qtbot: QtBot, tmp_path: Path) -> None:
    from PySide6.QtPrintSupport import QPrinter

    from ui.directory.printout import print_to

    printer = QPrinter(QPrinter.PrinterMode.HighResolution)  # as the print dialog makes it
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(tmp_path / "imprimante.pdf"))
    printer.setPageLayout(a4_layout())
    printer.setFromTo(2, 3)  # "pages 2 to 3" chosen in the dialog
    pages = print_to(printer, _long_document(True))
    del printer
    assert pages == 5
    text = pdf_text(tmp_path / "imprimante.pdf")
    assert page_count(tmp_path / "imprimante.pdf") == 2
    assert "page 2 sur 5" in text and "page 3 sur 5" in text and "page 1 sur 5" not in text
    assert whole_on_a_line(text, "+44 20 7946 0958")  # at the printer's resolution, whole


@pytest.mark.parametrize("large_print", [False, True], ids=["normal", "large"])
def test_an_empty_list_says_so(qtbot: QtBot, tmp_path: Path, large_print: bool) -> None:
    empty = DirectoryResult(Origin("41018", "Blois", 47.58, 1.33), None, [])
    document = printable_list(empty, radius_km=5, today=date(2026, 11, 23),
                              large_print=large_print)
    pdf = tmp_path / "vide.pdf"
    assert write_pdf(document, pdf) == 1
    text = pdf_text(pdf)
    assert whole_on_a_line(text, "5 km")
    assert "Aucun professionnel de santé à moins de 5 km de Blois" in text  # the foot
    text = " ".join(text.split())
    assert "Aucun professionnel de santé trouvé à moins de 5 km de Blois." in text
