package tools

import (
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/discord"
)

func TestParseLockTargets(t *testing.T) {
	t.Parallel()
	const a, b = "123456789012345678", "223456789012345678"
	tests := []struct {
		in       string
		server   bool
		channels []discord.ChannelID
		reason   string
		err      string
	}{
		{in: "", reason: ""},
		{in: "spam wave", reason: "spam wave"},
		{in: "server raid incoming", server: true, reason: "raid incoming"},
		{in: "SERVER", server: true},
		{in: "<#" + a + "> " + b + " <#" + a + "> calm down", channels: []discord.ChannelID{123456789012345678, 223456789012345678}, reason: "calm down"},
		{in: "the server is on fire", reason: "the server is on fire"},
		{in: "server <#" + a + ">", err: "not both"},
		{in: "<@" + a + "> spam", err: "is a user or role"},
		{in: "<#abc> spam", err: "is not a channel id"},
		{in: "<#" + a, err: "not a channel mention"},
		{in: "12345 reasons", reason: "12345 reasons"},
	}
	for _, tt := range tests {
		got, err := ParseLockTargets(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseLockTargets(%q) error = %v; want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseLockTargets(%q): %v", tt.in, err)
			continue
		}
		if got.Server != tt.server || got.Reason != tt.reason || len(got.Channels) != len(tt.channels) {
			t.Errorf("ParseLockTargets(%q) = %+v", tt.in, got)
			continue
		}
		for i := range got.Channels {
			if got.Channels[i] != tt.channels[i] {
				t.Errorf("ParseLockTargets(%q) channels = %v", tt.in, got.Channels)
			}
		}
	}
}

// FuzzParseLockTargets: any text either parses, with no channel twice and a reason made of
// the text's own words, or is refused with a message that says what is accepted.
func FuzzParseLockTargets(f *testing.F) {
	for _, s := range []string{"", "server raid", "<#123456789012345678> spam", "<@1> x", "<#", "server server", "<#18446744073709551615>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseLockTargets(in)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("empty error for %q", in)
			}
			return
		}
		seen := map[discord.ChannelID]bool{}
		for _, c := range got.Channels {
			if c == 0 || seen[c] {
				t.Fatalf("ParseLockTargets(%q) channels %v: zero or repeated", in, got.Channels)
			}
			seen[c] = true
		}
		if got.Server && len(got.Channels) > 0 {
			t.Fatalf("ParseLockTargets(%q): server and channels", in)
		}
		if got.Reason != "" && !strings.Contains(strings.Join(strings.Fields(in), " "), got.Reason) {
			t.Fatalf("ParseLockTargets(%q) reason %q is not from the text", in, got.Reason)
		}
	})
}
