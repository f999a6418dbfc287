package expiry_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// gate is a Handler whose runs block until released, counting how many run at once.
type gate struct {
	svc     *expiry.Service
	release chan struct{}
	mu      sync.Mutex
	running int
	most    int
	ran     map[int64]int
	dl      []time.Duration // each run's time left before its context's deadline, at start
}

func (g *gate) Run(ctx context.Context, cl expiry.Claim) error {
	g.mu.Lock()
	g.running++
	g.most = max(g.most, g.running)
	g.ran[cl.ID]++
	if d, ok := ctx.Deadline(); ok {
		g.dl = append(g.dl, time.Until(d))
	}
	g.mu.Unlock()
	<-g.release
	g.mu.Lock()
	g.running--
	g.mu.Unlock()
	return g.svc.Complete(context.Background(), cl, expiry.Done, "ran")
}

func (g *gate) GaveUp(context.Context, expiry.Action, string) {}

func (g *gate) count() (running, ran int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.running, len(g.ran)
}

// scheduleDue records n tempbans of users from firstUser on, each with an unban due now.
func scheduleDue(t *testing.T, f fixture, n, firstUser int) {
	t.Helper()
	ctx := context.Background()
	cs, svc := f.cs, f.svc
	for i := range n {
		c, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: discord.UserID(firstUser + i), ModeratorID: mod, Type: cases.Tempban, Reason: "spam", ExpiresAt: f.clk.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Schedule(ctx, c.ID, mod, expiry.Unban, c.ExpiresAt); err != nil {
			t.Fatal(err)
		}
	}
}

// waitUntil waits for the event cond looks for, checking every few milliseconds; cond says
// what it saw, for the failure should the event not come within 10 s.
func waitUntil(t *testing.T, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(saw)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The poller runs at most Workers actions at once, holds a quarter of the workers' worth more
// claimed and waiting (so that freed workers do not idle while it claims again), runs every
// action once, and counts each run's time from its claim.
func TestPollerKeepsWorkersFed(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		svc := f.svc
		const total = 20
		scheduleDue(t, f, total, 700)
		g := &gate{svc: svc, release: make(chan struct{}), ran: map[int64]int{}}
		lease := time.Minute
		p := expiry.NewPoller(svc, g, expiry.Config{Workers: 4, Lease: lease, PollInterval: 50 * time.Millisecond, Actor: bot, Owner: "p1"}, nil)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(runCtx) }()

		// Four run and block; one more is claimed and waits for a worker.
		waitUntil(t, func() (bool, string) {
			all, _, err := svc.Pending(ctx, 0, expiry.MaxPending)
			if err != nil {
				t.Fatal(err)
			}
			leased := 0
			for _, a := range all {
				if a.LeaseOwner == "p1" {
					leased++
				}
			}
			running, _ := g.count()
			return running == 4 && leased == 5, fmt.Sprintf("%d running and %d leased; want 4 running and 5 leased (one waiting for a worker)", running, leased)
		})
		close(g.release)
		waitUntil(t, func() (bool, string) {
			_, n := g.count()
			return n == total, fmt.Sprintf("%d of %d actions ran", n, total)
		})
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.most != 4 {
			t.Errorf("%d ran at once; want the 4 workers", g.most)
		}
		for id, n := range g.ran {
			if n != 1 {
				t.Errorf("action %d ran %d times", id, n)
			}
		}
		for _, d := range g.dl {
			if d > lease/2 || d <= 0 {
				t.Errorf("a run started with %v before its deadline; want at most half the lease (%v) counted from the claim", d, lease/2)
			}
		}
	})
}

