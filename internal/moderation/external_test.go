package moderation_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

func TestRecordExternal(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st.Engine())
		ctx := context.Background()
		var mu sync.Mutex
		var observed []cases.Case
		w.co = moderation.NewCoordinator(actions.Catalogue(), w.port, w.cases, w.settings, executor.New(), moderation.WithBotUserID(discord.UserID(w.s.BotID())),
			moderation.WithDMTimeout(testDMTimeout),
			moderation.WithExternalActionObserver(func(_ context.Context, c cases.Case) {
				mu.Lock()
				defer mu.Unlock()
				observed = append(observed, c)
			}))
		if err := w.s.BanAs(w.guild, w.alice, w.bob, "raiding"); err != nil {
			t.Fatal(err)
		}
		entry := w.lastAudit(t, discordtest.AuditMemberBanAdd)
		ext := moderation.External{GuildID: discord.GuildID(w.guild), EntryID: int64(entry.ID), ModeratorID: discord.UserID(w.alice),
			UserID: discord.UserID(w.bob), Type: cases.Ban, Reason: entry.Reason}
		c, recorded, err := w.co.RecordExternal(ctx, ext)
		if err != nil || !recorded {
			t.Fatalf("RecordExternal = %v, %v", recorded, err)
		}
		if c.Type != cases.Ban || c.Status != cases.Active || c.ModeratorID != discord.UserID(w.alice) || c.UserID != discord.UserID(w.bob) ||
			c.Reason != "raiding" || c.Metadata[cases.MetaAuditLogEntry] != entry.ID.String() || c.Metadata["source"] != moderation.SourceAuditLog {
			t.Errorf("case = %+v", c)
		}
		// The target's name is kept on the case (read from the ban), so every later edit of
		// the mod-log message still names them.
		if got := c.Metadata[cases.MetaTargetName]; got != "bob" {
			t.Errorf("target_name = %q; want bob", got)
		}
		// Created active, the case was queued for the mod log in the same transaction.
		w.modlogSettled(t)
		if c, err = w.cases.Get(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		posted := w.s.Messages(w.modlog)
		if len(posted) != 1 || discord.MessageID(posted[0].ID) != c.ModlogMessageID || !strings.Contains(string(posted[0].Embeds[0]), "bob") ||
			!strings.Contains(string(posted[0].Embeds[0]), "alice") {
			t.Errorf("mod log = %+v; want the case's embed naming bob and alice, linked to the case (%d)", posted, c.ModlogMessageID)
		}
		if len(observed) != 1 || observed[0].ID != c.ID {
			t.Errorf("observer saw %+v; want the case", observed)
		}

		// The same entry again (a replayed event, or another process): no second case.
		again, recorded, err := w.co.RecordExternal(ctx, ext)
		if err != nil || recorded || again.ID != c.ID {
			t.Errorf("replay = %+v, %v, %v; want the first case, not recorded again", again, recorded, err)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := ext
				e.EntryID++
				e.Type, e.Reason = cases.Unban, ""
				if _, _, err := w.co.RecordExternal(ctx, e); err != nil {
					t.Errorf("concurrent replay: %v", err)
				}
			}()
		}
		wg.Wait()
		if n, _ := w.cases.CountInGuild(ctx, discord.GuildID(w.guild)); n != 2 {
			t.Errorf("%d cases after replays; want 2", n)
		}
		unban, err := w.cases.ByAuditLogEntry(ctx, discord.GuildID(w.guild), ext.EntryID+1)
		if err != nil || unban.Reason != "No reason provided" {
			t.Errorf("unban without a reason = %+v, %v; want the default reason", unban, err)
		}

		// Only the actions that declare it are mirrored: Discord's audit log has no warn.
		warn := ext
		warn.EntryID, warn.Type = ext.EntryID+30, cases.Warn
		if _, recorded, err := w.co.RecordExternal(ctx, warn); err == nil || recorded || !strings.Contains(err.Error(), "BAN, UNBAN, KICK, TIMEOUT, UNTIMEOUT") {
			t.Errorf("an external warn: recorded %v, %v; want it refused, naming the mirrored types", recorded, err)
		}
		// gavel's own entries already have cases.
		bot := ext
		bot.EntryID, bot.ModeratorID = ext.EntryID+10, discord.UserID(w.s.BotID())
		if _, recorded, err := w.co.RecordExternal(ctx, bot); err != nil || recorded {
			t.Errorf("gavel's own entry: recorded %v, %v", recorded, err)
		}
		// A guild that turned mirroring off gets no case.
		if _, err := w.settings.SetMirrorExternalActions(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), false); err != nil {
			t.Fatal(err)
		}
		off := ext
		off.EntryID = ext.EntryID + 20
		if _, recorded, err := w.co.RecordExternal(ctx, off); err != nil || recorded {
			t.Errorf("mirroring off: recorded %v, %v", recorded, err)
		}
		if n, _ := w.cases.CountInGuild(ctx, discord.GuildID(w.guild)); n != 2 {
			t.Errorf("%d cases; want still 2", n)
		}
		bad := ext
		bad.Type = cases.Warn
		if _, _, err := w.co.RecordExternal(ctx, bad); err == nil {
			t.Error("a WARN was accepted as an external action")
		}
	})
}

