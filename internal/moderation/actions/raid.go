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

// Lockdown records a lockdown (package lockdown): channels, or the whole server, closed to
// @everyone. No command of the catalogue makes it (lockdown does, through package
// lockdown, which changes the channels itself after the case is recorded).
func Lockdown() *moderation.Action {
	return &moderation.Action{
		Case: cases.Lockdown, Tone: modlog.Restriction,
		Check: moderation.NoCheck, Observe: moderation.NoObserve, Act: moderation.RecordOnly, Reconcile: moderation.RecordedIsDone,
	}
}
