"""Dates as people say them: French date and date-time phrases read against a clock.

"09/12 10h", "9/12/26 10:00", "demain 14h", "après-demain", "lundi", "+3j", "J+3",
"dans 2 semaines", "dans 3 mois", "mars 2025", "14h30", "dans 2 heures"… are read against
an explicit reference (the app's clock: `today` or `now`, naive local) into a `date` or a
naive local `datetime`, with a full French rendering ("mercredi 9 décembre 2026 à 10:00").
What cannot be read raises `DateInputError` with a French message the field shows and an
English one for the command line. Where a phrase leaves the year or the week open
("09/12", "lundi", "mars"), the field says which way it looks (`lean`): a call-back looks
ahead, an act already done looks back, a period takes the nearest.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from carehub.errors import InputError
from carehub.text import fold

Lean = Literal["future", "past", "nearest"]
MonthDay = Literal["start", "end"]  # which day a month alone ("mars 2025") stands for

DAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
             "septembre", "octobre", "novembre", "décembre")
EARLIEST_YEAR, LATEST_YEAR = 1900, 2199
EXAMPLES_FR = "09/12/2026 10:00, demain 14h, lundi, +3j, dans 2 semaines"

_WEEKDAYS = {fold(name): index for index, name in enumerate(DAYS_FR)}
_WEEKDAYS.update({fold(name)[:3]: index for index, name in enumerate(DAYS_FR)})
_MONTHS = {fold(name): index + 1 for index, name in enumerate(MONTHS_FR)}
_MONTHS.update({"jan": 1, "janv": 1, "fev": 2, "fevr": 2, "avr": 4, "juil": 7, "sep": 9,
                "sept": 9, "oct": 10, "nov": 11, "dec": 12})
_NUMBERS = {"un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6,
            "sept": 7, "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12,
            "quinze": 15, "vingt": 20, "trente": 30}
_UNITS = {"j": "d", "jr": "d", "jrs": "d", "jour": "d", "jours": "d",
          "s": "w", "sem": "w", "semaine": "w", "semaines": "w",
          "m": "m", "mois": "m", "a": "y", "an": "y", "ans": "y", "annee": "y", "annees": "y",
          "h": "h", "heure": "h", "heures": "h",
          "min": "min", "mn": "min", "minute": "min", "minutes": "min"}
_SAID_DAYS = {"ce": 0, "cet": 0,  # "ce matin", "ce soir": today's
              "aujourd'hui": 0, "aujourdhui": 0, "auj": 0, "ce jour": 0, "demain": 1,
              "apres-demain": 2, "apres demain": 2, "apresdemain": 2, "hier": -1,
              "avant-hier": -2, "avant hier": -2, "avanthier": -2}

# "demain matin", "lundi après-midi", "ce soir": the hour a nurse would take for them.
_SAID_HOURS = {"midi": time(12, 0), "minuit": time(0, 0), "matin": time(9, 0),
               "apres-midi": time(14, 0), "apres midi": time(14, 0), "aprem": time(14, 0),
               "soir": time(18, 0)}

_NUMBER = r"\d{1,4}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True))
_UNIT = "|".join(sorted(_UNITS, key=len, reverse=True))
_RELATIVE = re.compile(
    rf"(?:(?P<ahead>dans|d'ici)\s+|(?P<ago>il y a)\s+|(?P<sign>[+-])\s*|j\s*(?P<jsign>[+-])\s*)"
    rf"(?P<n>{_NUMBER})\s*(?P<unit>{_UNIT})?")
_TIME = r"(?:(?P<h>\d{1,2})\s*(?:h|heures?)\s*(?P<m>\d{1,2})?|(?P<h2>\d{1,2}):(?P<m2>\d{2})" \
        r"|(?P<noon>midi|minuit|matin|apres-midi|apres midi|aprem|soir))"
_TIME_LAST = re.compile(rf"(?:^|(?<=[\s,]))(?:(?:a|vers|pour)\s+)?{_TIME}$")
_TIME_FIRST = re.compile(rf"^{_TIME}(?=[\s,]|$)")
_NUMERIC = re.compile(r"(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})(?:[/.-](?P<y>\d{2}|\d{4}))?")
_ISO = re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})")
_COMPACT = re.compile(r"(?P<d>\d{2})(?P<m>\d{2})(?P<y>\d{4})")
_MONTH_YEAR = re.compile(r"(?P<m>\d{1,2})[/.-](?P<y>\d{4})")
_WORDS = re.compile(
    r"(?:(?P<d>\d{1,2}|1er|premier)\s+)?(?P<month>[a-z]+)(?:\s+(?P<y>\d{4}|\d{2}))?")
_WEEKDAY = re.compile(
    r"(?P<day>[a-z]+)(?:\s+(?P<which>prochain|prochaine|suivant|dernier|derniere))?")
_BARE_DAY = re.compile(r"(?P<d>\d{1,2}|1er|premier)")


class DateInputError(InputError):
    """A date or a time that cannot be read as typed (nothing was taken from it)."""


@dataclass(frozen=True)
class DateReading:
    """A date read from a phrase; `month_only` when only a month was said ("mars 2025")."""

    day: date
    month_only: bool = False

    def text_fr(self) -> str:
        """'mercredi 9 décembre 2026', or 'mars 2025 (samedi 1er mars 2025)'."""
        if self.month_only:
            return f"{month_fr(self.day)} ({date_fr(self.day)})"
        return date_fr(self.day)


@dataclass(frozen=True)
class _Said:
    """What a phrase said: a day (or a month), an hour, or a moment from now."""

    day: date | None = None
    month_only: bool = False
    at: time | None = None
    moment: datetime | None = None  # "maintenant", "dans 2 heures"


# ------------------------------------------------------------------------------ rendering


def date_fr(day: date) -> str:
    """'mercredi 9 décembre 2026', 'samedi 1er mars 2025'."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"{DAYS_FR[day.weekday()]} {number} {MONTHS_FR[day.month - 1]} {day.year}"