func TestRejail(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st.Engine())
		ctx := context.Background()
		auditlog := w.s.AddChannel(w.guild, discordtest.ChannelGuildText, "audit-log")
		if _, err := w.settings.SetChannel(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), settings.AuditLog, discord.ChannelID(auditlog)); err != nil {
			t.Fatal(err)
		}
		// Never jailed: nothing happens.
		if r, err := w.co.Rejail(ctx, discord.GuildID(w.guild), discord.UserID(w.carol)); err != nil || r.Done || r.Case.ID != 0 {
			t.Errorf("Rejail(never jailed) = %+v, %v", r, err)
		}
		jail := succeeded(t, w.run(t, w.alice, "jail", w.bob), cases.Jail)
		// The jail's mod-log post links its message in the history: let it land first, so
		// that the re-jail's note is the newest row.
		w.modlogSettled(t)
		w.s.UserLeaves(w.guild, w.bob)
		// bob comes back with the roles another bot gives on join.
		w.s.AddMember(w.guild, w.bob, w.member, w.managed)
		r, err := w.co.Rejail(ctx, discord.GuildID(w.guild), discord.UserID(w.bob))
		if err != nil || !r.Done || r.Case.ID != jail.ID || len(r.Taken) != 1 || r.Taken[0] != int64(w.member) {
			t.Fatalf("Rejail = %+v, %v; want done, taking the member role", r, err)
		}
		m, _ := w.s.Member(w.guild, w.bob)
		if !sameIDs(m.Roles, []discordtest.ID{w.managed, w.jailed}) {
			t.Errorf("bob's roles = %v; want the managed role and the jail role", m.Roles)
		}
		evs, err := w.cases.Events(ctx, jail.ID)
		if err != nil {
			t.Fatal(err)
		}
		last := evs[len(evs)-1]
		if last.Kind != cases.EventNote || !strings.HasPrefix(last.Note, "re-jailed on rejoin") || last.ActorID != discord.UserID(w.s.BotID()) {
			t.Errorf("last history row = %+v; want the re-jail note", last)
		}
		if msgs := w.s.Messages(auditlog); len(msgs) != 1 || !strings.Contains(string(msgs[0].Embeds[0]), "Re-jailed on rejoin") {
			t.Errorf("audit-log channel = %+v", msgs)
		}
		if entry := w.lastAudit(t, discordtest.AuditMemberRoleUpdate); !strings.Contains(entry.Reason, "Re-jail on rejoin") {
			t.Errorf("Discord's audit-log reason = %q", entry.Reason)
		}
		// Already as the jail left them: no second call, no second note.
		if r, err := w.co.Rejail(ctx, discord.GuildID(w.guild), discord.UserID(w.bob)); err != nil || r.Done {
			t.Errorf("second Rejail = %+v, %v; want nothing done", r, err)
		}
		// Another bot gives bob a role a few seconds after the join: the second look takes it.
		w.s.AddMember(w.guild, w.bob, w.jailed, w.managed, w.member)
		if r, err := w.co.Rejail(ctx, discord.GuildID(w.guild), discord.UserID(w.bob)); err != nil || !r.Done || len(r.Taken) != 1 || r.Taken[0] != int64(w.member) {
			t.Errorf("Rejail after an on-join role = %+v, %v; want the role taken", r, err)
		}
		evs, _ = w.cases.Events(ctx, jail.ID)
		if last := evs[len(evs)-1]; !strings.HasPrefix(last.Note, "re-jailed on rejoin: roles given since rejoining taken") {
			t.Errorf("last history row = %+v", last)
		}
		// Unjailed: rejoining is rejoining.
		succeeded(t, w.run(t, w.alice, "unjail", w.bob), cases.Unjail)
		w.s.UserLeaves(w.guild, w.bob)
		w.s.AddMember(w.guild, w.bob)
		if r, err := w.co.Rejail(ctx, discord.GuildID(w.guild), discord.UserID(w.bob)); err != nil || r.Done || r.Case.ID != 0 {
			t.Errorf("Rejail after unjail = %+v, %v", r, err)
		}
	})
}

