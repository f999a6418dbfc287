package app_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dgw "github.com/disgoorg/disgo/gateway"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/disgoport"
	"github.com/gavelbot/gavel/internal/discord/gateway"
	"github.com/gavelbot/gavel/internal/discord/leanhttp"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/router"
	"github.com/gavelbot/gavel/internal/store"
)

// BenchmarkCommandFloor measures the floor of BenchmarkCommandLatency's SQLite figure
// gavel-cpu-ms: the CPU a process spends per warn and per ban on the work no implementation
// of the command can leave out, done with the parts gavel uses, and nothing else. It runs
// like BenchmarkCommandLatency: the work runs in a process of its own (this test binary
// started again, GAVEL_BENCH_FLOOR; see TestMain) against the fake Discord in the
// benchmark's process, over real HTTP and WebSocket, with every rate limit lifted on both
// sides and the fake's OpenAPI validation off, 64 slots (a guild each: moderator, command
// channel, mod-log channel) and a fresh member as each command's target; its CPU time is
// that process's getrusage(RUSAGE_SELF) before and after each part, asked over a pipe, as
// gavel-cpu-ms is gavel's.
//
// The three parts run one after the other on the same b.N commands, each measured on its
// own (gw-cpu-ms, rest-cpu-ms, sql-cpu-ms, per command) and summed (floor-cpu-ms);
// gw-allocs, rest-allocs, sql-allocs and floor-allocs are the heap allocations:
//
//   - gw: receiving the command's MESSAGE_CREATE ("$warn <@target> x", with the target's
//     mention member, as the fake sends it to gavel) with gavel's gateway client
//     (internal/discord/gateway, compression off as in BenchmarkCommandLatency), decoded as
//     gavel decodes it (WithMessageDecoding: gavel's own decoder into *gateway.MessageCreate)
//     and handed to an event handler that counts it. One message every 1 ms
//     (GAVEL_BENCH_FLOOR_PACE_US), about the rate at which commands end in
//     BenchmarkCommandLatency at concurrency 64, spread over the slots: one frame per read,
//     as gavel gets them. Not counted: disgo's event manager and the router (gavel's logic
//     after the decoding), and the events gavel's wider intents bring (its DMs and the ban's
//     moderation and member events); the floor asks for GUILD_MESSAGES and MESSAGE_CONTENT
//     only.
//   - rest: the calls of the command and its mod-log post (calls: warn 4, ban 5) through
//     gavel's REST client stack: disgoport.Adapter (its request and answer encoding, the
//     same Limiter with the global limit lifted as the benchmark lifts it) over
//     leanhttp.Transport as app.New builds it, at concurrency 64 (each slot's commands one
//     after the other). Per warn: the DM channel and the DM (Adapter.SendDM), the reply in
//     the command channel, the mod-log post; a ban adds PUT /guilds/{g}/bans/{u} after the
//     DM. The bodies are gavel's in shape and size (the DM's embed about 260 bytes, the reply
//     about 150, the mod-log embed about 400). Counted here too: the fake's echo of the
//     reply and of the mod-log post on the floor's gateway (MESSAGE_CREATE of the bot's
//     own messages, which a bot with the message intents cannot turn off), dropped before
//     decoding by router.SkipEvent as gavel drops them. Not counted: the executor (retry,
//     breaker), the metrics transport, the guild-state cache and everything that decides
//     what to send.
//   - sql: the three durable write transactions a command needs (record the pending case,
//     finalize it, link its mod-log message), on the modernc driver with gavel's DSN and
//     writer pool (store.OpenURL: WAL, synchronous NORMAL, busy_timeout, foreign_keys,
//     _txlock=immediate, temp_store MEMORY; one writer connection), each the minimum:
//     BEGIN IMMEDIATE, one prepared statement, COMMIT. The table, floor_cases, has the
//     columns, constraints and every index of gavel's cases (unique (guild_id, number),
//     guild_user, guild_moderator, guild_type, guild_created, due, audit_log_entry,
//     pending, source_event) but no foreign key and none of its triggers (history rows,
//     reason trigrams, points). The statements: an INSERT of the pending case, an UPDATE
//     to active, an UPDATE of modlog_message_id. At concurrency 64: 64 goroutines, each
//     running its commands' three transactions in turn, wait for the one connection.
//
// sql-grouped-cpu-ms is the sql part again with the transactions of concurrent commands
// sharing one BEGIN IMMEDIATE … COMMIT, each in a savepoint of its own, as gavel's group
// commit (store.GroupTx) shares them on SQLite (up to 128 per transaction; the first
// waiting caller leads). floor-cpu-ms is the sum of gw, rest and sql; floor-grouped-cpu-ms
// the sum with the grouped sql part instead.
//
// Measured apart, each part pays for waking an idle process: the gw part above all, whose
// messages come one at a time to a process with nothing else to do (about 0.05 ms a message
// when they come back to back, GAVEL_BENCH_FLOOR_PACE_US=0, against 0.1-0.2 ms at the
// default 1 ms). gavel gets them while busy with other commands. So the sub-benchmarks
// pipeline=own and pipeline=grouped (floor-cpu-ms, floor-allocs, calls) run the same work
// as one command, end to end, in the harness of BenchmarkCommandLatency itself (its round:
// 64 slots in a closed loop, the clock stopped once every mod-log post is answered), with
// the floor's process in gavel's place: each command message the gateway decodes starts a
// goroutine (floorPipeline) that records the pending case, DMs and bans (ban), finalizes,
// DMs (warn), replies "Case #…", posts to the mod log and links the post, in gavel's order,
// with a transaction of its own per write (own) or the grouped ones (grouped). That is the
// floor to compare with gavel-cpu-ms; the parts say where it goes. Its calls are the
// command's before its reply (warn 3, ban 4), as BenchmarkCommandLatency counts them; the
// echoes of the reply and the mod-log post arrive on its gateway as on gavel's.
//
// What the floor leaves out is gavel's own logic: parsing the command, permissions and
// hierarchy checks, the case's numbering, history and outbox rows, escalation, the target's
// lock, the reply's and embeds' rendering, the mod-log worker's reads, the
// executor, logging and metrics, and the handing over between their goroutines. Compare it
// with BenchmarkCommandLatency's gavel-cpu-ms at concurrency 64 on SQLite, run in the same
// session.
//
// Run: go test -run '^$' -bench BenchmarkCommandFloor -benchtime 2000x ./internal/app/
func BenchmarkCommandFloor(b *testing.B) {
	w := newFloorWorld(b, 64)
	for _, cmd := range []string{"warn", "ban"} {
		b.Run("cmd="+cmd+"/conc=64", func(b *testing.B) {
			r := w.measure(b, cmd, 64, b.N)
			b.StopTimer()
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
			per := func(n int64) float64 { return float64(n) / float64(b.N) }
			b.ReportMetric(ms(r.gw.cpu), "gw-cpu-ms")
			b.ReportMetric(ms(r.rest.cpu), "rest-cpu-ms")
			b.ReportMetric(ms(r.sql.cpu), "sql-cpu-ms")
			b.ReportMetric(ms(r.grouped.cpu), "sql-grouped-cpu-ms")
			b.ReportMetric(ms(r.gw.cpu+r.rest.cpu+r.sql.cpu), "floor-cpu-ms")
			b.ReportMetric(ms(r.gw.cpu+r.rest.cpu+r.grouped.cpu), "floor-grouped-cpu-ms")
			b.ReportMetric(per(r.gw.allocs), "gw-allocs")
			b.ReportMetric(per(r.rest.allocs), "rest-allocs")
			b.ReportMetric(per(r.sql.allocs), "sql-allocs")
			b.ReportMetric(per(r.gw.allocs+r.rest.allocs+r.sql.allocs), "floor-allocs")
			b.ReportMetric(per(r.calls), "calls")
		})
	}
	for _, sqlMode := range []string{"own", "grouped"} {
		for _, cmd := range []string{"warn", "ban"} {
			b.Run("pipeline="+sqlMode+"/cmd="+cmd+"/conc=64", func(b *testing.B) {
				samples, cpu := w.pipeline(b, sqlMode, cmd, 64, b.N)
				b.StopTimer()
				var calls int64
				for _, s := range samples {
					calls += s.calls
				}
				used, _ := cpu.used()
				mallocs, _ := cpu.allocated()
				b.ReportMetric(float64(used)/float64(time.Millisecond)/float64(b.N), "floor-cpu-ms")
				b.ReportMetric(float64(mallocs)/float64(b.N), "floor-allocs")
				b.ReportMetric(float64(calls)/float64(len(samples)), "calls")
			})
		}
	}
}

