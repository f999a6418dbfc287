package moderation_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/disgoport"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

const banRoute = "PUT /guilds/{guild_id}/bans/{user_id}"

// world is a guild on the fake Discord, reached through the real disgo adapter, with the
// case and settings services on a real database:
//
//	position 4  mod      (alice)          above the bot
//	position 3  gavel    (the bot)
//	position 2  bots                      an integration's (managed) role
//	position 1  member   (bob, and the crowd), jailed
//	            carol has no role; dave is a user outside the guild
type world struct {
	s        *discordtest.Server
	port     *disgoport.Adapter
	cases    *cases.Service
	settings *settings.Service
	// ml is the mod log, whose worker runs for the whole test.
	ml *modlog.Service
	// delivered is closed and replaced after each of the mod log's deliveries (posted,
	// edited, skipped or failed): modlogSettled waits on it.
	deliveredMu sync.Mutex
	delivered   chan struct{}
	co          *moderation.Coordinator
	cat         *moderation.Catalogue
	st          *store.Store
	exec        *executor.Executor

	guild, owner, alice, bob, carol, dave discordtest.ID
	member, managed, botRole, mod, jailed discordtest.ID
	general, modlog                       discordtest.ID
	crowd                                 []discordtest.ID
}

// testDMTimeout bounds the DMs of tests that expect them to arrive. DefaultDMTimeout (3 s on
// the wall clock) is the product's bound, and a first DM to the fake has taken 2.6 s on a
// loaded 2-core machine under -race (TestBanEndToEnd/sqlite, the first test of the process
// to DM, then failed now and then with the DM timed out): a test of what a delivered DM does
// must not depend on the machine's speed. The bound itself is tested with a DM that never
// answers (TestSlowDMDoesNotHoldTheBan).
const testDMTimeout = time.Minute

const botPerms = discordtest.PermBanMembers | discordtest.PermKickMembers | discordtest.PermManageRoles |
	discordtest.PermModerateMembers | discordtest.PermViewAuditLog | discordtest.PermViewChannel |
	discordtest.PermSendMessages | discordtest.PermReadMessageHistory | discordtest.PermEmbedLinks

func newWorld(t testing.TB, engine store.Engine, fakeOpts ...discordtest.Option) *world {
	t.Helper()
	w := &world{guild: 100, owner: 201, alice: 202, bob: 203, carol: 204, dave: 205,
		member: 301, managed: 302, botRole: 303, mod: 304, jailed: 305, general: 401, modlog: 402}
	seed := discordtest.Seed{
		Users: []discordtest.User{{ID: w.owner, Username: "owner"}, {ID: w.alice, Username: "alice"},
			{ID: w.bob, Username: "bob"}, {ID: w.carol, Username: "carol"}, {ID: w.dave, Username: "dave"}},
	}
	g := discordtest.SeedGuild{
		ID: w.guild, Name: "test guild", OwnerID: w.owner,
		Roles: []discordtest.Role{
			{ID: w.member, Name: "member", Position: 1},
			{ID: w.jailed, Name: "jailed", Position: 1},
			{ID: w.managed, Name: "bots", Position: 2, Managed: true},
			{ID: w.botRole, Name: "gavel", Position: 3, Permissions: botPerms},
			{ID: w.mod, Name: "mod", Position: 4, Permissions: discordtest.PermBanMembers | discordtest.PermKickMembers},
		},
		BotRoles: []discordtest.ID{w.botRole},
		Members: []discordtest.SeedMember{
			{UserID: w.owner}, {UserID: w.alice, Roles: []discordtest.ID{w.mod}},
			{UserID: w.bob, Roles: []discordtest.ID{w.member, w.managed}}, {UserID: w.carol},
		},
		Channels: []discordtest.Channel{
			{ID: w.general, Type: discordtest.ChannelGuildText, Name: "general", Position: 1},
			{ID: w.modlog, Type: discordtest.ChannelGuildText, Name: "mod-log", Position: 2},
		},
	}
	for i := range 50 {
		id := discordtest.ID(1000 + i)
		w.crowd = append(w.crowd, id)
		seed.Users = append(seed.Users, discordtest.User{ID: id, Username: fmt.Sprintf("user%d", i)})
		g.Members = append(g.Members, discordtest.SeedMember{UserID: id, Roles: []discordtest.ID{w.member}})
	}
	seed.Guilds = []discordtest.SeedGuild{g}
	w.s = discordtest.New(t, append([]discordtest.Option{discordtest.WithSeed(seed)}, fakeOpts...)...)
	port, err := disgoport.New(w.s.Token(), disgoport.WithAPIURL(w.s.APIURL()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		port.Close(ctx)
	})
	w.port = port
	st := storetest.Open(t, engine)
	w.settings, w.cat = settings.NewService(st), actions.Catalogue()
	w.st = st
	w.withCases(t)
	ctx := context.Background()
	if _, err := w.settings.SetChannel(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), settings.ModLog, discord.ChannelID(w.modlog)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.settings.SetJailRole(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), discord.RoleID(w.jailed)); err != nil {
		t.Fatal(err)
	}
	ex := executor.New(executor.WithRetries(4, time.Millisecond, 20*time.Millisecond))
	w.co = moderation.NewCoordinator(actions.Catalogue(), port, w.cases, w.settings, ex, moderation.WithBotUserID(discord.UserID(w.s.BotID())),
		moderation.WithDMTimeout(testDMTimeout))
	w.st, w.exec = st, ex
	return w
}

