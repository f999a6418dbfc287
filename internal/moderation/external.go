package moderation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
)

// External is a moderation action taken outside gavel (in Discord's own interface, or by
// another bot) and seen as an entry of the guild's audit log.
type External struct {
	GuildID discord.GuildID
	// EntryID is the audit-log entry's id: a case records it, and the same entry never makes
	// a second case.
	EntryID int64
	// ModeratorID is who acted (the entry's user_id); UserID is whom they acted on.
	ModeratorID discord.UserID
	UserID      discord.UserID
	// Type is BAN, UNBAN, KICK, TIMEOUT or UNTIMEOUT.
	Type cases.Type
	// Reason is the audit log's; empty when the moderator gave none.
	Reason string
	// ExpiresAt is when a timeout ends; zero for the other actions.
	ExpiresAt time.Time
}

// ExternalActionObserver is told, under the target's lock, about each case RecordExternal
// records, and about each external action it does not record because the guild turned
// mirroring off (then c has no ID or Number: only guild, user, moderator and type). The
// pipeline has already cancelled the expiries the action makes stale.
type ExternalActionObserver func(ctx context.Context, c cases.Case)

// WithExternalActionObserver sets the function told about each case mirrored from the audit
// log.
func WithExternalActionObserver(f ExternalActionObserver) CoordinatorOption {
	return func(c *Coordinator) { c.external = f }
}

// SourceAuditLog is the "source" metadata of a case mirrored from the audit log.
const SourceAuditLog = "audit_log"

// RecordExternal records an action taken outside gavel as an active case, with the
// moderator and reason of the audit log, and posts it in the mod log. It takes the target's
// lock, so the case is numbered after any gavel action on them that is still running. It
// reports false, and records nothing, when the entry already has its case (a gateway
// resume replays events), when gavel itself made the entry (its own action has a case), or
// when the guild turned mirroring off (mirror_external_actions).
func (co *Coordinator) RecordExternal(ctx context.Context, ext External) (cases.Case, bool, error) {
	if a, ok := co.cat.ByCase(ext.Type); !ok || !a.Mirrored {
		return cases.Case{}, false, fmt.Errorf("external action: %q is not an action gavel mirrors (%s)", ext.Type, co.cat.mirrored())
	}
	if ext.ModeratorID == co.botID {
		return cases.Case{}, false, nil
	}
	g, err := co.settings.Get(ctx, ext.GuildID)
	if err != nil {
		return cases.Case{}, false, fmt.Errorf("reading the settings of guild %d: %w", ext.GuildID, err)
	}
	a, ok := co.cat.ByCase(ext.Type)
	if !ok {
		return cases.Case{}, false, fmt.Errorf("external action: no action for case type %s", ext.Type)
	}
	moderator := discord.User{ID: ext.ModeratorID, Username: strconv.FormatInt(int64(ext.ModeratorID), 10)}
	if !g.MirrorExternalActions {
		// No case, but the action still makes earlier expiries stale: a tempban lifted by
		// hand and replaced by a permanent ban must not be lifted later, mirrored or not.
		unlock, err := co.locks.Lock(ctx, ext.GuildID, ext.UserID)
		if err != nil {
			return cases.Case{}, false, err
		}
		defer unlock()
		if err := co.supersedeUnrecorded(ctx, a, ext); err != nil {
			return cases.Case{}, false, err
		}
		if co.external != nil {
			co.external(ctx, cases.Case{GuildID: ext.GuildID, UserID: ext.UserID, ModeratorID: ext.ModeratorID, Type: ext.Type})
		}
		return cases.Case{}, false, nil
	}
	if strings.TrimSpace(ext.Reason) == "" {
		ext.Reason = defaultReason
	}
	if r := []rune(ext.Reason); len(r) > cases.MaxReasonLength {
		ext.Reason = string(r[:cases.MaxReasonLength-1]) + "…"
	}
	unlock, err := co.locks.Lock(ctx, ext.GuildID, ext.UserID)
	if err != nil {
		return cases.Case{}, false, err
	}
	defer unlock()
	if c, err := co.cases.ByAuditLogEntry(ctx, ext.GuildID, ext.EntryID); err == nil {
		return c, false, nil
	} else if !errors.Is(err, cases.ErrNotFound) {
		return cases.Case{}, false, err
	}
	c, err := co.recordDone(ctx, a, Done{Path: PathAuditLog, GuildID: ext.GuildID, UserID: ext.UserID, TargetName: co.nameOf(ctx, ext.GuildID, ext.UserID), Moderator: moderator, Type: ext.Type,
		Reason: ext.Reason, ExpiresAt: ext.ExpiresAt,
		Metadata: map[string]string{cases.MetaAuditLogEntry: strconv.FormatInt(ext.EntryID, 10), "source": SourceAuditLog},
		Note:     "done outside gavel (audit-log entry " + strconv.FormatInt(ext.EntryID, 10) + ")",
		Why:      fmt.Sprintf("%s done outside gavel", ext.Type)})
	if err != nil {
		// Another process may have recorded the same entry a moment ago: the unique index
		// refused this one.
		if c.ID == 0 {
			if dup, dupErr := co.cases.ByAuditLogEntry(ctx, ext.GuildID, ext.EntryID); dupErr == nil {
				return dup, false, nil
			}
		}
		return cases.Case{}, false, fmt.Errorf("recording the %s of user %d (audit-log entry %d): %w", strings.ToLower(string(ext.Type)), ext.UserID, ext.EntryID, err)
	}
	if co.external != nil {
		co.external(ctx, c)
	}
	// Finalized, the case is queued for the mod log in the same transaction.
	return c, true, nil
}

