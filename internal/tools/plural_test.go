package tools

import (
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/automod"
)

// TestSingularAndPlural: counts are said in words that agree with them (issue 12: "1 rule
// match(es)").
func TestSingularAndPlural(t *testing.T) {
	t.Parallel()
	hit := automod.Hit{Rule: "scams", Keyword: "nitro", Matched: "nitro"}
	if r := testReport(automod.Report{Hits: []automod.Hit{hit}}); !strings.HasPrefix(r, "1 rule match:") {
		t.Errorf("one hit: %q", r)
	}
	if r := testReport(automod.Report{Hits: []automod.Hit{hit, hit}}); !strings.HasPrefix(r, "2 rule matches:") {
		t.Errorf("two hits: %q", r)
	}
	lines := make([]string, 40)
	for i := range lines {
		lines[i] = strings.Repeat("h", 200)
	}
	var notes []string
	for _, f := range packHistory(lines, 25, 5000) {
		for _, l := range strings.Split(f.Value, "\n") {
			if strings.Contains(l, "not shown") {
				notes = append(notes, l)
			}
		}
	}
	if len(notes) != 1 || strings.Contains(notes[0], "(s)") || !strings.Contains(notes[0], "older events not shown") {
		t.Errorf("history note %q", notes)
	}
	for n, want := range map[int]string{0: "0 messages", 1: "1 message", 2: "2 messages"} {
		if got := messages(n); got != want {
			t.Errorf("messages(%d) = %q", n, got)
		}
	}
}
