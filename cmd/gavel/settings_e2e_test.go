package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// TestSettingsChangedInOneProcessReachTheOthers: two real gavel processes with
// discord.shards = "auto" over 2 shards, one fake Discord, one PostgreSQL database.
//   - B runs alone and serves guild G (shard 1): a `$warn` there loads G's settings into
//     B's memory (prefix `$`, kept 30 seconds).
//   - A starts: B hands shard 1 back and A takes it. In G a moderator types
//     `$config prefix !`, which A carries out; B, which serves G no more but still holds
//     G's settings, hears PostgreSQL's NOTIFY and drops them (its log says so: the time
//     from the command typed to B's drop is measured and logged).
//   - A stops cleanly: B takes shard 1 back and RESUMEs it, and `!warn` typed in G is
//     answered by B with the new prefix.
func TestSettingsChangedInOneProcessReachTheOthers(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs gavel processes")
	}
	dbURL := storetest.MigratedURL(t, store.Postgres) // skips without PostgreSQL
	bin := buildGavel(t)
	const shardCount = 2
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	fake := discordtest.New(t, discordtest.WithMaxConcurrency(shardCount))
	w := &shardWorld{fake: fake, targets: map[discordtest.ID][]discordtest.ID{}, channel: map[discordtest.ID]discordtest.ID{}, count: shardCount}
	w.owner = fake.AddUser("owner", false)
	var g discordtest.ID
	for g == 0 || w.shardOf(g) != 1 {
		g = fake.AddGuild("guild", w.owner)
	}
	role := fake.AddRole(g, "gavel", 1, discordtest.PermModerateMembers|discordtest.PermManageGuild|discordtest.PermViewChannel|
		discordtest.PermSendMessages|discordtest.PermReadMessageHistory|discordtest.PermEmbedLinks|discordtest.PermViewAuditLog)
	fake.AddMember(g, fake.BotID(), role)
	fake.AddMember(g, w.owner)
	for i := range 2 {
		target := fake.AddUser(fmt.Sprintf("member %d", i), false)
		fake.AddMember(g, target)
		w.targets[g] = append(w.targets[g], target)
	}
	w.guilds = []discordtest.ID{g}
	w.channel[g] = fake.AddChannel(g, discordtest.ChannelGuildText, "general")
	var err error
	if w.st, err = store.OpenURL(ctx, dbURL, store.Options{MaxOpenConns: 2}); err != nil {
		t.Fatal(err)
	}
	defer w.st.Close()
	if _, err := w.st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	w.cs = cases.NewService(w.st)
	env := withTestLeases(map[string]string{
		"DISCORD_TOKEN": fake.Token(), "GAVEL_DISCORD_API_URL": fake.APIURL(), "GAVEL_DISCORD_GATEWAY_URL": fake.GatewayURL,
		"GAVEL_DATABASE_URL": dbURL, "GAVEL_DISCORD_SHARD_COUNT": strconv.Itoa(shardCount), "GAVEL_DISCORD_SHARDS": "auto",
	})
	// holds says whether the shards' leases are held as want says (shard → process).
	holds := func(want map[int]*gavelProcess) func() bool {
		return func() bool {
			held := w.leases(t, ctx)
			for id, p := range want {
				if held[id] != ownerOf(p) {
					return false
				}
			}
			return true
		}
	}
	botSaid := func() int {
		n := 0
		for _, m := range fake.Messages(w.channel[g]) {
			if m.AuthorID == fake.BotID() {
				n++
			}
		}
		return n
	}

	b := startGavel(t, bin, env)
	waitUntil(t, hangBound, "B to hold both shards, serve G and listen for changes", func() bool {
		// A lease is taken before its shard connects, and shard 0's guild can be served before
		// shard 1 has identified: a message sent then has no session to go to (Discord drops
		// it too). G is served once B logs G itself.
		log := b.stderr.String()
		return holds(map[int]*gavelProcess{0: b, 1: b})() && strings.Contains(log, `msg="listening for other processes' configuration changes"`) &&
			strings.Contains(log, `msg="serving guild" id=`+g.String()+" ")
	})
	fake.SendMessage(w.channel[g], w.owner, fmt.Sprintf("$warn <@%s> before the change --silent", w.targets[g][0]))
	w.waitPosted(t, ctx, "B's answer to $warn", func() bool { return len(w.replies(g)) == 1 })

	a := startGavel(t, bin, env)
	waitUntil(t, hangBound, "A to take shard 1 from B", holds(map[int]*gavelProcess{0: b, 1: a}))

	said := botSaid()
	typed := time.Now()
	fake.SendMessage(w.channel[g], w.owner, "$config prefix !")
	w.waitPosted(t, ctx, "A's answer to $config prefix", func() bool { return botSaid() > said })
	answered := time.Now()
	dropped := regexp.MustCompile(`time=(\S+) level=INFO msg="configuration changed elsewhere: cached copy dropped" topic=settings guild=` + g.String())
	heard := func(p *gavelProcess) (time.Time, bool) {
		m := dropped.FindStringSubmatch(p.stderr.String())
		if m == nil {
			return time.Time{}, false
		}
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			t.Fatalf("the log line's time %q: %v", m[1], err)
		}
		return at, true
	}
	var heardB, heardA time.Time
	waitUntil(t, hangBound, "B to drop its copy of G's settings", func() bool {
		var ok bool
		heardB, ok = heard(b)
		return ok
	})
	waitUntil(t, hangBound, "A to hear its own announcement", func() bool {
		var ok bool
		heardA, ok = heard(a)
		return ok
	})
	t.Logf("settings change: typed → B dropped its copy %v (A's answer seen by the test after %v; A heard its own NOTIFY %v after the typing)",
		heardB.Sub(typed).Round(time.Millisecond), answered.Sub(typed).Round(time.Millisecond), heardA.Sub(typed).Round(time.Millisecond))

	// G's shard goes back to B, whose next read of G's settings comes from the database.
	a.stop(t)
	waitUntil(t, hangBound, "B to take shard 1 back", holds(map[int]*gavelProcess{0: b, 1: b}))
	fake.SendMessage(w.channel[g], w.owner, fmt.Sprintf("!warn <@%s> after the change --silent", w.targets[g][1]))
	w.waitPosted(t, ctx, "B's answer to !warn", func() bool { return len(w.replies(g)) == 2 })
	c, err := w.cs.GetByNumber(ctx, discord.GuildID(g), 2)
	if err != nil || c.Type != cases.Warn || c.UserID != discord.UserID(w.targets[g][1]) {
		t.Fatalf("case #2: %+v (%v); want the WARN typed with the new prefix", c, err)
	}
	b.stop(t)
}
