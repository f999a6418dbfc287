package disgoport_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
)

func TestBanGetListUnban(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	// The header is URL-encoded by disgo and decoded by the fake: & + % : and non-ASCII
	// must arrive unchanged.
	reason := "spam & ads: ünïcode + plus, 100% sure"
	f.s.AddMessage(f.general, f.bob, "buy now", time.Now())
	if err := f.port.Ban(ctx, discord.GuildID(f.guild), discord.UserID(f.bob), 3600, reason); err != nil {
		t.Fatalf("Ban: %v", err)
	}
	b, ok := f.s.Banned(f.guild, f.bob)
	if !ok || b.Reason == nil || *b.Reason != reason {
		t.Fatalf("fake's ban = %+v, %v; want reason %q", b, ok, reason)
	}
	if _, member := f.s.Member(f.guild, f.bob); member {
		t.Error("bob is still a member after the ban")
	}
	if n := len(f.s.Messages(f.general)); n != 0 {
		t.Errorf("%d messages left; the ban should have deleted bob's last hour", n)
	}
	if e := f.lastAudit(t, discordtest.AuditMemberBanAdd); e.Reason != reason || e.TargetID != f.bob {
		t.Errorf("audit entry = %+v; want bob with reason %q", e, reason)
	}

	ban, banned, err := f.port.GetBan(ctx, discord.GuildID(f.guild), discord.UserID(f.bob))
	if err != nil || !banned || ban.Reason != reason || ban.User.ID != discord.UserID(f.bob) || ban.User.Username != "bob" {
		t.Fatalf("GetBan = %+v, %v, %v", ban, banned, err)
	}
	if _, banned, err := f.port.GetBan(ctx, discord.GuildID(f.guild), discord.UserID(f.carol)); banned || err != nil {
		t.Fatalf("GetBan of carol = %v, %v; want not banned and no error", banned, err)
	}

	// A user outside the guild can be banned too (pre-emptive bans).
	for _, u := range []discordtest.ID{f.carol, f.dave} {
		if err := f.port.Ban(ctx, discord.GuildID(f.guild), discord.UserID(u), 0, ""); err != nil {
			t.Fatalf("Ban %v: %v", u, err)
		}
	}
	page1, err := f.port.ListBans(ctx, discord.GuildID(f.guild), 0, 2)
	if err != nil || len(page1) != 2 {
		t.Fatalf("ListBans page 1 = %+v, %v", page1, err)
	}
	page2, err := f.port.ListBans(ctx, discord.GuildID(f.guild), page1[1].User.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range append(page1, page2...) {
		names = append(names, b.User.Username)
	}
	if !slices.Equal(names, []string{"bob", "carol", "dave"}) {
		t.Errorf("paged bans = %v; want bob, carol, dave", names)
	}

	if err := f.port.Unban(ctx, discord.GuildID(f.guild), discord.UserID(f.bob), "appeal accepted"); err != nil {
		t.Fatalf("Unban: %v", err)
	}
	if _, ok := f.s.Banned(f.guild, f.bob); ok {
		t.Error("bob is still banned")
	}
	if e := f.lastAudit(t, discordtest.AuditMemberBanRemove); e.Reason != "appeal accepted" {
		t.Errorf("unban audit reason = %q", e.Reason)
	}
	err = f.port.Unban(ctx, discord.GuildID(f.guild), discord.UserID(f.bob), "")
	de := wantDiscordError(t, "second unban", err, 404, discord.CodeUnknownBan)
	if de.Op != "unban" || de.Retryable() || de.Outage() {
		t.Errorf("unknown ban: op %q, retryable %v, outage %v", de.Op, de.Retryable(), de.Outage())
	}
}

func TestBanAboveTheBotIsRefusedWithMissingPermissions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	err := f.port.Ban(ctx, discord.GuildID(f.guild), discord.UserID(f.alice), 0, "")
	wantDiscordError(t, "ban of a moderator above the bot", err, 403, discord.CodeMissingPermissions)
	err = f.port.Kick(ctx, discord.GuildID(f.guild), discord.UserID(f.owner), "")
	wantDiscordError(t, "kick of the owner", err, 403, discord.CodeMissingPermissions)
	err = f.port.Timeout(ctx, discord.GuildID(f.guild), discord.UserID(f.alice), time.Now().Add(time.Hour), "")
	wantDiscordError(t, "timeout above the bot", err, 403, discord.CodeMissingPermissions)
	if _, ok := f.s.Member(f.guild, f.alice); !ok {
		t.Error("alice lost her membership")
	}
}

