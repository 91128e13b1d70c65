"""Search as you type: the ids come back in name order, every filter kept, and the packed
result reads like the list it stands for."""

from __future__ import annotations

import random
import uuid
from datetime import date

import pytest
from sqlmodel import select

from carehub.caseload.ids import PatientIds
from carehub.caseload.models import Patient
from carehub.caseload.services import PatientInput, create_patient, search_patient_ids
from carehub.db import Database
from carehub.users.models import User

NAMES = ("Durand", "Martin", "Dubois", "Bernard", "Petit", "Leroy", "Moreau", "Roux", "David",
         "Dupont", "Girard", "André")
GIVEN = ("Jeanne", "Paul", "Marie", "Denis", "Odette", "Louis")


def _patient(birth_name: str, given: str, *, status: str = "active",
             fragility: int | None = None) -> PatientInput:
    return PatientInput(birth_name=birth_name, given_names=given, birth_date=date(1940, 5, 1),
                        status=status, fragility_level=fragility)


@pytest.fixture
def crowd(db: Database) -> list[Patient]:
    """Sixty patients created in a shuffled order (ids do not follow the names), some
    closed, some followed by another care manager, namesakes included."""
    rng = random.Random(7)
    people = [(n, g) for n in NAMES for g in GIVEN[:5]]
    rng.shuffle(people)
    with db.transaction() as session:
        for index, (name, given) in enumerate(people):
            create_patient(session, data=_patient(name, given, fragility=index % 4,
                                                  status="closed" if index % 7 == 0
                                                  else "active"),
                           actor="alice" if index % 3 else "bob")
        create_patient(session, data=_patient("Durand", "Jeanne"), actor="alice")  # namesake
    with db.session() as session:
        return list(session.exec(select(Patient)))


def _in_name_order(patients: list[Patient]) -> list[uuid.UUID]:
    return [p.id for p in sorted(patients, key=lambda p: (p.sort_key, p.id.hex))]


@pytest.mark.parametrize("typed", ["", "d", "du", "durand", "durand j", "an", "zz"])
def test_search_lists_every_match_in_name_order(db: Database, crowd: list[Patient],
                                                typed: str) -> None:
    words = typed.split()
    expected = _in_name_order([p for p in crowd if all(w in p.search_text for w in words)])
    with db.session() as session:
        found = search_patient_ids(session, text=typed)
    assert list(found) == expected
    assert len(found) == len(expected)


def test_filters_keep_the_name_order(db: Database, crowd: list[Patient]) -> None:
    with db.session() as session:
        found = search_patient_ids(session, text="e", statuses=["active"],
                                   fragility_levels=[1, 2], care_manager="alice")
        alice = session.exec(select(User.id).where(User.name == "alice")).one()
    expected = _in_name_order([p for p in crowd if "e" in p.search_text
                               and p.status == "active" and p.fragility_level in (1, 2)
                               and p.care_manager_id == alice])
    assert expected and list(found) == expected


def test_a_found_patient_is_located_by_her_row(db: Database, crowd: list[Patient]) -> None:
    with db.session() as session:
        found = search_patient_ids(session, text="d")
    for row, patient_id in enumerate(found):
        assert found.index(patient_id) == row
        assert patient_id in found
    outsider = next(p.id for p in crowd if "d" not in p.search_text)
    assert outsider not in found
    with pytest.raises(ValueError, match="not in the result"):
        found.index(outsider)


def test_packed_ids_read_like_the_list_they_stand_for() -> None:
    ids = [uuid.uuid4() for _ in range(5)]
    packed = PatientIds(i.hex for i in ids)
    assert list(packed) == ids and len(packed) == 5
    assert packed[0] == ids[0] and packed[-1] == ids[-1]
    assert packed[1:3] == ids[1:3] and packed[::-2] == ids[::-2]
    assert packed.index(ids[3], 2, 4) == 3
    with pytest.raises(ValueError):
        packed.index(ids[3], 0, 3)
    with pytest.raises(IndexError):
        packed[5]
    assert packed == ids and packed == PatientIds("".join(i.hex for i in ids))
    assert PatientIds() == [] and len(PatientIds("")) == 0


def test_an_id_straddling_two_ids_is_not_found() -> None:
    first, second = "ab" * 16, "cd" * 16
    straddling = uuid.UUID(hex=first[16:] + second[:16])
    packed = PatientIds([first, second])
    assert straddling not in packed
    assert uuid.UUID(hex=second) in packed and packed.index(uuid.UUID(hex=second)) == 1


def test_a_malformed_id_string_is_refused() -> None:
    with pytest.raises(ValueError, match="32 hex digits"):
        PatientIds("abc")
