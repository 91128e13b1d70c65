"""Prevention rules as data (resources/prevention/*.toml), read and checked at start-up.

Every mistake raises InputError naming the file, the line and the field, so that a
clinician who edits an interval sees at once what is wrong; nothing about a rule lives in
code except the meaning of each `kind`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, time
from functools import lru_cache
from pathlib import Path
from typing import Any

from carehub.caseload.coding import SHORT_KEYS, normalize_code
from carehub.caseload.vocabulary import Concept, Vocabulary, vocabulary
from carehub.errors import InputError
from carehub.paths import resources_dir

KINDS = ("interval", "seasonal", "fixed_ages", "doses", "age_bands", "discharge",
         "new_arrival", "frailty", "callback")
COMMON_KEYS = frozenset({"kind", "label", "script", "priority", "never"})
KIND_KEYS: dict[str, frozenset[str]] = {
    "interval": frozenset({"sex", "min_age", "max_age", "acts", "exclude"}),
    "seasonal": frozenset({"concept", "min_age", "at_risk_conditions", "at_risk_pregnant",
                           "campaigns", "months_since_last_dose", "older_age",
                           "older_months_since_last_dose"}),
    "fixed_ages": frozenset({"concept", "ages", "then_every_years", "recent_dose_years"}),
    "doses": frozenset({"concept", "min_age", "doses", "months_between"}),
    "age_bands": frozenset({"bands", "acts"}),
    "discharge": frozenset({"concept", "call_within_days", "keep_days", "first_min_age",
                            "first_conditions", "first_bonus"}),
    "new_arrival": frozenset({"call_within_days", "keep_days", "no_gp_script"}),
    "frailty": frozenset({"min_age", "min_fragility_level", "every_months", "acts"}),
    "callback": frozenset(),
}
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "interval": ("min_age", "max_age", "acts"),
    "seasonal": ("concept", "campaigns"),
    "fixed_ages": ("concept", "ages", "then_every_years", "recent_dose_years"),
    "doses": ("concept", "min_age", "doses"),
    "age_bands": ("bands",),
    "discharge": ("concept", "call_within_days", "keep_days"),
    "new_arrival": ("call_within_days", "keep_days"),
    "frailty": ("every_months",),
    "callback": (),
}
ACT_KEYS = frozenset({"concept", "codes", "every_months", "from_age", "not_results",
                      "last_fr"})
CAMPAIGN_KEYS = frozenset({"start", "end", "done_since", "min_age"})
SETTINGS_DEFAULTS: dict[str, Any] = {
    "unreachable_after_attempts": 3, "ask_again_after_months": 12, "recent_stay_days": 30,
    "attempt_slots": ["10:00", "15:00"], "working_days": [1, 2, 3, 4, 5],
    "default_call_time": "09:00",
}
PRIORITY_KEYS = ("per_overdue_day", "overdue_days_cap", "per_fragility_level", "age_75",
                 "age_85", "recent_stay", "per_other_reason", "planned_callback", "escalation")
# Which kinds of facts an act of each vocabulary category is recorded as.
ACT_FACT_KINDS: dict[str, tuple[str, ...]] = {
    "vaccine": ("immunization",),
    "screening": ("procedure", "observation"),
    "procedure": ("procedure", "observation"),
    "lab": ("observation",),
    "contact": ("encounter", "procedure"),
    "encounter": ("encounter",),
    "condition": ("condition",),
    "medication": ("medication",),
}
_MONTH_DAY = re.compile(r"^(\d\d)-(\d\d)$")
_CLOCK = re.compile(r"^(\d\d):(\d\d)$")
_CODE = re.compile(r"^[A-Z0-9-]+\*?$")


@dataclass(frozen=True)
class Act:
    """A recorded act that settles a rule for `every_months` (a concept or inline codes)."""

    name: str  # the concept's name, or "codes"
    label: str  # "Mammographie"
    concept: Concept  # codes to match (a concept of the vocabulary or inline codes)
    kinds: tuple[str, ...]  # clinical fact kinds it is recorded as
    every_months: int
    from_age: int | None = None
    not_results: tuple[str, ...] = ()  # folded lower-case result texts that do not count
    last_fr: str = ""  # "dernière mammographie", as the explanation says it


@dataclass(frozen=True)
class Campaign:
    start: tuple[int, int]  # (month, day), first day included
    end: tuple[int, int]  # last day included; may be in the next year (15/10 - 31/01)
    done_since: tuple[int, int] | None = None  # a dose since this day settles the season
    min_age: int | None = None

    def window(self, as_of: date) -> tuple[date, date] | None:
        """The campaign's first and last day if `as_of` falls inside one, else None."""
        for year in (as_of.year - 1, as_of.year):
            first = date(year, *self.start)
            last_year = year + (1 if self.end < self.start else 0)
            last = date(last_year, *self.end)
            if first <= as_of <= last:
                return first, last
        return None

    def season_start(self, first: date) -> date:
        """The day from which a dose counts for this season (done_since, before `first`)."""
        if self.done_since is None:
            return first
        start = date(first.year, *self.done_since)
        return start if start <= first else date(first.year - 1, *self.done_since)


