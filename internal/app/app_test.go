package app_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/gateway"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/store"
)

const botPerms = discordtest.PermBanMembers | discordtest.PermKickMembers | discordtest.PermManageRoles |
	discordtest.PermModerateMembers | discordtest.PermViewAuditLog | discordtest.PermViewChannel |
	discordtest.PermSendMessages | discordtest.PermReadMessageHistory | discordtest.PermEmbedLinks

type world struct {
	s                                       *discordtest.Server
	guild, owner, mod, target, other, plain discordtest.ID
	modRole, botRole, general               discordtest.ID
	dbURL                                   string
	// shards, when set, is discord.shards (a test whose processes each talk to a Discord of
	// their own gives an explicit list, so they do not divide one shard between them).
	shards string
}

func newWorld(t *testing.T, opts ...discordtest.Option) *world {
	t.Helper()
	// Real-sized snowflakes: the command parser takes only ids of Discord's length.
	const base = 700000000000000000
	w := &world{guild: base + 100, owner: base + 201, mod: base + 202, target: base + 203, other: base + 204, plain: base + 205,
		modRole: base + 301, botRole: base + 302, general: base + 401}
	seed := discordtest.Seed{
		Users: []discordtest.User{{ID: w.owner, Username: "owner"}, {ID: w.mod, Username: "mod"},
			{ID: w.target, Username: "target"}, {ID: w.other, Username: "other"}, {ID: w.plain, Username: "plain"}},
		Guilds: []discordtest.SeedGuild{{
			ID: w.guild, Name: "test guild", OwnerID: w.owner,
			Roles: []discordtest.Role{
				{ID: w.modRole, Name: "mods", Position: 1, Permissions: discordtest.PermBanMembers | discordtest.PermModerateMembers},
				{ID: w.botRole, Name: "gavel", Position: 2, Permissions: botPerms},
			},
			BotRoles: []discordtest.ID{w.botRole},
			Members: []discordtest.SeedMember{
				{UserID: w.owner}, {UserID: w.mod, Roles: []discordtest.ID{w.modRole}},
				{UserID: w.target}, {UserID: w.other}, {UserID: w.plain},
			},
			Channels: []discordtest.Channel{{ID: w.general, Type: discordtest.ChannelGuildText, Name: "general", Position: 1}},
		}},
	}
	// Discord's 3 seconds for an interaction's first answer run on the fake's wall clock here,
	// and a loaded -race run has taken just over 3 s to defer: the window is a bound that
	// only ends a hang. That gavel acknowledges in time is its code's part: it defers before
	// slow work (a slash command, an escalation's click: TestEscalationApproval checks the
	// callback type); discordtest's own tests enforce the 3 seconds.
	w.s = discordtest.New(t, append(unpaced(discordtest.WithSeed(seed), discordtest.WithLogger(quietLogger()),
		discordtest.WithInteractionWindow(eventBound)), opts...)...)
	w.dbURL = "sqlite:" + filepath.Join(t.TempDir(), "gavel.db")
	return w
}

func (w *world) config() config.Config {
	cfg := config.Default()
	cfg.Database.URL = w.dbURL
	cfg.Discord.Token = config.Secret(w.s.Token())
	cfg.Discord.APIURL = w.s.APIURL()
	cfg.Discord.GatewayURL = w.s.GatewayURL
	cfg.Discord.Guilds = []string{w.guild.String()}
	if w.shards != "" {
		cfg.Discord.Shards = w.shards
	}
	return cfg
}

