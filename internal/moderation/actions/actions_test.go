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
			// A moderator told that the expiry gave up is told what to do, for every kind
			// the action schedules; a lift names the command that does it by hand.
			if a.ByHand == nil {
				t.Errorf("%s: expires without saying what to do by hand when its expiry gives up", typ)
			} else {
				for _, k := range []expiry.Kind{a.Expiry, a.Renew} {
					if k == "" {
						continue
					}
					todo := a.ByHand(k, 42)
					if todo == "" || (a.Expire == nil && !strings.Contains(todo, "`"+a.Inverse+" 42`")) {
						t.Errorf("%s: by hand after its %s gave up: %q", typ, k, todo)
					}
				}
			}
			if rule := cat.ExpiryRules()[typ]; rule.Lift != a.Expiry || rule.Renew != a.Renew {
				t.Errorf("%s: the schedule's rule %+v is not the action's (%s, renewed by %q)", typ, rule, a.Expiry, a.Renew)
			}
		} else {
			if a.ByHand != nil || a.Expire != nil || a.Renew != "" {
				t.Errorf("%s: never expires, yet declares how its expiry runs", typ)
			}
			if _, ok := cat.ExpiryRules()[typ]; ok {
				t.Errorf("%s: never expires, yet the schedule has a rule for it", typ)
			}
		}
		// An action Discord applies for a bounded time renews itself: its own expiry runs
		// the renewal, and a later case of its type replaces it.
		if a.Renew != "" {
			if a.Expire == nil {
				t.Errorf("%s: renewed (%s) without an expiry of its own to renew it", typ, a.Renew)
			}
			if !slices.Contains(expiry.Kinds(), a.Renew) || !slices.Contains(a.Supersedes, a.Renew) {
				t.Errorf("%s: renewal %q is not a kind the poller runs that a later %s replaces", typ, a.Renew, typ)
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

// The declarations the schedule, the mod log and the give-up warning read are required too.
func TestCatalogueRefusesUndeclaredExpiryAndTone(t *testing.T) {
	for what, strip := range map[string]func(a *moderation.Action){
		"ByHand": func(a *moderation.Action) { a.ByHand = nil },
		"Expire": func(a *moderation.Action) { a.Expire = nil },
		"Tone":   func(a *moderation.Action) { a.Tone = "" },
	} {
		a := actions.Timeout()
		strip(a)
		if err := a.Complete(); err == nil || !strings.Contains(err.Error(), what) {
			t.Errorf("a timeout without %s: Complete() = %v; want it named", what, err)
		}
	}
}
