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
		// 1 + 1 + 2 + 4: the member's points row agrees with the ledger.
		total, _, err := esc.Points(ctx, guild, u)
		if err != nil {
			t.Fatal(err)
		}
		kept, err := escalation.MemberPointsForTest(esc, guild, u, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if total != 8 || kept != 8 {
			t.Fatalf("points: ledger %d, member_points %d; want 8", total, kept)
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

// Two transactions that lower one member's points at once, each after its case's status
// change locked that case's stripe of member_points (the trigger), can deadlock on
// PostgreSQL when the member's points must be recomputed: one takes the member's lock and
// recomputes, which locks every stripe and so waits for the other's; the other waits for
// the member's lock. PostgreSQL ends one of them (deadlock_detected, after deadlock_timeout)
// and gavel runs it again (store.GroupTx, InTxRetrying): both voids must stand, the points
// must be exact and the threshold re-armed once. The deadlock is real: the barrier holds
// both transactions until both have their stripe, and the clock has moved past a case's
// points, so the evaluation recomputes. The run again waits (at its clock reading, which
// comes before its status change) until the other void has committed: otherwise it can
// take its stripe again before the other's recomputation does, and deadlock again (seen:
// up to three times in a row, which is InTxRetrying's last attempt). SQLite runs one write
// transaction at a time.
func TestVoidsThatDeadlockRecomputingAreRunAgain(t *testing.T) {
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
	if ws[0].ID%16 == ws[1].ID%16 {
		t.Fatalf("cases %d and %d share a stripe", ws[0].ID, ws[1].ID)
	}
	fs, err := esc.FiringsOfMember(ctx, guild, u, 10)
	if err != nil || len(fs) != 1 || !fs[0].Open() {
		t.Fatalf("firings after 3 points: %+v, %v; want one open", fs, err)
	}
	// Two hours on, the third case's point has stopped counting: member_points is stale.
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
			t.Fatalf("void of case #%d: %v; want it run again and committed", ws[i].Number, err)
		}
	}
	if n := b.count(); n != 3 {
		t.Fatalf("the voids' transactions ran %d times; want 3 (one deadlocked, then run again)", n)
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
		t.Fatalf("points: ledger %d, member_points %d; want 0", total, kept)
	}
	fs, err = esc.FiringsOfMember(ctx, guild, u, 10)
	if err != nil || len(fs) != 1 || fs[0].Open() {
		t.Fatalf("firings after the voids: %+v, %v; want the one, re-armed", fs, err)
	}
}

// The statement that gives a warning its points row (EscalationCaseAddingPoints) takes the
// member's lock in the mode its read without the lock picks: share mode when the member's
// points already reach the highest threshold (the preset's 10). On PostgreSQL that read is
// the case's own stripe of member_points (case id % 16) when that stripe alone reaches 10,
// and the member's 16 stripes when it does not (migration 00030). Three members, each with
// 16 active cases whose points rows are written directly, then one more case made active:
// 10 points in the new case's stripe (share mode from that stripe), 15 points in the 15
// other stripes (share mode from the sum), 9 points in the other stripes (exclusive). Each
// time the row is written and the member's points read under the lock are exact. SQLite
// has no lock modes (shared is always 0 there).
//
// In share mode, when the case's own stripe alone still reaches the top and every open
// firing's reset level under the lock, PostgreSQL returns that stripe's points: a lower
// bound of the member's that settles the evaluation without summing the other stripes
// (migration 00034). With 12 points in the own stripe and 3 in the others, it returns 12
// (SQLite, which reads the sum, 15); with an open firing that re-arms below 20, it sums. A
// written row comes back with the settings left out (config_same: the caller has them); a
// statement that writes none returns them.
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
			name                string
			own, others, member int64 // points in the new case's stripe, in each of the others (15 or 9 of them)
			shared              bool
			resetBelow          int64 // an open firing's reset level (0: none)
			bound               bool  // PostgreSQL returns the own stripe's points, a lower bound
		}{
			{name: "own stripe reaches the top", own: 10, others: 0, member: 10, shared: true, bound: true},
			{name: "the other stripes reach it", own: 0, others: 1, member: 15, shared: true},
			{name: "below the top", own: 0, others: 1, member: 9, shared: false},
			{name: "own stripe settles it", own: 12, others: 1, member: 15, shared: true, bound: true},
			{name: "an open firing re-arms above the own stripe", own: 12, others: 1, member: 15, shared: true, resetBelow: 20},
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
			if err := st.InTx(ctx, func(tx *store.Tx) error {
				others := int64(0) // given to the other stripes so far
				for _, o := range old {
					p := tc.others
					if o.ID%16 == c.ID%16 {
						p = tc.own
					} else if others+p > tc.member-tc.own {
						p = 0
					}
					if o.ID%16 != c.ID%16 {
						others += p
					}
					if err := escalation.InsertPointsForTest(tx, o, int(p), until); err != nil {
						return err
					}
				}
				if tc.resetBelow > 0 {
					if _, err := tx.Queries().InsertFiring(ctx, query.InsertFiringParams{GuildID: int64(guild), UserID: int64(u), Policy: "default",
						AtPoints: tc.resetBelow, ResetBelow: tc.resetBelow, Action: "timeout", DurationMs: time.Hour.Milliseconds(),
						Points: tc.member, Contributing: "#1", TriggerCaseID: old[0].ID, State: escalation.StateDone, FiredAt: now.UnixMilli()}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
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
			wantPoints := tc.member
			if tc.bound && st.Engine() == store.Postgres {
				wantPoints = tc.own
			}
			if r.Added != 1 || r.Shared != wantShared || r.MemberPoints != wantPoints || r.MemberFresh != 1 || r.OpenResetBelow != tc.resetBelow {
				t.Errorf("%s: added %d, shared %d, member's points %d (fresh %d), open reset %d; want added 1, shared %d, points %d (fresh 1), open reset %d",
					tc.name, r.Added, r.Shared, r.MemberPoints, r.MemberFresh, r.OpenResetBelow, wantShared, wantPoints, tc.resetBelow)
			}
			if r.ConfigSame != 1 || r.Config != "" {
				t.Errorf("%s: settings returned %q (same %d) with the row written; want them left out (same 1)", tc.name, r.Config, r.ConfigSame)
			}
			// Again for the same case: it has its row now, so nothing is written and the
			// settings come back for the caller to evaluate the case with.
			addPoints()
			if r.Added != 0 || r.ConfigSame != 0 || r.Config != text || r.MemberPoints != tc.member+1 || r.Points != 1 {
				t.Errorf("%s, again: added %d, settings %d bytes (same %d), member's points %d, case's %d; want nothing added, the settings (%d bytes), points %d and 1",
					tc.name, r.Added, len(r.Config), r.ConfigSame, r.MemberPoints, r.Points, len(text), tc.member+1)
			}
			kept, err := escalation.MemberPointsForTest(esc, guild, u, now)
			if err != nil {
				t.Fatal(err)
			}
			if kept != int(tc.member)+1 {
				t.Errorf("%s: member_points after the row: %d; want %d", tc.name, kept, tc.member+1)
			}
		}
	})
}
