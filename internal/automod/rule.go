// Package automod holds Discord's AutoMod rules as Discord defines them: the model and its
// JSON form, validation against every documented limit, the translation of Discord's
// Rust-flavoured regexes to Go, and a local engine that evaluates messages the way Discord
// does, for dry runs and for rules gavel enforces itself.
package automod

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/gavelbot/gavel/internal/discord"
)

// EventType says in what event context a rule is checked.
type EventType int

// Event types (auto-moderation.mdx, "Event Types").
const (
	EventMessageSend  EventType = 1 // a member sends or edits a message
	EventMemberUpdate EventType = 2 // a member edits their profile
)

func (e EventType) String() string {
	switch e {
	case EventMessageSend:
		return "MESSAGE_SEND"
	case EventMemberUpdate:
		return "MEMBER_UPDATE"
	}
	return fmt.Sprintf("EventType(%d)", int(e))
}

// TriggerType is the kind of content that triggers a rule.
type TriggerType int

// Trigger types (auto-moderation.mdx, "Trigger Types"). 2 was HARMFUL_LINK and is gone.
const (
	TriggerKeyword       TriggerType = 1
	TriggerSpam          TriggerType = 3
	TriggerKeywordPreset TriggerType = 4
	TriggerMentionSpam   TriggerType = 5
	TriggerMemberProfile TriggerType = 6
)

// TriggerTypes lists every trigger type Discord has, in value order.
func TriggerTypes() []TriggerType {
	return []TriggerType{TriggerKeyword, TriggerSpam, TriggerKeywordPreset, TriggerMentionSpam, TriggerMemberProfile}
}

func (t TriggerType) String() string {
	switch t {
	case TriggerKeyword:
		return "KEYWORD"
	case TriggerSpam:
		return "SPAM"
	case TriggerKeywordPreset:
		return "KEYWORD_PRESET"
	case TriggerMentionSpam:
		return "MENTION_SPAM"
	case TriggerMemberProfile:
		return "MEMBER_PROFILE"
	}
	return fmt.Sprintf("TriggerType(%d)", int(t))
}

// Valid reports whether t is a trigger type Discord has.
func (t TriggerType) Valid() bool {
	_, ok := MaxRulesPerGuild(t)
	return ok
}

// MaxRulesPerGuild is how many rules of trigger type t a guild may have ("Max per Guild" in
// auto-moderation.mdx); ok is false for a trigger type Discord does not have.
func MaxRulesPerGuild(t TriggerType) (n int, ok bool) {
	switch t {
	case TriggerKeyword:
		return 6, true
	case TriggerSpam, TriggerKeywordPreset, TriggerMentionSpam, TriggerMemberProfile:
		return 1, true
	}
	return 0, false
}

// usesKeywords reports whether rules of trigger type t carry keyword_filter and
// regex_patterns.
func (t TriggerType) usesKeywords() bool {
	return t == TriggerKeyword || t == TriggerMemberProfile
}

// usesAllowList reports whether rules of trigger type t carry an allow_list.
func (t TriggerType) usesAllowList() bool {
	return t == TriggerKeyword || t == TriggerMemberProfile || t == TriggerKeywordPreset
}

// PresetType is one of Discord's internal word lists.
type PresetType int

// Keyword preset types (auto-moderation.mdx, "Keyword Preset Types").
const (
	PresetProfanity     PresetType = 1
	PresetSexualContent PresetType = 2
	PresetSlurs         PresetType = 3
)

func (p PresetType) String() string {
	switch p {
	case PresetProfanity:
		return "PROFANITY"
	case PresetSexualContent:
		return "SEXUAL_CONTENT"
	case PresetSlurs:
		return "SLURS"
	}
	return fmt.Sprintf("PresetType(%d)", int(p))
}

// Valid reports whether p is a preset Discord has.
func (p PresetType) Valid() bool { return p >= PresetProfanity && p <= PresetSlurs }

// maxPresetValue is the largest preset value a Presets set can hold. Discord has three; the
// room above them lets a rule read from Discord with a preset gavel does not know yet be
// decoded, reported by Validate and written back unchanged.
const maxPresetValue = 63

// Presets is a set of keyword presets. The zero value is the empty set. Bit v stands for the
// preset with value v.
type Presets uint64

// NewPresets returns the set holding ps. Values outside 0–63 cannot be held and are dropped;
// the JSON decoder refuses them instead.
func NewPresets(ps ...PresetType) Presets {
	var s Presets
	for _, p := range ps {
		if p >= 0 && p <= maxPresetValue {
			s |= 1 << uint(p)
		}
	}
	return s
}

// AllPresets is the set of every preset Discord has.
func AllPresets() Presets { return NewPresets(PresetProfanity, PresetSexualContent, PresetSlurs) }

// Has reports whether p is in s.
func (s Presets) Has(p PresetType) bool {
	return p >= 0 && p <= maxPresetValue && s&(1<<uint(p)) != 0
}

// Union is every preset in s or o.
func (s Presets) Union(o Presets) Presets { return s | o }

