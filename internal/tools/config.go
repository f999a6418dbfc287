package tools

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/settings"
)

// The channel settings config channel names, as the moderator types them.
var configChannels = map[string]settings.Channel{"modlog": settings.ModLog, "auditlog": settings.AuditLog, "jail": settings.JailChannel}

func rankParam(name, description string) commands.Param {
	return commands.Param{Name: name, Description: description, Kind: commands.KindInt, Required: true, Positional: true,
		Min: permissions.MinRank, Max: permissions.MaxRank}
}

func configSpec() *commands.Spec {
	commandParam := commands.Param{Name: "command", Description: "The command's full name, such as ban or cases modify",
		Kind: commands.KindString, Required: true, Positional: true, Rest: true, Max: permissions.MaxCommandName}
	return &commands.Spec{
		Name: "config", Native: permissions.ManageGuild, Rank: 5, Aliases: []string{"settings"}, Default: "show",
		Description: "Show or change gavel's settings, ranks and command permissions in this server",
		Subs: []*commands.Spec{
			{Name: "show", Description: "Show gavel's settings in this server"},
			{Name: "prefix", Description: "Set the prefix of gavel's text commands", Params: []commands.Param{
				{Name: "prefix", Description: "1 to 5 characters, not one letter or digit, no spaces, @ or backticks, such as ! or ??", Kind: commands.KindString,
					Required: true, Positional: true},
			}},
			{Name: "channel", Description: "Set or clear the mod-log, audit-log or jail channel", Params: []commands.Param{
				{Name: "setting", Description: "Which channel", Kind: commands.KindString, Required: true, Positional: true,
					Choices: []string{"modlog", "auditlog", "jail"}},
				{Name: "channel", Description: "A text channel gavel can post in", Kind: commands.KindChannel, Required: true,
					Positional: true, Clear: true},
			}},
			{Name: "jailrole", Description: "Set or clear the role jailed members are given", Params: []commands.Param{
				{Name: "role", Description: "A role below gavel's highest role", Kind: commands.KindRole, Required: true,
					Positional: true, Clear: true},
			}},
			{Name: "jail", Default: "check", Description: "The jail role's channel permissions", Subs: []*commands.Spec{
				{Name: "setup", Description: "Deny the jail role every channel but the jail channel (again)"},
				{Name: "check", Description: "List the channels jailed members can still see"},
			}},
			{Name: "mirror", Description: "Turn on or off cases for actions taken outside gavel", Params: []commands.Param{
				{Name: "state", Description: "on: bans, kicks and timeouts done in Discord become cases", Kind: commands.KindString,
					Required: true, Positional: true, Choices: []string{"on", "off"}},
			}},
			{Name: "agegate", Description: "Time out members whose account is younger than an age, until it is that old", Params: []commands.Param{
				{Name: "age", Description: "1h to 28d, or off (the default)", Kind: commands.KindString, Required: true, Positional: true, Max: 20},
			}},
			{Name: "ranks", Default: "list", Description: "The server's ranks, 0 to 10", Subs: []*commands.Spec{
				{Name: "list", Description: "List the ranks and the roles that hold them"},
				{Name: "init", Description: "Create the default ranks 0 to 7 that are missing and give commands their default ranks"},
				{Name: "set", Description: "Create or rename a rank", Params: []commands.Param{
					rankParam("number", "The rank, 0 to 10"),
					{Name: "name", Description: "Its name (quote a name with spaces)", Kind: commands.KindString, Required: true,
						Positional: true, Max: permissions.MaxRankName},
					{Name: "description", Description: "What it is for; left out, the current one is kept", Kind: commands.KindString,
						Positional: true, Rest: true, Max: permissions.MaxRankDescription},
				}},
				{Name: "delete", Description: "Delete a rank; roles lose it", Params: []commands.Param{rankParam("number", "The rank, 0 to 10")}},
			}},
			{Name: "roles", Default: "list", Description: "Which rank each role gives", Subs: []*commands.Spec{
				{Name: "list", Description: "List the roles that have a rank"},
				{Name: "assign", Description: "Give a role a rank", Params: []commands.Param{
					{Name: "role", Description: "The role", Kind: commands.KindRole, Required: true, Positional: true},
					rankParam("rank", "The rank, 0 to 10; it must exist"),
				}},
				{Name: "unassign", Description: "Take a role's rank away", Params: []commands.Param{
					{Name: "role", Description: "The role (a mention or an id)", Kind: commands.KindRole, Required: true, Positional: true},
				}},
			}},
			{Name: "commands", Default: "list", Description: "Which rank each command requires", Subs: []*commands.Spec{
				{Name: "list", Description: "List the commands' required ranks"},
				{Name: "set", Description: "Set the rank a command requires", Params: []commands.Param{
					commandParam, rankParam("rank", "The rank required, 0 to 10"),
				}},
				{Name: "clear", Description: "Remove a command's own rank (it falls back to its parent's)", Params: []commands.Param{commandParam}},
			}},
		},
	}
}

// configTool is the config command: the server's settings and permissions, changed from
// Discord. Every change is recorded in the configuration history by the services; the tool
// reports those rows to the moderator and to the audit-log channel.
type configTool struct{ env *Env }

func newConfig(env *Env) *Tool {
	c := &configTool{env: env}
	return &Tool{Spec: configSpec(), Run: c.run}
}

func (c *configTool) run(ctx context.Context, call Call, args commands.Args) Reply {
	switch args.Command() {
	case "config show":
		return c.show(ctx, call)
	case "config prefix":
		return c.prefix(ctx, call, args.String("prefix"))
	case "config channel":
		return c.channel(ctx, call, configChannels[args.String("setting")], discord.ChannelID(args.ID("channel")))
	case "config jailrole":
		return c.jailRole(ctx, call, discord.RoleID(args.ID("role")))
	case "config jail setup":
		return c.jailSetupCmd(ctx, call)
	case "config jail check":
		return c.jailCheck(ctx, call)
	case "config mirror":
		return c.mirror(ctx, call, args.String("state") == "on")
	case "config agegate":
		return c.ageGate(ctx, call, args.String("age"))
	case "config ranks list":
		return c.ranksList(ctx, call)
	case "config ranks init":
		return c.ranksInit(ctx, call)
	case "config ranks set":
		return c.ranksSet(ctx, call, int(args.Int("number")), args.String("name"), args.String("description"), args.Has("description"))
	case "config ranks delete":
		return c.ranksDelete(ctx, call, int(args.Int("number")))
	case "config roles list":
		return c.rolesList(ctx, call)
	case "config roles assign":
		return c.rolesAssign(ctx, call, discord.RoleID(args.ID("role")), int(args.Int("rank")))
	case "config roles unassign":
		return c.rolesUnassign(ctx, call, discord.RoleID(args.ID("role")))
	case "config commands list":
		return c.commandsList(ctx, call)
	case "config commands set":
		return c.commandsSet(ctx, call, args.String("command"), int(args.Int("rank")))
	case "config commands clear":
		return c.commandsClear(ctx, call, args.String("command"))
	}
	return refused("%s is not a config subcommand; %s", args.Command(), configUsage(call))
}

