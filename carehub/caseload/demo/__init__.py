"""A reproducible synthetic caseload (`carehub demo`): old rural patients with ten years of history.

Everything random comes from one seeded `random.Random`, UUIDs included, so the same seed and
as-of date give the same database content. Rates, names and codes come from resources/demo/
so that a clinician can read and adjust them. Rows are built as dicts and bulk-inserted with
SQLAlchemy Core in chunks: 50,000 patients and their ~1.5 million facts in well under a minute.

The package: `catalogue` (the reference data), `draws` (the seeded draws), `patients` (one
patient's identity, contact and circle), `history` (her ten years of facts), `rows` (the row
buffers), `generate` (the chunks, a child process for large caseloads, the entry point).
"""

from carehub.caseload.demo.generate import DemoReport, generate_demo

__all__ = ["DemoReport", "generate_demo"]
