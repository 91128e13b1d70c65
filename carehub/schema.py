"""Every table of the local database, imported so SQLModel.metadata knows them all."""

from sqlmodel import SQLModel

from carehub.caseload import models as caseload_models
from carehub.cohort import models as cohort_models
from carehub.coordination import audit as coordination_audit
from carehub.coordination import models as coordination_models
from carehub.directory import models as directory_models
from carehub.prevention import models as prevention_models
from carehub.sync import models as sync_models
from carehub.sync import outbox as sync_outbox
from carehub.users import models as users_models
from carehub.workload import models as workload_models

__all__ = [
    "SQLModel",
    "caseload_models",
    "cohort_models",
    "coordination_audit",
    "coordination_models",
    "directory_models",
    "prevention_models",
    "sync_models",
    "sync_outbox",
    "users_models",
    "workload_models",
]

metadata = SQLModel.metadata
