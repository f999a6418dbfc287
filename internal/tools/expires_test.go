package tools_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/tools"
)

func TestParseExpires(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"never":                     {},
		"NONE":                      {},
		"2026-12-01 18:00":          time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC),
		"2026-12-01T18:00:30":       time.Date(2026, 12, 1, 18, 0, 30, 0, time.UTC),
		"2026-12-01":                time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		"2026-12-01T18:00:00+02:00": time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC),
	} {
		got, err := tools.ParseExpires(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "tomorrow", "2026-13-01", "18:00", "3d"} {
		_, err := tools.ParseExpires(in, now)
		if err == nil || !strings.Contains(err.Error(), "expires must be never, a time such as 2026-11-23 06:00 (UTC)") {
			t.Errorf("%q: err %v", in, err)
		}
	}
}

func FuzzParseExpires(f *testing.F) {
	for _, s := range []string{"never", "2026-12-01 18:00", "2026-12-01T18:00:00Z", "x"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := tools.ParseExpires(s, now)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "expires must be") {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if !got.IsZero() && got.Location() != time.UTC {
			t.Fatalf("%q: %v is not in UTC", s, got)
		}
	})
}