def datetime_fr(moment: datetime) -> str:
    """'mercredi 9 décembre 2026 à 10:00'."""
    return f"{date_fr(moment.date())} à {moment:%H:%M}"


def month_fr(day: date) -> str:
    """'mars 2025'."""
    return f"{MONTHS_FR[day.month - 1]} {day.year}"


def short_date(day: date) -> str:
    """'09/12/2026', the form a field shows once a date is taken."""
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def short_datetime(moment: datetime) -> str:
    """'09/12/2026 10:00'."""
    return f"{short_date(moment.date())} {moment:%H:%M}"


# ------------------------------------------------------------------------------ reading


def read_date(text: str, *, today: date, lean: Lean = "nearest",
              month: MonthDay | None = None) -> DateReading:
    """The day `text` says, seen from `today`; a month alone only where `month` says
    which of its days the field takes (its first for a start, its last for an end)."""
    said = _read(text, today=today, now=None, lean=lean)
    if said.at is not None or said.moment is not None:
        raise DateInputError(
            "a date without a time is expected here",
            "Ici, une date sans heure : par exemple « 09/12/2026 », « demain », « lundi ».")
    assert said.day is not None
    if said.month_only:
        if month is None:
            raise DateInputError(
                "give the day as well as the month",
                f"Précisez le jour : « {month_fr(said.day)} » ne suffit pas ici "
                f"(par exemple « 15/{said.day.month:02d}/{said.day.year} »).")
        if month == "end":
            last = calendar.monthrange(said.day.year, said.day.month)[1]
            return DateReading(said.day.replace(day=last), month_only=True)
        return DateReading(said.day, month_only=True)
    return DateReading(said.day)