func TestKick(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	if err := f.port.Kick(ctx, discord.GuildID(f.guild), discord.UserID(f.bob), "raiding"); err != nil {
		t.Fatalf("Kick: %v", err)
	}
	if _, ok := f.s.Member(f.guild, f.bob); ok {
		t.Error("bob is still a member")
	}
	if e := f.lastAudit(t, discordtest.AuditMemberKick); e.Reason != "raiding" || e.TargetID != f.bob {
		t.Errorf("kick audit entry = %+v", e)
	}
	err := f.port.Kick(ctx, discord.GuildID(f.guild), discord.UserID(f.bob), "")
	wantDiscordError(t, "kick of a non-member", err, 404, discord.CodeUnknownMember)
}

func TestTimeoutAndLift(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	until := time.Now().Add(90 * time.Minute).Truncate(time.Millisecond)
	if err := f.port.Timeout(ctx, discord.GuildID(f.guild), discord.UserID(f.bob), until, "cool down"); err != nil {
		t.Fatalf("Timeout: %v", err)
	}
	m, _ := f.s.Member(f.guild, f.bob)
	if m.CommunicationDisabledUntil == nil || !m.CommunicationDisabledUntil.Equal(until) {
		t.Fatalf("fake's timeout = %v; want %v", m.CommunicationDisabledUntil, until)
	}
	got, err := f.port.Member(ctx, discord.GuildID(f.guild), discord.UserID(f.bob))
	if err != nil || !got.CommunicationDisabledUntil.Equal(until) || !got.TimedOut(time.Now()) {
		t.Fatalf("Member after timeout = %+v, %v", got, err)
	}
	if e := f.lastAudit(t, discordtest.AuditMemberUpdate); e.Reason != "cool down" {
		t.Errorf("timeout audit reason = %q", e.Reason)
	}
	if err := f.port.Timeout(ctx, discord.GuildID(f.guild), discord.UserID(f.bob), time.Time{}, "lifted"); err != nil {
		t.Fatalf("lifting the timeout: %v", err)
	}
	if m, _ := f.s.Member(f.guild, f.bob); m.CommunicationDisabledUntil != nil {
		t.Errorf("timeout still set: %v", *m.CommunicationDisabledUntil)
	}
	err = f.port.Timeout(ctx, discord.GuildID(f.guild), discord.UserID(f.dave), until, "")
	wantDiscordError(t, "timeout of a non-member", err, 404, discord.CodeUnknownMember)
}

