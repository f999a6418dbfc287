package automod

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/gavelbot/gavel/internal/discord"
)

// Message is what a message rule looks at when a member sends or edits a message.
type Message struct {
	Content     string
	AuthorID    discord.UserID
	AuthorRoles []discord.RoleID
	ChannelID   discord.ChannelID
	// ParentChannelIDs are the channel's ancestors: its category, and for a thread its
	// parent channel (and that channel's category). A rule exempting any of them does not
	// apply, as Discord exempts the channels of an exempt category.
	ParentChannelIDs []discord.ChannelID
	// MentionedUsers and MentionedRoles are the users and roles the message mentions
	// (Discord's mentions and mention_roles; MentionsIn reads them from content). Each
	// distinct id counts once.
	MentionedUsers []discord.UserID
	MentionedRoles []discord.RoleID
}

// Profile is what a member-profile rule looks at when a member joins or edits their
// profile.
type Profile struct {
	UserID discord.UserID
	Roles  []discord.RoleID
	// Fields are the profile texts Discord checks (username, display name, server
	// nickname), each matched on its own: a keyword never spans two fields.
	Fields []string
}

// Match is a rule that triggers, with what triggered it.
type Match struct {
	RuleID      int64
	RuleName    string
	TriggerType TriggerType
	// Keyword is the keyword_filter entry that matched, as written in the rule, or "".
	Keyword string
	// Regex is the regex_patterns entry that matched, as written in the rule, or "".
	Regex string
	// MatchedContent is the text that matched, as it appears in the content; [Start, End)
	// are its byte offsets in Message.Content or in Profile.Fields[Field].
	MatchedContent string
	Start, End     int
	Field          int
	// MentionCount is the number of distinct user and role mentions (MENTION_SPAM).
	MentionCount int
	// Actions are the rule's actions, for the caller to carry out or to show.
	Actions []Action
}

// Unevaluated is a rule, or a part of one, the local engine cannot evaluate.
type Unevaluated struct {
	RuleID   int64
	RuleName string
	Reason   string
}

// Option changes how Compile builds an Engine.
type Option func(*options)

type options struct{ matcher matcherBuilder }

// WithNFA builds the keyword automaton as an NFA instead of a DFA: it retains about half the
// memory and takes several times longer per message (docs/benchmarks.md has the figures).
// For guilds with many keywords and few messages.
func WithNFA() Option { return func(o *options) { o.matcher = buildAhoCorasick(false) } }

// withMatcher swaps the multi-keyword matcher (tests use a naive one).
func withMatcher(b matcherBuilder) Option { return func(o *options) { o.matcher = b } }

// Engine evaluates one guild's rules locally. It is immutable and safe for concurrent use.
type Engine struct {
	rules       []engineRule
	matcher     multiMatcher // nil when no rule has a keyword or allow-list entry
	cores       [][]coreEntry
	unevaluated []Unevaluated
	// regexes are the rules' regexes, each distinct pattern compiled once.
	regexes []*Regex
	// literals finds the regexes' required literals in the folded message; literalOwners
	// maps each of its patterns to the regexes that require it.
	literals      multiMatcher
	literalOwners [][]int32
	// charSets are the distinct character sets the regexes need (see prefilter.go), each
	// counted at most once per message up to the largest number a regex needs; charSetOf
	// maps each regex to its set, or -1.
	charSets     []*runeSet
	charSetLimit []int
	charSetOf    []int32
	scratch      sync.Pool // *scratch
}

type engineRule struct {
	id       int64
	name     string
	trigger  TriggerType
	event    EventType
	enabled  bool
	actions  []Action
	keywords []keyword
	allow    []keyword
	regexes  []int32 // indices into Engine.regexes
	// hasCores is true when the rule has keywords or allow-list entries in the automaton.
	hasCores       bool
	mentionLimit   int
	exemptRoles    []discord.RoleID
	exemptChannels []discord.ChannelID
}

// coreEntry ties a string in the automaton to a keyword or allow-list entry of a rule.
type coreEntry struct {
	rule, index int32
	allow       bool
}

