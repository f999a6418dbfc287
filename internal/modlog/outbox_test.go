package modlog_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

const (
	guild   = 100
	mod     = 200
	user    = 300
	bot     = 400
	channel = 500
)

// portDouble is Discord for the worker: it records posts and edits, and fails them on demand.
type portDouble struct {
	mu      sync.Mutex
	nextID  int64
	posts   map[int64]discord.Message // by message id
	where   map[int64]int64           // message id → channel
	edits   int
	failAll error
	// lookups counts the Member and GetBan calls: the names the worker asked Discord for.
	lookups int
	// during, when set, runs once inside the next post, before it returns: a change that
	// arrives while a delivery is under way.
	during func()
}

func newPort() *portDouble {
	return &portDouble{nextID: 9000, posts: map[int64]discord.Message{}, where: map[int64]int64{}}
}

func (p *portDouble) SendMessage(_ context.Context, ch discord.ChannelID, msg discord.Message) (discord.MessageID, error) {
	p.mu.Lock()
	during := p.during
	p.during = nil
	p.mu.Unlock()
	if during != nil {
		during()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failAll != nil {
		return 0, p.failAll
	}
	p.nextID++
	p.posts[p.nextID], p.where[p.nextID] = msg, int64(ch)
	return discord.MessageID(p.nextID), nil
}

func (p *portDouble) EditMessage(_ context.Context, ch discord.ChannelID, id discord.MessageID, msg discord.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failAll != nil {
		return p.failAll
	}
	if _, ok := p.posts[int64(id)]; !ok || discord.ChannelID(p.where[int64(id)]) != ch {
		return &discord.Error{Op: "edit message", Status: 404, Code: discord.CodeUnknownMessage}
	}
	p.posts[int64(id)] = msg
	p.edits++
	return nil
}

// Member: no one is a member.
func (p *portDouble) Member(context.Context, discord.GuildID, discord.UserID) (discord.Member, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lookups++
	return discord.Member{}, &discord.Error{Op: "get member", Status: 404, Code: discord.CodeUnknownMember}
}

// GetBan: the user is banned, named "banned-user"; no one else is.
func (p *portDouble) GetBan(_ context.Context, _ discord.GuildID, userID discord.UserID) (discord.Ban, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lookups++
	if userID == user {
		return discord.Ban{User: discord.User{ID: user, Username: "banned-user"}}, true, nil
	}
	return discord.Ban{}, false, nil
}

func (p *portDouble) lookupCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lookups
}

func (p *portDouble) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failAll = err
}

func (p *portDouble) message(id int64) (discord.Message, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, ok := p.posts[id]
	return m, ok
}

func (p *portDouble) forget(id int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.posts, id)
}

type rig struct {
	st    *store.Store
	cases *cases.Service
	ml    *modlog.Service
	clk   *clock.Manual
	port  *portDouble
	out   chan modlog.Outcome
}

func newRig(t *testing.T, st *store.Store, withChannel bool) *rig {
	t.Helper()
	r := &rig{st: st, clk: clock.NewManual(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)), port: newPort(), out: make(chan modlog.Outcome, 100)}
	gs := settings.NewService(st)
	r.ml = modlog.New(st, gs, modlog.WithClock(r.clk), modlog.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		modlog.WithDeliveryObserver(func(_ int64, o modlog.Outcome) { r.out <- o }))
	r.cases = cases.NewService(st, cases.WithChangeObserver(r.ml))
	r.ml.Bind(r.cases)
	ctx := context.Background()
	if err := r.cases.GuildJoined(ctx, guild, time.Now()); err != nil {
		t.Fatal(err)
	}
	if withChannel {
		if _, err := gs.SetChannel(ctx, guild, mod, settings.ModLog, channel); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *rig) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.ml.Run(ctx, r.port, bot) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// next waits for the next delivery's outcome.
func (r *rig) next(t *testing.T) modlog.Outcome {
	t.Helper()
	select {
	case o := <-r.out:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery")
		return ""
	}
}

