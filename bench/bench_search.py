"""Search as you type on the caseload (target < 50 ms per keystroke, 50k patients).

Ours: `search_patient_ids` (every word matched in SQL, name order) and, end to end, the
caseload model from a keystroke to the new result shown with its first page. Naive
baseline in the same run: all patients loaded through the ORM once, then a Python
filter and sort per keystroke.

    PYTHONPATH=. python bench/bench_search.py [--patients 50000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import time

from common import bench_database, median, open_bench, print_table
from sqlmodel import select

from carehub.caseload.models import Patient
from carehub.caseload.services import search_patient_ids, search_words

# What a care manager types, keystroke by keystroke.
TYPED = ("d", "du", "dur", "dura", "durand", "durand j", "durand jea",
         "06", "06 1", "06 12 3", "blo", "blois", "2 45", "martin marie")


def _timed(action, repeat: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    times, found = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        found = len(action())
        times.append(time.perf_counter() - started)
    return median(times) * 1000, found


def _model_latency(database, typed: tuple[str, ...], repeat: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from ui.widgets.patient_table import CaseloadModel, CaseloadQuery
    from ui.worker import DatabaseWorker

    app = QApplication.instance() or QApplication([])
    worker = DatabaseWorker(database)
    model = CaseloadModel(worker)
    loop = QEventLoop()
    model.resultShown.connect(lambda _n: loop.quit())
    latencies: dict[str, float] = {}
    for text in typed:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            model.set_query(CaseloadQuery(text=text), immediate=True)
            loop.exec()
            times.append(time.perf_counter() - started)
        latencies[text] = median(times) * 1000
    worker.shutdown()
    del app
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    path, key_file = bench_database(args.patients, seed=args.seed)
    database = open_bench(path, key_file)
    try:
        started = time.perf_counter()
        with database.session() as session:
            everyone = [(p.id, p.search_text, p.sort_key)
                        for p in session.exec(select(Patient)).all()]
        load_ms = (time.perf_counter() - started) * 1000

        def naive(text: str) -> list[object]:
            words = search_words(text)
            hits = [p for p in everyone if all(w in p[1] for w in words)]
            return [p[0] for p in sorted(hits, key=lambda p: (p[2], str(p[0])))]

        rows = []
        sql_times, naive_times = [], []
        with database.session() as session:
            for text in TYPED:
                ours_ms, found = _timed(lambda t=text: search_patient_ids(session, text=t),
                                        args.repeat)
                naive_ms, naive_found = _timed(lambda t=text: naive(t), args.repeat)
                assert found == naive_found, (text, found, naive_found)
                sql_times.append(ours_ms)
                naive_times.append(naive_ms)
                rows.append([f"'{text}'", f"{found:,}", f"{ours_ms:.1f}", f"{naive_ms:.1f}"])
        model_ms = _model_latency(database, TYPED, args.repeat)
        for row, text in zip(rows, TYPED, strict=True):
            row.insert(3, f"{model_ms[text]:.1f}")
        print_table(f"Search as you type, {len(everyone):,} patients (median of {args.repeat})",
                    ("typed", "matches", "ours SQL (ms)", "ours keystroke→shown (ms)",
                     "naive Python filter (ms)"), [tuple(r) for r in rows])
        print(f"\nnaive baseline's up-front load of every patient through the ORM: "
              f"{load_ms:.0f} ms (ours: none)")
        print(f"worst keystroke: ours SQL {max(sql_times):.1f} ms, end to end "
              f"{max(model_ms.values()):.1f} ms, naive {max(naive_times):.1f} ms"
              f"   target: < 50 ms")
    finally:
        database.close()


if __name__ == "__main__":
    main()
