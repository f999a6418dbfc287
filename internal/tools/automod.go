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

	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/store"
)

// maxReply is how much text a reply holds before lists are cut (Discord takes 2000).
const maxReply = 1900

// suggestTimeout keeps an autocomplete answer inside Discord's 3 seconds.
const suggestTimeout = 2500 * time.Millisecond

// The lists' wording, for usage lines and refusals.
const (
	entriesAccepted = "Separate entries with commas (cat, dog*, free nitro) or put each in quotes (\"free nitro\" \"steam gift\"); without either, each word is an entry."
	regexAccepted   = "Give one regex as it is, or several each in quotes (\"b[a@]d\" \"sc(a|4)m\")."
)

func newAutoMod(env *Env) *Tool {
	return &Tool{
		Spec: autoModSpec(),
		Run: func(ctx context.Context, call Call, args commands.Args) Reply {
			if env.AutoMod == nil {
				return Text(Failed, "Managing AutoMod rules is not available in this gavel process; nothing was changed.")
			}
			return runAutoMod(ctx, env, call, args)
		},
		Suggest: func(ctx context.Context, call Call, leaf *commands.Spec, focused, typed string) []discord.Choice {
			if env.AutoMod == nil || focused != "rule" {
				return nil
			}
			return suggestRules(ctx, env, call.GuildID, typed)
		},
	}
}

// ruleParam is a rule named by its name or id, with the rule names suggested as one types.
func ruleParam(desc string) commands.Param {
	return commands.Param{Name: "rule", Description: desc, Kind: commands.KindString, Required: true,
		Positional: true, Max: automod.MaxNameLength, Autocomplete: true}
}

// ruleOptions are create's and edit's options for a rule's contents.
func ruleOptions() []commands.Param {
	return []commands.Param{
		{Name: "keywords", Description: "Keywords, comma-separated (cat, cat*, *cat*); none empties the list", Kind: commands.KindString, Quoted: true, Aliases: []string{"k"}},
		{Name: "regex", Description: "Regex patterns: one as it is, or several each in quotes; none empties the list", Kind: commands.KindString, Quoted: true},
		{Name: "allow", Description: "Allow list, comma-separated: what never triggers the rule; none empties it", Kind: commands.KindString, Quoted: true},
		{Name: "presets", Description: "keyword_preset rules: profanity, sexual_content, slurs (comma-separated)", Kind: commands.KindString},
		{Name: "mention-limit", Description: "mention_spam rules: distinct mentions allowed in a message", Kind: commands.KindInt, Min: 1, Max: automod.MaxMentionTotalLimit},
		{Name: "raid-protection", Description: "mention_spam rules: also catch mention raids", Kind: commands.KindBool},
		{Name: "block", Description: "Block the message (the default for a new message rule)", Kind: commands.KindBool},
		{Name: "message", Description: "The message the member sees when blocked (up to 150 characters); none for Discord's", Kind: commands.KindString, Max: 200},
		{Name: "alert", Description: "Post an alert in this channel", Kind: commands.KindChannel, Clear: true},
		{Name: "timeout", Description: "Time the member out for this long (up to 4 weeks); off for no timeout", Kind: commands.KindString},
		{Name: "block-interaction", Description: "member_profile rules: block the member from interacting", Kind: commands.KindBool},
		{Name: "exempt-roles", Description: "Roles the rule ignores: @role mentions or ids; none for no role", Kind: commands.KindString},
		{Name: "exempt-channels", Description: "Channels the rule ignores: #channel mentions or ids; none for no channel", Kind: commands.KindString},
		{Name: "enabled", Description: "Whether the rule is on (a new rule is)", Kind: commands.KindBool},
	}
}