func (r *rig) pending(t *testing.T) []modlog.Pending {
	t.Helper()
	p, err := r.ml.Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (r *rig) warn(t *testing.T, status cases.Status) cases.Case {
	t.Helper()
	c, err := r.cases.Create(context.Background(), cases.New{GuildID: guild, UserID: user, ModeratorID: mod, Type: cases.Warn, Status: status, Reason: "spam"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The outbox is written in the transaction of the change: one row per case however many
// changes, none for a pending case or a rolled-back change, none for linking the message.
func TestOutboxFollowsTheTransaction(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		r := newRig(t, st, true)
		pend := r.warn(t, cases.Pending)
		if p := r.pending(t); len(p) != 0 {
			t.Fatalf("a pending case queued %+v", p)
		}
		active := r.warn(t, cases.Active)
		if _, err := r.cases.SetReason(ctx, guild, active.Number, mod, "spam, twice"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.cases.SetStatus(ctx, guild, pend.Number, mod, cases.Active, "done"); err != nil {
			t.Fatal(err)
		}
		p := r.pending(t)
		if len(p) != 2 || p[0].CaseID != pend.ID || p[0].Generation != 1 || p[1].CaseID != active.ID || p[1].Generation != 2 {
			t.Fatalf("outbox %+v; want case %d once, case %d twice over (generation 2)", p, pend.ID, active.ID)
		}
		if queued, failing, err := r.ml.Counts(ctx); err != nil || queued != 2 || failing != 0 {
			t.Errorf("Counts = %d queued, %d failing, %v; want 2, 0", queued, failing, err)
		}
		if !p[0].RunAt.Equal(r.clk.Now()) {
			t.Errorf("due %v; want now by the mod log's clock, %v", p[0].RunAt, r.clk.Now())
		}
		// A change rolled back queues nothing.
		boom := errors.New("boom")
		err := r.cases.InTx(ctx, mod, func(tx *cases.Tx) error {
			c, err := tx.Lock(active.ID)
			if err != nil {
				return err
			}
			if err := tx.SetStatus(c, cases.Voided, "no"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if q := r.pending(t); len(q) != 2 || q[1].Generation != 2 {
			t.Errorf("outbox after a rollback %+v; want it unchanged", q)
		}
		// Linking the message is the mod log's own write: no new delivery.
		if _, err := r.cases.LinkModlog(ctx, guild, pend.Number, bot, channel, 77); err != nil {
			t.Fatal(err)
		}
		if q := r.pending(t); q[0].Generation != 1 {
			t.Errorf("linking queued a delivery: %+v", q)
		}
	})
}

// Two claimers never get the same row; a lease that ends hands the row on.
func TestClaimLeases(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		r := newRig(t, st, true)
		for range 6 {
			r.warn(t, cases.Active)
		}
		now := r.clk.Now().UnixMilli()
		lease := now + time.Minute.Milliseconds()
		var wg sync.WaitGroup
		got := make([][]int64, 3)
		errs := make([]error, 3)
		for i := range 3 {
			wg.Go(func() {
				rows, err := st.ClaimModlog(ctx, fmt.Sprintf("owner-%d", i), 2, lease, now)
				errs[i] = err
				for _, row := range rows {
					got[i] = append(got[i], row.CaseID)
				}
			})
		}
		wg.Wait()
		seen := map[int64]bool{}
		for i := range 3 {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			for _, id := range got[i] {
				if seen[id] {
					t.Errorf("case id %d claimed twice: %v", id, got)
				}
				seen[id] = true
			}
		}
		if len(seen) != 6 {
			t.Errorf("claimed %v; want the 6 rows, each once", got)
		}
		if rows, err := st.ClaimModlog(ctx, "late", 10, lease, now); err != nil || len(rows) != 0 {
			t.Errorf("claim while leased = %d rows, %v", len(rows), err)
		}
		after := lease + 1
		rows, err := st.ClaimModlog(ctx, "late", 10, after+time.Minute.Milliseconds(), after)
		if err != nil || len(rows) != 6 || rows[0].Attempts != 2 {
			t.Errorf("claim after the leases = %+v, %v; want the 6 rows on their second attempt", rows, err)
		}
	})
}

// The worker posts a case and links (channel, message); a later change edits the message
// where it is, even after the mod-log channel moved; a failure is retried after a backoff
// on the worker's clock; a message gone stops the deliveries.
func TestWorkerDelivers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		r := newRig(t, st, true)
		r.run(t)
		c := r.warn(t, cases.Active)
		if o := r.next(t); o != modlog.Posted {
			t.Fatalf("first delivery %s; want posted", o)
		}
		c, err := r.cases.Get(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.ModlogChannelID != channel || c.ModlogMessageID == 0 {
			t.Fatalf("case links %d/%d; want a message in %d", c.ModlogChannelID, c.ModlogMessageID, channel)
		}
		if p := r.pending(t); len(p) != 0 {
			t.Errorf("outbox after the post: %+v", p)
		}

		// The channel moves; the edit still goes to the message.
		if _, err := settings.NewService(st).SetChannel(ctx, guild, mod, settings.ModLog, channel+1); err != nil {
			t.Fatal(err)
		}
		if _, err := r.cases.SetReason(ctx, guild, c.Number, mod, "new reason"); err != nil {
			t.Fatal(err)
		}
		if o := r.next(t); o != modlog.Edited {
			t.Fatalf("delivery %s; want edited", o)
		}
		if m, _ := r.port.message(int64(c.ModlogMessageID)); m.Embeds[0].Description != "new reason" {
			t.Errorf("message shows %q", m.Embeds[0].Description)
		}

		// An outage: retried after the backoff, not before.
		r.port.fail(&discord.Error{Op: "edit message", Status: 503})
		if _, err := r.cases.Void(ctx, guild, c.Number, mod, "wrong user"); err != nil {
			t.Fatal(err)
		}
		if o := r.next(t); o != modlog.Retry {
			t.Fatalf("delivery %s; want retry", o)
		}
		p := r.pending(t)
		if len(p) != 1 || p[0].Attempts != 1 || p[0].LastError == "" || !p[0].RunAt.Equal(r.clk.Now().Add(r.ml.Config().Backoff(1))) {
			t.Fatalf("outbox after a failure %+v; want one row due after the first backoff", p)
		}
		if queued, failing, err := r.ml.Counts(ctx); err != nil || queued != 1 || failing != 1 {
			t.Errorf("Counts = %d queued, %d failing, %v; want 1, 1", queued, failing, err)
		}
		r.port.fail(nil)
		r.clk.Advance(r.ml.Config().Backoff(1))
		if o := r.next(t); o != modlog.Edited {
			t.Fatalf("delivery after the backoff %s; want edited", o)
		}
		if m, _ := r.port.message(int64(c.ModlogMessageID)); m.Embeds[0].Title != fmt.Sprintf("Case #%d · WARN (voided)", c.Number) {
			t.Errorf("message after the outage: %q", m.Embeds[0].Title)
		}

		// The message is deleted by hand: no more edits, and no new post.
		r.port.forget(int64(c.ModlogMessageID))
		if _, err := r.cases.SetReason(ctx, guild, c.Number, mod, "after the deletion"); err != nil {
			t.Fatal(err)
		}
		if o := r.next(t); o != modlog.Gone {
			t.Fatalf("delivery %s; want gone", o)
		}
		if p := r.pending(t); len(p) != 0 {
			t.Errorf("outbox after the message was deleted: %+v", p)
		}
		if n := len(r.port.posts); n != 0 {
			t.Errorf("%d messages posted anew", n)
		}
	})
}

// A change that another process makes while a post is under way keeps the row (another
// generation), and the worker edits the message at once: no wake-up, no time passing, since
// the worker reads when the next row falls due after each drain.
func TestWorkerCatchesUpWithAChangeDuringThePost(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		r := newRig(t, st, true)
		c := r.warn(t, cases.Active)
		// The other process: its own mod log (not running, so nothing wakes r's worker).
		other := modlog.New(st, settings.NewService(st), modlog.WithClock(r.clk))
		otherCases := cases.NewService(st, cases.WithChangeObserver(other))
		other.Bind(otherCases)
		changed := make(chan error, 1)
		r.port.mu.Lock()
		r.port.during = func() {
			_, err := otherCases.SetReason(ctx, guild, c.Number, mod, "changed meanwhile")
			changed <- err
		}
		r.port.mu.Unlock()
		r.run(t)
		if o := r.next(t); o != modlog.Posted {
			t.Fatalf("first delivery %s; want posted", o)
		}
		if err := <-changed; err != nil {
			t.Fatal(err)
		}
		if o := r.next(t); o != modlog.Edited {
			t.Fatalf("delivery after the change %s; want edited", o)
		}
		got, err := r.cases.Get(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m, _ := r.port.message(int64(got.ModlogMessageID)); len(m.Embeds) != 1 || m.Embeds[0].Description != "changed meanwhile" {
			t.Errorf("message shows %+v; want the reason changed during the post", m.Embeds)
		}
		if p := r.pending(t); len(p) != 0 {
			t.Errorf("outbox after catching up: %+v", p)
		}
	})
}

// Deliveries queued while no worker ran (a crash, or another process) are made when one
// starts; nothing is posted for a guild without a mod-log channel.
func TestWorkerPicksUpLeftovers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, true)
		a, b := r.warn(t, cases.Active), r.warn(t, cases.Active)
		r.run(t)
		for range 2 {
			if o := r.next(t); o != modlog.Posted {
				t.Fatalf("delivery %s; want posted", o)
			}
		}
		for _, c := range []cases.Case{a, b} {
			got, _ := r.cases.Get(context.Background(), c.ID)
			if got.ModlogMessageID == 0 {
				t.Errorf("case #%d not posted", c.Number)
			}
		}

		r2 := newRig(t, storetest.Open(t, st.Engine()), false)
		r2.run(t)
		r2.warn(t, cases.Active)
		if o := r2.next(t); o != modlog.Skipped {
			t.Errorf("delivery without a mod-log channel %s; want skipped", o)
		}
	})
}

