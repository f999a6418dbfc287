package automod

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
)

func keywordRule() Rule {
	return Rule{Name: "words", EventType: EventMessageSend, TriggerType: TriggerKeyword, Enabled: true,
		TriggerMetadata: TriggerMetadata{KeywordFilter: []string{"cat"}},
		Actions:         []Action{{Type: ActionBlockMessage}}}
}

func validRules() []Rule {
	return []Rule{
		exampleRule(),
		keywordRule(),
		{Name: "presets", EventType: EventMessageSend, TriggerType: TriggerKeywordPreset,
			TriggerMetadata: TriggerMetadata{Presets: AllPresets(), AllowList: many("a", MaxAllowListPreset)},
			Actions:         []Action{{Type: ActionBlockMessage, CustomMessage: strings.Repeat("é", MaxCustomMessageLength)}}},
		{Name: "mentions", EventType: EventMessageSend, TriggerType: TriggerMentionSpam,
			TriggerMetadata: TriggerMetadata{MentionTotalLimit: MaxMentionTotalLimit, MentionRaidProtectionEnabled: true},
			Actions:         []Action{{Type: ActionTimeout, DurationSeconds: MaxTimeoutSeconds}, {Type: ActionSendAlertMessage, ChannelID: 5}}},
		{Name: "spam", EventType: EventMessageSend, TriggerType: TriggerSpam, Actions: []Action{{Type: ActionBlockMessage}}},
		{Name: strings.Repeat("n", MaxNameLength), EventType: EventMemberUpdate, TriggerType: TriggerMemberProfile,
			TriggerMetadata: TriggerMetadata{
				KeywordFilter: many(strings.Repeat("k", MaxKeywordLength-2), MaxKeywords),
				RegexPatterns: manyRegexes(MaxRegexPatterns),
				AllowList:     many("a", MaxAllowList),
			},
			Actions:     []Action{{Type: ActionBlockMemberInteraction}, {Type: ActionSendAlertMessage, ChannelID: 1}},
			ExemptRoles: discord.IDs[discord.RoleID](ids(MaxExemptRoles)), ExemptChannels: discord.IDs[discord.ChannelID](ids(MaxExemptChannels))},
	}
}

func many(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i%100)
	}
	return out
}

func manyRegexes(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strings.Repeat("a", MaxRegexLength-4) + fmt.Sprintf("%04d", i)
	}
	return out
}

func ids(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(1000 + i)
	}
	return out
}

func TestValidateAccepts(t *testing.T) {
	t.Parallel()
	for _, r := range validRules() {
		if err := Validate(r, nil); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
	}
	// Up to the per-guild maximum, and the rule itself is not counted against it.
	var existing []Rule
	for i := range 5 {
		r := keywordRule()
		r.ID = int64(i + 1)
		existing = append(existing, r)
	}
	if err := Validate(keywordRule(), existing); err != nil {
		t.Errorf("the 6th keyword rule: %v", err)
	}
	existing = append(existing, Rule{ID: 6, TriggerType: TriggerKeyword})
	edit := keywordRule()
	edit.ID = 6
	if err := Validate(edit, existing); err != nil {
		t.Errorf("editing the 6th keyword rule: %v", err)
	}
	// Rules of another guild are not counted.
	r := keywordRule()
	r.GuildID = 99
	for i := range existing {
		existing[i].GuildID = 98
	}
	if err := Validate(r, existing); err != nil {
		t.Errorf("rules of another guild counted: %v", err)
	}
}

// problem is one expected problem: the field and a part of its message.
type problem struct{ field, message string }