func autoModSpec() *commands.Spec {
	triggers := make([]string, 0, 5)
	for _, t := range automod.TriggerTypes() {
		triggers = append(triggers, automod.TriggerName(t))
	}
	lists := []string{string(automod.ListKeywords), string(automod.ListAllow), string(automod.ListRegex)}
	keywordParams := func(verb string) []commands.Param {
		return []commands.Param{
			ruleParam("The rule (name or id)"),
			{Name: "list", Description: "Which list: keywords, allow or regex", Kind: commands.KindString, Required: true,
				Positional: true, Choices: lists},
			{Name: "entries", Description: "The entries to " + verb + ": comma-separated, or each in quotes", Kind: commands.KindString,
				Required: true, Positional: true, Rest: true, Quoted: true},
		}
	}
	create := append([]commands.Param{
		{Name: "name", Description: "The rule's name (up to 100 characters)", Kind: commands.KindString, Required: true,
			Positional: true, Max: automod.MaxNameLength},
		{Name: "trigger", Description: "What the rule looks for (default: keyword)", Kind: commands.KindString, Choices: triggers, Aliases: []string{"t"}},
	}, ruleOptions()...)
	edit := append([]commands.Param{
		ruleParam("The rule to change (name or id)"),
		{Name: "name", Description: "A new name (up to 100 characters)", Kind: commands.KindString, Max: automod.MaxNameLength},
	}, ruleOptions()...)
	return &commands.Spec{
		Name: "automod", Native: permissions.ManageGuild, Rank: 5,
		Aliases:     []string{"am"},
		Description: "Manage the server's Discord AutoMod rules: list, show, create, edit, delete, test.",
		Default:     "list",
		Subs: []*commands.Spec{
			{Name: "list", Description: "List the server's AutoMod rules"},
			{Name: "show", Description: "Show an AutoMod rule in full", Params: []commands.Param{ruleParam("The rule (name or id)")}},
			{Name: "create", Description: "Create an AutoMod rule", Params: create},
			{Name: "edit", Description: "Change an AutoMod rule (lists given replace the rule's)", Params: edit},
			{Name: "delete", Description: "Delete an AutoMod rule", Params: []commands.Param{ruleParam("The rule to delete (name or id)")}},
			{Name: "enable", Description: "Turn an AutoMod rule on", Params: []commands.Param{ruleParam("The rule to turn on (name or id)")}},
			{Name: "disable", Description: "Turn an AutoMod rule off", Params: []commands.Param{ruleParam("The rule to turn off (name or id)")}},
			{Name: "test", Description: "Which rules a message would trigger, on what and where", Params: []commands.Param{
				// Quoted: the quotes in the message are part of what is tested.
				{Name: "message", Description: "The message to try", Kind: commands.KindString, Required: true, Positional: true, Rest: true, Quoted: true, Verbatim: true, Max: 4000},
			}},
			{Name: "keywords", Description: "Add or remove keywords, allowed words or regexes", Subs: []*commands.Spec{
				{Name: "add", Description: "Add entries to a rule's keywords, allow list or regexes", Params: keywordParams("add")},
				{Name: "remove", Description: "Remove entries from a rule's keywords, allow list or regexes", Params: keywordParams("remove")},
			}},
		},
	}
}

