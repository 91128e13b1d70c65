"""A4 pages for what CareHub prints: the page layout, a QTextDocument sized to it, a PDF.

Shared by the directory's list (ui/directory/printout.py), the day's call sheet
(ui/my_day/sheet.py) and the dashboard's report (ui/dashboard/screen.py). The content is
rich text (tables, no CSS layout), measured on the device it is printed on so that points
are printer points.

What a reader copies by hand is never broken inside: the documents wrap between words only
(never inside one, whatever the column's width), a phone number, a date or an INS is kept
whole with no-break spaces (`keep_whole`), and so is an e-mail or MSSanté address (its
hyphens made non-breaking: nothing else in an address lets a line break). Narrow columns
are sized from their content (`NARROW`, or widths measured with `text_width`), the rest of
the line goes to the columns that wrap (names, addresses).
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import cast

from PySide6.QtCore import QMarginsF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPagedPaintDevice,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QTextDocument,
    QTextFrameFormat,
    QTextOption,
)
from PySide6.QtPrintSupport import QPrinter

FONT_FAMILY = "DejaVu Sans"  # installed with Qt's offscreen needs; has the ballot box ☐
PDF_RESOLUTION = 300
NO_BREAK_SPACE = "\u00a0"
NO_BREAK_HYPHEN = "\u2011"
# A column as wide as its widest word: Qt gives a cell at least its widest unbreakable
# item, so a fixed width of one pixel leaves exactly that.
NARROW = "width='1'"
SCREEN_DPI = 96  # what a QTextDocument measures with when it has no paint device


def a4_layout(*, landscape: bool = False, margins_mm: float = 15) -> QPageLayout:
    orientation = (QPageLayout.Orientation.Landscape if landscape
                   else QPageLayout.Orientation.Portrait)
    return QPageLayout(QPageSize(QPageSize.PageSizeId.A4), orientation,
                       QMarginsF(margins_mm, margins_mm, margins_mm, margins_mm),
                       QPageLayout.Unit.Millimeter)


def keep_whole(text: str) -> str:
    """`text` escaped for rich text, never broken across lines: a phone number, a date,
    an INS, a distance ("02 54 42 00 11", "1er décembre 2026", "6,2 km")."""
    return (html.escape(text).replace(" ", NO_BREAK_SPACE)
            .replace("-", NO_BREAK_HYPHEN))


# What must not be cut inside a free text (a caregiver's line, a note): runs of digit
# groups (a phone number "06 12 34 56 78", "+33 6 12 34 56 78", an INS
# "2 84 12 75 123 456 78") and dates written out ("1er décembre 2026").
_MONTHS = ("janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|"
           "décembre")
_WHOLE_RUNS = re.compile(rf"\+?\d+(?:[ .]\d+)+|\d{{1,2}}(?:er)? (?:{_MONTHS}) \d{{4}}")


def keep_numbers_whole(text: str) -> str:
    """Free text escaped for rich text, the numbers and dates inside it kept whole."""
    out, end = [], 0
    for match in _WHOLE_RUNS.finditer(text):
        out.append(html.escape(text[end:match.start()]))
        out.append(keep_whole(match.group()))
        end = match.end()
    out.append(html.escape(text[end:]))
    return "".join(out)


def own_line(inner_html: str, *, style: str = "") -> str:
    """A paragraph of its own (a phone line, an e-mail address made whole by
    `keep_whole`). Not `white-space: nowrap`: Qt then miscounts a table cell's width."""
    return f"<p style='margin: 0; {style}'>{inner_html}</p>"


def house_font(points: float, *, bold: bool = False) -> QFont:
    font = QFont(FONT_FAMILY)
    font.setPointSizeF(points)
    font.setBold(bold)
    return font


def text_width(text: str, *, points: float, bold: bool = False,
               device: QPagedPaintDevice | None = None) -> float:
    """How wide `text` prints, in the units of a document laid out on `device`."""
    font = house_font(points, bold=bold)
    metrics = QFontMetricsF(font, device) if device is not None else QFontMetricsF(font)
    return metrics.horizontalAdvance(text)


def css_pixels(device_units: float, device: QPagedPaintDevice | None) -> float:
    """A length measured on `device` as the rich text's pixels (1/96 inch)."""
    dpi = device.logicalDpiX() if device is not None else SCREEN_DPI
    return device_units * SCREEN_DPI / dpi


