package commands_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/duration"
)

// testSpecs is a small command tree with every kind of parameter.
func testSpecs() []*commands.Spec {
	cases := (&commands.Spec{Name: "cases", Aliases: []string{"c"}, Description: "Cases", Default: "list", Subs: []*commands.Spec{
		{Name: "list", Description: "List", Params: []commands.Param{
			{Name: "user", Kind: commands.KindUser, Description: "Whose"},
			{Name: "type", Kind: commands.KindString, Choices: []string{"ban", "warn"}, Description: "Type"},
		}},
		{Name: "view", Aliases: []string{"v"}, Description: "View", Params: []commands.Param{
			{Name: "number", Kind: commands.KindInt, Required: true, Positional: true, Min: 1, Max: 1000, Description: "Case"},
		}},
		{Name: "modify", Description: "Modify", Params: []commands.Param{
			{Name: "number", Kind: commands.KindInt, Required: true, Positional: true, Min: 1, Max: 1000, Description: "Case"},
			{Name: "reason", Aliases: []string{"r"}, Kind: commands.KindString, Max: 20, Description: "Reason"},
			{Name: "active", Kind: commands.KindBool, Description: "Active"},
			{Name: "duration", Aliases: []string{"d"}, Kind: commands.KindDuration, Bounds: duration.Bounds{Min: time.Minute, Max: 24 * time.Hour}, Description: "For"},
		}},
	}}).Link()
	config := (&commands.Spec{Name: "config", Description: "Config", Subs: []*commands.Spec{
		{Name: "ranks", Description: "Ranks", Subs: []*commands.Spec{
			{Name: "set", Description: "Set", Params: []commands.Param{
				{Name: "number", Kind: commands.KindInt, Required: true, Positional: true, Min: 0, Max: 10, Description: "Rank"},
				{Name: "name", Kind: commands.KindString, Required: true, Positional: true, Max: 100, Description: "Name"},
				{Name: "description", Kind: commands.KindString, Positional: true, Rest: true, Max: 200, Description: "About"},
			}},
		}},
		{Name: "jail", Description: "Jail", Params: []commands.Param{
			{Name: "channel", Kind: commands.KindChannel, Required: true, Positional: true, Description: "Where"},
			{Name: "role", Kind: commands.KindRole, Description: "Role"},
		}},
	}}).Link()
	return []*commands.Spec{cases, config}
}

const (
	someUser    = "700000000000000203"
	someChannel = "700000000000000401"
	someRole    = "700000000000000301"
)

func TestParseToolPrefix(t *testing.T) {
	specs := testSpecs()
	for _, tc := range []struct {
		in      string
		command string
		values  map[string]any
	}{
		{"$cases", "cases list", map[string]any{}},
		{"$c", "cases list", map[string]any{}},
		{"$CASES list -user <@" + someUser + "> -type WARN", "cases list", map[string]any{"user": int64(700000000000000203), "type": "warn"}},
		{"$cases v 12", "cases view", map[string]any{"number": int64(12)}},
		{"$cases modify 3 -r new reason here -active no", "cases modify", map[string]any{"number": int64(3), "reason": "new reason here", "active": false}},
		{"$cases modify 3 -active -d 2 hours", "cases modify", map[string]any{"number": int64(3), "active": true, "duration": 2 * time.Hour}},
		{"$cases modify -active 3", "cases modify", map[string]any{"active": true, "number": int64(3)}},
		{`$config ranks set 4 "Senior Mod" keeps the peace`, "config ranks set", map[string]any{"number": int64(4), "name": "Senior Mod", "description": "keeps the peace"}},
		{"$config ranks set 0 Member", "config ranks set", map[string]any{"number": int64(0), "name": "Member"}},
		{"$config jail <#" + someChannel + "> -role <@&" + someRole + ">", "config jail", map[string]any{"channel": int64(700000000000000401), "role": int64(700000000000000301)}},
	} {
		args, ok, err := commands.ParsePrefix(specs, "$", tc.in)
		if !ok || err != nil {
			t.Errorf("%q: ok %v, err %v", tc.in, ok, err)
			continue
		}
		if args.Command() != tc.command {
			t.Errorf("%q: command %q, want %q", tc.in, args.Command(), tc.command)
		}
		got, _ := json.Marshal(args.Values)
		want, _ := json.Marshal(tc.values)
		if string(got) != string(want) {
			t.Errorf("%q: values %s, want %s", tc.in, got, want)
		}
	}
}

