package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/snippets"
)

// snippetColor is the colour of the snippet lists and info.
const snippetColor = 0x7AA2F7

// snippetName is the name parameter of every snippet command.
func snippetName(desc string) commands.Param {
	return commands.Param{Name: "name", Description: desc, Kind: commands.KindString, Required: true, Positional: true,
		Min: 1, Max: snippets.MaxNameLength, Autocomplete: true}
}

// snippetSpec declares snippet: post a snippet. Every member may (Open), and the slash form
// posts it for everyone to see (Public), as the prefix form does.
func snippetSpec() *commands.Spec {
	return &commands.Spec{Name: "snippet", Aliases: []string{"s"}, Open: true, Public: true,
		Description: "Post a snippet: named text saved in this server",
		Params:      []commands.Param{snippetName("The snippet to post")}}
}

// snippetsSpec declares snippets: list (the default), search, info, and the changes. Every
// member may list, read and manage their own (Open); lock and unlock are the moderators'.
func snippetsSpec() *commands.Spec {
	content := commands.Param{Name: "content", Description: "The text (the prefix form keeps line breaks)", Kind: commands.KindString,
		Required: true, Positional: true, Rest: true, Raw: true, Min: 1, Max: snippets.MaxContentLength}
	return &commands.Spec{
		Name: "snippets", Open: true, Default: "list",
		Description: "List, search, create and manage this server's snippets",
		Subs: []*commands.Spec{
			{Name: "list", Aliases: []string{"ls"}, Open: true, Description: "List the snippets by name, 15 per page",
				Params: []commands.Param{{Name: "page", Description: "The page to show", Kind: commands.KindInt, Positional: true,
					Min: 1, Max: snippets.MaxPage, Aliases: []string{"p"}}}},
			{Name: "search", Aliases: []string{"find"}, Open: true, Description: "Find snippets by a word in their name or text",
				Params: []commands.Param{
					{Name: "text", Description: "What to look for (any letter case)", Kind: commands.KindString, Required: true,
						Positional: true, Rest: true, Verbatim: true, Min: 1, Max: snippets.MaxSearch},
					{Name: "page", Description: "The page to show", Kind: commands.KindInt, Min: 1, Max: snippets.MaxPage, Aliases: []string{"p"}}}},
			{Name: "info", Aliases: []string{"show"}, Open: true, Description: "Show a snippet's author, uses and history",
				Params: []commands.Param{snippetName("The snippet")}},
			{Name: "create", Aliases: []string{"add", "new"}, Open: true, Description: "Create a snippet",
				Params: []commands.Param{{Name: "name", Description: "Its name: " + snippets.NameRule, Kind: commands.KindString,
					Required: true, Positional: true, Min: 1, Max: snippets.MaxNameLength}, content}},
			{Name: "edit", Aliases: []string{"update"}, Open: true, Description: "Replace the text of one of your snippets",
				Params: []commands.Param{snippetName("The snippet to edit"), content}},
			{Name: "rename", Aliases: []string{"mv"}, Open: true, Description: "Rename one of your snippets",
				Params: []commands.Param{snippetName("The snippet to rename"),
					{Name: "new", Description: "Its new name: " + snippets.NameRule, Kind: commands.KindString, Required: true,
						Positional: true, Min: 1, Max: snippets.MaxNameLength}}},
			{Name: "delete", Aliases: []string{"remove", "rm", "del"}, Open: true, Description: "Delete one of your snippets (its history is kept)",
				Params: []commands.Param{snippetName("The snippet to delete")}},
			{Name: "lock", Native: permissions.ManageMessages, Rank: snippets.ModeratorRank,
				Description: "Lock a snippet: only moderators can then change it",
				Params:      []commands.Param{snippetName("The snippet to lock")}},
			{Name: "unlock", Native: permissions.ManageMessages, Rank: snippets.ModeratorRank,
				Description: "Unlock a snippet: its author can change it again",
				Params:      []commands.Param{snippetName("The snippet to unlock")}},
		},
	}
}

// snippetTool runs the snippet and snippets commands.
type snippetTool struct {
	env *Env
}

func newSnippet(env *Env) *Tool {
	st := &snippetTool{env: env}
	return &Tool{Spec: snippetSpec(), Run: st.run, Suggest: st.suggest}
}

func newSnippets(env *Env) *Tool {
	st := &snippetTool{env: env}
	return &Tool{Spec: snippetsSpec(), Run: st.run, Suggest: st.suggest}
}

