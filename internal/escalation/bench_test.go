package escalation_test

import (
	"context"
	"fmt"
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
// so about 300 still count), with escalation off (the guild has no settings: one read) and
// on (the preset enabled: the points row, the member's lock, the member's sum, the re-arm
// check, the thresholds). Compare warns/s of the two.
//
// Run: go test -run '^$' -bench BenchmarkWarnCreation -benchtime 2000x ./internal/escalation/
func BenchmarkWarnCreation(b *testing.B) {
	for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
		b.Run("engine="+string(engine), func(b *testing.B) {
			for _, on := range []bool{false, true} {
				b.Run(fmt.Sprintf("escalation=%v", on), func(b *testing.B) {
					benchWarns(b, engine, on)
				})
			}
		})
	}
}

func benchWarns(b *testing.B, engine store.Engine, on bool) {
	ctx := context.Background()
	st := storetest.Open(b, engine)
	now := time.Now().UTC()
	esc := escalation.NewService(st)
	cs := cases.NewService(st, cases.WithChangeObserver(esc))
	user := discord.UserID(900000000000000500)
	if on {
		if _, _, _, err := esc.Update(ctx, guild, mod, -1, func(c *escalation.Config) error {
			*c = escalation.Preset()
			c.Policies[0].Enabled = true
			return nil
		}); err != nil {
			b.Fatal(err)
		}
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
	b.SetParallelism(8) // 8 × GOMAXPROCS (2 here) = 16 at a time
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, err := cs.Create(ctx, cases.New{GuildID: guild, UserID: user, ModeratorID: mod, Type: cases.Warn, Reason: "spam", Status: cases.Pending})
			if err != nil {
				b.Error(err)
				return
			}
			if err := cs.InTx(ctx, mod, func(tx *cases.Tx) error {
				_, _, err := tx.Activate(c.ID, "the action succeeded")
				return err
			}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "warns/s")
}
