"""The new/edit patient form, typed into through its real widgets."""

from __future__ import annotations

from datetime import date, time

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from carehub.caseload.services import PatientInput, PhoneInput
from ui.caseload.patient_dialog import PatientDialog

COMMUNES = [("41018", "Blois (41018)"), ("37027", "Bléré (37027)"),
            ("41269", "Vendôme (41269)")]


@pytest.fixture
def dialog(qtbot: QtBot) -> PatientDialog:
    dialog = PatientDialog(communes=COMMUNES)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def _fill_required(qtbot: QtBot, dialog: PatientDialog) -> None:
    qtbot.keyClicks(dialog.birth_name_field, "Martin")
    qtbot.keyClicks(dialog.given_names_field, "Jeanne Marie")
    qtbot.keyClicks(dialog.birth_date_field, "02/03/1950")


def test_a_new_patient_dialog_is_titled_and_empty(dialog: PatientDialog) -> None:
    assert dialog.windowTitle() == "Nouveau patient"
    assert dialog.birth_name_field.hasFocus()
    assert dialog.patient_input() is None  # required fields missing
    assert dialog.field_error("birth_name") == "Le nom de naissance est obligatoire."
    assert dialog.field_error("birth_date") == "La date de naissance est obligatoire."


def test_a_wrong_ins_key_is_shown_and_nothing_is_saved(qtbot: QtBot,
                                                       dialog: PatientDialog) -> None:
    _fill_required(qtbot, dialog)
    qtbot.keyClicks(dialog.ins_field, "295109912611194")
    assert dialog.field_error("ins") == "Clé INS incorrecte : 93 attendue, 94 saisie."
    with qtbot.assertNotEmitted(dialog.submitted):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.ins_field.hasFocus()  # back to the field to correct
    dialog.ins_field.clear()
    qtbot.keyClicks(dialog.ins_field, "295109912611193")  # corrected: the error goes
    assert dialog.field_error("ins") == ""


