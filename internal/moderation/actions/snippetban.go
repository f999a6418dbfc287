package actions

import (
	"context"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Snippetban stops a member from creating snippets, optionally for a while; gavel enforces
// it itself.
func Snippetban() *moderation.Action {
	return &moderation.Action{
		Name: "snippetban", Aliases: []string{"sb"}, Description: "Stop a member from creating snippets, optionally for a while.",
		Case: cases.Snippetban, Tone: modlog.Restriction, Rank: 3, Target: moderation.TargetMember, Flags: []moderation.FlagUse{optionalFor(tenYears), silent},
		DM: moderation.DMAfter, DMVerb: "banned from creating snippets", Native: permissions.ManageRoles, Inverse: "snippetunban",
		Expiry: expiry.Snippetunban, LiftReason: "Snippet ban expired", ByHand: liftByHand("lift it", "snippetunban"), Supersedes: []expiry.Kind{expiry.Snippetunban},
		Check: notSnippetbanned, Observe: moderation.NoObserve, Act: moderation.RecordOnly, Reconcile: moderation.RecordedIsDone,
	}
}

func notSnippetbanned(ctx context.Context, s *moderation.Step) error {
	return moderation.CheckRestriction(ctx, s, cases.Snippetban, false, snippetbanned)
}

const snippetbanned = "banned from creating snippets"
