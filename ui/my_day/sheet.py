"""The day's call list on paper: for a day without the laptop.

One row per patient: who, the numbers to dial, why, boxes to tick for what happened and
room for the hour and notes. The outcomes written on it are entered afterwards in "Ma
journée" with their real time ("Saisie après coup"). Landscape A4, laid out by Qt
(ui/paper.py) to a PDF or to the printer the print dialog chose.

Laying out a few hundred rows takes seconds, so the page runs it on a pool thread
(`render_in_background`): QPainter may paint on a QPrinter or a QPdfWriter from a thread
other than the GUI's, and the result comes back through a queued signal.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QPagedPaintDevice, QTextDocument

from carehub.prevention.services import CallListItem
from ui.formatting import age_text, format_date
from ui.my_day.texts import (
    channel_text,
    delay_text,
    escalation_text,
    hours_text,
    is_callback,
    long_date,
    moment_text,
    phone_kind_text,
    tr,
)
from ui.paper import (
    NARROW,
    a4_layout,
    keep_numbers_whole,
    keep_whole,
    pdf_writer,
    print_document,
    text_document,
)

SHEET_POINTS = 9.5
BOX = "☐"
OUTCOME_BOXES = ("Joint(e)", "Pas de réponse", "Messagerie", "Faux numéro", "Refus")


def _nowrap(text: str) -> str:  # a phone number, a date, a delay: never broken
    return keep_whole(text)


def _patient_cell(item: CallListItem, today: date) -> str:
    lines = [f"<b>{html.escape(item.name)}</b>, {html.escape(age_text(item.age))}"]
    if item.planned_at is not None:
        planned = tr("Rappel prévu %1") if is_callback(item) else tr("Nouvel essai %1")
        lines.append("<b>" + html.escape(planned).replace(
            "%1", _nowrap(moment_text(item.planned_at, today=today))) + "</b>")
    hours = hours_text(item)
    if hours:
        lines.append(keep_numbers_whole(tr("Appeler %1").replace("%1", hours)))
    if item.channel != "phone":
        lines.append("<b>" + html.escape(tr("Pas d'appel : %1").replace(
            "%1", item.channel_reason_fr or channel_text(item.channel))) + "</b>")
    if item.escalation:
        lines.append("<b>" + html.escape(escalation_text(item.escalation)) + "</b>")
    if item.caregiver:
        lines.append(keep_numbers_whole(tr("Aidant : %1").replace("%1", item.caregiver)))
    return "<br>".join(lines)


def _phones_cell(item: CallListItem) -> str:
    if not item.phones:
        return html.escape(tr("Pas de téléphone"))
    return "<br>".join(f"<b>{_nowrap(p.formatted)}</b> {html.escape(phone_kind_text(p))}"
                       for p in item.phones)


def _reasons_cell(item: CallListItem) -> str:
    lines = []
    for reason in item.reasons:
        late = delay_text(reason.overdue_days) if reason.overdue_days > 0 else tr("ce jour")
        lines.append(f"{html.escape(reason.label_fr)} <i>({_nowrap(late)})</i>")
    return "<br>".join(lines)


def _box(label: str) -> str:
    return f"{BOX}&nbsp;{_nowrap(tr(label))}"


def _outcome_cell() -> str:
    """Two or three boxes a line, so that a row stays a few lines high."""
    lines = [" ".join(_box(label) for label in OUTCOME_BOXES[:2]),
             " ".join(_box(label) for label in OUTCOME_BOXES[2:4]),
             " ".join(_box(label) for label in (OUTCOME_BOXES[4], "RDV", "Orienté(e)")),
             f"{_box('Rappeler le')} ______ {_nowrap(tr('à'))} ____",
             f"{_box('Fait le')} ______"]
    return "<br>".join(lines)


def _row(number: int, item: CallListItem, day: date) -> str:
    e = html.escape
    return ("<tr>"
            f"<td {NARROW} align='right'>{number}</td>"
            f"<td width='22%'>{_patient_cell(item, day)}</td>"
            f"<td {NARROW}>{_phones_cell(item)}</td>"
            f"<td>{_reasons_cell(item)}</td>"
            f"<td width='22%'>{_outcome_cell()}</td>"
            f"<td width='16%'>{e(tr('Heure :'))} ______<br>{e(tr('Durée :'))} ______<br>"
            f"{e(tr('Notes :'))}<br><br></td>"
            "</tr>")


def _table(rows: Sequence[str]) -> str:
    e = html.escape
    return ("<table width='100%' cellspacing='0' cellpadding='4' border='1' "
            "style='border-collapse: collapse; border-color: #888'>"
            f"<thead><tr><th>#</th><th align='left'>{e(tr('Patient'))}</th>"
            f"<th align='left'>{e(tr('Téléphones'))}</th><th align='left'>{e(tr('Motifs'))}</th>"
            f"<th align='left'>{e(tr('Résultat (cocher)'))}</th>"
            f"<th align='left'>{e(tr('Heure, durée, notes'))}</th></tr></thead>"
            f"{''.join(rows)}</table>")


def sheet_html(items: Sequence[CallListItem], *, day: date, user: str,
               printed_at: datetime) -> str:
    """The sheet as the rich text QTextDocument understands (tables, no CSS layout); one
    table, whose header row Qt repeats at the top of every page."""
    e = html.escape
    rows = [_row(number, item, day) for number, item in enumerate(items, 1)]
    tables = _table(rows) if rows else ""
    count = len(items)
    people = (tr("%1 personnes à contacter") if count > 1
              else tr("%1 personne à contacter")).replace("%1", str(count))
    stamp = e(tr("imprimée le %1 à %2")).replace(
        "%1", _nowrap(format_date(printed_at.date()))).replace(
        "%2", _nowrap(printed_at.strftime("%H:%M")))
    return (
        f"<h2>{e(tr('Appels du %1')).replace('%1', _nowrap(long_date(day)))}</h2>"
        f"<p><b>{e(user)}</b> · {e(people)} · {stamp}</p>"
        f"{tables or '<p>' + e(tr('Aucun appel prévu ce jour.')) + '</p>'}"
        f"<p><i>{e(tr('Les résultats se saisissent ensuite dans « Ma journée », avec leur heure réelle (Saisie après coup).'))}</i></p>"  # noqa: E501
    )


def build_sheet(items: Sequence[CallListItem], *, day: date, user: str, printed_at: datetime,
                device: QPagedPaintDevice | None = None) -> QTextDocument:
    return text_document(sheet_html(items, day=day, user=user, printed_at=printed_at),
                         points=SHEET_POINTS, device=device)


def print_sheet(device: QPagedPaintDevice, items: Sequence[CallListItem], *, day: date,
                user: str, printed_at: datetime) -> None:
    """Lay the sheet out on `device` (a QPrinter from the print dialog, or a QPdfWriter)."""
    print_document(device, build_sheet(items, day=day, user=user, printed_at=printed_at,
                                       device=device),
                   footer=f"{user} · {tr('Appels du %1').replace('%1', format_date(day))}")


def write_sheet_pdf(items: Sequence[CallListItem], out: Path, *, day: date, user: str,
                    printed_at: datetime) -> Path:
    """The sheet as a PDF file; OSError when it could not be written."""
    title = tr("Appels du %1").replace("%1", format_date(day))
    writer = pdf_writer(out, title=title, layout=a4_layout(landscape=True, margins_mm=10))
    print_sheet(writer, items, day=day, user=user, printed_at=printed_at)
    del writer  # the file is complete once the writer is gone
    if not out.exists() or out.stat().st_size == 0:
        raise OSError(f"cannot write {out}")
    return out


class SheetRelay(QObject):
    """Brings a background rendering's end back to the GUI thread (queued signals)."""

    finished = Signal(object)  # what the rendering returned (a Path for a PDF)
    failed = Signal(str)


class _Rendering(QRunnable):
    def __init__(self, render: Callable[[], object], relay: SheetRelay) -> None:
        super().__init__()
        self.render = render
        self.relay = relay

    def run(self) -> None:
        try:
            result = self.render()
        except Exception as exc:  # handed to the GUI thread, which tells the nurse
            self.relay.failed.emit(str(exc))
            return
        self.relay.finished.emit(result)


def render_in_background(render: Callable[[], object], relay: SheetRelay) -> None:
    """Run `render` (print_sheet or write_sheet_pdf) on the global pool; `relay` reports."""
    QThreadPool.globalInstance().start(_Rendering(render, relay))
