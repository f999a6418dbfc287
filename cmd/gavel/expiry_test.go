package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// buildGavel returns the gavel binary, built once per test run (gavelBinary): the expiry
// and shard tests run it as separate processes, so that they can be killed like real ones.
func buildGavel(t *testing.T) string {
	t.Helper()
	return gavelBinary(t)
}

// gavelProcess is `gavel run` in a process of its own.
type gavelProcess struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan error
}

func startGavel(t *testing.T, bin string, env map[string]string) *gavelProcess {
	t.Helper()
	cmd := exec.Command(bin, "run")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &gavelProcess{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if dir := os.Getenv("GAVEL_TEST_LOG_DIR"); dir != "" {
		// A debugging aid: each process's log also goes to a file that outlives the test.
		f, err := os.CreateTemp(dir, "gavel-*.log")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		cmd.Stderr = io.MultiWriter(p.stderr, f)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("gavel pid %d stderr:\n%s", cmd.Process.Pid, p.stderr.String())
		}
	})
	return p
}

// kill ends the process as the OOM killer would: SIGKILL, nothing flushed or released.
func (p *gavelProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	p.done <- nil // for the cleanup's wait
}

// stop ends the process with SIGINT and checks that it shut down cleanly.
func (p *gavelProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("gavel exited with %v; stderr:\n%s", err, p.stderr.String())
		}
	case <-time.After(hangBound):
		t.Errorf("gavel did not stop within %v of SIGINT", hangBound)
	}
}

// hangBound bounds a wait on a gavel process (serving, acting, stopping): only a failing test
// reaches it, so it is long. gavel's processes run under -race on a shared 2-core machine,
// where 10 to 30 s bounds ran out at load 20 on work that takes a second when quiet.
const hangBound = 3 * time.Minute

// waitUntil waits for cond, looked at every 20 ms, and fails the test when within (a bound
// that only ends a hang) runs out.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// unbansBy counts the unbans of user in guild's audit log made by actor.
func unbansBy(s *discordtest.Server, guild, user, actor discordtest.ID) int {
	n := 0
	for _, e := range s.AuditLog(guild) {
		if e.ActionType == discordtest.AuditMemberBanRemove && e.TargetID == user && e.UserID == actor {
			n++
		}
	}
	return n
}

