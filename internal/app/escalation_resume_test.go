package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/escalation"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// A firing left running by a process that stopped between claiming it and recording its
// outcome (on a SQLite file and on PostgreSQL) is settled exactly once by the next start,
// once RunningGrace has passed: one left before its case was recorded is carried out (one
// timeout in Discord, one escalation case, linked); one whose case was already recorded is
// linked to it and marked done, with no second case and no Discord call.
func TestEscalationLeftRunningIsSettledOnceAtRestart(t *testing.T) {
	t.Parallel()
	for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
		t.Run(string(engine), func(t *testing.T) {
			w := newWorld(t)
			if engine == store.Postgres {
				w.dbURL = storetest.MigratedURL(t, store.Postgres)
			}
			ctx := context.Background()
			st := w.openStore(t)
			stopped := time.Now().UTC().Truncate(time.Millisecond)
			// The stopped process: its escalation service fired, its runner claimed the
			// firings (running) and then it died.
			esc := escalation.NewService(st, escalation.WithClock(func() time.Time { return stopped }))
			cs := cases.NewService(st, cases.WithClock(func() time.Time { return stopped }), cases.WithChangeObserver(esc))
			guild := discord.GuildID(w.guild)
			if _, _, _, err := esc.Update(ctx, guild, discord.UserID(w.owner), -1, func(c *escalation.Config) error {
				c.Weights = []escalation.Weight{{Type: cases.Warn, Points: 1}}
				c.Policies = []escalation.Policy{{Name: "once", Enabled: true, Thresholds: []escalation.Threshold{{At: 1, Action: escalation.Timeout, Duration: time.Hour}}}}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			leftRunning := func(user discordtest.ID) (escalation.Firing, cases.Case) {
				t.Helper()
				warn, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: discord.UserID(user), ModeratorID: discord.UserID(w.owner), Type: cases.Warn, Reason: "spam"})
				if err != nil {
					t.Fatal(err)
				}
				fs, err := esc.FiringsOfMember(ctx, guild, discord.UserID(user), 5)
				if err != nil || len(fs) != 1 || fs[0].State != escalation.StateQueued {
					t.Fatalf("firings of %d = %+v, %v; want one queued", user, fs, err)
				}
				f, err := esc.Move(ctx, fs[0].ID, escalation.Transition{From: escalation.StateQueued, To: escalation.StateRunning})
				if err != nil {
					t.Fatal(err)
				}
				return f, warn
			}
			// The target's firing stopped before its case; the other's after it (the case
			// recorded and made active, the outcome never written on the firing).
			noCase, _ := leftRunning(w.target)
			withCase, _ := leftRunning(w.other)
			made, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: discord.UserID(w.other), ModeratorID: discord.UserID(w.owner), Type: cases.Timeout,
				Reason: withCase.Reason(), Metadata: map[string]string{escalation.MetaFiring: fmt.Sprint(withCase.ID)}})
			if err != nil {
				t.Fatal(err)
			}
			before, err := cs.CountInGuild(ctx, guild)
			if err != nil {
				t.Fatal(err)
			}

			// The next start, past the grace: it settles both at once.
			clk := clock.NewManual(stopped.Add(escalation.RunningGrace + time.Second))
			w.start(t, app.WithClock(clk))
			read := escalation.NewService(st)
			settled := func(id int64) escalation.Firing {
				t.Helper()
				var f escalation.Firing
				waitFor(t, fmt.Sprintf("firing %d settled", id), func() bool {
					f, err = read.Firing(ctx, id)
					return err == nil && f.State != escalation.StateRunning
				}, func() string { return fmt.Sprintf("%+v", f) })
				return f
			}
			a := settled(noCase.ID)
			if a.State != escalation.StateDone || a.EscalationCase == 0 {
				t.Fatalf("firing left before its case = %+v; want done with a case", a)
			}
			esc1, err := cs.Get(ctx, a.EscalationCase)
			if err != nil || esc1.Type != cases.Timeout || esc1.Status != cases.Active || esc1.UserID != discord.UserID(w.target) {
				t.Fatalf("its case = %+v, %v; want an active timeout of the target", esc1, err)
			}
			if m, _ := w.s.Member(w.guild, w.target); m.CommunicationDisabledUntil == nil {
				t.Fatal("the target was not timed out in Discord")
			}
			b := settled(withCase.ID)
			if b.State != escalation.StateDone || b.EscalationCase != made.ID {
				t.Fatalf("firing left after its case = %+v; want done with case id %d", b, made.ID)
			}
			evs, err := cs.Events(ctx, made.ID)
			if err != nil {
				t.Fatal(err)
			}
			linked := 0
			for _, e := range evs {
				if e.Kind == cases.EventLinked {
					linked++
				}
			}
			if linked != 1 {
				t.Fatalf("case #%d has %d links; want 1: %+v", made.Number, linked, evs)
			}
			after, err := cs.CountInGuild(ctx, guild)
			if err != nil {
				t.Fatal(err)
			}
			if after != before+1 {
				t.Fatalf("cases %d → %d; want one more (the target's timeout only)", before, after)
			}
			timeouts := map[discordtest.ID]int{}
			for _, e := range w.s.AuditLog(w.guild) {
				if e.ActionType == discordtest.AuditMemberUpdate {
					timeouts[e.TargetID]++
				}
			}
			if timeouts[w.target] != 1 || timeouts[w.other] != 0 {
				t.Fatalf("Discord member updates by target: %v; want one for the target, none for the other", timeouts)
			}
			// A later round of the schedule finds nothing left running.
			clk.Advance(2 * time.Minute)
			if fs, err := read.InState(ctx, escalation.StateRunning, clk.Now(), 10); err != nil || len(fs) != 0 {
				t.Fatalf("still running: %+v, %v", fs, err)
			}
		})
	}
}
