package settings_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

const (
	guild = int64(1000)
	mod   = int64(2000)
)

// clock is a test clock that moves only when told to.
type clock struct{ ms atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ms.Store(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC).UnixMilli())
	return c
}
func (c *clock) now() time.Time      { return time.UnixMilli(c.ms.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.ms.Add(d.Milliseconds()) }

func svc(st *store.Store, c *clock, opts ...settings.Option) *settings.Service {
	return settings.NewService(st, append([]settings.Option{settings.WithClock(c.now)}, opts...)...)
}

func history(t *testing.T, s *settings.Service, g int64) []settings.Event {
	t.Helper()
	ev, err := s.History(context.Background(), discord.GuildID(g), 100)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func count(t *testing.T, st *store.Store, q string) int {
	t.Helper()
	var n int
	if err := st.Reader().QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := svc(st, newClock())
		g, err := s.Get(ctx, discord.GuildID(guild))
		if err != nil {
			t.Fatal(err)
		}
		want := settings.Guild{GuildID: discord.GuildID(guild), Prefix: "$", MirrorExternalActions: true}
		if diff := cmp.Diff(want, g); diff != "" {
			t.Errorf("never-configured guild (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, settings.Defaults(discord.GuildID(guild))); diff != "" {
			t.Errorf("Defaults (-want +got):\n%s", diff)
		}
		if n := count(t, st, "SELECT COUNT(*) FROM guilds") + count(t, st, "SELECT COUNT(*) FROM guild_settings"); n != 0 {
			t.Errorf("reading the settings wrote %d rows", n)
		}
		// The database's defaults are the same as the Go ones: changing one setting leaves
		// the others at their defaults.
		got, err := s.SetJailRole(ctx, discord.GuildID(guild), discord.UserID(mod), 77)
		if err != nil {
			t.Fatal(err)
		}
		want.JailRoleID = 77
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("after setting only the jail role (-want +got):\n%s", diff)
		}
	})
}

