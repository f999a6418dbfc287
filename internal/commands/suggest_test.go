package commands_test

import (
	"testing"

	"github.com/gavelbot/gavel/internal/commands"
)

func TestClosest(t *testing.T) {
	known := []string{"silent", "s", "quiet", "reason", "r", "user", "purge", "ranks", "roles"}
	for word, want := range map[string]string{
		"slient": "silent", // a swap is one edit
		"SILENT": "silent",
		"purg":   "purge",
		"rnaks":  "ranks",
		"d":      "", // too short to guess from
		"bogus":  "",
		"xyzzy":  "",
	} {
		if got := commands.Closest(word, known); got != want {
			t.Errorf("Closest(%q) = %q, want %q", word, got, want)
		}
	}
}
