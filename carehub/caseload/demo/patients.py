"""One demo patient: identity, INS, address, phones, circle, care team and consents."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from carehub.caseload.demo.catalogue import (
    Weighted,
    add_years,
    age_at,
    by_age,
    load_catalogue,
    rpps_with_key,
)
from carehub.caseload.demo.draws import DemoSetup, Draws, Person, Place
from carehub.caseload.demo.history import History
from carehub.caseload.demo.rows import Rows
from carehub.caseload.services import search_text_for, sort_key_for
from carehub.coordination.audit import Change
from carehub.identifiers import ins_key
from carehub.text import fold


class DemoGenerator(Draws):
    """Draws patients one after the other from a single seeded random generator."""

    def __init__(self, setup: DemoSetup, rows: Rows) -> None:
        # A database that already has patients gets other draws (and so other UUIDs).
        self.rng = random.Random(f"carehub-demo/{setup.seed}/{setup.existing_patients}")
        self.cat = load_catalogue()
        self.s = self.cat.settings
        self.as_of = setup.as_of
        self.start = add_years(setup.as_of, -int(self.s["history"]["years"]))
        self.homes = Weighted.of(setup.homes)
        self.birth_places = setup.birth_places
        self.birth_departments = Weighted.of(
            list(self.s["territory"]["birth_departments"].items()))
        self.taken_ins = set(setup.taken_ins)
        self.manager_id = setup.manager_id
        self.actor = setup.actor
        self.seed = setup.seed
        self.rows = rows
        # The ids' clock starts at the as-of date (plus the patients already there).
        self.clock_ms = int(datetime.combine(setup.as_of, time(), UTC).timestamp() * 1000) \
            + setup.existing_patients * 1000
        self.gps = self._gp_pool()

    def given_name(self, sex: str, birth_year: int) -> str:
        generation = "old" if birth_year < 1965 else "young"
        return str(self.cat.given_names[(sex, generation)].draw(self.rng))

    def last_name(self) -> str:
        return str(self.cat.last_names.draw(self.rng))

    def _gp_pool(self) -> list[tuple[str, str]]:
        pool: dict[str, str] = {}
        while len(pool) < int(self.s["care"]["gp_count"]):
            sex = "F" if self.chance(0.5) else "M"
            rpps = rpps_with_key("10" + self.digits(8))
            pool[rpps] = f"Dr {self.given_name(sex, 1975)} {self.last_name()}"
        return sorted(pool.items())

    def mobile(self) -> str:
        prefix = str(self.rng.choice(self.s["territory"]["mobile_prefixes"]))
        return "+33" + (prefix + self.digits(10 - len(prefix)))[1:]

    def landline(self) -> str:
        prefix = str(self.rng.choice(self.s["territory"]["landline_prefixes"]))
        return "+33" + (prefix + self.digits(10 - len(prefix)))[1:]

    # ---- one patient

    def patient(self) -> None:
        person = self._person()
        status, deceased = self._status(person)
        registered = self._registered_on(person, deceased)
        created = datetime.combine(registered, time(9), UTC)
        row = self._identity(person)
        home: Place = self.homes.draw(self.rng)
        row.update(self._address(home))
        phones = self._phones(person)
        row.update(self._contact(person, phones))
        row.update(self._accessibility(person.age))
        row.update(self._care(person, registered))
        row.update(
            id=person.id, status=status, deceased_date=deceased, registered_on=registered,
            care_manager_id=self.manager_id, created_at=created, updated_at=created,
            fragility_level=self._fragility(person),
            search_text=search_text_for(
                names=[row["birth_name"], row["used_name"], row["given_names"]], ins=row["ins"],
                phones=[p["e164"] for p in phones], commune_name=home.name),
            sort_key=sort_key_for(used_name=row["used_name"], birth_name=row["birth_name"],
                                  given_names=row["given_names"]),
        )
        self.rows.patients.add(row)
        for phone in phones:
            self.rows.phones.add(phone)
        self._circle(person)
        self._consents(person, registered)
        History(self, person, created).build()
        self.rows.changes.append(Change(self.actor, "patient", str(person.id), "create",
                                        {"source": "demo", "seed": self.seed}))
        self.rows.payloads.append({
            "ins": row["ins"], "birth_name": row["birth_name"], "used_name": row["used_name"],
            "given_names": row["given_names"], "sex": row["sex"],
            "birth_date": person.birth.isoformat(), "commune_insee": home.insee,
            "status": status, "care_manager": self.actor,
        })

    def _person(self) -> Person:
        ages = self.s["ages"]
        if self.chance(ages["young_rate"]):
            age = self.rng.randint(18, 59)
        else:
            age = min(100, int(self.rng.triangular(60, 101, ages["old_mode"])))
        birth = add_years(self.as_of, -age - 1) + timedelta(days=self.rng.randint(1, 365))
        female_rate = 0.52 if age < 60 else 0.58 if age < 85 else 0.68
        sex = "F" if self.chance(female_rate) else "M"
        person = Person(id=self.uuid(), sex=sex, birth=birth, age=age_at(birth, self.as_of),
                        conditions=set(), history_end=self.as_of, last_name=self.last_name(),
                        given=self.given_name(sex, birth.year))
        person.conditions = self._conditions(person)
        return person

    def _conditions(self, person: Person) -> set[str]:
        found = set()
        for name, spec in self.s["conditions"].items():
            table = spec.get(f"prevalence_{person.sex.lower()}", spec.get("prevalence"))
            if table and self.chance(float(by_age(table, person.age))):
                found.add(name)
        if "diabetes_type1" in found:
            found.discard("diabetes_type2")
        return found

    def _status(self, person: Person) -> tuple[str, date | None]:
        status = self.weighted(self.s["status"]["weights"])
        if status != "deceased":
            return status, None
        deceased = self.day_between(self.as_of - timedelta(days=730),
                                    self.as_of - timedelta(days=2))
        person.history_end = deceased
        return status, deceased

    def _registered_on(self, person: Person, deceased: date | None) -> date:
        if deceased is None and self.chance(self.s["status"]["new_arrival_rate"]):
            return self.as_of - timedelta(days=self.rng.randint(0, 42))
        last = (deceased or self.as_of) - timedelta(days=43)
        return self.day_between(max(self.start, add_years(person.birth, 18)), last)

    def _ins(self, person: Person) -> tuple[str, str | None]:
        """A demo INS consistent with sex and birth, and the birth place it encodes."""
        territory = self.s["territory"]
        if self.chance(territory["birth_abroad_rate"]):
            place = self.rng.choice(territory["birth_countries"])
        else:
            place = self.rng.choice(self.birth_places[self.birth_departments.draw(self.rng)])
        head = f"{1 if person.sex == 'M' else 2}{person.birth.year % 100:02d}" \
               f"{person.birth.month:02d}{place}"
        while True:
            first13 = head + f"{self.rng.randint(1, 999):03d}"
            ins = f"{first13}{ins_key(first13):02d}"
            if ins not in self.taken_ins:
                self.taken_ins.add(ins)
                return ins, place

    def _identity(self, person: Person) -> dict[str, Any]:
        names = self.s["names"]
        ins, birth_place = self._ins(person)
        used = None
        if person.sex == "F" and person.age >= 30 and self.chance(
                names["married_women_used_name_rate"]):
            used = self.last_name()
        given = person.given
        if self.chance(names["second_given_name_rate"]):
            second = self.given_name(person.sex, person.birth.year)
            given = f"{given} {second}" if second != given else given
        birth_name = person.last_name
        person.last_name = used or birth_name  # the name relatives and e-mail go by
        return {
            "ins": ins, "ins_kind": "demo",
            "identity_status": self.weighted(self.s["status"]["identity_weights"]),
            "birth_name": birth_name,
            "used_name": used, "given_names": given, "sex": person.sex,
            "birth_date": person.birth, "birth_place_insee": birth_place,
            "language": "fr", "notes": None, "source_system": None, "source_id": None,
        }

    def _address(self, home: Place) -> dict[str, Any]:
        spec = self.s["address"]
        if self.chance(spec["hamlet_rate"]):
            line = f"Lieu-dit {self.rng.choice(spec['hamlets'])}"
        else:
            line = f"{self.rng.randint(1, 60)} {self.rng.choice(spec['streets'])}"
        return {"address_line": line, "postal_code": home.postal_code, "commune_insee": home.insee}

    def _phones(self, person: Person) -> list[dict[str, Any]]:
        spec = self.s["contact"]
        has_mobile = self.chance(by_age(spec["mobile_rate_by_age"], person.age))
        has_landline = self.chance(by_age(spec["landline_rate_by_age"], person.age))
        numbers: list[tuple[str, str, str]] = []
        if has_landline or not has_mobile:
            numbers.append((self.landline(), "fixed", "Domicile"))
        if has_mobile:
            mobile = (self.mobile(), "mobile", "Portable")
            numbers.insert(0 if person.age < 75 else len(numbers), mobile)
        return [
            {"id": self.uuid(), "patient_id": person.id, "e164": e164, "kind": kind,
             "label": label, "position": position, "needs_check": False,
             "sms_consent": kind == "mobile" and self.chance(spec["sms_consent_rate"])}
            for position, (e164, kind, label) in enumerate(numbers)
        ]

    def _contact(self, person: Person, phones: list[dict[str, Any]]) -> dict[str, Any]:
        spec = self.s["contact"]
        email = None
        if self.chance(by_age(spec["email_rate_by_age"], person.age)):
            local = f"{fold(person.given)}.{fold(person.last_name)}".replace(" ", "").replace(
                "'", "")
            suffix = str(self.rng.randint(1, 99)) if self.chance(0.4) else ""
            email = f"{local}{suffix}@{self.rng.choice(spec['email_domains'])}"
        channel = "phone"
        sms_ok = any(p["sms_consent"] for p in phones)
        roll = self.rng.random()
        if sms_ok and person.age < 75 and roll < 0.2:
            channel = "sms"
        elif email and roll < 0.35:
            channel = "email"
        elif roll > 1 - spec["letter_channel_rate"]:
            channel = "letter"
        elif roll > 1 - spec["letter_channel_rate"] - spec["visit_channel_rate"]:
            channel = "visit"
        after = before = None
        hours_roll = self.rng.random()
        if hours_roll < spec["call_after_rate"]:
            after = time(14, 0)
        elif hours_roll < spec["call_after_rate"] + spec["call_before_rate"]:
            before = time(12, 0)
        note = self.rng.choice(spec["hours_notes"]) if self.chance(spec["hours_note_rate"]) \
            else None
        return {"email": email, "preferred_channel": channel, "call_after": after,
                "call_before": before, "preferred_hours_note": note}

    def _accessibility(self, age: int) -> dict[str, bool]:
        return {need: self.chance(by_age(rates, age))
                for need, rates in self.s["accessibility"].items()}

    def _fragility(self, person: Person) -> int:
        spec = self.s["fragility"]
        weights = by_age(spec["weights"], person.age)
        level = int(self.rng.choices((0, 1, 2, 3), weights=weights)[0])
        if person.conditions & set(spec["worsening_conditions"]):
            level = min(3, level + 1)
        return level

    def _care(self, person: Person, registered: date) -> dict[str, Any]:
        spec = self.s["care"]
        no_gp = spec["no_gp_rate"] * (5 if registered > self.as_of - timedelta(days=43) else 1)
        rpps, gp_name = (None, None) if self.chance(no_gp) else self.rng.choice(self.gps)
        directives = self.chance(by_age(spec["advance_directives_rate"], person.age))
        holder = None
        if directives:
            holder = self.rng.choice(["Médecin traitant", "Personne de confiance",
                                      "Au domicile, dans le dossier de liaison"])
        return {"gp_rpps": rpps, "gp_name": gp_name, "advance_directives": directives,
                "advance_directives_holder": holder}

    def _relative(self, person: Person) -> dict[str, Any]:
        relationship = str(self.rng.choice(self.s["care"]["relationships"]))
        female = relationship in {"fille", "épouse", "belle-fille", "nièce", "voisine", "amie",
                                  "sœur", "petite-fille"}
        if relationship in {"épouse", "époux"}:
            female = person.sex == "M"
        sex = "F" if female else "M"
        family = relationship not in {"voisine", "voisin", "amie"}
        surname = person.last_name if family and self.chance(0.6) else self.last_name()
        given = self.given_name(sex, person.birth.year + (0 if relationship in {
            "épouse", "époux", "sœur", "frère", "voisine", "voisin", "amie"} else 30))
        same_home = relationship in {"épouse", "époux"}
        return {
            "id": self.uuid(), "patient_id": person.id, "name": f"{given} {surname}",
            "relationship": relationship, "is_caregiver": False, "is_trusted_person": False,
            "is_legal_guardian": False, "guardianship": None,
            "guardian_agreement_required": False, "is_emergency_contact": False,
            "phone_e164": self.mobile() if self.chance(0.85) else self.landline(),
            "email": None,
            "address": "Même adresse" if same_home else None,
        }

    def _circle(self, person: Person) -> None:
        spec = self.s["care"]
        people = []
        if self.chance(by_age(spec["caregiver_rate"], person.age)):
            caregiver = self._relative(person)
            caregiver["is_caregiver"] = True
            caregiver["is_trusted_person"] = self.chance(0.7)
            caregiver["is_emergency_contact"] = True
            people.append(caregiver)
        if not people and self.chance(spec["emergency_contact_rate"]):
            contact = self._relative(person)
            contact["is_emergency_contact"] = True
            contact["is_trusted_person"] = self.chance(spec["trusted_person_rate"])
            people.append(contact)
        guardian_rate = by_age(spec["guardianship_rate"], person.age)
        if "dementia" in person.conditions:
            guardian_rate = spec["guardianship_with_dementia_rate"]
        if self.chance(guardian_rate):
            people.append(self._guardian(person))
        for row in people:
            row["phone_kind"] = "mobile" if row["phone_e164"].startswith(("+336", "+337")) \
                else "fixed"
        for row in people:
            self.rows.related.add(row)

    def _guardian(self, person: Person) -> dict[str, Any]:
        tutelle = self.chance(0.4)
        if self.chance(0.5):
            guardian = self._relative(person)
        else:
            guardian = self._relative(person)
            guardian.update(name=self.rng.choice(self.s["care"]["guardian_bodies"]),
                            relationship="mandataire judiciaire", phone_e164=self.landline(),
                            address=None)
        guardian.update(is_legal_guardian=True,
                        guardianship="tutelle" if tutelle else "curatelle",
                        guardian_agreement_required=tutelle or self.chance(0.5))
        return guardian

    def _consents(self, person: Person, registered: date) -> None:
        spec = self.s["care"]
        granted = {"followup": True,
                   "team_sharing": self.chance(spec["team_sharing_consent_rate"]),
                   "dmp": self.chance(spec["dmp_consent_rate"])}
        for kind, given in granted.items():
            on = registered + timedelta(days=0 if kind != "dmp" else self.rng.randint(0, 30))
            on = min(on, self.as_of)
            self._consent(person, kind, given, on)
            if given and kind != "followup" and self.chance(spec["consent_withdrawn_rate"]):
                self._consent(person, kind, False, self.day_between(on, person.history_end))

    def _consent(self, person: Person, kind: str, granted: bool, on: date) -> None:
        self.rows.consents.add({"id": self.uuid(), "patient_id": person.id, "kind": kind,
                                   "granted": granted, "on": on, "recorded_by": self.actor})
