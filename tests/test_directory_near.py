"""Nearest practitioners, GP suggestions and referrals over the fixture extract."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select

from carehub.caseload.services import PatientInput, create_patient
from carehub.coordination.audit import AuditEvent
from carehub.coordination.services import list_actions
from carehub.db import Database
from carehub.directory.extract_import import import_extract
from carehub.directory.models import Commune
from carehub.directory.services import (
    DirectorySearch,
    record_referral,
    search_directory,
    suggest_attending_doctors,
)
from carehub.errors import InputError
from carehub.sync.outbox import OutboxEntry

FIXTURE = Path(__file__).parent / "data" / "annuaire" / "PS_LibreAcces_Personne_activite.txt"


@pytest.fixture
def directory(db: Database) -> Database:
    with db.transaction() as session:
        import_extract(session, path=FIXTURE, actor="alice")
    return db


def independent_km(a: Commune, b: Commune) -> float:
    """Spherical law of cosines: a different formula from the code's haversine."""
    p1, p2 = math.radians(a.latitude), math.radians(b.latitude)
    dl = math.radians(b.longitude - a.longitude)
    cosine = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return 6371.0 * math.acos(max(-1.0, min(1.0, cosine)))


def near(db: Database, **fields: object) -> list[tuple[str, float, str]]:
    with db.session() as session:
        result = search_directory(session, search=DirectorySearch(**fields))  # type: ignore[arg-type]
    return [(p.last_name, p.distance_km, p.commune) for p in result.practitioners]


def test_gps_near_blois_come_nearest_first_at_independently_computed_distances(
        directory: Database) -> None:
    found = near(directory, commune="41018", profession="10", specialty="SM54", radius_km=50)
    with directory.session() as session:
        blois = session.get(Commune, "41018")
        assert blois is not None
        for _name, distance, insee in found:
            site = session.get(Commune, insee)
            assert site is not None
            assert distance == pytest.approx(independent_km(blois, site), abs=0.01)
    assert [name for name, _d, _c in found] == [
        "GARNIER", "MARTIN", "LEROY", "DUBOIS", "ROUX", "MOREAU"]
    assert [d for _n, d, _c in found] == sorted(d for _n, d, _c in found)


def test_one_row_per_practitioner_at_her_nearest_site(directory: Database) -> None:
    from_tours = near(directory, commune="37261", profession="Médecin",
                      specialty="Médecine générale", radius_km=80)
    dubois = [row for row in from_tours if row[0] == "DUBOIS"]
    assert dubois == [("DUBOIS", 0.0, "37261")]  # his Tours site, not Vineuil too


def test_the_radius_bounds_the_results_and_the_limit_cuts_them(directory: Database) -> None:
    within_10 = near(directory, commune="41018", profession="10", specialty="SM54",
                     radius_km=10)
    assert [name for name, _d, _c in within_10] == ["GARNIER", "MARTIN", "LEROY", "DUBOIS"]
    assert all(distance <= 10 for _n, distance, _c in within_10)
    assert "LAMBERT" not in {n for n, _d, _c in near(directory, commune="41018", radius_km=150)}
    assert len(near(directory, commune="41018", radius_km=50, limit=3)) == 3


def test_labels_and_codes_filter_alike_and_unknown_ones_are_refused(
        directory: Database) -> None:
    assert near(directory, commune="41018", profession="Masseur-Kinésithérapeute") == \
        near(directory, commune="41018", profession="70") == [("FOURNIER", 20.83, "41136")]
    with pytest.raises(InputError, match="Unknown profession 'plombier'"):
        near(directory, commune="41018", profession="plombier")


def test_search_by_name_and_sites_abroad_never_appear(directory: Database) -> None:
    assert [n for n, _d, _c in near(directory, commune="41018", name="hélène")] == ["LEROY"]
    assert "SMITH" not in {n for n, _d, _c in near(directory, commune="41018", radius_km=1000,
                                                   limit=100)}


def _patient(db: Database, **changes: object) -> str:
    values: dict[str, object] = {"birth_name": "Martin", "given_names": "Jeanne", "sex": "F",
                                 "birth_date": date(1940, 3, 2), "commune_insee": "41136"}
    values.update(changes)
    with db.transaction() as session:
        return str(create_patient(session, data=PatientInput.model_validate(values),
                                  actor="alice"))


def test_a_patient_without_a_gp_gets_the_nearest_gps_suggested(directory: Database) -> None:
    without = _patient(directory)
    with_gp = _patient(directory, gp_name="Dr Martin")
    with directory.session() as session:
        suggested = suggest_attending_doctors(session, patient_ref=without, limit=3)
        none = suggest_attending_doctors(session, patient_ref=with_gp)
    assert [p.last_name for p in suggested] == ["ROUX", "DUBOIS", "LEROY"]  # from Mer
    assert all(p.specialty == "SM54" for p in suggested)
    assert none == []


def test_a_referral_is_audited_and_queued_for_the_hub(directory: Database) -> None:
    patient = _patient(directory)
    with directory.transaction() as session:
        action_id = record_referral(session, patient_ref=patient,
                                    practitioner_id="810000000017", actor="alice")
    with directory.session() as session:
        event = session.exec(select(AuditEvent).where(
            AuditEvent.entity_id == str(action_id))).one()
        queued = session.exec(select(OutboxEntry).where(
            OutboxEntry.entity_id == str(action_id))).one()
    assert (event.entity, event.action, event.actor) == ("action", "create", "alice")
    assert event.details["type"] == "referral"
    assert event.details["patient_id"] == patient
    assert event.details["practitioner_id"] == "810000000017"
    assert event.details["author"] == "alice"
    assert queued.payload["type"] == "referral"
    with directory.session() as session:
        [logged] = list_actions(session, patient_ref=patient)
    assert (logged.id, logged.type, logged.practitioner_name) == (
        action_id, "referral", queued.payload["practitioner_name"])