// Done is an action that already happened on Discord, to record through the pipeline: seen
// in the audit log, or applied by Discord's AutoMod.
type Done struct {
	// Path names the way in for the case metrics (PathAuditLog, PathAutoMod).
	Path    string
	GuildID discord.GuildID
	UserID  discord.UserID
	// TargetName is the target's username when known, kept on the case so the mod log
	// names them after they left or were unbanned; "" when unknown.
	TargetName string
	Moderator  discord.User
	Type       cases.Type
	Reason     string
	ExpiresAt  time.Time
	Metadata   map[string]string
	// Note is the history note of the case's activation ("the action succeeded" when empty).
	Note string
	// Why says, in the history of the cases whose expiries it cancels, what superseded
	// them; "a later <type> by <moderator>" when empty.
	Why string
}

// RecordDone records an action that already happened through the pipeline's steps, under
// the target's lock: a pending case, then finalized (active; the expiries it makes stale
// cancelled and its own scheduled, in one transaction). There is no Discord call to make.
func (co *Coordinator) RecordDone(ctx context.Context, d Done) (cases.Case, error) {
	a, ok := co.cat.ByCase(d.Type)
	if !ok {
		return cases.Case{}, fmt.Errorf("recording: no action for case type %q", d.Type)
	}
	unlock, err := co.locks.Lock(ctx, d.GuildID, d.UserID)
	if err != nil {
		return cases.Case{}, err
	}
	defer unlock()
	return co.recordDone(ctx, a, d)
}

func (co *Coordinator) recordDone(ctx context.Context, a *Action, d Done) (cases.Case, error) {
	if strings.TrimSpace(d.Reason) == "" {
		d.Reason = defaultReason
	}
	if d.Note == "" {
		d.Note = "the action succeeded"
	}
	if d.Path == "" {
		d.Path = "recorded"
	}
	sc := co.step(d.Path, Request{GuildID: d.GuildID, Moderator: d.Moderator, Reason: d.Reason, Action: a, Metadata: d.Metadata}, a)
	sc.Type, sc.Target, sc.supersedeWhy = d.Type, discord.User{ID: d.UserID, Username: d.TargetName}, d.Why
	c, err := co.cases.Create(ctx, cases.New{
		GuildID: d.GuildID, UserID: d.UserID, ModeratorID: d.Moderator.ID, Type: d.Type, Status: cases.Pending,
		Reason: d.Reason, ExpiresAt: d.ExpiresAt, Metadata: withNames(d.Metadata, sc.Target, d.Moderator),
	})
	if err != nil {
		return cases.Case{}, err
	}
	if sc.supersedeWhy != "" {
		sc.supersedeWhy += fmt.Sprintf(" (case #%d)", c.Number)
	}
	active, err := co.finalize(ctx, sc, c, d.Note, nil)
	if err != nil {
		return c, fmt.Errorf("case #%d stays pending: %w", c.Number, err)
	}
	return active, nil
}

// nameOf is the username of a user an action outside gavel was aimed at, as Discord knows
// them now: the member (a timeout), else the ban (a ban); "" when neither answers (a kick, an
// unban), and the mod log then names them by id.
func (co *Coordinator) nameOf(ctx context.Context, guildID discord.GuildID, userID discord.UserID) string {
	if m, ok, err := co.member(ctx, guildID, userID); err == nil && ok {
		return m.User.Username
	}
	var ban discord.Ban
	var banned bool
	if err := co.read(ctx, func(ctx context.Context) (err error) {
		ban, banned, err = co.port.GetBan(ctx, guildID, userID)
		return err
	}); err == nil && banned {
		return ban.User.Username
	}
	return ""
}

// supersedeUnrecorded cancels the open expiries an external action the guild does not
// mirror makes stale.
func (co *Coordinator) supersedeUnrecorded(ctx context.Context, a *Action, ext External) error {
	if co.expiry == nil || len(a.Supersedes) == 0 {
		return nil
	}
	why := fmt.Sprintf("%s done outside gavel (not recorded as a case: mirroring is off)", ext.Type)
	err := co.cases.InTx(ctx, ext.ModeratorID, func(tx *cases.Tx) error {
		_, err := co.expiry.SupersedeTx(tx, ext.GuildID, ext.UserID, a.Supersedes, cases.Case{GuildID: ext.GuildID, UserID: ext.UserID, Type: ext.Type}, why)
		return err
	})
	if err != nil {
		return fmt.Errorf("superseding the expiries of user %d: %w", ext.UserID, err)
	}
	return nil
}

// postAuditLog posts an embed in the guild's audit-log channel, when one is set: what gavel
// did on its own (re-jails, channel overwrites). Failures are logged; nothing waits on them.
func (co *Coordinator) postAuditLog(ctx context.Context, guildID discord.GuildID, e discord.Embed) {
	g, err := co.settings.Get(ctx, guildID)
	if err != nil {
		co.log.Error("audit log: reading settings", "guild", guildID, "err", err)
		return
	}
	if g.AuditlogChannelID == 0 {
		return
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = co.now()
	}
	msg := discord.Message{Embeds: []discord.Embed{e}, AllowedMentions: &discord.AllowedMentions{}}
	err = co.exec.Do(ctx, executor.OpMessages, func(ctx context.Context) error {
		_, err := co.port.SendMessage(ctx, g.AuditlogChannelID, msg)
		return err
	})
	if err != nil {
		co.log.Warn("audit log: posting", "guild", guildID, "err", err)
	}
}
