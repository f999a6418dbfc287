package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/settings"
)

// channelWorld is a guild for purge and slowmode: gavel and the moderators may manage
// messages and channels, except in #locked, where gavel may not manage messages; the
// audit-log channel is set.
type channelWorld struct {
	*world
	spam, locked, auditLog, thread discordtest.ID
}

func newChannelWorld(t *testing.T) *channelWorld {
	t.Helper()
	const base = 710000000000000000
	w := &channelWorld{world: &world{guild: base + 100, owner: base + 201, mod: base + 202, target: base + 203, other: base + 204,
		plain: base + 205, modRole: base + 301, botRole: base + 302, general: base + 401},
		spam: base + 402, locked: base + 403, auditLog: base + 404, thread: base + 405}
	perms := botPerms | discordtest.PermManageMessages | discordtest.PermManageChannels
	seed := discordtest.Seed{
		Users: []discordtest.User{{ID: w.owner, Username: "owner"}, {ID: w.mod, Username: "mod"},
			{ID: w.target, Username: "target"}, {ID: w.other, Username: "other"}, {ID: w.plain, Username: "plain"}},
		Guilds: []discordtest.SeedGuild{{
			ID: w.guild, Name: "channel guild", OwnerID: w.owner,
			Roles: []discordtest.Role{
				{ID: w.modRole, Name: "mods", Position: 1, Permissions: discordtest.PermManageMessages | discordtest.PermManageChannels},
				{ID: w.botRole, Name: "gavel", Position: 2, Permissions: perms},
			},
			BotRoles: []discordtest.ID{w.botRole},
			Members: []discordtest.SeedMember{{UserID: w.owner}, {UserID: w.mod, Roles: []discordtest.ID{w.modRole}},
				{UserID: w.target}, {UserID: w.other}, {UserID: w.plain}},
			Channels: []discordtest.Channel{
				{ID: w.general, Type: discordtest.ChannelGuildText, Name: "general", Position: 1},
				{ID: w.spam, Type: discordtest.ChannelGuildText, Name: "spam", Position: 2},
				{ID: w.locked, Type: discordtest.ChannelGuildText, Name: "locked", Position: 3, PermissionOverwrites: []discordtest.Overwrite{
					{ID: w.botRole, Type: 0, Deny: discordtest.PermManageMessages}}},
				{ID: w.auditLog, Type: discordtest.ChannelGuildText, Name: "audit-log", Position: 4},
				{ID: w.thread, Type: discordtest.ChannelPublicThread, Name: "a thread", ParentID: w.general},
			},
		}},
	}
	w.s = discordtest.New(t, unpaced(discordtest.WithSeed(seed), discordtest.WithLogger(quietLogger()))...)
	w.dbURL = "sqlite:" + filepath.Join(t.TempDir(), "gavel.db")

	// The guild set its audit-log channel before this run.
	ctx := context.Background()
	st := w.openStore(t)
	if _, err := settings.NewService(st).SetChannel(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), settings.AuditLog, discord.ChannelID(w.auditLog)); err != nil {
		t.Fatal(err)
	}
	return w
}

// start runs the App until the test ends; stop cancels it and waits for Run to return.
func (w *channelWorld) start(t *testing.T, opts ...app.Option) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newTestApp(ctx, w.config(), quietLogger(), opts...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	readyCtx, readyCancel := context.WithTimeout(ctx, eventBound)
	defer readyCancel()
	if err := w.s.WaitReady(readyCtx, 1); err != nil {
		cancel()
		t.Fatalf("WaitReady: %v", err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(eventBound):
			t.Fatal("Run did not return after the context ended")
		}
	}
	t.Cleanup(func() { stop() })
	return stop
}

// fill posts n messages by author in channel, one a second, the newest age ago.
func (w *channelWorld) fill(channel, author discordtest.ID, n int, age time.Duration) {
	now := time.Now()
	for i := range n {
		w.s.AddMessage(channel, author, "spam "+strconv.Itoa(i), now.Add(-age-time.Duration(n-i)*time.Second))
	}
}

func (w *channelWorld) count(channel discordtest.ID, author discordtest.ID) int {
	n := 0
	for _, m := range w.s.Messages(channel) {
		if m.AuthorID == author {
			n++
		}
	}
	return n
}

// slash runs a slash command and returns its one (ephemeral) answer.
func (w *channelWorld) slash(t *testing.T, channel discordtest.ID, name string, opts ...discordtest.CommandOption) string {
	t.Helper()
	ia := w.s.SlashCommand(w.guild, channel, w.mod, name, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), eventBound)
	defer cancel()
	msgs, err := ia.WaitResponses(ctx, 1)
	if err != nil {
		t.Fatalf("/%s: %v", name, err)
	}
	if msgs[0].Flags&discordtest.MessageFlagEphemeral == 0 {
		t.Errorf("/%s answered publicly", name)
	}
	return msgs[0].Content
}

