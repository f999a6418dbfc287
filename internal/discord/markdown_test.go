package discord

import "testing"

func TestEscapeMarkdown(t *testing.T) {
	for in, want := range map[string]string{
		"plain":      "plain",
		"__init__":   `\_\_init\_\_`,
		"*star*":     `\*star\*`,
		"a`b`":       "a\\`b\\`",
		"||spoil||":  `\|\|spoil\|\|`,
		"~~x~~":      `\~\~x\~\~`,
		"> quote":    `\> quote`,
		"[x](y)":     `\[x\]\(y\)`,
		`back\slash`: `back\\slash`,
		"<@1>":       `\<@1\>`,
		"jean-luc":   "jean-luc",
		"ünïcødé_":   `ünïcødé\_`,
	} {
		if got := EscapeMarkdown(in); got != want {
			t.Errorf("EscapeMarkdown(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzEscapeMarkdown(f *testing.F) {
	for _, s := range []string{"", "__init__", "a*b", `\`, "<@123>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := EscapeMarkdown(s)
		// Unescaping gives the input back: nothing is lost or reordered.
		var out []rune
		esc := false
		for _, r := range got {
			if !esc && r == '\\' {
				esc = true
				continue
			}
			esc = false
			out = append(out, r)
		}
		if string(out) != string([]rune(s)) && isValidUTF8(s) {
			t.Fatalf("unescaping %q gives %q, not the input %q", got, string(out), s)
		}
	})
}

func isValidUTF8(s string) bool {
	for _, r := range s {
		if r == '\uFFFD' {
			return false
		}
	}
	return true
}
