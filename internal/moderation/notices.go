package moderation

import (
	"fmt"
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

// DMOutcome says whether the target was told, for the moderator's reply.
type DMOutcome int

const (
	DMNotApplicable DMOutcome = iota // the action never messages
	DMSilent                         // -silent
	DMSent
	DMFailed // closed DMs, or no shared server
)

func (o DMOutcome) String() string {
	switch o {
	case DMSilent:
		return "not messaged (-silent)"
	case DMSent:
		return "messaged about it"
	case DMFailed:
		return "could not be messaged (their DMs are closed)"
	}
	return ""
}

// SuccessReply tells the moderator the action is done: the case number, the target, and
// whether the target was told. Ephemeral for slash commands.
func SuccessReply(a *Action, c cases.Case, target discord.User, dm DMOutcome, note string) discord.Message {
	var b strings.Builder
	fmt.Fprintf(&b, "**Case #%d** · %s <@%d> (%s)", c.Number, strings.ToLower(string(c.Type)), target.ID, target.Username)
	if !c.ExpiresAt.IsZero() {
		fmt.Fprintf(&b, " until %s", discordTime(c.ExpiresAt))
	}
	b.WriteString(".")
	if s := dm.String(); s != "" {
		fmt.Fprintf(&b, " They were %s.", s)
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
