package tools

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/moderation/actions"
)

var tNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func runPurge(t *testing.T, env *Env, call Call, line string, scanCap int) Reply {
	t.Helper()
	p := &purger{env: env, scanCap: scanCap}
	return p.run(context.Background(), call, parse(t, purgeSpec(), line))
}

// fill adds n messages by author to general, one a second, the newest a minute before now.
func fill(p *chanPort, author int64, n int, newest time.Time) []int64 {
	ids := make([]int64, n)
	for i := range n {
		ids[i] = p.add(ctGeneral, author, newest.Add(-time.Duration(i)*time.Second))
	}
	return ids
}

func TestPurgeSlashDeletesInBulkCallsOf100(t *testing.T) {
	t.Parallel()
	port := newChanPort()
	env := chanEnv(t, port, tNow)
	fill(port, tSpammer, 160, tNow.Add(-time.Minute))
	r := runPurge(t, env, modCall(tNow, true), "$purge 150", PurgeScanCap)
	wantText(t, r, OK, fmt.Sprintf("Deleted 150 messages in <#%d>.", ctGeneral))
	if r.Transient {
		t.Error("a slash reply is marked transient; only the prefix reply is deleted later")
	}
	if len(port.bulkCalls) != 2 || len(port.bulkCalls[0].ids) != 100 || len(port.bulkCalls[1].ids) != 50 {
		t.Fatalf("bulk calls = %d; want one of 100 then one of 50", len(port.bulkCalls))
	}
	if got, want := port.bulkCalls[0].reason, fmt.Sprintf("mod (%d): purge 150", tMod); got != want {
		t.Errorf("audit-log reason = %q; want %q", got, want)
	}
	if got := port.live(ctGeneral); got != 10 {
		t.Errorf("%d messages left; want the 10 oldest", got)
	}
	// The newest went first.
	if port.bulkCalls[0].ids[0] < port.bulkCalls[1].ids[0] {
		t.Error("the first bulk call did not hold the newest messages")
	}
	entries := port.auditEntries()
	if len(entries) != 1 || len(entries[0].Embeds) != 1 {
		t.Fatalf("audit-log entries = %+v; want one embed", entries)
	}
	e := entries[0].Embeds[0]
	if !strings.Contains(e.Description, "deleted 150 messages") || !strings.Contains(fieldsText(e), "none") ||
		!strings.Contains(fieldsText(e), fmt.Sprint(tMod)) {
		t.Errorf("audit-log entry = %+v; want who, where, how many and the filter", e)
	}
	if entries[0].AllowedMentions == nil {
		t.Error("the audit-log entry may ping")
	}
}

func fieldsText(e discord.Embed) string {
	var b strings.Builder
	for _, f := range e.Fields {
		b.WriteString(f.Name + ": " + f.Value + "\n")
	}
	return b.String()
}

func TestPurgePrefixDeletesItsOwnMessageUncounted(t *testing.T) {
	t.Parallel()
	port := newChanPort()
	env := chanEnv(t, port, tNow)
	fill(port, tSpammer, 5, tNow.Add(-time.Minute))
	own := port.add(ctGeneral, tMod, tNow)
	call := modCall(tNow, false)
	call.MessageID = discord.MessageID(own)
	r := runPurge(t, env, call, "$p 1", PurgeScanCap)
	wantText(t, r, OK, "Deleted 1 message in")
	if !r.Transient {
		t.Error("the prefix reply is not transient")
	}
	if len(port.bulkCalls) != 1 || len(port.bulkCalls[0].ids) != 2 || port.bulkCalls[0].ids[0] != own {
		t.Fatalf("bulk calls = %+v; want one holding the command's message and the newest message", port.bulkCalls)
	}
	if got := port.live(ctGeneral); got != 4 {
		t.Errorf("%d messages left; want 4", got)
	}
}

