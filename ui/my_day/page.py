"""Ma journée: whom to call today and why, the call, its outcome, then the next person.

The page the app opens on (Ctrl+J). On the left the day's call list (carehub.prevention
call_list, loaded on the worker); on the right the card of the selected patient and the
outcome form. Keyboard first, the keys are shown in the hint line at the bottom:

  ↑ ↓ choose · Entrée call (Maj+Entrée the next number) · 1 joint(e) · 2 pas de réponse
  · 3 messagerie · 4 faux numéro · 5 refus · 6 rappeler à… then Entrée · N note
  · R rendez-vous then Entrée · O orienter · F suite des motifs · D saisie après coup
  · S copier le SMS · E déjà fait ailleurs · W semaines à venir · Échap back to the list
  · Ctrl+P print · Ctrl+Maj+P PDF

The list is the day's share of her contact plan (carehub.prevention.plan): the count says
how many were carried over from an earlier day. Until the start of day is computed the
page says "Préparation de la journée…" with its steps, then `dayReady` is emitted.

Every outcome goes to `record_call_outcome` on the worker (one transaction); the list
then reloads and the next line is selected. Errors are French sentences in the page.

The page is built in three layers, one concern each: the list, its loading and the card
(ui.my_day.day_list), the call and its outcome (ui.my_day.calling), and here the keys,
the paper list and the dialogs (the weeks ahead, what was done elsewhere).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut, QShowEvent

from ui.my_day.calling import CallingPage
from ui.my_day.declared import DeclaredDialog
from ui.my_day.printing import SheetPrinting
from ui.my_day.texts import tr
from ui.my_day.weeks import WeeksDialog

HINT = ("↑↓ choisir · <b>Entrée</b> appeler (Maj+Entrée : numéro suivant) · <b>1</b> joint(e) · "
        "<b>2</b> pas de réponse · <b>3</b> messagerie · <b>4</b> faux numéro · <b>5</b> refus"
        " · <b>6</b> rappeler à… puis Entrée · <b>N</b> note · <b>R</b> rendez-vous puis "
        "Entrée · <b>O</b> orienter · <b>F</b> suite des motifs · <b>D</b> saisie après coup"
        " · <b>S</b> copier le SMS · <b>E</b> déjà fait ailleurs · <b>W</b> semaines à venir"
        " · <b>Échap</b> retour à la liste · <b>Ctrl+P</b> imprimer · <b>Ctrl+Maj+P</b> PDF")
_ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class MyDayPage(CallingPage):
    """The day's calls for `user`; database work on `worker`, timed jobs on `scheduler`."""

    sheetWritten = Signal(object)  # the paper list is done: its PDF's Path, or None
    declaredRecorded = Signal(object)  # a DeclaredResult

    def _wire(self) -> None:
        super()._wire()
        self._shown_once = False
        self.weeks: WeeksDialog | None = None
        self.declared: DeclaredDialog | None = None
        self.sheets = SheetPrinting(self, user=self.user, today=self.today, now=self.now,
                                    message=self.show_message)
        self.sheets.written.connect(self.sheetWritten)
        self.print_button.clicked.connect(self.print_list)
        self.pdf_button.clicked.connect(lambda _checked=False: self.save_pdf())
        self.weeks_button.clicked.connect(self.open_weeks)
        self.form.declaredRequested.connect(lambda: self.declare())
        self.hint_label.setText(tr(HINT))
        self._build_keys()

    def _build_keys(self) -> None:
        """Plain keys while working the list; text fields keep them for typing."""
        bindings: list[tuple[str, Callable[[], object]]] = [
            *((key, lambda o=outcome: self.key_outcome(o)) for key, outcome in
              (("1", "reached"), ("2", "no_answer"), ("3", "voicemail"),
               ("4", "wrong_number"), ("5", "refused"), ("6", "callback"))),
            ("N", lambda: self._focus(self.form.note)),
            ("R", lambda: self._focus(self.form.appointment_at)),
            ("O", self.refer),
            ("F", self._focus_reasons),
            ("D", self._toggle_deferred),
            ("S", self.card.copy_sms),
            ("E", self.declare),
            ("W", self.open_weeks),
            ("Shift+Return", self.dial_next),
            ("Shift+Enter", self.dial_next),
            ("Ctrl+P", self.print_list),
            ("Ctrl+Shift+P", lambda: self.save_pdf()),
        ]
        self.shortcuts: dict[str, QShortcut] = {}
        for key, slot in bindings:
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
            self.shortcuts[key] = shortcut

    # -- the weeks ahead, what was done elsewhere -----------------------------------------

    def open_weeks(self) -> None:
        """« Semaines à venir » for the list shown (hers, or the colleague's she covers)."""
        if self.weeks is not None and self.weeks.isVisible():
            self.weeks.raise_()
            return
        self.weeks = WeeksDialog(self.worker, owner=self.owner, actor=self.user,
                                 today=self.today, parent=self)
        self.weeks.moved.connect(lambda _pid: self.reload())
        self.weeks.capacityChanged.connect(lambda _capacity: self.reload())
        self.weeks.open()
        self.weeks.load()

    def declare(self, patient_id: uuid.UUID | None = None, *, title: str | None = None
                ) -> DeclaredDialog | None:
        """What the patient says was done elsewhere: the current line's, or `patient_id`'s
        (a new patient's intake)."""
        item = self.current_item() if patient_id is None else None
        if patient_id is None and item is None:
            return None
        first = [r.code for r in item.reasons if r.history_unknown] if item else []
        first += [r.code for r in item.reasons if not r.history_unknown] if item else []
        target = patient_id or (item.patient_id if item else None)
        assert target is not None
        dialog = DeclaredDialog(
            self.worker, patient_id=target, actor=self.user, first=first, today=self.today,
            title=title or (tr("Déjà fait ailleurs : %1").replace("%1", item.name) if item
                            else tr("Déjà fait ailleurs")), parent=self)
        dialog.recorded.connect(self.declaredRecorded)
        dialog.recorded.connect(lambda _result: self.reload())
        self.declared = dialog
        dialog.open()
        return dialog

    # -- paper ----------------------------------------------------------------------------

    def print_list(self) -> None:
        """The print dialog, then the sheet laid out on a pool thread (seconds for 300)."""
        self.sheets.print_list(self.model.items)

    def save_pdf(self, path: Path | None = None) -> bool:
        """The sheet as a PDF (asks where without `path`); `sheetWritten` once written."""
        return self.sheets.save_pdf(self.model.items, path)

    # -- keys -----------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown_once:  # the app opens here: the list has the keyboard
            self._shown_once = True
            self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def _focus_reasons(self) -> None:
        if self.form.reason_rows:
            self._focus(self.form.reason_rows[0].combo)

    def _toggle_deferred(self) -> None:
        self.form.deferred.toggle()
        if self.form.deferred.isChecked():
            self._focus(self.form.deferred_at)

    def back_to_list(self) -> None:
        self.table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def event(self, event: QEvent) -> bool:
        # Entrée and Échap are the page's own here, not the main window's (open the
        # patient form, clear the search): take them before its shortcuts do.
        if (event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent)
                and event.key() in (*_ENTER_KEYS, Qt.Key.Key_Escape)
                and event.modifiers() in (Qt.KeyboardModifier.NoModifier,
                                          Qt.KeyboardModifier.KeypadModifier)):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        focused = self.focusWidget()
        if event.key() == Qt.Key.Key_Escape:
            self.back_to_list()
        elif event.key() in _ENTER_KEYS:
            if self.form.callback_at.hasFocus():
                self.record_outcome("callback")
            elif self.form.appointment_at.hasFocus():
                self.record_appointment()
            elif focused is self.table or focused is self:
                self.dial()
            else:
                self.back_to_list()  # a note typed, a date chosen: back to the outcome keys
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.table and event.type() == QEvent.Type.Resize:
            QTimer.singleShot(0, self._fit_reasons)  # once the viewport has its new size
        # The table takes Entrée for itself (item activation): hand it to the page.
        if (watched is self.table and event.type() == QEvent.Type.KeyPress
                and isinstance(event, QKeyEvent) and event.key() in _ENTER_KEYS
                and event.modifiers() in (Qt.KeyboardModifier.NoModifier,
                                          Qt.KeyboardModifier.KeypadModifier)):
            self.dial()
            return True
        return super().eventFilter(watched, event)
