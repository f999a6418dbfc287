package escalation_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/escalation"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// A guild whose last evaluation found no settings has its next case changes evaluated from
// the settings alone, read in their transaction: settings another process stores meanwhile
// are seen by the next case.
func TestSettingsAddedAfterCasesWithout(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		esc := escalation.NewService(st)
		cs := cases.NewService(st, cases.WithChangeObserver(esc))
		other := escalation.NewService(st) // another gavel process on the same database
		u := discord.UserID(900000000000000710)
		warn := func(reason string) (int, bool) {
			t.Helper()
			c, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: u, ModeratorID: mod, Type: cases.Warn, Reason: reason})
			if err != nil {
				t.Fatal(err)
			}
			p, _, ok, err := esc.CasePoints(ctx, c.ID)
			if err != nil {
				t.Fatalf("points of case #%d: %v", c.Number, err)
			}
			return p, ok
		}
		// The first warning reads the case with the (missing) settings, the second the
		// settings alone: neither counts.
		for _, r := range []string{"first", "second"} {
			if p, ok := warn(r); ok {
				t.Fatalf("%s warning without settings: %d points", r, p)
			}
		}
		usePreset(t, other, true)
		if p, ok := warn("third"); !ok || p != 1 {
			t.Fatalf("warning after another process stored settings: %d points (row %v); want 1", p, ok)
		}
		if p, ok := warn("fourth"); !ok || p != 1 {
			t.Fatalf("the next warning: %d points (row %v); want 1", p, ok)
		}
	})
}

// The statement that reads a newly counting case writes its points row when the case and
// the settings are those its points were computed from beforehand (the settings this process
// last parsed, the case as the transaction wrote it). When either differs, the points must
// come from the stored ones: here the settings were changed by another process (its own
// Service, so this process's parsed copy is stale), and a case's reason was changed in the
// transaction that made it count (the copy the guess starts from has the old reason).
func TestPointsComeFromTheStoredSettingsAndCase(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		esc := escalation.NewService(st)
		cs := cases.NewService(st, cases.WithChangeObserver(esc))
		other := escalation.NewService(st) // another gavel process on the same database
		usePreset(t, esc, true)
		u := discord.UserID(900000000000000700)
		points := func(c cases.Case) int {
			t.Helper()
			p, _, ok, err := esc.CasePoints(ctx, c.ID)
			if err != nil || !ok {
				t.Fatalf("points of case #%d: %d, %v, %v", c.Number, p, ok, err)
			}
			return p
		}
		warn := func(reason string) cases.Case {
			t.Helper()
			c, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: u, ModeratorID: mod, Type: cases.Warn, Reason: reason})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		// The first warning parses the settings; the second is evaluated from that copy.
		if p := points(warn("first")); p != 1 {
			t.Fatalf("first warning: %d points; want 1", p)
		}
		if p := points(warn("second")); p != 1 {
			t.Fatalf("second warning: %d points; want 1", p)
		}
		// Another process makes a warning worth 2 points, and 4 for spam.
		four := 4
		if _, _, _, err := other.Update(ctx, guild, mod, -1, func(c *escalation.Config) error {
			for i := range c.Weights {
				if c.Weights[i].Type == cases.Warn {
					c.Weights[i].Points = 2
				}
			}
			c.Reasons = []escalation.ReasonWeight{{Match: "spam", Points: &four}}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if p := points(warn("third")); p != 2 {
			t.Fatalf("warning after another process changed the settings: %d points; want 2", p)
		}
		// A pending warning whose reason becomes "spam" in the transaction that makes it
		// active: the first change recorded (the reason's) carries the case as it was.
		pending, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: u, ModeratorID: mod, Type: cases.Warn, Reason: "fourth", Status: cases.Pending})
		if err != nil {
			t.Fatal(err)
		}
		reason, active := "spam again", cases.Active
		if _, err := cs.Modify(ctx, guild, pending.Number, mod, cases.Changes{Reason: &reason, Status: &active}); err != nil {
			t.Fatal(err)
		}
		if p := points(pending); p != 4 {
			t.Fatalf("warning whose reason became spam as it became active: %d points; want 4", p)
		}
		// 1 + 1 + 2 + 4: the evaluation's read agrees with the ledger.
		total, _, err := esc.Points(ctx, guild, u)
		if err != nil {
			t.Fatal(err)
		}
		kept, err := escalation.MemberPointsForTest(esc, guild, u, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if total != 8 || kept != 8 {
			t.Fatalf("points: ledger %d, read as the evaluation does %d; want 8", total, kept)
		}
	})
}

