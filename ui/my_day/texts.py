"""How a call-list line reads in French: hours, channel, reasons, follow-up, call-back time.

Shared by the list model, the patient's card and the printed sheet, so the three say the
same thing the same way. Plain functions over `CallListItem` (carehub.prevention).
"""

from __future__ import annotations

from datetime import date, datetime, time

from PySide6.QtCore import QCoreApplication

from carehub.caseload.summary import PhoneLine
from carehub.prevention.models import ESCALATION_LABELS_FR
from carehub.prevention.services import CALLBACK, CallListItem, ReasonLine
from ui.formatting import format_date, format_time

_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre")


def tr(text: str) -> str:
    return QCoreApplication.translate("MyDay", text)


def long_date(day: date) -> str:
    """'mardi 1er décembre 2026'."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"{tr(_DAYS[day.weekday()])} {number} {tr(_MONTHS[day.month - 1])} {day.year}"


def local(moment: datetime) -> datetime:
    """An aware UTC datetime from the core, on the workstation's clock (naive = local)."""
    return moment.astimezone() if moment.tzinfo is not None else moment


def moment_text(moment: datetime, *, today: date) -> str:
    """'14 h 30' today, '02/12 à 9 h' another day."""
    at = local(moment)
    hour = format_time(time(at.hour, at.minute))
    if at.date() == today:
        return hour
    return tr("%1 à %2").replace("%1", at.strftime("%d/%m")).replace("%2", hour)


def hours_text(item: CallListItem) -> str:
    """The patient's wish about the hour of calls: 'après 14 h', '10 h – 12 h'."""
    after, before = item.call_after, item.call_before
    if after and before:
        return f"{format_time(after)} – {format_time(before)}"
    if after:
        return tr("après %1").replace("%1", format_time(after))
    if before:
        return tr("avant %1").replace("%1", format_time(before))
    return ""


def is_callback(item: CallListItem) -> bool:
    """A call-back the nurse booked, not the next try after no answer."""
    return any(reason.code == CALLBACK for reason in item.reasons)


def when_text(item: CallListItem, *, today: date) -> str:
    """The hour column: a planned call-back or next try, else the patient's hours."""
    if item.planned_at is not None:
        label = tr("Rappel %1") if is_callback(item) else tr("Essai %1")
        return label.replace("%1", moment_text(item.planned_at, today=today))
    return hours_text(item)


CHANNEL_LABELS = {"phone": "Téléphone", "sms": "SMS", "email": "E-mail", "letter": "Courrier",
                  "visit": "Visite"}


def channel_text(channel: str) -> str:
    return tr(CHANNEL_LABELS.get(channel, channel))


def reasons_short(item: CallListItem) -> str:
    """The most urgent reason, and how many more: 'Appel après une hospitalisation (+4)'."""
    if not item.reasons:
        return ""
    more = len(item.reasons) - 1
    return item.reasons[0].label_fr + (f" (+{more})" if more else "")


def delay_text(days: int) -> str:
    """How late, the way one says it: '12 j', '3 mois', '24 ans'."""
    if days < 60:
        return tr("%1 j").replace("%1", str(max(days, 0)))
    if days < 730:
        return tr("%1 mois").replace("%1", str(days // 30))
    return tr("%1 ans").replace("%1", str(days // 365))


UNKNOWN_HISTORY = "aucune donnée dans CareHub : à demander"


def overdue_text(reason: ReasonLine) -> str:
    """'depuis le 02/03/2025 (9 mois)', 'à faire depuis aujourd'hui', or, when nothing in
    CareHub says when it was last done, 'aucune donnée dans CareHub : à demander'."""
    if reason.history_unknown:
        return tr(UNKNOWN_HISTORY) + (f" ({reason.note})" if reason.note else "")
    if reason.overdue_days <= 0:
        return tr("à faire depuis aujourd'hui")
    return (tr("depuis le %1 (%2)").replace("%1", format_date(reason.due_date))
            .replace("%2", delay_text(reason.overdue_days)))


def since_text(item: CallListItem, *, today: date) -> str:
    """How late the line's first (most urgent) reason is, the one the list shows."""
    if item.reasons and item.reasons[0].history_unknown:
        return tr("à demander")
    days = item.reasons[0].overdue_days if item.reasons else (today - item.due_date).days
    return tr("aujourd'hui") if days <= 0 else delay_text(days)


def escalation_text(escalation: str | None) -> str:
    return tr(ESCALATION_LABELS_FR.get(escalation, escalation)) if escalation else ""


ESCALATION_SHORT = {"caregiver": "aidant", "gp": "médecin", "home_visit": "visite"}


def followup_text(item: CallListItem) -> str:
    """Attempts so far and the escalation they led to, short: '3 essais · médecin'."""
    parts = []
    if item.attempts:
        parts.append(tr("1 essai") if item.attempts == 1
                     else tr("%1 essais").replace("%1", str(item.attempts)))
    if item.escalation:
        parts.append(tr(ESCALATION_SHORT.get(item.escalation, item.escalation)))
    return " · ".join(parts)


PHONE_KINDS = {"mobile": "mobile", "fixed": "fixe"}


def phone_kind_text(phone: PhoneLine) -> str:
    return tr(PHONE_KINDS.get(phone.kind, "autre"))


def textable_phones(item: CallListItem) -> list[PhoneLine]:
    """Mobiles whose owner accepted SMS: those an SMS may be sent to."""
    return [p for p in item.phones if p.kind == "mobile" and p.sms_consent]


def callable_phones(item: CallListItem) -> list[PhoneLine]:
    """Numbers to dial, in the patient's order (those flagged as wrong are left out)."""
    return list(item.phones)


def civility(item: CallListItem) -> str:
    return {"F": tr("Madame"), "M": tr("Monsieur")}.get(item.sex, "")


def family_name(item: CallListItem) -> str:
    """'Durand' from the call list's 'DURAND née MARTIN Jeanne' (used name first)."""
    return item.name.split(" ", 1)[0].title() if item.name else ""


def sms_text(item: CallListItem, *, sender: str) -> str:
    """A short SMS ready to copy: who writes, what is due, how to answer."""
    greeting = " ".join(x for x in (tr("Bonjour"), civility(item), family_name(item)) if x)
    reasons = ", ".join(reason.label_fr[:1].lower() + reason.label_fr[1:]
                        for reason in item.reasons)
    return (f"{greeting}, "
            + tr("ici %1, votre infirmière coordinatrice.").replace("%1", sender) + " "
            + tr("Il est temps de penser à : %1.").replace("%1", reasons) + " "
            + tr("Pouvez-vous me rappeler ou me dire quand vous joindre ? Merci."))
