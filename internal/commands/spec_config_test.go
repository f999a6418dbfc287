package commands

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// settingsSpec has what the config command needs of the parser: a Rest parameter followed by
// another positional one, and parameters that can say none.
func settingsSpec() *Spec {
	return (&Spec{Name: "settings", Subs: []*Spec{
		{Name: "require", Params: []Param{
			{Name: "command", Kind: KindString, Required: true, Positional: true, Rest: true, Max: 100},
			{Name: "rank", Kind: KindInt, Required: true, Positional: true, Min: 0, Max: 10},
		}},
		{Name: "log", Params: []Param{
			{Name: "which", Kind: KindString, Required: true, Positional: true, Choices: []string{"modlog", "auditlog"}},
			{Name: "channel", Kind: KindChannel, Required: true, Positional: true, Clear: true},
		}},
		{Name: "role", Params: []Param{
			{Name: "role", Kind: KindRole, Required: true, Positional: true, Clear: true},
		}},
	}}).Link()
}

func TestParseToolRestThenPositional(t *testing.T) {
	specs := []*Spec{settingsSpec()}
	for _, tc := range []struct {
		in   string
		want map[string]any
		err  string
	}{
		{in: "$settings require ban 3", want: map[string]any{"command": "ban", "rank": int64(3)}},
		{in: "$settings require cases modify 4", want: map[string]any{"command": "cases modify", "rank": int64(4)}},
		{in: `$settings require "cases modify" 4`, want: map[string]any{"command": "cases modify", "rank": int64(4)}},
		{in: "$settings require config ranks set 10", want: map[string]any{"command": "config ranks set", "rank": int64(10)}},
		{in: "$settings require -rank 2 cases list", want: map[string]any{"command": "cases list", "rank": int64(2)}},
		{in: "$settings require ban", err: "needs rank: a whole number from 0 to 10"},
		{in: "$settings require cases modify", err: `rank must be a whole number from 0 to 10, not "modify"`},
		{in: "$settings require ban 11", err: "rank must be a whole number from 0 to 10, not 11"},
		{in: "$settings require", err: "needs command"},
	} {
		args, ok, err := ParsePrefix(specs, "$", tc.in)
		if !ok {
			t.Errorf("%q: not recognised", tc.in)
			continue
		}
		if tc.err != "" {
			var usage *UsageError
			if !errors.As(err, &usage) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v; want a usage error containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, args.Values); diff != "" {
			t.Errorf("%q: values (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestClearableParams(t *testing.T) {
	specs := []*Spec{settingsSpec()}
	const ch = "712345678901234567"
	for in, want := range map[string]map[string]any{
		"$settings log modlog <#" + ch + ">": {"which": "modlog", "channel": int64(712345678901234567)},
		"$settings log AuditLog none":        {"which": "auditlog", "channel": int64(0)},
		"$settings role NONE":                {"role": int64(0)},
		"$settings role <@&" + ch + ">":      {"role": int64(712345678901234567)},
	} {
		args, _, err := ParsePrefix(specs, "$", in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if diff := cmp.Diff(want, args.Values); diff != "" {
			t.Errorf("%q: values (-want +got):\n%s", in, diff)
		}
	}
	if _, _, err := ParsePrefix(specs, "$", "$settings log modlog general"); err == nil || !strings.Contains(err.Error(), "or none to clear it") {
		t.Errorf("a bad channel: err = %v; want one that says none is accepted", err)
	}
	if u := specs[0].Subs[1].Usage("$"); u != "$settings log <which> <#channel|none>" {
		t.Errorf("usage = %q", u)
	}

	// The slash form: a picker, or clear:true, not both, and one of them.
	args, err := FromSlash(specs, []string{"settings", "log"}, map[string]any{"which": "modlog", "clear": true})
	if err != nil || args.Values["channel"] != int64(0) {
		t.Errorf("clear:true = %v, %v; want channel 0", args.Values, err)
	}
	args, err = FromSlash(specs, []string{"settings", "log"}, map[string]any{"which": "modlog", "channel": ch, "clear": false})
	if err != nil || args.Values["channel"] != int64(712345678901234567) {
		t.Errorf("a channel with clear:false = %v, %v", args.Values, err)
	}
	if _, err := FromSlash(specs, []string{"settings", "log"}, map[string]any{"which": "modlog", "channel": ch, "clear": true}); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("both: err = %v", err)
	}
	if _, err := FromSlash(specs, []string{"settings", "role"}, map[string]any{}); err == nil || !strings.Contains(err.Error(), "clear:true") {
		t.Errorf("neither: err = %v", err)
	}

	def := specs[0].SlashDefinition()
	var log *SlashOption
	for _, o := range def.Options {
		if o.Name == "log" {
			log = o
		}
	}
	if log == nil {
		t.Fatal("no log subcommand in the slash definition")
	}
	var names []string
	for _, o := range log.Options {
		names = append(names, o.Name)
		if o.Name == "channel" && o.Required {
			t.Error("the channel picker is required, so clear:true could not be used alone")
		}
	}
	if diff := cmp.Diff([]string{"which", "channel", "clear"}, names); diff != "" {
		t.Errorf("log options (-want +got):\n%s", diff)
	}
}

func FuzzParseSettings(f *testing.F) {
	for _, s := range []string{"$settings require cases modify 4", `$settings require "a b" 1`, "$settings log jail none",
		"$settings role <@&712345678901234567>", "$settings", "$settings require -rank", `$settings require "`} {
		f.Add(s)
	}
	specs := []*Spec{settingsSpec()}
	f.Fuzz(func(t *testing.T, in string) {
		args, ok, err := ParsePrefix(specs, "$", in)
		if !ok || err != nil {
			return
		}
		if args.Spec == nil || args.Spec.Root() != specs[0] {
			t.Fatalf("%q parsed to spec %v", in, args.Spec)
		}
		for _, p := range args.Spec.Params {
			if p.Required && !args.Has(p.Name) {
				t.Fatalf("%q: required %s missing from %v", in, p.Name, args.Values)
			}
		}
		if r, ok := args.Values["rank"].(int64); ok && (r < 0 || r > 10) {
			t.Fatalf("%q: rank %d out of bounds", in, r)
		}
	})
}
