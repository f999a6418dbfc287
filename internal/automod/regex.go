package automod

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Discord runs keyword-rule regexes with Rust's regex crate, case-insensitive and with
// Unicode on. Go's regexp has the same engine model (linear time, leftmost-first, no
// backreferences, no lookaround) but not the same syntax, and several differences are
// silent: Go compiles the pattern and gives another answer. So a pattern is never handed to
// Go as written. translateRegex parses it as Rust does and writes an equivalent Go pattern,
// token by token, or refuses it, naming the construct:
//
//   - rewritten: \d \w \s and their negations (Unicode in Rust, ASCII in Go), inside and
//     outside classes; \u0041, \u{41}, \U00000041 (Go knows only \x{41}); Unicode property
//     names Rust accepts and Go spells differently (\p{gc=Lu}, \p{Script=Greek},
//     \p{letter}), and the scripts Go 1.26 cannot name, as ranges; counted repetitions with
//     spaces (a{2, 3}, literal text in Go); the (?u) flag, which Discord sets anyway;
//     nested repetitions (a**), which Go refuses; every class member, so that Go cannot
//     read a Rust literal '-' as a range.
//   - kept, with Rust's meaning: \b and \B are Unicode word boundaries in Rust and ASCII in
//     Go, and no Go syntax expresses the Unicode one. A pattern with them is compiled with
//     regexp/syntax and run by wordVM, which evaluates the boundaries with Unicode word
//     characters (see vm.go).
//   - refused: class set operations (&&, --, ~~) and nested classes, which Go reads as
//     literal characters; \b{start}, \b{end}, \b{start-half}, \b{end-half}, \< and \>
//     (word-start and word-end assertions in Rust, literals in Go); \Q…\E quoting, a{,3} and
//     unescaped braces (Go reads them literally, Rust refuses them); (?x) and (?R), which
//     change how the rest of the pattern is read; (?-u); Unicode properties Go lacks;
//     backreferences and lookaround, which neither engine has.

// RegexError says why a regex was refused: the construct, where it is, and what to write
// instead.
type RegexError struct {
	Pattern   string
	Offset    int    // byte offset of Construct in Pattern
	Construct string // the refused text
	Reason    string
}

func (e *RegexError) Error() string {
	return fmt.Sprintf("regex %q: %s at offset %d: %s", e.Pattern, e.Construct, e.Offset, e.Reason)
}

// maxRegexNesting is Rust's default nest limit; it also bounds the translator's recursion.
const maxRegexNesting = 250

type pieceKind int

const (
	atomPiece      pieceKind = iota // may take a repetition as it is
	assertionPiece                  // Go refuses ^* : wrapped in (?:) before a repetition
	repeatedPiece                   // Go refuses a** : wrapped in (?:) before a repetition
	flagsPiece                      // (?i) : Rust refuses a repetition of it
)

// piece is one translated element of a concatenation. exact is the Go pattern; relaxed is
// the same with every \b and \B dropped, a pattern that matches wherever exact does and is
// run by Go's regexp to rule messages out quickly.
type piece struct {
	exact, relaxed string
	kind           pieceKind
}

type translator struct {
	src            string
	pos            int
	depth          int
	wordAssertions bool
}

func (t *translator) fail(at int, construct, reason string) error {
	return &RegexError{Pattern: t.src, Offset: at, Construct: construct, Reason: reason}
}

func (t *translator) eof() bool { return t.pos >= len(t.src) }

func (t *translator) peek() rune {
	r, _ := utf8.DecodeRuneInString(t.src[t.pos:])
	return r
}

