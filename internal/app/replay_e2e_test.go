package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/gateway"
	"github.com/gavelbot/gavel/internal/discordtest"
)

// runApp runs gavel on the world until the test ends, waits until it is connected, and
// returns it.
func (w *world) runApp(t *testing.T, opts ...app.Option) *app.App {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newTestApp(ctx, w.config(), quietLogger(), append([]app.Option{app.WithGatewayOptions(
		gateway.WithBackoff(10*time.Millisecond, 100*time.Millisecond))}, opts...)...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(eventBound):
			t.Error("Run did not return after the context ended")
		}
	})
	readyCtx, readyCancel := context.WithTimeout(ctx, eventBound)
	defer readyCancel()
	if err := w.s.WaitReady(readyCtx, 1); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return a
}

// A gateway replay repeats events gavel already handled (a RESUME from a sequence saved a
// little behind). Each command is handled once: a replayed prefix or slash action makes no
// second case, no second Discord action and no second reply; a replayed tool changes
// nothing and says nothing; a replayed refusal is not answered again.
func TestReplayedCommandsAreHandledOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	modlogChannel := w.s.AddChannel(w.guild, discordtest.ChannelGuildText, "mod-log")
	cs, gs := w.services(t)
	a := w.runApp(t)
	ctx := context.Background()
	replayed := func(command string) float64 { return commandCount(t, a, command, "replayed") }
	botMessages := func() int {
		n := 0
		for _, m := range w.s.Messages(w.general) {
			if m.AuthorID == w.s.BotID() {
				n++
			}
		}
		return n
	}

	// A prefix action.
	warn := w.s.SendMessage(w.general, w.owner, "$warn <@"+w.target.String()+"> be nice")
	waitFor(t, "the warn's reply", func() bool { return botMessages() == 1 })
	if err := w.s.RedeliverMessage(warn.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replayed warn to be dropped", func() bool { return replayed("warn") == 1 })

	// A slash action.
	ia := w.s.SlashCommand(w.guild, w.general, w.owner, "warn", discordtest.UserOpt("user", w.target), discordtest.StringOpt("reason", "again"))
	rctx, cancel := context.WithTimeout(ctx, eventBound)
	defer cancel()
	if _, err := ia.WaitResponses(rctx, 1); err != nil {
		t.Fatal(err)
	}
	w.s.RedeliverInteraction(ia)
	waitFor(t, "the replayed slash warn to be dropped", func() bool { return replayed("warn") == 2 })
	if n := len(ia.Responses()); n != 1 {
		t.Errorf("the slash warn was answered %d times; want once", n)
	}

	// A tool that writes: the replay would say "already set" if it ran again.
	modlog := w.s.SendMessage(w.general, w.owner, "$config channel modlog <#"+modlogChannel.String()+">")
	waitFor(t, "the mod-log change's reply", func() bool { return botMessages() == 2 })
	if err := w.s.RedeliverMessage(modlog.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replayed mod-log change to be dropped", func() bool { return replayed("config channel") == 1 })

	// A refused command (warning the owner is refused).
	refused := w.s.SendMessage(w.general, w.mod, "$warn <@"+w.owner.String()+"> hi")
	waitFor(t, "the refusal", func() bool { return botMessages() == 3 })
	if err := w.s.RedeliverMessage(refused.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replayed refusal to be dropped", func() bool { return replayed("warn") == 3 })

	if n := botMessages(); n != 3 {
		t.Errorf("%d replies in the channel; want 3 (one per command)", n)
	}
	if n, _ := cs.CountInGuild(ctx, discord.GuildID(w.guild)); n != 2 {
		t.Errorf("%d cases; want 2", n)
	}
	g, err := gs.Get(ctx, discord.GuildID(w.guild))
	if err != nil || g.ModlogChannelID != discord.ChannelID(modlogChannel) {
		t.Errorf("mod-log channel %v, %v", g.ModlogChannelID, err)
	}
	if dms := w.s.Messages(w.s.OpenDM(w.target)); len(dms) != 2 {
		t.Errorf("the target got %d DMs; want 2 (one per warn)", len(dms))
	}
	for _, m := range w.s.Messages(w.general) {
		if m.AuthorID == w.s.BotID() && strings.Contains(m.Content, "already") {
			t.Errorf("a replay was answered: %q", m.Content)
		}
	}
}
