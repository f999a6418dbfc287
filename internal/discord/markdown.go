package discord

import "strings"

// markdownSpecial are the characters Discord's markdown gives a meaning to inside a line of
// a message or an embed: emphasis, code, spoilers, strike-through, quotes, masked links and
// mentions. A username may contain any of them ("__init__", "*star*"). Headings and lists
// ("#", "-") count only at the start of a line, where no name is put.
const markdownSpecial = "\\*_~`|>[]()<"

// EscapeMarkdown makes user-chosen text (a username, a role or channel name) show as typed
// in a message or an embed: every character Discord's markdown reads is preceded by a
// backslash, so "__init__" is not underlined and "<@1>" is not a mention. It is the one
// escape every renderer uses for names.
func EscapeMarkdown(s string) string {
	if !strings.ContainsAny(s, markdownSpecial) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		if strings.ContainsRune(markdownSpecial, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