// TestExpirySurvivesSIGKILL: gavel is killed with SIGKILL after a tempban and before it
// ends, and started again after: the ban is lifted, exactly once.
func TestExpirySurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs gavel processes")
	}
	bin := buildGavel(t)
	const base = 700000000000000000
	var (
		guild, owner, mod, target = discordtest.ID(base + 100), discordtest.ID(base + 201), discordtest.ID(base + 202), discordtest.ID(base + 203)
		modRole, botRole, general = discordtest.ID(base + 301), discordtest.ID(base + 302), discordtest.ID(base + 401)
	)
	seed := discordtest.Seed{
		Users: []discordtest.User{{ID: owner, Username: "owner"}, {ID: mod, Username: "mod"}, {ID: target, Username: "target"}},
		Guilds: []discordtest.SeedGuild{{
			ID: guild, Name: "test guild", OwnerID: owner,
			Roles: []discordtest.Role{
				{ID: modRole, Name: "mods", Position: 1, Permissions: discordtest.PermBanMembers},
				{ID: botRole, Name: "gavel", Position: 2, Permissions: discordtest.PermBanMembers | discordtest.PermViewChannel |
					discordtest.PermSendMessages | discordtest.PermEmbedLinks | discordtest.PermReadMessageHistory},
			},
			BotRoles: []discordtest.ID{botRole},
			Members:  []discordtest.SeedMember{{UserID: owner}, {UserID: mod, Roles: []discordtest.ID{modRole}}, {UserID: target}},
			Channels: []discordtest.Channel{{ID: general, Type: discordtest.ChannelGuildText, Name: "general", Position: 1}},
		}},
	}
	fake := discordtest.New(t, discordtest.WithSeed(seed), discordtest.WithIdentifyInterval(0))
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "gavel.db")
	env := map[string]string{
		"DISCORD_TOKEN": fake.Token(), "GAVEL_DISCORD_API_URL": fake.APIURL(), "GAVEL_DISCORD_GATEWAY_URL": fake.GatewayURL,
		"GAVEL_DISCORD_GUILDS": guild.String(), "GAVEL_DATABASE_URL": dbURL, "GAVEL_EXPIRY_POLL_INTERVAL": "200ms",
	}
	// The bound only ends a hang (the waits inside have minutes each under load).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	first := startGavel(t, bin, env)
	if err := fake.WaitReady(ctx, 1); err != nil {
		t.Fatalf("WaitReady: %v; stderr:\n%s", err, first.stderr.String())
	}
	fake.SendMessage(general, mod, "$tempban <@"+target.String()+"> -d 1m raid")
	waitUntil(t, hangBound, "the tempban", func() bool {
		for _, m := range fake.Messages(general) {
			if m.AuthorID == fake.BotID() && strings.Contains(m.Content, "Case #1") {
				return true
			}
		}
		return false
	})

	st, err := store.OpenURL(ctx, dbURL, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs := cases.NewService(st)
	svc := expiry.NewService(st, cs, expiry.WithRules(actions.Catalogue().ExpiryRules()))
	// Kill gavel, then end the tempban, as `cases modify 1 -expires` would: the unban is
	// due while no gavel runs, and only a restarted gavel can run it. (The processes run on
	// the wall clock; ending the tempban in the past spares waiting for it.)
	first.kill(t)
	if _, err := svc.Reschedule(ctx, discord.GuildID(guild), 1, discord.UserID(owner), time.Now().Add(-time.Second), "ended for the test"); err != nil {
		t.Fatal(err)
	}
	if _, banned := fake.Banned(guild, target); !banned {
		t.Fatal("the target was unbanned before the tempban was ended")
	}

	second := startGavel(t, bin, env)
	waitUntil(t, hangBound, "the unban after the restart", func() bool { _, banned := fake.Banned(guild, target); return !banned })
	waitUntil(t, hangBound, "the UNBAN case", func() bool {
		c, err := cs.GetByNumber(ctx, discord.GuildID(guild), 2)
		return err == nil && c.Status == cases.Active
	})
	// The action is done, in the transaction that recorded the UNBAN: nothing is left that a
	// second, wrong, run could take.
	waitUntil(t, hangBound, "the unban's action done", func() bool {
		c, err := cs.GetByNumber(ctx, discord.GuildID(guild), 1)
		if err != nil {
			return false
		}
		all, err := svc.OfCase(ctx, c.ID)
		return err == nil && len(all) == 1 && all[0].Outcome == expiry.Done
	})
	if _, total, err := svc.Pending(ctx, 0, 1); err != nil || total != 0 {
		t.Errorf("%d actions still open (%v); want none", total, err)
	}
	if n := unbansBy(fake, guild, target, fake.BotID()); n != 1 {
		t.Errorf("%d unbans by gavel; want exactly 1", n)
	}
	if n, _ := cs.CountInGuild(ctx, discord.GuildID(guild)); n != 2 {
		t.Errorf("%d cases; want the tempban and one UNBAN", n)
	}
	second.stop(t)
}