func (st *snippetTool) run(ctx context.Context, call Call, args commands.Args) Reply {
	svc := st.env.Snippets
	if svc == nil {
		return Text(Refused, "Snippets are not available in this gavel process.")
	}
	name := args.String("name")
	switch args.Command() {
	case "snippet":
		sn, err := svc.Use(ctx, int64(call.GuildID), name)
		if err != nil {
			return st.fail(ctx, call, err, name)
		}
		return Reply{Message: discord.Message{Content: postText(sn), AllowedMentions: &discord.AllowedMentions{}}, Outcome: OK}
	case "snippets list":
		page := 1
		if args.Has("page") {
			page = int(args.Int("page"))
		}
		p, err := svc.List(ctx, int64(call.GuildID), page)
		if err != nil {
			return st.fail(ctx, call, err, "")
		}
		return listReply("Snippets", p, call)
	case "snippets search":
		page := 1
		if args.Has("page") {
			page = int(args.Int("page"))
		}
		text := args.String("text")
		p, err := svc.Search(ctx, int64(call.GuildID), text, page)
		if err != nil {
			return st.fail(ctx, call, err, "")
		}
		return listReply(fmt.Sprintf("Snippets holding “%s”", clipText(text, 60)), p, call)
	case "snippets info":
		sn, err := svc.Get(ctx, int64(call.GuildID), name)
		if err != nil {
			return st.fail(ctx, call, err, name)
		}
		events, err := svc.History(ctx, sn.ID, snippets.MaxHistory)
		if err != nil {
			return st.fail(ctx, call, err, name)
		}
		return Reply{Message: discord.Message{Embeds: []discord.Embed{infoEmbed(sn, events, call)}, AllowedMentions: &discord.AllowedMentions{}}, Outcome: OK}
	}

	actor, err := st.actor(ctx, call)
	if err != nil {
		return st.fail(ctx, call, err, name)
	}
	var sn snippets.Snippet
	switch args.Command() {
	case "snippets create":
		sn, err = svc.Create(ctx, int64(call.GuildID), actor, name, args.String("content"))
		if err == nil {
			return Text(OK, "Snippet `%s` created. Post it with `%s`.", sn.Name, useHint(call, sn.Name))
		}
	case "snippets edit":
		sn, err = svc.Edit(ctx, int64(call.GuildID), actor, name, args.String("content"))
		if err == nil {
			return Text(OK, "Snippet `%s` updated (%d characters).", sn.Name, utf8.RuneCountInString(sn.Content))
		}
	case "snippets rename":
		var old snippets.Snippet
		old, err = svc.Get(ctx, int64(call.GuildID), name)
		if err == nil {
			sn, err = svc.Rename(ctx, int64(call.GuildID), actor, name, args.String("new"))
		}
		if err == nil {
			return Text(OK, "Snippet `%s` is now `%s`.", old.Name, sn.Name)
		}
		if errors.Is(err, snippets.ErrExists) {
			name = args.String("new") // the name taken is the new one
		}
	case "snippets delete":
		sn, err = svc.Delete(ctx, int64(call.GuildID), actor, name)
		if err == nil {
			return Text(OK, "Snippet `%s` deleted; its history is kept.", sn.Name)
		}
	case "snippets lock", "snippets unlock":
		lock := args.Spec.Name == "lock"
		sn, err = svc.SetLocked(ctx, int64(call.GuildID), actor, name, lock)
		if err == nil && lock {
			return Text(OK, "Snippet `%s` is locked: only moderators can edit, rename or delete it now.%s", sn.Name, st.tellLocked(ctx, call, sn))
		}
		if err == nil {
			return Text(OK, "Snippet `%s` is unlocked: its author can edit, rename or delete it again.", sn.Name)
		}
	default:
		return Text(Refused, "%s is not a snippets subcommand; use list, search, info, create, edit, rename, delete, lock or unlock.", args.Command())
	}
	return st.fail(ctx, call, err, name)
}

// lockDMTimeout bounds the DM telling an author their snippet was locked: the moderator's
// answer does not wait on it longer.
const lockDMTimeout = 5 * time.Second

