"""The cohort query language (DESIGN.md, "Cohort query language") parsed into a typed tree.

    sex F and age 25..45 and condition E04* and act mammography within 2y except pregnant

Precedence: not > and/except > or; `A except B` is `A and not B`. Keywords are
case-insensitive and the French aliases et, ou, non, sauf are accepted. A syntax error
raises QuerySyntaxError with the 1-based column and what was expected there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal, TypeAlias

from carehub.caseload.coding import SHORT_KEYS, normalize_code
from carehub.caseload.vocabulary import Vocabulary, vocabulary
from carehub.errors import InputError

Cmp = Literal[">=", "<=", ">", "<", "="]
FactKind = Literal["condition", "medication", "lab", "act", "vaccine", "contact"]
Unit = Literal["d", "m", "y"]

# Without a prefix a condition code is ICD-10 (CIM-10); ICPC-2 (CISP-2) codes are reached
# by their prefix only ("icpc2:T90"), since both code systems share letters and digits.
DEFAULT_SYSTEMS: dict[str, str] = {"condition": "icd10", "medication": "atc", "lab": "loinc"}
CODE_SYSTEMS = frozenset(SHORT_KEYS - {"v3-actcode"})

# ------------------------------------------------------------------------------ the tree


@dataclass(frozen=True)
class Code:
    """One code of a system key (icd10, loinc...), normalised; `prefix` for a trailing '*'."""

    system: str
    code: str
    prefix: bool = False


@dataclass(frozen=True)
class ConceptRef:
    """A concept of resources/vocabulary.toml by name (act mammography, vaccine flu)."""

    name: str


@dataclass(frozen=True)
class Count:
    """`count cmp N`: distinct dated occurrences."""

    cmp: Cmp
    n: int


@dataclass(frozen=True)
class Within:
    """`within N d|m|y`: from N days, months or years before the as-of date, inclusive."""

    amount: int
    unit: Unit


@dataclass(frozen=True)
class Since:
    """`since DATE`: from that day, inclusive."""

    day: date


Window: TypeAlias = Within | Since


@dataclass(frozen=True)
class Age:
    """Completed years at the as-of date within inclusive bounds (None: unbounded)."""

    low: int | None
    high: int | None


@dataclass(frozen=True)
class Sex:
    value: Literal["F", "M"]


@dataclass(frozen=True)
class Facts:
    """condition, medication, lab, act, vaccine or contact criteria over clinical facts."""

    kind: FactKind
    codes: tuple[Code | ConceptRef, ...]
    count: Count | None = None
    window: Window | None = None


@dataclass(frozen=True)
class Pregnant:
    pass


@dataclass(frozen=True)
class Fragility:
    cmp: Cmp
    level: int


@dataclass(frozen=True)
class Commune:
    insee: tuple[str, ...]


@dataclass(frozen=True)
class Not:
    operand: Query


@dataclass(frozen=True)
class And:
    operands: tuple[Query, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Query, ...]


Criterion: TypeAlias = Age | Sex | Facts | Pregnant | Fragility | Commune
Query: TypeAlias = Criterion | Not | And | Or

# ------------------------------------------------------------------------------ errors


class QuerySyntaxError(InputError):
    """The query does not follow the language; `column` is 1-based."""

    def __init__(self, column: int, expected: tuple[str, str], found: str | None) -> None:
        found_en = f"'{found}'" if found is not None else "the end of the query"
        found_fr = f"« {found} »" if found is not None else "la fin de la requête"
        super().__init__(
            f"Query syntax error at column {column}: expected {expected[0]}, found {found_en}.",
            f"Erreur dans la requête, colonne {column} : {expected[1]} attendu(e), "
            f"trouvé {found_fr}.")
        self.column = column
        self.expected = expected


# (English, French) descriptions of what may come next.
CRITERIA = ("age, sex, condition, medication, lab, act, vaccine, contact, pregnant, fragility, "
            "commune")
EXPECT_CRITERION = (f"a criterion ({CRITERIA}), 'not' or '('",
                    f"un critère ({CRITERIA}), « non » ou « ( »")
EXPECT_CONTINUATION = ("'and', 'or', 'except' or the end of the query",
                       "« et », « ou », « sauf » ou la fin de la requête")
EXPECT_CLOSE = ("')', 'and', 'or' or 'except'", "« ) », « et », « ou » ou « sauf »")
EXPECT_NUMBER = ("a whole number", "un nombre entier")
EXPECT_RANGE = ("a range N..N or a comparison (>=, <=, >, <, =) and a number",
                "un intervalle N..N ou une comparaison (>=, <=, >, <, =) et un nombre")
EXPECT_CMP = ("a comparison (>=, <=, >, <, =)", "une comparaison (>=, <=, >, <, =)")
EXPECT_SEX = ("F or M", "F ou M")
EXPECT_CODE = ("a code (E11, E11*, icpc2:T90...)", "un code (E11, E11*, icpc2:T90...)")
EXPECT_UNIT = ("a duration N d, N m or N y (days, months, years)",
               "une durée N d, N m ou N y (jours, mois, années)")
EXPECT_DATE = ("a date YYYY-MM-DD", "une date AAAA-MM-JJ")
EXPECT_INSEE = ("a commune INSEE code (5 characters, e.g. 41018)",
                "un code INSEE de commune (5 caractères, ex. 41018)")


def _expect_system() -> tuple[str, str]:
    known = ", ".join(f"{key}:" for key in sorted(CODE_SYSTEMS))
    return f"a known code system ({known})", f"un système de codes connu ({known})"


def _expect_concept(vocab: Vocabulary) -> tuple[str, str]:
    names = ", ".join(sorted(vocab.concepts))
    return (f"a concept ({names}) or codes with their system (snomed:..., loinc:...)",
            f"un concept ({names}) ou des codes avec leur système (snomed:..., loinc:...)")


# ------------------------------------------------------------------------------ tokens

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<cmp>>=|<=|>|<|=)
  | (?P<range>\.\.)
  | (?P<punct>[(),])
  | (?P<word>\w(?:[\w\-:]|\.(?=[\w*]))*\*?)
""", re.VERBOSE)
KEYWORDS = frozenset({"and", "et", "or", "ou", "not", "non", "except", "sauf", "within",
                      "since", "count"})