// Compile builds the engine for one guild's rules: one automaton over the keyword and
// allow-list entries of every keyword and member-profile rule, and the rules' regexes. It
// does not check Discord's limits (a rule gavel enforces itself may exceed them; Validate
// is for rules sent to Discord), only that every entry can be evaluated: a keyword that is
// only wildcards or a regex that is refused is an error, a *ValidationError per rule, joined.
func Compile(rules []Rule, opts ...Option) (*Engine, error) {
	o := options{matcher: buildAhoCorasick(true)}
	for _, opt := range opts {
		opt(&o)
	}
	e := &Engine{}
	e.scratch.New = func() any { return &scratch{} }
	coreIndex := map[string]int{}
	var patterns []string
	addCore := func(core string, entry coreEntry) {
		i, ok := coreIndex[core]
		if !ok {
			i = len(patterns)
			coreIndex[core] = i
			patterns = append(patterns, core)
			e.cores = append(e.cores, nil)
		}
		e.cores[i] = append(e.cores[i], entry)
	}
	regexIndex := map[string]int32{}
	var errs []error
	for ri, r := range rules {
		er := engineRule{
			id: r.ID, name: r.Name, trigger: r.TriggerType, event: r.EventType, enabled: r.Enabled,
			actions:        slices.Clone(r.Actions),
			mentionLimit:   r.TriggerMetadata.MentionTotalLimit,
			exemptRoles:    slices.Clone(r.ExemptRoles),
			exemptChannels: slices.Clone(r.ExemptChannels),
		}
		var ps problems
		if r.TriggerType.usesKeywords() {
			for i, s := range r.TriggerMetadata.KeywordFilter {
				k := parseKeyword(s)
				if k.core == "" {
					ps.add(fmt.Sprintf("trigger_metadata.keyword_filter[%d]", i), "%s is only wildcards; accepted: a word or phrase, with * at its start or end", shown(s))
					continue
				}
				addCore(k.core, coreEntry{rule: int32(ri), index: int32(len(er.keywords))})
				er.keywords = append(er.keywords, k)
			}
			for i, p := range r.TriggerMetadata.RegexPatterns {
				idx, ok := regexIndex[p]
				if !ok {
					re, err := CompileRegex(p)
					if err != nil {
						ps.add(fmt.Sprintf("trigger_metadata.regex_patterns[%d]", i), "%v", err)
						continue
					}
					idx = int32(len(e.regexes))
					regexIndex[p] = idx
					e.regexes = append(e.regexes, re)
				}
				er.regexes = append(er.regexes, idx)
			}
		}
		if r.TriggerType.usesAllowList() && r.TriggerType != TriggerKeywordPreset {
			for i, s := range r.TriggerMetadata.AllowList {
				k := parseKeyword(s)
				if k.core == "" {
					ps.add(fmt.Sprintf("trigger_metadata.allow_list[%d]", i), "%s is only wildcards; accepted: a word or phrase, with * at its start or end", shown(s))
					continue
				}
				addCore(k.core, coreEntry{rule: int32(ri), index: int32(len(er.allow)), allow: true})
				er.allow = append(er.allow, k)
			}
		}
		er.hasCores = len(er.keywords)+len(er.allow) > 0
		if err := ps.err(r); err != nil {
			errs = append(errs, err)
		}
		if reason := unevaluatedReason(r); reason != "" && r.Enabled {
			e.unevaluated = append(e.unevaluated, Unevaluated{RuleID: r.ID, RuleName: r.Name, Reason: reason})
		}
		e.rules = append(e.rules, er)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("compile automod rules: %w", errors.Join(errs...))
	}
	if len(patterns) > 0 {
		e.matcher = o.matcher(patterns)
	}
	e.buildLiterals(o.matcher)
	return e, nil
}

func (e *Engine) buildLiterals(build matcherBuilder) {
	sets := map[string]int32{}
	for _, re := range e.regexes {
		if re.required == nil {
			e.charSetOf = append(e.charSetOf, -1)
			continue
		}
		k := re.required.key()
		i, ok := sets[k]
		if !ok {
			i = int32(len(e.charSets))
			sets[k] = i
			e.charSets = append(e.charSets, re.required)
			e.charSetLimit = append(e.charSetLimit, 0)
		}
		e.charSetLimit[i] = max(e.charSetLimit[i], re.required.min)
		e.charSetOf = append(e.charSetOf, i)
	}
	index := map[string]int{}
	var patterns []string
	for ri, re := range e.regexes {
		for _, lit := range re.literals {
			i, ok := index[lit]
			if !ok {
				i = len(patterns)
				index[lit] = i
				patterns = append(patterns, lit)
				e.literalOwners = append(e.literalOwners, nil)
			}
			e.literalOwners[i] = append(e.literalOwners[i], int32(ri))
		}
	}
	if len(patterns) > 0 {
		e.literals = build(patterns)
	}
}