func TestSetters(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newClock()
		s := svc(st, clk)
		want := settings.Defaults(discord.GuildID(guild))
		steps := []struct {
			name     string
			set      func() (settings.Guild, error)
			apply    func(g *settings.Guild)
			key      string
			old, new string
		}{
			{"prefix", func() (settings.Guild, error) {
				return s.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "!!")
			},
				func(g *settings.Guild) { g.Prefix = "!!" }, "prefix", "$", "!!"},
			{"modlog", func() (settings.Guild, error) {
				return s.SetChannel(ctx, discord.GuildID(guild), discord.UserID(mod), settings.ModLog, 11)
			},
				func(g *settings.Guild) { g.ModlogChannelID = 11 }, "modlog_channel", "", "11"},
			{"auditlog", func() (settings.Guild, error) {
				return s.SetChannel(ctx, discord.GuildID(guild), discord.UserID(mod+1), settings.AuditLog, 12)
			},
				func(g *settings.Guild) { g.AuditlogChannelID = 12 }, "auditlog_channel", "", "12"},
			{"jail channel", func() (settings.Guild, error) {
				return s.SetChannel(ctx, discord.GuildID(guild), discord.UserID(mod), settings.JailChannel, 13)
			},
				func(g *settings.Guild) { g.JailChannelID = 13 }, "jail_channel", "", "13"},
			{"jail role", func() (settings.Guild, error) {
				return s.SetJailRole(ctx, discord.GuildID(guild), discord.UserID(mod), 1<<62)
			},
				func(g *settings.Guild) { g.JailRoleID = 1 << 62 }, "jail_role", "", "4611686018427387904"},
			{"mirror off", func() (settings.Guild, error) {
				return s.SetMirrorExternalActions(ctx, discord.GuildID(guild), discord.UserID(mod), false)
			},
				func(g *settings.Guild) { g.MirrorExternalActions = false }, "mirror_external_actions", "true", "false"},
			{"modlog moved", func() (settings.Guild, error) {
				return s.SetChannel(ctx, discord.GuildID(guild), discord.UserID(mod), settings.ModLog, 14)
			},
				func(g *settings.Guild) { g.ModlogChannelID = 14 }, "modlog_channel", "11", "14"},
			{"modlog cleared", func() (settings.Guild, error) {
				return s.SetChannel(ctx, discord.GuildID(guild), discord.UserID(mod), settings.ModLog, 0)
			},
				func(g *settings.Guild) { g.ModlogChannelID = 0 }, "modlog_channel", "14", ""},
			{"jail role cleared", func() (settings.Guild, error) {
				return s.SetJailRole(ctx, discord.GuildID(guild), discord.UserID(mod), 0)
			},
				func(g *settings.Guild) { g.JailRoleID = 0 }, "jail_role", "4611686018427387904", ""},
			{"mirror on", func() (settings.Guild, error) {
				return s.SetMirrorExternalActions(ctx, discord.GuildID(guild), discord.UserID(mod), true)
			},
				func(g *settings.Guild) { g.MirrorExternalActions = true }, "mirror_external_actions", "false", "true"},
			{"emoji prefix", func() (settings.Guild, error) {
				return s.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "🔨")
			},
				func(g *settings.Guild) { g.Prefix = "🔨" }, "prefix", "!!", "🔨"},
		}
		for i, step := range steps {
			clk.add(time.Second)
			got, err := step.set()
			if err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			step.apply(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: returned (-want +got):\n%s", step.name, diff)
			}
			if read, err := s.Get(ctx, discord.GuildID(guild)); err != nil || !cmp.Equal(want, read) {
				t.Errorf("%s: Get = %+v, %v; want %+v", step.name, read, err, want)
			}
			ev := history(t, s, guild)
			if len(ev) != i+1 {
				t.Fatalf("%s: %d history rows, want %d", step.name, len(ev), i+1)
			}
			actor := mod
			if step.name == "auditlog" {
				actor = mod + 1
			}
			wantEv := settings.Event{GuildID: discord.GuildID(guild), ActorID: discord.UserID(actor), Key: step.key, Old: step.old, New: step.new, At: clk.now()}
			if diff := cmp.Diff(wantEv, ev[0], cmpopts.IgnoreFields(settings.Event{}, "ID")); diff != "" {
				t.Errorf("%s: newest history row (-want +got):\n%s", step.name, diff)
			}
		}
		if other, err := s.Get(ctx, discord.GuildID(guild+1)); err != nil || !cmp.Equal(settings.Defaults(discord.GuildID(guild+1)), other) {
			t.Errorf("another guild changed too: %+v, %v", other, err)
		}
		if ev, err := s.History(ctx, discord.GuildID(guild), 3); err != nil || len(ev) != 3 || ev[0].Key != "prefix" || ev[2].Key != "jail_role" {
			t.Errorf("History(limit 3) = %+v, %v", ev, err)
		}
	})
}

func TestUnchangedWritesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := svc(st, newClock())
		for name, set := range map[string]func() (settings.Guild, error){
			"default prefix": func() (settings.Guild, error) {
				return s.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "$")
			},
			"mirror on": func() (settings.Guild, error) {
				return s.SetMirrorExternalActions(ctx, discord.GuildID(guild), discord.UserID(mod), true)
			},
			"clear unset": func() (settings.Guild, error) {
				return s.SetChannel(ctx, discord.GuildID(guild), discord.UserID(mod), settings.AuditLog, 0)
			},
			"clear jail": func() (settings.Guild, error) {
				return s.SetJailRole(ctx, discord.GuildID(guild), discord.UserID(mod), 0)
			},
		} {
			if _, err := set(); !errors.Is(err, input.ErrUnchanged) {
				t.Errorf("%s: err = %v, want input.ErrUnchanged", name, err)
			}
		}
		if n := count(t, st, "SELECT COUNT(*) FROM guilds") + count(t, st, "SELECT COUNT(*) FROM guild_settings"); n != 0 {
			t.Errorf("no-op changes wrote %d rows", n)
		}
		if _, err := s.SetChannel(ctx, discord.GuildID(guild), discord.UserID(mod), settings.JailChannel, 5); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetChannel(ctx, discord.GuildID(guild), discord.UserID(mod), settings.JailChannel, 5); !errors.Is(err, input.ErrUnchanged) || !strings.Contains(err.Error(), `jail_channel is already "5"`) {
			t.Errorf("same channel again: %v", err)
		}
		if ev := history(t, s, guild); len(ev) != 1 {
			t.Errorf("history after one change and no-ops: %+v", ev)
		}
	})
}

