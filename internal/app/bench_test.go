package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/disgoport"
	"github.com/gavelbot/gavel/internal/discord/gateway"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
	"github.com/gavelbot/gavel/internal/syncbuf"
	"github.com/gavelbot/gavel/internal/testmain"
)

// BenchmarkCommandLatency measures a prefix command end to end: from the moment the fake
// dispatches the moderator's message (`$warn @user x`, `$ban @user x`) on the gateway to the
// moment it has answered gavel's reply in the channel (it comes after the action and the
// DM). The mod-log post is not on that path: the outbox's worker makes it after the
// command's transaction commits, often after the reply, and at concurrency 64 it falls
// behind the commands. Its calls are kept out of the command's figures (calls, fake-ms),
// but its CPU is counted: a round's CPU clock starts once every earlier command's mod-log
// post has arrived and stops once every one of the round's has, so gavel-cpu-ms is all the
// work a command causes. The real App runs in a process of
// its own (this test binary started again, see TestMain) against the fake in the benchmark's
// process, over real HTTP and WebSocket, on SQLite or PostgreSQL, with every rate limit
// lifted on both sides so that neither Discord's pacing nor the fake's limiter is measured.
//
// Each concurrent slot is a guild of its own (moderator, command channel, mod-log channel),
// and every command aims at a fresh member, so each command is the first against its
// target, as in a raid. Separate guilds keep the slots' calls in separate rate-limit
// buckets: in one guild they would share buckets, which Discord (and gavel's limiter,
// one request per bucket in flight) serialises whatever gavel's own speed.
//
// Reported per command: p50 and p99 of the latency (p50-ms, p99-ms) and of gavel's own
// share (own-p50-ms, own-p99-ms): the latency minus the time spent inside the fake's
// handlers for the command's calls and in dispatching its message. fake-ms is the mean
// time inside the fake per command, calls the mean number of REST calls, first-ms the
// mean time from the dispatch to gavel's first REST call (the gateway and the parsing),
// gavel-cpu-ms the CPU time gavel's process spent per command (gavel alone: with SQLite
// embedded, SQLite's work is gavel's own; PostgreSQL's server is another process, not
// counted), and fake-cpu-ms the benchmark process's (the fake and the load generator).
// gavel-allocs and gavel-kB are the heap allocations gavel's process made per command and
// their size: unlike the CPU time, they barely move with the machine's load, so they show
// a change of a few percent that the CPU time of a busy machine cannot. gavel-rss-MiB is
// gavel's resident memory at the round's end (what a GC setting trades CPU for).
// The fake skips its OpenAPI validation (tests keep it), which would otherwise be most of
// its time and, on a small machine, take the CPU from gavel.
//
// Run: go test -run '^$' -bench BenchmarkCommandLatency -benchtime 400x ./internal/app/
func BenchmarkCommandLatency(b *testing.B) {
	for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
		b.Run("engine="+string(engine), func(b *testing.B) {
			w := newBenchWorld(b, engine, 64)
			for _, cmd := range []string{"warn", "ban"} {
				for _, conc := range []int{1, 64} {
					b.Run(fmt.Sprintf("cmd=%s/conc=%d", cmd, conc), func(b *testing.B) {
						w.run(b, cmd, conc)
					})
				}
			}
		})
	}
}

// benchSlot is one guild where one command runs at a time.
type benchSlot struct {
	guild, mod, channel, modlog discordtest.ID
	// done receives the end of the command in flight: when the fake answered its reply.
	done chan benchEnd
	// fake accumulates the time spent inside the fake for the command in flight.
	fake  atomic.Int64
	calls atomic.Int64
	first atomic.Int64 // unix ns of the first call of the command in flight
}

type benchEnd struct {
	at time.Time
	ok bool
}