// The message names the target and the moderator by the names the case recorded, asking
// Discord nothing; a case recorded without them (before names were recorded) is named from
// Discord (here: the target's ban; the moderator, neither member nor banned, by id).
func TestWorkerNamesFromTheCase(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		r := newRig(t, st, true)
		// A second observer is called as well as the rig's (after it: the test waits for
		// its own news rather than reading what it has seen so far).
		seen := make(chan modlog.Outcome, 4)
		modlog.WithDeliveryObserver(func(_ int64, o modlog.Outcome) { seen <- o })(r.ml)
		r.run(t)
		named, err := r.cases.Create(ctx, cases.New{GuildID: guild, UserID: user, ModeratorID: mod, Type: cases.Warn, Status: cases.Active, Reason: "spam",
			Metadata: map[string]string{cases.MetaTargetName: "recorded-user", cases.MetaModeratorName: "recorded-mod"}})
		if err != nil {
			t.Fatal(err)
		}
		if o := r.next(t); o != modlog.Posted {
			t.Fatalf("outcome %q; want posted", o)
		}
		if n := r.port.lookupCount(); n != 0 {
			t.Errorf("a case with recorded names made %d Member/GetBan calls; want 0", n)
		}
		named, err = r.cases.Get(ctx, named.ID)
		if err != nil {
			t.Fatal(err)
		}
		fields := userFields(t, r, named)
		if want := fmt.Sprintf("<@%d> (recorded-user, %d)", user, user); fields["User"] != want {
			t.Errorf("User = %q; want %q", fields["User"], want)
		}
		if want := fmt.Sprintf("<@%d> (recorded-mod)", mod); fields["Moderator"] != want {
			t.Errorf("Moderator = %q; want %q", fields["Moderator"], want)
		}

		old := r.warn(t, cases.Active)
		if o := r.next(t); o != modlog.Posted {
			t.Fatalf("outcome %q; want posted", o)
		}
		if n := r.port.lookupCount(); n == 0 {
			t.Error("a case without recorded names asked Discord nothing")
		}
		old, err = r.cases.Get(ctx, old.ID)
		if err != nil {
			t.Fatal(err)
		}
		fields = userFields(t, r, old)
		if want := fmt.Sprintf("<@%d> (banned-user, %d)", user, user); fields["User"] != want {
			t.Errorf("User = %q; want %q", fields["User"], want)
		}
		// A moderator known only by id is named by it once, by the mention.
		if want := fmt.Sprintf("<@%d>", mod); fields["Moderator"] != want {
			t.Errorf("Moderator = %q; want %q", fields["Moderator"], want)
		}
		for i := range 2 {
			select {
			case o := <-seen:
				if o != modlog.Posted {
					t.Errorf("the second observer's delivery %d: %q; want posted", i+1, o)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("the second observer was told of %d deliveries; want 2", i)
			}
		}
	})
}

