package automod_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/disgoport"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

const (
	guild   discordtest.ID = 720000000000000100
	owner   discordtest.ID = 720000000000000201
	botRole discordtest.ID = 720000000000000301
	alerts  discordtest.ID = 720000000000000401
)

// newService is the rules service over the real disgo adapter, talking to the fake Discord.
func newService(t *testing.T, opts ...automod.ServiceOption) (*discordtest.Server, *automod.Service) {
	t.Helper()
	s := discordtest.New(t, discordtest.WithSeed(discordtest.Seed{
		Users: []discordtest.User{{ID: owner, Username: "owner"}},
		Guilds: []discordtest.SeedGuild{{ID: guild, Name: "g", OwnerID: owner,
			Roles:    []discordtest.Role{{ID: botRole, Name: "gavel", Position: 1, Permissions: discordtest.PermManageGuild | discordtest.PermViewChannel | discordtest.PermSendMessages | discordtest.PermViewAuditLog}},
			BotRoles: []discordtest.ID{botRole},
			Members:  []discordtest.SeedMember{{UserID: owner}},
			Channels: []discordtest.Channel{{ID: alerts, Type: discordtest.ChannelGuildText, Name: "alerts"}},
		}},
	}))
	port, err := disgoport.New(s.Token(), disgoport.WithAPIURL(s.APIURL()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		port.Close(ctx)
	})
	return s, automod.NewService(port, opts...)
}

func keywordRule(name string, words ...string) automod.Rule {
	return automod.Rule{Name: name, TriggerType: automod.TriggerKeyword, Enabled: true,
		TriggerMetadata: automod.TriggerMetadata{KeywordFilter: words},
		Actions:         []automod.Action{{Type: automod.ActionBlockMessage}}}
}