func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := svc(st, newClock())
		bad := map[string]struct {
			set  func() (settings.Guild, error)
			want string
		}{
			"empty prefix": {func() (settings.Guild, error) {
				return s.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "")
			}, "prefix: is empty; accepted: 1 to 5 characters"},
			"long prefix": {func() (settings.Guild, error) {
				return s.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "!!!!!!")
			}, `prefix: "!!!!!!" is 6 characters long; accepted: 1 to 5`},
			"spaced prefix": {func() (settings.Guild, error) {
				return s.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "g ")
			}, `prefix: "g " contains whitespace; accepted:`},
			"tab prefix": {func() (settings.Guild, error) {
				return s.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "\t")
			}, `contains whitespace; accepted:`},
			"nbsp prefix": {func() (settings.Guild, error) {
				return s.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "!\u00a0")
			}, `contains whitespace; accepted:`},
			"backtick prefix": {func() (settings.Guild, error) {
				return s.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "`")
			}, "contains a backtick; accepted:"},
			"letter prefix": {func() (settings.Guild, error) {
				return s.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "a")
			}, `"a" is a single letter or digit, which ordinary messages start with; accepted:`},
			"digit prefix": {func() (settings.Guild, error) {
				return s.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "7")
			}, "single letter or digit"},
			"@here prefix": {func() (settings.Guild, error) {
				return s.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "@here")
			}, `"@here" reads as a mention; accepted:`},
			"mention prefix": {func() (settings.Guild, error) {
				return s.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "<@1>")
			}, "reads as a mention"},
			"control prefix": {func() (settings.Guild, error) {
				return s.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "!\x00")
			}, "contains an invisible character; accepted:"},
			"zero-width": {func() (settings.Guild, error) {
				return s.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "!\u200b")
			}, "contains an invisible character; accepted:"},
			"bad utf-8": {func() (settings.Guild, error) {
				return s.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "\xff")
			}, "is not valid text; accepted:"},
			"zero guild":     {func() (settings.Guild, error) { return s.SetPrefix(ctx, 0, discord.UserID(mod), "!") }, "guild: 0 is not a Discord id"},
			"negative actor": {func() (settings.Guild, error) { return s.SetPrefix(ctx, discord.GuildID(guild), -3, "!") }, "actor: -3 is not a Discord id"},
			"negative channel": {func() (settings.Guild, error) {
				return s.SetChannel(ctx, discord.GuildID(guild), discord.UserID(mod), settings.ModLog, -1)
			}, "mod-log channel: -1 is not a Discord id; accepted: a positive id, or 0 to clear it"},
			"unknown channel": {func() (settings.Guild, error) {
				return s.SetChannel(ctx, discord.GuildID(guild), discord.UserID(mod), settings.Channel(9), 1)
			}, "channel: 9 is not a channel setting; accepted: ModLog, AuditLog, JailChannel"},
			"no channel": {func() (settings.Guild, error) {
				return s.SetChannel(ctx, discord.GuildID(guild), discord.UserID(mod), 0, 1)
			}, "accepted: ModLog"},
			"negative role": {func() (settings.Guild, error) {
				return s.SetJailRole(ctx, discord.GuildID(guild), discord.UserID(mod), -1)
			}, "jail role: -1 is not a Discord id; accepted:"},
			"everyone role": {func() (settings.Guild, error) {
				return s.SetJailRole(ctx, discord.GuildID(guild), discord.UserID(mod), discord.RoleID(guild))
			}, "the @everyone role cannot be the jail role"},
			"zero actor": {func() (settings.Guild, error) {
				return s.SetMirrorExternalActions(ctx, discord.GuildID(guild), 0, false)
			}, "actor: 0"},
		}
		for name, tc := range bad {
			_, err := tc.set()
			if !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: err = %v, want input.ErrInvalid containing %q", name, err, tc.want)
			}
		}
		for _, limit := range []int{0, -1, settings.MaxHistory + 1} {
			if _, err := s.History(ctx, discord.GuildID(guild), limit); !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), "accepted: 1 to 1000") {
				t.Errorf("History(limit %d): %v", limit, err)
			}
		}
		if _, err := s.Get(ctx, -1); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("Get(-1): %v", err)
		}
		if g, err := s.Get(ctx, discord.GuildID(guild)); err != nil || !cmp.Equal(settings.Defaults(discord.GuildID(guild)), g) {
			t.Errorf("after rejected input: %+v, %v", g, err)
		}
		if n := count(t, st, "SELECT COUNT(*) FROM guilds") + count(t, st, "SELECT COUNT(*) FROM guild_settings") + count(t, st, "SELECT COUNT(*) FROM settings_events"); n != 0 {
			t.Errorf("rejected input wrote %d rows", n)
		}
	})
}