// userFields is the User and Moderator fields of c's message.
func userFields(t *testing.T, r *rig, c cases.Case) map[string]string {
	t.Helper()
	msg, ok := r.port.message(int64(c.ModlogMessageID))
	if !ok || len(msg.Embeds) == 0 {
		t.Fatalf("case #%d's message %d was not posted", c.Number, c.ModlogMessageID)
	}
	out := map[string]string{}
	for _, f := range msg.Embeds[0].Fields {
		if f.Name == "User" || f.Name == "Moderator" {
			out[f.Name] = f.Value
		}
	}
	return out
}

// While a worker runs, a new case's row is written already leased to it (attempts 1), so it
// is delivered without a claim. If that worker stops delivering (a crash, or stuck), the row
// is no one else's until the lease ends; then another process's worker claims it, on its
// second attempt. A row under a live lease is not counted as failing.
func TestRowLeasedAtEnqueueHandsOnWhenTheLeaseEnds(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		r := newRig(t, st, true)
		entered, stuck := make(chan struct{}), make(chan struct{})
		r.port.during = func() { close(entered); <-stuck }
		r.run(t)
		t.Cleanup(func() { close(stuck) }) // before r's worker is stopped (cleanups run last first)
		c := r.warn(t, cases.Active)
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the worker never posted")
		}
		p := r.pending(t)
		if len(p) != 1 || p[0].CaseID != c.ID || p[0].LeaseOwner == "" || p[0].Attempts != 1 || p[0].Generation != 1 {
			t.Fatalf("outbox while the post is under way: %+v; want the row leased at its first attempt", p)
		}
		if queued, failing, err := r.ml.Counts(ctx); err != nil || queued != 1 || failing != 0 {
			t.Errorf("Counts = %d queued, %d failing, %v; want 1, 0 (a first attempt under way)", queued, failing, err)
		}
		holder := p[0].LeaseOwner

		// Another process's worker: nothing to claim until the lease ends.
		out2 := make(chan modlog.Outcome, 4)
		// Its poll is after the lease's end, so the timer it sets is for the lease's end.
		cfg := r.ml.Config()
		cfg.PollEvery = 10 * cfg.Lease
		other := modlog.New(st, settings.NewService(st), modlog.WithClock(r.clk), modlog.WithConfig(cfg),
			modlog.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
			modlog.WithDeliveryObserver(func(_ int64, o modlog.Outcome) { out2 <- o }))
		other.Bind(cases.NewService(st, cases.WithChangeObserver(other)))
		port2 := newPort()
		ctx2, cancel2 := context.WithCancel(ctx)
		done2 := make(chan error, 1)
		go func() { done2 <- other.Run(ctx2, port2, bot) }()
		t.Cleanup(func() {
			cancel2()
			if err := <-done2; err != nil {
				t.Errorf("the other Run: %v", err)
			}
		})
		leaseEnd := r.clk.Now().Add(r.ml.Config().Lease)
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		if err := r.clk.WaitArmedAfter(wctx, leaseEnd.Add(-time.Millisecond)); err != nil {
			t.Fatalf("the other worker set no timer for the lease's end: %v", err)
		}
		if p := r.pending(t); len(p) != 1 || p[0].LeaseOwner != holder || len(port2.posts) != 0 {
			t.Fatalf("the other worker took a leased row: %+v", p)
		}
		r.clk.Set(leaseEnd.Add(time.Millisecond))
		select {
		case o := <-out2:
			if o != modlog.Posted {
				t.Fatalf("the other worker's delivery: %s; want posted", o)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the other worker did not deliver the row once the lease ended")
		}
		got, err := r.cases.Get(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := port2.message(int64(got.ModlogMessageID)); !ok {
			t.Errorf("case linked to message %d, not the other worker's post", got.ModlogMessageID)
		}
		if p := r.pending(t); len(p) != 0 {
			t.Errorf("outbox after the other worker's delivery: %+v", p)
		}
	})
}

