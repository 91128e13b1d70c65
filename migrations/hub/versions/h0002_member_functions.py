"""members reach the hub only through hub_session/hub_push/hub_pull/hub_save_cursor

Revision ID: h0002
Revises: h0001
Create Date: 2026-12-07 02:30:00

Every direct privilege of the members (carehub_member and every role granted it) on the
hub's tables, views and sequences is revoked; nobody but the owner may create anything in
the database. A member pushes and pulls through SECURITY DEFINER functions owned by the
hub's owner, which take her identity from session_user (never from a parameter), check
each entry (caseload, author, fields), number the changes themselves and answer each
entry with a receipt or a refusal. Writers are serialised by a row lock on the owner-only
hub_write_lock table (no member can hold it outside hub_push). The INS oracle
hub_patient_keys is dropped: the same INS in another caseload is refused without saying
whose it is, recorded in ins_collision for a supervisor, and a member's daily budget of
such collisions stops any enumeration. No row is lost: only privileges and functions change.
"""

from collections.abc import Sequence

from alembic import op


revision: str = 'h0002'
down_revision: str | None = 'h0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEMBER_ROLE = "carehub_member"
CONNECTION_LIMIT = 4
# Collisions (an INS already in a caseload she neither follows nor covers) a member may
# cause in 24 hours; beyond, any patient pushed with an INS she does not already hold is
# refused `rate_limited`, whether or not the hub knows it.
COLLISION_BUDGET = 20
MAX_PULL = 2000
ROLE_SETTINGS = {"statement_timeout": "60s", "lock_timeout": "5s",
                 "idle_in_transaction_session_timeout": "15s"}

TABLES = """
CREATE TABLE hub_write_lock (id int PRIMARY KEY CHECK (id = 1));
INSERT INTO hub_write_lock VALUES (1);

-- The same INS pushed by a member for a patient while the hub holds it in a caseload she
-- neither follows nor covers: refused to her, kept here for a supervisor to resolve.
CREATE TABLE ins_collision (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    member text NOT NULL,                 -- her PostgreSQL role
    hub_user text NOT NULL,               -- her CareHub user name
    ins text NOT NULL,
    entry_id uuid NOT NULL,
    pushed_patient uuid NOT NULL,         -- the id her workstation gave the patient
    existing_patient uuid NOT NULL,
    existing_caseload text NOT NULL,
    resolved_at timestamptz,
    resolved_by text,
    resolution text
);
CREATE INDEX ix_ins_collision_member_at ON ins_collision (member, at);
CREATE INDEX ix_patient_alias_canonical ON patient_alias (canonical);
CREATE INDEX ix_conflict_resolved ON conflict (id) WHERE resolved_at IS NULL;
"""

