"""Ma journée as a care manager works it: with the keyboard, through the real widgets, on a
real database whose crafted patients have reminders due whatever today's date."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices, QGuiApplication
from pytestqt.qtbot import QtBot
from sqlmodel import Session, col, select

from carehub.caseload.models import PatientPhone
from carehub.caseload.services import PatientInput, create_patient
from carehub.coordination.models import CoordinationAction
from carehub.coordination.services import stored_utc
from carehub.dates import add_months, date_fr, datetime_fr
from carehub.db import Database
from carehub.prevention.models import Reminder
from carehub.prevention.services import CALLBACK, plan_callback
from carehub.users.services import add_coverage
from tests.ui import add_patients, grab
from tests.ui.test_patient_panel import TelHandler as Softphone
from ui.main_window import MainWindow
from ui.my_day import MyDayPage
from ui.my_day.jobs import CALLBACK_PREFIX
from ui.my_day.model import COL_CHANNEL, COL_FOLLOWUP, COL_NAME, COL_WHEN

# A deaf woman of 70 who is reached by SMS, never phoned.
DEAF = {"birth_name": "Garnier", "given_names": "Odette", "sex": "F",
        "birth_date": date(1956, 1, 1), "commune_insee": "41018", "status": "active",
        "deaf_or_hard_of_hearing": True, "fragility_level": 1,
        "phones": [{"number": "06 55 44 33 22", "sms_consent": True}]}


@pytest.fixture
def softphone() -> Iterator[Softphone]:
    """Where the desktop would hand `tel:` links: here it keeps them."""
    phone = Softphone()
    QDesktopServices.setUrlHandler("tel", phone, "open")
    yield phone
    QDesktopServices.unsetUrlHandler("tel")


@pytest.fixture
def patient_ids(db: Database) -> dict[str, uuid.UUID]:
    ids = add_patients(db)
    with db.transaction() as session:
        ids["odette"] = create_patient(session, data=PatientInput.model_validate(DEAF),
                                       actor="alice", care_manager="alice")
    return ids


@pytest.fixture
def window(qtbot: QtBot, db: Database, patient_ids: dict[str, uuid.UUID],
           softphone: Softphone) -> Iterator[MainWindow]:
    window = MainWindow(db, user="alice")
    qtbot.addWidget(window)
    page = my_day(window)
    with qtbot.waitSignal(page.jobs.recomputed, timeout=20_000):
        window.show()
        window.start()  # the start-up catch-up: reminders computed, list reloaded
    qtbot.waitUntil(lambda: not window.worker.busy, timeout=10_000)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    yield window
    window.shutdown()


def my_day(window: MainWindow) -> MyDayPage:
    page = window.my_day  # type: ignore[attr-defined]
    assert isinstance(page, MyDayPage)
    return page


def names(page: MyDayPage) -> list[str]:
    return [page.model.index(row, COL_NAME).data() for row in range(page.model.rowCount())]


def go_to(qtbot: QtBot, page: MyDayPage, patient_id: uuid.UUID) -> None:
    """Arrow down the list to the patient, as the nurse would, until her card shows."""
    target = page.model.row_of(patient_id)
    assert target is not None
    page.table.setFocus()
    if page.current_patient_id() == patient_id and page._contacts_for == patient_id:
        return  # her card is shown, with her last contacts
    with qtbot.waitSignal(page.contactsShown, timeout=10_000,
                          check_params_cb=lambda pid: pid == patient_id):
        if page.current_patient_id() != patient_id:  # else her card is on its way
            qtbot.keyClick(page.table, Qt.Key.Key_Home)
            for _ in range(target):
                qtbot.keyClick(page.table, Qt.Key.Key_Down)


def press_outcome(qtbot: QtBot, page: MyDayPage, digit: str) -> object:
    with qtbot.waitSignal(page.outcomeRecorded, timeout=10_000) as recorded:
        qtbot.keyClick(page.focusWidget() or page.table, digit)
    qtbot.waitUntil(lambda: not page.worker.busy, timeout=10_000)
    return recorded.args[0]


def say_callback(qtbot: QtBot, page: MyDayPage, patient_id: uuid.UUID, said: str) -> None:
    """On her line, 6 selects the call-back's date and time: what is typed replaces it."""
    go_to(qtbot, page, patient_id)
    qtbot.keyClick(page.table, Qt.Key.Key_6)
    assert page.form.callback_at.hasFocus()
    qtbot.keyClicks(page.form.callback_at.line, said)