// TestCommandFloorRuns keeps BenchmarkCommandFloor working: a warn and a ban on two slots
// through each part, with what each part must have done checked (no figure is).
func TestCommandFloorRuns(t *testing.T) {
	t.Parallel()
	w := newFloorWorld(t, 2)
	for _, cmd := range []string{"warn", "ban"} {
		before := len(w.s.Messages(w.slots[0].modlog)) + len(w.s.Messages(w.slots[1].modlog))
		r := w.measure(t, cmd, 2, 2)
		want := map[string]int64{"warn": 8, "ban": 10}[cmd]
		if r.calls != want {
			t.Errorf("%s: %d REST calls for 2 commands, want %d", cmd, r.calls, want)
		}
		after := len(w.s.Messages(w.slots[0].modlog)) + len(w.s.Messages(w.slots[1].modlog))
		if after-before != 2 {
			t.Errorf("%s: %d mod-log posts for 2 commands, want 2", cmd, after-before)
		}
		for i, tg := range r.targets {
			if _, banned := w.s.Banned(w.slots[i%2].guild, tg); banned != (cmd == "ban") {
				t.Errorf("%s: target %s banned: %v", cmd, tg, banned)
			}
		}
	}
	// The pipeline: each command answered with its case (round fails the test otherwise),
	// with its calls.
	for _, mode := range []string{"own", "grouped"} {
		for _, cmd := range []string{"warn", "ban"} {
			samples, _ := w.pipeline(t, mode, cmd, 2, 2)
			for _, s := range samples {
				if want := map[string]int64{"warn": 3, "ban": 4}[cmd]; s.calls != want {
					t.Errorf("pipeline %s %s: %d calls before the reply, want %d", mode, cmd, s.calls, want)
				}
			}
		}
	}
	// Each measure recorded 2 commands twice (sql, then grouped), and the pipeline 2 a
	// round, each row finalized and linked: the warm-ups' too.
	if got, want := w.floor.ask(t, "rows"), 2*(w.warm+4)+w.warm+8; got != want {
		t.Errorf("%d finalized and linked rows, want %d", got, want)
	}
}

