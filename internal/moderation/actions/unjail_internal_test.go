package actions

import "testing"

// The unjail's note on roles it could not give back agrees with the count.
func TestRestoreSkippedText(t *testing.T) {
	for n, want := range map[int]string{
		1: "1 of their saved roles no longer exists or is not below gavel's role, and was not given back.",
		2: "2 of their saved roles no longer exist or are not below gavel's role, and were not given back.",
		7: "7 of their saved roles no longer exist or are not below gavel's role, and were not given back.",
	} {
		if got := restoreSkippedText(n); got != want {
			t.Errorf("restoreSkippedText(%d) = %q, want %q", n, got, want)
		}
	}
}
