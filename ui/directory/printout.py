"""The printable list "Professionnels de santé près de chez vous", laid out by Qt.

The content comes from carehub.directory.services.printable_list (plain data); this
module turns it into a QTextDocument and prints it to a PDF (QPdfWriter) or to a printer
(QPrintDialog). `python -m ui.directory.printout --out FILE.pdf < list.json` is how the
headless CLI gets its PDF without importing Qt itself.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from pathlib import Path
from typing import Any

from PySide6.QtGui import QPagedPaintDevice, QTextDocument

from ui.paper import a4_layout, pdf_writer, print_document, text_document

# Body size in points: 12 reads well on paper; 18 for readers with poor eyesight.
NORMAL_POINTS = 12
LARGE_POINTS = 18


def list_html(document: dict[str, Any]) -> str:
    """The list as the rich text QTextDocument understands (tables, no CSS layout)."""
    e = html.escape

    def nowrap(value: str) -> str:  # a phone number or a distance never breaks
        return e(value).replace(" ", "&nbsp;")

    rows = []
    for row in document["rows"]:
        site = f"{e(row['site'])}<br>" if row["site"] else ""
        # Secure messaging reaches professionals only: for the nurse or the pharmacist.
        # The address on a line of its own, never broken at a hyphen (U+2011).
        mailbox = (f"<br><small>Messagerie sécurisée (professionnels) :<br>"
                   f"{e(row['mssante']).replace('-', chr(0x2011))}</small>"
                   if row.get("mssante") else "")
        rows.append(
            "<tr>"
            f"<td width='58%'><b>{e(row['name'])}</b><br><i>{e(row['kind'])}</i><br>"
            f"{site}{e(row['address'])}{mailbox}</td>"
            f"<td width='27%'><b>{nowrap(row['phone']) or '—'}</b></td>"
            f"<td width='15%' align='right'>{nowrap(row['distance'])}</td>"
            "</tr>")
    body = "".join(rows) or ("<tr><td colspan='3'>Aucun professionnel trouvé dans ce rayon."
                             "</td></tr>")
    return (
        f"<h1>{e(document['title'])}</h1>"
        f"<p><b>{e(document['subtitle'])}</b><br>{e(document['date'])}</p>"
        "<table width='100%' cellspacing='0' cellpadding='6' border='1' "
        "style='border-collapse: collapse; border-color: #888'>"
        "<thead><tr><th align='left'>Professionnel et adresse</th>"
        "<th align='left'>Téléphone</th><th align='right'>Distance</th></tr></thead>"
        f"{body}</table>"
        f"<p><i>{e(document['footer'])}</i></p>"
    )


def build_document(document: dict[str, Any],
                   device: QPagedPaintDevice | None = None) -> QTextDocument:
    """The list as a QTextDocument; measured on `device` so points are printer points."""
    return text_document(list_html(document), device=device,
                         points=LARGE_POINTS if document.get("large_print") else NORMAL_POINTS)


def print_to(device: QPagedPaintDevice, document: dict[str, Any]) -> None:
    """Lay the list out on `device`'s pages (a QPdfWriter or a QPrinter)."""
    print_document(device, build_document(document, device))


def write_pdf(document: dict[str, Any], out: Path) -> None:
    print_to(pdf_writer(out, title=document["title"], layout=a4_layout()), document)


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
