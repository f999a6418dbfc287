package moderation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/modlog"
)

// Notices that are not a case's own embed take the colour of the tone they warn with.
var (
	// colorRemoval marks a notice that needs a human (an expiry that gave up).
	colorRemoval = modlog.Color(cases.Case{}, modlog.Removal)
	// colorRestriction marks a restriction kept (re-jail).
	colorRestriction = modlog.Color(cases.Case{}, modlog.Restriction)
)

// AuditReason is the X-Audit-Log-Reason gavel sends: who asked for the action, then why, cut
// to the 512 characters Discord keeps so that Discord's own log still says who did it.
func AuditReason(moderator discord.User, reason string) string {
	s := fmt.Sprintf("%s (%d): %s", moderator.Username, moderator.ID, strings.Join(strings.Fields(reason), " "))
	if r := []rune(s); len(r) > MaxAuditReason {
		s = string(r[:MaxAuditReason-1]) + "…"
	}
	return s
}

// DM is the message that tells the target what happened: the server, the action, the reason
// and, for a temporary action, how long and until when. It pings no one.
func DM(guildName string, a *Action, c cases.Case, d time.Duration) discord.Message {
	e := discord.Embed{
		Title:       fmt.Sprintf("You have been %s in %s", a.DMVerb, guildName),
		Description: c.Reason,
		Color:       modlog.Color(c, a.Tone),
		Footer:      &discord.EmbedFooter{Text: fmt.Sprintf("Case #%d", c.Number)},
		Timestamp:   c.CreatedAt,
	}
	e.Fields = append(e.Fields, discord.EmbedField{Name: "Server", Value: guildName, Inline: true})
	if d > 0 {
		e.Fields = append(e.Fields, discord.EmbedField{Name: "Duration", Value: duration.Format(d), Inline: true})
	}
	if !c.ExpiresAt.IsZero() {
		e.Fields = append(e.Fields, discord.EmbedField{Name: "Ends", Value: discordTime(c.ExpiresAt), Inline: true})
	}
	return discord.Message{Embeds: []discord.Embed{e}, AllowedMentions: &discord.AllowedMentions{}}
}

// Correction is the short DM sent after an announced action failed: the DM before it said
// it happened, and it did not.
func Correction(guildName string, a *Action, c cases.Case) discord.Message {
	return discord.Message{
		Content:         fmt.Sprintf("Correction from %s: the %s announced above did not take effect (case #%d is void). Nothing happened to your membership.", guildName, a.Name, c.Number),
		AllowedMentions: &discord.AllowedMentions{},
	}
}

// DMOutcome says whether the target was told, for the moderator's reply.
type DMOutcome int

const (
	DMNotApplicable DMOutcome = iota // the action never messages
	DMSilent                         // -silent
	DMSent
	// DMClosed: Discord refused the DM because the user does not accept DMs from gavel
	// (error 50007: their DMs are closed, or they blocked gavel).
	DMClosed
	// DMFailed: Discord failed to deliver it (a 5xx, a refusal other than 50007, no answer).
	DMFailed
	// DMTimedOut: Discord did not answer within the DM timeout; it may still arrive.
	DMTimedOut
	// DMNotMember: not messaged, because they are not in the server (a ban by id): gavel
	// shares no server with them, and Discord refuses such DMs.
	DMNotMember
	// DMUnchanged: not messaged, because the action changed only gavel's record of a state
	// that already held (a tempban made permanent): they are out of reach.
	DMUnchanged
)

// Sentence is what the reply says about the DM: "They were messaged about it.", "They were
// not messaged: their DMs are closed.", "" when the action never messages.
func (o DMOutcome) Sentence() string {
	switch o {
	case DMSilent:
		return "They were not messaged (-silent)."
	case DMSent:
		return "They were messaged about it."
	case DMClosed:
		return "They could not be messaged: their DMs are closed."
	case DMFailed:
		return "They could not be messaged: Discord failed to deliver the DM."
	case DMTimedOut:
		return "They may not have been messaged: Discord did not confirm the DM in time."
	case DMNotMember:
		return "They were not messaged: they are not in the server, and Discord delivers no DM from a bot that shares no server with them."
	}
	return ""
}

// DMOutcomeOf classifies a DM's result (nil: sent) for the DMs gavel sends outside the
// pipeline (a locked snippet's author), so that they are worded by the same causes.
func DMOutcomeOf(err error) DMOutcome { return dmOutcome(err) }

// dmOutcome classifies a failed DM.
func dmOutcome(err error) DMOutcome {
	switch {
	case err == nil:
		return DMSent
	case discord.IsCode(err, discord.CodeCannotDMUser):
		return DMClosed
	case errors.Is(err, context.DeadlineExceeded):
		return DMTimedOut
	}
	if de := discord.AsError(err); de != nil && de.Status == 0 && errors.Is(de.Err, context.DeadlineExceeded) {
		return DMTimedOut
	}
	return DMFailed
}

// userRef names a user in a reply: the mention, then the escaped username when gavel knows
// one (a user known only by id is named once, by the mention).
func userRef(u discord.User) string {
	if u.Username == "" || u.Username == strconv.FormatInt(int64(u.ID), 10) {
		return fmt.Sprintf("<@%d>", u.ID)
	}
	return fmt.Sprintf("<@%d> (%s)", u.ID, discord.EscapeMarkdown(u.Username))
}

// SuccessReply tells the moderator the action is done: the case number, the target, and
// whether the target was told. Ephemeral for slash commands.
func SuccessReply(a *Action, c cases.Case, target discord.User, dm DMOutcome, note string) discord.Message {
	var b strings.Builder
	fmt.Fprintf(&b, "**Case #%d** · %s %s", c.Number, strings.ToLower(string(c.Type)), userRef(target))
	if !c.ExpiresAt.IsZero() {
		fmt.Fprintf(&b, " until %s", discordTime(c.ExpiresAt))
	}
	b.WriteString(".")
	if s := dm.Sentence(); s != "" {
		b.WriteString(" " + s)
	}
	if note != "" {
		b.WriteString(" " + note)
	}
	return discord.Message{Content: b.String(), AllowedMentions: &discord.AllowedMentions{}}
}

// RefusalReply tells the moderator why nothing happened and, where there is one, what to do.
func RefusalReply(problem string) discord.Message {
	return discord.Message{Content: "❌ " + problem, AllowedMentions: &discord.AllowedMentions{}}
}

func discordTime(t time.Time) string { return DiscordTime(t) }

// DiscordTime renders t as a Discord timestamp, which every reader sees in their own time zone,
// with the relative form beside it.
func DiscordTime(t time.Time) string {
	return fmt.Sprintf("<t:%d:f> (<t:%d:R>)", t.Unix(), t.Unix())
}
