package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/escalation"
	"github.com/gavelbot/gavel/internal/settings"
)

// escWorld is a guild with a mod log, an audit log and a member above gavel's role.
type escWorld struct {
	*world
	modlog, auditlog, high, highRole discordtest.ID
	clk                              *clock.Manual
	cs                               *cases.Service
	esc                              *escalation.Service
}

func newEscWorld(t *testing.T) *escWorld {
	t.Helper()
	const base = 710000000000000000
	w := &world{guild: base + 100, owner: base + 201, mod: base + 202, target: base + 203, other: base + 204, plain: base + 205,
		modRole: base + 301, botRole: base + 302, general: base + 401}
	ew := &escWorld{world: w, modlog: base + 402, auditlog: base + 403, high: base + 206, highRole: base + 303}
	seed := discordtest.Seed{
		Users: []discordtest.User{{ID: w.owner, Username: "owner"}, {ID: w.mod, Username: "mod"},
			{ID: w.target, Username: "target"}, {ID: w.other, Username: "other"}, {ID: w.plain, Username: "plain"}, {ID: ew.high, Username: "high"}},
		Guilds: []discordtest.SeedGuild{{
			ID: w.guild, Name: "test guild", OwnerID: w.owner,
			Roles: []discordtest.Role{
				{ID: w.modRole, Name: "mods", Position: 1, Permissions: discordtest.PermBanMembers | discordtest.PermModerateMembers},
				{ID: w.botRole, Name: "gavel", Position: 2, Permissions: botPerms},
				{ID: ew.highRole, Name: "veterans", Position: 3},
			},
			BotRoles: []discordtest.ID{w.botRole},
			Members: []discordtest.SeedMember{
				{UserID: w.owner}, {UserID: w.mod, Roles: []discordtest.ID{w.modRole}},
				{UserID: w.target}, {UserID: w.other}, {UserID: w.plain}, {UserID: ew.high, Roles: []discordtest.ID{ew.highRole}},
			},
			Channels: []discordtest.Channel{{ID: w.general, Type: discordtest.ChannelGuildText, Name: "general", Position: 1},
				{ID: ew.modlog, Type: discordtest.ChannelGuildText, Name: "mod-log", Position: 2},
				{ID: ew.auditlog, Type: discordtest.ChannelGuildText, Name: "audit-log", Position: 3}},
		}},
	}
	w.s = discordtest.New(t, unpaced(discordtest.WithSeed(seed), discordtest.WithLogger(quietLogger()))...)
	w.dbURL = "sqlite:" + filepath.Join(t.TempDir(), "gavel.db")
	ctx := context.Background()
	st := w.openStore(t)
	g := settings.NewService(st)
	for ch, id := range map[settings.Channel]discordtest.ID{settings.ModLog: ew.modlog, settings.AuditLog: ew.auditlog} {
		if _, err := g.SetChannel(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), ch, discord.ChannelID(id)); err != nil {
			t.Fatal(err)
		}
	}
	ew.clk = clock.NewManual(time.Now().UTC().Truncate(time.Millisecond))
	ew.cs = cases.NewService(st)
	ew.esc = escalation.NewService(st, escalation.WithClock(ew.clk.Now))
	w.start(t, app.WithClock(ew.clk))
	return ew
}

// caseWhere waits for the guild's case satisfying ok and returns it.
func (ew *escWorld) caseWhere(t *testing.T, what string, ok func(cases.Case) bool) cases.Case {
	t.Helper()
	var found cases.Case
	waitFor(t, what, func() bool {
		for n := int64(1); ; n++ {
			c, err := ew.cs.GetByNumber(context.Background(), discord.GuildID(ew.guild), n)
			if err != nil {
				return false
			}
			if ok(c) {
				found = c
				return true
			}
		}
	})
	return found
}

// escalationCases counts the cases an escalation made for user.
func (ew *escWorld) escalationCases(t *testing.T, user discordtest.ID) []cases.Case {
	t.Helper()
	var out []cases.Case
	for n := int64(1); ; n++ {
		c, err := ew.cs.GetByNumber(context.Background(), discord.GuildID(ew.guild), n)
		if err != nil {
			return out
		}
		if c.UserID == discord.UserID(user) && c.Metadata[escalation.MetaFiring] != "" {
			out = append(out, c)
		}
	}
}

