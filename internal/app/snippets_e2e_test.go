package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/snippets"
	"github.com/gavelbot/gavel/internal/store"
)

// snippetSlash runs a slash command and returns its first response, which must contain every
// one of want; public says whether it must be for everyone to see.
func (w *cfgWorld) snippetSlash(t *testing.T, user discordtest.ID, name string, public bool, opts []discordtest.CommandOption, want ...string) discordtest.Message {
	t.Helper()
	ia := w.s.SlashCommand(w.guild, w.general, user, name, opts...)
	ctx, cancel := context.WithTimeout(w.ctx, eventBound)
	defer cancel()
	msgs, err := ia.WaitResponses(ctx, 1)
	if err != nil {
		t.Fatalf("/%s: %v", name, err)
	}
	m := msgs[0]
	if got := m.Flags&discordtest.MessageFlagEphemeral == 0; got != public {
		t.Errorf("/%s: public = %v, want %v (%q)", name, got, public, m.Content)
	}
	text := cfgText(m)
	for _, s := range want {
		if !strings.Contains(text, s) {
			t.Errorf("/%s: reply %q does not contain %q", name, text, s)
		}
	}
	return m
}

// pingsNobody fails unless m's allowed_mentions parse nothing and list no one.
func pingsNobody(t *testing.T, what string, m discordtest.Message) {
	t.Helper()
	var am struct {
		Parse       []string `json:"parse"`
		Users       []string `json:"users"`
		Roles       []string `json:"roles"`
		RepliedUser bool     `json:"replied_user"`
	}
	if len(m.AllowedMentions) == 0 || json.Unmarshal(m.AllowedMentions, &am) != nil || am.Parse == nil ||
		len(am.Parse)+len(am.Users)+len(am.Roles) != 0 || am.RepliedUser {
		t.Errorf("%s: allowed_mentions = %s; want one that pings nobody", what, m.AllowedMentions)
	}
}

