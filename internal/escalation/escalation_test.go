package escalation_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/escalation"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

const (
	guild = discord.GuildID(900000000000000001)
	mod   = discord.UserID(900000000000000002)
)

// usePreset gives the test guild the preset settings, its policy enabled or not, through
// esc (the write every other path makes: Update).
func usePreset(tb testing.TB, esc *escalation.Service, enabled bool) {
	tb.Helper()
	if _, _, _, err := esc.Update(context.Background(), guild, mod, -1, func(c *escalation.Config) error {
		*c = escalation.Preset()
		c.Policies[0].Enabled = enabled
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
}

func TestPresetIsValid(t *testing.T) {
	t.Parallel()
	c := escalation.Preset()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	p := c.Policies[0]
	var approvals []int
	for _, th := range p.Thresholds {
		if th.NeedsApproval() {
			approvals = append(approvals, th.At)
		}
	}
	if diff := cmp.Diff([]int{7, 10}, approvals); diff != "" {
		t.Errorf("thresholds needing approval (-want +got):\n%s", diff)
	}
	if pts, d := c.PointsFor(cases.Kick, "anything", nil); pts != 3 || d != escalation.DefaultCountsFor {
		t.Errorf("kick: %d points for %s", pts, d)
	}
}

func TestValidateRefusesWithWhatIsAccepted(t *testing.T) {
	t.Parallel()
	yes := true
	for name, tc := range map[string]struct {
		c    escalation.Config
		want string
	}{
		"threshold above 100": {escalation.Config{Policies: []escalation.Policy{{Name: "p", Thresholds: []escalation.Threshold{{At: 101, Action: escalation.Ban}}}}},
			"101 points is out of range; a threshold is 1 to 100 points"},
		"duration out of bounds": {escalation.Config{Policies: []escalation.Policy{{Name: "p", Thresholds: []escalation.Threshold{{At: 3, Action: escalation.Timeout, Duration: 29 * 24 * time.Hour}}}}},
			"is out of bounds for a timeout; accepted: 1 minute to 4 weeks"},
		"two thresholds at one level": {escalation.Config{Policies: []escalation.Policy{{Name: "p", Thresholds: []escalation.Threshold{
			{At: 3, Action: escalation.Kick}, {At: 3, Action: escalation.Ban, Approval: &yes}}}}},
			"two thresholds at 3 points; each level may have one action"},
		"too many policies": {escalation.Config{Policies: func() []escalation.Policy {
			var ps []escalation.Policy
			for i := range 11 {
				ps = append(ps, escalation.Policy{Name: "p" + string(rune('a'+i)), Thresholds: []escalation.Threshold{{At: 1, Action: escalation.Kick}}})
			}
			return ps
		}()}, "11 policies; at most 10 are accepted"},
		"points above 100": {escalation.Config{Weights: []escalation.Weight{{Type: cases.Warn, Points: 101}}}, "101 is out of range; accepted: 0 to 100"},
		"reset above the threshold": {escalation.Config{Policies: []escalation.Policy{{Name: "p", Thresholds: []escalation.Threshold{{At: 3, Action: escalation.Kick, ResetBelow: 4}}}}},
			"accepted: 1 to 3"},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v; want %q", err, tc.want)
			}
		})
	}
}

