"""Review what the hub merged: conflicts (a value overwritten by a later one) and refusals.

Opened from the status bar's "conflits à examiner" indicator or the Synchronisation menu.
For each conflict the nurse keeps the value the hub kept, or brings the overwritten one
back (a new change, synced like any other: `resolve_conflict`). The second tab lists the
changes the hub refused, with its reason; they stay here, marked, and are never resent
blindly.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QCoreApplication, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from sqlmodel import Session, col, select

from carehub.caseload.models import Patient
from carehub.caseload.services import FIELD_LABELS_FR
from carehub.errors import CareHubError
from carehub.sync.outbox import OutboxEntry
from carehub.sync.service import ConflictRow, list_conflicts, resolve_conflict
from ui.formatting import format_date
from ui.hub_texts import refusal_text
from ui.rows_model import RowsModel
from ui.widgets.styles import BANNER_STYLE
from ui.worker import DatabaseWorker

MORE_FIELD_LABELS_FR = {
    "used_name": "Nom d'usage", "address_line": "Adresse", "postal_code": "Code postal",
    "commune_insee": "Commune", "care_manager": "IDE coordinatrice", "gp_name":
    "Médecin traitant", "gp_rpps": "RPPS du médecin", "preferred_channel": "Contact préféré",
    "call_after": "Appeler après", "call_before": "Appeler avant",
}
ENTITY_LABELS_FR = {"patient": "Patient", "action": "Action", "related_person": "Proche",
                    "consent": "Consentement", "reminder": "Rappel", "conflict": "Conflit"}


def _tr(text: str) -> str:
    return QCoreApplication.translate("ConflictDialog", text)


def value_text(value: Any) -> str:
    if value is None or value == "":
        return _tr("(vide)")
    if isinstance(value, bool):
        return _tr("oui") if value else _tr("non")
    if isinstance(value, str):
        try:
            return format_date(date.fromisoformat(value)) if len(value) == 10 else value
        except ValueError:
            return value
    return str(value)


@dataclass(frozen=True)
class ConflictLine:
    conflict: ConflictRow
    patient_name: str


@dataclass(frozen=True)
class RefusedLine:
    entity: str
    entity_id: str
    summary: str
    reason: str
    at: datetime | None


@dataclass(frozen=True)
class Review:
    conflicts: list[ConflictLine]
    refused: list[RefusedLine]


def _names(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = session.exec(select(Patient.id, Patient.used_name, Patient.birth_name,
                               Patient.given_names).where(col(Patient.id).in_(list(ids))))
    return {pid: f"{used or birth} {given}".strip() for pid, used, birth, given in rows}


def _refused(session: Session) -> list[RefusedLine]:
    entries = session.exec(select(OutboxEntry).where(col(OutboxEntry.refused_at).is_not(None))
                           .order_by(col(OutboxEntry.seq).desc()).limit(500)).all()
    lines = []
    for entry in entries:
        payload = entry.payload or {}
        summary = " ".join(str(payload.get(k)) for k in ("birth_name", "given_names", "type",
                                                          "note") if payload.get(k))
        lines.append(RefusedLine(entry.entity, entry.entity_id, summary[:120],
                                 refusal_text(entry.refusal_code, entry.refusal_reason),
                                 entry.refused_at))
    return lines


def load_review(session: Session) -> Review:
    conflicts = list_conflicts(session, unresolved_only=True)
    names = _names(session, {c.patient_id for c in conflicts})
    return Review([ConflictLine(c, names.get(c.patient_id, str(c.patient_id)))
                   for c in conflicts], _refused(session))


class ConflictsModel(RowsModel):
    COLUMNS = ("Patient", "Donnée", "Valeur retenue", "Valeur remplacée", "Date")
    CONTEXT = "ConflictDialog"

    def cells(self, item: ConflictLine) -> tuple[str, ...]:
        c = item.conflict
        field = FIELD_LABELS_FR.get(c.field) or MORE_FIELD_LABELS_FR.get(c.field, c.field)
        return (item.patient_name, _tr(field),
                f"{value_text(c.kept_value)} ({c.kept_from})",
                f"{value_text(c.overwritten_value)} ({c.overwritten_from})",
                f"{c.at.astimezone():%d/%m/%Y %H:%M}")


class RefusedModel(RowsModel):
    COLUMNS = ("Quoi", "Détail", "Raison du hub", "Date")
    CONTEXT = "ConflictDialog"

    def cells(self, item: RefusedLine) -> tuple[str, ...]:
        when = f"{item.at.astimezone():%d/%m/%Y %H:%M}" if item.at else ""
        return (_tr(ENTITY_LABELS_FR.get(item.entity, item.entity)), item.summary,
                item.reason, when)


def _table(model: QAbstractTableModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.verticalHeader().hide()
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return view


class ConflictDialog(QDialog):
    changed = Signal()  # a conflict was resolved
    loaded = Signal()  # the lists are (re)filled

    def __init__(self, parent: QWidget | None, *, worker: DatabaseWorker, actor: str) -> None:
        super().__init__(parent)
        self.worker = worker
        self.actor = actor
        self.setWindowTitle(self.tr("Conflits et refus du hub"))
        self.conflicts_model = ConflictsModel(self)
        self.refused_model = RefusedModel(self)
        self.conflicts_view = _table(self.conflicts_model)
        self.refused_view = _table(self.refused_model)
        explanation = QLabel(self.tr(
            "Deux postes ont modifié la même donnée : le hub a retenu la modification la plus "
            "récente. Gardez-la, ou rétablissez la valeur remplacée."))
        explanation.setWordWrap(True)
        self.keep_button = QPushButton(self.tr("&Garder la valeur retenue"))
        self.restore_button = QPushButton(self.tr("&Rétablir la valeur remplacée"))
        for button, keep in ((self.keep_button, "kept"), (self.restore_button, "overwritten")):
            button.setAutoDefault(False)
            button.setEnabled(False)
            button.clicked.connect(lambda _c=False, keep=keep: self.resolve(keep))
        self.conflicts_view.selectionModel().currentRowChanged.connect(
            lambda current, _p: self._enable(current.isValid()))
        self.error_label = QLabel()
        self.error_label.setStyleSheet(BANNER_STYLE)
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.empty_label = QLabel(self.tr("Aucun conflit à examiner."))
        self.empty_label.setStyleSheet("color: #5f6b76;")
        conflicts_page = QWidget()
        page = QVBoxLayout(conflicts_page)
        page.addWidget(explanation)
        page.addWidget(self.empty_label)
        page.addWidget(self.conflicts_view, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.keep_button)
        buttons.addWidget(self.restore_button)
        buttons.addStretch(1)
        page.addLayout(buttons)
        refused_page = QWidget()
        refused_layout = QVBoxLayout(refused_page)
        refused_note = QLabel(self.tr(
            "Modifications que le hub a refusées : elles restent sur ce poste, marquées, avec "
            "la raison donnée par le hub."))
        refused_note.setWordWrap(True)
        refused_layout.addWidget(refused_note)
        refused_layout.addWidget(self.refused_view, 1)
        self.tabs = QTabWidget()
        self.tabs.addTab(conflicts_page, self.tr("Conflits"))
        self.tabs.addTab(refused_page, self.tr("Refusées par le hub"))
        close = QPushButton(self.tr("Fermer"))
        close.setAutoDefault(False)
        close.clicked.connect(self.accept)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.error_label)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)
        self.resize(900, 480)
        self.reload()

    def _enable(self, enabled: bool) -> None:
        self.keep_button.setEnabled(enabled)
        self.restore_button.setEnabled(enabled)

    def reload(self) -> None:
        self.worker.submit(load_review, on_success=self._show, on_error=self._failed)

    def _show(self, review: Review) -> None:
        self.conflicts_model.set_rows(review.conflicts)
        self.refused_model.set_rows(review.refused)
        self.empty_label.setVisible(not review.conflicts)
        self.tabs.setTabText(0, self.tr("Conflits (%1)").replace("%1",
                                                                 str(len(review.conflicts))))
        self.tabs.setTabText(1, self.tr("Refusées par le hub (%1)").replace(
            "%1", str(len(review.refused))))
        if review.conflicts:
            self.conflicts_view.selectRow(0)
            self.conflicts_view.setFocus()
        else:
            self._enable(False)
        self.loaded.emit()

    def _failed(self, exc: BaseException) -> None:
        self.error_label.setText(exc.message_fr if isinstance(exc, CareHubError) else str(exc))
        self.error_label.show()

    def resolve(self, keep: str) -> None:
        index = self.conflicts_view.currentIndex()
        if not index.isValid():
            return
        conflict_id = self.conflicts_model.row(index.row()).conflict.id
        actor = self.actor
        self._enable(False)

        def job(session: Session) -> None:
            resolve_conflict(session, conflict_id=conflict_id,
                             keep="kept" if keep == "kept" else "overwritten", actor=actor)

        def done(_result: None) -> None:
            self.error_label.hide()
            self.changed.emit()
            self.reload()

        self.worker.submit(job, write=True, on_success=done, on_error=self._failed)