// barrier is a change observer that holds the first two transactions it hears from until
// both have reached it (their own writes done, escalation's evaluation not begun), and
// lets every later one through. committed is closed when the first of them commits.
type barrier struct {
	armed     atomic.Bool
	mu        sync.Mutex
	runs      int
	both      chan struct{}
	committed chan struct{}
	once      sync.Once
}

func (b *barrier) CasesChanged(tx *store.Tx, _ []cases.Changed) error {
	if !b.armed.Load() {
		return nil
	}
	b.mu.Lock()
	b.runs++
	n := b.runs
	b.mu.Unlock()
	tx.AfterCommit(func() { b.once.Do(func() { close(b.committed) }) })
	if n == 2 {
		close(b.both)
	}
	if n <= 2 {
		<-b.both
	}
	return nil
}

func (b *barrier) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.runs
}

// Two transactions that lower one member's points at once, after points of the member
// stopped counting: both voids must stand, the points must be exact and the threshold
// re-armed once. Until migration 00035 this deadlocked on PostgreSQL (each status change
// locked its case's stripe of member_points, and the evaluation that recomputed the stale
// stripes waited for the other's while the other waited for the member's lock), and gavel
// ran one of them again; with the points read from the ledger nothing but the member's lock
// is taken, so each runs once. The barrier holds both transactions until both have made
// their status change, and the clock has moved past a case's points. A run again would wait
// (at its clock reading, which comes before its status change) until the other void has
// committed. SQLite runs one write transaction at a time.
func TestConcurrentVoidsAfterPointsStoppedCounting(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.Postgres)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	var nowMS atomic.Int64
	nowMS.Store(t0.UnixMilli())
	clock := func() time.Time { return time.UnixMilli(nowMS.Load()).UTC() }
	esc := escalation.NewService(st, escalation.WithClock(clock))
	b := &barrier{both: make(chan struct{}), committed: make(chan struct{})}
	// The cases' clock: read once per run of a void, after the case's row lock and before
	// its status change; a third reading is a run again.
	var readings atomic.Int64
	casesClock := func() time.Time {
		if b.armed.Load() && readings.Add(1) > 2 {
			<-b.committed
		}
		return clock()
	}
	cs := cases.NewService(st, cases.WithClock(casesClock), cases.WithChangeObserver(b), cases.WithChangeObserver(esc))
	if _, _, _, err := esc.Update(ctx, guild, mod, -1, func(c *escalation.Config) error {
		*c = escalation.Preset()
		c.Policies[0].Enabled = true
		c.Reasons = []escalation.ReasonWeight{{Match: "brief", CountsFor: time.Hour}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	u := discord.UserID(900000000000000800)
	// Three warnings fire the threshold at 3 (reset below 3); the third counts for an hour.
	var ws []cases.Case
	for _, reason := range []string{"one", "two", "brief three"} {
		c, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: u, ModeratorID: mod, Type: cases.Warn, Reason: reason})
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, c)
	}
	fs, err := esc.FiringsOfMember(ctx, guild, u, 10)
	if err != nil || len(fs) != 1 || !fs[0].Open() {
		t.Fatalf("firings after 3 points: %+v, %v; want one open", fs, err)
	}
	// Two hours on, the third case's point has stopped counting.
	nowMS.Store(t0.Add(2 * time.Hour).UnixMilli())
	b.armed.Store(true)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, c := range ws[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = cs.Void(ctx, guild, c.Number, mod, "mistake")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("void of case #%d: %v; want it committed", ws[i].Number, err)
		}
	}
	if n := b.count(); n != 2 {
		t.Fatalf("the voids' transactions ran %d times; want 2 (neither run again)", n)
	}
	total, _, err := esc.Points(ctx, guild, u)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := escalation.MemberPointsForTest(esc, guild, u, clock())
	if err != nil {
		t.Fatal(err)
	}
	if total != 0 || kept != 0 {
		t.Fatalf("points: ledger %d, read as the evaluation does %d; want 0", total, kept)
	}
	fs, err = esc.FiringsOfMember(ctx, guild, u, 10)
	if err != nil || len(fs) != 1 || fs[0].Open() {
		t.Fatalf("firings after the voids: %+v, %v; want the one, re-armed", fs, err)
	}
}

