package commands_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/tools"
)

const user, other = "123456789012345678", "223456789012345678"

// actionTree is the catalogue's actions as commands.
func actionTree(t testing.TB) *commands.Tree {
	t.Helper()
	tree, err := commands.NewTree(commands.ActionSpecs(actions.Catalogue())...)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// parseAction reads a prefix command of the tree as an action's invocation.
func parseAction(tree *commands.Tree, content string) (commands.Invocation, bool, error) {
	args, ok, err := tree.ParsePrefix("$", content)
	if !ok || err != nil {
		return commands.Invocation{}, ok, err
	}
	inv, err := commands.InvocationOf(args)
	return inv, true, err
}

// slashAction reads a slash command of the tree as an action's invocation.
func slashAction(tree *commands.Tree, name string, opts map[string]any) (commands.Invocation, error) {
	args, err := tree.FromSlash([]string{name}, opts)
	if err != nil {
		return commands.Invocation{}, err
	}
	return commands.InvocationOf(args)
}

func TestParseActions(t *testing.T) {
	tree := actionTree(t)
	type want struct {
		action   string
		target   commands.Target
		reason   string
		silent   bool
		purge    int
		duration time.Duration
	}
	good := map[string]want{
		"$ban <@" + user + "> spamming links -p 1 -s": {"ban", commands.Target{ID: 123456789012345678}, "spamming links", true, 1, 0},
		"$B <@!" + user + "> -purge 7 raid --silent":  {"ban", commands.Target{ID: 123456789012345678}, "raid", true, 7, 0},
		"$ban " + user: {"ban", commands.Target{ID: 123456789012345678}, commands.DefaultReason, false, 0, 0},
		"$tempban " + user + " -d 2 weeks spamming":     {"tempban", commands.Target{ID: 123456789012345678}, "spamming", false, 0, 2 * duration.Week},
		"$tb " + user + " raid -duration 1w2d3h -p 2":   {"tempban", commands.Target{ID: 123456789012345678}, "raid", false, 2, duration.Week + 2*duration.Day + 3*time.Hour},
		"$timeout " + user + " -t 1.5h -r calm down":    {"timeout", commands.Target{ID: 123456789012345678}, "calm down", false, 0, 90 * time.Minute},
		"$mute " + user + " -d 10m   too   many spaces": {"timeout", commands.Target{ID: 123456789012345678}, "too many spaces", false, 0, 10 * time.Minute},
		"$warn " + user + " don't -_- do that":          {"warn", commands.Target{ID: 123456789012345678}, "don't -_- do that", false, 0, 0},
		"$unban somebody#0 appeal accepted":             {"unban", commands.Target{Name: "somebody#0"}, "appeal accepted", false, 0, 0},
		"$unban " + user + " --reason appeal":           {"unban", commands.Target{ID: 123456789012345678}, "appeal", false, 0, 0},
		"$jail " + user + " -d 1 day and 12 hours cool": {"jail", commands.Target{ID: 123456789012345678}, "cool", false, 0, 36 * time.Hour},
		"$jail " + user + " indefinitely":               {"jail", commands.Target{ID: 123456789012345678}, "indefinitely", false, 0, 0},
		// A dash-word in quotes is text; -name=value is a flag with its value.
		"$warn " + user + ` be nice "-slient"`:    {"warn", commands.Target{ID: 123456789012345678}, `be nice "-slient"`, false, 0, 0},
		"$ban " + user + " -p=2 --silent=no spam": {"ban", commands.Target{ID: 123456789012345678}, "spam", false, 2, 0},
		"$timeout " + user + " --duration=1h-15m": {"timeout", commands.Target{ID: 123456789012345678}, commands.DefaultReason, false, 0, 45 * time.Minute},
		// A second user after the reason's first word is part of the reason; a quoted one too.
		"$ban " + user + " raid with <@" + other + ">": {"ban", commands.Target{ID: 123456789012345678}, "raid with <@" + other + ">", false, 0, 0},
		"$ban " + user + ` "<@` + other + `>" raid`:    {"ban", commands.Target{ID: 123456789012345678}, `"<@` + other + `>" raid`, false, 0, 0},
		// A boolean flag reads an optional yes/no after it, as every command's flags do.
		"$warn <@" + user + "> spam -silent no":         {"warn", commands.Target{ID: 123456789012345678}, "spam", false, 0, 0},
		"$warn <@" + user + "> spam -s yes":             {"warn", commands.Target{ID: 123456789012345678}, "spam", true, 0, 0},
		"$warn <@" + user + "> -s off spam":             {"warn", commands.Target{ID: 123456789012345678}, "spam", false, 0, 0},
		"$warn <@" + user + "> -quiet spam":             {"warn", commands.Target{ID: 123456789012345678}, "spam", true, 0, 0},
		"$warn " + user + ` said "stop it" twice`:       {"warn", commands.Target{ID: 123456789012345678}, `said "stop it" twice`, false, 0, 0},
		"$warn " + user + ` said "stop", then ("left")`: {"warn", commands.Target{ID: 123456789012345678}, `said "stop", then ("left")`, false, 0, 0},
		"$ban -s " + user + " flags before the user":    {"ban", commands.Target{ID: 123456789012345678}, "flags before the user", true, 0, 0},
		"$unban @somebody":                              {"unban", commands.Target{Name: "somebody"}, commands.DefaultReason, false, 0, 0},
	}
	for in, w := range good {
		inv, ok, err := parseAction(tree, in)
		if err != nil || !ok {
			t.Errorf("%q: ok %v, err %v", in, ok, err)
			continue
		}
		got := want{inv.Action.Name, inv.Target, inv.Reason, inv.Silent, inv.PurgeDays, inv.Duration}
		if diff := cmp.Diff(w, got, cmp.AllowUnexported(want{})); diff != "" {
			t.Errorf("%q (-want +got):\n%s", in, diff)
		}
	}
	// A space after the prefix is talk, not a command (issue 12: "$ ban" ran a ban).
	for _, in := range []string{"hello", "$", "$  ", "$dance " + user, "!ban " + user, "ban " + user, "$ ban " + user, "$\tban " + user, "$\u00a0ban " + user} {
		if _, ok, err := parseAction(tree, in); ok || err != nil {
			t.Errorf("%q is not a moderation command: ok %v err %v", in, ok, err)
		}
	}
	bad := map[string]string{
		"$ban":                                            "ban needs user: a user: a mention (@name) or an id",
		"$ban -s":                                         "ban needs user",
		"$kick bob":                                       `user must be a user: a mention (@name) or an id, not "bob"`,
		"$ban " + user + " -p 8":                          "purge must be a whole number from 0 to 7, not 8",
		"$ban " + user + " -p x":                          `purge must be a whole number from 0 to 7, not "x"`,
		"$ban " + user + " -p":                            "-purge needs a value: a whole number from 0 to 7",
		"$ban " + user + " -s -s":                         "-silent is given twice",
		"$tempban " + user + " spam":                      "tempban needs -duration: a duration",
		"$tempban " + user + " -d soon":                   `"soon" is not a duration`,
		"$tempban " + user + " -d 90":                     `"90" has no unit`,
		"$timeout " + user + " -d 2y":                     "duration 2 years is too long: the longest accepted is 1 year",
		"$timeout " + user + " -d 30s":                    "duration 30 seconds is too short: the shortest accepted is 1 minute",
		"$warn " + user + " " + strings.Repeat("x", 2001): "reason is 2001 characters long; it must be text of 1 to 2000 characters",
		"$warn " + user + " spam --reason more":           "-reason is given twice",
		// One target per command (issue 12): the second user is not the reason's first word.
		"$ban <@" + user + "> <@" + other + "> raid": "One target per command: <@" + other + "> is a second user",
		"$ban " + user + " " + other + " raid":       "run ban once for each of them",
		"$kick " + user + " -s " + other:             "one target per command",
		"$unban " + user + " " + other:               "one target per command",
		// Unknown flags and flags the action does not take are refused, not made reason text.
		"$kick " + user + " rude -d 1h":                    "kick takes no -duration (-d); kick takes -user, -reason (-r), -silent (-s, -quiet)",
		"$warn " + user + " -p 3":                          "warn takes no -purge (-p)",
		"$warn " + user + " be nice -slient":               "-slient is not a flag of warn; did you mean -silent?",
		"$warn " + user + " --bogus=3":                     `--bogus=3 is not a flag of warn; warn takes -user, -reason (-r), -silent (-s, -quiet). Words in quotes are kept as text: "--bogus=3"`,
		"$warn " + user + " -silent=maybe":                 `-silent must be yes or no (true/false, on/off), not "maybe"`,
		"$warn " + user + " " + strings.Repeat("-x", 3000): "is not a flag of warn",
	}
	for in, want := range bad {
		_, ok, err := parseAction(tree, in)
		var ue *commands.UsageError
		if !ok || !errors.As(err, &ue) || !errors.Is(err, commands.ErrUsage) || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(want)) || !strings.Contains(err.Error(), "Usage: $") {
			t.Errorf("%.60q: err %v; want a usage error containing %q", in, err, want)
		}
	}
}

