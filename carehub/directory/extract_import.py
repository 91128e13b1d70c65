"""Import of the Annuaire Santé extract `PS_LibreAcces_Personne_activite.txt` (DOMAIN.md §4).

Streamed: the file is read line by line and written in batches with executemany, so the
national file (~1.1 million rows, ~760 MB) imports in bounded memory. Everything happens
in the caller's transaction: a malformed line raises InputError naming the file and line,
and the rollback leaves the directory as it was.

A newer extract updates in place: practitioners are upserted by their national id
(Identification nationale PP); the activities of every practitioner in the file are
replaced by the file's; practitioners absent from the file stay, marked inactive.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from operator import itemgetter
from pathlib import Path
from queue import Full, Queue
from typing import Any, BinaryIO

from sqlalchemy import update
from sqlmodel import Session

from carehub.changes import log_change
from carehub.coordination.audit import Change
from carehub.directory.extract_phones import normalise_phone, region_for_postal
from carehub.directory.models import DirectoryImport
from carehub.directory.places import FRANCE_COUNTRY_CODES, Gazetteer
from carehub.errors import InputError
from carehub.identifiers import is_valid_rpps
from carehub.text import fold

# The 52 columns of the extract, in the published order (DOMAIN.md §4).
EXTRACT_COLUMNS: tuple[str, ...] = (
    "Type d'identifiant PP", "Identifiant PP", "Identification nationale PP",
    "Code civilité d'exercice", "Libellé civilité d'exercice", "Code civilité",
    "Libellé civilité", "Nom d'exercice", "Prénom d'exercice", "Code profession",
    "Libellé profession", "Code catégorie professionnelle",
    "Libellé catégorie professionnelle", "Code type savoir-faire",
    "Libellé type savoir-faire", "Code savoir-faire", "Libellé savoir-faire",
    "Code mode exercice", "Libellé mode exercice", "Numéro SIRET site", "Numéro SIREN site",
    "Numéro FINESS site", "Numéro FINESS établissement juridique",
    "Identifiant technique de la structure", "Raison sociale site",
    "Enseigne commerciale site", "Complément destinataire (coord. structure)",
    "Complément point géographique (coord. structure)", "Numéro Voie (coord. structure)",
    "Indice répétition voie (coord. structure)", "Code type de voie (coord. structure)",
    "Libellé type de voie (coord. structure)", "Libellé Voie (coord. structure)",
    "Mention distribution (coord. structure)", "Bureau cedex (coord. structure)",
    "Code postal (coord. structure)", "Code commune (coord. structure)",
    "Libellé commune (coord. structure)", "Code pays (coord. structure)",
    "Libellé pays (coord. structure)", "Téléphone (coord. structure)",
    "Téléphone 2 (coord. structure)", "Télécopie (coord. structure)",
    "Adresse e-mail (coord. structure)", "Code Département (structure)",
    "Libellé Département (structure)", "Ancien identifiant de la structure",
    "Autorité d'enregistrement", "Code secteur d'activité", "Libellé secteur d'activité",
    "Code section tableau pharmaciens", "Libellé section tableau pharmaciens",
)

# The columns the import reads, by header name; any other column may come and go.
_USED = {
    "id_type": "Type d'identifiant PP", "identifier": "Identifiant PP",
    "national_id": "Identification nationale PP", "civility": "Libellé civilité d'exercice",
    "last_name": "Nom d'exercice", "first_name": "Prénom d'exercice",
    "profession": "Code profession", "profession_label": "Libellé profession",
    "specialty": "Code savoir-faire", "specialty_label": "Libellé savoir-faire",
    "mode": "Code mode exercice", "finess": "Numéro FINESS site",
    "company": "Raison sociale site", "sign": "Enseigne commerciale site",
    "recipient": "Complément destinataire (coord. structure)",
    "place_detail": "Complément point géographique (coord. structure)",
    "number": "Numéro Voie (coord. structure)",
    "repeat": "Indice répétition voie (coord. structure)",
    "street_type": "Libellé type de voie (coord. structure)",
    "street": "Libellé Voie (coord. structure)",
    "distribution": "Mention distribution (coord. structure)",
    "cedex": "Bureau cedex (coord. structure)", "postal": "Code postal (coord. structure)",
    "commune": "Code commune (coord. structure)", "city": "Libellé commune (coord. structure)",
    "country_code": "Code pays (coord. structure)", "country": "Libellé pays (coord. structure)",
    "phone": "Téléphone (coord. structure)", "phone2": "Téléphone 2 (coord. structure)",
    "email": "Adresse e-mail (coord. structure)",
}

BATCH_ROWS = 20_000

# Empty strings become NULL in SQL: the driver binds a Python None ~1 µs slower than a
# string, which at 18 columns and a million rows is most of the import's time.
_ACTIVITY_INSERT = (
    "INSERT INTO practitioner_activity (practitioner_id, import_id, profession_code, "
    "specialty_code, mode_code, site_name, address, postal_code, commune_code, city, "
    "country_code, country, place_insee, phone, phone2, unparsed_phone, email, finess_site) "
    "VALUES (?, ?, ?" + ", NULLIF(?, '')" * 15 + ")"
)
_PRACTITIONER_UPSERT = (
    "INSERT INTO practitioner (id, id_type, identifier, identifier_valid, civility, last_name, "
    "first_name, search_text, active, import_id) VALUES (?, ?, ?, ?, NULLIF(?, ''), ?, ?, ?, 1, ?) "
    "ON CONFLICT (id) DO UPDATE SET id_type = excluded.id_type, "
    "identifier = excluded.identifier, identifier_valid = excluded.identifier_valid, "
    "civility = excluded.civility, last_name = excluded.last_name, "
    "first_name = excluded.first_name, search_text = excluded.search_text, active = 1, "
    "import_id = excluded.import_id"
)
_CODE_UPSERT = (
    "INSERT INTO directory_code (kind, code, label, folded) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (kind, code) DO UPDATE SET label = excluded.label, folded = excluded.folded"
)


@dataclass(frozen=True)
class ImportProgress:
    file_name: str
    bytes_read: int
    total_bytes: int
    rows: int

    @property
    def fraction(self) -> float:
        return self.bytes_read / self.total_bytes if self.total_bytes else 1.0


ProgressCallback = Callable[[ImportProgress], None]


@dataclass
class ImportReport:
    file_name: str
    rows: int = 0
    practitioners: int = 0
    placed_rows: int = 0
    abroad_rows: int = 0
    unplaced_rows: int = 0
    invalid_rpps: int = 0
    unparsed_phones: int = 0
    deactivated: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (f"{self.file_name}: {self.rows} rows, {self.practitioners} practitioners "
                f"({self.deactivated} no longer listed, marked inactive); "
                f"{self.placed_rows} rows placed, {self.abroad_rows} abroad, "
                f"{self.unplaced_rows} without a known commune; "
                f"{self.invalid_rpps} RPPS failing their check (kept, flagged); "
                f"{self.unparsed_phones} phone numbers not understood (kept aside).")


def _refuse(path: Path, line: int, english: str, french: str) -> InputError:
    return InputError(f"{path.name}, line {line}: {english}; nothing was imported.",
                      f"{path.name}, ligne {line} : {french} ; rien n'a été importé.")


def _decode(path: Path, raw: bytes, line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(path, line, f"not UTF-8 text (byte {exc.start + 1})",
                      f"texte non UTF-8 (octet {exc.start + 1})") from exc


def _column_indexes(path: Path, header_line: str) -> tuple[dict[str, int], int]:
    names = header_line.removeprefix("\ufeff").rstrip("\r\n").split("|")
    missing = [name for name in _USED.values() if name not in names]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:3])
        raise _refuse(path, 1, f"not an Annuaire Santé extract header (missing columns {shown})",
                      f"en-tête d'extraction Annuaire Santé attendu (colonnes absentes : "
                      f"{shown})")
    return {key: names.index(name) for key, name in _USED.items()}, len(names)


def _address(recipient: str, place_detail: str, number: str, repeat: str, street_type: str,
             street: str, distribution: str, cedex: str, postal: str, city: str,
             abroad_country: str) -> str:
    """The site's address on one line, as on an envelope."""
    street_line = " ".join([p for p in (number, repeat, street_type, street) if p])
    city_line = cedex or (f"{postal} {city}" if postal else city)
    if abroad_country:
        city_line = f"{city_line}, {abroad_country}" if city_line else abroad_country
    return ", ".join([p for p in (recipient, place_detail, street_line, distribution,
                                  city_line) if p])


