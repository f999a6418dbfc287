package moderation_test

import (
	"testing"

	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/moderation/actions"
)

// TestCatalogueIsConsistent guards the declarations every front-end and the pipeline rely on.
func TestCatalogueIsConsistent(t *testing.T) {
	t.Parallel()
	cat := actions.Catalogue()
	seenCase := map[string]bool{}
	for _, a := range cat.Actions() {
		if !a.Case.Valid() {
			t.Errorf("%s: case type %q", a.Name, a.Case)
		}
		if seenCase[string(a.Case)] {
			t.Errorf("%s: case type %s used twice", a.Name, a.Case)
		}
		seenCase[string(a.Case)] = true
		if a.Native == 0 {
			t.Errorf("%s: no Discord permission for guilds without ranks", a.Name)
		}
		if (a.DM == moderation.DMNone) != (a.DMVerb == "") {
			t.Errorf("%s: DM timing %v with verb %q", a.Name, a.DM, a.DMVerb)
		}
		if a.Removes && a.DM != moderation.DMBefore {
			t.Errorf("%s removes the member but does not DM first", a.Name)
		}
		if a.Inverse != "" {
			inv, ok := cat.Lookup(a.Inverse)
			if !ok || inv.Name != a.Inverse {
				t.Errorf("%s: inverse %q is not an action", a.Name, a.Inverse)
			}
		}
		if len(a.Description) == 0 || len(a.Description) > 100 {
			t.Errorf("%s: description of %d characters (Discord takes 1-100)", a.Name, len(a.Description))
		}
		for _, n := range append([]string{a.Name}, a.Aliases...) {
			got, ok := cat.Lookup(n)
			if !ok || got != a {
				t.Errorf("lookup %q does not find %s", n, a.Name)
			}
		}
		if _, ok := a.Flag(moderation.FlagDuration); ok {
			use, _ := a.Flag(moderation.FlagDuration)
			if use.Bounds.Min <= 0 || use.Bounds.Max <= use.Bounds.Min {
				t.Errorf("%s: duration bounds %+v", a.Name, use.Bounds)
			}
		}
	}
	if a, ok := cat.Lookup("MUTE"); !ok || a.Name != "timeout" {
		t.Error("aliases are not case-insensitive")
	}
}
