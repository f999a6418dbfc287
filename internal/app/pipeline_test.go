package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/expiry"
)

// TestReconciledTempbanGetsItsExpiry: a tempban left pending by a crash between its ban and
// its finalizing transaction is reconciled through the same finalize step as a command: it
// becomes active with its unban scheduled, and the poller lifts it when it is due, with the
// mod log told. A permanent ban reconciled beside it schedules nothing.
func TestReconciledTempbanGetsItsExpiry(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cs, _ := w.services(t)
	ctx := context.Background()
	st := w.openStore(t)
	exp := expiry.NewService(st, cs)

	// Both bans reached Discord before the crash; neither case was finalized.
	if err := w.s.BanAs(w.guild, w.owner, w.target, "by gavel, before the crash"); err != nil {
		t.Fatal(err)
	}
	if err := w.s.BanAs(w.guild, w.owner, w.other, "by gavel, before the crash"); err != nil {
		t.Fatal(err)
	}
	// gavel's clock is a manual one, ahead of the cases' real creation times (so they are old
	// enough to reconcile at once): the unban falls due when the test moves it, after both
	// cases are reconciled, and not when some real seconds have passed, which a busy -race
	// run could spend before reconciling the plain ban.
	clk := clock.NewManual(time.Now().UTC().Truncate(time.Millisecond).Add(time.Minute))
	ends := clk.Now().Add(time.Hour)
	tempban, err := cs.Create(ctx, cases.New{GuildID: discord.GuildID(w.guild), UserID: discord.UserID(w.target), ModeratorID: discord.UserID(w.mod),
		Type: cases.Tempban, Status: cases.Pending, Reason: "crashed", ExpiresAt: ends})
	if err != nil {
		t.Fatal(err)
	}
	ban, err := cs.Create(ctx, cases.New{GuildID: discord.GuildID(w.guild), UserID: discord.UserID(w.other), ModeratorID: discord.UserID(w.mod),
		Type: cases.Ban, Status: cases.Pending, Reason: "crashed"})
	if err != nil {
		t.Fatal(err)
	}
	w.start(t, app.WithReconcileAge(time.Millisecond), app.WithClock(clk))

	waitFor(t, "the tempban reconciled and its unban scheduled", func() bool {
		c, err := cs.Get(ctx, tempban.ID)
		if err != nil || c.Status != cases.Active {
			return false
		}
		acts, err := exp.OfCase(ctx, tempban.ID)
		return err == nil && len(acts) == 1 && acts[0].Kind == expiry.Unban && acts[0].RunAt.Equal(ends.Truncate(time.Millisecond))
	})
	var c cases.Case
	waitFor(t, "the plain ban reconciled", func() bool {
		c, err = cs.Get(ctx, ban.ID)
		return err == nil && c.Status != cases.Pending
	})
	if c.Status != cases.Active {
		t.Fatalf("ban case = %+v; want active", c)
	}

	clk.Advance(2 * time.Hour)
	waitFor(t, "the reconciled tempban lifted when due", func() bool {
		c, err := cs.Get(ctx, tempban.ID)
		_, banned := w.s.Banned(w.guild, w.target)
		return err == nil && c.Processed && !banned
	})
	lift, err := cs.LatestOfUser(ctx, discord.GuildID(w.guild), discord.UserID(w.target), cases.Unban)
	if err != nil || lift.Status != cases.Active || lift.Metadata["lifts_case"] != "1" {
		t.Errorf("lift case = %+v, %v; want an active UNBAN lifting case #1", lift, err)
	}

	if c, err = cs.Get(ctx, ban.ID); err != nil || c.Status != cases.Active {
		t.Fatalf("ban case after the lift = %+v, %v; want active", c, err)
	}
	if acts, err := exp.OfCase(ctx, ban.ID); err != nil || len(acts) != 0 {
		t.Errorf("a permanent ban's expiries = %+v, %v; want none", acts, err)
	}
	if _, banned := w.s.Banned(w.guild, w.other); !banned {
		t.Error("the permanent ban was lifted")
	}
}
