"""Start-up: process start to the first page of the caseload shown (target < 1.5 s, 50k).

Ours: the real main window (ids in SQL, first page of lines on the worker). Naive
baseline in the same run: every patient through the ORM into a QStandardItemModel.
Each is a fresh process; the best of --runs is kept (a warm disk cache for both).

    PYTHONPATH=. python bench/bench_startup.py [--patients 50000] [--runs 3]
"""

from __future__ import annotations

import argparse

from common import bench_database, print_table, run_child


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    path, key_file = bench_database(args.patients, seed=args.seed)
    results = {}
    for mode in ("ours", "naive"):
        runs = [run_child(mode, path, key_file) for _ in range(args.runs)]
        results[mode] = min(runs, key=lambda figures: figures["first_page_s"])
    ours, naive = results["ours"], results["naive"]
    print_table(
        f"Start-up to the caseload shown, {int(ours['rows']):,} patients "
        f"(best of {args.runs})",
        ("model", "window shown (s)", "first page shown (s)", "RSS (MB)"),
        [("ours: SQL ids + paged rows on the worker", f"{ours['window_shown_s']:.2f}",
          f"{ours['first_page_s']:.2f}", f"{ours['rss_mb']:.0f}"),
         ("naive: ORM rows into QStandardItemModel", f"{naive['window_shown_s']:.2f}",
          f"{naive['first_page_s']:.2f}", f"{naive['rss_mb']:.0f}")])
    print(f"\nratio naive / ours (first page): {naive['first_page_s'] / ours['first_page_s']:.1f}x"
          f"   target: < 1.5 s")


if __name__ == "__main__":
    main()
