package expiry_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
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
		c, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: int64(firstUser + i), ModeratorID: mod, Type: cases.Tempban, Reason: "spam", ExpiresAt: f.clk.Now()})
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
