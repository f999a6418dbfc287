-- AutoMod: the rules gavel enforces itself, and the keys that make each AutoMod execution and
-- each gavel-enforced punishment happen once. Kept in lockstep with
-- ../sqlite/00005_automod.sql. Times are Unix milliseconds.

-- +goose Up
-- A guild's gavel-enforced rules, replaced as a whole by `gavel automod apply`. rule is the
-- rule as automod.EncodeGavel writes it; position keeps the rules file's order.
CREATE TABLE automod_gavel_rules (
    guild_id   BIGINT  NOT NULL CHECK (guild_id > 0),
    name       TEXT    NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    position   INTEGER NOT NULL CHECK (position >= 0),
    rule       TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (guild_id, name)
);

-- One row per guild whose gavel-enforced rules were ever set: its version goes up with every
-- change, so a running process reloads a guild's rules when (and only when) they changed.
CREATE TABLE automod_gavel_versions (
    guild_id   BIGINT NOT NULL PRIMARY KEY CHECK (guild_id > 0),
    version    BIGINT NOT NULL CHECK (version >= 1),
    updated_at BIGINT NOT NULL
);

-- What has been turned into a case already. Discord sends one execution event per action of
-- a rule, and resends events after a resume; gavel sees an edited message again. The key
-- names the (rule, user, message) or (gavel rule, message), and its row is claimed before the
-- case is created, so each becomes one case across events, processes and restarts.
CREATE TABLE automod_seen (
    guild_id   BIGINT NOT NULL CHECK (guild_id > 0),
    dedupe_key TEXT   NOT NULL CHECK (char_length(dedupe_key) BETWEEN 1 AND 200),
    case_id    BIGINT,
    seen_at    BIGINT NOT NULL,
    PRIMARY KEY (guild_id, dedupe_key)
);

-- +goose Down
DROP TABLE automod_seen;
DROP TABLE automod_gavel_versions;
DROP TABLE automod_gavel_rules;
