package automod

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
)

// A gavel-enforced rule is evaluated by gavel's engine on every message and edit instead of
// by Discord. It reads like a Discord rule (keywords, regexes, allow list, mention limit,
// exemptions) but is free of Discord's per-guild limits, and its actions are gavel's:
// delete the message, alert a channel, warn, time out.

// GavelActionType is what a gavel-enforced rule does when it triggers.
type GavelActionType string

// The actions of gavel-enforced rules.
const (
	GavelDelete  GavelActionType = "delete"  // delete the message
	GavelAlert   GavelActionType = "alert"   // post an alert in a channel
	GavelWarn    GavelActionType = "warn"    // a WARN case through the moderation pipeline
	GavelTimeout GavelActionType = "timeout" // a TIMEOUT case through the moderation pipeline
)

// MaxGavelTimeout is the longest timeout a gavel-enforced rule may give: Discord's longest.
const MaxGavelTimeout = 28 * 24 * time.Hour

// GavelAction is one action of a gavel-enforced rule.
type GavelAction struct {
	Type GavelActionType `json:"type"`
	// ChannelID is where an alert is posted (alert only).
	ChannelID discord.ChannelID `json:"channel_id,string,omitempty"`
	// Duration is how long a timeout lasts (timeout only).
	Duration time.Duration `json:"duration,omitempty"`
}

// GavelRule is a rule gavel enforces itself. Only KEYWORD and MENTION_SPAM triggers are
// accepted: they are what the engine evaluates on messages.
type GavelRule struct {
	Name           string        `json:"name"`
	TriggerType    TriggerType   `json:"trigger_type"`
	Keywords       []string      `json:"keywords,omitempty"`
	Regexes        []string      `json:"regexes,omitempty"`
	AllowList      []string      `json:"allow_list,omitempty"`
	MentionLimit   int           `json:"mention_limit,omitempty"`
	Enabled        bool          `json:"enabled"`
	ExemptRoles    []int64       `json:"exempt_roles,omitempty"`
	ExemptChannels []int64       `json:"exempt_channels,omitempty"`
	Actions        []GavelAction `json:"actions"`
	// Points are the escalation points the cases the rule makes carry (0 to 100); nil
	// leaves them to the guild's weights (docs/escalation.md).
	Points *int `json:"points,omitempty"`
}

// EngineRule is the rule as the engine evaluates it, with id as its id (gavel-enforced rules
// have no Discord id: callers number them).
func (g GavelRule) EngineRule(id int64) Rule {
	return Rule{ID: id, Name: g.Name, EventType: EventMessageSend, TriggerType: g.TriggerType, Enabled: g.Enabled,
		TriggerMetadata: TriggerMetadata{KeywordFilter: slices.Clone(g.Keywords), RegexPatterns: slices.Clone(g.Regexes),
			AllowList: slices.Clone(g.AllowList), MentionTotalLimit: g.MentionLimit},
		ExemptRoles: discord.IDs[discord.RoleID](slices.Clone(g.ExemptRoles)), ExemptChannels: discord.IDs[discord.ChannelID](slices.Clone(g.ExemptChannels))}
}

// Has reports whether the rule has an action of type t, and returns the first.
func (g GavelRule) Has(t GavelActionType) (GavelAction, bool) {
	for _, a := range g.Actions {
		if a.Type == t {
			return a, true
		}
	}
	return GavelAction{}, false
}