func TestActionUsage(t *testing.T) {
	tree := actionTree(t)
	for name, want := range map[string]string{
		"ban":     "$ban <user> [reason…] [-purge 0-7] [-silent]",
		"tempban": "$tempban <user> [reason…] -duration duration [-purge 0-7] [-silent]",
		"unban":   "$unban <user> [reason…]",
		"jail":    "$jail <user> [reason…] [-duration duration] [-silent]",
	} {
		var spec *commands.Spec
		for _, s := range tree.Specs() {
			if s.Name == name {
				spec = s
			}
		}
		if got := spec.Usage("$"); got != want {
			t.Errorf("Usage(%s) = %q, want %q", name, got, want)
		}
	}
}

// TestPrefixAndSlashAgree: the same request written both ways gives the same invocation, and
// the same bad value is refused both ways.
func TestPrefixAndSlashAgree(t *testing.T) {
	tree := actionTree(t)
	cases := []struct {
		prefix string
		name   string
		opts   map[string]any
	}{
		{"$ban " + user + " spam -p 2 -s", "ban", map[string]any{"user": user, "reason": "spam", "purge": float64(2), "silent": true}},
		{"$tempban " + user + " raid -d 3d", "tempban", map[string]any{"user": user, "reason": "raid", "duration": "3d"}},
		{"$timeout " + user + " -d 90m", "timeout", map[string]any{"user": user, "duration": "90m"}},
		{"$unban someone sorry", "unban", map[string]any{"user": "someone", "reason": "sorry"}},
		{"$warn " + user + " spam -silent no", "warn", map[string]any{"user": user, "reason": "spam", "silent": false}},
		{"$warn " + user + " -r spam", "warn", map[string]any{"user": user, "reason": "reason: spam"}},
	}
	for _, c := range cases {
		p, ok, err := parseAction(tree, c.prefix)
		if err != nil || !ok {
			t.Fatalf("%q: %v", c.prefix, err)
		}
		s, err := slashAction(tree, c.name, c.opts)
		if err != nil {
			t.Fatalf("/%s %v: %v", c.name, c.opts, err)
		}
		if diff := cmp.Diff(p, s, cmpopts.EquateComparable(&moderation.Action{})); diff != "" {
			t.Errorf("%q vs /%s (-prefix +slash):\n%s", c.prefix, c.name, diff)
		}
	}
	refused := []struct {
		prefix string
		name   string
		opts   map[string]any
		want   string
	}{
		{"$ban " + user + " -p 9", "ban", map[string]any{"user": user, "purge": float64(9)}, "purge must be a whole number from 0 to 7, not 9"},
		{"$timeout " + user + " -d 29 years", "timeout", map[string]any{"user": user, "duration": "29 years"}, "too long"},
	}
	for _, r := range refused {
		_, _, perr := parseAction(tree, r.prefix)
		_, serr := slashAction(tree, r.name, r.opts)
		if perr == nil || serr == nil || !strings.Contains(strings.ToLower(perr.Error()), r.want) || !strings.Contains(strings.ToLower(serr.Error()), r.want) {
			t.Errorf("%q / %v: prefix %v, slash %v; want both to contain %q", r.prefix, r.opts, perr, serr, r.want)
		}
	}
	// A missing option is named as each front end writes it (issue 12: slash refusals said
	// -duration, which nobody can type in a slash command).
	_, _, perr := parseAction(tree, "$tempban "+user)
	_, serr := slashAction(tree, "tempban", map[string]any{"user": user})
	if perr == nil || !strings.Contains(perr.Error(), "tempban needs -duration: a duration") {
		t.Errorf("$tempban without a duration: %v", perr)
	}
	if serr == nil || !strings.Contains(serr.Error(), "/tempban needs the option duration: (a duration") || strings.Contains(serr.Error(), "-duration") {
		t.Errorf("/tempban without a duration: %v", serr)
	}
	if _, err := slashAction(tree, "b", map[string]any{"user": user}); err == nil || !strings.Contains(err.Error(), "/b is not one of gavel's commands") {
		t.Errorf("a slash command by its prefix alias: %v", err)
	}
	if _, err := slashAction(tree, "ban", map[string]any{"user": user, "duration": "1d"}); err == nil || !strings.Contains(err.Error(), `has no option "duration"`) {
		t.Errorf("unknown slash option: %v", err)
	}
}

