package polls_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/polls"
)

const (
	guild  = int64(10)
	banned = int64(20)
	free   = int64(21)
	bot    = int64(99)
)

// fakeCases is the case service as the enforcer sees it: one active poll ban.
type fakeCases struct {
	mu    sync.Mutex
	loads int
	notes []string
}

func (f *fakeCases) UnderRestriction(_ context.Context, guildID discord.GuildID, r cases.Type) (map[int64]cases.Case, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads++
	if r != cases.Pollban || guildID != discord.GuildID(guild) {
		return nil, nil
	}
	return map[int64]cases.Case{banned: {ID: 1, GuildID: discord.GuildID(guild), Number: 7, Type: cases.Pollban, Status: cases.Active, UserID: discord.UserID(banned)}}, nil
}

func (f *fakeCases) AddNote(_ context.Context, guildID discord.GuildID, n int64, actor discord.UserID, note string) (cases.Case, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if actor != discord.UserID(bot) || n != 7 {
		return cases.Case{}, &discord.Error{Op: "unexpected note", Status: 500}
	}
	f.notes = append(f.notes, note)
	return cases.Case{ID: 1, GuildID: guildID, Number: n, Type: cases.Pollban, Status: cases.Active}, nil
}

// fakeDiscord deletes messages and sends DMs, or refuses deletions with deleteErr.
type fakeDiscord struct {
	mu        sync.Mutex
	deleted   []discord.MessageID
	dms       []string
	deleteErr error
}

func (d *fakeDiscord) DeleteMessage(_ context.Context, _ discord.ChannelID, messageID discord.MessageID, _ string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.deleteErr != nil {
		return d.deleteErr
	}
	d.deleted = append(d.deleted, messageID)
	return nil
}

func (d *fakeDiscord) SendDM(_ context.Context, _ discord.UserID, msg discord.Message) (discord.MessageRef, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dms = append(d.dms, msg.Content)
	return discord.MessageRef{}, nil
}

func TestEnforce(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewManual(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	cs, dc := &fakeCases{}, &fakeDiscord{}
	e := polls.New(polls.Config{Clock: clk, TTL: time.Hour})
	e.Bind(cs, dc, executor.New(executor.WithRetries(1, time.Millisecond, time.Millisecond)))
	poll := func(user, msg int64) polls.Result {
		t.Helper()
		res, err := e.Enforce(ctx, discord.UserID(bot), polls.Poll{GuildID: discord.GuildID(guild), GuildName: "the server", ChannelID: 5,
			MessageID: discord.MessageID(msg), Author: discord.User{ID: discord.UserID(user)}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	if r := poll(free, 100); r.Outcome != polls.Allowed || len(dc.deleted) != 0 {
		t.Errorf("a member without a poll ban: %+v, deleted %v", r, dc.deleted)
	}
	if r := poll(banned, 101); r.Outcome != polls.Deleted || !r.Notified || r.Case.Number != 7 {
		t.Errorf("first poll of a poll-banned member: %+v", r)
	}
	if r := poll(banned, 102); r.Outcome != polls.Deleted || r.Notified {
		t.Errorf("second poll within a minute: %+v; want deleted, not told again", r)
	}
	clk.Advance(time.Minute)
	if r := poll(banned, 103); !r.Notified {
		t.Errorf("a poll a minute later: %+v; want told again", r)
	}
	if len(dc.dms) != 2 || !strings.Contains(dc.dms[0], "banned from creating polls in the server (case #7)") {
		t.Errorf("DMs = %q", dc.dms)
	}
	if cs.loads != 1 {
		t.Errorf("the poll bans were read %d times for four polls; want once", cs.loads)
	}

	// Discord refuses the deletion: the case records that it was not deleted, and the
	// member is not told their poll went.
	dc.deleteErr = &discord.Error{Op: "delete message", Status: 403, Code: discord.CodeMissingPermissions, Message: "Missing Permissions"}
	clk.Advance(time.Minute)
	if r := poll(banned, 104); r.Outcome != polls.NotDeleted || r.Notified {
		t.Errorf("a refused deletion: %+v", r)
	}
	want := []string{"poll deleted: message 101 in channel 5", "poll deleted: message 102 in channel 5", "poll deleted: message 103 in channel 5",
		"poll NOT deleted (gavel lacks Manage Messages in that channel): message 104 in channel 5"}
	if strings.Join(cs.notes, "|") != strings.Join(want, "|") {
		t.Errorf("history notes = %q; want %q", cs.notes, want)
	}
	if dc.deleted[len(dc.deleted)-1] != 103 || len(dc.dms) != 2 {
		t.Errorf("deleted %v, DMs %d", dc.deleted, len(dc.dms))
	}
}
