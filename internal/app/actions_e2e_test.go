package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/settings"
)

// actionRow is one moderation action as TestEveryActionEndToEnd runs it: once as a prefix
// command and once as a slash command, each on a fresh target.
type actionRow struct {
	name   string // the subtest's name
	action string // the catalogue's name
	// member says the target is a member of the guild (false: a user who is not, a hackban).
	member bool
	// setup is a prefix command run first (silently) so that the action's precondition
	// holds; %s is the target's id.
	setup string
	// duration, purge and silent are the flags given; "" and -1 for none.
	duration string
	purge    int
	silent   bool
	want     cases.Type
	// expires is the case's length, for temporary actions.
	expires time.Duration
	// deleteSeconds is the ban's delete_message_seconds, for bans.
	deleteSeconds int
}

// Routes the actions call, as the fake names them.
const (
	routeBan     = "PUT /guilds/{guild_id}/bans/{user_id}"
	routeUnban   = "DELETE /guilds/{guild_id}/bans/{user_id}"
	routeKick    = "DELETE /guilds/{guild_id}/members/{user_id}"
	routeMember  = "PATCH /guilds/{guild_id}/members/{user_id}"
	routeMessage = "POST /channels/{channel_id}/messages"
)

// discordCalls is what each case type asks of Discord: the calls on the target, in order,
// and the audit-log entries they leave.
func discordCalls(t cases.Type) (routes []string, audit []int) {
	switch t {
	case cases.Ban, cases.Tempban, cases.Hackban:
		return []string{routeBan}, []int{discordtest.AuditMemberBanAdd}
	case cases.Softban:
		return []string{routeBan, routeUnban}, []int{discordtest.AuditMemberBanAdd, discordtest.AuditMemberBanRemove}
	case cases.Unban:
		return []string{routeUnban}, []int{discordtest.AuditMemberBanRemove}
	case cases.Kick:
		return []string{routeKick}, []int{discordtest.AuditMemberKick}
	case cases.Timeout, cases.Untimeout:
		return []string{routeMember}, []int{discordtest.AuditMemberUpdate}
	case cases.Jail, cases.Unjail:
		return []string{routeMember}, []int{discordtest.AuditMemberRoleUpdate}
	}
	// Warnings, notes and poll and snippet bans are gavel's own records.
	return nil, nil
}

func actionRows() []actionRow {
	const none = -1
	return []actionRow{
		{name: "ban", action: "ban", member: true, purge: 2, want: cases.Ban, deleteSeconds: 2 * 86400},
		// No DM: they are not in the server, so gavel shares none with them and Discord would
		// refuse it (the fake does too).
		{name: "ban of a non-member", action: "ban", purge: none, want: cases.Hackban},
		{name: "tempban", action: "tempban", member: true, duration: "2h", purge: none, want: cases.Tempban, expires: 2 * time.Hour},
		// A softban with no -purge deletes a day of messages.
		{name: "softban", action: "softban", member: true, purge: none, want: cases.Softban, deleteSeconds: 86400},
		{name: "unban", action: "unban", member: true, setup: "$ban <@%s> setup -silent", purge: none, want: cases.Unban},
		{name: "kick", action: "kick", member: true, purge: none, want: cases.Kick},
		{name: "kick silent", action: "kick", member: true, purge: none, silent: true, want: cases.Kick},
		{name: "timeout", action: "timeout", member: true, duration: "1h", purge: none, want: cases.Timeout, expires: time.Hour},
		{name: "timeout silent", action: "timeout", member: true, duration: "10m", purge: none, silent: true, want: cases.Timeout, expires: 10 * time.Minute},
		{name: "untimeout", action: "untimeout", member: true, setup: "$timeout <@%s> setup -d 1h -silent", purge: none, want: cases.Untimeout},
		{name: "warn", action: "warn", member: true, purge: none, want: cases.Warn},
		{name: "warn silent", action: "warn", member: true, purge: none, silent: true, want: cases.Warn},
		{name: "note", action: "note", member: true, purge: none, want: cases.Note},
		{name: "jail", action: "jail", member: true, duration: "3d", purge: none, want: cases.Jail, expires: 3 * 24 * time.Hour},
		{name: "unjail", action: "unjail", member: true, setup: "$jail <@%s> setup -silent", purge: none, want: cases.Unjail},
		{name: "pollban", action: "pollban", member: true, purge: none, want: cases.Pollban},
		{name: "pollunban", action: "pollunban", member: true, setup: "$pollban <@%s> setup -silent", purge: none, want: cases.Pollunban},
		{name: "snippetban", action: "snippetban", member: true, duration: "1w", purge: none, want: cases.Snippetban, expires: 7 * 24 * time.Hour},
		{name: "snippetunban", action: "snippetunban", member: true, setup: "$snippetban <@%s> setup -silent", purge: none, want: cases.Snippetunban},
	}
}

