package tools

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gavelbot/gavel/internal/discord"
)

func TestParseMassSelection(t *testing.T) {
	t.Parallel()
	s, err := parseMassSelection(`<@700000000000000001> 700000000000000002 <@!700000000000000001> joined:10m age:7d name:"free nitro" spam raid`)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.IDs) != 2 || s.JoinedWithin != 10*time.Minute || s.YoungerThan != 7*24*time.Hour || s.Name == nil || s.Reason != "spam raid" {
		t.Errorf("selection = %+v", s)
	}
	if !s.Name.MatchString("get free nitro now") || s.Name.MatchString("nitro free") {
		t.Error("the name pattern does not match as written")
	}
	if s, err := parseMassSelection("raid:3 reason: left"); err != nil || s.Raid != 3 || s.Reason != "reason: left" {
		t.Errorf("raid:3 = %+v, %v", s, err)
	}
	for in, want := range map[string]string{
		"":                   "no targets",
		"spam":               "no targets",
		"name:(unclosed":     "does not compile",
		"joined:forever":     "joined:",
		"joined:60d":         "joined:",
		"age:5s":             "age:",
		"raid:x":             "not a raid number",
		`name:"free nitro`:   "unclosed quote",
		"raid:1 raid:2 spam": "two raids",
	} {
		if _, err := parseMassSelection(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseMassSelection(%q) = %v; want an error saying %q", in, err, want)
		}
	}
	many := strings.Repeat("700000000000000001 ", 3) + strings.Repeat("x", 0)
	if s, _ := parseMassSelection(many); len(s.IDs) != 1 {
		t.Errorf("duplicates counted: %v", s.IDs)
	}
	var b strings.Builder
	for i := range 10001 {
		b.WriteString(discord.UserID(700000000000000000 + i).String())
		b.WriteByte(' ')
	}
	if _, err := parseMassSelection(b.String()); err == nil || !strings.Contains(err.Error(), "at most 10000") {
		t.Errorf("10,001 ids: %v", err)
	}
}

func TestMassSelectionMatches(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	young := discord.UserID((now.Add(-time.Hour).UnixMilli() - 1420070400000) << 22)
	old := discord.UserID((now.AddDate(-1, 0, 0).UnixMilli() - 1420070400000) << 22)
	s, err := parseMassSelection("joined:10m age:1d name:^raid")
	if err != nil {
		t.Fatal(err)
	}
	m := discord.Member{User: discord.User{ID: young, Username: "raider1"}, JoinedAt: now.Add(-time.Minute)}
	if !s.matches(m, now) {
		t.Error("a young raider who just joined does not match")
	}
	m.User.ID = old
	if s.matches(m, now) {
		t.Error("an old account matches age:1d")
	}
	m.User.ID, m.JoinedAt = young, now.Add(-time.Hour)
	if s.matches(m, now) {
		t.Error("a member who joined an hour ago matches joined:10m")
	}
	m.JoinedAt, m.User.Username = now, "alice"
	if s.matches(m, now) {
		t.Error("alice matches name:^raid")
	}
}

// FuzzParseMassSelection: any input is either refused with what is accepted, or read into a
// selection with at least one target, at most 10,000 ids, and a reason that is the input's
// own tail.
func FuzzParseMassSelection(f *testing.F) {
	for _, s := range []string{"<@700000000000000001> spam", "joined:10m age:7d", `name:"a b" why`, "raid:3", "name:(", `"`, "age:", "<@1> x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := parseMassSelection(in)
		if err != nil {
			if !strings.Contains(err.Error(), "accepted") && !strings.Contains(err.Error(), "give") && !strings.Contains(err.Error(), "name") &&
				!strings.Contains(err.Error(), "raid") && !strings.Contains(err.Error(), "joined") && !strings.Contains(err.Error(), "age") && !strings.Contains(err.Error(), "at most") {
				t.Errorf("error %q does not say what is accepted", err)
			}
			return
		}
		if len(s.IDs) == 0 && s.Raid == 0 && !s.filtered() {
			t.Errorf("%q read with no target", in)
		}
		if len(s.IDs) > 10000 {
			t.Errorf("%d ids", len(s.IDs))
		}
		if s.Reason != "" && !strings.Contains(in, s.Reason) {
			t.Errorf("reason %q is not from the input %q", s.Reason, in)
		}
		if utf8.ValidString(in) && !utf8.ValidString(s.Reason) {
			t.Errorf("reason %q is not valid UTF-8", s.Reason)
		}
	})
}