// benchFloorEnv, set, makes this test binary run the floor's process (TestMain): its value
// is a floorSpec in JSON.
const benchFloorEnv = "GAVEL_BENCH_FLOOR"

// benchFloorProfileEnv names a file the floor's process writes its CPU profile to, as
// GAVEL_BENCH_GAVEL_CPUPROFILE does for gavel's.
const benchFloorProfileEnv = "GAVEL_BENCH_FLOOR_CPUPROFILE"

// floorSpec is what the floor's process is configured with.
type floorSpec struct {
	Token, APIURL, GatewayURL string
	// DB is the SQLite file of the sql parts.
	DB string
}

// floorRest is a rest part: for each slot, its commands' targets, one after the other.
type floorRest struct {
	Cmd   string
	Slots []floorRestSlot
}

type floorRestSlot struct {
	Guild, Channel, Modlog, Mod int64
	Targets                     []int64
}

// floorPart is one part's CPU time and heap allocations in the floor's process.
type floorPart struct {
	cpu    time.Duration
	allocs int64
}

type floorResult struct {
	gw, rest, sql, grouped floorPart
	calls                  int64
	targets                []discordtest.ID
}

type floorWorld struct {
	s     *discordtest.Server
	floor *benchGavel
	slots []*benchSlot
	// bench runs the pipeline's rounds as BenchmarkCommandLatency runs gavel's, with the
	// floor's process in gavel's place; pipelining is true while one runs (the parts' calls
	// are no command's).
	bench      *benchWorld
	pipelining atomic.Bool
	// received is how many command messages the floor's gateway has been sent so far.
	received int64
	// warm is how many commands the warm-up ran.
	warm  int64
	names int
}

func newFloorWorld(tb testing.TB, slots int) *floorWorld {
	tb.Helper()
	seed, benchSlots := benchSeed(slots)
	w := &floorWorld{slots: benchSlots, bench: &benchWorld{slots: benchSlots, modlogSeen: make(chan struct{}, 1)}}
	for _, sl := range benchSlots {
		for _, id := range []discordtest.ID{sl.guild, sl.channel, sl.modlog} {
			w.bench.owner.Store(id, sl)
		}
	}
	w.s = discordtest.New(tb, discordtest.WithSeed(seed), discordtest.WithLogger(quietLogger()),
		discordtest.WithGlobalRateLimit(0), discordtest.WithRouteLimit("*", 0, 0), discordtest.WithoutSpecValidation(),
		discordtest.WithRequestObserver(func(sv discordtest.Served) {
			if w.pipelining.Load() {
				w.bench.observe(sv)
			}
		}))
	w.bench.s = w.s
	spec := floorSpec{Token: w.s.Token(), APIURL: w.s.APIURL(), GatewayURL: w.s.GatewayURL, DB: filepath.Join(tb.TempDir(), "floor.db")}
	w.floor = startBenchProcess(tb, benchFloorEnv, spec)
	w.bench.gavel = w.floor
	readyCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.s.WaitReady(readyCtx, 1); err != nil {
		tb.Fatalf("WaitReady: %v; stderr:\n%s", err, w.floor.stderr.String())
	}
	// One warn per slot opens the REST connections and warms the table and the
	// statements, as BenchmarkCommandLatency's warm-up round fills gavel's caches.
	w.measure(tb, "warn", slots, slots)
	w.pipeline(tb, "own", "warn", slots, slots)
	w.warm = int64(slots)
	return w
}

