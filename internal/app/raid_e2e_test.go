package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/disgoport"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/raid"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
)

// raidWorld is a guild whose bot may pause invites and change the verification level
// (Manage Server), with a mod-log channel, gavel running on a manual clock that the fake
// shares (join times, account ages, the 24-hour limit), and a record of the raid's steps.
type raidWorld struct {
	*world
	clk    *clock.Manual
	modlog discordtest.ID
	app    *app.App
	st     *store.Store
	cases  *cases.Service

	mu    sync.Mutex
	steps []raid.Step
	// news is closed and replaced at each step (under mu).
	news chan struct{}
}

// edits, when given, change the fake's seed before it starts (gavel's permissions, the
// channels' overwrites).
func newRaidWorld(t testing.TB, enable bool, raidSettings map[settings.RaidKey]string, edits ...func(*discordtest.Seed)) *raidWorld {
	t.Helper()
	return newRaidWorldOn(t, raidSetup{}, enable, raidSettings, edits...)
}

// raidSetup is where a raid world's gavel runs: its database (zero: a SQLite file),
// discord.shards and shard_count (zero: one process on shard 0 of 1) and its logger.
type raidSetup struct {
	dbURL, shards, shardCount string
	log                       *slog.Logger
}

func newRaidWorldOn(t testing.TB, setup raidSetup, enable bool, raidSettings map[settings.RaidKey]string, edits ...func(*discordtest.Seed)) *raidWorld {
	t.Helper()
	const base = 700000000000000000
	w := &world{guild: base + 100, owner: base + 201, mod: base + 202, target: base + 203, other: base + 204, plain: base + 205,
		modRole: base + 301, botRole: base + 302, general: base + 401}
	rw := &raidWorld{world: w, clk: clock.NewManual(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)), modlog: base + 402, news: make(chan struct{})}
	seed := discordtest.Seed{
		Users: []discordtest.User{{ID: w.owner, Username: "owner"}, {ID: w.mod, Username: "mod"}},
		Guilds: []discordtest.SeedGuild{{
			ID: w.guild, Name: "test guild", OwnerID: w.owner,
			Roles: []discordtest.Role{
				{ID: w.modRole, Name: "mods", Position: 1, Permissions: discordtest.PermBanMembers | discordtest.PermModerateMembers | discordtest.PermManageGuild},
				{ID: w.botRole, Name: "gavel", Position: 2, Permissions: botPerms | discordtest.PermManageGuild},
			},
			BotRoles: []discordtest.ID{w.botRole},
			Members:  []discordtest.SeedMember{{UserID: w.owner}, {UserID: w.mod, Roles: []discordtest.ID{w.modRole}}},
			Channels: []discordtest.Channel{{ID: w.general, Type: discordtest.ChannelGuildText, Name: "general", Position: 1},
				{ID: rw.modlog, Type: discordtest.ChannelGuildText, Name: "mod-log", Position: 2}},
		}},
	}
	for _, e := range edits {
		e(&seed)
	}
	// The fake's rate limits run on its clock, which the test holds still: off.
	fakeOpts := []discordtest.Option{discordtest.WithSeed(seed), discordtest.WithLogger(quietLogger()), discordtest.WithClock(rw.clk.Now),
		discordtest.WithRouteLimit("*", 0, 0), discordtest.WithGlobalRateLimit(0)}
	if setup.shards != "" {
		// A shard taken again identifies again: the identify windows run on the test's clock too.
		fakeOpts = append(fakeOpts, discordtest.WithIdentifyClock(rw.clk))
	}
	w.s = discordtest.New(t, fakeOpts...)
	w.dbURL = "sqlite:" + filepath.Join(t.TempDir(), "gavel.db")
	if setup.dbURL != "" {
		w.dbURL = setup.dbURL
	}
	w.shards = setup.shards
	logger := setup.log
	if logger == nil {
		logger = quietLogger()
	}

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st := w.openStore(t)
	rw.st, rw.cases = st, cases.NewService(st)
	gs := settings.NewService(st)
	if _, err := gs.SetChannel(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), settings.ModLog, discord.ChannelID(rw.modlog)); err != nil {
		t.Fatal(err)
	}
	if enable {
		if _, err := gs.SetRaid(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), settings.RaidEnabled, "on"); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range raidSettings {
		if _, err := gs.SetRaid(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), k, v); err != nil {
			t.Fatal(err)
		}
	}
	cfg := w.config()
	if setup.shardCount != "" {
		cfg.Discord.ShardCount = config.ShardCount(setup.shardCount)
	}
	a, err := newTestApp(ctx, cfg, logger, app.WithClock(rw.clk),
		app.WithDiscordLimiter(disgoport.NewLimiter(disgoport.WithGlobalLimit(0, 0))),
		app.WithRaidObserver(func(s raid.Step) {
			rw.mu.Lock()
			rw.steps = append(rw.steps, s)
			close(rw.news)
			rw.news = make(chan struct{})
			rw.mu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	rw.app = a
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	readyCtx, readyCancel := context.WithTimeout(ctx, eventBound)
	defer readyCancel()
	if err := w.s.WaitReady(readyCtx, 1); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return rw
}

// waitStep waits, on the raid's own news, for a step of kind.
func (rw *raidWorld) waitStep(t testing.TB, kind string) raid.Step {
	t.Helper()
	var found raid.Step
	waitOn(t, fmt.Sprintf("the raid step %q", kind), func() bool {
		rw.mu.Lock()
		defer rw.mu.Unlock()
		for _, s := range rw.steps {
			if s.Kind == kind {
				found = s
				return true
			}
		}
		return false
	}, func() string { return strings.Join(rw.stepKinds(), " ") }, rw.newsOnce)
	return found
}

// newsOnce is the raid's news as a waiter: a channel closed at the next step.
func (rw *raidWorld) newsOnce() <-chan struct{} {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.news
}

func (rw *raidWorld) stepKinds() []string {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	var out []string
	for _, s := range rw.steps {
		out = append(out, s.Kind)
	}
	return out
}

func (rw *raidWorld) raids(t testing.TB) *raid.Service {
	// The test's own view of the raid record, over the same database.
	return raid.New(raid.Config{Store: rw.st, Cases: rw.cases, Settings: settings.NewService(rw.st)})
}

// TestRaidEndToEnd: 300 new accounts join in 20 seconds. Detection fires; invites are
// paused (both incident fields sent); verification goes to High; the accounts that joined
// before detection are in the candidate list; every later joiner is timed out through the
// pipeline (a child case each); the raid's mod-log message shows the count, the age
// histogram, the name pattern and the five buttons. Raid mode ends 10 minutes after the last
// join (not before), by its durable check on the test clock, undoing the responses in
// reverse: the verification level restored, invites resumed.
func TestRaidEndToEnd(t *testing.T) {
	t.Parallel()
	rw := newRaidWorld(t, true, nil)
	ctx := context.Background()
	w := rw.world
	g := discord.GuildID(w.guild)

	var bulkMu sync.Mutex
	bulkCalls := 0
	w.s.SetRequestObserver(func(sv discordtest.Served) {
		if sv.Route == discordtest.BulkBanRoute {
			bulkMu.Lock()
			bulkCalls++
			bulkMu.Unlock()
		}
	})
	var first discordtest.ID
	for i := range 300 {
		rw.clk.Advance(20 * time.Second / 300)
		ids := w.s.MassJoin(w.guild, discordtest.Joiner{Name: fmt.Sprintf("raider%03d", i), CreatedAt: rw.clk.Now().Add(-2 * 24 * time.Hour)})
		if i == 0 {
			first = ids[0]
		}
	}
	lastJoin := rw.clk.Now()
	started := rw.waitStep(t, "started")
	rw.waitStep(t, "invites_paused")
	rw.waitStep(t, "verification_raised")
	if inc := w.s.GuildIncidents(w.guild); inc.InvitesDisabledUntil == nil || inc.InvitesDisabledUntil.After(rw.clk.Now().Add(24*time.Hour)) || inc.InvitesDisabledUntil.Sub(started.At) < 23*time.Hour {
		t.Errorf("invites not paused for the next 24 hours: %+v (raid started %v)", inc, started.At)
	}
	if lvl := w.s.VerificationLevel(w.guild); lvl != discordtest.VerificationHigh {
		t.Errorf("verification level = %d, want High", lvl)
	}
	svc := rw.raids(t)
	var cur raid.Raid
	// 295 timeouts through the pipeline, each a step of the raid.
	waitOn(t, "all 300 joiners in the raid", func() bool {
		var ok bool
		var err error
		cur, ok, err = svc.Current(ctx, g)
		return err == nil && ok && len(cur.Members) == 300 && cur.Counts()["candidate"]+cur.Counts()["timed_out"] == 300 && cur.Counts()["timed_out"] > 0 &&
			cur.Counts()["timed_out"] == countAfter(cur)
	}, func() string { return fmt.Sprint(len(cur.Members), cur.Counts()) }, rw.newsOnce)
	before := 0
	for _, m := range cur.Members {
		if !m.AfterDetection {
			before++
		}
	}
	// All new accounts: half the threshold (5) of suspicious joiners is a raid.
	if before < 5 || cur.Members[0].UserID != int64(first) || cur.Members[0].AfterDetection {
		t.Errorf("the first raiders are not candidates: %d before detection, first member %d (want %d)", before, cur.Members[0].UserID, first)
	}
	if cur.Case.Type != cases.Raid || cur.Case.UserID != discord.UserID(w.s.BotID()) {
		t.Errorf("the raid's case is %s on %d, want RAID on gavel", cur.Case.Type, cur.Case.UserID)
	}
	// Each joiner after detection is timed out with a child case naming the raid.
	for _, m := range cur.Members {
		if !m.AfterDetection {
			continue
		}
		if !m.CaseID.Valid {
			t.Fatalf("joiner %d was timed out without a case", m.UserID)
		}
		c, err := rw.cases.Get(ctx, m.CaseID.Int64)
		if err != nil || c.Type != cases.Timeout || c.Metadata["parent_case"] != fmt.Sprint(cur.Case.Number) || c.Metadata["raid"] != "1" {
			t.Fatalf("joiner %d's case: %+v %v", m.UserID, c, err)
		}
		if mem, _ := w.s.Member(w.guild, discordtest.ID(m.UserID)); mem.CommunicationDisabledUntil == nil {
			t.Fatalf("joiner %d is not timed out on Discord", m.UserID)
		}
	}

	// The mod log shows the raid with its summary and buttons.
	waitOn(t, "the raid's message with its buttons", func() bool {
		c, err := rw.cases.Get(ctx, cur.CaseID)
		if err != nil || c.ModlogMessageID == 0 {
			return false
		}
		for _, m := range w.s.Messages(rw.modlog) {
			if discord.MessageID(m.ID) == c.ModlogMessageID && len(m.Components) == 1 && len(m.Embeds) == 1 {
				e := string(m.Embeds[0])
				return strings.Contains(e, "300 accounts") && strings.Contains(e, "raider#") && strings.Contains(e, "invites paused until")
			}
		}
		return false
	}, func() string {
		c, _ := rw.cases.Get(ctx, cur.CaseID)
		for _, m := range w.s.Messages(rw.modlog) {
			if discord.MessageID(m.ID) == c.ModlogMessageID {
				return fmt.Sprintf("%s %s", m.Embeds, m.Components)
			}
		}
		return fmt.Sprintf("no message (case %+v)", c)
	}, w.s.MessageChanged)
	msg := raidMessage(t, rw, cur.CaseID)
	for _, label := range []string{"Ban all", "Kick all", "Time out all", "Release", "End raid mode"} {
		if !strings.Contains(string(msg.Components[0]), label) {
			t.Errorf("the raid's message has no %q button: %s", label, msg.Components[0])
		}
	}
	if !strings.Contains(string(msg.Embeds[0]), "7 days "+"`"+" ████████████ 300") {
		t.Errorf("no account-age histogram: %s", msg.Embeds[0])
	}

	// Ban all: every one of the 300 (the timed-out ones too) banned through the mass-action
	// path, in two bulk calls (200 + 100), a child case each under the mass action's parent
	// case, which names the raid's case.
	in := w.s.ClickButton(w.guild, rw.modlog, w.mod, msg.ID, "raid:1:ban")
	if _, err := in.WaitResponses(ctx, 2); err != nil { // the acknowledgement, then the answer
		t.Fatalf("the answer to Ban all: %v", err)
	}
	waitOn(t, "all 300 banned", func() bool {
		cur, _, _ = svc.Current(ctx, g)
		return cur.Counts()["banned"] == 300
	}, func() string { return fmt.Sprint(cur.Counts(), w.s.Responses(in.ID)) }, rw.newsOnce)
	for _, m := range cur.Members {
		if _, banned := w.s.Banned(w.guild, discordtest.ID(m.UserID)); !banned {
			t.Fatalf("raider %d is not banned", m.UserID)
		}
	}
	bulkMu.Lock()
	if bulkCalls != 2 {
		t.Errorf("Ban all made %d bulk-ban calls, want 2", bulkCalls)
	}
	bulkMu.Unlock()
	children, err := rw.cases.WithMetadata(ctx, g, "parent_case", fmt.Sprint(cur.Case.Number), cases.PageRequest{Page: 1, PerPage: 50})
	if err != nil {
		t.Fatal(err)
	}
	var massParent int64
	for p := 1; p <= children.Pages && massParent == 0; p++ {
		pg, err := rw.cases.WithMetadata(ctx, g, "parent_case", fmt.Sprint(cur.Case.Number), cases.PageRequest{Page: p, PerPage: 50})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range pg.Cases {
			if c.Metadata[cases.MetaMass] == "ban" {
				massParent = c.Number
			}
		}
	}
	if massParent == 0 {
		t.Fatal("no mass ban case names the raid's case as its parent")
	}
	bans, err := rw.cases.WithMetadata(ctx, g, "parent_case", fmt.Sprint(massParent), cases.PageRequest{Page: 1, PerPage: 50})
	if err != nil || bans.Total != 300 {
		t.Errorf("the mass ban has %d child cases, want 300 (%v)", bans.Total, err)
	}
	for _, c := range bans.Cases {
		if c.Type != cases.Ban || c.Status != cases.Active {
			t.Errorf("child case #%d: %s %s", c.Number, c.Type, c.Status)
		}
	}

	// Raid mode is still on just before the quiet period ends, and ends 10 minutes after
	// the last join.
	rw.clk.Set(lastJoin.Add(10*time.Minute - time.Second))
	quietEnd := lastJoin.Truncate(time.Millisecond).Add(10 * time.Minute)
	waitFor(t, "the raid's check rescheduled to 10 minutes after the last join", func() bool {
		acts, err := expiry.NewService(rw.st, rw.cases).OfCase(ctx, cur.CaseID)
		if err != nil {
			return false
		}
		for _, a := range acts {
			if a.Open() && a.RunAt.Equal(quietEnd) {
				return true
			}
		}
		return false
	})
	if _, open, _ := svc.Current(ctx, g); !open {
		t.Fatal("raid mode ended before the quiet period")
	}
	rw.clk.Set(quietEnd)
	rw.waitStep(t, "ended")
	if lvl := w.s.VerificationLevel(w.guild); lvl != discordtest.VerificationNone {
		t.Errorf("verification level after the raid = %d, want the old None", lvl)
	}
	if inc := w.s.GuildIncidents(w.guild); inc.InvitesDisabledUntil != nil {
		t.Errorf("invites still paused after the raid: %+v", inc)
	}
	ended, err := svc.ByNumber(ctx, g, 1)
	if err != nil || ended.Open() || !ended.Case.Processed {
		t.Errorf("raid after its end: open %v, case processed %v, %v", ended.Open(), ended.Case.Processed, err)
	}
	// The undoing went in reverse: the verification level before the pause.
	kinds := strings.Join(rw.stepKinds(), " ")
	if !strings.Contains(kinds, "verification_restored pause_lifted ended") {
		t.Errorf("steps = %s", kinds)
	}
	// Every pause request sent both fields (DMs as Discord had them: not paused).
	for _, ch := range w.s.IncidentLog(w.guild) {
		if ch.DMsDisabledUntil != nil {
			t.Errorf("a DM pause gavel was not asked for: %+v", ch)
		}
	}
}

func countAfter(r raid.Raid) int {
	n := 0
	for _, m := range r.Members {
		if m.AfterDetection {
			n++
		}
	}
	return n
}

func raidMessage(t *testing.T, rw *raidWorld, caseID int64) discordtest.Message {
	t.Helper()
	c, err := rw.cases.Get(context.Background(), caseID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range rw.s.Messages(rw.modlog) {
		if discord.MessageID(m.ID) == c.ModlogMessageID {
			return m
		}
	}
	t.Fatalf("case #%d has no message in the mod log", c.Number)
	return discordtest.Message{}
}

// TestRaidConfigThroughDiscord: raid config shows the settings with what each accepts, and
// changes one (a settings history row); bad input is refused with what is accepted, and
// changes nothing.
func TestRaidConfigThroughDiscord(t *testing.T) {
	t.Parallel()
	rw := newRaidWorld(t, false, nil)
	w := rw.world
	ctx := context.Background()
	gs := settings.NewService(rw.st)
	say := func(text, want string) {
		t.Helper()
		w.s.SendMessage(w.general, w.owner, text)
		waitOn(t, "the answer to "+text, func() bool { _, ok := w.botReply(w.general, want); return ok }, func() string {
			var said []string
			for _, m := range w.s.Messages(w.general) {
				said = append(said, m.Content)
			}
			return strings.Join(said, " | ")
		}, w.s.MessageChanged)
	}
	say("$raid config", "`threshold` = **10** — a whole number of joins from 3 to 100 (default 10)")
	say("$raid config threshold 500", `❌ **threshold**: "500" is out of range; accepted: a whole number of joins from 3 to 100 (default 10). Nothing was changed.`)
	say("$raid config window forever", `❌ **window**: "forever" is not a duration; accepted: a duration from 5s to 5m`)
	say("$raid config joiners shout", `accepted: timeout, kick, ban or none (default timeout)`)
	say("$raid config speed 3", "must be one of enabled, threshold, window")
	say("$raid config lockdown channels", `❌ **lockdown**: "channels" is not a lockdown response; accepted: server (lock the server down while raid mode lasts) or off (default off). Nothing was changed.`)
	say("$raid config lockdown", "`lockdown` is **off**; accepted: server")
	if r, err := gs.GetRaid(ctx, discord.GuildID(w.guild)); err != nil || r != settings.DefaultRaid() {
		t.Errorf("refused input changed the settings: %+v %v", r, err)
	}
	say("$raid config threshold 20", "Raid `threshold` is now **20**.")
	say("$raid config enabled on", "Raid `enabled` is now **on**.")
	evs, err := gs.History(ctx, discord.GuildID(w.guild), 10)
	if err != nil || len(evs) < 2 || evs[0].Key != "raid.enabled" || evs[1].Key != "raid.threshold" || evs[1].Old != "10" || evs[1].New != "20" ||
		evs[0].ActorID != discord.UserID(w.owner) {
		t.Errorf("history = %+v %v", evs, err)
	}
	say("$raid", "Raid detection is **on (20 joins within 10s)**.")
}