func unevaluatedReason(r Rule) string {
	switch r.TriggerType {
	case TriggerSpam:
		return "SPAM rules use Discord's private spam detection; only Discord evaluates them"
	case TriggerKeywordPreset:
		return "KEYWORD_PRESET rules use Discord's private word lists, which Discord does not publish; only Discord evaluates them"
	case TriggerMentionSpam:
		if r.TriggerMetadata.MentionRaidProtectionEnabled {
			return "mention raid protection looks at activity across messages and only Discord evaluates it; the mention limit is evaluated locally"
		}
	case TriggerKeyword, TriggerMemberProfile:
	default:
		return fmt.Sprintf("trigger type %d is unknown to gavel", int(r.TriggerType))
	}
	return ""
}

// Unevaluated lists the enabled rules, or parts of rules, that only Discord evaluates:
// SPAM and KEYWORD_PRESET rules, mention raid protection, and trigger types gavel does not
// know. Evaluate and EvaluateProfile never report them.
func (e *Engine) Unevaluated() []Unevaluated { return slices.Clone(e.unevaluated) }

// occurrence is a match candidate in original-text offsets.
type occurrence struct {
	rule, index int32 // index: keyword index, or len(keywords)+regex index
	start, end  int
}

// before orders candidates within a rule: leftmost first, then longest, then keywords in
// rule order before regexes in rule order. Discord reports one match per rule; this makes
// gavel's choice deterministic.
func (o occurrence) before(p occurrence) bool {
	if o.start != p.start {
		return o.start < p.start
	}
	if o.end != p.end {
		return o.end > p.end
	}
	return o.index < p.index
}

func (o occurrence) coveredBy(a occurrence) bool {
	return a.start <= o.start && o.end <= a.end
}

type scratch struct {
	e       *Engine
	lower   lowered
	active  []bool
	keyword []occurrence
	allow   []occurrence
	best    []occurrence // per rule; rule < 0 when none
	// Per regex, for the text being matched: whether it can match (its literal is in the
	// text, or it has none), and whether it is known not to match.
	folded      []byte
	mayMatch    []bool
	noMatch     []bool
	regexesRead bool
	literalHits literalSink
	setCount    []int // per Engine.charSets; -1 until counted
}

// literalSink receives the regex literals found in the folded text.
type literalSink struct{ sc *scratch }

func (l *literalSink) occurrence(pattern, _, _ int) {
	for _, ri := range l.sc.e.literalOwners[pattern] {
		l.sc.mayMatch[ri] = true
	}
}

func (e *Engine) getScratch() *scratch {
	sc := e.scratch.Get().(*scratch)
	sc.e = e
	if cap(sc.active) < len(e.rules) {
		sc.active = make([]bool, len(e.rules))
		sc.best = make([]occurrence, len(e.rules))
	}
	sc.active, sc.best = sc.active[:len(e.rules)], sc.best[:len(e.rules)]
	if cap(sc.mayMatch) < len(e.regexes) {
		sc.mayMatch = make([]bool, len(e.regexes))
		sc.noMatch = make([]bool, len(e.regexes))
	}
	sc.mayMatch, sc.noMatch = sc.mayMatch[:len(e.regexes)], sc.noMatch[:len(e.regexes)]
	if cap(sc.setCount) < len(e.charSets) {
		sc.setCount = make([]int, len(e.charSets))
	}
	sc.setCount = sc.setCount[:len(e.charSets)]
	sc.literalHits.sc = sc
	return sc
}

func (e *Engine) putScratch(sc *scratch) {
	sc.e, sc.literalHits.sc = nil, nil
	e.scratch.Put(sc)
}

// readRegexes finds, once per text, which regexes can match it.
func (e *Engine) readRegexes(sc *scratch, text string) {
	if sc.regexesRead {
		return
	}
	sc.regexesRead = true
	for i, re := range e.regexes {
		sc.mayMatch[i] = re.literals == nil
		sc.noMatch[i] = false
	}
	for i := range sc.setCount {
		sc.setCount[i] = -1
	}
	if e.literals != nil {
		sc.folded = appendFolded(sc.folded[:0], text)
		e.literals.find(sc.folded, &sc.literalHits)
	}
}

