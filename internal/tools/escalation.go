package tools

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/escalation"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/permissions"
)

// escalationColor is the colour of escalation's embeds.
const escalationColor = 0xE67E22

// Escalation is what the escalation commands need; nil in processes without it.
type Escalation struct {
	Service *escalation.Service
	// Decide approves or denies a pending escalation as the caller (escalation.Runner.Decide
	// with the process's pipeline).
	Decide func(ctx context.Context, call Call, id int64, approve bool) (string, bool, error)
}

func escalationSpec() *commands.Spec {
	policy := commands.Param{Name: "policy", Description: "The policy's name (a-z, 0-9, - and _)", Kind: commands.KindString,
		Required: true, Positional: true, Min: 1, Max: escalation.MaxNameLength}
	id := commands.Param{Name: "id", Description: "The escalation's number (in the mod log's request)", Kind: commands.KindInt,
		Required: true, Positional: true, Min: 1, Max: 1<<53 - 1}
	actions := make([]string, 0, 5)
	for _, a := range escalation.Actions() {
		actions = append(actions, string(a))
	}
	return &commands.Spec{
		Name: "escalation", Native: permissions.ManageGuild, Rank: 4,
		Aliases:     []string{"esc"},
		Description: "Points thresholds that act on their own: show, set, remove, enable, disable, preset",
		Default:     "show",
		Subs: []*commands.Spec{
			{Name: "show", Aliases: []string{"list", "ls"}, Rank: 2, Description: "Show the point weights and the policies"},
			{Name: "set", Aliases: []string{"add"}, Description: "Set a policy's action at a number of points",
				Params: []commands.Param{policy,
					{Name: "points", Description: "The points that fire it (1 to 100)", Kind: commands.KindInt, Required: true, Positional: true},
					{Name: "action", Description: "timeout, tempban, kick, ban or jail", Kind: commands.KindString, Required: true, Positional: true, Choices: actions},
					{Name: "duration", Description: "How long a timeout, tempban or jail lasts (e.g. 1h, 7d)", Kind: commands.KindString, Positional: true, Max: 40},
					{Name: "reset", Description: "Re-arm once the points fall below this (default: the threshold)", Kind: commands.KindInt, Aliases: []string{"r"}},
					{Name: "approval", Description: "A moderator must approve it (default: yes for kick and ban)", Kind: commands.KindBool, Aliases: []string{"a"}},
				}},
			{Name: "remove", Aliases: []string{"rm", "delete"}, Description: "Remove a policy's threshold, or the whole policy",
				Params: []commands.Param{policy,
					{Name: "points", Description: "The threshold to remove (leave out to remove the policy)", Kind: commands.KindInt, Positional: true},
				}},
			{Name: "enable", Aliases: []string{"on"}, Description: "Turn a policy on", Params: []commands.Param{policy}},
			{Name: "disable", Aliases: []string{"off"}, Description: "Turn a policy off", Params: []commands.Param{policy}},
			{Name: "preset", Description: "Install gavel's preset (warn 1, timeout 2, kick 3; 3, 5, 7 and 10 points), off until enabled"},
			{Name: "weight", Aliases: []string{"points"}, Description: "Set the points a case type carries, and how long they count",
				Params: []commands.Param{
					{Name: "type", Description: "The case type (warn, timeout, kick, …)", Kind: commands.KindString, Required: true, Positional: true, Max: 20},
					{Name: "points", Description: "Its points (0 to 100)", Kind: commands.KindInt, Required: true, Positional: true},
					{Name: "for", Description: "How long they count (default 30 days)", Kind: commands.KindString, Max: 40, Aliases: []string{"f"}},
				}},
			{Name: "approve", Rank: 2, Description: "Approve a pending escalation (needs the action's own rank too)", Params: []commands.Param{id}},
			{Name: "deny", Rank: 2, Description: "Deny a pending escalation; the cases that led to it stand", Params: []commands.Param{id}},
		},
	}
}

func pointsSpec() *commands.Spec {
	return &commands.Spec{
		Name: "points", Native: permissions.ModerateMembers, Rank: 2,
		Aliases:     []string{"pts"},
		Description: "Show a member's escalation points, the cases that make them and when each stops counting",
		Params: []commands.Param{
			{Name: "user", Description: "The member", Kind: commands.KindUser, Required: true, Positional: true, Aliases: []string{"u"}},
		},
	}
}

