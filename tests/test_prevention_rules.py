"""Every prevention rule of DOMAIN.md §1 at and around its boundaries.

Each check runs the SQL engine and the naive per-patient evaluator (tests/prevention_helpers
`due`), which must agree.
"""

from __future__ import annotations

from datetime import date, timedelta

from carehub.db import Database
from carehub.prevention.models import Reminder
from tests.prevention_helpers import (
    COLONOSCOPY,
    COVID,
    CYTOLOGY,
    DTP,
    FIT,
    FLU,
    FLU_ATC,
    HPV,
    HYSTERECTOMY,
    MAMMOGRAPHY,
    PCV20,
    SHINGRIX,
    STAY,
    add_fact,
    add_patient,
    due,
)

D = date.fromisoformat


def test_breast_screening_starts_on_the_50th_birthday_and_ends_at_75(db: Database) -> None:
    with db.transaction() as s:
        woman = add_patient(s, born=D("1976-03-10"))
        man = add_patient(s, "Martin", born=D("1976-03-10"), sex="M")
        older = add_patient(s, "Petit", born=D("1951-06-01"))
        assert "screening.breast" not in due(s, woman, D("2026-03-09"))
        on_birthday = due(s, woman, D("2026-03-10"))["screening.breast"]
        assert (on_birthday.due_date, on_birthday.overdue_days) == (D("2026-03-10"), 0)
        assert on_birthday.explanation_fr == "jamais réalisée"
        assert due(s, woman, D("2026-03-11"))["screening.breast"].overdue_days == 1
        assert "screening.breast" not in due(s, man, D("2026-03-10"))
        assert "screening.breast" in due(s, older, D("2026-05-31"))  # still 74
        assert "screening.breast" not in due(s, older, D("2026-06-01"))  # 75 today


def test_a_mammography_settles_breast_screening_for_exactly_two_years(db: Database) -> None:
    with db.transaction() as s:
        woman = add_patient(s, born=D("1960-01-15"))
        add_fact(s, woman, "procedure", MAMMOGRAPHY, start=D("2024-03-02"))
        assert "screening.breast" not in due(s, woman, D("2026-03-01"))
        today = due(s, woman, D("2026-03-02"))["screening.breast"]
        assert today.due_date == D("2026-03-02") and today.overdue_days == 0
        assert today.explanation_fr == ("dernière mammographie le 02/03/2024, à refaire tous "
                                        "les 2 ans")
        assert due(s, woman, D("2026-03-03"))["screening.breast"].overdue_days == 1


def test_breast_cancer_history_excludes_even_when_resolved(db: Database) -> None:
    with db.transaction() as s:
        history = add_patient(s, born=D("1960-01-15"))
        add_fact(s, history, "condition", ("icd10", "Z85.3"), start=D("2015-01-01"),
                 status="active")
        treated = add_patient(s, "Roux", born=D("1960-01-15"))
        add_fact(s, treated, "condition", ("icd10", "C50.9"), start=D("2012-01-01"),
                 end=D("2013-01-01"), status="resolved")
        refuted = add_patient(s, "Faure", born=D("1960-01-15"))
        add_fact(s, refuted, "condition", ("icd10", "C50.9"), start=D("2012-01-01"),
                 status="refuted")
        as_of = D("2026-11-23")
        assert "screening.breast" not in due(s, history, as_of)
        assert "screening.breast" not in due(s, treated, as_of)
        assert "screening.breast" in due(s, refuted, as_of)  # a refuted diagnosis is none


