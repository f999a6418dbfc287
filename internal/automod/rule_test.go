package automod

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavelbot/gavel/internal/discord"
)

func TestPresets(t *testing.T) {
	t.Parallel()
	p := NewPresets(PresetProfanity, PresetSlurs)
	s := NewPresets(PresetSexualContent, PresetSlurs)
	checks := []struct {
		name      string
		got, want Presets
	}{
		{"union", p.Union(s), AllPresets()},
		{"intersection", p.Intersection(s), NewPresets(PresetSlurs)},
		{"difference", p.Difference(s), NewPresets(PresetProfanity)},
		{"symmetric difference", p.SymmetricDifference(s), NewPresets(PresetProfanity, PresetSexualContent)},
		{"empty", NewPresets(), Presets(0)},
		{"duplicates", NewPresets(PresetSlurs, PresetSlurs), NewPresets(PresetSlurs)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v; want %v", c.name, c.got, c.want)
		}
	}
	if !p.Has(PresetSlurs) || p.Has(PresetSexualContent) || p.Has(PresetType(-1)) || p.Has(PresetType(64)) {
		t.Errorf("Has is wrong for %v", p)
	}
	if !NewPresets(PresetSlurs).IsSubsetOf(p) || p.IsSubsetOf(NewPresets(PresetSlurs)) || !Presets(0).IsSubsetOf(p) {
		t.Errorf("IsSubsetOf is wrong")
	}
	if got := AllPresets().Values(); !cmp.Equal(got, []PresetType{1, 2, 3}) {
		t.Errorf("Values = %v", got)
	}
	if got := p.String(); got != "profanity, slurs" {
		t.Errorf("String = %q", got)
	}
	if got, none := AllPresets().String(), Presets(0).String(); got != "profanity, sexual content, slurs" || none != "none" {
		t.Errorf("String of all = %q, of none = %q", got, none)
	}
	if p.Len() != 2 || AllPresets().Len() != 3 {
		t.Errorf("Len is wrong")
	}
}

// discordExample is the example rule of auto-moderation.mdx, verbatim.
const discordExample = `{
  "id": "969707018069872670",
  "guild_id": "613425648685547541",
  "name": "Keyword Filter 1",
  "creator_id": "423457898095789043",
  "trigger_type": 1,
  "event_type": 1,
  "actions": [
    {
      "type": 1,
      "metadata": { "custom_message": "Please keep financial discussions limited to the #finance channel" }
    },
    {
      "type": 2,
      "metadata": { "channel_id": "123456789123456789" }
    },
    {
      "type": 3,
      "metadata": { "duration_seconds": 60 }
    }
  ],
  "trigger_metadata": {
    "keyword_filter": ["cat*", "*dog", "*ana*", "i like c++"],
    "regex_patterns": ["(b|c)at", "^(?:[0-9]{1,3}\\.){3}[0-9]{1,3}$"]
  },
  "enabled": true,
  "exempt_roles": ["323456789123456789", "423456789123456789"],
  "exempt_channels": ["523456789123456789"]
}`

func exampleRule() Rule {
	return Rule{
		ID: 969707018069872670, GuildID: 613425648685547541, CreatorID: 423457898095789043,
		Name: "Keyword Filter 1", EventType: EventMessageSend, TriggerType: TriggerKeyword,
		Actions: []Action{
			{Type: ActionBlockMessage, CustomMessage: "Please keep financial discussions limited to the #finance channel"},
			{Type: ActionSendAlertMessage, ChannelID: 123456789123456789},
			{Type: ActionTimeout, DurationSeconds: 60},
		},
		TriggerMetadata: TriggerMetadata{
			KeywordFilter: []string{"cat*", "*dog", "*ana*", "i like c++"},
			RegexPatterns: []string{"(b|c)at", `^(?:[0-9]{1,3}\.){3}[0-9]{1,3}$`},
		},
		Enabled:        true,
		ExemptRoles:    []discord.RoleID{323456789123456789, 423456789123456789},
		ExemptChannels: []discord.ChannelID{523456789123456789},
	}
}

func TestDecodeDiscordExample(t *testing.T) {
	t.Parallel()
	var r Rule
	if err := json.Unmarshal([]byte(discordExample), &r); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(exampleRule(), r); diff != "" {
		t.Errorf("decoded rule (-want +got):\n%s", diff)
	}
	if err := Validate(r, nil); err != nil {
		t.Errorf("Discord's own example does not validate: %v", err)
	}
}

