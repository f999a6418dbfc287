-- AutoMod: the rules gavel enforces itself, and the keys that make each AutoMod execution and
-- each gavel-enforced punishment happen once. Kept in lockstep with
-- ../postgres/00005_automod.sql. Times are Unix milliseconds.

-- +goose Up
CREATE TABLE automod_gavel_rules (
    guild_id   INTEGER NOT NULL CHECK (guild_id > 0),
    name       TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    position   INTEGER NOT NULL CHECK (position >= 0),
    rule       TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (guild_id, name)
) STRICT;

CREATE TABLE automod_gavel_versions (
    guild_id   INTEGER NOT NULL PRIMARY KEY CHECK (guild_id > 0),
    version    INTEGER NOT NULL CHECK (version >= 1),
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE automod_seen (
    guild_id   INTEGER NOT NULL CHECK (guild_id > 0),
    dedupe_key TEXT    NOT NULL CHECK (length(dedupe_key) BETWEEN 1 AND 200),
    case_id    INTEGER,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (guild_id, dedupe_key)
) STRICT;

-- +goose Down
DROP TABLE automod_seen;
DROP TABLE automod_gavel_versions;
DROP TABLE automod_gavel_rules;
