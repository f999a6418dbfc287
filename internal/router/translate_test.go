package router

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	ddiscord "github.com/disgoorg/disgo/discord"
	dgw "github.com/disgoorg/disgo/gateway"
	"github.com/disgoorg/snowflake/v2"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
)

func TestExternalAction(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	target := snowflake.ID(30)
	reason := "spam"
	change := func(newValue string) []ddiscord.AuditLogChange {
		return []ddiscord.AuditLogChange{{Key: "nick", NewValue: json.RawMessage(`"x"`)},
			{Key: "communication_disabled_until", NewValue: json.RawMessage(newValue)}}
	}
	later := now.Add(time.Hour)
	for _, tc := range []struct {
		name    string
		entry   ddiscord.AuditLogEntry
		want    cases.Type
		expires time.Time
		ok      bool
	}{
		{"ban", ddiscord.AuditLogEntry{ID: 1, UserID: 20, TargetID: &target, ActionType: 22, Reason: &reason}, cases.Ban, time.Time{}, true},
		{"unban", ddiscord.AuditLogEntry{ID: 1, UserID: 20, TargetID: &target, ActionType: 23}, cases.Unban, time.Time{}, true},
		{"kick", ddiscord.AuditLogEntry{ID: 1, UserID: 20, TargetID: &target, ActionType: 20}, cases.Kick, time.Time{}, true},
		{"timeout", ddiscord.AuditLogEntry{ID: 1, UserID: 20, TargetID: &target, ActionType: 24,
			Changes: change(`"` + later.Format("2006-01-02T15:04:05.000000-07:00") + `"`)}, cases.Timeout, later, true},
		{"timeout cleared", ddiscord.AuditLogEntry{ID: 1, UserID: 20, TargetID: &target, ActionType: 24, Changes: change(`null`)}, cases.Untimeout, time.Time{}, true},
		{"timeout without new value", ddiscord.AuditLogEntry{ID: 1, UserID: 20, TargetID: &target, ActionType: 24, Changes: change(``)}, cases.Untimeout, time.Time{}, true},
		{"timeout set in the past", ddiscord.AuditLogEntry{ID: 1, UserID: 20, TargetID: &target, ActionType: 24,
			Changes: change(`"` + now.Add(-time.Minute).Format(time.RFC3339) + `"`)}, cases.Untimeout, time.Time{}, true},
		{"nickname change", ddiscord.AuditLogEntry{ID: 1, UserID: 20, TargetID: &target, ActionType: 24,
			Changes: []ddiscord.AuditLogChange{{Key: "nick", NewValue: json.RawMessage(`"x"`)}}}, "", time.Time{}, false},
		{"garbled timeout", ddiscord.AuditLogEntry{ID: 1, UserID: 20, TargetID: &target, ActionType: 24, Changes: change(`12`)}, "", time.Time{}, false},
		{"role update", ddiscord.AuditLogEntry{ID: 1, UserID: 20, TargetID: &target, ActionType: 25}, "", time.Time{}, false},
		{"no target", ddiscord.AuditLogEntry{ID: 1, UserID: 20, ActionType: 22}, "", time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ext, ok := externalAction(10, tc.entry, now)
			if ok != tc.ok || ext.Type != tc.want || !ext.ExpiresAt.Equal(tc.expires) {
				t.Fatalf("externalAction = %+v, %v; want %s until %v, %v", ext, ok, tc.want, tc.expires, tc.ok)
			}
			if ok && (ext.GuildID != 10 || ext.EntryID != 1 || ext.ModeratorID != 20 || ext.UserID != 30) {
				t.Errorf("ids = %+v", ext)
			}
			if ok && tc.entry.Reason != nil && ext.Reason != *tc.entry.Reason {
				t.Errorf("reason = %q", ext.Reason)
			}
		})
	}
}

