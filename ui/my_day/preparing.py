"""« Préparation de la journée… »: what Ma journée shows while the start of day is computed
(the reminders recomputed, then the plan rebuilt and the day's share read), step by step,
instead of an empty list."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from ui.my_day.texts import tr

STEPS = ("Calcul des rappels du jour…", "Plan de contact et liste du jour…")


class PreparingPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, len(STEPS) + 1)
        self.bar.setTextVisible(False)
        self.bar.setFixedWidth(420)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.addStretch(1)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addStretch(1)

    def show_step(self, step: int) -> None:
        """Step 1: the reminders; 2: the plan and the list (then the day is shown)."""
        shown = max(1, min(step, len(STEPS)))
        self.bar.setValue(step)
        self.label.setText(f"<b>{tr('Préparation de la journée…')}</b> "
                           f"{tr(STEPS[shown - 1])} ({shown}/{len(STEPS)})")