func runAutoMod(ctx context.Context, env *Env, call Call, args commands.Args) Reply {
	svc := env.AutoMod
	actor := automod.Actor{ID: int64(call.User.ID), Name: call.User.DisplayName()}
	rule := args.String("rule")
	switch args.Command() {
	case "automod list":
		rules, err := svc.List(ctx, call.GuildID)
		if err != nil {
			return autoModError(err, "list the rules")
		}
		return Text(OK, "%s", listRules(rules, call))
	case "automod show":
		r, err := svc.Show(ctx, call.GuildID, rule)
		if err != nil {
			return autoModError(err, "show the rule")
		}
		return Text(OK, "%s", showRule(r))
	case "automod create":
		r, err := ruleFromArgs(args)
		if err != nil {
			return Text(Refused, "%s Nothing was created.", err)
		}
		out, err := svc.Create(ctx, call.GuildID, actor, r)
		if err != nil {
			return autoModError(err, "create the rule")
		}
		return Text(OK, "Created AutoMod rule %q (id %d): %s.", out.Rule.Name, out.Rule.ID, automod.DescribeRule(out.Rule))
	case "automod edit":
		cur, err := svc.Show(ctx, call.GuildID, rule)
		if err != nil {
			return autoModError(err, "change the rule")
		}
		edit, err := editFromArgs(args, cur)
		if err != nil {
			return Text(Refused, "%s Nothing was changed.", err)
		}
		// The id, read just now: a name typed in another letter case stays unambiguous.
		return changed(svc.Edit(ctx, call.GuildID, actor, strconv.FormatInt(cur.ID, 10), edit))
	case "automod enable":
		return changed(svc.Enable(ctx, call.GuildID, actor, rule))
	case "automod disable":
		return changed(svc.Disable(ctx, call.GuildID, actor, rule))
	case "automod delete":
		out, err := svc.Delete(ctx, call.GuildID, actor, rule)
		if err != nil {
			return autoModError(err, "delete the rule")
		}
		return Text(OK, "Deleted AutoMod rule %q (id %d), which was: %s.", out.Rule.Name, out.Rule.ID, automod.DescribeRule(out.Rule))
	case "automod test":
		rep, err := svc.Test(ctx, call.GuildID, args.String("message"))
		if err != nil {
			return autoModError(err, "test the message")
		}
		return Text(OK, "%s", fitReply(testReport(rep)))
	case "automod keywords add", "automod keywords remove":
		list := automod.KeywordList(args.String("list"))
		entries, err := parseList(list == automod.ListRegex, args.String("entries"))
		if err != nil {
			return Text(Refused, "%s Nothing was changed.", err)
		}
		if len(entries) == 0 {
			return Text(Refused, "Give at least one entry. %s Nothing was changed.", entriesAccepted)
		}
		if args.Spec.Name == "add" {
			return changed(svc.AddKeywords(ctx, call.GuildID, actor, rule, list, entries))
		}
		return changed(svc.RemoveKeywords(ctx, call.GuildID, actor, rule, list, entries))
	}
	return Text(Refused, "%s is not an automod command; try %sautomod list.", args.Command(), call.Prefix)
}

// changed answers a change to a rule.
func changed(out automod.Outcome, err error) Reply {
	if err != nil {
		return autoModError(err, "change the rule")
	}
	parts := make([]string, len(out.Changes))
	for i, c := range out.Changes {
		parts[i] = c.String()
	}
	return Text(OK, "%s", fitReply(fmt.Sprintf("Changed AutoMod rule %q (id %d): %s.", out.Rule.Name, out.Rule.ID, strings.Join(parts, "; "))))
}

// autoModError words a failure: the service's refusals (a rule not found, a rule Discord
// would refuse, nothing to change) are the moderator's to fix; Discord's errors and gavel's
// own are failures. Either way nothing was changed: the service validates before it calls.
func autoModError(err error, what string) Reply {
	if de := discord.AsError(err); de != nil {
		var r Reply
		switch {
		// Never Discord's or the HTTP library's own text: the log has it (r.Err).
		case de.Outage():
			r = Text(Failed, "gavel could not %s: %s. Nothing was changed; try again in a moment.", what, moderation.FailureText(err))
		case de.Code == discord.CodeMissingPermissions || de.Status == 403:
			r = Text(Failed, "Discord did not let gavel %s. Nothing was changed; gavel needs the Manage Server permission to manage AutoMod rules.", what)
		default:
			code := fmt.Sprintf("HTTP %d", de.Status)
			if de.Code != 0 {
				code += fmt.Sprintf(", error %d", de.Code)
			}
			r = Text(Failed, "Discord refused to %s (%s). Nothing was changed.", what, code)
		}
		r.Err = err
		return r
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, automod.ErrDecode) ||
		errors.Is(err, executor.ErrOpen) {
		r := Text(Failed, "gavel could not %s: Discord did not answer in time or answered oddly. Nothing was changed; try again in a moment.", what)
		r.Err = err
		return r
	}
	if r, ok := databaseDown(err); ok {
		return r
	}
	r := Text(Refused, "%s", fitReply(upperFirst(strings.TrimSuffix(err.Error(), "."))+"."))
	if !strings.Contains(err.Error(), "nothing changed") {
		r.Message.Content = fitReply(upperFirst(strings.TrimSuffix(err.Error(), ".")) + ". Nothing was changed.")
	}
	return r
}

