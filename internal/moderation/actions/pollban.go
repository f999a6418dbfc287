package actions

import (
	"context"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Pollban stops a member from creating polls, optionally for a while. gavel enforces it
// itself (it removes their polls), so the case is the whole action on Discord's side.
func Pollban() *moderation.Action {
	return &moderation.Action{
		Name: "pollban", Aliases: []string{"pb"}, Description: "Stop a member from creating polls, optionally for a while.",
		Case: cases.Pollban, Tone: modlog.Restriction, Rank: 3, Target: moderation.TargetMember, Flags: []moderation.FlagUse{optionalFor(tenYears), silent},
		DM: moderation.DMAfter, DMVerb: "banned from creating polls", Native: permissions.ManageRoles, Inverse: "pollunban",
		Expiry: expiry.Pollunban, LiftReason: "Poll ban expired", ByHand: liftByHand("lift it", "pollunban"), Supersedes: []expiry.Kind{expiry.Pollunban},
		Check: notPollbanned, Observe: moderation.NoObserve, Act: moderation.RecordOnly, Reconcile: moderation.RecordedIsDone,
	}
}

func notPollbanned(ctx context.Context, s *moderation.Step) error {
	return moderation.CheckRestriction(ctx, s, cases.Pollban, false, pollbanned)
}

const pollbanned = "banned from creating polls"