// The statement that gives a warning its points row (EscalationCaseAddingPoints) takes the
// member's lock in the mode its read without the lock picks: share mode when the member's
// points already reach the highest threshold (the preset's 10). The member's points are read
// from the ledger bounded (migration 00035): the sum of at most L counting rows, exact below
// L, a lower bound at or above it; L is the top before the lock and, on PostgreSQL, the
// greater of the top and the member's highest open reset level under it (SQLite reads with
// the top alone: the evaluation reads again when that does not settle it). Each member has
// 16 old active cases whose points rows are written directly, then one more case made
// active, 1 point. SQLite has no lock modes (shared is always 0 there). A written row comes
// back with the settings left out (config_same: the caller has them); a statement that
// writes none returns them.
func TestCaseAddingPointsPicksTheLockMode(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		esc := escalation.NewService(st)
		usePreset(t, esc, true)
		stored, err := st.Reader().QueryContext(ctx, "SELECT config FROM escalation_config")
		if err != nil {
			t.Fatal(err)
		}
		var text string
		for stored.Next() {
			if err := stored.Scan(&text); err != nil {
				t.Fatal(err)
			}
		}
		if err := stored.Close(); err != nil || text == "" {
			t.Fatalf("stored settings %q: %v", text, err)
		}
		sum := md5.Sum([]byte(text))
		plain := cases.NewService(st) // no escalation: the rows are written below
		now := time.Now()
		until := now.Add(escalation.DefaultCountsFor)
		for i, tc := range []struct {
			name       string
			rows       []int64 // the old cases' points (the rest none); uniform where more than the bound
			shared     bool
			resetBelow int64 // an open firing's reset level (0: none)
		}{
			{name: "below the top", rows: []int64{1, 1, 1, 1, 1, 1, 1, 1, 1}},
			{name: "at the top", rows: []int64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, shared: true},
			{name: "above the top: a lower bound", rows: []int64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, shared: true},
			{name: "one large row", rows: []int64{12, 1, 1, 1}, shared: true},
			{name: "an open firing resets above the top", rows: []int64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, shared: true, resetBelow: 20},
		} {
			u := discord.UserID(900000000000000800 + int64(i))
			var old []cases.Case
			for range 16 {
				c, err := plain.Create(ctx, cases.New{GuildID: guild, UserID: u, ModeratorID: mod, Type: cases.Warn, Reason: "old"})
				if err != nil {
					t.Fatal(err)
				}
				old = append(old, c)
			}
			c, err := plain.Create(ctx, cases.New{GuildID: guild, UserID: u, ModeratorID: mod, Type: cases.Warn, Reason: "new"})
			if err != nil {
				t.Fatal(err)
			}
			var member int64
			for _, p := range tc.rows {
				member += p
			}
			if err := st.InTx(ctx, func(tx *store.Tx) error {
				for j, o := range old {
					p := int64(0)
					if j < len(tc.rows) {
						p = tc.rows[j]
					}
					if err := escalation.InsertPointsForTest(tx, o, int(p), until); err != nil {
						return err
					}
				}
				if tc.resetBelow > 0 {
					if _, err := tx.Queries().InsertFiring(ctx, query.InsertFiringParams{GuildID: int64(guild), UserID: int64(u), Policy: "default",
						AtPoints: tc.resetBelow, ResetBelow: tc.resetBelow, Action: "timeout", DurationMs: time.Hour.Milliseconds(),
						Points: member, Contributing: "#1", TriggerCaseID: old[0].ID, State: escalation.StateDone, FiredAt: now.UnixMilli()}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			// bounded is what a read of the member's rows (with the new one when with is
			// true) bounded by the engine's L returns, and whether it is exact.
			bounded := func(with bool) (int64, int64) {
				l := int64(10)
				if st.Engine() == store.Postgres {
					l = max(l, tc.resetBelow)
				}
				rows := tc.rows
				if with {
					rows = append(append([]int64(nil), rows...), 1)
				}
				var sum int64
				for j, p := range rows {
					if int64(j) < l {
						sum += p
					}
				}
				if sum < l {
					return sum, 1
				}
				return sum, 0
			}
			var r query.EscalationCaseAddingPointsRow
			// addPoints runs the statement for the new case, 1 point, with the stored settings' md5.
			addPoints := func() {
				t.Helper()
				if err := st.InTx(ctx, func(tx *store.Tx) error {
					var err error
					r, err = tx.Queries().EscalationCaseAddingPoints(ctx, query.EscalationCaseAddingPointsParams{ID: c.ID, Now: now.UnixMilli(),
						ConfigMd5: hex.EncodeToString(sum[:]), Type: string(c.Type), Reason: c.Reason, Metadata: "{}", CreatedAt: c.CreatedAt.UnixMilli(),
						Points: 1, CountsUntil: until.UnixMilli(), Top: 10})
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}
			addPoints()
			wantShared := int64(0)
			if tc.shared && st.Engine() == store.Postgres {
				wantShared = 1
			}
			wantPoints, wantExact := bounded(false)
			if r.Added != 1 || r.Shared != wantShared || r.MemberPoints != wantPoints || r.MemberExact != wantExact || r.OpenResetBelow != tc.resetBelow {
				t.Errorf("%s: added %d, shared %d, member's points %d (exact %d), open reset %d; want added 1, shared %d, points %d (exact %d), open reset %d",
					tc.name, r.Added, r.Shared, r.MemberPoints, r.MemberExact, r.OpenResetBelow, wantShared, wantPoints, wantExact, tc.resetBelow)
			}
			if r.ConfigSame != 1 || r.Config != "" {
				t.Errorf("%s: settings returned %q (same %d) with the row written; want them left out (same 1)", tc.name, r.Config, r.ConfigSame)
			}
			// Again for the same case: it has its row now, so nothing is written and the
			// settings come back for the caller to evaluate the case with.
			addPoints()
			wantPoints, wantExact = bounded(true)
			if r.Added != 0 || r.ConfigSame != 0 || r.Config != text || r.MemberPoints != wantPoints || r.MemberExact != wantExact || r.Points != 1 {
				t.Errorf("%s, again: added %d, settings %d bytes (same %d), member's points %d (exact %d), case's %d; want nothing added, the settings (%d bytes), points %d (exact %d) and 1",
					tc.name, r.Added, len(r.Config), r.ConfigSame, r.MemberPoints, r.MemberExact, r.Points, len(text), wantPoints, wantExact)
			}
			kept, err := escalation.MemberPointsForTest(esc, guild, u, now)
			if err != nil {
				t.Fatal(err)
			}
			if kept != int(member)+1 {
				t.Errorf("%s: the member's points after the row: %d; want %d", tc.name, kept, member+1)
			}
		}
	})
}