// A worker that stops gives back the rows handed to it and not yet delivered: due now,
// unleased, their attempt uncounted.
func TestStoppedWorkerGivesBackHandedRows(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, true)
		entered, stuck := make(chan struct{}), make(chan struct{})
		r.port.during = func() { close(entered); <-stuck }
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.ml.Run(ctx, r.port, bot) }()
		first := r.warn(t, cases.Active)
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the worker never posted")
		}
		// Handed to the worker while it is busy with the first.
		second := r.warn(t, cases.Active)
		if p := r.pending(t); len(p) != 2 || p[1].CaseID != second.ID || p[1].LeaseOwner == "" || p[1].Attempts != 1 {
			t.Fatalf("outbox %+v; want the second row leased to the worker", p)
		}
		cancel()
		close(stuck)
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		for _, p := range r.pending(t) {
			if p.CaseID == second.ID && (p.LeaseOwner != "" || p.Attempts != 0 || p.RunAt.After(r.clk.Now())) {
				t.Errorf("the undelivered row after the worker stopped: %+v; want it due now, unleased, attempts 0", p)
			}
			if p.CaseID != first.ID && p.CaseID != second.ID {
				t.Errorf("unexpected row %+v", p)
			}
		}
		if p := r.pending(t); !slices.ContainsFunc(p, func(x modlog.Pending) bool { return x.CaseID == second.ID }) {
			t.Errorf("the undelivered row is gone: %+v", p)
		}
	})
}