def test_colorectal_fit_every_two_years_colonoscopy_postpones_five(db: Database) -> None:
    with db.transaction() as s:
        fit = add_patient(s, born=D("1955-05-05"), sex="M")
        add_fact(s, fit, "observation", FIT, start=D("2024-05-10"), value="négatif",
                 status="final")
        scoped = add_patient(s, "Blanc", born=D("1955-05-05"))
        add_fact(s, scoped, "observation", FIT, start=D("2022-01-10"), status="final")
        add_fact(s, scoped, "procedure", COLONOSCOPY, start=D("2023-01-15"))
        assert "screening.colorectal" not in due(s, fit, D("2026-05-09"))
        assert due(s, fit, D("2026-05-10"))["screening.colorectal"].overdue_days == 0
        assert "screening.colorectal" not in due(s, scoped, D("2028-01-14"))
        reason = due(s, scoped, D("2028-01-15"))["screening.colorectal"]
        assert reason.explanation_fr == ("dernière coloscopie le 15/01/2023, à refaire tous "
                                         "les 5 ans")


def test_colorectal_high_risk_is_not_screened(db: Database) -> None:
    with db.transaction() as s:
        ibd = add_patient(s, born=D("1955-05-05"))
        add_fact(s, ibd, "condition", ("icd10", "K51.9"), start=D("2000-01-01"),
                 status="active")
        adenoma = add_patient(s, "Roux", born=D("1955-05-05"))
        add_fact(s, adenoma, "condition", ("icd10", "D12.6"), start=D("2019-01-01"),
                 end=D("2019-01-01"), status="resolved")
        assert "screening.colorectal" not in due(s, ibd, D("2026-11-23"))
        assert "screening.colorectal" not in due(s, adenoma, D("2026-11-23"))


def test_cervical_cytology_every_three_years_before_thirty(db: Database) -> None:
    with db.transaction() as s:
        young = add_patient(s, born=D("1999-02-01"))  # 27 in 2026
        add_fact(s, young, "observation", CYTOLOGY, start=D("2023-09-01"), value="normal",
                 status="final")
        assert "screening.cervical" not in due(s, young, D("2026-08-31"))
        reason = due(s, young, D("2026-09-01"))["screening.cervical"]
        assert reason.explanation_fr.startswith("dernier frottis (cytologie) le 01/09/2023")
        never = add_patient(s, "Roux", born=D("2001-06-15"))
        assert "screening.cervical" not in due(s, never, D("2026-06-14"))  # 24
        assert due(s, never, D("2026-06-15"))["screening.cervical"].due_date == D("2026-06-15")


def test_cervical_hpv_five_years_after_a_negative_test_from_thirty(db: Database) -> None:
    with db.transaction() as s:
        negative = add_patient(s, born=D("1990-01-01"))
        add_fact(s, negative, "observation", HPV, start=D("2022-04-04"), value="négatif",
                 status="final")
        positive = add_patient(s, "Roux", born=D("1990-01-01"))
        add_fact(s, positive, "observation", HPV, start=D("2025-04-04"), value="positif",
                 status="final")
        early = add_patient(s, "Petit", born=D("1995-01-01"))  # HPV at 28 does not count
        add_fact(s, early, "observation", HPV, start=D("2023-06-01"), value="négatif",
                 status="final")
        operated = add_patient(s, "Faure", born=D("1975-01-01"))
        add_fact(s, operated, "procedure", HYSTERECTOMY, start=D("2015-03-01"))
        too_old = add_patient(s, "Blanc", born=D("1960-01-01"))
        assert "screening.cervical" not in due(s, negative, D("2027-04-03"))
        assert due(s, negative, D("2027-04-04"))["screening.cervical"].overdue_days == 0
        assert due(s, positive, D("2026-11-23"))["screening.cervical"].due_date == \
            D("2015-01-01")  # a positive test is medical follow-up: never a normal test
        assert due(s, early, D("2026-11-23"))["screening.cervical"].due_date == D("2020-01-01")
        assert "screening.cervical" not in due(s, operated, D("2026-11-23"))
        assert "screening.cervical" not in due(s, too_old, D("2026-11-23"))  # 66


def test_flu_campaign_first_and_last_day(db: Database) -> None:
    with db.transaction() as s:
        old = add_patient(s, born=D("1950-01-01"))
        assert "vaccine.flu" not in due(s, old, D("2026-10-14"))
        first = due(s, old, D("2026-10-15"))["vaccine.flu"]
        assert first.due_date == D("2026-10-15") and first.overdue_days == 0
        assert first.explanation_fr.startswith("campagne du 15/10/2026 au 31/01/2027")
        assert due(s, old, D("2027-01-31"))["vaccine.flu"].due_date == D("2026-10-15")
        assert "vaccine.flu" not in due(s, old, D("2027-02-01"))