// actionsWorld is a guild with a mod-log channel and a jail role, a moderator who may use
// every action, and a fresh target for each row and front-end.
type actionsWorld struct {
	*world
	modlog, memberRole, jailRole discordtest.ID
	// targets holds the targets in the order the rows use them.
	targets []discordtest.ID

	mu     sync.Mutex
	served []discordtest.Served
}

func newActionsWorld(t *testing.T, rows []actionRow) *actionsWorld {
	t.Helper()
	const base = 720000000000000000
	w := &world{guild: base + 100, owner: base + 201, mod: base + 202, target: base + 203, other: base + 204, plain: base + 205,
		modRole: base + 301, botRole: base + 302, general: base + 401}
	aw := &actionsWorld{world: w, modlog: base + 402, memberRole: base + 303, jailRole: base + 304}
	modPerms := discordtest.PermBanMembers | discordtest.PermKickMembers | discordtest.PermModerateMembers | discordtest.PermManageRoles
	seed := discordtest.Seed{
		Users: []discordtest.User{{ID: w.owner, Username: "owner"}, {ID: w.mod, Username: "mod"}},
		Guilds: []discordtest.SeedGuild{{
			ID: w.guild, Name: "test guild", OwnerID: w.owner,
			// The jail takes the member role (below gavel) and gives the jail role; the
			// moderator is above both, so they can unjail too.
			Roles: []discordtest.Role{
				{ID: aw.memberRole, Name: "member", Position: 1},
				{ID: aw.jailRole, Name: "jailed", Position: 2},
				{ID: w.modRole, Name: "mods", Position: 3, Permissions: modPerms},
				{ID: w.botRole, Name: "gavel", Position: 4, Permissions: botPerms},
			},
			BotRoles: []discordtest.ID{w.botRole},
			Members:  []discordtest.SeedMember{{UserID: w.owner}, {UserID: w.mod, Roles: []discordtest.ID{w.modRole}}},
			Channels: []discordtest.Channel{
				{ID: w.general, Type: discordtest.ChannelGuildText, Name: "general", Position: 1},
				{ID: aw.modlog, Type: discordtest.ChannelGuildText, Name: "mod-log", Position: 2},
			},
		}},
	}
	// Where the targets who are not members of the guild share a server with the bot, as
	// Discord requires for a DM.
	elsewhere := discordtest.SeedGuild{ID: base + 110, Name: "another guild", OwnerID: w.owner}
	next := discordtest.ID(base + 1000)
	for _, r := range rows {
		for _, front := range []string{"prefix", "slash"} {
			id := next
			next++
			seed.Users = append(seed.Users, discordtest.User{ID: id, Username: fmt.Sprintf("%s-%s", strings.ReplaceAll(r.name, " ", "-"), front)})
			if r.member {
				seed.Guilds[0].Members = append(seed.Guilds[0].Members, discordtest.SeedMember{UserID: id, Roles: []discordtest.ID{aw.memberRole}})
			} else {
				elsewhere.Members = append(elsewhere.Members, discordtest.SeedMember{UserID: id})
			}
			aw.targets = append(aw.targets, id)
		}
	}
	seed.Guilds = append(seed.Guilds, elsewhere)
	w.s = discordtest.New(t, unpaced(discordtest.WithSeed(seed), discordtest.WithLogger(quietLogger()),
		discordtest.WithRequestObserver(func(s discordtest.Served) {
			aw.mu.Lock()
			defer aw.mu.Unlock()
			aw.served = append(aw.served, s)
		}))...)
	w.dbURL = "sqlite:" + filepath.Join(t.TempDir(), "gavel.db")
	return aw
}

