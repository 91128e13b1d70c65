"""Ma journée's call: the number dialled, then what the call gave, an appointment, a referral.

Every outcome goes to `record_call_outcome` on the worker (one transaction); the list then
reloads and the next line is selected.
"""

from __future__ import annotations

import uuid

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QWidget
from sqlmodel import Session

from carehub.coordination.services import record_action
from carehub.prevention.services import CallListItem, OutcomeResult, record_call_outcome
from ui.my_day.card import OUTCOMES_FR
from ui.my_day.day_list import DayListPage
from ui.my_day.outcome import OutcomeInput
from ui.my_day.texts import (
    callable_phones,
    channel_text,
    escalation_text,
    moment_text,
    textable_phones,
    tr,
)


class CallingPage(DayListPage):
    """The list's page, and the call of its current line with the outcome recorded."""

    outcomeRecorded = Signal(object)  # OutcomeResult
    appointmentRecorded = Signal(object)  # the appointment action's id
    dialed = Signal(str)  # the tel: URI opened
    directoryRequested = Signal(object)  # open the directory for this patient (id)

    def _wire(self) -> None:
        super()._wire()
        self._recording = False
        self.card.phoneActivated.connect(self.dial)
        self.form.outcomeChosen.connect(self.record_outcome)
        self.form.dialRequested.connect(lambda: self.dial())
        self.form.appointmentRequested.connect(self.record_appointment)
        self.form.referralRequested.connect(self.refer)

    # -- the call -------------------------------------------------------------------------

    def dial(self, e164: str | None = None) -> None:
        """Open the tel: link (the softphone) and start the call timer."""
        item = self.current_item()
        if item is None:
            return
        phones = callable_phones(item)
        if e164 is None:
            if item.channel != "phone":  # a click on the number still dials it
                self.show_message(tr("Ne pas appeler : %1. %2").replace(
                    "%1", item.channel_reason_fr or channel_text(item.channel)).replace(
                    "%2", tr("SMS prêt à copier (S).") if textable_phones(item) else ""),
                    error=True)
                return
            if not phones:
                self.show_message(tr("Pas de numéro de téléphone pour %1.").replace(
                    "%1", item.name), error=True)
                return
            phone = phones[self._phone_index % len(phones)]
            e164 = phone.e164
        uri = f"tel:{e164}"
        self._dialed = e164
        QDesktopServices.openUrl(QUrl(uri))
        self.form.start_timer(self.now())
        formatted = next((p.formatted for p in phones if p.e164 == e164), e164)
        self.show_message(tr("Appel de %1 au %2…").replace("%1", item.name)
                          .replace("%2", formatted))
        self.dialed.emit(uri)

    def dial_next(self) -> None:
        item = self.current_item()
        if item is None or not item.phones:
            return
        self._phone_index += 1
        self.dial()

    # -- outcomes -------------------------------------------------------------------------

    def key_outcome(self, outcome: str) -> None:
        """A key 1–6: 6 goes to the call-back's date and time first (Entrée records)."""
        if outcome == "callback" and not self.form.callback_at.hasFocus():
            self._focus(self.form.callback_at)
            return
        self.record_outcome(outcome)

    def record_outcome(self, outcome: str) -> None:
        item = self.current_item()
        if item is None:
            return
        if self._recording:
            self.show_message(tr("Enregistrement en cours…"))
            return
        problem = self.form.date_problem(outcome)
        if problem is not None:  # said under the field too; nothing is recorded
            field, message = problem
            self.show_message(message, error=True)
            self._focus(field)
            return
        entered = self.form.collect(outcome)
        if entered.at is not None and entered.at > self.now():
            self.show_message(tr("L'heure de l'appel ne peut pas être dans le futur."),
                              error=True)
            return
        if entered.callback_at is not None and entered.callback_at <= self.now():
            self.show_message(tr("Choisissez une heure de rappel à venir."), error=True)
            self._focus(self.form.callback_at)
            return
        self.form.stop_timer()
        self._recording = True
        self._select_after = self._next_patient(item.patient_id)
        patient_id, user, dialed = item.patient_id, self.user, self._dialed

        def job(session: Session) -> OutcomeResult:
            return _record(session, patient_id=patient_id, actor=user, entered=entered,
                           phone_e164=dialed)

        self.worker.submit(job, write=True,
                           on_success=lambda result: self._recorded(item, entered, result),
                           on_error=self._record_failed)

    def _next_patient(self, patient_id: uuid.UUID) -> uuid.UUID | None:
        row = self.model.row_of(patient_id)
        following = self.model.item(row + 1) if row is not None else None
        return following.patient_id if following else None

    def _recorded(self, item: CallListItem, entered: OutcomeInput,
                  result: OutcomeResult) -> None:
        self._recording = False
        self.model.highlight(item.patient_id, on=False)
        if self._last_notice is not None and self._last_notice.patient_id == item.patient_id:
            self.notice_label.setVisible(False)
        parts = [tr("%1 : %2, enregistré.").replace("%1", item.name)
                 .replace("%2", tr(OUTCOMES_FR.get(entered.outcome, entered.outcome)))]
        if entered.callback_at is not None:
            parts.append(tr("Rappel prévu %1.").replace(
                "%1", moment_text(entered.callback_at, today=self.today())))
        elif result.next_attempt_at is not None:
            parts.append(tr("Nouvel essai %1.").replace(
                "%1", moment_text(result.next_attempt_at, today=self.today())))
        if result.escalation:
            parts.append(tr("À faire : %1.").replace("%1", escalation_text(result.escalation)))
        self.show_message(" ".join(parts))
        self.card.item = None  # the next line gets a blank form
        following = self.model.row_of(self._select_after)
        if following is not None:  # on to her at once; the reloaded list keeps her selected
            self.table.selectRow(following)
        self.reload()
        self.jobs.rebuild_callbacks()
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        self.outcomeRecorded.emit(result)

    def _record_failed(self, exc: BaseException) -> None:
        self._recording = False
        self._select_after = None
        self._show_error(exc)

    def record_appointment(self) -> None:
        """An 'appointment' action for the patient on the line (the call goes on)."""
        item = self.current_item()
        if item is None or self._recording:
            return
        at = self.form.appointment_time()
        if at is None:
            self.show_message(self.form.appointment_at.error() or "", error=True)
            self._focus(self.form.appointment_at)
            return
        when = (tr("Rendez-vous le %1 à %2").replace("%1", at.strftime("%d/%m/%Y"))
                .replace("%2", at.strftime("%H:%M")))
        note = self.form.note.text().strip()
        patient_id, user = item.patient_id, self.user

        def job(session: Session) -> uuid.UUID:
            return record_action(session, patient_ref=patient_id, action_type="appointment",
                                 actor=user, note=f"{when}. {note}" if note else when,
                                 details={"appointment_at": at.isoformat()})

        def done(action_id: uuid.UUID) -> None:
            self.show_message(tr("%1 : %2, enregistré.").replace("%1", item.name)
                              .replace("%2", when))
            self.table.setFocus(Qt.FocusReason.OtherFocusReason)
            self._contacts_for = None
            self._show_current()  # the new action in the last contacts
            self.appointmentRecorded.emit(action_id)

        self.worker.submit(job, write=True, on_success=done, on_error=self._show_error)

    def refer(self) -> None:
        item = self.current_item()
        if item is not None:
            self.directoryRequested.emit(item.patient_id)

    def _focus(self, widget: QWidget) -> None:
        if self.current_item() is None:
            return
        widget.setFocus(Qt.FocusReason.ShortcutFocusReason)
        select_all = getattr(widget, "selectAll", None)
        if callable(select_all):
            select_all()


def _record(session: Session, *, patient_id: uuid.UUID, actor: str, entered: OutcomeInput,
            phone_e164: str | None) -> OutcomeResult:
    return record_call_outcome(
        session, patient_id=patient_id, outcome=entered.outcome,  # type: ignore[arg-type]
        actor=actor, at=entered.at, duration_s=entered.duration_s, note=entered.note,
        channel=entered.channel, callback_at=entered.callback_at, done=entered.done or None,
        declined=entered.declined, postpone_until=entered.postpone_until or None,
        phone_e164=phone_e164 if entered.outcome == "wrong_number" else None)