// TestSlashDefinitionsRegister sends the definitions of the whole tree, actions and tools,
// to the fake's bulk-overwrite endpoint, which validates them against Discord's OpenAPI spec
// and Discord's rules.
func TestSlashDefinitionsRegister(t *testing.T) {
	tree, err := commands.NewTree(append(actionTree(t).Specs(), tools.NewSet(&tools.Env{}).Specs()...)...)
	if err != nil {
		t.Fatal(err)
	}
	defs := tree.Slash()
	if want := len(actions.Catalogue().Actions()) + len(tools.NewSet(&tools.Env{}).Specs()); len(defs) != want {
		t.Fatalf("%d definitions for %d commands", len(defs), want)
	}
	s := discordtest.New(t)
	body, err := json.Marshal(defs)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/applications/%s/commands", s.APIURL(), s.BotID()), bytes.NewReader(body))
	req.Header.Set("Authorization", "Bot "+s.Token())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&e)
		t.Fatalf("bulk overwrite: %d %v", resp.StatusCode, e)
	}
	got := s.Commands(0)
	if len(got) != len(defs) {
		t.Fatalf("the fake holds %d commands, want %d", len(got), len(defs))
	}
	open := map[string]bool{}
	for _, sp := range tree.Specs() {
		open[sp.Name] = sp.Open
	}
	for _, d := range defs {
		// Only a command every member may use (snippets) is shown to everyone.
		if d.DefaultMemberPermissions == nil && !open[d.Name] {
			t.Errorf("/%s is visible to everyone by default", d.Name)
		}
		if d.DefaultMemberPermissions != nil && open[d.Name] {
			t.Errorf("/%s is open to every member, yet hidden from those without %s", d.Name, *d.DefaultMemberPermissions)
		}
	}
}