func TestFileRoundTrip(t *testing.T) {
	t.Parallel()
	c := escalation.Preset()
	c.Policies[0].Enabled = true
	two := 2
	c.Reasons = []escalation.ReasonWeight{{Match: "spam", Points: &two, CountsFor: 7 * 24 * time.Hour}}
	c.Policies[0].Thresholds[0].ResetBelow = 2
	b, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := escalation.ParseFile(b)
	if err != nil {
		t.Fatalf("ParseFile of Encode's output:\n%s\n%v", b, err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s\nfile:\n%s", diff, b)
	}
	if p := escalation.MakePlan(c, got, 1); !p.Empty() {
		t.Errorf("plan of identical settings: %s", p)
	}
}

func TestParseFileRefusals(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ file, want string }{
		"syntax":        {"[[policy]]\nname = \"a\n", "line 2, column"},
		"unknown key":   {"[[policy]]\nname = \"a\"\nlevel = 3\n", "unknown keys policy.level"},
		"bad action":    {"[[policy]]\nname = \"a\"\n[[policy.threshold]]\nat = 3\naction = \"smite\"\n", "accepted: timeout, tempban, kick, ban, jail"},
		"bad duration":  {"[[policy]]\nname = \"a\"\n[[policy.threshold]]\nat = 3\naction = \"timeout\"\nduration = \"soon\"\n", "is not a duration"},
		"above 100":     {"[[policy]]\nname = \"a\"\n[[policy.threshold]]\nat = 300\naction = \"kick\"\n", "a threshold is 1 to 100 points"},
		"same level":    {"[[policy]]\nname = \"a\"\n[[policy.threshold]]\nat = 3\naction = \"kick\"\n[[policy.threshold]]\nat = 3\naction = \"ban\"\n", "two thresholds at 3 points"},
		"out of bounds": {"[[policy]]\nname = \"a\"\n[[policy.threshold]]\nat = 3\naction = \"timeout\"\nduration = \"30d\"\n", "accepted: 1 minute to 4 weeks"},
		"bad type":      {"[[weight]]\ntype = \"hug\"\npoints = 1\n", "not a case type"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := escalation.ParseFile([]byte(tc.file))
			if !errors.Is(err, escalation.ErrFile) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseFile = %v; want %q", err, tc.want)
			}
		})
	}
}

func TestPlanSaysWhatChanges(t *testing.T) {
	t.Parallel()
	cur := escalation.Preset()
	next := escalation.Preset()
	next.Policies[0].Enabled = true
	next.Policies[0].Thresholds[0].Duration = 2 * time.Hour
	next.Weights[0].Points = 2
	p := escalation.MakePlan(cur, next, 3)
	want := []string{"~ weight warn: 1 points → 2 points", "~ policy preset: off → on", "~ policy preset at 3: timeout for 1 hour → timeout for 2 hours"}
	if diff := cmp.Diff(want, p.Changes); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
}

func FuzzParseFile(f *testing.F) {
	b, _ := escalation.Preset().Encode()
	f.Add(string(b))
	f.Add("counts_for = \"7d\"\n[[weight]]\ntype = \"warn\"\npoints = 1\n")
	f.Add("[[policy]]\nname = \"x\"\nenabled = true\n[[policy.threshold]]\nat = 1\naction = \"jail\"\nreset_below = 1\napproval = false\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := escalation.ParseFile([]byte(s))
		if err != nil {
			if !errors.Is(err, escalation.ErrFile) {
				t.Fatalf("error %v does not match ErrFile", err)
			}
			return
		}
		// What parses is valid, and survives a round trip.
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed settings fail Validate: %v", err)
		}
		out, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		again, err := escalation.ParseFile(out)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		if p := escalation.MakePlan(c, again, 0); !p.Empty() {
			t.Fatalf("round trip changed: %s", p)
		}
	})
}