// ValidateGavel checks a gavel-enforced rule: what the engine needs to evaluate it and what
// its actions need. Discord's per-guild and per-list limits do not apply; the length of each
// keyword and regex still does, so that a rule can move between gavel and Discord. The error
// is a *ValidationError naming the rule and each field.
func ValidateGavel(g GavelRule) error {
	var ps problems
	if g.Points != nil && (*g.Points < 0 || *g.Points > 100) {
		ps.add("points", "%d is out of range; accepted: 0 to 100 escalation points", *g.Points)
	}
	r := g.EngineRule(0)
	switch n := chars(g.Name); {
	case n == 0:
		ps.add("name", "is empty; accepted: 1 to %d characters", MaxNameLength)
	case n > MaxNameLength:
		ps.add("name", "is %d characters long; accepted: 1 to %d characters", n, MaxNameLength)
	}
	switch g.TriggerType {
	case TriggerKeyword:
		if len(g.Keywords)+len(g.Regexes) == 0 {
			ps.add("keywords", "is empty and so is regex; accepted: at least one keyword or regex")
		}
		checkStrings(&ps, "keywords", g.Keywords, int(^uint(0)>>1), MaxKeywordLength, true)
		checkStrings(&ps, "allow", g.AllowList, int(^uint(0)>>1), MaxAllowListLength, true)
		for i, p := range g.Regexes {
			f := fmt.Sprintf("regex[%d]", i)
			if n := chars(p); n == 0 || n > MaxRegexLength {
				ps.add(f, "is %d characters long; accepted: 1 to %d characters", n, MaxRegexLength)
				continue
			}
			if _, err := CompileRegex(p); err != nil {
				ps.add(f, "%v (pattern %s)", err, shown(p))
			}
		}
		if g.MentionLimit != 0 {
			ps.add("mention_limit", "is not used by keyword rules; accepted: leave it out")
		}
	case TriggerMentionSpam:
		if g.MentionLimit < 1 {
			ps.add("mention_limit", "%d is out of range; accepted: 1 or more unique user and role mentions", g.MentionLimit)
		}
		for _, f := range []struct {
			name string
			n    int
		}{{"keywords", len(g.Keywords)}, {"regex", len(g.Regexes)}, {"allow", len(g.AllowList)}} {
			if f.n > 0 {
				ps.add(f.name, "is not used by mention_spam rules; accepted: leave it out")
			}
		}
	default:
		ps.add("trigger", "%s cannot be enforced by gavel; accepted: keyword or mention_spam (other triggers: enforce = \"discord\")", g.TriggerType)
	}
	if len(g.Actions) == 0 {
		ps.add("action", "is empty; accepted: at least one of delete, alert, warn, timeout")
	}
	seen := map[GavelActionType]bool{}
	for i, a := range g.Actions {
		f := fmt.Sprintf("action[%d]", i)
		if seen[a.Type] {
			ps.add(f+".type", "%s is listed twice; accepted: each action once", a.Type)
		}
		seen[a.Type] = true
		switch a.Type {
		case GavelDelete, GavelWarn:
		case GavelAlert:
			if a.ChannelID <= 0 {
				ps.add(f+".channel", "is missing; accepted: the id of the channel the alert is posted in")
			}
		case GavelTimeout:
			if a.Duration < time.Minute || a.Duration > MaxGavelTimeout {
				ps.add(f+".duration", "%s is out of range; accepted: 1m to 28d (the moderation pipeline's timeout bounds)", a.Duration)
			}
		default:
			ps.add(f+".type", "%q is not a gavel action; accepted: delete, alert, warn, timeout", a.Type)
			continue
		}
		if a.ChannelID != 0 && a.Type != GavelAlert {
			ps.add(f+".channel", "is not used by %s actions; accepted: leave it out", a.Type)
		}
		if a.Duration != 0 && a.Type != GavelTimeout {
			ps.add(f+".duration", "is not used by %s actions; accepted: leave it out", a.Type)
		}
	}
	checkIDList(&ps, "exempt_roles", "role", g.ExemptRoles, int(^uint(0)>>1))
	checkIDList(&ps, "exempt_channels", "channel", g.ExemptChannels, int(^uint(0)>>1))
	return ps.err(r)
}

// EncodeGavel and DecodeGavel are the stored form of a gavel-enforced rule.
func EncodeGavel(g GavelRule) ([]byte, error) {
	b, err := json.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("encode gavel rule %q: %w", g.Name, err)
	}
	return b, nil
}

// DecodeGavel reads a gavel-enforced rule stored by EncodeGavel.
func DecodeGavel(b []byte) (GavelRule, error) {
	var g GavelRule
	if err := json.Unmarshal(b, &g); err != nil {
		return GavelRule{}, fmt.Errorf("decode gavel rule: %w", err)
	}
	return g, nil
}