def test_a_valid_form_is_submitted_with_what_was_typed(qtbot: QtBot,
                                                       dialog: PatientDialog) -> None:
    qtbot.keyClicks(dialog.ins_field, "2 95 10 99 126 111 93")
    dialog.identity_status_box.setCurrentIndex(dialog.identity_status_box.findData("validated"))
    _fill_required(qtbot, dialog)
    qtbot.keyClicks(dialog.used_name_field, "Durand")
    dialog.sex_box.setCurrentIndex(dialog.sex_box.findData("F"))
    qtbot.keyClicks(dialog.address_field, "3 rue des Lilas")
    qtbot.keyClicks(dialog.postal_code_field, "41000")
    qtbot.keyClicks(dialog.commune_field, "Blois (41018)")
    qtbot.keyClicks(dialog.phone_fields[0], "0612345678")
    qtbot.mouseClick(dialog.sms_boxes[0], Qt.MouseButton.LeftButton)
    qtbot.keyClicks(dialog.phone_fields[1], "02 54 78 12 34")
    qtbot.keyClicks(dialog.email_field, "jeanne@example.fr")
    dialog.call_after_box.setCurrentIndex(dialog.call_after_box.findData("09:00"))
    dialog.call_before_box.setCurrentIndex(dialog.call_before_box.findData("12:00"))
    dialog.accessibility_boxes["reduced_mobility"].setFocus()
    qtbot.keyClick(dialog.accessibility_boxes["reduced_mobility"], Qt.Key.Key_Space)
    qtbot.keyClicks(dialog.gp_name_field, "Dr Petit")
    qtbot.keyClicks(dialog.gp_rpps_field, "10003456786")
    dialog.fragility_box.setCurrentIndex(dialog.fragility_box.findData(2))
    with qtbot.waitSignal(dialog.submitted, timeout=5_000) as saved:
        qtbot.keyClick(dialog, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    data = saved.args[0]
    assert isinstance(data, PatientInput)
    assert data.model_dump(exclude_defaults=True) == {
        "ins": "295109912611193", "identity_status": "validated", "birth_name": "Martin",
        "used_name": "Durand", "given_names": "Jeanne Marie", "sex": "F",
        "birth_date": date(1950, 3, 2), "address_line": "3 rue des Lilas",
        "postal_code": "41000", "commune_insee": "41018", "email": "jeanne@example.fr",
        "call_after": time(9, 0), "call_before": time(12, 0), "reduced_mobility": True,
        "gp_name": "Dr Petit", "gp_rpps": "10003456786", "fragility_level": 2,
        "phones": [{"number": "+33612345678", "sms_consent": True},
                   {"number": "+33254781234"}],
    }
    assert dialog.isVisible()  # the caller closes it once the save went through


def test_ctrl_return_saves_too(qtbot: QtBot, dialog: PatientDialog) -> None:
    _fill_required(qtbot, dialog)
    with qtbot.waitSignal(dialog.submitted, timeout=5_000):
        qtbot.keyClick(dialog.birth_date_field, Qt.Key.Key_Return,
                       Qt.KeyboardModifier.ControlModifier)


@pytest.mark.parametrize(("field", "typed", "key", "message"), [
    ("phone", "01 00", "phone0", "Numéro de téléphone invalide « 01 00 »"),
    ("rpps", "10003456787", "gp_rpps", "Numéro RPPS invalide"),
    ("date", "31/02/1950", "birth_date", "Date invalide : saisissez jj/mm/aaaa."),
    ("commune", "Atlantis", "commune", "Commune inconnue"),
])
def test_invalid_fields_are_refused_with_a_red_message(
        qtbot: QtBot, dialog: PatientDialog, field: str, typed: str, key: str,
        message: str) -> None:
    _fill_required(qtbot, dialog)
    widget = {"phone": dialog.phone_fields[0], "rpps": dialog.gp_rpps_field,
              "date": dialog.birth_date_field, "commune": dialog.commune_field}[field]
    widget.clear()
    qtbot.keyClicks(widget, typed)
    with qtbot.assertNotEmitted(dialog.submitted):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert message in dialog.field_error(key)
    label = dialog.findChild(type(dialog.save_error_label), f"error_{key}")
    assert label is not None and label.isVisible()
    assert "#b00020" in label.styleSheet()  # red


def test_a_qualified_identity_needs_an_ins(qtbot: QtBot, dialog: PatientDialog) -> None:
    _fill_required(qtbot, dialog)
    dialog.identity_status_box.setCurrentIndex(dialog.identity_status_box.findData("qualified"))
    with qtbot.assertNotEmitted(dialog.submitted):
        dialog.save()
    assert dialog.field_error("ins") == "Une identité qualifiée exige l'INS."


def test_the_commune_is_found_without_accents(qtbot: QtBot, dialog: PatientDialog) -> None:
    qtbot.keyClicks(dialog.commune_field, "blere")
    popup = dialog._commune_completer.popup()
    qtbot.waitUntil(popup.isVisible)
    assert popup.model().rowCount() == 1
    qtbot.keyClick(popup, Qt.Key.Key_Down)
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert dialog.commune_field.text() == "Bléré (37027)"


def test_editing_keeps_every_value_and_reports_a_service_error(qtbot: QtBot) -> None:
    initial = PatientInput(
        ins="295109912611193", identity_status="qualified", birth_name="Martin",
        used_name="Durand", given_names="Jeanne", sex="F", birth_date=date(1950, 3, 2),
        commune_insee="41269", preferred_channel="sms", call_after=time(9, 15),
        needs_interpreter=True, language="pt", notes="Parle portugais", status="paused",
        fragility_level=3, advance_directives=True, advance_directives_holder="sa fille",
        phones=[PhoneInput(number="+33612345678", label="portable", sms_consent=True)])
    dialog = PatientDialog(initial=initial, communes=COMMUNES)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.windowTitle() == "Modifier le patient"
    assert dialog.commune_field.text() == "Vendôme (41269)"
    assert dialog.phone_fields[0].text() == "06 12 34 56 78"
    with qtbot.waitSignal(dialog.submitted, timeout=5_000) as saved:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert saved.args[0] == initial  # nothing lost, not even fields the form does not show
    assert not dialog.save_button.isEnabled()  # one save at a time
    dialog.show_save_error("L'INS 295109912611193 est déjà celui d'un autre patient.")
    assert dialog.save_error_label.isVisible()
    assert "déjà celui d'un autre patient" in dialog.save_error_label.text()
    assert dialog.save_button.isEnabled()
    with qtbot.waitSignal(dialog.rejected, timeout=5_000):
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_tab_follows_the_form(qtbot: QtBot, dialog: PatientDialog) -> None:
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    dialog.ins_field.setFocus()
    expected = [dialog.identity_status_box, dialog.birth_name_field, dialog.used_name_field,
                dialog.given_names_field, dialog.sex_box, dialog.birth_date_field,
                dialog.address_field, dialog.postal_code_field, dialog.commune_field,
                dialog.phone_fields[0], dialog.sms_boxes[0], dialog.phone_fields[1]]
    for widget in expected:
        qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Tab)
        assert dialog.focusWidget() is widget


def test_call_hours_must_be_in_order(qtbot: QtBot, dialog: PatientDialog) -> None:
    _fill_required(qtbot, dialog)
    dialog.call_after_box.setCurrentIndex(dialog.call_after_box.findData("14:00"))
    dialog.call_before_box.setCurrentIndex(dialog.call_before_box.findData("10:00"))
    assert dialog.field_error("hours") == "L'heure « avant » doit suivre l'heure « après »."
    with qtbot.assertNotEmitted(dialog.submitted):
        dialog.save()