// jsonEqual compares two JSON texts by value.
func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("JSON (-want +got):\n%s\ngot: %s", diff, got)
	}
}

func TestEncodeAsDiscord(t *testing.T) {
	t.Parallel()
	got, err := json.Marshal(exampleRule())
	if err != nil {
		t.Fatal(err)
	}
	// Discord's example plus the empty allow_list Discord returns for a keyword rule.
	want := strings.Replace(discordExample, `"regex_patterns"`, `"allow_list": [], "regex_patterns"`, 1)
	jsonEqual(t, got, want)
	if !strings.Contains(string(got), `"id":"969707018069872670"`) {
		t.Errorf("snowflakes must be JSON strings: %s", got)
	}
}

func TestEncodeMetadataPerTrigger(t *testing.T) {
	t.Parallel()
	// Every metadata field is set; each trigger type keeps only its own, as Discord writes
	// them (the fake and the OpenAPI responses list the same fields).
	all := TriggerMetadata{
		KeywordFilter: []string{"k"}, RegexPatterns: []string{"r"}, Presets: AllPresets(), AllowList: []string{"a"},
		MentionTotalLimit: 5, MentionRaidProtectionEnabled: true,
	}
	cases := map[TriggerType]string{
		TriggerKeyword:       `{"keyword_filter":["k"],"regex_patterns":["r"],"allow_list":["a"]}`,
		TriggerMemberProfile: `{"keyword_filter":["k"],"regex_patterns":["r"],"allow_list":["a"]}`,
		TriggerKeywordPreset: `{"presets":[1,2,3],"allow_list":["a"]}`,
		TriggerMentionSpam:   `{"mention_total_limit":5,"mention_raid_protection_enabled":true}`,
		TriggerSpam:          `{}`,
		TriggerType(9):       `{"keyword_filter":["k"],"regex_patterns":["r"],"presets":[1,2,3],"allow_list":["a"],"mention_total_limit":5,"mention_raid_protection_enabled":true}`,
	}
	for tt, want := range cases {
		b, err := json.Marshal(Rule{Name: "x", TriggerType: tt, TriggerMetadata: all})
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			TriggerMetadata json.RawMessage `json:"trigger_metadata"`
		}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		jsonEqual(t, out.TriggerMetadata, want)
	}
	// Empty lists are written as [] (Discord never writes null for them).
	b, _ := json.Marshal(Rule{Name: "x", TriggerType: TriggerKeyword, Actions: []Action{{Type: ActionBlockMemberInteraction}}})
	jsonEqual(t, b, `{"name":"x","event_type":0,"trigger_type":1,"trigger_metadata":{"keyword_filter":[],"regex_patterns":[],"allow_list":[]},
		"actions":[{"type":4,"metadata":{}}],"enabled":false,"exempt_roles":[],"exempt_channels":[]}`)
}

func TestEncodeActionMetadata(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Rule{Name: "x", TriggerType: TriggerSpam, Actions: []Action{
		{Type: ActionBlockMessage},
		{Type: ActionBlockMessage, CustomMessage: "no", ChannelID: 9, DurationSeconds: 9}, // stray fields are not written
		{Type: ActionSendAlertMessage, ChannelID: 1},
		{Type: ActionTimeout, DurationSeconds: 60},
		{Type: ActionBlockMemberInteraction},
		{Type: ActionType(7), ChannelID: 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Actions json.RawMessage `json:"actions"`
	}
	_ = json.Unmarshal(b, &out)
	jsonEqual(t, out.Actions, `[{"type":1,"metadata":{}},{"type":1,"metadata":{"custom_message":"no"}},
		{"type":2,"metadata":{"channel_id":"1"}},{"type":3,"metadata":{"duration_seconds":60}},
		{"type":4,"metadata":{}},{"type":7,"metadata":{"channel_id":"2"}}]`)
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		`{"id": "12x"}`:                                               `id: "12x" is not a snowflake`,
		`{"id": -5}`:                                                  `id: -5 is not a snowflake`,
		`{"guild_id": "99999999999999999999"}`:                        `out of range`,
		`{"exempt_roles": ["1", "a"]}`:                                `exempt_roles[1]: "a" is not a snowflake`,
		`{"exempt_channels": "1"}`:                                    `exempt_channels: not an array`,
		`{"trigger_metadata": {"presets": [1, 99]}}`:                  `presets[1]: 99 is not a keyword preset; accepted: 1 (PROFANITY)`,
		`{"trigger_metadata": {"presets": [1, 1]}}`:                   `presets[1]: PROFANITY is listed twice`,
		`{"actions": [{"type": 2, "metadata": {"channel_id": "c"}}]}`: `actions[0].metadata.channel_id: "c" is not a snowflake`,
		`{"event_type": "1"}`:                                         `cannot unmarshal string`,
		`[]`:                                                          `cannot unmarshal array`,
	}
	for in, want := range cases {
		r := Rule{Name: "kept"}
		err := json.Unmarshal([]byte(in), &r)
		if err == nil || !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), want) {
			t.Errorf("decode %s: error %v; want one containing %q", in, err, want)
		}
		if r.Name != "kept" {
			t.Errorf("decode %s: a failed decode changed the rule: %+v", in, r)
		}
	}
}

