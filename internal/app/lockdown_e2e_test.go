package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/disgoport"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/lockdown"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
)

// Permission bits the fake has no names for.
const (
	permConnect              = discordtest.Permissions(1 << 20)
	permSpeak                = discordtest.Permissions(1 << 21)
	permCreatePublicThreads  = discordtest.Permissions(1 << 35)
	permCreatePrivateThreads = discordtest.Permissions(1 << 36)
	permSendVoiceMessages    = discordtest.Permissions(1 << 46)
)

// lockBotPerms is gavel's role in the lockdown tests: what the other tests give it, plus
// Manage Channels and Manage Server, and every bit a lockdown denies (it can deny only what
// it has).
const lockBotPerms = botPerms | discordtest.PermManageChannels | discordtest.PermManageGuild | discordtest.PermAddReactions |
	discordtest.PermSendMessagesInThreads | discordtest.PermSendPolls | permConnect | permSpeak | permCreatePublicThreads |
	permCreatePrivateThreads | permSendVoiceMessages

// lockWorld is a guild with a staff channel (private: moderators only) where the commands
// are given, a mod-log channel, a role of regulars (no staff bits) and gavel on a manual
// clock the fake shares.
type lockWorld struct {
	*world
	clk       *clock.Manual
	staff     discordtest.ID
	modlog    discordtest.ID
	regulars  discordtest.ID
	regular   discordtest.ID
	st        *store.Store
	cases     *cases.Service
	ctx       context.Context
	stopApp   func()
	starts    int
	botRoleID discordtest.ID
}

func newLockWorld(t *testing.T, botRolePerms discordtest.Permissions) *lockWorld {
	t.Helper()
	const base = 710000000000000000
	w := &world{guild: base + 100, owner: base + 201, mod: base + 202, target: base + 203, other: base + 204, plain: base + 205,
		modRole: base + 301, botRole: base + 302, general: base + 401}
	lw := &lockWorld{world: w, clk: clock.NewManual(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)), staff: base + 402, modlog: base + 403,
		regulars: base + 303, regular: base + 206, botRoleID: base + 302}
	hidden := discordtest.Overwrite{ID: w.guild, Type: 0, Deny: discordtest.PermViewChannel}
	modsIn := discordtest.Overwrite{ID: w.modRole, Type: 0, Allow: discordtest.PermViewChannel | discordtest.PermSendMessages}
	botIn := discordtest.Overwrite{ID: w.botRole, Type: 0, Allow: discordtest.PermViewChannel | discordtest.PermSendMessages | discordtest.PermEmbedLinks}
	seed := discordtest.Seed{
		Users: []discordtest.User{{ID: w.owner, Username: "owner"}, {ID: w.mod, Username: "mod"}, {ID: w.plain, Username: "plain"},
			{ID: lw.regular, Username: "regular"}},
		Guilds: []discordtest.SeedGuild{{
			ID: w.guild, Name: "test guild", OwnerID: w.owner,
			Roles: []discordtest.Role{
				{ID: lw.regulars, Name: "regulars", Position: 1, Permissions: discordtest.PermAddReactions},
				{ID: w.modRole, Name: "mods", Position: 2, Permissions: discordtest.PermManageMessages | discordtest.PermManageChannels | discordtest.PermManageRoles | discordtest.PermBanMembers},
				{ID: w.botRole, Name: "gavel", Position: 3, Permissions: botRolePerms},
			},
			BotRoles: []discordtest.ID{w.botRole},
			Members: []discordtest.SeedMember{{UserID: w.owner}, {UserID: w.mod, Roles: []discordtest.ID{w.modRole}}, {UserID: w.plain},
				{UserID: lw.regular, Roles: []discordtest.ID{lw.regulars}}},
			Channels: []discordtest.Channel{{ID: w.general, Type: discordtest.ChannelGuildText, Name: "general", Position: 1},
				{ID: lw.staff, Type: discordtest.ChannelGuildText, Name: "staff", Position: 2, PermissionOverwrites: []discordtest.Overwrite{hidden, modsIn, botIn}},
				{ID: lw.modlog, Type: discordtest.ChannelGuildText, Name: "mod-log", Position: 3, PermissionOverwrites: []discordtest.Overwrite{hidden, modsIn, botIn}}},
		}},
	}
	// The fake's rate limits run on its clock, which the test holds still: off. It spaces
	// IDENTIFYs on the same clock as gavel's shard manager, so a restart after the test moved
	// the clock identifies at once (and one before would wait for the test to move it).
	w.s = discordtest.New(t, discordtest.WithSeed(seed), discordtest.WithLogger(quietLogger()), discordtest.WithClock(lw.clk.Now),
		discordtest.WithRouteLimit("*", 0, 0), discordtest.WithGlobalRateLimit(0), discordtest.WithIdentifyClock(lw.clk))
	w.dbURL = "sqlite:" + filepath.Join(t.TempDir(), "gavel.db")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	lw.ctx = ctx
	st := w.openStore(t)
	lw.st, lw.cases = st, cases.NewService(st)
	if _, err := settings.NewService(st).SetChannel(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), settings.ModLog, discord.ChannelID(lw.modlog)); err != nil {
		t.Fatal(err)
	}
	lw.start(t)
	return lw
}