def paint_rect(device: QPagedPaintDevice | None, layout: QPageLayout) -> QRectF:
    """The printable area at the origin, in the units a document on `device` uses."""
    if device is not None:
        # Every device printed on (a printer, a PDF writer) has a resolution.
        resolution = cast("QPrinter | QPdfWriter", device).resolution()
        rect = QRectF(device.pageLayout().paintRectPixels(resolution))
    else:
        rect = QRectF(layout.paintRectPixels(SCREEN_DPI))
    rect.moveTo(0, 0)
    return rect


def text_document(html_text: str, *, points: float,
                  device: QPagedPaintDevice | None = None) -> QTextDocument:
    """Rich text in the house font at `points`; measured on `device` when given. Lines
    wrap between words only, never inside a word."""
    text = QTextDocument()
    if device is not None:
        text.documentLayout().setPaintDevice(device)
    text.setDefaultFont(house_font(points))
    option = text.defaultTextOption()
    option.setWrapMode(QTextOption.WrapMode.WordWrap)
    text.setDefaultTextOption(option)
    text.setHtml(html_text)
    return text


def overflows(text: QTextDocument) -> bool:
    """Whether something unbreakable made the laid-out text wider than its page."""
    return text.size().width() > text.pageSize().width() + 1


def keep_frames_on_one_page(text: QTextDocument) -> None:
    """Move a table that the page end would cut to the top of the next page (a block of
    the large-print list, smaller than a page, always shows whole)."""
    page_height = text.pageSize().height()
    layout = text.documentLayout()
    for frame in text.rootFrame().childFrames():
        rect = layout.frameBoundingRect(frame)
        if rect.height() >= page_height:
            continue  # taller than a page: it has to be cut anyway
        if int(rect.top() // page_height) != int((rect.bottom() - 1) // page_height):
            fmt: QTextFrameFormat = frame.frameFormat()
            fmt.setPageBreakPolicy(QTextFrameFormat.PageBreakFlag.PageBreak_AlwaysBefore)
            frame.setFrameFormat(fmt)  # lays the rest out again, page by page


def print_document(device: QPagedPaintDevice, text: QTextDocument, *,
                   footer: str | None = None, footer_points: float = 9,
                   whole_frames: bool = False) -> int:
    """Lay `text` out on `device`'s pages (a QPdfWriter or a QPrinter) and print it, with
    `footer` and "page n sur N" at the foot of every page (on two lines when one is too
    short for both). Returns the number of pages."""
    page = paint_rect(device, device.pageLayout())
    font = house_font(footer_points)
    metrics = QFontMetricsF(font, device)
    widest_page = metrics.horizontalAdvance("page 000 sur 000")
    lines = 0
    if footer is not None:
        lines = 1 if metrics.horizontalAdvance(footer) + 1.5 * widest_page <= page.width() \
            else 2
    line = metrics.height() * 1.15
    foot_height = line * (lines + 0.6) if lines else 0.0
    text.setPageSize(QSizeF(page.width(), page.height() - foot_height))
    if whole_frames:
        keep_frames_on_one_page(text)
    height = text.pageSize().height()
    pages = text.pageCount()
    chosen = range(pages)
    if isinstance(device, QPrinter) and device.fromPage() > 0:  # pages the dialog chose
        chosen = range(device.fromPage() - 1, min(device.toPage() or pages, pages))
    painter = QPainter(device)
    try:
        for number in chosen:
            if number != chosen.start:
                device.newPage()
            painter.save()
            painter.translate(0, -number * height)
            text.drawContents(painter, QRectF(0, number * height, page.width(), height))
            painter.restore()
            if footer is not None:
                painter.setFont(font)
                painter.setPen(QColor("#000000"))
                bottom = QRectF(0, page.height() - line, page.width(), line)
                first = bottom.translated(0, -line) if lines == 2 else bottom
                painter.drawText(first, Qt.AlignmentFlag.AlignLeft
                                 | Qt.AlignmentFlag.AlignVCenter, footer)
                painter.drawText(bottom, Qt.AlignmentFlag.AlignRight
                                 | Qt.AlignmentFlag.AlignVCenter,
                                 f"page {number + 1} sur {pages}")
    finally:
        painter.end()
    return pages


def pdf_writer(out: Path, *, title: str, layout: QPageLayout) -> QPdfWriter:
    writer = QPdfWriter(str(out))
    writer.setTitle(title)
    writer.setCreator("CareHub")
    writer.setResolution(PDF_RESOLUTION)
    writer.setPageLayout(layout)
    return writer