def read_datetime(text: str, *, now: datetime, lean: Lean = "nearest",
                  default_time: time | None = None) -> datetime:
    """The moment `text` says, seen from `now` (naive local, to the minute). A day said
    without an hour takes `default_time`, or is refused when there is none; an hour
    said alone is today's, or the next (previous) one in a field that looks ahead (back)."""
    now = now.replace(second=0, microsecond=0, tzinfo=None)
    said = _read(text, today=now.date(), now=now, lean=lean)
    if said.moment is not None:
        return said.moment
    if said.day is None:
        assert said.at is not None
        moment = datetime.combine(now.date(), said.at)
        if lean == "future" and moment <= now:
            moment += timedelta(days=1)
        elif lean == "past" and moment > now:
            moment -= timedelta(days=1)
        return moment
    if said.month_only:
        raise DateInputError(
            "give the day and the time",
            f"Précisez le jour et l'heure : « {month_fr(said.day)} » ne suffit pas ici.")
    at = said.at if said.at is not None else default_time
    if at is None:
        raise DateInputError(
            "give the time as well (e.g. 'demain 14h')",
            f"Précisez l'heure : par exemple « {_short_day(said.day)} 14h » "
            f"ou « {short_date(said.day)} 10:00 ».")
    return datetime.combine(said.day, at)


def _short_day(day: date) -> str:
    return short_date(day)[:5]


def _read(text: str, *, today: date, now: datetime | None, lean: Lean) -> _Said:
    phrase = _normal(text)
    if not phrase:
        raise DateInputError(
            "no date given",
            f"Saisissez une date : par exemple {EXAMPLES_FR if now else _DATE_EXAMPLES}.")
    if phrase == "maintenant":
        return _Said(moment=_needs_time_field(now, text))
    relative = _RELATIVE.fullmatch(phrase)
    if relative and _UNITS.get(relative["unit"] or "j") in ("h", "min"):
        start = _needs_time_field(now, text)
        amount = _amount(relative)
        delta = (timedelta(hours=amount) if _UNITS[relative["unit"]] == "h"
                 else timedelta(minutes=amount))
        backwards = bool(relative["ago"]) or "-" in (relative["sign"], relative["jsign"])
        return _Said(moment=start - delta if backwards else start + delta)
    at, rest = _split_time(phrase)
    rest = _strip_words(rest)
    if not rest:
        if at is None:
            raise _unknown(text, now)
        return _Said(at=at)
    day, month_only = _read_day(rest, today=today, lean=lean, text=text, now=now)
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise DateInputError(f"year {day.year} is out of range",
                             f"L'année {day.year} n'est pas possible ici "
                             f"(de {EARLIEST_YEAR} à {LATEST_YEAR}).")
    return _Said(day=day, month_only=month_only, at=at)


_DATE_EXAMPLES = "09/12/2026, demain, lundi, +3j, dans 2 semaines, mars 2025"


def _normal(text: str) -> str:
    folded = fold(text).replace("’", "'").replace("`", "'")
    folded = re.sub(r"(?<=[a-z])\.", " ", folded)  # "déc." "lun."
    folded = re.sub(r"\s+", " ", folded).strip(" ,;")
    return folded


def _strip_words(rest: str) -> str:
    rest = rest.strip(" ,;")
    rest = re.sub(r"^(?:(?:le|au|du|a partir du|a compter du|jusqu'au)\s+|l')", "", rest)
    rest = re.sub(r"(?:^|\s+)(?:a|vers|pour)$", "", rest)
    return rest.strip(" ,;")


def _needs_time_field(now: datetime | None, text: str) -> datetime:
    if now is None:
        raise DateInputError(
            "a date without a time is expected here",
            f"Ici, une date sans heure : « {text.strip()} » donne une heure "
            f"(par exemple « demain », « +3j », « 09/12/2026 »).")
    return now


def _unknown(text: str, now: datetime | None) -> DateInputError:
    return DateInputError(
        f"'{text.strip()}' is not a date",
        f"« {text.strip()} » n'est pas une date reconnue. Par exemple : "
        f"{EXAMPLES_FR if now else _DATE_EXAMPLES}.")