func TestParseToolRefusals(t *testing.T) {
	specs := testSpecs()
	for _, tc := range []struct{ in, says string }{
		{"$cases view", "cases view needs number: a whole number from 1 to 1000"},
		{"$cases view 0", "number must be a whole number from 1 to 1000, not 0"},
		{"$cases view twelve", `number must be a whole number from 1 to 1000, not "twelve"`},
		{"$cases view 1 2", `"2" is one word too many`},
		{"$cases list -type kick", "type must be one of ban, warn"},
		{"$cases list -user bob", "user must be a user: a mention (@name) or an id"},
		{"$cases modify 1 -reason", "-reason needs a value"},
		{"$cases modify 1 -reason " + strings.Repeat("x", 21), "reason is 21 characters long; it must be text of 1 to 20 characters"},
		{"$cases modify 1 -d 2 days", "duration 2 days is too long: the longest accepted is 1 day"},
		{"$cases modify 1 -d soon", "duration"},
		{"$cases modify 1 -active -active", "-active is given twice"},
		// A string flag's value runs to the next flag, so the number is not found after it.
		{"$cases modify -reason x 3", "cases modify needs number"},
		{"$config", "Say what to do: $config needs one of ranks, jail"},
		{"$config nope", `Unknown subcommand "nope" of $config; it is one of: ranks, jail.`},
		{"$config rnaks", `Unknown subcommand "rnaks" of $config; it is one of: ranks, jail. Did you mean $config ranks?`},
		{"$config ranks set 11 x", "number must be a whole number from 0 to 10, not 11"},
		{"$config jail general", "channel must be a channel"},
		// A tool's flags are held to the same rule as an action's: unknown ones are refused,
		// also inside a text flag's value, with the nearest; quoted, a dash-word is text.
		{"$cases modify 1 -resaon spam", "-resaon is not a flag of cases modify; did you mean -reason?"},
		{"$cases modify 1 -reason spam --bogus=3", "--bogus=3 is not a flag of cases modify"},
		{"$cases list --tpye ban", "did you mean -type?"},
	} {
		_, ok, err := commands.ParsePrefix(specs, "$", tc.in)
		if !ok {
			t.Errorf("%q: not recognised as a command", tc.in)
			continue
		}
		var usage *commands.UsageError
		if !errors.As(err, &usage) {
			t.Errorf("%q: err %v, want a usage error", tc.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "Usage:") {
			t.Errorf("%q: %q does not say %q with a usage line", tc.in, err.Error(), tc.says)
		}
	}
	for _, in := range []string{"cases", "!cases", "$", "$ban @x", "$unknown"} {
		if _, ok, err := commands.ParsePrefix(specs, "$", in); ok || err != nil {
			t.Errorf("%q: ok %v err %v, want silence", in, ok, err)
		}
	}
}

func TestToolFromSlash(t *testing.T) {
	specs := testSpecs()
	args, err := commands.FromSlash(specs, []string{"cases", "modify"}, map[string]any{"number": float64(3), "reason": "r", "active": true, "duration": "90m"})
	if err != nil {
		t.Fatal(err)
	}
	if args.Command() != "cases modify" || args.Int("number") != 3 || args.String("reason") != "r" || !args.Bool("active") || args.Duration("duration") != 90*time.Minute {
		t.Errorf("args %+v", args.Values)
	}
	args, err = commands.FromSlash(specs, []string{"config", "jail"}, map[string]any{"channel": someChannel, "role": someRole})
	if err != nil || args.ID("channel") != 700000000000000401 || args.ID("role") != 700000000000000301 {
		t.Errorf("config jail: %v %+v", err, args.Values)
	}
	for _, tc := range []struct {
		path []string
		opts map[string]any
		says string
	}{
		{[]string{"cases", "view"}, map[string]any{}, "/cases view needs the option number: (a whole number"},
		{[]string{"cases", "view"}, map[string]any{"number": float64(1.5)}, "number must be a whole number from 1 to 1000"},
		{[]string{"cases", "view"}, map[string]any{"number": float64(5000)}, "not 5000"},
		{[]string{"cases", "view"}, map[string]any{"number": float64(5), "x": "y"}, `has no option "x"`},
		{[]string{"cases"}, nil, "needs a subcommand: list, view, modify"},
		{[]string{"cases", "v"}, nil, `has no subcommand "v"`},
		{[]string{"nope"}, nil, "is not one of gavel's commands"},
		{[]string{"cases", "modify"}, map[string]any{"number": float64(1), "duration": "1y"}, "duration 1 year is too long: the longest accepted is 1 day"},
	} {
		_, err := commands.FromSlash(specs, tc.path, tc.opts)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.says)) {
			t.Errorf("%v %v: err %v, want %q", tc.path, tc.opts, err, tc.says)
		}
	}
}

