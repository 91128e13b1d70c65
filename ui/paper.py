"""A4 pages for what CareHub prints: the page layout, a QTextDocument sized to it, a PDF.

Shared by the directory's list (ui/directory/printout.py) and the day's call sheet
(ui/my_day/sheet.py). The content is rich text (tables, no CSS layout), measured on the
device it is printed on so that points are printer points.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMarginsF, QSizeF
from PySide6.QtGui import (
    QFont,
    QPagedPaintDevice,
    QPageLayout,
    QPageSize,
    QPdfWriter,
    QTextDocument,
)

FONT_FAMILY = "DejaVu Sans"  # installed with Qt's offscreen needs; has the ballot box ☐
PDF_RESOLUTION = 300


def a4_layout(*, landscape: bool = False, margins_mm: float = 15) -> QPageLayout:
    orientation = (QPageLayout.Orientation.Landscape if landscape
                   else QPageLayout.Orientation.Portrait)
    return QPageLayout(QPageSize(QPageSize.PageSizeId.A4), orientation,
                       QMarginsF(margins_mm, margins_mm, margins_mm, margins_mm),
                       QPageLayout.Unit.Millimeter)


def text_document(html: str, *, points: float,
                  device: QPagedPaintDevice | None = None) -> QTextDocument:
    """Rich text in the house font at `points`; measured on `device` when given."""
    text = QTextDocument()
    if device is not None:
        text.documentLayout().setPaintDevice(device)
    font = QFont(FONT_FAMILY)
    font.setPointSizeF(points)
    text.setDefaultFont(font)
    text.setHtml(html)
    return text


def print_document(device: QPagedPaintDevice, text: QTextDocument) -> None:
    """Lay `text` out on `device`'s pages (a QPdfWriter or a QPrinter) and print it."""
    paint_rect = device.pageLayout().paintRectPixels(device.resolution())
    text.setPageSize(QSizeF(paint_rect.size()))
    text.print_(device)


def pdf_writer(out: Path, *, title: str, layout: QPageLayout) -> QPdfWriter:
    writer = QPdfWriter(str(out))
    writer.setTitle(title)
    writer.setCreator("CareHub")
    writer.setResolution(PDF_RESOLUTION)
    writer.setPageLayout(layout)
    return writer
