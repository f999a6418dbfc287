package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/expiry"
)

// TestOutsideBanSupersedesTempbanExpiry: a tempban lifted by hand in Discord and followed by a
// permanent ban there must not be lifted when the tempban's time comes. The unban and the ban
// reach gavel through the audit log, become cases, and cancel the scheduled unban.
func TestOutsideBanSupersedesTempbanExpiry(t *testing.T) {
	t.Parallel()
	t.Run("mirrored", func(t *testing.T) { testOutsideBanSupersedes(t, true) })
	// With mirroring off no case is recorded for the outside actions, but the stale expiry
	// is cancelled all the same.
	t.Run("not mirrored", func(t *testing.T) { testOutsideBanSupersedes(t, false) })
}

func testOutsideBanSupersedes(t *testing.T, mirror bool) {
	w := newWorld(t)
	cs, gs := w.services(t)
	ctx := context.Background()
	if !mirror {
		if _, err := gs.SetMirrorExternalActions(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), false); err != nil {
			t.Fatal(err)
		}
	}
	st := w.openStore(t)
	exp := expiry.NewService(st, cs)
	w.start(t)

	w.s.SendMessage(w.general, w.mod, "$tempban <@"+w.target.String()+"> -d 1h spam")
	waitFor(t, "the tempban's reply", func() bool { _, ok := w.botReply(w.general, "Case #1"); return ok })
	tempban, err := cs.GetByNumber(ctx, discord.GuildID(w.guild), 1)
	if err != nil || tempban.Type != cases.Tempban {
		t.Fatalf("case #1 = %+v, %v; want the tempban", tempban, err)
	}
	waitFor(t, "the scheduled unban", func() bool {
		acts, _, err := exp.Pending(ctx, discord.GuildID(w.guild), 10)
		return err == nil && len(acts) == 1 && acts[0].Kind == expiry.Unban && acts[0].CaseID == tempban.ID
	})

	if err := w.s.UnbanAs(w.guild, w.owner, w.target, "appeal accepted"); err != nil {
		t.Fatal(err)
	}
	if mirror {
		waitFor(t, "the mirrored unban", func() bool {
			c, err := cs.LatestOfUser(ctx, discord.GuildID(w.guild), discord.UserID(w.target), cases.Unban)
			return err == nil && c.ModeratorID == discord.UserID(w.owner)
		})
	}
	if err := w.s.BanAs(w.guild, w.owner, w.target, "for good this time"); err != nil {
		t.Fatal(err)
	}
	if mirror {
		waitFor(t, "the mirrored ban", func() bool {
			c, err := cs.LatestOfUser(ctx, discord.GuildID(w.guild), discord.UserID(w.target), cases.Ban)
			return err == nil && c.ModeratorID == discord.UserID(w.owner)
		})
	}
	waitFor(t, "no pending expiry left", func() bool {
		_, total, err := exp.Pending(ctx, discord.GuildID(w.guild), 10)
		return err == nil && total == 0
	})
	if !mirror {
		if c, err := cs.LatestOfUser(ctx, discord.GuildID(w.guild), discord.UserID(w.target), cases.Ban); err == nil {
			t.Errorf("mirroring is off but the outside ban became case #%d", c.Number)
		}
	}
	all, err := exp.OfCase(ctx, tempban.ID)
	if err != nil || len(all) != 1 || all[0].Cancelled.IsZero() {
		t.Fatalf("the tempban's actions = %+v, %v; want its unban cancelled", all, err)
	}
	events, err := cs.Events(ctx, tempban.ID)
	if err != nil {
		t.Fatal(err)
	}
	var said bool
	for _, e := range events {
		said = said || strings.Contains(e.Note+e.New, "outside gavel")
	}
	if !said {
		t.Errorf("the tempban's history does not say why its expiry was cancelled: %+v", events)
	}
	if _, banned := w.s.Banned(w.guild, w.target); !banned {
		t.Error("the user is no longer banned")
	}
}
