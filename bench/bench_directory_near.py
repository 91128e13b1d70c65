"""Nearest-practitioner queries: the R*Tree search next to a brute-force haversine scan.

    PYTHONPATH=. python bench/bench_directory_near.py                 # 500,000 placed sites
    PYTHONPATH=. python bench/bench_directory_near.py --quick         # 50,000

Builds a directory from a generated extract in the real format (bench_directory_import),
with a fifth of the sites in the 45 districts of Paris, Lyon and Marseille so dense
cities are measured too, then times the same searches (GPs, nurses, any profession, 20
nearest within 30 km, from random communes and from city centres) with our query and
with a scan of every placed site in Python, and checks both find the same distances.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from bench_directory_import import fresh_database, write_extract  # noqa: E402

from carehub.directory.communes import read_communes  # noqa: E402
from carehub.directory.extract_import import import_extract  # noqa: E402
from carehub.directory.proximity import (  # noqa: E402
    brute_force_nearest,
    commune_origin,
    nearest_practitioners,
)

SEARCHES = [("GP", "10", "SM54"), ("nurse", "60", None), ("any", None, None)]
CITY_CENTRES = ["75101", "75115", "69381", "13201", "31555", "33063", "67482", "41018"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=500_000)
    parser.add_argument("--queries", type=int, default=60, help="origins per search kind")
    parser.add_argument("--baseline-queries", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="50,000 sites, fewer queries")
    args = parser.parse_args()
    if args.quick:
        args.sites, args.queries, args.baseline_queries = 50_000, 20, 2
    communes = read_communes()
    districts = [c for c in communes if c["district_of"]]
    weighted = communes + districts * max(1, len(communes) // (4 * len(districts)))
    rng = random.Random(5)
    with tempfile.TemporaryDirectory(prefix="carehub-near-bench-") as tmp:
        folder = Path(tmp)
        extract = folder / "PS_LibreAcces_Personne_activite.txt"
        write_extract(extract, int(args.sites / 0.95), communes=weighted)  # ~5% not placed
        database = fresh_database(folder, "near")
        with database.transaction() as session:
            report = import_extract(session, path=extract, actor="bench")
        print(f"{report.placed_rows:,} placed sites, {report.practitioners:,} practitioners")
        origins = CITY_CENTRES + [str(c["insee"]) for c in rng.sample(communes, args.queries)]
        print("\n| search (20 nearest, 30 km) | ours median | ours p95 | brute force median | "
              "ratio | same distances |")
        print("| --- | --- | --- | --- | --- | --- |")
        with database.session() as session:
            for label, profession, specialty in SEARCHES:
                ours: list[float] = []
                for insee in origins:
                    origin = commune_origin(session, insee=insee)
                    began = time.perf_counter()
                    nearest_practitioners(session, origin=origin, profession=profession,
                                          specialty=specialty, radius_km=30, limit=20)
                    ours.append(time.perf_counter() - began)
                brute: list[float] = []
                agree = True
                for insee in origins[:args.baseline_queries]:
                    origin = commune_origin(session, insee=insee)
                    began = time.perf_counter()
                    expected = brute_force_nearest(session, origin=origin, profession=profession,
                                                   specialty=specialty, radius_km=30, limit=20)
                    brute.append(time.perf_counter() - began)
                    found = nearest_practitioners(session, origin=origin, profession=profession,
                                                  specialty=specialty, radius_km=30, limit=20)
                    agree &= [round(d, 2) for _id, d in expected] == [p.distance_km
                                                                       for p in found]
                median = statistics.median(ours)
                p95 = sorted(ours)[int(0.95 * (len(ours) - 1))]
                brute_median = statistics.median(brute)
                print(f"| {label} | {median * 1000:.1f} ms | {p95 * 1000:.1f} ms | "
                      f"{brute_median * 1000:.0f} ms | {brute_median / median:.0f}x | "
                      f"{'yes' if agree else 'NO'} |")
        database.close()


if __name__ == "__main__":
    main()