def test_flu_a_dose_since_1_september_settles_the_season(db: Database) -> None:
    with db.transaction() as s:
        vaccinated = add_patient(s, born=D("1950-01-01"))
        add_fact(s, vaccinated, "immunization", FLU_ATC, start=D("2026-09-01"))
        august = add_patient(s, "Roux", born=D("1950-01-01"))
        add_fact(s, august, "immunization", FLU, start=D("2026-08-31"))
        assert "vaccine.flu" not in due(s, vaccinated, D("2026-10-20"))
        assert "vaccine.flu" in due(s, august, D("2026-10-20"))
        assert "vaccine.flu" in due(s, vaccinated, D("2027-10-20"))  # next season


def test_flu_at_risk_under_65_and_the_65th_birthday_in_the_campaign(db: Database) -> None:
    with db.transaction() as s:
        diabetic = add_patient(s, born=D("1980-01-01"), sex="M")
        add_fact(s, diabetic, "condition", ("icd10", "E11.9"), start=D("2020-01-01"),
                 status="active")
        cured = add_patient(s, "Roux", born=D("1980-01-01"))
        add_fact(s, cured, "condition", ("icd10", "J44.9"), start=D("2020-01-01"),
                 end=D("2024-01-01"), status="resolved")
        pregnant = add_patient(s, "Petit", born=D("1996-01-01"))
        add_fact(s, pregnant, "condition", ("icd10", "Z34.9"), start=D("2026-06-01"),
                 status="active")
        turning = add_patient(s, "Faure", born=D("1961-12-01"))
        as_of = D("2026-11-23")
        assert "vaccine.flu" in due(s, diabetic, as_of)
        assert "vaccine.flu" not in due(s, cured, as_of)
        assert "vaccine.flu" in due(s, pregnant, as_of)
        assert "vaccine.flu" not in due(s, turning, D("2026-11-30"))
        assert due(s, turning, D("2026-12-01"))["vaccine.flu"].due_date == D("2026-12-01")


def test_dtp_fixed_ages_unless_a_booster_in_the_five_years_before(db: Database) -> None:
    with db.transaction() as s:
        old_booster = add_patient(s, born=D("1961-04-20"))
        add_fact(s, old_booster, "immunization", DTP, start=D("2020-04-20"))  # at 59
        recent = add_patient(s, "Roux", born=D("1961-04-20"))
        add_fact(s, recent, "immunization", DTP, start=D("2021-04-20"))  # at 60: counts
        never = add_patient(s, "Petit", born=D("1941-02-10"))
        assert "vaccine.dtp" not in due(s, old_booster, D("2026-04-19"))  # 64: 45 settled
        at_65 = due(s, old_booster, D("2026-04-20"))["vaccine.dtp"]
        assert at_65.due_date == D("2026-04-20")
        assert at_65.explanation_fr == ("rappel des 65 ans (le 20/04/2026), dernier rappel le "
                                        "20/04/2020")
        assert "vaccine.dtp" not in due(s, recent, D("2026-04-20"))
        at_85 = due(s, never, D("2026-02-10"))["vaccine.dtp"]
        assert (at_85.due_date, at_85.explanation_fr) == (
            D("2026-02-10"), "rappel des 85 ans (le 10/02/2026), aucun rappel enregistré")
        assert due(s, never, D("2026-02-09"))["vaccine.dtp"].due_date == D("2016-02-10")


def test_pneumococcal_once_from_65(db: Database) -> None:
    with db.transaction() as s:
        person = add_patient(s, born=D("1961-07-07"))
        done = add_patient(s, "Roux", born=D("1950-07-07"))
        add_fact(s, done, "immunization", PCV20, start=D("2025-01-01"))
        assert "vaccine.pneumococcal" not in due(s, person, D("2026-07-06"))
        assert due(s, person, D("2026-07-07"))["vaccine.pneumococcal"].overdue_days == 0
        assert "vaccine.pneumococcal" not in due(s, done, D("2026-11-23"))