func TestValidateRefuses(t *testing.T) {
	t.Parallel()
	kw := func(edit func(*Rule)) Rule { r := keywordRule(); edit(&r); return r }
	typed := func(tt TriggerType, ev EventType, edit func(*Rule)) Rule {
		r := Rule{Name: "r", TriggerType: tt, EventType: ev, Actions: []Action{{Type: ActionSendAlertMessage, ChannelID: 1}}}
		edit(&r)
		return r
	}
	cases := []struct {
		name     string
		rule     Rule
		existing []Rule
		want     []problem
	}{
		{"no name", kw(func(r *Rule) { r.Name = "" }), nil, []problem{{"name", "is empty; accepted: 1 to 100 characters"}}},
		{"long name", kw(func(r *Rule) { r.Name = strings.Repeat("x", 101) }), nil, []problem{{"name", "is 101 characters long; accepted: 1 to 100"}}},
		{"unknown trigger", kw(func(r *Rule) { r.TriggerType = 2 }), nil, []problem{{"trigger_type", "2 is not a trigger type; accepted: 1 (KEYWORD), 3 (SPAM)"}}},
		{"unknown event", kw(func(r *Rule) { r.EventType = 3 }), nil, []problem{{"event_type", "3 is not an event type"}}},
		{"keyword on member update", kw(func(r *Rule) { r.EventType = EventMemberUpdate }), nil,
			[]problem{{"event_type", "2 (MEMBER_UPDATE) does not fit a KEYWORD rule; accepted: 1 (MESSAGE_SEND)"}}},
		{"profile on message send", typed(TriggerMemberProfile, EventMessageSend, func(*Rule) {}), nil,
			[]problem{{"event_type", "does not fit a MEMBER_PROFILE rule; accepted: 2 (MEMBER_UPDATE)"}}},
		{"seventh keyword rule", keywordRule(), []Rule{{ID: 1, TriggerType: 1}, {ID: 2, TriggerType: 1}, {ID: 3, TriggerType: 1}, {ID: 4, TriggerType: 1}, {ID: 5, TriggerType: 1}, {ID: 6, TriggerType: 1}},
			[]problem{{"trigger_type", "the guild already has 6 KEYWORD rules; accepted: at most 6 per guild"}}},
		{"second spam rule", typed(TriggerSpam, EventMessageSend, func(*Rule) {}), []Rule{{ID: 1, TriggerType: TriggerSpam}},
			[]problem{{"trigger_type", "already has 1 SPAM rule; accepted: at most 1"}}},
		{"second preset rule", typed(TriggerKeywordPreset, EventMessageSend, func(*Rule) {}), []Rule{{ID: 1, TriggerType: TriggerKeywordPreset}},
			[]problem{{"trigger_type", "at most 1 per guild"}}},
		{"second mention rule", typed(TriggerMentionSpam, EventMessageSend, func(*Rule) {}), []Rule{{ID: 1, TriggerType: TriggerMentionSpam}},
			[]problem{{"trigger_type", "at most 1 per guild"}}},
		{"second profile rule", typed(TriggerMemberProfile, EventMemberUpdate, func(*Rule) {}), []Rule{{ID: 1, TriggerType: TriggerMemberProfile}},
			[]problem{{"trigger_type", "at most 1 per guild"}}},
		{"trigger type changed", kw(func(r *Rule) { r.ID = 4 }), []Rule{{ID: 4, TriggerType: TriggerSpam}},
			[]problem{{"trigger_type", "cannot change from SPAM to KEYWORD"}}},
		{"too many keywords", kw(func(r *Rule) { r.TriggerMetadata.KeywordFilter = many("k", 1001) }), nil,
			[]problem{{"trigger_metadata.keyword_filter", "has 1001 entries; accepted: at most 1000"}}},
		{"long keyword", kw(func(r *Rule) { r.TriggerMetadata.KeywordFilter = []string{"ok", strings.Repeat("é", 61)} }), nil,
			[]problem{{"trigger_metadata.keyword_filter[1]", "is 61 characters long; accepted: 1 to 60 characters"}}},
		{"empty keyword", kw(func(r *Rule) { r.TriggerMetadata.KeywordFilter = []string{""} }), nil,
			[]problem{{"trigger_metadata.keyword_filter[0]", `"" is 0 characters long`}}},
		{"wildcards only", kw(func(r *Rule) { r.TriggerMetadata.KeywordFilter = []string{"**"} }), nil,
			[]problem{{"trigger_metadata.keyword_filter[0]", `"**" is only wildcards`}}},
		{"too many regexes", kw(func(r *Rule) { r.TriggerMetadata.RegexPatterns = manyRegexes(11) }), nil,
			[]problem{{"trigger_metadata.regex_patterns", "has 11 patterns; accepted: at most 10"}}},
		{"long regex", kw(func(r *Rule) { r.TriggerMetadata.RegexPatterns = []string{strings.Repeat("a", 261)} }), nil,
			[]problem{{"trigger_metadata.regex_patterns[0]", "is 261 characters long; accepted: 1 to 260"}}},
		{"refused regex", kw(func(r *Rule) { r.TriggerMetadata.RegexPatterns = []string{"[a-z&&[^aeiou]]"} }), nil,
			[]problem{{"trigger_metadata.regex_patterns[0]", "&& at offset 4: class intersection is not supported"}}},
		{"bad regex", kw(func(r *Rule) { r.TriggerMetadata.RegexPatterns = []string{"(a"} }), nil,
			[]problem{{"trigger_metadata.regex_patterns[0]", "the group is not closed"}}},
		{"long allow list", kw(func(r *Rule) { r.TriggerMetadata.AllowList = many("a", 101) }), nil,
			[]problem{{"trigger_metadata.allow_list", "has 101 entries; accepted: at most 100"}}},
		{"long preset allow list", typed(TriggerKeywordPreset, EventMessageSend, func(r *Rule) { r.TriggerMetadata.AllowList = many("a", 1001) }), nil,
			[]problem{{"trigger_metadata.allow_list", "has 1001 entries; accepted: at most 1000"}}},
		{"long allow entry", typed(TriggerKeywordPreset, EventMessageSend, func(r *Rule) { r.TriggerMetadata.AllowList = []string{strings.Repeat("a", 61)} }), nil,
			[]problem{{"trigger_metadata.allow_list[0]", "is 61 characters long; accepted: 1 to 60"}}},
		{"unknown preset", typed(TriggerKeywordPreset, EventMessageSend, func(r *Rule) { r.TriggerMetadata.Presets = NewPresets(4) }), nil,
			[]problem{{"trigger_metadata.presets", "4 is not a keyword preset; accepted: 1 (PROFANITY), 2 (SEXUAL_CONTENT), 3 (SLURS)"}}},
		{"mention limit", typed(TriggerMentionSpam, EventMessageSend, func(r *Rule) { r.TriggerMetadata.MentionTotalLimit = 51 }), nil,
			[]problem{{"trigger_metadata.mention_total_limit", "51 is out of range; accepted: 0 to 50"}}},
		{"negative mention limit", typed(TriggerMentionSpam, EventMessageSend, func(r *Rule) { r.TriggerMetadata.MentionTotalLimit = -1 }), nil,
			[]problem{{"trigger_metadata.mention_total_limit", "-1 is out of range"}}},
		{"metadata of other triggers", typed(TriggerSpam, EventMessageSend, func(r *Rule) {
			r.TriggerMetadata = TriggerMetadata{KeywordFilter: []string{"a"}, RegexPatterns: []string{"a"}, Presets: AllPresets(),
				AllowList: []string{"a"}, MentionTotalLimit: 3, MentionRaidProtectionEnabled: true}
		}), nil, []problem{
			{"trigger_metadata.keyword_filter", "is not used by SPAM rules; accepted: leave it out (it is used by KEYWORD and MEMBER_PROFILE rules)"},
			{"trigger_metadata.regex_patterns", "is not used by SPAM rules"},
			{"trigger_metadata.allow_list", "is not used by SPAM rules"},
			{"trigger_metadata.presets", "is not used by SPAM rules; accepted: leave it out (it is used by KEYWORD_PRESET rules)"},
			{"trigger_metadata.mention_total_limit", "is not used by SPAM rules"},
			{"trigger_metadata.mention_raid_protection_enabled", "is not used by SPAM rules"},
		}},
		{"keywords on a preset rule", typed(TriggerKeywordPreset, EventMessageSend, func(r *Rule) { r.TriggerMetadata.KeywordFilter = []string{"a"} }), nil,
			[]problem{{"trigger_metadata.keyword_filter", "is not used by KEYWORD_PRESET rules"}}},
		{"presets on a keyword rule", kw(func(r *Rule) { r.TriggerMetadata.Presets = NewPresets(PresetSlurs) }), nil,
			[]problem{{"trigger_metadata.presets", "is not used by KEYWORD rules"}}},
		{"allow list on mention spam", typed(TriggerMentionSpam, EventMessageSend, func(r *Rule) { r.TriggerMetadata.AllowList = []string{"a"} }), nil,
			[]problem{{"trigger_metadata.allow_list", "is not used by MENTION_SPAM rules"}}},
		{"no actions", kw(func(r *Rule) { r.Actions = nil }), nil, []problem{{"actions", "is empty; accepted: 1 to 5 actions"}}},
		{"six actions", kw(func(r *Rule) {
			r.Actions = make([]Action, 6)
			for i := range r.Actions {
				r.Actions[i].Type = ActionBlockMessage
			}
		}), nil,
			[]problem{{"actions", "has 6 actions; accepted: 1 to 5"}}},
		{"unknown action", kw(func(r *Rule) { r.Actions = []Action{{Type: 5}} }), nil, []problem{{"actions[0].type", "5 is not an action type; accepted: 1 (BLOCK_MESSAGE)"}}},
		{"custom message", kw(func(r *Rule) {
			r.Actions = []Action{{Type: ActionBlockMessage, CustomMessage: strings.Repeat("x", 151)}}
		}), nil,
			[]problem{{"actions[0].metadata.custom_message", "is 151 characters long; accepted: at most 150"}}},
		{"alert without channel", kw(func(r *Rule) { r.Actions = []Action{{Type: ActionSendAlertMessage}} }), nil,
			[]problem{{"actions[0].metadata.channel_id", "is missing; accepted: the id of an existing channel"}}},
		{"timeout too long", kw(func(r *Rule) { r.Actions = []Action{{Type: ActionTimeout, DurationSeconds: MaxTimeoutSeconds + 1}} }), nil,
			[]problem{{"actions[0].metadata.duration_seconds", "2419201 is out of range; accepted: 1 to 2419200 seconds (4 weeks)"}}},
		{"timeout without duration", kw(func(r *Rule) { r.Actions = []Action{{Type: ActionTimeout}} }), nil,
			[]problem{{"actions[0].metadata.duration_seconds", "0 is out of range"}}},
		{"timeout on spam", typed(TriggerSpam, EventMessageSend, func(r *Rule) { r.Actions = []Action{{Type: ActionTimeout, DurationSeconds: 60}} }), nil,
			[]problem{{"actions[0].type", "TIMEOUT is not available for SPAM rules; accepted: only on KEYWORD and MENTION_SPAM rules"}}},
		{"timeout on presets", typed(TriggerKeywordPreset, EventMessageSend, func(r *Rule) { r.Actions = []Action{{Type: ActionTimeout, DurationSeconds: 60}} }), nil,
			[]problem{{"actions[0].type", "TIMEOUT is not available for KEYWORD_PRESET rules"}}},
		{"timeout on member profile", typed(TriggerMemberProfile, EventMemberUpdate, func(r *Rule) { r.Actions = []Action{{Type: ActionTimeout, DurationSeconds: 60}} }), nil,
			[]problem{{"actions[0].type", "TIMEOUT is not available for MEMBER_PROFILE rules"}}},
		{"block interaction on keyword", kw(func(r *Rule) { r.Actions = []Action{{Type: ActionBlockMemberInteraction}} }), nil,
			[]problem{{"actions[0].type", "BLOCK_MEMBER_INTERACTION is not available for KEYWORD rules; accepted: only on MEMBER_PROFILE rules"}}},
		{"stray action metadata", kw(func(r *Rule) {
			r.Actions = []Action{{Type: ActionTimeout, DurationSeconds: 5, CustomMessage: "x", ChannelID: 3}}
		}), nil, []problem{
			{"actions[0].metadata.custom_message", "is not used by TIMEOUT actions"},
			{"actions[0].metadata.channel_id", "is not used by TIMEOUT actions"},
		}},
		{"exempt roles", kw(func(r *Rule) { r.ExemptRoles = discord.IDs[discord.RoleID](ids(21)) }), nil, []problem{{"exempt_roles", "has 21 roles; accepted: at most 20"}}},
		{"exempt channels", kw(func(r *Rule) { r.ExemptChannels = discord.IDs[discord.ChannelID](ids(51)) }), nil, []problem{{"exempt_channels", "has 51 channels; accepted: at most 50"}}},
		{"duplicate and bad ids", kw(func(r *Rule) { r.ExemptRoles = []discord.RoleID{4, 4, 0}; r.ID = -1 }), nil, []problem{
			{"id", "-1 is not a Discord id"},
			{"exempt_roles[1]", "4 is listed twice"},
			{"exempt_roles[2]", "0 is not a role id"},
		}},
	}
	for _, c := range cases {
		err := Validate(c.rule, c.existing)
		var ve *ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) || !errors.Is(err, input.ErrInvalid) {
			t.Errorf("%s: error %v; want a *ValidationError", c.name, err)
			continue
		}
		if len(ve.Problems) != len(c.want) {
			t.Errorf("%s: %d problems, want %d: %v", c.name, len(ve.Problems), len(c.want), err)
			continue
		}
		for i, w := range c.want {
			p := ve.Problems[i]
			if p.Field != w.field || !strings.Contains(p.Message, w.message) {
				t.Errorf("%s: problem %d is %q; want field %q with %q", c.name, i, p, w.field, w.message)
			}
		}
		if !strings.Contains(err.Error(), ve.Rule) {
			t.Errorf("%s: the message does not name the rule: %v", c.name, err)
		}
	}
}