func TestMemberGuildAndChannels(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	m, err := f.port.Member(ctx, discord.GuildID(f.guild), discord.UserID(f.bob))
	if err != nil {
		t.Fatal(err)
	}
	if m.User.ID != discord.UserID(f.bob) || m.User.Username != "bob" || m.User.Bot || m.Nick != "bobby" ||
		!slices.Equal(m.Roles, []discord.RoleID{discord.RoleID(f.member)}) || m.JoinedAt.IsZero() || !m.CommunicationDisabledUntil.IsZero() {
		t.Errorf("Member(bob) = %+v", m)
	}
	me, err := f.port.Member(ctx, discord.GuildID(f.guild), discord.UserID(f.s.BotID()))
	if err != nil || !me.User.Bot || !slices.Equal(me.Roles, []discord.RoleID{discord.RoleID(f.botRole)}) {
		t.Errorf("Member(bot) = %+v, %v", me, err)
	}
	_, err = f.port.Member(ctx, discord.GuildID(f.guild), discord.UserID(f.dave))
	wantDiscordError(t, "a user outside the guild", err, 404, discord.CodeUnknownMember)

	g, err := f.port.Guild(ctx, discord.GuildID(f.guild))
	if err != nil {
		t.Fatal(err)
	}
	if g.OwnerID != discord.UserID(f.owner) || g.Name != "test guild" || len(g.Roles) != 5 {
		t.Fatalf("Guild = %+v", g)
	}
	if r, ok := g.Role(discord.RoleID(f.botRole)); !ok || r.Position != 3 || r.Permissions != uint64(botPerms) || r.Managed {
		t.Errorf("bot role = %+v, %v", r, ok)
	}
	if r, ok := g.Role(discord.RoleID(f.managed)); !ok || !r.Managed || r.Position != 2 {
		t.Errorf("managed role = %+v, %v", r, ok)
	}
	if r, ok := g.Role(discord.RoleID(f.guild)); !ok || r.Name != "@everyone" || r.Position != 0 {
		t.Errorf("@everyone = %+v, %v", r, ok)
	}

	c, err := f.port.Channel(ctx, discord.ChannelID(f.general))
	if err != nil || c.Name != "general" || c.GuildID != discord.GuildID(f.guild) || c.Type != discord.ChannelGuildText || c.ParentID != discord.ChannelID(f.category) {
		t.Errorf("Channel = %+v, %v", c, err)
	}
	_, err = f.port.Channel(ctx, 999)
	wantDiscordError(t, "unknown channel", err, 404, discord.CodeUnknownChannel)
	cs, err := f.port.GuildChannels(ctx, discord.GuildID(f.guild))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"text", "general", "lounge"}) {
		t.Errorf("GuildChannels = %v", names)
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	if err := f.port.AddRole(ctx, discord.GuildID(f.guild), discord.UserID(f.carol), discord.RoleID(f.member), "verified"); err != nil {
		t.Fatalf("AddRole: %v", err)
	}
	if m, _ := f.s.Member(f.guild, f.carol); !slices.Equal(m.Roles, []discordtest.ID{f.member}) {
		t.Errorf("carol's roles = %v", m.Roles)
	}
	if e := f.lastAudit(t, discordtest.AuditMemberRoleUpdate); e.Reason != "verified" || e.TargetID != f.carol {
		t.Errorf("role audit entry = %+v", e)
	}
	if err := f.port.RemoveRole(ctx, discord.GuildID(f.guild), discord.UserID(f.carol), discord.RoleID(f.member), ""); err != nil {
		t.Fatalf("RemoveRole: %v", err)
	}
	if m, _ := f.s.Member(f.guild, f.carol); len(m.Roles) != 0 {
		t.Errorf("carol's roles after removal = %v", m.Roles)
	}
	// Jail: every role replaced by one.
	jail := f.s.AddRole(f.guild, "jail", 1, 0)
	if err := f.port.SetRoles(ctx, discord.GuildID(f.guild), discord.UserID(f.bob), []discord.RoleID{discord.RoleID(jail)}, "jailed"); err != nil {
		t.Fatalf("SetRoles: %v", err)
	}
	if m, _ := f.s.Member(f.guild, f.bob); !slices.Equal(m.Roles, []discordtest.ID{jail}) {
		t.Errorf("bob's roles after jail = %v", m.Roles)
	}
	err := f.port.AddRole(ctx, discord.GuildID(f.guild), discord.UserID(f.bob), discord.RoleID(f.mod), "")
	wantDiscordError(t, "a role above the bot", err, 403, discord.CodeMissingPermissions)
	err = f.port.AddRole(ctx, discord.GuildID(f.guild), discord.UserID(f.bob), discord.RoleID(f.managed), "")
	wantDiscordError(t, "a managed role", err, 400, 50028)
	err = f.port.AddRole(ctx, discord.GuildID(f.guild), discord.UserID(f.bob), 42, "")
	wantDiscordError(t, "an unknown role", err, 404, discord.CodeUnknownRole)
}