// tellLocked DMs a snippet's author that a moderator locked it, as Tux does, unless the
// moderator is the author, and returns what the moderator's reply says of it (the DM may
// fail: closed DMs, an author who left every server gavel is in, Discord failing).
func (st *snippetTool) tellLocked(ctx context.Context, call Call, sn snippets.Snippet) string {
	if sn.AuthorID == int64(call.User.ID) {
		return ""
	}
	where := "a server"
	if g, err := st.env.Port.Guild(ctx, call.GuildID); err == nil && g.Name != "" {
		where = "**" + discord.EscapeMarkdown(g.Name) + "**"
	}
	dmCtx, cancel := context.WithTimeout(ctx, lockDMTimeout)
	defer cancel()
	_, err := st.env.Port.SendDM(dmCtx, discord.UserID(sn.AuthorID), discord.Message{
		Content: fmt.Sprintf("A moderator locked your snippet `%s` in %s: only moderators can edit, rename or delete it now. You can still post it.",
			sn.Name, where),
		AllowedMentions: &discord.AllowedMentions{},
	})
	switch moderation.DMOutcomeOf(err) {
	case moderation.DMSent:
		return fmt.Sprintf(" Its author <@%d> was told by DM.", sn.AuthorID)
	case moderation.DMClosed:
		return fmt.Sprintf(" Its author <@%d> could not be told: their DMs are closed.", sn.AuthorID)
	case moderation.DMTimedOut:
		return fmt.Sprintf(" Its author <@%d> may not have been told: Discord did not confirm the DM in time.", sn.AuthorID)
	}
	return fmt.Sprintf(" Its author <@%d> could not be told: Discord failed to deliver the DM.", sn.AuthorID)
}

// actor is the caller as the snippets service sees them: a moderator is of rank
// snippets.ModeratorRank or above, or, while the guild has no ranks, has Manage Messages.
func (st *snippetTool) actor(ctx context.Context, call Call) (snippets.Actor, error) {
	a := snippets.Actor{ID: int64(call.User.ID)}
	if st.env.Perms == nil {
		return a, nil
	}
	mod, err := st.env.Perms.Standing(ctx, permissions.Subject{GuildID: call.GuildID, GuildOwnerID: call.GuildOwnerID,
		UserID: call.User.ID, RoleIDs: call.Roles, NativePermissions: call.Permissions}, snippets.ModeratorRank, permissions.ManageMessages)
	if err != nil {
		return a, fmt.Errorf("is %d a moderator: %w", call.User.ID, err)
	}
	a.Moderator = mod
	return a, nil
}

// fail words an error for the member: the service's refusals and bad input as they are, a
// missing snippet with the names that come close, and gavel's own failures without detail.
func (st *snippetTool) fail(ctx context.Context, call Call, err error, name string) Reply {
	var refusal *snippets.RefusedError
	var invalid *input.InvalidError
	switch {
	case errors.As(err, &refusal):
		return Text(Refused, "%s", refusal.Reason)
	case errors.Is(err, snippets.ErrNotFound):
		msg := fmt.Sprintf("There is no snippet named `%s` in this server.", shownName(name))
		if names, nerr := st.env.Snippets.Names(ctx, int64(call.GuildID), name, 3); nerr == nil && len(names) > 0 {
			msg += " Did you mean `" + strings.Join(names, "`, `") + "`?"
		} else {
			msg += " `snippets list` shows them all."
		}
		return Text(Refused, "%s", msg)
	case errors.Is(err, snippets.ErrExists):
		return Text(Refused, "This server already has a snippet named `%s` (names ignore letter case). Nothing was changed.", shownName(name))
	case errors.Is(err, input.ErrUnchanged):
		return Text(Refused, "Nothing to change: %s.", strings.TrimSuffix(err.Error(), ": "+input.ErrUnchanged.Error()))
	case errors.As(err, &invalid):
		return Text(Refused, "The snippet's %s is not accepted: %s. Nothing was changed.", invalid.Field, invalid.Problem)
	}
	if r, ok := databaseDown(err); ok {
		return r
	}
	r := Text(Failed, "Something went wrong on gavel's side and nothing was changed. Try again in a moment; if it keeps happening, tell the bot's operator.")
	r.Err = err
	return r
}

// suggest offers snippet names for a name option, the most used first.
func (st *snippetTool) suggest(ctx context.Context, call Call, leaf *commands.Spec, focused, typed string) []discord.Choice {
	if focused != "name" || st.env.Snippets == nil || leaf.Name == "create" {
		return nil
	}
	names, err := st.env.Snippets.Names(ctx, int64(call.GuildID), typed, discord.MaxChoices)
	if err != nil {
		st.env.Log.Warn("suggesting snippet names", "guild", call.GuildID, "err", err)
		return nil
	}
	out := make([]discord.Choice, len(names))
	for i, n := range names {
		out[i] = discord.Choice{Name: n, Value: n}
	}
	return out
}