def _split_time(phrase: str) -> tuple[time | None, str]:
    """The hour said at the end ('demain 14h', '9/12 à 10:00') or the start ('14h demain')."""
    for pattern in (_TIME_LAST, _TIME_FIRST):
        found = pattern.search(phrase)
        if found is None:
            continue
        rest = phrase[:found.start()] + " " + phrase[found.end():]
        return _time_of(found), rest.strip()
    return None, phrase


def _time_of(found: re.Match[str]) -> time:
    if found["noon"]:
        return _SAID_HOURS[found["noon"]]
    hour = int(found["h"] if found["h"] is not None else found["h2"])
    minute_text = found["m"] if found["h"] is not None else found["m2"]
    minute = int(minute_text) if minute_text else 0
    if hour > 23 or minute > 59:
        raise DateInputError(f"{hour}:{minute:02d} is not a time of day",
                             f"L'heure {hour}:{minute:02d} n'existe pas (de 0:00 à 23:59).")
    return time(hour, minute)


def _amount(found: re.Match[str]) -> int:
    number = found["n"]
    return _NUMBERS[number] if number in _NUMBERS else int(number)


def _read_day(rest: str, *, today: date, lean: Lean, text: str,
              now: datetime | None) -> tuple[date, bool]:
    if rest in _SAID_DAYS:
        return today + timedelta(days=_SAID_DAYS[rest]), False
    relative = _RELATIVE.fullmatch(rest)
    if relative:
        unit = _UNITS[relative["unit"]] if relative["unit"] else "d"
        amount = _amount(relative)
        if relative["unit"] is None and not (relative["sign"] or relative["jsign"]):
            raise DateInputError(
                "say in how many days, weeks or months",
                f"« {text.strip()} » : précisez l'unité (« dans 3 jours », "
                f"« dans 2 semaines », « dans 3 mois »).")
        backwards = bool(relative["ago"]) or "-" in (relative["sign"], relative["jsign"])
        return _shift(today, -amount if backwards else amount, unit), False
    weekday_first = re.match(r"([a-z]+)\s+(?=\d|1er|premier)", rest)
    if weekday_first and weekday_first[1] in _WEEKDAYS:  # "mercredi 9 décembre"
        day, month_only = _read_day(rest[weekday_first.end():], today=today, lean=lean,
                                    text=text, now=now)
        said = _WEEKDAYS[weekday_first[1]]
        if not month_only and day.weekday() != said:
            raise DateInputError(
                f"{short_date(day)} is not a {DAYS_FR[said]}",
                f"Le {short_date(day)} est un {DAYS_FR[day.weekday()]}, "
                f"pas un {DAYS_FR[said]}.")
        return day, month_only
    weekday = _WEEKDAY.fullmatch(rest)
    if weekday and weekday["day"] in _WEEKDAYS:
        which = weekday["which"]
        way: Lean = ("past" if which and which.startswith("dernier")
                     else "future" if which else lean)
        return _weekday(today, _WEEKDAYS[weekday["day"]], way), False
    for pattern in (_ISO, _COMPACT, _NUMERIC):
        found = pattern.fullmatch(rest)
        if found:
            return _day(found["y"], int(found["m"]), int(found["d"]), today=today, lean=lean,
                        text=text), False
    found = _MONTH_YEAR.fullmatch(rest)
    if found:
        return _month(int(found["m"]), found["y"], today=today, lean=lean, text=text), True
    found = _WORDS.fullmatch(rest)
    if found and found["month"] in _MONTHS:
        month = _MONTHS[found["month"]]
        if found["d"] is None:
            return _month(month, found["y"], today=today, lean=lean, text=text), True
        return _day(found["y"], month, _day_number(found["d"]), today=today, lean=lean,
                    text=text), False
    found = _BARE_DAY.fullmatch(rest)
    if found:  # "le 12": the 12th of this month, or of the next (previous) one
        return _day_of_month(_day_number(found["d"]), today=today, lean=lean, text=text), False
    raise _unknown(text, now)


