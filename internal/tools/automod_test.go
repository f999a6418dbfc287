package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
)

const amGuild int64 = 900000000000000100

// amPort keeps a guild's AutoMod rules in memory as Discord's JSON, and counts the writes.
// Methods the automod tool does not call panic (through the nil embedded Port).
type amPort struct {
	discord.Port
	mu     sync.Mutex
	rules  []json.RawMessage
	nextID int64
	writes int
	// fail, when set, is the error of every write.
	fail error
}

func (p *amPort) AutoModRules(context.Context, discord.GuildID) ([]json.RawMessage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]json.RawMessage(nil), p.rules...), nil
}

func (p *amPort) CreateAutoModRule(_ context.Context, guildID discord.GuildID, body json.RawMessage, _ string) (json.RawMessage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return nil, p.fail
	}
	p.writes++
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	p.nextID++
	m["id"] = fmt.Sprint(900000000000001000 + p.nextID)
	m["guild_id"] = fmt.Sprint(guildID)
	m["creator_id"] = "900000000000000999"
	out, _ := json.Marshal(m)
	p.rules = append(p.rules, out)
	return out, nil
}

func (p *amPort) ModifyAutoModRule(_ context.Context, _ discord.GuildID, ruleID int64, patch json.RawMessage, _ string) (json.RawMessage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return nil, p.fail
	}
	p.writes++
	for i, raw := range p.rules {
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		if m["id"] != fmt.Sprint(ruleID) {
			continue
		}
		var ch map[string]any
		if err := json.Unmarshal(patch, &ch); err != nil {
			return nil, err
		}
		for k, v := range ch {
			m[k] = v
		}
		out, _ := json.Marshal(m)
		p.rules[i] = out
		return out, nil
	}
	return nil, &discord.Error{Op: "modify automod rule", Status: 404, Code: discord.CodeUnknownAutoModRule, Message: "Unknown Auto Moderation Rule"}
}

func (p *amPort) DeleteAutoModRule(_ context.Context, _ discord.GuildID, ruleID int64, _ string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	p.writes++
	for i, raw := range p.rules {
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		if m["id"] == fmt.Sprint(ruleID) {
			p.rules = append(p.rules[:i], p.rules[i+1:]...)
			return nil
		}
	}
	return nil
}