// withCases gives the world a cases service with opts, bound to a mod log of its own whose
// worker runs until the test ends.
func (w *world) withCases(t testing.TB, opts ...cases.Option) {
	t.Helper()
	w.deliveredMu.Lock()
	if w.delivered == nil {
		w.delivered = make(chan struct{})
	}
	w.deliveredMu.Unlock()
	// The worker below runs this mod log, not whatever w.ml is later: a second withCases
	// (newExpiring's) replaces w.ml while the first worker is starting.
	ml := modlog.New(w.st, w.settings, modlog.WithTones(actions.Catalogue().Tone), modlog.WithLogger(slog.New(slog.NewTextHandler(testWriter{t}, nil))),
		modlog.WithDeliveryObserver(func(int64, modlog.Outcome) {
			w.deliveredMu.Lock()
			defer w.deliveredMu.Unlock()
			close(w.delivered)
			w.delivered = make(chan struct{})
		}))
	w.ml = ml
	w.cases = cases.NewService(w.st, append(opts, cases.WithChangeObserver(ml))...)
	ml.Bind(w.cases)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	port, bot := w.port, discord.UserID(w.s.BotID())
	go func() { defer close(done); _ = ml.Run(ctx, port, bot) }()
	t.Cleanup(func() { stop(); <-done })
}

// modlogSettled waits until the mod log has delivered everything queued so far: the outbox
// is read again after each delivery the worker finishes (a row leaves the outbox in the
// transaction that finishes it, before the worker tells of it). On a timeout it says what
// is left and why, for a delivery that failed and waits for its retry.
func (w *world) modlogSettled(t *testing.T) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		w.deliveredMu.Lock()
		next := w.delivered
		w.deliveredMu.Unlock()
		p, err := w.ml.Pending(context.Background())
		if err != nil {
			t.Fatalf("reading the mod log's outbox: %v", err)
		}
		if len(p) == 0 {
			return
		}
		select {
		case <-next:
		case <-deadline.C:
			t.Fatalf("the mod log still has deliveries queued: %+v", p)
		}
	}
}

// modlogEmbed returns the embed of case id's mod-log message as the channel shows it now.
func (w *world) modlogEmbed(t *testing.T, id int64) string {
	t.Helper()
	c, err := w.cases.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range w.s.Messages(discordtest.ID(c.ModlogChannelID)) {
		if discord.MessageID(m.ID) == c.ModlogMessageID && len(m.Embeds) > 0 {
			return string(m.Embeds[0])
		}
	}
	return ""
}