// prefix sends a prefix command and waits for the bot's reply in channel containing want.
func (w *channelWorld) prefix(t *testing.T, channel discordtest.ID, line, want string) discordtest.Message {
	t.Helper()
	w.s.SendMessage(channel, w.mod, line)
	var reply discordtest.Message
	waitFor(t, fmt.Sprintf("a reply to %q containing %q", line, want), func() bool {
		var ok bool
		reply, ok = w.botReply(channel, want)
		return ok
	})
	return reply
}

// replies counts the bot's messages in channel that contain want.
func (w *channelWorld) replies(channel discordtest.ID, want string) int {
	n := 0
	for _, m := range w.s.Messages(channel) {
		if m.AuthorID == w.s.BotID() && strings.Contains(m.Content, want) {
			n++
		}
	}
	return n
}

// auditLogEntries returns the embeds gavel posted in the audit-log channel, as text: the
// description, then each field as "name: value".
func (w *channelWorld) auditLogEntries(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, m := range w.s.Messages(w.auditLog) {
		for _, raw := range m.Embeds {
			var e struct {
				Description string `json:"description"`
				Fields      []struct {
					Name  string `json:"name"`
					Value string `json:"value"`
				} `json:"fields"`
			}
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			text := e.Description
			for _, f := range e.Fields {
				text += "\n" + f.Name + ": " + f.Value
			}
			out = append(out, text)
		}
	}
	return out
}

// bulkDeleted sums the messages Discord's audit log says gavel deleted in channel with a
// reason (in bulk, or one alone when a batch holds a single message), and the calls.
func (w *channelWorld) bulkDeleted(t *testing.T, channel discordtest.ID, reason string) (messages, calls int) {
	t.Helper()
	for _, e := range w.s.AuditLog(w.guild) {
		if e.Reason != reason {
			continue
		}
		var opts struct {
			Count     string         `json:"count"`
			ChannelID discordtest.ID `json:"channel_id"`
		}
		if err := json.Unmarshal(e.Options, &opts); err != nil {
			t.Fatal(err)
		}
		bulk := e.ActionType == discordtest.AuditMessageBulkDelete && e.TargetID == channel
		single := e.ActionType == discordtest.AuditMessageDelete && opts.ChannelID == channel
		if !bulk && !single {
			continue
		}
		n, _ := strconv.Atoi(opts.Count)
		messages += n
		calls++
	}
	return messages, calls
}