func quietLogger() *slog.Logger {
	if os.Getenv("GAVEL_DEBUG_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// waitFor waits for cond, looked at again after 1 ms, then less and less often (up to
// every 50 ms: most conditions hold within a few milliseconds, and a busy -race run is not
// kept busier by the polls of a long wait); when the bound (eventBound: it only ends a
// failing test, and 15 s ran out under -race at load 20) runs out, it says what each show
// reports (what was found instead).
// unpaced is opts with the fake's default route limit and its global limit off; the
// bulk-ban route keeps its window of one call a second. The fake's limits run on the wall
// clock and gavel keeps to them, so a test that sends thirty commands waited a second every
// five replies in one channel, and a world that sends many waited more, on no assertion.
// Pacing is proven where it is the subject: discordtest's and disgoport's rate-limit tests
// (gavel's limiter against the fake's headers, in synctest bubbles), the mass-ban tests
// (the bulk-ban window, kept here) and cmd/gavel's TestShardedProcessesEndToEnd (the global
// limit shared by three processes).
func unpaced(opts ...discordtest.Option) []discordtest.Option {
	return append(opts, discordtest.WithRouteLimit("*", 0, 0), discordtest.WithGlobalRateLimit(0))
}

func waitFor(t *testing.T, what string, cond func() bool, show ...func() string) {
	t.Helper()
	deadline := time.Now().Add(eventBound)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			found := ""
			for _, f := range show {
				found += "; found " + f()
			}
			t.Fatalf("timed out waiting for %s%s", what, found)
		}
		time.Sleep(pause)
		pause = min(pause*2, 50*time.Millisecond)
	}
}

// botReply returns the first message of the bot in channel that contains want.
func (w *world) botReply(channel discordtest.ID, want string) (discordtest.Message, bool) {
	for _, m := range w.s.Messages(channel) {
		if m.AuthorID == w.s.BotID() && strings.Contains(m.Content, want) {
			return m, true
		}
	}
	return discordtest.Message{}, false
}

