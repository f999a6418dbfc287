-- Escalation: points on cases, each guild's escalation settings and policies, and the
-- firings of their thresholds. Kept in lockstep with ../postgres/00015_escalation.sql.
-- Times are Unix milliseconds.

-- +goose Up
-- The points a case carries and when they stop counting. A member's points are the sum
-- over their active cases' rows whose counts_until is still ahead: derived, never stored.
CREATE TABLE case_points (
    case_id      INTEGER NOT NULL PRIMARY KEY REFERENCES cases (id),
    guild_id     INTEGER NOT NULL REFERENCES guilds (id),
    user_id      INTEGER NOT NULL CHECK (user_id > 0),
    points       INTEGER NOT NULL CHECK (points BETWEEN 0 AND 100),
    counts_until INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

-- The sum reads only the rows still counting: (guild, user) then the expiry, so a member
-- with 10,000 old cases costs the few that still count.
CREATE INDEX case_points_member ON case_points (guild_id, user_id, counts_until);

-- A guild's escalation settings as one document (escalation.Config as JSON): point weights,
-- how long points count, the policies and their thresholds. version goes up with every
-- change.
CREATE TABLE escalation_config (
    guild_id   INTEGER NOT NULL PRIMARY KEY REFERENCES guilds (id),
    config     TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    updated_by INTEGER NOT NULL CHECK (updated_by > 0),
    updated_at INTEGER NOT NULL
) STRICT;

-- One row per threshold fired for a member. It is open (rearmed_at NULL) until the member's
-- points fall below its reset level; while open the threshold does not fire again.
-- state follows the escalation action: queued → running → done | failed | pending, or
-- awaiting_approval → approved → … | denied | expired; skipped when a harsher threshold
-- crossed at the same time took the action.
CREATE TABLE escalation_firings (
    id                 INTEGER PRIMARY KEY,
    guild_id           INTEGER NOT NULL REFERENCES guilds (id),
    user_id            INTEGER NOT NULL CHECK (user_id > 0),
    policy             TEXT    NOT NULL CHECK (length(policy) BETWEEN 1 AND 32),
    at_points          INTEGER NOT NULL CHECK (at_points BETWEEN 1 AND 100),
    reset_below        INTEGER NOT NULL CHECK (reset_below BETWEEN 1 AND 100),
    action             TEXT    NOT NULL CHECK (action IN ('timeout', 'tempban', 'kick', 'ban', 'jail')),
    duration_ms        INTEGER NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    needs_approval     INTEGER NOT NULL CHECK (needs_approval IN (0, 1)),
    points             INTEGER NOT NULL CHECK (points >= 0),
    contributing       TEXT    NOT NULL,
    trigger_case_id    INTEGER NOT NULL REFERENCES cases (id),
    escalation_case_id INTEGER REFERENCES cases (id),
    state              TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'pending', 'awaiting_approval', 'approved', 'denied', 'expired', 'skipped')),
    note               TEXT,
    decided_by         INTEGER,
    decided_at         INTEGER,
    approval_message_channel_id INTEGER,
    approval_message_id INTEGER,
    fired_at           INTEGER NOT NULL,
    rearmed_at         INTEGER,
    updated_at         INTEGER NOT NULL
) STRICT;

-- The second guard: one open firing per threshold and member, whatever the first missed.
CREATE UNIQUE INDEX escalation_firings_open ON escalation_firings (guild_id, user_id, policy, at_points) WHERE rearmed_at IS NULL;
CREATE INDEX escalation_firings_member ON escalation_firings (guild_id, user_id, id);
CREATE INDEX escalation_firings_trigger ON escalation_firings (trigger_case_id);
CREATE INDEX escalation_firings_escalation ON escalation_firings (escalation_case_id) WHERE escalation_case_id IS NOT NULL;
-- Work left to do: actions queued, running or waiting for a moderator.
CREATE INDEX escalation_firings_work ON escalation_firings (state, fired_at) WHERE state IN ('queued', 'running', 'awaiting_approval', 'approved');

-- A case's history now records its points changing (cases modify -points). SQLite cannot
-- change a CHECK, so the table is rebuilt; its triggers go and come back with it.
DROP TRIGGER cases_record_creation;
DROP TRIGGER case_events_no_update;
DROP TRIGGER case_events_no_delete;

CREATE TABLE case_events_new (
    id         INTEGER PRIMARY KEY,
    case_id    INTEGER NOT NULL REFERENCES cases (id),
    guild_id   INTEGER NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('created', 'reason', 'status', 'expiry', 'voided', 'modlog', 'processed',
        'scheduled', 'superseded', 'renewed', 'linked', 'gave_up', 'note', 'points')),
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
-- Fails while any 'points' row exists: history is not deleted to make a downgrade possible.
DROP TRIGGER cases_record_creation;
DROP TRIGGER case_events_no_update;
DROP TRIGGER case_events_no_delete;

CREATE TABLE case_events_old (
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

DROP TABLE escalation_firings;
DROP TABLE escalation_config;
DROP TABLE case_points;
