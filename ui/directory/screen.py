"""The practitioner directory screen: nearest practitioners around a commune or a patient.

Opened from the Annuaire menu (Ctrl+D) or for the selected patient
(Ctrl+Shift+D, prefilled with her commune). "Orienter vers…" records a referral for that
patient; "Imprimer…" prints "Professionnels de santé près de chez vous". Every database
job goes through the app's worker; the import's progress comes back by signal.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QKeySequence
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import text
from sqlmodel import Session

from carehub.caseload.services import find_commune, get_patient
from carehub.directory.extract_import import ImportReport, import_directory_file
from carehub.directory.extract_parse import ImportProgress
from carehub.directory.mailbox_import import MailboxImportReport
from carehub.directory.proximity import NearbyPractitioner
from carehub.directory.services import (
    DirectoryResult,
    DirectorySearch,
    printable_list,
    record_referral,
    search_directory,
)
from carehub.errors import CareHubError, InputError
from ui.context import AppContext
from ui.directory.printout import print_to
from ui.tables import row_table
from ui.worker import DatabaseWorker

log = logging.getLogger(__name__)

HEADERS = ("Nom", "Profession", "Spécialité", "Commune", "Distance", "Téléphone", "Adresse",
           "MSSanté")
COL_DISTANCE = 4
SEARCH_DELAY_MS = 250
_ROOT = QModelIndex()


class DirectoryResultsModel(QAbstractTableModel):
    """The practitioners found, nearest first (already ordered by the query)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[NearbyPractitioner] = []

    def set_rows(self, rows: list[NearbyPractitioner]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def practitioner(self, row: int) -> NearbyPractitioner | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    @property
    def practitioners(self) -> list[NearbyPractitioner]:
        return list(self._rows)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal
                and 0 <= section < len(HEADERS)):
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        p = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return (p.display_name, p.profession_label, p.specialty_label or "",
                    p.commune_name, f"{p.distance_km:.1f} km".replace(".", ","),
                    p.phone_display or "—",
                    ", ".join(x for x in (p.site_name, p.address) if x),
                    p.mssante or "")[index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == COL_DISTANCE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return p.id
        return None


@dataclass(frozen=True)
class _Codes:
    professions: list[tuple[str, str]]
    specialties: list[tuple[str, str]]


def _load_codes(session: Session) -> _Codes:
    rows = session.execute(text("SELECT kind, code, label FROM directory_code "
                                "ORDER BY kind, folded")).all()
    return _Codes([(c, label) for kind, c, label in rows if kind == "profession"],
                  [(c, label) for kind, c, label in rows if kind == "specialty"])


def _commune_code(session: Session, typed: str) -> str:
    """What the user typed in the commune field: an INSEE code or a name."""
    typed = typed.strip()
    if len(typed) == 5 and typed[:2].isalnum() and typed[2:].isdigit():
        return typed.upper()
    found = find_commune(session, text=typed, limit=1)
    if not found:
        raise InputError(f"No commune named {typed!r}.",
                         f"Aucune commune ne correspond à « {typed} ».")
    return found[0].insee


class _ProgressRelay(QObject):
    """Carries the import's progress from the worker thread to the GUI thread."""

    progressed = Signal(object)


class DirectoryScreen(QWidget):
    """Search the directory; orient the patient in context; print the list."""

    resultsShown = Signal(int)  # tests and the screenshot wait on it
    referralRecorded = Signal(object)  # the referral action's id
    importFinished = Signal(object)  # ImportReport

    def __init__(self, worker: DatabaseWorker, *, user: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.worker = worker
        self.user = user
        self.patient_id: uuid.UUID | None = None
        self.model = DirectoryResultsModel(self)
        self._last: DirectoryResult | None = None
        self._generation = 0
        self._relay = _ProgressRelay(self)
        self._relay.progressed.connect(self._show_progress)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.search)
        self.setWindowTitle("Annuaire des professionnels de santé")
        self.resize(1280, 720)
        self._build()
        self.worker.submit(_load_codes, on_success=self._fill_codes)

    # -- construction ---------------------------------------------------------------------

    def _build(self) -> None:
        self.patient_label = QLabel()
        self.patient_label.setVisible(False)
        self.commune_field = QLineEdit()
        self.commune_field.setPlaceholderText("Nom de commune ou code INSEE")
        self.name_field = QLineEdit()
        self.name_field.setPlaceholderText("Nom du professionnel (facultatif)")
        self.profession_combo = QComboBox()
        self.specialty_combo = QComboBox()
        for combo, everything in ((self.profession_combo, "Toutes les professions"),
                                  (self.specialty_combo, "Toutes les spécialités")):
            combo.addItem(everything, None)
        self.radius_spin = QSpinBox()
        self.radius_spin.setRange(1, 200)
        self.radius_spin.setValue(30)
        self.radius_spin.setSuffix(" km")
        for field in (self.commune_field, self.name_field):
            field.textChanged.connect(self._schedule_search)
            field.returnPressed.connect(self.search)
        for combo in (self.profession_combo, self.specialty_combo):
            combo.currentIndexChanged.connect(self._schedule_search)
        self.radius_spin.valueChanged.connect(self._schedule_search)

        form = QFormLayout()
        form.addRow("&Commune :", self.commune_field)
        form.addRow("&Nom :", self.name_field)
        criteria = QHBoxLayout()
        criteria.addWidget(self.profession_combo, 2)
        criteria.addWidget(self.specialty_combo, 2)
        criteria.addWidget(QLabel("Rayon :"))
        criteria.addWidget(self.radius_spin)
        form.addRow("&Profession :", criteria)
        for label_field in (self.commune_field, self.name_field, self.profession_combo):
            label = form.labelForField(label_field if label_field is not self.profession_combo
                                       else criteria)
            if isinstance(label, QLabel):
                label.setBuddy(label_field)

        self.table = row_table(self.model)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((190, 140, 170, 150, 75, 115, 240)):
            self.table.setColumnWidth(column, width)

        self.status_label = QLabel()
        self.refer_button = QPushButton("&Orienter vers…")
        self.refer_button.setToolTip("Enregistrer l'orientation du patient vers ce "
                                     "professionnel (Ctrl+Entrée)")
        self.refer_button.setShortcut(QKeySequence("Ctrl+Return"))
        self.refer_button.setVisible(False)
        self.refer_button.clicked.connect(self.refer_current)
        self.large_print = QCheckBox("&Gros caractères")
        self.print_button = QPushButton("&Imprimer la liste…")
        self.print_button.setShortcut(QKeySequence("Ctrl+P"))
        self.print_button.clicked.connect(self.print_list)
        self.import_button = QPushButton("Importer un e&xtrait…")
        self.import_button.clicked.connect(self._choose_extract)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status_label, 1)
        buttons.addWidget(self.progress)
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.large_print)
        buttons.addWidget(self.print_button)
        buttons.addWidget(self.refer_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.patient_label)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    def _fill_codes(self, codes: _Codes) -> None:
        for combo, entries in ((self.profession_combo, codes.professions),
                               (self.specialty_combo, codes.specialties)):
            combo.blockSignals(True)
            current = combo.currentData()
            while combo.count() > 1:
                combo.removeItem(1)
            for code, label in entries:
                combo.addItem(label, code)
            combo.setCurrentIndex(max(combo.findData(current), 0) if current else 0)
            combo.blockSignals(False)

    # -- context --------------------------------------------------------------------------

    def set_patient(self, patient_id: uuid.UUID, *, label: str, commune: str | None,
                    general_practitioners: bool = False) -> None:
        """Search around this patient; "Orienter vers…" records referrals for her."""
        self.patient_id = patient_id
        self.patient_label.setText(f"Patient : <b>{label}</b>")
        self.patient_label.setVisible(True)
        self.refer_button.setVisible(True)
        if general_practitioners:
            self.select_code(self.profession_combo, "10")
            self.select_code(self.specialty_combo, "SM54")
        self.commune_field.setText(commune or "")
        self.search()

    def select_code(self, combo: QComboBox, code: str) -> None:
        index = combo.findData(code)
        if index < 0:
            combo.addItem(code, code)
            index = combo.count() - 1
        combo.setCurrentIndex(index)

    # -- search ---------------------------------------------------------------------------

    def _schedule_search(self, *_args: object) -> None:
        self._timer.start()

    def current_search(self) -> DirectorySearch:
        return DirectorySearch(commune=self.commune_field.text().strip(),
                               profession=self.profession_combo.currentData(),
                               specialty=self.specialty_combo.currentData(),
                               name=self.name_field.text().strip() or None,
                               radius_km=float(self.radius_spin.value()), limit=100)

    def search(self) -> None:
        self._timer.stop()
        wanted = self.current_search()
        if not wanted.commune:
            return
        self._generation += 1
        generation = self._generation

        def job(session: Session) -> DirectoryResult:
            assert wanted.commune is not None
            commune = _commune_code(session, wanted.commune)
            return search_directory(session, search=DirectorySearch(
                commune=commune, profession=wanted.profession, specialty=wanted.specialty,
                name=wanted.name, radius_km=wanted.radius_km, limit=wanted.limit))

        self.status_label.setText("Recherche…")
        self.worker.submit(job, on_success=lambda r: self._show(generation, r),
                           on_error=lambda e: self._failed(generation, e))

    def _show(self, generation: int, result: DirectoryResult) -> None:
        if generation != self._generation:
            return  # an older search: the user typed on
        self._last = result
        self.model.set_rows(result.practitioners)
        count = len(result.practitioners)
        self.status_label.setText(
            f"{count} professionnel{'s' if count > 1 else ''} autour de {result.origin.name}"
            if count else f"Aucun professionnel autour de {result.origin.name} dans ce rayon")
        if count:
            self.table.selectRow(0)
        self.resultsShown.emit(count)

    def _failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._report(exc)
        self.model.set_rows([])
        self.resultsShown.emit(0)

    def _report(self, exc: BaseException) -> None:
        if isinstance(exc, CareHubError):
            self.status_label.setText(exc.message_fr)
        else:
            log.error("directory job failed: %r", exc)
            self.status_label.setText(f"Erreur : {exc}")

    # -- referral -------------------------------------------------------------------------

    def current_practitioner(self) -> NearbyPractitioner | None:
        index = self.table.currentIndex()
        return self.model.practitioner(index.row()) if index.isValid() else None

    def refer_current(self) -> None:
        practitioner = self.current_practitioner()
        if self.patient_id is None or practitioner is None:
            return
        patient, user = str(self.patient_id), self.user

        def job(session: Session) -> uuid.UUID:
            return record_referral(session, patient_ref=patient,
                                   practitioner_id=practitioner.id, actor=user)

        def done(action_id: uuid.UUID) -> None:
            self.status_label.setText(f"Orientation vers {practitioner.display_name} "
                                      "enregistrée.")
            self.referralRecorded.emit(action_id)

        self.worker.submit(job, write=True, on_success=done, on_error=self._report)

    # -- printing -------------------------------------------------------------------------

    def printable(self) -> dict[str, Any] | None:
        if self._last is None:
            return None
        return printable_list(self._last, radius_km=float(self.radius_spin.value()),
                              today=date.today(), large_print=self.large_print.isChecked())

    def print_list(self) -> None:
        document = self.printable()
        if document is None:
            return
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        dialog = QPrintDialog(printer, self)
        dialog.setWindowTitle("Imprimer la liste des professionnels")
        if dialog.exec() == QPrintDialog.DialogCode.Accepted:
            print_to(printer, document)

    # -- import ---------------------------------------------------------------------------

    def _choose_extract(self) -> None:
        name, _filter = QFileDialog.getOpenFileName(
            self, "Extrait de l'annuaire santé", "",
            "Extraits Annuaire Santé et fichiers des BAL MSSanté (*.txt);;"
            "Tous les fichiers (*)")
        if name:
            self.import_extract(Path(name))

    def import_extract(self, path: Path) -> None:
        relay, user = self._relay, self.user
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.import_button.setEnabled(False)

        def job(session: Session) -> ImportReport | MailboxImportReport:
            return import_directory_file(session, path=path, actor=user,
                                         progress=relay.progressed.emit)

        self.worker.submit(job, write=True, on_success=self._imported,
                           on_error=self._import_failed)

    def _show_progress(self, progress: ImportProgress) -> None:
        self.progress.setValue(round(progress.fraction * 100))
        self.status_label.setText(f"Import : {progress.rows:,} lignes".replace(",", "\u202f"))

    def _imported(self, report: ImportReport | MailboxImportReport) -> None:
        self.progress.setVisible(False)
        self.import_button.setEnabled(True)
        if isinstance(report, MailboxImportReport):
            self.status_label.setText(f"{report.mailboxes} adresses MSSanté importées, "
                                      f"{report.practitioners} professionnels.")
        else:
            self.status_label.setText(f"{report.rows} lignes importées, "
                                      f"{report.practitioners} professionnels.")
        self.worker.submit(_load_codes, on_success=self._fill_codes)
        self.importFinished.emit(report)
        self.search()

    def _import_failed(self, exc: BaseException) -> None:
        self.progress.setVisible(False)
        self.import_button.setEnabled(True)
        self._report(exc)