type benchWorld struct {
	s     *discordtest.Server
	gavel *benchGavel
	slots []*benchSlot
	// owner maps every id a call can carry (guild, channel, target, DM channel) to its slot.
	owner sync.Map
	// modlogPosts counts the mod-log posts the fake has answered, modlogSeen is told of
	// each, and sent is how many commands the rounds have sent (one post each).
	modlogPosts atomic.Int64
	modlogSeen  chan struct{}
	sent        int64
}

func newBenchWorld(b *testing.B, engine store.Engine, slots int) *benchWorld {
	b.Helper()
	dbURL := storetest.URL(b, engine)
	w := &benchWorld{modlogSeen: make(chan struct{}, 1)}
	seed, benchSlots := benchSeed(slots)
	for _, sl := range benchSlots {
		w.slots = append(w.slots, sl)
		for _, id := range []discordtest.ID{sl.guild, sl.channel, sl.modlog} {
			w.owner.Store(id, sl)
		}
	}
	w.s = discordtest.New(b, discordtest.WithSeed(seed), discordtest.WithLogger(quietLogger()),
		discordtest.WithGlobalRateLimit(0), discordtest.WithRouteLimit("*", 0, 0), discordtest.WithoutSpecValidation(),
		discordtest.WithRequestObserver(w.observe))

	// The mod log is configured, so that its post is part of every command's path.
	ctx := context.Background()
	st, err := store.OpenURL(ctx, dbURL, store.Options{MaxOpenConns: 2})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.MigrateUp(ctx); err != nil {
		b.Fatal(err)
	}
	gs := settings.NewService(st)
	for _, sl := range w.slots {
		if _, err := gs.SetChannel(ctx, discord.GuildID(sl.guild), benchBase, settings.ModLog, discord.ChannelID(sl.modlog)); err != nil {
			b.Fatal(err)
		}
	}
	st.Close()

	spec := benchGavelSpec{DatabaseURL: dbURL, Token: w.s.Token(), APIURL: w.s.APIURL(), GatewayURL: w.s.GatewayURL}
	for _, sl := range w.slots {
		spec.Guilds = append(spec.Guilds, sl.guild.String())
	}
	w.gavel = startBenchGavel(b, spec)
	readyCtx, readyCancel := context.WithTimeout(ctx, 30*time.Second)
	defer readyCancel()
	if err := w.s.WaitReady(readyCtx, 1); err != nil {
		b.Fatalf("WaitReady: %v", err)
	}
	// One warn per slot fills gavel's per-guild caches, as in a bot that has been running.
	w.round(b, "warn", len(w.slots), len(w.slots), &cpuClock{gavel: w.gavel})
	return w
}

// benchBase is the first id of the benchmarks' seeded users, guilds, roles and channels.
const benchBase = 710000000000000000

// benchSeed is the fake's state for slots benchmark slots: an owner, and per slot a guild
// with a moderator (a role with the moderation permissions), a command channel, a mod-log
// channel and gavel's role.
func benchSeed(slots int) (discordtest.Seed, []*benchSlot) {
	const base = benchBase
	botRole := func(i int) discordtest.ID { return discordtest.ID(base + i*100 + 1) }
	seed := discordtest.Seed{Users: []discordtest.User{{ID: base, Username: "owner"}}}
	var out []*benchSlot
	for i := 1; i <= slots; i++ {
		sl := &benchSlot{guild: discordtest.ID(base + i*100), mod: discordtest.ID(base + i*100 + 2),
			channel: discordtest.ID(base + i*100 + 3), modlog: discordtest.ID(base + i*100 + 4), done: make(chan benchEnd, 1)}
		modRole := discordtest.ID(base + i*100 + 5)
		seed.Users = append(seed.Users, discordtest.User{ID: sl.mod, Username: fmt.Sprintf("mod%d", i)})
		seed.Guilds = append(seed.Guilds, discordtest.SeedGuild{
			ID: sl.guild, Name: fmt.Sprintf("guild %d", i), OwnerID: base,
			Roles: []discordtest.Role{
				{ID: modRole, Name: "mods", Position: 1, Permissions: discordtest.PermBanMembers | discordtest.PermKickMembers | discordtest.PermModerateMembers | discordtest.PermManageMessages},
				{ID: botRole(i), Name: "gavel", Position: 2, Permissions: botPerms},
			},
			BotRoles: []discordtest.ID{botRole(i)},
			Members:  []discordtest.SeedMember{{UserID: base}, {UserID: sl.mod, Roles: []discordtest.ID{modRole}}},
			Channels: []discordtest.Channel{
				{ID: sl.channel, Type: discordtest.ChannelGuildText, Name: "general", Position: 1},
				{ID: sl.modlog, Type: discordtest.ChannelGuildText, Name: "mod-log", Position: 2},
			},
		})
		out = append(out, sl)
	}
	return seed, out
}

