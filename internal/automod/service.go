package automod

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
)

// Service manages a guild's Discord AutoMod rules over discord.AutoMod. Every change validates
// the whole resulting rule before the first call to Discord, so a refused change changes
// nothing, and returns what changed in words, for the moderator and the audit-log channel.
// The /automod commands are thin layers over it.
type Service struct {
	port discord.AutoMod
	// report, when set, posts each change's summary (who, what) to the guild's audit log.
	report func(ctx context.Context, guildID discord.GuildID, text string)
	// exec, when set, runs every Discord call (retries on 429 and 5xx, a breaker).
	exec *executor.Executor
	// gavel, when set, holds the guild's gavel-enforced rules, which Test evaluates too.
	gavel *Store
}

// WithGavelRules makes Test evaluate the guild's stored gavel-enforced rules as well as
// Discord's.
func WithGavelRules(st *Store) ServiceOption {
	return func(s *Service) { s.gavel = st }
}

// WithExecutor runs every Discord call through exec, which waits out rate limits and
// retries what failed on Discord's side.
func WithExecutor(exec *executor.Executor) ServiceOption {
	return func(s *Service) { s.exec = exec }
}

func (s *Service) call(ctx context.Context, op executor.Op, fn func(ctx context.Context) error) error {
	if s.exec == nil {
		return fn(ctx)
	}
	return s.exec.Do(ctx, op, fn)
}

// ServiceOption configures a Service.
type ServiceOption func(*Service)

// WithReporter makes every change also call report with its summary (the app posts it to the
// guild's audit-log channel). A reporter never fails a change: it logs its own errors.
func WithReporter(report func(ctx context.Context, guildID discord.GuildID, text string)) ServiceOption {
	return func(s *Service) { s.report = report }
}