// The ledger on both engines: points on cases, the sum, firing on crossing only, the
// harshest of two crossed, re-arming below reset, and concurrent writers firing once.
func TestPointsAndFiring(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Millisecond)
		clockNow := func() time.Time { return now }
		esc := escalation.NewService(st, escalation.WithClock(clockNow))
		var mu sync.Mutex
		var fired []escalation.Firing
		esc.OnFired(func(f escalation.Firing) { mu.Lock(); fired = append(fired, f); mu.Unlock() })
		cs := cases.NewService(st, cases.WithClock(clockNow), cases.WithChangeObserver(esc))
		usePreset(t, esc, true)
		warn := func(user discord.UserID) cases.Case {
			t.Helper()
			c, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: user, ModeratorID: mod, Type: cases.Warn, Reason: "spam"})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		u := discord.UserID(900000000000000100)
		warn(u)
		warn(u)
		if len(fired) != 0 {
			t.Fatalf("fired at 2 points: %+v", fired)
		}
		third := warn(u)
		if len(fired) != 1 || fired[0].Threshold.At != 3 || fired[0].TriggerCase != third.ID || fired[0].Contributing != "#1, #2, #3" {
			t.Fatalf("fired = %+v; want one at 3 triggered by #3", fired)
		}
		warn(u)
		if len(fired) != 1 {
			t.Fatalf("fired again past the threshold: %+v", fired)
		}
		// 4 → 2 points: voiding one keeps it fired (3 is not below 3), the second re-arms.
		if _, err := cs.Void(ctx, guild, 1, mod, "mistake"); err != nil {
			t.Fatal(err)
		}
		if fs, _ := esc.FiringsOfMember(ctx, guild, u, 10); !fs[0].Open() {
			t.Fatal("re-armed at 3 points")
		}
		if _, _, err := esc.SetPoints(ctx, cs, guild, 2, mod, 0); err != nil {
			t.Fatal(err)
		}
		if fs, _ := esc.FiringsOfMember(ctx, guild, u, 10); fs[0].Open() {
			t.Fatal("not re-armed at 2 points")
		}
		if total, _, _ := esc.Points(ctx, guild, u); total != 2 {
			t.Fatalf("points = %d; want 2", total)
		}
		// Points stop counting after 30 days.
		now = now.Add(31 * 24 * time.Hour)
		if total, _, _ := esc.Points(ctx, guild, u); total != 0 {
			t.Fatalf("points after 31 days = %d; want 0", total)
		}

		// One 5-point case from 0 crosses 3 and 5: one firing takes the action.
		fired = nil
		v := discord.UserID(900000000000000101)
		if _, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: v, ModeratorID: mod, Type: cases.Warn, Reason: "raid",
			Metadata: map[string]string{escalation.MetaPoints: "5"}}); err != nil {
			t.Fatal(err)
		}
		if len(fired) != 1 || fired[0].Threshold.At != 5 {
			t.Fatalf("fired = %+v; want only the threshold at 5", fired)
		}
		fs, _ := esc.FiringsOfMember(ctx, guild, v, 10)
		if len(fs) != 2 {
			t.Fatalf("%d firings; want 2 (one skipped)", len(fs))
		}

		// Sixteen concurrent warnings from 2 points: exactly one firing at 3.
		fired = nil
		w := discord.UserID(900000000000000102)
		warn(w)
		warn(w)
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: w, ModeratorID: mod, Type: cases.Warn, Reason: "x"}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		n := 0
		for _, f := range fired {
			if f.Threshold.At == 3 {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d firings at 3 from 16 concurrent warnings; want 1", n)
		}
	})
}

// TestCountingFollowsTheCaseStatus checks the copy of a case's status that the points sum
// reads (case_points.counting, migration 00025): the database keeps it, so a void drops the
// points, and a write that tries to set it against the case's status changes nothing.
func TestCountingFollowsTheCaseStatus(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		esc := escalation.NewService(st)
		cs := cases.NewService(st, cases.WithChangeObserver(esc))
		usePreset(t, esc, false)
		u := discord.UserID(900000000000000300)
		var last cases.Case
		for range 2 {
			c, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: u, ModeratorID: mod, Type: cases.Warn, Reason: "spam"})
			if err != nil {
				t.Fatal(err)
			}
			last = c
		}
		if total, _, _ := esc.Points(ctx, guild, u); total != 2 {
			t.Fatalf("points = %d; want 2", total)
		}
		if _, err := cs.Void(ctx, guild, last.Number, mod, "mistake"); err != nil {
			t.Fatal(err)
		}
		if total, _, _ := esc.Points(ctx, guild, u); total != 1 {
			t.Fatalf("points after a void = %d; want 1", total)
		}
		set := "UPDATE case_points SET counting = TRUE WHERE case_id = $1"
		if st.Location.Engine == store.SQLite {
			set = "UPDATE case_points SET counting = 1 WHERE case_id = ?"
		}
		if _, err := st.Writer().ExecContext(ctx, set, last.ID); err != nil {
			t.Fatal(err)
		}
		if total, _, _ := esc.Points(ctx, guild, u); total != 1 {
			t.Fatalf("points after setting a voided case counting = %d; want 1 (the trigger keeps it off)", total)
		}
	})
}

