package automod

import (
	"errors"
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestRegexCompatibility holds the Rust-versus-Go differences measured in
// reference/dependencies.md §7 (Go 1.26.8 against Rust regex 1.7.1 and the current crate's
// documentation), plus Discord's own examples: each accepted pattern must give Rust's
// answer, with Discord's flags (case-insensitive, Unicode).
func TestRegexCompatibility(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, input string
		match          bool
		matched        string // when match: the leftmost-first match, if not ""
	}{
		// Discord's examples (auto-moderation.mdx).
		{`(b|c)at`, "a bat", true, "bat"},
		{`(b|c)at`, "a rat", false, ""},
		{`^(?:[0-9]{1,3}\.){3}[0-9]{1,3}$`, "192.168.0.1", true, ""},
		{`^(?:[0-9]{1,3}\.){3}[0-9]{1,3}$`, "ip 192.168.0.1", false, ""},
		// Case-insensitive by default, with Unicode simple folding.
		{`cat`, "CaT", true, "CaT"},
		{`k`, "\u212A", true, ""}, // Kelvin sign
		{`ß`, "SS", false, ""},
		{`(?-i)cat`, "CAT", false, ""},
		{`(?-i)\p{Lu}`, "a", false, ""},
		{`\p{Lu}`, "a", true, ""},
		// \w \d \s are Unicode in Rust, ASCII in Go.
		{`^\w+$`, "héllo", true, ""},
		{`^\w+$`, "日本語", true, ""},
		{`^\w+$`, "Ⅻ", true, ""},        // Nl is Alphabetic
		{`^\w+$`, "Ⓐⓑ", true, ""},       // circled letters are Other_Alphabetic
		{`^\w+$`, "a\u200db", true, ""}, // Join_Control
		{`\w`, "!", false, ""},
		{`\d`, "٣", true, ""},
		{`\d`, "²", false, ""}, // No, not Nd
		{`\s`, "\u00a0", true, ""},
		{`\s`, "\u3000", true, ""},
		{`\s`, "\u200b", false, ""}, // zero-width space is not White_Space
		{`\W`, "é", false, ""},
		{`\W`, "!", true, ""},
		{`\D`, "٣", false, ""},
		{`\S`, "\u00a0", false, ""},
		{`[\W]`, "é", false, ""},
		{`[\W]`, "!", true, ""},
		{`[^\w]`, "é", false, ""},
		{`[\w-]+`, "é-ü", true, "é-ü"},
		{`[\s\d]`, "\u3000", true, ""},
		{`[\s\d]`, "٣", true, ""},
		{`[\S]`, " ", false, ""},
		{`[^\S]`, "\u2003", true, ""},
		{`[\D]`, "٣", false, ""},
		{`[a\W]`, "!", true, ""},
		{`[a\W]`, "é", false, ""},
		{`[a\W]`, "A", true, ""},
		{`[^\W\d_]+`, "_héllo1", true, "héllo"},
		{`[\s\S]`, "é", true, ""},
		// Case folding happens before negation: µ (Common) folds to μ (Greek).
		{`\P{Greek}`, "µ", false, ""},
		{`[\P{Greek}]`, "µ", false, ""},
		{`[x\P{Greek}]`, "µ", false, ""},
		{`[^\p{Greek}]`, "µ", false, ""},
		{`(?-i)[\P{Greek}]`, "µ", true, ""},
		// Scripts Go 1.26 cannot name (\p{Old_Italic} fails in Go).
		{`[x\P{Old_Italic}]`, "a", true, ""},
		{`[x\P{Old_Italic}]`, "\U00010300", false, ""},
		{`\P{SignWriting}`, "a", true, ""},
		{`[^\p{Old_Hungarian}]`, "\U00010CC0", false, ""},
		{`\p{Old_Hungarian}`, "\U00010C80", true, ""},
		// \b and \B are Unicode word boundaries.
		{`\bcat\b`, "écat", false, ""},
		{`\bcat\b`, "é cat", true, "cat"},
		{`\bcat\b`, "catb cat", true, ""},
		{`\bcat\b`, "caté", false, ""},
		{`\bcat\b`, "cat!", true, "cat"},
		{`\bcat\b`, "_cat", false, ""}, // _ is a word character
		{`\Bcat`, "écat", true, "cat"},
		{`é\b`, "éa", false, ""},
		{`é\b`, "é a", true, ""},
		{`\b`, "", false, ""},
		{`\B`, "", true, ""},
		{`\b(?:cat|dog)\b`, "hotdog dog", true, "dog"},
		// Escapes Go does not know.
		{`\u0041`, "a", true, ""},
		{`\u{41}`, "A", true, ""},
		{`\U00000041`, "a", true, ""},
		{`\U{1F600}`, "😀", true, ""},
		{`\x41\x{42}`, "ab", true, ""},
		{`\!\#\&\-\~\ `, "!#&-~ ", true, ""},
		{`\a\f\t\n\r\v`, "\a\f\t\n\r\v", true, ""},
		// Unicode properties as Rust names them.
		{`\p{Greek}`, "α", true, ""},
		{`\p{Greek}`, "a", false, ""},
		{`\p{Script=Greek}`, "α", true, ""},
		{`\p{sc=Greek}`, "α", true, ""},
		{`\p{sc:greek}`, "α", true, ""},
		{`\p{Is_Greek}`, "α", true, ""},
		{`\p{Old Italic}`, "\U00010300", true, ""},
		{`\p{Letter}`, "é", true, ""},
		{`\p{letter}`, "é", true, ""},
		{`\p{gc=Decimal_Number}`, "٣", true, ""},
		{`\p{digit}`, "٣", true, ""},
		{`\pL`, "é", true, ""},
		{`\PL`, "1", true, ""},
		{`\p{gc!=L}`, "1", true, ""},
		{`\P{gc!=L}`, "é", true, ""},
		{`\p{Sc}`, "€", true, ""}, // Currency_Symbol, not the Script property
		{`\p{Cf}`, "\u200b", true, ""},
		{`\p{Any}`, "x", true, ""},
		{`[\p{Greek}\d]+`, "α٣β", true, "α٣β"},
		// Named groups, flags, repetitions.
		{`(?<name>cat)`, "cat", true, ""},
		{`(?P<name>cat)`, "cat", true, ""},
		{`(?u)cat`, "cat", true, ""},
		{`(?iu:cat)`, "CAT", true, ""},
		{`(?-x)a b`, "a b", true, ""},
		{`(?m)^b`, "a\nb", true, ""},
		{`^b`, "a\nb", false, ""},
		{`a$`, "a\n", false, ""},
		{`(?s).`, "\n", true, ""},
		{`.`, "\n", false, ""},
		{`(?U)a+`, "aaa", true, "a"},
		{`a+?`, "aaa", true, "a"},
		{`a{2, 3}`, "aaaa", true, "aaa"},
		{`a{ 2 }`, "aa", true, ""},
		{`a{2,}?`, "aaaa", true, "aa"},
		{`a**`, "aaa", true, "aaa"},
		{`(?:^)*b`, "b", true, ""},
		{`\b+cat`, "cat", true, ""},
		// Classes: Rust's rules for -, ] and ^.
		{`[--a]`, "0", false, ""}, // Rust: {'-', 'a'}; Go would read the range - to a
		{`[--a]`, "-", true, ""},
		{`[]a]`, "]", true, ""},
		{`[a-]`, "-", true, ""},
		{`[^-]`, "-", false, ""},
		{`[a-c-e]`, "d", false, ""},
		{`[a-c-e]`, "-", true, ""},
		{`[\--/]`, ".", true, ""},
		{`[a^]`, "^", true, ""},
		{`[&~]`, "~", true, ""},
		{`[[:alpha:]]`, "a", true, ""},
		{`[[:^alpha:]]`, "1", true, ""},
		{`[[:word:]]+`, "a_1", true, "a_1"},
		{`[x[:digit:]]`, "5", true, ""},
		{`[.*+?()|{}$]+`, ".*+?()|{}$", true, ".*+?()|{}$"},
		{`}`, "}", true, ""},
		{`]`, "]", true, ""},
	}
	for _, c := range cases {
		re, err := CompileRegex(c.pattern)
		if err != nil {
			t.Errorf("CompileRegex(%q): %v", c.pattern, err)
			continue
		}
		m := re.FindStringIndex(c.input)
		if (m != nil) != c.match {
			t.Errorf("%q on %q: match = %v; want %v (Go pattern %q)", c.pattern, c.input, m != nil, c.match, shortPattern(re.GoPattern()))
			continue
		}
		if c.match && c.matched != "" && c.input[m[0]:m[1]] != c.matched {
			t.Errorf("%q on %q: matched %q; want %q", c.pattern, c.input, c.input[m[0]:m[1]], c.matched)
		}
		if re.MatchString(c.input) != c.match {
			t.Errorf("%q on %q: MatchString disagrees with FindStringIndex", c.pattern, c.input)
		}
		if re.String() != c.pattern {
			t.Errorf("String() = %q", re.String())
		}
	}
}