def _patient_context(session: Session, patient_id: uuid.UUID) -> tuple[str, str | None, bool]:
    patient = get_patient(session, patient_id=patient_id)
    label = f"{patient.used_name or patient.birth_name} {patient.given_names}"
    return label, patient.commune_insee, not (patient.gp_rpps or patient.gp_name)


class DirectoryWindow:
    """The directory screen, made the first time it is asked for and shown again after."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.screen: DirectoryScreen | None = None

    def open(self, *, for_patient: bool = False,
             patient_id: uuid.UUID | None = None) -> DirectoryScreen:
        """The directory screen, shown; for the selected patient when asked, or for
        `patient_id` (the patient of a call in progress)."""
        ctx = self.ctx
        screen = self.screen
        if screen is None:
            screen = DirectoryScreen(ctx.worker, user=ctx.user, parent=ctx.window)
            self.screen = screen
        if patient_id is None and for_patient:
            patient_id = ctx.current_patient_id()
        if patient_id is not None:
            target = screen

            def show(context: tuple[str, str | None, bool]) -> None:
                label, commune, needs_gp = context
                target.set_patient(patient_id, label=label, commune=commune,
                                   general_practitioners=needs_gp)

            ctx.worker.submit(lambda s: _patient_context(s, patient_id), on_success=show)
        screen.show()
        screen.raise_()
        screen.activateWindow()
        screen.commune_field.setFocus()
        return screen


def install_directory_actions(ctx: AppContext) -> DirectoryWindow:
    """The Annuaire menu: the directory, and the practitioners around the patient."""
    directory = DirectoryWindow(ctx)
    for text_, shortcut, for_patient in (
            ("Annuaire des professionnels", "Ctrl+D", False),
            ("Professionnels près du patient", "Ctrl+Shift+D", True)):
        action = ctx.add_action("directory", text_, [shortcut],
                                partial(directory.open, for_patient=for_patient))
        action.setToolTip(f"{text_} ({QKeySequence(shortcut).toString()})")
    return directory
