"""Addresses as a French reader writes them, from the extract's capitals.

The Annuaire Santé extract writes a site as "3 Place DE L'EGLISE, 41350 VINEUIL" (the
street type as a label, the rest in capitals without accents). The database keeps that
text as published; what is printed or shown reads "3 place de l'Église, 41350 Vineuil":

- the street type and the particles (de, du, la, l', à…) in lower case, the other words
  capitalised, "ST"/"STE" written out and joined to the saint's name (Saint-Louis);
- accents restored from resources/street-words-fr.txt, then from the words of the commune
  names (a word is taken from the communes only when all of them spell it one way);
- the commune's own name from resources/communes-fr.csv ("Saint-Gervais-la-Forêt"), the
  one of that postal code when the name is shared;
- words the extract already writes in lower case, numbers and acronyms (BP, CS, CHU) as
  they are.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from carehub.directory.places import name_key
from carehub.paths import resources_dir
from carehub.text import fold

STREET_TYPES = frozenset({
    "allee", "avenue", "boulevard", "carrefour", "chaussee", "chemin", "cite", "clos",
    "cour", "cours", "domaine", "esplanade", "faubourg", "galerie", "hameau", "impasse",
    "levee", "lieu-dit", "lotissement", "mail", "montee", "parc", "parvis", "passage",
    "place", "placette", "promenade", "quai", "quartier", "rampe", "residence", "rocade",
    "rond-point", "route", "rue", "ruelle", "sente", "sentier", "square", "terrasse",
    "traverse", "venelle", "village", "voie",
})
PARTICLES = frozenset({"de", "du", "des", "la", "le", "les", "l", "d", "au", "aux", "et",
                       "en", "sur", "sous", "lez"})  # folded: "les" is also lès
ACRONYMS = frozenset({
    "BP", "CS", "TSA", "CCP", "ZA", "ZAC", "ZAE", "ZI", "ZUP", "RN", "RD", "CHU", "CHR",
    "CHRU", "CH", "EHPAD", "SSR", "MSP", "CMP", "CMPP", "CPTS", "SISA", "SAS", "SARL",
    "SCM", "SCP", "SELARL", "SELAS", "SELAFA", "SEL", "HLM", "SNCF", "ARS", "CPAM", "PMI",
    "SAMU", "SMUR", "USLD", "GHT", "ESPIC", "EPHAD",
})
MONTHS = frozenset({"janvier", "fevrier", "mars", "avril", "mai", "juin", "juillet", "aout",
                    "septembre", "octobre", "novembre", "decembre"})
ABBREVIATIONS = {"st": "Saint", "ste": "Sainte"}
REPEATS = frozenset({"bis", "ter", "quater"})

_TOKENS = re.compile(r"[^\W_]+|[\W_]+")
_WORD = re.compile(r"[^\W_]+")
_ROMAN = re.compile(r"^(X{0,3})(IX|IV|V?I{0,3})$")
_ORDINAL = re.compile(r"^(\d+)(ER|ERE|RE|E|EME|ÈME)$", re.IGNORECASE)
_CITY_LINE = re.compile(r"^(\d{5})\s+(.+)$")
_CEDEX = re.compile(r"\s+CEDEX(\s+\d+)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Vocabulary:
    """Accented words by their folded spelling, and commune names by their name key."""

    words: dict[str, str]  # "eglise" -> "église"
    communes: dict[str, tuple[tuple[str, frozenset[str]], ...]]  # key -> (name, postals)


def street_words_file() -> Path:
    return resources_dir() / "street-words-fr.txt"


def read_street_words(path: Path | None = None) -> dict[str, str]:
    words = {}
    for line in (path or street_words_file()).read_text(encoding="utf-8").splitlines():
        word = line.strip()
        if word and not word.startswith("#"):
            words[fold(word)] = word.lower()
    return words


def build_vocabulary(street_words: dict[str, str],
                     communes: list[tuple[str, str, str]]) -> Vocabulary:
    """From the street words and the communes as (name, name key, postal codes), the key
    as communes-fr.csv's NORMALIZED column writes it ("saint gervais la foret")."""
    spellings: dict[str, set[str]] = defaultdict(set)
    by_key: dict[str, list[tuple[str, frozenset[str]]]] = defaultdict(list)
    for name, key, postal_codes in communes:
        by_key[key].append((name, frozenset(postal_codes.replace(",", " ").split())))
        parts, folded = _WORD.findall(name), key.split()
        if len(parts) != len(folded):  # a letter the key spells otherwise (œ): fold it
            folded = [fold(part) for part in parts]
        for word, plain in zip(parts, folded, strict=True):
            spellings[plain].add(word.lower())
    words = {key: next(iter(forms)) for key, forms in spellings.items()
             if len(forms) == 1 and next(iter(forms)) != key}  # one spelling, accented
    words.update(street_words)
    return Vocabulary(words, {key: tuple(names) for key, names in by_key.items()})


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """The shipped vocabulary (read once: 35,000 communes, a fraction of a second)."""
    path = resources_dir() / "communes-fr.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        communes = [(row["NAME"], row["NORMALIZED"], row["ZIP_CODES"])
                    for row in csv.DictReader(handle)]
    return build_vocabulary(read_street_words(), communes)


def _capitalised(word: str) -> str:
    return word[:1].upper() + word[1:]


