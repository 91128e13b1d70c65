"""The prevention services in one place: stored reminders, the call list, call outcomes.

Each lives in its own module (recompute, calllist, call_outcome, callbacks, closing,
campaigns; reminder_rows for the writes and their audit); UI, CLI and scripts import them
from here.
"""

from __future__ import annotations

from carehub.prevention.call_outcome import (
    OUTCOME_LABELS_FR,
    OUTCOMES,
    SETTLED_BY_A_CALL,
    UNANSWERED,
    Outcome,
    OutcomeResult,
    next_attempt,
    record_call_outcome,
)
from carehub.prevention.callbacks import due_callbacks, plan_callback
from carehub.prevention.calllist import CallOrder, call_list, call_list_items, call_order
from carehub.prevention.campaigns import campaign_slug, create_campaign
from carehub.prevention.closing import close_reminder
from carehub.prevention.recompute import RecomputeReport, recompute_reminders
from carehub.prevention.reminder_rows import CALLBACK, CAMPAIGN_PREFIX
from carehub.prevention.types import CallListItem, ReasonLine

__all__ = ["CALLBACK", "CAMPAIGN_PREFIX", "OUTCOMES", "OUTCOME_LABELS_FR", "SETTLED_BY_A_CALL",
           "UNANSWERED", "CallListItem", "CallOrder", "Outcome", "OutcomeResult", "ReasonLine",
           "RecomputeReport", "call_list", "call_list_items", "call_order", "campaign_slug",
           "close_reminder", "create_campaign", "due_callbacks", "next_attempt",
           "plan_callback", "recompute_reminders", "record_call_outcome"]
