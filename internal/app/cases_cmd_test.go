package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/gateway"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
)

// casesWorld is a guild (without an icon, which crashes Tux's list) whose moderators have
// Manage Messages, with a mod-log channel, and a run of cases recorded before gavel starts.
type casesWorld struct {
	*world
	modlog discordtest.ID
	// modlog2 is a second text channel the mod log may move to.
	modlog2 discordtest.ID
	// app is the running gavel (start).
	app *app.App
}

func newCasesWorld(t *testing.T) *casesWorld {
	t.Helper()
	const base = 710000000000000000
	w := &world{guild: base + 100, owner: base + 201, mod: base + 202, target: base + 203, other: base + 204, plain: base + 205,
		modRole: base + 301, botRole: base + 302, general: base + 401}
	cw := &casesWorld{world: w, modlog: base + 402, modlog2: base + 403}
	seed := discordtest.Seed{
		Users: []discordtest.User{{ID: w.owner, Username: "owner"}, {ID: w.mod, Username: "mod"},
			{ID: w.target, Username: "target"}, {ID: w.other, Username: "other"}, {ID: w.plain, Username: "plain"}},
		Guilds: []discordtest.SeedGuild{{
			ID: w.guild, Name: "no icon guild", OwnerID: w.owner,
			Roles: []discordtest.Role{
				{ID: w.modRole, Name: "mods", Position: 1, Permissions: discordtest.PermManageMessages | discordtest.PermModerateMembers},
				{ID: w.botRole, Name: "gavel", Position: 2, Permissions: botPerms | discordtest.PermManageMessages},
			},
			BotRoles: []discordtest.ID{w.botRole},
			Members: []discordtest.SeedMember{
				{UserID: w.owner}, {UserID: w.mod, Roles: []discordtest.ID{w.modRole}},
				{UserID: w.target}, {UserID: w.other}, {UserID: w.plain},
			},
			Channels: []discordtest.Channel{
				{ID: w.general, Type: discordtest.ChannelGuildText, Name: "general", Position: 1},
				{ID: cw.modlog, Type: discordtest.ChannelGuildText, Name: "mod-log", Position: 2},
				{ID: cw.modlog2, Type: discordtest.ChannelGuildText, Name: "mod-log-2", Position: 3},
			},
		}},
	}
	w.s = discordtest.New(t, unpaced(discordtest.WithSeed(seed), discordtest.WithLogger(quietLogger()))...)
	w.dbURL = "sqlite:" + filepath.Join(t.TempDir(), "gavel.db")
	return cw
}

