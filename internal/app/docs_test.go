package app_test

import (
	"os"
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/tools"
)

// TestCommandsDocumented keeps docs/commands.md complete: every action with its aliases and
// flags, and every tool command and subcommand, appears in it.
func TestCommandsDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/commands.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, a := range actions.Catalogue().Actions() {
		for _, name := range append([]string{a.Name}, a.Aliases...) {
			if !strings.Contains(doc, "`"+name+"`") {
				t.Errorf("docs/commands.md does not mention `%s` (action %s)", name, a.Name)
			}
		}
		for _, f := range a.Flags {
			spec := f.ID.Spec()
			if !strings.Contains(doc, "-"+spec.Name) {
				t.Errorf("docs/commands.md does not mention -%s (of %s)", spec.Name, a.Name)
			}
		}
	}
	set := tools.NewSet(&tools.Env{})
	for _, name := range set.Names() {
		if !strings.Contains(doc, name) {
			t.Errorf("docs/commands.md does not mention %q", name)
		}
	}
	for _, s := range set.Specs() {
		if !strings.Contains(doc, "## "+s.Name) {
			t.Errorf("docs/commands.md has no section for %s", s.Name)
		}
	}
}
