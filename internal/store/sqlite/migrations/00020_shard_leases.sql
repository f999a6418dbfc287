-- Shard leases. Kept in lockstep with ../postgres/00020_shard_leases.sql, which says how
-- they work. (SQLite serves one gavel run, which takes every shard.)

-- +goose Up
CREATE TABLE shard_processes (
    owner      TEXT    PRIMARY KEY CHECK (length(owner) BETWEEN 1 AND 200),
    started_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE shard_leases (
    shard_count INTEGER NOT NULL CHECK (shard_count >= 1),
    shard_id    INTEGER NOT NULL CHECK (shard_id >= 0 AND shard_id < shard_count),
    owner       TEXT,
    epoch       INTEGER NOT NULL DEFAULT 0,
    expires_at  INTEGER NOT NULL DEFAULT 0,
    session_id  TEXT    NOT NULL DEFAULT '',
    seq         INTEGER NOT NULL DEFAULT 0,
    resume_url  TEXT    NOT NULL DEFAULT '',
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (shard_count, shard_id)
) STRICT;

-- +goose Down
DROP TABLE shard_leases;
DROP TABLE shard_processes;