func (p *amPort) rule(t *testing.T, name string) automod.Rule {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, raw := range p.rules {
		r, err := automod.DecodeRule(raw)
		if err != nil {
			t.Fatal(err)
		}
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no rule %q", name)
	return automod.Rule{}
}

// amRun runs a prefix automod command against the tool.
func amRun(t *testing.T, tool *Tool, text string) Reply {
	t.Helper()
	args, ok, err := commands.ParsePrefix([]*commands.Spec{tool.Spec}, "$", text)
	if !ok || err != nil {
		t.Fatalf("%s: parse: %v, %v", text, ok, err)
	}
	call := Call{GuildID: discord.GuildID(amGuild), ChannelID: 900000000000000401, User: discord.User{ID: 900000000000000201, Username: "admin"}, Prefix: "$"}
	return tool.Run(context.Background(), call, args)
}

func amWant(t *testing.T, r Reply, outcome Outcome, want ...string) {
	t.Helper()
	if r.Outcome != outcome {
		t.Errorf("outcome %q, want %q: %s", r.Outcome, outcome, r.Message.Content)
	}
	if r.Message.AllowedMentions == nil {
		t.Errorf("reply %q may ping", r.Message.Content)
	}
	for _, w := range want {
		if !strings.Contains(r.Message.Content, w) {
			t.Errorf("reply %q does not contain %q", r.Message.Content, w)
		}
	}
}

func newAutoModTool(port *amPort) *Tool {
	tool := newAutoMod(&Env{AutoMod: automod.NewService(port)})
	tool.Spec.Link()
	return tool
}

func TestAutoModTool(t *testing.T) {
	t.Parallel()
	port := &amPort{}
	tool := newAutoModTool(port)

	amWant(t, amRun(t, tool, "$automod"), OK, "no AutoMod rules", "$automod create")
	amWant(t, amRun(t, tool, `$automod create spam -keywords cat dog* -exempt-roles <@&900000000000000301> 900000000000000302`),
		OK, `Created AutoMod rule "spam"`, "2 keywords", "actions: block")
	r := port.rule(t, "spam")
	if strings.Join(r.TriggerMetadata.KeywordFilter, "|") != "cat|dog*" || len(r.ExemptRoles) != 2 || !r.Enabled ||
		len(r.Actions) != 1 || r.Actions[0].Type != automod.ActionBlockMessage {
		t.Fatalf("created %+v", r)
	}

	// Actions: added, changed and removed one by one; the others stay.
	amWant(t, amRun(t, tool, `$automod edit spam -alert <#900000000000000402> -timeout 1h -message Not here`), OK, `Changed AutoMod rule "spam"`)
	r = port.rule(t, "spam")
	if len(r.Actions) != 3 || r.Actions[0].CustomMessage != "Not here" || r.Actions[1].ChannelID != 900000000000000402 || r.Actions[2].DurationSeconds != 3600 {
		t.Fatalf("actions after edit: %+v", r.Actions)
	}
	amWant(t, amRun(t, tool, `$automod edit spam -alert none -timeout off`), OK)
	if r = port.rule(t, "spam"); len(r.Actions) != 1 || r.Actions[0].Type != automod.ActionBlockMessage || r.Actions[0].CustomMessage != "Not here" {
		t.Fatalf("actions after removing alert and timeout: %+v", r.Actions)
	}
	amWant(t, amRun(t, tool, `$automod edit spam -exempt-roles none -name Spam words`), OK, `"Spam words"`)
	if r = port.rule(t, "Spam words"); len(r.ExemptRoles) != 0 {
		t.Errorf("exempt roles after none: %v", r.ExemptRoles)
	}
	amWant(t, amRun(t, tool, `$automod edit "spam words"`), Refused, "Say what to change", "Nothing was changed")

	// Refusals reach Discord not at all.
	writes := port.writes
	many := make([]string, 11)
	for i := range many {
		many[i] = fmt.Sprintf(`"r%d"`, i)
	}
	amWant(t, amRun(t, tool, `$automod keywords add "spam words" regex `+strings.Join(many, " ")), Refused, "regex_patterns", "10")
	amWant(t, amRun(t, tool, `$automod edit "spam words" -regex a(b`), Refused, "Nothing was changed")
	amWant(t, amRun(t, tool, `$automod create x -presets cursing`), Refused, "profanity, sexual_content and slurs", "Nothing was created")
	amWant(t, amRun(t, tool, `$automod create x -message hi -block false`), Refused, "custom message")
	amWant(t, amRun(t, tool, `$automod show nothing`), Refused, `No AutoMod rule is named "nothing"`, `"Spam words"`)
	if port.writes != writes {
		t.Errorf("refusals made %d writes", port.writes-writes)
	}

	// The dry run names the rule, the keyword and where.
	amWant(t, amRun(t, tool, `$automod test a dogfood and a cat`), OK, `rule "Spam words" fires on keyword "dog*"`, "bytes 2–5")

	// Discord's refusal is a failure, told as such.
	port.fail = &discord.Error{Op: "modify automod rule", Status: 403, Code: discord.CodeMissingPermissions, Message: "Missing Permissions"}
	rep := amRun(t, tool, `$automod disable "spam words"`)
	amWant(t, rep, Failed, "Discord did not let gavel", "Manage Server", "Nothing was changed")
	if strings.Contains(rep.Message.Content, "Missing Permissions") {
		t.Errorf("the reply quotes Discord's own text: %q", rep.Message.Content)
	}
	if rep.Err == nil {
		t.Error("a Discord failure carries no error to log")
	}
	port.fail = &discord.Error{Op: "modify automod rule", Status: 0, Err: context.DeadlineExceeded}
	amWant(t, amRun(t, tool, `$automod disable "spam words"`), Failed, "Discord did not answer in time", "Nothing was changed")
	port.fail = &discord.Error{Op: "modify automod rule", Status: 400, Code: discord.CodeInvalidFormBody, Message: "Invalid Form Body"}
	amWant(t, amRun(t, tool, `$automod disable "spam words"`), Failed, "Discord refused to change the rule (HTTP 400, error 50035)")
	port.fail = nil
	amWant(t, amRun(t, tool, `$automod delete "spam words"`), OK, `Deleted AutoMod rule "Spam words"`)

	// Without the service, the command says so.
	bare := newAutoMod(&Env{})
	bare.Spec.Link()
	amWant(t, amRun(t, bare, "$automod list"), Failed, "not available")
}

func TestSuggestRules(t *testing.T) {
	t.Parallel()
	port := &amPort{}
	tool := newAutoModTool(port)
	for _, name := range []string{"links", "spam links", "Spam"} {
		amRun(t, tool, fmt.Sprintf(`$automod create %q -keywords x%d`, name, len(name)))
	}
	// Discord refuses a second rule of the same name only by its own checks; a shared
	// name is suggested by id.
	port.rules = append(port.rules, json.RawMessage(`{"id":"900000000000002000","guild_id":"1","name":"links","event_type":1,"trigger_type":1,
		"trigger_metadata":{"keyword_filter":["y"]},"actions":[{"type":1}],"enabled":true}`))
	got := tool.Suggest(context.Background(), Call{GuildID: discord.GuildID(amGuild)}, tool.Spec.Subs[1], "rule", "SPA")
	if len(got) != 2 || got[0].Value != "spam links" || got[1].Value != "Spam" {
		t.Errorf("suggestions for SPA = %+v; want the names starting with it", got)
	}
	got = tool.Suggest(context.Background(), Call{GuildID: discord.GuildID(amGuild)}, tool.Spec.Subs[1], "rule", "link")
	if len(got) != 3 || got[0].Value != "900000000000001001" || !strings.Contains(got[0].Name, "id 900000000000001001") ||
		got[1].Value != "900000000000002000" || got[2].Value != "spam links" {
		t.Errorf("suggestions for link = %+v; want the shared name by id, prefix matches first", got)
	}
	if got := tool.Suggest(context.Background(), Call{GuildID: discord.GuildID(amGuild)}, tool.Spec.Subs[1], "other", ""); got != nil {
		t.Errorf("suggestions for another option = %+v", got)
	}
}

func TestParseList(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in    string
		regex bool
		want  []string
		err   string
	}{
		{in: "cat, dog*, free nitro", want: []string{"cat", "dog*", "free nitro"}},
		{in: "cat dog*", want: []string{"cat", "dog*"}},
		{in: `"free nitro" "steam gift"`, want: []string{"free nitro", "steam gift"}},
		{in: `"free nitro" , scam*`, want: []string{"free nitro", "scam*"}},
		{in: `scam*, "a, b"`, want: []string{"scam*", "a, b"}},
		{in: "cat, cat", want: []string{"cat"}},
		{in: "none", want: []string{}},
		{in: `"open`, err: "not closed"},
		{in: `a{1,3} b`, regex: true, want: []string{"a{1,3} b"}},
		{in: `"a{1,3}" "(x|y)"`, regex: true, want: []string{"a{1,3}", "(x|y)"}},
		{in: `"a" b`, regex: true, err: "in quotes"},
	} {
		got, err := parseList(c.regex, c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("parseList(%q) = %q, %v; want an error containing %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("parseList(%v, %q) = %q, %v; want %q", c.regex, c.in, got, err, c.want)
		}
	}
}

func FuzzParseEntries(f *testing.F) {
	for _, s := range []string{"cat, dog", `"a b" c`, `"x`, "none", `a{1,3}`, `"" ,, "`, "é, ü ö"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, regex bool) {
		got, err := parseList(regex, s)
		if err != nil {
			if got != nil || err.Error() == "" {
				t.Fatalf("parseList(%q) = %q with error %v", s, got, err)
			}
			return
		}
		seen := map[string]bool{}
		for _, e := range got {
			if e == "" || e != strings.TrimSpace(e) || seen[e] {
				t.Fatalf("parseList(%q) = %q: empty, untrimmed or repeated entry %q", s, got, e)
			}
			seen[e] = true
			if !strings.Contains(s, e) {
				t.Fatalf("parseList(%q) = %q: entry %q is not in the input", s, got, e)
			}
		}
	})
}

