package shards_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/disgoorg/disgo"
	"github.com/disgoorg/disgo/bot"
	ddiscord "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/events"
	dgw "github.com/disgoorg/disgo/gateway"
	"github.com/disgoorg/disgo/rest"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord/gateway"
	"github.com/gavelbot/gavel/internal/discord/shards"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

func quietLogger() *slog.Logger {
	if os.Getenv("GAVEL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// received records the messages a process's disgo client saw, with the shard each came on.
type received struct {
	mu     sync.Mutex
	shards map[string][]int // message content → shards it arrived on
	wake   chan struct{}
}

func (r *received) add(content string, shard int) {
	r.mu.Lock()
	r.shards[content] = append(r.shards[content], shard)
	close(r.wake)
	r.wake = make(chan struct{})
	r.mu.Unlock()
}

// wait returns once every content in want has arrived.
func (r *received) wait(t *testing.T, want ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		r.mu.Lock()
		missing := ""
		for _, w := range want {
			if len(r.shards[w]) == 0 {
				missing = w
				break
			}
		}
		wake := r.wake
		r.mu.Unlock()
		if missing == "" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("message %q never arrived", missing)
		case <-wake:
		}
	}
}

func (r *received) get(content string) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.shards[content]...)
}

// process is one gavel process's worth of sharding: a Manager under a real disgo client.
type process struct {
	m    *shards.Manager
	got  *received
	done chan error
}

type setup struct {
	provider shards.Provider
	count    int
	counts   shards.CountStore
	locker   shards.BucketLocker
	driver   *identifyDriver
	// recommendPoll, when set, is how often GET /gateway/bot is asked again (default: far
	// off, these tests re-shard on 4011).
	recommendPoll time.Duration
	// listen, when set, hears each message too, on the gateway's goroutine.
	listen func(e *events.MessageCreate)
}

func (s setup) window(id int) {
	if s.driver != nil {
		s.driver.window(id)
	}
}

func startProcess(t *testing.T, fake *discordtest.Server, clk clock.Clock, s setup) (*process, error) {
	t.Helper()
	discover := rest.New(rest.NewClient(fake.Token(), rest.WithURL(fake.APIURL())))
	recommendPoll := 1000 * time.Hour
	if s.recommendPoll > 0 {
		recommendPoll = s.recommendPoll
	}
	t.Cleanup(func() { discover.Close(context.Background()) })
	m, err := shards.New(shards.Config{
		Token: fake.Token(), Count: s.count, Provider: s.provider, Counts: s.counts, Locker: s.locker,
		Log: quietLogger(), Clock: clk, IdentifyWindow: s.window,
		// Far off unless a test polls the recommended count: these re-shard on 4011.
		CountPoll: 1000 * time.Hour, RecommendPoll: recommendPoll,
		Discover: func(ctx context.Context) (ddiscord.GatewayBot, error) {
			g, err := discover.GetGatewayBot(rest.WithCtx(ctx))
			if err != nil {
				return ddiscord.GatewayBot{}, err
			}
			return *g, nil
		},
		Gateway: []gateway.Option{gateway.WithURL(fake.GatewayURL), gateway.WithLogger(quietLogger()),
			gateway.WithIntents(dgw.IntentGuilds, dgw.IntentGuildMessages, dgw.IntentMessageContent, dgw.IntentDirectMessages),
			gateway.WithCompression(gateway.CompressionNone), gateway.WithBackoff(10*time.Millisecond, 100*time.Millisecond),
			gateway.WithInvalidSessionDelay(0, 10*time.Millisecond)},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &process{m: m, got: &received{shards: map[string][]int{}, wake: make(chan struct{})}, done: make(chan error, 1)}
	client, err := disgo.New(fake.Token(), bot.WithRestClientConfigOpts(rest.WithURL(fake.APIURL())), bot.WithShardManager(m),
		bot.WithLogger(quietLogger()),
		bot.WithEventListenerFunc(func(e *events.MessageCreate) {
			if s.listen != nil {
				s.listen(e)
			}
			p.got.add(e.Message.Content, e.ShardID())
		}))
	if err != nil {
		t.Fatal(err)
	}
	m.SetEventHandler(client.EventManager.HandleGatewayEvent)
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Prepare(ctx); err != nil {
		cancel()
		client.Close(context.Background())
		return nil, err
	}
	go func() { p.done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Error("the manager did not stop")
		}
		client.Close(context.Background())
	})
	return p, nil
}

// identifyDriver moves a manual clock through the identify windows as soon as they are
// taken, so that shards identify one after the other without the test waiting 5 seconds
// a shard: it waits for each window's IDENTIFY to reach the fake, then advances past the
// window. The managers' own polls are far off.
type identifyDriver struct {
	clk  *clock.Manual
	fake *discordtest.Server
	mu   sync.Mutex
	held int
	wake chan struct{}
}

