"""Care managers, supervisors and administrators of the workstation.

`require_role` and the patient checks live in carehub.users.access; the user
administration, coverage, break-the-glass and reassignment services in
carehub.users.services and carehub.users.grants.
"""

from carehub.users.access import AccessDenied, require_role

__all__ = ["AccessDenied", "require_role"]