// postText is a snippet as posted: its name (and lock) above its content, within Discord's
// 2,000 characters (snippets.MaxContentLength leaves the room).
func postText(sn snippets.Snippet) string {
	head := "`" + sn.Name + "`"
	if sn.Locked {
		head += " 🔒"
	}
	return head + "\n" + sn.Content
}

// useHint is how the caller posts a snippet, in the form they used.
func useHint(call Call, name string) string {
	if call.Slash {
		return "/snippet name:" + name
	}
	return call.Prefix + "snippet " + name
}

// shownName is a name as typed, safe to put between backticks in a reply.
func shownName(name string) string {
	return clipText(strings.ReplaceAll(name, "`", "'"), snippets.MaxNameLength)
}

func listReply(title string, p snippets.Page, call Call) Reply {
	e := discord.Embed{Title: fmt.Sprintf("%s (%d)", title, p.Total), Color: snippetColor}
	if len(p.Snippets) == 0 {
		e.Description = "No snippets."
		if p.Total > 0 {
			e.Description = fmt.Sprintf("No snippets on page %d; there are %d pages.", p.Number, p.Pages)
		}
	}
	var b strings.Builder
	for _, sn := range p.Snippets {
		lock := ""
		if sn.Locked {
			lock = " 🔒"
		}
		fmt.Fprintf(&b, "`%s`%s · %d %s · by <@%d>\n", sn.Name, lock, sn.Uses, plural(sn.Uses, "use", "uses"), sn.AuthorID)
	}
	if b.Len() > 0 {
		e.Description = b.String()
	}
	e.Footer = &discord.EmbedFooter{Text: fmt.Sprintf("Page %d of %d · post one with %s", p.Number, p.Pages, useHint(call, "<name>"))}
	return Reply{Message: discord.Message{Embeds: []discord.Embed{e}, AllowedMentions: &discord.AllowedMentions{}}, Outcome: OK}
}

// infoPreview bounds the content an info embed shows.
const infoPreview = 300

func infoEmbed(sn snippets.Snippet, events []snippets.Event, call Call) discord.Embed {
	when := func(t interface{ Unix() int64 }) string { return fmt.Sprintf("<t:%d:f>", t.Unix()) }
	lastUsed := "never"
	if !sn.LastUsedAt.IsZero() {
		lastUsed = when(sn.LastUsedAt)
	}
	locked := "no"
	if sn.Locked {
		locked = "yes: only moderators can change it"
	}
	e := discord.Embed{Title: "Snippet " + sn.Name, Color: snippetColor,
		Description: clipText(sn.Content, infoPreview),
		Fields: []discord.EmbedField{
			{Name: "Author", Value: fmt.Sprintf("<@%d>", sn.AuthorID), Inline: true},
			{Name: "Uses", Value: fmt.Sprintf("%d", sn.Uses), Inline: true},
			{Name: "Locked", Value: locked, Inline: true},
			{Name: "Created", Value: when(sn.CreatedAt), Inline: true},
			{Name: "Changed", Value: when(sn.UpdatedAt), Inline: true},
			{Name: "Last used", Value: lastUsed, Inline: true},
			{Name: "Length", Value: fmt.Sprintf("%d characters", utf8.RuneCountInString(sn.Content)), Inline: true},
		}}
	if len(events) > 0 {
		// The latest changes, newest last, as history rows: who did what, when.
		var b strings.Builder
		from := max(0, len(events)-5)
		for _, ev := range events[from:] {
			fmt.Fprintf(&b, "%s %s by <@%d>\n", when(ev.At), eventVerb(ev), ev.ActorID)
		}
		e.Fields = append(e.Fields, discord.EmbedField{Name: fmt.Sprintf("History (%d changes)", len(events)), Value: b.String()})
	}
	e.Footer = &discord.EmbedFooter{Text: "Post it with " + useHint(call, sn.Name)}
	return e
}

func eventVerb(ev snippets.Event) string {
	switch ev.Kind {
	case snippets.Created:
		return "created"
	case snippets.Edited:
		return "edited"
	case snippets.Renamed:
		return "renamed from `" + ev.Old + "`"
	case snippets.Locked:
		return "locked"
	case snippets.Unlocked:
		return "unlocked"
	}
	return string(ev.Kind)
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
