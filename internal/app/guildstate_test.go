package app_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gavelbot/gavel/internal/discordtest"
)

// TestGuildStateFollowsTheGateway: gavel reads the guild's owner and roles from the gateway
// instead of asking Discord on every command, and a change made just before a command (its
// event dispatched before the command's message) decides that command: permissions taken
// from a role, a new role above the target, a new owner, gavel's own roles changed and its
// role deleted.
func TestGuildStateFollowsTheGateway(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var guildReads atomic.Int64
	w.s.SetRequestObserver(func(sv discordtest.Served) {
		if sv.Route == "GET /guilds/{guild_id}" {
			guildReads.Add(1)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := newTestApp(ctx, w.config(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	readyCtx, readyCancel := context.WithTimeout(ctx, eventBound)
	defer readyCancel()
	if err := w.s.WaitReady(readyCtx, 1); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}

	// command sends a message as author and returns gavel's answer to it.
	command := func(t *testing.T, author discordtest.ID, content string) string {
		t.Helper()
		before := len(w.s.Messages(w.general))
		w.s.SendMessage(w.general, author, content)
		var reply string
		waitFor(t, "the reply to "+content, func() bool {
			msgs := w.s.Messages(w.general)
			for _, m := range msgs[before:] {
				if m.AuthorID == w.s.BotID() {
					reply = m.Content
					return true
				}
			}
			return false
		})
		return reply
	}
	mention := func(id discordtest.ID) string { return "<@" + id.String() + ">" }

	t.Run("no REST read of the guild", func(t *testing.T) {
		if got := command(t, w.mod, "$warn "+mention(w.target)+" first"); !strings.Contains(got, "Case #1") {
			t.Fatalf("warn = %q; want Case #1", got)
		}
		if n := guildReads.Load(); n != 0 {
			t.Errorf("gavel read the guild over REST %d times; GUILD_CREATE told it everything", n)
		}
	})

	t.Run("a permission taken away", func(t *testing.T) {
		w.s.EditRole(w.guild, w.modRole, func(r *discordtest.Role) { r.Permissions = discordtest.PermBanMembers })
		if got := command(t, w.mod, "$warn "+mention(w.target)+" second"); !strings.Contains(got, "Moderate Members") {
			t.Errorf("warn without Moderate Members = %q; want a refusal naming it", got)
		}
		w.s.EditRole(w.guild, w.modRole, func(r *discordtest.Role) {
			r.Permissions = discordtest.PermBanMembers | discordtest.PermModerateMembers
		})
		if got := command(t, w.mod, "$warn "+mention(w.target)+" third"); !strings.Contains(got, "Case #2") {
			t.Errorf("warn after the permission came back = %q; want Case #2", got)
		}
	})

	// A new role between the moderator's and gavel's, given to the target.
	var vip discordtest.ID
	t.Run("a new role above the moderator's", func(t *testing.T) {
		vip = w.s.CreateRole(w.guild, "vip", 2, 0)
		w.s.SetMemberRoles(w.guild, w.target, vip)
		if got := command(t, w.mod, "$warn "+mention(w.target)+" fourth"); !strings.Contains(got, "at or above yours") {
			t.Errorf("warn of a member above the moderator = %q; want a hierarchy refusal", got)
		}
	})

	t.Run("a new owner", func(t *testing.T) {
		w.s.TransferOwnership(w.guild, w.mod)
		if got := command(t, w.mod, "$warn "+mention(w.target)+" fifth"); !strings.Contains(got, "Case #3") {
			t.Errorf("warn by the new owner = %q; want Case #3 (the owner is above everyone)", got)
		}
		if got := command(t, w.mod, "$warn "+mention(w.owner)+" sixth"); !strings.Contains(got, "Case #4") {
			t.Errorf("warn of the former owner = %q; want Case #4 (no longer exempt)", got)
		}
	})

	t.Run("gavel's own roles", func(t *testing.T) {
		w.s.SetMemberRoles(w.guild, w.s.BotID())
		if got := command(t, w.mod, "$ban "+mention(w.other)+" seventh"); !strings.Contains(got, "at or above gavel's") {
			t.Errorf("ban with gavel's role taken away = %q; want gavel's hierarchy refusal", got)
		}
		w.s.SetMemberRoles(w.guild, w.s.BotID(), w.botRole)
		w.s.DeleteRole(w.guild, w.botRole)
		if got := command(t, w.mod, "$ban "+mention(w.other)+" eighth"); !strings.Contains(got, "at or above gavel's") {
			t.Errorf("ban with gavel's role deleted = %q; want gavel's hierarchy refusal", got)
		}
		if _, banned := w.s.Banned(w.guild, w.other); banned {
			t.Error("gavel banned with no role")
		}
	})
	if n := guildReads.Load(); n != 0 {
		t.Errorf("gavel read the guild over REST %d times", n)
	}
}