// start runs gavel (again) over the world's database until stopApp or the test's end.
func (lw *lockWorld) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(lw.ctx)
	logger := quietLogger()
	if os.Getenv("GAVEL_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	a, err := newTestApp(ctx, lw.config(), logger, app.WithClock(lw.clk),
		app.WithDiscordLimiter(disgoport.NewLimiter(disgoport.WithGlobalLimit(0, 0))))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	lw.starts++
	go func() { done <- a.Run(ctx) }()
	stopped := false
	lw.stopApp = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(lw.stopApp)
	readyCtx, readyCancel := context.WithTimeout(ctx, eventBound)
	defer readyCancel()
	// Each run identifies afresh: wait for this one's.
	if err := lw.s.WaitIdentifies(readyCtx, lw.starts); err != nil {
		t.Fatalf("WaitIdentifies: %v", err)
	}
	if err := lw.s.WaitReady(readyCtx, 1); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
}

// command sends a prefix command in the staff channel and waits for gavel's reply with want.
func (lw *lockWorld) command(t *testing.T, text, want string) discordtest.Message {
	t.Helper()
	before := len(lw.s.Messages(lw.staff))
	lw.s.SendMessage(lw.staff, lw.mod, text)
	var got discordtest.Message
	waitFor(t, fmt.Sprintf("gavel's reply to %q", text), func() bool {
		ms := lw.s.Messages(lw.staff)
		for _, m := range ms[min(before, len(ms)):] {
			if m.AuthorID == lw.s.BotID() {
				got = m
				return true
			}
		}
		return false
	})
	if !strings.Contains(got.Content, want) {
		t.Fatalf("reply to %q = %q; want it to contain %q", text, got.Content, want)
	}
	return got
}

