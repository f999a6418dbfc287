package automod

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelbot/gavel/internal/discord"
)

const sampleFile = `
[[rule]]
name = "scams"
trigger = "keyword"
keywords = ["nitro", "*giveaway*"]
regex = ['\bfree\s+steam\b']
allow = ["nitrogen"]
exempt_roles = ["123456789012345678"]

  [[rule.action]]
  type = "block"
  message = "No scams here."

  [[rule.action]]
  type = "timeout"
  duration = "10m"

[[rule]]
name = "pings"
trigger = "mention_spam"
mention_limit = 5
mention_raid_protection = true
enabled = false

  [[rule.action]]
  type = "alert"
  channel = "223456789012345678"

[[rule]]
name = "words"
trigger = "keyword_preset"
presets = ["profanity", "slurs"]
allow = ["scunthorpe"]

  [[rule.action]]
  type = "block"

[[rule]]
name = "unlimited words"
enforce = "gavel"
trigger = "keyword"
keywords = ["badword", "worse*"]
exempt_channels = ["323456789012345678"]

  [[rule.action]]
  type = "delete"

  [[rule.action]]
  type = "timeout"
  duration = "1h"

  [[rule.action]]
  type = "alert"
  channel = "223456789012345678"
`

func TestParseFile(t *testing.T) {
	t.Parallel()
	f, err := ParseFile([]byte(sampleFile))
	if err != nil {
		t.Fatal(err)
	}
	want := RuleFile{
		Discord: []Rule{
			{Name: "scams", EventType: EventMessageSend, TriggerType: TriggerKeyword, Enabled: true,
				TriggerMetadata: TriggerMetadata{KeywordFilter: []string{"nitro", "*giveaway*"}, RegexPatterns: []string{`\bfree\s+steam\b`}, AllowList: []string{"nitrogen"}},
				Actions:         []Action{{Type: ActionBlockMessage, CustomMessage: "No scams here."}, {Type: ActionTimeout, DurationSeconds: 600}},
				ExemptRoles:     []discord.RoleID{123456789012345678}},
			{Name: "pings", EventType: EventMessageSend, TriggerType: TriggerMentionSpam,
				TriggerMetadata: TriggerMetadata{MentionTotalLimit: 5, MentionRaidProtectionEnabled: true},
				Actions:         []Action{{Type: ActionSendAlertMessage, ChannelID: 223456789012345678}}},
			{Name: "words", EventType: EventMessageSend, TriggerType: TriggerKeywordPreset, Enabled: true,
				TriggerMetadata: TriggerMetadata{Presets: NewPresets(PresetProfanity, PresetSlurs), AllowList: []string{"scunthorpe"}},
				Actions:         []Action{{Type: ActionBlockMessage}}},
		},
		Gavel: []GavelRule{{Name: "unlimited words", TriggerType: TriggerKeyword, Keywords: []string{"badword", "worse*"}, Enabled: true,
			ExemptChannels: []int64{323456789012345678},
			Actions:        []GavelAction{{Type: GavelDelete}, {Type: GavelTimeout, Duration: time.Hour}, {Type: GavelAlert, ChannelID: 223456789012345678}}}},
	}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Fatalf("ParseFile (-want +got):\n%s", diff)
	}
	// Export writes it back; reading the export gives the same rules.
	b, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseFile(b)
	if err != nil {
		t.Fatalf("re-reading the encoded file: %v\n%s", err, b)
	}
	if diff := cmp.Diff(f, again); diff != "" {
		t.Fatalf("round trip (-first +second):\n%s\n%s", diff, b)
	}
}

func TestParseFileRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"unknown key", "[[rule]]\nname = \"a\"\ntrigger = \"keyword\"\nkeyword = [\"x\"]\n", []string{"unknown keys rule.keyword", "accepted keys"}},
		{"bad trigger", "[[rule]]\nname = \"a\"\ntrigger = \"words\"\n[[rule.action]]\ntype = \"block\"\n", []string{`rule 1 ("a")`, `trigger: "words" is not a trigger`, "keyword, spam"}},
		{"duplicate name", "[[rule]]\nname = \"a\"\ntrigger = \"spam\"\n[[rule.action]]\ntype = \"block\"\n[[rule]]\nname = \"a\"\ntrigger = \"spam\"\n[[rule.action]]\ntype = \"block\"\n",
			[]string{`rule 2 ("a")`, "also the name of rule 1"}},
		{"limit", "[[rule]]\nname = \"a\"\ntrigger = \"keyword\"\nkeywords = [\"" + strings.Repeat("é", 61) + "\"]\n[[rule.action]]\ntype = \"block\"\n",
			[]string{`automod rule "a"`, "trigger_metadata.keyword_filter[0]", "61 characters long", "1 to 60"}},
		{"timeout on spam", "[[rule]]\nname = \"a\"\ntrigger = \"spam\"\n[[rule.action]]\ntype = \"timeout\"\nduration = \"1h\"\n",
			[]string{"TIMEOUT is not available for SPAM rules"}},
		{"bad id", "[[rule]]\nname = \"a\"\ntrigger = \"keyword\"\nkeywords = [\"x\"]\nexempt_roles = [\"me\"]\n[[rule.action]]\ntype = \"block\"\n",
			[]string{`exempt_roles[0]: "me" is not a Discord id`}},
		{"gavel action on discord", "[[rule]]\nname = \"a\"\ntrigger = \"keyword\"\nkeywords = [\"x\"]\n[[rule.action]]\ntype = \"warn\"\n",
			[]string{`"warn" is not a Discord action`, `enforce = "gavel"`}},
		{"gavel presets", "[[rule]]\nname = \"a\"\nenforce = \"gavel\"\ntrigger = \"keyword_preset\"\npresets = [\"slurs\"]\n[[rule.action]]\ntype = \"warn\"\n",
			[]string{"presets: Discord's word lists are private"}},
		{"gavel short timeout", "[[rule]]\nname = \"a\"\nenforce = \"gavel\"\ntrigger = \"keyword\"\nkeywords = [\"x\"]\n[[rule.action]]\ntype = \"timeout\"\nduration = \"5s\"\n",
			[]string{`gavel-enforced automod rule "a"`, "action[0].duration", "1m to 28d"}},
		{"gavel alert without channel", "[[rule]]\nname = \"a\"\nenforce = \"gavel\"\ntrigger = \"keyword\"\nkeywords = [\"x\"]\n[[rule.action]]\ntype = \"alert\"\n",
			[]string{"action[0].channel: is missing"}},
		{"bad enforce", "[[rule]]\nname = \"a\"\nenforce = \"both\"\ntrigger = \"keyword\"\n", []string{`enforce: "both" is not accepted`}},
		{"not toml", "[[rule]\n", []string{"rules file:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFile([]byte(tc.file))
			if !errors.Is(err, ErrFile) {
				t.Fatalf("err = %v; want ErrFile", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestMakePlan(t *testing.T) {
	t.Parallel()
	f, err := ParseFile([]byte(sampleFile))
	if err != nil {
		t.Fatal(err)
	}
	current := []Rule{
		{ID: 11, GuildID: 1, Name: "scams", EventType: EventMessageSend, TriggerType: TriggerKeyword, Enabled: true,
			TriggerMetadata: TriggerMetadata{KeywordFilter: []string{"nitro", "steam"}, RegexPatterns: []string{`\bfree\s+steam\b`}, AllowList: []string{"nitrogen"}},
			Actions:         []Action{{Type: ActionBlockMessage, CustomMessage: "No scams here."}, {Type: ActionTimeout, DurationSeconds: 600}},
			ExemptRoles:     []discord.RoleID{123456789012345678}},
		{ID: 12, GuildID: 1, Name: "old", EventType: EventMessageSend, TriggerType: TriggerSpam, Enabled: true, Actions: []Action{{Type: ActionBlockMessage}}},
		{ID: 13, GuildID: 1, Name: "words", EventType: EventMessageSend, TriggerType: TriggerKeywordPreset, Enabled: true,
			TriggerMetadata: TriggerMetadata{Presets: NewPresets(PresetProfanity, PresetSlurs), AllowList: []string{"scunthorpe"}},
			Actions:         []Action{{Type: ActionBlockMessage}}},
	}
	plan, err := MakePlan(f, current, []GavelRule{{Name: "gone", TriggerType: TriggerKeyword, Keywords: []string{"x"}, Actions: []GavelAction{{Type: GavelWarn}}}})
	if err != nil {
		t.Fatal(err)
	}
	got := plan.String()
	for _, w := range []string{
		`delete discord rule "old" (id 12)`,
		`delete gavel rule "gone"`,
		`update discord rule "scams" (id 11)` + "\n    keywords: added \"*giveaway*\"; removed \"steam\"",
		`create discord rule "pings"`,
		`create gavel rule "unlimited words"`,
		"2 to create, 1 to update, 2 to delete, 1 unchanged",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("plan does not contain %q:\n%s", w, got)
		}
	}
	// Deletions come first, creations last.
	if plan.Changes[0].Kind != Delete || plan.Changes[len(plan.Changes)-1].Kind != Create {
		t.Errorf("plan order: %s", got)
	}
	if plan.Changes[2].Desired.ID != 11 && plan.Changes[3].Desired.ID != 11 {
		t.Errorf("the update does not carry Discord's id: %+v", plan.Changes)
	}
}

func TestMakePlanRefusals(t *testing.T) {
	t.Parallel()
	keyword := func(name string) string {
		return "[[rule]]\nname = \"" + name + "\"\ntrigger = \"keyword\"\nkeywords = [\"x\"]\n[[rule.action]]\ntype = \"block\"\n"
	}
	var file strings.Builder
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		file.WriteString(keyword(n))
	}
	f, err := ParseFile([]byte(file.String()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = MakePlan(f, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "the guild already has 6 KEYWORD rules; accepted: at most 6 per guild") {
		t.Fatalf("seven keyword rules: %v", err)
	}

	f, _ = ParseFile([]byte(keyword("dup")))
	_, err = MakePlan(f, []Rule{{ID: 1, Name: "dup", TriggerType: TriggerKeyword}, {ID: 2, Name: "dup", TriggerType: TriggerKeyword}}, nil)
	if err == nil || !strings.Contains(err.Error(), "2 of Discord's rules have this name (ids 1, 2)") {
		t.Fatalf("ambiguous name: %v", err)
	}

	f, _ = ParseFile([]byte("[[rule]]\nname = \"x\"\ntrigger = \"spam\"\n[[rule.action]]\ntype = \"block\"\n"))
	_, err = MakePlan(f, []Rule{{ID: 5, Name: "x", EventType: EventMessageSend, TriggerType: TriggerKeyword, Actions: []Action{{Type: ActionBlockMessage}}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot change from KEYWORD to SPAM") {
		t.Fatalf("trigger change: %v", err)
	}
}

func TestDryRun(t *testing.T) {
	t.Parallel()
	f, err := ParseFile([]byte(sampleFile))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := DryRun(f.Discord, f.Gavel, "héllo, a GIVEAWAYS and badword <@1> <@2>")
	if err != nil {
		t.Fatal(err)
	}
	got := rep.String()
	for _, w := range []string{
		`discord rule "scams" fires on keyword "*giveaway*": "GIVEAWAY" at bytes 10–18, characters 9–17`,
		`gavel rule "unlimited words" fires on keyword "badword": "badword" at bytes 24–31, characters 23–30`,
		`rule "words" is evaluated by Discord only`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("report does not contain %q:\n%s", w, got)
		}
	}
	// "pings" (at most 5 mentions) is disabled: six mentions do not fire it.
	rep, err = DryRun(f.Discord, f.Gavel, "<@1> <@2> <@3> <@4> <@5> <@&6>")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Hits) != 0 {
		t.Errorf("a disabled rule fired: %+v", rep.Hits)
	}
	f.Discord[1].Enabled = true
	rep, _ = DryRun(f.Discord, f.Gavel, "<@1> <@2> <@3> <@4> <@5> <@&6>")
	if len(rep.Hits) != 1 || rep.Hits[0].Rule != "pings" || rep.Hits[0].Mentions != 6 {
		t.Errorf("enabled, six mentions: %+v", rep.Hits)
	}
}

// FuzzParseFile: reading any input never panics, and a file that is accepted encodes to a
// file that reads back to the same rules.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte(sampleFile))
	f.Add([]byte("[[rule]]\nname = \"a\"\ntrigger = \"keyword\"\nkeywords = [\"x*\"]\n[[rule.action]]\ntype = \"block\"\n"))
	f.Add([]byte("[[rule]]\nname = \"m\"\nenforce = \"gavel\"\ntrigger = \"mention_spam\"\nmention_limit = 3\n[[rule.action]]\ntype = \"warn\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rf, err := ParseFile(data)
		if err != nil {
			if !errors.Is(err, ErrFile) {
				t.Fatalf("error %v does not match ErrFile", err)
			}
			return
		}
		b, err := rf.Encode()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseFile(b)
		if err != nil {
			t.Fatalf("an accepted file does not read back: %v\n%s", err, b)
		}
		if diff := cmp.Diff(rf, again); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// TestExportMakesNamesUnique: Discord rules whose name an earlier rule or a gavel-enforced
// rule has get the first free " (n)" suffix, within the length limit; the file says so and
// ParseFile reads it.
func TestExportMakesNamesUnique(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", MaxNameLength)
	mk := func(id int64, name string) Rule {
		return Rule{ID: id, Name: name, EventType: EventMessageSend, TriggerType: TriggerKeyword, Enabled: true,
			TriggerMetadata: TriggerMetadata{KeywordFilter: []string{"a"}}, Actions: []Action{{Type: ActionBlockMessage}}}
	}
	rules := []Rule{mk(1, "spam"), mk(2, "spam"), mk(3, "spam (2)"), mk(4, "words"), mk(5, long), mk(6, long)}
	gavelRules := []GavelRule{{Name: "words", TriggerType: TriggerKeyword, Keywords: []string{"b"}, Enabled: true,
		Actions: []GavelAction{{Type: GavelWarn}}}}
	b, renamed, err := Export(rules, gavelRules)
	if err != nil {
		t.Fatal(err)
	}
	want := []Renamed{{2, "spam", "spam (2)"}, {3, "spam (2)", "spam (2) (2)"}, {4, "words", "words (2)"}, {6, long, long[:MaxNameLength-4] + " (2)"}}
	if diff := cmp.Diff(want, renamed); diff != "" {
		t.Errorf("renames (-want +got):\n%s", diff)
	}
	f, err := ParseFile(b)
	if err != nil {
		t.Fatalf("the export does not parse: %v\n%s", err, b)
	}
	if len(f.Discord) != 6 || len(f.Gavel) != 1 || f.Discord[1].Name != "spam (2)" || f.Discord[1].ID != 2 {
		t.Errorf("parsed export: %+v", f)
	}
	if !strings.HasPrefix(string(b), "# Some of these rules shared a name") {
		t.Errorf("the export does not say names were changed:\n%s", b)
	}
	if b, renamed, _ := Export(rules[:1], nil); len(renamed) != 0 || strings.Contains(string(b), "shared a name") {
		t.Errorf("an export without shared names: %v\n%s", renamed, b)
	}
}

// A TOML syntax error is placed at its line and column (in characters, so "é" counts one;
// the parser places a stray token after a value at the blank before it).
func TestParseFilePlacesSyntaxErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ file, want string }{
		{"[[rule]]\nname = \"x\"\nkeywords = [\"a\"\nenabled = true\n", "rules file: line 4, column 1: "},
		{"[[rule]]\nname = \"héllo\" x\n", "rules file: line 2, column 15: "},
	} {
		_, err := ParseFile([]byte(c.file))
		if err == nil || !errors.Is(err, ErrFile) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("ParseFile(%q) = %v, want an error starting %q", c.file, err, c.want)
		}
	}
}