// observe runs in the fake after each REST call: it charges the call's time to the slot it
// belongs to, and ends the slot's command when the call is its reply.
func (w *benchWorld) observe(sv discordtest.Served) {
	sl := w.slotOf(sv)
	if sl == nil {
		return
	}
	if sv.Route == "POST /channels/{channel_id}/messages" && sv.Params["channel_id"] == sl.modlog.String() {
		// Not the command in flight's: the outbox posts an earlier command's case whenever
		// its worker gets to it.
		if sv.Status == 200 {
			w.modlogPosts.Add(1)
			select {
			case w.modlogSeen <- struct{}{}:
			default:
			}
		}
		return
	}
	sl.fake.Add(int64(sv.Duration))
	if sl.calls.Add(1) == 1 {
		sl.first.Store(sv.Start.UnixNano())
	}
	if sv.Route == "POST /channels/{channel_id}/messages" && sv.Params["channel_id"] == sl.channel.String() {
		sl.done <- benchEnd{at: sv.Start.Add(sv.Duration), ok: sv.Status == 200 && strings.Contains(string(sv.Body), "Case #")}
	}
}

func (w *benchWorld) slotOf(sv discordtest.Served) *benchSlot {
	for _, p := range []string{"guild_id", "channel_id", "user_id"} {
		if id, ok := discordtest.ParseID(sv.Params[p]); ok {
			if sl, ok := w.owner.Load(id); ok {
				return sl.(*benchSlot)
			}
		}
	}
	if sv.Route == "POST /users/@me/channels" {
		var body struct {
			RecipientID discordtest.ID `json:"recipient_id"`
		}
		if json.Unmarshal(sv.Body, &body) == nil {
			if sl, ok := w.owner.Load(body.RecipientID); ok {
				return sl.(*benchSlot)
			}
		}
	}
	return nil
}

// benchSample is one command's figures.
type benchSample struct {
	total, own, fake time.Duration
	calls            int64
	first            time.Duration
}

func (w *benchWorld) run(b *testing.B, cmd string, conc int) {
	cpu := cpuClock{gavel: w.gavel}
	samples := w.round(b, cmd, conc, b.N, &cpu)
	b.StopTimer()
	totals := make([]time.Duration, len(samples))
	owns := make([]time.Duration, len(samples))
	var fake time.Duration
	var calls int64
	var first time.Duration
	for i, s := range samples {
		first += s.first
		totals[i], owns[i] = s.total, s.own
		fake += s.fake
		calls += s.calls
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(totals, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(totals, 99)), "p99-ms")
	b.ReportMetric(ms(percentile(owns, 50)), "own-p50-ms")
	b.ReportMetric(ms(percentile(owns, 99)), "own-p99-ms")
	b.ReportMetric(ms(fake/time.Duration(len(samples))), "fake-ms")
	b.ReportMetric(float64(calls)/float64(len(samples)), "calls")
	b.ReportMetric(ms(first/time.Duration(len(samples))), "first-ms")
	gavelCPU, benchCPU := cpu.used()
	b.ReportMetric(ms(gavelCPU/time.Duration(len(samples))), "gavel-cpu-ms")
	b.ReportMetric(ms(benchCPU/time.Duration(len(samples))), "fake-cpu-ms")
	mallocs, bytes := cpu.allocated()
	b.ReportMetric(float64(mallocs)/float64(len(samples)), "gavel-allocs")
	b.ReportMetric(float64(bytes)/1024/float64(len(samples)), "gavel-kB")
	// Resident memory at the round's end: what a GC setting trades CPU against.
	b.ReportMetric(float64(w.gavel.ask(b, "rss"))/(1<<20), "gavel-rss-MiB")
}