// modlogMessage waits for a message of the bot in the mod log whose embeds contain want.
func (ew *escWorld) modlogMessage(t *testing.T, want string) discordtest.Message {
	t.Helper()
	var found discordtest.Message
	waitFor(t, "the mod log's "+want, func() bool {
		for _, m := range ew.s.Messages(ew.modlog) {
			for _, e := range m.Embeds {
				if strings.Contains(string(e), want) {
					found = m
					return true
				}
			}
		}
		return false
	})
	return found
}

// awaiting returns user's firing that waits for approval, once its request is posted.
func (ew *escWorld) awaiting(t *testing.T, user discordtest.ID) escalation.Firing {
	t.Helper()
	var found escalation.Firing
	waitFor(t, "the approval request", func() bool {
		for _, f := range ew.firings(t, user) {
			if f.Threshold.NeedsApproval() && f.State != escalation.StateSkipped && f.ApprovalMessage != 0 {
				found = f
				return true
			}
		}
		return false
	})
	return found
}

func (ew *escWorld) firings(t *testing.T, user discordtest.ID) []escalation.Firing {
	t.Helper()
	fs, err := ew.esc.FiringsOfMember(context.Background(), discord.GuildID(ew.guild), discord.UserID(user), 50)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// The preset through commands: points build up per warning, the threshold fires once on
// crossing (after the warning's DM), a 5-point warning crossing two thresholds takes only
// the harsher action, voiding a contributing case re-arms, points expire on the clock.
func TestEscalationEndToEnd(t *testing.T) {
	t.Parallel()
	ew := newEscWorld(t)
	ctx := context.Background()

	if r := ew.say(t, ew.owner, "$escalation preset"); !strings.Contains(r.Content, "Preset installed") {
		t.Fatalf("preset: %q", r.Content)
	}
	if r := ew.say(t, ew.owner, "$escalation enable preset"); !strings.Contains(r.Content, "Policy preset is on") {
		t.Fatalf("enable: %q", r.Content)
	}
	waitFor(t, "the audit log's post of the change", func() bool {
		for _, m := range ew.s.Messages(ew.auditlog) {
			if len(m.Embeds) > 0 && strings.Contains(string(m.Embeds[0]), "escalation enable") {
				return true
			}
		}
		return false
	})
	show := ew.say(t, ew.owner, "$escalation show")
	if len(show.Embeds) == 0 || !strings.Contains(string(show.Embeds[0]), "preset (on)") || !strings.Contains(string(show.Embeds[0]), "7 → tempban for 1 week, needs approval") {
		t.Fatalf("show: %s", show.Embeds)
	}

	r := ew.say(t, ew.mod, "$warn "+mention(ew.target)+" spam")
	if !strings.Contains(r.Content, "Case #1") || !strings.Contains(r.Content, "This brings "+mention(ew.target)+" (target) to 1/10 points — next: timeout for 1 hour at 3 points.") {
		t.Fatalf("first warn: %q", r.Content)
	}
	ew.say(t, ew.mod, "$warn "+mention(ew.target)+" spam again")
	r = ew.say(t, ew.mod, "$warn "+mention(ew.target)+" and again")
	if !strings.Contains(r.Content, "Case #3") || !strings.Contains(r.Content, "to 3/10 points — next: timeout for 1 hour.") {
		t.Fatalf("third warn: %q", r.Content)
	}
	esc := ew.caseWhere(t, "the escalation's timeout", func(c cases.Case) bool { return c.Type == cases.Timeout && c.Status == cases.Active })
	if esc.Number != 4 || !strings.HasPrefix(esc.Reason, "escalation: 3 points from #1, #2, #3") || esc.Metadata[escalation.MetaTrigger] != "3" {
		t.Fatalf("escalation case = %+v", esc)
	}
	if m, ok := ew.s.Member(ew.guild, ew.target); !ok || m.CommunicationDisabledUntil == nil {
		t.Fatal("the target is not timed out")
	}
	// The warning's DM (with where they stand) came before the timeout's.
	waitFor(t, "the timeout's DM", func() bool { return len(ew.s.DMsOf(ew.target)) >= 4 })
	dms := ew.s.DMsOf(ew.target)
	warnDM, toDM := -1, -1
	for i, m := range dms {
		body := string(m.Embeds[0])
		if strings.Contains(body, "Case #3") {
			warnDM = i
			if !strings.Contains(body, "This brings you to 3/10 points") {
				t.Errorf("the warning's DM does not say where they stand: %s", body)
			}
		}
		if strings.Contains(body, "Case #4") {
			toDM = i
		}
	}
	if warnDM < 0 || toDM < 0 || warnDM > toDM {
		t.Fatalf("DM order: warning at %d, timeout at %d", warnDM, toDM)
	}
	// Linked both ways in the histories: the runner links them once the escalation's
	// command has returned, which may be after its DM arrived.
	var evs []cases.Event
	linked := func() bool {
		var err error
		if evs, err = ew.cs.Events(ctx, esc.ID); err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Kind == cases.EventLinked && e.New == "#3" {
				return true
			}
		}
		return false
	}
	waitFor(t, "the escalation case's history to link #3", linked, func() string { return fmt.Sprintf("%+v", evs) })
	// A fourth warning crosses nothing new: no second action.
	ew.say(t, ew.mod, "$warn "+mention(ew.target)+" once more")
	if n := len(ew.escalationCases(t, ew.target)); n != 1 {
		t.Fatalf("%d escalation cases after a warning past the threshold; want 1", n)
	}
	pts := ew.say(t, ew.mod, "$points "+mention(ew.target))
	if len(pts.Embeds) == 0 || !strings.Contains(string(pts.Embeds[0]), "**4/10**") || !strings.Contains(string(pts.Embeds[0]), "#5 warn · 1 · counts until") {
		t.Fatalf("points: %s", pts.Embeds)
	}

	// A single 5-point warning from 0 crosses 3 and 5: only the 24-hour timeout runs.
	ew.say(t, ew.owner, "$escalation weight warn 5")
	r = ew.say(t, ew.mod, "$warn "+mention(ew.other)+" raid")
	if !strings.Contains(r.Content, "to 5/10 points — next: timeout for 1 day.") {
		t.Fatalf("5-point warn: %q", r.Content)
	}
	big := ew.caseWhere(t, "the 24-hour timeout", func(c cases.Case) bool {
		return c.UserID == discord.UserID(ew.other) && c.Type == cases.Timeout && c.Status == cases.Active
	})
	if got := big.ExpiresAt.Sub(big.CreatedAt); got != 24*time.Hour {
		t.Errorf("the escalation timed out for %s; want 24h", got)
	}
	waitFor(t, "both firings recorded, the action done", func() bool {
		fs := ew.firings(t, ew.other)
		return len(fs) == 2 && (fs[0].State == escalation.StateDone || fs[1].State == escalation.StateDone)
	})
	states := map[int]string{}
	for _, f := range ew.firings(t, ew.other) {
		states[f.Threshold.At] = f.State
	}
	if states[5] != escalation.StateDone || states[3] != escalation.StateSkipped {
		t.Errorf("firings of the 5-point warn: %v; want 5 done, 3 skipped", states)
	}
	if n := len(ew.escalationCases(t, ew.other)); n != 1 {
		t.Errorf("%d escalation cases for one warning crossing two thresholds; want 1", n)
	}
	ew.say(t, ew.owner, "$escalation weight warn 1")

	// Voiding a contributing case: 4 → 3 points (still at 3: not re-armed), then 3 → 2
	// (below 3: re-armed); the next warning fires it again.
	if r := ew.say(t, ew.owner, "$cases modify 5 -status voided"); !strings.Contains(r.Content, "status active → voided") {
		t.Fatalf("void: %q", r.Content)
	}
	if f := ew.firings(t, ew.target); !f[len(f)-1].Open() {
		t.Fatal("the threshold re-armed at 3 points; its reset is below 3")
	}
	if r := ew.say(t, ew.owner, "$cases modify 1 -points 0"); !strings.Contains(r.Content, "points 1 → 0") {
		t.Fatalf("modify points: %q", r.Content)
	}
	if f := ew.firings(t, ew.target); f[len(f)-1].Open() {
		t.Fatal("the threshold did not re-arm when the points fell to 2")
	}
	pts = ew.say(t, ew.mod, "$points "+mention(ew.target))
	if !strings.Contains(string(pts.Embeds[0]), "**2/10**") {
		t.Fatalf("points after the changes: %s", pts.Embeds)
	}
	ew.say(t, ew.mod, "$warn "+mention(ew.target)+" back at it")
	waitFor(t, "the second escalation", func() bool { return len(ew.escalationCases(t, ew.target)) == 2 })

	// Thirty days on, the points stop counting and the open threshold re-arms on its own.
	ew.clk.Advance(31 * 24 * time.Hour)
	waitFor(t, "the thresholds re-armed as points expired", func() bool {
		for _, f := range ew.firings(t, ew.target) {
			if f.Open() {
				return false
			}
		}
		return true
	})
	pts = ew.say(t, ew.mod, "$points "+mention(ew.target))
	if !strings.Contains(string(pts.Embeds[0]), "**0/10**") || !strings.Contains(string(pts.Embeds[0]), "No case counts now.") {
		t.Fatalf("points after 31 days: %s", pts.Embeds)
	}
}

