package config

import (
	"strings"
	"unicode/utf8"
)

// A place in the configuration file, 1-based, the column counted in characters.
type place struct{ line, col int }

// placeOf turns a byte offset of data into a line and column. An offset at a line's end or
// past the end of the file (where TOML's decoder reports a missing value or a missing
// closing quote) is moved back to just after the last character written before it, so that
// the place is on the line the mistake is on rather than on the next, possibly blank, one.
func placeOf(data []byte, off int) place {
	off = min(max(off, 0), len(data))
	if off == len(data) || data[off] == '\n' || data[off] == '\r' {
		end := off
		for end > 0 && strings.ContainsRune(" \t\r\n", rune(data[end-1])) {
			end--
		}
		if end > 0 || off == len(data) {
			off = end
		}
	}
	lineStart := 0
	line := 1
	for i := 0; i < off; i++ {
		if data[i] == '\n' {
			line++
			lineStart = i + 1
		}
	}
	return place{line: line, col: utf8.RuneCount(data[lineStart:off]) + 1}
}

// opener is a bracket or multi-line string the file opens and has not closed by some offset.
type opener struct {
	off  int
	what string // "array", "inline table", "multi-line string"
}

// unclosedBefore scans data up to off the way TOML reads it (comments, the four kinds of
// strings, brackets) and returns the innermost construct still open there. TOML's decoder
// reports an unclosed array or string where it runs out of patience — the next table, or
// the end of the file — which is rarely where the mistake is; this finds where it began.
func unclosedBefore(data []byte, off int) (opener, bool) {
	off = min(off, len(data))
	var stack []opener
	for i := 0; i < off; i++ {
		c := data[i]
		switch {
		case c == '#':
			for i < off && data[i] != '\n' {
				i++
			}
		case c == '[' || c == '{':
			what := "array"
			if c == '{' {
				what = "inline table"
			}
			stack = append(stack, opener{off: i, what: what})
		case c == ']' || c == '}':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case c == '"' || c == '\'':
			q := string(c)
			if strings.HasPrefix(string(data[i:min(i+3, len(data))]), q+q+q) {
				start := i
				if i+3 > off {
					return opener{off: start, what: "multi-line string"}, true
				}
				end := strings.Index(string(data[i+3:off]), q+q+q)
				if end < 0 {
					return opener{off: start, what: "multi-line string"}, true
				}
				i += 3 + end + 2
				continue
			}
			// A one-line string ends at its quote or at the line's end (the decoder
			// reports the latter itself, on the right line).
			for i++; i < off && data[i] != c && data[i] != '\n'; i++ {
				if c == '"' && data[i] == '\\' {
					i++
				}
			}
		}
	}
	if len(stack) == 0 {
		return opener{}, false
	}
	return stack[len(stack)-1], true
}

// keyPlace finds where key (dotted, as MetaData names it) is set in data: the line of its
// table header or of its "key =" (or of the inline table that holds it), at the key's first
// character. ok is false when the scan cannot tell, for instance for a quoted dotted key.
func keyPlace(data []byte, key string) (place, bool) {
	table := ""
	for n, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimRight(raw, "\r")
		trimmed := strings.TrimSpace(line)
		indent := utf8.RuneCountInString(line[:len(line)-len(strings.TrimLeft(line, " \t"))])
		if strings.HasPrefix(trimmed, "[") {
			name := strings.TrimLeft(trimmed, "[")
			if end := strings.Index(name, "]"); end >= 0 {
				name = normalizeKey(name[:end])
				table = name
				if name == key {
					return place{line: n + 1, col: indent + 1}, true
				}
			}
			continue
		}
		lhs, _, ok := strings.Cut(trimmed, "=")
		if !ok || strings.HasPrefix(trimmed, "#") {
			continue
		}
		full := normalizeKey(lhs)
		if table != "" {
			full = table + "." + full
		}
		if full == key || strings.HasPrefix(key, full+".") {
			return place{line: n + 1, col: indent + 1}, true
		}
	}
	return place{}, false
}

// normalizeKey removes the blanks TOML allows around a dotted key's dots.
func normalizeKey(s string) string {
	parts := strings.Split(s, ".")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return strings.Join(parts, ".")
}
