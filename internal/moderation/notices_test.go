package moderation_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/moderation/actions"
)

// checkEmbed enforces Discord's embed limits, which a rejected message would otherwise only
// reveal in production.
func checkEmbed(t *testing.T, what string, e discord.Embed) {
	t.Helper()
	total := utf8.RuneCountInString(e.Title) + utf8.RuneCountInString(e.Description)
	if n := utf8.RuneCountInString(e.Title); n > 256 {
		t.Errorf("%s: title of %d characters (max 256)", what, n)
	}
	if n := utf8.RuneCountInString(e.Description); n > 4096 {
		t.Errorf("%s: description of %d characters (max 4096)", what, n)
	}
	if len(e.Fields) > 25 {
		t.Errorf("%s: %d fields (max 25)", what, len(e.Fields))
	}
	for _, f := range e.Fields {
		if n := utf8.RuneCountInString(f.Name); n == 0 || n > 256 {
			t.Errorf("%s: field name of %d characters", what, n)
		}
		if n := utf8.RuneCountInString(f.Value); n == 0 || n > 1024 {
			t.Errorf("%s: field %q value of %d characters (1 to 1024)", what, f.Name, n)
		}
		total += utf8.RuneCountInString(f.Name) + utf8.RuneCountInString(f.Value)
	}
	if e.Footer != nil {
		total += utf8.RuneCountInString(e.Footer.Text)
	}
	if total > 6000 {
		t.Errorf("%s: %d characters in all (max 6000)", what, total)
	}
}

func TestNotices(t *testing.T) {
	t.Parallel()
	cat := actions.Catalogue()
	tempban, _ := cat.Lookup("tempban")
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	longReason := "@everyone <@1> <@&2> " + strings.Repeat("spam ", 400) // 2000 characters of it
	c := cases.Case{ID: 77, GuildID: 1, Number: 12, Type: cases.Tempban, Status: cases.Active, Reason: longReason[:2000],
		ModeratorID: 5, UserID: 6, CreatedAt: now, ExpiresAt: now.Add(7 * duration.Day)}
	guild := strings.Repeat("G", 100)
	target := discord.User{ID: 6, Username: strings.Repeat("u", 32)}

	dm := moderation.DM(guild, tempban, c, 7*duration.Day)
	if dm.AllowedMentions == nil || len(dm.AllowedMentions.Users)+len(dm.AllowedMentions.Roles) != 0 {
		t.Errorf("the DM may ping: %+v", dm.AllowedMentions)
	}
	e := dm.Embeds[0]
	checkEmbed(t, "DM", e)
	if !strings.Contains(e.Title, "temporarily banned in "+guild) || e.Description != c.Reason {
		t.Errorf("DM does not name the action, the server and the reason: %q", e.Title)
	}
	var fields []string
	for _, f := range e.Fields {
		fields = append(fields, f.Name+"="+f.Value)
	}
	if !strings.Contains(strings.Join(fields, ";"), "Duration=1 week") || !strings.Contains(strings.Join(fields, ";"), "Ends=<t:") {
		t.Errorf("DM lacks the duration or the end: %v", fields)
	}

	r := moderation.SuccessReply(tempban, c, target, moderation.DMFailed, "")
	if !strings.HasPrefix(r.Content, "**Case #12** · tempban <@6>") || !strings.Contains(r.Content, "could not be messaged") || r.AllowedMentions == nil {
		t.Errorf("reply: %q", r.Content)
	}
	if got := moderation.RefusalReply("x"); got.AllowedMentions == nil {
		t.Error("a refusal may ping")
	}
}

// The reply says what became of the DM in words that fit each outcome, names a user known
// only by id once, and escapes a username's markdown.
func TestSuccessReplyWording(t *testing.T) {
	t.Parallel()
	ban := actions.Ban()
	c := cases.Case{Number: 3, Type: cases.Ban, Status: cases.Active}
	named := discord.User{ID: 6, Username: "__init__"}
	for dm, want := range map[moderation.DMOutcome]string{
		moderation.DMSent:      "They were messaged about it.",
		moderation.DMSilent:    "They were not messaged (-silent).",
		moderation.DMClosed:    "They could not be messaged: their DMs are closed.",
		moderation.DMFailed:    "They could not be messaged: Discord failed to deliver the DM.",
		moderation.DMTimedOut:  "They may not have been messaged: Discord did not confirm the DM in time.",
		moderation.DMNotMember: "They were not messaged: they are not in the server",
	} {
		r := moderation.SuccessReply(ban, c, named, dm, "")
		if !strings.Contains(r.Content, want) || strings.Contains(r.Content, "were could") {
			t.Errorf("DM outcome %d: reply %q; want %q", dm, r.Content, want)
		}
	}
	if r := moderation.SuccessReply(ban, c, named, moderation.DMSent, ""); !strings.Contains(r.Content, `<@6> (\_\_init\_\_)`) {
		t.Errorf("the username is not escaped: %q", r.Content)
	}
	byID := discord.User{ID: 700000000000000001, Username: "700000000000000001"}
	if r := moderation.SuccessReply(ban, c, byID, moderation.DMNotMember, ""); strings.Count(r.Content, "700000000000000001") != 1 {
		t.Errorf("a user known by id is named %d times: %q", strings.Count(r.Content, "700000000000000001"), r.Content)
	}
}

func TestAuditReason(t *testing.T) {
	t.Parallel()
	mod := discord.User{ID: 42, Username: "alice"}
	if got := moderation.AuditReason(mod, "spam\n  links"); got != "alice (42): spam links" {
		t.Errorf("AuditReason = %q", got)
	}
	long := moderation.AuditReason(mod, strings.Repeat("é", 2000))
	if n := utf8.RuneCountInString(long); n != 512 || !strings.HasPrefix(long, "alice (42): ") || !utf8.ValidString(long) {
		t.Errorf("long reason: %d characters, valid %v", n, utf8.ValidString(long))
	}
}
