package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// gavelRule is a rules file of one gavel-enforced keyword rule that warns.
func gavelRule(name, keyword string) string {
	return fmt.Sprintf("[[rule]]\nname = %q\nenforce = \"gavel\"\ntrigger = \"keyword\"\nkeywords = [%q]\n\n  [[rule.action]]\n  type = \"warn\"\n", name, keyword)
}

// TestRulesAppliedElsewhereReachRunningProcess: a running gavel process (shards = "auto" on
// PostgreSQL) has a guild's gavel-enforced AutoMod rules in memory; `gavel automod apply`,
// run as a process of its own against the same database, replaces them. The running
// process hears the NOTIFY, drops its copy (its log says so) and enforces the new rule on
// the next message, without a restart and without waiting for its periodic check.
func TestRulesAppliedElsewhereReachRunningProcess(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs gavel processes")
	}
	dbURL := storetest.MigratedURL(t, store.Postgres) // skips without PostgreSQL
	bin := buildGavel(t)
	const (
		guild  discordtest.ID = 750000000000010100
		owner  discordtest.ID = 750000000000010201
		member discordtest.ID = 750000000000010202
		role   discordtest.ID = 750000000000010301
		chat   discordtest.ID = 750000000000010401
		modlog discordtest.ID = 750000000000010402
	)
	// The bound only ends a hang (the waits inside have minutes each under load).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	fake := discordtest.New(t, discordtest.WithSeed(discordtest.Seed{
		Users: []discordtest.User{{ID: owner, Username: "owner"}, {ID: member, Username: "member"}},
		Guilds: []discordtest.SeedGuild{{ID: guild, Name: "g", OwnerID: owner,
			Roles: []discordtest.Role{{ID: role, Name: "gavel", Position: 1,
				Permissions: discordtest.PermManageGuild | discordtest.PermModerateMembers | discordtest.PermManageMessages | discordtest.PermViewChannel |
					discordtest.PermSendMessages | discordtest.PermReadMessageHistory | discordtest.PermEmbedLinks | discordtest.PermViewAuditLog}},
			BotRoles: []discordtest.ID{role},
			Members:  []discordtest.SeedMember{{UserID: owner}, {UserID: member}},
			Channels: []discordtest.Channel{{ID: chat, Type: discordtest.ChannelGuildText, Name: "general"},
				{ID: modlog, Type: discordtest.ChannelGuildText, Name: "mod-log"}},
		}},
	}))
	st, err := store.OpenURL(ctx, dbURL, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	// Each case the rules make is posted in the mod log: the event the test waits for.
	if _, err := settings.NewService(st).SetChannel(ctx, discord.GuildID(guild), discord.UserID(owner), settings.ModLog, discord.ChannelID(modlog)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cliEnv := []string{"GAVEL_DATABASE_URL=" + dbURL, "DISCORD_TOKEN=" + fake.Token(), "GAVEL_DISCORD_API_URL=" + fake.APIURL()}
	apply := func(file, content string) {
		t.Helper()
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := runBinary(t, dir, cliEnv, "automod", "apply", "--guild", guild.String(), "--yes", p); got.code != 0 || !strings.Contains(got.stdout, "applied") {
			t.Fatalf("gavel automod apply %s: %d\n%s%s", file, got.code, got.stdout, got.stderr)
		}
	}
	apply("old.toml", gavelRule("old words", "oldword"))

	proc := startGavel(t, bin, map[string]string{
		"DISCORD_TOKEN": fake.Token(), "GAVEL_DISCORD_API_URL": fake.APIURL(), "GAVEL_DISCORD_GATEWAY_URL": fake.GatewayURL,
		"GAVEL_DATABASE_URL": dbURL, "GAVEL_DISCORD_SHARD_COUNT": "1", "GAVEL_DISCORD_SHARDS": "auto",
	})
	waitUntil(t, hangBound, "gavel run to serve the guild and listen for changes", func() bool {
		log := proc.stderr.String()
		return strings.Contains(log, `msg="serving guild"`) && strings.Contains(log, `msg="listening for other processes' configuration changes"`)
	})

	w := &shardWorld{fake: fake}
	cs := cases.NewService(st)
	// expectWarn types content as the member and waits for the mod log's n-th post; case
	// #n must be the rule's WARN of the member.
	expectWarn := func(n int, content, rule, keyword string) {
		t.Helper()
		fake.SendMessage(chat, member, content)
		w.waitPosted(t, ctx, fmt.Sprintf("the mod log's post of case #%d", n), func() bool { return len(fake.Messages(modlog)) >= n })
		c, err := cs.GetByNumber(ctx, discord.GuildID(guild), int64(n))
		if err != nil {
			t.Fatal(err)
		}
		if c.Type != cases.Warn || c.UserID != discord.UserID(member) || c.Metadata["rule_name"] != rule || c.Metadata["matched_keyword"] != keyword {
			t.Fatalf("case #%d = %+v; want a WARN of the member by rule %q on %q", n, c, rule, keyword)
		}
	}
	// The running process loads the rules and keeps them.
	expectWarn(1, "an oldword here", "old words", "oldword")

	// Another process replaces them.
	cliStarted := time.Now()
	apply("new.toml", gavelRule("new words", "newword"))
	cliExited := time.Now()
	dropped := regexp.MustCompile(`time=(\S+) level=INFO msg="configuration changed elsewhere: cached copy dropped" topic=automod guild=` + strconv.FormatUint(uint64(guild), 10))
	var heardAt time.Time
	waitUntil(t, hangBound, "gavel run to drop its AutoMod rules of the guild", func() bool {
		m := dropped.FindStringSubmatch(proc.stderr.String())
		if m == nil {
			return false
		}
		if heardAt, err = time.Parse(time.RFC3339Nano, m[1]); err != nil {
			t.Fatalf("the log line's time %q: %v", m[1], err)
		}
		return true
	})
	// The announcement is sent at the apply's commit, before its process exits: measured
	// from both ends of the CLI's run (negative: heard before the CLI process had exited).
	t.Logf("NOTIFY heard by gavel run %v after the CLI's exit (%v after its start; the CLI ran %v)",
		heardAt.Sub(cliExited).Round(time.Millisecond), heardAt.Sub(cliStarted).Round(time.Millisecond), cliExited.Sub(cliStarted).Round(time.Millisecond))

	// The next message meets the new rule.
	expectWarn(2, "a newword here", "new words", "newword")
	n, err := cs.CountInGuild(ctx, discord.GuildID(guild))
	if err != nil || n != 2 {
		t.Fatalf("%d cases (%v); want 2", n, err)
	}
	proc.stop(t)
}
