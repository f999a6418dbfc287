package actions

import (
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Tempban bans for a while; the expiry poller unbans when it ends (the unban action, with a
// case of its own).
func Tempban() *moderation.Action {
	return &moderation.Action{
		Name: "tempban", Aliases: []string{"tb"}, Description: "Ban a member or user for a while; gavel unbans them when it ends.",
		Case: cases.Tempban, Tone: modlog.Removal, Rank: 3, Target: moderation.TargetUser,
		Flags: []moderation.FlagUse{required(time.Minute, tenYears), purge, silent}, DM: moderation.DMBefore,
		DMVerb: "temporarily banned", Native: permissions.BanMembers, BotNeeds: permissions.BanMembers, Inverse: "unban", Removes: true,
		Expiry: expiry.Unban, LiftReason: "Temporary ban expired", ByHand: liftByHand("unban them", "unban"), Supersedes: []expiry.Kind{expiry.Unban},
		Check: notBanned, Observe: moderation.NoObserve, Act: ban, Reconcile: banExists,
	}
}