// prepare records cases 1–25 (target has 20: WARN, other 5: KICK; every fourth by the owner)
// and sets the mod-log channel, before gavel starts; more may be set up in fn.
func (cw *casesWorld) prepare(t *testing.T, fn func(st *store.Store)) {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenURL(ctx, cw.dbURL, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	cs := cases.NewService(st)
	for i := 1; i <= 25; i++ {
		n := cases.New{GuildID: discord.GuildID(cw.guild), UserID: discord.UserID(cw.target), ModeratorID: discord.UserID(cw.mod), Type: cases.Warn,
			Reason: fmt.Sprintf("seeded %d", i)}
		if i%5 == 0 {
			n.UserID, n.Type = discord.UserID(cw.other), cases.Kick
		}
		if i%4 == 0 {
			n.ModeratorID = discord.UserID(cw.owner)
		}
		if _, err := cs.Create(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := settings.NewService(st).SetChannel(ctx, discord.GuildID(cw.guild), discord.UserID(cw.owner), settings.ModLog, discord.ChannelID(cw.modlog)); err != nil {
		t.Fatal(err)
	}
	if fn != nil {
		fn(st)
	}
}

func (cw *casesWorld) start(t *testing.T, opts ...app.Option) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newTestApp(ctx, cw.config(), quietLogger(), append([]app.Option{app.WithGatewayOptions(gateway.WithBackoff(10*time.Millisecond, 100*time.Millisecond))}, opts...)...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	cw.app = a
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
	if err := cw.s.WaitReady(readyCtx, 1); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
}

// send posts a prefix command and returns the bot's answer in the channel.
func (cw *casesWorld) send(t *testing.T, user discordtest.ID, content string) discordtest.Message {
	t.Helper()
	before := len(cw.s.Messages(cw.general))
	cw.s.SendMessage(cw.general, user, content)
	var reply discordtest.Message
	waitFor(t, "the reply to "+content, func() bool {
		msgs := cw.s.Messages(cw.general)
		for _, m := range msgs[min(before, len(msgs)):] {
			if m.AuthorID == cw.s.BotID() {
				reply = m
				return true
			}
		}
		return false
	})
	return reply
}

// slash runs a /cases subcommand and returns its (ephemeral) answer.
func (cw *casesWorld) slash(t *testing.T, user discordtest.ID, sub string, opts ...discordtest.CommandOption) (*discordtest.Interaction, discordtest.Message) {
	t.Helper()
	ia := cw.s.SlashCommand(cw.guild, cw.general, user, "cases", discordtest.SubCommand(sub, opts...))
	ctx, cancel := context.WithTimeout(context.Background(), eventBound)
	defer cancel()
	var msg discordtest.Message
	waitFor(t, "the answer to /cases "+sub, func() bool {
		msgs, err := ia.WaitResponses(ctx, 1)
		if err != nil || len(msgs) == 0 || msgs[0].Flags&discordtest.MessageFlagLoading != 0 {
			return false
		}
		msg = msgs[0]
		return true
	})
	if msg.Flags&discordtest.MessageFlagEphemeral == 0 {
		t.Errorf("/cases %s answered publicly", sub)
	}
	return ia, msg
}

// click presses a button and waits until gavel has answered.
func (cw *casesWorld) click(t *testing.T, user discordtest.ID, m discordtest.Message, label string) *discordtest.Interaction {
	t.Helper()
	var id string
	for _, b := range buttonsOf(t, m) {
		if strings.Contains(b.Label, label) {
			id = b.CustomID
		}
	}
	if id == "" {
		t.Fatalf("message %s has no %q button", m.ID, label)
	}
	ia := cw.s.ClickButton(cw.guild, m.ChannelID, user, m.ID, id)
	waitFor(t, "the answer to the click on "+label, ia.Acknowledged)
	return ia
}

// current is the message as it is now (after an update).
func (cw *casesWorld) current(t *testing.T, m discordtest.Message, ia *discordtest.Interaction) discordtest.Message {
	t.Helper()
	if ia != nil {
		if rs := ia.Responses(); len(rs) > 0 {
			return rs[0]
		}
	}
	for _, got := range cw.s.Messages(m.ChannelID) {
		if got.ID == m.ID {
			return got
		}
	}
	t.Fatalf("message %s is gone", m.ID)
	return discordtest.Message{}
}

type embedView struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Footer      *struct {
		Text string `json:"text"`
	} `json:"footer"`
	Fields []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"fields"`
}

func (e embedView) field(name string) string {
	var out []string
	for _, f := range e.Fields {
		if strings.HasPrefix(f.Name, name) {
			out = append(out, f.Value)
		}
	}
	return strings.Join(out, "\n")
}

func embedOf(t *testing.T, m discordtest.Message) embedView {
	t.Helper()
	if len(m.Embeds) != 1 {
		t.Fatalf("message %q has %d embeds; want 1", m.Content, len(m.Embeds))
	}
	var e embedView
	if err := json.Unmarshal(m.Embeds[0], &e); err != nil {
		t.Fatal(err)
	}
	return e
}

type buttonView struct {
	Label    string `json:"label"`
	CustomID string `json:"custom_id"`
	Disabled bool   `json:"disabled"`
}

func buttonsOf(t *testing.T, m discordtest.Message) []buttonView {
	t.Helper()
	var out []buttonView
	for _, raw := range m.Components {
		var row struct {
			Components []buttonView `json:"components"`
		}
		if err := json.Unmarshal(raw, &row); err != nil {
			t.Fatal(err)
		}
		out = append(out, row.Components...)
	}
	return out
}

func disabled(t *testing.T, m discordtest.Message) string {
	var out []string
	for _, b := range buttonsOf(t, m) {
		if b.Disabled {
			out = append(out, strings.Trim(b.Label, " ⏮◀▶⏭"))
		}
	}
	return strings.Join(out, ",")
}

// firstLine is the list's first case number.
func firstLine(t *testing.T, m discordtest.Message) string {
	t.Helper()
	d := embedOf(t, m).Description
	line, _, _ := strings.Cut(d, "\n")
	n, _, _ := strings.Cut(line, " ")
	return n
}

func mention(id discordtest.ID) string { return "<@" + id.String() + ">" }

// deliveries records the mod log's deliveries, for tests that wait on them.
type deliveries struct {
	mu  sync.Mutex
	got []delivery
}

type delivery struct {
	caseID  int64
	outcome modlog.Outcome
}

func (d *deliveries) add(caseID int64, o modlog.Outcome) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got = append(d.got, delivery{caseID, o})
}

// count is how many deliveries of case id ended with outcome o.
func (d *deliveries) count(caseID int64, o modlog.Outcome) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, x := range d.got {
		if x.caseID == caseID && x.outcome == o {
			n++
		}
	}
	return n
}

// outbox lists the mod log's queued deliveries in the database at url.
func outbox(t *testing.T, url string) []modlog.Pending {
	t.Helper()
	st, err := store.OpenURL(context.Background(), url, store.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := modlog.New(st, settings.NewService(st)).Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCasesCommand(t *testing.T) {
	t.Parallel()
	cw := newCasesWorld(t)
	cw.prepare(t, nil)
	// The mod log's clock is the test's: a failed edit waits for the test to move it.
	clk := clock.NewManual(time.Now())
	var dl deliveries
	cw.start(t, app.WithModlogOptions(modlog.WithClock(clk), modlog.WithDeliveryObserver(dl.add)))

	// Case 26, through the pipeline: it has a mod-log message to keep up to date.
	if r := cw.send(t, cw.mod, "$warn "+mention(cw.target)+" first reason"); !strings.Contains(r.Content, "Case #26") {
		t.Fatalf("warn reply = %q; want Case #26", r.Content)
	}
	var logMsg discordtest.Message
	waitFor(t, "the mod-log message", func() bool {
		for _, m := range cw.s.Messages(cw.modlog) {
			if len(m.Embeds) > 0 && strings.Contains(embedOf(t, m).Title, "Case #26") {
				logMsg = m
				return true
			}
		}
		return false
	})

	t.Run("list pages through the prefix command", func(t *testing.T) {
		m := cw.send(t, cw.mod, "$cases")
		e := embedOf(t, m)
		if e.Title != "Cases (26)" || firstLine(t, m) != "`#26`" || strings.Count(e.Description, "\n") != 9 {
			t.Fatalf("first page = %q\n%s", e.Title, e.Description)
		}
		if !strings.Contains(e.Description, "**WARN** · active · <t:") || !strings.Contains(e.Description, "first reason") {
			t.Errorf("a line lacks type, status, time or reason:\n%s", e.Description)
		}
		if e.Footer == nil || e.Footer.Text != "Page 1 of 3 · newest first" {
			t.Errorf("footer = %+v", e.Footer)
		}
		if got := disabled(t, m); got != "First,Previous" {
			t.Errorf("disabled on page 1: %q; want First,Previous", got)
		}
		cw.click(t, cw.mod, m, "Next")
		m = cw.current(t, m, nil)
		if firstLine(t, m) != "`#16`" || disabled(t, m) != "" {
			t.Errorf("after Next: first line %s, disabled %q; want #16 and none", firstLine(t, m), disabled(t, m))
		}
		cw.click(t, cw.mod, m, "Last")
		m = cw.current(t, m, nil)
		e = embedOf(t, m)
		if firstLine(t, m) != "`#6`" || !strings.HasSuffix(e.Description, "seeded 1") || disabled(t, m) != "Next,Last" {
			t.Errorf("last page: first %s, disabled %q:\n%s", firstLine(t, m), disabled(t, m), e.Description)
		}
		prev := cw.click(t, cw.mod, m, "Previous")
		if m = cw.current(t, m, nil); firstLine(t, m) != "`#16`" {
			t.Errorf("after Previous: first line %s; want #16", firstLine(t, m))
		}
		// A click replayed by a RESUME (the shard's next owner gets it again) is dropped,
		// not run and answered a second time.
		cw.s.RedeliverInteraction(prev)
		waitFor(t, "the replayed click to be dropped", func() bool { return commandCount(t, cw.app, "cases list", "replayed") == 1 })
		if n := len(prev.Responses()); n != 1 {
			t.Errorf("the replayed click was answered: %d answers; want 1", n)
		}
		// A member without Manage Messages may not turn the pages; the page stays.
		ia := cw.click(t, cw.plain, m, "First")
		if rs := ia.Responses(); len(rs) != 1 || !strings.Contains(rs[0].Content, "Manage Messages") || rs[0].Flags&discordtest.MessageFlagEphemeral == 0 {
			t.Errorf("click by a plain member answered %+v; want an ephemeral refusal naming Manage Messages", rs)
		}
		if m = cw.current(t, m, nil); firstLine(t, m) != "`#16`" {
			t.Errorf("a refused click changed the page to %s", firstLine(t, m))
		}
	})

	t.Run("filters", func(t *testing.T) {
		for _, tc := range []struct{ cmd, title, first string }{
			{"$cases " + mention(cw.target), "Cases for target (21)", "`#26`"},
			{"$c " + cw.other.String(), "Cases for other (5)", "`#25`"},
			{"$cases list -type kick", "Cases type KICK (5)", "`#25`"},
			{"$cases filter -mod " + mention(cw.owner) + " -type warn", "Cases by owner, type WARN (5)", "`#24`"},
			{"$cases search seeded 24", `Cases with "seeded 24" (1)`, "`#24`"},
			{"$cases search seeded -type kick", `Cases type KICK, with "seeded" (5)`, "`#25`"},
			{"$cases -status voided", "Cases status voided (0)", ""},
		} {
			m := cw.send(t, cw.mod, tc.cmd)
			e := embedOf(t, m)
			if e.Title != tc.title {
				t.Errorf("%s: title %q; want %q", tc.cmd, e.Title, tc.title)
			}
			if tc.first != "" && firstLine(t, m) != tc.first {
				t.Errorf("%s: first line %s; want %s", tc.cmd, firstLine(t, m), tc.first)
			}
			if tc.first == "" && e.Description != "No cases match." {
				t.Errorf("%s: description %q", tc.cmd, e.Description)
			}
		}
		if r := cw.send(t, cw.mod, "$cases nobody"); !strings.Contains(r.Content, "use a case number") {
			t.Errorf("$cases nobody = %q", r.Content)
		}
		// A page past the end shows the last page and says so (issue 12).
		m := cw.send(t, cw.mod, "$cases list -page 999")
		if !strings.Contains(m.Content, "There is no page 999: 3 pages. This is the last.") || firstLine(t, m) != "`#6`" {
			t.Errorf("$cases list -page 999: %q, first line %s", m.Content, firstLine(t, m))
		}
		if m := cw.send(t, cw.mod, "$cases search seeded -type kick -p 2"); !strings.Contains(m.Content, "There is no page 2: 1 page.") {
			t.Errorf("a search's page 2 of 1: %q", m.Content)
		}
	})

	t.Run("list through the slash command, with its buttons", func(t *testing.T) {
		ia, m := cw.slash(t, cw.mod, "list", discordtest.UserOpt("user", cw.target), discordtest.StringOpt("type", "WARN"))
		e := embedOf(t, m)
		if e.Title != "Cases for target, type WARN (21)" || firstLine(t, m) != "`#26`" {
			t.Fatalf("slash list = %q, first %s", e.Title, firstLine(t, m))
		}
		// The filters travel in the buttons: the last page holds the target's oldest warns.
		cw.click(t, cw.mod, m, "Last")
		m = cw.current(t, m, ia)
		e = embedOf(t, m)
		if e.Title != "Cases for target, type WARN (21)" || firstLine(t, m) != "`#1`" || e.Footer.Text != "Page 3 of 3 · newest first" {
			t.Errorf("slash list, last page = %q, first %s, footer %q", e.Title, firstLine(t, m), e.Footer.Text)
		}
	})

	t.Run("view", func(t *testing.T) {
		m := cw.send(t, cw.mod, "$cases 26")
		e := embedOf(t, m)
		if e.Title != "Case #26 · WARN" || e.Description != "first reason" || e.field("Status") != "active" || e.field("Expires") != "never" {
			t.Errorf("view = %+v", e)
		}
		if !strings.Contains(e.field("User"), "target") || !strings.Contains(e.field("Moderator"), "mod") {
			t.Errorf("user %q, moderator %q", e.field("User"), e.field("Moderator"))
		}
		wantLink := fmt.Sprintf("https://discord.com/channels/%s/%s/%s", cw.guild, cw.modlog, logMsg.ID)
		if e.field("Mod log") != wantLink {
			t.Errorf("mod log field %q; want %q", e.field("Mod log"), wantLink)
		}
		if h := e.field("History"); !strings.Contains(h, "**created**") || !strings.Contains(h, "**status**") || !strings.Contains(h, "**modlog**") {
			t.Errorf("history:\n%s", h)
		}
		_, sm := cw.slash(t, cw.mod, "view", discordtest.IntOpt("number", 5))
		if e := embedOf(t, sm); e.Title != "Case #5 · KICK" || !strings.Contains(e.field("User"), "other") {
			t.Errorf("/cases view 5 = %+v", e)
		}
		if r := cw.send(t, cw.mod, "$cases view 999"); r.Content != "Case #999 does not exist in this server." {
			t.Errorf("missing case: %q", r.Content)
		}
		if _, r := cw.slash(t, cw.mod, "modify", discordtest.IntOpt("number", 999), discordtest.StringOpt("reason", "x")); r.Content != "Case #999 does not exist in this server." {
			t.Errorf("modify a missing case: %q", r.Content)
		}
	})

	logEmbed := func() embedView { return embedOf(t, cw.current(t, logMsg, nil)) }
	// waitLog waits for the mod-log message to show what ok wants: the change queued its
	// edit, which the mod log's worker makes after the reply.
	waitLog := func(t *testing.T, what string, ok func(embedView) bool) {
		t.Helper()
		waitFor(t, what, func() bool { return ok(logEmbed()) })
	}

	t.Run("modify", func(t *testing.T) {
		r := cw.send(t, cw.mod, "$cases modify 26 -reason spam <@"+cw.other.String()+"> @everyone")
		if !strings.HasPrefix(r.Content, "Case #26 updated: reason changed.") || len(r.Embeds) != 1 {
			t.Errorf("reason only: %q", r.Content)
		}
		waitLog(t, "the mod-log message after the reason change", func(le embedView) bool {
			return le.Description == "spam <@"+cw.other.String()+"> @everyone" && strings.Contains(le.Footer.Text, "updated by mod")
		})
		// The edit keeps the target's name in the User field (it once fell back to the id).
		waitLog(t, "the edited mod-log message naming the target", func(le embedView) bool {
			return strings.Contains(le.field("User"), "target") && strings.Contains(le.field("User"), cw.target.String())
		})

		_, sm := cw.slash(t, cw.mod, "modify", discordtest.IntOpt("number", 26), discordtest.StringOpt("status", "voided"))
		if !strings.HasPrefix(sm.Content, "Case #26 updated: status active → voided") || !strings.Contains(sm.Content, "does not undo") {
			t.Errorf("status only: %q", sm.Content)
		}
		waitLog(t, "the mod-log message after voiding", func(le embedView) bool { return strings.Contains(le.Title, "(voided)") })

		// One field unchanged, the other changed: the change is applied (Tux refused both).
		r = cw.send(t, cw.mod, "$cases edit 26 -reason spam <@"+cw.other.String()+"> @everyone -status active")
		if !strings.Contains(r.Content, "status voided → active") || !strings.Contains(r.Content, "Unchanged: the reason was already that") {
			t.Errorf("one unchanged, one changed: %q", r.Content)
		}
		r = cw.send(t, cw.mod, "$cases m 26 -reason both changed -status voided")
		if !strings.Contains(r.Content, "reason changed; status active → voided") {
			t.Errorf("both: %q", r.Content)
		}
		waitLog(t, "the mod-log message after both", func(le embedView) bool {
			return le.Description == "both changed" && strings.Contains(le.Title, "(voided)")
		})
		if r := cw.send(t, cw.mod, "$cases modify 26 -status voided -reason both changed"); !strings.Contains(r.Content, "Nothing changed") {
			t.Errorf("unchanged: %q", r.Content)
		}
		if r := cw.send(t, cw.mod, "$cases modify 26"); !strings.Contains(r.Content, "Say what to change") || !strings.Contains(r.Content, "$cases modify <number>") {
			t.Errorf("nothing given: %q", r.Content)
		}

		c := caseNumbered(t, cw, 26)
		if c.Reason != "both changed" || c.Status != cases.Voided {
			t.Errorf("case 26 = %+v", c)
		}
		var reasons, statuses int
		for _, ev := range eventsOf(t, cw, c.ID) {
			switch ev.Kind {
			case cases.EventReason:
				reasons++
			case cases.EventStatus:
				statuses++
			}
			if ev.Kind != cases.EventCreated && ev.Kind != cases.EventStatus && ev.Kind != cases.EventModlog && ev.ActorID != discord.UserID(cw.mod) {
				t.Errorf("event %+v not by the moderator", ev)
			}
		}
		// created → active by the pipeline, then voided, active, voided by hand.
		if reasons != 2 || statuses != 4 {
			t.Errorf("history has %d reason and %d status rows; want 2 and 4", reasons, statuses)
		}
	})

	// The mod-log channel moves: the case's message stays where it was posted, and a later
	// change edits it there; nothing is posted in the new channel for it.
	t.Run("mod-log channel moved", func(t *testing.T) {
		if r := cw.send(t, cw.owner, "$config channel modlog <#"+cw.modlog2.String()+">"); !strings.Contains(r.Content, "mod-log channel is now") {
			t.Fatalf("moving the mod log: %q", r.Content)
		}
		if r := cw.send(t, cw.mod, "$cases modify 26 -reason after the move"); !strings.HasPrefix(r.Content, "Case #26 updated: reason changed.") {
			t.Fatalf("modify: %q", r.Content)
		}
		waitLog(t, "the old message edited in the old channel", func(le embedView) bool { return le.Description == "after the move" })
		if c := caseNumbered(t, cw, 26); c.ModlogChannelID != discord.ChannelID(cw.modlog) || c.ModlogMessageID != discord.MessageID(logMsg.ID) {
			t.Errorf("case 26 links %d/%d; want the message where it was posted, %s/%s", c.ModlogChannelID, c.ModlogMessageID, cw.modlog, logMsg.ID)
		}
		if n := len(cw.s.Messages(cw.modlog2)); n != 0 {
			t.Errorf("%d messages in the new mod-log channel; a change to an old case posts none", n)
		}
	})

	// An outage of the edit route: the edit is retried once it is over, after the backoff
	// (on the mod log's clock, which the test moves), and the message ends right.
	t.Run("edit outage", func(t *testing.T) {
		const route = "PATCH /channels/{channel_id}/messages/{message_id}"
		c := caseNumbered(t, cw, 26)
		failed := dl.count(c.ID, modlog.Retry)
		cw.s.FailNext(route, 1000, http.StatusServiceUnavailable)
		if r := cw.send(t, cw.mod, "$cases modify 26 -reason during the outage"); !strings.HasPrefix(r.Content, "Case #26 updated: reason changed.") {
			t.Fatalf("modify: %q", r.Content)
		}
		waitFor(t, "a failed edit", func() bool { return dl.count(c.ID, modlog.Retry) > failed })
		// A second change while the edit waits joins it: one delivery shows both.
		if r := cw.send(t, cw.mod, "$cases modify 26 -reason after the outage"); !strings.HasPrefix(r.Content, "Case #26 updated: reason changed.") {
			t.Fatalf("modify: %q", r.Content)
		}
		waitFor(t, "the second failed edit", func() bool { return dl.count(c.ID, modlog.Retry) > failed+1 })
		if le := logEmbed(); le.Description != "after the move" {
			t.Fatalf("the message changed during the outage: %q", le.Description)
		}
		cw.s.FailNext(route, 0, 0)
		edited := dl.count(c.ID, modlog.Edited)
		waitFor(t, "the worker waiting for its retry", func() bool { return len(clk.Armed()) > 0 })
		clk.Advance(time.Hour)
		waitLog(t, "the edit after the outage", func(le embedView) bool { return le.Description == "after the outage" })
		waitFor(t, "the delivery recorded", func() bool { return dl.count(c.ID, modlog.Edited) > edited })
	})

	// A message deleted by hand is not edited again, nor posted anew: the delivery stops.
	t.Run("mod-log message gone", func(t *testing.T) {
		deleteMessage(t, cw, cw.modlog, logMsg.ID)
		c := caseNumbered(t, cw, 26)
		r := cw.send(t, cw.mod, "$cases modify 26 -reason after the log was deleted")
		if !strings.HasPrefix(r.Content, "Case #26 updated: reason changed.") {
			t.Errorf("reply = %q", r.Content)
		}
		waitFor(t, "the delivery given up", func() bool { return dl.count(c.ID, modlog.Gone) == 1 })
		if c := caseNumbered(t, cw, 26); c.Reason != "after the log was deleted" {
			t.Errorf("the case did not change: %+v", c)
		}
		if n := len(cw.s.Messages(cw.modlog)) + len(cw.s.Messages(cw.modlog2)); n != 0 {
			t.Errorf("%d mod-log messages after the deletion; want none posted anew", n)
		}
		// Nothing is left to retry.
		if p := outbox(t, cw.dbURL); len(p) != 0 {
			t.Errorf("outbox after the message was deleted: %+v; want it empty", p)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		if r := cw.send(t, cw.plain, "$cases"); !strings.Contains(r.Content, "Manage Messages") || !strings.Contains(r.Content, "cases list") {
			t.Errorf("plain member: %q", r.Content)
		}
		// A second prefix refusal within a minute is kept quiet (the member has no standing);
		// a slash one is always answered.
		if _, r := cw.slash(t, cw.plain, "modify", discordtest.CommandOption{Name: "number", Type: discordtest.OptionInteger, Value: 1},
			discordtest.CommandOption{Name: "reason", Type: discordtest.OptionString, Value: "mine now"}); !strings.Contains(r.Content, "Manage Messages") {
			t.Errorf("plain member modify: %q", r.Content)
		}
		if c := caseNumbered(t, cw, 1); c.Reason != "seeded 1" {
			t.Errorf("a refused modify changed case 1: %+v", c)
		}
	})
}