FUNCTIONS = r"""
DROP FUNCTION hub_patient_keys(uuid[], text[]);

-- The active hub user of this session, or an error: a revoked or unknown role gets nothing.
CREATE FUNCTION hub_me() RETURNS hub_user
LANGUAGE plpgsql STABLE AS $$
DECLARE me hub_user;
BEGIN
    SELECT * INTO me FROM hub_user WHERE role_name = session_user AND active;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'carehub: % is not an active member of this hub', session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN me;
END $$;

CREATE FUNCTION hub_caseloads(role text, kinds text[] DEFAULT '{follows,covers}')
RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(caseload ORDER BY caseload), '{}')
    FROM caseload_member WHERE member = role AND kind = ANY(kinds)
$$;

CREATE FUNCTION hub_valid_hlc(clock text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT clock IS NOT NULL AND clock ~ '^[0-9]{13}\.[0-9]{6}\.[A-Za-z0-9_.-]{1,64}$'
$$;

-- Any string in the document holding a control character (tab, line feed, CR allowed):
-- jsonb writes them \u00XX, \b or \f (a backslash typed by the user is written \\).
CREATE FUNCTION hub_has_control(doc jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT doc::text ~ '(^|[^\\])(\\\\)*\\(u00(0[0-8bcef]|1[0-9a-f])|u007f|b|f)'
        OR strpos(doc::text, chr(127)) > 0
$$;

-- Dates and moments must be real ones (2023-02-30 is refused): raises invalid_datetime.
CREATE FUNCTION hub_check_dates(doc jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM count(CASE WHEN x.k ~ '(^|_)(date|on)$' THEN (x.v #>> '{}')::date END),
            count(CASE WHEN x.k = 'at' OR x.k ~ '_at$' THEN (x.v #>> '{}')::timestamptz END)
    FROM jsonb_each(doc) AS x(k, v) WHERE jsonb_typeof(x.v) = 'string';
END $$;

CREATE FUNCTION hub_refused(code text, reason text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('status', 'refused', 'code', code, 'reason', reason)
$$;

-- The helpers below carry no SET clause: only the SECURITY DEFINER entry points (which
-- set search_path) call them, members may not.
-- merge_fields: one change into a row, field by field, last writer by clock wins; values
-- replaced by a change that did not know them (or that arrived late) become conflicts.
CREATE FUNCTION hub_merge(INOUT fields jsonb, INOUT clocks jsonb, incoming jsonb, hlc text,
                          by_user text, bases jsonb, keep text[], patient uuid,
                          entity text, entity_id uuid, OUT conflicts jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    k text; v jsonb; cur jsonb; prev jsonb;
    mine jsonb := jsonb_build_object('hlc', hlc, 'by', by_user);
BEGIN
    conflicts := '[]';
    FOR k, v IN SELECT * FROM jsonb_each(incoming) LOOP
        cur := clocks -> k;
        prev := coalesce(fields -> k, 'null');
        IF k = ANY(keep) AND fields ? k THEN
            IF prev <> v THEN
                conflicts := conflicts || jsonb_build_object(
                    'id', gen_random_uuid(), 'patient_id', patient, 'entity', entity,
                    'entity_id', entity_id, 'field', k, 'kept_value', prev,
                    'kept_hlc', coalesce(cur, mine) ->> 'hlc',
                    'kept_from', coalesce(coalesce(cur, mine) ->> 'by', ''),
                    'overwritten_value', v, 'overwritten_hlc', hlc, 'overwritten_from', by_user);
            END IF;
            CONTINUE;
        END IF;
        IF cur IS NULL THEN
            fields := fields || jsonb_build_object(k, v);
            clocks := clocks || jsonb_build_object(k, mine);
        ELSIF hlc COLLATE "C" > (cur ->> 'hlc') COLLATE "C" THEN
            IF prev <> v AND (bases ->> k) IS DISTINCT FROM (cur ->> 'hlc') THEN
                conflicts := conflicts || jsonb_build_object(
                    'id', gen_random_uuid(), 'patient_id', patient, 'entity', entity,
                    'entity_id', entity_id, 'field', k, 'kept_value', v, 'kept_hlc', hlc,
                    'kept_from', by_user, 'overwritten_value', prev,
                    'overwritten_hlc', cur ->> 'hlc',
                    'overwritten_from', coalesce(cur ->> 'by', ''));
            END IF;
            fields := fields || jsonb_build_object(k, v);
            clocks := clocks || jsonb_build_object(k, mine);
        ELSIF hlc COLLATE "C" < (cur ->> 'hlc') COLLATE "C" AND prev <> v THEN
            conflicts := conflicts || jsonb_build_object(
                'id', gen_random_uuid(), 'patient_id', patient, 'entity', entity,
                'entity_id', entity_id, 'field', k, 'kept_value', prev,
                'kept_hlc', cur ->> 'hlc', 'kept_from', coalesce(cur ->> 'by', ''),
                'overwritten_value', v, 'overwritten_hlc', hlc, 'overwritten_from', by_user);
        END IF;
    END LOOP;
END $$;

CREATE FUNCTION hub_write_conflicts(docs jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO conflict (id, patient_id, entity, entity_id, field, kept_value, kept_hlc,
                          kept_from, overwritten_value, overwritten_hlc, overwritten_from, seq)
    SELECT id, patient_id, entity, entity_id, field, kept_value, kept_hlc, kept_from,
           overwritten_value, overwritten_hlc, overwritten_from, nextval('hub_seq')
    FROM jsonb_to_recordset(docs) AS x(id uuid, patient_id uuid, entity text, entity_id uuid,
         field text, kept_value jsonb, kept_hlc text, kept_from text, overwritten_value jsonb,
         overwritten_hlc text, overwritten_from text)
$$;

-- The hub's writers one at a time (sequence numbers in commit order). A transaction that
-- keeps the lock (a member who called hub_push and never committed) is ended.
CREATE FUNCTION hub_take_write_lock() RETURNS void
LANGUAGE plpgsql SET lock_timeout = '2s' AS $$
DECLARE tries int := 0;
BEGIN
    LOOP
        BEGIN
            PERFORM 1 FROM hub_write_lock WHERE id = 1 FOR UPDATE;
            RETURN;
        EXCEPTION WHEN lock_not_available THEN
            tries := tries + 1;
            IF tries > 5 THEN
                RAISE EXCEPTION 'carehub: the hub is busy, try again in a moment'
                    USING ERRCODE = 'lock_not_available';
            END IF;
            PERFORM pg_terminate_backend(a.pid)
            FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
            WHERE l.locktype = 'relation' AND l.relation = 'hub_write_lock'::regclass
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND a.pid <> pg_backend_pid()
              AND clock_timestamp() - a.xact_start > interval '2 seconds'
              AND pg_has_role(a.usename, 'carehub_member', 'MEMBER');
        END;
    END LOOP;
END $$;

-- An INS she does not hold in her caseloads: within her budget of collisions? And is it
-- someone else's? Returns a refusal, or NULL when the INS is free.
CREATE FUNCTION hub_foreign_ins(ins text, me hub_user, mine text[], entry uuid,
                                pushed uuid, own uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE other patient;
BEGIN
    IF (SELECT count(*) FROM ins_collision c WHERE c.member = session_user
        AND c.at > now() - interval '1 day') >= __BUDGET__ THEN
        RETURN hub_refused('rate_limited',
            'Too many patients pushed today with an INS the hub holds in a caseload you '
            'neither follow nor cover; patients with an INS new to you are refused until '
            'a supervisor has looked at them (carehub hub collisions).');
    END IF;
    SELECT * INTO other FROM patient p WHERE p.ins = hub_foreign_ins.ins
        AND p.id IS DISTINCT FROM own;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    INSERT INTO ins_collision (member, hub_user, ins, entry_id, pushed_patient,
                               existing_patient, existing_caseload)
    VALUES (session_user, me.name, ins, entry, pushed, other.id, other.caseload);
    RETURN hub_refused('ins_in_other_caseload',
        'This INS is already registered at the hub outside the caseloads you follow or '
        'cover; a supervisor will resolve it. Nothing was changed at the hub.');
END $$;

-- `known`: {id: canonical id} of patients already found visible in this batch (a patient
-- she may see stays so within a batch: a push moves none out of her caseloads).
CREATE FUNCTION hub_visible_patient(pid uuid, mine text[], known jsonb, OUT canonical uuid,
                                    OUT refusal jsonb)
LANGUAGE plpgsql AS $$
DECLARE cl text;
BEGIN
    IF pid IS NULL THEN
        refusal := hub_refused('no_patient', 'The change names no patient.');
        RETURN;
    END IF;
    canonical := (known ->> pid::text)::uuid;
    IF canonical IS NOT NULL THEN
        RETURN;
    END IF;
    SELECT a.canonical INTO canonical FROM patient_alias a WHERE a.alias = pid;
    canonical := coalesce(canonical, pid);
    SELECT p.caseload INTO cl FROM patient p WHERE p.id = canonical;
    IF NOT FOUND THEN
        refusal := hub_refused('unknown_patient',
                               format('The hub does not know patient %s.', canonical));
    ELSIF NOT cl = ANY(mine) THEN
        refusal := hub_refused('patient_not_visible', format(
            'Patient %s is in a caseload you neither follow nor cover.', canonical));
    END IF;
    IF refusal IS NOT NULL THEN
        canonical := NULL;
    END IF;
END $$;

CREATE FUNCTION hub_push_patient(e jsonb, me hub_user, mine text[], followed text[])
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    pid uuid := (e ->> 'entity_id')::uuid;
    incoming jsonb := coalesce(e -> 'fields', '{}');
    op text := e ->> 'op';
    p patient;
    twin patient;
    existing boolean;
    keep text[] := '{}';
    v_ins text := nullif(incoming ->> 'ins', '');
    caseload text;
    m record;
    refusal jsonb;
    new_ins text;
BEGIN
    SELECT a.canonical INTO twin.id FROM patient_alias a WHERE a.alias = pid;
    pid := coalesce(twin.id, pid);
    SELECT * INTO p FROM patient WHERE id = pid FOR UPDATE;
    existing := FOUND;
    IF existing AND NOT p.caseload = ANY(mine) THEN
        RETURN hub_refused('patient_not_visible', format(
            'Patient %s is in a caseload you neither follow nor cover.', pid));
    END IF;
    IF NOT existing AND v_ins IS NOT NULL THEN
        SELECT * INTO twin FROM patient t WHERE t.ins = v_ins FOR UPDATE;
        IF FOUND AND twin.caseload = ANY(mine) THEN
            -- The same person, in a caseload she works: her id becomes an alias.
            INSERT INTO patient_alias (alias, canonical, ins, by_member)
            VALUES (pid, twin.id, v_ins, session_user) ON CONFLICT (alias) DO NOTHING;
            p := twin;
            pid := twin.id;
            existing := true;
            keep := '{care_manager}';
        ELSE
            refusal := hub_foreign_ins(v_ins, me, mine, (e ->> 'id')::uuid, pid, NULL);
            IF refusal IS NOT NULL THEN
                RETURN refusal;
            END IF;
        END IF;
    END IF;
    IF NOT existing THEN
        IF op = 'update' THEN
            RETURN hub_refused('unknown_patient',
                               format('The hub does not know patient %s.', pid));
        END IF;
        caseload := coalesce(nullif(incoming ->> 'care_manager', ''), me.name);
        IF NOT caseload = ANY(mine) THEN
            RETURN hub_refused('not_your_caseload',
                format('You neither follow nor cover caseload %L.', caseload));
        END IF;
        p.id := pid;
        p.fields := '{}';
        p.clocks := '{}';
    ELSIF op IN ('create', 'import') THEN
        keep := '{care_manager}';  -- a second registration of someone the hub knows
    END IF;
    SELECT * INTO m FROM hub_merge(p.fields, p.clocks, incoming, e ->> 'hlc', me.name,
                                   coalesce(e -> 'bases', '{}'), keep, pid, 'patient', pid);
    caseload := coalesce(nullif(m.fields ->> 'care_manager', ''), me.name);
    IF NOT caseload = ANY(mine) THEN
        RETURN hub_refused('not_your_caseload',
            format('You neither follow nor cover caseload %L.', caseload));
    END IF;
    IF existing AND caseload <> p.caseload AND NOT p.caseload = ANY(followed) THEN
        RETURN hub_refused('caseload_move', format(
            'Only a care manager who follows caseload %L may hand its patients over to '
            'another caseload.', p.caseload));
    END IF;
    new_ins := nullif(m.fields ->> 'ins', '');
    IF new_ins IS NOT NULL AND new_ins IS DISTINCT FROM p.ins THEN
        IF EXISTS (SELECT 1 FROM patient o WHERE o.ins = new_ins AND o.id <> pid
                   AND o.caseload = ANY(mine)) THEN
            RETURN hub_refused('ins_taken',
                               format('INS %s is already another patient''s at the hub.',
                                      new_ins));
        END IF;
        refusal := hub_foreign_ins(new_ins, me, mine, (e ->> 'id')::uuid,
                                   (e ->> 'entity_id')::uuid, pid);
        IF refusal IS NOT NULL THEN
            RETURN refusal;
        END IF;
    END IF;
    IF NOT m.fields ? 'care_manager' OR m.fields -> 'care_manager' = 'null' THEN
        m.fields := m.fields || jsonb_build_object('care_manager', caseload);
    END IF;
    -- Written back even if nothing changed: its new sequence number brings it back to the
    -- sender's next pull, which then takes the values that beat hers.
    INSERT INTO patient (id, ins, caseload, fields, clocks, seq)
    VALUES (pid, new_ins, caseload, m.fields, m.clocks, nextval('hub_seq'))
    ON CONFLICT (id) DO UPDATE SET ins = EXCLUDED.ins, caseload = EXCLUDED.caseload,
        fields = EXCLUDED.fields, clocks = EXCLUDED.clocks, seq = EXCLUDED.seq,
        updated_at = now();
    PERFORM hub_write_conflicts(m.conflicts);
    RETURN jsonb_build_object('status', 'applied');
END $$;

CREATE FUNCTION hub_push_record(e jsonb, me hub_user, mine text[], known jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    rid uuid := (e ->> 'entity_id')::uuid;
    entity text := e ->> 'entity';
    incoming jsonb := coalesce(e -> 'fields', '{}');
    r record;
    v record;
    m record;
    existing boolean;
BEGIN
    SELECT * INTO r FROM record WHERE id = rid FOR UPDATE;
    existing := FOUND;
    SELECT * INTO v FROM hub_visible_patient(
        coalesce((incoming ->> 'patient_id')::uuid, CASE WHEN existing THEN r.patient_id END),
        mine, known);
    IF v.refusal IS NOT NULL THEN
        RETURN v.refusal;
    END IF;
    IF existing AND (r.patient_id <> v.canonical OR r.entity <> entity) THEN
        RETURN hub_refused('record_id_taken',
                           format('Another record with id %s is at the hub.', rid));
    END IF;
    IF entity = 'consent' AND coalesce(incoming ->> 'recorded_by', me.name) <> me.name
            AND NOT existing THEN
        RETURN hub_refused('forged_author', format(
            'This consent says it was recorded by %L; you are connected as %L.',
            incoming ->> 'recorded_by', me.name));
    END IF;
    incoming := incoming || jsonb_build_object('patient_id', v.canonical);
    SELECT * INTO m FROM hub_merge(
        CASE WHEN existing THEN r.fields ELSE '{}' END,
        CASE WHEN existing THEN r.clocks ELSE '{}' END,
        incoming, e ->> 'hlc', me.name, coalesce(e -> 'bases', '{}'), '{}', v.canonical,
        entity, rid);
    INSERT INTO record (id, entity, patient_id, fields, clocks, seq)
    VALUES (rid, entity, v.canonical, m.fields, m.clocks, nextval('hub_seq'))
    ON CONFLICT (id) DO UPDATE SET fields = EXCLUDED.fields, clocks = EXCLUDED.clocks,
        seq = EXCLUDED.seq, updated_at = now();
    PERFORM hub_write_conflicts(m.conflicts);
    RETURN jsonb_build_object('status', 'applied');
END $$;

CREATE FUNCTION hub_push_action(e jsonb, me hub_user, mine text[], known jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    aid uuid := (e ->> 'entity_id')::uuid;
    payload jsonb := coalesce(e -> 'fields', '{}');
    author text := coalesce(nullif(payload ->> 'author', ''), me.name);
    amends uuid := (payload ->> 'amends_id')::uuid;
    v record;
    stored jsonb;
BEGIN
    IF author <> me.name THEN
        RETURN hub_refused('forged_author', format(
            'This action is signed by %L; you are connected as %L.', author, me.name));
    END IF;
    IF coalesce(payload ->> 'type', '') = '' THEN
        RETURN hub_refused('invalid_value', 'The action has no type.');
    END IF;
    SELECT * INTO v FROM hub_visible_patient((payload ->> 'patient_id')::uuid, mine, known);
    IF v.refusal IS NOT NULL THEN
        RETURN v.refusal;
    END IF;
    IF amends IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM action a JOIN patient p ON p.id = a.patient_id
            WHERE a.id = amends AND p.caseload = ANY(mine)) THEN
        RETURN hub_refused('unknown_amended_action',
                           format('The action %s this one corrects is not at the hub.',
                                  amends));
    END IF;
    payload := payload || jsonb_build_object('patient_id', v.canonical, 'author', author);
    INSERT INTO action (id, patient_id, type, at, author, payload, origin_entry, pushed_by, seq)
    VALUES (aid, v.canonical, payload ->> 'type', (payload ->> 'at')::timestamptz, author,
            payload, (e ->> 'id')::uuid, session_user, nextval('hub_seq'))
    ON CONFLICT (id) DO NOTHING;
    IF FOUND THEN
        RETURN jsonb_build_object('status', 'applied');
    END IF;
    SELECT a.payload INTO stored FROM action a WHERE a.id = aid;
    IF (stored - 'patient_id' - 'ins' - 'author') = (payload - 'patient_id' - 'ins' - 'author')
    THEN
        RETURN jsonb_build_object('status', 'applied');  -- the same action again
    END IF;
    RETURN hub_refused('action_id_taken',
                       format('Another action with id %s is at the hub.', aid));
END $$;

CREATE FUNCTION hub_push_resolution(e jsonb, me hub_user, mine text[]) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    cid uuid := (e ->> 'entity_id')::uuid;
    v_resolution text := e -> 'fields' ->> 'resolution';
BEGIN
    IF NOT EXISTS (SELECT 1 FROM conflict c JOIN patient p ON p.id = c.patient_id
                   WHERE c.id = cid AND p.caseload = ANY(mine)) THEN
        RETURN hub_refused('unknown_conflict',
                           format('The hub has no conflict %s you may see.', cid));
    END IF;
    IF v_resolution IS NULL OR v_resolution NOT IN ('kept', 'overwritten') THEN
        RETURN hub_refused('invalid_value', 'A conflict is settled by kept or overwritten.');
    END IF;
    UPDATE conflict SET resolution = v_resolution, resolved_by = me.name,
        resolved_at = now(), seq = nextval('hub_seq')
    WHERE id = cid AND resolved_at IS NULL;
    RETURN jsonb_build_object('status', 'applied');
END $$;

-- One entry: checked, applied or refused; its receipt written (a second push of it gets
-- the same answer).
CREATE FUNCTION hub_push_one(e jsonb, me hub_user, mine text[], followed text[],
                             known jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    entry uuid := (e ->> 'id')::uuid;
    kind text := e ->> 'entity';
    prior receipt;
    outcome jsonb;
BEGIN
    SELECT * INTO prior FROM receipt WHERE entry_id = entry;
    IF FOUND THEN
        IF prior.member <> session_user THEN
            RETURN hub_refused('entry_id_taken', 'Another change with this id is at the hub.');
        END IF;
        RETURN jsonb_build_object('status', prior.status, 'code', prior.code,
                                  'reason', prior.reason);
    END IF;
    IF coalesce(e ->> 'actor', '') <> me.name THEN
        outcome := hub_refused('forged_author', format(
            'This change was made by %L; you are connected as %L.', e ->> 'actor', me.name));
    ELSIF NOT hub_valid_hlc(e ->> 'hlc') THEN
        outcome := hub_refused('invalid_clock', 'The change carries no valid clock.');
    ELSIF jsonb_typeof(e -> 'fields') IS DISTINCT FROM 'object' THEN
        outcome := hub_refused('invalid_value', 'The change carries no fields.');
    ELSIF hub_has_control(e -> 'fields') THEN
        outcome := hub_refused('invalid_text',
                               'A text of this change holds a control character.');
    ELSE
        PERFORM hub_check_dates(e -> 'fields');
        outcome := CASE
            WHEN kind = 'patient' THEN hub_push_patient(e, me, mine, followed)
            WHEN kind IN ('related_person', 'consent', 'reminder') THEN
                hub_push_record(e, me, mine, known)
            WHEN kind = 'action' THEN hub_push_action(e, me, mine, known)
            WHEN kind = 'conflict' THEN hub_push_resolution(e, me, mine)
            ELSE hub_refused('unknown_entity',
                             format('The hub does not keep %L records.', kind)) END;
    END IF;
    INSERT INTO receipt (entry_id, member, status, code, reason, seq)
    VALUES (entry, session_user, outcome ->> 'status', outcome ->> 'code',
            outcome ->> 'reason', nextval('hub_seq'));
    RETURN outcome;
END $$;

-- Who am I at this hub: user, role, caseloads followed and covered, schema head.
CREATE FUNCTION hub_session() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE me hub_user := hub_me();
BEGIN
    RETURN jsonb_build_object(
        'user', me.name, 'role', session_user,
        'follows', to_jsonb(hub_caseloads(session_user, '{follows}')),
        'covers', to_jsonb(hub_caseloads(session_user, '{covers}')),
        'head', (SELECT version_num FROM alembic_version));
END $$;

-- A batch of outbox entries (a JSON array), one receipt per entry in the same order. Each
-- entry runs in its own subtransaction: a bad one is refused with a reason and never
-- blocks the good ones. json, not jsonb: an entry jsonb cannot hold (a NUL) is refused
-- alone instead of failing the whole call.
CREATE FUNCTION hub_push(entries json) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    me hub_user := hub_me();
    mine text[] := hub_caseloads(session_user);
    followed text[] := hub_caseloads(session_user, '{follows}');
    receipts jsonb[] := '{}';
    whole jsonb;
    known jsonb;
    e json;
    parsed jsonb;
    ej jsonb;
    outcome jsonb;
    entry_text text;
    code text;
BEGIN
    IF json_typeof(entries) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'carehub: hub_push takes a JSON array of entries'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM hub_take_write_lock();
    BEGIN
        whole := entries::jsonb;  -- the usual case: read once
    EXCEPTION WHEN data_exception THEN
        whole := NULL;  -- some entry holds what jsonb refuses: read them one by one
    END;
    -- The patients of this batch she may see, found once.
    SELECT coalesce(jsonb_object_agg(x.ref, p.id), '{}') INTO known
    FROM (SELECT DISTINCT (d -> 'fields' ->> 'patient_id')::uuid AS ref
          FROM jsonb_array_elements(coalesce(whole, '[]')) d
          WHERE d ->> 'entity' <> 'patient' AND d -> 'fields' ->> 'patient_id'
                ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$') x
    LEFT JOIN patient_alias a ON a.alias = x.ref
    JOIN patient p ON p.id = coalesce(a.canonical, x.ref)
    WHERE p.caseload = ANY(mine);
    FOR e, parsed IN
            SELECT t.x, NULL::jsonb, t.n FROM json_array_elements(entries) WITH ORDINALITY
                AS t(x, n) WHERE whole IS NULL
            UNION ALL
            SELECT NULL::json, u.y, u.n FROM jsonb_array_elements(whole) WITH ORDINALITY
                AS u(y, n)
            ORDER BY 3 LOOP
        entry_text := NULL;
        BEGIN
            ej := coalesce(parsed, e::jsonb);
            entry_text := ej ->> 'id';
            outcome := hub_push_one(ej, me, mine, followed, known);
        EXCEPTION WHEN data_exception OR integrity_constraint_violation THEN
            -- What the entry holds (not a fault of the hub): refused, the others go on.
            code := CASE
                WHEN SQLSTATE IN ('22P05', '22021') THEN 'invalid_text'
                WHEN SQLSTATE LIKE '22007' OR SQLSTATE LIKE '22008' THEN 'invalid_date'
                ELSE 'invalid_value' END;
            outcome := hub_refused(code, CASE code
                WHEN 'invalid_text' THEN 'A text of this change holds a NUL character.'
                WHEN 'invalid_date' THEN 'A date of this change does not exist: ' || SQLERRM
                ELSE 'The hub could not read this change: ' || SQLERRM END);
            BEGIN
                -- Its id, read without the characters jsonb refuses.
                entry_text := coalesce(entry_text,
                                       replace(e::text, '\u0000', '')::json ->> 'id');
                INSERT INTO receipt (entry_id, member, status, code, reason, seq)
                VALUES (entry_text::uuid, session_user, 'refused', outcome ->> 'code',
                        outcome ->> 'reason', nextval('hub_seq'))
                ON CONFLICT (entry_id) DO NOTHING;
            EXCEPTION WHEN OTHERS THEN
                NULL;  -- no usable id: the answer alone says it
            END;
        END;
        receipts := receipts || (outcome || jsonb_build_object('id', entry_text));
    END LOOP;
    RETURN to_jsonb(receipts);
END $$;

-- The changes after `after` of the caseloads she follows or covers, and her receipts; at
-- most `lim` rows, read in one snapshot (a STABLE function sees its caller's).
CREATE FUNCTION hub_pull(after bigint, lim int) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    me hub_user := hub_me();
    mine text[] := hub_caseloads(session_user);
    n int := least(greatest(coalesce(lim, 500), 1), __MAX_PULL__);
    start bigint := greatest(coalesce(after, 0), 0);
    seqs bigint[];
    upto bigint;
    page jsonb;
    referenced jsonb;
BEGIN
    SELECT array_agg(s ORDER BY s) INTO seqs FROM (
        (SELECT p.seq AS s FROM patient p WHERE p.seq > start AND p.caseload = ANY(mine)
         ORDER BY p.seq LIMIT n)
        UNION ALL
        (SELECT r.seq FROM record r JOIN patient p ON p.id = r.patient_id
         WHERE r.seq > start AND p.caseload = ANY(mine) ORDER BY r.seq LIMIT n)
        UNION ALL
        (SELECT a.seq FROM action a JOIN patient p ON p.id = a.patient_id
         WHERE a.seq > start AND p.caseload = ANY(mine) ORDER BY a.seq LIMIT n)
        UNION ALL
        (SELECT c.seq FROM conflict c JOIN patient p ON p.id = c.patient_id
         WHERE c.seq > start AND p.caseload = ANY(mine) ORDER BY c.seq LIMIT n)
        UNION ALL
        (SELECT r.seq FROM receipt r WHERE r.member = session_user AND r.seq > start
         ORDER BY r.seq LIMIT n)) x;
    IF coalesce(cardinality(seqs), 0) >= n THEN
        upto := seqs[n];
    ELSE
        -- Everything she may see is in this page: the cursor goes to the hub's last change.
        upto := greatest(start,
            (SELECT max(seq) FROM patient), (SELECT max(seq) FROM record),
            (SELECT max(seq) FROM action), (SELECT max(seq) FROM conflict),
            (SELECT max(seq) FROM receipt));
    END IF;
    SELECT jsonb_build_object(
        'after', start, 'upto', upto,
        'patients', coalesce((SELECT jsonb_agg(jsonb_build_object(
                'id', p.id, 'ins', p.ins, 'caseload', p.caseload, 'fields', p.fields,
                'clocks', p.clocks, 'seq', p.seq) ORDER BY p.seq)
            FROM patient p WHERE p.seq > start AND p.seq <= upto
              AND p.caseload = ANY(mine)), '[]'),
        'records', coalesce((SELECT jsonb_agg(jsonb_build_object(
                'id', r.id, 'entity', r.entity, 'patient_id', r.patient_id,
                'fields', r.fields, 'clocks', r.clocks, 'seq', r.seq) ORDER BY r.seq)
            FROM record r JOIN patient p ON p.id = r.patient_id
            WHERE r.seq > start AND r.seq <= upto AND p.caseload = ANY(mine)), '[]'),
        'actions', coalesce((SELECT jsonb_agg(jsonb_build_object(
                'id', a.id, 'patient_id', a.patient_id, 'payload', a.payload,
                'seq', a.seq) ORDER BY a.seq)
            FROM action a JOIN patient p ON p.id = a.patient_id
            WHERE a.seq > start AND a.seq <= upto AND p.caseload = ANY(mine)), '[]'),
        'conflicts', coalesce((SELECT jsonb_agg(to_jsonb(c) ORDER BY c.seq)
            FROM conflict c JOIN patient p ON p.id = c.patient_id
            WHERE c.seq > start AND c.seq <= upto AND p.caseload = ANY(mine)), '[]'),
        'receipts', coalesce((SELECT jsonb_agg(jsonb_build_object(
                'entry_id', r.entry_id, 'status', r.status, 'code', r.code,
                'reason', r.reason) ORDER BY r.seq)
            FROM receipt r WHERE r.member = session_user AND r.seq > start
              AND r.seq <= upto), '[]'))
    INTO page;
    -- The patients the page's rows refer to, when the page does not bring them itself.
    SELECT coalesce(jsonb_agg(jsonb_build_object(
            'id', p.id, 'ins', p.ins, 'caseload', p.caseload, 'fields', p.fields,
            'clocks', p.clocks, 'seq', p.seq)), '[]')
    INTO referenced
    FROM patient p
    WHERE p.caseload = ANY(mine) AND (p.seq <= start OR p.seq > upto) AND p.id IN (
        SELECT (x ->> 'patient_id')::uuid FROM jsonb_array_elements(
            (page -> 'records') || (page -> 'actions') || (page -> 'conflicts')) x);
    RETURN page || jsonb_build_object('referenced', referenced);
END $$;

CREATE FUNCTION hub_save_cursor(ws text, pos bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE me hub_user := hub_me();
BEGIN
    IF ws IS NULL OR length(ws) NOT BETWEEN 1 AND 64 OR hub_has_control(to_jsonb(ws)) THEN
        RAISE EXCEPTION 'carehub: a workstation is named by 1 to 64 characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO sync_cursor (member, workstation, cursor)
    VALUES (session_user, ws, least(greatest(pos, 0),
                                             (SELECT last_value FROM hub_seq)))
    ON CONFLICT (member, workstation) DO UPDATE SET
        cursor = greatest(sync_cursor.cursor, EXCLUDED.cursor), at = now();
END $$;

-- The team's workload figures over the caseloads she follows or covers (a supervisor is
-- given `covers` on her team's): counts only, read in one snapshot.
CREATE FUNCTION hub_workload(start_at timestamptz, stop_at timestamptz,
                             week_start timestamptz, end_date date, followed text[],
                             closed text[], reached text) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    me hub_user := hub_me();
    mine text[] := hub_caseloads(session_user);
BEGIN
    RETURN jsonb_build_object(
    'patients', (SELECT coalesce(jsonb_agg(jsonb_build_array(caseload, level, n)), '[]')
        FROM (SELECT p.caseload, coalesce(p.fields->>'fragility_level', 'unknown') AS level,
                     count(*) AS n
              FROM patient p WHERE p.caseload = ANY(mine)
                AND coalesce(p.fields->>'status', 'active') = ANY(followed)
                AND p.fields->>'deceased_date' IS NULL GROUP BY 1, 2) x),
    'overdue', (SELECT coalesce(jsonb_agg(jsonb_build_array(caseload, n, people)), '[]')
        FROM (SELECT p.caseload, count(*) AS n, count(DISTINCT r.patient_id) AS people
              FROM record r JOIN patient p ON p.id = r.patient_id
              WHERE r.entity = 'reminder' AND p.caseload = ANY(mine)
                AND coalesce(p.fields->>'status', 'active') = ANY(followed)
                AND p.fields->>'deceased_date' IS NULL
                AND (r.fields->>'due_date')::date < end_date
                AND (r.fields->>'closed_on' IS NULL OR (r.fields->>'closed_on')::date > end_date)
                AND NOT (r.fields->>'state' = 'postponed'
                         AND r.fields->>'postponed_until' IS NOT NULL
                         AND (r.fields->>'postponed_until')::date > end_date)
                AND (r.fields->>'state' <> ALL(closed) OR r.fields->>'closed_on' IS NOT NULL)
              GROUP BY 1) x),
    'actions', (SELECT coalesce(jsonb_agg(jsonb_build_array(author, type, n, ok, secs, timed)),
                                '[]')
        FROM (SELECT a.author, a.type, count(*) AS n,
                     count(*) FILTER (WHERE a.payload->>'outcome' = reached) AS ok,
                     coalesce(sum((a.payload->>'duration_s')::bigint), 0) AS secs,
                     count(a.payload->>'duration_s') AS timed
              FROM action a JOIN patient p ON p.id = a.patient_id
              WHERE p.caseload = ANY(mine) AND a.at >= start_at AND a.at < stop_at
                AND a.id NOT IN (SELECT (b.payload->>'amends_id')::uuid FROM action b
                                 WHERE b.payload->>'amends_id' IS NOT NULL)
              GROUP BY 1, 2) x),
    'weekly', (SELECT coalesce(jsonb_agg(jsonb_build_array(author, week, n, ok)
                                         ORDER BY week, author), '[]')
        FROM (SELECT a.author, date_trunc('week', a.at AT TIME ZONE 'UTC')::date AS week,
                     count(*) AS n,
                     count(*) FILTER (WHERE a.payload->>'outcome' = reached) AS ok
              FROM action a JOIN patient p ON p.id = a.patient_id
              WHERE p.caseload = ANY(mine) AND a.type = 'call' AND a.at >= week_start
                AND a.at < stop_at
                AND a.id NOT IN (SELECT (b.payload->>'amends_id')::uuid FROM action b
                                 WHERE b.payload->>'amends_id' IS NOT NULL)
              GROUP BY 1, 2) x),
    'names', (SELECT coalesce(jsonb_object_agg(name, display_name), '{}') FROM hub_user));
END $$;
""".replace("__BUDGET__", str(COLLISION_BUDGET)).replace("__MAX_PULL__", str(MAX_PULL))

