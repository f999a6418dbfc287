package commands_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/commands"
)

func TestToolRoute(t *testing.T) {
	spec := (&commands.Spec{
		Name: "things", Default: "list",
		Route: func(word string) (string, error) {
			switch word {
			case "7":
				return "view", nil
			case "bad":
				return "", errors.New("bad is not a thing")
			case "lost":
				return "nowhere", nil
			}
			return "", nil
		},
		Subs: []*commands.Spec{
			{Name: "list", Params: []commands.Param{{Name: "word", Kind: commands.KindString, Positional: true}}},
			{Name: "view", Params: []commands.Param{{Name: "n", Kind: commands.KindInt, Positional: true, Required: true}}},
		},
	}).Link()
	specs := []*commands.Spec{spec}
	for in, want := range map[string]string{"!things": "things list", "!things 7": "things view", "!things other": "things list",
		"!things view 8": "things view", "!things list 7": "things list"} {
		args, ok, err := commands.ParsePrefix(specs, "!", in)
		if !ok || err != nil || args.Command() != want {
			t.Errorf("%s: %v, %v, %v; want %s", in, args.Command(), ok, err, want)
		}
	}
	if args, _, _ := commands.ParsePrefix(specs, "!", "!things 7"); args.Int("n") != 7 {
		t.Errorf("the routed word did not reach the subcommand: %+v", args.Values)
	}
	_, _, err := commands.ParsePrefix(specs, "!", "!things bad")
	var usage *commands.UsageError
	if !errors.As(err, &usage) || usage.Problem != "bad is not a thing" || !strings.Contains(usage.Usage, "!things view <n>") {
		t.Errorf("a refused route: %v", err)
	}
	if _, ok, err := commands.ParsePrefix(specs, "!", "!things lost"); !ok || err == nil || errors.As(err, &usage) {
		t.Errorf("a route to no subcommand is gavel's bug, not a usage error: %v", err)
	}
}