func TestParseOptions(t *testing.T) {
	t.Parallel()
	ids, err := parseIDs("exempt-roles", "<@&", "<@&900000000000000301>, 900000000000000302 900000000000000301")
	if err != nil || len(ids) != 2 {
		t.Errorf("parseIDs = %v, %v", ids, err)
	}
	if _, err := parseIDs("exempt-channels", "<#", "#general"); err == nil || !strings.Contains(err.Error(), "mentions") {
		t.Errorf("parseIDs(#general) = %v", err)
	}
	for in, want := range map[string]int{"10m": 600, "1 week": 604800, "4w": 2419200, "off": 0, "none": 0} {
		if got, err := parseTimeout(in); err != nil || got != want {
			t.Errorf("parseTimeout(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"5w", "soon", "0.5s"} {
		if _, err := parseTimeout(in); err == nil {
			t.Errorf("parseTimeout(%q) accepted", in)
		}
	}
	ps, err := parsePresets("profanity, slurs")
	if err != nil || !ps.Has(automod.PresetProfanity) || !ps.Has(automod.PresetSlurs) || ps.Has(automod.PresetSexualContent) {
		t.Errorf("parsePresets = %v, %v", ps, err)
	}
}

func TestAutoModSlashDefinition(t *testing.T) {
	t.Parallel()
	spec := autoModSpec().Link()
	def := spec.SlashDefinition()
	var count func(opts []*commands.SlashOption)
	count = func(opts []*commands.SlashOption) {
		for _, o := range opts {
			if o.Type == commands.OptionSubCommand && len(o.Options) > 25 {
				t.Errorf("/automod %s has %d options; Discord takes 25", o.Name, len(o.Options))
			}
			for _, p := range o.Options {
				if p.Autocomplete && len(p.Choices) > 0 {
					t.Errorf("/automod %s %s has autocomplete and choices", o.Name, p.Name)
				}
				if p.Name == "rule" && !p.Autocomplete {
					t.Errorf("/automod %s rule does not autocomplete", o.Name)
				}
			}
			count(o.Options)
		}
	}
	count(def.Options)
	if len(def.Options) != 9 {
		t.Errorf("%d subcommands", len(def.Options))
	}
}
