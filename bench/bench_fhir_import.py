"""FHIR import throughput: our bulk import next to a per-resource ORM loop, same run.

    PYTHONPATH=. python bench/bench_fhir_import.py [--patients 5000] [--baseline-patients 200]
    PYTHONPATH=. python bench/bench_fhir_import.py --quick

Generates a Bundle of N patients with ~20 resources each (conditions, medications,
observations, procedures, immunizations, encounters), imports it into a fresh encrypted
database, imports it again (idempotent: nothing written), and times a naive baseline
(validate, then session.add + flush per resource, one patient lookup per fact) on a slice.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from sqlmodel import Session, select

from carehub.caseload.coding import normalize_code, system_key
from carehub.caseload.fhir_import import fhir_date, import_bundle
from carehub.caseload.models import ClinicalFact, FactCoding, Patient
from carehub.db import Database, create_database
from carehub.directory.communes import ensure_communes
from carehub.identifiers import ins_key
from carehub.keystore import KeyFileStore

ICD10, ATC, LOINC = "http://hl7.org/fhir/sid/icd-10", "http://www.whocc.no/atc", "http://loinc.org"
SNOMED, CVX = "http://snomed.info/sct", "http://hl7.org/fhir/sid/cvx"
COMMUNES = [("41000", "Blois"), ("20167", "Ajaccio"), ("75011", "Paris"), ("69001", "Lyon"),
            ("13000", "Marseille")]


def _coded(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _ins(number: int, sex: int, born: date) -> str:
    # Born abroad (99), "commune" and order from the patient's number: unique up to 1M.
    first13 = f"{sex}{born.year % 100:02d}{born.month:02d}99{number // 1000 % 1000:03d}" \
        f"{number % 1000:03d}"
    return first13 + f"{ins_key(first13):02d}"


def make_bundle(patients: int, seed: int = 7) -> dict[str, Any]:
    """A practice export: per patient 1 Patient + 19 clinical resources."""
    rng = random.Random(seed)
    entries: list[dict[str, Any]] = []
    for number in range(patients):
        sex = rng.choice((1, 2))
        born = date(1930, 1, 1) + timedelta(days=rng.randrange(25_000))
        postal, city = rng.choice(COMMUNES)
        url = f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128))}"
        entries.append({"fullUrl": url, "resource": {
            "resourceType": "Patient",
            "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8",
                            "value": _ins(number, sex, born)},
                           {"system": "https://practice.example/ids", "value": f"P{number}"}],
            "name": [{"use": "official", "family": f"Nom{number}", "given": ["Prénom"]}],
            "gender": "male" if sex == 1 else "female", "birthDate": born.isoformat(),
            "telecom": [{"system": "phone", "value": f"0612{rng.randrange(10**6):06d}"}],
            "address": [{"line": [f"{number} rue Haute"], "postalCode": postal, "city": city}]}})
        entries.extend(_facts(rng, url, number))
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _facts(rng: random.Random, subject_url: str, number: int) -> list[dict[str, Any]]:
    subject = {"reference": subject_url}

    def day() -> str:
        return (date(2015, 1, 1) + timedelta(days=rng.randrange(3650))).isoformat()

    resources: list[dict[str, Any]] = []
    for code in ("E11.9", "I10", "E04.9"):
        resources.append({"resourceType": "Condition", "subject": subject, "onsetDateTime": day(),
                          "code": {"coding": [{"system": ICD10, "code": code},
                                              {"system": "http://hl7.org/fhir/sid/icpc-2",
                                               "code": "T90"}]}})
    for code in ("A10BA02", "C09AA05", "H03AA01"):
        resources.append({"resourceType": "MedicationStatement", "status": "active",
                          "subject": subject, "effectivePeriod": {"start": day()},
                          "medicationCodeableConcept": _coded(ATC, code)})
    for _ in range(6):
        resources.append({"resourceType": "Observation", "status": "final", "subject": subject,
                          "code": _coded(LOINC, "4548-4"), "effectiveDateTime": day(),
                          "valueQuantity": {"value": round(rng.uniform(5, 10), 1), "unit": "%"}})
    for code in ("71651007", "73761001"):
        resources.append({"resourceType": "Procedure", "status": "completed", "subject": subject,
                          "code": _coded(SNOMED, code), "performedDateTime": day()})
    for code, atc in (("141", "J07BB02"), ("216", "J07AL02"), ("187", "J07BK03")):
        resources.append({"resourceType": "Immunization", "status": "completed",
                          "patient": subject, "occurrenceDateTime": day(),
                          "vaccineCode": {"coding": [{"system": CVX, "code": code},
                                                     {"system": ATC, "code": atc}]}})
    for klass in ("AMB", "IMP"):
        start = day()
        resources.append({"resourceType": "Encounter", "status": "finished", "subject": subject,
                          "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                    "code": klass},
                          "type": [_coded(SNOMED, "311401005")],
                          "period": {"start": start, "end": start}})
    return [{"fullUrl": f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128))}", "resource": r}
            for r in resources]


def fresh_database(folder: Path, name: str) -> Database:
    database = create_database(folder / f"{name}.db", KeyFileStore(folder / f"{name}.key"))
    with database.transaction() as session:
        ensure_communes(session)
    return database


def naive_import(session: Session, bundle: dict[str, Any]) -> None:
    """The obvious loop: validate, then one ORM object and one flush per resource."""
    by_url: dict[str, uuid.UUID] = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        if resource["resourceType"] == "Patient":
            name = resource["name"][0]
            patient = Patient(ins=resource["identifier"][0]["value"], birth_name=name["family"],
                              given_names=" ".join(name["given"]),
                              birth_date=fhir_date(resource["birthDate"]))
            session.add(patient)
            session.flush()
            by_url[entry["fullUrl"]] = patient.id
            continue
        subject = resource.get("subject") or resource.get("patient")
        ins = session.get(Patient, by_url[subject["reference"]])  # one lookup per fact
        assert ins is not None
        fact = ClinicalFact(patient_id=ins.id, kind=resource["resourceType"].lower()[:12],
                            source_system="fhir:fullUrl", source_id=entry["fullUrl"])
        session.add(fact)
        session.flush()
        concept = (resource.get("code") or resource.get("vaccineCode")
                   or resource.get("medicationCodeableConcept") or resource["type"][0])
        for coding in concept["coding"]:
            session.add(FactCoding.of(fact, system=system_key(coding["system"]),
                                      code=normalize_code(coding["code"])))
            session.flush()


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--baseline-patients", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="500 patients, baseline 50")
    args = parser.parse_args()
    if args.quick:
        args.patients, args.baseline_patients = 500, 50
    bundle = make_bundle(args.patients)
    resources = len(bundle["entry"])
    per_patient = resources // args.patients
    slice_entries = bundle["entry"][:args.baseline_patients * per_patient]
    baseline_bundle = {**bundle, "entry": slice_entries}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ours_db, naive_db, slice_db = (fresh_database(folder, n) for n in
                                       ("ours", "naive", "slice"))
        try:
            def ours() -> None:
                with ours_db.transaction() as session:
                    import_bundle(session, bundle=bundle, actor="bench", assign_to=None)

            def ours_slice() -> None:
                with slice_db.transaction() as session:
                    import_bundle(session, bundle=baseline_bundle, actor="bench",
                                  assign_to=None)

            def naive() -> None:
                with naive_db.transaction() as session:
                    naive_import(session, baseline_bundle)

            first = timed(ours)
            again = timed(ours)
            ours_small = timed(ours_slice)
            baseline = timed(naive)
            with ours_db.session() as session:
                facts = len(session.exec(select(ClinicalFact.id)).all())
        finally:
            for database in (ours_db, naive_db, slice_db):
                database.close()
    small = len(slice_entries)
    rows = [
        (f"ours, {args.patients} patients (first import)", resources, first),
        ("ours, same bundle again (idempotent: nothing written)", resources, again),
        (f"ours, {args.baseline_patients}-patient slice", small, ours_small),
        ("naive ORM add+flush per resource, same slice", small, baseline),
    ]
    print(f"FHIR import: {args.patients} patients, {resources} resources "
          f"({per_patient} per patient), {facts} facts stored")
    print(f"{'what':<58} {'resources':>9} {'seconds':>8} {'res/s':>9}")
    for what, count, seconds in rows:
        print(f"{what:<58} {count:>9} {seconds:>8.2f} {count / seconds:>9,.0f}")
    ratio = (small / ours_small) / (small / baseline)
    print(f"ratio on the same slice: ours is {ratio:.1f}x the naive loop "
          f"({resources / first:,.0f} vs {small / baseline:,.0f} resources/s at full size)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