func TestSlashDefinition(t *testing.T) {
	specs := testSpecs()
	specs[1].Native = 32
	def := specs[1].SlashDefinition()
	b, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Name    string `json:"name"`
		Perm    string `json:"default_member_permissions"`
		Options []struct {
			Type    int    `json:"type"`
			Name    string `json:"name"`
			Options []struct {
				Type    int    `json:"type"`
				Name    string `json:"name"`
				Options []struct {
					Name     string `json:"name"`
					Required bool   `json:"required"`
				} `json:"options"`
			} `json:"options"`
		} `json:"options"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != "config" || got.Perm != "32" || len(got.Options) != 2 {
		t.Fatalf("definition %s", b)
	}
	ranks := got.Options[0]
	if ranks.Type != commands.OptionSubCommandGroup || ranks.Options[0].Type != commands.OptionSubCommand || ranks.Options[0].Name != "set" {
		t.Fatalf("ranks group %s", b)
	}
	set := ranks.Options[0].Options
	if len(set) != 3 || !set[0].Required || !set[1].Required || set[2].Required {
		t.Errorf("set's options, required first: %s", b)
	}
	jail := got.Options[1].Options[0]
	if jail.Type != commands.OptionChannel {
		t.Errorf("jail's channel option is type %d", jail.Type)
	}
}

func TestSpecUsage(t *testing.T) {
	specs := testSpecs()
	sub, _ := specs[0].Sub("modify")
	if u := sub.Usage("$"); !strings.HasPrefix(u, "$cases modify <number>") || !strings.Contains(u, "[-reason reason]") || !strings.Contains(u, "[-active]") {
		t.Errorf("usage %q", u)
	}
	if u := specs[1].Usage("!"); !strings.Contains(u, "!config ranks set <number> <name> [description…]") || !strings.Contains(u, "!config jail <channel>") {
		t.Errorf("group usage %q", u)
	}
}

// FuzzParseTool: any message either is not a command, or parses, or is a usage error;
// values are always within their parameters' bounds.
func FuzzParseTool(f *testing.F) {
	for _, s := range []string{"$cases", "$cases modify 3 -r x -active no", `$config ranks set 4 "a b" c`, "$cases view -number 5", `$config jail "<#1>`, "$c list -type ban -user 123456789012345678"} {
		f.Add(s)
	}
	specs := testSpecs()
	f.Fuzz(func(t *testing.T, in string) {
		args, ok, err := commands.ParsePrefix(specs, "$", in)
		if !ok {
			if err != nil {
				t.Fatalf("not a command but err %v", err)
			}
			return
		}
		if err != nil {
			if !errors.Is(err, commands.ErrUsage) {
				t.Fatalf("err %v is not a usage error", err)
			}
			return
		}
		for _, p := range args.Spec.Params {
			v, has := args.Values[p.Name]
			if p.Required && !has {
				t.Fatalf("%q: required %s missing", in, p.Name)
			}
			if n, isInt := v.(int64); isInt && p.Kind == commands.KindInt && (p.Min != 0 || p.Max != 0) && (n < int64(p.Min) || n > int64(p.Max)) {
				t.Fatalf("%q: %s = %d out of bounds", in, p.Name, n)
			}
			if s, isStr := v.(string); isStr && (s == "" || p.Max > 0 && len([]rune(s)) > p.Max) {
				t.Fatalf("%q: %s = %q out of bounds", in, p.Name, s)
			}
		}
	})
}

