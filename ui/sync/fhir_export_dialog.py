""""Exporter vers le dossier partagé (FHIR)…": post the actions not yet exported there.

The FHIR server's address is remembered in the local database. The Bundle is built and
validated on the database worker, posted from the sync thread (the network never blocks
the GUI nor the worker), then the actions the server took are marked exported on the
worker, so the Actions tab shows "exportée vers le dossier partagé". Posting again sends
only what is new; the server's conditional creates make a repeated post harmless anyway.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import Signal, SignalInstance
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)
from sqlmodel import Session

from carehub.errors import CareHubError
from carehub.sync.fhir_export import ExportResult, PushResult, build_export, mark_pushed
from carehub.sync.settings import fhir_endpoint, save_fhir_endpoint
from ui.context import AppContext
from ui.formatting import parse_date_fr
from ui.widgets.styles import BANNER_STYLE


class BundlePoster(Protocol):
    """Who posts the Bundle off the GUI thread: the sync controller."""

    push_requested: SignalInstance  # (ExportResult, endpoint)
    pushed: SignalInstance  # PushResult
    pushFailed: SignalInstance  # the exception


class FhirExportDialog(QDialog):
    exported = Signal(object)  # the PushResult, once the actions are marked exported

    def __init__(self, ctx: AppContext, controller: BundlePoster) -> None:
        super().__init__(ctx.window)
        self.ctx = ctx
        self.controller = controller
        self._endpoint = ""
        self.setWindowTitle(self.tr("Exporter vers le dossier partagé"))
        self.endpoint_field = QLineEdit()
        self.endpoint_field.setPlaceholderText("https://plateforme.exemple.fr/fhir")
        self.since_field = QLineEdit()
        self.since_field.setPlaceholderText(self.tr("jj/mm/aaaa (facultatif)"))
        self.since_field.setMaxLength(10)
        self.error_label = QLabel()
        self.error_label.setStyleSheet(BANNER_STYLE)
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        note = QLabel(self.tr("Les actions des patients dont l'INS est connue sont envoyées en "
                              "FHIR R4 ; celles déjà exportées vers ce serveur ne sont pas "
                              "renvoyées."))
        note.setWordWrap(True)
        note.setStyleSheet("color: #5f6b76;")
        form = QFormLayout()
        form.addRow(self.tr("&Serveur FHIR"), self.endpoint_field)
        form.addRow(self.tr("Actions &depuis le"), self.since_field)
        self.export_button = QPushButton(self.tr("Exporter"))
        self.export_button.setAutoDefault(False)
        close = QPushButton(self.tr("Fermer"))
        close.setAutoDefault(False)
        buttons = QDialogButtonBox()
        buttons.addButton(self.export_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(close, QDialogButtonBox.ButtonRole.RejectRole)
        self.export_button.clicked.connect(self.export)
        close.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.error_label)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.result_label)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)
        controller.pushed.connect(self._pushed)
        controller.pushFailed.connect(self._failed)
        ctx.worker.submit(fhir_endpoint, on_success=self._show_endpoint)

    def _show_endpoint(self, endpoint: str | None) -> None:
        if endpoint and not self.endpoint_field.text():
            self.endpoint_field.setText(endpoint)

    def _fail_text(self, message_fr: str) -> None:
        self.error_label.setText(message_fr)
        self.error_label.show()
        self.export_button.setEnabled(True)

    def export(self) -> None:
        since_text = self.since_field.text().strip()
        since = parse_date_fr(since_text) if since_text else None
        if since_text and since is None:
            self._fail_text(self.tr("Date invalide : saisissez jj/mm/aaaa."))
            return
        url, actor = self.endpoint_field.text().strip(), self.ctx.user
        self.error_label.hide()
        self.result_label.setText(self.tr("Préparation de l'export…"))
        self.export_button.setEnabled(False)

        def job(session: Session) -> tuple[str, ExportResult]:
            endpoint = save_fhir_endpoint(session, url=url, actor=actor)
            return endpoint, build_export(session, since=since, skip_exported_to=endpoint)

        self.ctx.worker.submit(job, write=True, on_success=self._built,
                                  on_error=self._failed)

    def _built(self, built: tuple[str, ExportResult]) -> None:
        self._endpoint, result = built
        if not result.action_ids:
            self.result_label.setText(self.tr("Rien de nouveau à exporter."))
            self.export_button.setEnabled(True)
            return
        self.result_label.setText(self.tr("Envoi au serveur FHIR…"))
        self.controller.push_requested.emit(result, self._endpoint)

    def _pushed(self, result: ExportResult, answer: PushResult) -> None:
        endpoint, ids = answer.target, list(result.action_ids)
        self.ctx.worker.submit(
            lambda s: mark_pushed(s, action_ids=ids, target=endpoint), write=True,
            on_success=lambda _r: self._marked(result, answer), on_error=self._failed)

    def _marked(self, result: ExportResult, answer: PushResult) -> None:
        count = len(result.action_ids)
        text = (self.tr("%1 actions envoyées au dossier partagé") if count > 1
                else self.tr("%1 action envoyée au dossier partagé")).replace("%1", str(count))
        text += self.tr(" (nouvelles : %1, déjà présentes : %2).").replace(
            "%1", str(answer.created)).replace("%2", str(answer.existing))
        if result.without_ins:
            text += " " + self.tr("%1 laissées de côté : patient sans INS.").replace(
                "%1", str(len(result.without_ins)))
        self.result_label.setText(text)
        self.export_button.setEnabled(True)
        self.ctx.actionsChanged.emit()  # the Actions tab shows them exported
        self.exported.emit(answer)

    def _failed(self, exc: BaseException) -> None:
        self.result_label.setText("")
        self._fail_text(exc.message_fr if isinstance(exc, CareHubError) else str(exc))