def actions(db: Database, patient_id: uuid.UUID) -> list[CoordinationAction]:
    with db.session() as session:
        return list(session.exec(select(CoordinationAction)
                                 .where(CoordinationAction.patient_id == patient_id)
                                 .order_by(col(CoordinationAction.recorded_at))).all())


def reminders(session: Session, patient_id: uuid.UUID) -> list[Reminder]:
    return list(session.exec(select(Reminder).where(Reminder.patient_id == patient_id)).all())


# -- the list ---------------------------------------------------------------------------


def test_start_of_day_recomputation_is_a_daily_job_after_the_start_up_catch_up(
        window: MainWindow) -> None:
    assert window.scheduler.job_ids("myday-recompute") == ["myday-recompute"]
    next_run = window.scheduler.next_run("myday-recompute")
    assert next_run is not None and (next_run.hour, next_run.minute) == (5, 0)


def test_the_app_opens_on_the_day_list_with_the_keyboard_in_it(
        qtbot: QtBot, window: MainWindow, patient_ids: dict[str, uuid.UUID],
        qtmodeltester: object) -> None:
    page = my_day(window)
    assert window.pages.currentWidget() is page
    assert page.table.hasFocus()
    shown = names(page)
    assert "Lefebvre Paul" not in " ".join(shown)  # paused: not called
    rows = {pid: page.model.row_of(pid) for pid in patient_ids.values()}
    assert rows[patient_ids["paul"]] is None
    assert None not in (rows[patient_ids["jeanne"]], rows[patient_ids["claire"]],
                        rows[patient_ids["odette"]])
    assert page.count_label.text() == f"{len(shown)} personnes à contacter aujourd'hui"
    assert "Entrée" in page.hint_label.text() and "rappeler à" in page.hint_label.text()
    qtmodeltester.check(page.model)  # type: ignore[attr-defined]
    # Ctrl+1 goes to the caseload, Ctrl+J comes back to the day.
    qtbot.keyClick(page.table, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.pages.currentWidget() is window.caseload_page
    qtbot.keyClick(window.caseload.search_field, Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier)
    assert window.pages.currentWidget() is page


def test_a_deaf_patient_is_not_phoned_but_offered_an_sms_ready_to_copy(
        qtbot: QtBot, window: MainWindow, softphone: Softphone,
        patient_ids: dict[str, uuid.UUID]) -> None:
    page = my_day(window)
    row = page.model.row_of(patient_ids["odette"])
    assert row is not None
    assert page.model.index(row, COL_CHANNEL).data() == "SMS"
    go_to(qtbot, page, patient_ids["odette"])
    assert page.card.channel_label.isVisibleTo(page.card)
    assert page.card.channel_label.text().startswith("Ne pas appeler")
    assert page.card.sms.isVisibleTo(page.card)
    text = page.card.sms_text.toPlainText()
    assert text.startswith("Bonjour Madame") and "alice" in text
    assert page.form.channel.currentData() == "sms"
    qtbot.keyClick(page.table, Qt.Key.Key_Return)
    assert softphone.opened == []
    assert page.message_label.text().startswith("Ne pas appeler : patient(e) malentendant(e)")
    qtbot.keyClick(page.table, Qt.Key.Key_S)
    assert QGuiApplication.clipboard().text() == text


def test_the_card_shows_phones_as_tel_links_reasons_with_what_to_say(
        qtbot: QtBot, window: MainWindow, patient_ids: dict[str, uuid.UUID]) -> None:
    page = my_day(window)
    go_to(qtbot, page, patient_ids["jeanne"])
    contact = page.card.contact.body.text()
    assert 'href="tel:+33612345678"' in contact and "06 12 34 56 78" in contact
    item = page.card.item
    assert item is not None and item.reasons
    reasons = page.card.reasons.body.text()
    for reason in item.reasons:
        assert reason.label_fr in reasons
        assert reason.script_fr[:20] in reasons.replace("&#x27;", "'").replace("&quot;", '"')
    assert page.card.contacts.body.text().endswith("Aucun contact enregistré.</span>")


# -- outcomes ---------------------------------------------------------------------------


def test_enter_dials_then_reached_records_the_call_settles_a_reminder_and_moves_on(
        qtbot: QtBot, window: MainWindow, db: Database, softphone: Softphone,
        patient_ids: dict[str, uuid.UUID]) -> None:
    page = my_day(window)
    jeanne = patient_ids["jeanne"]
    go_to(qtbot, page, jeanne)
    row = page.model.row_of(jeanne)
    assert row is not None
    following = page.model.item(row + 1)
    qtbot.keyClick(page.table, Qt.Key.Key_Return)
    assert softphone.opened == ["tel:+33612345678"]
    assert page.form.timer_running
    # F: the first reason "done on" a date a week ago (she says she had it).
    settled = page.form.reason_rows[0]
    qtbot.keyClick(page.table, Qt.Key.Key_F)
    assert settled.combo.hasFocus()
    qtbot.keyClick(settled.combo, Qt.Key.Key_Down)
    assert settled.settlement == "done"
    week_ago = date.today() - timedelta(days=7)
    qtbot.keyClick(settled.combo, Qt.Key.Key_Tab)  # to its date, "done" today by default
    assert settled.date.hasFocus() and settled.date.text() == date.today().strftime("%d/%m/%Y")
    settled.date.selectAll()
    qtbot.keyClicks(settled.date.line, "il y a 7 jours")
    assert settled.date.preview.text() == date_fr(week_ago)
    qtbot.keyClick(settled.date.line, Qt.Key.Key_Return)  # back to the list
    assert settled.date.text() == week_ago.strftime("%d/%m/%Y")
    assert page.table.hasFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_N)
    assert page.form.note.hasFocus()
    qtbot.keyClicks(page.form.note, "Vue au cabinet 1 fois")
    qtbot.keyClick(page.form.note, Qt.Key.Key_Return)
    assert page.table.hasFocus()
    page.form.duration.setTime(page.form.duration.time().fromString("04:30", "mm:ss"))
    press_outcome(qtbot, page, "1")

    [call] = actions(db, jeanne)
    assert (call.type, call.outcome, call.note, call.duration_s) == (
        "call", "reached", "Vue au cabinet 1 fois", 270)
    with db.session() as session:
        done = session.get(Reminder, settled.reminder_id)
        assert done is not None and (done.state, done.closed_on) == ("done", week_ago)
    assert page.model.row_of(jeanne) is None  # reached today: off the list
    if following is not None:
        assert page.current_patient_id() == following.patient_id
    assert "joint(e), enregistré" in page.message_label.text()
    assert page.table.hasFocus()