type escalationTool struct {
	env *Env
}

func newEscalation(env *Env) *Tool {
	t := &escalationTool{env: env}
	// A click needs the right to see points; deciding then needs the action's own right
	// (decide), as the approve and deny commands do.
	return &Tool{Spec: escalationSpec(), Run: t.run, ComponentPrefix: escalation.ComponentPrefix, ClickCommand: "points", Click: t.click,
		ClickDefers: true}
}

func newPoints(env *Env) *Tool {
	t := &escalationTool{env: env}
	return &Tool{Spec: pointsSpec(), Run: t.points}
}

func (t *escalationTool) unavailable() (Reply, bool) {
	if t.env.Escalation == nil || t.env.Escalation.Service == nil {
		return Text(Refused, "Escalation is not available in this process."), true
	}
	return Reply{}, false
}

func (t *escalationTool) run(ctx context.Context, call Call, args commands.Args) Reply {
	if r, no := t.unavailable(); no {
		return r
	}
	switch args.Spec.Name {
	case "show":
		return t.show(ctx, call)
	case "approve", "deny":
		return t.decide(ctx, call, args.Int("id"), args.Spec.Name == "approve")
	}
	return t.change(ctx, call, args)
}

// change runs the subcommands that change the settings: each builds its change, the
// service validates the whole result, and the change is posted to the audit-log channel.
func (t *escalationTool) change(ctx context.Context, call Call, args commands.Args) Reply {
	name := strings.ToLower(args.String("policy"))
	var change func(c *escalation.Config) error
	var done string
	var needs []escalation.Threshold
	switch args.Spec.Name {
	case "set":
		if err := escalation.CheckName(name); err != nil {
			return refusal(err)
		}
		th := escalation.Threshold{At: int(args.Int("points"))}
		a, err := escalation.ParseAction(args.String("action"))
		if err != nil {
			return refusal(err)
		}
		th.Action = a
		if args.Has("duration") {
			d, err := duration.Parse(args.String("duration"))
			if err != nil {
				return Text(Refused, "Nothing was changed: the duration %q is not one: write %s.", args.String("duration"), duration.Accepted)
			}
			th.Duration = d
		}
		if args.Has("reset") {
			th.ResetBelow = int(args.Int("reset"))
		}
		if args.Has("approval") {
			v := args.Bool("approval")
			th.Approval = &v
		}
		if err := th.Check(); err != nil {
			return refusal(err)
		}
		needs = []escalation.Threshold{th}
		change = func(c *escalation.Config) error {
			p, ok := c.Policy(name)
			if !ok {
				c.Policies = append(c.Policies, escalation.Policy{Name: name})
				p = &c.Policies[len(c.Policies)-1]
			}
			p.Thresholds = slices.DeleteFunc(p.Thresholds, func(x escalation.Threshold) bool { return x.At == th.At })
			p.Thresholds = append(p.Thresholds, th)
			if !p.Enabled {
				done = fmt.Sprintf("Policy %s: at %d points, %s%s. The policy is off: turn it on with `escalation enable %s`.", name, th.At, th.Describe(), approvalText(th), name)
			} else {
				done = fmt.Sprintf("Policy %s: at %d points, %s%s.", name, th.At, th.Describe(), approvalText(th))
			}
			return nil
		}
	case "remove":
		change = func(c *escalation.Config) error {
			p, ok := c.Policy(name)
			if !ok {
				return input.Invalid("policy", fmt.Sprintf("there is no policy %q; the policies are: %s", name, policyNames(*c)))
			}
			if !args.Has("points") {
				c.Policies = slices.DeleteFunc(c.Policies, func(x escalation.Policy) bool { return strings.EqualFold(x.Name, name) })
				done = fmt.Sprintf("Policy %s removed.", name)
				return nil
			}
			at := int(args.Int("points"))
			n := len(p.Thresholds)
			p.Thresholds = slices.DeleteFunc(p.Thresholds, func(x escalation.Threshold) bool { return x.At == at })
			if len(p.Thresholds) == n {
				return input.Invalid("points", fmt.Sprintf("policy %s has no threshold at %d points; its thresholds are at %s", name, at, thresholdList(*p)))
			}
			if len(p.Thresholds) == 0 {
				c.Policies = slices.DeleteFunc(c.Policies, func(x escalation.Policy) bool { return strings.EqualFold(x.Name, name) })
				done = fmt.Sprintf("Policy %s's last threshold removed, and the policy with it.", name)
				return nil
			}
			done = fmt.Sprintf("Policy %s: the threshold at %d points removed.", name, at)
			return nil
		}
	case "enable", "disable":
		on := args.Spec.Name == "enable"
		change = func(c *escalation.Config) error {
			p, ok := c.Policy(name)
			if !ok {
				return input.Invalid("policy", fmt.Sprintf("there is no policy %q; the policies are: %s", name, policyNames(*c)))
			}
			if p.Enabled == on {
				return fmt.Errorf("policy %s is already %s: %w", name, args.Spec.Name+"d", input.ErrUnchanged)
			}
			p.Enabled = on
			if on {
				needs = p.Thresholds
				done = fmt.Sprintf("Policy %s is on: its thresholds fire on the next case that crosses them.", name)
			} else {
				done = fmt.Sprintf("Policy %s is off: it fires no more (open firings stay recorded).", name)
			}
			return nil
		}
	case "preset":
		change = func(c *escalation.Config) error {
			if _, ok := c.Policy(escalation.PresetName); ok {
				return fmt.Errorf("the preset policy is installed already: %w", input.ErrUnchanged)
			}
			pre := escalation.Preset()
			for _, w := range pre.Weights {
				if !slices.ContainsFunc(c.Weights, func(x escalation.Weight) bool { return x.Type == w.Type }) {
					c.Weights = append(c.Weights, w)
				}
			}
			c.Policies = append(c.Policies, pre.Policies...)
			done = "Preset installed: warn 1 point, timeout 2, kick 3 (points count 30 days); at 3 points a 1-hour timeout, at 5 a 24-hour timeout, at 7 a 7-day tempban and at 10 a ban, both after approval. It is off: turn it on with `escalation enable preset`."
			return nil
		}
	case "weight":
		typ, err := cases.ParseType(args.String("type"))
		if err != nil {
			return refusal(err)
		}
		w := escalation.Weight{Type: typ, Points: int(args.Int("points"))}
		if args.Has("for") {
			d, err := duration.Parse(args.String("for"))
			if err != nil {
				return Text(Refused, "Nothing was changed: %q is not a duration: write %s.", args.String("for"), duration.Accepted)
			}
			w.CountsFor = d
		}
		change = func(c *escalation.Config) error {
			c.Weights = slices.DeleteFunc(c.Weights, func(x escalation.Weight) bool { return x.Type == typ })
			c.Weights = append(c.Weights, w)
			countsFor := w.CountsFor
			if countsFor == 0 {
				countsFor = c.CountsFor
			}
			if countsFor == 0 {
				countsFor = escalation.DefaultCountsFor
			}
			done = fmt.Sprintf("Every new %s case now carries %d points, counting for %s. Cases already made keep theirs (change one with `cases modify N -points P`).",
				strings.ToLower(string(typ)), w.Points, duration.Format(countsFor))
			return nil
		}
	default:
		return Text(Refused, "%s is not an escalation subcommand; use show, set, remove, enable, disable, preset, weight, approve or deny.", args.Command())
	}
	if len(needs) > 0 {
		if problem := t.botCannot(ctx, call.GuildID, needs); problem != "" {
			return Text(Refused, "Nothing was changed: %s", problem)
		}
	}
	_, _, _, err := t.env.Escalation.Service.Update(ctx, call.GuildID, call.User.ID, -1, change)
	switch {
	case errors.Is(err, input.ErrUnchanged):
		return Text(Refused, "Nothing changed: %s.", strings.TrimSuffix(err.Error(), ": "+input.ErrUnchanged.Error()))
	case err != nil:
		var inv *input.InvalidError
		if errors.As(err, &inv) {
			return Text(Refused, "Nothing was changed: %s.", inv.Problem)
		}
		return Reply{Message: textMessage("The escalation settings could not be saved; nothing was changed. Try again shortly."), Outcome: Failed, Err: err}
	}
	text := done
	if note := t.audit(ctx, call, "escalation "+args.Spec.Name, done); note != "" {
		text += "\n" + note
	}
	return Text(OK, "%s", text)
}

