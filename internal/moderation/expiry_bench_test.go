package moderation_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/disgoport"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// benchSizes reads the burst benchmark's sizes: GAVEL_BENCH_PENDING actions pending (default
// 100,000), GAVEL_BENCH_DUE of them due at once (default 10,000).
func benchSizes(b *testing.B) (pending, due int) {
	pending, due = 100_000, 10_000
	for name, v := range map[string]*int{"GAVEL_BENCH_PENDING": &pending, "GAVEL_BENCH_DUE": &due} {
		if s := os.Getenv(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				b.Fatalf("%s=%q: want a positive number", name, s)
			}
			*v = n
		}
	}
	if due > pending {
		b.Fatalf("GAVEL_BENCH_DUE %d is more than GAVEL_BENCH_PENDING %d", due, pending)
	}
	return pending, due
}

// benchLatency reads GAVEL_BENCH_LATENCY (a Go duration, default 0): how long the fake holds
// each REST request before serving it, for a run in Discord's conditions (tens of
// milliseconds a call) instead of the "as fast as the fake answers".
func benchLatency(b *testing.B) time.Duration {
	v := os.Getenv("GAVEL_BENCH_LATENCY")
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		b.Fatalf("GAVEL_BENCH_LATENCY=%q: want a duration such as 25ms", v)
	}
	return d
}

// expiryBench is a guild on the fake (rate limits off, in a process of its own) with `due`
// banned users and a store holding `pending` scheduled unbans, `due` of them due at dueAt
// and the rest a year later.
type expiryBench struct {
	fake *benchFake
	st   *store.Store
	cs   *cases.Service
	svc  *expiry.Service
	co   *moderation.Coordinator
	// ml is the mod log the lifts queue their posts and edits in; its worker runs during
	// the burst, as in gavel run, competing with the lifts for the writer and the fake.
	ml    *modlog.Service
	port  *disgoport.Adapter
	dueAt time.Time
}