def test_a_reason_postponed_as_said_and_a_past_postponement_refused_by_the_field(
        qtbot: QtBot, window: MainWindow, db: Database,
        patient_ids: dict[str, uuid.UUID]) -> None:
    page = my_day(window)
    jeanne = patient_ids["jeanne"]
    go_to(qtbot, page, jeanne)
    later = page.form.reason_rows[0]
    qtbot.keyClick(page.table, Qt.Key.Key_F)
    for _ in range(3):  # Inchangé, Fait le, Refusé, Reporté au
        qtbot.keyClick(later.combo, Qt.Key.Key_Down)
    assert later.settlement == "postponed"
    qtbot.keyClick(later.combo, Qt.Key.Key_Tab)
    assert later.date.hasFocus()
    later.date.selectAll()
    qtbot.keyClicks(later.date.line, "hier")
    refusal = "Reporter à un jour à venir (demain au plus tôt)."
    assert later.date.preview.text() == refusal
    qtbot.keyClick(later.date.line, Qt.Key.Key_Return)  # back to the list, still said there
    with qtbot.waitSignal(page.messageShown, timeout=5_000):
        qtbot.keyClick(page.table, Qt.Key.Key_1)
    assert page.message_label.text() == refusal and later.date.hasFocus()
    assert actions(db, jeanne) == []
    later.date.selectAll()
    qtbot.keyClicks(later.date.line, "dans 3 mois")
    in_three_months = add_months(date.today(), 3)
    assert later.date.preview.text() == date_fr(in_three_months)
    qtbot.keyClick(later.date.line, Qt.Key.Key_Return)
    assert page.table.hasFocus()
    press_outcome(qtbot, page, "1")
    with db.session() as session:
        postponed = session.get(Reminder, later.reminder_id)
        assert postponed is not None
        assert (postponed.state, postponed.postponed_until) == ("postponed", in_three_months)


