package automod

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
)

// RuleFile is a guild's rules as code: the rules Discord enforces and the rules gavel
// enforces, as a TOML file describes them (docs/automod.md, "Rules as code").
type RuleFile struct {
	// Discord are the rules sent to Discord, in file order. A rule with an id is matched
	// to Discord's rule by id, otherwise by name.
	Discord []Rule
	// Gavel are the rules gavel enforces itself, in file order, matched by name.
	Gavel []GavelRule
}

// ErrFile is matched by every error ParseFile returns.
var ErrFile = errors.New("invalid rules file")

type fileError struct{ msg string }

func (e *fileError) Error() string        { return e.msg }
func (e *fileError) Is(target error) bool { return target == ErrFile }

type fileDoc struct {
	Rule []fileRule `toml:"rule"`
}

type fileRule struct {
	ID                    string       `toml:"id,omitempty"`
	Name                  string       `toml:"name"`
	Enforce               string       `toml:"enforce,omitempty"`
	Trigger               string       `toml:"trigger"`
	Enabled               *bool        `toml:"enabled,omitempty"`
	Keywords              []string     `toml:"keywords,omitempty"`
	Regex                 []string     `toml:"regex,omitempty"`
	Allow                 []string     `toml:"allow,omitempty"`
	Presets               []string     `toml:"presets,omitempty"`
	MentionLimit          *int         `toml:"mention_limit,omitempty"`
	MentionRaidProtection bool         `toml:"mention_raid_protection,omitempty"`
	ExemptRoles           []string     `toml:"exempt_roles,omitempty"`
	ExemptChannels        []string     `toml:"exempt_channels,omitempty"`
	Action                []fileAction `toml:"action"`
	Points                *int         `toml:"points,omitempty"`
}

type fileAction struct {
	Type     string `toml:"type"`
	Message  string `toml:"message,omitempty"`
	Channel  string `toml:"channel,omitempty"`
	Duration string `toml:"duration,omitempty"`
}

var triggerNames = map[string]TriggerType{
	"keyword": TriggerKeyword, "spam": TriggerSpam, "keyword_preset": TriggerKeywordPreset,
	"mention_spam": TriggerMentionSpam, "member_profile": TriggerMemberProfile,
}

var presetNames = map[string]PresetType{"profanity": PresetProfanity, "sexual_content": PresetSexualContent, "slurs": PresetSlurs}

var discordActionNames = map[string]ActionType{
	"block": ActionBlockMessage, "alert": ActionSendAlertMessage, "timeout": ActionTimeout,
	"block_interaction": ActionBlockMemberInteraction,
}

// TriggerName is the rules file's name of a trigger type ("keyword", "mention_spam").
func TriggerName(t TriggerType) string { return strings.ToLower(t.String()) }

func actionName(t ActionType) string {
	for n, v := range discordActionNames {
		if v == t {
			return n
		}
	}
	return strconv.Itoa(int(t))
}

func presetName(p PresetType) string { return strings.ToLower(p.String()) }

// ParseFile reads a rules file. It refuses unknown keys (a misspelt key would otherwise be
// ignored silently), names used twice, and any rule that fails Validate (Discord rules,
// checked on their own: the guild's limits are checked by the plan) or ValidateGavel. Every
// problem is reported, each naming the rule and the field; the error matches ErrFile.
func ParseFile(data []byte) (RuleFile, error) {
	var doc fileDoc
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		// Placed at line:column, so an editor (or the dashboard's textarea) finds it.
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return RuleFile{}, &fileError{msg: fmt.Sprintf("rules file: %s: %s", errorPlace(data, pe.Position), pe.Message)}
		}
		return RuleFile{}, &fileError{msg: fmt.Sprintf("rules file: %v", err)}
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return RuleFile{}, &fileError{msg: fmt.Sprintf("rules file: unknown keys %s; accepted keys of a [[rule]]: id, name, enforce, trigger, enabled, keywords, regex, allow, presets, mention_limit, mention_raid_protection, exempt_roles, exempt_channels, points (gavel-enforced rules), and [[rule.action]] with type, message, channel, duration", strings.Join(keys, ", "))}
	}
	var out RuleFile
	var msgs []string
	names := map[string]int{}
	for i, fr := range doc.Rule {
		where := fmt.Sprintf("rule %d (%q)", i+1, fr.Name)
		if j, dup := names[fr.Name]; dup && fr.Name != "" {
			msgs = append(msgs, fmt.Sprintf("%s: name: %q is also the name of rule %d; accepted: each name once", where, fr.Name, j+1))
			continue
		}
		names[fr.Name] = i
		switch fr.Enforce {
		case "", "discord":
			r, problems := fr.discordRule()
			if len(problems) == 0 {
				if err := Validate(r, nil); err != nil {
					msgs = append(msgs, err.Error())
					continue
				}
				out.Discord = append(out.Discord, r)
			}
			for _, p := range problems {
				msgs = append(msgs, where+": "+p)
			}
		case "gavel":
			g, problems := fr.gavelRule()
			if len(problems) == 0 {
				if err := ValidateGavel(g); err != nil {
					msgs = append(msgs, "gavel-enforced "+err.Error())
					continue
				}
				out.Gavel = append(out.Gavel, g)
			}
			for _, p := range problems {
				msgs = append(msgs, where+": "+p)
			}
		default:
			msgs = append(msgs, fmt.Sprintf("%s: enforce: %q is not accepted; accepted: \"discord\" (the default) or \"gavel\"", where, fr.Enforce))
		}
	}
	if len(msgs) > 0 {
		return RuleFile{}, &fileError{msg: "rules file: " + strings.Join(msgs, "\n")}
	}
	return out, nil
}

