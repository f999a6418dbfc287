package modlog_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/modlog"
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

func fields(e discord.Embed) map[string]string {
	out := map[string]string{}
	for _, f := range e.Fields {
		out[f.Name] = f.Value
	}
	return out
}

// The embed shows the case as it is: its reason, expiry, how it ended, why it was voided,
// within Discord's limits and pinging no one.
func TestEmbedFollowsTheCase(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	longReason := "@everyone <@1> <@&2> " + strings.Repeat("spam ", 400)
	c := cases.Case{ID: 77, GuildID: 1, Number: 12, Type: cases.Tempban, Status: cases.Active, Reason: longReason[:2000],
		ModeratorID: 5, UserID: 6, CreatedAt: now, ExpiresAt: now.Add(7 * 24 * time.Hour)}
	v := modlog.View{Case: c, Tone: modlog.Removal, Target: discord.User{ID: 6, Username: strings.Repeat("u", 32)}, Moderator: discord.User{ID: 5, Username: "mod"}}

	msg := modlog.Message(v)
	if msg.AllowedMentions == nil || len(msg.AllowedMentions.Users)+len(msg.AllowedMentions.Roles) != 0 || msg.AllowedMentions.RepliedUser {
		t.Errorf("the mod-log message may ping: %+v", msg.AllowedMentions)
	}
	e := msg.Embeds[0]
	checkEmbed(t, "active", e)
	if e.Title != "Case #12 · TEMPBAN" || e.Description != c.Reason || !strings.HasPrefix(fields(e)["Ends"], "<t:") {
		t.Errorf("active tempban: %q, fields %v", e.Title, fields(e))
	}
	if e.Color != 0xE74C3C {
		t.Errorf("active tempban (a removal): colour %#x; want red", e.Color)
	}

	// Lifted by case #13: the history names it, and its reason says why.
	lifted := v
	lifted.Case.Processed = true
	lifted.Events = []cases.Event{
		{Kind: cases.EventLinked, New: "#13", Note: "lifted by case #13 (UNBAN)", At: now},
		{Kind: cases.EventProcessed, Old: "false", New: "true", Note: "expired; lifted by case #13 (UNBAN)", At: now.Add(time.Second)},
	}
	if n := modlog.EndedByNumber(lifted.Events); n != 13 {
		t.Fatalf("EndedByNumber = %d; want 13", n)
	}
	lifted.EndedBy = cases.Case{Number: 13, Type: cases.Unban, Reason: "Temporary ban expired (case #12)"}
	e = modlog.Embed(lifted)
	checkEmbed(t, "lifted", e)
	if got := fields(e)["Ended"]; !strings.HasSuffix(got, "ended by #13 (temporary ban expired)") || fields(e)["Ends"] != "" {
		t.Errorf("lifted tempban: Ended %q, fields %v", got, fields(e))
	}

	// Superseded by a later ban.
	sup := v
	sup.Case.Processed = true
	sup.Events = []cases.Event{
		{Kind: cases.EventSuperseded, Old: "unban", New: "#14", Note: "superseded by case #14 (BAN)", At: now},
		{Kind: cases.EventProcessed, Note: "its expiry will not run: superseded by case #14 (BAN)", At: now},
	}
	if got := fields(modlog.Embed(sup))["Ended"]; !strings.HasSuffix(got, "superseded by case #14 (BAN)") {
		t.Errorf("superseded: Ended %q", got)
	}

	// Voided, with the reason why; a new reason shows at once.
	void := v
	void.Case.Status = cases.Voided
	void.Case.Reason = "appeal accepted, it was a mistake"
	void.Events = []cases.Event{{Kind: cases.EventVoided, Old: "active", New: "voided", Note: "wrong user", At: now}}
	e = modlog.Embed(void)
	checkEmbed(t, "voided", e)
	if !strings.HasSuffix(e.Title, "(voided)") || fields(e)["Voided"] != "wrong user" || e.Description != void.Case.Reason || e.Color != 0x95A5A6 {
		t.Errorf("voided: %q %v %q", e.Title, fields(e), e.Description)
	}

	// An expiry that failed for good shows on the case until it is dealt with.
	failed := v
	failed.Events = []cases.Event{{Kind: cases.EventGaveUp, Old: "unban", New: "8 attempts", Note: "the unban failed 8 times and will not be retried: Missing Permissions", At: now}}
	if got := fields(modlog.Embed(failed))["Expiry failed"]; !strings.Contains(got, "will not be retried: Missing Permissions") {
		t.Errorf("gave up: %q", got)
	}
	if got := fields(modlog.Embed(lifted))["Expiry failed"]; got != "" {
		t.Errorf("a lifted case shows a failed expiry: %q", got)
	}

	// A lift case names the case it lifts; an AutoMod case its rule and match.
	lift := modlog.View{Case: cases.Case{Number: 13, Type: cases.Unban, Status: cases.Active, Reason: "Temporary ban expired (case #12)",
		Metadata: map[string]string{"lifts_case": "12"}}}
	if got := fields(modlog.Embed(lift))["Lifts"]; got != "case #12" {
		t.Errorf("lift case: Lifts %q", got)
	}
	am := modlog.View{Case: cases.Case{Number: 3, Type: cases.Automod, Status: cases.Active, Reason: "rule",
		Metadata: map[string]string{"source": "discord_automod", "rule_name": "no invites", "actions": "block_message", "matched_keyword": "discord.gg", "matched_content": "discord.gg/x"}}}
	f := fields(modlog.Embed(am))
	if f["AutoMod rule"] != "no invites (Discord, block_message)" || f["Matched"] != `keyword "discord.gg" in "discord.gg/x"` {
		t.Errorf("AutoMod case: %v", f)
	}
}

// The footer names the case by its number, never the database's row id; a username's
// markdown is escaped; a user known only by id is named by it once.
func TestEmbedNamesAndFooter(t *testing.T) {
	t.Parallel()
	c := cases.Case{ID: 120, Number: 1, GuildID: 9, UserID: 5, ModeratorID: 6, Type: cases.Ban, Status: cases.Active, Reason: "r", CreatedAt: time.Unix(1e9, 0)}
	e := modlog.Embed(modlog.View{Case: c, Tone: modlog.Removal,
		Target: discord.User{ID: 5, Username: "*star*"}, Moderator: discord.User{ID: 6, Username: "6"}})
	if e.Footer == nil || !strings.HasPrefix(e.Footer.Text, "Case #1 · active") || strings.Contains(e.Footer.Text, "120") {
		t.Errorf("footer %+v; want the case number", e.Footer)
	}
	fields := map[string]string{}
	for _, f := range e.Fields {
		fields[f.Name] = f.Value
	}
	if want := `<@5> (\*star\*, 5)`; fields["User"] != want {
		t.Errorf("User = %q; want %q", fields["User"], want)
	}
	if want := "<@6>"; fields["Moderator"] != want {
		t.Errorf("Moderator = %q; want %q", fields["Moderator"], want)
	}
}
