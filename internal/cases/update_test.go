package cases_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
	"github.com/google/go-cmp/cmp"
)

func pendingCases(t *testing.T, s *cases.Service, n int) []cases.Case {
	t.Helper()
	out := make([]cases.Case, n)
	for i := range out {
		nw := warn(guild, user+int64(i), "follow-up test")
		nw.Status = cases.Pending
		c, err := s.Create(context.Background(), nw)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = c
	}
	return out
}

func kinds(t *testing.T, s *cases.Service, id int64) []cases.EventKind {
	t.Helper()
	evs, err := s.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []cases.EventKind
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

// grouped opens stores whose writes share transactions on either engine (the default on
// SQLite only), so that the group commit's rules are tested on PostgreSQL too.
var grouped = store.Options{GroupCommit: store.GroupOn}

// The command path's follow-up writes, many at once on different cases: every one is
// applied, with its history row, and the case returned is the case as written.
func TestConcurrentFollowUpsOnDifferentCases(t *testing.T) {
	t.Parallel()
	storetest.EachWith(t, grouped, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := cases.NewService(st, cases.WithClock(newClock().now))
		cs := pendingCases(t, s, 48)
		var wg sync.WaitGroup
		errs := make(chan error, len(cs))
		for i, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, err := s.SetStatus(ctx, discord.GuildID(guild), c.Number, discord.UserID(mod), cases.Active, "the action succeeded")
				if err != nil {
					errs <- err
					return
				}
				if a.Status != cases.Active {
					errs <- fmt.Errorf("case #%d returned %s after SetStatus", c.Number, a.Status)
				}
				l, err := s.LinkModlog(ctx, discord.GuildID(guild), c.Number, discord.UserID(mod), 8000, discord.MessageID(9000+i))
				if err != nil {
					errs <- err
					return
				}
				if l.ModlogMessageID != discord.MessageID(9000+i) || l.Status != cases.Active {
					errs <- fmt.Errorf("case #%d returned %+v after LinkModlog", c.Number, l)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for i, c := range cs {
			got, err := s.Get(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != cases.Active || got.ModlogMessageID != discord.MessageID(9000+i) {
				t.Errorf("case #%d: status %s, mod-log %d", c.Number, got.Status, got.ModlogMessageID)
			}
			if k := fmt.Sprint(kinds(t, s, c.ID)); k != fmt.Sprint([]cases.EventKind{cases.EventCreated, cases.EventStatus, cases.EventModlog}) {
				t.Errorf("case #%d history %s", c.Number, k)
			}
		}
	})
}

// Concurrent writes to one case are serialised as separate transactions would be: each sees
// the one before, so the history chains, and a transition is made only once.
func TestConcurrentFollowUpsOnOneCase(t *testing.T) {
	t.Parallel()
	storetest.EachWith(t, grouped, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := cases.NewService(st, cases.WithClock(newClock().now))
		c := pendingCases(t, s, 1)[0]
		const n = 24
		var wg sync.WaitGroup
		var mu sync.Mutex
		activated, unchanged := 0, 0
		for i := range n {
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, err := s.SetStatus(ctx, discord.GuildID(guild), c.Number, discord.UserID(mod), cases.Active, "")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					activated++
				case errors.Is(err, input.ErrUnchanged):
					unchanged++
				default:
					t.Errorf("set status: %v", err)
				}
			}()
			go func() {
				defer wg.Done()
				if _, err := s.LinkModlog(ctx, discord.GuildID(guild), c.Number, discord.UserID(mod), 4000, discord.MessageID(5000+i)); err != nil {
					t.Errorf("link %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		if activated != 1 || unchanged != n-1 {
			t.Errorf("activated %d times, unchanged %d; want 1 and %d", activated, unchanged, n-1)
		}
		evs, err := s.Events(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		statuses, links, prev := 0, 0, ""
		for _, e := range evs {
			switch e.Kind {
			case cases.EventStatus:
				statuses++
			case cases.EventModlog:
				links++
				if e.Old != prev {
					t.Errorf("mod-log history %q → %q follows %q: a write did not see the one before", e.Old, e.New, prev)
				}
				prev = e.New
			}
		}
		if statuses != 1 || links != n {
			t.Errorf("%d status and %d mod-log rows; want 1 and %d", statuses, links, n)
		}
		got, err := s.Get(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%d/%d", got.ModlogChannelID, got.ModlogMessageID) != prev {
			t.Errorf("case links %d, history ends at %s", got.ModlogMessageID, prev)
		}
	})
}

// One failing write in a shared transaction fails alone: its own changes (history rows
// included) are undone, its neighbours' commit, and each caller gets its own outcome.
func TestFailingWriteInABatch(t *testing.T) {
	t.Parallel()
	storetest.EachWith(t, grouped, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := cases.NewService(st, cases.WithClock(newClock().now))
		cs := pendingCases(t, s, 20)

		// Hold the writer's slots so that the writes below queue and are then taken as one
		// batch by the next leader.
		release, holdDone := holdWriters(t, s, st)

		errBoom := errors.New("boom")
		results := make([]error, len(cs))
		var wg sync.WaitGroup
		for i, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch i % 4 {
				case 1: // writes, then fails: nothing of it may stay
					results[i] = s.InTx(ctx, discord.UserID(mod), func(tx *cases.Tx) error {
						l, err := tx.Lock(c.ID)
						if err != nil {
							return err
						}
						if err := tx.SetStatus(l, cases.Active, "to be undone"); err != nil {
							return err
						}
						return errBoom
					})
				case 2: // refused by the status rules
					_, results[i] = s.Void(ctx, discord.GuildID(guild), c.Number, discord.UserID(mod), "voided first")
					if results[i] == nil {
						_, results[i] = s.SetStatus(ctx, discord.GuildID(guild), c.Number, discord.UserID(mod), cases.Pending, "")
					}
				default:
					_, results[i] = s.SetStatus(ctx, discord.GuildID(guild), c.Number, discord.UserID(mod), cases.Active, "")
				}
			}()
		}
		deadline := time.Now().Add(10 * time.Second)
		for st.GroupStats().Queued < len(cs) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		close(release)
		wg.Wait()
		if err := holdDone(); err != nil {
			t.Fatal(err)
		}
		if gs := st.GroupStats(); gs.Shared == 0 || gs.Members < int64(len(cs)) {
			txs, writes := gs.Shared, gs.Members
			t.Errorf("%d shared transactions for %d writes: the writes were not batched", txs, writes)
		}
		for i, c := range cs {
			got, err := s.Get(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			k := fmt.Sprint(kinds(t, s, c.ID))
			switch i % 4 {
			case 1:
				if !errors.Is(results[i], errBoom) {
					t.Errorf("case #%d: %v, want boom", c.Number, results[i])
				}
				if got.Status != cases.Pending || k != fmt.Sprint([]cases.EventKind{cases.EventCreated}) {
					t.Errorf("case #%d: a failed write stayed: %s, history %s", c.Number, got.Status, k)
				}
			case 2:
				var inv *input.InvalidError
				if !errors.As(results[i], &inv) {
					t.Errorf("case #%d: %v, want the status rules' refusal", c.Number, results[i])
				}
				if got.Status != cases.Voided || k != fmt.Sprint([]cases.EventKind{cases.EventCreated, cases.EventVoided}) {
					t.Errorf("case #%d: %s, history %s", c.Number, got.Status, k)
				}
			default:
				if results[i] != nil {
					t.Errorf("case #%d: %v", c.Number, results[i])
				}
				if got.Status != cases.Active || k != fmt.Sprint([]cases.EventKind{cases.EventCreated, cases.EventStatus}) {
					t.Errorf("case #%d: %s, history %s", c.Number, got.Status, k)
				}
			}
		}
	})
}

// A caller that gives up while queued writes nothing and is told so.
func TestAbandonedWrite(t *testing.T) {
	t.Parallel()
	storetest.EachWith(t, grouped, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := cases.NewService(st, cases.WithClock(newClock().now))
		c := pendingCases(t, s, 1)[0]
		release, holdDone := holdWriters(t, s, st)
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := s.SetStatus(cctx, discord.GuildID(guild), c.Number, discord.UserID(mod), cases.Active, "")
			done <- err
		}()
		for st.GroupStats().Queued < 1 {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("abandoned write: %v", err)
		}
		close(release)
		if err := holdDone(); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != cases.Pending {
			t.Errorf("abandoned write applied: %s", got.Status)
		}
	})
}

