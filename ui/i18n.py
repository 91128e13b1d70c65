"""Interface language: French source strings, English from resources/translations.

Source strings are French (tr()); `carehub_en.qm` is compiled from `carehub_en.ts`
(pyside6-lupdate / pyside6-lrelease, see resources/translations/README.md).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from carehub.paths import resources_dir

LANGUAGES = ("fr", "en")


def translations_dir() -> Path:
    return resources_dir() / "translations"


def system_language() -> str:
    """English when the system speaks English, else French (the app's own language)."""
    return "en" if QLocale.system().language() == QLocale.Language.English else "fr"


def choose_language(requested: str | None) -> str:
    """--lang when given, else the system's language when we have it, else French."""
    return requested if requested in LANGUAGES else system_language()


def install_translators(app: QCoreApplication, language: str) -> list[QTranslator]:
    """Load the app's and Qt's own translations for `language`; returns them installed."""
    translators: list[QTranslator] = []
    qt_base = QTranslator(app)
    qt_translations = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    if qt_base.load(f"qtbase_{language}", qt_translations):
        translators.append(qt_base)  # the standard buttons (Oui, Annuler...) of message boxes
    if language != "fr":
        own = QTranslator(app)
        if own.load(f"carehub_{language}", str(translations_dir())):
            translators.append(own)
    for translator in translators:
        app.installTranslator(translator)
    QLocale.setDefault(QLocale(QLocale.Language.French if language == "fr"
                               else QLocale.Language.English))
    return translators
