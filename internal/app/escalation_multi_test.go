package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/shards"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/escalation"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// Two gavel processes (two Apps, each with its own connections, gateway and Discord) on one
// PostgreSQL database, and one on a SQLite file (a SQLite database serves one gavel run):
// 16 concurrent warnings through each process on one member take them across one
// threshold, and exactly one escalation case is made. The two processes share only the
// database, as processes on two hosts would; the second Discord's clock runs an hour ahead,
// so that its message ids (snowflakes of their time) never equal the first's.
func TestEscalationTwoProcessesFireOnce(t *testing.T) {
	t.Parallel()
	for _, engine := range []store.Engine{store.Postgres, store.SQLite} {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			a := newWorld(t)
			worlds := []*world{a}
			if engine == store.Postgres {
				a.dbURL = storetest.MigratedURL(t, store.Postgres)
				b := newWorld(t, discordtest.WithClock(func() time.Time { return time.Now().Add(time.Hour) }))
				b.dbURL = a.dbURL
				// Each process is the whole bot of its own Discord: each runs shard 0, not a
				// share of the shard leases.
				a.shards, b.shards = "0", "0"
				worlds = append(worlds, b)
			}
			// The two processes share the database, so they take turns at the identify bucket
			// its advisory lock keeps (store.LockIdentifyBucket), each turn Discord's window
			// of 5.5 s on the wall clock; each has a Discord of its own, which asks for no such
			// wait between them.
			for _, w := range worlds {
				w.start(t, app.WithShardConfig(func(c *shards.Config) { c.IdentifyInterval = time.Millisecond }))
			}
			total := 16 * len(worlds)
			ctx := context.Background()
			st, err := store.OpenURL(ctx, a.dbURL, store.Options{MaxOpenConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			esc := escalation.NewService(st)
			cs := cases.NewService(st)
			at := total - 12
			if _, _, _, err := esc.Update(ctx, discord.GuildID(a.guild), discord.UserID(a.owner), -1, func(c *escalation.Config) error {
				c.Weights = []escalation.Weight{{Type: cases.Warn, Points: 1}}
				c.Policies = []escalation.Policy{{Name: "once", Enabled: true, Thresholds: []escalation.Threshold{{At: at, Action: escalation.Timeout, Duration: 3600e9}}}}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for _, w := range worlds {
				for i := range 16 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						w.s.SendMessage(w.general, w.owner, fmt.Sprintf("$warn %s warning %d", mention(w.target), i))
					}()
				}
			}
			wg.Wait()
			count := func() (warns, escalations int) {
				n, err := cs.CountInGuild(ctx, discord.GuildID(a.guild))
				if err != nil {
					t.Fatal(err)
				}
				for i := int64(1); i <= n; i++ {
					c, err := cs.GetByNumber(ctx, discord.GuildID(a.guild), i)
					if err != nil {
						t.Fatal(err)
					}
					switch {
					case c.Metadata[escalation.MetaFiring] != "":
						escalations++
					case c.Type == cases.Warn && c.Status == cases.Active:
						warns++
					}
				}
				return warns, escalations
			}
			waitFor(t, "every warning and the escalation's case", func() bool {
				w, e := count()
				return w == total && e >= 1
			})
			fs, err := esc.FiringsOfMember(ctx, discord.GuildID(a.guild), discord.UserID(a.target), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) != 1 || fs[0].Threshold.At != at {
				t.Fatalf("firings = %+v; want one at %d", fs, at)
			}
			waitFor(t, "the escalation done", func() bool {
				f, err := esc.Firing(ctx, fs[0].ID)
				return err == nil && f.State == escalation.StateDone
			})
			if _, e := count(); e != 1 {
				t.Fatalf("%d escalation cases from %d warnings through %d processes; want 1", e, total, len(worlds))
			}
		})
	}
}