func listRules(rules []automod.Rule, call Call) string {
	slash := "/"
	if !call.Slash {
		slash = call.Prefix
	}
	if len(rules) == 0 {
		return fmt.Sprintf("This server has no AutoMod rules. Create one with %sautomod create.", slash)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "AutoMod rules (%d):", len(rules))
	for _, r := range rules {
		fmt.Fprintf(&b, "\n• %q (id %d): %s", r.Name, r.ID, automod.DescribeRule(r))
	}
	fmt.Fprintf(&b, "\nSee one in full with %sautomod show <rule>.", slash)
	return fitReply(b.String())
}

// showRule is a rule in full; long lists are cut to fit a message, saying how many are left.
func showRule(r automod.Rule) string {
	state := "enabled"
	if !r.Enabled {
		state = "disabled"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "AutoMod rule %q (id %d): %s, %s, checked on %s.\n", r.Name, r.ID,
		automod.TriggerName(r.TriggerType), state, strings.ToLower(r.EventType.String()))
	fmt.Fprintf(&b, "Actions: %s.\n", automod.DescribeActions(r.Actions))
	m := r.TriggerMetadata
	if m.Presets != 0 {
		fmt.Fprintf(&b, "Presets: %s.\n", m.Presets)
	}
	if r.TriggerType == automod.TriggerMentionSpam {
		fmt.Fprintf(&b, "Mention limit: %d; raid protection: %t.\n", m.MentionTotalLimit, m.MentionRaidProtectionEnabled)
	}
	if len(r.ExemptRoles) > 0 {
		fmt.Fprintf(&b, "Exempt roles: %s.\n", mentions("<@&", discord.Int64s(r.ExemptRoles)))
	}
	if len(r.ExemptChannels) > 0 {
		fmt.Fprintf(&b, "Exempt channels: %s.\n", mentions("<#", discord.Int64s(r.ExemptChannels)))
	}
	// The lists last: what does not fit is counted.
	for _, l := range []struct {
		name  string
		items []string
	}{{"Keywords", m.KeywordFilter}, {"Regexes", m.RegexPatterns}, {"Allow list", m.AllowList}} {
		if len(l.items) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s (%d): %s\n", l.name, len(l.items), fitList(l.items, (maxReply-b.Len())/2))
	}
	return fitReply(strings.TrimSuffix(b.String(), "\n"))
}

func mentions(open string, ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%s%d>", open, id)
	}
	return strings.Join(parts, " ")
}

// fitList quotes items until budget characters are used, then counts the rest.
func fitList(items []string, budget int) string {
	var parts []string
	used := 0
	for i, it := range items {
		q := strconv.Quote(it)
		if used+len(q)+2 > budget && i > 0 {
			parts = append(parts, fmt.Sprintf("… and %d more", len(items)-i))
			break
		}
		parts = append(parts, q)
		used += len(q) + 2
	}
	return strings.Join(parts, ", ")
}

func fitReply(s string) string {
	if len(s) <= maxReply {
		return s
	}
	cut := maxReply
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "… (cut)"
}

// testReport says which rules would fire on the message, on what and where.
func testReport(rep automod.Report) string {
	var b strings.Builder
	if len(rep.Hits) == 0 {
		b.WriteString("No rule gavel can evaluate fires on this message.")
	} else {
		fmt.Fprintf(&b, "%s:", count(len(rep.Hits), "rule match", "rule matches"))
	}
	for _, h := range rep.Hits {
		b.WriteString("\n• " + h.String())
	}
	for _, u := range rep.DiscordOnly {
		fmt.Fprintf(&b, "\n• rule %q is evaluated by Discord only: %s", u.RuleName, u.Reason)
	}
	return b.String()
}

