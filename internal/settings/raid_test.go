package settings_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// TestRaidSettings: defaults for a guild that never changed them; each change recorded in the
// settings history as raid.<key>; bad input refused with what is accepted, nothing changed.
func TestRaidSettings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := settings.NewService(st)
		const g, actor = discord.GuildID(10), discord.UserID(20)
		r, err := s.GetRaid(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		if r != settings.DefaultRaid() || r.Enabled || r.Threshold != 10 || r.Window != 10*time.Second || r.Quiet != 10*time.Minute ||
			!r.PauseInvites || r.PauseDMs || !r.RaiseVerification || r.Joiner != settings.JoinerTimeout || r.JoinerTimeout != 24*time.Hour || r.Lockdown != settings.LockdownOff ||
			r.Value(settings.RaidLockdown) != "off" {
			t.Errorf("defaults = %+v", r)
		}
		for _, c := range []struct{ key, value string }{{"enabled", "on"}, {"threshold", "25"}, {"window", "30s"}, {"quiet", "15m"},
			{"joiners", "ban"}, {"joiner-timeout", "2h"}, {"Lockdown", "SERVER"}, {"pause_dms", "yes"}} {
			k, err := settings.ParseRaidKey(c.key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.SetRaid(ctx, g, actor, k, c.value); err != nil {
				t.Fatalf("%s %s: %v", c.key, c.value, err)
			}
		}
		r, _ = s.GetRaid(ctx, g)
		if !r.Enabled || r.Threshold != 25 || r.Window != 30*time.Second || r.Quiet != 15*time.Minute || r.Joiner != settings.JoinerBan ||
			r.JoinerTimeout != 2*time.Hour || !r.PauseDMs || r.Lockdown != settings.LockdownServer || r.Value(settings.RaidLockdown) != "server" {
			t.Errorf("after the changes: %+v", r)
		}
		if got, want := r.Value(settings.RaidQuiet), "15m"; got != want {
			t.Errorf("quiet shows as %q, want %q", got, want)
		}
		evs, err := s.History(ctx, g, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 8 || evs[len(evs)-1].Key != "raid.enabled" || evs[len(evs)-1].Old != "off" || evs[len(evs)-1].New != "on" || evs[0].Key != "raid.pause_dms" {
			t.Errorf("history = %+v", evs)
		}

		bad := []struct{ key, value, says string }{
			{"threshold", "500", "from 3 to 100"}, {"threshold", "2", "from 3 to 100"}, {"threshold", "ten", "whole number"},
			{"window", "1s", "from 5s to 5m"}, {"window", "10 minutes", "from 5s to 5m"}, {"window", "soon", "a duration"},
			{"quiet", "30s", "from 2m to 1h"}, {"joiners", "shout", "timeout, kick, ban or none"},
			{"joiner_timeout", "29d", "from 1m to 28d"}, {"enabled", "maybe", "on or off"},
			{"lockdown", "channels", "server (lock the server down while raid mode lasts) or off"}, {"lockdown", "on", "is not a lockdown response"},
		}
		for _, b := range bad {
			k, _ := settings.ParseRaidKey(b.key)
			_, err := s.SetRaid(ctx, g, actor, k, b.value)
			if !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), "accepted") || !strings.Contains(err.Error(), b.says) {
				t.Errorf("%s %q: err = %v, want a refusal saying %q", b.key, b.value, err, b.says)
			}
		}
		if _, err := settings.ParseRaidKey("speed"); !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), "threshold, window") {
			t.Errorf("unknown setting: %v", err)
		}
		if _, err := s.SetRaid(ctx, g, actor, settings.RaidThreshold, "25"); !errors.Is(err, input.ErrUnchanged) {
			t.Errorf("same value: %v", err)
		}
		after, _ := s.GetRaid(ctx, g)
		evs2, _ := s.History(ctx, g, 100)
		if after != r || len(evs2) != len(evs) {
			t.Errorf("refused input changed something: %+v, %d history rows", after, len(evs2))
		}
	})
}

// FuzzRaidApply: whatever is typed, Apply either accepts a value within the bounds or
// refuses with what is accepted and leaves the settings as they were.
func FuzzRaidApply(f *testing.F) {
	for _, s := range []string{"10", "3", "100", "10s", "5m", "1h", "on", "off", "ban", "28d", "", "-1", "9999999999999", "1e3", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		for _, k := range settings.RaidKeys() {
			r := settings.DefaultRaid()
			before := r
			err := r.Apply(k, value)
			if err != nil {
				if r != before || !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), "accepted") {
					t.Fatalf("%s %q: err %v, settings %+v", k, value, err, r)
				}
				continue
			}
			if r.Threshold < settings.MinRaidThreshold || r.Threshold > settings.MaxRaidThreshold ||
				r.Window < settings.MinRaidWindow || r.Window > settings.MaxRaidWindow ||
				r.Quiet < settings.MinRaidQuiet || r.Quiet > settings.MaxRaidQuiet ||
				r.JoinerTimeout < settings.MinJoinerTimeout || r.JoinerTimeout > settings.MaxJoinerTimeout {
				t.Fatalf("%s %q accepted out of bounds: %+v", k, value, r)
			}
		}
	})
}