// TestCasesRankTooLow: in a guild with ranks, a moderator of rank 3 may list (rank 2) but
// not modify (rank 4), and the case stays as it was.
func TestCasesRankTooLow(t *testing.T) {
	t.Parallel()
	cw := newCasesWorld(t)
	cw.prepare(t, func(st *store.Store) {
		ctx := context.Background()
		ps, err := permissions.New(st, []string{"cases list", "cases view", "cases modify"})
		if err != nil {
			t.Fatal(err)
		}
		owner := int64(cw.owner)
		if _, _, err := ps.InitRanks(ctx, discord.GuildID(cw.guild), discord.UserID(owner)); err != nil {
			t.Fatal(err)
		}
		if err := ps.AssignRole(ctx, discord.GuildID(cw.guild), discord.UserID(owner), discord.RoleID(cw.modRole), 3); err != nil {
			t.Fatal(err)
		}
		if err := ps.SetCommandRank(ctx, discord.GuildID(cw.guild), discord.UserID(owner), "cases", 2); err != nil {
			t.Fatal(err)
		}
		if err := ps.SetCommandRank(ctx, discord.GuildID(cw.guild), discord.UserID(owner), "cases modify", 4); err != nil {
			t.Fatal(err)
		}
	})
	cw.start(t)
	if m := cw.send(t, cw.mod, "$cases view 3"); len(m.Embeds) != 1 || embedOf(t, m).Title != "Case #3 · WARN" {
		t.Errorf("rank 3 viewing (needs 2 through cases): %q", m.Content)
	}
	r := cw.send(t, cw.mod, "$cases modify 3 -status voided")
	if !strings.Contains(r.Content, "You need rank 4") || !strings.Contains(r.Content, "cases modify") {
		t.Errorf("rank 3 modifying: %q", r.Content)
	}
	_, sm := cw.slash(t, cw.mod, "modify", discordtest.IntOpt("number", 3), discordtest.StringOpt("status", "voided"))
	if !strings.Contains(sm.Content, "You need rank 4") {
		t.Errorf("rank 3 modifying by slash: %q", sm.Content)
	}
	if c := caseNumbered(t, cw, 3); c.Status != cases.Active {
		t.Errorf("a refused modify changed case 3: %+v", c)
	}
}

