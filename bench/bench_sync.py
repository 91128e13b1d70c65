"""Sync throughput: 10,000 pending actions pushed to a real PostgreSQL hub and pulled on a
fresh workstation, through the hub's functions, beside the former direct-table path and a
naive one-row-per-round-trip sync, in the same run.

    PYTHONPATH=. python bench/bench_sync.py [--actions 10000] [--patients 100]
        [--baseline-actions 2000]

Starts a throw-away PostgreSQL on a Unix socket (tests/hub_server.py), fills one encrypted
workstation with N actions recorded through the real service (audited, queued), then:
- ours: `sync` with batches of 500 through hub_push / hub_pull (schema h0002: every entry
  checked and merged at the hub, in its own subtransaction);
- direct: the same `sync` over the h0001 tables (members wrote them under row-level
  security, the merge ran on the workstation: bench/legacy_hub.py), on a copy of the
  workstation;
- naive: one hub_push call per outbox entry (its own hub transaction) and its own local
  UPDATE, then hub_pull one row at a time, each applied in its own local transaction.
The naive run uses a slice (--baseline-actions) and is reported per action, so the ratio
holds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import update  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from bench.legacy_hub import direct_path, grant_h0001  # noqa: E402
from carehub.caseload.services import PatientInput, create_patient  # noqa: E402
from carehub.coordination.models import CoordinationAction  # noqa: E402
from carehub.coordination.services import record_action  # noqa: E402
from carehub.db import Database, create_database, open_database  # noqa: E402
from carehub.directory.communes import ensure_communes  # noqa: E402
from carehub.identifiers import ins_key  # noqa: E402
from carehub.keystore import KeyFileStore  # noqa: E402
from carehub.sync.hub_admin import add_member, migrate_hub  # noqa: E402
from carehub.sync.outbox import OutboxEntry  # noqa: E402
from carehub.sync.service import sync  # noqa: E402
from carehub.timeutil import utcnow  # noqa: E402
from carehub.users.services import ensure_user  # noqa: E402
from tests.hub_server import PgServer  # noqa: E402

NURSE = "alice"


def workstation(folder: Path, name: str) -> tuple[Database, Path]:
    key_file = folder / f"{name}.key"
    database = create_database(folder / name / "carehub.db", KeyFileStore(key_file))
    with database.transaction() as session:
        ensure_user(session, name=NURSE)
        ensure_communes(session)
    return database, key_file


def fill(database: Database, patients: int, actions: int) -> None:
    started = time.perf_counter()
    with database.transaction() as session:
        ids = []
        for number in range(patients):
            body = f"2400575{number:06d}"
            ids.append(create_patient(session, actor=NURSE, data=PatientInput(
                birth_name=f"Patient{number}", given_names="Jeanne",
                birth_date=date(1940, 1, 1) + timedelta(days=number),
                ins=f"{body}{ins_key(body):02d}")))
        for number in range(actions):
            record_action(session, patient_ref=ids[number % patients], action_type="call",
                          actor=NURSE, note=f"appel {number}", duration_s=300,
                          outcome="reached")
    print(f"  filled {patients} patients, {actions} actions in "
          f"{time.perf_counter() - started:.1f} s (recorded through the services)")


def copy_workstation(database: Database, key_file: Path, target: Path) -> Database:
    """The same workstation before its sync: a file copy (after a WAL checkpoint)."""
    with database.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    target.mkdir(parents=True)
    shutil.copy(database.path, target / "carehub.db")
    shutil.copy(database.path.with_name("carehub.db.keycheck"), target / "carehub.db.keycheck")
    return open_database(target / "carehub.db", KeyFileStore(key_file))  # the same key


def server_cpu(server: PgServer) -> float:
    """CPU seconds used so far by the PostgreSQL server: the postmaster, its live children
    and the backends it has reaped (a closed connection's backend adds to cutime)."""
    tick = os.sysconf("SC_CLK_TCK")
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if pid == postmaster:
            total += sum(int(f) for f in fields[11:15]) / tick  # utime stime cutime cstime
        elif ppid == postmaster:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def naive_push(database: Database, url: str, limit: int) -> int:
    """One outbox entry per round trip: one hub_push call (and commit), then UPDATE here."""
    from carehub.sync.apply import push_entries
    from carehub.sync.hub import push_batch
    from carehub.sync.outbox import node_id

    with psycopg.connect(url, autocommit=True) as conn, database.session() as reader:
        entries = list(reader.exec(select(OutboxEntry).where(col(OutboxEntry.sent_at).is_(None))
                                   .order_by(col(OutboxEntry.seq)).limit(limit)))
        node = node_id(reader)
        for entry in entries:
            outcome = push_batch(conn, push_entries(reader, [entry], node))[entry.id]
            assert outcome.applied, outcome
            with database.transaction() as session:
                session.execute(update(OutboxEntry).where(col(OutboxEntry.id) == entry.id)
                                .values(sent_at=utcnow()))
    return len(entries)


def naive_pull(database: Database, url: str) -> int:
    """hub_pull one row at a time, each row stored in its own local transaction."""
    from carehub.sync.apply import PageApplier
    from carehub.sync.hub import pull_page

    count, cursor = 0, 0
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            page = pull_page(conn, after=cursor, limit=1, local_patients=lambda ids: ids)
            if page.empty:
                return count
            with database.transaction() as session:
                PageApplier(session, actor=NURSE, hub="naive").apply(page)
            count += len(page.patients) + len(page.actions)
            cursor = page.upto


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=10_000)
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--baseline-actions", type=int, default=2_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="carehub-bench-sync-"))
    server = PgServer().start()
    try:
        for name in ("hub_ours", "hub_naive", "hub_direct"):
            server.execute(f"CREATE DATABASE {name}")
            if name == "hub_direct":
                migrate_hub(server.url("postgres", name), revision="h0001")
                grant_h0001(server.url("postgres", name), NURSE)
            else:
                migrate_hub(server.url("postgres", name))
                add_member(server.url("postgres", name), user=NURSE, follows=[NURSE])
        print(f"sync benchmark: {args.actions} actions over {args.patients} patients")
        source, key_file = workstation(folder, "source")
        fill(source, args.patients, args.actions)
        naive_ws = copy_workstation(source, key_file, folder / "naive")
        direct_ws = copy_workstation(source, key_file, folder / "direct")
        pending = args.actions + args.patients

        with direct_path():
            started = time.perf_counter()
            report = sync(direct_ws, hub_url=server.url(NURSE, "hub_direct"), user=NURSE,
                          pull=False)
            direct_push_s = time.perf_counter() - started
            assert report.pushed == pending, report
            direct_fresh, _ = workstation(folder, "direct-fresh")
            started = time.perf_counter()
            sync(direct_fresh, hub_url=server.url(NURSE, "hub_direct"), user=NURSE)
            direct_pull_s = time.perf_counter() - started

        started, cpu, hub_cpu = time.perf_counter(), time.process_time(), server_cpu(server)
        report = sync(source, hub_url=server.url(NURSE, "hub_ours"), user=NURSE, pull=False)
        push_s, push_cpu = time.perf_counter() - started, time.process_time() - cpu
        push_hub_cpu = server_cpu(server) - hub_cpu
        assert report.pushed == pending, report

        fresh, _ = workstation(folder, "fresh")
        started, cpu, hub_cpu = time.perf_counter(), time.process_time(), server_cpu(server)
        report = sync(fresh, hub_url=server.url(NURSE, "hub_ours"), user=NURSE)
        pull_s, pull_cpu = time.perf_counter() - started, time.process_time() - cpu
        pull_hub_cpu = server_cpu(server) - hub_cpu
        with fresh.session() as session:
            pulled = len(session.exec(select(CoordinationAction.id)).all())
        assert pulled == args.actions, pulled

        limit = min(pending, args.baseline_actions + args.patients)
        started = time.perf_counter()
        naive_count = naive_push(naive_ws, server.url(NURSE, "hub_naive"), limit)
        naive_push_s = time.perf_counter() - started
        naive_fresh, _ = workstation(folder, "naive-fresh")
        started = time.perf_counter()
        naive_pulled = naive_pull(naive_fresh, server.url(NURSE, "hub_naive"))
        naive_pull_s = time.perf_counter() - started
        assert naive_pulled == naive_count

        def rate(rows: int, seconds: float) -> str:
            return f"{rows / seconds:,.0f} rows/s"

        naive_push_total = naive_push_s / naive_count * pending
        naive_pull_total = naive_pull_s / naive_pulled * pending
        rows: list[tuple[Any, ...]] = [
            ("push", f"{push_s:.2f} s ({rate(pending, push_s)})",
             f"{direct_push_s:.2f} s ({rate(pending, direct_push_s)})",
             f"{naive_push_total:.1f} s ({rate(naive_count, naive_push_s)}, "
             f"measured on {naive_count})", f"{naive_push_total / push_s:.0f}x"),
            ("pull on a fresh workstation", f"{pull_s:.2f} s ({rate(pending, pull_s)})",
             f"{direct_pull_s:.2f} s ({rate(pending, direct_pull_s)})",
             f"{naive_pull_total:.1f} s ({rate(naive_pulled, naive_pull_s)}, "
             f"measured on {naive_pulled})", f"{naive_pull_total / pull_s:.0f}x"),
        ]
        print(f"\n{'what':28} | {'ours: hub functions':28} | {'former direct tables':28} | "
              f"{'naive, one row per round trip':46} | naive/ours")
        for row in rows:
            print(f"{row[0]:28} | {row[1]:28} | {row[2]:28} | {row[3]:46} | {row[4]}")
        print(f"\nCPU time, ours: push {push_cpu:.2f} s workstation + {push_hub_cpu:.2f} s hub, "
              f"pull {pull_cpu:.2f} s workstation + {pull_hub_cpu:.2f} s hub "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        print(f"target: push of 10,000 pending actions < 5 s -> "
              f"{'met' if push_s < 5 and args.actions >= 10_000 else 'see figure'}")
        met = "yes" if push_s < 5 else "no"
        print(f"FIGURE sync push {args.actions} actions (hub functions) | {push_s:.2f} s | "
              f"{direct_push_s:.2f} s direct tables, {naive_push_total:.1f} s naive | "
              f"< 5 s | {met if args.actions >= 10_000 else '-'}")
        print(f"FIGURE sync pull {args.actions} actions on a fresh workstation (hub functions) | "
              f"{pull_s:.2f} s | {direct_pull_s:.2f} s direct tables, {naive_pull_total:.1f} s "
              "naive | - | -")
        for database in (source, naive_ws, fresh, naive_fresh, direct_ws, direct_fresh):
            database.close()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