// A poller that stops hands back the claims still waiting for a worker: unleased, their
// attempt not counted, claimable at once by another poller; the run in progress finishes.
func TestStoppingPollerHandsBackWaitingClaims(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		svc := f.svc
		scheduleDue(t, f, 2, 800)
		g := &gate{svc: svc, release: make(chan struct{}), ran: map[int64]int{}}
		p := expiry.NewPoller(svc, g, expiry.Config{Workers: 1, Lease: time.Minute, PollInterval: 50 * time.Millisecond, Actor: bot, Owner: "p1"}, nil)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(runCtx) }()
		waitUntil(t, func() (bool, string) {
			running, _ := g.count()
			return running == 1, "no run started"
		})
		// One runs, the other is claimed and waits for the only worker. Stop; once the
		// waiting claim is handed back, let the run finish.
		stop()
		waitUntil(t, func() (bool, string) {
			all, _, err := svc.Pending(ctx, 0, expiry.MaxPending)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range all {
				if a.LeaseOwner == "" {
					return true, ""
				}
			}
			return false, fmt.Sprintf("open actions %+v; want one handed back (unleased)", all)
		})
		close(g.release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		all, _, err := svc.Pending(ctx, 0, expiry.MaxPending)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1 || all[0].LeaseOwner != "" || all[0].Attempts != 0 {
			t.Fatalf("open after the stop: %+v; want the waiting one, unleased, with no attempt counted", all)
		}
		other, err := svc.Claim(ctx, "p2", 5, time.Minute)
		if err != nil || len(other) != 1 || other[0].ID != all[0].ID || other[0].Attempts != 1 {
			t.Fatalf("another poller's claim: %+v, %v; want the handed-back action as its first attempt", other, err)
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if len(g.ran) != 1 {
			t.Errorf("%d actions ran; want the one in progress only", len(g.ran))
		}
	})
}

// records is a slog handler that keeps what was logged, for tests that count warnings.
type records struct {
	mu   sync.Mutex
	msgs []string
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Level.String()+" "+rec.Message)
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// all returns a copy of what was logged.
func (r *records) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

func (r *records) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

// TestPollerOnAFailingDatabase: while the database fails, the poller warns once (not every
// poll), waits longer and longer between tries up to a minute, and says when the database
// answers again, then runs what is due.
func TestPollerOnAFailingDatabase(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		f := newFixture(t, st)
		scheduleDue(t, f, 1, 900)
		// The schedule's table goes away: every claim and read fails, as on a database
		// that refuses gavel.
		if _, err := st.Writer().ExecContext(ctx, "ALTER TABLE scheduled_actions RENAME TO scheduled_actions_away"); err != nil {
			t.Fatal(err)
		}
		logs := &records{}
		g := &gate{svc: f.svc, release: make(chan struct{}), ran: map[int64]int{}}
		close(g.release)
		const interval = 2 * time.Second
		p := expiry.NewPoller(f.svc, g, expiry.Config{Workers: 1, Lease: time.Minute, PollInterval: interval, Actor: bot, Owner: "p1"}, slog.New(logs))
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(runCtx) }()

		var waits []time.Duration
		for range 8 {
			now := f.clk.Now()
			if err := f.clk.WaitArmedAfter(ctx, now); err != nil {
				t.Fatalf("the poller never waited again: %v", err)
			}
			armed := f.clk.Armed()
			next := armed[len(armed)-1]
			waits = append(waits, next.Sub(now))
			f.clk.Set(next)
		}
		if n := logs.count("WARN"); n != 1 {
			t.Errorf("%d warnings over 8 failing polls; want 1:\n%v", n, logs.all())
		}
		for i := 1; i < len(waits); i++ {
			if waits[i] < waits[i-1] || waits[i] > time.Minute {
				t.Errorf("waits between tries %v; want them growing, at most a minute", waits)
				break
			}
		}
		if waits[0] <= interval || waits[len(waits)-1] != time.Minute {
			t.Errorf("waits between tries %v; want longer than the poll interval, ending at a minute", waits)
		}

		if _, err := st.Writer().ExecContext(ctx, "ALTER TABLE scheduled_actions_away RENAME TO scheduled_actions"); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(time.Minute)
		waitUntil(t, func() (bool, string) {
			_, ran := g.count()
			return ran == 1 && logs.count("INFO expiry: the database answers again") == 1, fmt.Sprintf("ran %d; logs %v", ran, logs.all())
		})
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
