package raid

import (
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/settings"
)

// id makes a user id whose snowflake says the account was created at t.
func id(t time.Time, n int) discord.UserID {
	return discord.UserID((t.UnixMilli()-1420070400000)<<22 | int64(n))
}

func TestDetector(t *testing.T) {
	cfg := settings.DefaultRaid()
	cfg.Enabled = true
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	old := t0.Add(-400 * 24 * time.Hour)
	// Established accounts with avatars, created months apart: not suspicious.
	estab := func(n int) Join {
		return Join{GuildID: 1, UserID: id(old.Add(time.Duration(n)*30*24*time.Hour/10), n), JoinedAt: t0.Add(time.Duration(n) * 900 * time.Millisecond)}
	}
	t.Run("threshold joins within the window", func(t *testing.T) {
		d := NewDetector()
		for n := 0; n < 9; n++ {
			if v := d.Add(estab(n), cfg); v.Raid {
				t.Fatalf("join %d already a raid: %+v", n+1, v)
			}
		}
		v := d.Add(estab(9), cfg)
		if !v.Raid || v.Trigger != TriggerRate || v.Counted != 10 || v.Suspicious != 0 {
			t.Errorf("10th join: %+v", v)
		}
	})
	t.Run("spread out is no raid", func(t *testing.T) {
		d := NewDetector()
		for n := 0; n < 30; n++ {
			j := estab(n)
			j.JoinedAt = t0.Add(time.Duration(n) * 2 * time.Second)
			if v := d.Add(j, cfg); v.Raid {
				t.Fatalf("one join every 2 s made a raid at join %d: %+v", n+1, v)
			}
		}
	})
	t.Run("half the threshold when most are suspicious", func(t *testing.T) {
		for name, mk := range map[string]func(n int) Join{
			"new accounts":   func(n int) Join { j := estab(n); j.UserID = id(t0.Add(-48*time.Hour), n); return j },
			"default avatar": func(n int) Join { j := estab(n); j.DefaultAvatar = true; return j },
			"created together": func(n int) Join {
				j := estab(n)
				j.UserID = id(old.Add(time.Duration(n)*time.Minute), n)
				return j
			},
		} {
			d := NewDetector()
			for n := 0; n < 4; n++ {
				if v := d.Add(mk(n), cfg); v.Raid {
					t.Fatalf("%s: raid at join %d", name, n+1)
				}
			}
			if v := d.Add(mk(4), cfg); !v.Raid || v.Trigger != TriggerSuspicious || v.Suspicious != 5 {
				t.Errorf("%s: 5th join: %+v", name, v)
			}
		}
	})
	t.Run("bots and bypassers are not counted", func(t *testing.T) {
		d := NewDetector()
		for n := 0; n < 20; n++ {
			j := estab(n)
			j.Bot, j.Bypass = n%2 == 0, n%2 == 1
			if v := d.Add(j, cfg); v.Raid || v.Counted != 0 {
				t.Fatalf("join %d counted: %+v", n, v)
			}
		}
		if got := d.Candidates(1, t0.Add(-time.Hour), t0.Add(time.Hour)); len(got) != 0 {
			t.Errorf("candidates = %d", len(got))
		}
	})
	t.Run("candidates reach back twice the window", func(t *testing.T) {
		d := NewDetector()
		early := estab(0)
		early.JoinedAt = t0.Add(-15 * time.Second)
		d.Add(early, cfg)
		older := estab(1)
		older.JoinedAt = t0.Add(-25 * time.Second)
		d.Add(older, cfg)
		got := d.Candidates(1, t0.Add(-2*cfg.Window), t0)
		if len(got) != 1 || got[0].UserID != early.UserID {
			t.Errorf("candidates = %+v", got)
		}
		n, buckets := d.Rate(1, t0, time.Minute, 6)
		if n != 2 || buckets[3] != 1 || buckets[4] != 1 {
			t.Errorf("rate = %d %v", n, buckets)
		}
	})
}

func TestShape(t *testing.T) {
	for in, want := range map[string]string{"raider0423": "raider#", "Raider17": "raider#", "a1b22c": "a#b#c", "plain": "plain"} {
		if got := Shape(in); got != want {
			t.Errorf("Shape(%q) = %q, want %q", in, got, want)
		}
	}
}