// errorPlace says where a TOML error is as "line L, column C" (columns counted in
// characters from 1), or only the line when the offset is not on it.
func errorPlace(data []byte, p toml.Position) string {
	lineStart := 0
	for line := 1; line < p.Line; line++ {
		i := bytes.IndexByte(data[lineStart:], '\n')
		if i < 0 {
			return fmt.Sprintf("line %d", p.Line)
		}
		lineStart += i + 1
	}
	lineEnd := len(data)
	if i := bytes.IndexByte(data[lineStart:], '\n'); i >= 0 {
		lineEnd = lineStart + i
	}
	if p.Start < lineStart || p.Start > lineEnd {
		return fmt.Sprintf("line %d", p.Line)
	}
	return fmt.Sprintf("line %d, column %d", p.Line, utf8.RuneCount(data[lineStart:p.Start])+1)
}

func parseID(field, s string) (int64, string) {
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Sprintf("%s: %q is not a Discord id; accepted: a positive decimal id in quotes, like \"123456789012345678\"", field, s)
	}
	return id, ""
}

func parseIDs(field string, ss []string, problems *[]string) []int64 {
	var out []int64
	for i, s := range ss {
		id, p := parseID(fmt.Sprintf("%s[%d]", field, i), s)
		if p != "" {
			*problems = append(*problems, p)
			continue
		}
		out = append(out, id)
	}
	return out
}

func (fr fileRule) trigger(problems *[]string) TriggerType {
	t, ok := triggerNames[fr.Trigger]
	if !ok {
		*problems = append(*problems, fmt.Sprintf("trigger: %q is not a trigger; accepted: keyword, spam, keyword_preset, mention_spam, member_profile", fr.Trigger))
	}
	return t
}

func (fr fileRule) discordRule() (Rule, []string) {
	var problems []string
	if fr.Points != nil {
		problems = append(problems, "points: only gavel-enforced rules carry points (a Discord execution's AUTOMOD case takes the automod weight); accepted: leave it out, or enforce = \"gavel\"")
	}
	r := Rule{Name: fr.Name, TriggerType: fr.trigger(&problems), Enabled: fr.Enabled == nil || *fr.Enabled}
	r.EventType = EventMessageSend
	if r.TriggerType == TriggerMemberProfile {
		r.EventType = EventMemberUpdate
	}
	if fr.ID != "" {
		r.ID, _ = parseID("id", fr.ID)
		if r.ID == 0 {
			_, p := parseID("id", fr.ID)
			problems = append(problems, p)
		}
	}
	r.TriggerMetadata = TriggerMetadata{KeywordFilter: fr.Keywords, RegexPatterns: fr.Regex, AllowList: fr.Allow,
		MentionRaidProtectionEnabled: fr.MentionRaidProtection}
	if fr.MentionLimit != nil {
		r.TriggerMetadata.MentionTotalLimit = *fr.MentionLimit
	}
	for i, p := range fr.Presets {
		v, ok := presetNames[p]
		if !ok {
			problems = append(problems, fmt.Sprintf("presets[%d]: %q is not a preset; accepted: profanity, sexual_content, slurs", i, p))
			continue
		}
		r.TriggerMetadata.Presets |= NewPresets(v)
	}
	r.ExemptRoles = discord.IDs[discord.RoleID](parseIDs("exempt_roles", fr.ExemptRoles, &problems))
	r.ExemptChannels = discord.IDs[discord.ChannelID](parseIDs("exempt_channels", fr.ExemptChannels, &problems))
	for i, fa := range fr.Action {
		f := fmt.Sprintf("action[%d]", i)
		t, ok := discordActionNames[fa.Type]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s.type: %q is not a Discord action; accepted: block, alert, timeout, block_interaction (delete and warn need enforce = \"gavel\")", f, fa.Type))
			continue
		}
		a := Action{Type: t, CustomMessage: fa.Message}
		if fa.Channel != "" {
			id, p := parseID(f+".channel", fa.Channel)
			if p != "" {
				problems = append(problems, p)
			}
			a.ChannelID = discord.ChannelID(id)
		}
		if fa.Duration != "" {
			d, err := duration.Parse(fa.Duration)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s.duration: %v", f, err))
			}
			a.DurationSeconds = int(d / time.Second)
		}
		r.Actions = append(r.Actions, a)
	}
	return r, problems
}