// pipeline runs n commands through floorPipeline, conc at a time, as
// BenchmarkCommandLatency's round runs them through gavel, and returns their figures and
// the floor process's CPU time and allocations; sqlMode is "own" (a transaction per write)
// or "grouped".
func (w *floorWorld) pipeline(tb testing.TB, sqlMode, cmd string, conc, n int) ([]benchSample, *cpuClock) {
	tb.Helper()
	w.floor.ask(tb, "mode "+sqlMode)
	w.pipelining.Store(true)
	defer func() {
		w.pipelining.Store(false)
		w.floor.ask(tb, "mode ")
	}()
	cpu := &cpuClock{gavel: w.floor}
	return w.bench.round(tb, cmd, conc, n, cpu), cpu
}

// measure runs n commands through each part in turn, on the first conc slots, and returns
// the floor process's CPU time and allocations for each.
func (w *floorWorld) measure(tb testing.TB, cmd string, conc, n int) floorResult {
	tb.Helper()
	conc = min(conc, n)
	rest := floorRest{Cmd: cmd}
	for c := range conc {
		sl := w.slots[c]
		rest.Slots = append(rest.Slots, floorRestSlot{Guild: int64(sl.guild), Channel: int64(sl.channel), Modlog: int64(sl.modlog), Mod: int64(sl.mod)})
	}
	var r floorResult
	msgs := make([]struct{ channel, mod, target discordtest.ID }, n)
	for i := range n {
		sl := w.slots[i%conc]
		w.names++
		t := w.s.AddUser("target"+strconv.Itoa(w.names), false)
		w.s.AddMember(sl.guild, t)
		w.s.OpenDM(t)
		rest.Slots[i%conc].Targets = append(rest.Slots[i%conc].Targets, int64(t))
		msgs[i].channel, msgs[i].mod, msgs[i].target = sl.channel, sl.mod, t
		r.targets = append(r.targets, t)
	}
	restJSON, err := json.Marshal(rest)
	if err != nil {
		tb.Fatal(err)
	}
	// Only a benchmark paces its messages (its figure depends on it); a test sends them
	// back to back and waits for nothing but their decoding.
	var pace time.Duration
	if b, ok := tb.(*testing.B); ok {
		pace = time.Duration(envPace(tb)) * time.Microsecond
		b.ResetTimer()
	}

	part := func(p *floorPart, run func()) {
		a0, c0 := w.floor.allocs(tb), w.floor.cpu(tb)
		run()
		c1, a1 := w.floor.cpu(tb), w.floor.allocs(tb)
		p.cpu, p.allocs = c1-c0, a1[0]-a0[0]
	}
	part(&r.gw, func() {
		next := time.Now()
		for _, m := range msgs {
			// A benchmark paces its load on the wall clock; the time is not asserted.
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			next = next.Add(pace)
			w.s.SendMessage(m.channel, m.mod, "$"+cmd+" <@"+m.target.String()+"> x")
		}
		w.received += int64(n)
		if got := w.floor.ask(tb, "gw "+strconv.FormatInt(w.received, 10)); got != w.received {
			tb.Fatalf("the floor's gateway decoded %d command messages, want %d", got, w.received)
		}
	})
	part(&r.rest, func() {
		r.calls = w.floor.ask(tb, "rest "+string(restJSON))
		if r.calls < 0 {
			tb.Fatalf("%s's REST calls failed; stderr:\n%s", cmd, w.floor.stderr.String())
		}
	})
	sqlQ := fmt.Sprintf("%d %d", n, conc)
	part(&r.sql, func() {
		if got := w.floor.ask(tb, "sql "+sqlQ); got != int64(n) {
			tb.Fatalf("%d commands' transactions, want %d; stderr:\n%s", got, n, w.floor.stderr.String())
		}
	})
	part(&r.grouped, func() {
		if got := w.floor.ask(tb, "sqlgrouped "+sqlQ); got != int64(n) {
			tb.Fatalf("%d commands' grouped transactions, want %d; stderr:\n%s", got, n, w.floor.stderr.String())
		}
	})
	return r
}

// envPace is the gap between two command messages in microseconds
// (GAVEL_BENCH_FLOOR_PACE_US, default 1000).
func envPace(tb testing.TB) int {
	v := os.Getenv("GAVEL_BENCH_FLOOR_PACE_US")
	if v == "" {
		return 1000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		tb.Fatalf("GAVEL_BENCH_FLOOR_PACE_US=%q: want a whole number of microseconds", v)
	}
	return n
}