func (w *world) run(t *testing.T, mod discordtest.ID, action string, target discordtest.ID, edit ...func(*moderation.Request)) moderation.Result {
	t.Helper()
	a, ok := w.cat.Lookup(action)
	if !ok {
		t.Fatalf("no action %q", action)
	}
	name := map[discordtest.ID]string{w.owner: "owner", w.alice: "alice"}[mod]
	req := moderation.Request{GuildID: discord.GuildID(w.guild), Moderator: discord.User{ID: discord.UserID(mod), Username: name},
		Action: a, Target: moderation.Target{ID: discord.UserID(target)}, Reason: "spamming @everyone"}
	for _, e := range edit {
		e(&req)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return w.co.Execute(ctx, req)
}

// succeeded fails t unless res is a success with an active case of type typ.
func succeeded(t *testing.T, res moderation.Result, typ cases.Type) cases.Case {
	t.Helper()
	if res.Refused || res.Err != nil || res.Case == nil {
		t.Fatalf("result: refused %v, err %v, reply %q", res.Refused, res.Err, res.Reply.Content)
	}
	if res.Case.Type != typ || res.Case.Status != cases.Active {
		t.Fatalf("case %+v; want an active %s", *res.Case, typ)
	}
	if !strings.Contains(res.Reply.Content, fmt.Sprintf("Case #%d", res.Case.Number)) || res.Reply.AllowedMentions == nil {
		t.Errorf("reply %+v; want the case number and an explicit allowed_mentions", res.Reply)
	}
	return *res.Case
}

func (w *world) lastAudit(t *testing.T, action int) discordtest.AuditLogEntry {
	t.Helper()
	log := w.s.AuditLog(w.guild)
	for i := len(log) - 1; i >= 0; i-- {
		if log[i].ActionType == action {
			return log[i]
		}
	}
	t.Fatalf("no audit-log entry of type %d", action)
	return discordtest.AuditLogEntry{}
}

func (w *world) dms(user discordtest.ID) []discordtest.Message {
	ch, ok := w.s.DMChannel(user)
	if !ok {
		return nil
	}
	return w.s.Messages(ch)
}

func TestBanEndToEnd(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st.Engine())
		res := w.run(t, w.alice, "ban", w.bob, func(r *moderation.Request) { r.PurgeDays = 1 })
		c := succeeded(t, res, cases.Ban)
		// bob was a member, so he was not banned: nothing asked Discord for his ban.
		if n := w.s.HandlerStats().Routes["GET /guilds/{guild_id}/bans/{user_id}"].Requests; n != 0 {
			t.Errorf("banning a member read the ban %d times; want none", n)
		}

		ban, ok := w.s.Banned(w.guild, w.bob)
		const reason = "alice (202): spamming @everyone"
		if !ok || ban.Reason == nil || *ban.Reason != reason {
			t.Fatalf("ban %+v, %v; want one with reason %q", ban, ok, reason)
		}
		entry := w.lastAudit(t, discordtest.AuditMemberBanAdd)
		if entry.Reason != reason || entry.TargetID != w.bob || entry.UserID != w.s.BotID() {
			t.Errorf("audit entry %+v", entry)
		}
		dms := w.dms(w.bob)
		if len(dms) != 1 || res.DM != moderation.DMSent {
			t.Fatalf("bob has %d DMs, outcome %v; want one, sent", len(dms), res.DM)
		}
		// The fake's snowflakes come from one strictly increasing source.
		if dms[0].ID >= entry.ID {
			t.Errorf("DM %d is not before the ban's audit entry %d", dms[0].ID, entry.ID)
		}
		if !strings.Contains(string(dms[0].Embeds[0]), "You have been banned in test guild") {
			t.Errorf("DM embed %s", dms[0].Embeds[0])
		}

		// The activation queued the post; the mod log's worker makes it.
		w.modlogSettled(t)
		c, err := w.cases.Get(context.Background(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		posted := w.s.Messages(w.modlog)
		if len(posted) != 1 || discord.MessageID(posted[0].ID) != c.ModlogMessageID || c.ModlogChannelID != discord.ChannelID(w.modlog) {
			t.Fatalf("mod log has %d messages; case links %d", len(posted), c.ModlogMessageID)
		}
		stored, err := w.cases.Get(context.Background(), c.ID)
		if err != nil || stored.ModlogMessageID != c.ModlogMessageID || stored.Status != cases.Active {
			t.Errorf("stored case %+v, %v", stored, err)
		}
		events, err := w.cases.Events(context.Background(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []cases.EventKind
		for _, e := range events {
			kinds = append(kinds, e.Kind)
		}
		if want := []cases.EventKind{cases.EventCreated, cases.EventStatus, cases.EventModlog}; !slices.Equal(kinds, want) {
			t.Errorf("history %v; want %v", kinds, want)
		}
		if !strings.Contains(res.Reply.Content, "messaged about it") {
			t.Errorf("reply %q does not say the DM went out", res.Reply.Content)
		}
	})
}

func TestHackbanOfANonMember(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.SQLite)
	c := succeeded(t, w.run(t, w.alice, "ban", w.dave), cases.Hackban)
	if _, ok := w.s.Banned(w.guild, w.dave); !ok || c.UserID != discord.UserID(w.dave) {
		t.Fatalf("dave not banned (case %+v)", c)
	}
	// And again: already banned, nothing new.
	res := w.run(t, w.owner, "ban", w.dave)
	if !res.Refused || !strings.Contains(res.Reply.Content, "already banned") {
		t.Fatalf("second ban: %+v", res)
	}
	// Unban by name from the ban list.
	res = w.run(t, w.alice, "unban", 0, func(r *moderation.Request) { r.Target = moderation.Target{Name: "DAVE"} })
	succeeded(t, res, cases.Unban)
	if _, ok := w.s.Banned(w.guild, w.dave); ok {
		t.Error("dave is still banned")
	}
}

func TestKickTimeoutAndWarn(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.SQLite)
	succeeded(t, w.run(t, w.alice, "kick", w.carol), cases.Kick)
	if _, ok := w.s.Member(w.guild, w.carol); ok {
		t.Error("carol is still a member")
	}
	if e := w.lastAudit(t, discordtest.AuditMemberKick); e.TargetID != w.carol || e.Reason != "alice (202): spamming @everyone" {
		t.Errorf("kick audit entry %+v", e)
	}

	before := time.Now()
	c := succeeded(t, w.run(t, w.owner, "timeout", w.bob, func(r *moderation.Request) { r.Duration = time.Hour }), cases.Timeout)
	m, _ := w.s.Member(w.guild, w.bob)
	if m.CommunicationDisabledUntil == nil || m.CommunicationDisabledUntil.Sub(before) < 59*time.Minute {
		t.Fatalf("bob's timeout %v; want about an hour", m.CommunicationDisabledUntil)
	}
	if c.ExpiresAt.Sub(before) < 59*time.Minute {
		t.Errorf("case expiry %v", c.ExpiresAt)
	}
	succeeded(t, w.run(t, w.owner, "untimeout", w.bob), cases.Untimeout)
	if m, _ := w.s.Member(w.guild, w.bob); m.CommunicationDisabledUntil != nil && m.CommunicationDisabledUntil.After(time.Now()) {
		t.Errorf("bob is still timed out until %v", m.CommunicationDisabledUntil)
	}

	// Longer than Discord's 28 days: capped on Discord, the whole duration on the case.
	res := w.run(t, w.owner, "timeout", w.bob, func(r *moderation.Request) { r.Duration = 40 * 24 * time.Hour })
	c = succeeded(t, res, cases.Timeout)
	m, _ = w.s.Member(w.guild, w.bob)
	if m.CommunicationDisabledUntil == nil || m.CommunicationDisabledUntil.Sub(before) > 28*24*time.Hour+time.Minute {
		t.Errorf("bob's timeout %v; want at most 28 days", m.CommunicationDisabledUntil)
	}
	if c.ExpiresAt.Sub(before) < 39*24*time.Hour || !strings.Contains(res.Reply.Content, "at most 4 weeks") {
		t.Errorf("case expiry %v, reply %q", c.ExpiresAt, res.Reply.Content)
	}

	// A warning is told after the case is recorded, and needs no Discord call.
	n := len(w.s.AuditLog(w.guild))
	c = succeeded(t, w.run(t, w.alice, "warn", w.bob), cases.Warn)
	dms := w.dms(w.bob)
	last := dms[len(dms)-1]
	if !strings.Contains(string(last.Embeds[0]), "You have been warned") || !strings.Contains(string(last.Embeds[0]), fmt.Sprintf("Case #%d", c.Number)) {
		t.Errorf("warn DM %s", last.Embeds[0])
	}
	if got := len(w.s.AuditLog(w.guild)); got != n {
		t.Errorf("a warning wrote %d audit-log entries", got-n)
	}
}