// Settings.

func (c *configTool) prefix(ctx context.Context, call Call, prefix string) Reply {
	evs, err := c.apply(ctx, call, func() error {
		_, err := c.env.Settings.SetPrefix(ctx, call.GuildID, call.User.ID, prefix)
		return err
	})
	if err != nil {
		return c.refusal(err)
	}
	text := fmt.Sprintf("Commands now start with `%s`%s: try `%sconfig`.", prefix, was(evs, settings.KeyPrefix, func(v string) string { return "`" + v + "`" }), prefix)
	return c.done(ctx, call, "config prefix", text, "", evs)
}

func (c *configTool) channel(ctx context.Context, call Call, which settings.Channel, channelID discord.ChannelID) Reply {
	if channelID != 0 {
		problem, err := c.checkChannel(ctx, call.GuildID, channelID)
		if err != nil {
			return failed(err)
		}
		if problem != "" {
			return refused("%s Nothing was changed.", problem)
		}
	}
	var old settings.Guild
	evs, err := c.apply(ctx, call, func() error {
		var err error
		if old, err = c.env.Settings.Get(ctx, call.GuildID); err != nil {
			return err
		}
		_, err = c.env.Settings.SetChannel(ctx, call.GuildID, call.User.ID, which, channelID)
		return err
	})
	if err != nil {
		return c.refusal(err)
	}
	text := fmt.Sprintf("The %s is now %s%s.", which, channelText(int64(channelID)), was(evs, which.Key(), channelValue))
	if channelID == 0 {
		text = fmt.Sprintf("The %s is cleared%s.", which, was(evs, which.Key(), channelValue))
	}
	if which == settings.JailChannel {
		// The new jail channel lets the jail role in, the old one no longer does.
		if setup := c.afterJailChange(ctx, call); setup != "" {
			text += "\n" + setup
		}
	}
	// A change of the audit-log channel itself is told to the channel it leaves too.
	var also int64
	if which == settings.AuditLog && old.AuditlogChannelID != channelID {
		also = int64(old.AuditlogChannelID)
	}
	return c.done(ctx, call, "config channel", text, "", evs, also)
}

func (c *configTool) jailRole(ctx context.Context, call Call, roleID discord.RoleID) Reply {
	var note string
	if roleID != 0 {
		problem, warn, err := c.checkJailRole(ctx, call.GuildID, roleID)
		if err != nil {
			return failed(err)
		}
		if problem != "" {
			return refused("%s Nothing was changed.", problem)
		}
		note = warn
	}
	var previous int64
	evs, err := c.apply(ctx, call, func() error {
		old, err := c.env.Settings.Get(ctx, call.GuildID)
		if err != nil {
			return err
		}
		previous = int64(old.JailRoleID)
		_, err = c.env.Settings.SetJailRole(ctx, call.GuildID, call.User.ID, roleID)
		return err
	})
	if err != nil {
		return c.refusal(err)
	}
	text := fmt.Sprintf("The jail role is now %s%s.", roleText(int64(roleID)), was(evs, settings.KeyJailRole, roleValue))
	if roleID == 0 {
		text = fmt.Sprintf("The jail role is cleared%s; jail and unjail are refused until one is set.", was(evs, settings.KeyJailRole, roleValue))
	} else if setup := c.afterJailChange(ctx, call); setup != "" {
		// The role restricts nothing until the channels deny it: set them up at once.
		text += "\n" + setup
	}
	if previous != 0 && discord.RoleID(previous) != roleID {
		// gavel does not undo them: it cannot tell its overwrites from ones made by hand.
		text += fmt.Sprintf("\nThe previous jail role %s keeps the channel overwrites set for the jail; if it is used for anything else, remove them in the channels' permission settings.", roleText(previous))
	}
	return c.done(ctx, call, "config jailrole", text, note, evs)
}

func (c *configTool) mirror(ctx context.Context, call Call, on bool) Reply {
	evs, err := c.apply(ctx, call, func() error {
		_, err := c.env.Settings.SetMirrorExternalActions(ctx, call.GuildID, call.User.ID, on)
		return err
	})
	if err != nil {
		return c.refusal(err)
	}
	text := "Bans, unbans, kicks and timeouts done outside gavel are now recorded as cases."
	if !on {
		text = "Bans, unbans, kicks and timeouts done outside gavel are no longer recorded as cases."
	}
	return c.done(ctx, call, "config mirror", text, "", evs)
}

// ageGate sets the account-age gate: "off", or an age from 1 hour to 28 days.
func (c *configTool) ageGate(ctx context.Context, call Call, text string) Reply {
	var age time.Duration
	if !strings.EqualFold(strings.TrimSpace(text), "off") {
		d, err := duration.ParseWithin(text, duration.Bounds{Min: settings.MinAccountAgeGate, Max: settings.MaxAccountAgeGate})
		if err != nil {
			return Text(Refused, "❌ config agegate: %v. Give an age from 1h to 28d (like 7d), or off. Nothing was changed.", err)
		}
		age = d
	}
	evs, err := c.apply(ctx, call, func() error {
		return c.env.Settings.SetAccountAgeGate(ctx, call.GuildID, call.User.ID, age)
	})
	if err != nil {
		return c.refusal(err)
	}
	summary := "The account-age gate is off: new members are not timed out for their account's age."
	if age > 0 {
		summary = fmt.Sprintf("The account-age gate is on: a member whose account is younger than %s when they join is timed out until it is %s old (a case, and a DM saying why).",
			duration.Format(age), duration.Format(age))
	}
	return c.done(ctx, call, "config agegate", summary, "", evs)
}

// Ranks.