func TestDecodeLenient(t *testing.T) {
	t.Parallel()
	// Discord adds fields over time, and ids may come as numbers from hand-written files.
	var r Rule
	err := json.Unmarshal([]byte(`{"id": 5, "name": "n", "new_field": {"x": 1}, "trigger_type": 5,
		"trigger_metadata": {"mention_total_limit": 10, "mention_raid_protection_enabled": true},
		"actions": [{"type": 1}], "exempt_roles": null, "trigger_metadata_v2": 1}`), &r)
	if err != nil {
		t.Fatal(err)
	}
	want := Rule{ID: 5, Name: "n", TriggerType: TriggerMentionSpam, Actions: []Action{{Type: ActionBlockMessage}},
		TriggerMetadata: TriggerMetadata{MentionTotalLimit: 10, MentionRaidProtectionEnabled: true}}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	rules := []Rule{
		exampleRule(),
		{Name: "presets", EventType: EventMessageSend, TriggerType: TriggerKeywordPreset, Enabled: true,
			TriggerMetadata: TriggerMetadata{Presets: NewPresets(PresetSlurs, PresetProfanity), AllowList: []string{"scunthorpe"}},
			Actions:         []Action{{Type: ActionBlockMessage}}},
		{ID: 7, GuildID: 8, Name: "mentions", EventType: EventMessageSend, TriggerType: TriggerMentionSpam,
			TriggerMetadata: TriggerMetadata{MentionTotalLimit: 20, MentionRaidProtectionEnabled: true},
			Actions:         []Action{{Type: ActionTimeout, DurationSeconds: MaxTimeoutSeconds}}},
		{Name: "profile", EventType: EventMemberUpdate, TriggerType: TriggerMemberProfile,
			TriggerMetadata: TriggerMetadata{KeywordFilter: []string{"*nitro*"}},
			Actions:         []Action{{Type: ActionBlockMemberInteraction}, {Type: ActionSendAlertMessage, ChannelID: 1}}},
		{Name: "spam", EventType: EventMessageSend, TriggerType: TriggerSpam, Actions: []Action{{Type: ActionBlockMessage, CustomMessage: "spam"}}},
	}
	for _, r := range rules {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Rule
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if diff := cmp.Diff(r, back, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s round trip (-want +got):\n%s", r.Name, diff)
		}
	}
}

func TestStringers(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ got, want string }{
		{TriggerKeyword.String(), "KEYWORD"}, {TriggerMemberProfile.String(), "MEMBER_PROFILE"},
		{TriggerType(2).String(), "TriggerType(2)"}, {EventMemberUpdate.String(), "MEMBER_UPDATE"},
		{EventType(0).String(), "EventType(0)"}, {ActionBlockMemberInteraction.String(), "BLOCK_MEMBER_INTERACTION"},
		{ActionType(0).String(), "ActionType(0)"}, {PresetSexualContent.String(), "SEXUAL_CONTENT"},
		{PresetType(9).String(), "PresetType(9)"},
	} {
		if c.got != c.want {
			t.Errorf("got %q; want %q", c.got, c.want)
		}
	}
	if len(TriggerTypes()) != 5 || TriggerType(2).Valid() {
		t.Errorf("trigger types are wrong")
	}
}
