package app_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/polls"
	"github.com/gavelbot/gavel/internal/upkeep"
)

// handledPolls records what upkeep did with each poll, in order.
type handledPolls struct {
	mu  sync.Mutex
	got []polls.Outcome
}

func (h *handledPolls) observe(x upkeep.Handled) {
	if x.Kind != upkeep.KindPoll {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, x.Poll)
}

// wait waits for the n-th poll to be handled and returns what was done with it.
func (h *handledPolls) wait(t *testing.T, n int) polls.Outcome {
	t.Helper()
	var out polls.Outcome
	waitFor(t, "poll handled", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.got) >= n {
			out = h.got[n-1]
			return true
		}
		return false
	})
	return out
}

// pollDMs are the DMs gavel sent user about their polls.
func pollDMs(w *world, user discordtest.ID) []string {
	ch, ok := w.s.DMChannel(user)
	if !ok {
		return nil
	}
	var out []string
	for _, m := range w.s.Messages(ch) {
		if m.AuthorID == w.s.BotID() && strings.Contains(m.Content, "Your poll in") {
			out = append(out, m.Content)
		}
	}
	return out
}

func alive(w *world, channel, message discordtest.ID) bool {
	for _, m := range w.s.Messages(channel) {
		if m.ID == message {
			return true
		}
	}
	return false
}

// TestPollbanDeletesPolls: a poll-banned member's polls are deleted at once, each deletion
// a row of the POLLBAN case's history; the member is told why at most once a minute (on
// the injected clock); a lift lets them poll again; and a poll ban recorded before gavel
// started (another run) is enforced from the database.
func TestPollbanDeletesPolls(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cs, _ := w.services(t)
	ctx := context.Background()
	// A poll ban from an earlier run: the set of poll-banned members is loaded from the cases.
	earlier, err := cs.Create(ctx, cases.New{GuildID: discord.GuildID(w.guild), UserID: discord.UserID(w.other), ModeratorID: discord.UserID(w.mod),
		Type: cases.Pollban, Reason: "poll spam last week", Status: cases.Active})
	if err != nil {
		t.Fatal(err)
	}
	// gavel needs Manage Messages to delete a member's message.
	w.s.EditRole(w.guild, w.botRole, func(r *discordtest.Role) { r.Permissions |= discordtest.PermManageMessages })
	clk := clock.NewManual(time.Now())
	handled := &handledPolls{}
	w.start(t, app.WithClock(clk), app.WithUpkeepObserver(handled.observe))

	// Before any poll ban, a poll stays.
	free := w.s.SendPoll(w.general, w.target, "pizza?", "yes", "no")
	if got := handled.wait(t, 1); got != polls.Allowed || !alive(w, w.general, free.ID) {
		t.Fatalf("a poll of a member without a poll ban: %s, alive %v", got, alive(w, w.general, free.ID))
	}

	w.s.SendMessage(w.general, w.owner, "$pollban <@"+w.target.String()+"> poll spam")
	waitFor(t, "the pollban's reply", func() bool { _, ok := w.botReply(w.general, "Case #"); return ok })
	ban, ok := caseOf(t, cs, w.guild, w.target, cases.Pollban)
	if !ok || ban.Status != cases.Active {
		t.Fatalf("pollban case = %+v, %v", ban, ok)
	}

	// The poll goes at once; the member is told, and the case records it.
	p1 := w.s.SendPoll(w.general, w.target, "pizza again?", "yes", "no")
	if got := handled.wait(t, 2); got != polls.Deleted {
		t.Fatalf("the poll of a poll-banned member: %s", got)
	}
	if alive(w, w.general, p1.ID) {
		t.Error("the poll of a poll-banned member is still there")
	}
	dms := pollDMs(w, w.target)
	if len(dms) != 1 || !strings.Contains(dms[0], "banned from creating polls") || !strings.Contains(dms[0], "case #"+itoa(ban.Number)) {
		t.Errorf("DMs about polls = %q; want one naming the poll ban and case #%d", dms, ban.Number)
	}
	notes := pollNotes(t, cs, ban.ID)
	if len(notes) != 1 || !strings.Contains(notes[0].Note, "poll deleted: message "+p1.ID.String()) || notes[0].ActorID != discord.UserID(w.s.BotID()) {
		t.Errorf("history rows about polls = %+v; want one by gavel naming message %s", notes, p1.ID)
	}

	// A second poll within the minute: deleted and recorded, but no second DM.
	p2 := w.s.SendPoll(w.general, w.target, "and now?", "yes", "no")
	if got := handled.wait(t, 3); got != polls.Deleted || alive(w, w.general, p2.ID) {
		t.Fatalf("second poll: %s, alive %v", got, alive(w, w.general, p2.ID))
	}
	if n := len(pollDMs(w, w.target)); n != 1 {
		t.Errorf("%d DMs after two polls within a minute; want 1", n)
	}
	// A minute later, they are told again.
	clk.Advance(time.Minute)
	w.s.SendPoll(w.general, w.target, "a minute later?", "yes", "no")
	if got := handled.wait(t, 4); got != polls.Deleted {
		t.Fatalf("third poll: %s", got)
	}
	if n := len(pollDMs(w, w.target)); n != 2 {
		t.Errorf("%d DMs after a minute; want 2", n)
	}
	if n := len(pollNotes(t, cs, ban.ID)); n != 3 {
		t.Errorf("%d history rows about polls; want 3", n)
	}

	// The poll ban recorded before gavel started is enforced too.
	old := w.s.SendPoll(w.general, w.other, "remember me?", "yes")
	if got := handled.wait(t, 5); got != polls.Deleted || alive(w, w.general, old.ID) {
		t.Fatalf("poll under an earlier run's poll ban: %s, alive %v", got, alive(w, w.general, old.ID))
	}
	if n := len(pollNotes(t, cs, earlier.ID)); n != 1 {
		t.Errorf("%d history rows in the earlier poll ban; want 1", n)
	}

	// Lifted: polls stay again (the lift reaches the in-memory set at once).
	w.s.SendMessage(w.general, w.owner, "$pollunban <@"+w.target.String()+"> fine now")
	waitFor(t, "the pollunban", func() bool {
		c, ok := caseOf(t, cs, w.guild, w.target, cases.Pollunban)
		return ok && c.Status == cases.Active
	})
	after := w.s.SendPoll(w.general, w.target, "allowed again?", "yes")
	if got := handled.wait(t, 6); got != polls.Allowed || !alive(w, w.general, after.ID) {
		t.Errorf("a poll after the lift: %s, alive %v", got, alive(w, w.general, after.ID))
	}
}

func pollNotes(t *testing.T, cs *cases.Service, caseID int64) []cases.Event {
	t.Helper()
	evs, err := cs.Events(context.Background(), caseID)
	if err != nil {
		t.Fatal(err)
	}
	var out []cases.Event
	for _, e := range evs {
		if e.Kind == cases.EventNote && strings.HasPrefix(e.Note, "poll ") {
			out = append(out, e)
		}
	}
	return out
}

func itoa(n int64) string { return discordtest.ID(n).String() }
