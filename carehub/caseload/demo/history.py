"""Ten years of one demo patient's clinical facts: conditions, measures, screenings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from carehub.caseload.coding import normalize_code
from carehub.caseload.demo.catalogue import Coding, add_years, age_at, by_age, coding
from carehub.caseload.demo.draws import Draws, Person


class History:
    """Ten years of one patient's clinical facts."""

    def __init__(self, gen: Draws, person: Person, created: datetime) -> None:
        self.gen = gen
        self.rng = gen.rng
        self.s = gen.s
        self.person = person
        self.created = gen.rows.facts.encode("created_at", created)
        self.patient_hex = person.id.hex
        self.facts = gen.rows.facts.rows
        self.codings = gen.rows.codings.rows
        self.start = gen.start
        self.end = person.history_end
        self.chronic = bool(person.conditions - {"pregnancy", "goitre", "colorectal_adenoma"})

    def build(self) -> None:
        onsets = self.conditions()
        self.allergies()
        self.measurements(onsets)
        self.screenings(onsets)
        self.vaccines()
        self.stays(onsets)

    # ---- emitting rows

    def fact(self, kind: str, start: date, codings: Sequence[Coding], *, status: str,
             end: date | None = None, value_num: float | None = None,
             value_unit: str | None = None, value_text: str | None = None,
             encounter_class: str | None = None, display: str | None = None) -> None:
        fact_id = self.gen.hex_uuid()
        patient_id = self.patient_hex
        # Stored forms (FACT_COLUMNS order): UUIDs as 32 hex digits, dates ISO.
        first, last = start.isoformat(), end.isoformat() if end else None
        self.facts.append((
            fact_id, patient_id, kind, status, first, last, display or codings[0][2],
            value_num, value_unit, value_text, encounter_class, self.created,
        ))
        # No system URI (there is no source document) and the published form of the code
        # only where normalising changed it (E11.9 -> E119): a smaller file. Then the
        # fact's columns every coding carries (FACT_COPIED).
        for system, code, shown in codings:
            normal = normalize_code(code)
            self.codings.append((fact_id, patient_id, system, normal, None,
                                 code if normal != code else None, shown,
                                 kind, status, first, last))

    def day(self, first: date, last: date) -> date:
        return self.gen.day_between(first, last)

    def years(self, first: date) -> list[tuple[date, date]]:
        """Consecutive one-year periods from `first` to the end of the history."""
        periods = []
        while first <= self.end:
            last = min(first + timedelta(days=364), self.end)
            periods.append((first, last))
            first = last + timedelta(days=1)
        return periods

    def age(self, day: date) -> int:
        return age_at(self.person.birth, day)

    # ---- conditions and their treatments

    def conditions(self) -> dict[str, date]:
        onsets: dict[str, date] = {}
        for name in sorted(self.person.conditions):
            spec = self.s["conditions"][name]
            onset = self.onset(name)
            onsets[name] = onset
            codings = [coding(c) for c in spec["codings"]]
            if "alternative" in spec and self.gen.chance(spec["alternative_rate"]):
                codings = [coding(spec["alternative"])]
            if "icpc2" in spec and self.gen.chance(spec["icpc2_rate"]):
                codings.append(coding(spec["icpc2"]))
            self.condition(name, onset, codings, spec)
            for atc, display, rate in spec["medications"]:
                if self.gen.chance(rate):
                    self.medication(onset, atc, display)
        return onsets

    def onset(self, name: str) -> date:
        if name == "pregnancy":
            return self.gen.as_of - timedelta(days=self.rng.randint(20, 250))
        earliest = max(self.start, add_years(self.person.birth, 18))
        return self.day(earliest, self.end - timedelta(days=30))

    def condition(self, name: str, onset: date, codings: list[Coding],
                  spec: dict[str, Any]) -> None:
        if name == "breast_cancer":
            treated = onset + timedelta(days=self.rng.randint(180, 400))
            if treated < self.end:
                self.fact("condition", onset, codings, status="resolved", end=treated)
                self.fact("condition", treated, [coding(spec["history"])], status="active")
                return
        if name == "colorectal_adenoma":  # found and removed at a colonoscopy
            self.colonoscopy(onset)
            self.fact("condition", onset, codings, status="resolved", end=onset)
            return
        self.fact("condition", onset, codings, status="active")

    def medication(self, onset: date, atc: str, display: str) -> None:
        start = min(onset + timedelta(days=self.rng.randint(0, 120)), self.end)
        if self.gen.chance(self.s["history"]["stopped_medication_rate"]):
            stop = self.day(start, self.end)
            self.fact("medication", start, [("atc", atc, display)], status="stopped", end=stop)
        else:
            self.fact("medication", start, [("atc", atc, display)], status="active")

    def allergies(self) -> None:
        spec = self.s["allergies"]
        if self.gen.chance(spec["rate"]):
            system, code, display = self.rng.choice(spec["items"])
            self.fact("allergy", self.day(self.start, self.end), [(system, code, display)],
                      status="active")

    # ---- measurements and labs

    def measurements(self, onsets: dict[str, date]) -> None:
        spec = self.s["history"]
        if self.person.age >= 60 or self.chronic:
            self.weights(spec["weight_per_year"])
        if "hypertension" in onsets:
            self.blood_pressures(onsets["hypertension"],
                                 self.s["conditions"]["hypertension"]["bp_per_year"])
        diabetes = onsets.get("diabetes_type2") or onsets.get("diabetes_type1")
        if diabetes:
            profile = self.gen.weighted(spec["hba1c_profile_weights"])
            self.hba1c(diabetes, spec["hba1c_per_year"][profile])
        kidney_watch = diabetes or onsets.get("heart_failure")
        if kidney_watch:
            self.creatinine(kidney_watch, spec["creatinine_per_year"])

    def dated(self, first: date, per_year: float) -> list[date]:
        days: list[date] = []
        for period_start, period_end in self.years(first):
            days.extend(self.day(period_start, period_end) for _ in range(self.gen.count(per_year)))
        return sorted(days)

    def weights(self, per_year: float) -> None:
        base = self.rng.gauss(64 if self.person.sex == "F" else 78, 11)
        base = min(max(base, 40.0), 140.0)
        for day in self.dated(self.start, per_year):
            value = round(base + self.rng.gauss(0, 1.5), 1)
            self.fact("observation", day, [("loinc", "29463-7", "Poids")], status="final",
                      value_num=value, value_unit="kg")

    def blood_pressures(self, onset: date, per_year: float) -> None:
        for day in self.dated(onset, per_year):
            systolic = int(self.rng.gauss(138, 12))
            diastolic = int(self.rng.gauss(80, 8))
            self.fact("observation", day, [("loinc", "85354-9", "Pression artérielle")],
                      status="final", value_num=float(systolic), value_unit="mm[Hg]",
                      value_text=f"{systolic}/{diastolic}")

    def hba1c(self, onset: date, per_year: float) -> None:
        mean = self.rng.gauss(7.3, 0.8)
        for day in self.dated(onset, per_year):
            value = round(min(max(mean + self.rng.gauss(0, 0.4), 5.2), 13.0), 1)
            self.fact("observation", day, [("loinc", "4548-4", "Hémoglobine A1c")],
                      status="final", value_num=value, value_unit="%")

    def creatinine(self, onset: date, per_year: float) -> None:
        mean = self.rng.gauss(90, 22)
        for day in self.dated(onset, per_year):
            value = round(max(mean + self.rng.gauss(0, 8), 40.0))
            self.fact("observation", day, [("loinc", "2160-0", "Créatinine sérique")],
                      status="final", value_num=float(value), value_unit="umol/L")

    # ---- screening

    def eligible(self, low: int, high: int) -> tuple[date, date] | None:
        """The part of the history during which the patient is aged low..high."""
        first = max(self.start, add_years(self.person.birth, low))
        last = min(self.end, add_years(self.person.birth, high + 1) - timedelta(days=1))
        return (first, last) if first <= last else None

    def schedule(self, window: tuple[date, date], every_days: int, profile: str) -> list[date]:
        """Test dates of a regular or irregular participant; regulars sometimes drop out."""
        if profile == "never":
            return []
        first, last = window
        if profile == "regular" and self.gen.chance(0.2):
            last = self.day(first, last)  # stopped at some point: overdue now
        days: list[date] = []
        day = first + timedelta(days=self.rng.randint(0, every_days))
        while day <= last:
            if profile == "regular" or self.gen.chance(0.4):
                days.append(day)
            day += timedelta(days=every_days + self.rng.randint(-45, 90))
        return days

    def screenings(self, onsets: dict[str, date]) -> None:
        screening = self.s["screening"]
        self.breast(onsets, screening["breast"])
        self.colorectal(onsets, screening["colorectal"])
        if self.person.sex == "F":
            self.cervical(screening["cervical"])

    def breast(self, onsets: dict[str, date], spec: dict[str, Any]) -> None:
        if self.person.sex != "F":
            return
        if "breast_cancer" in onsets:  # high-risk follow-up: yearly imaging
            for day in self.dated(onsets["breast_cancer"], 1.0):
                self.mammography(day)
            return
        window = self.eligible(50, 74)
        if window:
            for day in self.schedule(window, 730, self.gen.weighted(spec["profile_weights"])):
                self.mammography(day)

    def mammography(self, day: date) -> None:
        codings: list[Coding] = [("snomed", "71651007", "Mammographie")]
        if self.gen.chance(0.5):
            codings.append(("ccam", "QEQK004", "Mammographie bilatérale"))
        self.fact("procedure", day, codings, status="completed", display="Mammographie")

    def colonoscopy(self, day: date) -> None:
        self.fact("procedure", day, [("snomed", "73761001", "Coloscopie")], status="completed")

    def colorectal(self, onsets: dict[str, date], spec: dict[str, Any]) -> None:
        if "colorectal_adenoma" in onsets or "ibd" in onsets:
            return
        window = self.eligible(50, 74)
        if window is None:
            return
        for day in self.schedule(window, 730, self.gen.weighted(spec["profile_weights"])):
            positive = self.gen.chance(0.04)
            self.fact("observation", day, [(
                "loinc", "29771-3", "Test immunologique de sang occulte dans les selles")],
                status="final", value_text="positif" if positive else "négatif")
            if positive and day + timedelta(days=60) <= self.end:
                self.colonoscopy(day + timedelta(days=self.rng.randint(20, 60)))
                return
        if self.gen.chance(spec["colonoscopy_rate"]):
            self.colonoscopy(self.day(*window))

    def cervical(self, spec: dict[str, Any]) -> None:
        if self.person.age >= 45 and self.gen.chance(spec["hysterectomy_rate"]):
            surgery = self.day(self.start, self.end)
            self.fact("procedure", surgery, [("snomed", "116140006", "Hystérectomie totale")],
                      status="completed")
            return
        profile = self.gen.weighted(spec["profile_weights"])
        young = self.eligible(25, 29)
        if young:
            for day in self.schedule(young, 1095, profile):
                self.fact("observation", day, [("loinc", "10524-7", "Frottis cervico-utérin")],
                          status="final", value_text="normal")
        older = self.eligible(30, 65)
        if older:
            for day in self.schedule(older, 1826, profile):
                self.fact("observation", day, [("loinc", "21440-3", "Test HPV")],
                          status="final", value_text="négatif")

    # ---- vaccines

    def vaccine(self, day: date, codings: Sequence[Coding]) -> None:
        """A dose coded in CVX, ATC or both, as practice software variously does."""
        if self.start <= day <= self.end:
            roll = self.rng.random()
            chosen = codings if roll < 0.3 else codings[:1] if roll < 0.8 else codings[1:]
            self.fact("immunization", day, chosen, status="completed", display=codings[0][2])

    def vaccines(self) -> None:
        spec = self.s["vaccines"]
        self.flu(spec)
        self.dtp(spec)
        if self.person.age >= 65:
            self.pneumococcal(spec)
            self.shingles(spec)
            self.covid(spec)

    def flu(self, spec: dict[str, Any]) -> None:
        profile = self.gen.weighted(spec["flu_profile_weights"])
        rate = {"regular": 0.9, "occasional": spec["flu_occasional_rate"], "never": 0.0}[profile]
        at_risk = bool(self.person.conditions & {"diabetes_type1", "diabetes_type2", "copd",
                                                  "heart_failure", "pregnancy"})
        for year in range(self.start.year, self.end.year + 1):
            season = date(year, 10, 15)
            if (self.age(season) >= 65 or at_risk) and self.gen.chance(rate):
                self.vaccine(season + timedelta(days=self.rng.randint(0, 70)), [
                    ("cvx", "141", "Vaccin grippe saisonnière"),
                    ("atc", "J07BB02", "Vaccin grippal inactivé")])

    def dtp(self, spec: dict[str, Any]) -> None:
        for age in (25, 45, 65, 75, 85, 95):
            due = add_years(self.person.birth, age)
            if self.gen.chance(spec["dtp_booster_rate"]):
                self.vaccine(due + timedelta(days=self.rng.randint(0, 400)), [
                    ("cvx", "113", "Vaccin dTP (rappel adulte)"),
                    ("atc", "J07CA01", "Vaccin diphtérie-tétanos-poliomyélite")])

    def pneumococcal(self, spec: dict[str, Any]) -> None:
        if self.gen.chance(spec["old_ppsv23_rate"]):
            self.vaccine(self.day(self.start, self.end), [
                ("cvx", "33", "Vaccin pneumococcique polyosidique 23-valent"),
                ("atc", "J07AL01", "Vaccin pneumococcique polyosidique")])
        if self.gen.chance(spec["pneumococcal_rate"]):
            self.vaccine(self.day(self.end - timedelta(days=730), self.end), [
                ("cvx", "216", "Vaccin pneumococcique conjugué 20-valent"),
                ("atc", "J07AL02", "Vaccin pneumococcique conjugué")])

    def shingles(self, spec: dict[str, Any]) -> None:
        codings: list[Coding] = [("cvx", "187", "Vaccin zona recombinant (Shingrix)"),
                                 ("atc", "J07BK03", "Vaccin zona recombinant")]
        roll = self.rng.random()
        if roll < spec["shingles_rate"] + spec["shingles_single_dose_rate"]:
            first = self.day(self.end - timedelta(days=1000), self.end)
            self.vaccine(first, codings)
            if roll < spec["shingles_rate"]:
                self.vaccine(first + timedelta(days=self.rng.randint(60, 120)), codings)

    def covid(self, spec: dict[str, Any]) -> None:
        codings: list[Coding] = [("cvx", "208", "Vaccin COVID-19 à ARNm (Comirnaty)"),
                                 ("atc", "J07BN01", "Vaccin COVID-19 à ARN messager")]
        if self.gen.chance(spec["covid_primary_rate"]):
            first = date(2021, 1, 18) + timedelta(days=self.rng.randint(0, 100))
            self.vaccine(first, codings)
            self.vaccine(first + timedelta(days=self.rng.randint(21, 42)), codings)
        for year in range(2021, self.end.year + 1):
            if self.gen.chance(spec["covid_campaign_rate"]):
                self.vaccine(date(year, 10, 1) + timedelta(days=self.rng.randint(0, 80)), codings)

    # ---- encounters

    def stays(self, onsets: dict[str, date]) -> None:
        spec = self.s["history"]
        base = by_age(spec["hospital_stays_per_year"], self.person.age)
        reasons: list[str] = []
        for first, last in self.years(self.start):
            # A condition makes stays likelier (and gives their reason) from its onset year.
            known = sorted(n for n, onset in onsets.items() if onset <= last)
            rate = base + sum(spec["hospital_stays_extra"].get(n, 0.0) for n in known)
            reasons = [spec["condition_stay_reasons"][n] for n in known
                       if n in spec["condition_stay_reasons"]]
            for _ in range(self.gen.count(rate)):
                self.stay(self.day(first, last), reasons)
        if self.end == self.gen.as_of and self.gen.chance(spec["recent_discharge_rate"]):
            discharge = self.gen.as_of - timedelta(days=self.rng.randint(0, 5))
            self.stay(discharge - timedelta(days=self.rng.randint(2, 12)), reasons, discharge)
        self.etp(onsets)

    def stay(self, admitted: date, reasons: list[str], discharge: date | None = None) -> None:
        if discharge is None:
            discharge = admitted + timedelta(days=1 + int(self.rng.expovariate(1 / 6)))
            if discharge >= self.end:
                return
        pool = reasons if reasons and self.gen.chance(0.6) else self.s["history"]["stay_reasons"]
        self.fact("encounter", admitted, [("v3-actcode", "IMP", "inpatient encounter")],
                  status="finished", end=discharge, encounter_class="IMP",
                  display=f"Hospitalisation : {self.rng.choice(pool)}")

    def etp(self, onsets: dict[str, date]) -> None:
        for name in ("diabetes_type2", "diabetes_type1"):
            if name in onsets and self.gen.chance(self.s["conditions"][name]["etp_rate"]):
                recent = self.gen.chance(0.5)
                first = self.end - timedelta(days=330) if recent else onsets[name]
                for _ in range(self.rng.randint(1, 4)):
                    self.fact("encounter", self.day(max(first, onsets[name]), self.end), [
                        ("snomed", "311401005", "Éducation thérapeutique du patient")],
                        status="finished", encounter_class="AMB")
