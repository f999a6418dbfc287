package actions

import (
	"context"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Snippetunban lets a member create snippets again; the expiry of a timed snippet ban runs
// it too.
func Snippetunban() *moderation.Action {
	return &moderation.Action{
		Name: "snippetunban", Aliases: []string{"sub"}, Description: "Let a member create snippets again.",
		Case: cases.Snippetunban, Tone: modlog.Lift, Rank: 3, Target: moderation.TargetMember, Flags: []moderation.FlagUse{silent}, DM: moderation.DMAfter,
		DMVerb: "allowed to create snippets again", Native: permissions.ManageRoles, Inverse: "snippetban",
		Supersedes: []expiry.Kind{expiry.Snippetunban},
		Check:      snippetbannedNow, Observe: moderation.NoObserve, Act: moderation.RecordOnly, Reconcile: moderation.RecordedIsDone,
	}
}

func snippetbannedNow(ctx context.Context, s *moderation.Step) error {
	return moderation.CheckRestriction(ctx, s, cases.Snippetban, true, snippetbanned)
}