// firstTold returns a channel that receives the outbox as it is when the worker tells of
// its first delivery: the outcome is told once the delivery's round is settled.
func (r *rig) firstTold(t *testing.T) <-chan []modlog.Pending {
	t.Helper()
	got := make(chan []modlog.Pending, 1)
	var once sync.Once
	modlog.WithDeliveryObserver(func(int64, modlog.Outcome) {
		once.Do(func() {
			p, err := r.ml.Pending(context.Background())
			if err != nil {
				t.Errorf("reading the outbox: %v", err)
			}
			got <- p
		})
	})(r.ml)
	return got
}

func (r *rig) outcomes(t *testing.T, n int) map[modlog.Outcome]int {
	t.Helper()
	got := map[modlog.Outcome]int{}
	for range n {
		got[r.next(t)]++
	}
	return got
}

// linked reads case c and its history: the message it links and how many links it records.
func (r *rig) linked(t *testing.T, c cases.Case) (discord.MessageID, int) {
	t.Helper()
	ctx := context.Background()
	got, err := r.cases.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := r.cases.Events(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Kind == cases.EventModlog {
			n++
		}
	}
	return got.ModlogMessageID, n
}

// The deliveries of a round (here the four rows one claim takes) are settled together:
// when the first outcome is told, every row of the round is gone and every post is linked
// to its case, with one history row each.
func TestWorkerSettlesARoundTogether(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, true)
		var all []cases.Case
		for range 4 {
			all = append(all, r.warn(t, cases.Active))
		}
		first := r.firstTold(t)
		r.run(t)
		if got := r.outcomes(t, 4); got[modlog.Posted] != 4 {
			t.Fatalf("outcomes %v; want 4 posted", got)
		}
		if p := <-first; len(p) != 0 {
			t.Errorf("outbox when the first outcome was told: %+v; want the round settled", p)
		}
		seen := map[discord.MessageID]bool{}
		for _, c := range all {
			msg, links := r.linked(t, c)
			if _, ok := r.port.message(int64(msg)); !ok || seen[msg] || links != 1 {
				t.Errorf("case #%d links message %d (posted %v, seen before %v) with %d history rows; want its own post, one row",
					c.Number, msg, ok, seen[msg], links)
			}
			seen[msg] = true
		}
	})
}

