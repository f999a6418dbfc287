-- The shard count every gavel process sharing this database runs with (package
-- internal/discord/shards). Kept in lockstep with ../sqlite/00017_shard_config.sql.
--
-- One row. With discord.shard_count = "auto", the first process records the count Discord
-- recommends; a process that needs more shards (Discord closed a shard with 4011, or
-- recommends more) raises it with a compare-and-set on generation, and every process that
-- sees a new generation restarts its shards with the new count. Times are Unix milliseconds.

-- +goose Up
CREATE TABLE shard_config (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    shard_count INTEGER NOT NULL CHECK (shard_count >= 1),
    generation  BIGINT  NOT NULL CHECK (generation >= 1),
    reason      TEXT    NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- +goose Down
DROP TABLE shard_config;
