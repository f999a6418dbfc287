-- Mass actions (massban, masskick, masstimeout, a raid's Ban all), the ban-on-join list and
-- the account-age gate (internal/moderation's batch path, docs/raids.md). Kept in lockstep
-- with ../sqlite/00012_mass_actions.sql. Times are Unix milliseconds; booleans are BOOLEAN.

-- +goose Up
-- One row per mass action: the durable record a restart continues from. parent_case_id is
-- the mass action's parent case (MASSBAN, MASSKICK, MASSTIMEOUT).
CREATE TABLE mass_actions (
    id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guild_id       BIGINT  NOT NULL REFERENCES guilds (id),
    parent_case_id BIGINT  NOT NULL UNIQUE REFERENCES cases (id),
    kind           TEXT    NOT NULL CHECK (kind IN ('ban', 'kick', 'timeout')),
    -- running: chunks remain; cancelled: a moderator stopped it between chunks; done.
    state          TEXT    NOT NULL CHECK (state IN ('running', 'cancelled', 'done')),
    moderator_id   BIGINT  NOT NULL CHECK (moderator_id > 0),
    reason         TEXT    NOT NULL,
    delete_seconds BIGINT  NOT NULL DEFAULT 0 CHECK (delete_seconds BETWEEN 0 AND 604800),
    duration_ms    BIGINT  NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    silent         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);

CREATE INDEX mass_actions_running ON mass_actions (state, guild_id) WHERE state = 'running';

-- One row per target, in the order they are acted on (members first): chunk is the bulk
-- call the target goes in. case_id is the target's child case once recorded.
CREATE TABLE mass_targets (
    mass_id BIGINT  NOT NULL REFERENCES mass_actions (id),
    seq     BIGINT  NOT NULL CHECK (seq >= 0),
    user_id BIGINT  NOT NULL CHECK (user_id > 0),
    member  BOOLEAN NOT NULL,
    chunk   BIGINT  NOT NULL CHECK (chunk >= 0),
    -- queued: not yet sent; sending: its child case is pending and the call may be under
    -- way; done: banned (kicked, timed out); failed: not, with why in detail; listed: on the
    -- ban-on-join list; cancelled: never sent.
    state   TEXT    NOT NULL CHECK (state IN ('queued', 'sending', 'done', 'failed', 'listed', 'cancelled')),
    case_id BIGINT  REFERENCES cases (id),
    detail  TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (mass_id, seq),
    CONSTRAINT mass_targets_user UNIQUE (mass_id, user_id)
);

CREATE INDEX mass_targets_chunk ON mass_targets (mass_id, chunk, seq);

-- Users Discord would not let gavel ban while they were not members (error 30035): banned on
-- sight if they join. Removed once banned.
CREATE TABLE ban_on_join (
    guild_id       BIGINT  NOT NULL REFERENCES guilds (id),
    user_id        BIGINT  NOT NULL CHECK (user_id > 0),
    moderator_id   BIGINT  NOT NULL CHECK (moderator_id > 0),
    reason         TEXT    NOT NULL,
    parent_case_id BIGINT  REFERENCES cases (id),
    added_at       BIGINT  NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

-- The account-age gate: members whose account is younger than min_age_ms are timed out
-- until it is that old. No row: off.
CREATE TABLE account_age_gates (
    guild_id   BIGINT  PRIMARY KEY REFERENCES guilds (id),
    min_age_ms BIGINT  NOT NULL CHECK (min_age_ms BETWEEN 3600000 AND 2419200000),
    updated_at BIGINT  NOT NULL
);

-- +goose Down
DROP TABLE account_age_gates;
DROP TABLE ban_on_join;
DROP TABLE mass_targets;
DROP TABLE mass_actions;
