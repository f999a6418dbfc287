package discordtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
)

// AutoMod trigger, event and action types (auto-moderation.mdx).
const (
	triggerKeyword       = 1
	triggerSpam          = 3
	triggerKeywordPreset = 4
	triggerMentionSpam   = 5
	triggerMemberProfile = 6

	eventMessageSend  = 1
	eventMemberUpdate = 2

	actionBlockMessage           = 1
	actionSendAlertMessage       = 2
	actionTimeout                = 3
	actionBlockMemberInteraction = 4
)

// rulesPerGuild is how many rules of a trigger type a guild may have; ok is false for a
// trigger type Discord does not have.
func rulesPerGuild(trigger int) (max int, ok bool) {
	switch trigger {
	case triggerKeyword:
		return 6, true
	case triggerSpam, triggerKeywordPreset, triggerMentionSpam, triggerMemberProfile:
		return 1, true
	}
	return 0, false
}

// autoModBody is a create or modify request; every field is optional for modify.
type autoModBody struct {
	Name            opt[string]          `json:"name"`
	EventType       opt[int]             `json:"event_type"`
	TriggerType     opt[int]             `json:"trigger_type"`
	TriggerMetadata opt[triggerMetadata] `json:"trigger_metadata"`
	Actions         opt[[]autoModAction] `json:"actions"`
	Enabled         opt[bool]            `json:"enabled"`
	ExemptRoles     opt[[]ID]            `json:"exempt_roles"`
	ExemptChannels  opt[[]ID]            `json:"exempt_channels"`
}

type triggerMetadata struct {
	KeywordFilter                []string `json:"keyword_filter,omitempty"`
	RegexPatterns                []string `json:"regex_patterns,omitempty"`
	Presets                      []int    `json:"presets,omitempty"`
	AllowList                    []string `json:"allow_list,omitempty"`
	MentionTotalLimit            *int     `json:"mention_total_limit,omitempty"`
	MentionRaidProtectionEnabled *bool    `json:"mention_raid_protection_enabled,omitempty"`
}

type autoModAction struct {
	Type     int                    `json:"type"`
	Metadata *autoModActionMetadata `json:"metadata"`
}

type autoModActionMetadata struct {
	ChannelID       ID      `json:"channel_id"`
	DurationSeconds *int    `json:"duration_seconds"`
	CustomMessage   *string `json:"custom_message"`
}

// ruleDraft is a rule being created or modified, before it is checked and stored.
type ruleDraft struct {
	name           string
	eventType      int
	triggerType    int
	metadata       triggerMetadata
	actions        []autoModAction
	enabled        bool
	exemptRoles    []ID
	exemptChannels []ID
}

func (s *Server) handleListAutoModRules(r *Request) (Response, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	if e := s.require(g, s.botID, PermManageGuild); e != nil {
		return Response{}, e
	}
	out := []AutoModRule{}
	for _, rule := range sortedRules(g) {
		out = append(out, copyRule(rule))
	}
	return Response{Body: out}, nil
}