@dataclass(frozen=True)
class Rule:
    code: str
    kind: str
    label: str
    script: str
    priority: int
    line: int | None
    never: str = "jamais réalisé"
    sex: str | None = None
    min_age: int | None = None
    max_age: int | None = None
    acts: tuple[Act, ...] = ()
    exclude: tuple[Concept, ...] = ()
    concept: Concept | None = None
    campaigns: tuple[Campaign, ...] = ()
    at_risk_conditions: tuple[Concept, ...] = ()
    at_risk_pregnant: bool = False
    months_since_last_dose: int | None = None
    older_age: int | None = None
    older_months_since_last_dose: int | None = None
    ages: tuple[int, ...] = ()
    then_every_years: int | None = None
    recent_dose_years: int | None = None
    doses: int = 1
    months_between: int = 0
    bands: tuple[tuple[int, int], ...] = ()
    call_within_days: int = 0
    keep_days: int = 0
    first_min_age: int | None = None
    first_conditions: tuple[Concept, ...] = ()
    first_bonus: int = 0
    no_gp_script: str | None = None
    min_fragility_level: int | None = None
    every_months: int = 0


@dataclass(frozen=True)
class Settings:
    unreachable_after_attempts: int
    ask_again_after_months: int
    recent_stay_days: int
    attempt_slots: tuple[time, ...]
    working_days: tuple[int, ...]  # ISO weekdays, Monday = 1
    default_call_time: time


@dataclass(frozen=True)
class Priority:
    per_overdue_day: int = 1
    overdue_days_cap: int = 365
    per_fragility_level: int = 60
    age_75: int = 40
    age_85: int = 80
    recent_stay: int = 150
    per_other_reason: int = 20
    planned_callback: int = 2000
    escalation: int = 300


@dataclass(frozen=True)
class RuleSet:
    paths: tuple[Path, ...]
    rules: dict[str, Rule]
    settings: Settings
    priority: Priority
    by_kind: dict[str, tuple[Rule, ...]] = field(default_factory=dict)

    def rule(self, code: str) -> Rule | None:
        return self.rules.get(code)

    def label(self, code: str) -> str:
        found = self.rules.get(code)
        return found.label if found else code


def default_rules_dir() -> Path:
    return resources_dir() / "prevention"


def load_rules(path: Path | None = None) -> RuleSet:
    """The rules of one TOML file, or of every *.toml of a folder (default: the shipped ones).

    InputError names the file, the line and the field of the first mistake.
    """
    target = (path or default_rules_dir()).resolve()
    files = tuple(sorted(target.glob("*.toml")) if target.is_dir() else [target])
    stamps = tuple((f, f.stat().st_mtime_ns, f.stat().st_size) if f.exists() else (f, 0, 0)
                   for f in files)
    return _load(target, files, stamps)


