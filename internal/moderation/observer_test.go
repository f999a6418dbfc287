package moderation_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/store"
)

type settledCase struct {
	path   string
	typ    cases.Type
	status cases.Status
}

type caseCounter struct {
	mu  sync.Mutex
	got []settledCase
}

func (c *caseCounter) CaseSettled(path string, t cases.Type, st cases.Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, settledCase{path, t, st})
}

// Every path settles its cases through the same steps, so the same observer counts them
// all: a command that succeeds and one Discord refuses, an action seen in the audit log,
// and a pending case reconciled.
func TestEveryPathIsCounted(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.SQLite)
	ctx := context.Background()
	counter := &caseCounter{}
	w.co = moderation.NewCoordinator(actions.Catalogue(), w.port, w.cases, w.settings,
		executor.New(executor.WithRetries(1, time.Millisecond, time.Millisecond)),
		moderation.WithBotUserID(discord.UserID(w.s.BotID())), moderation.WithCaseObserver(counter))

	if res := w.run(t, w.alice, "warn", w.bob); res.Err != nil || res.Case == nil {
		t.Fatalf("warn: %+v", res)
	}
	w.s.FailNext(banRoute, 1, 403)
	if res := w.run(t, w.alice, "ban", w.carol); res.Case == nil || res.Case.Status != cases.Voided {
		t.Fatalf("refused ban: %+v", res)
	}
	if err := w.s.BanAs(w.guild, w.alice, w.dave, "by hand"); err != nil {
		t.Fatal(err)
	}
	entry := w.lastAudit(t, discordtest.AuditMemberBanAdd)
	if _, recorded, err := w.co.RecordExternal(ctx, moderation.External{GuildID: discord.GuildID(w.guild), EntryID: int64(entry.ID),
		ModeratorID: discord.UserID(w.alice), UserID: discord.UserID(w.dave), Type: cases.Ban}); err != nil || !recorded {
		t.Fatalf("RecordExternal = %v, %v", recorded, err)
	}
	if _, err := w.cases.Create(ctx, cases.New{GuildID: discord.GuildID(w.guild), UserID: discord.UserID(w.crowd[0]), ModeratorID: discord.UserID(w.alice),
		Type: cases.Kick, Status: cases.Pending, Reason: "crashed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.co.Reconcile(ctx, discord.GuildID(w.guild), 0); err != nil {
		t.Fatal(err)
	}

	want := []settledCase{
		{moderation.PathCommand, cases.Warn, cases.Active},
		{moderation.PathCommand, cases.Ban, cases.Voided},
		{moderation.PathAuditLog, cases.Ban, cases.Active},
		{moderation.PathReconcile, cases.Kick, cases.Voided},
	}
	counter.mu.Lock()
	defer counter.mu.Unlock()
	if len(counter.got) != len(want) {
		t.Fatalf("settled %+v; want %+v", counter.got, want)
	}
	for i := range want {
		if counter.got[i] != want[i] {
			t.Errorf("settled[%d] = %+v; want %+v", i, counter.got[i], want[i])
		}
	}
}
