package commands

import (
	"strings"
	"unicode/utf8"
)

// Closest is the word of known nearest to word, when it is near enough to be a typo of it
// (at most two edits, and fewer than half of word's letters); "" otherwise. Letter case is
// ignored. A swap of two neighbouring letters counts as one edit, since "slient" is a
// typo of "silent".
func Closest(word string, known []string) string {
	word = strings.ToLower(word)
	n := utf8.RuneCountInString(word)
	best, bestD := "", 3
	for _, k := range known {
		d := editDistance(word, strings.ToLower(k))
		if d < bestD && 2*d < n {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance counts the insertions, deletions, substitutions and swaps of neighbouring
// runes that turn a into b (optimal string alignment).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// excerpt is at most max characters of what a user typed, for quoting it in a message: a
// reply that quoted a 5,000-character word in full would exceed what Discord accepts.
func excerpt(s string) string { return clip(s, MaxExcerpt) }

// MaxExcerpt is how many characters of a user's input a message quotes at most.
const MaxExcerpt = 100
