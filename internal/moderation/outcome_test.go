package moderation_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/disgoport"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/store"
)

// reconcileRequests records the guilds the coordinator asks to reconcile.
type reconcileRequests struct {
	mu     sync.Mutex
	guilds []int64
}

func (r *reconcileRequests) add(g discord.GuildID) {
	r.mu.Lock()
	r.guilds = append(r.guilds, int64(g))
	r.mu.Unlock()
}
func (r *reconcileRequests) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.guilds) }

// A ban whose command is cancelled while Discord holds the request (a shutdown, the
// interaction's deadline) may have happened: its case stays pending, the reply says so,
// reconciliation is asked for, and it activates the case when Discord shows the ban.
func TestCancelledBanStaysPendingAndIsReconciled(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Now().UTC())
	w := newWorld(t, store.SQLite, discordtest.WithLatencyClock(clk))
	var asked reconcileRequests
	w.co = moderation.NewCoordinator(actions.Catalogue(), w.port, w.cases, w.settings, w.exec,
		moderation.WithBotUserID(discord.UserID(w.s.BotID())), moderation.WithReconcileRequest(asked.add))
	// Discord takes an hour (of the fake's clock, which does not move) to answer a ban.
	w.s.SetLatency(banRoute, time.Hour)
	// The held request ends when the test does (the fake's shutdown would otherwise wait
	// for it until its own timeout).
	t.Cleanup(func() { clk.Advance(time.Hour) })

	a, _ := w.cat.Lookup("ban")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan moderation.Result, 1)
	go func() {
		done <- w.co.Execute(ctx, moderation.Request{GuildID: discord.GuildID(w.guild), Moderator: discord.User{ID: discord.UserID(w.alice), Username: "alice"},
			Action: a, Target: moderation.Target{ID: discord.UserID(w.bob)}, Reason: "raid"})
	}()
	waitUntil(t, 10*time.Second, "the ban request to reach Discord", func() bool { return w.s.FaultStats().Routes[banRoute].Delayed >= 1 })
	cancel()
	res := <-done
	if res.Case == nil || res.Case.Status != cases.Pending || !res.Pending || res.Refused {
		t.Fatalf("cancelled ban: %+v; want its case left pending", res)
	}
	if !strings.Contains(res.Reply.Content, "does not know whether the ban happened") || !strings.Contains(res.Reply.Content, "stays pending") {
		t.Errorf("reply %q does not say the outcome is unknown", res.Reply.Content)
	}
	stored, err := w.cases.Get(context.Background(), res.Case.ID)
	if err != nil || stored.Status != cases.Pending {
		t.Fatalf("stored case %+v, %v; want pending", stored, err)
	}
	if asked.count() != 1 {
		t.Errorf("reconciliation asked for %d times; want once", asked.count())
	}
	// Discord carried the ban out after all, as it may when only the answer was lost.
	if err := w.s.BanAs(w.guild, w.s.BotID(), w.bob, "alice (202): raid"); err != nil {
		t.Fatal(err)
	}
	r, err := w.co.Reconcile(context.Background(), discord.GuildID(w.guild), 0)
	if err != nil || r.Activated != 1 || r.Voided != 0 {
		t.Fatalf("Reconcile = %+v, %v; want the ban activated", r, err)
	}
	if c, err := w.cases.Get(context.Background(), res.Case.ID); err != nil || c.Status != cases.Active {
		t.Errorf("reconciled case %+v, %v; want active", c, err)
	}
	// The ban happened: the announcement stands, with no correction.
	if dms := w.dms(w.bob); len(dms) != 1 {
		t.Errorf("bob has %d DMs; want the announcement only", len(dms))
	}
}