func (fr fileRule) gavelRule() (GavelRule, []string) {
	var problems []string
	g := GavelRule{Name: fr.Name, TriggerType: fr.trigger(&problems), Enabled: fr.Enabled == nil || *fr.Enabled,
		Keywords: fr.Keywords, Regexes: fr.Regex, AllowList: fr.Allow, Points: fr.Points}
	if fr.ID != "" {
		problems = append(problems, "id: gavel-enforced rules have no Discord id; accepted: leave it out")
	}
	if len(fr.Presets) > 0 {
		problems = append(problems, "presets: Discord's word lists are private, gavel cannot enforce them; accepted: leave it out, or enforce = \"discord\"")
	}
	if fr.MentionRaidProtection {
		problems = append(problems, "mention_raid_protection: only Discord detects mention raids; accepted: leave it out, or enforce = \"discord\"")
	}
	if fr.MentionLimit != nil {
		g.MentionLimit = *fr.MentionLimit
	}
	g.ExemptRoles = parseIDs("exempt_roles", fr.ExemptRoles, &problems)
	g.ExemptChannels = parseIDs("exempt_channels", fr.ExemptChannels, &problems)
	for i, fa := range fr.Action {
		f := fmt.Sprintf("action[%d]", i)
		a := GavelAction{Type: GavelActionType(fa.Type)}
		if fa.Message != "" {
			problems = append(problems, f+".message: gavel's actions show no custom message; accepted: leave it out")
		}
		if fa.Channel != "" {
			id, p := parseID(f+".channel", fa.Channel)
			if p != "" {
				problems = append(problems, p)
			}
			a.ChannelID = discord.ChannelID(id)
		}
		if fa.Duration != "" {
			d, err := duration.Parse(fa.Duration)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s.duration: %v", f, err))
			}
			a.Duration = d
		}
		g.Actions = append(g.Actions, a)
	}
	return g, problems
}

// Encode writes the rules as a rules file that ParseFile reads back to the same rules:
// Discord's rules first (with their ids), then gavel's.
func (f RuleFile) Encode() ([]byte, error) {
	var doc fileDoc
	for _, r := range f.Discord {
		doc.Rule = append(doc.Rule, discordFileRule(r))
	}
	for _, g := range f.Gavel {
		doc.Rule = append(doc.Rule, gavelFileRule(g))
	}
	var b bytes.Buffer
	b.WriteString("# gavel AutoMod rules (docs/automod.md, \"Rules as code\").\n")
	b.WriteString("# gavel automod plan shows what applying this file would change; gavel automod apply does it.\n\n")
	if err := toml.NewEncoder(&b).Encode(doc); err != nil {
		return nil, fmt.Errorf("encode rules file: %w", err)
	}
	return b.Bytes(), nil
}

// Renamed is a Discord rule whose name Export changed, because a rule before it in the file
// (or a gavel-enforced rule) already had it.
type Renamed struct {
	ID       int64
	From, To string
}

