package automod

import (
	"fmt"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"unicode"
)

// Rust's regex, with the Unicode flag Discord turns on, gives \d, \w, \s and \b their
// Unicode meaning (UTS #18 annex C); Go's are ASCII. The classes below are Rust's, built from
// Go's own Unicode tables (unicode.Version, 15.0.0 in Go 1.26; Rust's regex may be on a later
// Unicode version, which only matters for characters added since).
//
//	\d  Decimal_Number (Nd)
//	\s  White_Space
//	\w  Alphabetic + Mark + Decimal_Number + Connector_Punctuation + Join_Control, where
//	    Alphabetic = L + Nl + Other_Alphabetic
//
// They are derived once, on first use, and never change: read-only tables, not state.

var wordTables = []*unicode.RangeTable{
	unicode.L, unicode.Nl, unicode.Other_Alphabetic, unicode.M, unicode.Nd, unicode.Pc, unicode.Join_Control,
}

// isWordChar is Rust's Unicode \w, which also defines \b. r < 0 (outside the text) is not a
// word character.
func isWordChar(r rune) bool {
	if r < 0x80 {
		return r >= 0 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_')
	}
	return unicode.In(r, wordTables...)
}

type runeRange struct{ lo, hi rune }

// tableRanges lists the code points of the tables as sorted, merged ranges.
func tableRanges(tables ...*unicode.RangeTable) []runeRange {
	var rs []runeRange
	add := func(lo, hi, stride rune) {
		if stride == 1 {
			rs = append(rs, runeRange{lo, hi})
			return
		}
		for r := lo; r <= hi; r += stride {
			rs = append(rs, runeRange{r, r})
		}
	}
	for _, t := range tables {
		for _, r := range t.R16 {
			add(rune(r.Lo), rune(r.Hi), rune(r.Stride))
		}
		for _, r := range t.R32 {
			add(rune(r.Lo), rune(r.Hi), rune(r.Stride))
		}
	}
	slices.SortFunc(rs, func(a, b runeRange) int { return int(a.lo - b.lo) })
	var out []runeRange
	for _, r := range rs {
		if n := len(out); n > 0 && r.lo <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

func complementRanges(rs []runeRange) []runeRange {
	var out []runeRange
	next := rune(0)
	for _, r := range rs {
		if r.lo > next {
			out = append(out, runeRange{next, r.lo - 1})
		}
		next = r.hi + 1
	}
	if next <= unicode.MaxRune {
		out = append(out, runeRange{next, unicode.MaxRune})
	}
	return out
}

func renderRanges(rs []runeRange) string {
	var b strings.Builder
	for _, r := range rs {
		if r.lo == r.hi {
			fmt.Fprintf(&b, `\x{%X}`, r.lo)
		} else {
			fmt.Fprintf(&b, `\x{%X}-\x{%X}`, r.lo, r.hi)
		}
	}
	return b.String()
}

// perlClasses holds the bodies (what goes between [ and ]) of Go classes equal to Rust's
// Unicode \w, \W, \s and \S. \w is written with Go's category names plus the few
// Other_Alphabetic and Join_Control ranges outside them, which keeps patterns short; the
// complements are spelled out as ranges, because a Go class cannot negate a union inside
// another class.
type perlClasses struct {
	word, notWord, space, notSpace string
}

var perlClassBodies = sync.OnceValue(func() perlClasses {
	var extra []runeRange
	for _, r := range tableRanges(unicode.Other_Alphabetic, unicode.Join_Control) {
		for c := r.lo; c <= r.hi; c++ {
			if unicode.In(c, unicode.L, unicode.Nl, unicode.M, unicode.Nd, unicode.Pc) {
				continue
			}
			if n := len(extra); n > 0 && extra[n-1].hi == c-1 {
				extra[n-1].hi = c
			} else {
				extra = append(extra, runeRange{c, c})
			}
		}
	}
	space := tableRanges(unicode.White_Space)
	return perlClasses{
		word:     `\p{L}\p{Nl}\p{M}\p{Nd}\p{Pc}` + renderRanges(extra),
		notWord:  renderRanges(complementRanges(tableRanges(wordTables...))),
		space:    renderRanges(space),
		notSpace: renderRanges(complementRanges(space)),
	}
})

// generalCategories maps every name Rust accepts for a general category, normalized as
// below, to the name Go's regexp knows. From Unicode's PropertyValueAliases (gc), plus the
// three pseudo-categories both engines have.
var generalCategories = map[string]string{
	"c": "C", "other": "C",
	"cc": "Cc", "control": "Cc", "cntrl": "Cc",
	"cf": "Cf", "format": "Cf",
	"cn": "Cn", "unassigned": "Cn",
	"co": "Co", "privateuse": "Co",
	"cs": "Cs", "surrogate": "Cs",
	"l": "L", "letter": "L",
	"lc": "LC", "casedletter": "LC",
	"ll": "Ll", "lowercaseletter": "Ll",
	"lm": "Lm", "modifierletter": "Lm",
	"lo": "Lo", "otherletter": "Lo",
	"lt": "Lt", "titlecaseletter": "Lt",
	"lu": "Lu", "uppercaseletter": "Lu",
	"m": "M", "mark": "M", "combiningmark": "M",
	"mc": "Mc", "spacingmark": "Mc",
	"me": "Me", "enclosingmark": "Me",
	"mn": "Mn", "nonspacingmark": "Mn",
	"n": "N", "number": "N",
	"nd": "Nd", "decimalnumber": "Nd", "digit": "Nd",
	"nl": "Nl", "letternumber": "Nl",
	"no": "No", "othernumber": "No",
	"p": "P", "punctuation": "P", "punct": "P",
	"pc": "Pc", "connectorpunctuation": "Pc",
	"pd": "Pd", "dashpunctuation": "Pd",
	"pe": "Pe", "closepunctuation": "Pe",
	"pf": "Pf", "finalpunctuation": "Pf",
	"pi": "Pi", "initialpunctuation": "Pi",
	"po": "Po", "otherpunctuation": "Po",
	"ps": "Ps", "openpunctuation": "Ps",
	"s": "S", "symbol": "S",
	"sc": "Sc", "currencysymbol": "Sc",
	"sk": "Sk", "modifiersymbol": "Sk",
	"sm": "Sm", "mathsymbol": "Sm",
	"so": "So", "othersymbol": "So",
	"z": "Z", "separator": "Z",
	"zl": "Zl", "lineseparator": "Zl",
	"zp": "Zp", "paragraphseparator": "Zp",
	"zs": "Zs", "spaceseparator": "Zs",
	"any": "Any", "assigned": "Assigned", "ascii": "ASCII",
}

// scriptNames maps Go's script names, normalized, to themselves. Rust also accepts the
// four-letter ISO 15924 codes (Latn, Grek); gavel refuses those and asks for the full name
// rather than carry a second table.
var scriptNames = sync.OnceValue(func() map[string]string {
	m := make(map[string]string, len(unicode.Scripts))
	for name := range unicode.Scripts {
		m[normalizePropertyName(name)] = name
	}
	return m
})

// goNamesScript reports whether Go's regexp accepts \p{name} for the script. Go 1.26 cannot
// name the 46 scripts whose names have an underscore or an inner capital (\p{Old_Italic},
// \p{SignWriting}): it drops underscores and lowercases before looking the name up. Those
// are written into the Go pattern as their code point ranges instead.
func goNamesScript(name string) bool { return goNamedScripts()[name] }

var goNamedScripts = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool, len(unicode.Scripts))
	for name := range unicode.Scripts {
		_, err := syntax.Parse(`\p{`+name+`}`, syntax.Perl)
		m[name] = err == nil
	}
	return m
})