func (t *translator) peekAt(off int) rune {
	if t.pos+off >= len(t.src) {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(t.src[t.pos+off:])
	return r
}

func (t *translator) next() rune {
	r, w := utf8.DecodeRuneInString(t.src[t.pos:])
	t.pos += w
	return r
}

// translation is a Discord regex written for Go.
type translation struct {
	exact, relaxed string
	// wordAssertions is true when the pattern has \b or \B, whose Unicode meaning only
	// wordVM gives.
	wordAssertions bool
}

func translateRegex(pattern string) (translation, error) {
	for i := 0; i < len(pattern); {
		r, w := utf8.DecodeRuneInString(pattern[i:])
		if r == utf8.RuneError && w == 1 {
			return translation{}, &RegexError{Pattern: pattern, Offset: i, Construct: fmt.Sprintf("byte 0x%02X", pattern[i]), Reason: "is not valid UTF-8"}
		}
		i += w
	}
	t := &translator{src: pattern}
	exact, relaxed, err := t.alternation()
	if err != nil {
		return translation{}, err
	}
	if !t.eof() {
		// alternation stops only at the end or at a ')' with no group open.
		return translation{}, t.fail(t.pos, "')'", "closes a group that was never opened; escape a literal parenthesis as \\)")
	}
	return translation{exact: exact, relaxed: relaxed, wordAssertions: t.wordAssertions}, nil
}

// TranslateRegex returns the Go pattern gavel evaluates for a Discord regex, without the
// (?i) that is added when it is compiled, or the reason it is refused. In the result, \b and
// \B stand for Unicode word boundaries, as in Rust; only CompileRegex evaluates them so.
func TranslateRegex(pattern string) (string, error) {
	tr, err := translateRegex(pattern)
	return tr.exact, err
}

func (t *translator) alternation() (string, string, error) {
	var exact, relaxed []string
	for {
		e, r, err := t.concat()
		if err != nil {
			return "", "", err
		}
		exact, relaxed = append(exact, e), append(relaxed, r)
		if t.eof() || t.peek() == ')' {
			return strings.Join(exact, "|"), strings.Join(relaxed, "|"), nil
		}
		t.next() // '|'
	}
}

func (t *translator) concat() (string, string, error) {
	var items []piece
	for !t.eof() {
		at := t.pos
		switch c := t.peek(); c {
		case '|', ')':
			return joinPieces(items), joinRelaxed(items), nil
		case '?', '*', '+', '{':
			if len(items) == 0 || items[len(items)-1].kind == flagsPiece {
				if c == '{' {
					return "", "", t.fail(at, "'{'", "a repetition needs something before it; escape a literal brace as \\{")
				}
				return "", "", t.fail(at, strconv.QuoteRune(c), "a repetition needs something before it; escape a literal as \\"+string(c))
			}
			op, err := t.repetition()
			if err != nil {
				return "", "", err
			}
			last := &items[len(items)-1]
			if last.kind != atomPiece {
				last.exact, last.relaxed = "(?:"+last.exact+")", "(?:"+last.relaxed+")"
			}
			last.exact += op
			last.relaxed += op
			last.kind = repeatedPiece
		default:
			p, err := t.atom()
			if err != nil {
				return "", "", err
			}
			items = append(items, p)
		}
	}
	return joinPieces(items), joinRelaxed(items), nil
}

func joinPieces(ps []piece) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.exact)
	}
	return b.String()
}

func joinRelaxed(ps []piece) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.relaxed)
	}
	return b.String()
}

// repetition reads ?, *, +, {n}, {n,} or {n,m}, each optionally followed by ? (lazy), and
// returns it in Go's spelling.
func (t *translator) repetition() (string, error) {
	at := t.pos
	c := t.next()
	var op string
	if c == '{' {
		lo, okLo := t.decimal()
		if t.eof() {
			return "", t.fail(at, "'{'", "the repetition is not closed; write {n}, {n,} or {n,m}, or escape a literal brace as \\{")
		}
		switch t.peek() {
		case '}':
			if !okLo {
				return "", t.fail(at, t.src[at:t.pos+1], "is not a repetition; write {n}, {n,} or {n,m}, or escape a literal brace as \\{")
			}
			t.next()
			op = fmt.Sprintf("{%d}", lo)
		case ',':
			t.next()
			if !t.eof() && t.peek() == '}' {
				if !okLo {
					return "", t.fail(at, t.src[at:t.pos+1], "is not a repetition; write {n}, {n,} or {n,m}")
				}
				t.next()
				op = fmt.Sprintf("{%d,}", lo)
				break
			}
			hi, okHi := t.decimal()
			if !okLo && okHi {
				return "", t.fail(at, "{,n}", "a repetition needs a lower bound in Rust (Go would read it as literal text); write {0,n}")
			}
			if !okLo || !okHi || t.eof() || t.peek() != '}' {
				return "", t.fail(at, t.src[at:t.pos], "is not a repetition; write {n}, {n,} or {n,m}, or escape a literal brace as \\{")
			}
			t.next()
			if lo > hi {
				return "", t.fail(at, t.src[at:t.pos], "the minimum is larger than the maximum")
			}
			op = fmt.Sprintf("{%d,%d}", lo, hi)
		default:
			return "", t.fail(at, "'{'", "is not a repetition; write {n}, {n,} or {n,m}, or escape a literal brace as \\{")
		}
	} else {
		op = string(c)
	}
	if !t.eof() && t.peek() == '?' {
		t.next()
		op += "?"
	}
	return op, nil
}

