package automod

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRequiredLiterals(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		`\b(?:free|cheap)\s+nitro\b`:                      {"nitro"},
		`discord(?:app)?\.(?:gg|com/invite)/[a-z0-9-]+`:   {"discord.com/invite/", "discord.gg/", "discordapp.com/invite/", "discordapp.gg/"},
		`(?:https?://)?bit\.ly/\w+`:                       {"bit.ly/"},
		`[a-z0-9._%+-]+@gmail\.[a-z]{2,}`:                 {"@gmail."},
		`\b(?:buy|sell)\s+(?:followers|likes|accounts)\b`: {"accounts", "followers", "likes"},
		`\bs+t+e+a+m+\s*gift\b`:                           {"gift"},
		`\bkys\b`:                                         {"kys"},
		`(b|c)at`:                                         {"bat", "cat"},
		`STEAM`:                                           {"steam"},
		`(?-i)Cat`:                                        {"cat"}, // folded anyway: a superset is safe
		`Kat`:                                             {"kat"},
		`ſt`:                                              {"st"},  // the long s folds with s
		`σας`:                                             {"ΣΑΣ"}, // Σ represents σ, ς and Σ
		`colou?r`:                                         {"color", "colour"},
		`a+bc`:                                            {"bc"},
		`(?:ab|cd)+`:                                      {"ab", "cd"},
		`x{2,5}yz`:                                        {"xxyz"}, // xxxyz contains xxyz: one is enough
		// None worth searching for.
		`\b\d{3}[-. ]\d{3}[-. ]\d{4}\b`:         nil,
		`(?:[\u{1F300}-\u{1F5FF}]\s*){6,}`:      nil,
		`a`:                                     nil,
		`^(?:[0-9]{1,3}\.){3}[0-9]{1,3}$`:       nil, // "." is left to requiredRunes
		`[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}`: nil, // so is "@"
		`K`:                                     nil, // one letter is in almost every message
		`a|bcd`:                                 nil,
		`(?:abc)*`:                              nil,
		`.+`:                                    nil,
		`\w+`:                                   nil,
	}
	for p, want := range cases {
		re, err := CompileRegex(p)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		if !cmp.Equal(re.literals, want) {
			t.Errorf("%q: literals %q; want %q", p, re.literals, want)
		}
	}
}

func TestFoldRune(t *testing.T) {
	t.Parallel()
	for _, group := range []string{"kK\u212A", "sSſ", "ßẞ", "σςΣ", "µμΜ", "aA", "éÉ"} {
		rs := []rune(group)
		for _, r := range rs {
			if foldRune(r) != foldRune(rs[0]) {
				t.Errorf("%q folds to %q; %q to %q", r, foldRune(r), rs[0], foldRune(rs[0]))
			}
		}
	}
	if foldRune('k') != 'k' || foldRune('1') != '1' || foldRune('日') != '日' {
		t.Errorf("fold representatives are wrong")
	}
}

// TestLiteralsNeverMissAMatch: whenever a regex matches a text, one of its required
// literals is in the folded text, so the prefilter never hides a match.
func TestLiteralsNeverMissAMatch(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	atoms := []string{"ab", "k", "s", "ß", "σ", "(?-i:Ab)", "[ab]", "[kK]", `\w`, `\d`, ".", `\b`, "(?:ca|ta)", "x?", "y+", "z{2}", "é", `[^a]`, `\pL`, `[1-9]`, `\W`}
	alphabet := []string{"a", "b", "A", "B", "k", "K", "\u212A", "s", "S", "ſ", "ß", "ẞ", "σ", "Σ", "ς", "c", "t", "x", "y", "z", "Z", "é", "É", " ", "1"}
	checked := 0
	for range 2000 {
		var b strings.Builder
		for range 1 + rng.IntN(4) {
			b.WriteString(atoms[rng.IntN(len(atoms))])
			if rng.IntN(4) == 0 {
				b.WriteString("|")
			}
		}
		p := strings.Trim(b.String(), "|")
		re, err := CompileRegex(p)
		if err != nil || re.literals == nil && re.required == nil {
			continue
		}
		for range 40 {
			text := randomText(rng, alphabet, 10)
			if !re.MatchString(text) {
				continue
			}
			checked++
			if re.required != nil && !re.required.enoughIn(text) {
				t.Fatalf("%q matches %q, which has none of its required characters", p, text)
			}
			if re.literals == nil {
				continue
			}
			folded := string(appendFolded(nil, text))
			found := false
			for _, lit := range re.literals {
				found = found || strings.Contains(folded, lit)
			}
			if !found {
				t.Fatalf("%q matches %q, but none of %q is in %q", p, text, re.literals, folded)
			}
		}
	}
	if checked < 1000 {
		t.Errorf("only %d matches checked", checked)
	}
}

func TestRequiredRunes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern  string
		has, not string
		min      int
	}{
		{`\b\d{3}[-. ]\d{3}[-. ]\d{4}\b`, "5٣", "a -.", 10},
		{`(?:[\u{1F300}-\u{1F5FF}]\s*){6,}`, "👍🎉", "a 1😀", 6},
		{`^(?:[0-9]{1,3}\.){3}[0-9]{1,3}$`, ".", "a1", 3},
		{`kat`, "aA", " 1", 1}, // each letter is required; one is enough
		{`[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}`, "@", "a.", 1},
		{`(?:x|y)+z*`, "xyXY", "z ", 1},
		{`(?:xx|y)`, "xyXY", "z ", 1},
		{`ſſ`, "sSſ", "t", 2},
	}
	for _, c := range cases {
		re, err := CompileRegex(c.pattern)
		if err != nil || re.required == nil {
			t.Fatalf("%q: %v, required %v", c.pattern, err, re.required)
		}
		if re.required.min != c.min {
			t.Errorf("%q: at least %d required; want %d", c.pattern, re.required.min, c.min)
		}
		for _, r := range c.has {
			if !inSet(re.required, r) {
				t.Errorf("%q: %q should be required", c.pattern, r)
			}
		}
		for _, r := range c.not {
			if inSet(re.required, r) {
				t.Errorf("%q: %q should not be in the set", c.pattern, r)
			}
		}
		if re.required.enoughIn(strings.Repeat(string([]rune(c.has)[0]), c.min-1)) || !re.required.enoughIn(strings.Repeat(string([]rune(c.has)[0])+" ", c.min)) {
			t.Errorf("%q: enoughIn does not count to %d", c.pattern, c.min)
		}
	}
	for _, p := range []string{`\w+`, `.+`, `\s`, `a?`, `[a-z]+`, `\b`, `(?:a|.)`} {
		if re, _ := CompileRegex(p); re.required != nil {
			t.Errorf("%q: required set %+v; want none", p, re.required)
		}
	}
}

func inSet(s *runeSet, r rune) bool {
	if r < 0x80 {
		return s.ascii[r>>6]&(1<<(r&63)) != 0
	}
	return s.has(r)
}