func TestAutocompleteAndQuoted(t *testing.T) {
	spec := (&commands.Spec{Name: "automod", Description: "AutoMod", Subs: []*commands.Spec{
		{Name: "add", Description: "Add", Params: []commands.Param{
			{Name: "rule", Kind: commands.KindString, Required: true, Positional: true, Autocomplete: true, Description: "Rule"},
			{Name: "list", Kind: commands.KindString, Required: true, Positional: true, Autocomplete: true,
				Choices: []string{"keywords", "allow"}, Description: "List"},
			{Name: "entries", Kind: commands.KindString, Required: true, Positional: true, Rest: true, Quoted: true, Description: "Entries"},
			{Name: "plain", Kind: commands.KindString, Description: "Not quoted"},
		}},
	}}).Link()
	b, err := json.Marshal(spec.SlashDefinition())
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Options []struct {
			Options []struct {
				Name         string `json:"name"`
				Autocomplete bool   `json:"autocomplete"`
				Choices      []any  `json:"choices"`
			} `json:"options"`
		} `json:"options"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	opts := got.Options[0].Options
	if !opts[0].Autocomplete || opts[1].Autocomplete || len(opts[1].Choices) != 2 || opts[2].Autocomplete {
		t.Errorf("autocomplete only where no choices are: %s", b)
	}
	args, ok, err := commands.ParsePrefix([]*commands.Spec{spec}, "$", `$automod add "spam links" keywords "free nitro", scam* -plain "a b" c`)
	if !ok || err != nil {
		t.Fatalf("ParsePrefix: %v, %v", ok, err)
	}
	if got := args.String("entries"); got != `"free nitro", scam*` {
		t.Errorf("quoted rest = %q", got)
	}
	if got := args.String("rule"); got != "spam links" {
		t.Errorf("rule = %q", got)
	}
	if got := args.String("plain"); got != "a b c" {
		t.Errorf("unquoted flag = %q", got)
	}
}

// TestRawRest: a Raw parameter takes the rest of the message as typed, line breaks, quotes
// and dash-words included, and is still bounded.
func TestRawRest(t *testing.T) {
	spec := (&commands.Spec{Name: "snippets", Description: "Snippets", Subs: []*commands.Spec{
		{Name: "create", Description: "Create", Params: []commands.Param{
			{Name: "name", Kind: commands.KindString, Required: true, Positional: true, Max: 32, Description: "Name"},
			{Name: "content", Kind: commands.KindString, Required: true, Positional: true, Rest: true, Raw: true, Max: 80, Description: "Text"},
		}},
	}}).Link()
	specs := []*commands.Spec{spec}
	for msg, want := range map[string]string{
		"$snippets create faq   Line one\n\n  - a \"quoted\" -name word\n```go\nx := 1\n```  ": "Line one\n\n  - a \"quoted\" -name word\n```go\nx := 1\n```",
		"$snippets create faq \"starts quoted\" then":                                          "\"starts quoted\" then",
		// After the name, everything is the content, even what reads as a flag.
		"$snippets create faq -content  two  -name spaces": "-content  two  -name spaces",
	} {
		args, ok, err := commands.ParsePrefix(specs, "$", msg)
		if !ok || err != nil {
			t.Errorf("%q: ok=%v err=%v", msg, ok, err)
			continue
		}
		if got := args.String("content"); got != want || args.String("name") != "faq" {
			t.Errorf("%q: content %q name %q; want %q, faq", msg, got, args.String("name"), want)
		}
	}
	if _, _, err := commands.ParsePrefix(specs, "$", "$snippets create faq "+strings.Repeat("x", 81)); err == nil || !strings.Contains(err.Error(), "81 characters long") {
		t.Errorf("over-long raw content: %v", err)
	}
	if _, _, err := commands.ParsePrefix(specs, "$", "$snippets create faq"); err == nil || !strings.Contains(err.Error(), "needs content") {
		t.Errorf("missing raw content: %v", err)
	}
}
