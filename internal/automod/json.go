package automod

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/gavelbot/gavel/internal/discord"
)

// The JSON form is Discord's: snowflakes are strings (a JavaScript reader would round numbers
// above 2^53), action metadata is nested, and trigger_metadata carries exactly the fields the
// rule's trigger type uses, as Discord returns them. Fields another trigger type would use
// are not written: Discord rejects or drops them, and Validate reports them before a rule is
// sent.

// snowflake is an id as Discord writes it: a decimal number in a string.
type snowflake int64

func (s snowflake) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(s), 10) + `"`), nil
}

// parseSnowflake reads an id written as a JSON string of digits or, leniently, a bare JSON
// number of digits.
func parseSnowflake[T discord.Snowflake](raw json.RawMessage) (T, error) {
	b := bytes.TrimSpace(raw)
	if bytes.Equal(b, []byte("null")) {
		return 0, nil
	}
	text := string(b)
	if len(b) >= 2 && b[0] == '"' {
		if err := json.Unmarshal(b, &text); err != nil {
			return 0, fmt.Errorf("%s is not a snowflake: %w", b, err)
		}
	}
	if text == "" || len(text) > 20 {
		return 0, fmt.Errorf("%s is not a snowflake; accepted: a decimal id like \"123456789012345678\"", b)
	}
	for _, c := range text {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%s is not a snowflake; accepted: a decimal id like \"123456789012345678\"", b)
		}
	}
	id, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not a snowflake (out of range); accepted: a decimal id like \"123456789012345678\"", b)
	}
	return T(id), nil
}

func parseSnowflakes[T discord.Snowflake](field string, raw json.RawMessage) ([]T, error) {
	if len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%s: not an array of snowflakes: %w", field, err)
	}
	out := make([]T, 0, len(items))
	for i, item := range items {
		id, err := parseSnowflake[T](item)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		out = append(out, id)
	}
	return out, nil
}

func snowflakes[T discord.Snowflake](ids []T) []snowflake {
	out := make([]snowflake, len(ids))
	for i, id := range ids {
		out[i] = snowflake(id)
	}
	return out
}

type ruleOut struct {
	ID              *snowflake     `json:"id,omitempty"`
	GuildID         *snowflake     `json:"guild_id,omitempty"`
	Name            string         `json:"name"`
	CreatorID       *snowflake     `json:"creator_id,omitempty"`
	EventType       EventType      `json:"event_type"`
	TriggerType     TriggerType    `json:"trigger_type"`
	TriggerMetadata map[string]any `json:"trigger_metadata"`
	Actions         []actionOut    `json:"actions"`
	Enabled         bool           `json:"enabled"`
	ExemptRoles     []snowflake    `json:"exempt_roles"`
	ExemptChannels  []snowflake    `json:"exempt_channels"`
}

type actionOut struct {
	Type     ActionType     `json:"type"`
	Metadata map[string]any `json:"metadata"`
}

func optionalID(id int64) *snowflake {
	if id == 0 {
		return nil
	}
	s := snowflake(id)
	return &s
}

