package automod

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gavelbot/gavel/internal/discord"
)

// naiveEngine is the straightforward matcher the engine is checked and measured against:
// each keyword searched with strings.Index in the lowercased message, every occurrence
// checked for word boundaries, then the allow list, then the regexes. It shares only the
// Regex type with the engine.
type naiveEngine struct {
	rules    []Rule
	keywords [][]naiveKeyword
	allow    [][]naiveKeyword
	regexes  [][]*Regex
}

// naiveKeyword is a keyword with its wildcards read: one * off each end, the rest lowercased.
type naiveKeyword struct {
	core               string
	wordStart, wordEnd bool
}

func naiveKeywords(entries []string) []naiveKeyword {
	var out []naiveKeyword
	for _, e := range entries {
		k := naiveKeyword{wordStart: !strings.HasPrefix(e, "*"), wordEnd: true}
		core := strings.TrimPrefix(e, "*")
		if strings.HasSuffix(core, "*") {
			core, k.wordEnd = strings.TrimSuffix(core, "*"), false
		}
		k.core, _ = naiveLower(core)
		out = append(out, k)
	}
	return out
}

func newNaiveEngine(rules []Rule) *naiveEngine {
	n := &naiveEngine{rules: rules}
	for _, r := range rules {
		var res []*Regex
		var kws []string
		if r.TriggerType == TriggerKeyword || r.TriggerType == TriggerMemberProfile {
			kws = r.TriggerMetadata.KeywordFilter
		}
		n.keywords = append(n.keywords, naiveKeywords(kws))
		n.allow = append(n.allow, naiveKeywords(r.TriggerMetadata.AllowList))
		if r.TriggerType == TriggerKeyword || r.TriggerType == TriggerMemberProfile {
			for _, p := range r.TriggerMetadata.RegexPatterns {
				re, err := CompileRegex(p)
				if err != nil {
					panic(err)
				}
				res = append(res, re)
			}
		}
		n.regexes = append(n.regexes, res)
	}
	return n
}

// naiveLower lowercases s rune by rune and records, for each byte of the result, the
// offset in s of the character it comes from.
func naiveLower(s string) (string, []int) {
	var b strings.Builder
	var offs []int
	for i, r := range s {
		w := utf8.RuneLen(r)
		if r == utf8.RuneError {
			_, w = utf8.DecodeRuneInString(s[i:])
		}
		if r == utf8.RuneError && w == 1 {
			b.WriteByte(s[i])
			offs = append(offs, i)
			continue
		}
		l := string(unicode.ToLower(r))
		b.WriteString(l)
		for range len(l) {
			offs = append(offs, i)
		}
	}
	return b.String(), offs
}

func naiveWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

type naiveOcc struct{ start, end, index int }

// occurrences finds every occurrence of each entry (keyword syntax) in the lowercased text,
// in original offsets.
func naiveOccurrences(entries []naiveKeyword, low string, offs []int, origLen int) []naiveOcc {
	orig := func(i int) int {
		if i >= len(offs) {
			return origLen
		}
		return offs[i]
	}
	var out []naiveOcc
	for idx, k := range entries {
		core, wordStart, wordEnd := k.core, k.wordStart, k.wordEnd
		if core == "" {
			continue
		}
		for from := 0; from <= len(low); {
			i := strings.Index(low[from:], core)
			if i < 0 {
				break
			}
			s, e := from+i, from+i+len(core)
			from = s + 1
			if wordStart && s > 0 {
				if r, _ := utf8.DecodeLastRuneInString(low[:s]); naiveWordChar(r) {
					continue
				}
			}
			if wordEnd && e < len(low) {
				if r, _ := utf8.DecodeRuneInString(low[e:]); naiveWordChar(r) {
					continue
				}
			}
			out = append(out, naiveOcc{orig(s), orig(e), idx})
		}
	}
	return out
}

// matchText returns the rule's best match in text, or ok = false.
func (n *naiveEngine) matchText(ri int, text string) (Match, bool) {
	r := n.rules[ri]
	low, offs := naiveLower(text)
	kws := n.keywords[ri]
	allow := naiveOccurrences(n.allow[ri], low, offs, len(text))
	covered := func(s, e int) bool {
		for _, a := range allow {
			if a.start <= s && e <= a.end {
				return true
			}
		}
		return false
	}
	var cands []naiveOcc
	for _, o := range naiveOccurrences(kws, low, offs, len(text)) {
		if !covered(o.start, o.end) {
			cands = append(cands, o)
		}
	}
	for j, re := range n.regexes[ri] {
		re.eachMatch(text, func(s, e int) bool {
			if covered(s, e) {
				return true
			}
			cands = append(cands, naiveOcc{s, e, len(kws) + j})
			return false
		})
	}
	if len(cands) == 0 {
		return Match{}, false
	}
	best := slices.MinFunc(cands, func(a, b naiveOcc) int {
		if a.start != b.start {
			return a.start - b.start
		}
		if a.end != b.end {
			return b.end - a.end
		}
		return a.index - b.index
	})
	m := Match{RuleID: r.ID, RuleName: r.Name, TriggerType: r.TriggerType, MatchedContent: text[best.start:best.end],
		Start: best.start, End: best.end, Actions: r.Actions}
	if best.index < len(kws) {
		m.Keyword = r.TriggerMetadata.KeywordFilter[best.index]
	} else {
		m.Regex = r.TriggerMetadata.RegexPatterns[best.index-len(kws)]
	}
	return m, true
}

func (n *naiveEngine) evaluate(msg Message) []Match {
	var out []Match
	for i, r := range n.rules {
		if !r.Enabled || r.EventType != EventMessageSend || slices.ContainsFunc(msg.AuthorRoles, func(id discord.RoleID) bool { return slices.Contains(r.ExemptRoles, id) }) ||
			slices.Contains(r.ExemptChannels, msg.ChannelID) || slices.ContainsFunc(msg.ParentChannelIDs, func(id discord.ChannelID) bool { return slices.Contains(r.ExemptChannels, id) }) {
			continue
		}
		switch r.TriggerType {
		case TriggerKeyword:
			if m, ok := n.matchText(i, msg.Content); ok {
				out = append(out, m)
			}
		case TriggerMentionSpam:
			seen := map[int64]bool{}
			count := 0
			for _, id := range msg.MentionedUsers {
				if !seen[int64(id)] {
					seen[int64(id)], count = true, count+1
				}
			}
			seenRoles := map[int64]bool{}
			for _, id := range msg.MentionedRoles {
				if !seenRoles[int64(id)] {
					seenRoles[int64(id)], count = true, count+1
				}
			}
			if count > r.TriggerMetadata.MentionTotalLimit {
				out = append(out, Match{RuleID: r.ID, RuleName: r.Name, TriggerType: r.TriggerType, MentionCount: count, Actions: r.Actions})
			}
		}
	}
	return out
}
