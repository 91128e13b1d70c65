"""FHIR R4 Bundle import: how a practice's software hands over a caseload (DESIGN.md).

Two phases. First every entry is validated against the fhir.resources R4B models and mapped
to patient and fact drafts; any problem raises InputError naming the entry and field, before
anything is written. Then the drafts are written with bulk inserts in the caller's single
transaction. Patients are keyed by INS, else by the source's identifier; facts by (patient,
source identifier): importing the same Bundle twice changes nothing.

Resource types we do not use (DocumentReference, CarePlan...) are ignored and counted in the
report rather than refused: a nurse cannot edit her practice's export, and refusing the whole
caseload for a scanned letter would leave her with nothing. A resourceType that is not FHIR
at all is refused: the file is broken.

The package, in the order of an import: `bundle` reads the file and checks each entry,
`datatypes` reads FHIR dates, codings and references, `patients` and `facts` map the
resources to drafts, `plan` gives each fact its patient and each address its commune,
`writer` writes the plan.
"""

from carehub.caseload.fhir_import.bundle import ImportReport, read_bundle_file
from carehub.caseload.fhir_import.datatypes import fhir_date
from carehub.caseload.fhir_import.writer import import_bundle, import_fhir_file

__all__ = ["ImportReport", "fhir_date", "import_bundle", "import_fhir_file", "read_bundle_file"]
