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
	"github.com/gavelbot/gavel/internal/store"
)

// massWorld is a server with 1,000 raiders who joined just now, a moderator with Ban Members
// and Manage Server, and gavel holding both.
type massWorld struct {
	*world
	raiders []discordtest.ID
	clk     *clock.Manual
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
			Channels: []discordtest.Channel{{ID: w.general, Type: discordtest.ChannelGuildText, Name: "general", Position: 1}},
		}},
	}
	clk := clock.NewManual(time.Now())
	w.s = discordtest.New(t, discordtest.WithSeed(seed), discordtest.WithLogger(quietLogger()), discordtest.WithClock(clk.Now))
	w.dbURL = "sqlite:" + filepath.Join(t.TempDir(), "gavel.db")
	mw := &massWorld{world: w, clk: clk}
	for i := range raiders {
		u := w.s.AddUser(fmt.Sprintf("raider%d", i), false)
		w.s.AddMember(w.guild, u)
		mw.raiders = append(mw.raiders, u)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a, err := app.New(ctx, w.config(), quietLogger(), app.WithClock(clk), app.WithGatewayOptions(gateway.WithBackoff(10*time.Millisecond, 100*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	rctx, rcancel := context.WithTimeout(ctx, 15*time.Second)
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
	before := len(w.s.Messages(w.general))
	w.s.SendMessage(w.general, w.mod, command)
	var msg discordtest.Message
	waitFor(t, "the dry run", func() bool {
		for _, m := range w.s.Messages(w.general)[before:] {
			if m.AuthorID == w.s.BotID() {
				msg = m
				return true
			}
		}
		return false
	})
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
	ctx, cancel := context.WithTimeout(w.ctx, 15*time.Second)
	defer cancel()
	rs, err := ia.WaitResponses(ctx, 1)
	if err != nil {
		t.Fatalf("the click's answer: %v", err)
	}
	return rs[0]
}

func (w *massWorld) botMessage(t *testing.T, want string) discordtest.Message {
	t.Helper()
	// A mass ban is five bulk calls a second apart and 1,000 cases; on a loaded machine that
	// is well beyond waitFor's 15 seconds. The bound only limits a failing test.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		for _, m := range w.s.Messages(w.general) {
			if m.AuthorID == w.s.BotID() && strings.Contains(m.Content, want) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
	w := newMassWorld(t, 3)
	for cmd, want := range map[string]string{
		"$massban " + w.owner.String() + " x":          "the owner",
		"$massban " + w.s.BotID().String() + " x":      "gavel itself",
		"$massban name:(unclosed x":                    "does not compile",
		"$massban joined:90d x":                        "joined:",
		"$massban just words":                          "no targets",
		"$massban raid:2 x":                            "raid numbers",
		"$masstimeout " + w.raiders[0].String() + " x": "duration",
	} {
		before := len(w.s.Messages(w.general))
		w.s.SendMessage(w.general, w.mod, cmd)
		waitFor(t, "the refusal of "+cmd, func() bool {
			for _, m := range w.s.Messages(w.general)[before:] {
				if m.AuthorID == w.s.BotID() {
					if !strings.Contains(m.Content, want) {
						t.Errorf("%s answered %q; want %q", cmd, m.Content, want)
					}
					return true
				}
			}
			return false
		})
	}
	before := len(w.s.Messages(w.general))
	w.s.SendMessage(w.general, w.plain, "$massban "+w.raiders[0].String()+" x")
	waitFor(t, "the permission refusal", func() bool {
		for _, m := range w.s.Messages(w.general)[before:] {
			if m.AuthorID == w.s.BotID() {
				if !strings.Contains(m.Content, "Ban Members") {
					t.Errorf("a member without permission got %q", m.Content)
				}
				return true
			}
		}
		return false
	})
	if n := len(w.cases(t)); n != 0 {
		t.Errorf("%d cases after refusals", n)
	}
}

// TestBanOnJoinAndAgeGateEndToEnd: non-members past Discord's cap go on the ban-on-join list;
// one who then joins is banned on sight with a case. With the account-age gate on, a new
// account that joins is timed out until it is old enough, with a case and a DM saying why.
func TestBanOnJoinAndAgeGateEndToEnd(t *testing.T) {
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
	waitFor(t, "the ban on sight", func() bool { _, banned := w.s.Banned(w.guild, outside[1]); return banned })
	waitFor(t, "the ban on sight's case", func() bool {
		for _, c := range w.cases(t) {
			if c.UserID == discord.UserID(outside[1]) && c.Type == cases.Ban && c.Status == cases.Active && strings.Contains(c.Reason, "ban-on-join list of mass ban case #1") {
				return true
			}
		}
		return false
	})

	w.s.SendMessage(w.general, w.owner, "$config agegate 7d")
	w.botMessage(t, "account-age gate is on")
	young := w.s.AddUser("newbie", false)
	if err := w.s.UserJoins(w.guild, young); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the age gate's timeout", func() bool {
		m, ok := w.s.Member(w.guild, young)
		return ok && m.CommunicationDisabledUntil != nil && m.CommunicationDisabledUntil.After(w.clk.Now().Add(6*24*time.Hour))
	})
	waitFor(t, "the DM saying why", func() bool {
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
	var gated bool
	for _, c := range w.cases(t) {
		gated = gated || (c.UserID == discord.UserID(young) && c.Type == cases.Timeout && c.Status == cases.Active)
	}
	if !gated {
		t.Error("no active TIMEOUT case for the gated member")
	}
}