// A case changed by another process while its round is delivered keeps its row, due at
// once and unleased, in the transaction that settles the others; its post is linked all the
// same, and the worker then edits it to show the change.
func TestWorkerSettlesARoundWithOneCaseChangedMeanwhile(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		r := newRig(t, st, true)
		a, b, c := r.warn(t, cases.Active), r.warn(t, cases.Active), r.warn(t, cases.Active)
		other := modlog.New(st, settings.NewService(st), modlog.WithClock(r.clk))
		otherCases := cases.NewService(st, cases.WithChangeObserver(other))
		other.Bind(otherCases)
		changed := make(chan error, 1)
		r.port.mu.Lock()
		r.port.during = func() {
			_, err := otherCases.SetReason(ctx, guild, b.Number, mod, "changed meanwhile")
			changed <- err
		}
		r.port.mu.Unlock()
		first := r.firstTold(t)
		r.run(t)
		if got := r.outcomes(t, 3); got[modlog.Posted] != 3 {
			t.Fatalf("outcomes %v; want 3 posted", got)
		}
		if err := <-changed; err != nil {
			t.Fatal(err)
		}
		p := <-first
		if len(p) != 1 || p[0].CaseID != b.ID || p[0].LeaseOwner != "" || p[0].Attempts != 0 || p[0].RunAt.After(r.clk.Now()) {
			t.Fatalf("outbox when the round was told: %+v; want only case id %d's row, due now, unleased, attempts 0", p, b.ID)
		}
		if o := r.next(t); o != modlog.Edited {
			t.Fatalf("delivery after the change %s; want edited", o)
		}
		for _, x := range []cases.Case{a, b, c} {
			if msg, links := r.linked(t, x); msg == 0 || links != 1 {
				t.Errorf("case #%d links message %d with %d history rows; want a message, one row", x.Number, msg, links)
			}
		}
		msg, _ := r.linked(t, b)
		if m, _ := r.port.message(int64(msg)); len(m.Embeds) != 1 || m.Embeds[0].Description != "changed meanwhile" {
			t.Errorf("message shows %+v; want the reason changed during the post", m.Embeds)
		}
		if p := r.pending(t); len(p) != 0 {
			t.Errorf("outbox after catching up: %+v", p)
		}
	})
}

// A row whose outcome the database refuses does not hold the round's others back: they are
// settled, and it keeps its lease, unlinked, until the lease ends; then it is delivered
// again.
func TestWorkerSettlesTheOthersWhenOneRowFails(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, true)
		a, b, c := r.warn(t, cases.Active), r.warn(t, cases.Active), r.warn(t, cases.Active)
		var refuse sync.Map
		refuse.Store(b.ID, true)
		modlog.SetSettleFault(r.ml, func(caseID int64) error {
			if _, ok := refuse.Load(caseID); ok {
				return errors.New("refused")
			}
			return nil
		})
		r.run(t)
		if got := r.outcomes(t, 3); got[modlog.Posted] != 2 || got[modlog.Retry] != 1 {
			t.Fatalf("outcomes %v; want 2 posted, 1 retry", got)
		}
		for _, x := range []cases.Case{a, c} {
			if msg, links := r.linked(t, x); msg == 0 || links != 1 {
				t.Errorf("case #%d links message %d with %d history rows; want a message, one row", x.Number, msg, links)
			}
		}
		if msg, links := r.linked(t, b); msg != 0 || links != 0 {
			t.Errorf("the refused case #%d links message %d with %d history rows; want none", b.Number, msg, links)
		}
		p := r.pending(t)
		if len(p) != 1 || p[0].CaseID != b.ID || p[0].LeaseOwner == "" || p[0].Attempts != 1 {
			t.Fatalf("outbox %+v; want only case id %d's row, still leased at its first attempt", p, b.ID)
		}
		refuse.Delete(b.ID)
		r.comesBackAfterTheLease(t, 1)
		if msg, links := r.linked(t, b); msg == 0 || links != 1 {
			t.Errorf("case #%d links message %d with %d history rows after the lease; want a message, one row", b.Number, msg, links)
		}
	})
}

// When the round's transaction fails and so does each row's own, every row keeps its lease,
// unlinked, as a single failed write left its row before rounds were settled together; when
// the leases end, every row is delivered again.
func TestWorkerLeavesARoundLeasedWhenItsSettlingFails(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, true)
		all := []cases.Case{r.warn(t, cases.Active), r.warn(t, cases.Active), r.warn(t, cases.Active)}
		var refuse atomic.Bool
		refuse.Store(true)
		modlog.SetSettleFault(r.ml, func(int64) error {
			if refuse.Load() {
				return errors.New("refused")
			}
			return nil
		})
		r.run(t)
		if got := r.outcomes(t, 3); got[modlog.Retry] != 3 {
			t.Fatalf("outcomes %v; want 3 retries", got)
		}
		p := r.pending(t)
		if len(p) != 3 {
			t.Fatalf("outbox %+v; want the 3 rows", p)
		}
		for i, x := range p {
			if x.LeaseOwner == "" || x.Attempts != 1 || x.Generation != 1 {
				t.Errorf("row %d after the failed settling: %+v; want it still leased at its first attempt", i, x)
			}
		}
		for _, c := range all {
			if msg, links := r.linked(t, c); msg != 0 || links != 0 {
				t.Errorf("case #%d links message %d with %d history rows; want none", c.Number, msg, links)
			}
		}
		refuse.Store(false)
		r.comesBackAfterTheLease(t, 3)
		for _, c := range all {
			if msg, links := r.linked(t, c); msg == 0 || links != 1 {
				t.Errorf("case #%d links message %d with %d history rows after the leases; want a message, one row", c.Number, msg, links)
			}
		}
	})
}

