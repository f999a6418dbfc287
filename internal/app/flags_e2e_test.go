package app_test

import (
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/cases"
)

// TestBooleanFlagValue: a boolean flag reads a yes/no after it in the prefix form, as every
// command's flags do: "-silent no" is not silent, and "no" is not part of the reason.
func TestBooleanFlagValue(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cs, _ := w.services(t)
	w.start(t)
	target := "<@" + w.target.String() + ">"

	w.s.SendMessage(w.general, w.mod, "$warn "+target+" spam -silent no")
	var reply string
	waitFor(t, "the reply to -silent no", func() bool {
		m, ok := w.botReply(w.general, "Case #1")
		reply = m.Content
		return ok
	})
	if !strings.Contains(reply, "They were messaged about it.") {
		t.Errorf("reply %q: the user was not messaged", reply)
	}
	dm, ok := w.s.DMChannel(w.target)
	if !ok {
		t.Fatal("no DM channel with the user")
	}
	// The DM is an embed: its title says what happened, its description is the reason.
	if msgs := w.s.Messages(dm); len(msgs) != 1 || len(msgs[0].Embeds) != 1 ||
		!strings.Contains(string(msgs[0].Embeds[0]), "You have been warned") || !strings.Contains(string(msgs[0].Embeds[0]), `"description":"spam"`) {
		t.Errorf("DMs to the user: %d; want one, the warning with the reason spam", len(msgs))
	}
	c, ok := caseOf(t, cs, w.guild, w.target, cases.Warn)
	if !ok || c.Reason != "spam" {
		t.Fatalf("case %+v (found %v); want a warning with the reason %q", c, ok, "spam")
	}

	w.s.SendMessage(w.general, w.mod, "$warn "+target+" -s yes spam again")
	waitFor(t, "the reply to -s yes", func() bool {
		m, ok := w.botReply(w.general, "Case #2")
		reply = m.Content
		return ok
	})
	if !strings.Contains(reply, "They were not messaged (-silent).") {
		t.Errorf("reply %q: -s yes was not silent", reply)
	}
	if msgs := w.s.Messages(dm); len(msgs) != 1 {
		t.Errorf("%d DMs after a silent warning; want still 1", len(msgs))
	}
	if c, ok := caseOf(t, cs, w.guild, w.target, cases.Warn); !ok || c.Number != 2 || c.Reason != "spam again" {
		t.Errorf("latest case %+v (found %v); want #2 with the reason %q", c, ok, "spam again")
	}
}
