"""`carehub-gui`: open the database, show the main window, load the caseload on the worker.

Options: --db PATH (CAREHUB_DB), --user NAME (CAREHUB_USER, default the login name),
--key-file PATH (CAREHUB_KEY_FILE), --lang fr|en, --screenshot FILE (open, wait until the
caseload is shown, save a PNG of the window, exit).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from carehub.db import Database, create_database, default_db_path, open_database
from carehub.directory.communes import ensure_communes
from carehub.errors import CareHubError
from carehub.keystore import key_store
from carehub.users.services import ensure_user
from ui.i18n import LANGUAGES, choose_language, install_translators

if TYPE_CHECKING:
    from ui.my_day import MyDayPage

SCREENSHOT_TIMEOUT_MS = 120_000


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="carehub-gui", description="CareHub, the main window.")
    parser.add_argument("--db", type=Path, default=None,
                        help="database file (default: CAREHUB_DB, else the user's)")
    parser.add_argument("--user", default=None,
                        help="acting care manager (default: CAREHUB_USER, else the login name)")
    parser.add_argument("--key-file", type=Path, default=None,
                        help="keep the database key in this file instead of the OS keyring")
    parser.add_argument("--lang", choices=LANGUAGES, default=None,
                        help="interface language (default: the system's, French otherwise)")
    parser.add_argument("--screenshot", type=Path, default=None, metavar="FILE",
                        help="save a PNG of the window once the caseload is shown, then exit")
    return parser.parse_args(argv)


def _fail(args: argparse.Namespace, error: CareHubError) -> None:
    """A French message box; in --screenshot mode the English message on stderr."""
    if args.screenshot is not None:
        print(f"carehub-gui: {error.message}", file=sys.stderr)
        return
    QMessageBox.critical(None, "CareHub", error.message_fr)


def _offer_creation(args: argparse.Namespace, path: Path, user: str) -> Database | None:
    """No database yet: offer to create one (never in --screenshot mode)."""
    if args.screenshot is not None:
        print(f"carehub-gui: No database at {path}. Create one with `carehub init`.",
              file=sys.stderr)
        return None
    answer = QMessageBox.question(
        None, "CareHub",
        QCoreApplication.translate(
            "App", "Aucune base de données n'existe encore à l'emplacement %1.\n\n"
            "Créer une nouvelle base chiffrée maintenant ?").replace("%1", str(path)),
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.Yes)
    if answer != QMessageBox.StandardButton.Yes:
        return None
    database = create_database(path, key_store(args.key_file))
    with database.transaction() as session:
        ensure_user(session, name=user)
        ensure_communes(session)
    return database


def open_for_gui(args: argparse.Namespace, user: str) -> Database | None:
    """The open database, or None after telling the user why not (file untouched)."""
    path = args.db or default_db_path()
    try:
        if not path.exists():
            return _offer_creation(args, path, user)
        return open_database(path, key_store(args.key_file))
    except CareHubError as error:
        _fail(args, error)
        return None


def _arrange_screenshot(window: object, target: Path) -> None:
    """Grab the window once its opening page is ready (Ma journée: the day computed and its
    first card shown; else the caseload and its first patient), then quit."""
    from ui.main_window import MainWindow

    assert isinstance(window, MainWindow)
    app = QCoreApplication.instance()
    assert app is not None
    state = {"shown": False}

    def grab() -> None:
        if state["shown"]:
            return
        state["shown"] = True
        ok = window.grab().save(str(target), "PNG")
        if not ok:
            print(f"carehub-gui: cannot write {target}", file=sys.stderr)
        app.exit(0 if ok else 1)

    def after_result(count: int) -> None:
        if count == 0:
            QTimer.singleShot(0, grab)  # nothing to show in the panel

    def timed_out() -> None:
        if not state["shown"]:
            print("carehub-gui: the caseload was not shown in time", file=sys.stderr)
            state["shown"] = True
            app.exit(1)

    QTimer.singleShot(SCREENSHOT_TIMEOUT_MS, timed_out)
    page: MyDayPage | None = getattr(window, "my_day", None)
    if page is not None and window.pages.currentWidget() is page:
        # The app opens on Ma journée: wait for her day (the start of day computed, its
        # list shown, the first line's card filled), not for the caseload behind it.
        def day_ready(count: int) -> None:
            if count == 0:
                QTimer.singleShot(0, grab)
                return
            page.cardShown.connect(lambda _id: QTimer.singleShot(0, grab))
            QTimer.singleShot(2_000, grab)  # the same patient's card stays: no new card

        page.dayReady.connect(day_ready)
        return
    window.model.resultShown.connect(after_result)
    window.patientShown.connect(lambda _id: QTimer.singleShot(0, grab))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    user = args.user or os.environ.get("CAREHUB_USER") or getpass.getuser()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("CareHub")
    app.setOrganizationName("CareHub")
    install_translators(app, choose_language(args.lang))

    database = open_for_gui(args, user)
    if database is None:
        return 1
    from ui.access.sign_in import sign_in_if_needed

    signed_in = sign_in_if_needed(database, user=user) if args.screenshot is None else user
    if signed_in is None:
        database.close()
        return 1
    user = database.acting_user = signed_in  # every session acts for her (services check)

    from ui.main_window import MainWindow  # after the checks: a failed open stays quick

    window = MainWindow(database, user=user)
    if args.screenshot is not None:
        _arrange_screenshot(window, args.screenshot)
    window.show()
    window.start()  # the window is up first; the caseload arrives from the worker
    try:
        code = app.exec()
    finally:
        window.shutdown()
        database.close()
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