// occurrence receives the automaton's finds, in lowercased offsets, and keeps the ones an
// active rule's keyword or allow-list entry accepts.
func (sc *scratch) occurrence(pattern, start, end int) {
	for _, c := range sc.e.cores[pattern] {
		if !sc.active[c.rule] {
			continue
		}
		r := &sc.e.rules[c.rule]
		k := &r.keywords
		if c.allow {
			k = &r.allow
		}
		if !(*k)[c.index].accepts(sc.lower.text, start, end) {
			continue
		}
		o := occurrence{rule: c.rule, index: c.index, start: sc.lower.orig(start), end: sc.lower.orig(end)}
		if c.allow {
			sc.allow = append(sc.allow, o)
		} else {
			sc.keyword = append(sc.keyword, o)
		}
	}
}

func (sc *scratch) covered(o occurrence) bool {
	for _, a := range sc.allow {
		if a.rule == o.rule && o.coveredBy(a) {
			return true
		}
	}
	return false
}

// matchText finds, for each active rule, its best match in text that no allow-list entry
// covers, into sc.best.
func (e *Engine) matchText(sc *scratch, text string) {
	sc.keyword, sc.allow = sc.keyword[:0], sc.allow[:0]
	sc.regexesRead = false
	scan := false
	for i := range e.rules {
		sc.best[i] = occurrence{rule: -1}
		scan = scan || sc.active[i] && e.rules[i].hasCores
	}
	if scan && e.matcher != nil {
		sc.lower.reset(text)
		e.matcher.find(sc.lower.text, sc)
	}
	for _, o := range sc.keyword {
		if b := &sc.best[o.rule]; (b.rule < 0 || o.before(*b)) && !sc.covered(o) {
			*b = o
		}
	}
	for i := range e.rules {
		r := &e.rules[i]
		if !sc.active[i] || len(r.regexes) == 0 {
			continue
		}
		e.readRegexes(sc, text)
		for j, ri := range r.regexes {
			if !sc.mayMatch[ri] || sc.noMatch[ri] {
				continue
			}
			if cs := e.charSetOf[ri]; cs >= 0 {
				if sc.setCount[cs] < 0 {
					// Counted when first needed, after the literal check: most sets are
					// never counted, and the count stops at what the regexes need.
					sc.setCount[cs] = e.charSets[cs].count(text, e.charSetLimit[cs])
				}
				if sc.setCount[cs] < e.regexes[ri].required.min {
					sc.noMatch[ri] = true
					continue
				}
			}
			found := false
			e.regexes[ri].eachMatch(text, func(start, end int) bool {
				found = true
				o := occurrence{rule: int32(i), index: int32(len(r.keywords) + j), start: start, end: end}
				if sc.covered(o) {
					return true
				}
				if b := &sc.best[i]; b.rule < 0 || o.before(*b) {
					*b = o
				}
				return false
			})
			// A regex that matches nothing here matches nothing for the other rules that
			// share it either.
			sc.noMatch[ri] = !found
		}
	}
}

func (e *Engine) textMatch(i int, o occurrence, text string, field int) Match {
	r := &e.rules[i]
	m := Match{
		RuleID: r.id, RuleName: r.name, TriggerType: r.trigger,
		MatchedContent: text[o.start:o.end], Start: o.start, End: o.end, Field: field,
		Actions: slices.Clone(r.actions),
	}
	if k := int(o.index); k < len(r.keywords) {
		m.Keyword = r.keywords[k].text
	} else {
		m.Regex = e.regexes[r.regexes[k-len(r.keywords)]].String()
	}
	return m
}

func anyIn[T discord.Snowflake](ids, set []T) bool {
	for _, id := range ids {
		if slices.Contains(set, id) {
			return true
		}
	}
	return false
}

