-- Lockdowns (docs/raids.md#lockdown): each lockdown (owned by package lockdown) with its
-- LOCKDOWN case, the channels it holds, and the snapshot of every overwrite it touched
-- (what it was, what gavel set, and what became of it at unlock); the LOCKDOWN case type
-- and the lockdown's scheduled check (its timed end and its invite-pause renewals).
-- Kept in lockstep with ../sqlite/00021_lockdowns.sql: same tables, columns and versions.

-- +goose Up
-- A lockdown: its case, whether it is the whole server's (invites paused too), when it ends
-- by itself (NULL: by hand), the invite pause gavel last set (NULL: none).
CREATE TABLE lockdowns (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guild_id      BIGINT  NOT NULL REFERENCES guilds (id),
    case_id       BIGINT  NOT NULL REFERENCES cases (id),
    server        BOOLEAN NOT NULL,
    reason        TEXT    NOT NULL,
    started_at    BIGINT  NOT NULL,
    started_by    BIGINT  NOT NULL CHECK (started_by > 0),
    ends_at       BIGINT,
    invites_until BIGINT,
    ended_at      BIGINT,
    ended_by      BIGINT,
    end_reason    TEXT
);
CREATE INDEX lockdowns_open ON lockdowns (guild_id) WHERE ended_at IS NULL;
CREATE UNIQUE INDEX lockdowns_case ON lockdowns (case_id);

-- The channels a lockdown holds (pending: snapshotted, not yet all set), with whether each
-- was synced with its category when it was locked.
CREATE TABLE lockdown_channels (
    lockdown_id BIGINT  NOT NULL REFERENCES lockdowns (id),
    channel_id  BIGINT  NOT NULL CHECK (channel_id > 0),
    guild_id    BIGINT  NOT NULL,
    name        TEXT    NOT NULL,
    type        BIGINT  NOT NULL,
    parent_id   BIGINT  NOT NULL DEFAULT 0,
    synced      BOOLEAN NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('pending', 'locked', 'unlocked', 'superseded')),
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (lockdown_id, channel_id)
);
CREATE INDEX lockdown_channels_held ON lockdown_channels (guild_id, channel_id) WHERE state IN ('pending', 'locked');

-- The snapshot: every overwrite the lockdown touches, as it was (or absent) and as gavel
-- set it; unlock restores it only while it still equals what gavel set, and records here
-- what it found.
CREATE TABLE lockdown_overwrites (
    lockdown_id    BIGINT  NOT NULL REFERENCES lockdowns (id),
    channel_id     BIGINT  NOT NULL,
    overwrite_id   BIGINT  NOT NULL CHECK (overwrite_id > 0),
    overwrite_type BIGINT  NOT NULL CHECK (overwrite_type IN (0, 1)),
    before_absent  BOOLEAN NOT NULL,
    before_allow   BIGINT  NOT NULL,
    before_deny    BIGINT  NOT NULL,
    set_allow      BIGINT  NOT NULL,
    set_deny       BIGINT  NOT NULL,
    outcome        TEXT    NOT NULL DEFAULT 'pending' CHECK (outcome IN ('pending', 'set', 'restored', 'deleted', 'unchanged', 'changed', 'superseded', 'failed')),
    found          TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (lockdown_id, channel_id, overwrite_id)
);

ALTER TABLE cases DROP CONSTRAINT cases_type_check;
ALTER TABLE cases ADD CONSTRAINT cases_type_check CHECK (type IN ('BAN', 'UNBAN', 'HACKBAN', 'TEMPBAN', 'KICK', 'TIMEOUT', 'UNTIMEOUT', 'WARN', 'JAIL', 'UNJAIL', 'SNIPPETBAN', 'SNIPPETUNBAN', 'POLLBAN', 'POLLUNBAN', 'SOFTBAN', 'NOTE', 'AUTOMOD', 'RAID', 'LOCKDOWN'));
ALTER TABLE scheduled_actions DROP CONSTRAINT scheduled_actions_kind_check;
ALTER TABLE scheduled_actions ADD CONSTRAINT scheduled_actions_kind_check CHECK (kind IN ('unban', 'unjail', 'pollunban', 'snippetunban', 'timeout_renew', 'timeout_expire', 'raid_check', 'lockdown_check'));

-- +goose Down
-- Fails while LOCKDOWN cases or lockdown checks exist: cases are not deleted to make a downgrade possible.
ALTER TABLE scheduled_actions DROP CONSTRAINT scheduled_actions_kind_check;
ALTER TABLE scheduled_actions ADD CONSTRAINT scheduled_actions_kind_check CHECK (kind IN ('unban', 'unjail', 'pollunban', 'snippetunban', 'timeout_renew', 'timeout_expire', 'raid_check'));
ALTER TABLE cases DROP CONSTRAINT cases_type_check;
ALTER TABLE cases ADD CONSTRAINT cases_type_check CHECK (type IN ('BAN', 'UNBAN', 'HACKBAN', 'TEMPBAN', 'KICK', 'TIMEOUT', 'UNTIMEOUT', 'WARN', 'JAIL', 'UNJAIL', 'SNIPPETBAN', 'SNIPPETUNBAN', 'POLLBAN', 'POLLUNBAN', 'SOFTBAN', 'NOTE', 'AUTOMOD', 'RAID'));
DROP TABLE lockdown_overwrites;
DROP TABLE lockdown_channels;
DROP TABLE lockdowns;