// TestPointsRowNeedsItsCase checks what keeps a points row tied to an existing case on
// PostgreSQL, where the row has no reference to cases (migration 00031: its check locked the
// case's row once per warning): the insert trigger every path but escalation's own function
// runs refuses a row whose case does not exist, and a row written by hand for a voided case
// with counting set is still not counted (the trigger recomputes it). SQLite keeps the
// reference. Both engines alike.
func TestPointsRowNeedsItsCase(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		esc := escalation.NewService(st)
		cs := cases.NewService(st, cases.WithChangeObserver(esc))
		usePreset(t, esc, false)
		u := discord.UserID(900000000000000301)
		c, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: u, ModeratorID: mod, Type: cases.Note, Reason: "context"})
		if err != nil {
			t.Fatal(err)
		}
		insert := "INSERT INTO case_points (case_id, guild_id, user_id, points, counts_until, created_at, updated_at, counting) VALUES ($1, $2, $3, 5, $4, 0, 0, TRUE)"
		if st.Location.Engine == store.SQLite {
			insert = "INSERT INTO case_points (case_id, guild_id, user_id, points, counts_until, created_at, updated_at, counting) VALUES (?, ?, ?, 5, ?, 0, 0, 1)"
		}
		until := time.Now().Add(time.Hour).UnixMilli()
		if _, err := st.Writer().ExecContext(ctx, insert, c.ID+1000, int64(guild), int64(u), until); err == nil {
			t.Fatal("a points row for a case that does not exist was written; want it refused")
		}
		if _, err := cs.Void(ctx, guild, c.Number, mod, "mistake"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Writer().ExecContext(ctx, insert, c.ID, int64(guild), int64(u), until); err != nil {
			t.Fatal(err)
		}
		if total, _, err := esc.Points(ctx, guild, u); err != nil || total != 0 {
			t.Fatalf("points of a voided case's row written as counting = %d, %v; want 0 (the trigger keeps it off)", total, err)
		}
		if p, err := escalation.MemberPointsForTest(esc, guild, u, time.Now()); err != nil || p != 0 {
			t.Fatalf("points read as the evaluation does after a voided case's row written as counting = %d, %v; want 0", p, err)
		}
	})
}

