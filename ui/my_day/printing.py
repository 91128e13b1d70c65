"""Ma journée's paper list: the print dialog or a PDF, laid out on a pool thread.

One sheet at a time; `written` once it is printed or saved (its PDF's Path, or None when
it went to the printer or failed). Messages go to the page through `message`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QFileDialog, QWidget

from carehub.prevention.services import CallListItem
from ui.my_day.sheet import SheetRelay, print_sheet, render_in_background, write_sheet_pdf
from ui.my_day.texts import tr
from ui.paper import a4_layout


class SheetPrinting(QObject):
    """Prints or saves the day's sheet for `user`; `page` parents its dialogs."""

    written = Signal(object)  # the PDF's Path, or None (printed, or failed)

    def __init__(self, page: QWidget, *, user: str, today: Callable[[], date],
                 now: Callable[[], datetime], message: Callable[..., None]) -> None:
        super().__init__(page)
        self.page = page
        self.user = user
        self.today = today
        self.now = now
        self.message = message
        self.relay: SheetRelay | None = None  # a sheet being laid out
        self.printer: QPrinter | None = None

    def print_list(self, items: Sequence[CallListItem]) -> None:
        if self.busy():
            return
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setPageLayout(a4_layout(landscape=True, margins_mm=10))
        dialog = QPrintDialog(printer, self.page)
        dialog.setWindowTitle(tr("Imprimer la liste des appels"))
        if dialog.exec() != QPrintDialog.DialogCode.Accepted:
            return
        day, user, at, lines = self.today(), self.user, self.now(), list(items)
        self.printer = printer  # painted from the pool thread: alive until it is done

        def render() -> None:
            print_sheet(printer, lines, day=day, user=user, printed_at=at)

        self._render(render, len(lines))

    def save_pdf(self, items: Sequence[CallListItem], path: Path | None = None) -> bool:
        if self.busy():
            return False
        if path is None:
            name, _filter = QFileDialog.getSaveFileName(
                self.page, tr("Enregistrer la liste des appels"),
                f"appels-{self.today().isoformat()}.pdf", tr("PDF (*.pdf)"))
            if not name:
                return False
            path = Path(name)
        day, user, at, out, lines = self.today(), self.user, self.now(), path, list(items)

        def render() -> Path:
            return write_sheet_pdf(lines, out, day=day, user=user, printed_at=at)

        self._render(render, len(lines))
        return True

    def busy(self) -> bool:
        if self.relay is not None:
            self.message(tr("La liste est en cours de mise en page…"))
            return True
        return False

    def _render(self, render: Callable[[], object], count: int) -> None:
        relay = SheetRelay(self)
        relay.finished.connect(self._done)
        relay.failed.connect(self._failed)
        self.relay = relay
        self.message(tr("Mise en page de la liste (%1 personnes)…").replace("%1", str(count)))
        render_in_background(render, relay)

    def _done(self, result: object) -> None:
        self._end()
        if isinstance(result, Path):
            self.message(tr("Liste enregistrée dans %1.").replace("%1", str(result)))
        else:
            self.message(tr("Liste envoyée à l'imprimante."))
        self.written.emit(result)

    def _failed(self, detail: str) -> None:
        self._end()
        self.message(tr("La liste n'a pas pu être imprimée ni enregistrée : %1")
                     .replace("%1", detail), error=True)
        self.written.emit(None)

    def _end(self) -> None:
        if self.relay is not None:
            self.relay.deleteLater()
        self.relay = None
        self.printer = None