def test_shingles_two_doses_two_months_apart(db: Database) -> None:
    with db.transaction() as s:
        one = add_patient(s, born=D("1950-01-01"))
        add_fact(s, one, "immunization", SHINGRIX, start=D("2026-09-01"))
        two = add_patient(s, "Roux", born=D("1950-01-01"))
        add_fact(s, two, "immunization", SHINGRIX, start=D("2026-01-01"))
        add_fact(s, two, "immunization", SHINGRIX, start=D("2026-03-05"))
        assert "vaccine.shingles" not in due(s, one, D("2026-10-31"))
        second = due(s, one, D("2026-11-01"))["vaccine.shingles"]
        assert second.due_date == D("2026-11-01")
        assert second.explanation_fr.startswith("1 dose sur 2, la dernière le 01/09/2026")
        assert "vaccine.shingles" not in due(s, two, D("2026-11-23"))


def test_covid_six_months_after_the_last_dose_in_the_autumn_campaign(db: Database) -> None:
    with db.transaction() as s:
        seventy = add_patient(s, born=D("1956-01-01"))
        add_fact(s, seventy, "immunization", COVID, start=D("2026-05-01"))
        assert "vaccine.covid" not in due(s, seventy, D("2026-10-31"))
        assert due(s, seventy, D("2026-11-01"))["vaccine.covid"].due_date == D("2026-11-01")
        assert "vaccine.covid" not in due(s, seventy, D("2026-04-20"))  # spring: 80+ only


def test_covid_spring_campaign_for_80_and_over_three_months_after(db: Database) -> None:
    with db.transaction() as s:
        old = add_patient(s, born=D("1944-01-01"))
        add_fact(s, old, "immunization", COVID, start=D("2026-02-01"))
        assert "vaccine.covid" not in due(s, old, D("2026-04-14"))  # before the campaign
        assert "vaccine.covid" not in due(s, old, D("2026-04-30"))  # 3 months not over
        assert due(s, old, D("2026-05-01"))["vaccine.covid"].due_date == D("2026-05-01")
        assert due(s, old, D("2026-06-15"))["vaccine.covid"].overdue_days == 45
        assert "vaccine.covid" not in due(s, old, D("2026-06-16"))


def test_prevention_checkup_once_per_age_band(db: Database) -> None:
    with db.transaction() as s:
        person = add_patient(s, born=D("1981-05-05"))
        assert "prevention.checkup" not in due(s, person, D("2026-05-04"))  # 44
        band = due(s, person, D("2026-05-05"))["prevention.checkup"]
        assert band.due_date == D("2026-05-05")
        assert band.explanation_fr.startswith("tranche 45–50 ans")
        assert "prevention.checkup" in due(s, person, D("2032-05-04"))  # still 50
        assert "prevention.checkup" not in due(s, person, D("2032-05-05"))  # 51
        s.add(Reminder(patient_id=person, reason="prevention.checkup", due_date=D("2026-05-05"),
                       state="done", closed_on=D("2026-06-01")))
        s.flush()
        assert "prevention.checkup" not in due(s, person, D("2027-01-01"))


