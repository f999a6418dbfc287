package expiry_test

import (
	"context"
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

// The poller runs at most Workers actions at once, holds a quarter of the workers' worth more
// claimed and waiting (so that freed workers do not idle while it claims again), runs every
// action once, and counts each run's time from its claim.
func TestPollerKeepsWorkersFed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		cs := cases.NewService(st)
		svc := expiry.NewService(st, cs)
		const total = 20
		for i := range total {
			c, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: int64(700 + i), ModeratorID: mod, Type: cases.Tempban, Reason: "spam", ExpiresAt: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Schedule(ctx, c.ID, mod, expiry.Unban, c.ExpiresAt); err != nil {
				t.Fatal(err)
			}
		}
		g := &gate{svc: svc, release: make(chan struct{}), ran: map[int64]int{}}
		lease := time.Minute
		p := expiry.NewPoller(svc, g, expiry.Config{Workers: 4, Lease: lease, PollInterval: 50 * time.Millisecond, Actor: bot, Owner: "p1"}, nil)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(runCtx) }()

		// Four run and block; one more is claimed and waits for a worker.
		deadline := time.Now().Add(10 * time.Second)
		for {
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
			g.mu.Lock()
			running := g.running
			g.mu.Unlock()
			if running == 4 && leased == 5 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d running and %d leased; want 4 running and 5 leased (one waiting for a worker)", running, leased)
			}
			time.Sleep(10 * time.Millisecond)
		}
		close(g.release)
		for {
			g.mu.Lock()
			n := len(g.ran)
			g.mu.Unlock()
			if n == total {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d actions ran", n, total)
			}
			time.Sleep(10 * time.Millisecond)
		}
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
		cs := cases.NewService(st)
		svc := expiry.NewService(st, cs)
		for i := range 2 {
			c, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: int64(800 + i), ModeratorID: mod, Type: cases.Tempban, Reason: "spam", ExpiresAt: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Schedule(ctx, c.ID, mod, expiry.Unban, c.ExpiresAt); err != nil {
				t.Fatal(err)
			}
		}
		g := &gate{svc: svc, release: make(chan struct{}), ran: map[int64]int{}}
		p := expiry.NewPoller(svc, g, expiry.Config{Workers: 1, Lease: time.Minute, PollInterval: 50 * time.Millisecond, Actor: bot, Owner: "p1"}, nil)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(runCtx) }()
		deadline := time.Now().Add(10 * time.Second)
		for {
			g.mu.Lock()
			running := g.running
			g.mu.Unlock()
			if running == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no run started")
			}
			time.Sleep(10 * time.Millisecond)
		}
		// One runs, the other is claimed and waits for the only worker. Stop, then let the
		// run finish.
		stop()
		time.Sleep(100 * time.Millisecond)
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