# What a member (or anyone) may reach: the four functions, nothing else.
LOCKDOWN = f"""
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT m.member::regrole::text AS name FROM pg_auth_members m
             WHERE m.roleid = '{MEMBER_ROLE}'::regrole
             UNION SELECT quote_ident('{MEMBER_ROLE}') UNION SELECT 'PUBLIC' LOOP
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %s', r.name);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %s', r.name);
        EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM %s', r.name);
        EXECUTE format('REVOKE CREATE ON SCHEMA public FROM %s', r.name);
        EXECUTE format('REVOKE CREATE, TEMPORARY ON DATABASE %I FROM %s',
                       current_database(), r.name);
    END LOOP;
END $$;
GRANT USAGE ON SCHEMA public TO {MEMBER_ROLE};
GRANT EXECUTE ON FUNCTION hub_session(), hub_push(json), hub_pull(bigint, int),
    hub_save_cursor(text, bigint),
    hub_workload(timestamptz, timestamptz, timestamptz, date, text[], text[], text)
    TO {MEMBER_ROLE};
"""


def member_role_settings(role: str) -> list[str]:
    """The statements that bound one member role (connections, timeouts); `role` quoted."""
    return [f"ALTER ROLE {role} CONNECTION LIMIT {CONNECTION_LIMIT}",
            *(f"ALTER ROLE {role} SET {name} = '{value}'"
              for name, value in ROLE_SETTINGS.items())]


