"""Workstations syncing through a real PostgreSQL hub: convergence, INS, idempotence."""

from __future__ import annotations

from collections.abc import Callable

from carehub.db import Database
from tests.conftest import Hub
from tests.sync_helpers import (
    act,
    actions,
    make_ins,
    new_patient,
    patients,
    pending,
    run_sync,
)

INS = make_ins(1)
Workstation = Callable[[str], Database]


def test_two_workstations_share_patients_and_actions(hub: Hub, workstation: Workstation
                                                     ) -> None:
    hub.grant("alice", follows=["alice"], covers=["bob"])
    hub.grant("bob", follows=["bob"], covers=["alice"])
    alice, bob = workstation("alice"), workstation("bob")
    patient = new_patient(alice, "alice", "Lemoine", ins=INS)
    act(alice, "alice", patient, "appel de suivi")
    report = run_sync(alice, hub.url("alice"), "alice")
    assert report.pushed == 2 and report.refused == 0
    assert pending(alice) == 0
    report = run_sync(bob, hub.url("bob"), "bob")
    assert report.pulled >= 2
    assert actions(bob) == actions(alice) == {(INS, "appel de suivi")}
    assert set(patients(bob)) == set(patients(alice))