func TestPurgeEndToEnd(t *testing.T) {
	t.Parallel()
	w := newChannelWorld(t)
	// Transient replies wait on a manual clock: one stays until the test moves it.
	clk := clock.NewManual(time.Now().UTC())
	const delay = 5 * time.Second
	w.start(t, app.WithClock(clk), app.WithTransientReplyDelay(delay))
	ch := func(id discordtest.ID) string { return "<#" + id.String() + ">" }
	modReason := func(what string) string { return fmt.Sprintf("mod (%s): %s", w.mod, what) }

	t.Run("prefix purge 1 deletes the command too, and the reply after the delay", func(t *testing.T) {
		w.fill(w.general, w.target, 3, time.Minute)
		reply := w.prefix(t, w.general, "$purge 1", "Deleted 1 message in "+ch(w.general)+".")
		if got := w.count(w.general, w.target); got != 2 {
			t.Errorf("%d of the target's messages left; want 2", got)
		}
		if got := w.count(w.general, w.mod); got != 0 {
			t.Error("the command's message was not deleted")
		}
		if n, calls := w.bulkDeleted(t, w.general, modReason("purge 1")); n != 2 || calls != 1 {
			t.Errorf("bulk deleted %d in %d calls with the reason; want 2 (the command and one message) in 1", n, calls)
		}
		// Still there until the delay has passed, then gone. (Its timer is the one armed for
		// exactly the delay from now: the expiry poller and the mod log's worker wait on the
		// same clock, for other instants.)
		at := clk.Now().Add(delay)
		waitFor(t, "the timer of the reply's deletion", func() bool { return slices.ContainsFunc(clk.Armed(), at.Equal) })
		clk.Advance(delay - time.Millisecond)
		if _, ok := w.botReply(w.general, "Deleted 1 message"); !ok {
			t.Error("the reply was deleted before the delay passed")
		}
		clk.Advance(time.Millisecond)
		waitFor(t, "the reply to be deleted", func() bool {
			for _, m := range w.s.Messages(w.general) {
				if m.ID == reply.ID {
					return false
				}
			}
			return true
		})
		entries := w.auditLogEntries(t)
		if len(entries) != 1 || !strings.Contains(entries[0], "deleted 1 message in "+ch(w.general)) ||
			!strings.Contains(entries[0], w.mod.String()) || !strings.Contains(entries[0], "none") {
			t.Errorf("audit-log channel = %q; want one entry saying who, where, how many and no filter", entries)
		}
	})

	t.Run("slash purge 150 takes two bulk calls", func(t *testing.T) {
		w.fill(w.spam, w.target, 160, time.Minute)
		got := w.slash(t, w.spam, "purge", discordtest.IntOpt("count", 150))
		if want := "Deleted 150 messages in " + ch(w.spam) + "."; !strings.Contains(got, want) {
			t.Fatalf("reply %q; want %q", got, want)
		}
		if left := w.count(w.spam, w.target); left != 10 {
			t.Errorf("%d left; want the 10 oldest", left)
		}
		if n, calls := w.bulkDeleted(t, w.spam, modReason("purge 150")); n != 150 || calls != 2 {
			t.Errorf("bulk deleted %d in %d calls; want 150 in 2", n, calls)
		}
	})

	t.Run("prefix purge 500, the most", func(t *testing.T) {
		w.fill(w.spam, w.other, 520, time.Minute)
		before := w.count(w.spam, w.target) + w.count(w.spam, w.other)
		w.prefix(t, w.spam, "$purge 500", "Deleted 500 messages in "+ch(w.spam)+".")
		if left := w.count(w.spam, w.target) + w.count(w.spam, w.other); left != before-500 {
			t.Errorf("%d left of %d; want 500 fewer", left, before)
		}
		// 501 with the command: five bulk calls and the last one alone.
		if n, calls := w.bulkDeleted(t, w.spam, modReason("purge 500")); n != 501 || calls != 6 {
			t.Errorf("deleted %d in %d calls; want 500 and the command in 6", n, calls)
		}
	})

	t.Run("0 and 501 are refused", func(t *testing.T) {
		before := len(w.s.Messages(w.spam))
		for i, line := range []string{"$purge 0", "$purge 501"} {
			w.s.SendMessage(w.spam, w.mod, line)
			waitFor(t, "the refusal of "+line, func() bool { return w.replies(w.spam, "1 to 500") == i+1 })
		}
		for _, n := range []int{0, 501} {
			if got := w.slash(t, w.spam, "purge", discordtest.IntOpt("count", n)); !strings.Contains(got, "1 to 500") {
				t.Errorf("/purge count:%d = %q; want the bounds", n, got)
			}
		}
		// The two commands (and the bot's two refusals) are all that changed.
		if got := len(w.s.Messages(w.spam)); got != before+4 {
			t.Errorf("%d messages in #spam; want %d: nothing deleted", got, before+4)
		}
	})

	t.Run("user filter", func(t *testing.T) {
		now := time.Now()
		for i := range 30 {
			author := w.other
			if i%3 == 0 {
				author = w.target
			}
			w.s.AddMessage(w.general, author, "m", now.Add(-time.Duration(60-i)*time.Second))
		}
		targetBefore, otherBefore := w.count(w.general, w.target), w.count(w.general, w.other)
		got := w.slash(t, w.general, "purge", discordtest.IntOpt("count", 5), discordtest.UserOpt("user", w.target))
		if want := fmt.Sprintf("Deleted 5 messages from <@%s> in %s.", w.target, ch(w.general)); !strings.Contains(got, want) {
			t.Fatalf("reply %q; want %q", got, want)
		}
		if w.count(w.general, w.target) != targetBefore-5 || w.count(w.general, w.other) != otherBefore {
			t.Error("the filter deleted the wrong messages")
		}
		entries := w.auditLogEntries(t)
		if last := entries[len(entries)-1]; !strings.Contains(last, "messages of <@"+w.target.String()+">") {
			t.Errorf("audit-log entry %q does not name the filter", last)
		}
		if n, _ := w.bulkDeleted(t, w.general, modReason(fmt.Sprintf("purge 5 from user %s", w.target))); n != 5 {
			t.Errorf("bulk deleted %d with the filter's reason; want 5", n)
		}
	})

	t.Run("messages older than 14 days are skipped", func(t *testing.T) {
		const old = 15 * 24 * time.Hour
		w.fill(w.thread, w.target, 4, old)
		w.fill(w.thread, w.target, 2, time.Hour)
		got := w.slash(t, w.general, "purge", discordtest.IntOpt("count", 10), discordtest.ChannelOpt("channel", w.thread))
		for _, want := range []string{"Deleted 2 messages in " + ch(w.thread), "4 messages older than 14 days were skipped"} {
			if !strings.Contains(got, want) {
				t.Errorf("reply %q; want %q", got, want)
			}
		}
		if left := w.count(w.thread, w.target); left != 4 {
			t.Errorf("%d left in the thread; want the 4 old ones", left)
		}
	})

	t.Run("missing permission", func(t *testing.T) {
		w.fill(w.locked, w.target, 3, time.Minute)
		w.prefix(t, w.general, "$purge 3 -channel "+ch(w.locked), "I need Manage Messages in "+ch(w.locked))
		if got := w.count(w.locked, w.target); got != 3 {
			t.Errorf("%d left in #locked; want all 3", got)
		}
		got := w.slash(t, w.locked, "purge", discordtest.IntOpt("count", 3))
		if !strings.Contains(got, "I need Manage Messages") {
			t.Errorf("slash reply %q does not name the missing permission", got)
		}
	})

	t.Run("a member without Manage Messages", func(t *testing.T) {
		w.fill(w.general, w.target, 2, time.Minute)
		before := w.count(w.general, w.target)
		w.s.SendMessage(w.general, w.plain, "$purge 2")
		waitFor(t, "the refusal", func() bool { return w.replies(w.general, "You need the Manage Messages") == 1 })
		if w.count(w.general, w.target) != before {
			t.Error("a member without permission purged")
		}
	})
}