func stringsOrEmpty(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// metadataOut is trigger_metadata as Discord writes it for the trigger type. For a trigger
// type gavel does not know, every field that is set is written, so nothing is lost.
func metadataOut(t TriggerType, m TriggerMetadata) map[string]any {
	out := map[string]any{}
	switch t {
	case TriggerKeyword, TriggerMemberProfile:
		out["keyword_filter"] = stringsOrEmpty(m.KeywordFilter)
		out["regex_patterns"] = stringsOrEmpty(m.RegexPatterns)
		out["allow_list"] = stringsOrEmpty(m.AllowList)
	case TriggerKeywordPreset:
		out["presets"] = m.Presets.Values()
		out["allow_list"] = stringsOrEmpty(m.AllowList)
	case TriggerMentionSpam:
		out["mention_total_limit"] = m.MentionTotalLimit
		out["mention_raid_protection_enabled"] = m.MentionRaidProtectionEnabled
	case TriggerSpam:
	default:
		if len(m.KeywordFilter) > 0 {
			out["keyword_filter"] = m.KeywordFilter
		}
		if len(m.RegexPatterns) > 0 {
			out["regex_patterns"] = m.RegexPatterns
		}
		if m.Presets != 0 {
			out["presets"] = m.Presets.Values()
		}
		if len(m.AllowList) > 0 {
			out["allow_list"] = m.AllowList
		}
		if m.MentionTotalLimit != 0 {
			out["mention_total_limit"] = m.MentionTotalLimit
		}
		if m.MentionRaidProtectionEnabled {
			out["mention_raid_protection_enabled"] = true
		}
	}
	return out
}

// actionMetadataOut is an action's metadata as Discord writes it: always an object, holding
// the one field the action type uses when it is set.
func actionMetadataOut(a Action) map[string]any {
	out := map[string]any{}
	switch a.Type {
	case ActionBlockMessage:
		if a.CustomMessage != "" {
			out["custom_message"] = a.CustomMessage
		}
	case ActionSendAlertMessage:
		out["channel_id"] = snowflake(a.ChannelID)
	case ActionTimeout:
		out["duration_seconds"] = a.DurationSeconds
	case ActionBlockMemberInteraction:
	default:
		if a.CustomMessage != "" {
			out["custom_message"] = a.CustomMessage
		}
		if a.ChannelID != 0 {
			out["channel_id"] = snowflake(a.ChannelID)
		}
		if a.DurationSeconds != 0 {
			out["duration_seconds"] = a.DurationSeconds
		}
	}
	return out
}

// MarshalJSON writes the rule as Discord's API does. Unassigned ids (zero) are left out, as
// in a create request.
func (r Rule) MarshalJSON() ([]byte, error) {
	out := ruleOut{
		ID:              optionalID(r.ID),
		GuildID:         optionalID(int64(r.GuildID)),
		Name:            r.Name,
		CreatorID:       optionalID(int64(r.CreatorID)),
		EventType:       r.EventType,
		TriggerType:     r.TriggerType,
		TriggerMetadata: metadataOut(r.TriggerType, r.TriggerMetadata),
		Actions:         make([]actionOut, 0, len(r.Actions)),
		Enabled:         r.Enabled,
		ExemptRoles:     snowflakes(r.ExemptRoles),
		ExemptChannels:  snowflakes(r.ExemptChannels),
	}
	for _, a := range r.Actions {
		out.Actions = append(out.Actions, actionOut{Type: a.Type, Metadata: actionMetadataOut(a)})
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode automod rule %q: %w", r.Name, err)
	}
	return b, nil
}

type ruleIn struct {
	ID              json.RawMessage `json:"id"`
	GuildID         json.RawMessage `json:"guild_id"`
	Name            string          `json:"name"`
	CreatorID       json.RawMessage `json:"creator_id"`
	EventType       EventType       `json:"event_type"`
	TriggerType     TriggerType     `json:"trigger_type"`
	TriggerMetadata *metadataIn     `json:"trigger_metadata"`
	Actions         []actionIn      `json:"actions"`
	Enabled         bool            `json:"enabled"`
	ExemptRoles     json.RawMessage `json:"exempt_roles"`
	ExemptChannels  json.RawMessage `json:"exempt_channels"`
}

type metadataIn struct {
	KeywordFilter                []string `json:"keyword_filter"`
	RegexPatterns                []string `json:"regex_patterns"`
	Presets                      []int    `json:"presets"`
	AllowList                    []string `json:"allow_list"`
	MentionTotalLimit            *int     `json:"mention_total_limit"`
	MentionRaidProtectionEnabled *bool    `json:"mention_raid_protection_enabled"`
}

type actionIn struct {
	Type     ActionType `json:"type"`
	Metadata *struct {
		ChannelID       json.RawMessage `json:"channel_id"`
		DurationSeconds *int            `json:"duration_seconds"`
		CustomMessage   *string         `json:"custom_message"`
	} `json:"metadata"`
}

// ErrDecode is matched by every error UnmarshalJSON returns for a body that is not a rule.
var ErrDecode = errors.New("not an automod rule")

type decodeError struct{ msg string }

func (e *decodeError) Error() string        { return e.msg }
func (e *decodeError) Is(target error) bool { return target == ErrDecode }

func decodeFail(format string, args ...any) error {
	return &decodeError{msg: "automod rule JSON: " + fmt.Sprintf(format, args...)}
}

// UnmarshalJSON reads a rule as Discord's API writes it. It checks the JSON types and the
// snowflakes; the limits are Validate's job. Unknown fields are ignored, because Discord adds
// fields over time. On error the rule is left unchanged.
func (r *Rule) UnmarshalJSON(b []byte) error {
	var in ruleIn
	if err := json.Unmarshal(b, &in); err != nil {
		return decodeFail("%v", err)
	}
	out := Rule{Name: in.Name, EventType: in.EventType, TriggerType: in.TriggerType, Enabled: in.Enabled}
	var err error
	if len(in.ID) > 0 {
		if out.ID, err = parseSnowflake[int64](in.ID); err != nil {
			return decodeFail("%s: %v", "id", err)
		}
	}
	if len(in.GuildID) > 0 {
		if out.GuildID, err = parseSnowflake[discord.GuildID](in.GuildID); err != nil {
			return decodeFail("%s: %v", "guild_id", err)
		}
	}
	if len(in.CreatorID) > 0 {
		if out.CreatorID, err = parseSnowflake[discord.UserID](in.CreatorID); err != nil {
			return decodeFail("%s: %v", "creator_id", err)
		}
	}
	if out.ExemptRoles, err = parseSnowflakes[discord.RoleID]("exempt_roles", in.ExemptRoles); err != nil {
		return decodeFail("%v", err)
	}
	if out.ExemptChannels, err = parseSnowflakes[discord.ChannelID]("exempt_channels", in.ExemptChannels); err != nil {
		return decodeFail("%v", err)
	}
	if m := in.TriggerMetadata; m != nil {
		out.TriggerMetadata.KeywordFilter = m.KeywordFilter
		out.TriggerMetadata.RegexPatterns = m.RegexPatterns
		out.TriggerMetadata.AllowList = m.AllowList
		if m.MentionTotalLimit != nil {
			out.TriggerMetadata.MentionTotalLimit = *m.MentionTotalLimit
		}
		if m.MentionRaidProtectionEnabled != nil {
			out.TriggerMetadata.MentionRaidProtectionEnabled = *m.MentionRaidProtectionEnabled
		}
		for i, p := range m.Presets {
			if p < 0 || p > maxPresetValue {
				return decodeFail("trigger_metadata.presets[%d]: %d is not a keyword preset; accepted: %s", i, p, presetChoices)
			}
			if out.TriggerMetadata.Presets.Has(PresetType(p)) {
				return decodeFail("trigger_metadata.presets[%d]: %s is listed twice; list each preset once", i, PresetType(p))
			}
			out.TriggerMetadata.Presets |= NewPresets(PresetType(p))
		}
	}
	for i, a := range in.Actions {
		act := Action{Type: a.Type}
		if md := a.Metadata; md != nil {
			if len(md.ChannelID) > 0 {
				if act.ChannelID, err = parseSnowflake[discord.ChannelID](md.ChannelID); err != nil {
					return decodeFail("actions[%d].metadata.channel_id: %v", i, err)
				}
			}
			if md.DurationSeconds != nil {
				act.DurationSeconds = *md.DurationSeconds
			}
			if md.CustomMessage != nil {
				act.CustomMessage = *md.CustomMessage
			}
		}
		out.Actions = append(out.Actions, act)
	}
	*r = out
	return nil
}

const presetChoices = "1 (PROFANITY), 2 (SEXUAL_CONTENT), 3 (SLURS)"

// DecodeRule reads one rule written as Discord's API writes it. Every error, malformed JSON
// included, matches ErrDecode.
func DecodeRule(b []byte) (Rule, error) {
	var r Rule
	if err := json.Unmarshal(b, &r); err != nil {
		if errors.Is(err, ErrDecode) {
			return Rule{}, err
		}
		return Rule{}, decodeFail("%v", err)
	}
	return r, nil
}
