package automod

import (
	"fmt"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Go's regexp finds no literal prefix in a case-insensitive pattern, so it walks the whole
// message with its NFA or backtracker: 5 to 12 µs for 140 bytes per regex, measured. Most
// regexes moderators write need some literal text to match (nitro, discord.gg, @). The
// engine reads that from the compiled pattern: requiredLiterals returns strings of which
// every match contains at least one, case-folded; one Aho-Corasick pass over the folded
// message then tells which regexes can match at all, and only those run. A regex with no
// usable literal is checked by the characters it needs instead (requiredRunes, below).
// Both are necessary conditions: they skip a regex only when it cannot match.
//
// Case folding, not lowercasing, is what (?i) means: the long s (ſ) matches s, and its
// lowercase is itself. foldRune maps every character of a simple case folding orbit to one
// representative, so that the folded text contains a folded literal wherever the regex could
// match it case-insensitively.

// foldRune returns the representative of r's simple case folding orbit: its ASCII lowercase
// letter if the orbit has an ASCII letter, else the smallest member.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	best := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			if f >= 'A' && f <= 'Z' {
				return f + 'a' - 'A'
			}
			return f
		}
		best = min(best, f)
	}
	return best
}

func appendFolded(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			dst = append(dst, s[i])
		} else {
			dst = utf8.AppendRune(dst, foldRune(r))
		}
		i += w
	}
	return dst
}

func foldRunes(rs []rune) string {
	b := make([]byte, 0, len(rs))
	for _, r := range rs {
		b = utf8.AppendRune(b, foldRune(r))
	}
	return string(b)
}

// Limits that keep the analysis small: sets of alternative strings are tracked up to
// maxLiteralSet members, and classes up to maxClassRunes characters.
const (
	maxLiteralSet = 16
	maxClassRunes = 8
)

// requiredLiterals returns folded strings one of which every match of re contains, or nil
// when the pattern offers none worth searching for. Single characters are left to
// requiredRunes, which also counts them: a "." found by the automaton in most messages
// would cost more than it saves.
func requiredLiterals(re *syntax.Regexp) []string {
	exact, ok, req := literalInfo(re)
	if req == nil && ok {
		req = exact
	}
	if literalScore(req) < 2 {
		return nil
	}
	slices.Sort(req)
	req = slices.Compact(req)
	// A string that contains another of the set adds nothing: where it occurs, so does the
	// other.
	return slices.DeleteFunc(slices.Clone(req), func(s string) bool {
		for _, o := range req {
			if o != s && strings.Contains(s, o) {
				return true
			}
		}
		return false
	})
}

// literalScore rates a requirement: the length of its shortest string, or 0 when that is
// useless as a filter (empty, or one letter, digit or space, found in almost every message).
func literalScore(set []string) int {
	if len(set) == 0 {
		return 0
	}
	score := 1 << 30
	for _, s := range set {
		if s == "" {
			return 0
		}
		if len(s) == 1 && (s[0] == ' ' || s[0] >= '0' && s[0] <= '9' || s[0] >= 'a' && s[0] <= 'z') {
			return 0
		}
		score = min(score, len(s))
	}
	return score
}

// literalInfo describes what re matches: exact is every string it can match, folded, when
// that is a small finite set (ok); req is a set one of whose strings every match contains.
func literalInfo(re *syntax.Regexp) (exact []string, ok bool, req []string) {
	switch re.Op {
	case syntax.OpNoMatch:
		return nil, true, nil
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return []string{""}, true, nil
	case syntax.OpLiteral:
		return []string{foldRunes(re.Rune)}, true, nil
	case syntax.OpCharClass:
		n := 0
		for i := 0; i+1 < len(re.Rune); i += 2 {
			n += int(re.Rune[i+1]-re.Rune[i]) + 1
			if n > maxClassRunes*4 {
				return nil, false, nil
			}
		}
		var set []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				set = append(set, string(foldRune(r)))
			}
		}
		slices.Sort(set)
		set = slices.Compact(set)
		if len(set) > maxClassRunes {
			return nil, false, nil
		}
		return set, true, nil
	case syntax.OpCapture:
		return literalInfo(re.Sub[0])
	case syntax.OpQuest:
		if e, ok, _ := literalInfo(re.Sub[0]); ok && len(e) < maxLiteralSet {
			return append(slices.Clone(e), ""), true, nil
		}
		return nil, false, nil
	case syntax.OpPlus:
		return nil, false, requirement(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return nil, false, requirement(re.Sub[0])
		}
		return nil, false, nil
	case syntax.OpConcat:
		return concatInfo(re.Sub)
	case syntax.OpAlternate:
		return alternateInfo(re.Sub)
	}
	return nil, false, nil // OpStar, OpAnyChar, OpAnyCharNotNL
}