_OR = frozenset({"or", "ou"})
_AND = frozenset({"and", "et"})
_EXCEPT = frozenset({"except", "sauf"})
_NOT = frozenset({"not", "non"})
_DURATION = re.compile(r"^(\d+)([dmy])$", re.IGNORECASE)
_CODE = re.compile(r"^[A-Z0-9-]+$")
_INSEE = re.compile(r"^[0-9][0-9AB][0-9]{3}$")


@dataclass(frozen=True)
class Token:
    kind: Literal["cmp", "range", "punct", "word", "end"]
    text: str
    column: int  # 1-based

    @property
    def lower(self) -> str:
        return self.text.lower()


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise QuerySyntaxError(position + 1, EXPECT_CRITERION
                                   if not tokens else EXPECT_CONTINUATION, text[position])
        kind = match.lastgroup
        if kind != "space":
            tokens.append(Token(kind, match.group(), position + 1))  # type: ignore[arg-type]
        position = match.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


# ------------------------------------------------------------------------------ parser


def parse_query(text: str, *, vocab: Vocabulary | None = None) -> Query:
    """The tree of `text`, or QuerySyntaxError naming the column and what was expected."""
    parser = _Parser(tokenize(text), vocab or vocabulary())
    query = parser.or_expr()
    parser.expect_end()
    return query