func TestJailThenUnjailRestoresRoles(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.SQLite)
	c := succeeded(t, w.run(t, w.alice, "jail", w.bob), cases.Jail)
	if !slices.Equal(c.RoleIDs, cases.IDs{discord.RoleID(w.member)}) {
		t.Errorf("saved roles %v; want only member (bots is managed)", c.RoleIDs)
	}
	m, _ := w.s.Member(w.guild, w.bob)
	if got := sorted(m.Roles); !slices.Equal(got, []discordtest.ID{w.managed, w.jailed}) {
		t.Fatalf("jailed bob's roles %v; want bots and jailed", got)
	}
	res := w.run(t, w.alice, "jail", w.bob)
	if !res.Refused || !strings.Contains(res.Reply.Content, "already jailed") {
		t.Fatalf("second jail: %+v", res)
	}
	succeeded(t, w.run(t, w.alice, "unjail", w.bob), cases.Unjail)
	m, _ = w.s.Member(w.guild, w.bob)
	if got := sorted(m.Roles); !slices.Equal(got, []discordtest.ID{w.member, w.managed}) {
		t.Fatalf("released bob's roles %v; want member and bots", got)
	}
}

func sorted(ids []discordtest.ID) []discordtest.ID {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func TestForbiddenAtDiscordVoidsTheCase(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.SQLite)
	w.s.FailNext(banRoute, 1, 403)
	res := w.run(t, w.alice, "ban", w.bob)
	if res.Refused || res.Err == nil || res.Case == nil || res.Case.Status != cases.Voided {
		t.Fatalf("result %+v; want a failure with a voided case", res)
	}
	if !strings.Contains(res.Reply.Content, "lacks permission or the target is above gavel's role") ||
		!strings.Contains(res.Reply.Content, "is voided") {
		t.Errorf("reply %q", res.Reply.Content)
	}
	if _, ok := w.s.Banned(w.guild, w.bob); ok {
		t.Error("bob is banned")
	}
	if posted := w.s.Messages(w.modlog); len(posted) != 0 {
		t.Errorf("a failed ban posted %d mod-log messages", len(posted))
	}
}