func (c *configTool) ranksInit(ctx context.Context, call Call) Reply {
	before, err := c.permState(ctx, call)
	if err != nil {
		return failed(err)
	}
	var created []permissions.Rank
	var set []permissions.CommandRank
	evs, err := c.apply(ctx, call, func() error {
		var err error
		created, set, err = c.env.Perms.InitRanks(ctx, call.GuildID, call.User.ID)
		return err
	})
	if err != nil {
		return c.refusal(err)
	}
	if len(created) == 0 && len(set) == 0 {
		return Text(OK, "Nothing to create: this server already has every default rank (or a rank of the same name), and every command has a rank. See them with %s and %s.",
			cmdRef(call, "config ranks list"), cmdRef(call, "config commands list"))
	}
	var b strings.Builder
	if len(created) > 0 {
		names := make([]string, len(created))
		for i, r := range created {
			names[i] = fmt.Sprintf("%d %s", r.Number, r.Name)
		}
		fmt.Fprintf(&b, "Created %d ranks: %s.", len(created), strings.Join(names, ", "))
	} else {
		b.WriteString("Every default rank exists already.")
	}
	if len(set) > 0 {
		parts := make([]string, len(set))
		for i, cr := range set {
			parts[i] = fmt.Sprintf("`%s` %d", cr.Command, cr.Rank)
		}
		fmt.Fprintf(&b, " Gave %d commands that had no rank their default rank: %s. Change any with %s.", len(set), strings.Join(parts, ", "), cmdRef(call, "config commands set"))
	}
	text := b.String()
	return c.done(ctx, call, "config ranks init", text, c.permissionNotes(ctx, call, before), evs)
}

func (c *configTool) ranksSet(ctx context.Context, call Call, number int, name, description string, withDescription bool) Reply {
	ranks, err := c.env.Perms.Ranks(ctx, call.GuildID)
	if err != nil {
		return failed(err)
	}
	before, err := c.permState(ctx, call)
	if err != nil {
		return failed(err)
	}
	old, existed := rankOf(ranks, number)
	if !withDescription {
		// Renaming a rank keeps its description unless a new one is given.
		description = old.Description
	}
	var rank permissions.Rank
	evs, err := c.apply(ctx, call, func() error {
		var err error
		rank, err = c.env.Perms.SetRank(ctx, call.GuildID, call.User.ID, number, name, description)
		return err
	})
	if err != nil {
		return c.refusal(err)
	}
	text := fmt.Sprintf("Created rank %d, %q.", rank.Number, rank.Name)
	if existed {
		text = fmt.Sprintf("Rank %d is now %q", rank.Number, rank.Name)
		if old.Name != rank.Name {
			text += fmt.Sprintf(" (was %q)", old.Name)
		}
		if old.Description != rank.Description {
			text += ", with a new description"
		}
		text += "."
	}
	return c.done(ctx, call, "config ranks set", text, c.permissionNotes(ctx, call, before), evs)
}

