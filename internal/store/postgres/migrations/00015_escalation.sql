-- Escalation: points on cases, each guild's escalation settings and policies, and the
-- firings of their thresholds. Kept in lockstep with ../sqlite/00015_escalation.sql.
-- Times are Unix milliseconds.

-- +goose Up
-- The points a case carries and when they stop counting. A member's points are the sum
-- over their active cases' rows whose counts_until is still ahead: derived, never stored.
CREATE TABLE case_points (
    case_id      BIGINT  NOT NULL PRIMARY KEY REFERENCES cases (id),
    guild_id     BIGINT  NOT NULL REFERENCES guilds (id),
    user_id      BIGINT  NOT NULL CHECK (user_id > 0),
    points       INTEGER NOT NULL CHECK (points BETWEEN 0 AND 100),
    counts_until BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);

-- The sum reads only the rows still counting: (guild, user) then the expiry, so a member
-- with 10,000 old cases costs the few that still count.
CREATE INDEX case_points_member ON case_points (guild_id, user_id, counts_until);

-- A guild's escalation settings as one document (escalation.Config as JSON): point weights,
-- how long points count, the policies and their thresholds. version goes up with every
-- change.
CREATE TABLE escalation_config (
    guild_id   BIGINT NOT NULL PRIMARY KEY REFERENCES guilds (id),
    config     TEXT   NOT NULL,
    version    BIGINT NOT NULL CHECK (version >= 1),
    updated_by BIGINT NOT NULL CHECK (updated_by > 0),
    updated_at BIGINT NOT NULL
);

-- One row per threshold fired for a member. It is open (rearmed_at NULL) until the member's
-- points fall below its reset level; while open the threshold does not fire again.
-- state follows the escalation action: queued → running → done | failed | pending, or
-- awaiting_approval → approved → … | denied | expired; skipped when a harsher threshold
-- crossed at the same time took the action.
CREATE TABLE escalation_firings (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guild_id           BIGINT  NOT NULL REFERENCES guilds (id),
    user_id            BIGINT  NOT NULL CHECK (user_id > 0),
    policy             TEXT    NOT NULL CHECK (char_length(policy) BETWEEN 1 AND 32),
    at_points          INTEGER NOT NULL CHECK (at_points BETWEEN 1 AND 100),
    reset_below        INTEGER NOT NULL CHECK (reset_below BETWEEN 1 AND 100),
    action             TEXT    NOT NULL CHECK (action IN ('timeout', 'tempban', 'kick', 'ban', 'jail')),
    duration_ms        BIGINT  NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    needs_approval     BOOLEAN NOT NULL,
    points             INTEGER NOT NULL CHECK (points >= 0),
    contributing       TEXT    NOT NULL,
    trigger_case_id    BIGINT  NOT NULL REFERENCES cases (id),
    escalation_case_id BIGINT  REFERENCES cases (id),
    state              TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'pending', 'awaiting_approval', 'approved', 'denied', 'expired', 'skipped')),
    note               TEXT,
    decided_by         BIGINT,
    decided_at         BIGINT,
    approval_message_channel_id BIGINT,
    approval_message_id BIGINT,
    fired_at           BIGINT  NOT NULL,
    rearmed_at         BIGINT,
    updated_at         BIGINT  NOT NULL
);

-- The second guard: one open firing per threshold and member, whatever the first missed.
CREATE UNIQUE INDEX escalation_firings_open ON escalation_firings (guild_id, user_id, policy, at_points) WHERE rearmed_at IS NULL;
CREATE INDEX escalation_firings_member ON escalation_firings (guild_id, user_id, id);
CREATE INDEX escalation_firings_trigger ON escalation_firings (trigger_case_id);
CREATE INDEX escalation_firings_escalation ON escalation_firings (escalation_case_id) WHERE escalation_case_id IS NOT NULL;
-- Work left to do: actions queued, running or waiting for a moderator.
CREATE INDEX escalation_firings_work ON escalation_firings (state, fired_at) WHERE state IN ('queued', 'running', 'awaiting_approval', 'approved');

-- A case's history now records its points changing (cases modify -points).
ALTER TABLE case_events DROP CONSTRAINT case_events_kind_check;
ALTER TABLE case_events ADD CONSTRAINT case_events_kind_check
    CHECK (kind IN ('created', 'reason', 'status', 'expiry', 'voided', 'modlog', 'processed',
        'scheduled', 'superseded', 'renewed', 'linked', 'gave_up', 'note', 'points'));

-- +goose Down
ALTER TABLE case_events DROP CONSTRAINT case_events_kind_check;
ALTER TABLE case_events ADD CONSTRAINT case_events_kind_check
    CHECK (kind IN ('created', 'reason', 'status', 'expiry', 'voided', 'modlog', 'processed',
        'scheduled', 'superseded', 'renewed', 'linked', 'gave_up', 'note'));
DROP TABLE escalation_firings;
DROP TABLE escalation_config;
DROP TABLE case_points;