// decimal reads a repetition count. Rust allows whitespace around the digits; Go does not,
// so it is dropped here.
func (t *translator) decimal() (int, bool) {
	for !t.eof() && unicode.IsSpace(t.peek()) {
		t.next()
	}
	start := t.pos
	for !t.eof() && t.peek() >= '0' && t.peek() <= '9' {
		t.next()
	}
	digits := t.src[start:t.pos]
	for !t.eof() && unicode.IsSpace(t.peek()) {
		t.next()
	}
	if digits == "" {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n > 1<<31 {
		return 1 << 31, true // far above Go's limit of 1000; compiling reports it
	}
	return n, true
}

func (t *translator) atom() (piece, error) {
	switch c := t.peek(); c {
	case '(':
		return t.group()
	case '[':
		s, err := t.class()
		return piece{exact: s, relaxed: s}, err
	case '\\':
		return t.escapeOutside()
	case '.':
		t.next()
		return piece{exact: ".", relaxed: "."}, nil
	case '^', '$':
		t.next()
		return piece{exact: string(c), relaxed: string(c), kind: assertionPiece}, nil
	default:
		t.next()
		s := literal(c)
		return piece{exact: s, relaxed: s}, nil
	}
}

// literal writes one character so that Go reads it as that character and nothing else.
func literal(r rune) string {
	switch {
	case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == ' '):
		return string(r)
	case r < utf8.RuneSelf && unicode.IsPunct(r) || r < utf8.RuneSelf && unicode.IsSymbol(r):
		return `\` + string(r)
	case r >= utf8.RuneSelf && unicode.IsPrint(r):
		return string(r)
	}
	return fmt.Sprintf(`\x{%X}`, r)
}

func (t *translator) group() (piece, error) {
	at := t.pos
	t.next() // '('
	t.depth++
	defer func() { t.depth-- }()
	if t.depth > maxRegexNesting {
		return piece{}, t.fail(at, "'('", fmt.Sprintf("groups are nested more than %d deep", maxRegexNesting))
	}
	open := "("
	rest := t.src[t.pos:]
	switch {
	case strings.HasPrefix(rest, "?=") || strings.HasPrefix(rest, "?!") || strings.HasPrefix(rest, "?<=") || strings.HasPrefix(rest, "?<!"):
		end := 3
		if strings.HasPrefix(rest, "?<") {
			end = 4
		}
		return piece{}, t.fail(at, t.src[at:at+end], "lookaround is not supported by Discord's regex engine (nor by Go's)")
	case strings.HasPrefix(rest, "?P<") || strings.HasPrefix(rest, "?<"):
		// A named group. The name only matters for captures, which AutoMod does not use,
		// so it becomes a plain group and Go never sees it.
		if strings.HasPrefix(rest, "?P<") {
			t.pos += 3
		} else {
			t.pos += 2
		}
		start := t.pos
		for !t.eof() && t.peek() != '>' {
			c := t.next()
			if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || t.pos-1 > start && (c >= '0' && c <= '9' || c == '.' || c == '[' || c == ']')) {
				return piece{}, t.fail(t.pos-utf8.RuneLen(c), strconv.QuoteRune(c), "is not allowed in a group name; names are letters, digits and _, not starting with a digit")
			}
		}
		if t.eof() || t.pos == start {
			return piece{}, t.fail(at, t.src[at:t.pos], "is not a complete group name; write (?<name>…)")
		}
		t.next() // '>'
	case strings.HasPrefix(rest, "?"):
		t.next()
		flags, setOnly, err := t.flags(at)
		if err != nil {
			return piece{}, err
		}
		if setOnly {
			if flags == "" {
				return piece{kind: flagsPiece}, nil
			}
			return piece{exact: "(?" + flags + ")", relaxed: "(?" + flags + ")", kind: flagsPiece}, nil
		}
		open = "(?" + flags + ":"
	}
	exact, relaxed, err := t.alternation()
	if err != nil {
		return piece{}, err
	}
	if t.eof() {
		return piece{}, t.fail(at, "'('", "the group is not closed; add ) or escape a literal parenthesis as \\(")
	}
	t.next() // ')'
	return piece{exact: open + exact + ")", relaxed: open + relaxed + ")"}, nil
}

// flags reads the flags of (?flags) or (?flags:…), positioned after "(?", and returns them
// in Go's spelling. setOnly is true for (?flags), which sets them until the end of the
// enclosing group.
func (t *translator) flags(groupAt int) (string, bool, error) {
	var on, off strings.Builder
	seen := map[rune]bool{}
	negated, dangling := false, false
	for {
		if t.eof() {
			return "", false, t.fail(groupAt, t.src[groupAt:], "the flag group is not closed; write (?i) or (?i:…)")
		}
		at := t.pos
		c := t.next()
		switch c {
		case ':', ')':
			if dangling {
				return "", false, t.fail(at-1, "'-'", "a '-' in flags must be followed by a flag")
			}
			if c == ')' && len(seen) == 0 && !negated {
				return "", false, t.fail(groupAt, "(?)", "is empty; write flags, like (?i)")
			}
			flags := on.String()
			if off.Len() > 0 {
				flags += "-" + off.String()
			}
			return flags, c == ')', nil
		case '-':
			if negated {
				return "", false, t.fail(at, "'-'", "flags can be negated only once")
			}
			negated, dangling = true, true
			continue
		}
		dangling = false
		if seen[c] {
			return "", false, t.fail(at, strconv.QuoteRune(c), "the flag is repeated")
		}
		seen[c] = true
		switch c {
		case 'i', 'm', 's', 'U':
			if negated {
				off.WriteRune(c)
			} else {
				on.WriteRune(c)
			}
		case 'u':
			if negated {
				return "", false, t.fail(at, "(?-u)", "turning Unicode off is not supported: Discord matches with Unicode on and gavel evaluates the Unicode meaning only")
			}
			// Discord sets u already; Go has no such flag.
		case 'x':
			if !negated {
				return "", false, t.fail(at, "(?x)", "verbose mode is not supported: Go has no such flag and would read the spaces and # comments literally; remove the spaces and comments")
			}
		case 'R':
			if !negated {
				return "", false, t.fail(at, "(?R)", "CRLF mode is not supported: Go has no such flag and would read ^ and $ differently around \\r\\n")
			}
		default:
			return "", false, t.fail(at, strconv.QuoteRune(c), "is not a flag; accepted: i, m, s, U (and u, which Discord sets anyway)")
		}
	}
}

// escaped is what a backslash sequence stands for: a character, a class (written for use
// inside or outside a bracket class), or an assertion.
type escaped struct {
	lit       rune
	isLit     bool
	inClass   string // class body for use between [ and ]
	outClass  string // standalone class
	assertion string // Go spelling of an assertion; "" if not one
	word      bool   // \b or \B
	// complementOf is set for a complement Go cannot name: the body of the class it is
	// the complement of. inClass then spells the complement out ("" when it cannot be).
	complementOf string
}

func (t *translator) escapeOutside() (piece, error) {
	e, err := t.escape(false)
	if err != nil {
		return piece{}, err
	}
	switch {
	case e.isLit:
		s := literal(e.lit)
		return piece{exact: s, relaxed: s}, nil
	case e.assertion != "":
		p := piece{exact: e.assertion, relaxed: e.assertion, kind: assertionPiece}
		if e.word {
			t.wordAssertions = true
			p.relaxed = "(?:)"
		}
		return p, nil
	}
	return piece{exact: e.outClass, relaxed: e.outClass}, nil
}

func (t *translator) escape(inClass bool) (escaped, error) {
	at := t.pos
	t.next() // '\\'
	if t.eof() {
		return escaped{}, t.fail(at, `'\'`, "the pattern ends with a lone backslash; write \\\\ for a literal one")
	}
	c := t.next()
	seq := func() string { return t.src[at:t.pos] }
	pc := perlClassBodies()
	switch c {
	case 'd':
		return escaped{inClass: `\p{Nd}`, outClass: `\p{Nd}`}, nil
	case 'D':
		return escaped{inClass: `\P{Nd}`, outClass: `\P{Nd}`}, nil
	case 'w':
		return escaped{inClass: pc.word, outClass: "[" + pc.word + "]"}, nil
	case 'W':
		return escaped{inClass: pc.notWord, outClass: "[^" + pc.word + "]", complementOf: pc.word}, nil
	case 's':
		return escaped{inClass: pc.space, outClass: "[" + pc.space + "]"}, nil
	case 'S':
		return escaped{inClass: pc.notSpace, outClass: "[^" + pc.space + "]", complementOf: pc.space}, nil
	case 'p', 'P':
		return t.unicodeClass(at, c == 'P')
	case 'x', 'u', 'U':
		r, err := t.hex(at, c)
		return escaped{lit: r, isLit: true}, err
	case 'a':
		return escaped{lit: '\a', isLit: true}, nil
	case 'f':
		return escaped{lit: '\f', isLit: true}, nil
	case 't':
		return escaped{lit: '\t', isLit: true}, nil
	case 'n':
		return escaped{lit: '\n', isLit: true}, nil
	case 'r':
		return escaped{lit: '\r', isLit: true}, nil
	case 'v':
		return escaped{lit: '\v', isLit: true}, nil
	case 'b', 'B', 'A', 'z', '<', '>':
		if c == 'b' && !t.eof() && t.peek() == '{' {
			if n := t.peekAt(1); n == '-' || n >= 'a' && n <= 'z' || n >= 'A' && n <= 'Z' {
				end := strings.IndexByte(t.src[t.pos:], '}')
				construct := `\b{…}`
				if end >= 0 {
					construct = t.src[at : t.pos+end+1]
				}
				return escaped{}, t.fail(at, construct, "word-start and word-end assertions (\\b{start}, \\b{end}, \\b{start-half}, \\b{end-half}) are not supported: Go would read \\b followed by literal text; use \\b")
			}
		}
		if c == '<' || c == '>' {
			return escaped{}, t.fail(at, seq(), "word-start and word-end assertions are not supported: Go would read a literal "+string(c)+"; use \\b")
		}
		if inClass {
			return escaped{}, t.fail(at, seq(), "an assertion cannot be used inside a character class")
		}
		if c == 'b' || c == 'B' {
			return escaped{assertion: seq(), word: true}, nil
		}
		return escaped{assertion: seq()}, nil
	case 'Q', 'E':
		return escaped{}, t.fail(at, seq(), "\\Q…\\E quoting is not Rust syntax (Go would quote the text literally); escape each special character with \\ instead")
	}
	if c >= '0' && c <= '9' {
		return escaped{}, t.fail(at, seq(), "backreferences and octal escapes are not supported; write a character as \\x{41}")
	}
	if c < utf8.RuneSelf && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		// Rust lets any ASCII punctuation, symbol or space be escaped and means the
		// character itself; so does Go.
		return escaped{lit: c, isLit: true}, nil
	}
	return escaped{}, t.fail(at, seq(), "is not an escape Rust's regex knows; accepted: \\d \\w \\s \\D \\W \\S \\b \\B \\A \\z \\p{…} \\x{…} \\u{…} \\a \\f \\t \\n \\r \\v and \\ before punctuation")
}

