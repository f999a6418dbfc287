package cases

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/store"
)

// MetaAuditLogEntry is the metadata key that holds the id of the Discord audit-log entry a
// case was mirrored from. The database keeps it unique per guild, so that an entry delivered
// twice never becomes two cases.
const MetaAuditLogEntry = "audit_log_entry_id"

// MetaTargetName and MetaModeratorName are the metadata keys that hold the target's and the
// moderator's usernames as the pipeline knew them when it recorded the case: the mod log
// names them from these rather than asking Discord, which no longer knows a user who left or
// whose ban was lifted. They are a snapshot; a later rename is not followed.
const (
	MetaTargetName = "target_name"
	// MetaPoints on a new case gives it that many escalation points, whatever its type's
	// weight (a gavel-enforced AutoMod rule's points; see internal/escalation).
	MetaPoints        = "points"
	MetaModeratorName = "moderator_name"
)

// MetaParentCase is the metadata key of a mass action's child case: the number of the
// mass action's parent case. MetaMass is the parent's own key: what the mass action does
// (ban, kick, timeout).
const (
	MetaParentCase = "parent_case"
	MetaMass       = "mass"
)

// ByAuditLogEntry returns the case mirrored from audit-log entry entryID, or ErrNotFound.
func (s *Service) ByAuditLogEntry(ctx context.Context, guildID discord.GuildID, entryID int64) (Case, error) {
	if err := errors.Join(checkID("guild", guildID), checkID("audit-log entry", entryID)); err != nil {
		return Case{}, err
	}
	row, ok, err := s.st.LatestCase(ctx, store.CaseFilter{GuildID: int64(guildID), AuditLogEntry: strconv.FormatInt(entryID, 10)})
	if err != nil {
		return Case{}, fmt.Errorf("case of audit-log entry %d in guild %d: %w", entryID, guildID, err)
	}
	if !ok {
		return Case{}, fmt.Errorf("case of audit-log entry %d in guild %d: %w", entryID, guildID, ErrNotFound)
	}
	return fromRow(row)
}

// PendingInGuild returns a guild's pending cases created before the given time, oldest first,
// at most limit. Pending cases are those recorded before their Discord action whose outcome
// was never written: normally for a moment, after a crash until they are reconciled.
func (s *Service) PendingInGuild(ctx context.Context, guildID discord.GuildID, createdBefore time.Time, limit int) ([]Case, error) {
	if err := checkID("guild", guildID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 1000 {
		return nil, input.Invalid("limit", fmt.Sprintf("%d is out of range; accepted: 1 to 1000", limit))
	}
	rows, err := s.st.ListCases(ctx, store.CaseFilter{GuildID: int64(guildID), Status: string(Pending), CreatedBefore: createdBefore.UnixMilli()}, store.OldestFirst, limit, 0)
	if err != nil {
		return nil, fmt.Errorf("pending cases of guild %d: %w", guildID, err)
	}
	return fromRows(rows)
}

// AddNote appends a note to the history of case number n: something done about the case
// that changes none of its fields (a jail given back on rejoin), so that no Discord action
// taken for a case goes unrecorded.
func (s *Service) AddNote(ctx context.Context, guildID discord.GuildID, n int64, actor discord.UserID, note string) (Case, error) {
	if err := s.checkTarget(guildID, n, actor); err != nil {
		return Case{}, err
	}
	if err := checkReason("note", note); err != nil {
		return Case{}, err
	}
	return s.change(ctx, lockByNumber(guildID, n), actor, func(c Case, q *changeTx) error {
		return q.event(c, EventNote, "", "", note)
	})
}
