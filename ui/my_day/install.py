"""Ma journée in the app: its page (the first, Ctrl+J), its timed jobs, and the intake
of a new patient (what was already done elsewhere)."""

from __future__ import annotations

from ui.context import AppContext
from ui.my_day.page import MyDayPage
from ui.my_day.texts import tr


def install_my_day(ctx: AppContext) -> MyDayPage:
    """Ma journée as the app's first page (Ctrl+J), with its timed jobs."""
    page = MyDayPage(ctx.worker, user=ctx.user, scheduler=ctx.scheduler)
    ctx.add_page(page, tr("Ma journée"), "Ctrl+J")
    ctx.open_on(page)  # the app opens on the day's calls
    ctx.refreshRequested.connect(page.reload)  # F5 reloads the list too
    page.directoryRequested.connect(
        lambda patient_id: ctx.open_directory(patient_id=patient_id))
    page.statusMessage.connect(lambda text: ctx.show_message(text, 30_000))

    def bring_forward() -> None:  # the tray message was clicked: the day, that line
        ctx.show_page(page)
        ctx.bring_to_front()

    page.notifier.messageClicked.connect(bring_forward)
    # A new patient's intake: what she already had done elsewhere.
    ctx.patientCreated.connect(lambda patient_id: page.declare(
        patient_id, title=tr("Nouveau patient : déjà fait ailleurs ?")))
    page.jobs.install()
    page.reload()
    return page
