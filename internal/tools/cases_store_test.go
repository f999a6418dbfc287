package tools

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// portDouble answers the two calls the cases tool makes; any other call panics (the
// embedded nil Port), which would show the tool doing more than it should.
type portDouble struct {
	discord.Port
	mu      sync.Mutex
	members map[int64]discord.User
	edits   []edit
}

type edit struct {
	channel, message int64
	msg              discord.Message
}

func (p *portDouble) Member(_ context.Context, _ discord.GuildID, userID discord.UserID) (discord.Member, error) {
	if u, ok := p.members[int64(userID)]; ok {
		return discord.Member{User: u}, nil
	}
	return discord.Member{}, &discord.Error{Op: "get member", Status: 404, Code: discord.CodeUnknownMember}
}

func (p *portDouble) EditMessage(_ context.Context, channelID discord.ChannelID, messageID discord.MessageID, msg discord.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.edits = append(p.edits, edit{int64(channelID), int64(messageID), msg})
	return nil
}

const (
	guildID = 700000000000000100
	modID   = 700000000000000202
	userID  = 700000000000000203
)

func TestCasesToolOnStore(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		now := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
		port := &portDouble{members: map[int64]discord.User{modID: {ID: modID, Username: "mod"}}}
		env := &Env{Port: port, Cases: cases.NewService(st), Settings: settings.NewService(st), Exec: executor.New(),
			Now: func() time.Time { return now }}
		set := NewSet(env)
		call := Call{GuildID: guildID, ChannelID: 1, User: discord.User{ID: modID, Username: "mod"}, Prefix: "$"}
		run := func(line string) Reply {
			t.Helper()
			args, ok, err := commands.ParsePrefix(set.Specs(), "$", line)
			if !ok || err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return set.Run(ctx, call, args)
		}
		click := func(id string) Reply {
			t.Helper()
			tool, ok := set.Component(id)
			if !ok {
				t.Fatalf("no tool answers %q", id)
			}
			return tool.Click(ctx, call, id)
		}
		for i := 1; i <= 25; i++ {
			n := cases.New{GuildID: guildID, UserID: userID, ModeratorID: modID, Type: cases.Warn, Reason: "seeded"}
			if i == 25 {
				n.Status = cases.Pending
			}
			if _, err := env.Cases.Create(ctx, n); err != nil {
				t.Fatal(err)
			}
		}

		// A page past the end, asked by a stale button, shows the last page there is.
		r := click("cases:l:9::::")
		if e := r.Message.Embeds[0]; r.Outcome != OK || !strings.HasPrefix(e.Description, "`#5`") || e.Footer.Text != "Page 3 of 3 · newest first" {
			t.Errorf("page 9 of 3: %+v", r.Message.Embeds)
		}
		r = click("cases:n:3:::WARN:pending")
		if e := r.Message.Embeds[0]; e.Title != "Cases type WARN, status pending (1)" || !strings.HasPrefix(e.Description, "`#25`") || r.Message.Components != nil {
			t.Errorf("one pending case, asked for page 3: %+v, components %s", e, r.Message.Components)
		}
		r = click("cases:n:2::::voided")
		if e := r.Message.Embeds[0]; e.Description != "No cases match." || r.Message.Components != nil {
			t.Errorf("no voided case: %+v", e)
		}
		if r := click("cases:n:2:::BOGUS:"); r.Outcome != Refused || !strings.Contains(r.Message.Content, "Run the cases command again") {
			t.Errorf("forged button: %+v", r)
		}

		// A pending case's status is gavel's to settle; its reason may change.
		r = run("$cases modify 25 -status voided -reason typo")
		if r.Outcome != Refused || !strings.Contains(r.Message.Content, "case #25 is pending") {
			t.Errorf("voiding a pending case: %+v", r.Message.Content)
		}
		if c, _ := env.Cases.GetByNumber(ctx, guildID, 25); c.Reason != "seeded" || c.Status != cases.Pending {
			t.Errorf("a refused modify changed case 25: %+v", c)
		}
		if r := run("$cases modify 25 -reason typo fixed"); r.Outcome != OK || !strings.HasPrefix(r.Message.Content, "Case #25 updated: reason changed.") {
			t.Errorf("pending case, reason: %q", r.Message.Content)
		}

		// The mod-log message is not the tool's to edit: the change queues its edit in the
		// mod log's outbox (internal/modlog, whose tests deliver it), so the tool calls no
		// Discord route for it and its reply does not wait on it.
		if _, err := env.Cases.LinkModlog(ctx, guildID, 1, modID, 98, 99); err != nil {
			t.Fatal(err)
		}
		r = run("$cases modify 1 -reason second")
		if r.Message.Content != "Case #1 updated: reason changed." || len(port.edits) != 0 {
			t.Fatalf("modify: %q, %d edits by the tool", r.Message.Content, len(port.edits))
		}
		r = run("$cases modify 1 -status voided")
		if r.Outcome != OK || !strings.Contains(r.Message.Content, "status active → voided") {
			t.Errorf("voiding: %q", r.Message.Content)
		}
		if c, _ := env.Cases.GetByNumber(ctx, guildID, 1); c.Status != cases.Voided || c.Reason != "second" {
			t.Errorf("the changes were lost: %+v", c)
		}
	})
}