func TestRejailFailureIsRecorded(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.SQLite)
	ctx := context.Background()
	jail := succeeded(t, w.run(t, w.alice, "jail", w.bob), cases.Jail)
	// As in TestRejail: the jail's mod-log link is a history row too; let it land first so
	// that the failure's note is the newest row.
	w.modlogSettled(t)
	w.s.UserLeaves(w.guild, w.bob)
	w.s.AddMember(w.guild, w.bob)
	w.s.FailNext("PATCH /guilds/{guild_id}/members/{user_id}", 1, 403)
	if _, err := w.co.Rejail(ctx, discord.GuildID(w.guild), discord.UserID(w.bob)); err == nil {
		t.Fatal("a refused re-jail reported no error")
	}
	evs, _ := w.cases.Events(ctx, jail.ID)
	if last := evs[len(evs)-1]; last.Kind != cases.EventNote || !strings.HasPrefix(last.Note, "re-jail on rejoin failed") {
		t.Errorf("last history row = %+v; want the failure noted", last)
	}
}

func TestDenyJailRole(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.SQLite)
	ctx := context.Background()
	jailChannel := w.s.AddChannel(w.guild, discordtest.ChannelGuildText, "jail")
	if _, err := w.settings.SetChannel(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), settings.JailChannel, discord.ChannelID(jailChannel)); err != nil {
		t.Fatal(err)
	}
	auditlog := w.s.AddChannel(w.guild, discordtest.ChannelGuildText, "audit-log")
	if _, err := w.settings.SetChannel(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), settings.AuditLog, discord.ChannelID(auditlog)); err != nil {
		t.Fatal(err)
	}
	fresh := w.s.AddChannel(w.guild, discordtest.ChannelGuildText, "fresh")
	done, err := w.co.DenyJailRole(ctx, discord.GuildID(w.guild), discord.ChannelID(fresh), "fresh")
	if err != nil || !done {
		t.Fatalf("DenyJailRole = %v, %v", done, err)
	}
	c, _ := w.s.Channel(fresh)
	want := discordtest.PermViewChannel | discordtest.PermSendMessages
	if len(c.PermissionOverwrites) != 1 || c.PermissionOverwrites[0].ID != w.jailed || c.PermissionOverwrites[0].Deny != want || c.PermissionOverwrites[0].Allow != 0 {
		t.Errorf("overwrites = %+v; want the jail role denied View Channel and Send Messages", c.PermissionOverwrites)
	}
	if msgs := w.s.Messages(auditlog); len(msgs) != 1 || !strings.Contains(string(msgs[0].Embeds[0]), "Jail role denied") {
		t.Errorf("audit-log channel = %+v", msgs)
	}
	// A channel where gavel may not send: Discord refuses an overwrite naming a permission
	// the bot lacks there, so only View Channel is denied, and the report says so.
	quiet := w.s.AddChannel(w.guild, discordtest.ChannelGuildText, "announcements",
		discordtest.Overwrite{ID: w.botRole, Type: 0, Deny: discordtest.PermSendMessages})
	if done, err := w.co.DenyJailRole(ctx, discord.GuildID(w.guild), discord.ChannelID(quiet), "announcements"); err != nil || !done {
		t.Fatalf("DenyJailRole where gavel may not send = %v, %v", done, err)
	}
	c, _ = w.s.Channel(quiet)
	if ow := c.PermissionOverwrites[len(c.PermissionOverwrites)-1]; ow.ID != w.jailed || ow.Deny != discordtest.PermViewChannel || ow.Allow != 0 {
		t.Errorf("overwrites = %+v; want the jail role denied View Channel only", c.PermissionOverwrites)
	}
	if msgs := w.s.Messages(auditlog); len(msgs) != 2 || !strings.Contains(string(msgs[1].Embeds[0]), "Send Messages was left as it is") {
		t.Errorf("audit-log channel = %+v; want the second report to say Send Messages was left", msgs)
	}
	// A channel gavel cannot see: nothing is tried, the audit log says why.
	hidden := w.s.AddChannel(w.guild, discordtest.ChannelGuildText, "staff",
		discordtest.Overwrite{ID: w.botRole, Type: 0, Deny: discordtest.PermViewChannel})
	if done, err := w.co.DenyJailRole(ctx, discord.GuildID(w.guild), discord.ChannelID(hidden), "staff"); err == nil || done {
		t.Errorf("DenyJailRole in a channel gavel cannot see = %v, %v; want an error", done, err)
	}
	if msgs := w.s.Messages(auditlog); len(msgs) != 3 || !strings.Contains(string(msgs[2].Embeds[0]), "gavel cannot see it") {
		t.Errorf("audit-log channel = %+v; want the third report to say gavel cannot see the channel", msgs)
	}
	if done, err := w.co.DenyJailRole(ctx, discord.GuildID(w.guild), discord.ChannelID(jailChannel), "jail"); err != nil || done {
		t.Errorf("the jail channel itself: %v, %v; want left alone", done, err)
	}
	if c, _ := w.s.Channel(jailChannel); len(c.PermissionOverwrites) != 0 {
		t.Errorf("jail channel overwrites = %+v", c.PermissionOverwrites)
	}
	if _, err := w.settings.SetJailRole(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), 0); err != nil {
		t.Fatal(err)
	}
	other := w.s.AddChannel(w.guild, discordtest.ChannelGuildText, "other")
	if done, err := w.co.DenyJailRole(ctx, discord.GuildID(w.guild), discord.ChannelID(other), "other"); err != nil || done {
		t.Errorf("no jail role: %v, %v; want nothing done", done, err)
	}
}