func TestPurgePrefixInAnotherChannelDeletesTheCommandSeparately(t *testing.T) {
	t.Parallel()
	port := newChanPort()
	const spam int64 = 900000000000000404
	port.addChannel(discord.Channel{ID: discord.ChannelID(spam), GuildID: discord.GuildID(ctGuild), Type: discord.ChannelPublicThread, ParentID: discord.ChannelID(ctGeneral)})
	env := chanEnv(t, port, tNow)
	for i := range 3 {
		port.add(spam, tSpammer, tNow.Add(-time.Duration(i+1)*time.Minute))
	}
	own := port.add(ctGeneral, tMod, tNow)
	call := modCall(tNow, false)
	call.MessageID = discord.MessageID(own)
	r := runPurge(t, env, call, fmt.Sprintf("$purge 3 -channel <#%d>", spam), PurgeScanCap)
	wantText(t, r, OK, fmt.Sprintf("Deleted 3 messages in <#%d>.", spam))
	if port.live(spam) != 0 || len(port.deletes) != 1 || port.deletes[0] != own {
		t.Errorf("left %d in the thread, single deletes %v; want the thread emptied and the command deleted", port.live(spam), port.deletes)
	}
}

func TestPurgeUserFilterScansPages(t *testing.T) {
	t.Parallel()
	port := newChanPort()
	env := chanEnv(t, port, tNow)
	// 250 messages, every tenth by the spammer: the 20 wanted span three pages.
	var spam []int64
	for i := range 250 {
		author := ctOwner
		if i%10 == 0 {
			author = tSpammer
		}
		id := port.add(ctGeneral, author, tNow.Add(-time.Duration(i+1)*time.Second))
		if author == tSpammer {
			spam = append(spam, id)
		}
	}
	r := runPurge(t, env, modCall(tNow, true), fmt.Sprintf("$purge 20 -user <@%d>", tSpammer), PurgeScanCap)
	wantText(t, r, OK, fmt.Sprintf("Deleted 20 messages from <@%d> in <#%d>.", tSpammer, ctGeneral))
	if port.live(ctGeneral) != 230 {
		t.Errorf("%d left; want 230", port.live(ctGeneral))
	}
	if len(port.bulkCalls) != 1 || !strings.Contains(port.bulkCalls[0].reason, fmt.Sprintf("purge 20 from user %d", tSpammer)) {
		t.Errorf("bulk calls = %+v; want one, its reason naming the filter", port.bulkCalls)
	}
	for _, id := range port.bulkCalls[0].ids {
		found := false
		for _, s := range spam {
			found = found || s == id
		}
		if !found {
			t.Fatalf("deleted %d, not one of the spammer's", id)
		}
	}
	if e := port.auditEntries(); len(e) != 1 || !strings.Contains(fieldsText(e[0].Embeds[0]), fmt.Sprintf("<@%d>", tSpammer)) {
		t.Errorf("audit-log entry %+v does not name the filter", e)
	}
}

func TestPurgeScanCapStopsAndSaysSo(t *testing.T) {
	t.Parallel()
	port := newChanPort()
	env := chanEnv(t, port, tNow)
	fill(port, ctOwner, 400, tNow.Add(-time.Minute))
	port.add(ctGeneral, tSpammer, tNow.Add(-time.Hour)) // beyond the cap
	r := runPurge(t, env, modCall(tNow, true), fmt.Sprintf("$purge 5 -user <@%d>", tSpammer), 250)
	wantText(t, r, OK, "No messages from", "stopped after looking through the newest 250 messages", "found 0 of the 5")
	if len(port.bulkCalls) != 0 || len(port.auditEntries()) != 0 {
		t.Errorf("bulk calls = %d, audit-log entries %d; want none: nothing was deleted", len(port.bulkCalls), len(port.auditEntries()))
	}
}