func TestServerErrorsAreRetried(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.SQLite)
	w.s.FailNext(banRoute, 3, 500)
	succeeded(t, w.run(t, w.alice, "ban", w.bob), cases.Ban)
	if _, ok := w.s.Banned(w.guild, w.bob); !ok {
		t.Error("bob is not banned")
	}
	if n := w.s.FaultStats().Routes[banRoute].Failed; n != 3 {
		t.Errorf("the fake failed %d bans; want 3", n)
	}
}

func TestTwoModeratorsBanTheSameUser(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st.Engine())
		var wg sync.WaitGroup
		results := make([]moderation.Result, 2)
		for i, mod := range []discordtest.ID{w.alice, w.owner} {
			wg.Go(func() { results[i] = w.run(t, mod, "ban", w.bob) })
		}
		wg.Wait()
		var ok, already int
		for _, r := range results {
			switch {
			case r.Case != nil && r.Case.Status == cases.Active && r.Err == nil:
				ok++
			case r.Refused && strings.Contains(r.Reply.Content, "already banned"):
				already++
			default:
				t.Errorf("unexpected result %+v", r)
			}
		}
		if ok != 1 || already != 1 {
			t.Fatalf("%d bans and %d refusals; want one of each", ok, already)
		}
		if n, _ := w.cases.CountInGuild(context.Background(), discord.GuildID(w.guild)); n != 1 {
			t.Errorf("%d cases; want 1", n)
		}
		bans := 0
		for _, e := range w.s.AuditLog(w.guild) {
			if e.ActionType == discordtest.AuditMemberBanAdd {
				bans++
			}
		}
		if bans != 1 {
			t.Errorf("%d ban audit entries; want 1", bans)
		}
	})
}

