-- Raid mode's lockdown response (docs/raids.md): the raid setting `lockdown` (off, or server:
-- a lockdown of the server for as long as raid mode lasts) and, on each raid, the lockdown it
-- started (NULL: none), which ending raid mode unlocks first.
-- Kept in lockstep with ../sqlite/00026_raid_lockdown.sql.

-- +goose Up
ALTER TABLE raid_settings ADD COLUMN lockdown TEXT NOT NULL DEFAULT 'off' CHECK (lockdown IN ('off', 'server'));
ALTER TABLE raids ADD COLUMN lockdown_id BIGINT REFERENCES lockdowns (id);

-- +goose Down
ALTER TABLE raids DROP COLUMN lockdown_id;
ALTER TABLE raid_settings DROP COLUMN lockdown;
