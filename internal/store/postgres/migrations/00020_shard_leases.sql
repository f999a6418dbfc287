-- Shard leases: with discord.shards = "auto", the processes sharing this database divide the
-- gateway shards between them through these rows (internal/leases). Kept in lockstep with
-- ../sqlite/00020_shard_leases.sql. Times are Unix milliseconds.
--
-- A process heartbeats its shard_processes row; the live ones (expires_at in the future)
-- share the shards equally. A lease is a shard's row: its owner renews expires_at every few
-- seconds and saves the shard's session (id, sequence, resume URL) with it, so whoever
-- takes the shard next, after a clean stop or once a dead owner's lease has run out,
-- RESUMEs the session instead of identifying. epoch grows with every change of owner: a
-- write by a process that lost the lease (its epoch is old) changes nothing.

-- +goose Up
CREATE TABLE shard_processes (
    owner      TEXT   PRIMARY KEY CHECK (char_length(owner) BETWEEN 1 AND 200),
    started_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE shard_leases (
    shard_count BIGINT NOT NULL CHECK (shard_count >= 1),
    shard_id    BIGINT NOT NULL CHECK (shard_id >= 0 AND shard_id < shard_count),
    owner       TEXT,
    epoch       BIGINT NOT NULL DEFAULT 0,
    expires_at  BIGINT NOT NULL DEFAULT 0,
    session_id  TEXT   NOT NULL DEFAULT '',
    seq         BIGINT NOT NULL DEFAULT 0,
    resume_url  TEXT   NOT NULL DEFAULT '',
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (shard_count, shard_id)
);

-- +goose Down
DROP TABLE shard_leases;
DROP TABLE shard_processes;
