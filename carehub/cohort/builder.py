"""The criteria builder's rows, headless: a query as groups of rows, and back to its text.

The search screen shows a query as rows of criteria inside AND/OR groups, each row or
group possibly negated (NON). `rows_of(tree)` gives the rows of a parsed query;
`text_of(group)` writes rows as query text, in the words of DESIGN.md, so that
`parse_query(text_of(rows_of(q))) == q` for every query `q` (tested with hypothesis).
Rows a user left incomplete still give text: the parser then names what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal, TypeAlias

from carehub.cohort.parser import (
    DEFAULT_SYSTEMS,
    Age,
    And,
    Cmp,
    Code,
    Commune,
    ConceptRef,
    Facts,
    Fragility,
    Not,
    Or,
    Pregnant,
    Query,
    Sex,
    Since,
    Within,
)

RowKind = Literal["age", "sex", "condition", "medication", "lab", "act", "vaccine", "contact",
                  "pregnant", "fragility", "commune"]
ROW_KINDS: tuple[RowKind, ...] = ("age", "sex", "condition", "medication", "lab", "act",
                                  "vaccine", "contact", "pregnant", "fragility", "commune")
FACT_ROW_KINDS = frozenset({"condition", "medication", "lab", "act", "vaccine", "contact"})
COUNTED_KINDS = frozenset({"lab", "act", "vaccine", "contact"})  # `count` is allowed
CMPS: tuple[Cmp, ...] = (">=", "<=", ">", "<", "=")
Unit = Literal["d", "m", "y"]


@dataclass
class CriterionRow:
    """One row of the builder; only the fields of its kind are read."""

    kind: RowKind = "condition"
    negated: bool = False
    codes: str = ""  # condition..contact: "E10*, E11*, icpc2:T90" or a concept ("mammography")
    low: int | None = None  # age, inclusive; None: no lower bound
    high: int | None = None
    sex: Literal["F", "M"] = "F"
    cmp: Cmp = ">="  # fragility
    level: int = 2
    count_cmp: Cmp | None = None  # lab, act, vaccine, contact: `count cmp n` when set
    count_n: int = 1
    within: tuple[int, Unit] | None = None  # `within 2y`
    since: date | None = None  # `since 2025-01-01` (when `within` is None)
    communes: str = ""  # "41018, 45234"


@dataclass
class Group:
    """Rows and groups joined by one operator (ET / OU)."""

    op: Literal["and", "or"] = "and"
    negated: bool = False
    items: list[Item] = field(default_factory=list)


Item: TypeAlias = CriterionRow | Group


# ------------------------------------------------------------------------------ to text


def text_of(group: Group) -> str:
    """The query text of a group of rows (the whole query for the top group)."""
    parts: list[str] = []
    for index, item in enumerate(group.items):
        body = row_text(item) if isinstance(item, CriterionRow) else f"({text_of(item)})"
        if item.negated:
            if index and group.op == "and":
                parts.append(f"except {body}")  # "... except pregnant" reads as one says it
                continue
            body = f"not {body}"
        if index:
            parts.append(f"{group.op} {body}")
        else:
            parts.append(body)
    return " ".join(parts)


def row_text(row: CriterionRow) -> str:
    """One criterion, e.g. `lab 4548-4 count >= 3 within 1y`."""
    match row.kind:
        case "age":
            if row.low is not None and row.high is not None:
                return f"age {row.low}..{row.high}"
            if row.low is not None:
                return f"age >= {row.low}"
            if row.high is not None:
                return f"age <= {row.high}" if row.high >= 0 else "age < 0"
            return "age"  # incomplete: the parser asks for a range
        case "sex":
            return f"sex {row.sex}"
        case "pregnant":
            return "pregnant"
        case "fragility":
            return f"fragility {row.cmp} {row.level}"
        case "commune":
            return f"commune {_list(row.communes)}".rstrip()
    text = f"{row.kind} {_list(row.codes)}".rstrip()
    if row.kind in COUNTED_KINDS and row.count_cmp is not None:
        text += f" count {row.count_cmp} {row.count_n}"
    if row.within is not None:
        text += f" within {row.within[0]}{row.within[1]}"
    elif row.since is not None:
        text += f" since {row.since.isoformat()}"
    return text


def _list(text: str) -> str:
    """'E10*, E11* ,icpc2:T90' -> 'E10*,E11*,icpc2:T90' (commas, no spaces)."""
    return ",".join(part.strip() for part in text.split(",") if part.strip())


# ------------------------------------------------------------------------------ from a tree


def rows_of(query: Query) -> Group:
    """The builder's top group for a parsed query."""
    item = _item(query)
    if isinstance(item, Group) and not item.negated:
        return item
    return Group("and", False, [item])


def _item(query: Query) -> Item:
    match query:
        case Not(operand):
            inner = _item(operand)
            if inner.negated:  # not not X: the inner negation gets a group of its own
                return Group("and", True, [inner])
            inner.negated = True
            return inner
        case And(operands):
            return Group("and", False, [_item(q) for q in operands])
        case Or(operands):
            return Group("or", False, [_item(q) for q in operands])
    return _row(query)


def _row(query: Query) -> CriterionRow:
    match query:
        case Age(low, high):
            return CriterionRow("age", low=low, high=high)
        case Sex(value):
            return CriterionRow("sex", sex=value)
        case Pregnant():
            return CriterionRow("pregnant")
        case Fragility(cmp, level):
            return CriterionRow("fragility", cmp=cmp, level=level)
        case Commune(insee):
            return CriterionRow("commune", communes=", ".join(insee))
        case Facts(kind, codes, count, window):
            row = CriterionRow(kind, codes=", ".join(code_text(kind, c) for c in codes))
            if count is not None:
                row.count_cmp, row.count_n = count.cmp, count.n
            if isinstance(window, Within):
                row.within = (window.amount, window.unit)
            elif isinstance(window, Since):
                row.since = window.day
            return row
    raise TypeError(f"not a criterion: {query!r}")


def code_text(kind: str, code: Code | ConceptRef) -> str:
    """A code as one types it: without its system when it is the kind's default one."""
    if isinstance(code, ConceptRef):
        return code.name
    written = code.code + ("*" if code.prefix else "")
    return written if DEFAULT_SYSTEMS.get(kind) == code.system else f"{code.system}:{written}"