// floorTable is gavel's cases table (migrations 00001, 00004, 00018) with every column,
// constraint and index, without the foreign key to guilds and without the triggers.
const floorTable = `
CREATE TABLE floor_cases (
    id                INTEGER PRIMARY KEY,
    guild_id          INTEGER NOT NULL,
    number            INTEGER NOT NULL CHECK (number >= 1),
    type              TEXT    NOT NULL CHECK (type IN ('BAN', 'UNBAN', 'HACKBAN', 'TEMPBAN', 'KICK', 'TIMEOUT', 'UNTIMEOUT', 'WARN', 'JAIL', 'UNJAIL', 'SNIPPETBAN', 'SNIPPETUNBAN', 'POLLBAN', 'POLLUNBAN', 'SOFTBAN', 'NOTE', 'AUTOMOD')),
    status            TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'voided')),
    processed         INTEGER NOT NULL DEFAULT 0 CHECK (processed IN (0, 1)),
    reason            TEXT    NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    moderator_id      INTEGER NOT NULL CHECK (moderator_id > 0),
    user_id           INTEGER NOT NULL CHECK (user_id > 0),
    role_ids          TEXT    NOT NULL DEFAULT '[]' CHECK (json_type(role_ids) = 'array'),
    expires_at        INTEGER,
    metadata          TEXT    NOT NULL DEFAULT '{}' CHECK (json_type(metadata) = 'object'),
    modlog_message_id INTEGER CHECK (modlog_message_id IS NULL OR modlog_message_id > 0),
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    source_event_id   INTEGER CHECK (source_event_id IS NULL OR source_event_id > 0),
    CONSTRAINT floor_cases_guild_number UNIQUE (guild_id, number)
) STRICT;
CREATE INDEX floor_cases_guild_user ON floor_cases (guild_id, user_id, id);
CREATE INDEX floor_cases_guild_moderator ON floor_cases (guild_id, moderator_id, id);
CREATE INDEX floor_cases_guild_type ON floor_cases (guild_id, type, id);
CREATE INDEX floor_cases_guild_created ON floor_cases (guild_id, created_at);
CREATE INDEX floor_cases_due ON floor_cases (expires_at) WHERE processed = FALSE AND status = 'active' AND expires_at IS NOT NULL;
CREATE UNIQUE INDEX floor_cases_audit_log_entry ON floor_cases (guild_id, (metadata ->> 'audit_log_entry_id'))
    WHERE metadata ->> 'audit_log_entry_id' IS NOT NULL;
CREATE INDEX floor_cases_pending ON floor_cases (guild_id, id) WHERE status = 'pending';
CREATE UNIQUE INDEX floor_cases_source_event ON floor_cases (guild_id, source_event_id) WHERE source_event_id IS NOT NULL;
`

// floorSQL is the sql part's database: gavel's writer pool and the three statements,
// prepared once on its one connection.
type floorSQL struct {
	st                         *store.Store
	insert, activate, linkStmt *sql.Stmt
	// number is the last case number given. Every row is in one guild (a case's guild
	// changes no index's cost): the numbers only need to be unique in it.
	number atomic.Int64
	group  floorGroup
}

func openFloorSQL(ctx context.Context, path string) (*floorSQL, error) {
	st, err := store.OpenURL(ctx, "sqlite:"+path, store.Options{MaxOpenConns: 2})
	if err != nil {
		return nil, err
	}
	f := &floorSQL{st: st}
	f.group.db, f.group.lead = st.Writer(), make(chan struct{}, 1)
	if _, err := st.Writer().ExecContext(ctx, floorTable); err != nil {
		st.Close()
		return nil, fmt.Errorf("create floor_cases: %w", err)
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		text string
	}{
		{&f.insert, `INSERT INTO floor_cases (guild_id, number, type, status, reason, moderator_id, user_id, created_at, updated_at, source_event_id)
VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)`},
		{&f.activate, `UPDATE floor_cases SET status = 'active', updated_at = ? WHERE id = ?`},
		{&f.linkStmt, `UPDATE floor_cases SET modlog_message_id = ?, updated_at = ? WHERE id = ?`},
	} {
		if *p.stmt, err = st.Writer().PrepareContext(ctx, p.text); err != nil {
			st.Close()
			return nil, fmt.Errorf("prepare: %w", err)
		}
	}
	return f, nil
}

// command runs one command's three write transactions; run is how each is run (a
// transaction of its own, or a share of a grouped one).
func (f *floorSQL) command(ctx context.Context, run func(func(*sql.Tx) error) error) error {
	id, n, err := f.record(ctx, run)
	if err != nil {
		return err
	}
	if err := f.finalize(ctx, run, id); err != nil {
		return err
	}
	return f.link(ctx, run, id, benchBase+n*10+8)
}

// record inserts a pending case and returns its id and number.
func (f *floorSQL) record(ctx context.Context, run func(func(*sql.Tx) error) error) (id, n int64, err error) {
	n = f.number.Add(1)
	now := time.Now().UnixMilli()
	err = run(func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, f.insert).ExecContext(ctx, benchBase+100, n, "WARN", "x", benchBase+102, benchBase+n*10+7, now, now, benchBase+n*10+9)
		if err == nil {
			id, err = res.LastInsertId()
		}
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("record: %w", err)
	}
	return id, n, nil
}

