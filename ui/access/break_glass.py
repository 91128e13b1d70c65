"""Break the glass: the page shown for a patient one may not read, and the reason dialog."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class BreakGlassDialog(QDialog):
    """Why open a patient outside one's caseload: the reason is kept and shown to the
    supervisor."""

    def __init__(self, message: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Dossier hors de votre file active"))
        text = QLabel(message + "\n\n" + self.tr(
            "Vous pouvez l'ouvrir quand même pour la journée (remplacement d'une collègue "
            "absente, urgence) : le motif sera enregistré et visible par l'encadrante."))
        text.setWordWrap(True)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText(self.tr("Motif (au moins 5 caractères)"))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.open_button = self.buttons.addButton(
            self.tr("Ouvrir quand même (bris de glace)"),
            QDialogButtonBox.ButtonRole.AcceptRole)
        self.open_button.setEnabled(False)
        self.reason.textChanged.connect(
            lambda t: self.open_button.setEnabled(len(t.strip()) >= 5))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow(self.tr("&Motif"), self.reason)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.resize(520, self.sizeHint().height())


class RestrictedPage(QWidget):
    """The patient panel's page for a patient the user may not read."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.open_button = QPushButton(self.tr("Ouvrir quand même (bris de glace)…"))
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.message)
        layout.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