// TestThreePollersRunEachActionOnce: three gavel processes on one PostgreSQL database,
// sharing 3 shards through their leases (discord.shards = "auto"), and 600 due unbans in
// three guilds, one on each shard; every one runs exactly once, counted by the fake's
// audit log, and in the process that holds its guild's shard. 600 is 25 claims' worth for
// each of the three pollers' 8 workers; the volume itself is the expiry-burst benchmark's
// (docs/benchmarks.md).
func TestThreePollersRunEachActionOnce(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs gavel processes")
	}
	dbURL := storetest.MigratedURL(t, store.Postgres) // skips without PostgreSQL
	bin := buildGavel(t)
	const n, shardCount = 600, 3
	fake := discordtest.New(t, discordtest.WithIdentifyInterval(0), discordtest.WithGlobalRateLimit(0), discordtest.WithRouteLimit("*", 0, 0),
		discordtest.WithMaxConcurrency(shardCount))
	owner := fake.AddUser("owner", false)
	// One guild on each shard ((guild_id >> 22) % 3).
	guildOf := map[int]discordtest.ID{}
	for i := 0; len(guildOf) < shardCount; i++ {
		g := fake.AddGuild(fmt.Sprintf("guild %d", i), owner)
		shard := int((uint64(g) >> 22) % shardCount)
		if _, ok := guildOf[shard]; ok {
			continue
		}
		guildOf[shard] = g
		botRole := fake.AddRole(g, "gavel", 1, discordtest.PermBanMembers|discordtest.PermViewChannel|discordtest.PermSendMessages)
		fake.AddMember(g, fake.BotID(), botRole)
	}
	users := make([]discordtest.ID, n)
	userGuild := map[discordtest.ID]discordtest.ID{}
	for i := range users {
		users[i] = fake.AddUser(fmt.Sprintf("raider%d", i), false)
		g := guildOf[i%shardCount]
		userGuild[users[i]] = g
		if err := fake.BanAs(g, owner, users[i], "raid"); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st, err := store.OpenURL(ctx, dbURL, store.Options{MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	cs := cases.NewService(st)
	svc := expiry.NewService(st, cs, expiry.WithRules(actions.Catalogue().ExpiryRules()))

	env := withTestLeases(map[string]string{
		"DISCORD_TOKEN": fake.Token(), "GAVEL_DISCORD_API_URL": fake.APIURL(), "GAVEL_DISCORD_GATEWAY_URL": fake.GatewayURL,
		"GAVEL_DATABASE_URL": dbURL, "GAVEL_EXPIRY_POLL_INTERVAL": "200ms",
		"GAVEL_DISCORD_SHARD_COUNT": fmt.Sprint(shardCount), "GAVEL_DISCORD_SHARDS": "auto",
		// The fake's rate limits are off here, and so is gavel's own pacing to its share of
		// Discord's global 50 a second (15 each for three processes by default): the
		// 1200-odd requests of 600 unbans took 20-40 s of pacing, and the subject is that
		// each runs once, in the process holding its shard.
		"GAVEL_DISCORD_REST_SHARE": "50",
	})
	owners := func() map[string]int {
		rows, err := st.Queries().ShardLeases(ctx, shardCount)
		if err != nil {
			t.Fatal(err)
		}
		held := map[string]int{}
		for _, r := range rows {
			if r.Owner.Valid && r.ExpiresAt > time.Now().UnixMilli() {
				held[r.Owner.String]++
			}
		}
		return held
	}
	// The first process takes every shard; the two that join take theirs from it (it
	// hands them back with their sessions).
	procs := []*gavelProcess{startGavel(t, bin, env)}
	waitUntil(t, hangBound, "the first process to hold every shard", func() bool {
		for _, n := range owners() {
			return n == shardCount
		}
		return false
	})
	for range 2 {
		procs = append(procs, startGavel(t, bin, env))
	}
	// The unbans fall due once the processes have divided the shards, one each.
	waitUntil(t, hangBound, "the three processes to hold a shard each", func() bool { return len(owners()) == shardCount })
	var ns []cases.New
	for _, u := range users {
		ns = append(ns, cases.New{GuildID: discord.GuildID(userGuild[u]), UserID: discord.UserID(u), ModeratorID: discord.UserID(owner), Type: cases.Tempban,
			Reason: "raid", ExpiresAt: time.Now().Add(-time.Second)})
	}
	if _, err := cs.CreateMany(ctx, ns); err != nil {
		t.Fatal(err)
	}
	// The pollers look for cases with no expiry action every minute themselves: one that
	// looks while the cases are being written schedules some of them first (seen at load
	// 30). Whoever scheduled each, the audit log below shows every one unbanned once.
	if got, err := svc.Reconcile(ctx, discord.UserID(owner), n); err != nil {
		t.Fatalf("scheduled %d of %d: %v", got, n, err)
	} else if got != n {
		t.Logf("scheduled %d of %d; the pollers' own reconciliation scheduled the others", got, n)
	}
	waitUntil(t, 3*time.Minute, "every unban", func() bool {
		_, total, err := svc.Pending(ctx, 0, 1)
		return err == nil && total == 0
	})
	for _, p := range procs {
		p.stop(t)
	}
	ran := map[string]int{}
	for _, p := range procs {
		// Each process logs the poller's start; count how many took part.
		if strings.Contains(p.stderr.String(), "expiry poller started") {
			ran["started"]++
		}
	}
	if ran["started"] != 3 {
		t.Errorf("%d of 3 pollers started", ran["started"])
	}
	perUser := map[discordtest.ID]int{}
	for _, guild := range guildOf {
		for _, e := range fake.AuditLog(guild) {
			if e.ActionType == discordtest.AuditMemberBanRemove && e.UserID == fake.BotID() {
				perUser[e.TargetID]++
			}
		}
	}
	twice := 0
	for _, u := range users {
		switch perUser[u] {
		case 1:
		case 0:
			t.Errorf("user %s was never unbanned", u)
		default:
			twice++
		}
	}
	if twice > 0 || len(perUser) != n {
		t.Errorf("%d users unbanned more than once; %d distinct users unbanned of %d", twice, len(perUser), n)
	}
	total := int64(0)
	for _, guild := range guildOf {
		got, _ := cs.CountInGuild(ctx, discord.GuildID(guild))
		total += got
	}
	if total != 2*n {
		t.Errorf("%d cases; want %d tempbans and %d UNBANs", total, n, n)
	}
	// Each guild's unbans ran in the process holding its shard: each poller ran some.
	for i, p := range procs {
		if !strings.Contains(p.stderr.String(), "shard leases: took a shard") {
			t.Errorf("process %d never took a shard", i)
		}
	}
}