// Intersection is every preset in both s and o.
func (s Presets) Intersection(o Presets) Presets { return s & o }

// Difference is every preset in s and not in o.
func (s Presets) Difference(o Presets) Presets { return s &^ o }

// SymmetricDifference is every preset in exactly one of s and o.
func (s Presets) SymmetricDifference(o Presets) Presets { return s ^ o }

// IsSubsetOf reports whether every preset in s is in o.
func (s Presets) IsSubsetOf(o Presets) bool { return s&^o == 0 }

// Len is the number of presets in s.
func (s Presets) Len() int { return bits.OnesCount64(uint64(s)) }

// Values lists the presets in s in value order.
func (s Presets) Values() []PresetType {
	out := make([]PresetType, 0, s.Len())
	for v := 0; v <= maxPresetValue; v++ {
		if s&(1<<uint(v)) != 0 {
			out = append(out, PresetType(v))
		}
	}
	return out
}

// String is the set as a moderator reads it: "profanity, sexual content", or "none".
func (s Presets) String() string {
	if s == 0 {
		return "none"
	}
	names := make([]string, 0, s.Len())
	for _, p := range s.Values() {
		names = append(names, strings.ReplaceAll(strings.ToLower(p.String()), "_", " "))
	}
	return strings.Join(names, ", ")
}

// TriggerMetadata is what a rule looks for. Which fields a rule may use depends on its
// trigger type; Validate refuses the others.
type TriggerMetadata struct {
	// KeywordFilter holds keywords with Discord's wildcards (KEYWORD, MEMBER_PROFILE).
	KeywordFilter []string
	// RegexPatterns holds Rust-flavoured regular expressions (KEYWORD, MEMBER_PROFILE).
	RegexPatterns []string
	// Presets are Discord's internal word lists (KEYWORD_PRESET).
	Presets Presets
	// AllowList holds keywords, with wildcards, that must not trigger the rule (KEYWORD,
	// KEYWORD_PRESET, MEMBER_PROFILE).
	AllowList []string
	// MentionTotalLimit is how many unique user and role mentions a message may have
	// (MENTION_SPAM).
	MentionTotalLimit int
	// MentionRaidProtectionEnabled asks Discord to detect mention raids (MENTION_SPAM).
	MentionRaidProtectionEnabled bool
}

// ActionType is what a rule does when it triggers.
type ActionType int

// Action types (auto-moderation.mdx, "Action Types").
const (
	ActionBlockMessage           ActionType = 1
	ActionSendAlertMessage       ActionType = 2
	ActionTimeout                ActionType = 3
	ActionBlockMemberInteraction ActionType = 4
)

func (a ActionType) String() string {
	switch a {
	case ActionBlockMessage:
		return "BLOCK_MESSAGE"
	case ActionSendAlertMessage:
		return "SEND_ALERT_MESSAGE"
	case ActionTimeout:
		return "TIMEOUT"
	case ActionBlockMemberInteraction:
		return "BLOCK_MEMBER_INTERACTION"
	}
	return fmt.Sprintf("ActionType(%d)", int(a))
}

// Action is one thing a rule does. Its metadata fields are flat here and nested under
// "metadata" in JSON; each is used by one action type only.
type Action struct {
	Type ActionType
	// CustomMessage is shown to the member whose message was blocked (BLOCK_MESSAGE, optional).
	CustomMessage string
	// ChannelID is where the alert is posted (SEND_ALERT_MESSAGE, required).
	ChannelID discord.ChannelID
	// DurationSeconds is how long the timeout lasts (TIMEOUT, required).
	DurationSeconds int
}

// Rule is an AutoMod rule. IDs are Discord snowflakes; zero means "not assigned yet" (a rule
// being created has no ID, GuildID or CreatorID until Discord answers).
type Rule struct {
	ID              int64
	GuildID         discord.GuildID
	CreatorID       discord.UserID
	Name            string
	EventType       EventType
	TriggerType     TriggerType
	TriggerMetadata TriggerMetadata
	Actions         []Action
	Enabled         bool
	ExemptRoles     []discord.RoleID
	ExemptChannels  []discord.ChannelID
}

// Limits documented by Discord (auto-moderation.mdx unless noted).
const (
	MaxNameLength          = 100 // OpenAPI spec: name maxLength 100; the fake checks 1–100
	MaxKeywords            = 1000
	MaxKeywordLength       = 60
	MaxRegexPatterns       = 10
	MaxRegexLength         = 260
	MaxAllowList           = 100  // KEYWORD and MEMBER_PROFILE
	MaxAllowListPreset     = 1000 // KEYWORD_PRESET
	MaxAllowListLength     = 60
	MaxMentionTotalLimit   = 50
	MaxExemptRoles         = 20
	MaxExemptChannels      = 50
	MaxActions             = 5 // OpenAPI spec: actions maxItems 5
	MaxCustomMessageLength = 150
	MaxTimeoutSeconds      = 2419200 // 4 weeks
)
