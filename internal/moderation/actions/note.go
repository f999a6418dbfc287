package actions

import (
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Note records a note about any user; they are not told and nothing happens on Discord.
func Note() *moderation.Action {
	return &moderation.Action{
		Name: "note", Aliases: []string{"n"}, Description: "Record a note about a user; they are not told.",
		Case: cases.Note, Tone: modlog.Record, Rank: 2, Target: moderation.TargetUser, DM: moderation.DMNone,
		Native: permissions.ModerateMembers,
		Check:  moderation.NoCheck, Observe: moderation.NoObserve, Act: moderation.RecordOnly, Reconcile: moderation.RecordedIsDone,
	}
}