func shortPattern(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// TestRegexRefusals: what Go would read differently, and what Rust refuses, is refused with
// the construct named.
func TestRegexRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct{ pattern, construct, reason string }{
		{`[a-z&&[^aeiou]]`, "&&", "class intersection is not supported"},
		{`[a-z--aeiou]`, "--", "class difference is not supported"},
		{`[a-c~~b-d]`, "~~", "symmetric difference is not supported"},
		{`[a[bc]]`, "'['", "nested classes are not supported"},
		{`[[:loower:]]`, "'['", "nested classes"},
		{`\b{start}cat`, `\b{start}`, "word-start and word-end assertions"},
		{`cat\b{end}`, `\b{end}`, "word-start and word-end assertions"},
		{`\b{start-half}x`, `\b{start-half}`, "not supported"},
		{`x\b{end-half}`, `\b{end-half}`, "not supported"},
		{`\<cat`, `\<`, "Go would read a literal <"},
		{`cat\>`, `\>`, "Go would read a literal >"},
		{`\Qa.b\E`, `\Q`, "\\Q…\\E quoting is not Rust syntax"},
		{`(?x)a b # comment`, "(?x)", "verbose mode is not supported"},
		{`(?R)^a$`, "(?R)", "CRLF mode is not supported"},
		{`(?-u)\w`, "(?-u)", "turning Unicode off is not supported"},
		{`a{,3}`, "{,n}", "write {0,n}"},
		{`\p{Emoji}`, `\p{Emoji}`, "binary properties"},
		{`\p{Alphabetic}`, `\p{Alphabetic}`, "not supported"},
		{`\p{Latn}`, `\p{Latn}`, "four-letter script codes"},
		{`\p{sc=Latn}`, `\p{sc=Latn}`, "write the full name"},
		{`\p{scx=Greek}`, `\p{scx=Greek}`, "Script_Extensions has no Go equivalent"},
		{`\p{Age=3.0}`, `\p{Age=3.0}`, `the Unicode property "Age" is not supported`},
		{`\p{gc=Nope}`, `\p{gc=Nope}`, "is not a general category"},
		{`\p{^Greek}`, `\p{^Greek}`, "write \\P{…}"},
		{`\p{Greek`, `\p{Greek`, "not closed"},
		{`(?=a)`, "(?=", "lookaround"},
		{`(?<!a)b`, "(?<!", "lookaround"},
		{`(a)\1`, `\1`, "backreferences"},
		{`\0`, `\0`, "octal"},
		{`a{1001}`, "{1001}", "up to 1000"},
		{`(a`, "'('", "the group is not closed"},
		{`a)`, "')'", "never opened"},
		{`*a`, "'*'", "needs something before it"},
		{`(?i)*`, "'*'", "needs something before it"},
		{`a{`, "'{'", "not closed"},
		{`{2}`, "'{'", "needs something before it"},
		{`a{x}`, "'{'", "is not a repetition"},
		{`a{2,1}`, "{2,1}", "minimum is larger"},
		{`a{}`, "{}", "is not a repetition"},
		{`\k<n>`, `\k`, "not an escape Rust's regex knows"},
		{`\Z`, `\Z`, "not an escape"},
		{`\é`, `\é`, "not an escape"},
		{`a\`, `'\'`, "lone backslash"},
		{`\x{110000}`, `\x{110000}`, "not a Unicode scalar value"},
		{`\x{D800}`, `\x{D800}`, "surrogates excluded"},
		{`\x{}`, `\x{}`, "is empty"},
		{`\xZZ`, `\xZZ`, "not a hexadecimal"},
		{`\u12`, `\u12`, "needs 4 hexadecimal digits"},
		{`(?#c)`, "'#'", "is not a flag"},
		{`(?)`, "(?)", "is empty"},
		{`(?i-)a`, "'-'", "must be followed by a flag"},
		{`(?ii)a`, "'i'", "repeated"},
		{`(?i-s-m)a`, "'-'", "negated only once"},
		{`(?<1a>x)`, "'1'", "group name"},
		{`(?<a`, "(?<a", "not a complete group name"},
		{`[a`, "'['", "not closed"},
		{`[z-a]`, "z-a", "out of order"},
		{`[\d-z]`, `\d-z`, "single character at each end"},
		{`[\b]`, `\b`, "inside a character class"},
		{"a\xffb", "byte 0xFF", "not valid UTF-8"},
		{`[^\P{Old_Italic}]`, `\P{Old_Italic}`, "not supported inside a negated class"},
	}
	for _, c := range cases {
		_, err := CompileRegex(c.pattern)
		var re *RegexError
		if !errors.As(err, &re) {
			t.Errorf("CompileRegex(%q) = %v; want a *RegexError", c.pattern, err)
			continue
		}
		if re.Construct != c.construct || !strings.Contains(re.Reason, c.reason) || re.Pattern != c.pattern {
			t.Errorf("CompileRegex(%q): construct %q, reason %q; want %q, %q", c.pattern, re.Construct, re.Reason, c.construct, c.reason)
		}
		if !strings.Contains(err.Error(), c.construct) || !strings.Contains(err.Error(), "at offset") {
			t.Errorf("CompileRegex(%q): message %q does not name the construct and offset", c.pattern, err)
		}
	}
}

func TestTranslateRegexOutput(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		`(b|c)at`:            `(b|c)at`,
		`\u{41}\u0042\x{43}`: `ABC`,
		`a{ 2 , 3 }`:         `a{2,3}`,
		`a**`:                `(?:a*)*`,
		`^*`:                 `(?:^)*`,
		`(?u)x(?iu:y)`:       `x(?i:y)`,
		`(?<n>x)(?P<m>y)`:    `(x)(y)`,
		`\p{gc!=Lu}`:         `\P{Lu}`,
		`\d\D`:               `\p{Nd}\P{Nd}`,
		`[--a]`:              `[\-\-a]`,
		`[]a-]`:              `[\]a\x{2D}]`,
		`[a\D\P{Lu}]`:        `[a\P{Nd}\P{Lu}]`,
		`\p{Script=Greek}`:   `\p{Greek}`,
		`\bx\B`:              `\bx\B`,
		`.\.`:                `.\.`,
	}
	for in, want := range cases {
		got, err := TranslateRegex(in)
		if err != nil || got != want {
			t.Errorf("TranslateRegex(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	got, _ := TranslateRegex(`\s`)
	if want := `[\x{9}-\x{D}\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}-\x{2029}\x{202F}\x{205F}\x{3000}]`; got != want {
		t.Errorf(`\s = %q; want %q`, got, want)
	}
	got, _ = TranslateRegex(`\w`)
	if !strings.HasPrefix(got, `[\p{L}\p{Nl}\p{M}\p{Nd}\p{Pc}\x{200C}-\x{200D}\x{24B6}-\x{24E9}`) {
		t.Errorf(`\w = %q`, got)
	}
}

// TestPerlClassesAreRusts checks the generated classes against their definitions, code
// point by code point, on both sides of each class.
func TestPerlClassesAreRusts(t *testing.T) {
	t.Parallel()
	word := regexp.MustCompile(`^[` + perlClassBodies().word + `]$`)
	notWord := regexp.MustCompile(`^[` + perlClassBodies().notWord + `]$`)
	space := regexp.MustCompile(`^[` + perlClassBodies().space + `]$`)
	notSpace := regexp.MustCompile(`^[` + perlClassBodies().notSpace + `]$`)
	for r := rune(0); r <= 0x10FFFF; r += 7 {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		s := string(r)
		w := isWordChar(r)
		if word.MatchString(s) != w || notWord.MatchString(s) == w {
			t.Fatalf("U+%04X: word class %v, complement %v; want word = %v", r, word.MatchString(s), notWord.MatchString(s), w)
		}
		sp := r == ' ' || r >= '\t' && r <= '\r' || r == 0x85 || r == 0xA0 || r == 0x1680 || r >= 0x2000 && r <= 0x200A ||
			r == 0x2028 || r == 0x2029 || r == 0x202F || r == 0x205F || r == 0x3000
		if space.MatchString(s) != sp || notSpace.MatchString(s) == sp {
			t.Fatalf("U+%04X: space class %v; want %v", r, space.MatchString(s), sp)
		}
	}
}

// vmOnly compiles a translated pattern for wordVM even when it has no \b, to test the VM
// against Go's own engine.
func vmOnly(t testing.TB, exact string) *wordVM {
	t.Helper()
	parsed, err := syntax.Parse("(?i)"+exact, syntax.Perl)
	if err != nil {
		t.Fatalf("parse %q: %v", exact, err)
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		t.Fatalf("compile %q: %v", exact, err)
	}
	return newWordVM(prog)
}

// randomPattern builds a Rust pattern from a small grammar that reaches every construct the
// VM executes.
func randomPattern(rng *rand.Rand, depth int) string {
	atoms := []string{"a", "b", "c", "é", " ", ".", `\w`, `\W`, `\d`, `\s`, `[ab]`, `[^a]`, `\b`, `\B`, "^", "$", `(?m:^)`, `(?m:$)`, `\A`, `\z`, `\x{e9}`, "(?-i:A)"}
	var b strings.Builder
	n := 1 + rng.IntN(4)
	for range n {
		switch k := rng.IntN(10); {
		case k < 6 || depth > 2:
			b.WriteString(atoms[rng.IntN(len(atoms))])
		case k < 8:
			b.WriteString("(" + randomPattern(rng, depth+1) + "|" + randomPattern(rng, depth+1) + ")")
		default:
			b.WriteString("(?:" + randomPattern(rng, depth+1) + ")")
		}
		if rng.IntN(3) == 0 {
			b.WriteString([]string{"*", "+", "?", "{1,2}", "*?", "+?", "??"}[rng.IntN(7)])
		}
	}
	return b.String()
}

func randomText(rng *rand.Rand, alphabet []string, max int) string {
	var b strings.Builder
	for range rng.IntN(max + 1) {
		b.WriteString(alphabet[rng.IntN(len(alphabet))])
	}
	return b.String()
}

func allMatches(re *Regex, s string) [][2]int {
	var out [][2]int
	re.eachMatch(s, func(start, end int) bool {
		out = append(out, [2]int{start, end})
		return true
	})
	return out
}

func goAllMatches(re *regexp.Regexp, s string) [][2]int {
	var out [][2]int
	for _, m := range re.FindAllStringIndex(s, -1) {
		out = append(out, [2]int{m[0], m[1]})
	}
	return out
}

// TestWordVMAgreesWithGo: on ASCII text Unicode and ASCII word boundaries are the same, so
// the VM (through CompileRegex) must find exactly what Go's regexp finds with its own \b.
// And on any text, a pattern without \b run by the VM must find what Go's regexp finds.
func TestWordVMAgreesWithGo(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	ascii := []string{"a", "b", "c", "A", " ", "_", "1", "\n", "!"}
	unicodeText := []string{"a", "b", "é", "É", " ", "\u00a0", "٣", "_", "\n", "!", "日", "\u0301"}
	for i := range 800 {
		p := randomPattern(rng, 0)
		tr, err := translateRegex(p)
		if err != nil {
			t.Fatalf("translate %q: %v", p, err)
		}
		goRe := regexp.MustCompile("(?i)" + tr.exact)
		re, err := CompileRegex(p)
		if err != nil {
			t.Fatalf("compile %q: %v", p, err)
		}
		vm := vmOnly(t, tr.exact)
		for range 30 {
			s := randomText(rng, ascii, 12)
			if got, want := allMatches(re, s), goAllMatches(goRe, s); !equalMatches(got, want) {
				t.Fatalf("#%d %q on %q: VM %v; Go %v", i, p, s, got, want)
			}
			if !tr.wordAssertions {
				u := randomText(rng, unicodeText, 12)
				start, end := vm.find(u, 0)
				want := goRe.FindStringIndex(u)
				if (start >= 0) != (want != nil) || want != nil && (start != want[0] || end != want[1]) {
					t.Fatalf("#%d %q on %q: VM [%d %d]; Go %v", i, p, u, start, end, want)
				}
			}
		}
	}
}

func equalMatches(a, b [][2]int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestWordVMUnicodeBoundaries checks \b against a direct reading of its definition: a
// boundary is where the characters on each side differ in being word characters.
func TestWordVMUnicodeBoundaries(t *testing.T) {
	t.Parallel()
	re, err := CompileRegex(`\b`)
	if err != nil {
		t.Fatal(err)
	}
	notRe, err := CompileRegex(`\B`)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "é", "日", " ", "!", "٣", "_", "Ⓐ", "\u0301", "\u00a0", "-"}
	for range 2000 {
		s := randomText(rng, alphabet, 8)
		var want, wantNot []int
		prev := rune(-1)
		for i := 0; ; {
			next := rune(-1)
			w := 0
			if i < len(s) {
				next, w = utf8.DecodeRuneInString(s[i:])
			}
			if isWordChar(prev) != isWordChar(next) {
				want = append(want, i)
			} else {
				wantNot = append(wantNot, i)
			}
			if i >= len(s) {
				break
			}
			prev, i = next, i+w
		}
		var got, gotNot []int
		re.eachMatch(s, func(start, _ int) bool { got = append(got, start); return true })
		notRe.eachMatch(s, func(start, _ int) bool { gotNot = append(gotNot, start); return true })
		if !equalInts(got, want) || !equalInts(gotNot, wantNot) {
			t.Fatalf("%q: \\b at %v, \\B at %v; want %v and %v", s, got, gotNot, want, wantNot)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzTranslateRegex: translation never panics; what it accepts compiles (or is refused by
// Go's size limits with a *RegexError), and the compiled regex runs on any text; with \b,
// the VM agrees with Go's regexp on ASCII text.
func FuzzTranslateRegex(f *testing.F) {
	for _, s := range []string{`(b|c)at`, `^(?:[0-9]{1,3}\.){3}[0-9]{1,3}$`, `\bcat\b`, `[\w&&\d]`, `\p{Greek}+`,
		`(?i-u:x)`, `a{2, 3}`, `[--a]`, `[[:alpha:]\W]`, `\u{1F600}`, `(?<n>a)|\B`, `a**?`, `\b{start}`, `(?m)^$`,
		`[^\s\S]`, `\x{10FFFF}`, `[a-]`, `(?x)`, `\Q`, `a{1000}`} {
		f.Add(s, "a cat, é-chat ٣")
	}
	f.Fuzz(func(t *testing.T, pattern, text string) {
		if len(pattern) > 4*MaxRegexLength || len(text) > 1000 {
			// Patterns beyond four times what Discord accepts, or long texts, only make
			// each run slower (a regex costs text length × program size).
			t.Skip()
		}
		tr, terr := translateRegex(pattern)
		re, err := CompileRegex(pattern)
		if terr != nil {
			var rerr *RegexError
			if !errors.As(terr, &rerr) || err == nil {
				t.Fatalf("refusal of %q is not a *RegexError, or CompileRegex accepts it: %v / %v", pattern, terr, err)
			}
			return
		}
		if err != nil {
			var se *syntax.Error
			_, goErr := regexp.Compile("(?i)" + tr.relaxed)
			if !errors.As(goErr, &se) || (se.Code != syntax.ErrInvalidRepeatSize && se.Code != syntax.ErrLarge && se.Code != syntax.ErrNestingDepth) {
				t.Fatalf("%q translated to %q, which Go refuses for a reason other than its size limits: %v", pattern, shortPattern(tr.exact), goErr)
			}
			return
		}
		if re.MatchString(text) && re.required != nil && !re.required.enoughIn(text) {
			t.Fatalf("%q matches %q, which has none of its required characters", pattern, text)
		}
		if re.MatchString(text) && re.literals != nil {
			folded := string(appendFolded(nil, text))
			if !slices.ContainsFunc(re.literals, func(l string) bool { return strings.Contains(folded, l) }) {
				t.Fatalf("%q matches %q but none of its literals %q is in the folded text", pattern, text, re.literals)
			}
		}
		allMatches(re, text)
		if tr.wordAssertions && isASCII(text) {
			goRe, err := regexp.Compile("(?i)" + tr.exact)
			if err != nil {
				t.Fatalf("exact form of %q does not compile: %v", pattern, err)
			}
			if got, want := allMatches(re, text), goAllMatches(goRe, text); !equalMatches(got, want) {
				t.Fatalf("%q on %q: VM %v; Go %v", pattern, text, got, want)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