// requirement is what re requires, from its requirement or its exact strings.
func requirement(re *syntax.Regexp) []string {
	exact, ok, req := literalInfo(re)
	if req != nil {
		return req
	}
	if ok && literalScore(exact) > 0 {
		return exact
	}
	return nil
}

func concatInfo(subs []*syntax.Regexp) ([]string, bool, []string) {
	run, runOK := []string{""}, true // the exact strings of the current run of exact parts
	whole := true                    // the whole concatenation is one exact run so far
	var best []string
	consider := func(set []string) {
		if literalScore(set) > literalScore(best) || literalScore(set) == literalScore(best) && len(set) < len(best) {
			best = set
		}
	}
	for _, sub := range subs {
		exact, ok, req := literalInfo(sub)
		if runOK && ok && len(run)*len(exact) <= maxLiteralSet {
			run = cross(run, exact)
			continue
		}
		whole = false
		if runOK {
			consider(run)
		}
		run, runOK = exact, ok
		if !ok && req != nil {
			consider(req)
		}
	}
	if whole {
		return run, true, nil
	}
	if runOK {
		consider(run)
	}
	return nil, false, best
}

func cross(a, b []string) []string {
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+y)
		}
	}
	return out
}

func alternateInfo(subs []*syntax.Regexp) ([]string, bool, []string) {
	var exact, req []string
	allExact := true
	for _, sub := range subs {
		e, ok, _ := literalInfo(sub)
		if !ok {
			allExact = false
			break
		}
		exact = append(exact, e...)
	}
	if allExact && len(exact) <= maxLiteralSet {
		return exact, true, nil
	}
	for _, sub := range subs {
		r := requirement(sub)
		if r == nil {
			return nil, false, nil
		}
		req = append(req, r...)
	}
	return nil, false, req
}

// Some regexes need no literal text but still need some of a few characters: ten digits for
// a phone number, six emoji for emoji spam. requiredRunes finds such a set and how many of
// its characters every match contains at least, and the engine counts them in the message
// before running the regex. Sets holding whitespace or many letters are refused: nearly
// every message has them.

// runeSet is a set of characters, with a bitmap for ASCII, and the number of them a match
// needs.
type runeSet struct {
	ascii  [2]uint64
	ranges []runeRange // non-ASCII members, sorted
	min    int
}

// has reports whether r (not ASCII) is in s.
func (s *runeSet) has(r rune) bool {
	_, found := slices.BinarySearchFunc(s.ranges, r, func(rr runeRange, t rune) int {
		switch {
		case rr.hi < t:
			return -1
		case rr.lo > t:
			return 1
		}
		return 0
	})
	return found
}

// enoughIn reports whether text has at least s.min characters of s.
func (s *runeSet) enoughIn(text string) bool { return s.count(text, s.min) >= s.min }