// TestSnippetsEndToEnd drives snippets through the fake Discord, the real client and a real
// database: create, use, edit, rename, list, search, info, delete; a snippet-banned member
// refused creating, editing and deleting but not using; a moderator's override and lock in a
// guild without ranks, then rank 2's in a guild with ranks; duplicate names in another
// letter case and over-long content refused; posts that ping nobody; and the slash forms,
// with the post public and autocomplete of names.
func TestSnippetsEndToEnd(t *testing.T) {
	t.Parallel()
	var helper, trustedRole discordtest.ID
	w := startConfigWorld(t, func(w *cfgWorld) {
		helperRole := w.s.AddRole(w.guild, "helpers", 3, discordtest.PermManageMessages)
		helper = w.s.AddUser("helper", false)
		w.s.AddMember(w.guild, helper, helperRole)
		trustedRole = w.s.AddRole(w.guild, "trusted", 4, 0)
	})
	s := w.s
	mention := func(id discordtest.ID) string { return mentionAs("<@", id) }

	// Create, with the content as typed: line breaks, a code block, mentions.
	content := "Read the rules, " + mention(w.target) + " and @everyone:\n```\n$ban @x -d 1h\n```\n  - indented line"
	w.say(t, w.plain, "$snippets create faq "+content, "Snippet `faq` created", "$snippet faq")
	w.say(t, w.other, "$snippets create FAQ another text", "already has a snippet named `FAQ`", "Nothing was changed")
	w.say(t, w.other, "$snippets create bad.name text", "'.' cannot be in a name", "Nothing was changed")
	w.say(t, w.other, "$snippets create long "+strings.Repeat("x", snippets.MaxContentLength+1),
		"1961 characters long", "1 to 1960 characters")
	w.say(t, w.target, "$snippets create mine my own text", "Snippet `mine` created")

	// Use: posted as typed under its name, pinging nobody.
	before := len(w.botMessages(w.general))
	w.say(t, w.other, "$snippet FAQ")
	post := w.botMessages(w.general)[before]
	if want := "`faq`\n" + content; post.Content != want {
		t.Errorf("posted %q; want %q", post.Content, want)
	}
	pingsNobody(t, "the snippet's post", post)
	w.say(t, w.other, "$s faq", "Read the rules")
	w.say(t, w.other, "$snippet fa", "There is no snippet named `fa`", "Did you mean `faq`?")

	// Edit and rename: the author's own.
	w.say(t, w.other, "$snippets edit faq taken over", "only edit, rename or delete your own snippets")
	w.say(t, w.plain, "$snippets edit faq Read the rules.\nTwice.", "Snippet `faq` updated")
	w.say(t, w.plain, "$snippets rename faq mine", "already has a snippet named `mine`")
	w.say(t, w.plain, "$snippets rename faq Rules", "Snippet `faq` is now `Rules`")
	w.say(t, w.other, "$snippet rules", "`Rules`\nRead the rules.\nTwice.")

	// List, search, info.
	w.say(t, w.other, "$snippets", "Snippets (2)", "`mine`", "`Rules` · 3 uses", "Page 1 of 1")
	w.say(t, w.other, "$snippets search TWICE", "Snippets holding “TWICE” (1)", "`Rules`")
	w.say(t, w.other, "$snippets search nothing-like-it", "(0)", "No snippets.")
	w.say(t, w.other, "$snippets info rules", "Snippet Rules", "Author: "+mention(w.plain), "Uses: 3",
		"History (3 changes)", "created by "+mention(w.plain), "renamed from `faq`")

	// A snippet ban stops creating, editing and deleting, not using.
	w.say(t, w.owner, "$snippetban "+mention(w.target)+" spamming snippets -silent", "snippet")
	w.say(t, w.target, "$snippets create more text", "banned from creating, editing and deleting snippets (case #1)", "can still use them")
	w.say(t, w.target, "$snippets edit mine changed", "banned from creating")
	w.say(t, w.target, "$snippets delete mine", "banned from creating")
	w.say(t, w.target, "$snippet mine", "`mine`\nmy own text")

	// A moderator (Manage Messages while there are no ranks) locks; the lock holds the author
	// back, not the moderator; members cannot lock.
	w.say(t, w.plain, "$snippets lock rules", "You need the Manage Messages permission to use `snippets lock`")
	w.say(t, helper, "$snippets lock rules", "Snippet `Rules` is locked", "Its author "+mention(w.plain)+" was told by DM")
	// The author is told, as Tux tells them.
	if dms := s.DMsOf(w.plain); len(dms) != 1 || !strings.Contains(dms[0].Content, "A moderator locked your snippet `Rules`") ||
		!strings.Contains(dms[0].Content, "You can still post it") {
		t.Errorf("DMs of the author after the lock = %+v; want one saying their snippet was locked", dms)
	}
	w.say(t, w.plain, "$snippets edit rules mine again", "is locked: only moderators can edit, rename or delete it")
	w.say(t, w.plain, "$snippets delete rules", "is locked")
	w.say(t, helper, "$snippets edit rules Moderated text.", "Snippet `Rules` updated")
	w.say(t, w.other, "$snippet rules", "`Rules` 🔒\nModerated text.")

	// Ranks: rank 2 bypasses the snippet ban and may change anyone's snippet; everyone keeps
	// using and managing their own (rank 0 by default).
	w.say(t, w.admin, "$config ranks init", "`snippet` 0", "`snippets` 0", "`snippets lock` 2")
	w.say(t, w.owner, "$config roles assign "+mentionAs("<@&", trustedRole)+" 2", "now gives rank 2")
	// The next message carries the member's roles as they now are.
	s.SetMemberRoles(w.guild, w.target, trustedRole)
	w.say(t, w.target, "$snippets create more text by a rank 2 member", "Snippet `more` created")
	w.say(t, w.target, "$snippets unlock rules", "Snippet `Rules` is unlocked")
	w.say(t, helper, "$snippets lock rules", "You need rank")
	w.say(t, w.plain, "$snippets create plain2 rank 0 text", "Snippet `plain2` created")
	// An author who does not take DMs: the lock holds, and the moderator learns they were not told.
	s.SetDMsClosed(w.plain, true)
	w.say(t, w.target, "$snippets lock plain2", "Snippet `plain2` is locked", "Its author "+mention(w.plain)+" could not be told: their DMs are closed")
	s.SetDMsClosed(w.plain, false)
	w.say(t, w.target, "$snippets unlock plain2", "Snippet `plain2` is unlocked")
	w.say(t, w.target, "$snippets delete rules", "Snippet `Rules` deleted; its history is kept")
	w.say(t, w.other, "$snippet rules", "There is no snippet named `rules`")

	// The slash forms: the post is public, refusals and management replies ephemeral.
	m := w.snippetSlash(t, w.other, "snippet", true, []discordtest.CommandOption{discordtest.StringOpt("name", "MINE")}, "`mine`\nmy own text")
	pingsNobody(t, "/snippet's post", m)
	w.snippetSlash(t, w.other, "snippet", false, []discordtest.CommandOption{discordtest.StringOpt("name", "gone")}, "There is no snippet named `gone`")
	w.snippetSlash(t, w.other, "snippets", false, []discordtest.CommandOption{discordtest.SubCommand("create",
		discordtest.StringOpt("name", "slashed"), discordtest.StringOpt("content", "made with /snippets <@&1> @here"))}, "Snippet `slashed` created", "/snippet name:slashed")
	w.snippetSlash(t, w.other, "snippets", false, []discordtest.CommandOption{discordtest.SubCommand("create",
		discordtest.StringOpt("name", "SLASHED"), discordtest.StringOpt("content", "again"))}, "already has a snippet named `SLASHED`")
	w.snippetSlash(t, w.target, "snippets", false, []discordtest.CommandOption{discordtest.SubCommand("edit",
		discordtest.StringOpt("name", "mine"), discordtest.StringOpt("content", "edited by slash"))}, "Snippet `mine` updated")

	// Autocomplete offers the names, the most used first.
	ac := s.Autocomplete(w.guild, w.general, w.plain, "snippet", discordtest.Focused(discordtest.StringOpt("name", "m")))
	var choices struct {
		Choices []struct{ Name, Value string } `json:"choices"`
	}
	waitFor(t, "the autocomplete answer", func() bool {
		typ, data, ok := s.Callback(ac.ID)
		return ok && typ == discordtest.CallbackAutocompleteResult && json.Unmarshal(data, &choices) == nil
	})
	if len(choices.Choices) != 2 || choices.Choices[0].Value != "mine" || choices.Choices[1].Value != "more" {
		t.Errorf("autocomplete for %q = %+v; want mine (used) then more", "m", choices.Choices)
	}

	// The record: every change a history row, on the database gavel used.
	st, err := store.OpenURL(context.Background(), w.dbURL, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := snippets.NewService(st, cases.NewService(st))
	mine, err := svc.Get(context.Background(), int64(w.guild), "mine")
	if err != nil {
		t.Fatal(err)
	}
	if mine.Content != "edited by slash" || mine.AuthorID != int64(w.target) || mine.Uses != 2 {
		t.Errorf("mine = %+v", mine)
	}
	events, err := svc.History(context.Background(), mine.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		got = append(got, fmt.Sprintf("%s by %d", e.Kind, e.ActorID))
	}
	if want := []string{fmt.Sprintf("create by %d", w.target), fmt.Sprintf("edit by %d", w.target)}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("history of mine = %v; want %v", got, want)
	}
}