def _accented(word: str, words: dict[str, str]) -> str | None:
    key = fold(word)
    if key in words:
        return words[key]
    if len(key) > 3 and key.endswith("s") and key[:-1] in words:
        return words[key[:-1]] + "s"
    return None


class _Phrase:
    """One part of an address (a street line, a place, a site) rewritten word by word."""

    def __init__(self, words: dict[str, str], *, street: bool) -> None:
        self.words = words
        self.street = street

    def rewrite(self, text: str) -> str:
        tokens = _TOKENS.findall(text)
        out: list[str] = []
        seen_words = 0  # words before this one in the part
        type_done = not self.street  # the street type is the first word after the number
        previous = ""
        for index, token in enumerate(tokens):
            if not _WORD.fullmatch(token):
                out.append(token)
                continue
            following = tokens[index + 1] if index + 1 < len(tokens) else ""
            word, is_type = self._word(token, first=seen_words == 0, type_done=type_done,
                                       previous=previous, following=following)
            # The type comes after the number and its repeat (12 B, 12 BIS): not later.
            type_done = type_done or is_type or not (
                token.isdigit() or len(token) == 1 or fold(token) in REPEATS)
            out.append(word)
            previous = word
            seen_words += 1
        return _join_saints("".join(out))

    def _word(self, token: str, *, first: bool, type_done: bool, previous: str,
              following: str) -> tuple[str, bool]:
        key = fold(token)
        if not type_done and key in STREET_TYPES:
            return (_accented(token, self.words) or key), True
        if any(c.isdigit() for c in token):
            ordinal = _ORDINAL.match(token)
            if ordinal:
                suffix = ordinal.group(2).lower()
                return ordinal.group(1) + ("er" if suffix == "er" else
                                           "re" if suffix in ("ere", "re") else "e"), False
            return token, False
        if token != token.upper():
            return token, False  # the extract wrote it with its case: kept
        if token in ACRONYMS:
            return token, False
        if key in REPEATS and previous.isdigit():
            return key, False
        if key in ABBREVIATIONS:
            return ABBREVIATIONS[key], False
        if key in PARTICLES and not first:
            return key, False
        if key == "a" and self.street and not first and following == " ":
            return "à", False  # "CHEMIN DE BLOIS A VENDOME"
        if key in MONTHS and previous[:1].isdigit():  # 8 mai 1945, 1er mai
            return key.replace("fevrier", "février").replace("aout", "août").replace(
                "decembre", "décembre"), False
        if not first and len(token) <= 4 and _ROMAN.match(token):
            return token, False  # HENRI IV
        if len(token) == 1:
            return token, False  # BATIMENT A
        return _capitalised(_accented(token, self.words) or token.lower()), False


def _join_saints(text: str) -> str:
    """"Saint Louis" -> "Saint-Louis": a saint's name is hyphenated in a place name."""
    return re.sub(r"\b(Saint|Sainte) (?=[A-ZÀ-Ý])", r"\1-", text)


def commune_name(city: str, *, postal: str | None, vocabulary: Vocabulary,
                 known: str | None = None) -> str | None:
    """The commune file's own name for a city as the extract writes it, or None."""
    key = re.sub(r"\b(st|ste)\b", lambda m: ABBREVIATIONS[m.group(1)].lower(),
                 name_key(city))
    if known is not None and name_key(known) == key:
        return known
    candidates = vocabulary.communes.get(key, ())
    if postal:
        for name, postals in candidates:
            if postal in postals:
                return name
    if len({name for name, _p in candidates}) == 1:
        return candidates[0][0]
    return None


def _city_line(part: str, *, vocabulary: Vocabulary, known: str | None) -> str | None:
    """'41350 VINEUIL' -> '41350 Vineuil', '41016 BLOIS CEDEX' -> '41016 Blois Cedex'."""
    match = _CITY_LINE.match(part)
    if not match:
        return None
    postal, city = match.groups()
    cedex = _CEDEX.search(city)
    name = city[:cedex.start()] if cedex else city
    found = commune_name(name, postal=postal, vocabulary=vocabulary, known=known)
    if found is None:
        found = _Phrase(vocabulary.words, street=False).rewrite(name)
    tail = f" Cedex{cedex.group(1) or ''}" if cedex else ""
    return f"{postal} {found}{tail}"


def french_address(address: str, *, commune: str | None = None,
                   vocab: Vocabulary | None = None) -> str:
    """The stored one-line address in French usage; `commune` is the site's commune name
    (from the commune file) when known."""
    words = vocab or vocabulary()
    parts = [p.strip() for p in address.split(",")]
    out = []
    street_seen = False
    for part in parts:
        if not part:
            continue
        city = _city_line(part, vocabulary=words, known=commune)
        if city is not None:
            out.append(city)
            continue
        first = fold(_WORD.findall(part)[0]) if _WORD.findall(part) else ""
        is_street = not street_seen and (part[:1].isdigit() or first in STREET_TYPES)
        street_seen = street_seen or is_street
        rewritten = _Phrase(words.words, street=is_street).rewrite(part)
        out.append(rewritten)
    text = ", ".join(out)
    return _capitalised(text)  # "Mail Pierre Charlot, …" at the start of its line


def french_name(text: str, *, vocab: Vocabulary | None = None) -> str:
    """A site's name ("PHARMACIE DU CHATEAU") as "Pharmacie du Château"."""
    if not text or text != text.upper():
        return text
    return _Phrase((vocab or vocabulary()).words, street=False).rewrite(text)
