"""The import's fast paths give what the plain, slow ways give (hypothesis)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from carehub.directory.extract_parse import (
    EXTRACT_COLUMNS,
    _address,
    _parse_batches,
    blocks,
    column_indexes,
)
from carehub.directory.extract_phones import normalise_phone
from carehub.directory.places import Gazetteer
from carehub.errors import InputError
from carehub.identifiers import is_valid_rpps, luhn_ok
from carehub.phones import parse_phone


def plain_luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


@given(st.text("0123456789", min_size=1, max_size=14))
def test_luhn_agrees_with_the_digit_by_digit_rule(digits: str) -> None:
    assert luhn_ok(digits) == plain_luhn(digits)


@pytest.mark.parametrize("value", ["", "1000000001a", "١٢٣٤", "10000000017 "])
def test_luhn_refuses_what_is_not_ascii_digits(value: str) -> None:
    assert not luhn_ok(value)


def full_parse(raw: str) -> str | None:
    try:
        return parse_phone(raw, region="FR").e164
    except InputError:
        return None


def pairs(number: str, separator: str) -> str:
    return separator.join(number[i:i + 2] for i in range(0, 10, 2))


LAYOUTS = st.sampled_from(["bare", " ", ".", "-", "+33", "+33 "])


def laid_out(number: str, layout: str) -> str:
    if layout == "bare":
        return number
    if layout.startswith("+33"):
        return "+33" + (f" {number[1]} " + pairs(number, " ")[3:] if layout == "+33 "
                        else number[1:])
    return pairs(number, layout)


@settings(max_examples=300, deadline=None)
@given(st.text("0123456789", min_size=9, max_size=9), LAYOUTS)
def test_french_numbers_however_laid_out_read_as_phonenumbers_reads_them(
        national: str, layout: str) -> None:
    raw = laid_out("0" + national, layout)
    assert normalise_phone(raw) == full_parse(raw)


def split_lines(data: bytes, size: int) -> list[tuple[int, str]]:
    import carehub.directory.extract_parse as parse
    saved, parse.READ_BYTES = parse.READ_BYTES, size
    try:
        return [(first + offset, line)
                for lines, first, _read in blocks(Path("x.txt"), io.BytesIO(data), line_no=2,
                                                   bytes_read=0)
                for offset, line in enumerate(lines)]
    finally:
        parse.READ_BYTES = saved


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
                        max_size=30), max_size=12),
       st.integers(1, 40), st.booleans(), st.booleans())
def test_lines_read_a_block_at_a_time_are_the_files_lines_with_their_numbers(
        lines: list[str], size: int, crlf: bool, last_end: bool) -> None:
    end = "\r\n" if crlf else "\n"
    text = end.join(lines) + (end if last_end and lines else "")
    expected = text.split(end) if text else []
    if text.endswith(end):
        expected.pop()
    assert split_lines(text.encode(), size) == list(enumerate(expected, start=2))


def test_a_bad_byte_is_refused_with_its_line_whichever_block_it_falls_in() -> None:
    data = "é|a\nb|c\nd|".encode() + b"\xe9\n"  # latin-1 é on the file's 4th line
    for size in (1, 3, 5, 64):
        with pytest.raises(InputError, match=r"x.txt, line 4: not UTF-8 text \(byte 3\)"):
            split_lines(data, size)


@given(st.text("0123456789", min_size=11, max_size=11))
def test_an_rpps_check_agrees_with_the_digit_by_digit_rule(digits: str) -> None:
    assert is_valid_rpps(digits) == plain_luhn(digits)


@pytest.mark.parametrize("value", ["", "1000000001", "100000000017", "1000000001a",
                                   "١٠٠٠٠٠٠٠٠١٧"])
def test_an_rpps_is_eleven_ascii_digits(value: str) -> None:
    assert not is_valid_rpps(value)


# Each part of a site's address, present or not; the rare ones mostly absent.
ADDRESS_PARTS = st.tuples(*(st.sampled_from(["", value] if common else ["", "", "", value])
                            for value, common in (
    ("CABINET", False), ("BAT A", False), ("12", True), ("bis", False), ("Rue", True),
    ("DE LA GARE", True), ("BP 12", False), ("41000 BLOIS CEDEX", False), ("41350", True),
    ("ST GERVAIS", True), ("99132", False))))


@settings(max_examples=300, deadline=None)
@given(ADDRESS_PARTS)
@example(("", "", "12", "", "Rue", "DE LA GARE", "", "", "41350", "ST GERVAIS", ""))
def test_the_address_a_parsed_row_gets_is_the_envelope_address(parts: tuple[str, ...]) -> None:
    """The parser's shortcut for plain addresses gives what _address gives for any row."""
    (recipient, place_detail, number, repeat, street_type, street, distribution, cedex,
     postal, city, country_code) = parts
    row = dict.fromkeys(EXTRACT_COLUMNS, "")
    row.update({"Identification nationale PP": "810000000017", "Code profession": "10",
                "Complément destinataire (coord. structure)": recipient,
                "Complément point géographique (coord. structure)": place_detail,
                "Numéro Voie (coord. structure)": number,
                "Indice répétition voie (coord. structure)": repeat,
                "Libellé type de voie (coord. structure)": street_type,
                "Libellé Voie (coord. structure)": street,
                "Mention distribution (coord. structure)": distribution,
                "Bureau cedex (coord. structure)": cedex,
                "Code postal (coord. structure)": postal,
                "Libellé commune (coord. structure)": city,
                "Code pays (coord. structure)": country_code,
                "Libellé pays (coord. structure)": "Royaume-Uni" if country_code else ""})
    path = Path("x.txt")
    ix, width = column_indexes(path, "|".join(EXTRACT_COLUMNS) + "|")
    line = "|".join(row.values()) + "|"
    (batch,) = _parse_batches(path, iter([([line], 2, len(line))]), ix, width,
                              Gazetteer.from_rows([]), 0)
    abroad = "Royaume-Uni" if country_code else ""
    assert batch.activities[0][2] == _address(recipient, place_detail, number, repeat,
                                              street_type, street, distribution, cedex,
                                              postal, city, abroad)
