package automod

import (
	"strings"
	"unicode"
	"unicode/utf8"

	ahocorasick "github.com/petar-dambovaliev/aho-corasick"
)

// Discord's keyword matching (auto-moderation.mdx, "Keyword Matching Strategies"), as gavel
// reads it:
//
//	cat     whole word: the match neither starts nor ends inside a word
//	cat*    prefix: the match starts a word (catch, Catapult)
//	*cat    suffix: the match ends a word (wildcat, copyCat)
//	*cat*   anywhere (location)
//
// Case does not matter. A keyword may be a phrase ("the mat"); the wildcards only concern its
// two ends. A word character is a letter, a digit or a combining mark (so "cafe" followed by
// U+0301 is one word); everything else, punctuation included, separates words. Discord's page
// says "surrounded by whitespace" for whole words, but its own examples and gavel's tests
// treat punctuation as a separator too, and Discord has not published more. Only one * is
// taken off each end; any other * is a literal character.

// keyword is a keyword_filter or allow_list entry, ready to match.
type keyword struct {
	text      string // as written in the rule
	core      string // lowercased, without the wildcards
	wordStart bool   // no leading *: the match must start at a word boundary
	wordEnd   bool   // no trailing *: the match must end at a word boundary
}

func parseKeyword(s string) keyword {
	k := keyword{text: s, wordStart: true, wordEnd: true}
	core := s
	if strings.HasPrefix(core, "*") {
		core, k.wordStart = core[1:], false
	}
	if strings.HasSuffix(core, "*") {
		core, k.wordEnd = core[:len(core)-1], false
	}
	k.core = lowerString(core)
	return k
}

// isKeywordWordChar reports whether r continues a word for keyword matching.
func isKeywordWordChar(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// boundaryBefore reports whether no word continues across position i from the left.
func boundaryBefore(text []byte, i int) bool {
	if i <= 0 {
		return true
	}
	r, _ := utf8.DecodeLastRune(text[:i])
	return !isKeywordWordChar(r)
}

// boundaryAfter reports whether no word continues across position i to the right.
func boundaryAfter(text []byte, i int) bool {
	if i >= len(text) {
		return true
	}
	r, _ := utf8.DecodeRune(text[i:])
	return !isKeywordWordChar(r)
}

// accepts reports whether an occurrence of k's core at [start, end) of the lowercased text
// is a match.
func (k *keyword) accepts(text []byte, start, end int) bool {
	return (!k.wordStart || boundaryBefore(text, start)) && (!k.wordEnd || boundaryAfter(text, end))
}

// Case-insensitivity is by lowercasing each character with unicode.ToLower (what
// strings.ToLower does), both the keywords and the text. A few characters change their
// encoded length when lowercased (the Kelvin sign K becomes k), so the lowercased text keeps
// a map back to the original offsets when that happens.
func lowerString(s string) string {
	var l lowered
	l.reset(s)
	return string(l.text)
}

// lowered is a text lowercased for keyword matching.
type lowered struct {
	text    []byte
	offs    []int32 // offs[i] is where byte i of text comes from; nil when offsets are equal
	origLen int
}

func (l *lowered) reset(s string) {
	l.text, l.offs, l.origLen = l.text[:0], l.offs[:0], len(s)
	i := 0
	for ; i < len(s) && s[i] < utf8.RuneSelf; i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		l.text = append(l.text, c)
	}
	if i == len(s) {
		l.offs = nil
		return
	}
	shifted := false
	for j := i; j < len(s); {
		if c := s[j]; c < utf8.RuneSelf {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			l.text = append(l.text, c)
			j++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[j:])
		n := len(l.text)
		if r == utf8.RuneError && w == 1 {
			// Not UTF-8: kept as the byte it is, so that offsets stay put.
			l.text = append(l.text, s[j])
		} else {
			l.text = utf8.AppendRune(l.text, unicode.ToLower(r))
		}
		shifted = shifted || len(l.text)-n != w
		j += w
	}
	if !shifted {
		l.offs = nil
		return
	}
	for j := 0; j < len(s); {
		r, w := utf8.DecodeRuneInString(s[j:])
		lw := 1
		if !(r == utf8.RuneError && w == 1) {
			lw = utf8.RuneLen(unicode.ToLower(r))
		}
		for range lw {
			l.offs = append(l.offs, int32(j))
		}
		j += w
	}
}

// orig maps an offset in the lowercased text to the original text.
func (l *lowered) orig(i int) int {
	if l.offs == nil {
		return i
	}
	if i >= len(l.offs) {
		return l.origLen
	}
	return int(l.offs[i])
}

// multiMatcher finds every occurrence of a fixed set of byte strings in a text, overlapping
// ones included (a whole-word "cat" must be found in "catcat cat" even though "catcat"
// overlaps it). It is the seam where the Aho-Corasick library can be swapped.
type multiMatcher interface {
	// find reports each occurrence to sink, in no particular order.
	find(text []byte, sink occurrenceSink)
}

type occurrenceSink interface {
	occurrence(pattern, start, end int)
}

// matcherBuilder builds a multiMatcher over patterns (none empty, no duplicates).
type matcherBuilder func(patterns []string) multiMatcher

// ahoCorasick is github.com/petar-dambovaliev/aho-corasick with standard (overlapping)
// match semantics; the keywords are lowercased already, so no case folding is asked of it.
type ahoCorasick struct{ ac ahocorasick.AhoCorasick }

func buildAhoCorasick(dfa bool) matcherBuilder {
	return func(patterns []string) multiMatcher {
		b := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{MatchKind: ahocorasick.StandardMatch, DFA: dfa})
		return &ahoCorasick{ac: b.Build(patterns)}
	}
}

func (m *ahoCorasick) find(text []byte, sink occurrenceSink) {
	it := m.ac.IterOverlappingByte(text)
	for o := it.Next(); o != nil; o = it.Next() {
		sink.occurrence(o.Pattern(), o.Start(), o.End())
	}
}