// checkDueAfter reports whether the guild's open lockdown check (the schedule's one open
// action of its case) is due after at, that is, its last run has committed.
func (lw *lockWorld) checkDueAfter(t *testing.T, at time.Time) bool {
	t.Helper()
	var n int
	err := lw.st.Reader().QueryRowContext(context.Background(),
		`SELECT count(*) FROM scheduled_actions WHERE guild_id = ? AND kind = 'lockdown_check'
		   AND done_at IS NULL AND cancelled_at IS NULL AND run_at > ?`, int64(lw.guild), at.UnixMilli()).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func (lw *lockWorld) open(t *testing.T) []lockdown.Open {
	t.Helper()
	open, err := lockdown.New(lockdown.Config{Store: lw.st, Cases: lw.cases}).Current(context.Background(), discord.GuildID(lw.guild))
	if err != nil {
		t.Fatal(err)
	}
	return open
}

// snapshot is every channel's overwrites and whether it is synced with its category.
type snapshot map[discordtest.ID]struct {
	ows    []discordtest.Overwrite
	synced bool
}

func (lw *lockWorld) snapshot(ids []discordtest.ID) snapshot {
	out := snapshot{}
	for _, id := range ids {
		c, _ := lw.s.Channel(id)
		out[id] = struct {
			ows    []discordtest.Overwrite
			synced bool
		}{c.PermissionOverwrites, lw.s.Synced(id)}
	}
	return out
}

// bigServer adds 497 channels to the world (500 with its three): 12 categories, most with
// their channels synced, the rest with mixed overwrites (an @everyone allow, deny or
// nothing; the regulars' role allowing sending; a moderator role's allow; a member's
// allow), private channels, voice, forum and announcement channels.
func (lw *lockWorld) bigServer() (all, private []discordtest.ID, synced map[discordtest.ID]bool) {
	g := lw.guild
	everyoneAllow := discordtest.Overwrite{ID: g, Type: 0, Allow: discordtest.PermSendMessages | discordtest.PermEmbedLinks}
	everyoneDeny := discordtest.Overwrite{ID: g, Type: 0, Deny: discordtest.PermAddReactions | discordtest.PermEmbedLinks}
	regularsAllow := discordtest.Overwrite{ID: lw.regulars, Type: 0, Allow: discordtest.PermSendMessages | discordtest.PermAddReactions | discordtest.PermEmbedLinks}
	modsAllow := discordtest.Overwrite{ID: lw.modRole, Type: 0, Allow: discordtest.PermSendMessages}
	memberAllow := discordtest.Overwrite{ID: lw.plain, Type: 1, Allow: discordtest.PermSendMessages | discordtest.PermAddReactions}
	hidden := discordtest.Overwrite{ID: g, Type: 0, Deny: discordtest.PermViewChannel}
	regularsIn := discordtest.Overwrite{ID: lw.regulars, Type: 0, Allow: discordtest.PermViewChannel | discordtest.PermSendMessages}
	mixes := [][]discordtest.Overwrite{nil, {everyoneAllow}, {everyoneDeny}, {regularsAllow}, {everyoneDeny, regularsAllow, modsAllow},
		{memberAllow}, {everyoneAllow, memberAllow, modsAllow}, {hidden, regularsIn}}
	catMixes := [][]discordtest.Overwrite{nil, {everyoneDeny, regularsAllow}, {modsAllow}, {everyoneAllow, memberAllow}}
	types := []int{discordtest.ChannelGuildText, discordtest.ChannelGuildText, discordtest.ChannelGuildVoice, 5, 15, discordtest.ChannelGuildText}
	var cats []discordtest.Channel
	for i := range 12 {
		cats = append(cats, discordtest.Channel{Type: discordtest.ChannelGuildCategory, Name: fmt.Sprintf("cat-%02d", i), PermissionOverwrites: catMixes[i%len(catMixes)]})
	}
	if len(cats) > 0 {
		cats[11].PermissionOverwrites = []discordtest.Overwrite{hidden, regularsIn} // a private category
	}
	catIDs := lw.s.AddChannels(g, cats)
	synced = map[discordtest.ID]bool{}
	var specs []discordtest.Channel
	for i := range 497 - len(cats) {
		c := discordtest.Channel{Type: types[i%len(types)], Name: fmt.Sprintf("room-%03d", i)}
		if i%5 != 4 {
			cat := i % len(cats)
			c.ParentID = catIDs[cat]
			if i%3 == 0 {
				c.PermissionOverwrites = cats[cat].PermissionOverwrites // synced
			} else {
				c.PermissionOverwrites = mixes[i%len(mixes)]
			}
		} else {
			c.PermissionOverwrites = mixes[i%len(mixes)]
		}
		specs = append(specs, c)
	}
	ids := lw.s.AddChannels(g, specs)
	all = append(append([]discordtest.ID{lw.general, lw.staff, lw.modlog}, catIDs...), ids...)
	for _, id := range all {
		c, _ := lw.s.Channel(id)
		if lw.s.Synced(id) {
			synced[id] = true
		}
		for _, o := range c.PermissionOverwrites {
			if o.ID == g && o.Deny&discordtest.PermViewChannel != 0 {
				private = append(private, id)
			}
		}
	}
	return all, private, synced
}

// TestLockdownServerAndExactUnlock: a server of 500 channels with mixed overwrites, private
// channels and synced categories is locked (snapshot first, a LOCKDOWN case, invites
// paused); a regular can no longer send; a person changes three overwrites meanwhile; unlock
// restores every other overwrite exactly as it was (synced channels synced again, what gavel
// created removed), leaves the three as the person set them and reports them, in the reply
// and in the case's mod-log message.
func TestLockdownServerAndExactUnlock(t *testing.T) {
	t.Parallel()
	lw := newLockWorld(t, lockBotPerms)
	all, private, synced := lw.bigServer()
	if len(all) != 500 || len(private) < 20 || len(synced) < 100 {
		t.Fatalf("the server has %d channels, %d private, %d synced", len(all), len(private), len(synced))
	}
	before := lw.snapshot(all)

	reply := lw.command(t, "$lockdown server raid incoming", "Locked the server")
	if !strings.Contains(reply.Content, "Invites are paused") {
		t.Errorf("the reply does not say invites are paused: %q", reply.Content)
	}
	if inc := lw.s.GuildIncidents(lw.guild); inc.InvitesDisabledUntil == nil {
		t.Error("invites are not paused")
	}
	open := lw.open(t)
	if len(open) != 1 || open[0].Case.Type != cases.Lockdown || open[0].Case.UserID != discord.UserID(lw.s.BotID()) || !open[0].Lockdown.Server {
		t.Fatalf("open lockdowns = %+v", open)
	}
	isPrivate := map[discordtest.ID]bool{}
	for _, id := range private {
		isPrivate[id] = true
	}
	held := map[discordtest.ID]bool{}
	for _, c := range open[0].Channels {
		held[discordtest.ID(c.ChannelID)] = true
		if isPrivate[discordtest.ID(c.ChannelID)] {
			t.Errorf("private channel %d was locked", c.ChannelID)
		}
		if c.Synced != before[discordtest.ID(c.ChannelID)].synced {
			t.Errorf("channel %d snapshotted as synced=%v, was %v", c.ChannelID, c.Synced, before[discordtest.ID(c.ChannelID)].synced)
		}
	}
	// Every viewable channel is locked: a regular cannot send anywhere, synced channels are
	// still synced with their categories.
	for _, id := range all {
		if isPrivate[id] || id == lw.staff || id == lw.modlog {
			continue
		}
		if !held[id] {
			t.Errorf("channel %s was not locked", id)
			continue
		}
		c, _ := lw.s.Channel(id)
		if c.Type == discordtest.ChannelGuildText {
			if _, err := lw.s.TrySendMessage(id, lw.regular, "hello?"); err == nil {
				t.Errorf("a regular can still send in %s (%+v)", c.Name, c.PermissionOverwrites)
			}
			if _, err := lw.s.TrySendMessage(id, lw.plain, "hello?"); err == nil {
				t.Errorf("a member can still send in %s (%+v)", c.Name, c.PermissionOverwrites)
			}
		}
		if synced[id] && !lw.s.Synced(id) {
			t.Errorf("%s is no longer synced with its category during the lockdown", c.Name)
		}
	}

	// A person changes three overwrites during the lockdown.
	var touched []discordtest.ID
	var regularsChan, syncedChan discordtest.ID
	for _, id := range all {
		c, _ := lw.s.Channel(id)
		if !held[id] || c.Type == discordtest.ChannelGuildCategory {
			continue
		}
		if regularsChan == 0 && !synced[id] {
			for _, o := range c.PermissionOverwrites {
				if o.ID == lw.regulars {
					regularsChan = id
				}
			}
		}
		if syncedChan == 0 && synced[id] {
			syncedChan = id
		}
	}
	// What the person sets: the regulars allowed to send again, #general's @everyone
	// overwrite edited, a synced channel's @everyone overwrite edited (which breaks its sync).
	personal := map[discordtest.ID]discordtest.Overwrite{
		regularsChan: {ID: lw.regulars, Type: 0, Allow: discordtest.PermSendMessages},
		lw.general:   {ID: lw.guild, Type: 0, Deny: discordtest.PermSendMessages},
		syncedChan:   {ID: lw.guild, Type: 0, Deny: discordtest.PermSendMessages | discordtest.PermEmbedLinks},
	}
	for id, ow := range personal {
		mustOK(t, lw.s.SetOverwriteAs(id, lw.owner, ow))
		touched = append(touched, id)
	}

	reply = lw.command(t, "$unlock server all clear", "Unlocked")
	for _, id := range touched {
		if !strings.Contains(reply.Content, fmt.Sprintf("<#%s>", id)) {
			t.Errorf("the unlock reply does not report <#%s>: %q", id, reply.Content)
		}
	}
	if !strings.Contains(reply.Content, "left as they are (4)") { // three overwrites, and the broken sync
		t.Errorf("the unlock reply does not count the changes: %q", reply.Content)
	}
	// Every channel is as it was before the lockdown, but for the person's three overwrites,
	// left as the person set them.
	after := lw.snapshot(all)
	diffs := 0
	for _, id := range all {
		want := before[id].ows
		wantSynced := before[id].synced
		if ow, ok := personal[id]; ok {
			want = nil
			for _, o := range before[id].ows {
				if o.ID != ow.ID {
					want = append(want, o)
				}
			}
			want = append(want, ow)
			wantSynced = false
		}
		if !discordtest.SameOverwrites(after[id].ows, want) {
			diffs++
			t.Errorf("channel %s: overwrites %+v after unlock, want %+v", id, after[id].ows, want)
		}
		if after[id].synced != wantSynced {
			diffs++
			t.Errorf("channel %s: synced %v after unlock, want %v", id, after[id].synced, wantSynced)
		}
	}
	if diffs != 0 {
		t.Fatalf("%d unintended differences from the snapshot", diffs)
	}
	if inc := lw.s.GuildIncidents(lw.guild); inc.InvitesDisabledUntil != nil {
		t.Errorf("invites still paused after unlock: %+v", inc)
	}
	if len(lw.open(t)) != 0 {
		t.Error("the lockdown is still open after unlock server")
	}
	c, err := lw.cases.GetByNumber(context.Background(), discord.GuildID(lw.guild), open[0].Case.Number)
	if err != nil || !c.Processed {
		t.Errorf("the lockdown's case after unlock: %+v, %v", c, err)
	}
	evs, err := lw.cases.Events(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.Kind != cases.EventProcessed || !strings.Contains(last.Note, "changed by someone during the lockdown") {
		t.Errorf("the case's last history row = %+v; want processed with the report", last)
	}
	// The mod log's message of the case shows the report.
	waitFor(t, "the lockdown's mod-log message with the unlock report", func() bool {
		for _, m := range lw.s.Messages(lw.modlog) {
			for _, e := range m.Embeds {
				if strings.Contains(string(e), "Unlock report") && strings.Contains(string(e), "3 changed by someone") {
					return true
				}
			}
		}
		return false
	})
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// smallServer adds a category with two synced channels, a channel with a regulars' allow and
// a voice channel: what the timed tests lock.
func (lw *lockWorld) smallServer() []discordtest.ID {
	everyoneDeny := discordtest.Overwrite{ID: lw.guild, Type: 0, Deny: discordtest.PermEmbedLinks}
	cat := lw.s.AddChannels(lw.guild, []discordtest.Channel{{Type: discordtest.ChannelGuildCategory, Name: "talk", PermissionOverwrites: []discordtest.Overwrite{everyoneDeny}}})
	ids := lw.s.AddChannels(lw.guild, []discordtest.Channel{
		{Type: discordtest.ChannelGuildText, Name: "chat", ParentID: cat[0], PermissionOverwrites: []discordtest.Overwrite{everyoneDeny}},
		{Type: discordtest.ChannelGuildVoice, Name: "voice", ParentID: cat[0], PermissionOverwrites: []discordtest.Overwrite{everyoneDeny}},
		{Type: discordtest.ChannelGuildText, Name: "regulars", PermissionOverwrites: []discordtest.Overwrite{{ID: lw.regulars, Type: 0, Allow: discordtest.PermSendMessages}}},
	})
	return append(append([]discordtest.ID{lw.general, lw.staff, lw.modlog}, cat...), ids...)
}

func (lw *lockWorld) sameAs(t *testing.T, before snapshot, what string) {
	t.Helper()
	for id, b := range before {
		c, _ := lw.s.Channel(id)
		if !discordtest.SameOverwrites(c.PermissionOverwrites, b.ows) || lw.s.Synced(id) != b.synced {
			t.Errorf("%s: channel %s has %+v (synced %v); before the lockdown %+v (synced %v)", what, c.Name, c.PermissionOverwrites, lw.s.Synced(id), b.ows, b.synced)
		}
	}
}

// TestLockdownThreeDaysKeepsInvitesPaused: `lockdown server -d 3d` pauses invites, and its
// durable check renews the pause three times, each before the previous one ran out (no gap),
// on the test clock; at 72 hours the lockdown ends by itself: the channels are as they were
// and the pause is lifted.
func TestLockdownThreeDaysKeepsInvitesPaused(t *testing.T) {
	t.Parallel()
	lw := newLockWorld(t, lockBotPerms)
	ids := lw.smallServer()
	before := lw.snapshot(ids)
	start := lw.clk.Now()
	lw.command(t, "$lockdown server -d 3d raid next door", "ends by itself")
	if n := len(lw.s.IncidentLog(lw.guild)); n != 1 {
		t.Fatalf("%d incident-action calls after the lock, want 1", n)
	}
	for lw.clk.Now().Sub(start) < 72*time.Hour-time.Minute {
		lw.clk.Advance(time.Hour)
		// A renewal due now is waited for before the clock moves on: the poller runs it in
		// real time, and the test must not outrun it.
		log := lw.s.IncidentLog(lw.guild)
		if until := *log[len(log)-1].InvitesDisabledUntil; !lw.clk.Now().Before(until.Add(-time.Hour)) {
			waitFor(t, "the pause's renewal", func() bool { return len(lw.s.IncidentLog(lw.guild)) > len(log) })
			// And for the check to have come back for its next time: the renewal's call is
			// made before its run commits, and a clock moved past the run's claim meanwhile
			// would let the poller claim the same run again and renew twice.
			waitFor(t, "the check rescheduled after the renewal", func() bool { return lw.checkDueAfter(t, lw.clk.Now()) })
		}
		if lw.clk.Now().Sub(start) < 72*time.Hour && len(lw.open(t)) != 1 {
			t.Fatalf("the lockdown ended early, at %v", lw.clk.Now().Sub(start))
		}
	}
	if lw.clk.Now().Sub(start) < 72*time.Hour {
		lw.clk.Advance(time.Hour)
	}
	waitFor(t, "the timed lockdown's end", func() bool { return len(lw.open(t)) == 0 })
	log := lw.s.IncidentLog(lw.guild)
	if len(log) != 5 {
		t.Fatalf("%d incident-action calls over three days, want the pause, 3 renewals and the lift: %+v", len(log), log)
	}
	for i, ch := range log[:4] {
		if ch.InvitesDisabledUntil == nil || ch.InvitesDisabledUntil.Sub(ch.At) > 24*time.Hour || ch.InvitesDisabledUntil.Sub(ch.At) < 23*time.Hour {
			t.Errorf("call %d at %v paused until %v", i, ch.At, ch.InvitesDisabledUntil)
		}
		if i > 0 && !ch.At.Before(*log[i-1].InvitesDisabledUntil) {
			t.Errorf("renewal %d at %v came after the pause ran out at %v", i, ch.At, *log[i-1].InvitesDisabledUntil)
		}
	}
	if last := log[4]; last.InvitesDisabledUntil != nil || last.At.Sub(start) < 72*time.Hour {
		t.Errorf("the last call %+v is not the lift at the end", last)
	}
	lw.sameAs(t, before, "after the timed end")
}

// TestLockdownRefusals: without Manage Roles gavel refuses a lockdown and changes nothing
// (no case, no overwrite); a bad duration, an unknown channel, a user where a channel is
// expected, and an unlock with nothing locked are refused with what is accepted.
func TestLockdownRefusals(t *testing.T) {
	t.Parallel()
	t.Run("no Manage Roles", func(t *testing.T) {
		lw := newLockWorld(t, lockBotPerms&^discordtest.PermManageRoles)
		ids := lw.smallServer()
		before := lw.snapshot(ids)
		lw.command(t, "$lockdown server raid", "I need the Manage Roles and Manage Channels permissions")
		lw.command(t, "$lockdown <#"+lw.general.String()+"> raid", "Nothing was changed")
		lw.sameAs(t, before, "after the refusals")
		if n, err := lw.st.Queries().CountCasesInGuild(context.Background(), int64(lw.guild)); err != nil || n != 0 {
			t.Errorf("%d cases after refused lockdowns (%v)", n, err)
		}
		if len(lw.s.IncidentLog(lw.guild)) != 0 {
			t.Error("invites were paused by a refused lockdown")
		}
	})
	t.Run("bad input", func(t *testing.T) {
		lw := newLockWorld(t, lockBotPerms)
		ids := lw.smallServer()
		before := lw.snapshot(ids)
		lw.command(t, "$lockdown -d 5x raid", "duration")
		lw.command(t, "$lockdown -d 40d raid", "duration")
		lw.command(t, "$lockdown <#123456789012345678> raid", "is not a channel of this server")
		lw.command(t, "$lockdown <@"+lw.plain.String()+"> raid", "is a user or role, not a channel")
		lw.command(t, "$lockdown server <#"+lw.general.String()+">", "name channels or server, not both")
		lw.command(t, "$unlock server", "Nothing is locked by gavel")
		// A channel of another server is not one of this server's.
		elsewhere := lw.s.AddGuild("elsewhere", lw.owner)
		foreign := lw.s.AddChannel(elsewhere, discordtest.ChannelGuildText, "foreign")
		lw.command(t, "$lockdown <#"+foreign.String()+"> raid", "is not a channel of this server")
		lw.sameAs(t, before, "after the refusals")
		if n, _ := lw.st.Queries().CountCasesInGuild(context.Background(), int64(lw.guild)); n != 0 {
			t.Errorf("%d cases after refused commands", n)
		}
	})
	t.Run("slash", func(t *testing.T) {
		lw := newLockWorld(t, lockBotPerms)
		ids := lw.smallServer()
		before := lw.snapshot(ids)
		answer := func(name string, opts ...discordtest.CommandOption) string {
			t.Helper()
			ia := lw.s.SlashCommand(lw.guild, lw.staff, lw.mod, name, opts...)
			ctx, cancel := context.WithTimeout(context.Background(), eventBound)
			defer cancel()
			msgs, err := ia.WaitResponses(ctx, 1)
			if err != nil {
				t.Fatalf("/%s: %v", name, err)
			}
			return msgs[len(msgs)-1].Content
		}
		if got := answer("lockdown", discordtest.StringOpt("targets", "<#"+lw.general.String()+">"), discordtest.StringOpt("reason", "drill")); !strings.Contains(got, "Locked <#"+lw.general.String()+">") {
			t.Fatalf("/lockdown answered %q", got)
		}
		if _, err := lw.s.TrySendMessage(lw.general, lw.regular, "hi"); err == nil {
			t.Error("a regular can send in #general after /lockdown")
		}
		if got := answer("unlock", discordtest.StringOpt("targets", "<#"+lw.general.String()+">")); !strings.Contains(got, "Unlocked 1 channels") {
			t.Fatalf("/unlock answered %q", got)
		}
		lw.sameAs(t, before, "after /unlock")
	})
}

// TestLockdownEndsAfterRestart: a lockdown of two channels for an hour, gavel stopped and
// started again before the hour is over; the new process ends it on time (the timer is in the
// database), restoring both channels, and the case is processed.
func TestLockdownEndsAfterRestart(t *testing.T) {
	t.Parallel()
	lw := newLockWorld(t, lockBotPerms)
	ids := lw.smallServer()
	before := lw.snapshot(ids)
	chat, regulars := ids[4], ids[6]
	lw.command(t, fmt.Sprintf("$lockdown <#%s> %s -d 1h cooling off", chat, regulars), "Locked 2 channels")
	open := lw.open(t)
	if len(open) != 1 || open[0].Held() != 2 {
		t.Fatalf("open lockdowns = %+v", open)
	}
	lw.clk.Advance(30 * time.Minute)
	lw.stopApp()
	if len(lw.open(t)) != 1 {
		t.Fatal("the lockdown ended before its time")
	}
	lw.start(t)
	lw.clk.Advance(31 * time.Minute)
	waitFor(t, "the timed lockdown's end after the restart", func() bool { return len(lw.open(t)) == 0 })
	lw.sameAs(t, before, "after the timed end")
	c, err := lw.cases.GetByNumber(context.Background(), discord.GuildID(lw.guild), open[0].Case.Number)
	if err != nil || !c.Processed {
		t.Errorf("the case after the end: %+v, %v", c, err)
	}
}

// TestLockdownSupersededByLaterLock: a timed lockdown of #chat, then `lockdown server`
// without a duration: the server lockdown takes #chat over (the first one ends, its timer
// cancelled), the hour passing unlocks nothing, and `unlock server` brings #chat back to
// what it was before the first lock.
func TestLockdownSupersededByLaterLock(t *testing.T) {
	t.Parallel()
	lw := newLockWorld(t, lockBotPerms)
	ids := lw.smallServer()
	before := lw.snapshot(ids)
	chat := ids[4]
	lw.command(t, fmt.Sprintf("$lockdown <#%s> -d 1h first", chat), "Locked <#")
	lw.command(t, "$lockdown server second", "Taken over from the earlier lockdown of case #1")
	open := lw.open(t)
	if len(open) != 1 || !open[0].Lockdown.Server {
		t.Fatalf("open lockdowns after the second = %+v", open)
	}
	// The first lockdown's timer was cancelled with it: nothing is left to run at its hour.
	firstCase, err := lw.cases.GetByNumber(context.Background(), discord.GuildID(lw.guild), 1)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := lw.st.Queries().OpenActionOfCase(context.Background(), firstCase.ID); err == nil {
		t.Errorf("the superseded lockdown still has a scheduled %s at %v", a.Kind, time.UnixMilli(a.RunAt))
	}
	lw.clk.Advance(2 * time.Hour)
	c, _ := lw.s.Channel(chat)
	if _, err := lw.s.TrySendMessage(chat, lw.regular, "hi"); err == nil {
		t.Errorf("#chat was unlocked by the superseded lockdown's timer: %+v", c.PermissionOverwrites)
	}
	lw.command(t, "$unlock server", "Unlocked")
	lw.sameAs(t, before, "after unlock")
	first1, err := lw.cases.GetByNumber(context.Background(), discord.GuildID(lw.guild), 1)
	if err != nil || !first1.Processed {
		t.Errorf("the first lockdown's case: %+v, %v", first1, err)
	}
}