// comesBackAfterTheLease ends the lease of the rows the worker holds, once the worker waits
// for that (or for its poll, if sooner), and waits for their n deliveries, posted, leaving
// the outbox empty.
func (r *rig) comesBackAfterTheLease(t *testing.T, n int) {
	t.Helper()
	cfg := r.ml.Config()
	leaseEnd := r.clk.Now().Add(cfg.Lease)
	wait := min(cfg.Lease, cfg.PollEvery)
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.clk.WaitArmedAt(wctx, r.clk.Now().Add(wait)); err != nil {
		t.Fatalf("the worker set no timer for its poll or the lease's end: %v", err)
	}
	r.clk.Set(leaseEnd.Add(time.Millisecond))
	if got := r.outcomes(t, n); got[modlog.Posted] != n {
		t.Fatalf("outcomes after the lease %v; want %d posted", got, n)
	}
	if p := r.pending(t); len(p) != 0 {
		t.Errorf("outbox after the lease: %+v", p)
	}
}

// activate makes pending case c active in a transaction of its own, and runs then (if not
// nil) in the same transaction after it.
func (r *rig) activate(t *testing.T, c cases.Case, then func(tx *cases.Tx, c cases.Case) error) {
	t.Helper()
	err := r.cases.InTx(context.Background(), mod, func(tx *cases.Tx) error {
		a, ok, err := tx.Activate(c.ID, "the action succeeded")
		if err != nil || !ok {
			return fmt.Errorf("Activate = %v, %v", ok, err)
		}
		if then == nil {
			return nil
		}
		return then(tx, a)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A case made active by a command's finalizing transaction is handed to the worker with the
// case as that transaction left it, and its message shows exactly that: a later change in the
// same transaction (here voiding it, so that it is not shown at all) is not missed, and a
// change by another process while the message is posted is caught up with by an edit.
func TestWorkerShowsAnActivatedCaseAsItsTransactionLeftIt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		r := newRig(t, st, true)
		r.run(t)

		voided := r.warn(t, cases.Pending)
		r.activate(t, voided, func(tx *cases.Tx, c cases.Case) error { return tx.SetStatus(c, cases.Voided, "undone") })
		if o := r.next(t); o != modlog.Skipped {
			t.Fatalf("a case activated and voided in one transaction: %s; want skipped", o)
		}

		c := r.warn(t, cases.Pending)
		other := modlog.New(st, settings.NewService(st), modlog.WithClock(r.clk))
		otherCases := cases.NewService(st, cases.WithChangeObserver(other))
		other.Bind(otherCases)
		changed := make(chan error, 1)
		r.port.mu.Lock()
		r.port.during = func() {
			_, err := otherCases.SetReason(ctx, guild, c.Number, mod, "changed meanwhile")
			changed <- err
		}
		r.port.mu.Unlock()
		r.activate(t, c, nil)
		if o := r.next(t); o != modlog.Posted {
			t.Fatalf("first delivery %s; want posted", o)
		}
		if err := <-changed; err != nil {
			t.Fatal(err)
		}
		msg, _ := r.linked(t, c)
		if o := r.next(t); o != modlog.Edited {
			t.Fatalf("delivery after the change %s; want edited", o)
		}
		if m, _ := r.port.message(int64(msg)); len(m.Embeds) != 1 || m.Embeds[0].Description != "changed meanwhile" {
			t.Errorf("message shows %+v; want the reason changed during the post", m.Embeds)
		}
		if p := r.pending(t); len(p) != 0 {
			t.Errorf("outbox after catching up: %+v", p)
		}
	})
}
