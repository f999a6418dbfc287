package actions_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/modlog"
)

// Every case type has an action that declares all of its behaviour, and the declarations
// agree with each other: a new case type, or an action missing a step, fails here.
func TestEveryCaseTypeHasItsBehaviour(t *testing.T) {
	cat := actions.Catalogue()
	for _, typ := range cases.Types() {
		a, ok := cat.ByCase(typ)
		if !ok {
			t.Errorf("case type %s has no action in moderation/actions", typ)
			continue
		}
		if err := a.Complete(); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
		if a.Check == nil || a.Observe == nil || a.Act == nil || a.Reconcile == nil {
			t.Errorf("%s: a step is missing (check %t, observe %t, act %t, reconcile %t)", typ,
				a.Check != nil, a.Observe != nil, a.Act != nil, a.Reconcile != nil)
		}
		if !slices.Contains(modlog.Tones(), a.Tone) {
			t.Errorf("%s: tone %q is not one the mod log colours by", typ, a.Tone)
		}
		// An action that calls Discord says which permission gavel needs for it; only a
		// record (RecordOnly) needs none.
		recordOnly := reflect.ValueOf(a.Act).Pointer() == reflect.ValueOf(moderation.RecordOnly).Pointer()
		if recordOnly == (a.BotNeeds != 0) {
			t.Errorf("%s: record only %t, yet gavel's permission is %q", typ, recordOnly, a.BotNeeds)
		}
		if a.Name != "" {
			if a.Native == 0 {
				t.Errorf("%s: the command names no Discord permission for guilds without ranks", a.Name)
			}
			if got, ok := cat.Lookup(a.Name); !ok || got != a {
				t.Errorf("%s: the command is not looked up by its name", a.Name)
			}
			if (a.DM == moderation.DMNone) != (a.DMVerb == "") {
				t.Errorf("%s: DM timing %v with the wording %q", a.Name, a.DM, a.DMVerb)
			}
		}
		if a.Inverse != "" {
			inv, ok := cat.Lookup(a.Inverse)
			if !ok {
				t.Errorf("%s: inverse %q is not a command", typ, a.Inverse)
			} else if a.Expiry != "" && !slices.Contains(inv.Supersedes, a.Expiry) {
				t.Errorf("%s: its inverse %s does not end its expiry %q", typ, inv.Name, a.Expiry)
			}
		}
		if a.Expiry != "" {
			if a.LiftReason == "" {
				t.Errorf("%s: expires (%s) without a lift reason", typ, a.Expiry)
			}
			if a.Inverse == "" {
				t.Errorf("%s: expires without an inverse to lift it", typ)
			}
			if !slices.Contains(a.Supersedes, a.Expiry) {
				t.Errorf("%s: a later %s does not replace its expiry %s", typ, typ, a.Expiry)
			}
			if !slices.Contains(expiry.Kinds(), a.Expiry) {
				t.Errorf("%s: expiry %q is not a kind the poller runs", typ, a.Expiry)
			}
		}
		if a.NonMember != "" {
			if _, ok := cat.ByCase(a.NonMember); !ok {
				t.Errorf("%s: records %s for non-members, which has no action", typ, a.NonMember)
			}
		}
	}
	if n := len(cat.All()); n != len(cases.Types()) {
		t.Errorf("%d actions for %d case types", n, len(cases.Types()))
	}
}

// A catalogue refuses an action that lacks a step, naming what it lacks.
func TestCatalogueRefusesIncompleteActions(t *testing.T) {
	a := actions.Warn()
	a.Reconcile = nil
	err := a.Complete()
	if err == nil || !strings.Contains(err.Error(), "Reconcile") {
		t.Fatalf("Complete() = %v; want it to name Reconcile", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("NewCatalogue accepted an action without Reconcile")
		}
	}()
	moderation.NewCatalogue(a)
}
