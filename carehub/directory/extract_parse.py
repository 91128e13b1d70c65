"""Parsing of the Annuaire Santé extract `PS_LibreAcces_Personne_activite.txt` (DOMAIN.md §4).

The file is read a MiB at a time, decoded and split in one go, and its rows checked and
normalised into batches ready for executemany. Nothing here touches the database (nor
imports SQLAlchemy), so the parsing can run in a child process of its own, started in a
fraction of a second, while the importer writes (see extract_import and carehub.childproc).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO

from carehub.childproc import serve
from carehub.directory.extract_phones import (
    BARE_VALID,
    OVERSEAS_REGIONS,
    normalise_phone,
    region_for_postal,
)
from carehub.directory.places import FRANCE_COUNTRY_CODES, Gazetteer
from carehub.errors import InputError
from carehub.identifiers import is_valid_rpps
from carehub.text import fold

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
READ_BYTES = 1 << 20  # decoded and split a MiB at a time


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


def open_file(path: Path) -> BinaryIO:
    """The file opened for reading, or InputError saying why it cannot be."""
    try:
        return path.open("rb")
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror}.",
                         f"Impossible de lire {path} : {exc.strerror}.") from exc


def refuse(path: Path, line: int, english: str, french: str) -> InputError:
    return InputError(f"{path.name}, line {line}: {english}; nothing was imported.",
                      f"{path.name}, ligne {line} : {french} ; rien n'a été importé.")


def column_indexes(path: Path, header_line: str) -> tuple[dict[str, int], int]:
    names = header_line.removeprefix("\ufeff").rstrip("\r\n").split("|")
    missing = [name for name in _USED.values() if name not in names]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:3])
        raise refuse(path, 1, f"not an Annuaire Santé extract header (missing columns {shown})",
                      f"en-tête d'extraction Annuaire Santé attendu (colonnes absentes : "
                      f"{shown})")
    return {key: names.index(name) for key, name in _USED.items()}, len(names)


def _address(recipient: str, place_detail: str, number: str, repeat: str, street_type: str,
             street: str, distribution: str, cedex: str, postal: str, city: str,
             abroad_country: str) -> str:
    """The site's address on one line, as on an envelope."""
    if repeat or not (number and street_type and street):
        street_line = " ".join([p for p in (number, repeat, street_type, street) if p])
    else:  # most rows: 12 Rue DE LA GARE
        street_line = f"{number} {street_type} {street}"
    city_line = cedex or (f"{postal} {city}" if postal else city)
    if abroad_country:
        city_line = f"{city_line}, {abroad_country}" if city_line else abroad_country
    if recipient or place_detail or distribution or not (street_line and city_line):
        return ", ".join([p for p in (recipient, place_detail, street_line, distribution,
                                      city_line) if p])
    return f"{street_line}, {city_line}"


@lru_cache(maxsize=65536)
def _folded_name(name: str) -> str:
    return name.lower() if name.isascii() else fold(name)


@dataclass
class Batch:
    """Rows for the next executemany, what they counted, and how far into the file they reach.

    Parsing writes nothing but batches, so it can run on another thread than the writer.
    """

    practitioners: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    activities: list[tuple[Any, ...]] = field(default_factory=list)
    codes: dict[tuple[str, str], str] = field(default_factory=dict)  # first seen here
    placed: int = 0
    abroad: int = 0
    unplaced: int = 0
    unparsed_phones: int = 0
    bytes_read: int = 0
    rows_so_far: int = 0


@dataclass(frozen=True)
class ParseSetup:
    """What parsing needs, picklable for a child process."""

    path: str
    header_bytes: int
    ix: dict[str, int]
    width: int
    communes: list[tuple[str, str, str, str]]


def parse_file(setup: ParseSetup) -> Iterator[Batch]:
    path = Path(setup.path)
    gazetteer = Gazetteer.from_rows(setup.communes)
    with path.open("rb") as handle:
        handle.seek(setup.header_bytes)
        lines = blocks(path, handle, line_no=2, bytes_read=setup.header_bytes)
        yield from _parse_batches(path, lines, setup.ix, setup.width, gazetteer,
                                  setup.header_bytes)


def parser_main() -> None:
    """Entry point of the parsing child process (see carehub.childproc)."""
    serve(parse_file)


