"""team hub: patients, records, actions, conflicts, receipts, cursors, row-level security

Revision ID: h0001
Revises:
Create Date: 2026-12-01 18:45:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = 'h0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every care manager's PostgreSQL role is a member of this group role (cluster-wide).
MEMBER_ROLE = "carehub_member"

SCHEMA = """
CREATE SEQUENCE hub_seq;

-- The team: who may sync, and which caseloads each one follows or covers.
CREATE TABLE hub_user (
    name text PRIMARY KEY,                 -- CareHub user name (a caseload is named after it)
    role_name text NOT NULL UNIQUE,        -- her PostgreSQL login role
    display_name text NOT NULL DEFAULT '',
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE TABLE caseload_member (
    caseload text NOT NULL,
    member text NOT NULL,                  -- a PostgreSQL role
    kind text NOT NULL CHECK (kind IN ('follows', 'covers')),
    since timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caseload, member)
);
CREATE INDEX ix_caseload_member_member ON caseload_member (member, caseload);

-- Patients: one row per person (one per INS); fields and per-field clocks as JSON.
CREATE TABLE patient (
    id uuid PRIMARY KEY,
    ins text UNIQUE,
    caseload text NOT NULL,
    fields jsonb NOT NULL,
    clocks jsonb NOT NULL,                 -- {field: {"hlc": clock, "by": user}}
    seq bigint NOT NULL DEFAULT nextval('hub_seq'),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_patient_seq ON patient (seq);
CREATE INDEX ix_patient_caseload ON patient (caseload);

-- A workstation's own id for a patient the hub already knew by INS.
CREATE TABLE patient_alias (
    alias uuid PRIMARY KEY,
    canonical uuid NOT NULL REFERENCES patient (id),
    ins text,
    by_member text NOT NULL DEFAULT current_user,
    at timestamptz NOT NULL DEFAULT now()
);

-- Contacts, consents and reminder states of a patient, merged per field like patients.
CREATE TABLE record (
    id uuid PRIMARY KEY,
    entity text NOT NULL CHECK (entity IN ('related_person', 'consent', 'reminder')),
    patient_id uuid NOT NULL REFERENCES patient (id),
    fields jsonb NOT NULL,
    clocks jsonb NOT NULL,
    seq bigint NOT NULL DEFAULT nextval('hub_seq'),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_record_seq ON record (seq);
CREATE INDEX ix_record_patient ON record (patient_id);
CREATE VIEW reminder_state WITH (security_invoker = true) AS
    SELECT id, patient_id, fields, clocks, seq, updated_at FROM record WHERE entity = 'reminder';

-- Coordination actions: append-only, never updated.
CREATE TABLE action (
    id uuid PRIMARY KEY,
    patient_id uuid NOT NULL REFERENCES patient (id),
    type text NOT NULL,
    at timestamptz NOT NULL,
    author text NOT NULL,
    payload jsonb NOT NULL,
    origin_entry uuid NOT NULL,
    pushed_by text NOT NULL DEFAULT current_user,
    received_at timestamptz NOT NULL DEFAULT now(),
    seq bigint NOT NULL DEFAULT nextval('hub_seq')
);
CREATE INDEX ix_action_seq ON action (seq);
CREATE INDEX ix_action_patient ON action (patient_id, at);

-- Every value overwritten by a later one, for a user to review.
CREATE TABLE conflict (
    id uuid PRIMARY KEY,
    patient_id uuid NOT NULL REFERENCES patient (id),
    entity text NOT NULL,
    entity_id uuid NOT NULL,
    field text NOT NULL,
    kept_value jsonb,
    kept_hlc text NOT NULL,
    kept_from text NOT NULL,
    overwritten_value jsonb,
    overwritten_hlc text,
    overwritten_from text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    resolved_by text,
    resolution text,
    seq bigint NOT NULL DEFAULT nextval('hub_seq')
);
CREATE INDEX ix_conflict_seq ON conflict (seq);
CREATE INDEX ix_conflict_patient ON conflict (patient_id);

-- The hub's answer to each outbox entry: a second push of it gets the same answer.
CREATE TABLE receipt (
    entry_id uuid PRIMARY KEY,
    member text NOT NULL DEFAULT current_user,
    status text NOT NULL CHECK (status IN ('applied', 'refused')),
    code text,
    reason text,
    at timestamptz NOT NULL DEFAULT now(),
    seq bigint NOT NULL DEFAULT nextval('hub_seq')
);
CREATE INDEX ix_receipt_member_seq ON receipt (member, seq);

-- Where each member's workstations stopped pulling (the workstation keeps its own too).
CREATE TABLE sync_cursor (
    member text NOT NULL DEFAULT current_user,
    workstation text NOT NULL,
    cursor bigint NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (member, workstation)
);

-- Who holds a patient, by id or INS, whatever the caller may see: lets a push tell an
-- unknown patient from one in someone else's caseload, and find a patient by INS.
CREATE FUNCTION hub_patient_keys(ids uuid[], inss text[])
RETURNS TABLE (id uuid, ins text, caseload text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT p.id, p.ins, p.caseload FROM patient p WHERE p.id = ANY(ids) OR p.ins = ANY(inss)
$$;
"""

POLICIES = """
ALTER TABLE caseload_member ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_memberships ON caseload_member FOR SELECT USING (member = current_user);

ALTER TABLE hub_user ENABLE ROW LEVEL SECURITY;
CREATE POLICY team_directory ON hub_user FOR SELECT USING (true);

ALTER TABLE patient ENABLE ROW LEVEL SECURITY;
CREATE POLICY followed_or_covered ON patient
    USING (caseload IN (SELECT m.caseload FROM caseload_member m WHERE m.member = current_user))
    WITH CHECK (caseload IN (SELECT m.caseload FROM caseload_member m
                             WHERE m.member = current_user));

ALTER TABLE patient_alias ENABLE ROW LEVEL SECURITY;
CREATE POLICY of_visible_patient ON patient_alias
    USING (EXISTS (SELECT 1 FROM patient p WHERE p.id = canonical));

ALTER TABLE record ENABLE ROW LEVEL SECURITY;
CREATE POLICY of_visible_patient ON record
    USING (EXISTS (SELECT 1 FROM patient p WHERE p.id = patient_id));

ALTER TABLE action ENABLE ROW LEVEL SECURITY;
CREATE POLICY of_visible_patient ON action
    USING (EXISTS (SELECT 1 FROM patient p WHERE p.id = patient_id));

ALTER TABLE conflict ENABLE ROW LEVEL SECURITY;
CREATE POLICY of_visible_patient ON conflict
    USING (EXISTS (SELECT 1 FROM patient p WHERE p.id = patient_id));

ALTER TABLE receipt ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_receipts ON receipt USING (member = current_user)
    WITH CHECK (member = current_user);

ALTER TABLE sync_cursor ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_cursors ON sync_cursor USING (member = current_user)
    WITH CHECK (member = current_user);
"""

GRANTS = f"""
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
REVOKE ALL ON FUNCTION hub_patient_keys(uuid[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hub_patient_keys(uuid[], text[]) TO {MEMBER_ROLE};
GRANT USAGE ON SEQUENCE hub_seq TO {MEMBER_ROLE};
GRANT SELECT ON hub_user, caseload_member, alembic_version, reminder_state TO {MEMBER_ROLE};
GRANT SELECT, INSERT, UPDATE ON patient, record, conflict, receipt, sync_cursor
    TO {MEMBER_ROLE};
GRANT SELECT, INSERT ON patient_alias, action TO {MEMBER_ROLE};
"""


def upgrade() -> None:
    op.execute(f"""
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{MEMBER_ROLE}') THEN
        CREATE ROLE {MEMBER_ROLE} NOLOGIN;
    END IF;
END $$;
""")
    op.execute(SCHEMA)
    op.execute(POLICIES)
    op.execute(GRANTS)


def downgrade() -> None:
    op.execute("""
DROP FUNCTION hub_patient_keys(uuid[], text[]);
DROP TABLE sync_cursor, receipt, conflict, action;
DROP VIEW reminder_state;
DROP TABLE record, patient_alias, patient, caseload_member, hub_user;
DROP SEQUENCE hub_seq;
""")