func openCases(t *testing.T, cw *casesWorld) (*cases.Service, func()) {
	t.Helper()
	st, err := store.OpenURL(context.Background(), cw.dbURL, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	return cases.NewService(st), func() { st.Close() }
}

func caseNumbered(t *testing.T, cw *casesWorld, n int64) cases.Case {
	t.Helper()
	cs, done := openCases(t, cw)
	defer done()
	c, err := cs.GetByNumber(context.Background(), discord.GuildID(cw.guild), n)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func eventsOf(t *testing.T, cw *casesWorld, id int64) []cases.Event {
	t.Helper()
	cs, done := openCases(t, cw)
	defer done()
	evs, err := cs.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// deleteMessage deletes one of the bot's messages through the fake's REST API, as a member
// cleaning up the mod log would.
func deleteMessage(t *testing.T, cw *casesWorld, channel, id discordtest.ID) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, fmt.Sprintf("%s/channels/%s/messages/%s", cw.s.APIURL(), channel, id), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bot "+cw.s.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("deleting message %s: %s", id, resp.Status)
	}
}

// TestCasesModifyExpiry: -duration and -expires move a case's expiry and its scheduled
// lift; a timeout is applied again in Discord to match.
func TestCasesModifyExpiry(t *testing.T) {
	t.Parallel()
	cw := newCasesWorld(t)
	cw.prepare(t, nil)
	cw.start(t)

	if r := cw.send(t, cw.mod, "$timeout "+mention(cw.target)+" -d 2h too loud"); !strings.Contains(r.Content, "Case #26") {
		t.Fatalf("timeout reply = %q; want Case #26", r.Content)
	}
	c := caseNumbered(t, cw, 26)

	r := cw.send(t, cw.mod, "$cases modify 26 -duration 3h")
	if !strings.Contains(r.Content, "Case #26 updated: expiry") {
		t.Fatalf("modify -duration reply = %q", r.Content)
	}
	want := c.CreatedAt.Add(3 * time.Hour)
	if got := caseNumbered(t, cw, 26).ExpiresAt; !got.Equal(want) {
		t.Fatalf("expires at %v, want %v", got, want)
	}
	// The renewal runs at once and times the member out to the new end.
	waitFor(t, "the timeout re-applied to the new end", func() bool {
		m, ok := cw.s.Member(cw.guild, cw.target)
		return ok && m.CommunicationDisabledUntil != nil && m.CommunicationDisabledUntil.Sub(want).Abs() < 2*time.Second
	})
	var expiryEvents int
	for _, e := range eventsOf(t, cw, c.ID) {
		if e.Kind == cases.EventExpiry {
			expiryEvents++
		}
	}
	if expiryEvents == 0 {
		t.Error("no expiry row in the case's history")
	}

	if r := cw.send(t, cw.mod, "$cases modify 26 -duration 3h"); !strings.Contains(r.Content, "Nothing changed") {
		t.Errorf("the same duration again: %q", r.Content)
	}
	for in, says := range map[string]string{
		"$cases modify 26 -duration 3h -expires never": "not both",
		"$cases modify 26 -expires tomorrow":           "expires must be never, a time such as",
		"$cases modify 1 -duration 1d":                 "does not expire",
		"$cases modify 26 -duration 20y":               "duration 20 years is too long: the longest accepted is 10 years",
	} {
		if r := cw.send(t, cw.mod, in); !strings.Contains(r.Content, says) {
			t.Errorf("%q: reply %q, want %q", in, r.Content, says)
		}
	}
	if got := caseNumbered(t, cw, 26).ExpiresAt; !got.Equal(want) {
		t.Fatalf("a refused change moved the expiry to %v", got)
	}

	_, m := cw.slash(t, cw.mod, "modify", discordtest.IntOpt("number", 26), discordtest.StringOpt("expires", "never"))
	if !strings.Contains(m.Content, "→ never") {
		t.Fatalf("/cases modify expires:never = %q", m.Content)
	}
	if got := caseNumbered(t, cw, 26).ExpiresAt; !got.IsZero() {
		t.Errorf("expires at %v after -expires never", got)
	}
}