def decode(path: Path, raw: bytes, line: int) -> str:
    """`raw`, lines of the file from `line` on, as text; refused at the first bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        bad_line = line + raw.count(b"\n", 0, exc.start)
        byte = exc.start - line_start + 1
        raise refuse(path, bad_line, f"not UTF-8 text (byte {byte})",
                      f"texte non UTF-8 (octet {byte})") from exc


def blocks(path: Path, handle: BinaryIO, *, line_no: int,
            bytes_read: int) -> Iterator[tuple[list[str], int, int]]:
    """The file's lines READ_BYTES at a time: (lines, number of the first, bytes so far).

    Decoding a block at once costs far less than a line at a time; a block ends at a line
    end, so a character is never cut in two.
    """
    rest = b""
    while chunk := handle.read(READ_BYTES):
        data = rest + chunk if rest else chunk
        end = data.rfind(b"\n") + 1
        if not end:
            rest = data
            continue
        block, rest = data[:end], data[end:]
        bytes_read += end
        text = decode(path, block, line_no)
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        lines.pop()  # the empty string after the last line end
        yield lines, line_no, bytes_read
        line_no += len(lines)
    if rest:
        yield [decode(path, rest, line_no).removesuffix("\r")], line_no, bytes_read + len(rest)


# The fields one row gives, in this order (one itemgetter call per row).
_ROW_FIELDS = ("id_type", "identifier", "national_id", "civility", "last_name", "first_name",
               "profession", "profession_label", "specialty", "specialty_label", "mode",
               "finess", "company", "sign", "recipient", "place_detail", "number", "repeat",
               "street_type", "street", "distribution", "cedex", "postal", "commune", "city",
               "country_code", "country", "phone", "phone2", "email")


def _parse_batches(path: Path, blocks: Iterator[tuple[list[str], int, int]],
                   ix: dict[str, int], width: int, gazetteer: Gazetteer,
                   bytes_read: int) -> Iterator[Batch]:
    """The file's rows, checked and normalised, about BATCH_ROWS at a time.

    The import's hottest loop (a million turns): the common cases (a commune code
    known, ten bare digits, a plain street address) take no function call.
    """
    fields_of = itemgetter(*(ix[name] for name in _ROW_FIELDS))
    communes, place, bare_valid = gazetteer.insee_codes, gazetteer.place, BARE_VALID.fullmatch
    france, overseas, folded_name = FRANCE_COUNTRY_CODES, OVERSEAS_REGIONS, _folded_name
    seen_professions: set[str] = set()
    seen_specialties: set[str] = set()
    done = 0  # rows in the batches already handed over
    batch = Batch()
    practitioners, activities, codes = batch.practitioners, batch.activities, batch.codes
    placed = abroad_rows = unplaced = unparsed_phones = 0
    for lines, first_line, bytes_read in blocks:
        append = activities.append
        for line_no, text in enumerate(lines, start=first_line):
            f = text.split("|")
            if len(f) != width:
                if not text:
                    continue
                raise refuse(path, line_no, f"{len(f) - 1} fields where the header has "
                              f"{width - 1}", f"{len(f) - 1} champs au lieu de {width - 1}")
            (id_type, identifier, national_id, civility, last, first, profession,
             profession_label, specialty, specialty_label, mode, finess, company, sign,
             recipient, place_detail, number, repeat, street_type, street, distribution,
             cedex, postal, commune, city, country_code, country, raw_phone, raw_phone2,
             email) = fields_of(f)
            if not national_id or not profession:
                raise refuse(path, line_no, "no national identifier or profession code",
                              "identifiant national ou code profession absent")
            if national_id not in practitioners:
                practitioners[national_id] = (
                    national_id, id_type, identifier,
                    id_type != "8" or is_valid_rpps(identifier), civility, last, first,
                    f"{folded_name(last)} {folded_name(first)}")  # folded once per name
            if country_code in france:
                abroad_country = ""
                if commune in communes:
                    place_insee = commune
                    placed += 1
                elif place_insee := place(commune, postal, cedex, city, country_code) or "":
                    placed += 1
                else:
                    unplaced += 1
            else:
                abroad_country, place_insee = country, ""
                abroad_rows += 1
            if raw_phone2 or not raw_phone:
                if raw_phone or raw_phone2:
                    phone, phone2, unparsed = _phones(raw_phone, raw_phone2, postal)
                    if unparsed:
                        unparsed_phones += 1
                else:
                    phone = phone2 = unparsed = ""
            elif postal[:3] not in overseas and bare_valid(raw_phone) is not None:
                phone, phone2, unparsed = "+33" + raw_phone[1:], "", ""  # most rows
            else:
                phone, phone2, unparsed = _phones(raw_phone, raw_phone2, postal)
                if unparsed:
                    unparsed_phones += 1
            if profession not in seen_professions:
                seen_professions.add(profession)
                codes["profession", profession] = profession_label or profession
            if specialty and specialty not in seen_specialties:
                seen_specialties.add(specialty)
                codes["specialty", specialty] = specialty_label or specialty
            if (number and street_type and street and postal and not (
                    repeat or recipient or place_detail or distribution or cedex
                    or abroad_country)):
                address = f"{number} {street_type} {street}, {postal} {city}"  # most rows
            else:
                address = _address(recipient, place_detail, number, repeat, street_type,
                                   street, distribution, cedex, postal, city, abroad_country)
            append((national_id, profession, address, specialty, mode, company or sign,
                    postal, commune, city or cedex, country_code, country, place_insee,
                    phone, phone2, unparsed, email, finess))
        if len(activities) >= BATCH_ROWS:
            done += len(activities)
            batch.placed, batch.abroad, batch.unplaced = placed, abroad_rows, unplaced
            batch.unparsed_phones, batch.bytes_read, batch.rows_so_far = (
                unparsed_phones, bytes_read, done)
            yield batch
            batch = Batch()
            practitioners, activities, codes = batch.practitioners, batch.activities, batch.codes
            placed = abroad_rows = unplaced = unparsed_phones = 0
    batch.placed, batch.abroad, batch.unplaced = placed, abroad_rows, unplaced
    batch.unparsed_phones, batch.bytes_read, batch.rows_so_far = (
        unparsed_phones, bytes_read, done + len(activities))
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