// hex reads \xNN, \x{…}, \uNNNN, \u{…}, \UNNNNNNNN or \U{…}, positioned after the letter.
func (t *translator) hex(at int, kind rune) (rune, error) {
	var digits string
	if !t.eof() && t.peek() == '{' {
		t.next()
		start := t.pos
		for !t.eof() && t.peek() != '}' {
			t.next()
		}
		if t.eof() {
			return 0, t.fail(at, t.src[at:], "the code point is not closed; write \\x{41}")
		}
		digits = t.src[start:t.pos]
		t.next()
		if digits == "" {
			return 0, t.fail(at, t.src[at:t.pos], "is empty; write a hexadecimal code point, like \\x{41}")
		}
	} else {
		n := map[rune]int{'x': 2, 'u': 4, 'U': 8}[kind]
		if len(t.src)-t.pos < n {
			return 0, t.fail(at, t.src[at:], fmt.Sprintf("needs %d hexadecimal digits", n))
		}
		digits = t.src[t.pos : t.pos+n]
		t.pos += n
	}
	for _, d := range digits {
		if !(d >= '0' && d <= '9' || d >= 'a' && d <= 'f' || d >= 'A' && d <= 'F') {
			return 0, t.fail(at, t.src[at:t.pos], "is not a hexadecimal code point")
		}
	}
	v, err := strconv.ParseUint(digits, 16, 32)
	if err != nil || v > unicode.MaxRune || v >= 0xD800 && v <= 0xDFFF {
		return 0, t.fail(at, t.src[at:t.pos], "is not a Unicode scalar value (0 to 10FFFF, surrogates excluded)")
	}
	return rune(v), nil
}

