package discordtest_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discordtest"
)

// identifyShard opens a connection and sends IDENTIFY as shard [id, count].
func identifyShard(t *testing.T, s *discordtest.Server, id, count int) *scriptClient {
	t.Helper()
	c := dialGateway(t, s, "v=10&encoding=json")
	c.hello()
	c.identify(s.Token(), discordtest.IntentGuilds|discordtest.IntentGuildMessages,
		func(d map[string]any) { d["shard"] = []int{id, count} })
	return c
}

func readyOf(t *testing.T, c *scriptClient) readyData {
	t.Helper()
	var r readyData
	if err := json.Unmarshal(c.dispatch("READY").D, &r); err != nil {
		t.Fatal(err)
	}
	for range r.Guilds {
		c.dispatch("GUILD_CREATE")
	}
	return r
}

func TestGatewayBotRecommendsShardsAndReportsLimits(t *testing.T) {
	t.Parallel()
	s := newFake(t, discordtest.WithMaxConcurrency(4), discordtest.WithSessionStartLimit(1000), discordtest.WithSessionStartsRemaining(12))
	r := disgoREST(t, s)
	if _, err := s.SeedGuilds(discordtest.BulkGuilds{Count: 2001}); err != nil {
		t.Fatal(err)
	}
	bot, err := r.GetGatewayBot()
	if err != nil {
		t.Fatal(err)
	}
	// One shard per 1,000 guilds, rounded up.
	if bot.Shards != 3 || bot.SessionStartLimit.MaxConcurrency != 4 || bot.SessionStartLimit.Remaining != 12 ||
		bot.SessionStartLimit.Total != 1000 || bot.SessionStartLimit.ResetAfter <= 0 {
		t.Errorf("GET /gateway/bot = %+v", bot)
	}
	s.SetRecommendedShards(16)
	if bot, err = r.GetGatewayBot(); err != nil || bot.Shards != 16 {
		t.Errorf("after SetRecommendedShards(16): %+v, %v", bot, err)
	}
}

func TestSeedGuildsSpreadsOverShards(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	guilds, err := s.SeedGuilds(discordtest.BulkGuilds{Count: 40, Members: 1000})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]map[discordtest.ID]bool{}
	for _, g := range guilds {
		shard := int((uint64(g.ID) >> 22) % 4)
		if want[shard] == nil {
			want[shard] = map[discordtest.ID]bool{}
		}
		want[shard][g.ID] = true
		if len(g.Members) != 1000 {
			t.Fatalf("guild %s has %d members, want 1000", g.ID, len(g.Members))
		}
	}
	for shard := 0; shard < 4; shard++ {
		if len(want[shard]) != 10 {
			t.Errorf("shard %d would serve %d guilds, want 10 of 40", shard, len(want[shard]))
		}
		r := readyOf(t, identifyShard(t, s, shard, 4))
		if len(r.Guilds) != len(want[shard]) || r.Shard != [2]int{shard, 4} {
			t.Errorf("shard %d READY: %d guilds, shard %v", shard, len(r.Guilds), r.Shard)
		}
		for _, g := range r.Guilds {
			if !want[shard][g.ID] {
				t.Errorf("shard %d got guild %s, which (id >> 22) %% 4 puts elsewhere", shard, g.ID)
			}
		}
	}
	// The members are real: the REST API lists them.
	m, err := disgoREST(t, s).GetMembers(snow(guilds[7].ID), 1000, 0)
	if err != nil || len(m) != 1000 {
		t.Errorf("list members of a seeded guild: %d, %v", len(m), err)
	}
	st := s.GatewayStats()
	for shard := 0; shard < 4; shard++ {
		if st.IdentifiesByShard[[2]int{shard, 4}] != 1 {
			t.Errorf("IdentifiesByShard = %v", st.IdentifiesByShard)
		}
	}
}