def test_no_answer_keeps_her_on_the_list_with_the_next_attempt(
        qtbot: QtBot, window: MainWindow, db: Database,
        patient_ids: dict[str, uuid.UUID]) -> None:
    page = my_day(window)
    claire = patient_ids["claire"]
    go_to(qtbot, page, claire)
    result = press_outcome(qtbot, page, "2")
    next_at = result.next_attempt_at  # type: ignore[attr-defined]
    assert next_at is not None and next_at > datetime.now().astimezone() + timedelta(hours=2)
    [call] = actions(db, claire)
    assert (call.type, call.outcome) == ("call", "no_answer")
    with db.session() as session:
        open_ = [r for r in reminders(session, claire) if r.state not in ("done", "cancelled")]
    assert open_ and {(r.state, r.attempts) for r in open_} == {("planned", 1)}
    assert {stored_utc(r.planned_at) for r in open_ if r.planned_at} == {next_at}
    row = page.model.row_of(claire)
    if next_at.astimezone().date() == date.today():  # later today: she stays, at that hour
        assert row is not None
        assert page.model.index(row, COL_FOLLOWUP).data() == "1 essai"
        assert page.model.index(row, COL_WHEN).data().startswith("Essai")
    else:  # tomorrow: off today's list
        assert row is None
    assert "Nouvel essai" in page.message_label.text()


def test_wrong_number_flags_the_phone_for_checking(
        qtbot: QtBot, window: MainWindow, db: Database,
        patient_ids: dict[str, uuid.UUID]) -> None:
    page = my_day(window)
    claire = patient_ids["claire"]
    go_to(qtbot, page, claire)
    qtbot.keyClick(page.table, Qt.Key.Key_Return)
    press_outcome(qtbot, page, "4")
    with db.session() as session:
        phone = session.exec(select(PatientPhone).where(PatientPhone.patient_id == claire)).one()
    assert phone.needs_check
    assert actions(db, claire)[0].outcome == "wrong_number"


def test_refusal_declines_her_reasons(qtbot: QtBot, window: MainWindow, db: Database,
                                     patient_ids: dict[str, uuid.UUID]) -> None:
    page = my_day(window)
    odette = patient_ids["odette"]
    go_to(qtbot, page, odette)
    item = page.card.item
    assert item is not None
    press_outcome(qtbot, page, "5")
    with db.session() as session:
        states = {r.id: r.state for r in reminders(session, odette)}
    assert all(states[reason.reminder_id] == "declined" for reason in item.reasons)
    assert actions(db, odette)[0].type == "sms"  # she is written to, not phoned


def test_callback_key_plans_a_call_back_and_a_scheduler_job_at_its_hour(
        qtbot: QtBot, window: MainWindow, db: Database,
        patient_ids: dict[str, uuid.UUID]) -> None:
    page = my_day(window)
    jeanne = patient_ids["jeanne"]
    when = (datetime.now() + timedelta(days=1)).replace(hour=15, minute=30, second=0,
                                                        microsecond=0)
    # The field is selected: what she types replaces it (the tester's "09/12/2026 10:00").
    say_callback(qtbot, page, jeanne, when.strftime("%d/%m/%Y %H:%M"))
    assert page.form.callback_at.preview.text() == datetime_fr(when)
    with qtbot.waitSignal(page.jobs.callbacksScheduled, timeout=10_000), \
            qtbot.waitSignal(page.outcomeRecorded, timeout=10_000):
        qtbot.keyClick(page.form.callback_at, Qt.Key.Key_Return)
    [call] = actions(db, jeanne)
    assert call.outcome == "callback"
    job_id = f"{CALLBACK_PREFIX}{jeanne}"
    assert job_id in window.scheduler.job_ids(CALLBACK_PREFIX)
    assert window.scheduler.next_run(job_id) == when.astimezone()
    assert "Rappel prévu" in page.message_label.text()


def test_a_call_back_whose_hour_comes_is_notified_and_its_line_highlighted(
        qtbot: QtBot, window: MainWindow, db: Database,
        patient_ids: dict[str, uuid.UUID]) -> None:
    page = my_day(window)
    claire = patient_ids["claire"]
    with db.transaction() as session:
        plan_callback(session, patient_id=claire, actor="alice",
                      at=datetime.now().astimezone() + timedelta(seconds=1))
    # After a resume: reminders recomputed, call-backs rebuilt from the database; it fires.
    with qtbot.waitSignal(page.callbackNotified, timeout=20_000) as notified, \
            qtbot.waitSignal(page.jobs.recomputed, timeout=20_000):
        window.scheduler.resumed.emit(3600.0)
    callback = notified.args[0]
    assert callback.patient_id == claire
    qtbot.waitUntil(lambda: not window.worker.busy, timeout=10_000)
    row = page.model.row_of(claire)
    assert row is not None and page.model.is_highlighted(claire)
    assert page.model.index(row, COL_WHEN).data().startswith("Rappel")
    assert page.notice_label.isVisibleTo(page)
    assert "Petit Claire" in page.notice_label.text() or "Claire" in page.notice_label.text()
    if not page.notifier.has_tray:  # offscreen: the status bar says it too
        assert "Rappeler" in window.statusBar().currentMessage()


