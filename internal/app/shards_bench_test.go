package app_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/store"
)

// BenchmarkShards is issue 16's benchmark: one gavel process serving GAVEL_BENCH_GUILDS
// (default 2,500) guilds of GAVEL_BENCH_MEMBERS (default 1,000) members each on 2 shards,
// against the fake (seeded with SeedGuilds), with a gavel-enforced AutoMod keyword rule in
// every guild. gavel runs in a process of its own (this test binary started again, as in
// BenchmarkCommandLatency), on SQLite, with the fake's identify limit on (5 s per
// IDENTIFY, max_concurrency 1) and the REST rate limits lifted on both sides.
//
// Reported: ready-s, the time from starting gavel's process to both shards ready and every
// guild's GUILD_CREATE handled; rss-MiB, gavel's resident memory then (VmRSS); and
// events/s, the gateway events gavel's handlers finished per second during a storm of
// GAVEL_BENCH_STORM (default 200,000) messages from members spread over every guild, each
// evaluated against the guild's AutoMod rule (none matches: no punishment follows, so the
// storm measures the gateway, the router and the local AutoMod engine, not the REST API);
// storm-rss-MiB is the resident memory after the storm. The storm is queued in the shards'
// sessions while the fake refuses gavel's connections, and gavel RESUMEs into it: the
// fake's own dispatch (JSON, its state lock) is slower than gavel and would be measured
// instead. events/s runs from the first event gavel handles after resuming to the last.
//
// Run: go test -run '^$' -bench BenchmarkShards -benchtime 1x -timeout 30m ./internal/app/
func BenchmarkShards(b *testing.B) {
	guilds, members, storm := envInt(b, "GAVEL_BENCH_GUILDS", 2500), envInt(b, "GAVEL_BENCH_MEMBERS", 1000), envInt(b, "GAVEL_BENCH_STORM", 200000)
	fake := discordtest.New(b, discordtest.WithLogger(quietLogger()), discordtest.WithGlobalRateLimit(0),
		discordtest.WithRouteLimit("*", 0, 0), discordtest.WithoutSpecValidation(), discordtest.WithResumeBuffer(1<<20),
		discordtest.WithSessionTTL(time.Hour))
	seedStart := time.Now()
	seeded, err := fake.SeedGuilds(discordtest.BulkGuilds{Count: guilds, Members: members})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d guilds of %d members in %s", guilds, members, time.Since(seedStart).Round(time.Millisecond))

	dbURL := "sqlite:" + b.TempDir() + "/gavel.db"
	ctx := context.Background()
	st, err := store.OpenURL(ctx, dbURL, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.MigrateUp(ctx); err != nil {
		b.Fatal(err)
	}
	am := automod.NewStore(st)
	rule := []automod.GavelRule{{Name: "slurs", TriggerType: automod.TriggerKeyword, Keywords: []string{"badword", "worse*"}, Enabled: true,
		Actions: []automod.GavelAction{{Type: automod.GavelDelete}, {Type: automod.GavelWarn}}}}
	for _, g := range seeded {
		if err := am.ReplaceGavelRules(ctx, discord.GuildID(g.ID), rule); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}

	for i := 0; i < b.N; i++ {
		start := time.Now()
		g := startBenchGavel(b, benchGavelSpec{DatabaseURL: dbURL, Token: fake.Token(), APIURL: fake.APIURL(), GatewayURL: fake.GatewayURL,
			Guilds: []string{seeded[0].ID.String()}, ShardCount: "2", Shards: "auto"})
		// READY per shard, then one GUILD_CREATE per guild.
		g.waitEvents(b, int64(guilds+2), 10*time.Minute)
		ready := time.Since(start)
		rss := g.ask(b, "rss")
		b.Logf("ready in %s, %d MiB resident", ready.Round(time.Millisecond), rss>>20)

		// The storm piles up in the shards' sessions while gavel is held off, then gavel
		// RESUMEs and works through it: the figure is gavel's pace, not the fake's dispatch.
		base := g.ask(b, "events")
		fake.RefuseConnections(true)
		fake.CloseGateway(discordtest.CloseUnknownError, "bench: the storm is being queued")
		stormStart := time.Now()
		var sent atomic.Int64
		var wg sync.WaitGroup
		const senders = 4
		for w := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := w; n < storm; n += senders {
					gd := seeded[n%len(seeded)]
					fake.SendMessage(gd.Channel, gd.Members[(n/len(seeded))%len(gd.Members)], "message "+strconv.Itoa(n)+" about nothing in particular")
					sent.Add(1)
				}
			}()
		}
		wg.Wait()
		dispatched := time.Since(stormStart)
		fake.RefuseConnections(false)
		// From the first event of the backlog (gavel reconnects after its backoff) to the last.
		g.waitEvents(b, base+1, 5*time.Minute)
		first, firstCPU := time.Now(), g.cpu(b)
		g.waitEvents(b, base+int64(storm), 10*time.Minute)
		took, stormCPU := time.Since(first), g.cpu(b)-firstCPU
		after := g.ask(b, "rss")
		b.ReportMetric(ready.Seconds(), "ready-s")
		b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
		b.ReportMetric(float64(storm)/took.Seconds(), "events/s")
		b.ReportMetric(float64(after)/(1<<20), "storm-rss-MiB")
		// gavel's CPU per message of the storm: on a shared machine the rate says how much of
		// it gavel got as much as what gavel costs; this says what it costs.
		b.ReportMetric(float64(stormCPU.Microseconds())/float64(storm), "cpu-µs/event")
		b.Logf("storm of %d messages: queued by the fake in %s, handled by gavel in %s after it resumed (%.0f events/s, %s of gavel's CPU); %d MiB resident after",
			storm, dispatched.Round(time.Millisecond), took.Round(time.Millisecond), float64(storm)/took.Seconds(), stormCPU.Round(time.Millisecond), after>>20)
	}
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a whole number from 1", name, v)
	}
	return n
}

// ask sends a question line to the gavel process and reads the number it answers.
func (g *benchGavel) ask(b testing.TB, question string) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, err := fmt.Fprintln(g.in, question); err != nil {
		b.Fatalf("asking gavel %q: %v; stderr:\n%s", question, err, g.stderr.String())
	}
	line, err := g.out.ReadString('\n')
	if err != nil {
		b.Fatalf("reading gavel's %q: %v; stderr:\n%s", question, err, g.stderr.String())
	}
	n, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if err != nil {
		b.Fatalf("gavel's %q: %q: %v", question, line, err)
	}
	return n
}

// waitEvents asks the gavel process every 50 ms how many events its handlers have finished
// until there are at least n (a benchmark measures real time; tests never do this).
func (g *benchGavel) waitEvents(b *testing.B, n int64, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		got := g.ask(b, "events")
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("gavel handled %d events of %d in %s; stderr:\n%s", got, n, limit, g.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// residentBytes reads this process's VmRSS.
func residentBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return -1
}
