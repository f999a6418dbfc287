package moderation

import (
	"context"
	"fmt"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
)

// GateAccountAge applies the guild's account-age gate (settings.AccountAgeGate, off by
// default) to a member who just joined: one whose account is younger than the set age is
// timed out until it is that old (at most Discord's 28 days), through the whole pipeline,
// gavel as moderator, so it is a TIMEOUT case and the DM says why. ok is false, and nothing
// is done, when the gate is off or the account is old enough.
func (co *Coordinator) GateAccountAge(ctx context.Context, guildID discord.GuildID, userID discord.UserID) (Result, bool, error) {
	age, err := co.settings.AccountAgeGate(ctx, guildID)
	if err != nil || age == 0 {
		return Result{}, false, err
	}
	created := userID.CreatedAt()
	until := created.Add(age)
	wait := until.Sub(co.now())
	if wait < time.Minute {
		// Old enough (or within the minute a timeout takes at least).
		return Result{}, false, nil
	}
	wait = min(wait.Round(time.Minute), MaxTimeout)
	a, _ := co.cat.ByCase(cases.Timeout)
	reason := fmt.Sprintf("Account-age gate: this server asks for accounts at least %s old; this account was made %s, so it can talk from %s.",
		duration.Format(age), DiscordTime(created), DiscordTime(until))
	res := co.Execute(ctx, Request{GuildID: guildID, Moderator: discord.User{ID: co.botID, Username: "gavel", Bot: true}, Action: a,
		Target: Target{ID: userID}, Reason: reason, Duration: wait, Metadata: map[string]string{"account_age_gate": age.String()}})
	return res, true, nil
}
