package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/gateway"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
)

// massWorld is a server with 1,000 raiders who joined just now, a moderator with Ban Members
// and Manage Server, and gavel holding both.
type massWorld struct {
	*world
	raiders []discordtest.ID
	clk     *clock.Manual
	modlog  discordtest.ID
	a       *app.App
	ctx     context.Context
}

func newMassWorld(t *testing.T, raiders int) *massWorld {
	t.Helper()
	const base = 710000000000000000
	w := &world{guild: base + 100, owner: base + 201, mod: base + 202, target: base + 203, other: base + 204, plain: base + 205,
		modRole: base + 301, botRole: base + 302, general: base + 401}
	seed := discordtest.Seed{
		Users: []discordtest.User{{ID: w.owner, Username: "owner"}, {ID: w.mod, Username: "mod"}, {ID: w.plain, Username: "plain"}},
		Guilds: []discordtest.SeedGuild{{
			ID: w.guild, Name: "raided", OwnerID: w.owner,
			Roles: []discordtest.Role{
				{ID: w.modRole, Name: "mods", Position: 1, Permissions: discordtest.PermBanMembers | discordtest.PermManageGuild | discordtest.PermModerateMembers},
				{ID: w.botRole, Name: "gavel", Position: 2, Permissions: botPerms | discordtest.PermManageGuild},
			},
			BotRoles: []discordtest.ID{w.botRole},
			Members:  []discordtest.SeedMember{{UserID: w.owner}, {UserID: w.mod, Roles: []discordtest.ID{w.modRole}}, {UserID: w.plain}},
			Channels: []discordtest.Channel{{ID: w.general, Type: discordtest.ChannelGuildText, Name: "general", Position: 1},
				{ID: base + 402, Type: discordtest.ChannelGuildText, Name: "mod-log", Position: 2}},
		}},
	}
	clk := clock.NewManual(time.Now())
	w.s = discordtest.New(t, unpaced(discordtest.WithSeed(seed), discordtest.WithLogger(quietLogger()), discordtest.WithClock(clk.Now))...)
	w.dbURL = "sqlite:" + filepath.Join(t.TempDir(), "gavel.db")
	mw := &massWorld{world: w, clk: clk, modlog: base + 402}
	for i := range raiders {
		u := w.s.AddUser(fmt.Sprintf("raider%d", i), false)
		w.s.AddMember(w.guild, u)
		mw.raiders = append(mw.raiders, u)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// A mod-log channel: a case's post there is the event a test waits on.
	st := w.openStore(t)
	if _, err := settings.NewService(st).SetChannel(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), settings.ModLog, discord.ChannelID(mw.modlog)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	a, err := newTestApp(ctx, w.config(), quietLogger(), app.WithClock(clk), app.WithGatewayOptions(gateway.WithBackoff(10*time.Millisecond, 100*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	rctx, rcancel := context.WithTimeout(ctx, eventBound)
	defer rcancel()
	if err := w.s.WaitReady(rctx, 1); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	mw.a, mw.ctx = a, ctx
	return mw
}

var customIDRe = regexp.MustCompile(`"custom_id":"([^"]+)"`)

// dryRun sends a mass command and returns the dry run's message and its Confirm button.
func (w *massWorld) dryRun(t *testing.T, command string) (discordtest.Message, string) {
	t.Helper()
	msg := w.answer(t, w.mod, command)
	if !strings.Contains(msg.Content, "Dry run") || len(msg.Components) == 0 {
		t.Fatalf("reply %q has no dry run and Confirm button", msg.Content)
	}
	ids := customIDRe.FindStringSubmatch(string(msg.Components[0]))
	if ids == nil {
		t.Fatalf("no custom_id in %s", msg.Components[0])
	}
	return msg, ids[1]
}

func (w *massWorld) click(t *testing.T, msg discordtest.Message, customID string) discordtest.Message {
	t.Helper()
	ia := w.s.ClickButton(w.guild, w.general, w.mod, msg.ID, customID)
	ctx, cancel := context.WithTimeout(w.ctx, eventBound)
	defer cancel()
	rs, err := ia.WaitResponses(ctx, 1)
	if err != nil {
		t.Fatalf("the click's answer: %v", err)
	}
	return rs[0]
}

// answer sends command as user in the general channel and returns gavel's first message
// after it, waiting on the fake's message events.
func (w *massWorld) answer(t *testing.T, user discordtest.ID, command string) discordtest.Message {
	t.Helper()
	before := len(w.s.Messages(w.general))
	w.s.SendMessage(w.general, user, command)
	var msg discordtest.Message
	waitOnMessages(t, w.s, "the answer to "+command, func() bool {
		for _, m := range w.s.Messages(w.general)[before:] {
			if m.AuthorID == w.s.BotID() {
				msg = m
				return true
			}
		}
		return false
	})
	return msg
}

// botMessage waits, on the fake's message events (a post or an edit: a mass action's
// progress message becomes its outcome), for gavel's message in the general channel that
// says want.
func (w *massWorld) botMessage(t *testing.T, want string) discordtest.Message {
	t.Helper()
	var msg discordtest.Message
	waitOnMessages(t, w.s, want, func() bool {
		var ok bool
		msg, ok = w.botReply(w.general, want)
		return ok
	})
	return msg
}

// modlogPost waits for the mod log's message about a case whose embed says want.
func (w *massWorld) modlogPost(t *testing.T, want string) {
	t.Helper()
	waitOnMessages(t, w.s, "the mod log's post saying "+want, func() bool {
		for _, m := range w.s.Messages(w.modlog) {
			for _, e := range m.Embeds {
				if strings.Contains(string(e), want) {
					return true
				}
			}
		}
		return false
	})
}

func (w *massWorld) cases(t *testing.T) []cases.Case {
	t.Helper()
	st, err := store.OpenURL(context.Background(), w.dbURL, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []cases.Case
	err = cases.NewService(st).BrowseAll(context.Background(), cases.Browse{Filter: cases.Filter{GuildID: discord.GuildID(w.guild)}}, func(c cases.Case) error {
		out = append(out, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMassBanCommandEndToEnd: `$massban joined:1h age:1d` shows a dry run of the 1,000 raiders;
// Confirm bans them in five bulk calls with 1,000 child cases of one parent, and the progress
// message ends with the outcome. A dry run whose Confirm comes after 5 minutes (the test's
// clock) does nothing.
func TestMassBanCommandEndToEnd(t *testing.T) {
	t.Parallel()
	w := newMassWorld(t, 1000)
	msg, confirm := w.dryRun(t, "$massban joined:1h age:1d raid of spam bots")
	if !strings.Contains(msg.Content, "**1000** users") || !strings.Contains(msg.Content, "5 bulk calls") {
		t.Errorf("dry run %q does not count 1000 users in 5 calls", msg.Content)
	}
	if n := w.s.RateLimitStats().Routes[discordtest.BulkBanRoute].Requests; n != 0 {
		t.Fatalf("the dry run made %d bulk calls", n)
	}
	if r := w.click(t, msg, confirm); !strings.Contains(r.Content, "Confirmed") {
		t.Errorf("Confirm answered %q", r.Content)
	}
	done := w.botMessage(t, "Done: 1000 of 1000 banned")
	if !strings.Contains(done.Content, "Mass ban (case #1)") {
		t.Errorf("outcome %q does not name the parent case", done.Content)
	}
	if n := w.s.RateLimitStats().Routes[discordtest.BulkBanRoute].Requests; n != 5 {
		t.Errorf("%d bulk-ban calls; want 5", n)
	}
	for _, r := range w.raiders {
		if _, banned := w.s.Banned(w.guild, r); !banned {
			t.Fatalf("raider %d not banned", r)
		}
	}
	children := map[discord.UserID]int{}
	for _, c := range w.cases(t) {
		if c.Metadata[cases.MetaParentCase] == "1" {
			if c.Type != cases.Ban || c.Status != cases.Active {
				t.Errorf("child %+v is not an active BAN", c)
			}
			children[c.UserID]++
		}
	}
	if len(children) != 1000 {
		t.Errorf("%d users with child cases; want 1000", len(children))
	}
	for u, n := range children {
		if n != 1 {
			t.Errorf("user %d has %d child cases", u, n)
		}
	}

	// Expiry: a dry run (of the moderator's own server members: nobody left matches, so list
	// one by id), Confirm after 5 minutes and a second.
	plainID := strconv.FormatInt(int64(w.plain), 10)
	msg, confirm = w.dryRun(t, "$massban "+plainID+" late")
	w.clk.Advance(5*time.Minute + time.Second)
	if r := w.click(t, msg, confirm); !strings.Contains(r.Content, "expired") {
		t.Errorf("a late Confirm answered %q; want that the dry run expired", r.Content)
	}
	if _, banned := w.s.Banned(w.guild, w.plain); banned {
		t.Error("an expired Confirm banned someone")
	}
}

// TestMassBanRefusalsEndToEnd: a mass ban of the owner, of gavel, with a pattern that does
// not compile, or by a member without the permissions is refused with what is accepted.
func TestMassBanRefusalsEndToEnd(t *testing.T) {
	t.Parallel()
	w := newMassWorld(t, 3)
	for cmd, want := range map[string]string{
		"$massban " + w.owner.String() + " x":          "the owner",
		"$massban " + w.s.BotID().String() + " x":      "gavel itself",
		"$massban name:(unclosed x":                    "does not compile",
		"$massban joined:90d x":                        "joined:",
		"$massban just words":                          "no targets",
		"$massban raid:2 x":                            "this server has no raid #2 (this server has had no raid yet",
		"$masstimeout " + w.raiders[0].String() + " x": "duration",
	} {
		if m := w.answer(t, w.mod, cmd); !strings.Contains(m.Content, want) {
			t.Errorf("%s answered %q; want %q", cmd, m.Content, want)
		}
	}
	if m := w.answer(t, w.plain, "$massban "+w.raiders[0].String()+" x"); !strings.Contains(m.Content, "Ban Members") {
		t.Errorf("a member without permission got %q", m.Content)
	}
	if n := len(w.cases(t)); n != 0 {
		t.Errorf("%d cases after refusals", n)
	}
}

// TestBanOnJoinAndAgeGateEndToEnd: non-members past Discord's cap go on the ban-on-join list;
// one who then joins is banned on sight with a case. With the account-age gate on, a new
// account that joins is timed out until it is old enough, with a case and a DM saying why.
func TestBanOnJoinAndAgeGateEndToEnd(t *testing.T) {
	t.Parallel()
	w := newMassWorld(t, 0)
	var outside []discordtest.ID
	for i := range 3 {
		outside = append(outside, w.s.AddUser(fmt.Sprint("left", i), false))
	}
	w.s.SetNonMemberBanCap(w.guild, 0)
	var ids []string
	for _, u := range outside {
		ids = append(ids, u.String())
	}
	msg, confirm := w.dryRun(t, "$massban "+strings.Join(ids, " ")+" left before the ban")
	w.click(t, msg, confirm)
	w.botMessage(t, "3 on the ban-on-join list")
	if err := w.s.UserJoins(w.guild, outside[1]); err != nil {
		t.Fatal(err)
	}
	// The case's mod-log post follows the ban and the case's finalizing.
	w.modlogPost(t, "ban-on-join list of mass ban case #1")
	if _, banned := w.s.Banned(w.guild, outside[1]); !banned {
		t.Error("the listed user who joined is not banned")
	}
	onSight := false
	for _, c := range w.cases(t) {
		onSight = onSight || (c.UserID == discord.UserID(outside[1]) && c.Type == cases.Ban && c.Status == cases.Active && strings.Contains(c.Reason, "ban-on-join list of mass ban case #1"))
	}
	if !onSight {
		t.Error("no active BAN case for the ban on sight")
	}

	w.s.SendMessage(w.general, w.owner, "$config agegate 7d")
	w.botMessage(t, "account-age gate is on")
	young := w.s.AddUser("newbie", false)
	if err := w.s.UserJoins(w.guild, young); err != nil {
		t.Fatal(err)
	}
	// The DM follows the timeout and its case (DMs after for a timeout).
	waitOnMessages(t, w.s, "the DM saying why", func() bool {
		ch, ok := w.s.DMChannel(young)
		if !ok {
			return false
		}
		for _, m := range w.s.Messages(ch) {
			b, _ := json.Marshal(m)
			if strings.Contains(string(b), "Account-age gate") {
				return true
			}
		}
		return false
	})
	if m, ok := w.s.Member(w.guild, young); !ok || m.CommunicationDisabledUntil == nil || !m.CommunicationDisabledUntil.After(w.clk.Now().Add(6*24*time.Hour)) {
		t.Errorf("the new account is not timed out for the week it lacks: %+v", m)
	}
	var gated bool
	for _, c := range w.cases(t) {
		gated = gated || (c.UserID == discord.UserID(young) && c.Type == cases.Timeout && c.Status == cases.Active)
	}
	if !gated {
		t.Error("no active TIMEOUT case for the gated member")
	}
}