func newExpiryBench(b *testing.B, engine store.Engine, pending, due int, dueAt time.Time) *expiryBench {
	b.Helper()
	fake := startBenchFake(b, benchFakeSpec{Due: due, Latency: benchLatency(b)})
	owner, guild, logChannel := fake.Owner, fake.Guild, fake.LogChannel
	st := storetest.Open(b, engine)
	ctx := context.Background()
	// The tempbans are recorded before the mod log listens: the setup, whose own posts are
	// not what is measured.
	setup := cases.NewService(st)
	gs := settings.NewService(st)
	ml := modlog.New(st, gs, modlog.WithLogger(slog.New(slog.DiscardHandler)))
	cs := cases.NewService(st, cases.WithChangeObserver(ml))
	ml.Bind(cs)
	if _, err := gs.SetChannel(ctx, discord.GuildID(guild), discord.UserID(owner), settings.ModLog, discord.ChannelID(logChannel)); err != nil {
		b.Fatal(err)
	}
	later := dueAt.Add(365 * 24 * time.Hour)
	var batch []cases.New
	flush := func() {
		if _, err := setup.CreateMany(ctx, batch); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := range pending {
		user, end := int64(5_000_000+i), later
		if i < due {
			user, end = int64(fake.Users[i]), dueAt
		}
		// The names the pipeline records with every case it makes (cases.MetaTargetName):
		// without them the mod log would ask Discord for them, three calls a lift that a
		// tempban made by gavel never costs.
		meta := map[string]string{cases.MetaTargetName: fmt.Sprintf("raider%d", i), cases.MetaModeratorName: "owner"}
		batch = append(batch, cases.New{GuildID: discord.GuildID(guild), UserID: discord.UserID(user), ModeratorID: discord.UserID(owner), Type: cases.Tempban, Reason: "raid", ExpiresAt: end,
			Metadata: meta})
		if len(batch) == 5000 {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	// One statement schedules them all: the setup, not what is measured.
	if _, err := st.Writer().ExecContext(ctx, `INSERT INTO scheduled_actions (kind, guild_id, user_id, case_id, run_at, created_at, updated_at)
SELECT 'unban', guild_id, user_id, id, expires_at, created_at, created_at FROM cases WHERE type = 'TEMPBAN'`); err != nil {
		b.Fatal(err)
	}
	// Statistics as a running database has them. On PostgreSQL autovacuum analyzes a table
	// once a tenth of it changed; without statistics the planner, believing the bulk-filled
	// tables empty, claims through the open-per-case index and sorts every open row: 10 ms a
	// claim instead of 1. On SQLite nothing collects them, in gavel or here: with STAT4
	// statistics SQLite re-prepares a statement whenever a new value is bound to a parameter
	// that constrains an index, which would undo the store's statement cache on every query.
	for _, table := range []string{"cases", "scheduled_actions"} {
		if engine != store.Postgres {
			break
		}
		if _, err := st.Writer().ExecContext(ctx, "ANALYZE "+table); err != nil {
			b.Fatal(err)
		}
	}
	port, err := unpacedPort(fake.APIURL, fake.Token)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		port.Close(ctx)
	})
	svc := expiry.NewService(st, cs)
	co := moderation.NewCoordinator(actions.Catalogue(), port, cs, gs, executor.New(), moderation.WithBotUserID(discord.UserID(fake.Bot)), moderation.WithExpiry(svc))
	return &expiryBench{fake: fake, st: st, cs: cs, svc: svc, co: co, ml: ml, port: port, dueAt: dueAt}
}

// unpacedPort is the adapter with its client-side global pacing (50 requests a second,
// Discord's limit) turned off, as the fake's limits are: the benchmarks measure gavel, not
// Discord's rate limits. Per-route serialisation (one request per bucket in flight) stays.
func unpacedPort(apiURL, token string) (*disgoport.Adapter, error) {
	return disgoport.New(token, disgoport.WithAPIURL(apiURL),
		disgoport.WithLimiter(disgoport.NewLimiter(disgoport.WithGlobalLimit(0, time.Second))))
}

// cpuTime is the CPU time this process has used so far, user and system: gavel's, since the
// fake runs in a process of its own (startBenchFake). What else the benchmark's process
// does while the clock runs is small: recording each lift's lateness, and after the last
// lift a count of the mod log's queue every 20 ms.
func cpuTime(b *testing.B) time.Duration {
	d, err := ownCPU()
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// burstProfileEnv names a file BenchmarkExpiryBurst writes a CPU profile of the burst to
// (the setup, which -test.cpuprofile includes, is most of a run's CPU).
const burstProfileEnv = "GAVEL_BENCH_BURST_CPUPROFILE"

// startBurstProfile starts the burst's CPU profile when burstProfileEnv asks for one, and
// returns what stops it.
func startBurstProfile(b *testing.B) (stop func()) {
	path := os.Getenv(burstProfileEnv)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatalf("%s: %v", burstProfileEnv, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.Fatalf("%s: %v", burstProfileEnv, err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Errorf("%s: %v", burstProfileEnv, err)
		}
	}
}

// timedHandler records when each run finished, for the lateness percentiles.
type timedHandler struct {
	expiry.Handler
	mu   sync.Mutex
	late []time.Duration
	done chan struct{}
	want int
}

func (h *timedHandler) Run(ctx context.Context, cl expiry.Claim) error {
	err := h.Handler.Run(ctx, cl)
	if err == nil {
		h.mu.Lock()
		h.late = append(h.late, time.Since(cl.RunAt))
		if len(h.late) == h.want {
			close(h.done)
		}
		h.mu.Unlock()
	}
	return err
}

// BenchmarkExpiryBurst: GAVEL_BENCH_PENDING scheduled unbans, GAVEL_BENCH_DUE of them due at
// the same moment, lifted through the real pipeline (GetBan, a pending UNBAN case, the
// unban, the case activated and linked, the mod-log post) against the fake with its rate
// limits off. Reports the time from the due moment to the last completion, completions per
// second, and the p50/p99/max lateness (completion minus due time). The fake runs in a
// process of its own (startBenchFake), so the benchmark's process is gavel: cpu-µs/lift is
// gavel's CPU until the last lift, over the lifts, with whatever of the mod log's posting
// falls before the last lift; cpu-µs/lift+post is gavel's CPU until the mod log has caught
// up as well, over the lifts: all the work a lift causes gavel, however the two are
// interleaved; modlog-left/lift is how many of the mod log's deliveries were still queued
// at the last lift, per lift (each lift queues two). fake-cpu-µs/lift and fake-cpu-µs/lift+post are the fake's process over the
// same spans (what Discord's servers would spend; with SQLite embedded, the database's work
// is gavel's, and PostgreSQL's server is counted in neither). -test.cpuprofile profiles
// gavel alone, the setup included; GAVEL_BENCH_BURST_CPUPROFILE names a file for a profile
// of the burst alone, from the due moment's approach to the last lift.
//
// Run: go test -run '^$' -bench 'BenchmarkExpiryBurst/sqlite' -benchtime 1x ./internal/moderation/
func BenchmarkExpiryBurst(b *testing.B) {
	pending, due := benchSizes(b)
	for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
		b.Run(string(engine), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				dueAt := time.Now().Add(time.Hour) // moved to "now" once the setup is done
				eb := newExpiryBench(b, engine, pending, due, dueAt)
				dueAt = time.Now().Add(500 * time.Millisecond)
				// The cases move with their actions: a runner finding a case that ends later
				// than its action would wait for the case instead of lifting.
				for _, q := range []string{`UPDATE scheduled_actions SET run_at = $1 WHERE run_at = $2`, `UPDATE cases SET expires_at = $1 WHERE expires_at = $2`} {
					if _, err := eb.st.Writer().ExecContext(context.Background(), q, dueAt.UnixMilli(), eb.dueAt.UnixMilli()); err != nil {
						b.Fatal(err)
					}
				}
				h := &timedHandler{Handler: eb.co.Expiries(), done: make(chan struct{}), want: due}
				p := expiry.NewPoller(eb.svc, h, expiry.Config{Actor: discord.UserID(eb.fake.Bot), Workers: 32}, nil)
				ctx, cancel := context.WithCancel(context.Background())
				stopped := make(chan struct{})
				stopProfile := startBurstProfile(b)
				fakeCPU0 := eb.fake.cpu(b)
				cpu0 := cpuTime(b)
				b.StartTimer()
				go func() { defer close(stopped); _ = p.Run(ctx) }()
				mlStopped := make(chan struct{})
				go func() { defer close(mlStopped); _ = eb.ml.Run(ctx, eb.port, discord.UserID(eb.fake.Bot)) }()
				select {
				case <-h.done:
				case <-time.After(30 * time.Minute):
					b.Fatal("the burst did not finish in 30 minutes")
				}
				total := time.Since(dueAt)
				cpu := cpuTime(b) - cpu0
				fakeCPULifts := eb.fake.cpu(b) - fakeCPU0
				stopProfile()
				// How much of the mod log's work the burst left for after it: deliveries still
				// queued at the last lift (each lift queues two).
				leftAtDrain, _, err := eb.ml.Counts(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				// The mod log catches up after the lifts: reported, not part of lifts/s.
				// Counted, not listed: reading the whole outbox every 20 ms took a sixth of the
				// process's CPU from the worker it waits for.
				for {
					if queued, _, err := eb.ml.Counts(context.Background()); err != nil {
						b.Fatal(err)
					} else if queued == 0 {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				modlogDone := time.Since(dueAt)
				cpuAll := cpuTime(b) - cpu0
				fakeCPU := eb.fake.cpu(b) - fakeCPU0
				cancel()
				<-stopped
				<-mlStopped
				// Every run was a real lift: one unban by gavel per due user, one UNBAN case each.
				unbans := eb.fake.unbans(b)
				lifts, err := eb.cs.List(context.Background(), cases.Filter{GuildID: discord.GuildID(eb.fake.Guild), Types: []cases.Type{cases.Unban}, Status: cases.Active}, cases.PageRequest{Page: 1, PerPage: 1})
				if err != nil || unbans != due || lifts.Total != int64(due) {
					b.Fatalf("%d unbans and %d UNBAN cases (%v); want %d of each", unbans, lifts.Total, err, due)
				}
				slices.Sort(h.late)
				pct := func(q float64) time.Duration { return h.late[min(len(h.late)-1, int(q*float64(len(h.late))))] }
				b.ReportMetric(total.Seconds(), "s-to-drain")
				b.ReportMetric(float64(due)/total.Seconds(), "lifts/s")
				b.ReportMetric(pct(0.50).Seconds(), "p50-late-s")
				b.ReportMetric(pct(0.99).Seconds(), "p99-late-s")
				b.ReportMetric(h.late[len(h.late)-1].Seconds(), "max-late-s")
				b.ReportMetric(float64(cpu.Microseconds())/float64(due), "cpu-µs/lift")
				b.ReportMetric(modlogDone.Seconds(), "s-to-modlog")
				b.ReportMetric(float64(leftAtDrain)/float64(due), "modlog-left/lift")
				b.ReportMetric(float64(cpuAll.Microseconds())/float64(due), "cpu-µs/lift+post")
				b.ReportMetric(float64(fakeCPULifts.Microseconds())/float64(due), "fake-cpu-µs/lift")
				b.ReportMetric(float64(fakeCPU.Microseconds())/float64(due), "fake-cpu-µs/lift+post")
				b.StartTimer()
			}
		})
	}
}

// BenchmarkClaim is the cost of one claim query (a batch of 8) with GAVEL_BENCH_PENDING
// actions open and GAVEL_BENCH_DUE due; each claimed batch is completed outside the timer,
// as a poller would (releasing the same rows again and again would measure their dead row
// versions instead). Run it with -benchtime below GAVEL_BENCH_DUE/8 iterations.
func BenchmarkClaim(b *testing.B) {
	pending, due := benchSizes(b)
	for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
		b.Run(string(engine), func(b *testing.B) {
			eb := newExpiryBench(b, engine, pending, due, time.Now().Add(-time.Minute))
			ctx := context.Background()
			for b.Loop() {
				claims, err := eb.svc.Claim(ctx, "bench", 8, time.Minute)
				if err != nil || len(claims) != 8 {
					b.Fatalf("claimed %d: %v", len(claims), err)
				}
				b.StopTimer()
				for _, cl := range claims {
					if err := eb.svc.Complete(ctx, cl, expiry.Done, "benchmark"); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkUnbanCallsBaseline is the baseline for BenchmarkExpiryBurst: the same Discord
// calls a lift makes (read the ban, unban, post to the mod log), for GAVEL_BENCH_DUE users
// with the same 32 workers, through the same adapter and executor, and no database, against
// the same fake in its own process. The ratio of the burst's lifts/s to this calls/s is what
// the scheduler and the case records cost. cpu-µs/unban is the benchmark's process (the
// client side), fake-cpu-µs/unban the fake's.
func BenchmarkUnbanCallsBaseline(b *testing.B) {
	_, due := benchSizes(b)
	for b.Loop() {
		b.StopTimer()
		fake := startBenchFake(b, benchFakeSpec{Due: due, Latency: benchLatency(b)})
		guild, modlog := fake.Guild, fake.LogChannel
		users := make(chan discordtest.ID, due)
		for _, u := range fake.Users {
			users <- u
		}
		close(users)
		port, err := unpacedPort(fake.APIURL, fake.Token)
		if err != nil {
			b.Fatal(err)
		}
		ex := executor.New()
		fakeCPU0 := fake.cpu(b)
		start := time.Now()
		cpu0 := cpuTime(b)
		b.StartTimer()
		var wg sync.WaitGroup
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := context.Background()
				for u := range users {
					err := ex.Do(ctx, executor.OpRead, func(ctx context.Context) error {
						_, _, err := port.GetBan(ctx, discord.GuildID(guild), discord.UserID(u))
						return err
					})
					if err == nil {
						err = ex.Do(ctx, executor.OpUnban, func(ctx context.Context) error {
							return port.Unban(ctx, discord.GuildID(guild), discord.UserID(u), "expired")
						})
					}
					if err == nil {
						err = ex.Do(ctx, executor.OpMessages, func(ctx context.Context) error {
							_, err := port.SendMessage(ctx, discord.ChannelID(modlog), discord.Message{Content: "unbanned", AllowedMentions: &discord.AllowedMentions{}})
							return err
						})
					}
					if err != nil {
						b.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		b.StopTimer()
		b.ReportMetric(float64(due)/time.Since(start).Seconds(), "unbans/s")
		b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(due), "cpu-µs/unban")
		b.ReportMetric(float64((fake.cpu(b)-fakeCPU0).Microseconds())/float64(due), "fake-cpu-µs/unban")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		port.Close(ctx)
		cancel()
		b.StartTimer()
	}
}
