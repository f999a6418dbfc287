package escalation_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
// On PostgreSQL it also reports the CPU time a warning costs with escalation off and on:
// the database server's (server-us: the benchmark's backends, by their application name,
// from /proc/PID/schedstat; left out when the server is not on this machine) and the
// benchmark process's own (client-us), and cpu-on/off, the ratio of the two totals (off over
// on): the throughput ratio a machine that only runs this benchmark, CPU-bound, would show.
// off-allocs and on-allocs are the benchmark process's heap allocations per warning.
// Unlike warns/s, CPU time moves less with what else the machine runs, so it shows what
// escalation costs on a shared machine, where the throughputs of both settings are set by
// the load instead. Each setting's store has its connections' application name
// (benchAppName-off, -on), so each phase's server CPU is its own backends'.
//
// Run: go test -run '^$' -bench BenchmarkWarnCreation -benchtime 1000x ./internal/escalation/
func BenchmarkWarnCreation(b *testing.B) {
	for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
		b.Run("engine="+string(engine), func(b *testing.B) {
			off, on := newWarnBench(b, engine, false), newWarnBench(b, engine, true)
			const turn = 50
			var offT, onT time.Duration
			var offC, onC phaseCPU
			phase := func(w *warnBench, n int, t *time.Duration, c *phaseCPU) {
				s0, c0, a0 := w.cpu.read(b), clientCPU(), heapAllocs()
				*t += w.run(b, n)
				c.server += w.cpu.read(b) - s0
				c.client += clientCPU() - c0
				c.allocs += heapAllocs() - a0
			}
			b.ResetTimer()
			for done, i := 0, 0; done < b.N; i++ {
				n := min(turn, b.N-done)
				if i%2 == 0 { // which goes first alternates too
					phase(off, n, &offT, &offC)
					phase(on, n, &onT, &onC)
				} else {
					phase(on, n, &onT, &onC)
					phase(off, n, &offT, &offC)
				}
				done += n
			}
			b.ReportMetric(float64(b.N)/offT.Seconds(), "off-warns/s")
			b.ReportMetric(float64(b.N)/onT.Seconds(), "on-warns/s")
			b.ReportMetric(offT.Seconds()/onT.Seconds(), "on/off")
			b.ReportMetric(float64(offC.allocs)/float64(b.N), "off-allocs")
			b.ReportMetric(float64(onC.allocs)/float64(b.N), "on-allocs")
			if off.cpu.ok() && on.cpu.ok() {
				per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
				b.ReportMetric(per(offC.server), "off-server-us")
				b.ReportMetric(per(onC.server), "on-server-us")
				b.ReportMetric(per(offC.client), "off-client-us")
				b.ReportMetric(per(onC.client), "on-client-us")
				b.ReportMetric(float64(offC.server+offC.client)/float64(onC.server+onC.client), "cpu-on/off")
			}
		})
	}
}

// benchAppName starts the application names BenchmarkWarnCreation's PostgreSQL connections
// carry, by which serverCPU finds their backends.
const benchAppName = "gavel-bench-warn-creation"

// phaseCPU is the CPU time one setting's phases used, the server's and the benchmark's own,
// and the heap allocations the benchmark's process made in them.
type phaseCPU struct {
	server, client time.Duration
	allocs         uint64
}

// serverCPU reads the CPU time PostgreSQL's backends serving the benchmark have used, from
// /proc (the server runs on this machine, as in CI and the dev setup); nil or !ok when it
// cannot, and then read returns 0.
type serverCPU struct {
	db      *sql.DB
	name    string
	readErr bool
}

func newServerCPU(b *testing.B, st *store.Store, name string) *serverCPU {
	c := &serverCPU{db: st.Writer(), name: name}
	c.read(b)
	return c
}

func (c *serverCPU) ok() bool { return c != nil && !c.readErr }

// read sums the time on CPU of every backend with the benchmark's application name. A
// backend that ended since the last read takes its time with it; the stores' pools keep
// their connections for the benchmark's length.
func (c *serverCPU) read(b *testing.B) time.Duration {
	if !c.ok() {
		return 0
	}
	rows, err := c.db.QueryContext(context.Background(), "SELECT pid FROM pg_stat_activity WHERE application_name = $1", c.name)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var total time.Duration
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		// The first field is the time the process has spent on a CPU, in nanoseconds.
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid))
		if err != nil {
			c.readErr = true // not this machine's process: no server figures
			return 0
		}
		f := strings.Fields(string(raw))
		if len(f) == 0 {
			c.readErr = true
			return 0
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			c.readErr = true
			return 0
		}
		total += time.Duration(ns)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return total
}

// heapAllocs is how many heap objects this process has allocated so far.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// clientCPU is the CPU time this process has used (user and system).
func clientCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// warnBench is one store seeded for BenchmarkWarnCreation.
type warnBench struct {
	st   *store.Store
	cs   *cases.Service
	user discord.UserID
	cpu  *serverCPU // nil on SQLite
}

func newWarnBench(b *testing.B, engine store.Engine, on bool) *warnBench {
	ctx := context.Background()
	var st *store.Store
	name := benchAppName + "-off"
	if on {
		name = benchAppName + "-on"
	}
	if engine == store.Postgres {
		// A store of its own whose connections carry the setting's application name.
		u := storetest.MigratedURL(b, engine)
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		var err error
		if st, err = store.OpenURL(ctx, u+sep+"application_name="+name, store.Options{MaxOpenConns: 20}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
	} else {
		st = storetest.Open(b, engine)
	}
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
		for _, t := range []string{"guilds", "cases", "case_events", "case_points", "escalation_config", "escalation_firings"} {
			if _, err := st.Writer().ExecContext(ctx, "VACUUM ANALYZE "+t); err != nil {
				b.Fatal(err)
			}
		}
	}
	w := &warnBench{st: st, cs: cs, user: user}
	if engine == store.Postgres {
		w.cpu = newServerCPU(b, st, name)
	}
	return w
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