// NewService returns a Service over port.
func NewService(port discord.AutoMod, opts ...ServiceOption) *Service {
	s := &Service{port: port}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ErrNoRule is matched by the error of a rule that cannot be found by name or id.
var ErrNoRule = errors.New("no such automod rule")

type lookupError struct{ msg string }

func (e *lookupError) Error() string        { return e.msg }
func (e *lookupError) Is(target error) bool { return target == ErrNoRule }

// Outcome is a change made to a rule.
type Outcome struct {
	// Rule is the rule as Discord has it after the change (before it, for a deletion).
	Rule Rule
	// Changes are the fields that changed (for a creation, the rule's main fields).
	Changes []FieldChange
	// Summary says in one paragraph who changed which rule and how, for the audit log.
	Summary string
}

// List returns a guild's rules as Discord has them, in Discord's order.
func (s *Service) List(ctx context.Context, guildID discord.GuildID) ([]Rule, error) {
	var raws []json.RawMessage
	err := s.call(ctx, executor.OpRead, func(ctx context.Context) (err error) {
		raws, err = s.port.AutoModRules(ctx, guildID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list automod rules of guild %d: %w", guildID, err)
	}
	out := make([]Rule, 0, len(raws))
	for _, raw := range raws {
		r, err := DecodeRule(raw)
		if err != nil {
			return nil, fmt.Errorf("list automod rules of guild %d: %w", guildID, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Show returns one rule, named by its name (exactly, then ignoring case) or its id.
func (s *Service) Show(ctx context.Context, guildID discord.GuildID, nameOrID string) (Rule, error) {
	rules, err := s.List(ctx, guildID)
	if err != nil {
		return Rule{}, err
	}
	return Find(rules, nameOrID)
}

// Find picks a rule by its id, its exact name, or its name ignoring case. A name several
// rules share is refused with their ids.
func Find(rules []Rule, nameOrID string) (Rule, error) {
	key := strings.TrimSpace(nameOrID)
	if id, err := strconv.ParseInt(key, 10, 64); err == nil {
		for _, r := range rules {
			if r.ID == id {
				return r, nil
			}
		}
	}
	for _, match := range []func(string) bool{
		func(n string) bool { return n == key },
		func(n string) bool { return strings.EqualFold(n, key) },
	} {
		var found []Rule
		for _, r := range rules {
			if match(r.Name) {
				found = append(found, r)
			}
		}
		switch len(found) {
		case 1:
			return found[0], nil
		case 0:
			continue
		default:
			return Rule{}, &lookupError{msg: fmt.Sprintf("%d AutoMod rules are named %q (ids %s); give the id of the one you mean", len(found), key, strings.Join(idTexts(ruleIDs(found)), ", "))}
		}
	}
	names := make([]string, len(rules))
	for i, r := range rules {
		names[i] = strconv.Quote(r.Name)
	}
	have := "the server has no AutoMod rules"
	if len(names) > 0 {
		have = "the server's rules are " + strings.Join(names, ", ")
	}
	return Rule{}, &lookupError{msg: fmt.Sprintf("no AutoMod rule is named %q or has that id; %s", key, have)}
}

// nameFree refuses a name another of the guild's rules has, Discord's or gavel-enforced,
// ignoring letter case: Discord accepts two rules of one name, but a rules file refuses
// them (gavel automod export, plan and apply name rules by name), and a command naming the
// rule could not tell them apart.
func (s *Service) nameFree(ctx context.Context, guildID discord.GuildID, rules []Rule, r Rule) error {
	for _, other := range rules {
		if other.ID != r.ID && strings.EqualFold(other.Name, r.Name) {
			return &ValidationError{Rule: ruleLabel(r), Problems: []Problem{{Field: "name", Message: fmt.Sprintf(
				"AutoMod rule %d is already named %q; accepted: a name no other rule of this server has, in any letter case (rename or delete that rule first)",
				other.ID, other.Name)}}}
		}
	}
	if s.gavel == nil {
		return nil
	}
	gavelRules, _, err := s.gavel.GavelRules(ctx, guildID)
	if err != nil {
		return fmt.Errorf("gavel-enforced rules of guild %d: %w", guildID, err)
	}
	for _, g := range gavelRules {
		if strings.EqualFold(g.Name, r.Name) {
			return &ValidationError{Rule: ruleLabel(r), Problems: []Problem{{Field: "name", Message: fmt.Sprintf(
				"a gavel-enforced rule is already named %q; accepted: a name no other rule of this server has, in any letter case", g.Name)}}}
		}
	}
	return nil
}

// Actor is who makes a change, for the audit log.
type Actor struct {
	ID   int64
	Name string
}

func (a Actor) String() string {
	if a.ID == 0 {
		return a.Name
	}
	return fmt.Sprintf("%s (<@%d>)", a.Name, a.ID)
}

// Create validates r against the guild's rules and creates it.
func (s *Service) Create(ctx context.Context, guildID discord.GuildID, actor Actor, r Rule) (Outcome, error) {
	rules, err := s.List(ctx, guildID)
	if err != nil {
		return Outcome{}, err
	}
	r.ID, r.GuildID, r.CreatorID = 0, guildID, 0
	if r.EventType == 0 {
		r.EventType = EventMessageSend
		if r.TriggerType == TriggerMemberProfile {
			r.EventType = EventMemberUpdate
		}
	}
	if err := Validate(r, rules); err != nil {
		return Outcome{}, err
	}
	if err := s.nameFree(ctx, guildID, rules, r); err != nil {
		return Outcome{}, err
	}
	created, err := s.create(ctx, guildID, actor, r)
	if err != nil {
		return Outcome{}, err
	}
	changes := Diff(Rule{}, created)
	out := Outcome{Rule: created, Changes: changes,
		Summary: fmt.Sprintf("%s created AutoMod rule %q (id %d): %s.", actor, created.Name, created.ID, describeRule(created))}
	s.notify(ctx, guildID, out.Summary)
	return out, nil
}

func (s *Service) create(ctx context.Context, guildID discord.GuildID, actor Actor, r Rule) (Rule, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return Rule{}, err
	}
	var raw json.RawMessage
	err = s.call(ctx, executor.OpAutoMod, func(ctx context.Context) (err error) {
		raw, err = s.port.CreateAutoModRule(ctx, guildID, body, auditReason(actor))
		return err
	})
	if err != nil {
		return Rule{}, fmt.Errorf("create automod rule %q: %w", r.Name, err)
	}
	created, err := DecodeRule(raw)
	if err != nil {
		return Rule{}, fmt.Errorf("create automod rule %q: %w", r.Name, err)
	}
	return created, nil
}

// RuleEdit is a change to some fields of a rule; nil fields stay as they are.
type RuleEdit struct {
	Name           *string
	Enabled        *bool
	Keywords       *[]string
	Regexes        *[]string
	AllowList      *[]string
	Presets        *Presets
	MentionLimit   *int
	MentionRaid    *bool
	Actions        *[]Action
	ExemptRoles    *[]discord.RoleID
	ExemptChannels *[]discord.ChannelID
}

func (e RuleEdit) apply(r *Rule) {
	if e.Name != nil {
		r.Name = *e.Name
	}
	if e.Enabled != nil {
		r.Enabled = *e.Enabled
	}
	m := &r.TriggerMetadata
	if e.Keywords != nil {
		m.KeywordFilter = slices.Clone(*e.Keywords)
	}
	if e.Regexes != nil {
		m.RegexPatterns = slices.Clone(*e.Regexes)
	}
	if e.AllowList != nil {
		m.AllowList = slices.Clone(*e.AllowList)
	}
	if e.Presets != nil {
		m.Presets = *e.Presets
	}
	if e.MentionLimit != nil {
		m.MentionTotalLimit = *e.MentionLimit
	}
	if e.MentionRaid != nil {
		m.MentionRaidProtectionEnabled = *e.MentionRaid
	}
	if e.Actions != nil {
		r.Actions = slices.Clone(*e.Actions)
	}
	if e.ExemptRoles != nil {
		r.ExemptRoles = slices.Clone(*e.ExemptRoles)
	}
	if e.ExemptChannels != nil {
		r.ExemptChannels = slices.Clone(*e.ExemptChannels)
	}
}

// Edit changes the fields of a rule that edit sets, after validating the whole rule as it
// would be.
func (s *Service) Edit(ctx context.Context, guildID discord.GuildID, actor Actor, nameOrID string, edit RuleEdit) (Outcome, error) {
	return s.change(ctx, guildID, actor, nameOrID, func(r *Rule) error { edit.apply(r); return nil })
}

// Enable turns a rule on.
func (s *Service) Enable(ctx context.Context, guildID discord.GuildID, actor Actor, nameOrID string) (Outcome, error) {
	on := true
	return s.Edit(ctx, guildID, actor, nameOrID, RuleEdit{Enabled: &on})
}

// Disable turns a rule off.
func (s *Service) Disable(ctx context.Context, guildID discord.GuildID, actor Actor, nameOrID string) (Outcome, error) {
	off := false
	return s.Edit(ctx, guildID, actor, nameOrID, RuleEdit{Enabled: &off})
}

// KeywordList names the list of a rule that AddKeywords and RemoveKeywords change.
type KeywordList string

// The lists keywords can be added to.
const (
	ListKeywords KeywordList = "keywords"
	ListAllow    KeywordList = "allow"
	ListRegex    KeywordList = "regex"
)

func (l KeywordList) of(r *Rule) (*[]string, error) {
	switch l {
	case ListKeywords, "":
		return &r.TriggerMetadata.KeywordFilter, nil
	case ListAllow:
		return &r.TriggerMetadata.AllowList, nil
	case ListRegex:
		return &r.TriggerMetadata.RegexPatterns, nil
	}
	return nil, fmt.Errorf("%q is not a keyword list; accepted: keywords, allow, regex", string(l))
}

// AddKeywords adds entries to one of a rule's lists; entries it has already are skipped.
func (s *Service) AddKeywords(ctx context.Context, guildID discord.GuildID, actor Actor, nameOrID string, list KeywordList, entries []string) (Outcome, error) {
	return s.change(ctx, guildID, actor, nameOrID, func(r *Rule) error {
		dst, err := list.of(r)
		if err != nil {
			return err
		}
		added := 0
		for _, e := range entries {
			if !slices.Contains(*dst, e) {
				*dst = append(*dst, e)
				added++
			}
		}
		if added == 0 {
			return fmt.Errorf("rule %q already has every one of %s in its %s; nothing changed", r.Name, listed(entries), list)
		}
		return nil
	})
}

// RemoveKeywords takes entries off one of a rule's lists; an entry the list lacks is refused,
// so a typo does not pass for a removal.
func (s *Service) RemoveKeywords(ctx context.Context, guildID discord.GuildID, actor Actor, nameOrID string, list KeywordList, entries []string) (Outcome, error) {
	return s.change(ctx, guildID, actor, nameOrID, func(r *Rule) error {
		dst, err := list.of(r)
		if err != nil {
			return err
		}
		var missing []string
		for _, e := range entries {
			if !slices.Contains(*dst, e) {
				missing = append(missing, e)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("rule %q has no %s in its %s; nothing changed", r.Name, listed(missing), list)
		}
		*dst = slices.DeleteFunc(*dst, func(s string) bool { return slices.Contains(entries, s) })
		return nil
	})
}

// change reads the rule, applies fn to a copy, validates the result against the guild and
// sends it.
func (s *Service) change(ctx context.Context, guildID discord.GuildID, actor Actor, nameOrID string, fn func(*Rule) error) (Outcome, error) {
	rules, err := s.List(ctx, guildID)
	if err != nil {
		return Outcome{}, err
	}
	cur, err := Find(rules, nameOrID)
	if err != nil {
		return Outcome{}, err
	}
	next := cloneRule(cur)
	if err := fn(&next); err != nil {
		return Outcome{}, err
	}
	changes := Diff(cur, next)
	if len(changes) == 0 {
		return Outcome{}, fmt.Errorf("rule %q already is as asked; nothing changed", cur.Name)
	}
	if err := Validate(next, rules); err != nil {
		return Outcome{}, err
	}
	if next.Name != cur.Name {
		if err := s.nameFree(ctx, guildID, rules, next); err != nil {
			return Outcome{}, err
		}
	}
	updated, err := s.modify(ctx, guildID, actor, next)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{Rule: updated, Changes: Diff(cur, updated)}
	out.Summary = fmt.Sprintf("%s changed AutoMod rule %q (id %d): %s.", actor, updated.Name, updated.ID, joinChanges(out.Changes))
	s.notify(ctx, guildID, out.Summary)
	return out, nil
}

// modify sends the whole rule (every field but its id and trigger type, which Discord keeps)
// as the patch, so that what Discord stores is exactly what was validated.
func (s *Service) modify(ctx context.Context, guildID discord.GuildID, actor Actor, r Rule) (Rule, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return Rule{}, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return Rule{}, fmt.Errorf("modify automod rule %q: %w", r.Name, err)
	}
	for _, k := range []string{"id", "guild_id", "creator_id", "trigger_type"} {
		delete(fields, k)
	}
	patch, err := json.Marshal(fields)
	if err != nil {
		return Rule{}, err
	}
	var raw json.RawMessage
	err = s.call(ctx, executor.OpAutoMod, func(ctx context.Context) (err error) {
		raw, err = s.port.ModifyAutoModRule(ctx, guildID, r.ID, patch, auditReason(actor))
		return err
	})
	if err != nil {
		return Rule{}, fmt.Errorf("modify automod rule %q (id %d): %w", r.Name, r.ID, err)
	}
	updated, err := DecodeRule(raw)
	if err != nil {
		return Rule{}, fmt.Errorf("modify automod rule %q (id %d): %w", r.Name, r.ID, err)
	}
	return updated, nil
}

// Delete deletes a rule.
func (s *Service) Delete(ctx context.Context, guildID discord.GuildID, actor Actor, nameOrID string) (Outcome, error) {
	rules, err := s.List(ctx, guildID)
	if err != nil {
		return Outcome{}, err
	}
	cur, err := Find(rules, nameOrID)
	if err != nil {
		return Outcome{}, err
	}
	if err := s.deleteRule(ctx, guildID, actor, cur.ID); err != nil {
		return Outcome{}, fmt.Errorf("delete automod rule %q (id %d): %w", cur.Name, cur.ID, err)
	}
	out := Outcome{Rule: cur, Summary: fmt.Sprintf("%s deleted AutoMod rule %q (id %d), which was: %s.", actor, cur.Name, cur.ID, describeRule(cur))}
	s.notify(ctx, guildID, out.Summary)
	return out, nil
}

func (s *Service) deleteRule(ctx context.Context, guildID discord.GuildID, actor Actor, ruleID int64) error {
	return s.call(ctx, executor.OpAutoMod, func(ctx context.Context) error {
		err := s.port.DeleteAutoModRule(ctx, guildID, ruleID, auditReason(actor))
		if discord.IsCode(err, discord.CodeUnknownAutoModRule) {
			return nil // deleted already (a retry after a lost answer)
		}
		return err
	})
}

func (s *Service) notify(ctx context.Context, guildID discord.GuildID, text string) {
	if s.report != nil {
		s.report(context.WithoutCancel(ctx), guildID, text)
	}
}

// auditReason is what Discord's audit log shows for a change gavel makes for someone.
func auditReason(a Actor) string {
	r := "gavel automod, for " + a.Name
	if a.ID != 0 {
		r += fmt.Sprintf(" (%d)", a.ID)
	}
	if utf8.RuneCountInString(r) > 512 {
		r = string([]rune(r)[:512])
	}
	return r
}

func joinChanges(cs []FieldChange) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, "; ")
}

// describeRule says in a line what a rule is.
func describeRule(r Rule) string {
	state := "enabled"
	if !r.Enabled {
		state = "disabled"
	}
	parts := []string{TriggerName(r.TriggerType), state}
	m := r.TriggerMetadata
	if n := len(m.KeywordFilter); n > 0 {
		parts = append(parts, plural(n, "keyword"))
	}
	if n := len(m.RegexPatterns); n > 0 {
		parts = append(parts, plural(n, "regex"))
	}
	if n := len(m.AllowList); n > 0 {
		parts = append(parts, fmt.Sprintf("%d allowed", n))
	}
	if m.Presets != 0 {
		parts = append(parts, "presets "+m.Presets.String())
	}
	if r.TriggerType == TriggerMentionSpam {
		parts = append(parts, fmt.Sprintf("mention limit %d", m.MentionTotalLimit))
	}
	parts = append(parts, "actions: "+DescribeActions(r.Actions))
	return strings.Join(parts, ", ")
}

func plural(n int, word string) string {
	switch {
	case n == 1:
		return "1 " + word
	case strings.HasSuffix(word, "x"):
		return fmt.Sprintf("%d %ses", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// DescribeRule says in a line what a rule is, for listings.
func DescribeRule(r Rule) string { return describeRule(r) }

func cloneRule(r Rule) Rule {
	r.TriggerMetadata.KeywordFilter = slices.Clone(r.TriggerMetadata.KeywordFilter)
	r.TriggerMetadata.RegexPatterns = slices.Clone(r.TriggerMetadata.RegexPatterns)
	r.TriggerMetadata.AllowList = slices.Clone(r.TriggerMetadata.AllowList)
	r.Actions = slices.Clone(r.Actions)
	r.ExemptRoles = slices.Clone(r.ExemptRoles)
	r.ExemptChannels = slices.Clone(r.ExemptChannels)
	return r
}

// Applied is what ApplyPlan did.
type Applied struct {
	// Done are the changes made, in order.
	Done []RuleChange
}

// GavelRuleStore keeps a guild's gavel-enforced rules (package automod's Store).
type GavelRuleStore interface {
	ReplaceGavelRules(ctx context.Context, guildID discord.GuildID, rules []GavelRule) error
}

// ApplyPlan carries a plan out: Discord's deletions, updates and creations in the plan's
// order, then the gavel-enforced rules stored at once (as one replacement). The plan was
// validated by MakePlan; a failure stops at the change that failed, and the error says
// which changes were made before it.
func (s *Service) ApplyPlan(ctx context.Context, guildID discord.GuildID, actor Actor, plan Plan, gavel GavelRuleStore, gavelRules []GavelRule) (Applied, error) {
	var done Applied
	fail := func(c RuleChange, err error) (Applied, error) {
		made := "no change was made before it"
		if len(done.Done) > 0 {
			names := make([]string, len(done.Done))
			for i, d := range done.Done {
				names[i] = fmt.Sprintf("%s %q", d.Kind, d.Name)
			}
			made = "made before it: " + strings.Join(names, ", ")
		}
		return done, fmt.Errorf("%s rule %q: %w (%s)", c.Kind, c.Name, err, made)
	}
	gavelChanged := false
	for _, c := range plan.Changes {
		if c.Gavel {
			gavelChanged = gavelChanged || c.Kind != Unchanged
			continue
		}
		switch c.Kind {
		case Delete:
			if err := s.deleteRule(ctx, guildID, actor, c.Current.ID); err != nil {
				return fail(c, err)
			}
		case Update:
			if _, err := s.modify(ctx, guildID, actor, c.Desired); err != nil {
				return fail(c, err)
			}
		case Create:
			created, err := s.create(ctx, guildID, actor, c.Desired)
			if err != nil {
				return fail(c, err)
			}
			c.Desired = created
		default:
			continue
		}
		done.Done = append(done.Done, c)
	}
	if gavelChanged {
		if err := gavel.ReplaceGavelRules(ctx, guildID, gavelRules); err != nil {
			return fail(RuleChange{Kind: Update, Gavel: true, Name: "(gavel-enforced rules)"}, err)
		}
		for _, c := range plan.Changes {
			if c.Gavel && c.Kind != Unchanged {
				done.Done = append(done.Done, c)
			}
		}
	}
	if len(done.Done) > 0 {
		lines := make([]string, len(done.Done))
		for i, c := range done.Done {
			lines[i] = c.String()
		}
		s.notify(ctx, guildID, fmt.Sprintf("%s applied a rules file:\n%s", actor, strings.Join(lines, "\n")))
	}
	return done, nil
}
