package moderation_test

import (
	"context"
	"sync"
	"testing"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// A command's event makes one case: the same event again (a gateway replay), whether after
// the first was handled or at the same moment, records nothing, calls Discord for nothing
// and has nothing to say; the guild's numbers stay dense.
func TestReplayedEventMakesNoSecondCase(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st.Engine())
		const ev discord.EventID = 1234567890123456789
		withEvent := func(r *moderation.Request) { r.Event = ev }

		first := w.run(t, w.owner, "kick", w.bob, withEvent)
		c := succeeded(t, first, cases.Kick)
		again := w.run(t, w.owner, "kick", w.bob, withEvent)
		if !again.Replayed || again.Case != nil || again.Reply.Content != "" || again.Err != nil {
			t.Fatalf("the replayed kick: %+v; want Replayed with no case and no reply", again)
		}

		// Two deliveries of one event at once: one case between them.
		const ev2 discord.EventID = 1234567890123456790
		var wg sync.WaitGroup
		results := make([]moderation.Result, 2)
		for i := range results {
			wg.Go(func() {
				results[i] = w.run(t, w.owner, "warn", w.carol, func(r *moderation.Request) { r.Event = ev2 })
			})
		}
		wg.Wait()
		made, replayed := 0, 0
		for _, r := range results {
			switch {
			case r.Replayed:
				replayed++
			case r.Case != nil && r.Err == nil:
				made++
			default:
				t.Errorf("unexpected result %+v", r)
			}
		}
		if made != 1 || replayed != 1 {
			t.Fatalf("%d cases made and %d replays of one event; want 1 and 1", made, replayed)
		}

		// A new event is a new command; numbers have no gap.
		next := succeeded(t, w.run(t, w.owner, "warn", w.carol, func(r *moderation.Request) { r.Event = ev2 + 1 }), cases.Warn)
		if c.Number != 1 || next.Number != 3 {
			t.Errorf("case numbers %d and %d; want 1 and 3 (dense)", c.Number, next.Number)
		}
		if n, _ := w.cases.CountInGuild(context.Background(), discord.GuildID(w.guild)); n != 3 {
			t.Errorf("%d cases; want 3", n)
		}
		kicks := 0
		for _, e := range w.s.AuditLog(w.guild) {
			if e.ActionType == discordtest.AuditMemberKick {
				kicks++
			}
		}
		if kicks != 1 {
			t.Errorf("%d kicks at Discord; want 1", kicks)
		}
		if dms := w.dms(w.carol); len(dms) != 2 {
			t.Errorf("carol got %d DMs for two warns; want 2", len(dms))
		}
	})
}