def _search_text(last: str, first: str) -> str:
    text = f"{last} {first}"
    return text.lower() if text.isascii() else fold(text)


class _Batch:
    """Rows for the next executemany, and how far into the file they reach."""

    def __init__(self) -> None:
        self.practitioners: dict[str, tuple[Any, ...]] = {}
        self.activities: list[tuple[Any, ...]] = []
        self.bytes_read = 0
        self.rows_so_far = 0

    def write(self, session: Session) -> None:
        connection = session.connection()
        if self.practitioners:
            connection.exec_driver_sql(_PRACTITIONER_UPSERT, list(self.practitioners.values()))
        if self.activities:
            connection.exec_driver_sql(_ACTIVITY_INSERT, self.activities)


_END = object()


def _prefetched(batches: Iterator[_Batch], depth: int = 2) -> Iterator[_Batch]:
    """`batches` computed on a thread, at most `depth` ahead of the consumer.

    The driver releases the GIL while SQLite writes a batch, so the next one is parsed
    meanwhile. An error while parsing is raised here, in the consumer's thread.
    """
    queue: Queue[object] = Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, never lost
            put(exc)

    thread = threading.Thread(target=produce, name="directory-import-parser", daemon=True)
    thread.start()
    try:
        while (item := queue.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, _Batch)
            yield item
    finally:
        stop.set()
        thread.join()