// Approval: the mod log's pending escalation with Approve and Deny; a denial keeps the
// warning and records who; an approval runs the action as the approver; a request left a day
// expires.
func TestEscalationApproval(t *testing.T) {
	t.Parallel()
	ew := newEscWorld(t)
	ctx := context.Background()
	ew.say(t, ew.owner, "$escalation preset")
	ew.say(t, ew.owner, "$escalation enable preset")
	ew.say(t, ew.owner, "$escalation weight warn 7")

	r := ew.say(t, ew.mod, "$warn "+mention(ew.target)+" spam")
	if !strings.Contains(r.Content, "next: tempban for 1 week (needs approval).") {
		t.Fatalf("warn: %q", r.Content)
	}
	req := ew.modlogMessage(t, "Pending escalation")
	if len(req.Components) == 0 {
		t.Fatal("the pending escalation has no buttons")
	}
	f := ew.awaiting(t, ew.target)
	// A member who may not ban cannot approve a tempban.
	it := ew.s.ClickButton(ew.guild, ew.modlog, ew.plain, req.ID, "esc:deny:"+jsonNumber(f.ID))
	if a := clickAnswer(t, it); a.Flags&discordtest.MessageFlagEphemeral == 0 {
		t.Errorf("a refused click was answered with %+v; want an ephemeral follow-up", a)
	}
	if f2, _ := ew.esc.Firing(ctx, f.ID); f2.State != escalation.StateAwaiting {
		t.Fatalf("a member without the right decided the escalation: %s", f2.State)
	}
	it = ew.s.ClickButton(ew.guild, ew.modlog, ew.mod, req.ID, "esc:deny:"+jsonNumber(f.ID))
	if a := clickAnswer(t, it); !strings.Contains(a.Content, "denied") || len(a.Components) != 0 {
		t.Errorf("the denial's click answer = %+v; want the clicked message saying so, without buttons", a)
	}
	waitFor(t, "the denial recorded", func() bool {
		f2, _ := ew.esc.Firing(ctx, f.ID)
		return f2.State == escalation.StateDenied && f2.DecidedBy == discord.UserID(ew.mod)
	})
	ew.modlogMessage(t, "Escalation denied")
	if w, _ := ew.cs.GetByNumber(ctx, discord.GuildID(ew.guild), 1); w.Status != cases.Active {
		t.Errorf("the warning is %s after the denial; want active", w.Status)
	}
	if _, banned := ew.s.Banned(ew.guild, ew.target); banned {
		t.Fatal("a denied escalation banned")
	}

	// Approved: the tempban runs, the approver its moderator.
	if r := ew.say(t, ew.mod, "$warn "+mention(ew.other)+" spam"); !strings.Contains(r.Content, "Case #2") {
		t.Fatalf("second warn: %q", r.Content)
	}
	f = ew.awaiting(t, ew.other)
	it = ew.s.ClickButton(ew.guild, ew.modlog, ew.mod, discordtest.ID(f.ApprovalMessage), "esc:approve:"+jsonNumber(f.ID))
	if a := clickAnswer(t, it); !strings.Contains(a.Content, "approved: case #") || len(a.Components) != 0 {
		t.Errorf("the approval's click answer = %+v; want the clicked message naming the case, without buttons", a)
	}
	// Approving runs the tempban (a DM, the ban, the case) before the answer: the click is
	// acknowledged first, not answered within Discord's 3 seconds by chance.
	if typ, _, _ := ew.s.Callback(it.ID); typ != discordtest.CallbackDeferredUpdateMessage {
		t.Errorf("the approval's click was acknowledged with callback type %d; want %d (DEFERRED_UPDATE_MESSAGE)", typ, discordtest.CallbackDeferredUpdateMessage)
	}
	tb := ew.caseWhere(t, "the approved tempban", func(c cases.Case) bool { return c.Type == cases.Tempban && c.Status == cases.Active })
	if tb.ModeratorID != discord.UserID(ew.mod) || tb.UserID != discord.UserID(ew.other) {
		t.Errorf("tempban = %+v; want the approver's, of other", tb)
	}
	if _, banned := ew.s.Banned(ew.guild, ew.other); !banned {
		t.Error("the approved tempban did not ban")
	}

	// Left a day: expired, recorded, and the buttons go.
	ew.say(t, ew.mod, "$warn "+mention(ew.plain)+" spam")
	f = ew.awaiting(t, ew.plain)
	ew.clk.Advance(25 * time.Hour)
	waitFor(t, "the request expired", func() bool { f, _ = ew.esc.Firing(ctx, f.ID); return f.State == escalation.StateExpired })
	ew.modlogMessage(t, "Escalation expired")
}

