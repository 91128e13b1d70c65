"""Memory: RSS with the whole caseload open in the window (target < 400 MB, 50k).

Ours: the main window after scrolling the whole table (pages fetched and evicted).
Naive baseline in the same run: every patient through the ORM into a QStandardItemModel.

    PYTHONPATH=. python bench/bench_memory.py [--patients 50000]
"""

from __future__ import annotations

import argparse

from common import bench_database, print_table, run_child


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    path, key_file = bench_database(args.patients, seed=args.seed)
    opened = run_child("ours", path, key_file)
    scrolled = run_child("ours-scrolled", path, key_file)
    naive = run_child("naive", path, key_file)
    print_table(
        f"RSS with {int(naive['rows']):,} patients open in a window",
        ("model", "RSS (MB)"),
        [("ours, first page shown", f"{opened['rss_mb']:.0f}"),
         ("ours, after scrolling every row", f"{scrolled['rss_mb']:.0f}"),
         ("naive: ORM rows into QStandardItemModel", f"{naive['rss_mb']:.0f}")])
    print(f"\nratio naive / ours (scrolled): {naive['rss_mb'] / scrolled['rss_mb']:.1f}x"
          f"   target: < 400 MB")


if __name__ == "__main__":
    main()
