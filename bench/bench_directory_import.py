"""Directory import throughput: our streamed import next to a naive one, same run.

    PYTHONPATH=. python bench/bench_directory_import.py                 # 1,000,000 rows
    PYTHONPATH=. python bench/bench_directory_import.py --rows 100000   # quicker
    PYTHONPATH=. python bench/bench_directory_import.py --quick         # 50,000 rows

Generates an extract in the real format (the 52 columns of DOMAIN.md §4, '|' with the
trailing separator, practitioners at 1-3 sites, empty commune codes, cedex-only sites,
sites abroad, untidy phones, ADELI rows) in a temp dir, imports it into a fresh encrypted
database (rows/s, CPU time and peak RSS of the import, parsing child included), imports it
again (the weekly update), and times a naive baseline on a slice: csv.DictReader, then per
row an ORM get/add and phonenumbers' full parse. The load average is printed: on a shared
machine the wall-clock figures depend on it, the CPU time much less.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import random
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from carehub.db import Database, create_database  # noqa: E402
from carehub.directory.communes import ensure_communes, read_communes  # noqa: E402
from carehub.directory.extract_import import import_extract  # noqa: E402
from carehub.directory.extract_parse import EXTRACT_COLUMNS  # noqa: E402
from carehub.directory.models import Practitioner, PractitionerActivity  # noqa: E402
from carehub.errors import InputError  # noqa: E402
from carehub.keystore import KeyFileStore  # noqa: E402
from carehub.phones import parse_phone  # noqa: E402

PROFESSIONS = [("10", "Médecin", 30), ("60", "Infirmier", 25), ("70",
               "Masseur-Kinésithérapeute", 12), ("21", "Pharmacien", 12),
               ("40", "Chirurgien-Dentiste", 8), ("50", "Sage-Femme", 4)]
SPECIALTIES = [("SM54", "Médecine Générale", 45), ("SM26", "Cardiologie et maladies "
               "vasculaires", 8), ("SM53", "Gynécologie médicale", 6), ("SM42", "Pédiatrie",
               8), ("SM57", "Ophtalmologie", 7), ("SM40", "Psychiatrie", 10),
               ("SM15", "Dermatologie et vénéréologie", 6), ("SM04", "Anesthesie-réanimation",
               10)]
LAST = ("MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS",
        "MOREAU", "LAURENT", "SIMON", "MICHEL", "LEFEBVRE", "LEROY", "ROUX", "DAVID",
        "BERTRAND", "MOREL", "FOURNIER", "GIRARD", "BONNET", "DUPONT", "LAMBERT", "FONTAINE")
FIRST = ("Jeanne", "Marie", "Hélène", "Claire", "Élise", "Jean", "Pierre", "Michel",
         "André", "Louis", "Paul", "Étienne", "Sophie", "Camille", "Léa", "Hugo")
STREETS = ("DE LA REPUBLIQUE", "VICTOR HUGO", "JEAN JAURES", "DE LA GARE", "DU MOULIN",
           "PASTEUR", "DES ECOLES", "DU GENERAL DE GAULLE")


def luhn_digit(body: str) -> str:
    total = 0
    for index, char in enumerate(reversed(body)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def _weighted(rng: random.Random, items: list[tuple[str, str, int]]) -> tuple[str, str]:
    code, label, _ = rng.choices(items, weights=[w for *_, w in items])[0]
    return code, label


def _phone(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.3:
        return ""
    prefix = rng.choice(("01", "02", "03", "04", "05", "06", "07" + rng.choice("56789"), "09"))
    number = prefix + f"{rng.randrange(10**8):08d}"[:10 - len(prefix)]
    if roll < 0.98:
        return number
    return rng.choice((" ".join(number[i:i + 2] for i in range(0, 10, 2)),
                       number.replace("0", "+33", 1), f"{number}/0612345678", "0000"))


def write_extract(path: Path, rows: int, *, seed: int = 11,
                  communes: list[dict[str, object]] | None = None) -> int:
    """An extract of about `rows` rows in the real format; returns the row count."""
    rng = random.Random(seed)
    places = [(str(c["insee"]), str(c["name"]).upper(), str(c["postal_codes"]))
              for c in (communes or read_communes())]
    written = 0
    serial = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("|".join(EXTRACT_COLUMNS) + "|\n")
        while written < rows:
            serial += 1
            adeli = rng.random() < 0.08
            profession, profession_label = _weighted(rng, PROFESSIONS)
            specialty, specialty_label = (_weighted(rng, SPECIALTIES) if profession == "10"
                                          else ("", ""))
            if adeli:
                identifier = f"{rng.randrange(1, 96):02d}{profession[0]}{serial % 10**6:06d}"
                national = "0" + identifier
            else:
                body = f"1{serial:09d}"
                identifier = body + luhn_digit(body)
                national = "8" + identifier
            last, first = rng.choice(LAST), rng.choice(FIRST)
            for _site in range(rng.choice((1, 1, 1, 2, 2, 3))):
                out.write(_row(rng, places, adeli, identifier, national, last, first,
                               profession, profession_label, specialty, specialty_label))
                written += 1
    return written


def _row(rng: random.Random, places: list[tuple[str, str, str]], adeli: bool,
         identifier: str, national: str, last: str, first: str, profession: str,
         profession_label: str, specialty: str, specialty_label: str) -> str:
    insee, city, postal = rng.choice(places)
    row = dict.fromkeys(EXTRACT_COLUMNS, "")
    roll = rng.random()
    cedex = ""
    country_code = country = ""
    if roll < 0.15:
        insee = ""  # untidy: the commune code is often empty
    elif roll < 0.17:
        insee, cedex, postal = "", f"{postal} {city} CEDEX", ""
    elif roll < 0.175:
        insee, postal, city, country_code, country = "", "", "LONDON", "99132", "Royaume-Uni"
    row.update({
        "Type d'identifiant PP": "0" if adeli else "8", "Identifiant PP": identifier,
        "Identification nationale PP": national, "Code civilité d'exercice": "DR"
        if profession == "10" else "", "Libellé civilité d'exercice": "Docteur"
        if profession == "10" else "", "Nom d'exercice": last, "Prénom d'exercice": first,
        "Code profession": profession, "Libellé profession": profession_label,
        "Code catégorie professionnelle": "C", "Libellé catégorie professionnelle": "Civil",
        "Code type savoir-faire": "S" if specialty else "",
        "Libellé type savoir-faire": "Spécialité ordinale" if specialty else "",
        "Code savoir-faire": specialty, "Libellé savoir-faire": specialty_label,
        "Code mode exercice": rng.choice("LLLS"), "Libellé mode exercice": "Libéral",
        "Raison sociale site": rng.choice(("", "", "CABINET MEDICAL", "MAISON DE SANTE")),
        "Numéro Voie (coord. structure)": str(rng.randrange(1, 200)),
        "Libellé type de voie (coord. structure)": rng.choice(("Rue", "Avenue", "Place")),
        "Libellé Voie (coord. structure)": rng.choice(STREETS),
        "Bureau cedex (coord. structure)": cedex, "Code postal (coord. structure)": postal,
        "Code commune (coord. structure)": insee,
        "Libellé commune (coord. structure)": "" if cedex else city,
        "Code pays (coord. structure)": country_code,
        "Libellé pays (coord. structure)": country,
        "Téléphone (coord. structure)": _phone(rng),
        "Téléphone 2 (coord. structure)": _phone(rng) if rng.random() < 0.1 else "",
        "Autorité d'enregistrement": "CNOM/CNOM/CNOM",
    })
    return "|".join(row.values()) + "|\n"


def fresh_database(folder: Path, name: str) -> Database:
    database = create_database(folder / f"{name}.db", KeyFileStore(folder / f"{name}.key"))
    with database.transaction() as session:
        ensure_communes(session)
    return database


class PeakRss:
    """Samples the RSS of this process and its children (the parsing child) every 50 ms
    while in the block, and the CPU time they used."""

    def __enter__(self) -> PeakRss:
        self._process = psutil.Process()
        self.start = self.peak = self._rss()
        self._cpu = self._cpu_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _rss(self) -> int:
        total = self._process.memory_info().rss
        for child in self._process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total

    @staticmethod
    def _cpu_seconds() -> float:
        own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                              resource.RUSAGE_CHILDREN))
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._rss())

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())
        self.cpu = self._cpu_seconds() - self._cpu


def naive_import(session: Session, path: Path, limit: int) -> int:
    """csv.DictReader, then per row: ORM get/add of the practitioner, full phone parse."""
    rows = 0
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="|"):
            national = row["Identification nationale PP"]
            if session.get(Practitioner, national) is None:
                session.add(Practitioner(id=national, id_type=row["Type d'identifiant PP"],
                                         identifier=row["Identifiant PP"],
                                         last_name=row["Nom d'exercice"],
                                         first_name=row["Prénom d'exercice"], import_id=1))
            try:
                phone: str | None = parse_phone(row["Téléphone (coord. structure)"]).e164
            except InputError:
                phone = None
            session.add(PractitionerActivity(
                practitioner_id=national, import_id=1, profession_code=row["Code profession"],
                specialty_code=row["Code savoir-faire"] or None,
                postal_code=row["Code postal (coord. structure)"] or None,
                commune_code=row["Code commune (coord. structure)"] or None, phone=phone))
            session.flush()
            rows += 1
            if rows >= limit:
                break
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="50,000 rows, 5,000 baseline")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.baseline_rows = 50_000, 5_000
    with tempfile.TemporaryDirectory(prefix="carehub-dir-bench-") as tmp:
        folder = Path(tmp)
        extract = folder / "PS_LibreAcces_Personne_activite.txt"
        began = time.perf_counter()
        rows = write_extract(extract, args.rows)
        print(f"generated {rows:,} rows ({extract.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - began:.1f} s")

        database = fresh_database(folder, "ours")
        with PeakRss() as memory:
            began = time.perf_counter()
            with database.transaction() as session:
                report = import_extract(session, path=extract, actor="bench")
            first = time.perf_counter() - began
        with PeakRss() as memory2:
            began = time.perf_counter()
            with database.transaction() as session:
                import_extract(session, path=extract, actor="bench")
            second = time.perf_counter() - began
        database.close()

        naive_db = fresh_database(folder, "naive")
        began = time.perf_counter()
        with naive_db.transaction() as session:
            naive_rows = naive_import(session, extract, args.baseline_rows)
        naive = time.perf_counter() - began
        naive_db.close()

    ours_rate = rows / first
    naive_rate = naive_rows / naive
    print(report.summary())
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\n{os.cpu_count()} CPUs, load average at the end {load}")
    print(f"\n| import ({rows:,} rows) | rows/s | time | CPU time | peak RSS (start) |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| ours, first import | {ours_rate:,.0f} | {first:.1f} s | {memory.cpu:.1f} s | "
          f"{memory.peak / 2**20:.0f} MB ({memory.start / 2**20:.0f} MB) |")
    print(f"| ours, re-import (update in place) | {rows / second:,.0f} | {second:.1f} s | "
          f"{memory2.cpu:.1f} s | {memory2.peak / 2**20:.0f} MB |")
    print(f"| naive (DictReader + ORM per row, {naive_rows:,} rows) | {naive_rate:,.0f} | "
          f"{naive:.1f} s | | |")
    print(f"\nours / naive: {ours_rate / naive_rate:.0f}x   target >= 50,000 rows/s: "
          f"{'met' if ours_rate >= 50_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
