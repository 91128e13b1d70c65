"""Dates as people say them (carehub.dates): what each phrase gives, seen from a clock."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carehub.dates import (
    DateInputError,
    DateReading,
    add_months,
    date_fr,
    datetime_fr,
    read_date,
    read_datetime,
    short_date,
    short_datetime,
)

# Monday 7 December 2026, 15:20: the reference clock of these examples.
NOW = datetime(2026, 12, 7, 15, 20)
TODAY = NOW.date()
NINE = time(9, 0)


def at(text: str, *, lean: str = "future", default: time | None = NINE,
       now: datetime = NOW) -> datetime:
    return read_datetime(text, now=now, lean=lean, default_time=default)  # type: ignore[arg-type]


def day(text: str, *, lean: str = "nearest", month: str | None = None,
        today: date = TODAY) -> date:
    return read_date(text, today=today, lean=lean, month=month).day  # type: ignore[arg-type]


def refused(text: str, **kwargs: object) -> str:
    with pytest.raises(DateInputError) as caught:
        if kwargs.pop("moment", False):
            at(text, **kwargs)  # type: ignore[arg-type]
        else:
            day(text, **kwargs)  # type: ignore[arg-type]
    assert caught.value.message and caught.value.message_fr
    return caught.value.message_fr


# ------------------------------------------------------------------------------ moments


@pytest.mark.parametrize(("text", "expected"), [
    ("09/12 10h", datetime(2026, 12, 9, 10, 0)),
    ("9/12/26 10:00", datetime(2026, 12, 9, 10, 0)),
    ("09/12/2026 10:00", datetime(2026, 12, 9, 10, 0)),
    ("09/12/2026 à 10h30", datetime(2026, 12, 9, 10, 30)),
    ("09.12.2026 10 h 05", datetime(2026, 12, 9, 10, 5)),
    ("2026-12-09 10:00", datetime(2026, 12, 9, 10, 0)),
    ("demain 14h", datetime(2026, 12, 8, 14, 0)),
    ("Demain à 14 heures", datetime(2026, 12, 8, 14, 0)),
    ("14h demain", datetime(2026, 12, 8, 14, 0)),
    ("après-demain", datetime(2026, 12, 9, 9, 0)),
    ("apres demain 8h", datetime(2026, 12, 9, 8, 0)),
    ("aujourd'hui 17h", datetime(2026, 12, 7, 17, 0)),
    ("Aujourd’hui à 16:45", datetime(2026, 12, 7, 16, 45)),
    ("lundi", datetime(2026, 12, 14, 9, 0)),  # today is a Monday: the next one
    ("mardi 10h", datetime(2026, 12, 8, 10, 0)),
    ("vendredi prochain à 11h", datetime(2026, 12, 11, 11, 0)),
    ("+3j", datetime(2026, 12, 10, 9, 0)),
    ("+3 jours 14h", datetime(2026, 12, 10, 14, 0)),
    ("J+3", datetime(2026, 12, 10, 9, 0)),
    ("dans 2 semaines", datetime(2026, 12, 21, 9, 0)),
    ("dans une semaine à 10h", datetime(2026, 12, 14, 10, 0)),
    ("dans 3 mois", datetime(2027, 3, 7, 9, 0)),
    ("dans un an", datetime(2027, 12, 7, 9, 0)),
    ("14h30", datetime(2026, 12, 8, 14, 30)),  # 14:30 has passed today: tomorrow's
    ("16h", datetime(2026, 12, 7, 16, 0)),
    ("10:00", datetime(2026, 12, 8, 10, 0)),
    ("midi", datetime(2026, 12, 8, 12, 0)),
    ("demain matin", datetime(2026, 12, 8, 9, 0)),
    ("lundi après-midi", datetime(2026, 12, 14, 14, 0)),
    ("ce soir", datetime(2026, 12, 7, 18, 0)),
    ("vers 17h", datetime(2026, 12, 7, 17, 0)),
    ("dans 2 heures", datetime(2026, 12, 7, 17, 20)),
    ("dans une heure", datetime(2026, 12, 7, 16, 20)),
    ("+30 min", datetime(2026, 12, 7, 15, 50)),
    ("maintenant", NOW),
    ("le 12 à 9h", datetime(2026, 12, 12, 9, 0)),
    ("9 décembre 10h", datetime(2026, 12, 9, 10, 0)),
    ("mercredi 9 déc. 2026 à 10:00", datetime(2026, 12, 9, 10, 0)),
    ("1er janvier 2027 8h", datetime(2027, 1, 1, 8, 0)),
    ("05/01 9h", datetime(2027, 1, 5, 9, 0)),  # January has passed this year: next one
    ("  09/12  ,  10h  ", datetime(2026, 12, 9, 10, 0)),
])
def test_moments_ahead(text: str, expected: datetime) -> None:
    assert at(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("10:00", datetime(2026, 12, 7, 10, 0)),  # a call of this morning entered afterwards
    ("16h", datetime(2026, 12, 6, 16, 0)),  # not yet 16:00: yesterday's
    ("hier 11h", datetime(2026, 12, 6, 11, 0)),
    ("avant-hier 9h15", datetime(2026, 12, 5, 9, 15)),
    ("lundi 10h", datetime(2026, 11, 30, 10, 0)),  # the last Monday
    ("05/01 9h", datetime(2026, 1, 5, 9, 0)),
    ("il y a 2 heures", datetime(2026, 12, 7, 13, 20)),
    ("ce matin", datetime(2026, 12, 7, 9, 0)),
    ("hier soir", datetime(2026, 12, 6, 18, 0)),
])
def test_moments_behind(text: str, expected: datetime) -> None:
    assert at(text, lean="past", default=None) == expected


def test_an_hour_alone_is_today_in_a_field_that_takes_the_nearest() -> None:
    assert at("10:00", lean="nearest") == datetime(2026, 12, 7, 10, 0)
    assert at("18:00", lean="nearest") == datetime(2026, 12, 7, 18, 0)


def test_seconds_of_the_clock_are_dropped() -> None:
    assert at("maintenant", now=NOW.replace(second=42, microsecond=7)) == NOW


def test_a_day_without_an_hour_takes_the_default_or_is_refused() -> None:
    assert at("demain", default=time(14, 0)) == datetime(2026, 12, 8, 14, 0)
    message = refused("demain", moment=True, default=None)
    assert "Précisez l'heure" in message and "08/12 14h" in message


@pytest.mark.parametrize(("text", "said"), [
    ("25h", "L'heure 25:00 n'existe pas"),
    ("demain 10:75", "L'heure 10:75 n'existe pas"),
    ("31/02/2026 10:00", "Le 31/02/2026 n'existe pas."),
    ("29/02/2027 10h", "Le 29/02/2027 n'existe pas."),
    ("12/13 10h", "il n'y a pas de mois 13"),
    ("bientôt", "« bientôt » n'est pas une date reconnue"),
    ("", "Saisissez une date"),
    ("   ", "Saisissez une date"),
    ("mars 2027", "Précisez le jour et l'heure"),
    ("lundi 9/12/2026 10h", "Le 09/12/2026 est un mercredi, pas un lundi."),
    ("dans 3", "précisez l'unité"),
    ("09/12/3000 10:00", "L'année 3000 n'est pas possible"),
])
def test_moments_refused_with_a_french_message(text: str, said: str) -> None:
    assert said in refused(text, moment=True)


# ------------------------------------------------------------------------------ days


@pytest.mark.parametrize(("text", "lean", "expected"), [
    ("09/12/2026", "nearest", date(2026, 12, 9)),
    ("9/12/26", "nearest", date(2026, 12, 9)),
    ("09122026", "nearest", date(2026, 12, 9)),
    ("2026-12-09", "nearest", date(2026, 12, 9)),
    ("09-12-2026", "nearest", date(2026, 12, 9)),
    ("1/1/99", "nearest", date(1999, 1, 1)),  # the century nearest today
    ("1/1/30", "nearest", date(2030, 1, 1)),
    ("aujourd'hui", "past", TODAY),
    ("auj", "future", TODAY),
    ("demain", "nearest", date(2026, 12, 8)),
    ("hier", "nearest", date(2026, 12, 6)),
    ("lundi", "future", date(2026, 12, 14)),
    ("lundi", "past", date(2026, 11, 30)),
    ("lundi", "nearest", TODAY),
    ("jeudi", "nearest", date(2026, 12, 10)),
    ("samedi", "nearest", date(2026, 12, 5)),
    ("lundi dernier", "future", date(2026, 11, 30)),
    ("lun.", "future", date(2026, 12, 14)),
    ("+3j", "past", date(2026, 12, 10)),
    ("-3j", "future", date(2026, 12, 4)),
    ("+2 sem", "nearest", date(2026, 12, 21)),
    ("+1m", "nearest", date(2027, 1, 7)),
    ("dans quinze jours", "nearest", date(2026, 12, 22)),
    ("dans 2 semaines", "nearest", date(2026, 12, 21)),
    ("dans 3 mois", "nearest", date(2027, 3, 7)),
    ("il y a 3 semaines", "nearest", date(2026, 11, 16)),
    ("il y a un an", "nearest", date(2025, 12, 7)),
    ("09/12", "future", date(2026, 12, 9)),
    ("09/12", "past", date(2025, 12, 9)),
    ("09/12", "nearest", date(2026, 12, 9)),
    ("01/06", "nearest", date(2027, 6, 1)),  # 176 days ahead against 189 back
    ("01/07", "nearest", date(2026, 7, 1)),
    ("29/02", "future", date(2028, 2, 29)),
    ("29/02", "past", date(2024, 2, 29)),
    ("le 12", "past", date(2026, 11, 12)),
    ("le 12", "future", date(2026, 12, 12)),
    ("31", "future", date(2026, 12, 31)),
    ("le 1er", "future", date(2027, 1, 1)),
    ("9 décembre", "past", date(2025, 12, 9)),
    ("20 oct", "past", date(2026, 10, 20)),
    ("mercredi 9 décembre 2026", "nearest", date(2026, 12, 9)),
])
def test_days(text: str, lean: str, expected: date) -> None:
    assert day(text, lean=lean) == expected


def test_a_month_alone_where_the_field_allows_it() -> None:
    reading = read_date("mars 2025", today=TODAY, month="start")
    assert reading == DateReading(date(2025, 3, 1), month_only=True)
    assert reading.text_fr() == "mars 2025 (samedi 1er mars 2025)"
    assert day("mars 2025", month="end") == date(2025, 3, 31)
    assert day("02/2024", month="end") == date(2024, 2, 29)
    assert day("févr. 2026", month="end") == date(2026, 2, 28)
    assert day("mars", lean="past", month="start") == date(2026, 3, 1)
    assert day("mars", lean="future", month="start") == date(2027, 3, 1)
    assert day("décembre", lean="past", month="start") == date(2026, 12, 1)
    assert "Précisez le jour" in refused("mars 2025")


@pytest.mark.parametrize(("text", "said"), [
    ("09/12/2026 10:00", "Ici, une date sans heure"),
    ("demain 14h", "Ici, une date sans heure"),
    ("dans 2 heures", "Ici, une date sans heure"),
    ("maintenant", "Ici, une date sans heure"),
    ("31/04/2026", "Le 31/04/2026 n'existe pas."),
    ("30/02", "Le 30/02 n'existe pas."),
    ("le 32", "il n'y a pas de 32 dans un mois"),
    ("13/2026", "il n'y a pas de mois 13"),
    ("mardi 9/12/2026", "Le 09/12/2026 est un mercredi, pas un mardi."),
    ("1/1/1850", "L'année 1850 n'est pas possible"),
    ("00/00/0000", "il n'y a pas de mois 0"),
    ("00/12/2026", "Le 00/12/2026 n'existe pas."),
    ("n'importe quoi", "n'est pas une date reconnue"),
])
def test_days_refused_with_a_french_message(text: str, said: str) -> None:
    assert said in refused(text, month="start")


def test_renderings() -> None:
    assert datetime_fr(datetime(2026, 12, 9, 10, 0)) == "mercredi 9 décembre 2026 à 10:00"
    assert date_fr(date(2025, 3, 1)) == "samedi 1er mars 2025"
    assert date_fr(date(2026, 8, 15)) == "samedi 15 août 2026"
    assert short_datetime(datetime(2026, 1, 5, 8, 5)) == "05/01/2026 08:05"
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)


# ------------------------------------------------------------------------------ properties

days = st.dates(min_value=date(1901, 1, 1), max_value=date(2198, 12, 31))
moments = st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(2198, 12, 31)).map(
    lambda m: m.replace(second=0, microsecond=0))
leans = st.sampled_from(["future", "past", "nearest"])
# Clocks far enough inside the years taken for a phrase that counts up to two years.
clocks = st.dates(min_value=date(1910, 1, 1), max_value=date(2190, 12, 31))


@given(days, days, leans)
def test_a_full_date_reads_back_whatever_the_clock(shown: date, today: date, lean: str) -> None:
    for text in (short_date(shown), date_fr(shown), shown.isoformat()):
        assert day(text, lean=lean, today=today) == shown


@given(moments, moments, leans)
def test_a_full_moment_reads_back_whatever_the_clock(shown: datetime, now: datetime,
                                                     lean: str) -> None:
    for text in (short_datetime(shown), datetime_fr(shown)):
        assert at(text, lean=lean, now=now) == shown


@given(clocks, st.integers(0, 400), st.sampled_from(["+{}j", "J+{}", "dans {} jours"]))
def test_days_ahead(today: date, count: int, phrase: str) -> None:
    assert day(phrase.format(count), today=today) == today + timedelta(days=count)


@given(clocks, st.integers(0, 100))
def test_weeks_ahead_and_back(today: date, count: int) -> None:
    assert day(f"dans {count} semaines", today=today) == today + timedelta(weeks=count)
    assert day(f"il y a {count} semaines", today=today) == today - timedelta(weeks=count)


@given(days, st.integers(0, 6), leans)
def test_a_weekday_is_that_day_of_the_week_within_a_week(today: date, weekday: int,
                                                         lean: str) -> None:
    name = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")[weekday]
    found = day(name, lean=lean, today=today)
    assert found.weekday() == weekday
    distance = (found - today).days
    if lean == "future":
        assert 1 <= distance <= 7
    elif lean == "past":
        assert -7 <= distance <= -1
    else:
        assert -3 <= distance <= 4


@given(days, clocks)
def test_a_day_and_month_is_the_next_ahead_and_the_last_behind(shown: date,
                                                              today: date) -> None:
    text = f"{shown.day}/{shown.month}"
    ahead, behind = day(text, lean="future", today=today), day(text, lean="past", today=today)
    assert (ahead.day, ahead.month) == (behind.day, behind.month) == (shown.day, shown.month)
    assert today <= ahead <= today + timedelta(days=366 * 4 + 1)
    assert today - timedelta(days=366 * 4 + 1) <= behind <= today
    if (shown.month, shown.day) != (2, 29):
        assert (ahead - today).days < 366 and (today - behind).days < 366


@given(moments, st.integers(0, 23), st.integers(0, 59))
def test_an_hour_alone_ahead_is_the_next_such_hour(now: datetime, hour: int,
                                                   minute: int) -> None:
    found = at(f"{hour}h{minute:02d}", now=now)
    assert found.time() == time(hour, minute)
    assert now < found <= now + timedelta(days=1)


@given(st.text(max_size=30), leans)
def test_any_text_gives_a_date_or_a_french_message(text: str, lean: str) -> None:
    for month in (None, "start"):
        try:
            read_date(text, today=TODAY, lean=lean, month=month)  # type: ignore[arg-type]
        except DateInputError as error:
            assert error.message_fr
    try:
        read_datetime(text, now=NOW, lean=lean, default_time=NINE)  # type: ignore[arg-type]
    except DateInputError as error:
        assert error.message_fr