// round runs n commands on the first conc slots, conc at a time, and returns their figures.
// Each command aims at a member created for it beforehand (with their DM channel open, as
// after any earlier conversation; the fake returns it to gavel's DM call).
func (w *benchWorld) round(b testing.TB, cmd string, conc, n int, cpu *cpuClock) []benchSample {
	b.Helper()
	targets := make([][]discordtest.ID, conc)
	for i := range n {
		sl := w.slots[i%conc]
		t := w.s.AddUser("target"+strconv.Itoa(i), false)
		w.s.AddMember(sl.guild, t)
		dm := w.s.OpenDM(t)
		w.owner.Store(t, sl)
		w.owner.Store(dm, sl)
		targets[i%conc] = append(targets[i%conc], t)
	}
	samples := make([]benchSample, 0, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failed atomic.Value
	// The earlier rounds' mod-log posts are theirs: the clock starts after them.
	w.waitModlog(b, w.sent)
	if bb, ok := b.(*testing.B); ok {
		bb.ResetTimer()
	}
	cpu.start(b)
	for c := range conc {
		sl := w.slots[c]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, t := range targets[c] {
				sl.fake.Store(0)
				sl.calls.Store(0)
				start := time.Now()
				w.s.SendMessage(sl.channel, sl.mod, "$"+cmd+" <@"+t.String()+"> x")
				sent := time.Since(start)
				var end benchEnd
				select {
				case end = <-sl.done:
				case <-time.After(30 * time.Second):
					failed.Store(fmt.Sprintf("no reply to %s of %s in guild %s within 30s", cmd, t, sl.guild))
					return
				}
				if !end.ok {
					failed.Store(fmt.Sprintf("%s of %s in guild %s did not succeed: %v", cmd, t, sl.guild, w.lastReply(sl)))
					return
				}
				firstGap := time.Duration(sl.first.Load() - start.UnixNano())
				total := end.at.Sub(start)
				fake := sent + time.Duration(sl.fake.Load())
				mu.Lock()
				samples = append(samples, benchSample{total: total, own: total - fake, fake: fake, calls: sl.calls.Load(), first: firstGap})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f != nil {
		b.Fatal(f)
	}
	w.sent += int64(n)
	w.waitModlog(b, w.sent)
	cpu.stop(b)
	return samples
}

// waitModlog waits until the fake has answered want mod-log posts: one per command sent.
func (w *benchWorld) waitModlog(b testing.TB, want int64) {
	b.Helper()
	// A bound for a stuck outbox, not a speed target: the backlog of a round of thousands
	// of commands drains in seconds.
	timeout := time.After(2 * time.Minute)
	for w.modlogPosts.Load() < want {
		select {
		case <-w.modlogSeen:
		case <-timeout:
			b.Fatalf("%d mod-log posts after 2 minutes; want one per command, %d", w.modlogPosts.Load(), want)
		}
	}
}

func (w *benchWorld) lastReply(sl *benchSlot) string {
	msgs := w.s.Messages(sl.channel)
	if len(msgs) == 0 {
		return "no message"
	}
	return msgs[len(msgs)-1].Content
}

// cpuClock measures the CPU time gavel's process and the benchmark's own (the fake and the
// load generator) use, apart; PostgreSQL's server is a third process, not counted. Unlike
// latency, a busy machine distorts CPU time little.
type cpuClock struct {
	gavel                *benchGavel
	gavelBegin, gavelEnd time.Duration
	benchBegin, benchEnd time.Duration
	// memBegin and memEnd are gavel's heap allocations so far: their count and bytes.
	memBegin, memEnd [2]int64
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c *cpuClock) start(b testing.TB) {
	c.memBegin = c.gavel.allocs(b)
	c.gavelBegin, c.benchBegin = c.gavel.cpu(b), processCPU()
}

func (c *cpuClock) stop(b testing.TB) {
	c.benchEnd, c.gavelEnd = processCPU(), c.gavel.cpu(b)
	c.memEnd = c.gavel.allocs(b)
}

// allocated is the count and bytes of gavel's heap allocations between start and stop.
func (c *cpuClock) allocated() (mallocs, bytes int64) {
	return c.memEnd[0] - c.memBegin[0], c.memEnd[1] - c.memBegin[1]
}

func (c *cpuClock) used() (gavel, bench time.Duration) {
	return c.gavelEnd - c.gavelBegin, c.benchEnd - c.benchBegin
}

// benchGavelEnv, set, makes this test binary run gavel and nothing else (TestMain): the
// benchmark's gavel process. Its value is a benchGavelSpec in JSON.
const benchGavelEnv = "GAVEL_BENCH_GAVEL"

// benchGavelProfileEnv names a file the benchmark's gavel process writes its CPU profile to
// (-test.cpuprofile profiles the benchmark's own process, the fake's).
const benchGavelProfileEnv = "GAVEL_BENCH_GAVEL_CPUPROFILE"

// benchGavelAllocsEnv names a file the benchmark's gavel process writes its allocation
// profile to when it stops (go tool pprof -sample_index=alloc_space).
const benchGavelAllocsEnv = "GAVEL_BENCH_GAVEL_ALLOCPROFILE"

// benchGavelSpec is what the benchmark's gavel process is configured with.
type benchGavelSpec struct {
	DatabaseURL, Token, APIURL, GatewayURL string
	Guilds                                 []string
	// ShardCount and Shards are discord.shard_count and discord.shards ("" keeps the
	// defaults).
	ShardCount, Shards string
}

// appParallel is how many of the package's tests run at once (testmain.Parallel; 2 under
// -race). Each starts a fake Discord and a gavel of its own, and mostly waits on them.
const appParallel = 8

func TestMain(m *testing.M) {
	if spec := os.Getenv(benchGavelEnv); spec != "" {
		os.Exit(runBenchGavel(spec, os.Stdin, os.Stdout, os.Stderr))
	}
	if spec := os.Getenv(benchFloorEnv); spec != "" {
		os.Exit(runBenchFloor(spec, os.Stdin, os.Stdout, os.Stderr))
	}
	testmain.Parallel(appParallel, 2)
	os.Exit(m.Run())
}

// runBenchGavel runs the App as the benchmark configured it, with its rate limits lifted
// and gateway compression off as the fake's are, and answers on out each line read from in:
// "cpu" with the CPU time this process has used, in nanoseconds; "allocs" with the count
// and the bytes of its heap allocations so far (runtime/metrics: no stop of the world, so
// asking costs the run nothing); "rss" with its resident
// memory in bytes; "events" with the gateway events its shards' handlers have finished. The
// end of in stops gavel.
func runBenchGavel(specJSON string, in io.Reader, out, errOut io.Writer) int {
	var spec benchGavelSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintf(errOut, "%s: %v\n", benchGavelEnv, err)
		return 2
	}
	cfg := config.Default()
	cfg.Database.URL = spec.DatabaseURL
	cfg.Discord.Token = config.Secret(spec.Token)
	cfg.Discord.APIURL = spec.APIURL
	cfg.Discord.GatewayURL = spec.GatewayURL
	cfg.Discord.Guilds = spec.Guilds
	if spec.ShardCount != "" {
		cfg.Discord.ShardCount = config.ShardCount(spec.ShardCount)
	}
	if spec.Shards != "" {
		cfg.Discord.Shards = spec.Shards
	}
	if path := os.Getenv(benchGavelProfileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintf(errOut, "%s: %v\n", benchGavelProfileEnv, err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(errOut, "%s: %v\n", benchGavelProfileEnv, err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, cfg, quietLogger(),
		app.WithDiscordLimiter(disgoport.NewLimiter(disgoport.WithGlobalLimit(0, 0))),
		app.WithGatewayOptions(gateway.WithCompression(gateway.CompressionNone)))
	if err != nil {
		fmt.Fprintf(errOut, "app.New: %v\n", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		switch lines.Text() {
		case "cpu":
			fmt.Fprintln(out, int64(processCPU()))
		case "allocs":
			fmt.Fprintln(out, heapAllocs())
		case "rss":
			fmt.Fprintln(out, residentBytes())
		case "events":
			var n int64
			for _, s := range a.Shards().Statuses() {
				n += s.Events
			}
			fmt.Fprintln(out, n)
		}
	}
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintf(errOut, "Run: %v\n", err)
		return 1
	}
	if path := os.Getenv(benchGavelAllocsEnv); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = errors.Join(pprof.Lookup("allocs").WriteTo(f, 0), f.Close())
		}
		if err != nil {
			fmt.Fprintf(errOut, "%s: %v\n", benchGavelAllocsEnv, err)
			return 1
		}
	}
	return 0
}

// benchGavel is the benchmark's gavel process.
type benchGavel struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *syncbuf.Buffer
	mu     sync.Mutex // one question about the CPU at a time
}

func startBenchGavel(b *testing.B, spec benchGavelSpec) *benchGavel {
	b.Helper()
	return startBenchProcess(b, benchGavelEnv, spec)
}

// startBenchProcess starts this test binary again with env set to spec in JSON, for
// TestMain to run the process that env names, and stops it (the end of its input) when b
// ends.
func startBenchProcess(b testing.TB, env string, spec any) *benchGavel {
	b.Helper()
	js, err := json.Marshal(spec)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), env+"="+string(js))
	g := &benchGavel{cmd: cmd, stderr: &syncbuf.Buffer{}}
	cmd.Stderr = g.stderr
	if g.in, err = cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	g.out = bufio.NewReader(stdout)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		// The end of its input stops gavel; it has its shutdown timeout to finish.
		_ = g.in.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				b.Errorf("gavel process: %v; stderr:\n%s", err, g.stderr.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			b.Errorf("gavel process did not stop within 30s of its input ending; stderr:\n%s", g.stderr.String())
		}
	})
	return g
}

