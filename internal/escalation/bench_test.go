package escalation_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/escalation"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// BenchmarkWarnCreation measures what escalation costs a warning: the case's two writes as
// the pipeline makes them (recorded pending, then made active in the transaction that
// evaluates it), 16 at a time on one member with 10,000 cases (ten a day over 1,000 days,
// so about 300 still count), with escalation off (the guild has no settings: the read that
// finds none) and on (the preset enabled: the member's points row, lock and the case's points
// row). Each engine gets two stores, one per setting, and the warnings alternate between
// them in turns of 50, so that both rates are measured over the same stretch of time: on a
// shared machine the load moves more between two runs than the cost being measured. It
// reports warns/s of each and their ratio (on/off; the target is at least 0.9).
//
// Run: go test -run '^$' -bench BenchmarkWarnCreation -benchtime 1000x ./internal/escalation/
func BenchmarkWarnCreation(b *testing.B) {
	for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
		b.Run("engine="+string(engine), func(b *testing.B) {
			off, on := newWarnBench(b, engine, false), newWarnBench(b, engine, true)
			const turn = 50
			var offT, onT time.Duration
			b.ResetTimer()
			for done, i := 0, 0; done < b.N; i++ {
				n := min(turn, b.N-done)
				if i%2 == 0 { // which goes first alternates too
					offT += off.run(b, n)
					onT += on.run(b, n)
				} else {
					onT += on.run(b, n)
					offT += off.run(b, n)
				}
				done += n
			}
			b.ReportMetric(float64(b.N)/offT.Seconds(), "off-warns/s")
			b.ReportMetric(float64(b.N)/onT.Seconds(), "on-warns/s")
			b.ReportMetric(offT.Seconds()/onT.Seconds(), "on/off")
		})
	}
}

// warnBench is one store seeded for BenchmarkWarnCreation.
type warnBench struct {
	cs   *cases.Service
	user discord.UserID
}

func newWarnBench(b *testing.B, engine store.Engine, on bool) *warnBench {
	ctx := context.Background()
	st := storetest.Open(b, engine)
	now := time.Now().UTC()
	esc := escalation.NewService(st)
	cs := cases.NewService(st, cases.WithChangeObserver(esc))
	user := discord.UserID(900000000000000500)
	if on {
		usePreset(b, esc, true)
	}
	// The member's history: 10,000 warnings, ten a day, each with its points row as
	// escalation would have written it.
	const history = 10000
	seedCS := cases.NewService(st, cases.WithClock(func() time.Time { return now }))
	for start := 0; start < history; start += 500 {
		var ns []cases.New
		for i := start; i < start+500; i++ {
			ns = append(ns, cases.New{GuildID: guild, UserID: user, ModeratorID: mod, Type: cases.Warn, Reason: "old"})
		}
		created, err := seedCS.CreateMany(ctx, ns)
		if err != nil {
			b.Fatal(err)
		}
		if on {
			if err := st.InTx(ctx, func(tx *store.Tx) error {
				for i, c := range created {
					age := time.Duration(history-(start+i)) * 24 * time.Hour / 10
					if err := escalation.InsertPointsForTest(tx, c, 1, now.Add(-age).Add(escalation.DefaultCountsFor)); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
	if engine == store.Postgres {
		// The schema may come from storetest's pool, emptied by DELETE: its tables keep the
		// dead rows (and index entries) of the tests before, on the member's own keys when
		// the last test was this benchmark. Vacuumed and analyzed as autovacuum would soon do
		// for a member with this history (storetest.SeedCases does the same).
		for _, t := range []string{"guilds", "cases", "case_events", "case_points", "member_points", "escalation_config", "escalation_firings"} {
			if _, err := st.Writer().ExecContext(ctx, "VACUUM ANALYZE "+t); err != nil {
				b.Fatal(err)
			}
		}
	}
	return &warnBench{cs: cs, user: user}
}

// run makes n warnings on the member, 16 at a time, and returns how long they took.
func (w *warnBench) run(b *testing.B, n int) time.Duration {
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				c, err := w.cs.Create(ctx, cases.New{GuildID: guild, UserID: w.user, ModeratorID: mod, Type: cases.Warn, Reason: "spam", Status: cases.Pending})
				if err != nil {
					b.Error(err)
					return
				}
				if err := w.cs.InTx(ctx, mod, func(tx *cases.Tx) error {
					_, _, err := tx.Activate(c.ID, "the action succeeded")
					return err
				}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}