def import_extract(session: Session, *, path: Path, actor: str,
                   progress: ProgressCallback | None = None) -> ImportReport:
    """Import one extract file in the caller's transaction; InputError if malformed."""
    gazetteer = Gazetteer.load(session)
    started = DirectoryImport(file_name=path.name[:260], actor=actor)
    session.add(started)
    session.flush()
    import_id = started.id
    assert import_id is not None
    had_activities = session.connection().exec_driver_sql(
        "SELECT EXISTS (SELECT 1 FROM practitioner_activity)").scalar()
    report = ImportReport(file_name=path.name)
    codes: dict[tuple[str, str], str] = {}
    total = path.stat().st_size
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror}.",
                         f"Impossible de lire {path} : {exc.strerror}.") from exc
    with handle:
        header = handle.readline()
        ix, width = _column_indexes(path, _decode(path, header, 1))
        parsed = _parse_batches(path, handle, ix, width, import_id, gazetteer, codes, report,
                                len(header))
        for batch in _prefetched(parsed):
            batch.write(session)
            if progress is not None:
                progress(ImportProgress(path.name, batch.bytes_read, total, batch.rows_so_far))
    if had_activities:
        # The file lists these practitioners' sites afresh: their older sites go.
        session.connection().exec_driver_sql(
            "DELETE FROM practitioner_activity WHERE import_id < ? AND practitioner_id IN "
            "(SELECT id FROM practitioner WHERE import_id = ?)", (import_id, import_id))
    deactivated = session.connection().exec_driver_sql(
        "UPDATE practitioner SET active = 0 WHERE import_id < ? AND active", (import_id,))
    report.deactivated = deactivated.rowcount
    report.practitioners = int(session.connection().exec_driver_sql(
        "SELECT count(*) FROM practitioner WHERE import_id = ?", (import_id,)).scalar() or 0)
    if codes:
        session.connection().exec_driver_sql(
            _CODE_UPSERT, [(kind, code, label, fold(label)) for (kind, code), label
                           in sorted(codes.items())])
    counts = {k: v for k, v in report.as_dict().items() if k != "file_name"}
    session.execute(update(DirectoryImport).where(DirectoryImport.id == import_id)  # type: ignore[arg-type]
                    .values(**counts))
    log_change(session, Change(actor, "directory_import", str(import_id), "import",
                               {"file": path.name, **counts}))
    return report


