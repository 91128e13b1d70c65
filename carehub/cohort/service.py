"""Run a cohort query: parse, compile to one SELECT, read the matching patient ids."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from carehub.caseload.services import PatientIds
from carehub.cohort.compiler import compile_query
from carehub.cohort.parser import parse_query
from carehub.users.access import visible_patients_clause


def run_query(session: Session, *, expr: str, as_of: date,
              care_manager: str | None = None) -> PatientIds:
    """Ids of the patients matching `expr` at `as_of`, in name order.

    All patients of the local database by default (a workstation holds one nurse's
    caseload); `care_manager` (a user name) keeps only the patients she follows.
    A syntax error raises QuerySyntaxError (an InputError) with its column.
    """
    query = parse_query(expr)
    select = compile_query(query, as_of=as_of, care_manager=care_manager)
    select = select.where(visible_patients_clause(session, clinical=True))
    return PatientIds(list(session.execute(select).scalars()))