// finalize makes the case active.
func (f *floorSQL) finalize(ctx context.Context, run func(func(*sql.Tx) error) error, id int64) error {
	if err := run(func(tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, f.activate).ExecContext(ctx, time.Now().UnixMilli(), id)
		return err
	}); err != nil {
		return fmt.Errorf("finalize: %w", err)
	}
	return nil
}

// link records the case's mod-log message.
func (f *floorSQL) link(ctx context.Context, run func(func(*sql.Tx) error) error, id, message int64) error {
	if err := run(func(tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, f.linkStmt).ExecContext(ctx, message, time.Now().UnixMilli(), id)
		return err
	}); err != nil {
		return fmt.Errorf("link: %w", err)
	}
	return nil
}

// ownTx runs fn in a write transaction of its own: BEGIN IMMEDIATE (the DSN's _txlock),
// fn, COMMIT.
func (f *floorSQL) ownTx(ctx context.Context) func(func(*sql.Tx) error) error {
	return func(fn func(*sql.Tx) error) error {
		tx, err := f.st.Writer().BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	}
}

// floorGroup shares write transactions between concurrent callers as gavel's group commit
// does on SQLite (store.updater): a caller queues its work and, when no batch is running,
// leads one: BEGIN IMMEDIATE, each queued caller's work in a savepoint of its own (rolled
// back alone on its error), COMMIT, then every caller of the batch is told.
type floorGroup struct {
	db      *sql.DB
	mu      sync.Mutex
	pending []*floorReq
	// lead is the one batch's slot (store's updater.sem on SQLite).
	lead chan struct{}
}

type floorReq struct {
	fn   func(*sql.Tx) error
	done chan struct{}
	err  error
}

func (g *floorGroup) run(ctx context.Context) func(func(*sql.Tx) error) error {
	return func(fn func(*sql.Tx) error) error {
		r := &floorReq{fn: fn, done: make(chan struct{})}
		g.mu.Lock()
		g.pending = append(g.pending, r)
		g.mu.Unlock()
		for {
			select {
			case <-r.done:
				return r.err
			case g.lead <- struct{}{}:
				g.batch(ctx)
				<-g.lead
			}
		}
	}
}

// batch runs up to 128 queued callers' work in one transaction (store's maxBatch).
func (g *floorGroup) batch(ctx context.Context) {
	g.mu.Lock()
	n := min(len(g.pending), 128)
	batch := g.pending[:n:n]
	g.pending = append([]*floorReq(nil), g.pending[n:]...)
	g.mu.Unlock()
	finish := func(err error) {
		for _, r := range batch {
			if r.err == nil {
				r.err = err
			}
			close(r.done)
		}
	}
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		finish(err)
		return
	}
	for _, r := range batch {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT member"); err != nil {
			r.err = err
			continue
		}
		if r.err = r.fn(tx); r.err != nil {
			_, err = tx.ExecContext(ctx, "ROLLBACK TO member")
			r.err = errors.Join(r.err, err)
		}
		if _, err := tx.ExecContext(ctx, "RELEASE member"); err != nil && r.err == nil {
			r.err = err
		}
	}
	finish(tx.Commit())
}

