package actions

import (
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/modlog"
)

// AutoMod is the case of an AutoMod rule that fired without a punishment of gavel's (Discord
// blocked or alerted, or gavel deleted the message): a record, made by the AutoMod runtime
// through the pipeline; no command makes it.
func AutoMod() *moderation.Action {
	return &moderation.Action{
		Case: cases.Automod, Tone: modlog.Restriction,
		Check: moderation.NoCheck, Observe: moderation.NoObserve, Act: moderation.RecordOnly, Reconcile: moderation.RecordedIsDone,
	}
}