func (c *configTool) ranksDelete(ctx context.Context, call Call, number int) Reply {
	before, err := c.permState(ctx, call)
	if err != nil {
		return failed(err)
	}
	var rank permissions.Rank
	var roles []int64
	evs, err := c.apply(ctx, call, func() error {
		var err error
		rank, roles, err = c.env.Perms.DeleteRank(ctx, call.GuildID, call.User.ID, number)
		return err
	})
	if err != nil {
		return c.refusal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Deleted rank %d, %q.", rank.Number, rank.Name)
	if len(roles) > 0 {
		fmt.Fprintf(&b, " Roles that lost it (they now have no rank): %s.", joinMapped(roles, roleText))
	}
	cmds, err := c.env.Perms.CommandRanks(ctx, call.GuildID)
	if err != nil {
		c.env.Log.Warn("config: listing command ranks after a rank deletion", "guild", call.GuildID, "err", err)
	}
	var still []string
	for _, cr := range cmds {
		if cr.Rank == number {
			still = append(still, "`"+cr.Command+"`")
		}
	}
	if len(still) > 0 {
		fmt.Fprintf(&b, " These commands still require rank %d, so only members with a higher rank (and the server owner) can use them: %s. Change them with %s.",
			number, strings.Join(still, ", "), cmdRef(call, "config commands set"))
	}
	return c.done(ctx, call, "config ranks delete", b.String(), c.permissionNotes(ctx, call, before), evs)
}

// Roles.

func (c *configTool) rolesAssign(ctx context.Context, call Call, roleID discord.RoleID, rank int) Reply {
	var g discord.Guild
	if err := c.read(ctx, func(ctx context.Context) (err error) {
		g, err = c.env.Port.Guild(ctx, call.GuildID)
		return err
	}); err != nil {
		return failed(err)
	}
	if _, ok := g.Role(roleID); !ok {
		return refused("%s is not a role of this server; accepted: a role mention (@role) or the id of one of this server's roles. Nothing was changed.", roleText(int64(roleID)))
	}
	before, err := c.permState(ctx, call)
	if err != nil {
		return failed(err)
	}
	evs, err := c.apply(ctx, call, func() error {
		return c.env.Perms.AssignRole(ctx, call.GuildID, call.User.ID, roleID, rank)
	})
	if err != nil {
		return c.refusal(err)
	}
	ranks := c.rankNames(ctx, call.GuildID)
	text := fmt.Sprintf("%s now gives rank %s%s.", roleText(int64(roleID)), rankLabel(rank, ranks),
		was(evs, roleKey(int64(roleID)), func(v string) string { return rankValue(v, ranks) }))
	return c.done(ctx, call, "config roles assign", text, c.permissionNotes(ctx, call, before), evs)
}

func (c *configTool) rolesUnassign(ctx context.Context, call Call, roleID discord.RoleID) Reply {
	// No check that the role still exists: a deleted role's rank must be removable too.
	before, err := c.permState(ctx, call)
	if err != nil {
		return failed(err)
	}
	evs, err := c.apply(ctx, call, func() error {
		return c.env.Perms.UnassignRole(ctx, call.GuildID, call.User.ID, roleID)
	})
	if err != nil {
		return c.refusal(err)
	}
	ranks := c.rankNames(ctx, call.GuildID)
	text := fmt.Sprintf("%s no longer gives a rank%s.", roleText(int64(roleID)),
		was(evs, roleKey(int64(roleID)), func(v string) string { return rankValue(v, ranks) }))
	return c.done(ctx, call, "config roles unassign", text, c.permissionNotes(ctx, call, before), evs)
}

// Commands.

func (c *configTool) commandsSet(ctx context.Context, call Call, command string, rank int) Reply {
	name, bad := c.knownCommand(call, command)
	if bad != nil {
		return *bad
	}
	before, err := c.permState(ctx, call)
	if err != nil {
		return failed(err)
	}
	evs, err := c.apply(ctx, call, func() error {
		return c.env.Perms.SetCommandRank(ctx, call.GuildID, call.User.ID, name, rank)
	})
	if err != nil {
		return c.refusal(err)
	}
	ranks := c.rankNames(ctx, call.GuildID)
	text := fmt.Sprintf("`%s` now requires rank %s%s.", name, rankLabel(rank, ranks),
		was(evs, commandKey(name), func(v string) string { return rankValue(v, ranks) }))
	if _, ok := ranks[rank]; !ok {
		text += fmt.Sprintf(" Rank %d does not exist yet: until a role holds it or a higher one, only the server owner can use `%s`.", rank, name)
	}
	return c.done(ctx, call, "config commands set", text, c.permissionNotes(ctx, call, before), evs)
}

func (c *configTool) commandsClear(ctx context.Context, call Call, command string) Reply {
	name, bad := c.knownCommand(call, command)
	if bad != nil {
		return *bad
	}
	before, err := c.permState(ctx, call)
	if err != nil {
		return failed(err)
	}
	evs, err := c.apply(ctx, call, func() error {
		return c.env.Perms.ClearCommandRank(ctx, call.GuildID, call.User.ID, name)
	})
	if err != nil {
		return c.refusal(err)
	}
	text := fmt.Sprintf("`%s` no longer has a rank of its own", name)
	cmds, err := c.env.Perms.CommandRanks(ctx, call.GuildID)
	if err != nil {
		return c.done(ctx, call, "config commands clear", text+".", "", evs)
	}
	ranks := c.rankNames(ctx, call.GuildID)
	if from, r, ok := inherited(name, cmds); ok {
		text += fmt.Sprintf("; it now requires the rank of `%s`, %s.", from, rankLabel(r, ranks))
	} else {
		text += "; no parent has one either, so only the server owner can use it while the server has ranks."
	}
	return c.done(ctx, call, "config commands clear", text, c.permissionNotes(ctx, call, before), evs)
}

// knownCommand reads a command name as the permissions know it, or says which are accepted.
func (c *configTool) knownCommand(call Call, input string) (string, *Reply) {
	name, err := permissions.ParseCommand(input)
	if err != nil {
		r := c.refusal(err)
		return "", &r
	}
	known := c.commandNames()
	if slices.Contains(known, name) {
		return name, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "`%s` is not one of gavel's commands.", clipText(name, 100))
	if near := commands.Closest(name, known); near != "" {
		fmt.Fprintf(&b, " Did you mean `%s`?", near)
	}
	fmt.Fprintf(&b, " Accepted (a subcommand by its full name, such as `cases modify`; quote it or put it before the rank): %s. Nothing was changed.", catalogue(known))
	r := refused("%s", b.String())
	return "", &r
}

func (c *configTool) commandNames() []string {
	if c.env.CommandNames != nil {
		return c.env.CommandNames()
	}
	return c.env.Perms.Commands()
}

// catalogue lists commands grouped under their top-level command: "ban, cases (list,
// modify), …".
func catalogue(names []string) string {
	var out []string
	subs := map[string][]string{}
	for _, n := range names {
		top, rest, found := strings.Cut(n, " ")
		if !found {
			out = append(out, top)
			continue
		}
		subs[top] = append(subs[top], rest)
	}
	for i, top := range out {
		if s := subs[top]; len(s) > 0 {
			out[i] = top + " (" + strings.Join(s, ", ") + ")"
		}
	}
	return strings.Join(out, ", ")
}

// inherited is the nearest parent of command with a rank of its own.
func inherited(command string, cmds []permissions.CommandRank) (string, int, bool) {
	for name := command; ; {
		i := strings.LastIndexByte(name, ' ')
		if i < 0 {
			return "", 0, false
		}
		name = name[:i]
		for _, cr := range cmds {
			if cr.Command == name {
				return name, cr.Rank, true
			}
		}
	}
}

// permState is what a permission change may change beyond itself: whether the guild is
// judged by ranks, and whether the moderator may use config.
type permState struct{ ranked, canConfig bool }

// permState reads the state before a change. A guild without ranks judged the moderator by
// Discord's permissions, which they passed to get here: every config subcommand needs the
// same one (Manage Server).
func (c *configTool) permState(ctx context.Context, call Call) (permState, error) {
	ranked, err := c.ranked(ctx, call.GuildID)
	if err != nil || !ranked {
		return permState{canConfig: true}, err
	}
	can, _, err := c.canConfig(ctx, call)
	return permState{ranked: true, canConfig: can}, err
}

// canConfig reports whether the moderator may use config in a guild with ranks, and why not.
func (c *configTool) canConfig(ctx context.Context, call Call) (bool, string, error) {
	var g discord.Guild
	if err := c.read(ctx, func(ctx context.Context) (err error) {
		g, err = c.env.Port.Guild(ctx, call.GuildID)
		return err
	}); err != nil {
		return false, "", err
	}
	d, err := c.env.Perms.Check(ctx, permissions.Subject{GuildID: call.GuildID, GuildOwnerID: g.OwnerID, UserID: call.User.ID,
		RoleIDs: call.Roles, Command: "config"})
	return d.Allowed, d.Reason, err
}

// ranked reports whether the guild is judged by ranks rather than Discord's permissions,
// as permissions.Check decides: it has a rank or a role rank.
func (c *configTool) ranked(ctx context.Context, guildID discord.GuildID) (bool, error) {
	ranks, err := c.env.Perms.Ranks(ctx, guildID)
	if err != nil {
		return false, err
	}
	roles, err := c.env.Perms.RoleRanks(ctx, guildID)
	if err != nil {
		return false, err
	}
	return len(ranks) > 0 || len(roles) > 0, nil
}

// permissionNotes warns about what a permission change did beyond itself: switching the
// server between Discord's permissions and ranks, and leaving the moderator unable to use
// config (the server owner always can, so the server is never locked out).
func (c *configTool) permissionNotes(ctx context.Context, call Call, before permState) string {
	now, err := c.ranked(ctx, call.GuildID)
	if err != nil {
		c.env.Log.Warn("config: reading ranks after a change", "guild", call.GuildID, "err", err)
		return ""
	}
	wasRanked := before.ranked
	var b strings.Builder
	switch {
	case now && !wasRanked:
		fmt.Fprintf(&b, "\n⚠️ This server now uses ranks: Discord's permissions no longer decide who may use gavel. A command with no rank (nor a parent with one) can be used only by the server owner; give roles ranks with %s and commands ranks with %s.",
			cmdRef(call, "config roles assign"), cmdRef(call, "config commands set"))
	case !now && wasRanked:
		b.WriteString("\nThis server has no ranks left, so Discord's own permissions decide again (Manage Server for `config`, Ban Members for `ban`, and so on).")
	}
	if !now || !before.canConfig {
		return b.String()
	}
	can, reason, err := c.canConfig(ctx, call)
	if err != nil {
		c.env.Log.Warn("config: checking the moderator's access after a change", "guild", call.GuildID, "err", err)
		return b.String()
	}
	if !can {
		fmt.Fprintf(&b, "\n⚠️ You can no longer use `config` yourself: %s The server owner always can, and can change this back.", reason)
	}
	return b.String()
}

// Lists.

func (c *configTool) show(ctx context.Context, call Call) Reply {
	g, err := c.env.Settings.Get(ctx, call.GuildID)
	if err != nil {
		return failed(err)
	}
	ranks, err := c.env.Perms.Ranks(ctx, call.GuildID)
	if err != nil {
		return failed(err)
	}
	roles, err := c.env.Perms.RoleRanks(ctx, call.GuildID)
	if err != nil {
		return failed(err)
	}
	cmds, err := c.env.Perms.CommandRanks(ctx, call.GuildID)
	if err != nil {
		return failed(err)
	}
	// What still exists, to flag settings that point at a deleted channel or role. Unknown
	// when Discord cannot be read: the settings are shown anyway.
	var channels map[int64]bool
	var guild *discord.Guild
	if err := c.read(ctx, func(ctx context.Context) error {
		cs, err := c.env.Port.GuildChannels(ctx, call.GuildID)
		if err != nil {
			return err
		}
		channels = map[int64]bool{}
		for _, ch := range cs {
			channels[int64(ch.ID)] = true
		}
		gd, err := c.env.Port.Guild(ctx, call.GuildID)
		guild = &gd
		return err
	}); err != nil {
		c.env.Log.Warn("config show: reading the guild", "guild", call.GuildID, "err", err)
		channels, guild = nil, nil
	}
	channelField := func(id int64, unset string) string {
		if id == 0 {
			return "not set: " + unset
		}
		if channels != nil && !channels[id] {
			return fmt.Sprintf("%s ⚠️ no longer exists (id %d)", channelText(id), id)
		}
		return channelText(id)
	}
	jailRole := "not set: jail and unjail are refused"
	if g.JailRoleID != 0 {
		jailRole = roleText(int64(g.JailRoleID))
		if guild != nil {
			if _, ok := guild.Role(g.JailRoleID); !ok {
				jailRole += fmt.Sprintf(" ⚠️ no longer exists (id %d)", g.JailRoleID)
			}
		}
	}
	mirror := "on: bans, unbans, kicks and timeouts done outside gavel become cases"
	if !g.MirrorExternalActions {
		mirror = "off: only gavel's own commands make cases"
	}
	perms := fmt.Sprintf("no ranks: Discord's own permissions decide (Manage Server for `config`). Start with %s.", cmdRef(call, "config ranks init"))
	if len(ranks) > 0 || len(roles) > 0 {
		perms = fmt.Sprintf("ranks: %d ranks, %d roles with a rank, %d commands with a rank. See %s, %s and %s.",
			len(ranks), len(roles), len(cmds), cmdRef(call, "config ranks"), cmdRef(call, "config roles"), cmdRef(call, "config commands"))
	} else if len(cmds) > 0 {
		perms += fmt.Sprintf(" %d command ranks are set and take effect once ranks exist.", len(cmds))
	}
	embed := discord.Embed{
		Title: "gavel's settings in this server",
		Color: configColor,
		Fields: []discord.EmbedField{
			{Name: "Prefix", Value: "`" + g.Prefix + "`", Inline: true},
			{Name: "Mirror external actions", Value: mirror, Inline: true},
			{Name: "Mod-log channel", Value: channelField(int64(g.ModlogChannelID), "cases are not posted")},
			{Name: "Audit-log channel", Value: channelField(int64(g.AuditlogChannelID), "configuration changes, purges and slowmode are not posted")},
			{Name: "Jail channel", Value: channelField(int64(g.JailChannelID), "jailed members see no channel of their own")},
			{Name: "Jail role", Value: jailRole},
			{Name: "Permissions", Value: perms},
		},
		Footer: &discord.EmbedFooter{Text: "Change: " + strings.TrimPrefix(configUsage(call), "accepted: ")},
	}
	return Reply{Message: discord.Message{Embeds: []discord.Embed{embed}, AllowedMentions: &discord.AllowedMentions{}}, Outcome: OK}
}

func (c *configTool) ranksList(ctx context.Context, call Call) Reply {
	ranks, err := c.env.Perms.Ranks(ctx, call.GuildID)
	if err != nil {
		return failed(err)
	}
	if len(ranks) == 0 {
		return Text(OK, "This server has no ranks, so Discord's own permissions decide who may use gavel. Create the default ranks 0 to 7 with %s, or one at a time with %s.",
			cmdRef(call, "config ranks init"), cmdRef(call, "config ranks set"))
	}
	roles, err := c.env.Perms.RoleRanks(ctx, call.GuildID)
	if err != nil {
		return failed(err)
	}
	var b strings.Builder
	for _, r := range ranks {
		fmt.Fprintf(&b, "**%d · %s**", r.Number, r.Name)
		if r.Description != "" {
			b.WriteString(": " + r.Description)
		}
		var holders []int64
		for _, rr := range roles {
			if rr.Rank == r.Number {
				holders = append(holders, int64(rr.RoleID))
			}
		}
		if len(holders) > 0 {
			b.WriteString("\n  roles: " + joinMapped(holders, roleText))
		}
		b.WriteString("\n")
	}
	return embedReply("Ranks", b.String(), fmt.Sprintf("A member's rank is the highest of their roles' ranks, 0 when none has one. Change: %s", strings.Join([]string{
		refText(call, "config ranks set <number> <name> [description]"), refText(call, "config ranks delete <number>")}, " · ")))
}

func (c *configTool) rolesList(ctx context.Context, call Call) Reply {
	roles, err := c.env.Perms.RoleRanks(ctx, call.GuildID)
	if err != nil {
		return failed(err)
	}
	if len(roles) == 0 {
		return Text(OK, "No role has a rank. Give one with %s.", cmdRef(call, "config roles assign"))
	}
	ranks := c.rankNames(ctx, call.GuildID)
	var g *discord.Guild
	if err := c.read(ctx, func(ctx context.Context) error {
		gd, err := c.env.Port.Guild(ctx, call.GuildID)
		g = &gd
		return err
	}); err != nil {
		g = nil
	}
	var b strings.Builder
	for _, rr := range roles {
		fmt.Fprintf(&b, "%s → rank %s", roleText(int64(rr.RoleID)), rankLabel(rr.Rank, ranks))
		if g != nil {
			if _, ok := g.Role(rr.RoleID); !ok {
				fmt.Fprintf(&b, " ⚠️ the role no longer exists; remove it with %s", refText(call, fmt.Sprintf("config roles unassign %d", rr.RoleID)))
			}
		}
		b.WriteString("\n")
	}
	return embedReply("Role ranks", b.String(), "Change: "+refText(call, "config roles assign <@role> <rank>")+" · "+refText(call, "config roles unassign <@role>"))
}

func (c *configTool) commandsList(ctx context.Context, call Call) Reply {
	cmds, err := c.env.Perms.CommandRanks(ctx, call.GuildID)
	if err != nil {
		return failed(err)
	}
	ranked, err := c.ranked(ctx, call.GuildID)
	if err != nil {
		return failed(err)
	}
	ranks := c.rankNames(ctx, call.GuildID)
	var b strings.Builder
	if !ranked {
		b.WriteString("This server has no ranks, so Discord's own permissions decide who may use each command (Manage Server for `config`). The ranks below take effect once ranks exist.\n\n")
	}
	if len(cmds) == 0 {
		b.WriteString("No command has a rank yet.\n")
	}
	for _, cr := range cmds {
		fmt.Fprintf(&b, "`%s` → rank %s\n", cr.Command, rankLabel(cr.Rank, ranks))
	}
	if ranked {
		var closed []string
		for _, name := range c.commandNames() {
			if !slices.ContainsFunc(cmds, func(cr permissions.CommandRank) bool { return cr.Command == name }) {
				if _, _, ok := inherited(name, cmds); !ok {
					closed = append(closed, name)
				}
			}
		}
		if len(closed) > 0 {
			fmt.Fprintf(&b, "\n**No rank, so only the server owner can use them:** %s\n", catalogue(closed))
		}
	}
	return embedReply("Command ranks", b.String(), "A subcommand without a rank of its own requires its parent's. Change: "+
		refText(call, "config commands set <command> <rank>")+" · "+refText(call, "config commands clear <command>"))
}

// Changes and their report.

// apply runs do, a change through the settings or permissions service, and returns the
// history rows it recorded, oldest first: what the audit log and the reply show. The rows
// are those after the newest one before the change, by this moderator, in either history
// (settings and permissions each keep their own); the guild's configuration lock serialises
// changes, so they are this change's. When the history cannot be read after a change that
// succeeded, the rows are nil and the change stands.
func (c *configTool) apply(ctx context.Context, call Call, do func() error) ([]settings.Event, error) {
	type history func(ctx context.Context, guildID discord.GuildID, limit int) ([]settings.Event, error)
	sources := []history{c.env.Settings.History}
	if c.env.Perms != nil {
		sources = append(sources, c.env.Perms.History)
	}
	marks := make([]int64, len(sources))
	for i, h := range sources {
		before, err := h(ctx, call.GuildID, 1)
		if err != nil {
			return nil, err
		}
		if len(before) > 0 {
			marks[i] = before[0].ID
		}
	}
	if err := do(); err != nil {
		return nil, err
	}
	var evs []settings.Event
	for i, h := range sources {
		after, err := h(ctx, call.GuildID, 200)
		if err != nil {
			c.env.Log.Warn("config: reading the history after a change", "guild", call.GuildID, "err", err)
			return nil, nil
		}
		for _, ev := range after {
			if ev.ID > marks[i] && ev.ActorID == call.User.ID {
				evs = append(evs, ev)
			}
		}
	}
	// Newest first within each history, and one change writes to one of them only.
	slices.Reverse(evs)
	return evs, nil
}

// done reports a change: its summary to the audit-log channel (and to also, a channel that
// must hear of it too), and to the moderator the summary, notes meant for them, and whether
// the audit-log post failed.
func (c *configTool) done(ctx context.Context, call Call, command, summary, notes string, evs []settings.Event, also ...int64) Reply {
	text := summary
	if notes != "" {
		text += "\n" + strings.TrimPrefix(notes, "\n")
	}
	if failure := c.audit(ctx, call, command, summary, evs, also); failure != "" {
		text += "\n" + failure
	}
	return Text(OK, "%s", clipText(text, 2000))
}

// audit posts the change to the guild's audit-log channel, and returns a note for the
// moderator when it could not.
func (c *configTool) audit(ctx context.Context, call Call, command, text string, evs []settings.Event, also []int64) string {
	g, err := c.env.Settings.Get(ctx, call.GuildID)
	if err != nil {
		c.env.Log.Warn("config: reading settings for the audit log", "guild", call.GuildID, "err", err)
		return "The change was not posted to the audit-log channel (settings unreadable)."
	}
	var targets []int64
	for _, id := range append([]int64{int64(g.AuditlogChannelID)}, also...) {
		if id != 0 && !slices.Contains(targets, id) {
			targets = append(targets, id)
		}
	}
	if len(targets) == 0 {
		return ""
	}
	ranks := c.rankNames(ctx, call.GuildID)
	at := call.At
	if at.IsZero() {
		at = c.env.Now()
	}
	embed := discord.Embed{
		Title:       "Configuration changed",
		Description: clipText(fmt.Sprintf("<@%d> (%s) used `%s`.\n%s", call.User.ID, call.User.Username, command, text), 4096),
		Color:       configColor,
		Timestamp:   at,
		Footer:      &discord.EmbedFooter{Text: fmt.Sprintf("Moderator id %d", call.User.ID)},
	}
	for i, ev := range evs {
		if i == 24 && len(evs) > 25 {
			embed.Fields = append(embed.Fields, discord.EmbedField{Name: "…", Value: fmt.Sprintf("and %d more changes in the history", len(evs)-24)})
			break
		}
		embed.Fields = append(embed.Fields, eventField(ev, ranks))
	}
	msg := discord.Message{Embeds: []discord.Embed{embed}, AllowedMentions: &discord.AllowedMentions{}}
	var notes []string
	for _, ch := range targets {
		err := c.env.Exec.Do(ctx, executor.OpMessages, func(ctx context.Context) error {
			_, err := c.env.Port.SendMessage(ctx, discord.ChannelID(ch), msg)
			return err
		})
		if err != nil {
			c.env.Log.Warn("config: posting to the audit log", "guild", call.GuildID, "channel", ch, "err", err)
			notes = append(notes, fmt.Sprintf("The change was not posted to %s (%s).", channelText(ch), discordProblem(err)))
		}
	}
	return strings.Join(notes, " ")
}

// eventField shows one history row: what changed, from what to what.
func eventField(ev settings.Event, ranks map[int]permissions.Rank) discord.EmbedField {
	arrow := func(old, new string) string { return clipText(old+" → "+new, 1024) }
	quoted := func(v string) string {
		if v == "" {
			return "none"
		}
		return strconv.Quote(v)
	}
	rv := func(v string) string { return rankValue(v, ranks) }
	switch key := ev.Key; {
	case key == settings.KeyPrefix:
		return discord.EmbedField{Name: "Prefix", Value: arrow("`"+ev.Old+"`", "`"+ev.New+"`")}
	case key == settings.KeyModlogChannel || key == settings.KeyAuditlogChannel || key == settings.KeyJailChannel:
		name := map[string]string{settings.KeyModlogChannel: "Mod-log channel", settings.KeyAuditlogChannel: "Audit-log channel",
			settings.KeyJailChannel: "Jail channel"}[key]
		return discord.EmbedField{Name: name, Value: arrow(channelValue(ev.Old), channelValue(ev.New))}
	case key == settings.KeyJailRole:
		return discord.EmbedField{Name: "Jail role", Value: arrow(roleValue(ev.Old), roleValue(ev.New))}
	case key == settings.KeyMirrorExternalActions:
		onOff := func(v string) string {
			if v == "true" {
				return "on"
			}
			return "off"
		}
		return discord.EmbedField{Name: "Mirror external actions", Value: arrow(onOff(ev.Old), onOff(ev.New))}
	case strings.HasPrefix(key, "rank ") && strings.HasSuffix(key, " description"):
		return discord.EmbedField{Name: clipText("Description of "+strings.TrimSuffix(key, " description"), 256), Value: arrow(quoted(ev.Old), quoted(ev.New))}
	case strings.HasPrefix(key, "rank "):
		return discord.EmbedField{Name: clipText("Name of "+key, 256), Value: arrow(quoted(ev.Old), quoted(ev.New))}
	case strings.HasPrefix(key, "role "):
		id, _ := strconv.ParseInt(strings.TrimPrefix(key, "role "), 10, 64)
		return discord.EmbedField{Name: "Role rank", Value: clipText(roleText(id)+": "+rv(ev.Old)+" → "+rv(ev.New), 1024)}
	case strings.HasPrefix(key, "command "):
		return discord.EmbedField{Name: "Command rank", Value: clipText("`"+strings.TrimPrefix(key, "command ")+"`: "+rv(ev.Old)+" → "+rv(ev.New), 1024)}
	}
	return discord.EmbedField{Name: clipText(ev.Key, 256), Value: arrow(quoted(ev.Old), quoted(ev.New))}
}

// refusal answers a change the services refused; nothing was changed.
func (c *configTool) refusal(err error) Reply {
	var inv *input.InvalidError
	switch {
	case errors.As(err, &inv):
		return refused("**%s**: %s. Nothing was changed.", inv.Field, strings.TrimSuffix(inv.Problem, "."))
	case errors.Is(err, input.ErrUnchanged):
		return Text(OK, "Nothing to change: %s.", strings.TrimSuffix(err.Error(), ": "+input.ErrUnchanged.Error()))
	case errors.Is(err, permissions.ErrNotFound):
		return refused("%s. Nothing was changed.", upperFirst(strings.TrimSuffix(err.Error(), ": "+permissions.ErrNotFound.Error())))
	}
	return failed(err)
}

// Checks against Discord.

// Discord permission bits the checks need.
const (
	permSendMessages   = 1 << 11
	permEmbedLinks     = 1 << 14
	permManageRoles    = 1 << 28
	postingPermissions = permViewChannel | permSendMessages | permEmbedLinks
)

func (c *configTool) read(ctx context.Context, fn func(ctx context.Context) error) error {
	return c.env.Exec.Do(ctx, executor.OpRead, fn)
}

// checkChannel returns why channelID cannot be one of the guild's log or jail channels ("" when
// it can): it must be a text or announcement channel of the guild that gavel can see and post
// embeds in. err is a failure to ask Discord.
func (c *configTool) checkChannel(ctx context.Context, guildID discord.GuildID, channelID discord.ChannelID) (problem string, err error) {
	const accepted = "accepted: a text channel of this server that gavel can post in, or none to clear the setting."
	var ch discord.Channel
	err = c.read(ctx, func(ctx context.Context) (err error) {
		ch, err = c.env.Port.Channel(ctx, channelID)
		return err
	})
	if de := discord.AsError(err); de != nil && (de.Status == 404 || de.Status == 403) {
		return fmt.Sprintf("There is no channel %d that gavel can see; %s", channelID, accepted), nil
	}
	if err != nil {
		return "", fmt.Errorf("channel %d: %w", channelID, err)
	}
	if ch.GuildID != guildID {
		return fmt.Sprintf("Channel %d is not in this server; %s", channelID, accepted), nil
	}
	if ch.Type != discord.ChannelGuildText && ch.Type != discord.ChannelGuildAnnouncement {
		return fmt.Sprintf("%s is %s, not a text channel; %s", channelText(int64(channelID)), channelTypeName(ch.Type), accepted), nil
	}
	g, bot, err := c.guildAndBot(ctx, guildID)
	if err != nil {
		return "", err
	}
	if missing := postingPermissions &^ channelPermissions(g, bot, ch.Overwrites); missing != 0 {
		return fmt.Sprintf("gavel cannot post in %s: it lacks %s there. Give gavel's role those permissions in that channel, or pick another one.",
			channelText(int64(channelID)), permissions.Permission(missing).String()), nil
	}
	return "", nil
}

// checkJailRole returns why roleID cannot be the jail role ("" when it can), and a warning
// that does not stop it.
func (c *configTool) checkJailRole(ctx context.Context, guildID discord.GuildID, roleID discord.RoleID) (problem, warning string, err error) {
	g, bot, err := c.guildAndBot(ctx, guildID)
	if err != nil {
		return "", "", err
	}
	role, ok := g.Role(roleID)
	switch {
	case !ok:
		return fmt.Sprintf("%s is not a role of this server; accepted: a role mention (@role) or a role id, or none to clear it.", roleText(int64(roleID))), "", nil
	case roleID == guildID.EveryoneRole():
		return "@everyone cannot be the jail role, since every member has it; accepted: a role of its own.", "", nil
	case role.Managed:
		return fmt.Sprintf("%s belongs to an integration (a bot or server boosts), so it cannot be given to members; accepted: a role made in the server's settings.", roleText(int64(roleID))), "", nil
	}
	top, hasTop := topRole(g, bot.Roles)
	if !hasTop || !roleAbove(top, role) {
		return fmt.Sprintf("%s is not below gavel's highest role, so gavel could not give it. Move gavel's role above it in Server Settings → Roles, or pick a lower role.", roleText(int64(roleID))), "", nil
	}
	if g.MemberPermissions(c.env.BotID, bot.Roles)&permManageRoles == 0 {
		warning = "⚠️ gavel lacks the Manage Roles permission, so jail will fail until its role has it."
	}
	return "", warning, nil
}

func (c *configTool) guildAndBot(ctx context.Context, guildID discord.GuildID) (discord.Guild, discord.Member, error) {
	var g discord.Guild
	var bot discord.Member
	err := c.read(ctx, func(ctx context.Context) (err error) {
		if g, err = c.env.Port.Guild(ctx, guildID); err != nil {
			return err
		}
		bot, err = c.env.Port.Member(ctx, guildID, c.env.BotID)
		return err
	})
	if err != nil {
		return discord.Guild{}, discord.Member{}, fmt.Errorf("guild %d and gavel's membership: %w", guildID, err)
	}
	return g, bot, nil
}

// topRole is the highest of roleIDs in the guild's hierarchy.
func topRole(g discord.Guild, roleIDs []discord.RoleID) (discord.Role, bool) {
	var best discord.Role
	found := false
	for _, id := range roleIDs {
		r, ok := g.Role(id)
		if !ok || r.ID == g.ID.EveryoneRole() {
			continue
		}
		if !found || roleAbove(r, best) {
			best, found = r, true
		}
	}
	return best, found
}

// roleAbove orders roles as Discord does: higher position first, then the lower id.
func roleAbove(a, b discord.Role) bool {
	if a.Position != b.Position {
		return a.Position > b.Position
	}
	return a.ID < b.ID
}

// Formatting.

const configColor = 0x5865F2

func refused(format string, args ...any) Reply { return Text(Refused, "❌ "+format, args...) }

// failed answers a change gavel could not make: Discord failing to answer a check, or gavel
// itself.
func failed(err error) Reply {
	if r, ok := databaseDown(err); ok {
		return r
	}
	r := Text(Failed, "Something went wrong on gavel's side and nothing was changed. Try again in a moment; if it keeps happening, tell the bot's operator.")
	if errors.Is(err, executor.ErrOpen) || discord.AsError(err) != nil {
		r = Text(Failed, "gavel could not check this with Discord (%s), so nothing was changed. Try again in a moment.", discordProblem(err))
	}
	r.Err = err
	return r
}

// discordProblem says briefly why a Discord call failed, for a note to the moderator.
func discordProblem(err error) string {
	if errors.Is(err, executor.ErrOpen) {
		return err.Error()
	}
	if de := discord.AsError(err); de != nil {
		switch {
		case de.Status == 403:
			return "gavel lacks the permission to post there"
		case de.Status == 404:
			return "the channel no longer exists"
		case de.Status == 0:
			return "Discord did not answer"
		}
		return fmt.Sprintf("Discord answered %d", de.Status)
	}
	return "an error on gavel's side"
}

func embedReply(title, body, footer string) Reply {
	embed := discord.Embed{Title: title, Description: clipText(body, 4096), Color: configColor, Footer: &discord.EmbedFooter{Text: clipText(footer, 2048)}}
	return Reply{Message: discord.Message{Embeds: []discord.Embed{embed}, AllowedMentions: &discord.AllowedMentions{}}, Outcome: OK}
}

// was is " (was X)" for the old value of the history row with key ("" is not set, which show
// words), "" when there is no such row.
func was(evs []settings.Event, key string, show func(string) string) string {
	for _, ev := range evs {
		if ev.Key == key {
			return " (was " + show(ev.Old) + ")"
		}
	}
	return ""
}

func channelText(id int64) string { return fmt.Sprintf("<#%d>", id) }
func roleText(id int64) string    { return fmt.Sprintf("<@&%d>", id) }

// channelValue and roleValue show a history value: an id, or "" for not set.
func channelValue(v string) string {
	if id, err := strconv.ParseInt(v, 10, 64); err == nil && id > 0 {
		return channelText(id)
	}
	return "not set"
}

func roleValue(v string) string {
	if id, err := strconv.ParseInt(v, 10, 64); err == nil && id > 0 {
		return roleText(id)
	}
	return "not set"
}

// rankValue shows a rank from the history ("3"): "3 (Moderator)", or "none".
func rankValue(v string, ranks map[int]permissions.Rank) string {
	n, err := strconv.Atoi(v)
	if err != nil {
		return "none"
	}
	return rankLabel(n, ranks)
}

func rankLabel(n int, ranks map[int]permissions.Rank) string {
	if r, ok := ranks[n]; ok {
		return fmt.Sprintf("%d (%s)", n, r.Name)
	}
	return strconv.Itoa(n)
}

func (c *configTool) rankNames(ctx context.Context, guildID discord.GuildID) map[int]permissions.Rank {
	out := map[int]permissions.Rank{}
	ranks, err := c.env.Perms.Ranks(ctx, guildID)
	if err != nil {
		c.env.Log.Warn("config: reading rank names", "guild", guildID, "err", err)
		return out
	}
	for _, r := range ranks {
		out[r.Number] = r
	}
	return out
}

func rankOf(ranks []permissions.Rank, n int) (permissions.Rank, bool) {
	for _, r := range ranks {
		if r.Number == n {
			return r, true
		}
	}
	return permissions.Rank{}, false
}

// The history keys the permissions package records (see permissions.Service.History).
func roleKey(id int64) string       { return "role " + strconv.FormatInt(id, 10) }
func commandKey(name string) string { return "command " + name }

func joinMapped(ids []int64, show func(int64) string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = show(id)
	}
	return strings.Join(out, ", ")
}

// cmdRef is a command as the moderator would type it in the front-end they used.
func cmdRef(call Call, command string) string { return "`" + refText(call, command) + "`" }

func refText(call Call, command string) string {
	if call.Slash || call.Prefix == "" {
		return "/" + command
	}
	return call.Prefix + command
}

func configUsage(call Call) string {
	return "accepted: " + strings.Join([]string{
		refText(call, "config prefix <prefix>"), refText(call, "config channel <modlog|auditlog|jail> <#channel|none>"),
		refText(call, "config jailrole <@role|none>"), refText(call, "config jail <setup|check>"), refText(call, "config mirror <on|off>"),
		refText(call, "config ranks"), refText(call, "config roles"), refText(call, "config commands"),
	}, " · ")
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r, size := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + s[size:]
}
