package moderation

import (
	"context"
	"fmt"
	"slices"
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
func (co *Coordinator) Reconcile(ctx context.Context, guildID int64, minAge time.Duration) (Reconciled, error) {
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
		if jailRole < 0 && (c.Type == cases.Jail || c.Type == cases.Unjail) {
			g, err := co.settings.Get(ctx, guildID)
			if err != nil {
				return out, fmt.Errorf("reading the settings of guild %d: %w", guildID, err)
			}
			jailRole = g.JailRoleID
		}
		settled, err := co.reconcileCase(ctx, c, jailRole)
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
// action settled it first).
func (co *Coordinator) reconcileCase(ctx context.Context, c cases.Case, jailRole int64) (cases.Status, error) {
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
	happened, why, err := co.happened(ctx, c, jailRole)
	if err != nil {
		return "", fmt.Errorf("case #%d: asking Discord: %w", c.Number, err)
	}
	if !happened {
		if _, err := co.cases.Void(ctx, c.GuildID, c.Number, co.botID, reconcileNote+why); err != nil {
			return "", fmt.Errorf("voiding case #%d: %w", c.Number, err)
		}
		return cases.Voided, nil
	}
	active, err := co.cases.SetStatus(ctx, c.GuildID, c.Number, co.botID, cases.Active, reconcileNote+why)
	if err != nil {
		return "", fmt.Errorf("activating case #%d: %w", c.Number, err)
	}
	// The crash came before the mod log: the case goes there now.
	if active.ModlogMessageID == 0 {
		target := co.user(ctx, c.GuildID, c.UserID, c.Type == cases.Ban || c.Type == cases.Tempban || c.Type == cases.Hackban)
		moderator := co.user(ctx, c.GuildID, c.ModeratorID, false)
		if note := co.postCase(ctx, c.GuildID, &active, target, moderator, co.botID); note != "" {
			co.log.Warn("reconciled case not in the mod log", "guild", c.GuildID, "case", c.Number, "problem", note)
		}
	}
	return cases.Active, nil
}

// happened tells from Discord's state whether a pending case's action took place, and says
// how it knows.
func (co *Coordinator) happened(ctx context.Context, c cases.Case, jailRole int64) (bool, string, error) {
	switch c.Type {
	case cases.Ban, cases.Tempban, cases.Hackban:
		banned, err := co.banned(ctx, c.GuildID, c.UserID)
		if err != nil {
			return false, "", err
		}
		if banned {
			return true, "the ban exists on Discord", nil
		}
		return false, "no ban exists on Discord, so the ban did not happen", nil
	case cases.Unban:
		banned, err := co.banned(ctx, c.GuildID, c.UserID)
		if err != nil {
			return false, "", err
		}
		if banned {
			return false, "the user is still banned, so the unban did not happen", nil
		}
		return true, "no ban exists on Discord", nil
	case cases.Softban:
		return co.softbanHappened(ctx, c)
	case cases.Kick, cases.Timeout, cases.Untimeout, cases.Jail, cases.Unjail:
	default:
		// Warnings, notes, poll and snippet bans make no Discord call: recorded is done.
		return true, "this action makes no Discord call", nil
	}

	m, member, err := co.member(ctx, c.GuildID, c.UserID)
	if err != nil {
		return false, "", err
	}
	if c.Type == cases.Kick {
		if member {
			return false, "the user is still a member, so the kick did not happen", nil
		}
		return true, "the user is no longer a member", nil
	}
	if !member {
		return false, "the user is no longer a member, so whether it happened cannot be told", nil
	}
	now := co.now()
	switch c.Type {
	case cases.Timeout:
		if m.TimedOut(now) {
			return true, "the member is timed out", nil
		}
		return false, "the member is not timed out, so the timeout did not happen", nil
	case cases.Untimeout:
		if m.TimedOut(now) {
			return false, "the member is still timed out, so the untimeout did not happen", nil
		}
		return true, "the member is not timed out", nil
	}
	if jailRole <= 0 {
		return false, "no jail role is configured, so the jail cannot be checked", nil
	}
	has := slices.Contains(m.Roles, jailRole)
	switch {
	case c.Type == cases.Jail && has:
		return true, "the member has the jail role", nil
	case c.Type == cases.Jail:
		return false, "the member does not have the jail role, so the jail did not happen", nil
	case has:
		return false, "the member still has the jail role, so the unjail did not happen", nil
	default:
		return true, "the member no longer has the jail role", nil
	}
}

// softbanHappened looks for gavel's ban of the user in the audit log since the case was
// recorded: a softban leaves no ban behind when it completes.
func (co *Coordinator) softbanHappened(ctx context.Context, c cases.Case) (bool, string, error) {
	banned, err := co.banned(ctx, c.GuildID, c.UserID)
	if err != nil {
		return false, "", err
	}
	if banned {
		return true, "the ban exists on Discord but was not lifted afterwards; unban the user to finish the softban", nil
	}
	var entries []discord.AuditLogEntry
	err = co.read(ctx, func(ctx context.Context) (err error) {
		entries, err = co.port.AuditLog(ctx, c.GuildID, discord.AuditLogFilter{UserID: co.botID, TargetID: c.UserID,
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
func (co *Coordinator) member(ctx context.Context, guildID, userID int64) (discord.Member, bool, error) {
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