func TestServiceThroughTheFake(t *testing.T) {
	t.Parallel()
	var reports []string
	s, svc := newService(t, automod.WithReporter(func(_ context.Context, g discord.GuildID, text string) {
		if g != discord.GuildID(guild) {
			t.Errorf("report for guild %d", g)
		}
		reports = append(reports, text)
	}))
	ctx := context.Background()
	g := int64(guild)
	alice := automod.Actor{ID: 42, Name: "alice"}

	out, err := svc.Create(ctx, discord.GuildID(g), alice, keywordRule("scams", "nitro", "steam"))
	if err != nil {
		t.Fatal(err)
	}
	if out.Rule.ID == 0 || len(s.AutoModRules(guild)) != 1 {
		t.Fatalf("created %+v; the fake has %d rules", out.Rule, len(s.AutoModRules(guild)))
	}
	if !strings.Contains(out.Summary, `alice (<@42>) created AutoMod rule "scams"`) || !strings.Contains(out.Summary, "2 keywords") {
		t.Errorf("summary %q", out.Summary)
	}

	out, err = svc.AddKeywords(ctx, discord.GuildID(g), alice, "Scams", automod.ListKeywords, []string{"gift*", "nitro"})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Rule.TriggerMetadata.KeywordFilter; strings.Join(got, ",") != "nitro,steam,gift*" {
		t.Errorf("keywords after add: %v", got)
	}
	if !strings.Contains(out.Summary, `keywords: added "gift*"`) {
		t.Errorf("summary %q", out.Summary)
	}

	if _, err := svc.RemoveKeywords(ctx, discord.GuildID(g), alice, "scams", automod.ListKeywords, []string{"stem"}); err == nil || !strings.Contains(err.Error(), `has no "stem" in its keywords; nothing changed`) {
		t.Errorf("removing a keyword the rule lacks: %v", err)
	}
	out, err = svc.RemoveKeywords(ctx, discord.GuildID(g), alice, "scams", automod.ListKeywords, []string{"steam"})
	if err != nil || !strings.Contains(out.Summary, `removed "steam"`) {
		t.Fatalf("remove: %+v %v", out, err)
	}

	out, err = svc.Disable(ctx, discord.GuildID(g), alice, "scams")
	if err != nil || out.Rule.Enabled || !strings.Contains(out.Summary, "enabled: true → false") {
		t.Fatalf("disable: %+v %v", out, err)
	}
	if _, err := svc.Disable(ctx, discord.GuildID(g), alice, "scams"); err == nil || !strings.Contains(err.Error(), "nothing changed") {
		t.Errorf("disabling a disabled rule: %v", err)
	}
	if _, err := svc.Enable(ctx, discord.GuildID(g), alice, "scams"); err != nil {
		t.Fatal(err)
	}

	// Refusals name the rule, the field, the limit and the value, and change nothing.
	long := strings.Repeat("k", 61)
	_, err = svc.AddKeywords(ctx, discord.GuildID(g), alice, "scams", automod.ListKeywords, []string{long})
	if !errors.Is(err, automod.ErrInvalid) || !strings.Contains(err.Error(), `automod rule "scams"`) ||
		!strings.Contains(err.Error(), "trigger_metadata.keyword_filter[2]") || !strings.Contains(err.Error(), "1 to 60 characters") || !strings.Contains(err.Error(), `"kkkk`) {
		t.Errorf("a 61-character keyword: %v", err)
	}
	timeout := []automod.Action{{Type: automod.ActionTimeout, DurationSeconds: automod.MaxTimeoutSeconds + 1}}
	if _, err := svc.Edit(ctx, discord.GuildID(g), alice, "scams", automod.RuleEdit{Actions: &timeout}); err == nil || !strings.Contains(err.Error(), "actions[0].metadata.duration_seconds: 2419201 is out of range") {
		t.Errorf("a timeout over 4 weeks: %v", err)
	}
	for i := 0; i < 5; i++ {
		if _, err := svc.Create(ctx, discord.GuildID(g), alice, keywordRule("k"+string(rune('a'+i)), "w")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Create(ctx, discord.GuildID(g), alice, keywordRule("seventh", "w")); err == nil || !strings.Contains(err.Error(), "the guild already has 6 KEYWORD rules") {
		t.Errorf("a seventh keyword rule: %v", err)
	}
	if n := len(s.AutoModRules(guild)); n != 6 {
		t.Errorf("the fake has %d rules; want 6", n)
	}
	rule, _ := svc.Show(ctx, discord.GuildID(g), "scams")
	if strings.Join(rule.TriggerMetadata.KeywordFilter, ",") != "nitro,gift*" {
		t.Errorf("a refused change changed the rule: %v", rule.TriggerMetadata.KeywordFilter)
	}

	if _, err := svc.Show(ctx, discord.GuildID(g), "nope"); !errors.Is(err, automod.ErrNoRule) || !strings.Contains(err.Error(), `"scams"`) {
		t.Errorf("show of a missing rule: %v", err)
	}

	rep, err := svc.Test(ctx, discord.GuildID(g), "get free NITRO now")
	if err != nil || len(rep.Hits) != 1 || rep.Hits[0].Keyword != "nitro" || rep.Hits[0].ByteStart != 9 {
		t.Errorf("test: %+v %v", rep, err)
	}

	out, err = svc.Delete(ctx, discord.GuildID(g), alice, "scams")
	if err != nil || !strings.Contains(out.Summary, `deleted AutoMod rule "scams"`) {
		t.Fatalf("delete: %+v %v", out, err)
	}
	if len(reports) != 11 {
		t.Errorf("%d audit reports; want one per change (11): %q", len(reports), reports)
	}
	// The audit log on Discord's side says who asked gavel.
	entries := s.AuditLog(guild)
	if len(entries) == 0 || !strings.Contains(entries[len(entries)-1].Reason, "alice (42)") {
		t.Errorf("audit log reason: %+v", entries)
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := automod.NewStore(st)
		if v, err := s.GavelVersion(ctx, 1); err != nil || v != 0 {
			t.Fatalf("version of a guild without rules: %d %v", v, err)
		}
		rules := []automod.GavelRule{
			{Name: "b", TriggerType: automod.TriggerKeyword, Keywords: []string{"x"}, Enabled: true, Actions: []automod.GavelAction{{Type: automod.GavelTimeout, Duration: time.Hour}}},
			{Name: "a", TriggerType: automod.TriggerMentionSpam, MentionLimit: 3, Actions: []automod.GavelAction{{Type: automod.GavelAlert, ChannelID: 99}}},
		}
		if err := s.ReplaceGavelRules(ctx, 1, rules); err != nil {
			t.Fatal(err)
		}
		got, v, err := s.GavelRules(ctx, 1)
		if err != nil || v != 1 || len(got) != 2 || got[0].Name != "b" || got[1].Actions[0].ChannelID != 99 || got[0].Actions[0].Duration != time.Hour {
			t.Fatalf("rules %+v version %d err %v", got, v, err)
		}
		if err := s.ReplaceGavelRules(ctx, 1, rules[1:]); err != nil {
			t.Fatal(err)
		}
		got, v, _ = s.GavelRules(ctx, 1)
		if v != 2 || len(got) != 1 {
			t.Fatalf("after replacing: %+v version %d", got, v)
		}

		// Keys: a durable key is taken for good; a key with a staleness bound is free again
		// once it is older than the bound; a released key is free at once.
		ok, err := s.Claim(ctx, 1, "k", time.Time{})
		if err != nil || !ok {
			t.Fatalf("first claim: %v %v", ok, err)
		}
		if ok, _ := s.Claim(ctx, 1, "k", time.Time{}); ok {
			t.Error("a durable key was claimed twice")
		}
		if ok, _ := s.Claim(ctx, 2, "k", time.Time{}); !ok {
			t.Error("keys are per guild")
		}
		if err := s.Settle(ctx, 1, "k", 7); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s.Claim(ctx, 1, "b", time.Now().Add(-time.Minute)); !ok {
			t.Error("first claim of a blocked-message key")
		}
		if ok, _ := s.Claim(ctx, 1, "b", time.Now().Add(-time.Minute)); ok {
			t.Error("a fresh blocked-message key was claimed twice")
		}
		if ok, _ := s.Claim(ctx, 1, "b", time.Now().Add(time.Minute)); !ok {
			t.Error("a stale blocked-message key was not claimed again")
		}
		if err := s.Release(ctx, 1, "b"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s.Claim(ctx, 1, "b", time.Time{}); !ok {
			t.Error("a released key was not free")
		}
	})
}