// servedSince returns the REST calls answered since mark (a length of served).
func (aw *actionsWorld) servedSince(mark int) []discordtest.Served {
	aw.mu.Lock()
	defer aw.mu.Unlock()
	return append([]discordtest.Served(nil), aw.served[mark:]...)
}

func (aw *actionsWorld) servedMark() int {
	aw.mu.Lock()
	defer aw.mu.Unlock()
	return len(aw.served)
}

// prefix sends a prefix command as the moderator and returns gavel's answer in the channel.
func (aw *actionsWorld) prefix(t *testing.T, content string) discordtest.Message {
	t.Helper()
	before := len(aw.s.Messages(aw.general))
	aw.s.SendMessage(aw.general, aw.mod, content)
	var reply discordtest.Message
	waitFor(t, "the reply to "+content, func() bool {
		msgs := aw.s.Messages(aw.general)
		for _, m := range msgs[min(before, len(msgs)):] {
			if m.AuthorID == aw.s.BotID() {
				reply = m
				return true
			}
		}
		return false
	})
	return reply
}

var caseNumberRE = regexp.MustCompile(`\*\*Case #(\d+)\*\*`)

// replyCase returns the case number a success reply names.
func replyCase(t *testing.T, content string) int64 {
	t.Helper()
	m := caseNumberRE.FindStringSubmatch(content)
	if m == nil {
		t.Fatalf("reply %q names no case", content)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// TestEveryActionEndToEnd runs every moderation action of the catalogue through gavel, as a
// prefix and as a slash command, and checks everything it leaves behind: the reply, the
// case and its history, the Discord calls with their audit-log reason and the state they
// leave, the DM and its order relative to the Discord calls, and the mod-log embed.
func TestEveryActionEndToEnd(t *testing.T) {
	t.Parallel()
	rows := actionRows()
	catalogue := actions.Catalogue()
	for _, a := range catalogue.Actions() {
		if !slices.ContainsFunc(rows, func(r actionRow) bool { return r.action == a.Name }) {
			t.Errorf("the catalogue's %s has no row", a.Name)
		}
	}

	aw := newActionsWorld(t, rows)
	cs, gs := aw.services(t)
	ctx := context.Background()
	if _, err := gs.SetChannel(ctx, discord.GuildID(aw.guild), discord.UserID(aw.owner), settings.ModLog, discord.ChannelID(aw.modlog)); err != nil {
		t.Fatal(err)
	}
	if _, err := gs.SetJailRole(ctx, discord.GuildID(aw.guild), discord.UserID(aw.owner), discord.RoleID(aw.jailRole)); err != nil {
		t.Fatal(err)
	}
	entries := newHandledEntries()
	aw.start(t, app.WithUpkeepObserver(entries.observe))

	// Every case gavel answered with, to show at the end that no other was made (gavel's own
	// actions come back as audit-log events, and must not be mirrored as cases of their own).
	var numbers []int64
	targets := aw.targets
	for _, r := range rows {
		a, ok := catalogue.Lookup(r.action)
		if !ok {
			t.Fatalf("row %s: no action %s", r.name, r.action)
		}
		for _, front := range []string{"prefix", "slash"} {
			target := targets[0]
			targets = targets[1:]
			t.Run(r.name+"/"+front, func(t *testing.T) {
				if r.setup != "" {
					setup := aw.prefix(t, fmt.Sprintf(r.setup, target))
					numbers = append(numbers, replyCase(t, setup.Content))
				}
				numbers = append(numbers, aw.runAction(t, cs, a, r, front, target))
			})
		}
	}

	// The audit-log events of gavel's own actions arrive over the gateway, and must make no
	// case of their own. A replay of the last ban's entry, sent after them all, is handled
	// after them (a guild's entries are handled in order): once it is, a stray case would be
	// there.
	marker := aw.lastEntry(t, discordtest.AuditMemberBanAdd)
	aw.s.EmitAuditLogEntry(aw.guild, marker)
	entries.wait(t, marker.ID, 2)
	all, err := cs.Recent(ctx, discord.GuildID(aw.guild), time.Hour, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, c := range all {
		got = append(got, c.Number)
	}
	slices.Sort(got)
	slices.Sort(numbers)
	if !slices.Equal(got, numbers) {
		t.Errorf("cases in the guild: %v; want exactly those gavel answered with: %v", got, numbers)
	}
}

// runAction runs one row's action on target through one front-end, checks it, and returns
// its case number.
func (aw *actionsWorld) runAction(t *testing.T, cs *cases.Service, a *moderation.Action, r actionRow, front string, target discordtest.ID) int64 {
	ctx := context.Background()
	reason := fmt.Sprintf("%s by %s for target %s", r.action, front, target)
	memberBefore, _ := aw.s.Member(aw.guild, target)
	aw.checkPrecondition(t, r, target)
	auditMark := len(aw.s.AuditLog(aw.guild))
	servedMark := aw.servedMark()
	start := time.Now()

	var reply discordtest.Message
	if front == "prefix" {
		user := "<@" + target.String() + ">"
		if a.Target == moderation.TargetBanned {
			user = target.String()
		}
		cmd := fmt.Sprintf("$%s %s %s", r.action, user, reason)
		if r.duration != "" {
			cmd += " -d " + r.duration
		}
		if r.purge >= 0 {
			cmd += fmt.Sprintf(" -purge %d", r.purge)
		}
		if r.silent {
			cmd += " -silent"
		}
		reply = aw.prefix(t, cmd)
		if reply.Flags&discordtest.MessageFlagEphemeral != 0 || reply.ChannelID != aw.general {
			t.Errorf("prefix reply %+v is not a message in the channel", reply)
		}
	} else {
		opts := []discordtest.CommandOption{discordtest.UserOpt("user", target), discordtest.StringOpt("reason", reason)}
		if a.Target == moderation.TargetBanned {
			opts[0] = discordtest.StringOpt("user", target.String())
		}
		if r.duration != "" {
			opts = append(opts, discordtest.StringOpt("duration", r.duration))
		}
		if r.purge >= 0 {
			opts = append(opts, discordtest.IntOpt("purge", r.purge))
		}
		if r.silent {
			opts = append(opts, discordtest.BoolOpt("silent", true))
		}
		ia := aw.s.SlashCommand(aw.guild, aw.general, aw.mod, r.action, opts...)
		wctx, cancel := context.WithTimeout(ctx, eventBound)
		defer cancel()
		msgs, err := ia.WaitResponses(wctx, 1)
		if err != nil {
			t.Fatalf("/%s: %v", r.action, err)
		}
		reply = msgs[0]
		if reply.Flags&discordtest.MessageFlagEphemeral == 0 {
			t.Errorf("/%s answered publicly: %q", r.action, reply.Content)
		}
	}
	end := time.Now()

	// The reply.
	n := replyCase(t, reply.Content)
	checkPingsNobody(t, "the reply", reply)
	wantLine := fmt.Sprintf("**Case #%d** · %s <@%s>", n, strings.ToLower(string(r.want)), target)
	if !strings.HasPrefix(reply.Content, wantLine) {
		t.Errorf("reply %q does not start with %q", reply.Content, wantLine)
	}
	wantDM := a.DM != moderation.DMNone && !r.silent && r.member
	switch {
	case wantDM && !strings.Contains(reply.Content, "They were messaged about it."),
		r.silent && !strings.Contains(reply.Content, "They were not messaged (-silent)."),
		!r.member && a.DM != moderation.DMNone && !strings.Contains(reply.Content, "They were not messaged: they are not in the server"),
		a.DM == moderation.DMNone && strings.Contains(reply.Content, "They were"):
		t.Errorf("reply %q does not say what became of the DM (want one: %v, silent: %v)", reply.Content, wantDM, r.silent)
	}

	// The case and its history, once the mod log has posted the case (after the reply:
	// the mod log follows from its outbox).
	var c cases.Case
	waitFor(t, fmt.Sprintf("case #%d's mod-log message", n), func() bool {
		var err error
		c, err = cs.GetByNumber(ctx, discord.GuildID(aw.guild), n)
		if err != nil {
			t.Fatalf("case #%d: %v", n, err)
		}
		return c.ModlogMessageID != 0
	})
	if c.Type != r.want || c.Status != cases.Active || c.UserID != discord.UserID(target) || c.ModeratorID != discord.UserID(aw.mod) || c.Reason != reason {
		t.Errorf("case #%d = %+v; want an active %s of %s by the moderator, reason %q", n, c, r.want, target, reason)
	}
	if r.expires > 0 {
		if c.ExpiresAt.Before(start.Add(r.expires).Add(-time.Second)) || c.ExpiresAt.After(end.Add(r.expires).Add(time.Second)) {
			t.Errorf("case #%d expires at %v; want %v after the command (%v–%v)", n, c.ExpiresAt, r.expires, start, end)
		}
	} else if !c.ExpiresAt.IsZero() {
		t.Errorf("case #%d of a permanent action expires at %v", n, c.ExpiresAt)
	}
	evs, err := cs.Events(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 || evs[0].Kind != cases.EventCreated {
		t.Errorf("case #%d history %+v does not start with its creation", n, evs)
	}
	if !slices.ContainsFunc(evs, func(e cases.Event) bool {
		return e.Kind == cases.EventStatus && e.Old == string(cases.Pending) && e.New == string(cases.Active) && e.ActorID == discord.UserID(aw.mod)
	}) {
		t.Errorf("case #%d history %+v has no pending → active row by the moderator", n, evs)
	}
	if !slices.ContainsFunc(evs, func(e cases.Event) bool {
		return e.Kind == cases.EventModlog && e.New == strconv.FormatInt(int64(c.ModlogChannelID), 10)+"/"+strconv.FormatInt(int64(c.ModlogMessageID), 10)
	}) {
		t.Errorf("case #%d history %+v does not record its mod-log message %d", n, evs, c.ModlogMessageID)
	}

	// The Discord calls: which ones, their audit-log entries and reason, and the state left.
	wantRoutes, wantAudit := discordCalls(r.want)
	served := aw.servedSince(servedMark)
	var routes []string
	var actionStart time.Time
	for _, s := range served {
		if s.Params["user_id"] == target.String() && !strings.HasPrefix(s.Route, "GET ") {
			if len(routes) == 0 {
				actionStart = s.Start
			}
			routes = append(routes, s.Route)
			if s.Route == routeBan && !strings.Contains(string(s.Body), fmt.Sprintf(`"delete_message_seconds":%d`, r.deleteSeconds)) {
				t.Errorf("ban body %s; want delete_message_seconds %d", s.Body, r.deleteSeconds)
			}
		}
	}
	if !slices.Equal(routes, wantRoutes) {
		t.Errorf("calls on the target: %v; want %v", routes, wantRoutes)
	}
	var entries []discordtest.AuditLogEntry
	var types []int
	for _, e := range aw.s.AuditLog(aw.guild)[auditMark:] {
		if e.TargetID == target {
			entries = append(entries, e)
			types = append(types, e.ActionType)
		}
	}
	if !slices.Equal(types, wantAudit) {
		t.Errorf("audit-log entries on the target: %v; want %v", types, wantAudit)
	}
	wantReason := fmt.Sprintf("mod (%s): %s", aw.mod, reason)
	for _, e := range entries {
		if e.Reason != wantReason || e.UserID != aw.s.BotID() {
			t.Errorf("audit-log entry %d by %s with reason %q; want by gavel with %q", e.ActionType, e.UserID, e.Reason, wantReason)
		}
	}
	aw.checkState(t, r, c, target, memberBefore, wantReason)

	// The DM, and when it went out.
	var dms []discordtest.Message
	dmChannel, opened := aw.s.DMChannel(target)
	if opened {
		dms = aw.s.Messages(dmChannel)
	}
	switch {
	case !wantDM && len(dms) > 0:
		t.Errorf("%d DMs to the target; want none", len(dms))
	case wantDM && len(dms) != 1:
		t.Errorf("%d DMs to the target; want 1", len(dms))
	case wantDM:
		checkPingsNobody(t, "the DM", dms[0])
		dm := embedOf(t, dms[0])
		wantTitle := fmt.Sprintf("You have been %s in test guild", a.DMVerb)
		if dm.Title != wantTitle || dm.Description != reason || dm.Footer == nil || dm.Footer.Text != fmt.Sprintf("Case #%d", n) {
			t.Errorf("DM %+v; want %q with the reason and Case #%d", dm, wantTitle, n)
		}
		if r.expires > 0 && dm.field("Ends") == "" {
			t.Errorf("DM of a temporary action %+v says not when it ends", dm)
		}
		var dmStart time.Time
		for _, s := range served {
			if s.Route == routeMessage && s.Params["channel_id"] == dmChannel.String() {
				dmStart = s.Start
			}
		}
		if len(entries) == 0 {
			break // warn: nothing on Discord to be before or after
		}
		before := dms[0].ID < entries[0].ID && dmStart.Before(actionStart)
		after := dms[0].ID > entries[len(entries)-1].ID && dmStart.After(actionStart)
		if a.DM == moderation.DMBefore && !before {
			t.Errorf("DM %s (sent %v) is not before the action's first audit-log entry %s (called %v)", dms[0].ID, dmStart, entries[0].ID, actionStart)
		}
		if a.DM == moderation.DMAfter && !after {
			t.Errorf("DM %s (sent %v) is not after the action's audit-log entry %s (called %v)", dms[0].ID, dmStart, entries[len(entries)-1].ID, actionStart)
		}
	}

	// The mod-log embed.
	var logged *discordtest.Message
	for _, m := range aw.s.Messages(aw.modlog) {
		if m.ID == discordtest.ID(c.ModlogMessageID) {
			logged = &m
		}
	}
	if logged == nil {
		t.Fatalf("case #%d's mod-log message %d is not in the mod-log channel", n, c.ModlogMessageID)
	}
	checkPingsNobody(t, "the mod-log message", *logged)
	e := embedOf(t, *logged)
	if e.Title != fmt.Sprintf("Case #%d · %s", n, r.want) || e.Description != reason || e.Footer == nil || !strings.HasSuffix(e.Footer.Text, "· active") {
		t.Errorf("mod-log embed %+v; want case #%d, %s, active, with the reason", e, n, r.want)
	}
	if !strings.Contains(e.field("User"), target.String()) || !strings.Contains(e.field("Moderator"), aw.mod.String()) {
		t.Errorf("mod-log embed %+v does not name the target and the moderator", e)
	}
	// The target's name, also of a user outside the server (a HACKBAN: Discord names any
	// user to a bot), is recorded with the case and shown (escaped) in the mod log.
	name := fmt.Sprintf("%s-%s", strings.ReplaceAll(r.name, " ", "-"), front)
	if !strings.Contains(e.field("User"), discord.EscapeMarkdown(name)) || c.Metadata[cases.MetaTargetName] != name {
		t.Errorf("case #%d: mod-log User field %q, recorded name %q; want %q", n, e.field("User"), c.Metadata[cases.MetaTargetName], name)
	}
	if (r.expires > 0) != (e.field("Ends") != "") {
		t.Errorf("mod-log embed %+v: Ends field %q for an action lasting %v", e, e.field("Ends"), r.expires)
	}
	return n
}

// checkPrecondition makes sure the setup left the target as the action needs them.
func (aw *actionsWorld) checkPrecondition(t *testing.T, r actionRow, target discordtest.ID) {
	m, isMember := aw.s.Member(aw.guild, target)
	_, banned := aw.s.Banned(aw.guild, target)
	switch r.want {
	case cases.Unban:
		if !banned {
			t.Fatal("the target of the unban is not banned")
		}
	case cases.Untimeout:
		if m.CommunicationDisabledUntil == nil || !m.CommunicationDisabledUntil.After(time.Now()) {
			t.Fatal("the target of the untimeout is not timed out")
		}
	case cases.Unjail:
		if !slices.Equal(m.Roles, []discordtest.ID{aw.jailRole}) {
			t.Fatalf("the target of the unjail has roles %v; want the jail role", m.Roles)
		}
	case cases.Hackban:
		if isMember {
			t.Fatal("the target of the hackban is a member")
		}
	default:
		if !isMember || banned {
			t.Fatal("the target is not a member in good standing")
		}
	}
}

// checkState checks what the action left on Discord.
func (aw *actionsWorld) checkState(t *testing.T, r actionRow, c cases.Case, target discordtest.ID, before discordtest.Member, wantReason string) {
	m, isMember := aw.s.Member(aw.guild, target)
	ban, banned := aw.s.Banned(aw.guild, target)
	switch r.want {
	case cases.Ban, cases.Tempban, cases.Hackban:
		if !banned || ban.Reason == nil || *ban.Reason != wantReason {
			got := "<none>"
			if ban.Reason != nil {
				got = *ban.Reason
			}
			t.Errorf("banned: %v, with reason %q; want the target banned with reason %q", banned, got, wantReason)
		}
		if isMember {
			t.Error("the banned target is still a member")
		}
	case cases.Softban, cases.Kick:
		if banned || isMember {
			t.Errorf("the target is banned: %v, a member: %v; want neither", banned, isMember)
		}
	case cases.Unban:
		if banned {
			t.Error("the target is still banned")
		}
	case cases.Timeout:
		if !isMember || m.CommunicationDisabledUntil == nil {
			t.Fatalf("the target is not timed out: %+v", m)
		}
		if d := m.CommunicationDisabledUntil.Sub(c.ExpiresAt); d < -time.Second || d > time.Second {
			t.Errorf("timed out until %v; want the case's end %v", *m.CommunicationDisabledUntil, c.ExpiresAt)
		}
	case cases.Untimeout:
		if !isMember || (m.CommunicationDisabledUntil != nil && m.CommunicationDisabledUntil.After(time.Now())) {
			t.Errorf("the target is still timed out: %+v", m)
		}
	case cases.Jail:
		if !slices.Equal(m.Roles, []discordtest.ID{aw.jailRole}) {
			t.Errorf("jailed member's roles %v; want only the jail role %s", m.Roles, aw.jailRole)
		}
		if !slices.Equal(c.RoleIDs, cases.IDs{discord.RoleID(aw.memberRole)}) {
			t.Errorf("jail case saved roles %v; want the member role %s", c.RoleIDs, aw.memberRole)
		}
	case cases.Unjail:
		if !slices.Equal(m.Roles, []discordtest.ID{aw.memberRole}) {
			t.Errorf("unjailed member's roles %v; want the member role %s back, without the jail role", m.Roles, aw.memberRole)
		}
	default:
		// Records only: the member is as they were.
		if !isMember || banned || !slices.Equal(m.Roles, before.Roles) || m.CommunicationDisabledUntil != nil {
			t.Errorf("a %s changed the member: %+v (banned %v); want %+v", r.want, m, banned, before)
		}
	}
}

// checkPingsNobody checks that a message carrying the moderator's text was sent with
// allowed_mentions that let it ping no one, whatever the text says.
func checkPingsNobody(t *testing.T, what string, m discordtest.Message) {
	t.Helper()
	var am struct {
		Parse []string          `json:"parse"`
		Users []json.RawMessage `json:"users"`
		Roles []json.RawMessage `json:"roles"`
	}
	if len(m.AllowedMentions) == 0 || json.Unmarshal(m.AllowedMentions, &am) != nil || len(am.Parse)+len(am.Users)+len(am.Roles) > 0 {
		t.Errorf("%s was sent with allowed_mentions %s; want one that pings nobody", what, m.AllowedMentions)
	}
}