func TestRunEndToEnd(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := newTestApp(ctx, w.config(), quietLogger(), app.WithGatewayOptions(
		gateway.WithBackoff(10*time.Millisecond, 100*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	readyCtx, readyCancel := context.WithTimeout(ctx, eventBound)
	defer readyCancel()
	if err := w.s.WaitReady(readyCtx, 1); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	if got := len(w.s.Commands(w.guild)); got == 0 {
		t.Error("no slash commands registered in the guild")
	}

	t.Run("prefix warn", func(t *testing.T) {
		w.s.SendMessage(w.general, w.mod, "$warn <@"+w.target.String()+"> be nice")
		waitFor(t, "the warn reply", func() bool { _, ok := w.botReply(w.general, "Case #1"); return ok })
	})

	t.Run("slash ban", func(t *testing.T) {
		ia := w.s.SlashCommand(w.guild, w.general, w.mod, "ban",
			discordtest.UserOpt("user", w.target), discordtest.StringOpt("reason", "raid"))
		wctx, wcancel := context.WithTimeout(ctx, eventBound)
		defer wcancel()
		msgs, err := ia.WaitResponses(wctx, 1)
		if err != nil {
			t.Fatalf("WaitResponses: %v", err)
		}
		if msgs[0].Flags&discordtest.MessageFlagEphemeral == 0 {
			t.Error("the slash reply is public")
		}
		if !strings.Contains(msgs[0].Content, "Case #2") {
			t.Errorf("slash reply %q does not name Case #2", msgs[0].Content)
		}
		ban, ok := w.s.Banned(w.guild, w.target)
		if !ok {
			t.Fatal("the target is not banned")
		}
		if ban.Reason == nil || !strings.Contains(*ban.Reason, "raid") {
			t.Errorf("ban reason %v does not carry the moderator's reason", ban.Reason)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		w.s.SendMessage(w.general, w.plain, "$ban <@"+w.other.String()+"> nope")
		waitFor(t, "the prefix refusal", func() bool { _, ok := w.botReply(w.general, "Ban Members"); return ok })

		ia := w.s.SlashCommand(w.guild, w.general, w.plain, "ban", discordtest.UserOpt("user", w.other))
		wctx, wcancel := context.WithTimeout(ctx, eventBound)
		defer wcancel()
		msgs, err := ia.WaitResponses(wctx, 1)
		if err != nil {
			t.Fatalf("WaitResponses: %v", err)
		}
		if !strings.Contains(msgs[0].Content, "Ban Members") || msgs[0].Flags&discordtest.MessageFlagEphemeral == 0 {
			t.Errorf("slash refusal = %q (flags %d); want an ephemeral refusal naming Ban Members", msgs[0].Content, msgs[0].Flags)
		}
		if _, banned := w.s.Banned(w.guild, w.other); banned {
			t.Error("a member without permission banned someone")
		}
	})

	t.Run("usage error", func(t *testing.T) {
		w.s.SendMessage(w.general, w.mod, "$ban")
		waitFor(t, "the usage reply", func() bool { _, ok := w.botReply(w.general, "$ban <"); return ok })
	})

	t.Run("metrics", func(t *testing.T) {
		for _, want := range []struct{ command, outcome string }{{"warn", "ok"}, {"ban", "ok"}, {"ban", "refused"}} {
			if got := commandCount(t, a, want.command, want.outcome); got < 1 {
				t.Errorf("gavel_commands_total{command=%q,outcome=%q} = %v; want at least 1", want.command, want.outcome, got)
			}
		}
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(eventBound):
		t.Fatal("Run did not return after the context ended")
	}

	// The cases are in the database, after the App closed it.
	st, err := store.OpenURL(context.Background(), w.dbURL, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs := cases.NewService(st)
	for n, want := range map[int64]cases.Type{1: cases.Warn, 2: cases.Ban} {
		c, err := cs.GetByNumber(context.Background(), discord.GuildID(w.guild), n)
		if err != nil {
			t.Fatalf("case #%d: %v", n, err)
		}
		if c.Type != want || c.UserID != discord.UserID(w.target) || c.ModeratorID != discord.UserID(w.mod) || c.Status != cases.Active {
			t.Errorf("case #%d = %+v; want an active %s of the target by the moderator", n, c, want)
		}
	}
	if g, err := cs.Guild(context.Background(), discord.GuildID(w.guild)); err != nil {
		t.Errorf("the guild was not recorded as joined: %v", err)
	} else {
		t.Logf("guild record: %+v", g)
	}
}

// TestShutdownFinishesCommandsInFlight cancels Run while a ban waits on Discord: the ban is
// carried out, its case finalized and the moderator answered before Run returns.
func TestShutdownFinishesCommandsInFlight(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := newTestApp(ctx, w.config(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	readyCtx, readyCancel := context.WithTimeout(ctx, eventBound)
	defer readyCancel()
	if err := w.s.WaitReady(readyCtx, 1); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}

	w.s.SetLatency("PUT /guilds/{guild_id}/bans/{user_id}", 500*time.Millisecond)
	ia := w.s.SlashCommand(w.guild, w.general, w.mod, "ban", discordtest.UserOpt("user", w.target), discordtest.StringOpt("reason", "raid"))
	waitFor(t, "the deferral", ia.Acknowledged)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(eventBound):
		t.Fatal("Run did not return after the context ended")
	}
	if _, ok := w.s.Banned(w.guild, w.target); !ok {
		t.Error("the ban in flight was dropped by the shutdown")
	}
	msgs := ia.Responses()
	if len(msgs) == 0 || !strings.Contains(msgs[0].Content, "Case #1") {
		t.Errorf("responses after shutdown = %+v; want the deferred reply filled in with Case #1", msgs)
	}
}

func commandCount(t *testing.T, a *app.App, command, outcome string) float64 {
	t.Helper()
	families, err := a.Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "gavel_commands_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["command"] == command && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestRunWithoutPrivilegedIntents: Discord refuses the connection (4014) when the portal's
// intent toggles are off; Run says which ones to turn on, and leaves nothing running.
func TestRunWithoutPrivilegedIntents(t *testing.T) {
	t.Parallel()
	w := &world{}
	w.s = discordtest.New(t, discordtest.WithPrivilegedIntents(0))
	w.dbURL = "sqlite:" + filepath.Join(t.TempDir(), "gavel.db")
	cfg := w.config()
	cfg.Discord.Guilds = nil
	// The bound only ends a hang: 20 s ran out under -race at load 20-26 while gavel was still
	// opening its database and registering the commands, before the gateway's 4014.
	ctx, cancel := context.WithTimeout(context.Background(), eventBound)
	defer cancel()
	a, err := newTestApp(ctx, cfg, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	err = a.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "4014") || !strings.Contains(err.Error(), "Message Content") {
		t.Fatalf("Run = %v; want the 4014 close explained", err)
	}
	if len(w.s.Commands(0)) == 0 {
		t.Error("no global slash commands registered when no guild is configured")
	}
}