// count counts the characters of s in text, stopping at limit. Bytes that are not UTF-8
// count as U+FFFD, as Go's regexp reads them.
func (s *runeSet) count(text string, limit int) int {
	n := 0
	for i := 0; i < len(text) && n < limit; {
		c := text[i]
		if c < utf8.RuneSelf {
			if s.ascii[c>>6]&(1<<(c&63)) != 0 {
				n++
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(text[i:])
		if len(s.ranges) > 0 && s.has(r) {
			n++
		}
		i += w
	}
	return n
}

// key identifies the characters of s (not its minimum), so that regexes needing the same
// characters share one count per message.
func (s *runeSet) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%x.%x", s.ascii[0], s.ascii[1])
	for _, r := range s.ranges {
		fmt.Fprintf(&b, ".%x-%x", r.lo, r.hi)
	}
	return b.String()
}

func newRuneSet(pairs []rune, need int) *runeSet {
	s := &runeSet{min: max(need, 1)}
	for i := 0; i+1 < len(pairs); i += 2 {
		lo, hi := pairs[i], pairs[i+1]
		for r := lo; r <= hi && r < utf8.RuneSelf; r++ {
			s.ascii[r>>6] |= 1 << (r & 63)
		}
		if hi >= utf8.RuneSelf {
			s.ranges = append(s.ranges, runeRange{max(lo, utf8.RuneSelf), hi})
		}
	}
	return s
}

// runeWeight estimates how common the characters of a set are in chat: whitespace is in
// every message, letters in nearly every one, digits and ASCII punctuation in some, other
// characters in few.
func runeWeight(pairs []rune) int {
	w := 0
	for i := 0; i+1 < len(pairs); i += 2 {
		for r := pairs[i]; r <= pairs[i+1]; r++ {
			switch {
			case r >= utf8.RuneSelf:
				w += int(pairs[i+1]-r) + 1
				r = pairs[i+1]
			case unicode.IsSpace(r):
				w += 1_000_000
			case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
				w += 10_000
			default:
				w += 1_000
			}
		}
	}
	return w
}

// maxRuneWeight refuses sets that would let nearly every message through (whitespace, or
// ten letters).
const maxRuneWeight = 100_000

// requiredRunes returns a set of characters every match of re contains some of, with how
// many at least, or nil.
func requiredRunes(re *syntax.Regexp) *runeSet {
	pairs, ok := runeInfo(re)
	if !ok || runeWeight(pairs) >= maxRuneWeight {
		return nil
	}
	return newRuneSet(pairs, minCount(re, pairs))
}

// maxCount bounds minCount: far more than any message needs to be told apart.
const maxCount = 10_000

// minCount is the least number of characters of set (as [lo, hi] pairs) that a match of re
// contains.
func minCount(re *syntax.Regexp, set []rune) int {
	switch re.Op {
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			if pairsSubset(orbit(r, re.Flags&syntax.FoldCase != 0), set) {
				n++
			}
		}
		return n
	case syntax.OpCharClass:
		if pairsSubset(re.Rune, set) {
			return 1
		}
	case syntax.OpCapture, syntax.OpPlus:
		return minCount(re.Sub[0], set)
	case syntax.OpRepeat:
		return min(maxCount, re.Min*minCount(re.Sub[0], set))
	case syntax.OpConcat:
		n := 0
		for _, sub := range re.Sub {
			n = min(maxCount, n+minCount(sub, set))
		}
		return n
	case syntax.OpAlternate:
		n := maxCount
		for _, sub := range re.Sub {
			n = min(n, minCount(sub, set))
		}
		return n
	}
	return 0
}

// pairsSubset reports whether every character of a is in b (both sorted [lo, hi] pairs, b
// merged).
func pairsSubset(a, b []rune) bool {
	j := 0
	for i := 0; i+1 < len(a); i += 2 {
		for j+1 < len(b) && b[j+1] < a[i] {
			j += 2
		}
		if j+1 >= len(b) || b[j] > a[i] || b[j+1] < a[i+1] {
			return false
		}
	}
	return true
}

func orbit(r rune, fold bool) []rune {
	if !fold {
		return []rune{r, r}
	}
	var out []rune
	for f := unicode.SimpleFold(r); ; f = unicode.SimpleFold(f) {
		out = append(out, f, f)
		if f == r {
			break
		}
	}
	return normalizePairs(out)
}

// normalizePairs sorts and merges [lo, hi] pairs.
func normalizePairs(pairs []rune) []rune {
	type pr struct{ lo, hi rune }
	ps := make([]pr, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		ps = append(ps, pr{pairs[i], pairs[i+1]})
	}
	slices.SortFunc(ps, func(a, b pr) int { return int(a.lo - b.lo) })
	var out []rune
	for _, p := range ps {
		if n := len(out); n > 0 && p.lo <= out[n-1]+1 {
			out[n-1] = max(out[n-1], p.hi)
			continue
		}
		out = append(out, p.lo, p.hi)
	}
	return out
}

// runeInfo returns a set of characters one of which every match of re contains (ok), as
// [lo, hi] pairs, choosing the rarest where there is a choice.
func runeInfo(re *syntax.Regexp) ([]rune, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		var best []rune
		for _, r := range re.Rune {
			o := orbit(r, re.Flags&syntax.FoldCase != 0)
			if best == nil || runeWeight(o) < runeWeight(best) {
				best = o
			}
		}
		return best, best != nil
	case syntax.OpCharClass:
		return re.Rune, len(re.Rune) > 0
	case syntax.OpCapture, syntax.OpPlus:
		return runeInfo(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return runeInfo(re.Sub[0])
		}
	case syntax.OpConcat:
		var best []rune
		found := false
		for _, sub := range re.Sub {
			if set, ok := runeInfo(sub); ok && (!found || runeWeight(set) < runeWeight(best)) {
				best, found = set, true
			}
		}
		return best, found
	case syntax.OpAlternate:
		var all []rune
		for _, sub := range re.Sub {
			set, ok := runeInfo(sub)
			if !ok {
				return nil, false
			}
			all = append(all, set...)
		}
		return normalizePairs(all), true
	}
	return nil, false
}