func TestReconcile(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st.Engine())
		// The cases' age is read from a clock the test moves, not waited for.
		clk := clock.NewManual(time.Now().UTC().Truncate(time.Millisecond))
		w.withCases(t, cases.WithClock(clk.Now))
		w.co = moderation.NewCoordinator(actions.Catalogue(), w.port, w.cases, w.settings, w.exec,
			moderation.WithBotUserID(discord.UserID(w.s.BotID())), moderation.WithCoordinatorClock(clk.Now), moderation.WithDMTimeout(testDMTimeout))
		ctx := context.Background()
		if err := w.s.BanAs(w.guild, w.owner, w.carol, "by hand"); err != nil {
			t.Fatal(err)
		}
		if err := w.s.BanAs(w.guild, w.owner, w.crowd[2], "by hand"); err != nil {
			t.Fatal(err)
		}
		pending := func(user discordtest.ID, typ cases.Type) cases.Case {
			c, err := w.cases.Create(ctx, cases.New{GuildID: discord.GuildID(w.guild), UserID: discord.UserID(user), ModeratorID: discord.UserID(w.alice),
				Type: typ, Status: cases.Pending, Reason: "crashed"})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		type want struct {
			c      cases.Case
			status cases.Status
		}
		wants := []want{
			{pending(w.carol, cases.Ban), cases.Active},          // the ban exists
			{pending(w.dave, cases.Hackban), cases.Voided},       // no ban
			{pending(w.crowd[0], cases.Kick), cases.Voided},      // still a member
			{pending(w.crowd[1], cases.Timeout), cases.Voided},   // not timed out
			{pending(w.crowd[2], cases.Unban), cases.Voided},     // still banned
			{pending(w.bob, cases.Jail), cases.Voided},           // no jail role
			{pending(w.crowd[3], cases.Warn), cases.Active},      // no Discord call
			{pending(w.crowd[4], cases.Untimeout), cases.Active}, // not timed out
		}
		// A minute old only once the clock says so: until then, none is touched.
		if r, err := w.co.Reconcile(ctx, discord.GuildID(w.guild), time.Minute); err != nil || r.Activated+r.Voided != 0 || !r.RecheckAt.Equal(clk.Now().Add(time.Minute)) {
			t.Fatalf("Reconcile of cases younger than a minute = %+v, %v; want none settled, a recheck a minute on", r, err)
		}
		clk.Advance(time.Minute)
		r, err := w.co.Reconcile(ctx, discord.GuildID(w.guild), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if r.Activated != 3 || r.Voided != 5 || !r.RecheckAt.IsZero() {
			t.Errorf("Reconcile = %+v; want 3 activated, 5 voided, nothing left", r)
		}
		w.modlogSettled(t)
		for _, wt := range wants {
			c, err := w.cases.Get(ctx, wt.c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if c.Status != wt.status {
				t.Errorf("case #%d (%s) is %s; want %s", c.Number, c.Type, c.Status, wt.status)
			}
			evs, _ := w.cases.Events(ctx, c.ID)
			if settled := evs[1]; !strings.HasPrefix(settled.Note, "reconciled at start-up: ") || settled.ActorID != discord.UserID(w.s.BotID()) ||
				settled.Old != string(cases.Pending) || settled.New != string(wt.status) {
				t.Errorf("case #%d history after creation = %+v; want the reconciliation", c.Number, settled)
			}
			if (c.Status == cases.Active) != (c.ModlogMessageID != 0) {
				t.Errorf("case #%d (%s): mod-log message %d; want one exactly for the activated cases", c.Number, c.Status, c.ModlogMessageID)
			}
		}

		// A young pending case may be another process's action in flight: left alone, and
		// the caller is told when to look again.
		young := pending(w.crowd[5], cases.Warn)
		r, err = w.co.Reconcile(ctx, discord.GuildID(w.guild), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if r.Activated+r.Voided != 0 || r.RecheckAt.Before(young.CreatedAt.Add(time.Hour-time.Second)) {
			t.Errorf("Reconcile with a young case = %+v", r)
		}
		if c, _ := w.cases.Get(ctx, young.ID); c.Status != cases.Pending {
			t.Errorf("the young case is %s; want still pending", c.Status)
		}
	})
}

func sameIDs(got, want []discordtest.ID) bool {
	if len(got) != len(want) {
		return false
	}
	seen := map[discordtest.ID]bool{}
	for _, id := range got {
		seen[id] = true
	}
	for _, id := range want {
		if !seen[id] {
			return false
		}
	}
	return true
}
