"""Phone numbers: parsed and validated with phonenumbers, stored E.164, shown the French way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from carehub.errors import InputError

PhoneKind = Literal["mobile", "fixed", "other"]

_KINDS: dict[int, PhoneKind] = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed",
    PhoneNumberType.VOIP: "fixed",
}


@dataclass(frozen=True)
class Phone:
    e164: str
    kind: PhoneKind

    @property
    def can_receive_sms(self) -> bool:
        return self.kind == "mobile"


def parse_phone(raw: str, *, region: str = "FR") -> Phone:
    """A valid number as E.164 with its kind, or InputError naming the problem."""
    text = raw.strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InputError(
            f"Invalid phone number {raw!r}: not a phone number.",
            f"Numéro de téléphone invalide « {raw} » : ce n'est pas un numéro.",
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise InputError(
            f"Invalid phone number {raw!r}: no such number in its numbering plan.",
            f"Numéro de téléphone invalide « {raw} » : ce numéro n'existe pas.",
        )
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return Phone(e164=e164, kind=_KINDS.get(phonenumbers.number_type(number), "other"))


def format_phone(e164: str) -> str:
    """French numbers as 01 23 45 67 89; others in international format."""
    if len(e164) == 12 and e164.startswith("+33") and e164[3] in "12345679" \
            and e164[3:].isdigit():  # the common case, without parsing (long call lists)
        national = "0" + e164[3:]
        return " ".join(national[i:i + 2] for i in range(0, 10, 2))
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if number.country_code == 33:
        return str(phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))
    return str(phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL))


def tel_uri(e164: str) -> str:
    """The RFC 3966 link a softphone opens."""
    return f"tel:{e164}"