// Export writes a guild's rules as a rules file that ParseFile accepts. Discord lets two
// rules share a name (made in Discord's settings, or by another bot), which a rules file
// refuses: every Discord rule whose name an earlier rule or a gavel-enforced rule has is
// renamed "name (2)", "name (3)", …, the file says so in a comment at its top, and applying
// it renames those rules on Discord (they keep their ids). It returns the renames.
func Export(discordRules []Rule, gavelRules []GavelRule) ([]byte, []Renamed, error) {
	taken := map[string]bool{}
	for _, g := range gavelRules {
		taken[g.Name] = true
	}
	f := RuleFile{Gavel: gavelRules, Discord: make([]Rule, len(discordRules))}
	var renamed []Renamed
	for i, r := range discordRules {
		if taken[r.Name] {
			to := uniqueName(r.Name, taken)
			renamed = append(renamed, Renamed{ID: r.ID, From: r.Name, To: to})
			r.Name = to
		}
		taken[r.Name] = true
		f.Discord[i] = r
	}
	b, err := f.Encode()
	if err != nil || len(renamed) == 0 {
		return b, renamed, err
	}
	var note bytes.Buffer
	note.WriteString("# Some of these rules shared a name, which a rules file does not allow, so gavel gave them new\n")
	note.WriteString("# names here; applying this file renames them on Discord too (each keeps its id):\n")
	for _, rn := range renamed {
		fmt.Fprintf(&note, "#   rule %d: %s -> %s\n", rn.ID, strconv.Quote(rn.From), strconv.Quote(rn.To))
	}
	note.WriteString("\n")
	return append(note.Bytes(), b...), renamed, nil
}

// uniqueName is name with the first suffix " (2)", " (3)", … that gives a name not taken,
// the name cut to fit MaxNameLength.
func uniqueName(name string, taken map[string]bool) string {
	for n := 2; ; n++ {
		suffix := fmt.Sprintf(" (%d)", n)
		base := []rune(name)
		if len(base)+len([]rune(suffix)) > MaxNameLength {
			base = base[:MaxNameLength-len([]rune(suffix))]
		}
		if c := string(base) + suffix; !taken[c] {
			return c
		}
	}
}

func idStrings(ids []int64) []string {
	var out []string
	for _, id := range ids {
		out = append(out, strconv.FormatInt(id, 10))
	}
	return out
}

func discordFileRule(r Rule) fileRule {
	enabled := r.Enabled
	fr := fileRule{Name: r.Name, Trigger: TriggerName(r.TriggerType), Enabled: &enabled,
		Keywords: r.TriggerMetadata.KeywordFilter, Regex: r.TriggerMetadata.RegexPatterns, Allow: r.TriggerMetadata.AllowList,
		MentionRaidProtection: r.TriggerMetadata.MentionRaidProtectionEnabled,
		ExemptRoles:           idStrings(discord.Int64s(r.ExemptRoles)), ExemptChannels: idStrings(discord.Int64s(r.ExemptChannels))}
	if r.ID != 0 {
		fr.ID = strconv.FormatInt(r.ID, 10)
	}
	if r.TriggerType == TriggerMentionSpam {
		n := r.TriggerMetadata.MentionTotalLimit
		fr.MentionLimit = &n
	}
	for _, p := range r.TriggerMetadata.Presets.Values() {
		fr.Presets = append(fr.Presets, presetName(p))
	}
	for _, a := range r.Actions {
		fa := fileAction{Type: actionName(a.Type), Message: a.CustomMessage}
		if a.ChannelID != 0 {
			fa.Channel = strconv.FormatInt(int64(a.ChannelID), 10)
		}
		if a.DurationSeconds != 0 {
			fa.Duration = duration.Short(time.Duration(a.DurationSeconds) * time.Second)
		}
		fr.Action = append(fr.Action, fa)
	}
	return fr
}

func gavelFileRule(g GavelRule) fileRule {
	enabled := g.Enabled
	fr := fileRule{Name: g.Name, Enforce: "gavel", Trigger: TriggerName(g.TriggerType), Enabled: &enabled,
		Keywords: g.Keywords, Regex: g.Regexes, Allow: g.AllowList,
		ExemptRoles: idStrings(g.ExemptRoles), ExemptChannels: idStrings(g.ExemptChannels), Points: g.Points}
	if g.MentionLimit != 0 {
		n := g.MentionLimit
		fr.MentionLimit = &n
	}
	for _, a := range g.Actions {
		fa := fileAction{Type: string(a.Type)}
		if a.ChannelID != 0 {
			fa.Channel = strconv.FormatInt(int64(a.ChannelID), 10)
		}
		if a.Duration != 0 {
			fa.Duration = duration.Short(a.Duration)
		}
		fr.Action = append(fr.Action, fa)
	}
	return fr
}
