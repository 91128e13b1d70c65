"""French display helpers for widgets: dates dd/mm/yyyy, phones 06 12 34 56 78, hours."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time

from carehub.phones import format_phone, tel_uri

__all__ = ["format_phone", "tel_uri"]

_DATE_FORMATS = ("%d/%m/%Y", "%d%m%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d")


def format_date(value: date | None, *, empty: str = "—") -> str:
    return value.strftime("%d/%m/%Y") if value else empty


def parse_date_fr(text: str) -> date | None:
    """A date typed the French way (02/03/1950, 02031950, 2/3/1950), else None."""
    cleaned = text.strip()
    match = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", cleaned)
    if match:
        cleaned = "/".join(match.groups())
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, pattern).date()
        except ValueError:
            continue
    return None


def format_time(value: time | None) -> str:
    """'9 h', '18 h 30': how French speakers write hours."""
    if value is None:
        return ""
    return f"{value.hour} h" if value.minute == 0 else f"{value.hour} h {value.minute:02d}"


def age_text(years: int) -> str:
    return f"{years} an" if years < 2 else f"{years} ans"


def phone_link(e164: str, text: str | None = None) -> str:
    """Rich text for a QLabel: the number shown the French way, a tel: link behind it."""
    return (f'<a href="{html.escape(tel_uri(e164))}">'
            f"{html.escape(text or format_phone(e164))}</a>")


def esc(text: str | None) -> str:
    return html.escape(text or "")


CSV_BOM = "\ufeff"


def french_csv(rows: Iterable[Sequence[object]]) -> bytes:
    """Rows as a French spreadsheet reads them: UTF-8 with BOM, `;` between cells, CRLF.
    Cells are written as given (format dates dd/mm/yyyy before)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerows(rows)
    return (CSV_BOM + out.getvalue()).encode("utf-8")