@lru_cache(maxsize=8)
def _load(target: Path, files: tuple[Path, ...],
          _stamps: tuple[tuple[Path, int, int], ...]) -> RuleSet:
    """Read once per content (the stamps change when a file is edited)."""
    vocab = vocabulary()
    if not files:
        raise InputError(f"{target}: no prevention rules file (*.toml).",
                         f"{target} : aucun fichier de règles de prévention (*.toml).")
    rules: dict[str, Rule] = {}
    settings: dict[str, Any] = dict(SETTINGS_DEFAULTS)
    priority: dict[str, Any] = {}
    settings_file: tuple[_File, dict[str, Any]] | None = None
    for file_path in files:
        source = _File.read(file_path)
        data = source.parse()
        for group, entries in data.items():
            if group == "settings":
                source.check_table(group, entries, "")
                settings_file = (source, entries)
                settings.update(entries)
                continue
            if group == "priority":
                source.check_table(group, entries, "")
                for key, value in entries.items():
                    if key not in PRIORITY_KEYS:
                        raise source.problem(group, key, f"unknown field (known: "
                                             f"{', '.join(PRIORITY_KEYS)})",
                                             "champ inconnu")
                    source.integer(group, key, value)
                priority.update(entries)
                continue
            source.check_table(group, entries, "")
            for name, entry in entries.items():
                code = f"{group}.{name}"
                if code in rules:
                    raise source.problem(code, None, "rule defined twice",
                                         "règle définie deux fois")
                rules[code] = _rule(source, vocab, code, entry)
    checked = _settings(settings_file, settings)
    by_kind: dict[str, list[Rule]] = {}
    for rule in rules.values():
        by_kind.setdefault(rule.kind, []).append(rule)
    return RuleSet(paths=tuple(files), rules=rules, settings=checked,
                   priority=Priority(**priority),
                   by_kind={k: tuple(v) for k, v in by_kind.items()})