// Evaluate returns the message rules (KEYWORD and MENTION_SPAM) that the message triggers,
// in rule order, one Match per rule: disabled rules, rules exempting one of the author's
// roles or the channel (or its parents), and rules only Discord evaluates are skipped.
func (e *Engine) Evaluate(msg Message) []Match {
	sc := e.getScratch()
	defer e.putScratch(sc)
	anyActive, anyText := false, false
	for i := range e.rules {
		r := &e.rules[i]
		sc.active[i] = r.enabled && r.event == EventMessageSend &&
			(r.trigger == TriggerKeyword || r.trigger == TriggerMentionSpam) &&
			!anyIn(msg.AuthorRoles, r.exemptRoles) &&
			!slices.Contains(r.exemptChannels, msg.ChannelID) && !anyIn(msg.ParentChannelIDs, r.exemptChannels)
		anyActive = anyActive || sc.active[i]
		anyText = anyText || sc.active[i] && r.trigger == TriggerKeyword
	}
	if !anyActive {
		return nil
	}
	if anyText {
		e.matchText(sc, msg.Content)
	}
	var out []Match
	mentions := -1
	for i := range e.rules {
		r := &e.rules[i]
		if !sc.active[i] {
			continue
		}
		switch r.trigger {
		case TriggerKeyword:
			if o := sc.best[i]; o.rule >= 0 {
				out = append(out, e.textMatch(i, o, msg.Content, 0))
			}
		case TriggerMentionSpam:
			if mentions < 0 {
				mentions = distinct(msg.MentionedUsers) + distinct(msg.MentionedRoles)
			}
			// "total number of unique role and user mentions allowed per message": more
			// than the limit triggers the rule.
			if mentions > r.mentionLimit {
				out = append(out, Match{RuleID: r.id, RuleName: r.name, TriggerType: r.trigger,
					MentionCount: mentions, Actions: slices.Clone(r.actions)})
			}
		}
	}
	return out
}

// EvaluateProfile returns the member-profile rules that the profile triggers, in rule order,
// one Match per rule (the first field that matches, and its best match). Disabled rules and
// rules exempting one of the member's roles are skipped.
func (e *Engine) EvaluateProfile(p Profile) []Match {
	sc := e.getScratch()
	defer e.putScratch(sc)
	anyActive := false
	for i := range e.rules {
		r := &e.rules[i]
		sc.active[i] = r.enabled && r.trigger == TriggerMemberProfile && r.event == EventMemberUpdate && !anyIn(p.Roles, r.exemptRoles)
		anyActive = anyActive || sc.active[i]
	}
	if !anyActive {
		return nil
	}
	found := make([]*Match, len(e.rules))
	for f, text := range p.Fields {
		e.matchText(sc, text)
		for i := range e.rules {
			if sc.active[i] && sc.best[i].rule >= 0 && found[i] == nil {
				m := e.textMatch(i, sc.best[i], text, f)
				found[i] = &m
				sc.active[i] = false // found: later fields need not be searched for it
			}
		}
	}
	var out []Match
	for _, m := range found {
		if m != nil {
			out = append(out, *m)
		}
	}
	return out
}

// distinct counts the distinct ids.
func distinct[T discord.Snowflake](ids []T) int {
	if len(ids) <= 64 {
		n := 0
		for i, id := range ids {
			if !slices.Contains(ids[:i], id) {
				n++
			}
		}
		return n
	}
	seen := make(map[T]struct{}, len(ids))
	for _, id := range ids {
		seen[id] = struct{}{}
	}
	return len(seen)
}

// MentionsIn reads the user mentions (<@123>, <@!123>) and role mentions (<@&123>) written
// in content, for a dry run on text alone. A real message's mentions come from Discord's
// mentions and mention_roles, which also leave out mentions Discord does not resolve.
func MentionsIn(content string) (users []discord.UserID, roles []discord.RoleID) {
	for i := 0; i < len(content); i++ {
		if content[i] != '<' || i+2 >= len(content) || content[i+1] != '@' {
			continue
		}
		j, role := i+2, false
		switch content[j] {
		case '!':
			j++
		case '&':
			j, role = j+1, true
		}
		start := j
		for j < len(content) && content[j] >= '0' && content[j] <= '9' {
			j++
		}
		if j == start || j >= len(content) || content[j] != '>' {
			continue
		}
		id, err := strconv.ParseInt(content[start:j], 10, 64)
		if err != nil || id <= 0 {
			continue
		}
		if role {
			roles = append(roles, discord.RoleID(id))
		} else {
			users = append(users, discord.UserID(id))
		}
		i = j
	}
	return users, roles
}
