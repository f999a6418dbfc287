package leases_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord/shards"
	"github.com/gavelbot/gavel/internal/leases"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// runner stands for a process's shard manager: it records what the provider starts and
// stops, and gives every started shard a session whose sequence grows as it "runs".
type runner struct {
	name string
	mu   sync.Mutex
	run  map[int]shards.Session
	// resumed lists the sessions the provider handed to Start (a resumable one means the
	// shard RESUMEs instead of identifying).
	resumed  []shards.Session
	started  int
	stopKeep []bool
	// onStart, when set, runs as a shard starts (before it is recorded): an IDENTIFY's
	// wait is the clock moving on meanwhile.
	onStart func(id int)
}

func newRunner(name string) *runner { return &runner{name: name, run: map[int]shards.Session{}} }

func (r *runner) Start(_ context.Context, id int, resume shards.Session) error {
	if r.onStart != nil {
		r.onStart(id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.run[id]; ok {
		return fmt.Errorf("shard %d already runs", id)
	}
	r.started++
	s := resume
	if resume.Resumable() {
		r.resumed = append(r.resumed, resume)
	} else {
		s = shards.Session{ID: fmt.Sprintf("%s-%d", r.name, id), Seq: 1, ResumeURL: "wss://resume/" + r.name}
	}
	r.run[id] = s
	return nil
}

func (r *runner) Stop(_ context.Context, id int, keep bool) shards.Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.run[id]
	if !ok {
		return shards.Session{}
	}
	delete(r.run, id)
	r.stopKeep = append(r.stopKeep, keep)
	if !keep {
		return shards.Session{}
	}
	return s
}

func (r *runner) Sessions() map[int]shards.Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[int]shards.Session{}
	for id, s := range r.run {
		s.Seq++ // events arrived since the last save
		r.run[id] = s
		out[id] = s
	}
	return out
}

func (r *runner) Running() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []int
	for id := range r.run {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// process is one provider running with its runner until stop.
type process struct {
	p      *leases.Provider
	r      *runner
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	live   int // the processes holding leases, as last reported (the REST share's divisor)
}

func (pr *process) lastLive() int {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.live
}

// TestShardsAreSharedAndTakenOver runs three providers (three processes) on one database
// and a manual clock: they divide 8 shards fairly; a killed one's shards (its leases left
// to run out, as after SIGKILL) are taken over by the others within TTL + Renew and
// resumed from the sessions it saved; a clean stop hands its shards over at once, with
// their sessions, so nothing identifies again; at no moment do two processes run one shard.
func TestShardsAreSharedAndTakenOver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const count = 8
		const renew, ttl = 5 * time.Second, 30 * time.Second
		clk := clock.NewManual(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC))
		ctx, cancelAll := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancelAll()
		start := func(name string) *process {
			pr := &process{r: newRunner(name), done: make(chan struct{})}
			pr.p = leases.New(leases.Config{Store: st, Owner: name, Renew: renew, TTL: ttl, Clock: clk,
				Live: func(n int) { pr.mu.Lock(); pr.live = n; pr.mu.Unlock() }})
			pctx, cancel := context.WithCancel(ctx)
			pr.cancel = cancel
			go func() {
				defer close(pr.done)
				if err := pr.p.Run(pctx, count, pr.r); err != nil {
					t.Errorf("%s: Run: %v", name, err)
				}
			}()
			return pr
		}
		live := []*process{}
		// round lets every live provider tick once: each waits on the clock again after.
		waitIdle := func() {
			t.Helper()
			if err := clk.WaitArmed(ctx, len(live)); err != nil {
				t.Fatalf("the providers did not go back to waiting: %v", err)
			}
		}
		round := func() {
			t.Helper()
			clk.Advance(renew)
			waitIdle()
			noOverlap(t, live)
		}
		for _, name := range []string{"a", "b", "c"} {
			live = append(live, start(name))
			waitIdle()
		}
		for range 4 {
			round()
		}
		if got := shares(live); !slices.Equal(got, []int{2, 3, 3}) {
			t.Fatalf("shards per process %v; want 3, 3 and 2 in some order", got)
		}
		for _, pr := range live {
			if n := pr.lastLive(); n != 3 {
				t.Errorf("%s counts %d processes holding leases; want 3", pr.r.name, n)
			}
		}
		identified := 0
		for _, pr := range live {
			identified += pr.r.started - len(pr.r.resumed)
		}

		// SIGKILL c: it stops renewing, its connections die with it, its rows stay.
		c := live[2]
		c.cancel()
		<-c.done
		live = live[:2]
		cShards := c.r.Running()
		saved := map[int]shards.Session{}
		for id, s := range c.r.Sessions() {
			s.Seq-- // what it saved at its last renewal
			saved[id] = s
		}
		took := clk.Now()
		for taken := false; !taken; {
			round()
			if clk.Now().Sub(took) > ttl+renew {
				t.Fatalf("c's shards %v not taken over within %v: running %v", cShards, ttl+renew, running(live))
			}
			taken = len(running(live)) == count
		}
		if got := shares(live); !slices.Equal(got, []int{4, 4}) {
			t.Errorf("after the takeover, shards per process %v; want 4 and 4", got)
		}
		if n := live[0].lastLive(); n != 2 {
			t.Errorf("after c died, a counts %d processes; want 2", n)
		}
		resumedFromC := 0
		for _, pr := range live {
			for _, s := range pr.r.resumed {
				for _, cs := range saved {
					if s == cs {
						resumedFromC++
					}
				}
			}
		}
		if resumedFromC != len(cShards) {
			t.Errorf("%d of c's %d shards resumed its saved sessions (%v); want all", resumedFromC, len(cShards), saved)
		}

		// Clean stop of a: its shards go back with their sessions; b takes them.
		a := live[0]
		aShards := a.r.Running()
		a.cancel()
		<-a.done
		kept := map[int]shards.Session{}
		for _, id := range aShards {
			kept[id] = a.r.Stop(ctx, id, true)
		}
		a.p.Release(ctx, kept)
		live = live[1:]
		round()
		round()
		if got := running(live); len(got) != count {
			t.Fatalf("after a's clean stop b runs %v; want all %d shards at once", got, count)
		}
		b := live[0]
		for id, s := range kept {
			if !slices.Contains(b.r.resumed, s) {
				t.Errorf("b did not resume a's shard %d with the session a kept (%+v)", id, s)
			}
		}
		if n := b.r.started - len(b.r.resumed) + a.r.started - len(a.r.resumed) + c.r.started - len(c.r.resumed); n != identified {
			t.Errorf("%d shard starts identified in all; want only the first %d (every later start resumes)", n, identified)
		}
		b.cancel()
		<-b.done
	})
}

