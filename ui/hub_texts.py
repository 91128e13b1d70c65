"""How the hub's refusals read in French (the actions' delivery status, the conflicts list)."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

# The hub gives a code and an English reason; the nurse reads French.
REFUSAL_LABELS_FR = {
    "not_your_caseload": "patient d'un portefeuille que vous ne suivez ni ne remplacez",
    "patient_not_visible": "patient d'un portefeuille que vous ne suivez ni ne remplacez",
    "ins_in_other_caseload": "un patient de même INS est déjà suivi dans un autre portefeuille",
    "unknown_patient": "patient inconnu du hub",
    "no_patient": "la modification ne désigne aucun patient",
    "unknown_entity": "donnée que le hub ne conserve pas",
    "unknown_conflict": "conflit inconnu du hub",
    "forged_author": "modification signée d'un autre nom que le vôtre",
    "rate_limited": "trop de patients d'INS déjà suivis ailleurs aujourd'hui : un "
                    "superviseur doit d'abord les examiner",
    "invalid_text": "un texte contient un caractère invisible (souvent collé) : "
                    "corrigez la fiche",
    "invalid_date": "une date n'existe pas : corrigez la fiche",
    "invalid_clock": "horodatage de la modification illisible",
    "invalid_value": "valeur que le hub ne peut pas lire",
    "hub_rejected": "modification que le hub ne peut pas lire",
    "caseload_move": "seule l'IDE coordinatrice qui suit ce portefeuille peut confier ses "
                     "patients à un autre",
    "ins_taken": "cet INS est déjà celui d'un autre patient",
    "record_id_taken": "une autre fiche porte déjà cet identifiant au hub",
    "action_id_taken": "une autre action porte déjà cet identifiant au hub",
    "entry_id_taken": "une autre modification porte déjà cet identifiant au hub",
    "unknown_amended_action": "l'action corrigée n'est pas au hub",
}


def refusal_text(code: str | None, reason: str | None) -> str:
    """The hub's reason in French when its code is known, else as the hub wrote it."""
    if code and code in REFUSAL_LABELS_FR:
        return _tr(REFUSAL_LABELS_FR[code])
    return reason or code or _tr("raison non donnée")


def _tr(text: str) -> str:
    return QCoreApplication.translate("ActionsModel", text)
