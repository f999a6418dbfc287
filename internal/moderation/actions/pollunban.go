package actions

import (
	"context"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Pollunban lets a member create polls again; the expiry of a timed poll ban runs it too.
func Pollunban() *moderation.Action {
	return &moderation.Action{
		Name: "pollunban", Aliases: []string{"pub"}, Description: "Let a member create polls again.",
		Case: cases.Pollunban, Tone: modlog.Lift, Rank: 3, Target: moderation.TargetMember, Flags: []moderation.FlagUse{silent}, DM: moderation.DMAfter,
		DMVerb: "allowed to create polls again", Native: permissions.ManageRoles, Inverse: "pollban",
		Supersedes: []expiry.Kind{expiry.Pollunban},
		Check:      pollbannedNow, Observe: moderation.NoObserve, Act: moderation.RecordOnly, Reconcile: moderation.RecordedIsDone,
	}
}

func pollbannedNow(ctx context.Context, s *moderation.Step) error {
	return moderation.CheckRestriction(ctx, s, cases.Pollban, true, pollbanned)
}
