package tools

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gavelbot/gavel/internal/discord"
)

func TestParseSlowmode(t *testing.T) {
	t.Parallel()
	good := map[string]int{
		"30": 30, "30s": 30, "2m": 120, "1h": 3600, "1h30m": 5400, "1h 30m": 5400, "off": 0, "OFF": 0, "0": 0,
		"0s": 0, "0m": 0, "21600": 21600, "6h": 21600, "2m5s": 125, "+5": 5, "1.5h": 5400, "none": 0, " 10 ": 10,
		"2 minutes": 120,
	}
	for in, want := range good {
		got, err := parseSlowmode(in, false)
		if err != nil || got != want {
			t.Errorf("parseSlowmode(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	bad := map[string]string{
		"21601":                  slowmodeBounds,
		"6h1s":                   slowmodeBounds,
		"1d":                     slowmodeBounds,
		"-5":                     slowmodeBounds,
		"-1m":                    slowmodeBounds,
		"99999999999999999999":   slowmodeBounds,
		"soon":                   "is not a delay",
		"5x":                     "is not a delay",
		"":                       "empty",
		"<#900000000000000401>":  "-channel",
		"0.5s":                   "is not a delay",
		"1h and then some thing": "is not a delay",
	}
	for in, want := range bad {
		_, err := parseSlowmode(in, false)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseSlowmode(%q) = %v; want an error containing %q", in, err, want)
		}
	}
	// The slash form names its option, which has no dash.
	if _, err := parseSlowmode("<#900000000000000401>", true); err == nil || !strings.Contains(err.Error(), "channel: option") || strings.Contains(err.Error(), "-channel") {
		t.Errorf("a channel as the slash delay: %v", err)
	}
}

func FuzzParseSlowmode(f *testing.F) {
	for _, s := range []string{"30", "30s", "2m", "1h30m", "off", "0s", "-5", "21601", "1.5h", "<#1>", "0.0h", "9999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSlowmode(s, false)
		if err != nil {
			if n != 0 {
				t.Fatalf("parseSlowmode(%q) = %d with error %v", s, n, err)
			}
			if msg := err.Error(); msg == "" || !utf8.ValidString(strings.ToValidUTF8(msg, "")) {
				t.Fatalf("parseSlowmode(%q): empty error", s)
			}
			return
		}
		if n < 0 || n > MaxSlowmode {
			t.Fatalf("parseSlowmode(%q) = %d, out of 0–%d", s, n, MaxSlowmode)
		}
		// A plain number means seconds.
		if v, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && v != n {
			t.Fatalf("parseSlowmode(%q) = %d; want %d seconds", s, n, v)
		}
		// What the reply says reads back as the same delay.
		if back, err := parseSlowmode(shortSeconds(n), false); err != nil || back != n {
			t.Fatalf("round trip of %d via %q = %d, %v", n, shortSeconds(n), back, err)
		}
	})
}

func TestSpellSeconds(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "off", 1: "1 second", 30: "30 seconds", 125: "2 minutes 5 seconds",
		3600: "1 hour", 5400: "1 hour 30 minutes", 21600: "6 hours", 3661: "1 hour 1 minute 1 second"} {
		if got := spellSeconds(n); got != want {
			t.Errorf("spellSeconds(%d) = %q; want %q", n, got, want)
		}
	}
}

func runSM(t *testing.T, env *Env, line string) Reply {
	t.Helper()
	return runSlowmode(context.Background(), env, modCall(tNow, false), parse(t, slowmodeSpec(), line))
}