def test_discharge_call_within_two_days_75_and_heart_failure_first(db: Database) -> None:
    with db.transaction() as s:
        young = add_patient(s, born=D("1960-01-01"))
        add_fact(s, young, "encounter", STAY, start=D("2026-11-15"), end=D("2026-11-20"),
                 status="finished")
        old = add_patient(s, "Roux", born=D("1945-01-01"))
        add_fact(s, old, "encounter", STAY, start=D("2026-11-15"), end=D("2026-11-20"),
                 status="finished")
        heart = add_patient(s, "Petit", born=D("1960-01-01"))
        add_fact(s, heart, "condition", ("icd10", "I50.0"), start=D("2019-01-01"),
                 status="active")
        add_fact(s, heart, "encounter", STAY, start=D("2026-11-15"), end=D("2026-11-20"),
                 status="finished")
        assert "followup.discharge" not in due(s, young, D("2026-11-19"))  # still in
        reason = due(s, young, D("2026-11-20"))["followup.discharge"]
        assert reason.explanation_fr == ("sortie d'hospitalisation le 20/11/2026, appeler au "
                                         "plus tard le 22/11/2026")
        first = due(s, old, D("2026-11-20"))["followup.discharge"]
        assert first.points > reason.points and first.explanation_fr.endswith("(prioritaire)")
        assert due(s, heart, D("2026-11-20"))["followup.discharge"].points == first.points
        assert "followup.discharge" in due(s, young, D("2026-12-20"))  # 30 days kept
        assert "followup.discharge" not in due(s, young, D("2026-12-21"))


def test_new_arrival_welcome_call_and_no_gp(db: Database) -> None:
    with db.transaction() as s:
        arrived = add_patient(s, born=D("1950-01-01"), registered=D("2026-11-20"), gp=None)
        reason = due(s, arrived, D("2026-11-21"))["followup.new_arrival"]
        assert reason.due_date == D("2026-11-20")
        assert reason.explanation_fr == ("inscrit(e) le 20/11/2026, appel de bienvenue avant "
                                         "le 27/11/2026 ; pas de médecin traitant")
        assert "médecin traitant" in reason.script_fr
        assert "followup.new_arrival" not in due(s, arrived, D("2026-11-19"))
        assert "followup.new_arrival" not in due(s, arrived, D("2026-12-21"))


def test_frailty_every_six_months_for_65_and_the_fragile(db: Database) -> None:
    with db.transaction() as s:
        old = add_patient(s, born=D("1956-03-01"))
        frail = add_patient(s, "Roux", born=D("1980-01-01"), fragility=2,
                            registered=D("2024-02-02"))
        robust = add_patient(s, "Petit", born=D("1980-01-01"), fragility=1)
        assert "followup.frailty" not in due(s, old, D("2021-02-28"))
        assert due(s, old, D("2021-03-01"))["followup.frailty"].due_date == D("2021-03-01")
        assert due(s, frail, D("2026-11-23"))["followup.frailty"].due_date == D("2024-02-02")
        assert "followup.frailty" not in due(s, robust, D("2026-11-23"))
        s.add(Reminder(patient_id=old, reason="followup.frailty", due_date=D("2021-03-01"),
                       state="done", closed_on=D("2026-06-01")))
        s.flush()
        assert "followup.frailty" not in due(s, old, D("2026-11-30"))
        again = due(s, old, D("2026-12-01"))["followup.frailty"]
        assert again.explanation_fr == ("dernier repérage le 01/06/2026, à refaire tous les "
                                        "6 mois")


def test_closed_and_deceased_patients_have_nothing_due(db: Database) -> None:
    with db.transaction() as s:
        closed = add_patient(s, born=D("1950-01-01"), status="closed")
        dead = add_patient(s, "Roux", born=D("1950-01-01"), status="deceased",
                           deceased=D("2026-01-01"))
        paused = add_patient(s, "Petit", born=D("1950-01-01"), status="paused")
        assert due(s, closed, D("2026-11-23")) == {}
        assert due(s, dead, D("2026-11-23")) == {}
        assert "vaccine.flu" in due(s, paused, D("2026-11-23"))  # kept, off the call list


def test_born_on_29_february_comes_of_age_on_1_march(db: Database) -> None:
    with db.transaction() as s:
        leap = add_patient(s, born=D("1976-02-29"))
        assert "screening.breast" not in due(s, leap, D("2026-02-28"))
        assert due(s, leap, D("2026-03-01"))["screening.breast"].due_date == D("2026-03-01")
        assert due(s, leap, D("2026-03-01") + timedelta(days=1))[
            "screening.breast"].overdue_days == 1