func TestSlowmodeEndToEnd(t *testing.T) {
	t.Parallel()
	w := newChannelWorld(t)
	w.start(t)
	ch := "<#" + w.general.String() + ">"
	rate := func() int { c, _ := w.s.Channel(w.general); return c.RateLimitPerUser }

	w.prefix(t, w.general, "$slowmode", "The slowmode in "+ch+" is off.")
	w.prefix(t, w.general, "$sm 2m5s", "Slowmode is now 2 minutes 5 seconds in "+ch+".")
	if rate() != 125 {
		t.Errorf("rate_limit_per_user = %d; want 125", rate())
	}
	if got := w.slash(t, w.general, "slowmode"); !strings.Contains(got, "The slowmode in "+ch+" is 2 minutes 5 seconds.") {
		t.Errorf("/slowmode = %q", got)
	}
	if got := w.slash(t, w.spam, "slowmode", discordtest.StringOpt("delay", "1h30m"), discordtest.ChannelOpt("channel", w.general)); !strings.Contains(got, "Slowmode is now 1 hour 30 minutes in "+ch) {
		t.Errorf("/slowmode delay:1h30m = %q", got)
	}
	if rate() != 5400 {
		t.Errorf("rate_limit_per_user = %d; want 5400", rate())
	}
	w.prefix(t, w.general, "$sm 21601", "Slowmode must be between 0 seconds (off) and 6 hours (21600 seconds).")
	if got := w.slash(t, w.general, "slowmode", discordtest.StringOpt("delay", "7h")); !strings.Contains(got, "between 0 seconds (off) and 6 hours") {
		t.Errorf("/slowmode delay:7h = %q", got)
	}
	if rate() != 5400 {
		t.Error("an out-of-range delay changed the slowmode")
	}
	w.prefix(t, w.general, "$sm off", "Slowmode is off in "+ch+".")
	if rate() != 0 {
		t.Errorf("rate_limit_per_user = %d after off", rate())
	}

	// Discord's audit log carries the moderator; gavel's audit-log channel one entry per change.
	var reasons []string
	for _, e := range w.s.AuditLog(w.guild) {
		if e.TargetID == w.general && e.Reason != "" {
			reasons = append(reasons, e.Reason)
		}
	}
	want := []string{fmt.Sprintf("mod (%s): slowmode 2m5s", w.mod), fmt.Sprintf("mod (%s): slowmode 1h30m", w.mod), fmt.Sprintf("mod (%s): slowmode off", w.mod)}
	if fmt.Sprint(reasons) != fmt.Sprint(want) {
		t.Errorf("audit-log reasons = %q; want %q", reasons, want)
	}
	entries := w.auditLogEntries(t)
	if len(entries) != 3 || !strings.Contains(entries[0], "2 minutes 5 seconds") || !strings.Contains(entries[2], "off") {
		t.Errorf("audit-log channel = %q; want three entries, before and after", entries)
	}
}