func driveIdentifies(t *testing.T, clk *clock.Manual, fake *discordtest.Server) *identifyDriver {
	d := &identifyDriver{clk: clk, fake: fake, wake: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		advancedFor := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-d.wake:
			}
			// Under mu no window can be taken: every window taken so far has its IDENTIFY
			// received before the clock moves past it.
			d.mu.Lock()
			if d.held > advancedFor {
				if d.fake.WaitIdentifies(ctx, d.held) != nil {
					d.mu.Unlock()
					return
				}
				advancedFor = d.held
				d.clk.Advance(gateway.DefaultIdentifyInterval)
			}
			d.mu.Unlock()
		}
	}()
	return d
}

// window is the managers' IdentifyWindow hook.
func (d *identifyDriver) window(int) {
	d.mu.Lock()
	d.held++
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func newClock() *clock.Manual { return clock.NewManual(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)) }

func TestOneProcessFourShardsEachGuildsEventsOnceOnItsShard(t *testing.T) {
	clk := newClock()
	fake := discordtest.New(t, discordtest.WithIdentifyClock(clk))
	guilds, err := fake.SeedGuilds(discordtest.BulkGuilds{Count: 40, Members: 3})
	if err != nil {
		t.Fatal(err)
	}
	d := driveIdentifies(t, clk, fake)
	p, err := startProcess(t, fake, clk, setup{driver: d, provider: shards.Static{}, count: 4})
	if err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := fake.WaitReady(waitCtx, 4); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for i, g := range guilds {
		text := "event of guild " + g.ID.String()
		want[text] = int((uint64(g.ID) >> 22) % 4)
		fake.SendMessage(g.Channel, g.Members[i%3], text)
	}
	// A DM has no guild: shard 0 only.
	fake.SendMessage(fake.OpenDM(guilds[0].Members[0]), guilds[0].Members[0], "a direct message")
	want["a direct message"] = 0
	// A last message on each shard: anything sent twice would have come before it.
	var last []string
	for shard := range 4 {
		for _, g := range guilds {
			if int((uint64(g.ID)>>22)%4) == shard {
				text := "last on shard " + string(rune('0'+shard))
				fake.SendMessage(g.Channel, g.Owner, text)
				last = append(last, text)
				break
			}
		}
	}
	p.got.wait(t, last...)
	for text, shard := range want {
		if got := p.got.get(text); len(got) != 1 || got[0] != shard {
			t.Errorf("%q arrived on shards %v, want once on shard %d", text, got, shard)
		}
	}
	st := fake.GatewayStats()
	if st.IdentifyRateLimits != 0 {
		t.Errorf("the fake answered %d IDENTIFYs with op 9 (too soon for their bucket)", st.IdentifyRateLimits)
	}
	for shard := range 4 {
		if n := st.IdentifiesByShard[[2]int{shard, 4}]; n != 1 {
			t.Errorf("shard %d identified %d times, want 1 (%v)", shard, n, st.IdentifiesByShard)
		}
	}
	if running := p.m.Running(); len(running) != 4 {
		t.Errorf("running %v", running)
	}
	for _, s := range p.m.Statuses() {
		if s.State != dgw.StatusReady || s.Count != 4 {
			t.Errorf("shard status %+v", s)
		}
	}
}

// Two processes' worth of shards against one fake that enforces max_concurrency 2: the
// identify lock in PostgreSQL keeps them to one IDENTIFY per bucket per window between them.
func TestIdentifyConcurrencyAcrossProcesses(t *testing.T) {
	clk := newClock()
	fake := discordtest.New(t, discordtest.WithIdentifyClock(clk), discordtest.WithMaxConcurrency(2))
	if _, err := fake.SeedGuilds(discordtest.BulkGuilds{Count: 16}); err != nil {
		t.Fatal(err)
	}
	// Two stores on one schema: each process has its own pool, as two processes would.
	first := storetest.Open(t, store.Postgres)
	second, err := store.Open(context.Background(), first.Location, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Close() })
	d := driveIdentifies(t, clk, fake)
	if _, err := startProcess(t, fake, clk, setup{driver: d, provider: shards.Static{IDs: []int{0, 1, 2, 3}}, count: 8, locker: first}); err != nil {
		t.Fatal(err)
	}
	if _, err := startProcess(t, fake, clk, setup{driver: d, provider: shards.Static{IDs: []int{4, 5, 6, 7}}, count: 8, locker: second}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := fake.WaitReady(ctx, 8); err != nil {
		t.Fatal(err)
	}
	st := fake.GatewayStats()
	if st.IdentifyRateLimits != 0 || st.Identifies != 8 {
		t.Errorf("identifies %d, refused as too soon %d; want 8 and 0", st.Identifies, st.IdentifyRateLimits)
	}
}

