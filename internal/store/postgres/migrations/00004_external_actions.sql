-- Cases mirrored from Discord's audit log, notes in a case's history, and pending cases.
-- Kept in lockstep with ../sqlite/00004_external_actions.sql.

-- +goose Up
-- A case mirrored from Discord's audit log carries the entry's id in its metadata. The same
-- entry delivered twice (a resumed gateway session replays events) must not become two
-- cases: the database refuses the second.
CREATE UNIQUE INDEX cases_audit_log_entry ON cases (guild_id, (metadata ->> 'audit_log_entry_id'))
    WHERE metadata ->> 'audit_log_entry_id' IS NOT NULL;

-- Start-up reconciliation reads each guild's pending cases.
CREATE INDEX cases_pending ON cases (guild_id, id) WHERE status = 'pending';

-- A 'note' history row records something done about a case that changes none of its
-- fields (a jail given back when the member rejoined).
ALTER TABLE case_events DROP CONSTRAINT case_events_kind_check;
ALTER TABLE case_events ADD CONSTRAINT case_events_kind_check
    CHECK (kind IN ('created', 'reason', 'status', 'expiry', 'voided', 'modlog', 'processed',
        'scheduled', 'superseded', 'renewed', 'linked', 'gave_up', 'note'));

-- +goose Down
-- Fails while any 'note' row exists: history is not deleted to make a downgrade possible.
ALTER TABLE case_events DROP CONSTRAINT case_events_kind_check;
ALTER TABLE case_events ADD CONSTRAINT case_events_kind_check
    CHECK (kind IN ('created', 'reason', 'status', 'expiry', 'voided', 'modlog', 'processed',
        'scheduled', 'superseded', 'renewed', 'linked', 'gave_up'));
DROP INDEX cases_pending;
DROP INDEX cases_audit_log_entry;