// TestTransientReplyDeletedAtShutdown: a shutdown neither waits out the reply's delay nor
// leaves the reply behind.
func TestTransientReplyDeletedAtShutdown(t *testing.T) {
	t.Parallel()
	w := newChannelWorld(t)
	// On a manual clock that never moves, the delay never passes: a shutdown that waited
	// for it would not return (stop fails the test).
	stop := w.start(t, app.WithClock(clock.NewManual(time.Now().UTC())), app.WithTransientReplyDelay(time.Hour))
	w.fill(w.general, w.target, 2, time.Minute)
	reply := w.prefix(t, w.general, "$purge 2", "Deleted 2 messages")
	stop()
	for _, m := range w.s.Messages(w.general) {
		if m.ID == reply.ID {
			t.Fatal("the purge reply outlived the shutdown")
		}
	}
}

// TestChannelToolsDiscordErrors: Discord's refusals are explained, an outage is retried.
func TestChannelToolsDiscordErrors(t *testing.T) {
	t.Parallel()
	w := newChannelWorld(t)
	w.start(t)
	ch := "<#" + w.general.String() + ">"

	t.Run("purge: 403 on the bulk delete", func(t *testing.T) {
		w.fill(w.general, w.target, 3, time.Minute)
		w.s.FailNext("POST /channels/{channel_id}/messages/bulk-delete", 1, 403)
		got := w.slash(t, w.general, "purge", discordtest.IntOpt("count", 3))
		if !strings.Contains(got, "No messages were deleted in "+ch) || !strings.Contains(got, "gavel lacks a permission") {
			t.Errorf("reply %q; want the 403 explained", got)
		}
		if w.count(w.general, w.target) != 3 {
			t.Error("messages went missing after a refused delete")
		}
	})
	t.Run("purge: a 500 is retried", func(t *testing.T) {
		w.s.FailNext("POST /channels/{channel_id}/messages/bulk-delete", 1, 500)
		if got := w.slash(t, w.general, "purge", discordtest.IntOpt("count", 3)); !strings.Contains(got, "Deleted 3 messages in "+ch) {
			t.Errorf("reply %q; want the purge done after the retry", got)
		}
	})
	t.Run("purge: an unknown channel", func(t *testing.T) {
		got := w.slash(t, w.general, "purge", discordtest.IntOpt("count", 3), discordtest.ChannelOpt("channel", 710000000000000999))
		if !strings.Contains(got, "cannot find or see the channel") {
			t.Errorf("reply %q; want the 404 explained", got)
		}
	})
	t.Run("slowmode: 403 on the change", func(t *testing.T) {
		w.s.FailNext("PATCH /channels/{channel_id}", 1, 403)
		got := w.slash(t, w.general, "slowmode", discordtest.StringOpt("delay", "30"))
		if !strings.Contains(got, "I could not change the slowmode of "+ch) || !strings.Contains(got, "It is still off") {
			t.Errorf("reply %q; want the 403 explained", got)
		}
		if c, _ := w.s.Channel(w.general); c.RateLimitPerUser != 0 {
			t.Error("the slowmode changed")
		}
		if n := len(w.auditLogEntries(t)); n != 1 {
			t.Errorf("%d audit-log entries; want only the purge that deleted something", n)
		}
	})
}

// TestToolCutShortByShutdown: a tool command still waiting on Discord when the shutdown
// gives up waiting (its timeout, or a second interrupt) is answered with why, before its
// own words on what was done.
func TestToolCutShortByShutdown(t *testing.T) {
	t.Parallel()
	w := newChannelWorld(t)
	w.fill(w.general, w.target, 3, time.Minute)
	stop := w.start(t, app.WithShutdownTimeout(time.Millisecond))
	const route = "GET /channels/{channel_id}/messages"
	w.s.SetLatency(route, time.Hour)
	ia := w.s.SlashCommand(w.guild, w.general, w.mod, "purge", discordtest.IntOpt("count", 2))
	waitFor(t, "purge to read the channel", func() bool { return w.s.FaultStats().Routes[route].Delayed > 0 })
	stop()
	msgs := ia.Responses()
	if len(msgs) == 0 || !strings.HasPrefix(msgs[len(msgs)-1].Content, "gavel is restarting and cut this command short. I could not read the messages of ") ||
		!strings.Contains(msgs[len(msgs)-1].Content, "Nothing was deleted") {
		t.Fatalf("responses %+v; want the restart named, then purge's own account", msgs)
	}
	if got := w.count(w.general, w.target); got != 3 {
		t.Errorf("%d of the target's messages left; want all 3", got)
	}
}
