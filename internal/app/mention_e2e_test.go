package app_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/gavelbot/gavel/internal/discordtest"
)

// TestTargetFromTheCommandsEvent: a command whose event carries its target's member (a
// mention in the message, a slash command's user option) takes the target from it and
// makes no REST read of the member, and the hierarchy check still refuses a target above
// the moderator; a mentioned user who is not a member, an id typed as a number, and an
// action that reads the member's timeout read Discord as before.
func TestTargetFromTheCommandsEvent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var mu sync.Mutex
	memberReads := map[string]int{} // by user id
	w.s.SetRequestObserver(func(sv discordtest.Served) {
		if sv.Route == "GET /guilds/{guild_id}/members/{user_id}" {
			mu.Lock()
			memberReads[sv.Params["user_id"]]++
			mu.Unlock()
		}
	})
	reads := func(id discordtest.ID) int {
		mu.Lock()
		defer mu.Unlock()
		return memberReads[id.String()]
	}
	stranger := w.s.AddUser("stranger", false) // in no guild
	w.runApp(t)

	// command sends a message as the moderator and returns gavel's answer to it.
	command := func(t *testing.T, content string) string {
		t.Helper()
		return w.answerIn(t, w.general, w.mod, content).Content
	}
	mention := func(id discordtest.ID) string { return "<@" + id.String() + ">" }

	t.Run("a mentioned member is not read", func(t *testing.T) {
		if got := command(t, "$warn "+mention(w.target)+" be nice"); !strings.Contains(got, "Case #1") {
			t.Fatalf("warn = %q; want Case #1", got)
		}
		if n := reads(w.target); n != 0 {
			t.Errorf("the target was read over REST %d times; the message carried their member", n)
		}
	})

	t.Run("a mentioned member above the moderator", func(t *testing.T) {
		vip := w.s.CreateRole(w.guild, "vip", 2, 0) // above the moderator's, below gavel's
		w.s.SetMemberRoles(w.guild, w.other, vip)
		if got := command(t, "$warn "+mention(w.other)+" nope"); !strings.Contains(got, "at or above yours") {
			t.Errorf("warn of a member above the moderator = %q; want a hierarchy refusal", got)
		}
		if got := command(t, "$ban "+mention(w.other)+" nope"); !strings.Contains(got, "at or above yours") {
			t.Errorf("ban of a member above the moderator = %q; want a hierarchy refusal", got)
		}
		if _, banned := w.s.Banned(w.guild, w.other); banned {
			t.Error("a member above the moderator was banned")
		}
		if n := reads(w.other); n != 0 {
			t.Errorf("the target was read over REST %d times; the message carried their member", n)
		}
	})

	t.Run("a mentioned user who is not a member", func(t *testing.T) {
		got := command(t, "$ban "+mention(stranger)+" raid")
		if !strings.Contains(got, "Case #2") {
			t.Fatalf("ban of a non-member = %q; want Case #2", got)
		}
		if _, banned := w.s.Banned(w.guild, stranger); !banned {
			t.Error("the non-member is not banned")
		}
		if n := reads(stranger); n != 1 {
			t.Errorf("the non-member was read over REST %d times; want 1 (the message carries no member for them)", n)
		}
	})

	t.Run("an id typed as a number", func(t *testing.T) {
		if got := command(t, "$warn "+w.plain.String()+" by id"); !strings.Contains(got, "Case #3") {
			t.Fatalf("warn by id = %q; want Case #3", got)
		}
		if n := reads(w.plain); n != 1 {
			t.Errorf("the target typed as an id was read over REST %d times; want 1", n)
		}
	})

	t.Run("a slash command's user option", func(t *testing.T) {
		ia := w.s.SlashCommand(w.guild, w.general, w.mod, "warn", discordtest.UserOpt("user", w.target), discordtest.StringOpt("reason", "again"))
		wctx, wcancel := context.WithTimeout(context.Background(), eventBound)
		defer wcancel()
		msgs, err := ia.WaitResponses(wctx, 1)
		if err != nil {
			t.Fatalf("WaitResponses: %v", err)
		}
		if !strings.Contains(msgs[0].Content, "Case #4") {
			t.Fatalf("slash warn = %q; want Case #4", msgs[0].Content)
		}
		if n := reads(w.target); n != 0 {
			t.Errorf("the target was read over REST %d times; the interaction resolved their member", n)
		}
	})

	t.Run("a timeout reads the member's timeout from Discord", func(t *testing.T) {
		if got := command(t, "$timeout "+mention(w.target)+" -d 1h calm down"); !strings.Contains(got, "Case #5") {
			t.Fatalf("timeout = %q; want Case #5", got)
		}
		if n := reads(w.target); n != 1 {
			t.Errorf("the target was read over REST %d times; want 1 (a timeout reads the member's timeout)", n)
		}
	})
}
