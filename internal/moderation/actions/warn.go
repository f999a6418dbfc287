package actions

import (
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Warn records a warning and tells the member; it makes no Discord call.
func Warn() *moderation.Action {
	return &moderation.Action{
		Name: "warn", Aliases: []string{"w"}, Description: "Warn a member; the warning is recorded as a case.",
		Case: cases.Warn, Tone: modlog.Record, Rank: 2, Target: moderation.TargetMember, Flags: []moderation.FlagUse{silent}, DM: moderation.DMAfter, DMVerb: "warned",
		Native: permissions.ModerateMembers,
		Check:  moderation.NoCheck, Observe: moderation.NoObserve, Act: moderation.RecordOnly, Reconcile: moderation.RecordedIsDone,
	}
}