// suggestRules are the guild's rules whose name holds what was typed, those starting with
// it first, as autocomplete choices.
func suggestRules(ctx context.Context, env *Env, guildID discord.GuildID, typed string) []discord.Choice {
	ctx, cancel := context.WithTimeout(ctx, suggestTimeout)
	defer cancel()
	rules, err := env.AutoMod.List(ctx, guildID)
	if err != nil {
		env.Log.Warn("listing automod rules for autocomplete", "guild", guildID, "err", err)
		return nil
	}
	typed = strings.ToLower(strings.TrimSpace(typed))
	names := map[string]int{}
	for _, r := range rules {
		names[strings.ToLower(r.Name)]++
	}
	var first, rest []discord.Choice
	for _, r := range rules {
		lower := strings.ToLower(r.Name)
		id := strconv.FormatInt(r.ID, 10)
		if typed != "" && !strings.Contains(lower, typed) && !strings.HasPrefix(id, typed) {
			continue
		}
		c := discord.Choice{Name: clipText(fmt.Sprintf("%s (%s)", r.Name, automod.TriggerName(r.TriggerType)), 100), Value: r.Name}
		if names[lower] > 1 {
			// A shared name would not say which rule: the id does.
			c = discord.Choice{Name: clipText(fmt.Sprintf("%s (id %s)", r.Name, id), 100), Value: id}
		}
		if strings.HasPrefix(lower, typed) {
			first = append(first, c)
		} else {
			rest = append(rest, c)
		}
	}
	out := append(first, rest...)
	if len(out) > discord.MaxChoices {
		out = out[:discord.MaxChoices]
	}
	return out
}