func sortedRules(g *Guild) []*AutoModRule {
	rules := make([]*AutoModRule, 0, len(g.AutoModRules))
	for _, r := range g.AutoModRules {
		rules = append(rules, r)
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
	return rules
}

// ruleFor resolves {rule_id} in a guild the bot may manage. Called with s.mu held.
func (s *Server) ruleFor(r *Request) (*Guild, *AutoModRule, *apiError) {
	id, e := pathID(r, "rule_id")
	if e != nil {
		return nil, nil, e
	}
	g, e := s.guildFor(r)
	if e != nil {
		return nil, nil, e
	}
	if e := s.require(g, s.botID, PermManageGuild); e != nil {
		return nil, nil, e
	}
	rule, ok := g.AutoModRules[id]
	if !ok {
		return nil, nil, errUnknown("Auto Moderation Rule", codeUnknownAutoModRule)
	}
	return g, rule, nil
}

func (s *Server) handleGetAutoModRule(r *Request) (Response, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, rule, e := s.ruleFor(r)
	if e != nil {
		return Response{}, e
	}
	return Response{Body: copyRule(rule)}, nil
}

func (s *Server) handleCreateAutoModRule(r *Request) (Response, *apiError) {
	var body autoModBody
	if e := decodeBody(r, &body); e != nil {
		return Response{}, e
	}
	if !body.Name.has() {
		return Response{}, invalidForm("name", "BASE_TYPE_REQUIRED", "This field is required")
	}
	if !body.EventType.has() {
		return Response{}, invalidForm("event_type", "BASE_TYPE_REQUIRED", "This field is required")
	}
	if !body.TriggerType.has() {
		return Response{}, invalidForm("trigger_type", "BASE_TYPE_REQUIRED", "This field is required")
	}
	if !body.Actions.has() {
		return Response{}, invalidForm("actions", "BASE_TYPE_REQUIRED", "This field is required")
	}
	d := ruleDraft{name: body.Name.V, eventType: body.EventType.V, triggerType: body.TriggerType.V,
		metadata: body.TriggerMetadata.V, actions: body.Actions.V, enabled: body.Enabled.V,
		exemptRoles: body.ExemptRoles.V, exemptChannels: body.ExemptChannels.V}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	if e := s.require(g, s.botID, PermManageGuild); e != nil {
		return Response{}, e
	}
	if e := s.checkRule(g, d, 0); e != nil {
		return Response{}, e
	}
	rule := &AutoModRule{ID: s.newID(), GuildID: g.ID, CreatorID: s.botID}
	storeRule(rule, d)
	g.AutoModRules[rule.ID] = rule
	s.dispatch(g.ID, "AUTO_MODERATION_RULE_CREATE", IntentAutoModerationConfiguration, copyRule(rule))
	s.audit(g, AuditAutoModRuleCreate, s.botID, rule.ID, r.Reason, []auditChange{
		{Key: "name", New: rule.Name}, {Key: "event_type", New: rule.EventType},
		{Key: "trigger_type", New: rule.TriggerType}, {Key: "enabled", New: rule.Enabled},
	}, nil)
	return Response{Body: copyRule(rule)}, nil
}

func (s *Server) handleUpdateAutoModRule(r *Request) (Response, *apiError) {
	var body autoModBody
	if e := decodeBody(r, &body); e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, rule, e := s.ruleFor(r)
	if e != nil {
		return Response{}, e
	}
	if body.TriggerType.has() && body.TriggerType.V != rule.TriggerType {
		return Response{}, invalidForm("trigger_type", "AUTO_MODERATION_TRIGGER_TYPE_IMMUTABLE", "Trigger type cannot be changed.")
	}
	d := draftOf(rule)
	if body.Name.Set {
		d.name = body.Name.V
	}
	if body.EventType.has() {
		d.eventType = body.EventType.V
	}
	if body.TriggerMetadata.Set {
		d.metadata = body.TriggerMetadata.V
	}
	if body.Actions.has() {
		d.actions = body.Actions.V
	}
	if body.Enabled.has() {
		d.enabled = body.Enabled.V
	}
	if body.ExemptRoles.Set {
		d.exemptRoles = body.ExemptRoles.V
	}
	if body.ExemptChannels.Set {
		d.exemptChannels = body.ExemptChannels.V
	}
	if e := s.checkRule(g, d, rule.ID); e != nil {
		return Response{}, e
	}
	before := copyRule(rule)
	storeRule(rule, d)
	after := copyRule(rule)
	changes := ruleChanges(before, after)
	if len(changes) > 0 {
		s.dispatch(g.ID, "AUTO_MODERATION_RULE_UPDATE", IntentAutoModerationConfiguration, after)
		s.audit(g, AuditAutoModRuleUpdate, s.botID, rule.ID, r.Reason, changes, nil)
	}
	return Response{Body: after}, nil
}

func (s *Server) handleDeleteAutoModRule(r *Request) (Response, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, rule, e := s.ruleFor(r)
	if e != nil {
		return Response{}, e
	}
	delete(g.AutoModRules, rule.ID)
	s.dispatch(g.ID, "AUTO_MODERATION_RULE_DELETE", IntentAutoModerationConfiguration, copyRule(rule))
	s.audit(g, AuditAutoModRuleDelete, s.botID, rule.ID, r.Reason, []auditChange{
		{Key: "name", Old: rule.Name}, {Key: "trigger_type", Old: rule.TriggerType},
	}, nil)
	return Response{Status: http.StatusNoContent}, nil
}

// checkRule applies the rules of auto-moderation.mdx that the spec cannot express (or
// expresses differently): per-guild maxima, which metadata and actions fit which trigger,
// limits per field, and references to roles and channels of the guild. self is the rule
// being modified (0 on create).
func (s *Server) checkRule(g *Guild, d ruleDraft, self ID) *apiError {
	if n := runeLen(d.name); n < 1 || n > 100 {
		return invalidForm("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
	}
	max, ok := rulesPerGuild(d.triggerType)
	if !ok {
		return invalidForm("trigger_type", "BASE_TYPE_CHOICES", "Value must be one of "+quoteList(1, 3, 4, 5, 6)+".")
	}
	if d.eventType != eventMessageSend && d.eventType != eventMemberUpdate {
		return invalidForm("event_type", "BASE_TYPE_CHOICES", "Value must be one of "+quoteList(1, 2)+".")
	}
	// Member-profile rules look at profiles, every other trigger at messages.
	if (d.triggerType == triggerMemberProfile) != (d.eventType == eventMemberUpdate) {
		return invalidForm("event_type", "AUTO_MODERATION_INVALID_EVENT_TYPE", "Event type is not valid for this trigger type.")
	}
	count := 0
	for _, r := range g.AutoModRules {
		if r.TriggerType == d.triggerType && r.ID != self {
			count++
		}
	}
	if count >= max {
		return invalidForm("trigger_type", "AUTO_MODERATION_MAX_RULES_OF_TYPE_EXCEEDED",
			fmt.Sprintf("Maximum number of rules of this type reached (%d).", max))
	}
	if e := checkTriggerMetadata(d.triggerType, d.metadata); e != nil {
		return e
	}
	if len(d.actions) < 1 || len(d.actions) > 5 {
		return invalidForm("actions", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
	}
	for i, a := range d.actions {
		if e := s.checkAction(g, d.triggerType, i, a); e != nil {
			return e
		}
	}
	if len(d.exemptRoles) > 20 {
		return invalidForm("exempt_roles", "BASE_TYPE_MAX_LENGTH", "Must be 20 or fewer in length.")
	}
	for i, id := range d.exemptRoles {
		if _, ok := g.Roles[id]; !ok {
			return invalidForm(fmt.Sprintf("exempt_roles.%d", i), "AUTO_MODERATION_INVALID_EXEMPT_ROLE", "Unknown role.")
		}
	}
	if len(d.exemptChannels) > 50 {
		return invalidForm("exempt_channels", "BASE_TYPE_MAX_LENGTH", "Must be 50 or fewer in length.")
	}
	for i, id := range d.exemptChannels {
		if _, ok := g.Channels[id]; !ok {
			return invalidForm(fmt.Sprintf("exempt_channels.%d", i), "AUTO_MODERATION_INVALID_EXEMPT_CHANNEL", "Unknown channel.")
		}
	}
	return nil
}

func checkTriggerMetadata(trigger int, m triggerMetadata) *apiError {
	list := func(field string, items []string, maxItems, maxLen int) *apiError {
		if len(items) > maxItems {
			return invalidForm("trigger_metadata."+field, "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", maxItems))
		}
		for i, v := range items {
			if n := runeLen(v); n < 1 || n > maxLen {
				return invalidForm(fmt.Sprintf("trigger_metadata.%s.%d", field, i), "BASE_TYPE_BAD_LENGTH",
					fmt.Sprintf("Must be between 1 and %d in length.", maxLen))
			}
		}
		return nil
	}
	switch trigger {
	case triggerKeyword, triggerMemberProfile:
		if e := list("keyword_filter", m.KeywordFilter, 1000, 60); e != nil {
			return e
		}
		if e := list("regex_patterns", m.RegexPatterns, 10, 260); e != nil {
			return e
		}
		return list("allow_list", m.AllowList, 100, 60)
	case triggerKeywordPreset:
		for i, p := range m.Presets {
			if p < 1 || p > 3 {
				return invalidForm(fmt.Sprintf("trigger_metadata.presets.%d", i), "BASE_TYPE_CHOICES", "Value must be one of "+quoteList(1, 2, 3)+".")
			}
		}
		return list("allow_list", m.AllowList, 1000, 60)
	case triggerMentionSpam:
		if m.MentionTotalLimit != nil && (*m.MentionTotalLimit < 0 || *m.MentionTotalLimit > 50) {
			return invalidForm("trigger_metadata.mention_total_limit", "NUMBER_TYPE_MAX", "int value should be less than or equal to 50.")
		}
	}
	return nil
}

func (s *Server) checkAction(g *Guild, trigger, i int, a autoModAction) *apiError {
	field := func(name string) string { return fmt.Sprintf("actions.%d.%s", i, name) }
	md := a.Metadata
	if md == nil {
		md = &autoModActionMetadata{}
	}
	switch a.Type {
	case actionBlockMessage:
		if md.CustomMessage != nil && runeLen(*md.CustomMessage) > 150 {
			return invalidForm(field("metadata.custom_message"), "BASE_TYPE_MAX_LENGTH", "Must be 150 or fewer in length.")
		}
	case actionSendAlertMessage:
		c, ok := g.Channels[md.ChannelID]
		if !ok || (c.Type != ChannelGuildText && c.Type != channelGuildAnnouncement) {
			return invalidForm(field("metadata.channel_id"), "AUTO_MODERATION_INVALID_ALERT_CHANNEL", "Unknown channel.")
		}
	case actionTimeout:
		if trigger != triggerKeyword && trigger != triggerMentionSpam {
			return invalidForm(field("type"), "AUTO_MODERATION_INVALID_ACTION_TYPE", "Timeout actions are only allowed for keyword and mention spam rules.")
		}
		if md.DurationSeconds == nil || *md.DurationSeconds < 0 || *md.DurationSeconds > 2419200 {
			return invalidForm(field("metadata.duration_seconds"), "NUMBER_TYPE_MAX", "int value should be less than or equal to 2419200.")
		}
		if e := s.require(g, s.botID, PermModerateMembers); e != nil {
			return e
		}
	case actionBlockMemberInteraction:
	default:
		return invalidForm(field("type"), "BASE_TYPE_CHOICES", "Value must be one of "+quoteList(1, 2, 3, 4)+".")
	}
	return nil
}

// storeRule writes a checked draft into a rule, keeping only the metadata each trigger and
// action type has, as Discord returns it.
func storeRule(rule *AutoModRule, d ruleDraft) {
	rule.Name = d.name
	rule.EventType = d.eventType
	rule.TriggerType = d.triggerType
	rule.Enabled = d.enabled
	rule.ExemptRoles = append([]ID{}, d.exemptRoles...)
	rule.ExemptChannels = append([]ID{}, d.exemptChannels...)
	strs := func(v []string) []string { return append([]string{}, v...) }
	var md map[string]any
	switch d.triggerType {
	case triggerKeyword, triggerMemberProfile:
		md = map[string]any{"keyword_filter": strs(d.metadata.KeywordFilter), "regex_patterns": strs(d.metadata.RegexPatterns),
			"allow_list": strs(d.metadata.AllowList)}
	case triggerKeywordPreset:
		md = map[string]any{"presets": append([]int{}, d.metadata.Presets...), "allow_list": strs(d.metadata.AllowList)}
	case triggerMentionSpam:
		limit, raid := 0, false
		if d.metadata.MentionTotalLimit != nil {
			limit = *d.metadata.MentionTotalLimit
		}
		if d.metadata.MentionRaidProtectionEnabled != nil {
			raid = *d.metadata.MentionRaidProtectionEnabled
		}
		md = map[string]any{"mention_total_limit": limit, "mention_raid_protection_enabled": raid}
	default:
		md = map[string]any{}
	}
	rule.TriggerMetadata, _ = json.Marshal(md)
	actions := make([]map[string]any, 0, len(d.actions))
	for _, a := range d.actions {
		meta := map[string]any{}
		if a.Metadata != nil {
			switch a.Type {
			case actionBlockMessage:
				if a.Metadata.CustomMessage != nil {
					meta["custom_message"] = *a.Metadata.CustomMessage
				}
			case actionSendAlertMessage:
				meta["channel_id"] = a.Metadata.ChannelID
			case actionTimeout:
				meta["duration_seconds"] = *a.Metadata.DurationSeconds
			}
		}
		actions = append(actions, map[string]any{"type": a.Type, "metadata": meta})
	}
	rule.Actions, _ = json.Marshal(actions)
}

// draftOf reads a stored rule back as a draft, for modify.
func draftOf(rule *AutoModRule) ruleDraft {
	d := ruleDraft{name: rule.Name, eventType: rule.EventType, triggerType: rule.TriggerType, enabled: rule.Enabled,
		exemptRoles: append([]ID{}, rule.ExemptRoles...), exemptChannels: append([]ID{}, rule.ExemptChannels...)}
	_ = json.Unmarshal(rule.TriggerMetadata, &d.metadata)
	_ = json.Unmarshal(rule.Actions, &d.actions)
	return d
}

// copyRule is a rule that shares nothing with the state.
func copyRule(r *AutoModRule) AutoModRule {
	c := *r
	c.TriggerMetadata = append(json.RawMessage{}, r.TriggerMetadata...)
	c.Actions = append(json.RawMessage{}, r.Actions...)
	c.ExemptRoles = append([]ID{}, r.ExemptRoles...)
	c.ExemptChannels = append([]ID{}, r.ExemptChannels...)
	return c
}

// ruleChanges lists what a modify changed, for the audit log.
func ruleChanges(before, after AutoModRule) []auditChange {
	var out []auditChange
	add := func(key string, old, next any) {
		a, _ := json.Marshal(old)
		b, _ := json.Marshal(next)
		if !bytes.Equal(a, b) {
			out = append(out, auditChange{Key: key, Old: old, New: next})
		}
	}
	add("name", before.Name, after.Name)
	add("event_type", before.EventType, after.EventType)
	add("trigger_metadata", before.TriggerMetadata, after.TriggerMetadata)
	add("actions", before.Actions, after.Actions)
	add("enabled", before.Enabled, after.Enabled)
	add("exempt_roles", idStrings(before.ExemptRoles), idStrings(after.ExemptRoles))
	add("exempt_channels", idStrings(before.ExemptChannels), idStrings(after.ExemptChannels))
	return out
}