func TestFiftyTargetsInParallel(t *testing.T) {
	t.Parallel()
	// Rate limits are the adapter's business (tested there); lifted here so the test
	// measures the pipeline, not the fake's buckets.
	w := newWorld(t, store.SQLite, discordtest.WithGlobalRateLimit(0), discordtest.WithRouteLimit("*", 0, 0))
	var wg sync.WaitGroup
	results := make([]moderation.Result, len(w.crowd))
	for i, u := range w.crowd {
		wg.Go(func() { results[i] = w.run(t, w.alice, "ban", u, func(r *moderation.Request) { r.Silent = true }) })
	}
	wg.Wait()
	numbers := map[int64]bool{}
	for i, r := range results {
		c := succeeded(t, r, cases.Ban)
		numbers[c.Number] = true
		if _, ok := w.s.Banned(w.guild, w.crowd[i]); !ok {
			t.Errorf("user %d is not banned", w.crowd[i])
		}
		if r.DM != moderation.DMSilent {
			t.Errorf("DM outcome %v; want silent", r.DM)
		}
	}
	if len(numbers) != len(w.crowd) {
		t.Errorf("%d distinct case numbers for %d bans", len(numbers), len(w.crowd))
	}
	w.modlogSettled(t)
	if n := len(w.s.Messages(w.modlog)); n != len(w.crowd) {
		t.Errorf("%d mod-log messages; want %d", n, len(w.crowd))
	}
}

// leavesOnDM is the real adapter, except that the target leaves the server while gavel is
// messaging them: between the checks and the kick.
type leavesOnDM struct {
	*disgoport.Adapter
	leave func()
}

func (p leavesOnDM) SendDM(ctx context.Context, userID discord.UserID, msg discord.Message) (discord.MessageRef, error) {
	ref, err := p.Adapter.SendDM(ctx, userID, msg)
	p.leave()
	return ref, err
}

func TestTargetLeftBeforeTheKick(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.SQLite)
	port := leavesOnDM{Adapter: w.port, leave: func() { w.s.UserLeaves(w.guild, w.carol) }}
	w.co = moderation.NewCoordinator(actions.Catalogue(), port, w.cases, w.settings, executor.New(executor.WithRetries(2, time.Millisecond, time.Millisecond)),
		moderation.WithBotUserID(discord.UserID(w.s.BotID())), moderation.WithDMTimeout(testDMTimeout))
	res := w.run(t, w.alice, "kick", w.carol)
	if res.Case == nil || res.Case.Status != cases.Voided || !strings.Contains(res.Reply.Content, "they left the server") {
		t.Fatalf("result %+v; want a voided case and a reply that says they left", res)
	}
	stored, err := w.cases.Get(context.Background(), res.Case.ID)
	if err != nil || stored.Status != cases.Voided {
		t.Errorf("stored case %+v, %v", stored, err)
	}
}