def test_an_outcome_from_the_paper_list_is_entered_with_its_real_time(
        qtbot: QtBot, window: MainWindow, db: Database,
        patient_ids: dict[str, uuid.UUID]) -> None:
    page = my_day(window)
    claire = patient_ids["claire"]
    go_to(qtbot, page, claire)
    qtbot.keyClick(page.table, Qt.Key.Key_D)
    assert page.form.deferred.isChecked() and page.form.deferred_at.hasFocus()
    real = (datetime.now() - timedelta(hours=3)).replace(second=0, microsecond=0)
    qtbot.keyClicks(page.form.deferred_at.line, real.strftime("%d/%m/%Y %Hh%M"))
    qtbot.keyClick(page.form.deferred_at, Qt.Key.Key_Return)
    press_outcome(qtbot, page, "3")
    [call] = actions(db, claire)
    assert call.outcome == "voicemail"
    assert stored_utc(call.at) == real.astimezone(UTC)


def test_a_callback_in_the_past_is_refused_calmly_in_the_page(
        qtbot: QtBot, window: MainWindow, db: Database,
        patient_ids: dict[str, uuid.UUID]) -> None:
    page = my_day(window)
    claire = patient_ids["claire"]
    say_callback(qtbot, page, claire, "hier 10h")
    past = "Cette heure est passée : choisissez une heure de rappel à venir."
    assert page.form.callback_at.preview.text() == past  # said next to the field at once
    with qtbot.waitSignal(page.messageShown, timeout=5_000):
        qtbot.keyClick(page.form.callback_at, Qt.Key.Key_Return)
    assert page.message_label.text() == past
    assert page.form.callback_at.hasFocus() and page.form.callback_at.text() == "hier 10h"
    # A date that does not exist: said the same way, nothing recorded either.
    page.form.callback_at.selectAll()
    qtbot.keyClicks(page.form.callback_at.line, "31/02 10h")
    with qtbot.waitSignal(page.messageShown, timeout=5_000):
        qtbot.keyClick(page.form.callback_at, Qt.Key.Key_Return)
    assert page.message_label.text() == "Le 31/02 n'existe pas."
    assert page.form.callback_at.preview.text() == "Le 31/02 n'existe pas."
    assert window.caseload.current_dialog is None
    assert actions(db, claire) == []


def test_a_call_back_said_as_people_say_it_6_demain_14h_entree(
        qtbot: QtBot, window: MainWindow, db: Database,
        patient_ids: dict[str, uuid.UUID]) -> None:
    page = my_day(window)
    jeanne = patient_ids["jeanne"]
    say_callback(qtbot, page, jeanne, "demain 14h")
    tomorrow = (datetime.now() + timedelta(days=1)).replace(hour=14, minute=0, second=0,
                                                            microsecond=0)
    assert page.form.callback_at.preview.text() == datetime_fr(tomorrow)
    with qtbot.waitSignal(page.outcomeRecorded, timeout=10_000):
        qtbot.keyClick(page.form.callback_at, Qt.Key.Key_Return)
    with db.session() as session:
        planned = [r for r in reminders(session, jeanne) if r.reason == CALLBACK]
    assert [stored_utc(r.planned_at) for r in planned if r.planned_at] == [
        tomorrow.astimezone(UTC)]


def test_appointment_and_referral_from_the_call_are_for_the_patient_of_the_call(
        qtbot: QtBot, window: MainWindow, db: Database,
        patient_ids: dict[str, uuid.UUID]) -> None:
    page = my_day(window)
    jeanne = patient_ids["jeanne"]
    go_to(qtbot, page, jeanne)
    qtbot.keyClick(page.table, Qt.Key.Key_R)
    assert page.form.appointment_at.hasFocus()
    with qtbot.waitSignal(page.contactsShown, timeout=10_000), \
            qtbot.waitSignal(page.appointmentRecorded, timeout=10_000):
        qtbot.keyClick(page.form.appointment_at, Qt.Key.Key_Return)
    assert "Rendez-vous" in page.card.contacts.body.text()  # in her last contacts at once
    [appointment] = actions(db, jeanne)
    assert appointment.type == "appointment"
    assert appointment.note is not None and appointment.note.startswith("Rendez-vous le ")
    qtbot.keyClick(page.table, Qt.Key.Key_O)
    screen = window.directory.screen
    qtbot.waitUntil(lambda: screen.patient_id == jeanne, timeout=10_000)
    assert screen.isVisible() and screen.refer_button.isVisible()