func TestReasonIsCutAt512Characters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	// 600 two-byte characters: a byte cut at 512 would split one.
	reason := strings.Repeat("é", 600)
	if err := f.port.Kick(ctx, discord.GuildID(f.guild), discord.UserID(f.carol), reason); err != nil {
		t.Fatal(err)
	}
	e := f.lastAudit(t, discordtest.AuditMemberKick)
	if e.Reason != strings.Repeat("é", 512) {
		t.Errorf("audit reason has %d characters (%q…); want the first 512", len([]rune(e.Reason)), e.Reason[:min(len(e.Reason), 20)])
	}
}

func TestAuditLogFilter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	for _, u := range []discordtest.ID{f.bob, f.carol} {
		if err := f.port.Ban(ctx, discord.GuildID(f.guild), discord.UserID(u), 0, "ban "+u.String()); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.port.Unban(ctx, discord.GuildID(f.guild), discord.UserID(f.carol), "oops"); err != nil {
		t.Fatal(err)
	}
	bans, err := f.port.AuditLog(ctx, discord.GuildID(f.guild), discord.AuditLogFilter{ActionType: discord.AuditMemberBanAdd})
	if err != nil {
		t.Fatal(err)
	}
	if len(bans) != 2 || bans[0].TargetID != id(f.carol) || bans[1].TargetID != id(f.bob) ||
		bans[0].Reason != "ban "+f.carol.String() || bans[0].UserID != discord.UserID(f.s.BotID()) {
		t.Errorf("ban entries, newest first = %+v", bans)
	}
	one, err := f.port.AuditLog(ctx, discord.GuildID(f.guild), discord.AuditLogFilter{TargetID: id(f.carol), Limit: 1})
	if err != nil || len(one) != 1 || one[0].ActionType != discord.AuditMemberBanRemove || one[0].Reason != "oops" {
		t.Errorf("newest entry about carol = %+v, %v", one, err)
	}
}

// TestBulkBan: the adapter sends the ids as strings and reads both lists back; a call that
// bans nobody is Discord's 500000, and one stopped only by the non-member cap is 30035.
func TestBulkBan(t *testing.T) {
	t.Parallel()
	f := newFixture(t, []discordtest.Option{discordtest.WithRouteLimit(discordtest.BulkBanRoute, 0, 0)})
	ctx := ctxFor(t)
	g := discord.GuildID(f.guild)
	res, err := f.port.BulkBan(ctx, g, []discord.UserID{discord.UserID(f.bob), discord.UserID(f.alice), discord.UserID(f.dave)}, 0, "raid")
	if err != nil {
		t.Fatalf("BulkBan: %v", err)
	}
	if !slices.Equal(res.Banned, []discord.UserID{discord.UserID(f.bob), discord.UserID(f.dave)}) || !slices.Equal(res.Failed, []discord.UserID{discord.UserID(f.alice)}) {
		t.Errorf("BulkBan = %+v; want bob and dave banned, alice (above gavel) failed", res)
	}
	if e := f.lastAudit(t, discordtest.AuditMemberBanAdd); e.Reason != "raid" {
		t.Errorf("audit reason %q, want raid", e.Reason)
	}
	_, err = f.port.BulkBan(ctx, g, []discord.UserID{discord.UserID(f.bob)}, 0, "")
	wantDiscordError(t, "bulk ban of the banned", err, 400, discord.CodeFailedToBanUsers)
	// dave was a non-member ban: with a cap of one, the next non-member is refused.
	f.s.SetNonMemberBanCap(f.guild, 1)
	eve := f.s.AddUser("eve", false)
	_, err = f.port.BulkBan(ctx, g, []discord.UserID{discord.UserID(eve)}, 0, "")
	wantDiscordError(t, "bulk ban past the non-member cap", err, 400, discord.CodeMaxNonMemberBans)
}