func TestPurgeSkipsMessagesOlderThan14Days(t *testing.T) {
	t.Parallel()
	port := newChanPort()
	env := chanEnv(t, port, tNow)
	fill(port, tSpammer, 3, tNow.Add(-time.Hour))
	fill(port, tSpammer, 4, tNow.Add(-15*24*time.Hour))
	r := runPurge(t, env, modCall(tNow, true), "$purge 10", PurgeScanCap)
	wantText(t, r, OK, "Deleted 3 messages", "4 messages older than 14 days were skipped", "There are no more messages there.")
	if port.live(ctGeneral) != 4 {
		t.Errorf("%d left; want the 4 old ones", port.live(ctGeneral))
	}
	for _, c := range port.bulkCalls {
		for _, id := range c.ids {
			if discord.SnowflakeTime(id).Before(tNow.Add(-BulkDeleteMaxAge)) {
				t.Errorf("an old message %d was sent to bulk delete", id)
			}
		}
	}
	if e := port.auditEntries(); len(e) != 1 || !strings.Contains(fieldsText(e[0].Embeds[0]), "older than 14 days") {
		t.Errorf("audit-log entry %+v does not say how many were skipped", e)
	}
}

func TestPurgeRefusals(t *testing.T) {
	t.Parallel()
	spec := purgeSpec().Link()
	for _, line := range []string{"$purge 0", "$purge 501", "$purge", "$purge ten", "$purge 5 -user nobody"} {
		_, ok, err := commands.ParsePrefix([]*commands.Spec{spec}, "$", line)
		var usage *commands.UsageError
		if !ok || err == nil || !asUsage(err, &usage) {
			t.Errorf("%q: ok %v err %v; want a usage error", line, ok, err)
			continue
		}
		if (strings.Contains(line, "0") || line == "$purge ten") && !strings.Contains(usage.Error(), "1 to 500") {
			t.Errorf("%q: %q does not say 1 to 500", line, usage.Error())
		}
	}

	t.Run("missing permission", func(t *testing.T) {
		port := newChanPort()
		port.channels[ctGeneral].Overwrites = []discord.Overwrite{{ID: ctBotRole, Type: discord.OverwriteRole, Deny: permManageMessages | permReadMessageHistory}}
		env := chanEnv(t, port, tNow)
		fill(port, tSpammer, 5, tNow.Add(-time.Minute))
		r := runPurge(t, env, modCall(tNow, true), "$purge 5", PurgeScanCap)
		wantText(t, r, Refused, "I need Manage Messages and Read Message History in", "Nothing was deleted")
		if len(port.bulkCalls) != 0 || port.live(ctGeneral) != 5 || len(port.auditEntries()) != 0 {
			t.Error("a refused purge deleted or logged something")
		}
	})
	t.Run("another guild's channel", func(t *testing.T) {
		port := newChanPort()
		env := chanEnv(t, port, tNow)
		r := runPurge(t, env, modCall(tNow, true), fmt.Sprintf("$purge 5 -c <#%d>", tOther), PurgeScanCap)
		wantText(t, r, Refused, "is not a channel of this server")
	})
	t.Run("a forum", func(t *testing.T) {
		port := newChanPort()
		const forum int64 = 900000000000000405
		port.addChannel(discord.Channel{ID: discord.ChannelID(forum), GuildID: discord.GuildID(ctGuild), Type: discord.ChannelGuildForum})
		env := chanEnv(t, port, tNow)
		r := runPurge(t, env, modCall(tNow, true), fmt.Sprintf("$purge 5 -channel %d", forum), PurgeScanCap)
		wantText(t, r, Refused, "it is a forum", "Accepted: text channels, threads, voice channels, announcement channels")
	})
	t.Run("unknown channel", func(t *testing.T) {
		port := newChanPort()
		env := chanEnv(t, port, tNow)
		r := runPurge(t, env, modCall(tNow, true), "$purge 5 -channel 900000000000000999", PurgeScanCap)
		wantText(t, r, Refused, "cannot find or see", "does not exist")
	})
}

func asUsage(err error, out **commands.UsageError) bool {
	u, ok := err.(*commands.UsageError)
	*out = u
	return ok
}

func TestPurgeDiscordFailureMidway(t *testing.T) {
	t.Parallel()
	port := newChanPort()
	port.failBulkFrom = 2
	port.failBulkErr = &discord.Error{Op: "bulk delete", Status: http.StatusForbidden, Code: discord.CodeMissingPermissions, Message: "Missing Permissions"}
	env := chanEnv(t, port, tNow)
	fill(port, tSpammer, 150, tNow.Add(-time.Minute))
	r := runPurge(t, env, modCall(tNow, false), "$purge 150", PurgeScanCap)
	wantText(t, r, Failed, "Deleted 100 messages", "before Discord failed", "lacks a permission", "50 were not deleted")
	if r.Err == nil || r.Transient {
		t.Errorf("err %v transient %v; want the error kept and the reply left in place", r.Err, r.Transient)
	}
	if e := port.auditEntries(); len(e) != 1 || !strings.Contains(fieldsText(e[0].Embeds[0]), "Stopped") {
		t.Errorf("audit-log entry %+v does not record the partial purge", e)
	}
}