// An escalation gavel cannot carry out (the member is above gavel's role): the warning
// stands and the mod log says what failed. Bad settings are refused with what is accepted.
func TestEscalationRefusals(t *testing.T) {
	t.Parallel()
	ew := newEscWorld(t)
	ctx := context.Background()
	for cmd, want := range map[string]string{
		"$escalation set hard 101 ban":           "101 points is out of range; a threshold is 1 to 100 points",
		"$escalation set hard 5 timeout 30d":     "4 weeks",
		"$escalation set hard 5 kick 1h":         "a kick takes no duration",
		"$escalation set hard 5 tempban":         "a tempban needs a duration",
		"$escalation set hard 5 jail":            "no jail role is configured",
		"$escalation set hard 5 smite":           "action must be one of timeout, jail, kick, tempban, ban",
		"$escalation set hard 5 timeout 1h -r 9": "accepted: 1 to 5",
		"$escalation enable nothing":             "there is no policy",
	} {
		if r := ew.say(t, ew.owner, cmd); !strings.Contains(r.Content, want) {
			t.Errorf("%s: %q; want %q", cmd, r.Content, want)
		}
	}
	if cfg, v, err := ew.esc.Config(ctx, discord.GuildID(ew.guild)); err != nil || v != 0 || !cfg.Empty() {
		t.Fatalf("refused settings changed something: %+v, version %d, %v", cfg, v, err)
	}

	if r := ew.say(t, ew.owner, "$escalation set hard 1 ban -approval no"); !strings.Contains(r.Content, "at 1 points, ban.") {
		t.Fatalf("set: %q", r.Content)
	}
	ew.say(t, ew.owner, "$escalation weight warn 1")
	ew.say(t, ew.owner, "$escalation enable hard")
	r := ew.say(t, ew.owner, "$warn "+mention(ew.high)+" rude")
	if !strings.Contains(r.Content, "Case #1") {
		t.Fatalf("warn of the member above gavel: %q", r.Content)
	}
	ew.modlogMessage(t, "Escalation failed")
	waitFor(t, "the firing failed", func() bool {
		fs := ew.firings(t, ew.high)
		return len(fs) == 1 && fs[0].State == escalation.StateFailed
	})
	if w, _ := ew.cs.GetByNumber(ctx, discord.GuildID(ew.guild), 1); w.Status != cases.Active || w.Type != cases.Warn {
		t.Errorf("the warning is %+v; want an active WARN", w)
	}
	if _, banned := ew.s.Banned(ew.guild, ew.high); banned {
		t.Error("the member above gavel was banned")
	}
}

func jsonNumber(id int64) string { b, _ := json.Marshal(id); return string(b) }

// clickAnswer waits for gavel's answer to a click on an escalation's button and returns it:
// the clicked message with the decision's text and no buttons (the click is acknowledged
// first, which makes the clicked message the interaction's first response before anything
// is decided), or a follow-up (a refusal).
func clickAnswer(t *testing.T, it *discordtest.Interaction) discordtest.Message {
	t.Helper()
	var answer discordtest.Message
	waitFor(t, "the click's answer", func() bool {
		msgs := it.Responses()
		switch {
		case len(msgs) > 1:
			answer = msgs[1]
		case len(msgs) == 1 && msgs[0].Content != "" && len(msgs[0].Components) == 0:
			answer = msgs[0]
		default:
			return false
		}
		return true
	}, func() string { return fmt.Sprintf("%+v", it.Responses()) })
	return answer
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), eventBound)
	t.Cleanup(cancel)
	return ctx
}