// commands runs n commands' transactions on conc goroutines and returns how many succeeded.
func (f *floorSQL) commands(ctx context.Context, n, conc int, run func(func(*sql.Tx) error) error) (int64, error) {
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, conc)
	for c := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < n; i += conc {
				if err := f.command(ctx, run); err != nil {
					errs[c] = err
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return done.Load(), errors.Join(errs...)
}

// runBenchFloor runs the floor's process: its gateway, REST client and SQLite database,
// answering on out each line read from in: "cpu" and "allocs" as the gavel process does;
// "gw N" once its gateway has decoded N command messages in all; "rest {floorRest}" with
// the REST calls it made for them (-1 on a failure, told on errOut); "sql N C" and
// "sqlgrouped N C" with how many of N commands' transactions C goroutines ran; "rows" with
// the floor_cases rows finalized and linked. The end of in stops it.
func runBenchFloor(specJSON string, in io.Reader, out, errOut io.Writer) int {
	var spec floorSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintf(errOut, "%s: %v\n", benchFloorEnv, err)
		return 2
	}
	if path := os.Getenv(benchFloorProfileEnv); path != "" {
		f, err := os.Create(path)
		if err == nil {
			defer f.Close()
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(errOut, "%s: %v\n", benchFloorProfileEnv, err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	db, err := openFloorSQL(ctx, spec.DB)
	if err != nil {
		fmt.Fprintf(errOut, "sqlite: %v\n", err)
		return 1
	}
	defer db.st.Close()

	// The port as app.New builds it, without the metrics' wrapper of the transport.
	fallback := http.DefaultTransport.(*http.Transport).Clone()
	fallback.MaxIdleConnsPerHost, fallback.MaxIdleConns = 128, 128
	port, err := disgoport.New(spec.Token, disgoport.WithAPIURL(spec.APIURL), disgoport.WithLogger(quietLogger()),
		disgoport.WithHTTPClient(&http.Client{Timeout: 20 * time.Second, Transport: leanhttp.New(fallback, 128, 0)}),
		disgoport.WithLimiter(disgoport.NewLimiter(disgoport.WithGlobalLimit(0, 0))))
	if err != nil {
		fmt.Fprintf(errOut, "disgoport: %v\n", err)
		return 1
	}
	defer port.Close(ctx)

	var received atomic.Int64
	arrived := make(chan struct{}, 1)
	gw, err := gateway.New(spec.Token, gateway.WithURL(spec.GatewayURL),
		gateway.WithIntents(dgw.IntentGuildMessages, dgw.IntentMessageContent),
		gateway.WithCompression(gateway.CompressionNone), gateway.WithLogger(quietLogger()),
		gateway.WithSkip(router.SkipEvent), gateway.WithMessageDecoding(true))
	if err != nil {
		fmt.Fprintf(errOut, "gateway: %v\n", err)
		return 1
	}
	// mode is what a command message starts: "" counts it (the gw part), "own" and
	// "grouped" run floorPipeline with the sql part's transactions or the grouped ones.
	var mode atomic.Value
	mode.Store("")
	// inflight are the pipelines not yet ended, which "rows" waits for: a command's link
	// comes after its mod-log post has been answered.
	var inflight sync.WaitGroup
	gw.SetEventHandler(func(_ dgw.Gateway, _ dgw.EventType, _ int, ev dgw.EventData) {
		if m, ok := ev.(*gateway.MessageCreate); ok && strings.HasPrefix(m.Content, "$") && len(m.MentionMembers) == 1 {
			if md := mode.Load().(string); md != "" {
				run := db.ownTx(ctx)
				if md == "grouped" {
					run = db.group.run(ctx)
				}
				inflight.Add(1)
				go func() {
					defer inflight.Done()
					if err := floorPipeline(ctx, port, db, run, m); err != nil {
						fmt.Fprintf(errOut, "pipeline: %v\n", err)
					}
				}()
				return
			}
			received.Add(1)
			select {
			case arrived <- struct{}{}:
			default:
			}
		}
	})
	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = gw.Open(openCtx)
	cancel()
	if err != nil {
		fmt.Fprintf(errOut, "gateway: %v\n", err)
		return 1
	}
	defer gw.Close(ctx)

	lines := bufio.NewScanner(in)
	lines.Buffer(nil, 1<<26)
	for lines.Scan() {
		q, arg, _ := strings.Cut(lines.Text(), " ")
		switch q {
		case "cpu":
			fmt.Fprintln(out, int64(processCPU()))
		case "allocs":
			fmt.Fprintln(out, heapAllocs())
		case "gw":
			want, _ := strconv.ParseInt(arg, 10, 64)
			// A bound for a lost message, not a speed target.
			timeout := time.After(time.Minute)
		wait:
			for received.Load() < want {
				select {
				case <-arrived:
				case <-timeout:
					break wait
				}
			}
			fmt.Fprintln(out, received.Load())
		case "rest":
			var r floorRest
			calls, err := int64(-1), json.Unmarshal([]byte(arg), &r)
			if err == nil {
				calls, err = floorCalls(ctx, port, r)
			}
			if err != nil {
				fmt.Fprintf(errOut, "rest: %v\n", err)
				calls = -1
			}
			fmt.Fprintln(out, calls)
		case "sql", "sqlgrouped":
			var n, conc int
			if _, err := fmt.Sscan(arg, &n, &conc); err != nil || conc < 1 {
				fmt.Fprintf(errOut, "%s %q: want N and a concurrency\n", q, arg)
				fmt.Fprintln(out, -1)
				continue
			}
			run := db.ownTx(ctx)
			if q == "sqlgrouped" {
				run = db.group.run(ctx)
			}
			done, err := db.commands(ctx, n, conc, run)
			if err != nil {
				fmt.Fprintf(errOut, "%s: %v\n", q, err)
			}
			fmt.Fprintln(out, done)
		case "mode":
			mode.Store(arg)
			fmt.Fprintln(out, 0)
		case "rows":
			inflight.Wait()
			var n int64
			if err := db.st.Writer().QueryRowContext(ctx, `SELECT count(*) FROM floor_cases WHERE status = 'active' AND modlog_message_id IS NOT NULL`).Scan(&n); err != nil {
				fmt.Fprintf(errOut, "rows: %v\n", err)
				n = -1
			}
			fmt.Fprintln(out, n)
		default:
			fmt.Fprintf(errOut, "unknown question %q\n", q)
			fmt.Fprintln(out, -1)
		}
	}
	return 0
}

// floorCalls makes the REST calls of r's commands, each slot's one after the other and the
// slots side by side, and returns how many calls were made.
func floorCalls(ctx context.Context, port *disgoport.Adapter, r floorRest) (int64, error) {
	var calls atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, len(r.Slots))
	for i, sl := range r.Slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, t := range sl.Targets {
				n, err := floorCommand(ctx, port, r.Cmd, sl, t)
				calls.Add(n)
				if err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return calls.Load(), errors.Join(errs...)
}

// floorCommand makes one command's calls with bodies of gavel's shape and size: the DM (its
// channel opened first: every target is new), the ban for a ban, the reply, the mod-log
// post. It returns how many calls it made.
func floorCommand(ctx context.Context, port *disgoport.Adapter, cmd string, sl floorRestSlot, target int64) (int64, error) {
	m := newFloorMessages(cmd, target, sl.Mod)
	if _, err := port.SendDM(ctx, discord.UserID(target), m.dm); err != nil {
		return 0, fmt.Errorf("DM: %w", err)
	}
	calls := int64(2)
	if cmd == "ban" {
		if err := port.Ban(ctx, discord.GuildID(sl.Guild), discord.UserID(target), 0, "x"); err != nil {
			return calls, fmt.Errorf("ban: %w", err)
		}
		calls++
	}
	if _, err := port.SendMessage(ctx, discord.ChannelID(sl.Channel), m.reply); err != nil {
		return calls, fmt.Errorf("reply: %w", err)
	}
	calls++
	if _, err := port.SendMessage(ctx, discord.ChannelID(sl.Modlog), m.modlog); err != nil {
		return calls, fmt.Errorf("mod-log post: %w", err)
	}
	return calls + 1, nil
}

// floorMessages are a command's DM, reply and mod-log post, of gavel's shape and size.
type floorMessages struct{ dm, reply, modlog discord.Message }

func newFloorMessages(cmd string, target, mod int64) floorMessages {
	now := time.Now()
	verb, title := "warned", "WARN"
	if cmd == "ban" {
		verb, title = "banned", "BAN"
	}
	caseNo := "Case #" + strconv.FormatInt(target%1000+1, 10)
	mention := "<@" + strconv.FormatInt(target, 10) + ">"
	return floorMessages{
		dm: discord.Message{Embeds: []discord.Embed{{Title: "You have been " + verb + " in guild 1", Description: "x", Color: 15158332,
			Fields: []discord.EmbedField{{Name: "Server", Value: "guild 1", Inline: true}}, Footer: &discord.EmbedFooter{Text: caseNo}, Timestamp: now}}},
		reply: discord.Message{Content: "**" + caseNo + "** · " + cmd + " " + mention + " (target1). They were messaged about it."},
		modlog: discord.Message{Embeds: []discord.Embed{{Title: caseNo + " · " + title, Description: "x", Color: 15158332,
			Fields: []discord.EmbedField{
				{Name: "User", Value: mention + " (target1, " + strconv.FormatInt(target, 10) + ")", Inline: true},
				{Name: "Moderator", Value: "<@" + strconv.FormatInt(mod, 10) + "> (mod1)", Inline: true},
			}, Footer: &discord.EmbedFooter{Text: caseNo + " · active"}, Timestamp: now}}},
	}
}

// floorPipeline is the whole floor of one command, in gavel's order, on its own goroutine
// as gavel's router runs a command: record the pending case; for a ban the DM and the ban;
// finalize; for a warn the DM; the reply; the mod-log post and its link. The mod-log
// channel is the command channel's next id (benchSeed).
func floorPipeline(ctx context.Context, port *disgoport.Adapter, db *floorSQL, run func(func(*sql.Tx) error) error, m *gateway.MessageCreate) error {
	cmd := "warn"
	if strings.HasPrefix(m.Content, "$ban ") {
		cmd = "ban"
	}
	target := m.MentionMembers[0].User.ID
	msgs := newFloorMessages(cmd, int64(target), int64(m.Author.ID))
	id, _, err := db.record(ctx, run)
	if err != nil {
		return err
	}
	if cmd == "ban" {
		if _, err := port.SendDM(ctx, target, msgs.dm); err != nil {
			return fmt.Errorf("DM: %w", err)
		}
		if err := port.Ban(ctx, m.GuildID, target, 0, "x"); err != nil {
			return fmt.Errorf("ban: %w", err)
		}
	}
	if err := db.finalize(ctx, run, id); err != nil {
		return err
	}
	if cmd == "warn" {
		if _, err := port.SendDM(ctx, target, msgs.dm); err != nil {
			return fmt.Errorf("DM: %w", err)
		}
	}
	if _, err := port.SendMessage(ctx, m.ChannelID, msgs.reply); err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	posted, err := port.SendMessage(ctx, m.ChannelID+1, msgs.modlog)
	if err != nil {
		return fmt.Errorf("mod-log post: %w", err)
	}
	return db.link(ctx, run, id, int64(posted))
}