func TestSlowmode(t *testing.T) {
	t.Parallel()
	port := newChanPort()
	env := chanEnv(t, port, tNow)

	wantText(t, runSM(t, env, "$slowmode"), OK, fmt.Sprintf("The slowmode in <#%d> is off.", ctGeneral))
	wantText(t, runSM(t, env, "$sm 2m5s"), OK, fmt.Sprintf("Slowmode is now 2 minutes 5 seconds in <#%d>.", ctGeneral))
	wantText(t, runSM(t, env, "$sm"), OK, fmt.Sprintf("The slowmode in <#%d> is 2 minutes 5 seconds.", ctGeneral))
	wantText(t, runSM(t, env, "$sm 125"), OK, "already 2 minutes 5 seconds", "nothing changed")
	wantText(t, runSM(t, env, "$sm off"), OK, fmt.Sprintf("Slowmode is off in <#%d>.", ctGeneral))
	if fmt.Sprint(port.slowmodes) != "[125 0]" {
		t.Errorf("SetSlowmode calls = %v; want [125 0]", port.slowmodes)
	}
	if want := fmt.Sprintf("mod (%d): slowmode 2m5s", tMod); len(port.reasons) == 0 || port.reasons[0] != want {
		t.Errorf("reasons = %q; want %q first", port.reasons, want)
	}
	entries := port.auditEntries()
	if len(entries) != 2 {
		t.Fatalf("%d audit-log entries; want one per change", len(entries))
	}
	if f := fieldsText(entries[0].Embeds[0]); !strings.Contains(f, "Before: off") || !strings.Contains(f, "After: 2 minutes 5 seconds") {
		t.Errorf("audit-log entry fields = %q", f)
	}

	for _, line := range []string{"$sm 21601", "$sm 7h", "$sm -1"} {
		wantText(t, runSM(t, env, line), Refused, slowmodeBounds, "Nothing was changed")
	}
	wantText(t, runSM(t, env, "$sm whenever"), Refused, "30s, 2m, 1h, 1h30m")
	if len(port.slowmodes) != 2 || len(port.auditEntries()) != 2 {
		t.Error("a refused slowmode changed or logged something")
	}
}

func TestSlowmodeChannels(t *testing.T) {
	t.Parallel()
	port := newChanPort()
	const (
		news   int64 = 900000000000000410
		thread int64 = 900000000000000411
		forum  int64 = 900000000000000412
	)
	port.addChannel(discord.Channel{ID: discord.ChannelID(news), GuildID: discord.GuildID(ctGuild), Type: discord.ChannelGuildAnnouncement})
	port.addChannel(discord.Channel{ID: discord.ChannelID(thread), GuildID: discord.GuildID(ctGuild), Type: discord.ChannelPublicThread, ParentID: discord.ChannelID(ctGeneral)})
	port.addChannel(discord.Channel{ID: discord.ChannelID(forum), GuildID: discord.GuildID(ctGuild), Type: discord.ChannelGuildForum, RateLimitPerUser: 60})
	env := chanEnv(t, port, tNow)

	wantText(t, runSM(t, env, fmt.Sprintf("$sm 30 -channel <#%d>", news)), Refused, "an announcement channel", "Accepted:")
	wantText(t, runSM(t, env, fmt.Sprintf("$sm -c <#%d>", forum)), OK, "is 1 minute")
	wantText(t, runSM(t, env, fmt.Sprintf("$sm 10 -c <#%d>", forum)), OK, "Slowmode is now 10 seconds")
	// A thread needs Manage Threads, which gavel's role lacks here.
	wantText(t, runSM(t, env, fmt.Sprintf("$sm 10 -c <#%d>", thread)), Refused, "I need Manage Threads")
	wantText(t, runSM(t, env, fmt.Sprintf("$sm 10 -c <#%d>", tOther)), Refused, "not a channel of this server")

	port.channels[ctGeneral].Overwrites = []discord.Overwrite{{ID: ctBotRole, Type: discord.OverwriteRole, Deny: permManageChannels}}
	wantText(t, runSM(t, env, "$sm 10"), Refused, "I need Manage Channels", "Nothing was changed")
	if fmt.Sprint(port.slowmodes) != "[10]" {
		t.Errorf("SetSlowmode calls = %v; want only the forum's", port.slowmodes)
	}
}
