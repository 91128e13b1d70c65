"""The printable list "Professionnels de santé près de chez vous", laid out by Qt.

The content comes from carehub.directory.services.printable_list (plain data); this
module turns it into a QTextDocument and prints it to a PDF (QPdfWriter) or to a printer
(QPrintDialog). `python -m ui.directory.printout --out FILE.pdf < list.json` is how the
headless CLI gets its PDF without importing Qt itself.

Normal print is a table: the phone and distance columns as wide as their content, the rest
of the line for the name and the address. Large print (for poor eyesight) has one framed
block per practitioner, black on white, the phone number its largest line; a block is never
cut by the end of a page. Both say on every page how many practitioners the list holds and
within what distance.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from pathlib import Path
from typing import Any

from PySide6.QtGui import QPagedPaintDevice, QTextDocument

from ui.paper import (
    a4_layout,
    css_pixels,
    keep_whole,
    own_line,
    paint_rect,
    pdf_writer,
    print_document,
    text_document,
    text_width,
)

# Body size in points: 12 reads well on paper; large print is 18 (never under 16), its
# practitioner's name 22 and her phone number 30, the largest line of the page.
NORMAL_POINTS = 12
LARGE_POINTS = 18
LARGE_NAME_POINTS = 22
LARGE_PHONE_POINTS = 30
LARGE_TITLE_POINTS = 26
LARGE_MIN_POINTS = 16
SMALL_RATIO = 0.85  # Qt's <small>
CELL_PADDING = 6  # rich-text pixels (1/96 inch)
WIDEST_PHONE = "01 23 45 67 89"
MAILBOX_LABEL = "Messagerie sécurisée (professionnels) :"


def _fitted(text: str, *, points: float, room: float,
            device: QPagedPaintDevice | None) -> float:
    """`points`, or less if `text` on one line would be wider than `room`."""
    width = text_width(text, points=points, device=device)
    return points if width <= room else points * room / width * 0.97


def _page_width(device: QPagedPaintDevice | None) -> float:
    return paint_rect(device, a4_layout()).width()


def _dpi_scale(device: QPagedPaintDevice | None) -> float:
    return (device.logicalDpiX() if device is not None else 96) / 96


def _mailbox(address: str, *, points: float, room: float,
             device: QPagedPaintDevice | None) -> str:
    size = _fitted(address, points=points, room=room, device=device)
    return (f"<p style='margin: 0; font-size: {points:.1f}pt'>{html.escape(MAILBOX_LABEL)}"
            f"</p>{own_line(keep_whole(address), style=f'font-size: {size:.1f}pt')}")


def list_html(document: dict[str, Any], device: QPagedPaintDevice | None = None) -> str:
    """The list as the rich text QTextDocument understands (tables, no CSS layout)."""
    if document.get("large_print"):
        return large_print_html(document, device)
    e = html.escape
    points = NORMAL_POINTS
    rows = document["rows"]
    scale = _dpi_scale(device)
    padding = 2 * (CELL_PADDING + 1) * scale
    phone_column = max(text_width(x, points=points, bold=True, device=device)
                       for x in (WIDEST_PHONE, "Téléphone", *(r["phone"] for r in rows)))
    distance_column = max(text_width(x, points=points, bold=True, device=device)
                          for x in ("Distance", *(r["distance"] for r in rows)))
    first_column = _page_width(device) - phone_column - distance_column - 3 * padding
    # Fixed widths, in the rich text's pixels: the phone and the distance as wide as their
    # widest content, the name and address the rest (Qt never gives a cell less than its
    # widest word, so a measure a little short cannot break a number either).
    widths = [f"width='{css_pixels(w, device):.0f}'"
              for w in (first_column, phone_column + scale, distance_column + scale)]
    small = points * SMALL_RATIO
    body = []
    for row in rows:
        site = f"{e(row['site'])}<br>" if row["site"] else ""
        # Secure messaging reaches professionals only: for the nurse or the pharmacist.
        # The address whole on a line of its own, smaller if the column is too narrow for
        # it (not in a row spanning the table: Qt would then widen the narrow columns).
        mailbox = (_mailbox(row["mssante"], points=small, room=first_column, device=device)
                   if row.get("mssante") else "")
        phone = (own_line(f"<b>{keep_whole(row['phone'])}</b>") if row["phone"]
                 else "—")
        body.append(
            "<tr>"
            f"<td {widths[0]}><b>{e(row['name'])}</b><br><i>{e(row['kind'])}</i><br>"
            f"{site}{e(row['address'])}{mailbox}"
            f"</td><td {widths[1]}>{phone}</td>"
            f"<td {widths[2]} align='right'>{keep_whole(row['distance'])}</td>"
            "</tr>")
    table = "".join(body) or ("<tr><td colspan='3'>Aucun professionnel trouvé dans ce rayon."
                              "</td></tr>")
    return (
        f"<h1>{e(document['title'])}</h1>"
        f"<p><b>{e(document['count'])}</b><br>{e(document['subtitle'])}<br>"
        f"{e(document['date'])}</p>"
        f"<table width='100%' cellspacing='0' cellpadding='{CELL_PADDING}' border='1' "
        "style='border-collapse: collapse; border-color: #555'>"
        f"<thead><tr><th align='left' {widths[0]}>Professionnel et adresse</th>"
        f"<th align='left' {widths[1]}>Téléphone</th>"
        f"<th align='right' {widths[2]}>Distance</th></tr></thead>"
        f"{table}</table>"
        f"<p><i>{e(document['footer'])}</i></p>"
    )


def large_print_html(document: dict[str, Any],
                     device: QPagedPaintDevice | None = None) -> str:
    """One framed block per practitioner, black on white, the phone number largest."""
    e = html.escape
    room = _page_width(device) - 2 * (12 + 3) * _dpi_scale(device)
    blocks = []
    for row in document["rows"]:
        phone = (own_line(f"<b>{keep_whole(row['phone'])}</b>",
                          style=f"font-size: {LARGE_PHONE_POINTS}pt")
                 if row["phone"] else
                 "<p style='margin: 0'><b>Pas de téléphone dans l'annuaire</b></p>")
        site = f"{e(row['site'])}<br>" if row["site"] else ""
        mailbox = (_mailbox(row["mssante"], points=LARGE_MIN_POINTS, room=room, device=device)
                   if row.get("mssante") else "")
        blocks.append(
            "<table width='100%' cellspacing='0' cellpadding='12' border='3' "
            "style='border-collapse: collapse; border-color: #000000'><tr><td>"
            f"<p style='margin: 0; font-size: {LARGE_NAME_POINTS}pt'><b>{e(row['name'])}</b></p>"
            f"<p style='margin: 0'>{e(row['kind'])}</p>"
            f"{phone}"
            f"<p style='margin: 0'>{site}{e(row['address'])}</p>"
            f"<p style='margin: 0'>À {keep_whole(row['distance'])}</p>"
            f"{mailbox}"
            "</td></tr></table><p style='margin: 0; font-size: 10pt'>&nbsp;</p>")
    if not blocks:
        blocks.append("<p><b>Aucun professionnel trouvé dans ce rayon.</b></p>")
    return (
        f"<p style='margin: 0; font-size: {LARGE_TITLE_POINTS}pt'><b>{e(document['title'])}"
        "</b></p>"
        f"<p><b>{e(document['count'])}</b></p>"
        f"<p>{e(document['date'])}</p>"
        f"{''.join(blocks)}"
        f"<p><b>{e(document['footer'])}</b></p>"
    )


def points_of(document: dict[str, Any]) -> float:
    return LARGE_POINTS if document.get("large_print") else NORMAL_POINTS


def build_document(document: dict[str, Any],
                   device: QPagedPaintDevice | None = None) -> QTextDocument:
    """The list as a QTextDocument; measured on `device` so points are printer points."""
    return text_document(list_html(document, device), device=device,
                         points=points_of(document))


def print_to(device: QPagedPaintDevice, document: dict[str, Any]) -> int:
    """Lay the list out on `device`'s pages (a QPdfWriter or a QPrinter); its pages."""
    large = bool(document.get("large_print"))
    return print_document(device, build_document(document, device),
                          footer=document.get("footer_count") or document["count"],
                          footer_points=LARGE_MIN_POINTS if large else 9,
                          whole_frames=large)


def write_pdf(document: dict[str, Any], out: Path) -> int:
    """The list as a PDF file; its number of pages."""
    writer = pdf_writer(out, title=document["title"], layout=a4_layout())
    pages = print_to(writer, document)
    del writer  # the file is complete once the writer is gone
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the printable list (JSON on stdin).")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication(["carehub-print"])
    document = json.load(sys.stdin)
    try:
        write_pdf(document, args.out)
    except OSError as exc:
        print(f"cannot write {args.out}: {exc}", file=sys.stderr)
        return 1
    if not args.out.exists() or args.out.stat().st_size == 0:
        print(f"cannot write {args.out}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