// FuzzParseActions: any message either is not a command, or is a usage error with the usage
// line, or is an invocation within the action's bounds.
func FuzzParseActions(f *testing.F) {
	tree := actionTree(f)
	for _, s := range []string{"$ban <@123456789012345678> spam -p 1 -s", "$tempban 123456789012345678 -d 2 weeks x", "$unban name", "$ban", "$warn 123456789012345678 -s -s", "$$ban", "$jail 123456789012345678 -d", "$warn 123456789012345678 spam -silent no", `$warn 123456789012345678 "a b" -r c`,
		"$ban <@123456789012345678> <@223456789012345678> raid", "$kick 123456789012345678 rude -d 1h", "$warn 123456789012345678 -slient",
		"$warn 123456789012345678 --bogus=3", `$warn 123456789012345678 "-x" y`, "$ban 123456789012345678 -p=3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		inv, ok, err := parseAction(tree, in)
		if err != nil {
			if !ok || !errors.Is(err, commands.ErrUsage) || !strings.Contains(err.Error(), "Usage: $") {
				t.Fatalf("%q: error %v without usage (ok %v)", in, err, ok)
			}
			// What the moderator is told quotes excerpts of the input, never all of it.
			if n := len([]rune(err.Error())); n > 1000 {
				t.Fatalf("%.80q: a usage error of %d characters", in, n)
			}
			return
		}
		if !ok {
			return
		}
		if inv.Target.ID == 0 && inv.Target.Name == "" {
			t.Fatalf("%q: no target", in)
		}
		if inv.Reason == "" || len([]rune(inv.Reason)) > 2000 {
			t.Fatalf("%q: reason %q", in, inv.Reason)
		}
		// One target per command: the reason never starts with a second user, unless it was
		// given explicitly (-reason, or a "reason:" marker).
		if first, _, _ := strings.Cut(inv.Reason, " "); !strings.ContainsAny(in, "-?!:") {
			if _, isUser := commands.ParseUserRef(first); isUser {
				t.Fatalf("%q: the reason %q starts with a second user", in, inv.Reason)
			}
		}
		if inv.PurgeDays < 0 || inv.PurgeDays > 7 {
			t.Fatalf("%q: purge %d", in, inv.PurgeDays)
		}
		if use, ok := inv.Action.Flag(moderation.FlagDuration); ok {
			if use.Required && inv.Duration == 0 {
				t.Fatalf("%q: required duration missing", in)
			}
			if inv.Duration != 0 && use.Bounds.Check(inv.Duration) != nil {
				t.Fatalf("%q: duration %v out of bounds", in, inv.Duration)
			}
		} else if inv.Duration != 0 {
			t.Fatalf("%q: a duration on an action without one", in)
		}
	})
}
