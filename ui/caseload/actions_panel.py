"""The patient's coordination actions in the panel, each with where it is (delivery status).

An "Actions" tab beside the summary and the timeline: newest first, who with, the note,
the author and the delivery status ("enregistrée ici", "envoyée", "reçue par le hub",
"exportée vers le dossier partagé", "refusée : <raison du hub>"), so a nurse never wonders
whether an action arrived and never enters it twice. "Nouvelle action…" (Ctrl+Shift+N)
and "Corriger…" (Ctrl+Shift+E, a new action that amends the selected one) open the action
dialog; the action is written on the worker.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtGui import QColor, QFont, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from sqlmodel import Session

from carehub.caseload.summary import TimelineEntry
from carehub.coordination.models import ACTION_TYPE_LABELS_FR
from carehub.coordination.services import ActionRow, list_actions, record_action
from carehub.errors import CareHubError
from carehub.sync.service import action_delivery, refusal
from ui.caseload.action_dialog import ActionDialog, ActionDraft
from ui.context import AppContext
from ui.hub_texts import refusal_text
from ui.rows_model import RowsModel
from ui.widgets.patient_panel import PatientPanel

log = logging.getLogger(__name__)
MUTED = QColor("#5f6b76")
REFUSED = QColor("#8a1c14")
ACTION_KIND = "action"  # the timeline entries this module adds
DELIVERY_LABELS = {"local": "enregistrée ici", "sent": "envoyée",
                   "acknowledged": "reçue par le hub",
                   "exported": "exportée vers le dossier partagé", "refused": "refusée"}

def _tr(text: str) -> str:
    return QCoreApplication.translate("ActionsModel", text)


@dataclass(frozen=True)
class ActionLine:
    """One action as the list shows it."""

    action: ActionRow
    delivery: str  # local, sent, acknowledged, exported, refused
    refusal_reason: str | None = None
    corrected: bool = False  # a later action amends it

    def delivery_text(self) -> str:
        label = _tr(DELIVERY_LABELS.get(self.delivery, self.delivery))
        if self.delivery == "refused":
            return f"{label} : {self.refusal_reason or _tr('raison non donnée')}"
        return label


def load_action_lines(session: Session, *, patient_id: uuid.UUID) -> list[ActionLine]:
    """The patient's actions, newest first, with their delivery status (worker thread)."""
    actions = list_actions(session, patient_ref=patient_id)
    delivery = action_delivery(session, action_ids=[a.id for a in actions])
    amended = {a.amends_id for a in actions if a.amends_id}
    lines = []
    for action in actions:
        status = delivery.get(action.id, "local")
        reason = None
        if status == "refused":
            found = refusal(session, entity_id=str(action.id))
            reason = refusal_text(*found) if found else None
        lines.append(ActionLine(action, status, reason, action.id in amended))
    return lines


def action_entry(line: ActionLine) -> TimelineEntry:
    """An action as a row of the patient's timeline: its date, type, who and note, status."""
    action = line.action
    moment = action.at.astimezone()
    label = _tr(ACTION_TYPE_LABELS_FR.get(action.type, action.type))
    text = " · ".join(x for x in (f"{moment:%H:%M}", action.practitioner_name,
                                  action.organisation, action.note) if x)
    return TimelineEntry(on=moment.date(), kind=ACTION_KIND, kind_label=label,
                         text=text.replace("\n", " "), detail=line.delivery_text(), codes="")