// parseList reads a list of entries. Quoted text is one entry; outside quotes, commas
// separate entries, and without any comma each word is one. Regexes hold commas and
// spaces of their own: unquoted text is one regex.
func parseList(regex bool, text string) ([]string, error) {
	text = strings.TrimSpace(text)
	if strings.EqualFold(text, "none") {
		return []string{}, nil
	}
	var quoted []string
	var bare strings.Builder
	for i := 0; i < len(text); {
		if text[i] == '"' {
			end := strings.IndexByte(text[i+1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("A quote is not closed in %q. %s", clipText(text, 60), accepted(regex))
			}
			quoted = append(quoted, text[i+1:i+1+end])
			bare.WriteString(",") // a quoted entry ends the bare one before it
			i += end + 2
			continue
		}
		bare.WriteByte(text[i])
		i++
	}
	rest := bare.String()
	var out []string
	if regex {
		if r := strings.Trim(strings.TrimSpace(rest), ","); r != "" && len(quoted) == 0 {
			out = append(out, strings.TrimSpace(text))
		} else if strings.TrimSpace(strings.ReplaceAll(rest, ",", "")) != "" {
			return nil, fmt.Errorf("Put every regex in quotes when you give several (%q is outside them). %s", clipText(strings.Trim(strings.TrimSpace(rest), ","), 60), regexAccepted)
		}
	} else {
		sep := func(r rune) bool { return r == ',' }
		if !strings.Contains(text, ",") && len(quoted) == 0 {
			sep = func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }
		}
		for _, e := range strings.FieldsFunc(rest, sep) {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	for _, q := range quoted {
		if q = strings.TrimSpace(q); q != "" {
			out = append(out, q)
		}
	}
	// The order as written: quoted and bare entries are gathered apart above.
	return orderAsWritten(text, out), nil
}

// orderAsWritten sorts entries by where they first appear in text.
func orderAsWritten(text string, entries []string) []string {
	slices.SortStableFunc(entries, func(a, b string) int { return strings.Index(text, a) - strings.Index(text, b) })
	return slices.Compact(entries)
}

func accepted(regex bool) string {
	if regex {
		return regexAccepted
	}
	return entriesAccepted
}

// parseIDs reads role or channel mentions or ids; none is the empty list.
func parseIDs(field, open, text string) ([]int64, error) {
	text = strings.TrimSpace(text)
	if strings.EqualFold(text, "none") {
		return []int64{}, nil
	}
	var out []int64
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' }) {
		s := strings.TrimSuffix(strings.TrimPrefix(w, open), ">")
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 || len(s) < 15 || len(s) > 20 {
			return nil, fmt.Errorf("%s takes mentions (%s…>) or ids, or none; %q is neither.", field, open, clipText(w, 40))
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

func parsePresets(text string) (automod.Presets, error) {
	var ps []automod.PresetType
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return r == ',' || r == ' ' }) {
		switch strings.ReplaceAll(w, "-", "_") {
		case "profanity":
			ps = append(ps, automod.PresetProfanity)
		case "sexual_content", "sexual":
			ps = append(ps, automod.PresetSexualContent)
		case "slurs":
			ps = append(ps, automod.PresetSlurs)
		default:
			return 0, fmt.Errorf("presets are profanity, sexual_content and slurs; %q is none of them.", clipText(w, 40))
		}
	}
	return automod.NewPresets(ps...), nil
}

// parseTimeout reads a timeout's length; off (or none, 0) is no timeout.
func parseTimeout(text string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(text))
	if t == "off" || t == "none" || t == "0" {
		return 0, nil
	}
	d, err := duration.Parse(t)
	if err != nil {
		return 0, fmt.Errorf("timeout: %v. Write a duration up to 4 weeks (10m, 1h, 2d) or off.", err)
	}
	if d < time.Second || d > automod.MaxTimeoutSeconds*time.Second || d%time.Second != 0 {
		return 0, fmt.Errorf("timeout must be whole seconds from 1 second to 4 weeks, not %s.", duration.Format(d))
	}
	return int(d / time.Second), nil
}

// ruleFromArgs builds a new rule from create's options.
func ruleFromArgs(args commands.Args) (automod.Rule, error) {
	r := automod.Rule{Name: args.String("name"), TriggerType: automod.TriggerKeyword, Enabled: true}
	if args.Has("trigger") {
		for _, t := range automod.TriggerTypes() {
			if automod.TriggerName(t) == args.String("trigger") {
				r.TriggerType = t
			}
		}
	}
	if args.Has("enabled") {
		r.Enabled = args.Bool("enabled")
	}
	if err := applyContents(args, &r); err != nil {
		return automod.Rule{}, err
	}
	// With no action asked for, the rule does what Discord's own form does by default.
	var defaults []automod.Action
	if !anyActionArg(args) {
		switch r.TriggerType {
		case automod.TriggerMemberProfile:
			defaults = []automod.Action{{Type: automod.ActionBlockMemberInteraction}}
		default:
			defaults = []automod.Action{{Type: automod.ActionBlockMessage}}
		}
	}
	acts, err := applyActions(args, defaults)
	if err != nil {
		return automod.Rule{}, err
	}
	r.Actions = acts
	return r, nil
}

func anyActionArg(args commands.Args) bool {
	for _, n := range []string{"block", "message", "alert", "timeout", "block-interaction"} {
		if args.Has(n) {
			return true
		}
	}
	return false
}

// applyContents sets the trigger metadata and exemptions the options give.
func applyContents(args commands.Args, r *automod.Rule) error {
	m := &r.TriggerMetadata
	for _, l := range []struct {
		name  string
		regex bool
		dst   *[]string
	}{{"keywords", false, &m.KeywordFilter}, {"regex", true, &m.RegexPatterns}, {"allow", false, &m.AllowList}} {
		if !args.Has(l.name) {
			continue
		}
		v, err := parseList(l.regex, args.String(l.name))
		if err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
		*l.dst = v
	}
	if args.Has("presets") {
		ps, err := parsePresets(args.String("presets"))
		if err != nil {
			return err
		}
		m.Presets = ps
	}
	if args.Has("mention-limit") {
		m.MentionTotalLimit = int(args.Int("mention-limit"))
	}
	if args.Has("raid-protection") {
		m.MentionRaidProtectionEnabled = args.Bool("raid-protection")
	}
	if args.Has("exempt-roles") {
		ids, err := parseIDs("exempt-roles", "<@&", args.String("exempt-roles"))
		if err != nil {
			return err
		}
		r.ExemptRoles = discord.IDs[discord.RoleID](ids)
	}
	if args.Has("exempt-channels") {
		ids, err := parseIDs("exempt-channels", "<#", args.String("exempt-channels"))
		if err != nil {
			return err
		}
		r.ExemptChannels = discord.IDs[discord.ChannelID](ids)
	}
	return nil
}

// applyActions changes the actions the options name, keeping the others.
func applyActions(args commands.Args, cur []automod.Action) ([]automod.Action, error) {
	acts := slices.Clone(cur)
	find := func(t automod.ActionType) int {
		return slices.IndexFunc(acts, func(a automod.Action) bool { return a.Type == t })
	}
	set := func(a automod.Action, on bool) {
		i := find(a.Type)
		switch {
		case on && i >= 0:
			acts[i] = a
		case on:
			acts = append(acts, a)
		case i >= 0:
			acts = slices.Delete(acts, i, i+1)
		}
	}
	block := automod.Action{Type: automod.ActionBlockMessage}
	if i := find(automod.ActionBlockMessage); i >= 0 {
		block = acts[i]
	}
	if args.Has("message") {
		msg := args.String("message")
		if strings.EqualFold(msg, "none") {
			msg = ""
		}
		if args.Has("block") && !args.Bool("block") && msg != "" {
			return nil, errors.New("a custom message is shown when the message is blocked; give it without block:false.")
		}
		block.CustomMessage = msg
		set(block, true)
	}
	if args.Has("block") {
		set(block, args.Bool("block"))
	}
	if args.Has("alert") {
		ch := args.ID("alert")
		set(automod.Action{Type: automod.ActionSendAlertMessage, ChannelID: discord.ChannelID(ch)}, ch != 0)
	}
	if args.Has("timeout") {
		secs, err := parseTimeout(args.String("timeout"))
		if err != nil {
			return nil, err
		}
		set(automod.Action{Type: automod.ActionTimeout, DurationSeconds: secs}, secs != 0)
	}
	if args.Has("block-interaction") {
		set(automod.Action{Type: automod.ActionBlockMemberInteraction}, args.Bool("block-interaction"))
	}
	return acts, nil
}

// editFromArgs is the change edit's options ask of the rule cur.
func editFromArgs(args commands.Args, cur automod.Rule) (automod.RuleEdit, error) {
	var e automod.RuleEdit
	next := cur
	next.TriggerMetadata = automod.TriggerMetadata{}
	if err := applyContents(args, &next); err != nil {
		return e, err
	}
	m := next.TriggerMetadata
	if args.Has("name") {
		n := args.String("name")
		e.Name = &n
	}
	if args.Has("enabled") {
		b := args.Bool("enabled")
		e.Enabled = &b
	}
	if args.Has("keywords") {
		e.Keywords = &m.KeywordFilter
	}
	if args.Has("regex") {
		e.Regexes = &m.RegexPatterns
	}
	if args.Has("allow") {
		e.AllowList = &m.AllowList
	}
	if args.Has("presets") {
		e.Presets = &m.Presets
	}
	if args.Has("mention-limit") {
		e.MentionLimit = &m.MentionTotalLimit
	}
	if args.Has("raid-protection") {
		e.MentionRaid = &m.MentionRaidProtectionEnabled
	}
	if args.Has("exempt-roles") {
		e.ExemptRoles = &next.ExemptRoles
	}
	if args.Has("exempt-channels") {
		e.ExemptChannels = &next.ExemptChannels
	}
	if anyActionArg(args) {
		acts, err := applyActions(args, cur.Actions)
		if err != nil {
			return e, err
		}
		e.Actions = &acts
	}
	if e == (automod.RuleEdit{}) {
		return e, errors.New("Say what to change: give at least one option (name, keywords, regex, allow, presets, mention-limit, raid-protection, block, message, alert, timeout, block-interaction, exempt-roles, exempt-channels, enabled).")
	}
	return e, nil
}

// databaseDown is the reply to a command stopped by gavel's database not answering, in the
// pipeline's words and without the driver's text (which names the database's user and
// host); false when err is something else.
func databaseDown(err error) (Reply, bool) {
	if !store.Unreachable(err) {
		return Reply{}, false
	}
	r := Text(Failed, "gavel's database is unreachable; nothing was changed; try again shortly.")
	r.Err = err
	return r, true
}
