package moderation_test

import (
	"context"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/store"
)

// Reconciliation finalizes what it activates as a command does: a tempban gets its unban
// scheduled, a timeout longer than Discord's limit its renewal before Discord's timeout
// ends, and a case a later one decides gets no expiry and cancels nothing.
func TestReconcileSchedulesExpiries(t *testing.T) {
	t.Parallel()
	w := newExpiring(t, store.SQLite, expiry.Config{})
	ctx := context.Background()
	now := w.clk.Now()
	pending := func(user int64, typ cases.Type, ends time.Time) cases.Case {
		t.Helper()
		c, err := w.cases.Create(ctx, cases.New{GuildID: discord.GuildID(w.guild), UserID: discord.UserID(user), ModeratorID: discord.UserID(w.alice),
			Type: typ, Status: cases.Pending, Reason: "crashed", ExpiresAt: ends})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// Discord's side of the three actions happened before the crash.
	if err := w.s.BanAs(w.guild, w.alice, w.carol, "tempban"); err != nil {
		t.Fatal(err)
	}
	applied := now.Add(moderation.MaxTimeout)
	if err := w.s.TimeoutAs(w.guild, w.owner, w.bob, applied, "long timeout"); err != nil {
		t.Fatal(err)
	}
	if err := w.s.BanAs(w.guild, w.alice, w.dave, "ban"); err != nil {
		t.Fatal(err)
	}
	tempban := pending(int64(w.carol), cases.Tempban, now.Add(time.Hour))
	timeout := pending(int64(w.bob), cases.Timeout, now.Add(40*duration.Day))
	// dave's tempban is followed by a later permanent ban, recorded and active.
	early := pending(int64(w.dave), cases.Tempban, now.Add(time.Hour))
	if _, err := w.cases.Create(ctx, cases.New{GuildID: discord.GuildID(w.guild), UserID: discord.UserID(w.dave), ModeratorID: discord.UserID(w.alice),
		Type: cases.Ban, Reason: "for good"}); err != nil {
		t.Fatal(err)
	}

	r, err := w.co.Reconcile(ctx, discord.GuildID(w.guild), 0)
	if err != nil || r.Activated != 3 || r.Voided != 0 {
		t.Fatalf("Reconcile = %+v, %v; want 3 activated", r, err)
	}
	open := func(c cases.Case) []expiry.Action {
		t.Helper()
		acts, err := w.svc.OfCase(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var out []expiry.Action
		for _, a := range acts {
			if a.Open() {
				out = append(out, a)
			}
		}
		return out
	}
	if got := open(tempban); len(got) != 1 || got[0].Kind != expiry.Unban || !got[0].RunAt.Equal(tempban.ExpiresAt) {
		t.Errorf("reconciled tempban's expiries = %+v; want its unban at %v", got, tempban.ExpiresAt)
	}
	lead := moderation.RenewLead(moderation.MaxTimeout)
	if got := open(timeout); len(got) != 1 || got[0].Kind != expiry.TimeoutRenew || !got[0].RunAt.Equal(applied.Add(-lead)) {
		t.Errorf("reconciled 40-day timeout's expiries = %+v; want a renewal %v before Discord's timeout ends", got, lead)
	}
	if got := open(early); len(got) != 0 {
		t.Errorf("a tempban a later ban decides was given expiries %+v", got)
	}
	if c, err := w.cases.Get(ctx, early.ID); err != nil || c.Status != cases.Active {
		t.Errorf("the earlier tempban = %+v, %v; want active all the same (the ban happened)", c, err)
	}
}