@dataclass(frozen=True)
class _File:
    path: Path
    text: str

    @classmethod
    def read(cls, path: Path) -> _File:
        try:
            return cls(path, path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"{path}: cannot read the rules ({exc.strerror}).",
                             f"{path} : lecture des règles impossible ({exc.strerror}).") from exc
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 text.",
                             f"{path} : le fichier n'est pas du texte UTF-8.") from exc

    def parse(self) -> dict[str, Any]:
        try:
            return tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            line = getattr(exc, "lineno", None) or _line_in_message(str(exc))
            where = f"{self.path}, line {line}" if line else str(self.path)
            where_fr = f"{self.path}, ligne {line}" if line else str(self.path)
            raise InputError(f"{where}: not valid TOML: {exc}.",
                             f"{where_fr} : syntaxe TOML invalide : {exc}.") from exc

    def line_of(self, section: str, key: str | None) -> int | None:
        """The line of `key` inside [section] (or of the header when key is None)."""
        lines = self.text.splitlines()
        header = None
        for number, line in enumerate(lines, start=1):
            stripped = line.split("#", 1)[0].strip()
            if stripped.replace(" ", "") == f"[{section}]":
                header = number
                break
        if header is None:
            return None
        if key is None:
            return header
        for number in range(header + 1, len(lines) + 1):
            stripped = lines[number - 1].strip()
            if stripped.startswith("["):
                break
            if re.match(rf"^{re.escape(key)}\s*=", stripped):
                return number
        return header

    def problem(self, section: str, key: str | None, english: str,
                french: str) -> InputError:
        line = self.line_of(section, key)
        where = f"{self.path}, line {line}" if line else str(self.path)
        where_fr = f"{self.path}, ligne {line}" if line else str(self.path)
        what = f"[{section}] {key}" if key else f"[{section}]"
        return InputError(f"{where}, {what}: {english}.", f"{where_fr}, {what} : {french}.")

    def check_table(self, section: str, value: Any, _: str) -> None:
        if not isinstance(value, dict):
            raise self.problem(section, None, "expected a [section] of fields",
                               "une section [nom] de champs est attendue")

    def integer(self, section: str, key: str, value: Any, *, low: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.problem(section, key, f"expected a whole number >= {low}, got {value!r}",
                               f"un nombre entier >= {low} est attendu, trouvé « {value} »")
        return value

    def text_field(self, section: str, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.problem(section, key, "expected a non-empty text in quotes",
                               "un texte non vide entre guillemets est attendu")
        return value.strip()

    def concept(self, vocab: Vocabulary, section: str, key: str, value: Any) -> Concept:
        if not isinstance(value, str):
            raise self.problem(section, key, "expected a concept name in quotes",
                               "un nom de concept entre guillemets est attendu")
        found = vocab.concepts.get(value.strip().lower())
        if found is None:
            known = ", ".join(sorted(vocab.concepts))
            raise self.problem(section, key, f"unknown concept {value!r} (known: {known})",
                               f"concept inconnu « {value} » (connus : {known})")
        return found

    def concepts(self, vocab: Vocabulary, section: str, key: str,
                 value: Any) -> tuple[Concept, ...]:
        if not isinstance(value, list):
            raise self.problem(section, key, "expected a list of concept names",
                               "une liste de noms de concepts est attendue")
        return tuple(self.concept(vocab, section, key, v) for v in value)


def _line_in_message(message: str) -> int | None:
    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else None


def _month_day(source: _File, section: str, key: str, value: Any) -> tuple[int, int]:
    match = _MONTH_DAY.match(value) if isinstance(value, str) else None
    if match:
        month, day = int(match.group(1)), int(match.group(2))
        try:
            date(2024, month, day)  # a leap year: 02-29 is a day
            return month, day
        except ValueError:
            pass
    raise source.problem(section, key, f"expected a day as \"MM-DD\", got {value!r}",
                         f"un jour « MM-JJ » est attendu, trouvé « {value} »")


def _clock(source: _File, section: str, key: str, value: Any) -> time:
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
        return time(int(match.group(1)), int(match.group(2)))
    raise source.problem(section, key, f"expected a time as \"HH:MM\", got {value!r}",
                         f"une heure « HH:MM » est attendue, trouvé « {value} »")


def _settings(found: tuple[_File, dict[str, Any]] | None, values: dict[str, Any]) -> Settings:
    if found is None:
        return Settings(unreachable_after_attempts=3, ask_again_after_months=12,
                        recent_stay_days=30, attempt_slots=(time(10), time(15)),
                        working_days=(1, 2, 3, 4, 5), default_call_time=time(9))
    source, entries = found
    for key in entries:
        if key not in SETTINGS_DEFAULTS:
            raise source.problem("settings", key,
                                 f"unknown field (known: {', '.join(SETTINGS_DEFAULTS)})",
                                 "champ inconnu")
    slots = values["attempt_slots"]
    if not isinstance(slots, list) or not slots:
        raise source.problem("settings", "attempt_slots", "expected a list of \"HH:MM\"",
                             "une liste d'heures « HH:MM » est attendue")
    days = values["working_days"]
    if not isinstance(days, list) or not days or not all(
            isinstance(d, int) and 1 <= d <= 7 for d in days):
        raise source.problem("settings", "working_days", "expected a list of days 1 (Monday) "
                             "to 7 (Sunday)", "une liste de jours de 1 (lundi) à 7 est attendue")
    return Settings(
        unreachable_after_attempts=source.integer(
            "settings", "unreachable_after_attempts", values["unreachable_after_attempts"],
            low=1),
        ask_again_after_months=source.integer("settings", "ask_again_after_months",
                                              values["ask_again_after_months"]),
        recent_stay_days=source.integer("settings", "recent_stay_days",
                                        values["recent_stay_days"]),
        attempt_slots=tuple(sorted(_clock(source, "settings", "attempt_slots", s)
                                   for s in slots)),
        working_days=tuple(days),
        default_call_time=_clock(source, "settings", "default_call_time",
                                 values["default_call_time"]),
    )


def _inline_codes(source: _File, section: str, value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict) or not value:
        raise source.problem(section, "acts", "codes = { system = [\"code\", ...] } expected",
                             "codes = { système = [\"code\", ...] } attendu")
    codes: dict[str, tuple[str, ...]] = {}
    for system, items in value.items():
        if system not in SHORT_KEYS:
            raise source.problem(section, "acts", f"unknown code system {system!r}",
                                 f"système de codes inconnu « {system} »")
        if not isinstance(items, list) or not items:
            raise source.problem(section, "acts", f"{system}: empty code list",
                                 f"{system} : liste de codes vide")
        normal = []
        for raw in items:
            code = normalize_code(raw) if isinstance(raw, str) else ""
            if not _CODE.match(code) or code == "*":
                raise source.problem(section, "acts", f"{system}: invalid code {raw!r}",
                                     f"{system} : code invalide « {raw} »")
            normal.append(code)
        codes[system] = tuple(normal)
    return codes


def _acts(source: _File, vocab: Vocabulary, section: str, value: Any) -> tuple[Act, ...]:
    if not isinstance(value, list):
        raise source.problem(section, "acts", "expected a list of { concept = ..., "
                             "every_months = N }", "une liste { concept = ..., every_months "
                             "= N } est attendue")
    acts = []
    for item in value:
        if not isinstance(item, dict):
            raise source.problem(section, "acts", "each act is { concept = ..., every_months "
                                 "= N }", "chaque acte s'écrit { concept = ..., every_months "
                                 "= N }")
        unknown = set(item) - ACT_KEYS
        if unknown:
            raise source.problem(section, "acts", f"unknown field {sorted(unknown)[0]!r} in "
                                 f"an act (known: {', '.join(sorted(ACT_KEYS))})",
                                 f"champ inconnu « {sorted(unknown)[0]} » dans un acte")
        if ("concept" in item) == ("codes" in item):
            raise source.problem(section, "acts", "an act names a concept or codes (one "
                                 "of them)", "un acte donne un concept ou des codes")
        if "every_months" not in item:
            raise source.problem(section, "acts", "an act needs every_months",
                                 "un acte doit donner every_months")
        if "concept" in item:
            concept = source.concept(vocab, section, "acts", item["concept"])
            kinds = ACT_FACT_KINDS.get(concept.category, ("procedure", "observation"))
        else:
            concept = Concept(name="codes", label="acte", category="procedure", sex=None,
                              codes=_inline_codes(source, section, item["codes"]))
            kinds = ("procedure", "observation", "encounter")
        results = item.get("not_results", [])
        if not isinstance(results, list) or not all(isinstance(r, str) for r in results):
            raise source.problem(section, "acts", "not_results is a list of texts",
                                 "not_results est une liste de textes")
        from_age = item.get("from_age")
        last_fr = item.get("last_fr", f"dernier acte « {concept.label} »")
        if not isinstance(last_fr, str) or not last_fr.strip():
            raise source.problem(section, "acts", "last_fr is a text", "last_fr est un texte")
        acts.append(Act(
            last_fr=last_fr.strip(),
            name=concept.name, label=concept.label, concept=concept, kinds=kinds,
            every_months=source.integer(section, "acts", item["every_months"]),
            from_age=None if from_age is None else source.integer(section, "acts", from_age),
            not_results=tuple(r.strip().lower() for r in results)))
    return tuple(acts)


def _campaigns(source: _File, section: str, value: Any) -> tuple[Campaign, ...]:
    if not isinstance(value, list) or not value:
        raise source.problem(section, "campaigns", "expected a list of { start = \"MM-DD\", "
                             "end = \"MM-DD\" }", "une liste { start = \"MM-JJ\", end = "
                             "\"MM-JJ\" } est attendue")
    campaigns = []
    for item in value:
        if not isinstance(item, dict) or "start" not in item or "end" not in item:
            raise source.problem(section, "campaigns", "each campaign has start and end",
                                 "chaque campagne a un début (start) et une fin (end)")
        unknown = set(item) - CAMPAIGN_KEYS
        if unknown:
            raise source.problem(section, "campaigns", f"unknown field {sorted(unknown)[0]!r} "
                                 "in a campaign", f"champ inconnu « {sorted(unknown)[0]} »")
        min_age = item.get("min_age")
        campaigns.append(Campaign(
            start=_month_day(source, section, "campaigns", item["start"]),
            end=_month_day(source, section, "campaigns", item["end"]),
            done_since=(_month_day(source, section, "campaigns", item["done_since"])
                        if "done_since" in item else None),
            min_age=None if min_age is None else source.integer(section, "campaigns", min_age)))
    return tuple(campaigns)


def _rule(source: _File, vocab: Vocabulary, code: str, entry: Any) -> Rule:
    source.check_table(code, entry, "")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise source.problem(code, "kind" if "kind" in entry else None,
                             f"kind must be one of {', '.join(KINDS)}",
                             f"kind est l'un de {', '.join(KINDS)}")
    allowed = COMMON_KEYS | KIND_KEYS[kind]
    for key in entry:
        if key not in allowed:
            raise source.problem(code, key, f"unknown field for a rule of kind {kind!r} "
                                 f"(known: {', '.join(sorted(allowed))})",
                                 f"champ inconnu pour une règle « {kind} »")
    for key in ("label", "script", "priority", *REQUIRED_KEYS[kind]):
        if key not in entry:
            raise source.problem(code, None, f"missing field {key!r}",
                                 f"champ « {key} » manquant")
    values: dict[str, Any] = {
        "code": code, "kind": kind, "line": source.line_of(code, None),
        "label": source.text_field(code, "label", entry["label"]),
        "script": source.text_field(code, "script", entry["script"]),
        "priority": source.integer(code, "priority", entry["priority"]),
    }
    if "never" in entry:
        values["never"] = source.text_field(code, "never", entry["never"])
    for key, value in entry.items():
        if key in COMMON_KEYS:
            continue
        values[key] = _value(source, vocab, code, key, value)
    if kind == "interval" and values["min_age"] > values["max_age"]:
        raise source.problem(code, "max_age", "max_age is below min_age",
                             "max_age est inférieur à min_age")
    if kind == "interval" and not values["acts"]:
        raise source.problem(code, "acts", "at least one act is needed",
                             "au moins un acte est nécessaire")
    return Rule(**values)


_INTEGER_KEYS = frozenset({"min_age", "max_age", "months_since_last_dose", "older_age",
                           "older_months_since_last_dose", "then_every_years",
                           "recent_dose_years", "months_between", "call_within_days",
                           "keep_days", "first_min_age", "first_bonus", "min_fragility_level",
                           "every_months"})


def _value(source: _File, vocab: Vocabulary, code: str, key: str, value: Any) -> Any:
    if key in _INTEGER_KEYS:
        return source.integer(code, key, value)
    if key == "doses":
        return source.integer(code, key, value, low=1)
    if key == "sex":
        if value not in ("F", "M"):
            raise source.problem(code, key, "sex is \"F\" or \"M\"", "le sexe est \"F\" ou \"M\"")
        return value
    if key in ("concept",):
        return source.concept(vocab, code, key, value)
    if key in ("exclude", "at_risk_conditions", "first_conditions"):
        return source.concepts(vocab, code, key, value)
    if key == "acts":
        return _acts(source, vocab, code, value)
    if key == "campaigns":
        return _campaigns(source, code, value)
    if key == "at_risk_pregnant":
        if not isinstance(value, bool):
            raise source.problem(code, key, "expected true or false", "true ou false attendu")
        return value
    if key == "no_gp_script":
        return source.text_field(code, key, value)
    if key == "ages":
        if not isinstance(value, list) or not value:
            raise source.problem(code, key, "expected a list of ages", "une liste d'âges")
        ages = tuple(source.integer(code, key, v) for v in value)
        if list(ages) != sorted(set(ages)):
            raise source.problem(code, key, "ages must increase", "les âges sont croissants")
        return ages
    if key == "bands":
        if not isinstance(value, list) or not value:
            raise source.problem(code, key, "expected a list of [low, high] age bands",
                                 "une liste de tranches [début, fin] est attendue")
        bands = []
        for band in value:
            if not (isinstance(band, list) and len(band) == 2):
                raise source.problem(code, key, "each band is [low, high]",
                                     "chaque tranche s'écrit [début, fin]")
            low, high = (source.integer(code, key, v) for v in band)
            if low > high:
                raise source.problem(code, key, f"band [{low}, {high}] ends before it starts",
                                     f"la tranche [{low}, {high}] finit avant de commencer")
            bands.append((low, high))
        return tuple(bands)
    raise source.problem(code, key, "unknown field", "champ inconnu")  # pragma: no cover
