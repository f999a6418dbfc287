package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord/gateway"
	"github.com/gavelbot/gavel/internal/discordtest"
)

// frontWorld is the plain world with the app at hand (its metrics show what gavel decided
// about a message it did not answer) and a manual clock.
type frontWorld struct {
	*world
	app *app.App
	clk *clock.Manual
}

func startFront(t *testing.T) *frontWorld {
	t.Helper()
	w := newWorld(t)
	fw := &frontWorld{world: w, clk: clock.NewManual(time.Now())}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newTestApp(ctx, w.config(), quietLogger(), app.WithClock(fw.clk),
		app.WithGatewayOptions(gateway.WithBackoff(10*time.Millisecond, 100*time.Millisecond)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	fw.app = a
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
	return fw
}

// botMessages are the bot's messages in a channel.
func (fw *frontWorld) botMessages(channel discordtest.ID) []discordtest.Message {
	var out []discordtest.Message
	for _, m := range fw.s.Messages(channel) {
		if m.AuthorID == fw.s.BotID() {
			out = append(out, m)
		}
	}
	return out
}

// say posts content as user in #general and returns the bot's next message there.
func (fw *frontWorld) say(t *testing.T, user discordtest.ID, content string) string {
	t.Helper()
	before := len(fw.botMessages(fw.general))
	fw.s.SendMessage(fw.general, user, content)
	var reply string
	waitFor(t, "the reply to "+clipFor(content), func() bool {
		if msgs := fw.botMessages(fw.general); len(msgs) > before {
			reply = msgs[before].Content
			return true
		}
		return false
	})
	return reply
}

// slash runs a slash command and returns its answer.
func (fw *frontWorld) slash(t *testing.T, guild, channel, user discordtest.ID, name string, opts ...discordtest.CommandOption) discordtest.Message {
	t.Helper()
	ia := fw.s.SlashCommand(guild, channel, user, name, opts...)
	var msg discordtest.Message
	waitFor(t, "the answer to /"+name, func() bool {
		msgs := ia.Responses()
		if len(msgs) == 0 || msgs[0].Flags&discordtest.MessageFlagLoading != 0 {
			return false
		}
		msg = msgs[0]
		return true
	})
	return msg
}

func clipFor(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// TestFrontEndRefusals: what a moderator sees of the command front end's refusals (issue
// 12), each changing nothing.
func TestFrontEndRefusals(t *testing.T) {
	t.Parallel()
	fw := startFront(t)
	cs, _ := fw.services(t)
	target, other := mention(fw.target), mention(fw.other)

	// One target per command: @b is not made the start of the reason, nobody is banned.
	reply := fw.say(t, fw.mod, "$ban "+target+" "+other+" raid")
	if !strings.Contains(reply, "One target per command: "+other+" is a second user") || !strings.Contains(reply, "run ban once for each of them") {
		t.Errorf("$ban @a @b raid: %q", reply)
	}
	// Unknown flags and flags the action does not take.
	if reply := fw.say(t, fw.owner, "$kick "+target+" rude -d 1h"); !strings.Contains(reply, "kick takes no -duration (-d)") {
		t.Errorf("$kick … -d 1h: %q", reply)
	}
	if reply := fw.say(t, fw.mod, "$warn "+target+" be nice -slient"); !strings.Contains(reply, "did you mean -silent?") {
		t.Errorf("$warn … -slient: %q", reply)
	}
	if reply := fw.say(t, fw.mod, "$warn "+target+" --bogus=3"); !strings.Contains(reply, "--bogus=3 is not a flag of warn") || !strings.Contains(reply, "warn takes -user, -reason (-r), -silent") {
		t.Errorf("$warn … --bogus=3: %q", reply)
	}
	for _, u := range []discordtest.ID{fw.target, fw.other} {
		if c, found := caseOf(t, cs, fw.guild, u, cases.Ban); found {
			t.Errorf("a refused command made case %+v", c)
		}
		if _, found := caseOf(t, cs, fw.guild, u, cases.Warn); found {
			t.Errorf("a refused command warned %s", u)
		}
	}
	for _, u := range []discordtest.ID{fw.target, fw.other} {
		if _, banned := fw.s.Banned(fw.guild, u); banned {
			t.Errorf("%s is banned after a refused command", u)
		}
	}
	// A quoted dash-word is part of the reason.
	if reply := fw.say(t, fw.mod, "$warn "+target+` be nice "-slient"`); !strings.Contains(reply, "Case #1") {
		t.Errorf("$warn … \"-slient\": %q", reply)
	}
	if c, found := caseOf(t, cs, fw.guild, fw.target, cases.Warn); !found || c.Reason != `be nice "-slient"` {
		t.Errorf("warning %+v (found %v); want the reason with the quoted word", c, found)
	}

	// Durations are said in days, hours and minutes (not "1mo 2w 1d"), and a minus between
	// parts subtracts (1h-30m was refused as negative).
	if reply := fw.say(t, fw.mod, "$timeout "+other+" -d 45d raid"); !strings.Contains(reply, "45 days") || strings.Contains(reply, "1mo") {
		t.Errorf("$timeout … 45d: %q", reply)
	}
	if reply := fw.say(t, fw.mod, "$timeout "+other+" -d 1h-30m calm down"); !strings.Contains(reply, "Case #") {
		t.Errorf("$timeout … 1h-30m: %q", reply)
	}
	waitFor(t, "the timeout's DM", func() bool { return len(fw.s.DMsOf(fw.other)) > 0 })
	if dms := fw.s.DMsOf(fw.other); len(dms[len(dms)-1].Embeds) != 1 || !strings.Contains(string(dms[len(dms)-1].Embeds[0]), `"Duration","value":"30 minutes"`) {
		t.Errorf("the DM of a 1h-30m timeout does not say 30 minutes: %s", fmt.Sprint(dms[len(dms)-1].Embeds))
	}

	// A mistyped subcommand is named, with the list and the nearest one (the owner may use
	// config).
	if reply := fw.say(t, fw.owner, "$config rnaks"); !strings.Contains(reply, `Unknown subcommand "rnaks" of $config; it is one of: show, prefix`) || !strings.Contains(reply, "Did you mean $config ranks?") {
		t.Errorf("$config rnaks: %q", reply)
	}
	// The permission check comes before the arguments: a plain member is refused config,
	// not shown how to write config ranks set.
	reply = fw.say(t, fw.plain, "$config ranks set x")
	if !strings.Contains(reply, "Manage Server") || strings.Contains(reply, "Usage") || strings.Contains(reply, "rank must be") {
		t.Errorf("a plain member's $config ranks set x: %q", reply)
	}
	if reply := fw.say(t, fw.owner, "$config ranks set x"); !strings.Contains(reply, "Usage: $config ranks set") {
		t.Errorf("the owner's $config ranks set x: %q", reply)
	}
	// The slash form too, and it names its options as slash options.
	if m := fw.slash(t, fw.guild, fw.general, fw.mod, "tempban", discordtest.CommandOption{Name: "user", Type: discordtest.OptionUser, Value: fw.target}); !strings.Contains(m.Content, "/tempban needs the option duration:") || strings.Contains(m.Content, "-duration") {
		t.Errorf("/tempban without duration: %q", m.Content)
	}

	// A reply that quotes what was typed quotes an excerpt: a 5,000-character word gets an
	// answer Discord accepts (the fake refuses what Discord refuses, so no excerpt, no reply).
	word := strings.Repeat("w", 5000)
	for _, in := range []string{"$config " + word, "$kick " + target + " -" + word, "$ban " + word} {
		reply := fw.say(t, fw.owner, in)
		if n := len([]rune(reply)); n > 2000 || !strings.Contains(reply, strings.Repeat("w", 30)+"…") {
			t.Errorf("%.20q…: a reply of %d characters without a short excerpt: %.200q", in, n, reply)
		}
	}

	// Risky prefixes are refused with what is accepted; a space after the prefix is no command.
	for _, p := range []string{"a", "7", "@here", "<@1>"} {
		if reply := fw.say(t, fw.owner, "$config prefix "+p); !strings.Contains(reply, "Nothing was changed") || !strings.Contains(reply, "not a single letter or digit") {
			t.Errorf("$config prefix %s: %q", p, reply)
		}
	}
}

// TestPlainMemberAnsweredOnce: a member with no moderation standing who types moderation
// commands is answered once, then ignored for a minute (per guild and member); a slash
// refusal is always answered, ephemerally.
func TestPlainMemberAnsweredOnce(t *testing.T) {
	t.Parallel()
	fw := startFront(t)
	target := mention(fw.target)
	for range 3 {
		fw.s.SendMessage(fw.general, fw.plain, "$ban "+target+" spam")
	}
	waitFor(t, "three refusals", func() bool {
		return commandCount(t, fw.app, "ban", "refused") == 3 && len(fw.botMessages(fw.general)) >= 1
	})
	if msgs := fw.botMessages(fw.general); len(msgs) != 1 || !strings.Contains(msgs[0].Content, "Ban Members") {
		t.Fatalf("the bot answered %d times to three refused commands: %v; want once", len(msgs), msgs)
	}
	// A moderator refused a command above them is always told.
	for i := range 2 {
		fw.s.SendMessage(fw.general, fw.mod, "$kick "+target)
		waitFor(t, "the moderator's refusal", func() bool { return len(fw.botMessages(fw.general)) == 2+i })
	}
	// Slash refusals stay answered, and ephemeral.
	for range 2 {
		m := fw.slash(t, fw.guild, fw.general, fw.plain, "ban", discordtest.CommandOption{Name: "user", Type: discordtest.OptionUser, Value: fw.target})
		if !strings.Contains(m.Content, "Ban Members") || m.Flags&discordtest.MessageFlagEphemeral == 0 {
			t.Errorf("a plain member's /ban: %q (flags %d)", m.Content, m.Flags)
		}
	}
	// A minute on, the member is answered again.
	fw.clk.Advance(time.Minute)
	if reply := fw.say(t, fw.plain, "$ban "+target+" spam"); !strings.Contains(reply, "Ban Members") {
		t.Errorf("after a minute: %q", reply)
	}
	if n := commandCount(t, fw.app, "ban", "refused"); n != 6 {
		t.Errorf("%v refusals of ban counted; want 6 (4 prefix, 2 slash)", n)
	}
}

// TestCommandsInDirectMessages: a prefix command in a DM is answered as a slash command
// there is: use this in a server.
func TestCommandsInDirectMessages(t *testing.T) {
	t.Parallel()
	fw := startFront(t)
	dm := fw.s.OpenDM(fw.mod)
	fw.s.SendMessage(dm, fw.mod, "$ban "+mention(fw.target)+" spam")
	var reply string
	waitFor(t, "the answer in the DM", func() bool {
		if msgs := fw.botMessages(dm); len(msgs) > 0 {
			reply = msgs[0].Content
			return true
		}
		return false
	})
	if !strings.Contains(reply, "use this in a server") {
		t.Errorf("a prefix command in a DM: %q", reply)
	}
	if m := fw.slash(t, 0, dm, fw.mod, "ban", discordtest.CommandOption{Name: "user", Type: discordtest.OptionUser, Value: fw.target}); !strings.Contains(m.Content, "use this in a server") {
		t.Errorf("a slash command in a DM: %q", m.Content)
	}
}