class ActionsModel(RowsModel):
    COLUMNS = ("Date", "Type", "Avec", "Note", "Par", "Statut")
    CONTEXT = "ActionsModel"

    def set_lines(self, lines: Sequence[ActionLine]) -> None:
        self.set_rows(lines)

    def line(self, row: int) -> ActionLine:
        line: ActionLine = self.row(row)
        return line

    def row_of(self, action_id: uuid.UUID) -> int | None:
        return next((row for row, line in enumerate(self.rows())
                     if line.action.id == action_id), None)

    def cells(self, item: ActionLine) -> tuple[str, ...]:
        action = item.action
        label = _tr(ACTION_TYPE_LABELS_FR.get(action.type, action.type))
        if action.amends_id:
            label += _tr(" (correction)")
        if item.corrected:
            label += _tr(" — corrigée")
        return (f"{action.at.astimezone():%d/%m/%Y %H:%M}", label,
                " · ".join(x for x in (action.practitioner_name, action.organisation) if x),
                (action.note or "").replace("\n", " "), action.author, item.delivery_text())

    def cell_data(self, item: ActionLine, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == 5 and item.delivery == "refused":
                return REFUSED
            if item.corrected:
                return MUTED
        if role == Qt.ItemDataRole.FontRole and item.corrected and column == 1:
            font = QFont()
            font.setItalic(True)
            return font
        return None


class ActionsPage(QWidget):
    """The tab: the buttons above the list; an empty list says so."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ActionsModel(self)
        self.new_button = QPushButton(self.tr("Nouvelle action…"))
        self.new_button.setToolTip(self.tr("Nouvelle action (Ctrl+Maj+N)"))
        self.correct_button = QPushButton(self.tr("Corriger…"))
        self.correct_button.setToolTip(
            self.tr("Corriger l'action choisie par une nouvelle action (Ctrl+Maj+E)"))
        self.correct_button.setEnabled(False)
        self.empty_label = QLabel(self.tr("Aucune action enregistrée pour ce patient."))
        self.empty_label.setStyleSheet("color: #5f6b76;")
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.verticalHeader().hide()
        header = self.view.horizontalHeader()
        for column in (0, 1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.ResizeToContents)
        self.view.selectionModel().currentRowChanged.connect(
            lambda current, _previous: self.correct_button.setEnabled(current.isValid()))
        self.model.modelReset.connect(self._after_reset)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.correct_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(buttons)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.view, 1)
        self._after_reset()

    def _after_reset(self) -> None:
        empty = self.model.rowCount() == 0
        self.empty_label.setVisible(empty)
        self.correct_button.setEnabled(self.view.currentIndex().isValid())

    def selected(self) -> ActionLine | None:
        index = self.view.currentIndex()
        return self.model.line(index.row()) if index.isValid() else None

    def select(self, action_id: uuid.UUID) -> None:
        row = self.model.row_of(action_id)
        if row is not None:
            self.view.selectRow(row)


class ActionsController(QObject):
    """Loads the shown patient's actions and records new ones, through the worker."""

    actionsShown = Signal(object)  # the patient id whose actions are now listed
    actionSaved = Signal(object)  # the new action's id
    dialogOpened = Signal(object)  # the ActionDialog

    def __init__(self, ctx: AppContext, panel: PatientPanel) -> None:
        super().__init__(ctx)
        self.ctx = ctx
        self.panel = panel
        self.page = ActionsPage()
        self.patient_id: uuid.UUID | None = None
        self.current_dialog: ActionDialog | None = None
        self._select_after_load: uuid.UUID | None = None
        panel.tabs.addTab(self.page, self.tr("Actions"))
        self.page.new_button.clicked.connect(self.new_action)
        self.page.correct_button.clicked.connect(self.correct_action)
        self.page.view.doubleClicked.connect(lambda _index: self.correct_action())
        ctx.patientShown.connect(self.show_patient)

    def show_patient(self, patient_id: uuid.UUID) -> None:
        self.patient_id = patient_id
        self.reload()

    def reload(self) -> None:
        patient_id = self.patient_id
        if patient_id is None:
            return
        self.ctx.worker.submit(lambda s: load_action_lines(s, patient_id=patient_id),
                               on_success=lambda lines: self._loaded(patient_id, lines),
                               on_error=self.ctx.report_error)

    def _loaded(self, patient_id: uuid.UUID, lines: list[ActionLine]) -> None:
        if patient_id != self.patient_id:
            return
        self.page.model.set_lines(lines)
        if self.panel.shown_patient_id() == patient_id:
            self._merge_into_timeline(lines)
        if self._select_after_load is not None:
            self.page.select(self._select_after_load)
            self._select_after_load = None
        self.actionsShown.emit(patient_id)

    def _merge_into_timeline(self, lines: Sequence[ActionLine]) -> None:
        """The actions also appear in the Chronologie tab among the clinical facts."""
        timeline = self.panel.timeline_model
        facts = [timeline.entry(row) for row in range(timeline.rowCount())
                 if timeline.entry(row).kind != ACTION_KIND]
        timeline.set_entries(facts + [action_entry(line) for line in lines])

    def _patient_name(self) -> str:
        summary = self.panel.shown_patient()
        return summary.display_name if summary is not None else ""

    def new_action(self) -> None:
        self._open(None)

    def correct_action(self) -> None:
        line = self.page.selected()
        if line is not None:
            self._open(line.action)

    def _open(self, amending: ActionRow | None) -> None:
        patient_id = self.ctx.current_patient_id()
        if patient_id is None or patient_id != self.patient_id or self.current_dialog:
            if patient_id is None:
                self.ctx.show_message(self.tr("Choisissez d'abord un patient."), 5_000)
            return
        dialog = ActionDialog(self.ctx.window, patient_name=self._patient_name(), amending=amending)
        dialog.submitted.connect(lambda draft: self._save(dialog, patient_id, draft))
        dialog.finished.connect(lambda _result: self._closed(dialog))
        self.current_dialog = dialog
        dialog.open()
        self.dialogOpened.emit(dialog)

    def _closed(self, dialog: ActionDialog) -> None:
        if self.current_dialog is dialog:
            self.current_dialog = None
        dialog.deleteLater()
        self.page.view.setFocus(Qt.FocusReason.OtherFocusReason)

    def _save(self, dialog: ActionDialog, patient_id: uuid.UUID, draft: ActionDraft) -> None:
        actor = self.ctx.user

        def job(session: Session) -> uuid.UUID:
            return record_action(
                session, patient_ref=patient_id, action_type=draft.action_type, actor=actor,
                at=draft.at, note=draft.note, duration_s=draft.duration_s,
                outcome=draft.outcome, practitioner_id=draft.practitioner_id,
                practitioner_name=draft.practitioner_name, organisation=draft.organisation,
                amends=draft.amends)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, CareHubError):
                dialog.show_save_error(exc.message_fr)
            else:
                log.exception("recording an action failed", exc_info=exc)
                dialog.show_save_error(self.tr(
                    "L'enregistrement a échoué ; rien n'a été modifié. Détail : %1")
                    .replace("%1", str(exc)))

        def saved(action_id: uuid.UUID) -> None:
            dialog.accept()
            self._select_after_load = action_id
            self.reload()
            self.ctx.refresh_status()
            self.actionSaved.emit(action_id)

        self.ctx.worker.submit(job, write=True, on_success=saved, on_error=failed)


def install_action_features(ctx: AppContext, panel: PatientPanel) -> ActionsController:
    """The Actions tab of the patient panel and its entries in the Patient menu."""
    controller = ActionsController(ctx, panel)
    for text, shortcut, slot in (
            (controller.tr("Nouvelle action…"), "Ctrl+Shift+N", controller.new_action),
            (controller.tr("Corriger l'action…"), "Ctrl+Shift+E", controller.correct_action)):
        action = ctx.add_action("patient", text, [shortcut], slot)
        action.setToolTip(f"{text} ({QKeySequence(shortcut).toString()})")
    return controller
