package app_test

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/automod/enforcer"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/gateway"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
)

type automodWorld struct {
	*world
	modlog, auditlog, alerts, quiet discordtest.ID
}

func newAutomodWorld(t *testing.T, opts ...discordtest.Option) *automodWorld {
	t.Helper()
	const base = 710000000000000000
	w := &automodWorld{world: &world{guild: base + 100, owner: base + 201, mod: base + 202, target: base + 203, other: base + 204, plain: base + 205,
		modRole: base + 301, botRole: base + 302, general: base + 401},
		modlog: base + 402, auditlog: base + 403, alerts: base + 404, quiet: base + 405}
	text := func(id discordtest.ID, name string, pos int) discordtest.Channel {
		return discordtest.Channel{ID: id, Type: discordtest.ChannelGuildText, Name: name, Position: pos}
	}
	seed := discordtest.Seed{
		Users: []discordtest.User{{ID: w.owner, Username: "owner"}, {ID: w.mod, Username: "mod"},
			{ID: w.target, Username: "target"}, {ID: w.other, Username: "other"}, {ID: w.plain, Username: "plain"}},
		Guilds: []discordtest.SeedGuild{{
			ID: w.guild, Name: "automod guild", OwnerID: w.owner,
			Roles: []discordtest.Role{
				{ID: w.modRole, Name: "mods", Position: 1, Permissions: discordtest.PermBanMembers | discordtest.PermModerateMembers},
				{ID: w.botRole, Name: "gavel", Position: 2, Permissions: botPerms | discordtest.PermManageGuild | discordtest.PermManageMessages},
			},
			BotRoles: []discordtest.ID{w.botRole},
			Members: []discordtest.SeedMember{
				{UserID: w.owner}, {UserID: w.mod, Roles: []discordtest.ID{w.modRole}},
				{UserID: w.target}, {UserID: w.other}, {UserID: w.plain},
			},
			Channels: []discordtest.Channel{text(w.general, "general", 1), text(w.modlog, "mod-log", 2),
				text(w.auditlog, "audit-log", 3), text(w.alerts, "alerts", 4), text(w.quiet, "quiet", 5)},
		}},
	}
	w.s = discordtest.New(t, append(unpaced(discordtest.WithSeed(seed), discordtest.WithLogger(quietLogger())), opts...)...)
	w.dbURL = "sqlite:" + filepath.Join(t.TempDir(), "gavel.db")

	// The guild's log channels, and its gavel-enforced rules, as `gavel automod apply` stores them.
	ctx := context.Background()
	st, err := store.OpenURL(ctx, w.dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	g := settings.NewService(st)
	for ch, id := range map[settings.Channel]discordtest.ID{settings.ModLog: w.modlog, settings.AuditLog: w.auditlog} {
		if _, err := g.SetChannel(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), ch, discord.ChannelID(id)); err != nil {
			t.Fatal(err)
		}
	}
	rules := []automod.GavelRule{
		{Name: "slurs", TriggerType: automod.TriggerKeyword, Keywords: []string{"badword"}, Enabled: true,
			Actions: []automod.GavelAction{{Type: automod.GavelDelete}, {Type: automod.GavelWarn}}},
		{Name: "mild", TriggerType: automod.TriggerKeyword, Keywords: []string{"meh*"}, Enabled: true,
			ExemptChannels: []int64{int64(w.quiet)},
			Actions:        []automod.GavelAction{{Type: automod.GavelAlert, ChannelID: discord.ChannelID(w.alerts)}}},
		{Name: "pings", TriggerType: automod.TriggerMentionSpam, MentionLimit: 2, Enabled: true,
			Actions: []automod.GavelAction{{Type: automod.GavelTimeout, Duration: 10 * time.Minute}}},
	}
	for _, r := range rules {
		if err := automod.ValidateGavel(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := automod.NewStore(st).ReplaceGavelRules(ctx, discord.GuildID(w.guild), rules); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *automodWorld) cases(t *testing.T) []cases.Case {
	t.Helper()
	st, err := store.OpenURL(context.Background(), w.dbURL, store.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page, err := cases.NewService(st).List(context.Background(), cases.Filter{GuildID: discord.GuildID(w.guild)}, cases.PageRequest{Page: 1, PerPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	// Oldest first, by number.
	out := page.Cases
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// pipelineHistory checks that case c went through the pipeline: recorded pending first,
// made active by its finalize step, with its expiry scheduled when it has one.
func (w *automodWorld) pipelineHistory(t *testing.T, c cases.Case) {
	t.Helper()
	st, err := store.OpenURL(context.Background(), w.dbURL, store.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var evs []cases.Event
	waitFor(t, "case #"+strconv.FormatInt(c.Number, 10)+" finalized", func() bool {
		evs, err = cases.NewService(st).Events(context.Background(), c.ID)
		return err == nil && len(evs) >= 2 && evs[1].Kind == cases.EventStatus
	})
	if evs[0].Kind != cases.EventCreated || evs[0].New != string(cases.Pending) || evs[1].Old != string(cases.Pending) || evs[1].New != string(cases.Active) {
		t.Errorf("case #%d history = %+v; want created pending, then pending → active", c.Number, evs)
	}
	if c.ExpiresAt.IsZero() {
		return
	}
	acts, err := expiry.NewService(st, cases.NewService(st)).OfCase(context.Background(), c.ID)
	if err != nil || len(acts) != 1 || acts[0].Kind != expiry.TimeoutExpire {
		t.Errorf("case #%d expiries = %+v, %v; want its timeout's end scheduled", c.Number, acts, err)
	}
}

func (w *automodWorld) waitCases(t *testing.T, n int) []cases.Case {
	t.Helper()
	var cs []cases.Case
	waitFor(t, "cases", func() bool { cs = w.cases(t); return len(cs) >= n })
	return cs
}

func strp(s string) *string { return &s }

// automodSteps counts the steps the AutoMod enforcer is done with: what the test waits for
// instead of sleeping, also before it asserts that no case came.
type automodSteps struct {
	mu       sync.Mutex
	kinds    map[enforcer.Kind]int
	messages map[int64]int // evaluations of each message (its creation, then each edit)
}

func newAutomodSteps() *automodSteps {
	return &automodSteps{kinds: map[enforcer.Kind]int{}, messages: map[int64]int{}}
}

func (s *automodSteps) observe(h enforcer.Handled) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kinds[h.Kind]++
	if h.Kind == enforcer.KindMessage {
		s.messages[int64(h.MessageID)]++
	}
}

func (s *automodSteps) count(k enforcer.Kind) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kinds[k]
}

// waitMessage waits until message id has been evaluated n times in all.
func (s *automodSteps) waitMessage(t *testing.T, id discordtest.ID, n int) {
	t.Helper()
	waitFor(t, "message "+id.String()+" evaluated", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.messages[int64(id)] >= n
	})
}

// execute sends Discord's execution events, waits until the enforcer has gathered them all,
// closes their windows on the clock, and waits until the executions (batches of them) are
// handled: their cases made, or found made already.
func (s *automodSteps) execute(t *testing.T, w *automodWorld, clk *clock.Manual, window time.Duration, batches int, evs ...discordtest.AutoModExecution) {
	t.Helper()
	events, execs := s.count(enforcer.KindExecutionEvent), s.count(enforcer.KindExecution)
	for _, ev := range evs {
		w.s.AutoModExecution(ev)
	}
	waitFor(t, "the execution events gathered", func() bool { return s.count(enforcer.KindExecutionEvent) >= events+len(evs) })
	clk.Advance(window)
	waitFor(t, "the executions handled", func() bool { return s.count(enforcer.KindExecution) >= execs+batches })
}

func TestAutoModEndToEnd(t *testing.T) {
	t.Parallel()
	// The window closes when the test moves the clock: an execution's case is made only
	// then, and a step's end is an event the test waits for. The fake spaces IDENTIFYs on
	// the same clock as gavel's shard manager, so the restart below comes after the
	// identify window on that clock, as a real restart would.
	clk := clock.NewManual(time.Now())
	w := newAutomodWorld(t, discordtest.WithIdentifyClock(clk))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const window = 2 * time.Second
	steps := newAutomodSteps()
	a, err := newTestApp(ctx, w.config(), quietLogger(), app.WithAutoModTiming(window, 0), app.WithClock(clk),
		app.WithAutoModObserver(steps.observe))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	readyCtx, readyCancel := context.WithTimeout(ctx, eventBound)
	defer readyCancel()
	if err := w.s.WaitReady(readyCtx, 1); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	bot := w.s.BotID()

	// A rule made through gavel's service: validated, created, reported with who made it.
	rule, err := a.AutoMod().Create(ctx, discord.GuildID(w.guild), automod.Actor{ID: int64(w.mod), Name: "mod"}, automod.Rule{
		Name: "nitro scams", TriggerType: automod.TriggerKeyword, Enabled: true,
		TriggerMetadata: automod.TriggerMetadata{KeywordFilter: []string{"nitro"}},
		Actions: []automod.Action{{Type: automod.ActionBlockMessage}, {Type: automod.ActionSendAlertMessage, ChannelID: discord.ChannelID(w.alerts)},
			{Type: automod.ActionTimeout, DurationSeconds: 600}},
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	waitFor(t, "the audit-log report of the creation", func() bool {
		_, ok := w.botReply(w.auditlog, `created AutoMod rule "nitro scams"`)
		return ok
	})

	t.Run("refused before any call", func(t *testing.T) {
		_, err := a.AutoMod().Edit(ctx, discord.GuildID(w.guild), automod.Actor{ID: int64(w.mod), Name: "mod"}, "nitro scams",
			automod.RuleEdit{Keywords: &[]string{strings.Repeat("x", 61)}})
		if err == nil || !strings.Contains(err.Error(), `"nitro scams"`) || !strings.Contains(err.Error(), "keyword_filter[0]") || !strings.Contains(err.Error(), "1 to 60") {
			t.Fatalf("edit with a 61-character keyword: %v", err)
		}
		rep, err := a.AutoMod().Test(ctx, discord.GuildID(w.guild), "free nitro, a badword")
		if err != nil || len(rep.Hits) != 2 || rep.Hits[0].Rule != "nitro scams" || !rep.Hits[1].Gavel || rep.Hits[1].Keyword != "badword" {
			t.Errorf("dry run of Discord's and gavel's rules: %+v %v", rep, err)
		}
		got, err := a.AutoMod().Show(ctx, discord.GuildID(w.guild), "NITRO SCAMS")
		if err != nil || len(got.TriggerMetadata.KeywordFilter) != 1 {
			t.Fatalf("show after a refused edit: %+v, %v", got, err)
		}
	})

	t.Run("one execution, three events, one TIMEOUT case", func(t *testing.T) {
		var evs []discordtest.AutoModExecution
		for _, act := range []discordtest.AutoModAction{
			{Type: 1, Metadata: map[string]any{}},
			{Type: 2, Metadata: map[string]any{"channel_id": discordtest.ID(w.alerts).String()}},
			{Type: 3, Metadata: map[string]any{"duration_seconds": 600}},
		} {
			evs = append(evs, discordtest.AutoModExecution{GuildID: w.guild, Action: act, RuleID: discordtest.ID(rule.Rule.ID),
				UserID: w.target, ChannelID: w.general, Content: "free nitro here", MatchedKeyword: strp("nitro"), MatchedContent: strp("nitro")})
		}
		steps.execute(t, w, clk, window, 1, evs...)
		cs := w.waitCases(t, 1)
		// Recorded pending first, then finalized: wait for the finalize step.
		w.pipelineHistory(t, cs[0])
		c := w.cases(t)[0]
		if c.Type != cases.Timeout || c.UserID != discord.UserID(w.target) || c.ModeratorID != discord.UserID(bot) || c.Status != cases.Active {
			t.Fatalf("case = %+v; want an active TIMEOUT of the target by the bot", c)
		}
		for k, v := range map[string]string{"rule_name": "nitro scams", "matched_keyword": "nitro", "trigger_type": "keyword",
			"channel_id": w.general.String(), "rule_id": discordtest.ID(rule.Rule.ID).String(), "source": "discord_automod"} {
			if c.Metadata[k] != v {
				t.Errorf("metadata[%s] = %q; want %q (all: %v)", k, c.Metadata[k], v, c.Metadata)
			}
		}
		waitFor(t, "the mod-log embed", func() bool {
			for _, m := range w.s.Messages(w.modlog) {
				for _, e := range m.Embeds {
					if text := string(e); strings.Contains(text, "Case #1") && strings.Contains(text, "nitro scams") && strings.Contains(text, `keyword \"nitro\"`) {
						return true
					}
				}
			}
			return false
		})

		// Discord resends the same events (a resume): no second case, once their execution
		// is handled.
		evs = nil
		for _, typ := range []int{1, 3} {
			evs = append(evs, discordtest.AutoModExecution{GuildID: w.guild, Action: discordtest.AutoModAction{Type: typ, Metadata: map[string]any{"duration_seconds": 600}},
				RuleID: discordtest.ID(rule.Rule.ID), UserID: w.target, ChannelID: w.general, Content: "free nitro here", MatchedKeyword: strp("nitro")})
		}
		steps.execute(t, w, clk, window, 1, evs...)
		if cs := w.cases(t); len(cs) != 1 {
			t.Fatalf("%d cases after the resent events; want 1", len(cs))
		}
	})

	t.Run("block only is an AUTOMOD case", func(t *testing.T) {
		steps.execute(t, w, clk, window, 1, discordtest.AutoModExecution{GuildID: w.guild, Action: discordtest.AutoModAction{Type: 2, Metadata: map[string]any{"channel_id": discordtest.ID(w.alerts).String()}},
			RuleID: discordtest.ID(rule.Rule.ID), UserID: w.other, ChannelID: w.general, MessageID: 710000000000009999, Content: "nitro?", MatchedKeyword: strp("nitro")})
		cs := w.waitCases(t, 2)
		if c := cs[1]; c.Type != cases.Automod || c.UserID != discord.UserID(w.other) || c.Metadata["message_id"] != "710000000000009999" {
			t.Fatalf("case = %+v; want an AUTOMOD case of the other user naming the message", c)
		}
	})

	t.Run("gavel-enforced rule: delete and warn", func(t *testing.T) {
		m := w.s.SendMessage(w.general, w.target, "you are a BADWORD!")
		cs := w.waitCases(t, 3)
		c := cs[2]
		if c.Type != cases.Warn || c.UserID != discord.UserID(w.target) || c.ModeratorID != discord.UserID(bot) || c.Metadata["rule_name"] != "slurs" ||
			c.Metadata["matched_keyword"] != "badword" || c.Metadata["source"] != "gavel_automod" {
			t.Fatalf("case = %+v; want a WARN by the bot recording the rule and keyword", c)
		}
		waitFor(t, "the message deleted", func() bool {
			for _, x := range w.s.Messages(w.general) {
				if x.ID == m.ID {
					return false
				}
			}
			return true
		})
	})

	t.Run("gavel-enforced rule: an edit that still matches is punished once", func(t *testing.T) {
		m := w.s.SendMessage(w.general, w.other, "hello")
		steps.waitMessage(t, m.ID, 1)
		if _, err := w.s.EditMessageAs(w.general, m.ID, "meh, whatever"); err != nil {
			t.Fatal(err)
		}
		cs := w.waitCases(t, 4)
		if c := cs[3]; c.Type != cases.Automod || c.Metadata["rule_name"] != "mild" || c.Metadata["on_edit"] != "true" {
			t.Fatalf("case = %+v; want an AUTOMOD case of rule mild, on an edit", c)
		}
		waitFor(t, "the alert", func() bool { _, ok := w.botReply(w.alerts, "**mild**"); return ok })
		if _, err := w.s.EditMessageAs(w.general, m.ID, "meh meh"); err != nil {
			t.Fatal(err)
		}
		// Exempt channel: not evaluated. The owner: left alone, as by Discord's AutoMod.
		quiet := w.s.SendMessage(w.quiet, w.other, "meh")
		owners := w.s.SendMessage(w.general, w.owner, "meh, a badword")
		steps.waitMessage(t, m.ID, 3)
		steps.waitMessage(t, quiet.ID, 1)
		steps.waitMessage(t, owners.ID, 1)
		if cs := w.cases(t); len(cs) != 4 {
			t.Fatalf("%d cases; want 4 (the second edit, the exempt channel and the owner make none)", len(cs))
		}
	})

	t.Run("gavel-enforced rule: mention spam times out through the pipeline", func(t *testing.T) {
		n := len(w.cases(t))
		two := w.s.SendMessage(w.general, w.plain, "<@"+w.mod.String()+"> <@"+w.other.String()+"> <@"+w.mod.String()+">")
		steps.waitMessage(t, two.ID, 1)
		if cs := w.cases(t); len(cs) != n {
			t.Fatalf("two distinct mentions (limit 2) made a case: %+v", cs[len(cs)-1])
		}
		w.s.SendMessage(w.general, w.plain, "<@"+w.mod.String()+"> <@"+w.other.String()+"> <@"+w.target.String()+">")
		cs := w.waitCases(t, n+1)
		c := cs[n]
		if c.Type != cases.Timeout || c.UserID != discord.UserID(w.plain) || c.ModeratorID != discord.UserID(bot) || c.Metadata["rule_name"] != "pings" || c.ExpiresAt.IsZero() {
			t.Fatalf("case = %+v; want a TIMEOUT of the author by the bot, with its end", c)
		}
		w.pipelineHistory(t, c)
		// The case is recorded (pending) before the timeout is applied: wait for Discord's side.
		waitFor(t, "the author timed out for 10 minutes", func() bool {
			m, ok := w.s.Member(w.guild, w.plain)
			return ok && m.CommunicationDisabledUntil != nil && m.CommunicationDisabledUntil.After(time.Now().Add(9*time.Minute))
		})
	})

	t.Run("a blocked message's key is taken for a minute of the clock", func(t *testing.T) {
		n := len(w.cases(t))
		blocked := func() discordtest.AutoModExecution {
			return discordtest.AutoModExecution{GuildID: w.guild, Action: discordtest.AutoModAction{Type: 1, Metadata: map[string]any{}},
				RuleID: discordtest.ID(rule.Rule.ID), UserID: w.plain, ChannelID: w.general, Content: "nitro, blocked", MatchedKeyword: strp("nitro")}
		}
		steps.execute(t, w, clk, window, 1, blocked())
		if cs := w.waitCases(t, n+1); cs[n].Type != cases.Automod || cs[n].UserID != discord.UserID(w.plain) {
			t.Fatalf("case = %+v; want an AUTOMOD case of the blocked message", cs[n])
		}
		// The same text blocked again within the minute is the same execution resent.
		steps.execute(t, w, clk, window, 1, blocked())
		if cs := w.cases(t); len(cs) != n+1 {
			t.Fatalf("%d cases after the same block within the minute; want %d", len(cs), n+1)
		}
		// A minute later on the clock it is a new execution: the key has gone stale.
		clk.Advance(time.Minute)
		steps.execute(t, w, clk, window, 1, blocked())
		if cs := w.cases(t); len(cs) != n+2 || cs[n+1].UserID != discord.UserID(w.plain) {
			t.Fatalf("%d cases after the same block a minute later; want %d", len(cs), n+2)
		}
	})

	t.Run("rule deleted outside gavel is reported", func(t *testing.T) {
		if _, ok := w.botReply(w.auditlog, "outside gavel"); ok {
			t.Fatal("gavel's own creation was reported as made outside gavel")
		}
		// Discord writes the entry a moment after the event: the first look finds nothing,
		// and the second, a second later on the clock, finds it and names who did it.
		w.s.HoldAuditLog(w.guild)
		secondLook := clk.Now().Add(time.Second)
		if err := w.s.SetAutoModRuleEnabledAs(w.guild, w.owner, discordtest.ID(rule.Rule.ID), false); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the second look at the audit log set on the clock", func() bool { return slices.ContainsFunc(clk.Armed(), secondLook.Equal) })
		if _, ok := w.botReply(w.auditlog, "changed outside gavel"); ok {
			t.Fatal("the update was reported before the second look")
		}
		w.s.ReleaseAuditLog(w.guild)
		clk.Advance(time.Second)
		waitFor(t, "the audit-log report of the update", func() bool {
			m, ok := w.botReply(w.auditlog, "changed outside gavel")
			return ok && strings.Contains(m.Content, "<@"+w.owner.String()+">") && strings.Contains(m.Content, "enabled: true → false")
		})
		if err := w.s.DeleteAutoModRuleAs(w.guild, w.owner, discordtest.ID(rule.Rule.ID), "cleanup"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the audit-log report", func() bool {
			m, ok := w.botReply(w.auditlog, "deleted outside gavel")
			return ok && strings.Contains(m.Content, "<@"+w.owner.String()+">") &&
				strings.Contains(m.Content, "nitro scams")
		})
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(eventBound):
		t.Fatal("Run did not return after the context ended")
	}

	// After a restart, Discord resending an execution already recorded makes no case: the
	// key is in the database, not in the process. The restart comes after the identify
	// window (on the clock both gavel and the fake space IDENTIFYs by).
	clk.Advance(gateway.DefaultIdentifyInterval)
	before := len(w.cases(t))
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	steps2 := newAutomodSteps()
	a2, err := newTestApp(ctx2, w.config(), quietLogger(), app.WithAutoModTiming(window, 0), app.WithClock(clk),
		app.WithAutoModObserver(steps2.observe))
	if err != nil {
		t.Fatal(err)
	}
	done2 := make(chan error, 1)
	go func() { done2 <- a2.Run(ctx2) }()
	readyCtx2, readyCancel2 := context.WithTimeout(ctx2, eventBound)
	defer readyCancel2()
	if err := w.s.WaitReady(readyCtx2, 1); err != nil {
		t.Fatalf("WaitReady after the restart: %v", err)
	}
	// A new message of the same user is a new case: the restarted process handles events.
	steps2.execute(t, w, clk, window, 2,
		discordtest.AutoModExecution{GuildID: w.guild, Action: discordtest.AutoModAction{Type: 1, Metadata: map[string]any{}},
			RuleID: discordtest.ID(rule.Rule.ID), RuleTriggerType: 1, UserID: w.other, ChannelID: w.general, MessageID: 710000000000009999, Content: "nitro?", MatchedKeyword: strp("nitro")},
		discordtest.AutoModExecution{GuildID: w.guild, Action: discordtest.AutoModAction{Type: 1, Metadata: map[string]any{}},
			RuleID: discordtest.ID(rule.Rule.ID), RuleTriggerType: 1, UserID: w.other, ChannelID: w.general, MessageID: 710000000000009998, Content: "nitro!", MatchedKeyword: strp("nitro")})
	cs := w.cases(t)
	if len(cs) != before+1 || cs[len(cs)-1].Metadata["message_id"] != "710000000000009998" {
		t.Fatalf("after the restart: %d cases (want %d), last %+v", len(cs), before+1, cs[len(cs)-1])
	}
	if cs[len(cs)-1].Metadata["rule_name"] != "rule "+discordtest.ID(rule.Rule.ID).String() {
		t.Errorf("a deleted rule's case names it by id: %v", cs[len(cs)-1].Metadata)
	}
	cancel2()
	select {
	case err := <-done2:
		if err != nil {
			t.Fatalf("Run after the restart: %v", err)
		}
	case <-time.After(eventBound):
		t.Fatal("Run did not return after the context ended")
	}
}