# The fields one row gives, in this order (one itemgetter call per row).
_ROW_FIELDS = ("id_type", "identifier", "national_id", "civility", "last_name", "first_name",
               "profession", "profession_label", "specialty", "specialty_label", "mode",
               "finess", "company", "sign", "recipient", "place_detail", "number", "repeat",
               "street_type", "street", "distribution", "cedex", "postal", "commune", "city",
               "country_code", "country", "phone", "phone2", "email")


def _parse_batches(path: Path, handle: BinaryIO, ix: dict[str, int], width: int,
                   import_id: int, gazetteer: Gazetteer, codes: dict[tuple[str, str], str],
                   report: ImportReport, bytes_read: int) -> Iterator[_Batch]:
    """The file's rows, checked and normalised, BATCH_ROWS at a time; counts in `report`."""
    batch = _Batch()
    place = gazetteer.place
    fields_of = itemgetter(*(ix[name] for name in _ROW_FIELDS))
    for line_no, raw in enumerate(handle, start=2):
        bytes_read += len(raw)
        text = _decode(path, raw, line_no).rstrip("\r\n")
        if not text:
            continue
        f = text.split("|")
        if len(f) != width:
            raise _refuse(path, line_no, f"{len(f) - 1} fields where the header has "
                          f"{width - 1}", f"{len(f) - 1} champs au lieu de {width - 1}")
        (id_type, identifier, national_id, civility, last, first, profession,
         profession_label, specialty, specialty_label, mode, finess, company, sign,
         recipient, place_detail, number, repeat, street_type, street, distribution, cedex,
         postal, commune, city, country_code, country, raw_phone, raw_phone2,
         email) = fields_of(f)
        if not national_id or not profession:
            raise _refuse(path, line_no, "no national identifier or profession code",
                          "identifiant national ou code profession absent")
        if national_id not in batch.practitioners:
            valid = id_type != "8" or is_valid_rpps(identifier)
            if not valid:
                report.invalid_rpps += 1
            batch.practitioners[national_id] = (
                national_id, id_type, identifier, valid, civility, last, first,
                _search_text(last, first), import_id)
        abroad = country_code not in FRANCE_COUNTRY_CODES
        place_insee = place(commune, postal, cedex, city, country_code)
        if place_insee is not None:
            report.placed_rows += 1
        elif abroad:
            report.abroad_rows += 1
        else:
            report.unplaced_rows += 1
        phone, phone2, unparsed = _phones(raw_phone, raw_phone2, postal)
        if unparsed:
            report.unparsed_phones += 1
        if ("profession", profession) not in codes:
            codes["profession", profession] = profession_label or profession
        if specialty and ("specialty", specialty) not in codes:
            codes["specialty", specialty] = specialty_label or specialty
        batch.activities.append((
            national_id, import_id, profession, specialty, mode, company or sign,
            _address(recipient, place_detail, number, repeat, street_type, street,
                     distribution, cedex, postal, city, country if abroad else ""),
            postal, commune, city or cedex, country_code, country, place_insee or "",
            phone, phone2, unparsed, email, finess))
        report.rows += 1
        if len(batch.activities) >= BATCH_ROWS:
            batch.bytes_read, batch.rows_so_far = bytes_read, report.rows
            yield batch
            batch = _Batch()
    batch.bytes_read, batch.rows_so_far = bytes_read, report.rows
    yield batch


def _phones(raw1: str, raw2: str, postal: str) -> tuple[str, str, str]:
    """Phone and second phone as E.164 ('' if none); what could not be read, as found."""
    if not raw1 and not raw2:
        return "", "", ""
    region = region_for_postal(postal) if postal else "FR"
    phone = (normalise_phone(raw1, region) or "") if raw1 else ""
    phone2 = (normalise_phone(raw2, region) or "") if raw2 else ""
    bad = [raw for raw, e164 in ((raw1, phone), (raw2, phone2)) if raw and not e164]
    return phone or phone2, phone2 if phone else "", " / ".join(bad)[:60]