// A ban whose connection is lost after the request went out stays pending too; when Discord
// shows no ban, reconciliation voids it, and the member, told of the ban before it, gets the
// correction.
func TestDroppedBanStaysPendingAndIsReconciled(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.SQLite)
	w.s.DropConnections(banRoute, 100)
	res := w.run(t, w.alice, "ban", w.bob)
	w.s.DropConnections(banRoute, 0)
	if res.Case == nil || res.Case.Status != cases.Pending || !res.Pending {
		t.Fatalf("dropped ban: %+v; want its case left pending", res)
	}
	if !strings.Contains(res.Reply.Content, "the connection to Discord failed") || strings.Contains(res.Reply.Content, "EOF") {
		t.Errorf("reply %q; want the lost connection in words, without the library's text", res.Reply.Content)
	}
	if dms := w.dms(w.bob); len(dms) != 1 {
		t.Fatalf("bob has %d DMs before reconciliation; want the announcement", len(dms))
	}
	r, err := w.co.Reconcile(context.Background(), discord.GuildID(w.guild), 0)
	if err != nil || r.Voided != 1 {
		t.Fatalf("Reconcile = %+v, %v; want the ban voided", r, err)
	}
	dms := w.dms(w.bob)
	if len(dms) != 2 || !strings.Contains(dms[1].Content, "the ban announced above did not take effect") {
		t.Errorf("bob's DMs after reconciliation: %+v; want the announcement and its correction", dms)
	}
}

// A ban Discord refuses (a 4xx) after the DM went out is voided, and the member is told the
// announced ban did not take effect.
func TestRefusedBanIsVoidedAndCorrected(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.SQLite)
	w.s.FailNext(banRoute, 1, 403)
	res := w.run(t, w.alice, "ban", w.bob)
	if res.Case == nil || res.Case.Status != cases.Voided || res.Pending {
		t.Fatalf("refused ban: %+v; want its case voided", res)
	}
	if !strings.Contains(res.Reply.Content, "gavel lacks permission") || !strings.Contains(res.Reply.Content, "sent them a correction") {
		t.Errorf("reply %q", res.Reply.Content)
	}
	dms := w.dms(w.bob)
	if len(dms) != 2 {
		t.Fatalf("bob has %d DMs; want the announcement and its correction", len(dms))
	}
	if !strings.Contains(dms[1].Content, "the ban announced above did not take effect") {
		t.Errorf("correction %q", dms[1].Content)
	}
}

// failingDM is the real adapter whose DMs Discord fails with a 500.
type failingDM struct{ *disgoport.Adapter }

func (failingDM) SendDM(context.Context, discord.UserID, discord.Message) (discord.MessageRef, error) {
	return discord.MessageRef{}, &discord.Error{Op: "send DM", Status: 500, Message: "Internal Server Error"}
}

// The reply says why a DM was not delivered: closed DMs only for Discord's 50007.
func TestDMFailureIsWorded(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.SQLite)
	w.s.SetDMsClosed(w.bob, true)
	res := w.run(t, w.alice, "warn", w.bob)
	if res.DM != moderation.DMClosed || !strings.Contains(res.Reply.Content, "They could not be messaged: their DMs are closed.") {
		t.Errorf("closed DMs: outcome %v, reply %q", res.DM, res.Reply.Content)
	}
	w.co = moderation.NewCoordinator(actions.Catalogue(), failingDM{w.port}, w.cases, w.settings, executor.New(),
		moderation.WithBotUserID(discord.UserID(w.s.BotID())))
	res = w.run(t, w.alice, "warn", w.carol)
	if res.DM != moderation.DMFailed || !strings.Contains(res.Reply.Content, "Discord failed to deliver the DM") || strings.Contains(res.Reply.Content, "closed") {
		t.Errorf("a 500: outcome %v, reply %q", res.DM, res.Reply.Content)
	}
}

// A ban by id of a user outside the server (a HACKBAN) sends no DM: they share no server
// with gavel, and Discord would refuse it.
func TestHackbanSendsNoDM(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.SQLite)
	res := w.run(t, w.alice, "ban", w.dave)
	c := succeeded(t, res, cases.Hackban)
	if res.DM != moderation.DMNotMember || !strings.Contains(res.Reply.Content, "they are not in the server") {
		t.Errorf("outcome %v, reply %q", res.DM, res.Reply.Content)
	}
	if _, ok := w.s.DMChannel(w.dave); ok {
		t.Errorf("gavel opened a DM with the user case #%d banned by id", c.Number)
	}
}
