package cases_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	gclock "github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/leases/leasetest"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// BenchmarkCreateFenced measures what the shard leases cost a case's creation on
// PostgreSQL: Service.Create as a command makes it without leases (fence=off) and under
// its guild's hold (fence=on: store.Enter over a lease provider holding the only shard,
// each case's insert checked against the lease inside its transaction). The two
// alternate within each -count round, so that a noisy machine weighs on both alike.
func BenchmarkCreateFenced(b *testing.B) {
	for _, conc := range []int{1, 16} {
		for _, fence := range []string{"off", "on"} {
			b.Run(fmt.Sprintf("conc=%d/fence=%s", conc, fence), func(b *testing.B) {
				benchCreateFenced(b, fence == "on", conc)
			})
		}
	}
}

func benchCreateFenced(b *testing.B, fenced bool, conc int) {
	ctx := context.Background()
	st := storetest.Open(b, store.Postgres) // skips without PostgreSQL
	svc := cases.NewService(st)
	var aff store.Affinity
	if fenced {
		aff = leasetest.Start(b, st, gclock.NewManual(time.Now()), "bench", 1, 0).Affinity()
	}
	const guilds = 100
	do := func(i int64) error {
		g := benchGuildBase + i%guilds
		// As a command: the guild is held for the command, its writes fenced.
		held, done, ok := store.Enter(ctx, aff, g)
		if !ok {
			return fmt.Errorf("guild %d not held", g)
		}
		defer done()
		_, err := svc.Create(held, cases.New{GuildID: discord.GuildID(g), UserID: discord.UserID(benchUserBase + i%1000),
			ModeratorID: discord.UserID(benchMod), Type: cases.Warn, Reason: benchReason})
		return err
	}
	runOps(b, conc, do)
}
