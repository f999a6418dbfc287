-- Raid defence (docs/raids.md): each guild's raid settings (owned by package settings, whose
-- history rows record every change), the raids themselves (owned by package raid), the
-- RAID case type (a raid's parent case) and the raid's scheduled check.
-- Kept in lockstep with ../sqlite/00013_raids.sql: same tables, columns and versions.

-- +goose Up
-- Off by default; the responses' preset (pause invites, raise verification, time out new
-- joiners for 24 hours) applies once a guild turns raid defence on. The bounds repeat
-- settings.RaidBounds.
CREATE TABLE raid_settings (
    guild_id               BIGINT  PRIMARY KEY REFERENCES guilds (id),
    enabled                BOOLEAN NOT NULL DEFAULT FALSE,
    threshold              BIGINT  NOT NULL DEFAULT 10 CHECK (threshold BETWEEN 3 AND 100),
    window_seconds         BIGINT  NOT NULL DEFAULT 10 CHECK (window_seconds BETWEEN 5 AND 300),
    quiet_seconds          BIGINT  NOT NULL DEFAULT 600 CHECK (quiet_seconds BETWEEN 120 AND 3600),
    discord_signal         BOOLEAN NOT NULL DEFAULT FALSE,
    pause_invites          BOOLEAN NOT NULL DEFAULT TRUE,
    pause_dms              BOOLEAN NOT NULL DEFAULT FALSE,
    raise_verification     BOOLEAN NOT NULL DEFAULT TRUE,
    joiner_action          TEXT    NOT NULL DEFAULT 'timeout' CHECK (joiner_action IN ('none', 'timeout', 'kick', 'ban')),
    joiner_timeout_seconds BIGINT  NOT NULL DEFAULT 86400 CHECK (joiner_timeout_seconds BETWEEN 60 AND 2419200),
    updated_at             BIGINT  NOT NULL
);

-- A raid: numbered per guild, with its parent case (type RAID). At most one is open per
-- guild. invites_until / dms_until are the pauses gavel last set (NULL: none); the
-- verification columns are what gavel raised the level from and to, so ending the raid
-- restores the old level only when the level is still the one gavel set.
CREATE TABLE raids (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guild_id             BIGINT NOT NULL REFERENCES guilds (id),
    number               BIGINT NOT NULL CHECK (number >= 1),
    case_id              BIGINT NOT NULL REFERENCES cases (id),
    trigger              TEXT   NOT NULL CHECK (trigger IN ('rate', 'suspicious', 'discord', 'manual')),
    started_at           BIGINT NOT NULL,
    started_by           BIGINT NOT NULL CHECK (started_by > 0),
    last_join_at         BIGINT NOT NULL,
    invites_until        BIGINT,
    dms_until            BIGINT,
    verification_before  BIGINT,
    verification_set     BIGINT,
    ended_at             BIGINT,
    ended_by             BIGINT,
    end_reason           TEXT,
    CONSTRAINT raids_guild_number UNIQUE (guild_id, number)
);
CREATE UNIQUE INDEX raids_open ON raids (guild_id) WHERE ended_at IS NULL;
CREATE INDEX raids_case ON raids (case_id);

-- The raid's candidates: who joined in it (from twice the window before detection, and
-- every join while it lasts), what gavel saw of them, and what was done (the child case).
CREATE TABLE raid_members (
    raid_id            BIGINT  NOT NULL REFERENCES raids (id),
    user_id            BIGINT  NOT NULL CHECK (user_id > 0),
    username           TEXT    NOT NULL,
    joined_at          BIGINT  NOT NULL,
    account_created_at BIGINT  NOT NULL,
    default_avatar     BOOLEAN NOT NULL,
    rejoined           BOOLEAN NOT NULL,
    after_detection    BOOLEAN NOT NULL,
    state              TEXT    NOT NULL DEFAULT 'candidate' CHECK (state IN ('candidate', 'released', 'timed_out', 'kicked', 'banned', 'failed')),
    case_id            BIGINT  REFERENCES cases (id),
    updated_at         BIGINT  NOT NULL,
    PRIMARY KEY (raid_id, user_id)
);

-- Every step a raid took and every change it made, in order: append-only.
CREATE TABLE raid_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    raid_id    BIGINT NOT NULL REFERENCES raids (id),
    guild_id   BIGINT NOT NULL,
    kind       TEXT   NOT NULL,
    actor_id   BIGINT NOT NULL CHECK (actor_id > 0),
    detail     TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX raid_events_raid ON raid_events (raid_id, id);

-- +goose StatementBegin
CREATE FUNCTION raid_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'raid_events is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER raid_events_append_only BEFORE UPDATE OR DELETE ON raid_events
    FOR EACH ROW EXECUTE FUNCTION raid_events_append_only();

ALTER TABLE cases DROP CONSTRAINT cases_type_check;
ALTER TABLE cases ADD CONSTRAINT cases_type_check CHECK (type IN ('BAN', 'UNBAN', 'HACKBAN', 'TEMPBAN', 'KICK', 'TIMEOUT', 'UNTIMEOUT', 'WARN', 'JAIL', 'UNJAIL', 'SNIPPETBAN', 'SNIPPETUNBAN', 'POLLBAN', 'POLLUNBAN', 'SOFTBAN', 'NOTE', 'AUTOMOD', 'RAID'));
ALTER TABLE scheduled_actions DROP CONSTRAINT scheduled_actions_kind_check;
ALTER TABLE scheduled_actions ADD CONSTRAINT scheduled_actions_kind_check CHECK (kind IN ('unban', 'unjail', 'pollunban', 'snippetunban', 'timeout_renew', 'timeout_expire', 'raid_check'));

-- +goose Down
-- Fails while RAID cases or raid checks exist: cases are not deleted to make a downgrade possible.
ALTER TABLE scheduled_actions DROP CONSTRAINT scheduled_actions_kind_check;
ALTER TABLE scheduled_actions ADD CONSTRAINT scheduled_actions_kind_check CHECK (kind IN ('unban', 'unjail', 'pollunban', 'snippetunban', 'timeout_renew', 'timeout_expire'));
ALTER TABLE cases DROP CONSTRAINT cases_type_check;
ALTER TABLE cases ADD CONSTRAINT cases_type_check CHECK (type IN ('BAN', 'UNBAN', 'HACKBAN', 'TEMPBAN', 'KICK', 'TIMEOUT', 'UNTIMEOUT', 'WARN', 'JAIL', 'UNJAIL', 'SNIPPETBAN', 'SNIPPETUNBAN', 'POLLBAN', 'POLLUNBAN', 'SOFTBAN', 'NOTE', 'AUTOMOD'));
DROP TABLE raid_events;
DROP FUNCTION raid_events_append_only();
DROP TABLE raid_members;
DROP TABLE raids;
DROP TABLE raid_settings;