// unicodeClass reads \pL, \p{…}, \PL or \P{…}, positioned after the p or P.
func (t *translator) unicodeClass(at int, negated bool) (escaped, error) {
	if t.eof() {
		return escaped{}, t.fail(at, t.src[at:], "names no Unicode class; write \\pL or \\p{Greek}")
	}
	var query string
	if t.peek() == '{' {
		t.next()
		start := t.pos
		for !t.eof() && t.peek() != '}' {
			t.next()
		}
		if t.eof() {
			return escaped{}, t.fail(at, t.src[at:], "the Unicode class is not closed; write \\p{Greek}")
		}
		query = t.src[start:t.pos]
		t.next()
	} else {
		c := t.next()
		if c == '\\' {
			return escaped{}, t.fail(at, t.src[at:t.pos], "names no Unicode class; write \\pL or \\p{Greek}")
		}
		query = string(c)
	}
	name, script, neg, problem := goUnicodeClass(query)
	if problem != "" {
		return escaped{}, t.fail(at, t.src[at:t.pos], problem)
	}
	if neg {
		negated = !negated
	}
	if script && !goNamesScript(name) {
		body := renderRanges(tableRanges(unicode.Scripts[name]))
		if negated {
			return escaped{outClass: "[^" + body + "]", complementOf: body}, nil
		}
		return escaped{inClass: body, outClass: "[" + body + "]"}, nil
	}
	s := `\p{` + name + `}`
	if negated {
		s = `\P{` + name + `}`
	}
	return escaped{inClass: s, outClass: s}, nil
}