func refusal(err error) Reply {
	var inv *input.InvalidError
	if errors.As(err, &inv) {
		return Text(Refused, "Nothing was changed: %s.", inv.Problem)
	}
	return Text(Refused, "Nothing was changed: %s.", err)
}

func approvalText(t escalation.Threshold) string {
	if t.NeedsApproval() {
		return " (needs a moderator's approval)"
	}
	return ""
}

func policyNames(c escalation.Config) string {
	if len(c.Policies) == 0 {
		return "none yet (`escalation set` or `escalation preset` makes one)"
	}
	var names []string
	for _, p := range c.Policies {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

func thresholdList(p escalation.Policy) string {
	var out []string
	for _, t := range p.Thresholds {
		out = append(out, strconv.Itoa(t.At))
	}
	return strings.Join(out, ", ")
}

// botCannot says why gavel could not take one of the thresholds' actions in the guild as it
// is now ("" when it can): the Discord permission each needs, and a jail role for a jail.
func (t *escalationTool) botCannot(ctx context.Context, guildID discord.GuildID, ths []escalation.Threshold) string {
	var g discord.Guild
	var bot discord.Member
	err := t.env.Exec.Do(ctx, executor.OpRead, func(ctx context.Context) (err error) {
		if g, err = t.env.Port.Guild(ctx, guildID); err != nil {
			return err
		}
		bot, err = t.env.Port.Member(ctx, guildID, t.env.BotID)
		return err
	})
	if err != nil {
		return "gavel could not read its own permissions in this server; try again shortly."
	}
	have := permissions.Permission(g.MemberPermissions(t.env.BotID, bot.Roles))
	for _, th := range ths {
		need, name := permissions.Permission(0), ""
		switch th.Action {
		case escalation.Ban, escalation.Tempban:
			need, name = permissions.BanMembers, "Ban Members"
		case escalation.Kick:
			need, name = permissions.KickMembers, "Kick Members"
		case escalation.Timeout:
			need, name = permissions.ModerateMembers, "Timeout Members"
		case escalation.Jail:
			need, name = permissions.ManageRoles, "Manage Roles"
		}
		if !have.Has(need) {
			return fmt.Sprintf("gavel cannot %s here: it lacks the %s permission. Give it to gavel's role in Server Settings → Roles, or choose an action gavel can take (it has: %s).",
				th.Action, name, actionsAllowed(have))
		}
		if th.Action == escalation.Jail {
			s, err := t.env.Settings.Get(ctx, guildID)
			if err != nil {
				return "gavel could not read this server's settings; try again shortly."
			}
			if s.JailRoleID == 0 {
				return "gavel cannot jail here: no jail role is configured. Set one with `config jailrole @role` first."
			}
		}
	}
	return ""
}

func actionsAllowed(have permissions.Permission) string {
	var out []string
	if have.Has(permissions.ModerateMembers) {
		out = append(out, "timeout")
	}
	if have.Has(permissions.KickMembers) {
		out = append(out, "kick")
	}
	if have.Has(permissions.BanMembers) {
		out = append(out, "tempban", "ban")
	}
	if have.Has(permissions.ManageRoles) {
		out = append(out, "jail")
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// audit posts a change to the guild's audit-log channel; it returns a note for the moderator
// when it could not.
func (t *escalationTool) audit(ctx context.Context, call Call, command, text string) string {
	g, err := t.env.Settings.Get(ctx, call.GuildID)
	if err != nil {
		return "The change was not posted to the audit-log channel (settings unreadable)."
	}
	if g.AuditlogChannelID == 0 {
		return ""
	}
	at := call.At
	if at.IsZero() {
		at = t.env.Now()
	}
	msg := discord.Message{Embeds: []discord.Embed{{
		Title:       "Escalation changed",
		Description: clipText(fmt.Sprintf("<@%d> (%s) used `%s`.\n%s", call.User.ID, call.User.Username, command, text), 4096),
		Color:       escalationColor, Timestamp: at,
		Footer: &discord.EmbedFooter{Text: fmt.Sprintf("Moderator id %d", call.User.ID)},
	}}, AllowedMentions: &discord.AllowedMentions{}}
	if err := t.env.Exec.Do(ctx, executor.OpMessages, func(ctx context.Context) error {
		_, err := t.env.Port.SendMessage(ctx, g.AuditlogChannelID, msg)
		return err
	}); err != nil {
		t.env.Log.Warn("escalation: posting to the audit log", "guild", call.GuildID, "err", err)
		return fmt.Sprintf("The change was not posted to the audit-log channel (%s).", discordProblem(err))
	}
	return ""
}

func (t *escalationTool) show(ctx context.Context, call Call) Reply {
	cfg, _, err := t.env.Escalation.Service.Config(ctx, call.GuildID)
	if err != nil {
		return Reply{Message: textMessage("The escalation settings could not be read; try again shortly."), Outcome: Failed, Err: err}
	}
	return Reply{Message: discord.Message{Embeds: []discord.Embed{ConfigEmbed(cfg)}, AllowedMentions: &discord.AllowedMentions{}}, Outcome: OK}
}

// ConfigEmbed shows a guild's escalation settings.
func ConfigEmbed(cfg escalation.Config) discord.Embed {
	e := discord.Embed{Title: "Escalation", Color: escalationColor}
	if cfg.Empty() {
		e.Description = "No case carries points and no policy is set. `escalation preset` installs gavel's preset (off until `escalation enable preset`)."
		return e
	}
	countsFor := cfg.CountsFor
	if countsFor == 0 {
		countsFor = escalation.DefaultCountsFor
	}
	var w []string
	for _, x := range cfg.Weights {
		s := fmt.Sprintf("%s %d", strings.ToLower(string(x.Type)), x.Points)
		if x.CountsFor > 0 {
			s += " for " + duration.Format(x.CountsFor)
		}
		w = append(w, s)
	}
	for _, r := range cfg.Reasons {
		s := fmt.Sprintf("reason containing %q:", r.Match)
		if r.Points != nil {
			s += fmt.Sprintf(" %d", *r.Points)
		}
		if r.CountsFor > 0 {
			s += " for " + duration.Format(r.CountsFor)
		}
		w = append(w, s)
	}
	if len(w) == 0 {
		w = []string{"none"}
	}
	e.Description = fmt.Sprintf("Points: %s. Points count for %s unless said otherwise.", strings.Join(w, ", "), duration.Format(countsFor))
	for _, p := range cfg.Policies {
		state := "off"
		if p.Enabled {
			state = "on"
		}
		var lines []string
		for _, th := range p.Thresholds {
			line := fmt.Sprintf("%d → %s", th.At, th.Describe())
			if th.Reset() != th.At {
				line += fmt.Sprintf(", re-arms below %d", th.Reset())
			}
			if th.NeedsApproval() {
				line += ", needs approval"
			}
			lines = append(lines, line)
		}
		e.Fields = append(e.Fields, discord.EmbedField{Name: fmt.Sprintf("%s (%s)", p.Name, state), Value: strings.Join(lines, "\n")})
	}
	return e
}

func (t *escalationTool) points(ctx context.Context, call Call, args commands.Args) Reply {
	if r, no := t.unavailable(); no {
		return r
	}
	user := discord.UserID(args.ID("user"))
	svc := t.env.Escalation.Service
	cfg, _, err := svc.Config(ctx, call.GuildID)
	if err != nil {
		return Reply{Message: textMessage("The escalation settings could not be read; try again shortly."), Outcome: Failed, Err: err}
	}
	total, cs, err := svc.Points(ctx, call.GuildID, user)
	if err != nil {
		return Reply{Message: textMessage("The points could not be read; try again shortly."), Outcome: Failed, Err: err}
	}
	e := discord.Embed{Title: "Escalation points", Color: escalationColor}
	if m := cfg.MaxAt(); m > 0 {
		e.Description = fmt.Sprintf("<@%d> has **%d/%d** points.", user, total, m)
	} else {
		e.Description = fmt.Sprintf("<@%d> has **%d** points (no policy is on).", user, total)
	}
	var lines []string
	for _, c := range cs {
		lines = append(lines, fmt.Sprintf("#%d %s · %d · counts until %s", c.Number, strings.ToLower(string(c.Type)), c.Points, discordTimestamp(c.CountsUntil)))
	}
	if len(lines) == 0 {
		lines = []string{"No case counts now."}
	}
	if len(lines) > 20 {
		lines = append(lines[:20], fmt.Sprintf("… and %d more", len(cs)-20))
	}
	e.Fields = append(e.Fields, discord.EmbedField{Name: "Cases that count", Value: strings.Join(lines, "\n")})
	if fs, err := svc.FiringsOfMember(ctx, call.GuildID, user, 5); err == nil && len(fs) > 0 {
		var fl []string
		for _, f := range fs {
			s := fmt.Sprintf("%s at %d → %s: %s", f.Policy, f.Threshold.At, f.Threshold.Describe(), strings.ReplaceAll(f.State, "_", " "))
			if f.Open() {
				s += fmt.Sprintf(" (fires again once below %d)", f.Threshold.Reset())
			}
			fl = append(fl, s)
		}
		e.Fields = append(e.Fields, discord.EmbedField{Name: "Latest escalations", Value: strings.Join(fl, "\n")})
	}
	return Reply{Message: discord.Message{Embeds: []discord.Embed{e}, AllowedMentions: &discord.AllowedMentions{}}, Outcome: OK}
}

func discordTimestamp(t interface{ Unix() int64 }) string { return fmt.Sprintf("<t:%d:f>", t.Unix()) }

// decide approves or denies a pending escalation; the caller needs the rank of the action's
// own command as well (approving a ban is banning).
func (t *escalationTool) decide(ctx context.Context, call Call, id int64, approve bool) Reply {
	if t.env.Escalation.Decide == nil {
		return Text(Refused, "This process cannot carry out escalations.")
	}
	f, err := t.env.Escalation.Service.Firing(ctx, id)
	if errors.Is(err, escalation.ErrNoFiring) || (err == nil && f.GuildID != call.GuildID) {
		return Text(Refused, "There is no escalation %d in this server.", id)
	}
	if err != nil {
		return Reply{Message: textMessage("The escalation could not be read; try again shortly."), Outcome: Failed, Err: err}
	}
	owner := call.GuildOwnerID
	if owner == 0 {
		if g, err := t.env.Port.Guild(ctx, call.GuildID); err == nil {
			owner = g.OwnerID
		}
	}
	dec, err := t.env.Perms.Check(ctx, permissions.Subject{GuildID: call.GuildID, GuildOwnerID: owner, UserID: call.User.ID,
		RoleIDs: call.Roles, NativePermissions: call.Permissions, Command: string(f.Threshold.Action)})
	if err != nil {
		return Reply{Message: textMessage("Your permissions could not be checked; try again shortly."), Outcome: Failed, Err: err}
	}
	if !dec.Allowed {
		return Text(Refused, "Deciding this escalation takes the right to %s: %s", f.Threshold.Action, dec.Reason)
	}
	text, ok, err := t.env.Escalation.Decide(ctx, call, id, approve)
	if err != nil && !ok {
		if text == "" {
			text = "The escalation could not be decided; try again shortly."
		}
		return Reply{Message: textMessage(text), Outcome: Refused, Err: err}
	}
	return Text(OK, "%s", text)
}

// click answers the Approve and Deny buttons of a pending escalation.
func (t *escalationTool) click(ctx context.Context, call Call, customID string) Reply {
	if r, no := t.unavailable(); no {
		return r
	}
	approve := strings.HasPrefix(customID, escalation.ApprovePrefix)
	rest := strings.TrimPrefix(strings.TrimPrefix(customID, escalation.ApprovePrefix), escalation.DenyPrefix)
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || id <= 0 {
		return Text(Refused, "This button no longer does anything.")
	}
	r := t.decide(ctx, call, id, approve)
	if r.Outcome != OK {
		return r
	}
	// The clicked message becomes what became of the escalation (no more buttons).
	f, err := t.env.Escalation.Service.Firing(ctx, id)
	if err != nil {
		return r
	}
	msg := escalation.ApprovalMessage(f, t.env.Now())
	msg.Content = r.Message.Content
	return Reply{Message: msg, Outcome: OK}
}