func running(ps []*process) []int {
	var all []int
	for _, pr := range ps {
		all = append(all, pr.r.Running()...)
	}
	slices.Sort(all)
	return all
}

func shares(ps []*process) []int {
	var n []int
	for _, pr := range ps {
		n = append(n, len(pr.r.Running()))
	}
	slices.Sort(n)
	return n
}

// noOverlap fails when two processes run one shard.
func noOverlap(t *testing.T, ps []*process) {
	t.Helper()
	seen := map[int]string{}
	for _, pr := range ps {
		for _, id := range pr.r.Running() {
			if other, ok := seen[id]; ok {
				t.Fatalf("shard %d runs in %s and %s at once", id, other, pr.r.name)
			}
			seen[id] = pr.r.name
		}
	}
}

// TestSlowStartsDoNotStarveRenewals: one process takes all 8 shards, and each start waits
// 5 seconds for its IDENTIFY's window (max_concurrency 1), as Discord makes it. Every
// lease it holds must be renewed before it runs out: were the 8 taken in one tick, that
// tick would last 40 seconds, past the 30-second lease of the first shard taken, which
// another process could then take while this one still ran it.
func TestSlowStartsDoNotStarveRenewals(t *testing.T) {
	st := storetest.OpenWith(t, store.Postgres, store.Options{MaxOpenConns: 4}) // skips without PostgreSQL
	ctx, cancelAll := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancelAll()
	const count = 8
	const renew, ttl, identify = 5 * time.Second, 30 * time.Second, 5 * time.Second
	clk := clock.NewManual(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC))
	p := leases.New(leases.Config{Store: st, Owner: "a", Renew: renew, TTL: ttl, Clock: clk})
	r := newRunner("a")
	var mu sync.Mutex
	var lapsed []string
	// Before each start, no lease this process holds may have run out in the database.
	r.onStart = func(int) {
		now := clk.Now().UnixMilli()
		rows, err := st.WriteQueries().ShardLeases(ctx, count)
		if err != nil {
			t.Error(err)
			return
		}
		for _, row := range rows {
			if row.Owner.String == "a" && row.ExpiresAt <= now {
				mu.Lock()
				lapsed = append(lapsed, fmt.Sprintf("shard %d ran out %v ago", row.ShardID, time.Duration(now-row.ExpiresAt)*time.Millisecond))
				mu.Unlock()
			}
		}
		clk.Advance(identify)
	}
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Run(pctx, count, r)
	}()
	defer func() { stop(); <-done }()
	// Taking the 8 in one tick, the provider never settles: the leases it took first ran
	// out while it took the others, so it loses and retakes them, tick after tick, without
	// ever waiting on its clock; the bound below only ends such a run.
	for len(r.Running()) < count {
		if err := clk.WaitArmedAfter(ctx, clk.Now()); err != nil {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("the provider runs %v and never waits for its next renewal (%v); leases that ran out: %v", r.Running(), err, lapsed)
		}
		if len(r.Running()) < count {
			clk.Advance(renew)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lapsed) > 0 {
		t.Errorf("leases ran out while the process took its other shards: %v", lapsed)
	}
}