var asciiClassNames = map[string]bool{
	"alnum": true, "alpha": true, "ascii": true, "blank": true, "cntrl": true, "digit": true, "graph": true,
	"lower": true, "print": true, "punct": true, "space": true, "upper": true, "word": true, "xdigit": true,
}

// class reads a bracket class, positioned at '['. Rust's rules for a leading ^, leading -,
// a leading ] and ranges are followed exactly, and every item is written back in a form Go
// cannot read another way (a '-' that Rust reads as a literal is escaped, for instance).
//
// Items that are complements Go cannot name (\W, \S, and \P of a script Go cannot name)
// need care. Rust folds case before it negates ((?i)[\P{Greek}] excludes µ, whose fold is
// Greek), and Go does the same for a [^…] it is given, but not for ranges spelled out. So in
// a class that is not negated they become alternatives: [a\W] is written (?:[a]|[^…word…]),
// which matches the same single characters and lets Go fold and negate. In a negated class
// \W and \S are spelled out (they are closed under case folding, so that is exact); a
// negated unnamed script there is refused.
func (t *translator) class() (string, error) {
	at := t.pos
	t.next() // '['
	negated := false
	var body strings.Builder
	var alternatives []string // [^…] classes to match besides body, when not negated
	if !t.eof() && t.peek() == '^' {
		t.next()
		negated = true
	}
	first := true
	for !t.eof() && t.peek() == '-' {
		t.next()
		body.WriteString(`\-`)
		first = false
	}
	if first && !t.eof() && t.peek() == ']' {
		t.next()
		body.WriteString(`\]`)
	}
	for {
		if t.eof() {
			return "", t.fail(at, "'['", "the class is not closed; add ] or escape a literal bracket as \\[")
		}
		here := t.pos
		rest := t.src[t.pos:]
		switch {
		case rest[0] == ']':
			t.next()
			return classString(negated, body.String(), alternatives), nil
		case rest[0] == '[':
			if name, neg, n, ok := asciiClass(rest); ok {
				t.pos += n
				if neg {
					body.WriteString("[:^" + name + ":]")
				} else {
					body.WriteString("[:" + name + ":]")
				}
				continue
			}
			return "", t.fail(here, "'['", "nested classes are not supported: Go reads [ inside a class as a literal character; flatten the class, or escape a literal bracket as \\[")
		case strings.HasPrefix(rest, "&&"):
			return "", t.fail(here, "&&", "class intersection is not supported: Go reads it as literal characters; rewrite the class without set operations")
		case strings.HasPrefix(rest, "--"):
			return "", t.fail(here, "--", "class difference is not supported: Go reads it as literal characters or a range; rewrite the class without set operations")
		case strings.HasPrefix(rest, "~~"):
			return "", t.fail(here, "~~", "class symmetric difference is not supported: Go reads it as literal characters; rewrite the class without set operations")
		}
		item, err := t.classItem()
		if err != nil {
			return "", err
		}
		if t.eof() {
			return "", t.fail(at, "'['", "the class is not closed; add ]")
		}
		if t.peek() != '-' || t.peekAt(1) == ']' || t.peekAt(1) == '-' {
			switch {
			case item.complementOf != "" && !negated:
				alternatives = append(alternatives, "[^"+item.complementOf+"]")
			case item.complementOf != "" && item.inClass == "":
				return "", t.fail(here, t.src[here:t.pos], "the complement of a script Go cannot name is not supported inside a negated class; list what the class should match instead")
			default:
				body.WriteString(item.body())
			}
			continue
		}
		t.next() // '-'
		if t.eof() {
			return "", t.fail(at, "'['", "the class is not closed; add ]")
		}
		hi, err := t.classItem()
		if err != nil {
			return "", err
		}
		if !item.isLit || !hi.isLit {
			return "", t.fail(here, t.src[here:t.pos], "a range needs a single character at each end")
		}
		if item.lit > hi.lit {
			return "", t.fail(here, t.src[here:t.pos], "the range is out of order")
		}
		body.WriteString(classLiteral(item.lit) + "-" + classLiteral(hi.lit))
	}
}