func TestPurgeBreakerOpenIsExplained(t *testing.T) {
	t.Parallel()
	port := newChanPort()
	env := chanEnv(t, port, tNow)
	env.Exec = executor.New(executor.WithRetries(1, time.Millisecond, time.Millisecond),
		executor.WithBreaker(executor.OpRead, executor.BreakerPolicy{Failures: 1, Recovery: time.Hour}))
	port.failChannel = &discord.Error{Op: "get channel", Status: http.StatusBadGateway, Message: "Bad Gateway"}
	runPurge(t, env, modCall(tNow, true), "$purge 5", PurgeScanCap)
	r := runPurge(t, env, modCall(tNow, true), "$purge 5", PurgeScanCap)
	wantText(t, r, Failed, "Discord has been failing read requests", "Nothing was deleted")
}

func TestChannelPermissions(t *testing.T) {
	t.Parallel()
	g := discord.Guild{ID: 1, OwnerID: 9, Roles: []discord.Role{
		{ID: 1, Permissions: permViewChannel},
		{ID: 2, Permissions: permManageMessages},
		{ID: 3, Permissions: permAdministrator},
	}}
	m := discord.Member{User: discord.User{ID: 5}, Roles: []discord.RoleID{2}}
	cases := []struct {
		name string
		m    discord.Member
		ows  []discord.Overwrite
		want uint64
	}{
		{"roles joined", m, nil, permViewChannel | permManageMessages},
		{"owner has all", discord.Member{User: discord.User{ID: 9}}, nil, permAll},
		{"administrator has all", discord.Member{User: discord.User{ID: 5}, Roles: []discord.RoleID{3}}, []discord.Overwrite{{ID: 1, Deny: permViewChannel}}, permAll},
		{"everyone denied view", m, []discord.Overwrite{{ID: 1, Type: discord.OverwriteRole, Deny: permViewChannel}}, 0},
		{"role allow beats everyone deny", m, []discord.Overwrite{
			{ID: 1, Type: discord.OverwriteRole, Deny: permViewChannel},
			{ID: 2, Type: discord.OverwriteRole, Allow: permViewChannel}}, permViewChannel | permManageMessages},
		{"role allow beats role deny", discord.Member{User: discord.User{ID: 5}, Roles: []discord.RoleID{2, 4}}, []discord.Overwrite{
			{ID: 2, Type: discord.OverwriteRole, Deny: permManageMessages},
			{ID: 4, Type: discord.OverwriteRole, Allow: permManageMessages}}, permViewChannel | permManageMessages},
		{"member deny last", m, []discord.Overwrite{
			{ID: 2, Type: discord.OverwriteRole, Allow: permReadMessageHistory},
			{ID: 5, Type: discord.OverwriteMember, Deny: permManageMessages}}, permViewChannel | permReadMessageHistory},
	}
	for _, c := range cases {
		if got := channelPermissions(g, c.m, c.ows); got != c.want {
			t.Errorf("%s: %b; want %b", c.name, got, c.want)
		}
	}
}

// TestNamesDoNotShadowActions: the app tries the catalogue first, so a tool name or alias
// that is also an action's would never reach the tool.
func TestNamesDoNotShadowActions(t *testing.T) {
	t.Parallel()
	cat := actions.Catalogue()
	for _, spec := range []*commands.Spec{purgeSpec(), slowmodeSpec()} {
		for _, name := range append([]string{spec.Name}, spec.Aliases...) {
			if a, ok := cat.Lookup(name); ok {
				t.Errorf("%s's name %q is also the action %s's", spec.Name, name, a.Name)
			}
		}
	}
}