// FuzzTimeoutChange: whatever Discord (or a fake) sends as the new value, reading it never
// panics, and a value read as a timeout is a real time.
func FuzzTimeoutChange(f *testing.F) {
	for _, s := range []string{`null`, `"2026-11-01T12:00:00.000000+00:00"`, `""`, `12`, `{}`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		until, found := timeoutChange([]ddiscord.AuditLogChange{{Key: "communication_disabled_until", NewValue: json.RawMessage(v)}})
		if !found && !until.IsZero() {
			t.Errorf("not found but until = %v", until)
		}
	})
}

// Only messages whose author is a bot or the system, and the events no listener reads, are
// skipped; anything else, and any message the peek cannot read, is decoded and handed on.
func TestSkipEvent(t *testing.T) {
	for _, tc := range []struct {
		t    dgw.EventType
		d    string
		skip bool
	}{
		{dgw.EventTypeMessageCreate, `{"id":"1","content":"hi","author":{"id":"2","bot":true},"embeds":[{"title":"Case #1"}]}`, true},
		{dgw.EventTypeMessageUpdate, `{"id":"1","author":{"id":"2","system":true}}`, true},
		{dgw.EventTypeMessageCreate, `{"id":"1","content":"$warn","author":{"id":"2"},"mentions":[{"id":"3","bot":true}]}`, false},
		{dgw.EventTypeMessageCreate, `{"id":"1","author":{"id":"2","bot":false},"referenced_message":{"author":{"id":"4","bot":true}}}`, false},
		{dgw.EventTypeMessageUpdate, `{"id":"1","content":"edited"}`, false},
		{dgw.EventTypeMessageCreate, `{"id":`, false},
		{dgw.EventTypeGuildMemberAdd, `{"user":{"id":"2","bot":true}}`, false},
		// No listener reads bans or unbans: skipped whatever they say.
		{dgw.EventTypeGuildBanAdd, `{"guild_id":"1","user":{"id":"2"}}`, true},
		{dgw.EventTypeGuildBanRemove, `{"guild_id":"1","user":{"id":"2"}}`, true},
		// A member leaving reaches the guild state (the dashboard's member cache).
		{dgw.EventTypeGuildMemberRemove, `{"guild_id":"1","user":{"id":"2"}}`, false},
		{dgw.EventTypeGuildMemberUpdate, `{"guild_id":"1","user":{"id":"2"},"roles":[]}`, false},
	} {
		if got := SkipEvent(tc.t, []byte(tc.d)); got != tc.skip {
			t.Errorf("SkipEvent(%s, %s) = %v; want %v", tc.t, tc.d, got, tc.skip)
		}
	}
}

// TestResolvedMembersAndTheTarget: a slash command's resolved members become the call's
// members with their users (one without its user is left out), and the target's is found
// among them by id; none for a target the event does not carry or typed by name.
func TestResolvedMembersAndTheTarget(t *testing.T) {
	var r ddiscord.ResolvedData
	if err := json.Unmarshal([]byte(`{"users":{"5":{"id":"5","username":"five","global_name":"Five"}},
"members":{"5":{"roles":["7"],"nick":"V","joined_at":"2026-01-01T01:00:00+01:00","communication_disabled_until":null,"permissions":"0"},
"6":{"roles":[],"permissions":"0"}}}`), &r); err != nil {
		t.Fatal(err)
	}
	members := resolvedMembers(r)
	want := discord.Member{User: discord.User{ID: 5, Username: "five", GlobalName: "Five"}, Roles: []discord.RoleID{7}, Nick: "V",
		JoinedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if len(members) != 1 || !reflect.DeepEqual(members[0], want) {
		t.Fatalf("resolved members %+v; want [%+v]", members, want)
	}
	if m := targetMember(members, 5); m == nil || m.User.ID != 5 {
		t.Errorf("target 5: %+v", m)
	}
	if m := targetMember(members, 6); m != nil {
		t.Errorf("target 6 (no user resolved): %+v", m)
	}
	if m := targetMember(members, 0); m != nil {
		t.Errorf("a target by name: %+v", m)
	}
}