def upgrade() -> None:
    op.execute(TABLES)
    op.execute(FUNCTIONS)
    op.execute(LOCKDOWN)
    bind = op.get_bind()
    roles = bind.exec_driver_sql(
        "SELECT m.member::regrole::text FROM pg_auth_members m "
        f"WHERE m.roleid = '{MEMBER_ROLE}'::regrole ORDER BY 1").scalars().all()
    for role in roles:
        for statement in member_role_settings(str(role)):
            bind.exec_driver_sql(statement)


def downgrade() -> None:
    op.execute(f"""
DROP FUNCTION hub_workload(timestamptz, timestamptz, timestamptz, date, text[], text[], text),
    hub_session(), hub_push(json), hub_pull(bigint, int),
    hub_save_cursor(text, bigint), hub_push_one(jsonb, hub_user, text[], text[], jsonb),
    hub_push_resolution(jsonb, hub_user, text[]),
    hub_push_action(jsonb, hub_user, text[], jsonb),
    hub_push_record(jsonb, hub_user, text[], jsonb),
    hub_push_patient(jsonb, hub_user, text[], text[]),
    hub_visible_patient(uuid, text[], jsonb), hub_foreign_ins(text, hub_user, text[], uuid, uuid, uuid),
    hub_take_write_lock(), hub_write_conflicts(jsonb),
    hub_merge(jsonb, jsonb, jsonb, text, text, jsonb, text[], uuid, text, uuid),
    hub_refused(text, text), hub_check_dates(jsonb), hub_has_control(jsonb),
    hub_valid_hlc(text), hub_caseloads(text, text[]), hub_me();
DROP TABLE ins_collision, hub_write_lock;
DROP INDEX ix_patient_alias_canonical, ix_conflict_resolved;
CREATE FUNCTION hub_patient_keys(ids uuid[], inss text[])
RETURNS TABLE (id uuid, ins text, caseload text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $f$
    SELECT p.id, p.ins, p.caseload FROM patient p WHERE p.id = ANY(ids) OR p.ins = ANY(inss)
$f$;
REVOKE ALL ON FUNCTION hub_patient_keys(uuid[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hub_patient_keys(uuid[], text[]) TO {MEMBER_ROLE};
GRANT USAGE ON SEQUENCE hub_seq TO {MEMBER_ROLE};
GRANT SELECT ON hub_user, caseload_member, alembic_version, reminder_state TO {MEMBER_ROLE};
GRANT SELECT, INSERT, UPDATE ON patient, record, conflict, receipt, sync_cursor
    TO {MEMBER_ROLE};
GRANT SELECT, INSERT ON patient_alias, action TO {MEMBER_ROLE};
""")
