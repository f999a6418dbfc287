-- Cases mirrored from Discord's audit log, notes in a case's history, and pending cases.
-- Kept in lockstep with ../postgres/00004_external_actions.sql.

-- +goose Up
-- A case mirrored from Discord's audit log carries the entry's id in its metadata. The same
-- entry delivered twice (a resumed gateway session replays events) must not become two
-- cases: the database refuses the second.
CREATE UNIQUE INDEX cases_audit_log_entry ON cases (guild_id, (metadata ->> 'audit_log_entry_id'))
    WHERE metadata ->> 'audit_log_entry_id' IS NOT NULL;

-- Start-up reconciliation reads each guild's pending cases.
CREATE INDEX cases_pending ON cases (guild_id, id) WHERE status = 'pending';

-- A 'note' history row records something done about a case that changes none of its
-- fields (a jail given back when the member rejoined). SQLite cannot change a CHECK, so the
-- table is rebuilt; its triggers go and come back with it.
DROP TRIGGER cases_record_creation;
DROP TRIGGER case_events_no_update;
DROP TRIGGER case_events_no_delete;

CREATE TABLE case_events_new (
    id         INTEGER PRIMARY KEY,
    case_id    INTEGER NOT NULL REFERENCES cases (id),
    guild_id   INTEGER NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('created', 'reason', 'status', 'expiry', 'voided', 'modlog', 'processed',
        'scheduled', 'superseded', 'renewed', 'linked', 'gave_up', 'note')),
    actor_id   INTEGER NOT NULL CHECK (actor_id > 0),
    old_value  TEXT,
    new_value  TEXT,
    note       TEXT,
    created_at INTEGER NOT NULL
) STRICT;
INSERT INTO case_events_new (id, case_id, guild_id, kind, actor_id, old_value, new_value, note, created_at)
    SELECT id, case_id, guild_id, kind, actor_id, old_value, new_value, note, created_at FROM case_events;
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
-- Fails while any 'note' row exists: history is not deleted to make a downgrade possible.
DROP TRIGGER cases_record_creation;
DROP TRIGGER case_events_no_update;
DROP TRIGGER case_events_no_delete;

CREATE TABLE case_events_old (
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
INSERT INTO case_events_old (id, case_id, guild_id, kind, actor_id, old_value, new_value, note, created_at)
    SELECT id, case_id, guild_id, kind, actor_id, old_value, new_value, note, created_at FROM case_events;
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

DROP INDEX cases_pending;
DROP INDEX cases_audit_log_entry;