def test_the_day_list_is_saved_as_a_pdf_off_the_gui_thread_and_a_failure_is_said(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    page = my_day(window)
    out = tmp_path / "appels.pdf"
    with qtbot.waitSignal(page.sheetWritten, timeout=60_000) as written:
        assert page.save_pdf(out)
        assert page.message_label.text().startswith("Mise en page de la liste")
    assert written.args == [out]
    assert out.read_bytes().startswith(b"%PDF")
    assert page.message_label.text() == f"Liste enregistrée dans {out}."
    nowhere = tmp_path / "no-such-folder" / "appels.pdf"
    with qtbot.waitSignal(page.sheetWritten, timeout=60_000) as failed:
        page.save_pdf(nowhere)
    assert failed.args == [None]
    assert page.message_label.text().startswith("La liste n'a pas pu être imprimée")
    assert window.caseload.current_dialog is None


def test_covering_a_colleague_she_works_that_colleagues_list_too(
        qtbot: QtBot, db: Database, softphone: Softphone) -> None:
    add_patients(db)  # alice's
    today = date.today()
    with db.transaction() as session:
        bobs = create_patient(session, data=PatientInput.model_validate(
            {**DEAF, "birth_name": "Bernardin", "deaf_or_hard_of_hearing": False}),
            actor="bob", care_manager="bob")
        add_coverage(session, user="alice", covers="bob", starts_on=today,
                     ends_on=today + timedelta(days=6), reason="congés", actor="bob")
    promised = datetime.now().astimezone().replace(microsecond=0) + timedelta(hours=3)
    with db.transaction() as session:  # bob had promised her a call-back
        plan_callback(session, patient_id=bobs, at=promised, actor="bob")
    window = MainWindow(db, user="alice")
    qtbot.addWidget(window)
    page = my_day(window)
    with qtbot.waitSignal(page.jobs.recomputed, timeout=20_000):
        window.show()
        window.start()
    qtbot.waitUntil(lambda: page.owner_box.count() == 2 and not window.worker.busy,
                    timeout=20_000)
    assert page.owner_box.isVisible()
    assert page.owner_box.itemText(1) == "Liste de bob (remplacement)"
    assert page.model.row_of(bobs) is None  # her own list first
    # bob's promise is on her scheduler too
    qtbot.waitUntil(lambda: f"{CALLBACK_PREFIX}{bobs}" in window.scheduler.job_ids(
        CALLBACK_PREFIX), timeout=20_000)
    with qtbot.waitSignal(page.listShown, timeout=20_000):
        page.owner_box.setCurrentIndex(1)
    assert page.model.row_of(bobs) is not None  # bob's patient, her reminders computed
    assert names(page) == ["BERNARDIN Odette"]
    qtbot.waitUntil(lambda: page._contacts_for == bobs, timeout=10_000)  # her card
    grab(window, "my-day-covering")
    go_to(qtbot, page, bobs)
    qtbot.keyClick(page.table, Qt.Key.Key_Return)  # dials
    result = press_outcome(qtbot, page, "1")  # reached
    assert result is not None
    assert [(a.type, a.author) for a in actions(db, bobs)] == [("call", "alice")]
    window.shutdown()


def test_a_coverage_that_begins_during_the_day_brings_the_colleagues_list(
        qtbot: QtBot, window: MainWindow, db: Database) -> None:
    page = my_day(window)
    assert not page.owner_box.isVisible()  # she covers nobody yet
    today = date.today()
    with db.transaction() as session:
        bobs = create_patient(session, data=PatientInput.model_validate(
            {**DEAF, "birth_name": "Bernardin", "deaf_or_hard_of_hearing": False}),
            actor="bob", care_manager="bob")
        add_coverage(session, user="alice", covers="bob", starts_on=today, ends_on=today,
                     actor="bob")
    with qtbot.waitSignal(page.jobs.recomputed, timeout=20_000):
        page.load_covered()  # what the list's refresh does every ten minutes
    qtbot.waitUntil(lambda: not window.worker.busy, timeout=10_000)
    assert page.owner_box.count() == 2
    with qtbot.waitSignal(page.listShown, timeout=20_000):
        page.owner_box.setCurrentIndex(1)
    assert page.model.row_of(bobs) is not None  # her reminders were computed meanwhile
