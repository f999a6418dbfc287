package automod

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gavelbot/gavel/internal/discord"
)

// Hit is a rule a dry run finds triggered.
type Hit struct {
	Rule string
	// Gavel is true for a gavel-enforced rule.
	Gavel bool
	// Keyword or Regex is the entry that matched, as written in the rule.
	Keyword, Regex string
	Matched        string
	// ByteStart and ByteEnd are byte offsets in the message, CharStart and CharEnd character
	// (code point) offsets; both end-exclusive.
	ByteStart, ByteEnd int
	CharStart, CharEnd int
	// Mentions is the number of distinct mentions, for a MENTION_SPAM rule.
	Mentions int
}

func (h Hit) String() string {
	who := "discord"
	if h.Gavel {
		who = "gavel"
	}
	switch {
	case h.Keyword != "":
		return fmt.Sprintf("%s rule %q fires on keyword %q: %q at bytes %d–%d, characters %d–%d", who, h.Rule, h.Keyword, h.Matched, h.ByteStart, h.ByteEnd, h.CharStart, h.CharEnd)
	case h.Regex != "":
		return fmt.Sprintf("%s rule %q fires on regex %q: %q at bytes %d–%d, characters %d–%d", who, h.Rule, h.Regex, h.Matched, h.ByteStart, h.ByteEnd, h.CharStart, h.CharEnd)
	default:
		return fmt.Sprintf("%s rule %q fires: %d distinct mentions", who, h.Rule, h.Mentions)
	}
}

// Report is what a dry run found.
type Report struct {
	Hits []Hit
	// DiscordOnly are the rules, or parts of rules, only Discord evaluates (presets, spam,
	// mention-raid protection), and member-profile rules, which look at profiles.
	DiscordOnly []Unevaluated
}

func (r Report) String() string {
	var b strings.Builder
	if len(r.Hits) == 0 {
		b.WriteString("no rule evaluated by gavel fires on this message\n")
	}
	for _, h := range r.Hits {
		b.WriteString(h.String() + "\n")
	}
	for _, u := range r.DiscordOnly {
		fmt.Fprintf(&b, "rule %q is evaluated by Discord only: %s\n", u.RuleName, u.Reason)
	}
	return b.String()
}

// DryRun evaluates content against Discord's rules and gavel's, as a message by a member
// without exempt roles in a channel no rule exempts; the mentions are read from the text.
// Disabled rules are skipped, as Discord and gavel skip them.
func DryRun(discordRules []Rule, gavelRules []GavelRule, content string) (Report, error) {
	rules := make([]Rule, 0, len(discordRules)+len(gavelRules))
	gavelID := map[int64]bool{}
	for i, r := range discordRules {
		r.ExemptRoles, r.ExemptChannels = nil, nil
		if r.ID == 0 {
			r.ID = int64(i + 1)
		}
		rules = append(rules, r)
	}
	for i, g := range gavelRules {
		r := g.EngineRule(-int64(i + 1)) // negative: no Discord id can collide
		r.ExemptRoles, r.ExemptChannels = nil, nil
		gavelID[r.ID] = true
		rules = append(rules, r)
	}
	e, err := Compile(rules)
	if err != nil {
		return Report{}, err
	}
	users, roles := MentionsIn(content)
	var rep Report
	for _, m := range e.Evaluate(Message{Content: content, MentionedUsers: users, MentionedRoles: roles}) {
		h := Hit{Rule: m.RuleName, Gavel: gavelID[m.RuleID], Keyword: m.Keyword, Regex: m.Regex, Matched: m.MatchedContent,
			ByteStart: m.Start, ByteEnd: m.End, Mentions: m.MentionCount}
		if m.Keyword != "" || m.Regex != "" {
			h.CharStart = utf8.RuneCountInString(content[:m.Start])
			h.CharEnd = h.CharStart + utf8.RuneCountInString(content[m.Start:m.End])
		}
		rep.Hits = append(rep.Hits, h)
	}
	rep.DiscordOnly = e.Unevaluated()
	for _, r := range discordRules {
		if r.Enabled && r.TriggerType == TriggerMemberProfile {
			rep.DiscordOnly = append(rep.DiscordOnly, Unevaluated{RuleID: r.ID, RuleName: r.Name,
				Reason: "a member-profile rule looks at names, not messages"})
		}
	}
	return rep, nil
}

// Test is the dry run of content against the guild's Discord rules and, when the service
// has them (WithGavelRules), its stored gavel-enforced rules.
func (s *Service) Test(ctx context.Context, guildID discord.GuildID, content string) (Report, error) {
	rules, err := s.List(ctx, guildID)
	if err != nil {
		return Report{}, err
	}
	var gavelRules []GavelRule
	if s.gavel != nil {
		if gavelRules, _, err = s.gavel.GavelRules(ctx, guildID); err != nil {
			return Report{}, err
		}
	}
	return DryRun(rules, gavelRules, content)
}
