// Package commands turns what a moderator typed — a prefix command in a message or a slash
// command's options — into an Invocation of a catalogue action. Both front-ends apply every
// flag through the same function, so they accept and refuse exactly the same things.
package commands

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/moderation"
)

// DefaultReason is recorded when the moderator gives none.
const DefaultReason = "No reason provided"

// Target is who an invocation is aimed at: an id, or (for unban) a name to look up.
type Target struct {
	ID   int64
	Name string
}

// Invocation is one parsed moderation command, ready for the pipeline.
type Invocation struct {
	Action *moderation.Action
	Target Target
	Reason string
	Silent bool
	// PurgeDays is how many days of the target's messages to delete.
	PurgeDays int
	// Duration is zero when none was given.
	Duration time.Duration
}

// Request is the invocation as the moderation pipeline takes it, from a moderator (and their
// role ids; nil lets the pipeline fetch them) in a guild.
func (inv Invocation) Request(guildID int64, moderator discord.User, moderatorRoles []int64) moderation.Request {
	return moderation.Request{
		GuildID: guildID, Moderator: moderator, ModeratorRoles: moderatorRoles,
		Action: inv.Action, Target: moderation.Target{ID: inv.Target.ID, Name: inv.Target.Name},
		Reason: inv.Reason, Silent: inv.Silent, PurgeDays: inv.PurgeDays, Duration: inv.Duration,
	}
}

// ErrUsage is matched by every error a moderator's input causes.
var ErrUsage = errors.New("usage")

// UsageError says what was wrong with a command and how to write it.
type UsageError struct {
	Problem string
	// Usage is the command's synopsis, e.g. "$ban <user> [reason] [-purge 0-7] [-silent]".
	Usage string
}

func (e *UsageError) Error() string {
	if e.Usage == "" {
		return e.Problem
	}
	return e.Problem + "\nUsage: " + e.Usage
}

// Is makes errors.Is(err, ErrUsage) true.
func (e *UsageError) Is(target error) bool { return target == ErrUsage }

// applyDuration checks a duration flag's text against the action's bounds.
func applyDuration(inv *Invocation, use moderation.FlagUse, text string) error {
	d, err := duration.Parse(text)
	if err != nil {
		return err
	}
	if err := use.Bounds.Check(d); err != nil {
		return fmt.Errorf("duration %w", err)
	}
	inv.Duration = d
	return nil
}

// applyPurge checks -purge.
func applyPurge(inv *Invocation, n int64) error {
	if n < moderation.MinPurgeDays || n > moderation.MaxPurgeDays {
		return fmt.Errorf("purge %d is out of range: give a number of days from %d to %d", n, moderation.MinPurgeDays, moderation.MaxPurgeDays)
	}
	inv.PurgeDays = int(n)
	return nil
}

// finish checks what every invocation needs whatever its front-end: required flags, and the
// reason's length.
func finish(inv *Invocation) error {
	for _, f := range inv.Action.Flags {
		if f.Required && f.ID == moderation.FlagDuration && inv.Duration == 0 {
			return fmt.Errorf("a duration is required for %s: add -duration, like 7d or 2 weeks", inv.Action.Name)
		}
	}
	inv.Reason = cleanReason(inv.Reason)
	if inv.Reason == "" {
		inv.Reason = DefaultReason
	}
	if n := len([]rune(inv.Reason)); n > cases.MaxReasonLength {
		return fmt.Errorf("the reason is %d characters long; at most %d are accepted", n, cases.MaxReasonLength)
	}
	return nil
}

// cleanReason drops a leading "reason:" marker moderators carry over from other bots
// ("-r spam", "--reason spam", "?r spam").
func cleanReason(r string) string {
	r = strings.TrimSpace(r)
	low := strings.ToLower(r)
	for _, m := range []string{"--reason ", "-reason ", "?reason ", "!reason ", "--r ", "-r ", "?r ", "!r ", "reason: ", "reason:"} {
		if strings.HasPrefix(low, m) {
			return strings.TrimSpace(r[len(m):])
		}
	}
	return r
}

// ParseUserRef reads a user reference: a mention (<@123>, <@!123>) or a snowflake id.
func ParseUserRef(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "<@") && strings.HasSuffix(s, ">") {
		s = strings.TrimPrefix(s[2:len(s)-1], "!")
	}
	if len(s) < 15 || len(s) > 20 {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// Usage is an action's synopsis for prefix commands.
func Usage(prefix string, a *moderation.Action) string {
	var b strings.Builder
	b.WriteString(prefix + a.Name)
	switch a.Target {
	case moderation.TargetMember:
		b.WriteString(" <member>")
	case moderation.TargetUser:
		b.WriteString(" <user or id>")
	case moderation.TargetBanned:
		b.WriteString(" <user id, mention or name>")
	}
	b.WriteString(" [reason]")
	for _, f := range a.Flags {
		spec := f.ID.Spec()
		arg := "-" + spec.Name
		switch f.ID {
		case moderation.FlagDuration:
			arg += " <duration>"
		case moderation.FlagPurge:
			arg += " <0-7>"
		}
		if !f.Required {
			arg = "[" + arg + "]"
		}
		b.WriteString(" " + arg)
	}
	return b.String()
}