def _day_number(text: str) -> int:
    return 1 if text in ("1er", "premier") else int(text)


def _shift(day: date, amount: int, unit: str) -> date:
    try:
        if unit == "d":
            return day + timedelta(days=amount)
        if unit == "w":
            return day + timedelta(weeks=amount)
    except OverflowError:
        raise _out_of_range() from None
    return add_months(day, amount * 12 if unit == "y" else amount)


def _out_of_range() -> DateInputError:
    return DateInputError("the date is out of range", "Cette date est hors limites.")


def add_months(day: date, months: int) -> date:
    """The same day `months` later (earlier), or the month's last day when it is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise _out_of_range()
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def _weekday(today: date, weekday: int, lean: Lean) -> date:
    ahead = (weekday - today.weekday()) % 7 or 7
    behind = (today.weekday() - weekday) % 7 or 7
    if lean == "future":
        return today + timedelta(days=ahead)
    if lean == "past":
        return today - timedelta(days=behind)
    if weekday == today.weekday():
        return today
    return today + timedelta(days=ahead) if ahead <= behind else today - timedelta(days=behind)


def _year_of(text: str, today: date) -> int:
    year = int(text)
    if len(text) == 4:
        return year
    return min((century + year for century in (1900, 2000, 2100)),
               key=lambda candidate: abs(candidate - today.year))


def _make(year: int, month: int, day: int, text: str) -> date:
    if not 1 <= month <= 12:
        raise DateInputError(f"there is no month {month}",
                             f"« {text.strip()} » : il n'y a pas de mois {month} "
                             f"(de 1 à 12).")
    try:
        return date(year, month, day)
    except ValueError:
        raise DateInputError(
            f"{day:02d}/{month:02d}/{year} does not exist",
            f"Le {day:02d}/{month:02d}/{year} n'existe pas.") from None


def _pick(candidates: list[date], *, today: date, lean: Lean) -> date:
    """Among the same day in the years (months) around, the one the field's lean wants."""
    if lean == "future":
        return min(c for c in candidates if c >= today)
    if lean == "past":
        return max(c for c in candidates if c <= today)
    return min(candidates, key=lambda c: (abs((c - today).days), c < today))


def _day(year_text: str | None, month: int, day: int, *, today: date, lean: Lean,
         text: str) -> date:
    if year_text is not None:
        return _make(_year_of(year_text, today), month, day, text)
    if 1 <= month <= 12 and not 1 <= day <= calendar.monthrange(2024, month)[1]:
        raise DateInputError(f"{day:02d}/{month:02d} does not exist",
                             f"Le {day:02d}/{month:02d} n'existe pas.")
    _make(2024, month, day, text)  # a leap year: only a day that never exists is refused
    candidates = []
    for year in range(today.year - 4, today.year + 5):
        try:
            candidates.append(date(year, month, day))
        except ValueError:
            continue  # 29 February of a common year
    return _pick(candidates, today=today, lean=lean)


def _month(month: int, year_text: str | None, *, today: date, lean: Lean, text: str) -> date:
    if year_text is not None:
        return _make(_year_of(year_text, today), month, 1, text)
    _make(today.year, month, 1, text)
    start = today.replace(day=1)
    candidates = [date(today.year + shift, month, 1) for shift in (-1, 0, 1)]
    return _pick(candidates, today=start, lean=lean)


def _day_of_month(day: int, *, today: date, lean: Lean, text: str) -> date:
    if not 1 <= day <= 31:
        raise DateInputError(f"there is no day {day} in a month",
                             f"« {text.strip()} » : il n'y a pas de {day} dans un mois.")
    candidates = []
    for shift in range(-3, 4):
        first = add_months(today.replace(day=1), shift)
        if day <= calendar.monthrange(first.year, first.month)[1]:
            candidates.append(first.replace(day=day))
    return _pick(candidates, today=today, lean=lean)
