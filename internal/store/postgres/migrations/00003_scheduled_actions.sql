-- Durable expiries: the actions gavel must take later (unban when a tempban ends, renew a
-- timeout beyond Discord's 28 days, …), claimed by pollers with a lease.
-- Kept in lockstep with ../sqlite/00003_scheduled_actions.sql: same tables, columns and versions.

-- +goose Up
-- A row is open until done_at (it ran, was found already done, or gave up) or cancelled_at
-- (superseded by a later action, or its case no longer expires) is set. attempts counts
-- claims, so an action whose runner keeps crashing still reaches the give-up; together with
-- lease_owner it fences completions: a runner completes only the claim it made, and only
-- while its lease lasts.
CREATE TABLE scheduled_actions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('unban', 'unjail', 'pollunban', 'snippetunban', 'timeout_renew', 'timeout_expire')),
    guild_id     BIGINT  NOT NULL REFERENCES guilds (id),
    user_id      BIGINT  NOT NULL CHECK (user_id > 0),
    case_id      BIGINT  NOT NULL REFERENCES cases (id),
    run_at       BIGINT  NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error   TEXT,
    lease_owner  TEXT,
    lease_until  BIGINT,
    outcome      TEXT    CHECK (outcome IS NULL OR outcome IN ('done', 'already_done', 'stale', 'gave_up', 'superseded', 'cancelled')),
    note         TEXT,
    done_at      BIGINT,
    cancelled_at BIGINT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    CHECK (done_at IS NULL OR cancelled_at IS NULL)
);

-- Claiming walks the open rows in due order: a partial index as small as the work left.
CREATE INDEX scheduled_actions_due ON scheduled_actions (run_at, id) WHERE done_at IS NULL AND cancelled_at IS NULL;
-- Supersede finds a user's open actions.
CREATE INDEX scheduled_actions_target ON scheduled_actions (guild_id, user_id) WHERE done_at IS NULL AND cancelled_at IS NULL;
-- A case has at most one open action; the reconciler looks a case's rows up.
CREATE UNIQUE INDEX scheduled_actions_open_case ON scheduled_actions (case_id) WHERE done_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX scheduled_actions_case ON scheduled_actions (case_id);

-- The history of a case now also records its expiry's life: scheduled (or moved),
-- superseded, renewed (a long timeout re-applied), linked (a lift case and the case it
-- lifts), gave_up (the action failed for good; a human must act).
ALTER TABLE case_events DROP CONSTRAINT case_events_kind_check;
ALTER TABLE case_events ADD CONSTRAINT case_events_kind_check CHECK (kind IN ('created', 'reason', 'status', 'expiry', 'voided', 'modlog', 'processed',
    'scheduled', 'superseded', 'renewed', 'linked', 'gave_up'));

-- +goose Down
ALTER TABLE case_events DROP CONSTRAINT case_events_kind_check;
ALTER TABLE case_events ADD CONSTRAINT case_events_kind_check CHECK (kind IN ('created', 'reason', 'status', 'expiry', 'voided', 'modlog', 'processed'));
DROP TABLE scheduled_actions;