func TestIdentifyConcurrencyPerBucket(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := discordtest.New(t, discordtest.WithMaxConcurrency(2), discordtest.WithIdentifyClock(clk))
	// Shards 0 and 1 are in buckets 0 and 1: both may identify at once.
	readyOf(t, identifyShard(t, s, 0, 4))
	readyOf(t, identifyShard(t, s, 1, 4))
	// Shard 2 is in bucket 0 again: too soon.
	c := identifyShard(t, s, 2, 4)
	if p := c.next(); p.Op != 9 || string(p.D) != "false" {
		t.Fatalf("shard 2 within bucket 0's window: want op 9 false, got %v", p)
	}
	clk.Advance(4999 * time.Millisecond)
	c.identify(s.Token(), discordtest.IntentGuilds, func(d map[string]any) { d["shard"] = []int{2, 4} })
	if p := c.next(); p.Op != 9 {
		t.Fatalf("4.999 s after: want op 9, got %v", p)
	}
	clk.Advance(time.Millisecond)
	c.identify(s.Token(), discordtest.IntentGuilds, func(d map[string]any) { d["shard"] = []int{2, 4} })
	readyOf(t, c)
	st := s.GatewayStats()
	if st.IdentifyRateLimits != 2 || st.Identifies != 3 || st.SessionStartRemaining != 997 {
		t.Errorf("stats = %+v", st)
	}
}

func TestShardingRequiredWhenAShardServesTooManyGuilds(t *testing.T) {
	t.Parallel()
	s := newFake(t, discordtest.WithMaxGuildsPerShard(5))
	if _, err := s.SeedGuilds(discordtest.BulkGuilds{Count: 8}); err != nil {
		t.Fatal(err)
	}
	identifyShard(t, s, 0, 1).closed(discordtest.CloseShardingRequired)
	// Two shards of four guilds each are within the limit.
	readyOf(t, identifyShard(t, s, 0, 2))
	readyOf(t, identifyShard(t, s, 1, 2))
	s.SetMaxGuildsPerShard(3)
	identifyShard(t, s, 1, 2).closed(discordtest.CloseShardingRequired)
	if st := s.GatewayStats(); st.ShardingRequired != 2 || st.Identifies != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestInvalidShardIsRefused(t *testing.T) {
	t.Parallel()
	var rep reports
	s := newFake(t, rep.option())
	for _, shard := range [][]int{{4, 4}, {-1, 2}, {0, 0}, {0}} {
		c := dialGateway(t, s, "v=10&encoding=json")
		c.hello()
		c.identify(s.Token(), discordtest.IntentGuilds, func(d map[string]any) { d["shard"] = shard })
		c.closed(discordtest.CloseInvalidShard)
	}
}

func TestResumeFromAnotherConnectionReplaysAShardsMissedEvents(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	guilds, err := s.SeedGuilds(discordtest.BulkGuilds{Count: 4, Members: 2})
	if err != nil {
		t.Fatal(err)
	}
	c := identifyShard(t, s, 1, 2)
	r := readyOf(t, c)
	var mine discordtest.BulkGuild
	for _, g := range guilds {
		if (uint64(g.ID)>>22)%2 == 1 {
			mine = g
		}
	}
	seq := c.seq
	// The process holding shard 1 stops without ending the session; another takes over.
	s.CloseGateway(4000, "test: owner gone")
	c.closed(4000)
	s.SendMessage(mine.Channel, mine.Members[0], "typed while nobody held shard 1")
	c2 := dialGateway(t, s, "v=10&encoding=json")
	c2.hello()
	c2.send(6, map[string]any{"token": s.Token(), "session_id": r.SessionID, "seq": seq})
	c2.dispatch("MESSAGE_CREATE")
	c2.dispatch("RESUMED")
}

// Guilds added one by one spread over the shards as seeded ones do: a test that adds 40
// guilds for 8 shards gives every shard some, not the two or three that the milliseconds
// its loop took would cover.
func TestAddGuildSpreadsOverShards(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	owner := s.AddUser("owner", false)
	perShard := map[uint64]int{}
	for range 40 {
		g := s.AddGuild("guild", owner)
		s.AddChannel(g, discordtest.ChannelGuildText, "general") // ids made between guilds
		perShard[(uint64(g)>>22)%8]++
	}
	for shard := uint64(0); shard < 8; shard++ {
		if perShard[shard] != 5 {
			t.Errorf("shard %d has %d of 40 guilds, want 5: %v", shard, perShard[shard], perShard)
		}
	}
}
