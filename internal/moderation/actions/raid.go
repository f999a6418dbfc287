package actions

import (
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/modlog"
)

// Raid records a raid (package raid): the parent case of what raid mode does. No command
// makes it (raid start does, through package raid); it makes no Discord call of its own.
func Raid() *moderation.Action {
	return &moderation.Action{
		Case: cases.Raid, Tone: modlog.Restriction,
		Check: moderation.NoCheck, Observe: moderation.NoObserve, Act: moderation.RecordOnly, Reconcile: moderation.RecordedIsDone,
	}
}
