package enforcer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
)

// These tests hand the enforcer a read of a guild's rules that is under way (a rulesLoad
// of their own) and no store: a message that read the store itself instead of waiting for
// that read, or of judging by the rules at hand, would panic on the nil store.

func staleEnforcer(t *testing.T) (*Enforcer, *clock.Manual, *guildRules) {
	t.Helper()
	clk := clock.NewManual(time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC))
	am := New(Config{Check: time.Minute, Clock: clk})
	engine, err := automod.Compile([]automod.Rule{{ID: 1, Name: "words", EventType: automod.EventMessageSend,
		TriggerType: automod.TriggerKeyword, Enabled: true,
		TriggerMetadata: automod.TriggerMetadata{KeywordFilter: []string{"nitro"}},
		Actions:         []automod.Action{{Type: automod.ActionBlockMessage}}}})
	if err != nil {
		t.Fatal(err)
	}
	gr := &guildRules{version: 1, checkedAt: clk.Now(), engine: engine}
	am.engines[7] = gr
	clk.Advance(2 * time.Minute) // the check is due
	return am, clk, gr
}

func TestStaleRulesJudgeMessagesWhileAnotherReadsThem(t *testing.T) {
	am, _, _ := staleEnforcer(t)
	msg := Message{GuildID: 7, ChannelID: 8, ID: 9, Author: discord.User{ID: 10}, Content: "hello", HasMember: true}
	if am.passes(msg) {
		t.Fatal("a message passed on rules whose check was due, with no read of them under way")
	}
	am.loading[7] = &rulesLoad{done: make(chan struct{})}
	if !am.passes(msg) {
		t.Fatal("while the rules are read again, a message that breaks none of the rules at hand did not pass")
	}
	msg.Content = "free nitro"
	if am.passes(msg) {
		t.Fatal("a message that breaks a rule at hand passed")
	}
}

func TestMessagesWaitForTheReadUnderWay(t *testing.T) {
	am, clk, old := staleEnforcer(t)
	l := &rulesLoad{done: make(chan struct{})}
	am.loading[7] = l
	const waiters = 8
	got := make(chan *guildRules, waiters)
	for range waiters {
		go func() {
			gr, err := am.rulesFor(context.Background(), 7)
			if err != nil {
				t.Error(err)
			}
			got <- gr
		}()
	}
	read := &guildRules{version: 2, checkedAt: clk.Now(), engine: old.engine}
	l.gr = read
	close(l.done)
	for range waiters {
		if gr := <-got; gr != read {
			t.Fatalf("a waiter got %+v, not the read it waited for", gr)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	am.loading[7] = &rulesLoad{done: make(chan struct{})}
	cancel()
	if _, err := am.rulesFor(ctx, 7); !errors.Is(err, context.Canceled) {
		t.Fatalf("a waiter whose context ended: %v", err)
	}
}

func TestRulesChangedDropsTheReadUnderWay(t *testing.T) {
	am, _, _ := staleEnforcer(t)
	am.loading[7] = &rulesLoad{done: make(chan struct{})}
	am.RulesChanged(7)
	if _, ok := am.loading[7]; ok {
		t.Fatal("a read begun before the rules changed is still the guild's read")
	}
	if _, ok := am.engines[7]; ok {
		t.Fatal("the guild's rules were kept after they changed")
	}
	am.loading[8] = &rulesLoad{done: make(chan struct{})}
	am.RulesChanged(0)
	if len(am.loading) != 0 || len(am.engines) != 0 {
		t.Fatalf("after every guild's rules changed: %d reads, %d rule sets kept", len(am.loading), len(am.engines))
	}
}