func classString(negated bool, body string, alternatives []string) string {
	if negated {
		return "[^" + body + "]"
	}
	if body != "" {
		alternatives = append([]string{"[" + body + "]"}, alternatives...)
	}
	if len(alternatives) == 1 {
		return alternatives[0]
	}
	return "(?:" + strings.Join(alternatives, "|") + ")"
}

func (e escaped) body() string {
	if e.isLit {
		return classLiteral(e.lit)
	}
	return e.inClass
}

func (t *translator) classItem() (escaped, error) {
	if t.peek() == '\\' {
		return t.escape(true)
	}
	return escaped{lit: t.next(), isLit: true}, nil
}

// classLiteral writes one character for use inside a Go class.
func classLiteral(r rune) string {
	if r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
		return string(r)
	}
	if r >= utf8.RuneSelf && unicode.IsPrint(r) {
		return string(r)
	}
	return fmt.Sprintf(`\x{%X}`, r)
}

// asciiClass recognizes [:name:] or [:^name:] at the start of s, as Rust does inside a class.
func asciiClass(s string) (name string, negated bool, n int, ok bool) {
	if !strings.HasPrefix(s, "[:") {
		return "", false, 0, false
	}
	body := s[2:]
	if strings.HasPrefix(body, "^") {
		negated = true
		body = body[1:]
	}
	end := strings.Index(body, ":]")
	if end < 0 || !asciiClassNames[body[:end]] {
		return "", false, 0, false
	}
	n = 2 + end + 2
	if negated {
		n++
	}
	return body[:end], negated, n, true
}

