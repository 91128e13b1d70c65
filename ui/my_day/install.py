"""Ma journée in the main window: its page (the first, Ctrl+J), its timed jobs, and the
intake of a new patient (what was already done elsewhere)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ui.my_day.page import MyDayPage
from ui.my_day.texts import tr

if TYPE_CHECKING:
    from ui.main_window import MainWindow


def install_my_day(window: MainWindow) -> MyDayPage:
    """Ma journée as the main window's first page (Ctrl+J), with its timed jobs."""
    from ui.directory.screen import open_directory

    page = MyDayPage(window.worker, user=window.user, scheduler=window.scheduler)
    window.my_day = page  # type: ignore[attr-defined]
    window.add_page(page, tr("Ma journée"), "Ctrl+J")
    window.pages.setCurrentWidget(page)  # the app opens on the day's calls
    window.refresh_action.triggered.connect(page.reload)  # F5 reloads the list too
    page.directoryRequested.connect(
        lambda patient_id: open_directory(window, patient_id=patient_id))
    page.statusMessage.connect(lambda text: window.statusBar().showMessage(text, 30_000))

    def bring_forward() -> None:  # the tray message was clicked: the day, that line
        window.show_page(page)
        window.raise_()
        window.activateWindow()

    page.notifier.messageClicked.connect(bring_forward)
    created = getattr(window, "patientCreated", None)
    if created is not None:  # a new patient's intake: what was already done elsewhere
        created.connect(lambda patient_id: page.declare(
            patient_id, title=tr("Nouveau patient : déjà fait ailleurs ?")))
    page.jobs.install()
    page.reload()
    return page
