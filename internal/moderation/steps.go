package moderation

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/executor"
)

// plan is what an action will do on Discord, worked out before the case is recorded so that
// the case holds it (the expiry, the roles a jail takes).
type plan struct {
	expires time.Time
	// timeoutUntil is when Discord's timeout ends: the expiry, capped at Discord's 28 days.
	timeoutUntil time.Time
	capped       bool
	// savedRoles are the roles a jail takes, kept on the case for the unjail.
	savedRoles []int64
	// roles is the member's whole role list after a jail or unjail.
	roles []int64
	// restoreSkipped counts saved roles an unjail cannot give back.
	restoreSkipped int
}

func (co *Coordinator) plan(req Request, sc *scene) plan {
	var p plan
	now := co.now()
	if req.Duration > 0 {
		p.expires = now.Add(req.Duration)
	}
	botRank := rankOf(sc.guild, sc.bot.Roles)
	switch sc.caseType {
	case cases.Timeout:
		d := req.Duration
		if d > co.timeoutHorizon {
			d, p.capped = co.timeoutHorizon, true
		}
		p.timeoutUntil = now.Add(d)
	case cases.Jail:
		// gavel can take only roles below its own that no integration manages; the others
		// stay, and the jail role joins them.
		for _, id := range sc.member.Roles {
			r, ok := sc.guild.Role(id)
			switch {
			case id == sc.jailRole || id == sc.guild.ID:
			case !ok:
			case r.Managed || !botRank.roleBelow(r):
				p.roles = append(p.roles, id)
			default:
				p.savedRoles = append(p.savedRoles, id)
			}
		}
		p.roles = append(p.roles, sc.jailRole)
	case cases.Unjail:
		for _, id := range sc.member.Roles {
			if id != sc.jailRole {
				p.roles = append(p.roles, id)
			}
		}
		for _, id := range sc.jailCase.RoleIDs {
			r, ok := sc.guild.Role(id)
			if !ok || r.Managed || id == sc.jailRole || id == sc.guild.ID || !botRank.roleBelow(r) {
				p.restoreSkipped++
				continue
			}
			if !slices.Contains(p.roles, id) {
				p.roles = append(p.roles, id)
			}
		}
	}
	return p
}

// act makes the action's Discord calls through the executor. It returns a note for the
// moderator's reply about anything they should know beyond "done".
func (co *Coordinator) act(ctx context.Context, req Request, sc *scene, p plan) (string, error) {
	g, u := req.GuildID, sc.target.ID
	reason := AuditReason(req.Moderator, req.Reason)
	switch sc.caseType {
	case cases.Ban, cases.Tempban, cases.Hackban:
		return "", co.exec.Do(ctx, executor.OpBan, func(ctx context.Context) error {
			return co.port.Ban(ctx, g, u, req.PurgeDays*86400, reason)
		})
	case cases.Softban:
		// A softban exists to delete messages: with no -purge it deletes a day of them.
		days := max(req.PurgeDays, 1)
		if err := co.exec.Do(ctx, executor.OpBan, func(ctx context.Context) error {
			return co.port.Ban(ctx, g, u, days*86400, reason)
		}); err != nil {
			return "", err
		}
		if err := co.exec.Do(ctx, executor.OpUnban, func(ctx context.Context) error {
			return co.port.Unban(ctx, g, u, reason)
		}); err != nil {
			// The ban happened and its messages are gone; only the lifting failed.
			return fmt.Sprintf("⚠️ The ban was not lifted afterwards (%s): they are still banned; unban them with the unban command.", failureText(err)), nil
		}
		return "", nil
	case cases.Unban:
		return "", co.exec.Do(ctx, executor.OpUnban, func(ctx context.Context) error {
			return co.port.Unban(ctx, g, u, reason)
		})
	case cases.Kick:
		return "", co.exec.Do(ctx, executor.OpKick, func(ctx context.Context) error {
			return co.port.Kick(ctx, g, u, reason)
		})
	case cases.Timeout:
		err := co.exec.Do(ctx, executor.OpTimeout, func(ctx context.Context) error {
			return co.port.Timeout(ctx, g, u, p.timeoutUntil, reason)
		})
		if err != nil || !p.capped {
			return "", err
		}
		if co.expiry == nil {
			return fmt.Sprintf("Discord times out for at most %s, so the timeout ends %s; the case records the full %s, and gavel is not renewing it (no expiry schedule).",
				duration.Format(co.timeoutHorizon), discordTime(p.timeoutUntil), duration.Format(req.Duration)), nil
		}
		return fmt.Sprintf("Discord times out for at most %s, so it is applied until %s and gavel renews it until the full %s has passed (%s).",
			duration.Format(co.timeoutHorizon), discordTime(p.timeoutUntil), duration.Format(req.Duration), discordTime(p.expires)), nil
	case cases.Untimeout:
		return "", co.exec.Do(ctx, executor.OpTimeout, func(ctx context.Context) error {
			return co.port.Timeout(ctx, g, u, time.Time{}, reason)
		})
	case cases.Jail, cases.Unjail:
		if err := co.exec.Do(ctx, executor.OpRoles, func(ctx context.Context) error {
			return co.port.SetRoles(ctx, g, u, p.roles, reason)
		}); err != nil {
			return "", err
		}
		if p.restoreSkipped > 0 {
			return fmt.Sprintf("%d of their saved roles no longer exist or are not below gavel's role, and were not given back.", p.restoreSkipped), nil
		}
		return "", nil
	}
	// Warnings, notes and poll and snippet bans are records: gavel enforces the
	// restrictions itself.
	return "", nil
}