func TestShardingRequiredWithAutoReshards(t *testing.T) {
	clk := newClock()
	fake := discordtest.New(t, discordtest.WithIdentifyClock(clk), discordtest.WithMaxGuildsPerShard(15))
	guilds, err := fake.SeedGuilds(discordtest.BulkGuilds{Count: 40, Members: 1})
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t, store.SQLite)
	d := driveIdentifies(t, clk, fake)
	// Discord recommends 1 shard for 40 guilds; the fake allows 15 a shard: 1 → 2 → 4.
	p, err := startProcess(t, fake, clk, setup{driver: d, provider: shards.Static{}, count: 0, counts: db})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := fake.WaitReady(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if p.m.Count() != 4 {
		t.Errorf("count %d, want 4", p.m.Count())
	}
	sc, ok, err := db.ShardCount(context.Background())
	if err != nil || !ok || sc.Count != 4 || sc.Generation != 3 || !strings.Contains(sc.Reason, "4011") {
		t.Errorf("agreed count = %+v, %v, %v; want 4 at generation 3, for 4011", sc, ok, err)
	}
	if st := fake.GatewayStats(); st.ShardingRequired != 2 {
		t.Errorf("4011s sent: %d, want 2", st.ShardingRequired)
	}
	fake.SendMessage(guilds[5].Channel, guilds[5].Members[0], "after re-sharding")
	p.got.wait(t, "after re-sharding")
	if got := p.got.get("after re-sharding"); len(got) != 1 || got[0] != int((uint64(guilds[5].ID)>>22)%4) {
		t.Errorf("arrived on %v", got)
	}
}

// TestRecommendedCountGrowthReshards: with shard_count = "auto", the poll of GET
// /gateway/bot (on the manager's clock) sees Discord recommend more shards, records the new
// count for every process and restarts every shard with it.
func TestRecommendedCountGrowthReshards(t *testing.T) {
	clk := newClock()
	fake := discordtest.New(t, discordtest.WithIdentifyClock(clk))
	guilds, err := fake.SeedGuilds(discordtest.BulkGuilds{Count: 20, Members: 1})
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t, store.SQLite)
	d := driveIdentifies(t, clk, fake)
	const poll = time.Hour
	p, err := startProcess(t, fake, clk, setup{driver: d, provider: shards.Static{}, count: 0, counts: db, recommendPoll: poll})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := fake.WaitReady(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if p.m.Count() != 1 {
		t.Fatalf("count %d before the recommendation grew; want 1", p.m.Count())
	}
	fake.SetRecommendedShards(3)
	// The manager waits for its poll on the clock: move the clock to it.
	if err := clk.WaitArmedAfter(ctx, clk.Now().Add(poll/2)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(poll)
	for p.m.Count() != 3 || len(p.m.Running()) != 3 {
		if err := fake.WaitIdentifies(ctx, fake.GatewayStats().Identifies+1); err != nil {
			t.Fatalf("re-sharding to 3: count %d, running %v: %v", p.m.Count(), p.m.Running(), err)
		}
	}
	sc, ok, err := db.ShardCount(context.Background())
	if err != nil || !ok || sc.Count != 3 || !strings.Contains(sc.Reason, "Discord recommends 3 shards") {
		t.Errorf("agreed count = %+v, %v, %v; want 3, for Discord's recommendation", sc, ok, err)
	}
	fake.SendMessage(guilds[7].Channel, guilds[7].Members[0], "after the poll")
	p.got.wait(t, "after the poll")
	if got := p.got.get("after the poll"); len(got) != 1 || got[0] != int((uint64(guilds[7].ID)>>22)%3) {
		t.Errorf("arrived on shards %v; want once, on shard %d of 3", got, (uint64(guilds[7].ID)>>22)%3)
	}
}

func TestShardingRequiredWithAFixedCountSaysWhatToSet(t *testing.T) {
	clk := newClock()
	fake := discordtest.New(t, discordtest.WithIdentifyClock(clk), discordtest.WithMaxGuildsPerShard(15), discordtest.WithRecommendedShards(3))
	if _, err := fake.SeedGuilds(discordtest.BulkGuilds{Count: 40}); err != nil {
		t.Fatal(err)
	}
	d := driveIdentifies(t, clk, fake)
	p, err := startProcess(t, fake, clk, setup{driver: d, provider: shards.Static{}, count: 2})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		var ce *gateway.CloseError
		if !errors.As(err, &ce) || ce.Code != 4011 || !strings.Contains(err.Error(), "set discord.shard_count = 3") {
			t.Errorf("Run: %v; want the 4011 and what to set", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the manager kept running with a shard Discord refused")
	}
	p.done <- nil // for the cleanup
}

func TestRefusesToStartWhenTheIdentifyBudgetWouldRunOut(t *testing.T) {
	fake := discordtest.New(t, discordtest.WithSessionStartsRemaining(4))
	_, err := startProcess(t, fake, newClock(), setup{provider: shards.Static{}, count: 4})
	if err == nil || !strings.Contains(err.Error(), "Discord allows 4 more IDENTIFYs today") || !strings.Contains(err.Error(), "needs 4") {
		t.Fatalf("Prepare: %v; want a refusal naming the budget", err)
	}
	if st := fake.GatewayStats(); st.Connections != 0 {
		t.Errorf("%d gateway connections after the refusal", st.Connections)
	}
	// Three shards of the four fit.
	clk := newClock()
	d := driveIdentifies(t, clk, fake)
	if _, err := startProcess(t, fake, clk, setup{driver: d, provider: shards.Static{IDs: []int{0, 1, 2}}, count: 4}); err != nil {
		t.Fatalf("three shards with four IDENTIFYs left: %v", err)
	}
}
