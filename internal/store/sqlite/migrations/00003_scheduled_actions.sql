-- Durable expiries: the actions gavel must take later (unban when a tempban ends, renew a
-- timeout beyond Discord's 28 days, …), claimed by pollers with a lease.
-- Kept in lockstep with ../postgres/00003_scheduled_actions.sql: same tables, columns and versions.

-- +goose Up
CREATE TABLE scheduled_actions (
    id           INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('unban', 'unjail', 'pollunban', 'snippetunban', 'timeout_renew', 'timeout_expire')),
    guild_id     INTEGER NOT NULL REFERENCES guilds (id),
    user_id      INTEGER NOT NULL CHECK (user_id > 0),
    case_id      INTEGER NOT NULL REFERENCES cases (id),
    run_at       INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error   TEXT,
    lease_owner  TEXT,
    lease_until  INTEGER,
    outcome      TEXT    CHECK (outcome IS NULL OR outcome IN ('done', 'already_done', 'stale', 'gave_up', 'superseded', 'cancelled')),
    note         TEXT,
    done_at      INTEGER,
    cancelled_at INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    CHECK (done_at IS NULL OR cancelled_at IS NULL)
) STRICT;

CREATE INDEX scheduled_actions_due ON scheduled_actions (run_at, id) WHERE done_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX scheduled_actions_target ON scheduled_actions (guild_id, user_id) WHERE done_at IS NULL AND cancelled_at IS NULL;
CREATE UNIQUE INDEX scheduled_actions_open_case ON scheduled_actions (case_id) WHERE done_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX scheduled_actions_case ON scheduled_actions (case_id);

-- SQLite cannot alter a CHECK: case_events is rebuilt with the new history kinds, its rows,
-- index and triggers kept. DROP TABLE fires no trigger, so the append-only guard does not
-- stand in the way (and is recreated below).
CREATE TABLE case_events_new (
    id         INTEGER PRIMARY KEY,
    case_id    INTEGER NOT NULL REFERENCES cases (id),
    guild_id   INTEGER NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('created', 'reason', 'status', 'expiry', 'voided', 'modlog', 'processed',
        'scheduled', 'superseded', 'renewed', 'linked', 'gave_up')),
    actor_id   INTEGER NOT NULL CHECK (actor_id > 0),
    old_value  TEXT,
    new_value  TEXT,
    note       TEXT,
    created_at INTEGER NOT NULL
) STRICT;
INSERT INTO case_events_new SELECT id, case_id, guild_id, kind, actor_id, old_value, new_value, note, created_at FROM case_events;
DROP TRIGGER cases_record_creation;
DROP TRIGGER case_events_no_delete;
DROP TRIGGER case_events_no_update;
DROP TABLE case_events;
ALTER TABLE case_events_new RENAME TO case_events;
CREATE INDEX case_events_case ON case_events (case_id, id);

-- +goose StatementBegin
CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events BEGIN
    SELECT RAISE(ABORT, 'case_events is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events BEGIN
    SELECT RAISE(ABORT, 'case_events is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER cases_record_creation AFTER INSERT ON cases BEGIN
    INSERT INTO case_events (case_id, guild_id, kind, actor_id, new_value, created_at)
    VALUES (new.id, new.guild_id, 'created', new.moderator_id, new.status, new.created_at);
END;
-- +goose StatementEnd

-- +goose Down
-- Refused (by the CHECK) while history rows of the new kinds exist: history is not deleted.
CREATE TABLE case_events_old (
    id         INTEGER PRIMARY KEY,
    case_id    INTEGER NOT NULL REFERENCES cases (id),
    guild_id   INTEGER NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('created', 'reason', 'status', 'expiry', 'voided', 'modlog', 'processed')),
    actor_id   INTEGER NOT NULL CHECK (actor_id > 0),
    old_value  TEXT,
    new_value  TEXT,
    note       TEXT,
    created_at INTEGER NOT NULL
) STRICT;
INSERT INTO case_events_old SELECT id, case_id, guild_id, kind, actor_id, old_value, new_value, note, created_at FROM case_events;
DROP TRIGGER cases_record_creation;
DROP TRIGGER case_events_no_delete;
DROP TRIGGER case_events_no_update;
DROP TABLE case_events;
ALTER TABLE case_events_old RENAME TO case_events;
CREATE INDEX case_events_case ON case_events (case_id, id);

-- +goose StatementBegin
CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events BEGIN
    SELECT RAISE(ABORT, 'case_events is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events BEGIN
    SELECT RAISE(ABORT, 'case_events is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER cases_record_creation AFTER INSERT ON cases BEGIN
    INSERT INTO case_events (case_id, guild_id, kind, actor_id, new_value, created_at)
    VALUES (new.id, new.guild_id, 'created', new.moderator_id, new.status, new.created_at);
END;
-- +goose StatementEnd

DROP TABLE scheduled_actions;