// TestMemberPointsFollowTheLedger checks the member's points as the evaluation reads them
// (bounded, migration 00035: exact below the bound, a lower bound of at least the bound
// above it) against the ledger itself (Points: the counting cases' points rows, every one
// summed) after every step of a random history on both engines: warnings with 0 to 5
// points, pending cases made active, voids and un-voids, points edited by hand, points
// rows written and deleted behind escalation's back, and a test clock that moves up to 12
// days a step, so points stop counting (30 days) between reads.
func TestMemberPointsFollowTheLedger(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Millisecond)
		clockNow := func() time.Time { return now }
		esc := escalation.NewService(st, escalation.WithClock(clockNow))
		cs := cases.NewService(st, cases.WithClock(clockNow), cases.WithChangeObserver(esc))
		usePreset(t, esc, true)
		users := []discord.UserID{900000000000000400, 900000000000000401, 900000000000000402}
		rng := rand.New(rand.NewPCG(15, 28))
		var made []cases.Case
		check := func(step int, what string) {
			t.Helper()
			for _, u := range users {
				want, _, err := esc.Points(ctx, guild, u)
				if err != nil {
					t.Fatal(err)
				}
				got, err := escalation.MemberPointsForTest(esc, guild, u, now)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("step %d (%s): user %d has %d points read as the evaluation does; the ledger says %d", step, what, u, got, want)
				}
				for _, top := range []int{1, 3, 10} {
					got, err := escalation.BoundedPointsForTest(esc, guild, u, now, int64(top))
					if err != nil {
						t.Fatal(err)
					}
					if want < top && got != want || want >= top && (got < top || got > want) {
						t.Fatalf("step %d (%s): user %d has %d points read bounded by %d; the ledger says %d", step, what, u, got, top, want)
					}
				}
			}
		}
		exec := func(pg, lite string, args ...any) {
			t.Helper()
			q := pg
			if st.Location.Engine == store.SQLite {
				q = lite
			}
			if _, err := st.Writer().ExecContext(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
		}
		for step := range 150 {
			var what string
			switch k := rng.IntN(10); {
			case k < 4 || len(made) == 0:
				what = "warn"
				n := cases.New{GuildID: guild, UserID: users[rng.IntN(len(users))], ModeratorID: mod, Type: cases.Warn, Reason: "spam",
					Metadata: map[string]string{escalation.MetaPoints: strconv.Itoa(rng.IntN(6))}}
				if rng.IntN(2) == 0 {
					what = "pending warn made active"
					n.Status = cases.Pending
				}
				c, err := cs.Create(ctx, n)
				if err != nil {
					t.Fatal(err)
				}
				if n.Status == cases.Pending {
					if err := cs.InTx(ctx, mod, func(tx *cases.Tx) error {
						_, _, err := tx.Activate(c.ID, "done")
						return err
					}); err != nil {
						t.Fatal(err)
					}
				}
				made = append(made, c)
			case k < 6:
				c := made[rng.IntN(len(made))]
				what = "void"
				st := cases.Voided
				if cur, err := cs.Get(ctx, c.ID); err != nil {
					t.Fatal(err)
				} else if cur.Status == cases.Voided {
					what, st = "un-void", cases.Active
				}
				if _, err := cs.SetStatus(ctx, guild, c.Number, mod, st, what); err != nil {
					t.Fatal(err)
				}
			case k < 8:
				what = "points edited"
				c := made[rng.IntN(len(made))]
				if _, _, err := esc.SetPoints(ctx, cs, guild, c.Number, mod, rng.IntN(6)); err != nil && !errors.Is(err, input.ErrUnchanged) {
					t.Fatal(err)
				}
			case k < 9:
				what = "clock moved"
				now = now.Add(time.Duration(rng.IntN(12*24)) * time.Hour)
			default:
				c := made[rng.IntN(len(made))]
				if rng.IntN(2) == 0 {
					what = "points row moved by hand"
					exec("UPDATE case_points SET counts_until = counts_until + $1 WHERE case_id = $2",
						"UPDATE case_points SET counts_until = counts_until + ?1 WHERE case_id = ?2", int64(rng.IntN(20)-10)*24*3600*1000, c.ID)
				} else {
					what = "points row deleted by hand"
					exec("DELETE FROM case_points WHERE case_id = $1", "DELETE FROM case_points WHERE case_id = ?1", c.ID)
				}
			}
			check(step, what)
		}
	})
}

// TestStandingUsesTheEvaluatedSettings: the standing shown for a case is computed from the
// settings its evaluation read in the case's transaction, without reading them again, even
// when they changed since (here by another process, a second Service); a case whose guild
// has had another evaluation since reads them.
func TestStandingUsesTheEvaluatedSettings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		esc := escalation.NewService(st)
		cs := cases.NewService(st, cases.WithChangeObserver(esc))
		other := escalation.NewService(st)
		enable := func(s *escalation.Service, on bool) {
			t.Helper()
			if _, _, _, err := s.Update(ctx, guild, mod, -1, func(c *escalation.Config) error {
				*c = escalation.Preset()
				c.Policies[0].Enabled = on
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		enable(esc, true)
		u := discord.UserID(900000000000000400)
		warn := func() cases.Case {
			t.Helper()
			c, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: u, ModeratorID: mod, Type: cases.Warn, Reason: "spam"})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		first := warn()
		enable(other, false)
		if got := esc.Standing(ctx, first, "them"); !strings.HasPrefix(got, "This brings them to 1/10 points") {
			t.Fatalf("standing of the case evaluated with the policy on = %q; want it from those settings", got)
		}
		second := warn()
		if got := esc.Standing(ctx, second, "them"); got != "" {
			t.Fatalf("standing of a case evaluated with the policy off = %q; want none", got)
		}
		if got := esc.Standing(ctx, first, "them"); got != "" {
			t.Fatalf("standing of the first case after another evaluation = %q; want the stored settings' (none)", got)
		}
	})
}