// allocs asks the gavel process for the count and bytes of its heap allocations so far.
func (g *benchGavel) allocs(b testing.TB) [2]int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, err := fmt.Fprintln(g.in, "allocs"); err != nil {
		b.Fatalf("asking gavel for its allocations: %v; stderr:\n%s", err, g.stderr.String())
	}
	line, err := g.out.ReadString('\n')
	if err != nil {
		b.Fatalf("reading gavel's allocations: %v; stderr:\n%s", err, g.stderr.String())
	}
	var n [2]int64
	if _, err := fmt.Sscan(line, &n[0], &n[1]); err != nil {
		b.Fatalf("gavel's allocations %q: %v", line, err)
	}
	return n
}

// heapAllocs is "count bytes" of this process's heap allocations so far.
func heapAllocs() string {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return fmt.Sprintf("%d %d", s[0].Value.Uint64(), s[1].Value.Uint64())
}

// cpu asks the gavel process for the CPU time it has used.
func (g *benchGavel) cpu(b testing.TB) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, err := fmt.Fprintln(g.in, "cpu"); err != nil {
		b.Fatalf("asking gavel for its CPU time: %v; stderr:\n%s", err, g.stderr.String())
	}
	line, err := g.out.ReadString('\n')
	if err != nil {
		b.Fatalf("reading gavel's CPU time: %v; stderr:\n%s", err, g.stderr.String())
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if err != nil {
		b.Fatalf("gavel's CPU time %q: %v", line, err)
	}
	return time.Duration(ns)
}

// percentile is the nearest-rank percentile p of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}