// Regex is a Discord regex compiled with Rust's meaning: case-insensitive, Unicode classes,
// Unicode word boundaries. It is safe for concurrent use.
type Regex struct {
	source string
	goExpr string
	// re is the whole regex when it has no \b or \B; otherwise the relaxed form, a
	// prefilter that matches wherever the regex does.
	re *regexp.Regexp
	vm *wordVM // non-nil when the regex has \b or \B
	// literals are folded strings one of which every match contains, and required a set
	// of characters one of which every match contains (see prefilter.go); nil when the
	// regex has none worth searching for.
	literals []string
	required *runeSet
}

// CompileRegex translates a Discord regex (see TranslateRegex) and compiles it
// case-insensitively, as Discord does.
func CompileRegex(pattern string) (*Regex, error) {
	tr, err := translateRegex(pattern)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile("(?i)" + tr.relaxed)
	if err != nil {
		return nil, compileError(pattern, err)
	}
	parsed, err := syntax.Parse("(?i)"+tr.exact, syntax.Perl)
	if err != nil {
		return nil, compileError(pattern, err)
	}
	parsed = parsed.Simplify()
	out := &Regex{source: pattern, goExpr: tr.exact, re: re, literals: requiredLiterals(parsed), required: requiredRunes(parsed)}
	if tr.wordAssertions {
		prog, err := syntax.Compile(parsed)
		if err != nil {
			return nil, compileError(pattern, err)
		}
		out.vm = newWordVM(prog)
	}
	return out, nil
}

// compileError explains a pattern that translated but that Go's regexp still refuses, such
// as a repetition above 1000 or a group name Go does not accept.
func compileError(pattern string, err error) error {
	construct, reason := "the pattern", err.Error()
	var se *syntax.Error
	if errors.As(err, &se) {
		construct = se.Expr
		reason = string(se.Code)
		if se.Code == syntax.ErrInvalidRepeatSize || se.Code == syntax.ErrLarge {
			reason += " (Go accepts repetition counts up to 1000)"
		}
	}
	return &RegexError{Pattern: pattern, Offset: max(0, strings.Index(pattern, construct)), Construct: construct, Reason: reason}
}

// String is the regex as written for Discord.
func (r *Regex) String() string { return r.source }

// GoPattern is the translated pattern (without the leading (?i)); \b and \B in it stand for
// Unicode word boundaries.
func (r *Regex) GoPattern() string { return r.goExpr }

// FindStringIndex returns the leftmost-first match of the regex in s as [start, end), or nil.
func (r *Regex) FindStringIndex(s string) []int {
	var out []int
	r.eachMatch(s, func(start, end int) bool {
		out = []int{start, end}
		return false
	})
	return out
}

// MatchString reports whether the regex matches anywhere in s.
func (r *Regex) MatchString(s string) bool {
	if r.vm == nil {
		return r.re.MatchString(s)
	}
	return r.FindStringIndex(s) != nil
}

// eachMatch calls fn with successive non-overlapping matches, leftmost-first, until fn
// returns false. With or without \b, the matches are the ones Go's FindAllStringIndex would
// give: an empty match right after the previous match is skipped.
func (r *Regex) eachMatch(s string, fn func(start, end int) bool) {
	if r.vm == nil {
		// Most messages do not match: one search decides, and only a caller that wants
		// more than the first match pays for the rest.
		m := r.re.FindStringIndex(s)
		if m == nil || !fn(m[0], m[1]) {
			return
		}
		for _, m := range r.re.FindAllStringIndex(s, -1)[1:] {
			if !fn(m[0], m[1]) {
				return
			}
		}
		return
	}
	if !r.re.MatchString(s) {
		return
	}
	prevEnd := -1
	for pos := 0; pos <= len(s); {
		start, end := r.vm.find(s, pos)
		if start < 0 {
			return
		}
		if start == end && start == prevEnd {
			// Go's rule for the 'All' functions: no empty match abutting the previous one.
		} else if !fn(start, end) {
			return
		}
		prevEnd = end
		if end > start {
			pos = end
		} else {
			_, w := utf8.DecodeRuneInString(s[end:])
			pos = end + max(w, 1)
		}
	}
}