// holdWriters occupies every write slot (one on SQLite, two on PostgreSQL) with a
// transaction that waits for release to be closed; wait reports their outcome.
func holdWriters(t *testing.T, s *cases.Service, st *store.Store) (release chan struct{}, wait func() error) {
	t.Helper()
	slots := st.GroupStats().Slots
	release = make(chan struct{})
	errs := make(chan error, slots)
	for range slots {
		held := make(chan struct{})
		go func() {
			errs <- s.InTx(context.Background(), discord.UserID(mod), func(tx *cases.Tx) error {
				close(held)
				<-release
				return nil
			})
		}()
		<-held
	}
	return release, func() error {
		var all []error
		for range slots {
			all = append(all, <-errs)
		}
		return errors.Join(all...)
	}
}

// Tx.Activate and Tx.Process do in one statement what Lock with SetStatus and MarkProcessed
// do, with the same history; they write nothing when the case has moved on.
func TestActivateAndProcessInOneStatement(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := cases.NewService(st)
		cs := pendingCases(t, s, 3)
		var got [3]cases.Case
		err := s.InTx(ctx, discord.UserID(mod), func(tx *cases.Tx) error {
			var ok [3]bool
			var err error
			for i := range 2 {
				if got[i], ok[i], err = tx.Activate(cs[i].ID, "the action succeeded"); err != nil {
					return err
				}
			}
			if !ok[0] || !ok[1] {
				return fmt.Errorf("Activate of a pending case reported %v", ok)
			}
			// Again: no longer pending, so nothing is written.
			if _, again, err := tx.Activate(cs[1].ID, "again"); err != nil || again {
				return fmt.Errorf("second Activate = %v, %v; want false", again, err)
			}
			if got[2], ok[2], err = tx.Process(cs[0].ID, "expired"); err != nil || !ok[2] {
				return fmt.Errorf("Process = %v, %v", ok[2], err)
			}
			if _, again, err := tx.Process(cs[0].ID, "again"); err != nil || again {
				return fmt.Errorf("second Process = %v, %v; want false", again, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got[0].Status != cases.Active || got[1].Status != cases.Active || got[1].ModlogMessageID != 0 || !got[2].Processed {
			t.Errorf("returned %+v", got)
		}
		for i, want := range [][]cases.EventKind{
			{cases.EventCreated, cases.EventStatus, cases.EventProcessed},
			{cases.EventCreated, cases.EventStatus},
			{cases.EventCreated},
		} {
			if k := fmt.Sprint(kinds(t, s, cs[i].ID)); k != fmt.Sprint(want) {
				t.Errorf("case #%d history %s; want %v", cs[i].Number, k, want)
			}
			stored, err := s.Get(ctx, cs[i].ID)
			if err != nil {
				t.Fatal(err)
			}
			if wantActive := i < 2; (stored.Status == cases.Active) != wantActive || stored.Processed != (i == 0) {
				t.Errorf("case #%d stored as %s, processed %v", cs[i].Number, stored.Status, stored.Processed)
			}
		}
		evs, err := s.Events(ctx, cs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if e := evs[1]; e.Old != "pending" || e.New != "active" || e.ActorID != discord.UserID(mod) || e.Note != "the action succeeded" {
			t.Errorf("status row %+v", e)
		}
	})
}

// changeRecorder is a ChangeObserver that keeps what each committed transaction told it.
type changeRecorder struct {
	mu   sync.Mutex
	seen [][]cases.Changed
}

func (r *changeRecorder) CasesChanged(tx *store.Tx, changed []cases.Changed) error {
	got := slices.Clone(changed)
	tx.AfterCommit(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.seen = append(r.seen, got)
	})
	return nil
}

// Changed.Current is the case as the transaction leaves it when its last change of the case
// returned the row (Activate), and nil after any later change of the case in the same
// transaction, the link to its mod-log message included, or for a case created active.
func TestChangedCurrentIsTheCaseAsTheTransactionLeavesIt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		rec := &changeRecorder{}
		s := cases.NewService(st, cases.WithChangeObserver(rec))
		cs := pendingCases(t, s, 3)
		err := s.InTx(ctx, discord.UserID(mod), func(tx *cases.Tx) error {
			for _, c := range cs {
				if _, ok, err := tx.Activate(c.ID, "the action succeeded"); err != nil || !ok {
					return fmt.Errorf("Activate = %v, %v", ok, err)
				}
			}
			b, err := tx.Lock(cs[1].ID)
			if err != nil {
				return err
			}
			if err := tx.SetExpiry(b, time.UnixMilli(b.CreatedAt.UnixMilli()).Add(time.Hour), "longer"); err != nil {
				return err
			}
			c, err := tx.Lock(cs[2].ID)
			if err != nil {
				return err
			}
			return tx.LinkModlog(c, 10, 20)
		})
		if err != nil {
			t.Fatal(err)
		}
		active, err := s.Create(ctx, warn(guild, user+10, "created active"))
		if err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		seen := rec.seen
		rec.mu.Unlock()
		if len(seen) != 2 || len(seen[0]) != 3 || len(seen[1]) != 1 || seen[1][0].ID != active.ID {
			t.Fatalf("observed %+v; want the three activated cases, then the one created active", seen)
		}
		stored, err := s.Get(ctx, cs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if cur := seen[0][0].Current; cur == nil {
			t.Errorf("case #%d activated last: Current nil; want the case as stored", cs[0].Number)
		} else if d := cmp.Diff(stored, *cur); d != "" {
			t.Errorf("case #%d: Current differs from the stored case (-stored +current):\n%s", cs[0].Number, d)
		}
		for i, ch := range []cases.Changed{seen[0][1], seen[0][2], seen[1][0]} {
			if ch.Current != nil {
				t.Errorf("change %d (case id %d): Current %+v; want nil", i, ch.ID, *ch.Current)
			}
		}
	})
}
