"""National identifiers (DOMAIN.md §3): INS/NIR, RPPS, ADELI, FINESS."""

from __future__ import annotations

import re

from carehub.errors import InputError

INS_SYSTEMS = {
    "urn:oid:1.2.250.1.213.1.4.8": "nir",
    "urn:oid:1.2.250.1.213.1.4.9": "nia",
    "urn:oid:1.2.250.1.213.1.4.10": "test",
    "urn:oid:1.2.250.1.213.1.4.11": "demo",
}
INS_SYSTEM_BY_KIND = {kind: system for system, kind in INS_SYSTEMS.items()}
IDNPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"

_INS_SHAPE = re.compile(r"^[12378][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{8}$")


def _ins_number(first13: str) -> int:
    # Corsica: 2A counts as 19 and 2B as 18 in the key computation.
    return int(first13.replace("2A", "19").replace("2B", "18"))


def ins_key(first13: str) -> int:
    """The two-digit control key of the first 13 characters of an INS."""
    return 97 - _ins_number(first13.upper()) % 97


def normalize_ins(raw: str) -> str:
    """Strip spaces and dots and upper-case; no validation."""
    return re.sub(r"[\s.\-]", "", raw).upper()


def ins_problem(raw: str) -> str | None:
    """Why `raw` is not a valid INS (English), or None when it is."""
    value = normalize_ins(raw)
    if len(value) != 15:
        return f"an INS has 15 characters, got {len(value)}"
    if not _INS_SHAPE.match(value):
        return "an INS is 15 digits (2A/2B allowed for Corsica)"
    if int(value[13:]) != ins_key(value[:13]):
        return f"wrong INS key: expected {ins_key(value[:13]):02d}, got {value[13:]}"
    return None


def validate_ins(raw: str) -> str:
    """The normalised INS, or InputError saying what is wrong with it."""
    problem = ins_problem(raw)
    if problem is not None:
        raise InputError(f"Invalid INS {raw!r}: {problem}.", _ins_problem_fr(raw))
    return normalize_ins(raw)


def _ins_problem_fr(raw: str) -> str:
    value = normalize_ins(raw)
    if len(value) != 15:
        return f"L'INS doit comporter 15 caractères ({len(value)} saisis)."
    if not _INS_SHAPE.match(value):
        return "L'INS comporte 15 chiffres (2A/2B acceptés pour la Corse)."
    return f"Clé INS incorrecte : {ins_key(value[:13]):02d} attendue, {value[13:]} saisie."


def ins_problem_fr(raw: str) -> str | None:
    """French wording of `ins_problem`, for the forms."""
    return None if ins_problem(raw) is None else _ins_problem_fr(raw)


# A digit doubled, its two digits added up (Luhn): 7 -> 14 -> 5.
_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")


def luhn_ok(digits: str) -> bool:
    """Luhn checksum, as RPPS numbers carry.

    Every second digit from the right is doubled by a translation table and all the digits
    are summed as bytes, so a million RPPS are checked without a Python loop per digit.
    """
    if not (digits.isascii() and digits.isdigit()):
        return False
    mixed = (digits[-1::-2] + digits[-2::-2].translate(_LUHN_DOUBLED)).encode("ascii")
    return (sum(mixed) - 48 * len(mixed)) % 10 == 0


def is_valid_rpps(value: str) -> bool:
    """An 11-digit RPPS with its Luhn key: luhn_ok with the eleven digits' parity known
    (the left-most is not doubled), a third faster for the import's half a million."""
    if len(value) != 11 or not (value.isascii() and value.isdigit()):
        return False
    mixed = (value[::2] + value[1::2].translate(_LUHN_DOUBLED)).encode("ascii")
    return (sum(mixed) - 48 * 11) % 10 == 0


def is_valid_finess(value: str) -> bool:
    return re.fullmatch(r"[0-9][0-9AB][0-9]{7}", value) is not None
