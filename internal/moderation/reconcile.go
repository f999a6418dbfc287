package moderation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
)

// Reconciled is what Reconcile did in one guild.
type Reconciled struct {
	// Activated and Voided count the pending cases settled.
	Activated, Voided int
	// RecheckAt is when Reconcile should run again: pending cases too young to touch, or
	// ones Discord could not be asked about, remain. Zero when none remain.
	RecheckAt time.Time
}

// reconcileNote starts every history row reconciliation writes.
const reconcileNote = "reconciled at start-up: "

// reconcileBatch is how many pending cases one pass reads.
const reconcileBatch = 1000

// Reconcile settles the guild's pending cases left by a crash between recording a case and
// finishing its action: each is compared with Discord's state (is the ban there, is the
// member still in the guild, timed out, jailed) and becomes active when the action shows,
// voided when it does not, with a history row that says why. Only cases older than minAge
// are touched: a younger one may belong to an action still running in another process on
// the same database. Each case is settled under its target's lock, after reading it again.
func (co *Coordinator) Reconcile(ctx context.Context, guildID discord.GuildID, minAge time.Duration) (Reconciled, error) {
	var out Reconciled
	now := co.now()
	all, err := co.cases.PendingInGuild(ctx, guildID, now.Add(time.Millisecond), reconcileBatch)
	if err != nil {
		return out, err
	}
	later := func(t time.Time) {
		if out.RecheckAt.IsZero() || t.Before(out.RecheckAt) {
			out.RecheckAt = t
		}
	}
	if len(all) == reconcileBatch {
		later(now.Add(time.Second))
	}
	jailRole := int64(-1)
	for _, c := range all {
		if ready := c.CreatedAt.Add(minAge); ready.After(now) {
			later(ready)
			continue
		}
		a, ok := co.cat.ByCase(c.Type)
		if !ok {
			co.log.Error("pending case of a type without an action", "guild", guildID, "case", c.Number, "type", c.Type)
			continue
		}
		if jailRole < 0 && a.JailRole {
			g, err := co.settings.Get(ctx, guildID)
			if err != nil {
				return out, fmt.Errorf("reading the settings of guild %d: %w", guildID, err)
			}
			jailRole = int64(g.JailRoleID)
		}
		settled, err := co.reconcileCase(ctx, a, c, discord.RoleID(jailRole))
		if err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			co.log.Warn("pending case not reconciled; trying again later", "guild", guildID, "case", c.Number, "err", err)
			later(co.now().Add(max(minAge, 30*time.Second)))
			continue
		}
		switch settled {
		case cases.Active:
			out.Activated++
		case cases.Voided:
			out.Voided++
		}
	}
	return out, nil
}

// reconcileCase settles one pending case, and returns its new status ("" when another
// action settled it first). A case found to have happened is finalized as a command's is:
// active, its expiry scheduled and the expiries it makes stale cancelled, in one
// transaction — unless a later case already decides the same state.
func (co *Coordinator) reconcileCase(ctx context.Context, a *Action, c cases.Case, jailRole discord.RoleID) (cases.Status, error) {
	unlock, err := co.locks.Lock(ctx, c.GuildID, c.UserID)
	if err != nil {
		return "", err
	}
	defer unlock()
	c, err = co.cases.GetByNumber(ctx, c.GuildID, c.Number)
	if err != nil {
		return "", err
	}
	if c.Status != cases.Pending {
		return "", nil
	}
	bot := discord.User{ID: co.botID, Username: "gavel"}
	sc := co.step(PathReconcile, Request{GuildID: c.GuildID, Moderator: bot, Reason: c.Reason, Action: a}, a)
	sc.Case, sc.Type, sc.JailRole = c, c.Type, jailRole
	sc.Target = discord.User{ID: c.UserID, Username: strconv.FormatInt(int64(c.UserID), 10)}
	happened, why, err := a.Reconcile(ctx, sc)
	if err != nil {
		return "", fmt.Errorf("case #%d: asking Discord: %w", c.Number, err)
	}
	if !happened {
		if _, err := co.cases.Void(ctx, c.GuildID, c.Number, co.botID, reconcileNote+why); err != nil {
			return "", fmt.Errorf("voiding case #%d: %w", c.Number, err)
		}
		co.settled(sc, c.Type, cases.Voided)
		co.correctIfTold(ctx, sc, c)
		return cases.Voided, nil
	}
	if later, err := co.cases.LatestActiveOfUser(ctx, c.GuildID, c.UserID, co.cat.deciding(c.Type)...); err == nil && later.ID > c.ID {
		// A later case decides the state now: this one's expiry must not undo it, nor may
		// it cancel the later case's.
		sc.decidedLater = true
	} else if err != nil && !errors.Is(err, cases.ErrNotFound) {
		return "", fmt.Errorf("case #%d: reading the later cases of user %d: %w", c.Number, c.UserID, err)
	}
	// Finalizing queues the case for the mod log, which the crash kept it from.
	if _, err := co.finalize(ctx, sc, c, reconcileNote+why, nil); err != nil {
		return "", fmt.Errorf("activating case #%d: %w", c.Number, err)
	}
	return cases.Active, nil
}