func TestValidateReportsEverything(t *testing.T) {
	t.Parallel()
	r := Rule{TriggerType: TriggerKeyword, EventType: EventMemberUpdate, TriggerMetadata: TriggerMetadata{
		KeywordFilter: []string{strings.Repeat("x", 70)}, RegexPatterns: []string{`\Q`}}}
	err := Validate(r, nil)
	for _, want := range []string{"(unnamed)", "5 problems", "name: is empty", "event_type:", "keyword_filter[0]:", "regex_patterns[0]:", "actions: is empty"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v; want it to contain %q", err, want)
		}
	}
}

// FuzzRuleJSON: decoding arbitrary bytes and validating never panics, and a rule that
// validates encodes to JSON that decodes to the same rule, which validates again.
func FuzzRuleJSON(f *testing.F) {
	f.Add([]byte(discordExample))
	for _, r := range validRules()[:5] {
		b, _ := json.Marshal(r)
		f.Add(b)
	}
	f.Add([]byte(`{"name":"x","trigger_type":4,"event_type":1,"trigger_metadata":{"presets":[1,2]},"actions":[{"type":1}]}`))
	f.Add([]byte(`{"name":"x","trigger_type":1,"event_type":1,"trigger_metadata":{"regex_patterns":["\\bcat\\b","[\\w&&a]"]},"actions":[{"type":1}]}`))
	f.Add([]byte(`{"id":"1","exempt_roles":["1","1"],"actions":[{"type":3,"metadata":{"duration_seconds":-1}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRule(b)
		if err != nil {
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("decode error is not ErrDecode: %v", err)
			}
			return
		}
		err = Validate(r, nil)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || err.Error() == "" {
				t.Fatalf("validation error is not ErrInvalid: %v", err)
			}
			return
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("a valid rule does not encode: %v", err)
		}
		var back Rule
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-decode %s: %v", out, err)
		}
		if diff := cmp.Diff(r, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip changed the rule (-before +after):\n%s", diff)
		}
		if err := Validate(back, nil); err != nil {
			t.Fatalf("re-validate: %v", err)
		}
		if _, err := Compile([]Rule{back}); err != nil {
			t.Fatalf("a valid rule does not compile: %v", err)
		}
	})
}
