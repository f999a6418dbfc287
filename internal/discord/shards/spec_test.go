package shards

import (
	"slices"
	"strings"
	"testing"
)

func TestParseIDs(t *testing.T) {
	for in, want := range map[string][]int{
		"auto":          nil,
		" AUTO ":        nil,
		"0":             {0},
		"0-3":           {0, 1, 2, 3},
		"8, 0-1 ,4 - 5": {0, 1, 4, 5, 8},
		"7,3":           {3, 7},
		"65535":         {65535},
		"2-2":           {2},
	} {
		got, err := ParseIDs(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseIDs(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, why := range map[string]string{
		"":        "it is empty",
		"3-1":     "runs backwards",
		"1,1":     "listed twice",
		"0-3,2":   "listed twice",
		"x":       `"x" is not a shard id`,
		"-1":      `"" is not a shard id`,
		"1-":      `"" is not a shard id`,
		"+1":      `"+1" is not a shard id`,
		"65536":   "beyond the largest shard id",
		"0,,1":    `"" is not a shard id`,
		"1-2-3":   `"2-3" is not a shard id`,
		"0-99999": "beyond the largest",
	} {
		_, err := ParseIDs(in)
		if err == nil || !strings.Contains(err.Error(), why) || !strings.Contains(err.Error(), "accepted is") {
			t.Errorf("ParseIDs(%q) error = %v; want it to say %q and what is accepted", in, err, why)
		}
	}
}

func TestParseCount(t *testing.T) {
	for in, want := range map[string]int{"auto": 0, "Auto": 0, "1": 1, " 16 ": 16, "65536": 65536} {
		if got, err := ParseCount(in); err != nil || got != want {
			t.Errorf("ParseCount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-2", "65537", "two", "1.5", "auto-ish"} {
		if _, err := ParseCount(in); err == nil || !strings.Contains(err.Error(), "accepted is") {
			t.Errorf("ParseCount(%q) error = %v; want a refusal saying what is accepted", in, err)
		}
	}
}

func TestFormatIDs(t *testing.T) {
	for want, ids := range map[string][]int{"": nil, "0": {0}, "0-3,8,10-11": {0, 1, 2, 3, 8, 10, 11}} {
		if got := FormatIDs(ids); got != want {
			t.Errorf("FormatIDs(%v) = %q, want %q", ids, got, want)
		}
	}
}

func FuzzParseIDs(f *testing.F) {
	for _, s := range []string{"auto", "0-15", "0,2,4-7", "3-1", "1,1", "", " 0 - 1 ", "65535", "-", ",", "0-65535"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := ParseIDs(s)
		if err != nil {
			if !strings.Contains(err.Error(), "accepted is") {
				t.Fatalf("refusal of %q does not say what is accepted: %v", s, err)
			}
			return
		}
		if ids == nil {
			if !strings.EqualFold(strings.TrimSpace(s), Auto) {
				t.Fatalf("ParseIDs(%q) = nil without being auto", s)
			}
			return
		}
		for i, id := range ids {
			if id < 0 || id >= MaxCount || (i > 0 && id <= ids[i-1]) {
				t.Fatalf("ParseIDs(%q) = %v: ids must be distinct, increasing and in [0, %d)", s, ids, MaxCount)
			}
		}
		// What FormatIDs writes reads back the same.
		again, err := ParseIDs(FormatIDs(ids))
		if err != nil || !slices.Equal(again, ids) {
			t.Fatalf("round trip of %q: %v → %q → %v, %v", s, ids, FormatIDs(ids), again, err)
		}
	})
}

func FuzzParseCount(f *testing.F) {
	for _, s := range []string{"auto", "1", "16", "0", "-1", "65537", " 8 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseCount(s)
		if err != nil {
			if !strings.Contains(err.Error(), "accepted is") {
				t.Fatalf("refusal of %q does not say what is accepted: %v", s, err)
			}
			return
		}
		if n < 0 || n > MaxCount || (n == 0) != strings.EqualFold(strings.TrimSpace(s), Auto) {
			t.Fatalf("ParseCount(%q) = %d", s, n)
		}
	})
}