// SoftbanHappened is the reconciliation of a softban: it looks for gavel's ban of the user
// in the audit log since the case was recorded, since a softban leaves no ban behind when it
// completes.
func SoftbanHappened(ctx context.Context, s *Step) (bool, string, error) {
	co, c := s.co, s.Case
	banned, err := co.banned(ctx, c.GuildID, c.UserID)
	if err != nil {
		return false, "", err
	}
	if banned {
		return true, "the ban exists on Discord but was not lifted afterwards; unban the user to finish the softban", nil
	}
	var entries []discord.AuditLogEntry
	err = co.read(ctx, func(ctx context.Context) (err error) {
		entries, err = co.port.AuditLog(ctx, c.GuildID, discord.AuditLogFilter{UserID: co.botID, TargetID: int64(c.UserID),
			ActionType: discord.AuditMemberBanAdd, After: snowflakeAt(c.CreatedAt.Add(-time.Second)), Limit: 10})
		return err
	})
	if err != nil {
		return false, "", err
	}
	if len(entries) > 0 {
		return true, "the audit log shows gavel's ban, and no ban remains", nil
	}
	return false, "the audit log shows no ban by gavel, so the softban did not happen", nil
}

// member reads a guild member; false, with no error, when they are not one.
func (co *Coordinator) member(ctx context.Context, guildID discord.GuildID, userID discord.UserID) (discord.Member, bool, error) {
	var m discord.Member
	err := co.read(ctx, func(ctx context.Context) (err error) {
		m, err = co.port.Member(ctx, guildID, userID)
		return err
	})
	switch {
	case err == nil:
		return m, true, nil
	case discord.IsCode(err, discord.CodeUnknownMember):
		return discord.Member{}, false, nil
	}
	return discord.Member{}, false, err
}

// discordEpochMS is the first millisecond of 2015, where Discord's snowflakes count from.
const discordEpochMS = 1420070400000

// snowflakeAt is the smallest snowflake made at t: audit-log pages start after an id.
func snowflakeAt(t time.Time) int64 {
	ms := t.UnixMilli() - discordEpochMS
	if ms < 0 {
		return 0
	}
	return ms << 22
}

// noteToldBefore is the history note of a pending case whose target was told of the action
// (the DM before a ban or kick) before its outcome was known: if reconciliation finds the
// action did not happen, it sends them the correction a command sends at once.
const noteToldBefore = "the target was messaged about the action before its outcome was known"

// correctIfTold sends the correction DM for a case reconciliation voided whose target had
// been told of it. Best effort: the case is settled either way.
func (co *Coordinator) correctIfTold(ctx context.Context, sc *Step, c cases.Case) {
	evs, err := co.cases.Events(ctx, c.ID)
	if err != nil {
		co.log.Warn("reading a voided case's history for its correction", "guild", c.GuildID, "case", c.Number, "err", err)
		return
	}
	told := false
	for _, e := range evs {
		told = told || e.Kind == cases.EventNote && e.Note == noteToldBefore
	}
	if !told {
		return
	}
	if sc.Guild.Name == "" {
		if err := co.read(ctx, func(ctx context.Context) (err error) {
			sc.Guild, err = co.port.Guild(ctx, c.GuildID)
			return err
		}); err != nil {
			co.log.Warn("correction DM not sent: reading the server", "guild", c.GuildID, "case", c.Number, "err", err)
			return
		}
	}
	co.correct(ctx, sc, c)
}