// The database's own CHECK must accept every prefix the Go check accepts, on both engines.
func TestPrefixesTheDatabaseAccepts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := svc(st, newClock())
		for _, p := range []string{"!", "$$$$$", "?", ">>", "g!", "é!", "日本語", "❤️", "🔨🔨🔨🔨🔨", "%", "_", "'", `"`, "\\", "[", "]", "*", "-", "^", "a-z", "ﾟ!", "ÿy", "gv", "12"} {
			if err := settings.CheckPrefix(p); err != nil {
				t.Errorf("CheckPrefix(%q): %v", p, err)
				continue
			}
			if g, err := s.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), p); err != nil || g.Prefix != p {
				t.Errorf("SetPrefix(%q) = %+v, %v", p, g, err)
			}
		}
		// And refuse, on its own, what the Go check refuses that it can see.
		const q = "UPDATE guild_settings SET prefix = $1 WHERE guild_id = $2"
		for _, p := range []string{"", "!!!!!!", "a b", "\t", "`", "x\n", "\x01"} {
			if _, err := st.Writer().ExecContext(ctx, q, p, guild); err == nil || !strings.Contains(strings.ToLower(err.Error()), "check constraint") {
				t.Errorf("the database accepted the prefix %q: %v", p, err)
			}
		}
		if _, err := st.Writer().ExecContext(ctx, q, "ok", guild); err != nil {
			t.Errorf("the statement itself fails: %v", err)
		}
	})
}

func TestCacheInvalidation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newClock()
		// Two services over one database stand for two processes.
		a := svc(st, clk)
		b := svc(st, clk, settings.WithCacheTTL(0))
		if g, err := a.Get(ctx, discord.GuildID(guild)); err != nil || g.Prefix != "$" {
			t.Fatalf("first read: %+v, %v", g, err)
		}
		if _, err := a.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "!"); err != nil {
			t.Fatal(err)
		}
		if g, _ := a.Get(ctx, discord.GuildID(guild)); g.Prefix != "!" {
			t.Errorf("a write in this process is not seen at once: prefix %q", g.Prefix)
		}
		if _, err := b.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "?"); err != nil {
			t.Fatal(err)
		}
		if g, _ := b.Get(ctx, discord.GuildID(guild)); g.Prefix != "?" {
			t.Errorf("uncached service: prefix %q, want ?", g.Prefix)
		}
		if g, _ := a.Get(ctx, discord.GuildID(guild)); g.Prefix != "!" {
			t.Errorf("within the TTL the other process's change should not be seen yet (cache not used?): prefix %q", g.Prefix)
		}
		clk.add(settings.DefaultCacheTTL + time.Millisecond)
		if g, _ := a.Get(ctx, discord.GuildID(guild)); g.Prefix != "?" {
			t.Errorf("after the TTL: prefix %q, want ?", g.Prefix)
		}
		// A write through a, based on the row it locks, records the true old value even though
		// its cache was stale when the change began.
		if _, err := b.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), ">"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), "+"); err != nil {
			t.Fatal(err)
		}
		if ev := history(t, a, guild); ev[0].Old != ">" || ev[0].New != "+" {
			t.Errorf("history after a stale-cache write: %+v", ev[0])
		}
	})
}