// While the ban breaker is open, a ban is refused before anything happens: no case, no DM,
// and a reply that says until when. The bans that opened it (500s, whose outcome Discord
// never told) stay pending for reconciliation.
func TestOpenBreakerRefusesBeforeAnySideEffect(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.SQLite)
	// Three bans fail through all four attempts each: the ban breaker opens.
	w.s.FailNext(banRoute, 12, 500)
	for _, u := range w.crowd[:3] {
		res := w.run(t, w.alice, "ban", u, func(r *moderation.Request) { r.Silent = true })
		if res.Case == nil || res.Case.Status != cases.Pending || !res.Pending || !strings.Contains(res.Reply.Content, "Discord failed (HTTP 500)") {
			t.Fatalf("failing ban: %+v", res)
		}
	}
	before, err := w.cases.CountInGuild(context.Background(), discord.GuildID(w.guild))
	if err != nil {
		t.Fatal(err)
	}
	target := w.crowd[3]
	res := w.run(t, w.alice, "ban", target)
	if !res.Refused || res.Case != nil || !strings.Contains(res.Reply.Content, "Discord has been failing ban requests") ||
		!strings.Contains(res.Reply.Content, "until <t:") || !strings.Contains(res.Reply.Content, "no DM") {
		t.Fatalf("ban while the breaker is open: %+v", res)
	}
	if n := w.s.FaultStats().Routes[banRoute].Failed; n != 12 {
		t.Errorf("the fake failed %d bans; the open breaker let %d through", n, n-12)
	}
	if dms := w.dms(target); len(dms) != 0 {
		t.Errorf("the refused ban's target got DMs: %+v", dms)
	}
	if after, err := w.cases.CountInGuild(context.Background(), discord.GuildID(w.guild)); err != nil || after != before {
		t.Errorf("cases %d → %d, %v; the refused ban recorded one", before, after, err)
	}
	// A warn makes no Discord call: the ban breaker does not concern it.
	succeeded(t, w.run(t, w.alice, "warn", target), cases.Warn)
}

func TestSoftbanBansAndUnbans(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.SQLite)
	succeeded(t, w.run(t, w.alice, "softban", w.bob), cases.Softban)
	if _, ok := w.s.Banned(w.guild, w.bob); ok {
		t.Error("bob is still banned after a softban")
	}
	if _, ok := w.s.Member(w.guild, w.bob); ok {
		t.Error("bob is still a member after a softban")
	}
	if e := w.lastAudit(t, discordtest.AuditMemberBanRemove); e.TargetID != w.bob {
		t.Errorf("unban audit entry %+v", e)
	}
}

// slowDM never answers a DM before its context ends.
type slowDM struct{ *disgoport.Adapter }

func (slowDM) SendDM(ctx context.Context, _ discord.UserID, _ discord.Message) (discord.MessageRef, error) {
	<-ctx.Done()
	return discord.MessageRef{}, ctx.Err()
}

func TestSlowDMDoesNotHoldTheBan(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.SQLite)
	w.co = moderation.NewCoordinator(actions.Catalogue(), slowDM{w.port}, w.cases, w.settings, executor.New(),
		moderation.WithBotUserID(discord.UserID(w.s.BotID())), moderation.WithDMTimeout(50*time.Millisecond))
	res := w.run(t, w.alice, "ban", w.bob)
	succeeded(t, res, cases.Ban)
	if res.DM != moderation.DMTimedOut || !strings.Contains(res.Reply.Content, "They may not have been messaged: Discord did not confirm the DM in time.") {
		t.Errorf("DM outcome %v, reply %q", res.DM, res.Reply.Content)
	}
	if _, ok := w.s.Banned(w.guild, w.bob); !ok {
		t.Error("bob is not banned")
	}
}