class _Parser:
    def __init__(self, tokens: list[Token], vocab: Vocabulary) -> None:
        self.tokens = tokens
        self.position = 0
        self.vocab = vocab

    # -- cursor

    @property
    def current(self) -> Token:
        return self.tokens[self.position]

    def advance(self) -> Token:
        token = self.current
        if token.kind != "end":
            self.position += 1
        return token

    def at_word(self, words: frozenset[str] | str) -> bool:
        token = self.current
        wanted = frozenset({words}) if isinstance(words, str) else words
        return token.kind == "word" and token.lower in wanted

    def fail(self, expected: tuple[str, str], token: Token | None = None) -> QuerySyntaxError:
        token = token or self.current
        return QuerySyntaxError(token.column, expected,
                                token.text if token.kind != "end" else None)

    def expect_end(self) -> None:
        if self.current.kind != "end":
            raise self.fail(EXPECT_CONTINUATION)

    # -- boolean structure

    def or_expr(self) -> Query:
        operands = [self.and_expr()]
        while self.at_word(_OR):
            self.advance()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_expr(self) -> Query:
        operands = [self.unary()]
        while self.at_word(_AND | _EXCEPT):
            excluded = self.advance().lower in _EXCEPT
            operand = self.unary()
            operands.append(Not(operand) if excluded else operand)
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def unary(self) -> Query:
        if self.at_word(_NOT):
            self.advance()
            return Not(self.unary())
        if self.current.kind == "punct" and self.current.text == "(":
            self.advance()
            inner = self.or_expr()
            if not (self.current.kind == "punct" and self.current.text == ")"):
                raise self.fail(EXPECT_CLOSE)
            self.advance()
            return inner
        return self.criterion()

    # -- criteria

    def criterion(self) -> Criterion:
        token = self.current
        if token.kind != "word":
            raise self.fail(EXPECT_CRITERION)
        name = token.lower
        if name == "age":
            self.advance()
            return self.age()
        if name == "sex":
            self.advance()
            return self.sex()
        if name in ("condition", "medication", "lab"):
            self.advance()
            return self.facts(name, self.codes(DEFAULT_SYSTEMS[name]))  # type: ignore[arg-type]
        if name in ("act", "vaccine", "contact"):
            self.advance()
            return self.facts(name, self.concept())  # type: ignore[arg-type]
        if name == "pregnant":
            self.advance()
            return Pregnant()
        if name == "fragility":
            self.advance()
            return Fragility(self.cmp(), self.number())
        if name == "commune":
            self.advance()
            return Commune(self.communes())
        raise self.fail(EXPECT_CRITERION)

    def facts(self, kind: FactKind, codes: tuple[Code | ConceptRef, ...]) -> Facts:
        count = None
        if kind not in ("condition", "medication") and self.at_word("count"):
            self.advance()
            count = Count(self.cmp(), self.number())
        return Facts(kind, codes, count, self.window())

    def window(self) -> Window | None:
        if self.at_word("within"):
            self.advance()
            return self.duration()
        if self.at_word("since"):
            self.advance()
            token = self.current
            try:
                day = date.fromisoformat(token.text) if token.kind == "word" else None
            except ValueError:
                day = None
            if day is None or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", token.text):
                raise self.fail(EXPECT_DATE)
            self.advance()
            return Since(day)
        return None

    def duration(self) -> Within:
        token = self.current
        glued = _DURATION.match(token.text) if token.kind == "word" else None
        if glued:  # "2y"
            self.advance()
            return Within(int(glued.group(1)), glued.group(2).lower())  # type: ignore[arg-type]
        if token.kind == "word" and token.text.isdigit():  # "2 y"
            self.advance()
            unit = self.current
            if unit.kind == "word" and unit.lower in ("d", "m", "y"):
                self.advance()
                return Within(int(token.text), unit.lower)  # type: ignore[arg-type]
            raise self.fail(EXPECT_UNIT)
        raise self.fail(EXPECT_UNIT)

    def age(self) -> Age:
        token = self.current
        if token.kind == "cmp":
            cmp, n = self.cmp(), self.number()
            return {">=": Age(n, None), ">": Age(n + 1, None), "<=": Age(None, n),
                    "<": Age(None, n - 1), "=": Age(n, n)}[cmp]
        if token.kind != "word" or not token.text.isdigit():
            raise self.fail(EXPECT_RANGE)
        low = self.number()
        if self.current.kind != "range":
            raise self.fail(("'..' and the upper bound (e.g. 25..45)",
                             "« .. » et la borne haute (ex. 25..45)"))
        self.advance()
        return Age(low, self.number())

    def sex(self) -> Sex:
        token = self.current
        if token.kind == "word" and token.text.upper() in ("F", "M"):
            self.advance()
            return Sex(token.text.upper())  # type: ignore[arg-type]
        raise self.fail(EXPECT_SEX)

    def cmp(self) -> Cmp:
        if self.current.kind != "cmp":
            raise self.fail(EXPECT_CMP)
        return self.advance().text  # type: ignore[return-value]

    def number(self) -> int:
        token = self.current
        if token.kind != "word" or not token.text.isdigit():
            raise self.fail(EXPECT_NUMBER)
        self.advance()
        return int(token.text)

    # -- codes, concepts, communes

    def codes(self, default_system: str | None) -> tuple[Code | ConceptRef, ...]:
        found = [self.code(default_system)]
        while self.current.kind == "punct" and self.current.text == ",":
            self.advance()
            found.append(self.code(default_system))
        return tuple(found)

    def code(self, default_system: str | None) -> Code | ConceptRef:
        token = self.current
        if token.kind != "word" or token.lower in KEYWORDS:
            raise self.fail(EXPECT_CODE if default_system else _expect_concept(self.vocab))
        system, colon, raw = token.text.partition(":")
        if not colon:
            # A concept name (act mammography, and also lab hba1c, medication insulin):
            # no code of the systems we know reads like one.
            if token.lower in self.vocab.concepts:
                self.advance()
                return ConceptRef(token.lower)
            if default_system is None:  # act, vaccine, contact: codes need their system
                raise self.fail(_expect_concept(self.vocab))
            system, raw = default_system, token.text
        system = system.lower()
        if system not in CODE_SYSTEMS:
            raise self.fail(_expect_system())
        prefix = raw.endswith("*")
        code = normalize_code(raw[:-1] if prefix else raw)
        if not _CODE.match(code):
            raise self.fail(EXPECT_CODE)
        self.advance()
        return Code(system, code, prefix)

    def concept(self) -> tuple[Code | ConceptRef, ...]:
        return self.codes(None)

    def communes(self) -> tuple[str, ...]:
        found = [self.insee()]
        while self.current.kind == "punct" and self.current.text == ",":
            self.advance()
            found.append(self.insee())
        return tuple(found)

    def insee(self) -> str:
        token = self.current
        if token.kind != "word" or not _INSEE.match(token.text.upper()):
            raise self.fail(EXPECT_INSEE)
        self.advance()
        return token.text.upper()