func TestParseChannel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]settings.Channel{
		"modlog": settings.ModLog, "mod-log": settings.ModLog, "MODLOG_CHANNEL": settings.ModLog, " Mod Log ": settings.ModLog,
		"auditlog": settings.AuditLog, "audit-log": settings.AuditLog, "auditlog_channel": settings.AuditLog,
		"jail": settings.JailChannel, "jail_channel": settings.JailChannel, "jail channel": settings.JailChannel,
	} {
		if got, err := settings.ParseChannel(in); err != nil || got != want {
			t.Errorf("ParseChannel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "log", "channel", "jail role", "general"} {
		if _, err := settings.ParseChannel(in); !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), "accepted: modlog, auditlog, jail") {
			t.Errorf("ParseChannel(%q): %v", in, err)
		}
	}
	for _, c := range settings.Channels() {
		if got, err := settings.ParseChannel(c.Key()); err != nil || got != c {
			t.Errorf("ParseChannel(%q.Key()) = %v, %v", c, got, err)
		}
	}
}

func FuzzCheckPrefix(f *testing.F) {
	for _, s := range []string{"$", "!!", "", "      ", "a b", "`", "🔨", "\xff", "!!!!!!", "\u200b", "\u00a0", "日本語!!"} {
		f.Add(s)
	}
	f.Add("a")
	f.Add("@here")
	f.Add("<#1>")
	f.Fuzz(func(t *testing.T, p string) {
		err := settings.CheckPrefix(p)
		if err == nil && (strings.Contains(p, "@") || utf8.RuneCountInString(p) == 1 && (unicode.IsLetter([]rune(p)[0]) || unicode.IsNumber([]rune(p)[0]))) {
			t.Errorf("accepted the risky prefix %q", p)
		}
		if err != nil {
			if !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), "accepted: 1 to 5 characters") {
				t.Errorf("CheckPrefix(%q): error without what is accepted: %v", p, err)
			}
			return
		}
		if !utf8.ValidString(p) {
			t.Errorf("accepted invalid UTF-8 %q", p)
		}
		if n := utf8.RuneCountInString(p); n < 1 || n > settings.MaxPrefixLength {
			t.Errorf("accepted %q of %d characters", p, n)
		}
		for _, r := range p {
			if unicode.IsSpace(r) || unicode.IsControl(r) || r == '`' {
				t.Errorf("accepted %q containing %U", p, r)
			}
		}
	})
}

// Two processes changing one guild at once: every change is applied in some order, and each
// history row's old value is the previous row's new value (the settings row lock at work).
func TestConcurrentChangesKeepTheHistoryTrue(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		a, b := settings.NewService(st), settings.NewService(st)
		const perWorker = 15
		var wg sync.WaitGroup
		errs := make(chan error, 4*perWorker)
		for w, s := range []*settings.Service{a, b, a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWorker {
					_, err := s.SetPrefix(ctx, discord.GuildID(guild), discord.UserID(mod), fmt.Sprintf("%c%d", 'a'+w, i))
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		ev := history(t, a, guild) // newest first
		if len(ev) != 4*perWorker {
			t.Fatalf("%d history rows, want %d", len(ev), 4*perWorker)
		}
		if ev[len(ev)-1].Old != "$" {
			t.Errorf("first change's old value %q, want $", ev[len(ev)-1].Old)
		}
		for i := 0; i < len(ev)-1; i++ {
			if ev[i].Old != ev[i+1].New {
				t.Errorf("row %d says the prefix was %q, but the change before it set %q", ev[i].ID, ev[i].Old, ev[i+1].New)
			}
		}
		if g, err := settings.NewService(st).Get(ctx, discord.GuildID(guild)); err != nil || g.Prefix != ev[0].New {
			t.Errorf("final prefix %q (%v), newest history row says %q", g.Prefix, err, ev[0].New)
		}
	})
}
