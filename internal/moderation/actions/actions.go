// Package actions declares gavel's moderation actions, one file each: the command (name,
// aliases, flags and bounds, rank), the permission a moderator needs and the one gavel needs,
// the state check, the Discord calls, the inverse and what lifts it when it expires, how
// reconciliation tells whether it happened, and the DM wording. The pipeline
// (package moderation) runs them; it has no switch on the case type.
package actions

import (
	"context"
	"fmt"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
)

// All returns every action, the commands in the order they are listed, then the case types
// no command makes. Each call builds them afresh.
func All() []*moderation.Action {
	return []*moderation.Action{
		Ban(), Tempban(), Softban(), Unban(), Kick(), Timeout(), Untimeout(), Warn(), Note(),
		Jail(), Unjail(), Pollban(), Pollunban(), Snippetban(), Snippetunban(),
		Hackban(), AutoMod(), Raid(), Lockdown(),
	}
}

// Catalogue returns the catalogue of every action, for the front-ends and the pipeline.
func Catalogue() *moderation.Catalogue { return moderation.NewCatalogue(All()...) }

// The flags as the actions take them.
var (
	silent = moderation.FlagUse{ID: moderation.FlagSilent}
	purge  = moderation.FlagUse{ID: moderation.FlagPurge}
)

// tenYears bounds the actions that may last "forever" in practice.
const tenYears = 10 * duration.Year

// required is a duration flag the action cannot go without.
func required(min, max time.Duration) moderation.FlagUse {
	return moderation.FlagUse{ID: moderation.FlagDuration, Required: true, Bounds: duration.Bounds{Min: min, Max: max}}
}

// optionalFor is a duration flag that makes the action temporary when given.
func optionalFor(max time.Duration) moderation.FlagUse {
	return moderation.FlagUse{ID: moderation.FlagDuration, Bounds: duration.Bounds{Min: time.Minute, Max: max}}
}

// liftByHand is the ByHand of an action its inverse command lifts: do it by hand, with the
// command that does.
func liftByHand(do, inverse string) func(expiry.Kind, discord.UserID) string {
	return func(_ expiry.Kind, userID discord.UserID) string {
		return fmt.Sprintf("%s by hand (`%s %d`)", do, inverse, userID)
	}
}

// onMember is the reconciliation of an action whose result shows on a member: whether it
// happened cannot be told once they left.
func onMember(decide func(s *moderation.Step, m discord.Member) (bool, string)) func(context.Context, *moderation.Step) (bool, string, error) {
	return func(ctx context.Context, s *moderation.Step) (bool, string, error) {
		m, member, err := s.ReadMember(ctx)
		if err != nil {
			return false, "", err
		}
		if !member {
			return false, "the user is no longer a member, so whether it happened cannot be told", nil
		}
		ok, why := decide(s, m)
		return ok, why, nil
	}
}