// normalizePropertyName is Unicode's loose matching (UAX44-LM3) as Rust applies it: case,
// spaces, underscores and hyphens do not matter, an "is" prefix is ignored, and non-ASCII
// characters are dropped.
func normalizePropertyName(s string) string {
	isPrefix := len(s) >= 2 && strings.EqualFold(s[:2], "is")
	if isPrefix {
		s = s[2:]
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '_' || c == '-' || c >= 0x80:
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	out := b.String()
	if isPrefix && out == "c" {
		// Rust's special case: "isc" is ISO_Comment, not "is" + "c".
		return "isc"
	}
	return out
}

// goUnicodeClass resolves what Rust accepts inside \p{…} (or the letter of \pL) to a general
// category name Go's regexp knows or a key of unicode.Scripts (script is true), or says why
// it cannot. negate is true when the query itself is negated (\p{gc!=L}).
func goUnicodeClass(query string) (name string, script, negate bool, problem string) {
	const known = "gavel evaluates regexes with Go, which knows general categories (\\p{L}, \\p{Letter}, \\p{gc=Lu}) and scripts by full name (\\p{Greek}, \\p{sc=Greek})"
	if strings.HasPrefix(query, "^") {
		return "", false, false, "a negation inside the braces is not Rust syntax; write \\P{…} instead"
	}
	prop, value, byValue := "", "", false
	if i := strings.Index(query, "!="); i >= 0 {
		prop, value, byValue, negate = query[:i], query[i+2:], true, true
	} else if i := strings.IndexAny(query, ":="); i >= 0 {
		prop, value, byValue = query[:i], query[i+1:], true
	}
	if byValue {
		v := normalizePropertyName(value)
		switch normalizePropertyName(prop) {
		case "gc", "generalcategory":
			if g, ok := generalCategories[v]; ok {
				return g, false, negate, ""
			}
			return "", false, false, fmt.Sprintf("%q is not a general category; %s", value, known)
		case "sc", "script":
			if s, ok := scriptNames()[v]; ok {
				return s, true, negate, ""
			}
			return "", false, false, fmt.Sprintf("%q is not a script gavel knows (write the full name, like Greek, not Grek); %s", value, known)
		case "scx", "scriptextensions":
			return "", false, false, "Script_Extensions has no Go equivalent; " + known
		}
		return "", false, false, fmt.Sprintf("the Unicode property %q is not supported; %s", prop, known)
	}
	n := normalizePropertyName(query)
	if g, ok := generalCategories[n]; ok {
		// cf, sc and lc are also abbreviations of string properties; Rust reads them as
		// categories too.
		return g, false, false, ""
	}
	if s, ok := scriptNames()[n]; ok {
		return s, true, false, ""
	}
	return "", false, false, fmt.Sprintf("the Unicode property %q is not supported (binary properties such as Alphabetic or Emoji, and four-letter script codes, have no Go equivalent); %s", query, known)
}
