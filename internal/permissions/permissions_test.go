package permissions_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

const (
	guild    = int64(1000)
	owner    = int64(1)
	botOwner = int64(2)
	admin    = int64(3)
	user     = int64(4)

	modRole     = int64(500)
	trustedRole = int64(501)
	otherRole   = int64(502)
)

// catalogue stands for the command catalogue, which lives elsewhere.
var catalogue = []string{"ban", "tempban", "unban", "kick", "timeout", "warn", "jail", "purge", "slowmode",
	"cases", "cases view", "cases modify", "config ranks init", "config commands set", "lockdown", "snippet-ban_2 x"}

// clock is a test clock that moves only when told to.
type clock struct{ ms atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ms.Store(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC).UnixMilli())
	return c
}
func (c *clock) now() time.Time      { return time.UnixMilli(c.ms.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.ms.Add(d.Milliseconds()) }

func svc(t *testing.T, st *store.Store, c *clock, opts ...permissions.Option) *permissions.Service {
	t.Helper()
	opts = append([]permissions.Option{permissions.WithClock(c.now), permissions.WithBotOwners(discord.UserID(botOwner))}, opts...)
	s, err := permissions.New(st, catalogue, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func history(t *testing.T, st *store.Store, g int64) []settings.Event {
	t.Helper()
	ps, err := permissions.New(st, catalogue)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := ps.History(context.Background(), discord.GuildID(g), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// keys lists history rows oldest first as "key: old → new".
func keys(ev []settings.Event) []string {
	out := make([]string, 0, len(ev))
	for i := len(ev) - 1; i >= 0; i-- {
		out = append(out, fmt.Sprintf("%s: %s → %s", ev[i].Key, ev[i].Old, ev[i].New))
	}
	return out
}

func count(t *testing.T, st *store.Store, table string) int {
	t.Helper()
	var n int
	if err := st.Reader().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestInitRanks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := svc(t, st, newClock())
		created, _, err := s.InitRanks(ctx, discord.GuildID(guild), discord.UserID(admin))
		must(t, err)
		if diff := cmp.Diff(permissions.DefaultRanks(), created); diff != "" {
			t.Errorf("first init (-want +got):\n%s", diff)
		}
		ranks, err := s.Ranks(ctx, discord.GuildID(guild))
		must(t, err)
		if diff := cmp.Diff(permissions.DefaultRanks(), ranks); diff != "" {
			t.Errorf("ranks after init (-want +got):\n%s", diff)
		}
		ev := history(t, st, guild)
		if len(ev) != 16 || ev[len(ev)-1].Key != "rank 0" || ev[len(ev)-1].New != "Member" || ev[len(ev)-1].ActorID != discord.UserID(admin) {
			t.Errorf("history of init: %v", keys(ev))
		}

		again, _, err := s.InitRanks(ctx, discord.GuildID(guild), discord.UserID(admin))
		if err != nil || len(again) != 0 {
			t.Errorf("second init: %v, %v; want nothing created", again, err)
		}
		if n := len(history(t, st, guild)); n != 16 {
			t.Errorf("second init wrote history: %d rows", n)
		}

		// Customisations survive; only missing ranks come back; a default whose name a
		// customised rank took is skipped rather than clashing.
		_, err = s.SetRank(ctx, discord.GuildID(guild), discord.UserID(admin), 3, "Mod", "")
		must(t, err)
		_, _, err = s.DeleteRank(ctx, discord.GuildID(guild), discord.UserID(admin), 5)
		must(t, err)
		_, _, err = s.DeleteRank(ctx, discord.GuildID(guild), discord.UserID(admin), 6)
		must(t, err)
		_, err = s.SetRank(ctx, discord.GuildID(guild), discord.UserID(admin), 9, "head administrator", "custom")
		must(t, err)
		created, _, err = s.InitRanks(ctx, discord.GuildID(guild), discord.UserID(admin))
		must(t, err)
		if diff := cmp.Diff([]permissions.Rank{permissions.DefaultRanks()[5]}, created); diff != "" {
			t.Errorf("re-init after changes (-want +got):\n%s", diff)
		}
		ranks, err = s.Ranks(ctx, discord.GuildID(guild))
		must(t, err)
		var names []string
		for _, r := range ranks {
			names = append(names, fmt.Sprintf("%d %s", r.Number, r.Name))
		}
		want := []string{"0 Member", "1 Trusted", "2 Junior Moderator", "3 Mod", "4 Senior Moderator", "5 Administrator", "7 Server Owner", "9 head administrator"}
		if diff := cmp.Diff(want, names); diff != "" {
			t.Errorf("ranks after re-init (-want +got):\n%s", diff)
		}
	})
}

// TestInitRanksGivesCommandsTheirDefaultRanks: init opens the commands to their default
// ranks instead of leaving every one closed to all but the owner; a rank the server chose
// is kept, each rank set is a history row, and a second init sets nothing.
func TestInitRanksGivesCommandsTheirDefaultRanks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := svc(t, st, newClock(), permissions.WithDefaultCommandRanks(map[string]int{"ban": 3, "cases": 2, "cases modify": 4, "kick": 3}))
		must(t, s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "kick", 9))
		_, set, err := s.InitRanks(ctx, discord.GuildID(guild), discord.UserID(admin))
		must(t, err)
		want := []permissions.CommandRank{{Command: "ban", Rank: 3}, {Command: "cases", Rank: 2}, {Command: "cases modify", Rank: 4}}
		if diff := cmp.Diff(want, set); diff != "" {
			t.Errorf("command ranks set by init (-want +got):\n%s", diff)
		}
		cmds, err := s.CommandRanks(ctx, discord.GuildID(guild))
		must(t, err)
		got := map[string]int{}
		for _, c := range cmds {
			got[c.Command] = c.Rank
		}
		if diff := cmp.Diff(map[string]int{"ban": 3, "cases": 2, "cases modify": 4, "kick": 9}, got); diff != "" {
			t.Errorf("command ranks after init (-want +got):\n%s", diff)
		}
		ev := history(t, st, guild)
		commandRows := 0
		for _, e := range ev {
			if strings.HasPrefix(e.Key, "command ") {
				commandRows++
			}
		}
		if commandRows != 4 { // kick by hand, then the three init set
			t.Errorf("command rows in the history = %d; want 4: %v", commandRows, keys(ev))
		}
		// The owner's moderators can use ban at once.
		must(t, s.AssignRole(ctx, discord.GuildID(guild), discord.UserID(admin), discord.RoleID(modRole), 3))
		ban := permissions.Subject{GuildID: discord.GuildID(guild), GuildOwnerID: discord.UserID(owner), UserID: discord.UserID(user), RoleIDs: []discord.RoleID{discord.RoleID(modRole)}, Command: "ban"}
		if d, err := s.Check(ctx, ban); err != nil || !d.Allowed {
			t.Errorf("a rank-3 member may not ban after init: %+v", d)
		}
		ranks, set, err := s.InitRanks(ctx, discord.GuildID(guild), discord.UserID(admin))
		if err != nil || len(ranks) != 0 || len(set) != 0 {
			t.Errorf("second init: %v, %v, %v; want nothing", ranks, set, err)
		}
	})
}

func TestDefaultCommandRanksAreChecked(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		for name, table := range map[string]map[string]int{
			"unknown command": {"hackban": 3},
			"rank too high":   {"ban": 11},
		} {
			if _, err := permissions.New(st, catalogue, permissions.WithDefaultCommandRanks(table)); err == nil {
				t.Errorf("%s: New accepted %v", name, table)
			}
		}
	})
}

func TestRanksRolesCommands(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := svc(t, st, newClock())
		r, err := s.SetRank(ctx, discord.GuildID(guild), discord.UserID(admin), 3, "  Moderator ", "Bans and kicks.")
		must(t, err)
		if r != (permissions.Rank{Number: 3, Name: "Moderator", Description: "Bans and kicks."}) {
			t.Errorf("SetRank returned %+v", r)
		}
		_, err = s.SetRank(ctx, discord.GuildID(guild), discord.UserID(admin), 3, "Moderator", "Bans, kicks and jail.")
		must(t, err)
		_, err = s.SetRank(ctx, discord.GuildID(guild), discord.UserID(admin), 3, "Mods", "Bans, kicks and jail.")
		must(t, err)
		if _, err := s.SetRank(ctx, discord.GuildID(guild), discord.UserID(admin), 3, "Mods", "Bans, kicks and jail."); !errors.Is(err, input.ErrUnchanged) {
			t.Errorf("same rank again: %v", err)
		}
		_, err = s.SetRank(ctx, discord.GuildID(guild), discord.UserID(admin), 10, "Trusted", "")
		must(t, err)

		must(t, s.AssignRole(ctx, discord.GuildID(guild), discord.UserID(admin), discord.RoleID(modRole), 3))
		must(t, s.AssignRole(ctx, discord.GuildID(guild), discord.UserID(admin), discord.RoleID(trustedRole), 10))
		must(t, s.AssignRole(ctx, discord.GuildID(guild), discord.UserID(admin), discord.RoleID(trustedRole), 3))
		must(t, s.AssignRole(ctx, discord.GuildID(guild), discord.UserID(admin), discord.RoleID(guild), 10)) // @everyone
		if err := s.AssignRole(ctx, discord.GuildID(guild), discord.UserID(admin), discord.RoleID(modRole), 3); !errors.Is(err, input.ErrUnchanged) {
			t.Errorf("same assignment again: %v", err)
		}
		roles, err := s.RoleRanks(ctx, discord.GuildID(guild))
		must(t, err)
		if diff := cmp.Diff([]permissions.RoleRank{{discord.RoleID(guild), 10}, {discord.RoleID(modRole), 3}, {discord.RoleID(trustedRole), 3}}, roles); diff != "" {
			t.Errorf("role ranks (-want +got):\n%s", diff)
		}
		must(t, s.UnassignRole(ctx, discord.GuildID(guild), discord.UserID(admin), discord.RoleID(trustedRole)))
		if err := s.UnassignRole(ctx, discord.GuildID(guild), discord.UserID(admin), discord.RoleID(trustedRole)); !errors.Is(err, permissions.ErrNotFound) {
			t.Errorf("unassign twice: %v", err)
		}

		must(t, s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "ban", 3))
		must(t, s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "Cases  MODIFY", 4))
		must(t, s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "config", 10)) // known as the parent of "config ranks init"
		must(t, s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "snippet-ban_2 x", 2))
		must(t, s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "ban", 5))
		if err := s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "ban", 5); !errors.Is(err, input.ErrUnchanged) {
			t.Errorf("same command rank again: %v", err)
		}
		must(t, s.ClearCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "config"))
		if err := s.ClearCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "config"); !errors.Is(err, permissions.ErrNotFound) {
			t.Errorf("clear twice: %v", err)
		}
		cmds, err := s.CommandRanks(ctx, discord.GuildID(guild))
		must(t, err)
		if diff := cmp.Diff([]permissions.CommandRank{{"ban", 5}, {"cases modify", 4}, {"snippet-ban_2 x", 2}}, cmds); diff != "" {
			t.Errorf("command ranks (-want +got):\n%s", diff)
		}

		// Deleting a rank takes its roles with it, and says so in the history.
		deleted, unassigned, err := s.DeleteRank(ctx, discord.GuildID(guild), discord.UserID(admin), 10)
		must(t, err)
		if deleted.Name != "Trusted" || !cmp.Equal([]int64{guild}, unassigned) {
			t.Errorf("DeleteRank = %+v, %v", deleted, unassigned)
		}
		if _, _, err := s.DeleteRank(ctx, discord.GuildID(guild), discord.UserID(admin), 10); !errors.Is(err, permissions.ErrNotFound) {
			t.Errorf("delete twice: %v", err)
		}
		roles, err = s.RoleRanks(ctx, discord.GuildID(guild))
		must(t, err)
		if diff := cmp.Diff([]permissions.RoleRank{{discord.RoleID(modRole), 3}}, roles); diff != "" {
			t.Errorf("role ranks after deleting rank 10 (-want +got):\n%s", diff)
		}

		want := []string{
			"rank 3:  → Moderator",
			"rank 3 description:  → Bans and kicks.",
			"rank 3 description: Bans and kicks. → Bans, kicks and jail.",
			"rank 3: Moderator → Mods",
			"rank 10:  → Trusted",
			"role 500:  → 3",
			"role 501:  → 10",
			"role 501: 10 → 3",
			"role 1000:  → 10",
			"role 501: 3 → ",
			"command ban:  → 3",
			"command cases modify:  → 4",
			"command config:  → 10",
			"command snippet-ban_2 x:  → 2",
			"command ban: 3 → 5",
			"command config: 10 → ",
			"role 1000: 10 → ",
			"rank 10: Trusted → ",
		}
		if diff := cmp.Diff(want, keys(history(t, st, guild))); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
		// Permissions keep their own history: the settings' stays empty.
		if ev, err := settings.NewService(st).History(ctx, discord.GuildID(guild), 1000); err != nil || len(ev) != 0 {
			t.Errorf("settings history after permission changes: %v, %v; want none", keys(ev), err)
		}
	})
}

func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := svc(t, st, newClock())
		// A guild with a little configuration, so that "nothing changed" is not trivially true.
		_, err := s.SetRank(ctx, discord.GuildID(guild), discord.UserID(admin), 3, "Moderator", "")
		must(t, err)
		must(t, s.AssignRole(ctx, discord.GuildID(guild), discord.UserID(admin), discord.RoleID(modRole), 3))
		must(t, s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "ban", 3))
		before := len(history(t, st, guild))

		bad := map[string]struct {
			do   func() error
			want string
		}{
			"rank 11": {func() error {
				_, err := s.SetRank(ctx, discord.GuildID(guild), discord.UserID(admin), 11, "x", "")
				return err
			}, "rank: 11 is out of range; accepted: 0 to 10"},
			"rank -1": {func() error {
				_, err := s.SetRank(ctx, discord.GuildID(guild), discord.UserID(admin), -1, "x", "")
				return err
			}, "rank: -1 is out of range; accepted: 0 to 10"},
			"duplicate name": {func() error {
				_, err := s.SetRank(ctx, discord.GuildID(guild), discord.UserID(admin), 4, "moderator", "")
				return err
			}, `rank name: "moderator" is already the name of rank 3; accepted: a name no other rank`},
			"empty name": {func() error {
				_, err := s.SetRank(ctx, discord.GuildID(guild), discord.UserID(admin), 4, "   ", "")
				return err
			}, "rank name: is empty; accepted: 1 to 100 characters"},
			"long name": {func() error {
				_, err := s.SetRank(ctx, discord.GuildID(guild), discord.UserID(admin), 4, strings.Repeat("é", 101), "")
				return err
			}, "rank name: is 101 characters long; accepted: 1 to 100"},
			"two-line name": {func() error {
				_, err := s.SetRank(ctx, discord.GuildID(guild), discord.UserID(admin), 4, "a\nb", "")
				return err
			}, "contains a line break"},
			"long desc": {func() error {
				_, err := s.SetRank(ctx, discord.GuildID(guild), discord.UserID(admin), 4, "x", strings.Repeat("d", 501))
				return err
			}, "rank description: is 501 characters long; accepted: up to 500"},
			"zero guild": {func() error { _, err := s.SetRank(ctx, 0, discord.UserID(admin), 4, "x", ""); return err }, "guild: 0 is not a Discord id"},
			"zero actor": {func() error { _, _, err := s.InitRanks(ctx, discord.GuildID(guild), 0); return err }, "actor: 0 is not a Discord id"},
			"delete rank 11": {func() error {
				_, _, err := s.DeleteRank(ctx, discord.GuildID(guild), discord.UserID(admin), 11)
				return err
			}, "accepted: 0 to 10"},
			"missing rank": {func() error {
				return s.AssignRole(ctx, discord.GuildID(guild), discord.UserID(admin), discord.RoleID(otherRole), 4)
			}, "rank: rank 4 does not exist in this server; accepted: 3 (Moderator), or create rank 4 first"},
			"assign rank 11": {func() error {
				return s.AssignRole(ctx, discord.GuildID(guild), discord.UserID(admin), discord.RoleID(otherRole), 11)
			}, "accepted: 0 to 10"},
			"zero role":       {func() error { return s.AssignRole(ctx, discord.GuildID(guild), discord.UserID(admin), 0, 3) }, "role: 0 is not a Discord id"},
			"negative role":   {func() error { return s.UnassignRole(ctx, discord.GuildID(guild), discord.UserID(admin), -7) }, "role: -7 is not a Discord id"},
			"unknown command": {func() error { return s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "yeet", 3) }, `command: "yeet" is not a gavel command; accepted: ban, cases, cases modify, cases view, config,`},
			"malformed":       {func() error { return s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "ban!", 3) }, `command: "ban!" contains '!'; accepted: a command's full name`},
			"empty command":   {func() error { return s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "  ", 3) }, "command: is empty; accepted:"},
			"command rank 11": {func() error { return s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "kick", 11) }, "accepted: 0 to 10"},
			"clear unknown":   {func() error { return s.ClearCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "eval") }, `"eval" is not a gavel command`},
			"negative actor":  {func() error { return s.ClearCommandRank(ctx, discord.GuildID(guild), -1, "ban") }, "actor: -1"},
		}
		for name, tc := range bad {
			err := tc.do()
			if !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: err = %v, want input.ErrInvalid containing %q", name, err, tc.want)
			}
		}
		if n := len(history(t, st, guild)); n != before {
			t.Errorf("rejected input wrote %d history rows", n-before)
		}
		ranks, _ := s.Ranks(ctx, discord.GuildID(guild))
		roles, _ := s.RoleRanks(ctx, discord.GuildID(guild))
		cmds, _ := s.CommandRanks(ctx, discord.GuildID(guild))
		if len(ranks) != 1 || ranks[0].Name != "Moderator" || len(roles) != 1 || len(cmds) != 1 || cmds[0].Rank != 3 {
			t.Errorf("rejected input changed something: %+v %+v %+v", ranks, roles, cmds)
		}
		if n := count(t, st, "guilds"); n != 1 {
			t.Errorf("rejected input for guild 0 created guild rows: %d", n)
		}

		// In a guild without ranks the error says how to get one.
		err = s.AssignRole(ctx, discord.GuildID(guild+1), discord.UserID(admin), discord.RoleID(otherRole), 3)
		if !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), "this server has no ranks yet; create them first") {
			t.Errorf("assign in a guild without ranks: %v", err)
		}
		if n := count(t, st, "guild_settings"); n != 1 {
			t.Errorf("a rejected change created a settings row: %d rows", n)
		}
	})
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	for name, tc := range map[string]struct {
		known []string
		opts  []permissions.Option
		want  string
	}{
		"malformed command": {[]string{"ban", "Cases"}, nil, `known commands: command: "Cases" contains 'C'`},
		"double space":      {[]string{"cases  modify"}, nil, "has an empty word"},
		"bot owner 0":       {nil, []permissions.Option{permissions.WithBotOwners(5, 0)}, "bot owner: 0 is not a Discord id"},
		"native no bits":    {nil, []permissions.Option{permissions.WithNativePermissions(map[string]permissions.Permission{"x": 0})}, `"x" needs no permission`},
		"native bad name":   {nil, []permissions.Option{permissions.WithNativePermissions(map[string]permissions.Permission{" x": 1})}, "native permission table: command"},
	} {
		if _, err := permissions.New(st, tc.known, tc.opts...); !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want input.ErrInvalid containing %q", name, err, tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := svc(t, st, newClock(), permissions.WithCacheTTL(0),
			// The table as the commands declare it (moderation/actions and the tools).
			permissions.WithNativePermissions(map[string]permissions.Permission{"lockdown": permissions.ManageChannels | permissions.ManageRoles,
				"ban": permissions.BanMembers, "kick": permissions.KickMembers, "warn": permissions.ModerateMembers,
				"timeout": permissions.ModerateMembers, "jail": permissions.ManageRoles, "purge": permissions.ManageMessages,
				"slowmode": permissions.ManageChannels, "cases": permissions.ManageMessages, "config": permissions.ManageGuild}))
		type tc struct {
			name  string
			sub   permissions.Subject
			allow bool
			via   string
			// reason is the whole refusal sentence, or for allowed decisions ignored.
			reason        string
			user, require int
		}
		sub := func(uid int64, cmd string, perms permissions.Permission, roles ...int64) permissions.Subject {
			return permissions.Subject{GuildID: discord.GuildID(guild), GuildOwnerID: discord.UserID(owner), UserID: discord.UserID(uid), RoleIDs: discord.IDs[discord.RoleID](roles), NativePermissions: perms, Command: cmd}
		}
		run := func(t *testing.T, cases []tc) {
			t.Helper()
			for _, c := range cases {
				d, err := s.Check(ctx, c.sub)
				if err != nil {
					t.Errorf("%s: %v", c.name, err)
					continue
				}
				if d.Allowed != c.allow || d.Via != c.via || d.Reason != c.reason {
					t.Errorf("%s: got allowed=%v via=%q reason=%q; want allowed=%v via=%q reason=%q", c.name, d.Allowed, d.Via, d.Reason, c.allow, c.via, c.reason)
				}
				if c.via == permissions.ViaRank && (d.UserRank != c.user || d.RequiredRank != c.require) {
					t.Errorf("%s: user rank %d, required %d; want %d, %d", c.name, d.UserRank, d.RequiredRank, c.user, c.require)
				}
			}
		}

		const viaDiscord = permissions.ViaDiscordPermission
		t.Run("no ranks: Discord's permissions", func(t *testing.T) {
			run(t, []tc{
				{name: "owner", sub: sub(owner, "ban", 0), allow: true, via: permissions.ViaOwner},
				{name: "bot owner", sub: sub(botOwner, "config ranks init", 0), allow: true, via: permissions.ViaBotOwner},
				{name: "ban with Ban Members", sub: sub(user, "ban", permissions.BanMembers), allow: true, via: viaDiscord},
				{name: "ban without", sub: sub(user, "ban", permissions.KickMembers|permissions.ManageGuild), via: viaDiscord,
					reason: "You need the Ban Members permission to use `ban`."},
				{name: "administrator", sub: sub(user, "ban", permissions.Administrator), allow: true, via: viaDiscord},
				{name: "kick", sub: sub(user, "kick", permissions.BanMembers), via: viaDiscord, reason: "You need the Kick Members permission to use `kick`."},
				{name: "timeout", sub: sub(user, "timeout", permissions.ModerateMembers), allow: true, via: viaDiscord},
				{name: "warn", sub: sub(user, "warn", permissions.ManageMessages), via: viaDiscord, reason: "You need the Moderate Members permission to use `warn`."},
				{name: "jail", sub: sub(user, "jail", permissions.ManageRoles), allow: true, via: viaDiscord},
				{name: "purge", sub: sub(user, "purge", 0), via: viaDiscord, reason: "You need the Manage Messages permission to use `purge`."},
				{name: "slowmode", sub: sub(user, "slowmode", permissions.ManageChannels), allow: true, via: viaDiscord},
				{name: "subcommand uses its parent's", sub: sub(user, "cases modify", permissions.ManageMessages), allow: true, via: viaDiscord},
				{name: "subcommand refused", sub: sub(user, "cases view", 0), via: viaDiscord, reason: "You need the Manage Messages permission to use `cases view`."},
				{name: "config", sub: sub(user, "config ranks init", permissions.ManageMessages), via: viaDiscord, reason: "You need the Manage Server permission to use `config ranks init`."},
				{name: "unmapped needs Manage Server", sub: sub(user, "snippet-ban_2 x", permissions.ManageGuild), allow: true, via: viaDiscord},
				{name: "unmapped refused", sub: sub(user, "snippet-ban_2 x", permissions.BanMembers), via: viaDiscord, reason: "You need the Manage Server permission to use `snippet-ban_2 x`."},
				{name: "extended table, all bits", sub: sub(user, "lockdown", permissions.ManageChannels|permissions.ManageRoles), allow: true, via: viaDiscord},
				{name: "extended table, one bit short", sub: sub(user, "lockdown", permissions.ManageChannels), via: viaDiscord,
					reason: "You need the Manage Channels and Manage Roles permissions to use `lockdown`."},
				{name: "command ranks alone do not end the fallback", sub: sub(user, "ban", permissions.BanMembers), allow: true, via: viaDiscord},
			})
		})
		must(t, s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "kick", 9))
		if d, _ := s.Check(ctx, sub(user, "ban", permissions.BanMembers)); d.Via != viaDiscord || !d.Allowed {
			t.Errorf("a command rank alone ended the fallback: %+v", d)
		}

		_, _, err := s.InitRanks(ctx, discord.GuildID(guild), discord.UserID(admin))
		must(t, err)
		must(t, s.AssignRole(ctx, discord.GuildID(guild), discord.UserID(admin), discord.RoleID(modRole), 3))
		must(t, s.AssignRole(ctx, discord.GuildID(guild), discord.UserID(admin), discord.RoleID(trustedRole), 1))
		must(t, s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "ban", 3))
		must(t, s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "cases", 2))
		must(t, s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "purge", 0))
		t.Run("ranks", func(t *testing.T) {
			run(t, []tc{
				{name: "owner passes an unconfigured command", sub: sub(owner, "warn", 0), allow: true, via: permissions.ViaOwner},
				{name: "bot owner", sub: sub(botOwner, "warn", 0), allow: true, via: permissions.ViaBotOwner},
				{name: "rank enough", sub: sub(user, "ban", 0, modRole), allow: true, via: permissions.ViaRank, user: 3, require: 3},
				{name: "rank too low", sub: sub(user, "ban", 0, trustedRole), via: permissions.ViaRank, user: 1, require: 3,
					reason: "You need rank 3 (Moderator) to use `ban`; your rank is 1 (Trusted)."},
				{name: "highest role counts", sub: sub(user, "ban", 0, trustedRole, otherRole, modRole), allow: true, via: permissions.ViaRank, user: 3, require: 3},
				{name: "Discord permissions no longer count", sub: sub(user, "ban", permissions.Administrator), via: permissions.ViaRank, user: 0, require: 3,
					reason: "You need rank 3 (Moderator) to use `ban`; your rank is 0 (Member)."},
				{name: "rank 0 command, no roles", sub: sub(user, "purge", 0), allow: true, via: permissions.ViaRank, user: 0, require: 0},
				{name: "parent fallback", sub: sub(user, "cases modify", 0, modRole), allow: true, via: permissions.ViaRank, user: 3, require: 2},
				{name: "parent fallback refused", sub: sub(user, "cases view", 0, trustedRole), via: permissions.ViaRank, user: 1, require: 2,
					reason: "You need rank 2 (Junior Moderator) to use `cases view`; your rank is 1 (Trusted)."},
				{name: "unconfigured is closed", sub: sub(user, "warn", permissions.Administrator, modRole), via: permissions.ViaRank, user: 3, require: permissions.NoRank,
					reason: "`warn` has no required rank yet, so only the server owner can use it. Set one with `config commands set`."},
				{name: "unconfigured subcommand", sub: sub(user, "config ranks init", 0, modRole), via: permissions.ViaRank, user: 3, require: permissions.NoRank,
					reason: "`config ranks init` has no required rank yet, so only the server owner can use it. Set one with `config commands set`."},
				{name: "unnamed required rank", sub: sub(user, "kick", 0, modRole), via: permissions.ViaRank, user: 3, require: 9,
					reason: "You need rank 9 to use `kick`; your rank is 3 (Moderator)."},
				{name: "no owner known", sub: permissions.Subject{GuildID: discord.GuildID(guild), UserID: discord.UserID(user), Command: "ban"}, via: permissions.ViaRank, user: 0, require: 3,
					reason: "You need rank 3 (Moderator) to use `ban`; your rank is 0 (Member)."},
			})
		})
		d, err := s.Check(ctx, sub(user, "cases modify", 0, modRole))
		if err != nil || d.RankFrom != "cases" {
			t.Errorf("cases modify: RankFrom %q, %v", d.RankFrom, err)
		}

		// A subcommand's own rank beats its parent's.
		must(t, s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "cases modify", 4))
		// @everyone (the guild's id) can hold a rank: every member has it, listed or not.
		must(t, s.AssignRole(ctx, discord.GuildID(guild), discord.UserID(admin), discord.RoleID(guild), 2))
		t.Run("subcommand rank and @everyone", func(t *testing.T) {
			run(t, []tc{
				{name: "own rank", sub: sub(user, "cases modify", 0, modRole), via: permissions.ViaRank, user: 3, require: 4,
					reason: "You need rank 4 (Senior Moderator) to use `cases modify`; your rank is 3 (Moderator)."},
				{name: "sibling still falls back", sub: sub(user, "cases view", 0), allow: true, via: permissions.ViaRank, user: 2, require: 2},
				{name: "@everyone beats a lower role", sub: sub(user, "cases view", 0, trustedRole), allow: true, via: permissions.ViaRank, user: 2, require: 2},
				{name: "@everyone listed explicitly", sub: sub(user, "cases view", 0, guild), allow: true, via: permissions.ViaRank, user: 2, require: 2},
			})
		})

		// Deleting the last ranks brings the fallback back.
		for _, r := range permissions.DefaultRanks() {
			_, _, err := s.DeleteRank(ctx, discord.GuildID(guild), discord.UserID(admin), r.Number)
			must(t, err)
		}
		if d, _ := s.Check(ctx, sub(user, "ban", permissions.BanMembers)); !d.Allowed || d.Via != viaDiscord {
			t.Errorf("after deleting every rank: %+v", d)
		}

		for name, bad := range map[string]permissions.Subject{
			"unknown command": {GuildID: discord.GuildID(guild), UserID: discord.UserID(user), Command: "eval"},
			"not canonical":   {GuildID: discord.GuildID(guild), UserID: discord.UserID(user), Command: "Ban"},
			"empty command":   {GuildID: discord.GuildID(guild), UserID: discord.UserID(user)},
			"zero guild":      {UserID: discord.UserID(user), Command: "ban"},
			"zero user":       {GuildID: discord.GuildID(guild), Command: "ban"},
		} {
			if _, err := s.Check(ctx, bad); !errors.Is(err, input.ErrInvalid) {
				t.Errorf("%s: err = %v, want input.ErrInvalid", name, err)
			}
		}
	})
}

func TestCacheInvalidation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newClock()
		// Two services over one database stand for two processes.
		a := svc(t, st, clk)
		b := svc(t, st, clk)
		ban := permissions.Subject{GuildID: discord.GuildID(guild), UserID: discord.UserID(user), RoleIDs: []discord.RoleID{discord.RoleID(modRole)}, Command: "ban"}
		allowed := func(s *permissions.Service) bool {
			t.Helper()
			d, err := s.Check(ctx, ban)
			must(t, err)
			return d.Allowed
		}
		if allowed(a) || allowed(b) {
			t.Fatal("allowed before any configuration")
		}
		_, _, err := a.InitRanks(ctx, discord.GuildID(guild), discord.UserID(admin))
		must(t, err)
		must(t, a.AssignRole(ctx, discord.GuildID(guild), discord.UserID(admin), discord.RoleID(modRole), 3))
		must(t, a.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "ban", 3))
		if !allowed(a) {
			t.Error("a write in this process is not seen at once")
		}
		if allowed(b) {
			t.Error("the other process saw the change within the TTL: is its cache used?")
		}
		if ranks, _ := b.Ranks(ctx, discord.GuildID(guild)); len(ranks) != 0 {
			t.Errorf("the other process's cached ranks: %+v", ranks)
		}
		clk.add(permissions.DefaultCacheTTL)
		if !allowed(b) {
			t.Error("the other process does not see the change after the TTL")
		}
		if !allowed(a) {
			t.Error("a lost the change")
		}
		clk.add(time.Second)
		must(t, b.UnassignRole(ctx, discord.GuildID(guild), discord.UserID(admin), discord.RoleID(modRole)))
		if allowed(b) {
			t.Error("unassign not seen at once by the writer")
		}
		if !allowed(a) {
			t.Error("a saw the other process's change within the TTL: is its cache used?")
		}
		clk.add(permissions.DefaultCacheTTL)
		if allowed(a) {
			t.Error("unassign not seen by a after the TTL")
		}
	})
}

// Every name ParseCommand accepts must also pass the database's CHECK on both engines.
func TestCommandNamesTheDatabaseAccepts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		names := []string{"a", "ban", "snippet-ban_2 x", "config ranks init", "x1 y2 z3", strings.Repeat("a", 100), "-", "_ -"}
		s, err := permissions.New(st, names, permissions.WithClock(newClock().now))
		must(t, err)
		for _, n := range names {
			if err := s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), n, 1); err != nil {
				t.Errorf("SetCommandRank(%q): %v", n, err)
			}
		}
		for _, n := range []string{"", " a", "a ", "a  b", "A", "a!", "é", strings.Repeat("a", 101)} {
			_, err := st.Writer().ExecContext(ctx, "INSERT INTO command_ranks (guild_id, command, rank) VALUES ($1, $2, 1)", guild, n)
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), "check constraint") {
				t.Errorf("the database accepted the command name %q: %v", n, err)
			}
		}
	})
}

func TestPermissionString(t *testing.T) {
	t.Parallel()
	for p, want := range map[permissions.Permission]string{
		0:                           "no permission",
		permissions.BanMembers:      "Ban Members",
		permissions.ManageGuild:     "Manage Server",
		permissions.ModerateMembers: "Moderate Members",
		permissions.KickMembers | permissions.BanMembers | permissions.ManageRoles: "Kick Members, Ban Members and Manage Roles",
		1 << 50: "permission bit 50",
	} {
		if got := p.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", uint64(p), got, want)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"ban", "cases modify", "Cases  Modify", " config ranks init ", "", "ban!", "a\tb", "é", "\xff", "a--b c__d", strings.Repeat("ab ", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		name, err := permissions.ParseCommand(in)
		if err != nil {
			if !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), "accepted") {
				t.Errorf("ParseCommand(%q): error without what is accepted: %v", in, err)
			}
			return
		}
		again, err := permissions.ParseCommand(name)
		if err != nil || again != name {
			t.Errorf("ParseCommand(%q) = %q, which is not canonical: %q, %v", in, name, again, err)
		}
		if name == "" || len(name) > permissions.MaxCommandName || strings.Contains(name, "  ") || strings.TrimSpace(name) != name {
			t.Errorf("ParseCommand(%q) = %q", in, name)
		}
		for _, r := range name {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == ' ') {
				t.Errorf("ParseCommand(%q) = %q, containing %q", in, name, r)
			}
		}
	})
}

// Rank names are unique ignoring case, a rule the database cannot check on both engines:
// the guild's configuration lock makes the service's check hold across processes.
func TestConcurrentRankNamesStayUnique(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newClock()
		services := []*permissions.Service{svc(t, st, clk), svc(t, st, clk)}
		for round := range 5 {
			// The guild exists already, so that only the configuration lock can serialise.
			_, err := services[0].SetRank(ctx, discord.GuildID(guild+int64(round)), discord.UserID(admin), 10, "Seed", "")
			must(t, err)
			var wg sync.WaitGroup
			var ok, refused atomic.Int32
			for i, name := range []string{"Warden", "warden", "WARDEN", "wArDeN"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := services[i%2].SetRank(ctx, discord.GuildID(guild+int64(round)), discord.UserID(admin), i, name, "")
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, input.ErrInvalid):
						refused.Add(1)
					default:
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if ok.Load() != 1 || refused.Load() != 3 {
				t.Errorf("round %d: %d created, %d refused; want 1 and 3", round, ok.Load(), refused.Load())
			}
		}
	})
}

// TestOpenCommandsAndStanding: an open command is every member's, with ranks or without,
// until the guild requires a rank for it or a parent; Standing answers "rank 2 or above"
// with the Discord permission standing in while the guild has no ranks.
func TestOpenCommandsAndStanding(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := svc(t, st, newClock(), permissions.WithCacheTTL(0), permissions.WithOpenCommands("cases view"))
		sub := func(uid int64, cmd string, perms permissions.Permission, roles ...int64) permissions.Subject {
			return permissions.Subject{GuildID: discord.GuildID(guild), GuildOwnerID: discord.UserID(owner), UserID: discord.UserID(uid), RoleIDs: discord.IDs[discord.RoleID](roles), NativePermissions: perms, Command: cmd}
		}
		check := func(what string, sb permissions.Subject, allow bool, via string) {
			t.Helper()
			d, err := s.Check(ctx, sb)
			if err != nil || d.Allowed != allow || d.Via != via {
				t.Errorf("%s: %+v, %v; want allowed=%v via %q", what, d, err, allow, via)
			}
		}
		standing := func(what string, sb permissions.Subject, want bool) {
			t.Helper()
			got, err := s.Standing(ctx, sb, 2, permissions.ManageMessages)
			if err != nil || got != want {
				t.Errorf("%s: Standing = %v, %v; want %v", what, got, err, want)
			}
		}
		check("open, no ranks", sub(user, "cases view", 0), true, permissions.ViaEveryone)
		check("its parent is not open", sub(user, "cases", 0), false, permissions.ViaDiscordPermission)
		standing("no ranks, no permission", sub(user, "", 0), false)
		standing("no ranks, Manage Messages", sub(user, "", permissions.ManageMessages), true)
		standing("owner", sub(owner, "", 0), true)
		standing("bot owner", sub(botOwner, "", 0), true)

		if _, _, err := s.InitRanks(ctx, discord.GuildID(guild), discord.UserID(admin)); err != nil {
			t.Fatal(err)
		}
		if err := s.AssignRole(ctx, discord.GuildID(guild), discord.UserID(admin), discord.RoleID(modRole), 2); err != nil {
			t.Fatal(err)
		}
		if err := s.AssignRole(ctx, discord.GuildID(guild), discord.UserID(admin), discord.RoleID(trustedRole), 1); err != nil {
			t.Fatal(err)
		}
		check("open, ranks, no command rank", sub(user, "cases view", 0), true, permissions.ViaEveryone)
		standing("rank 1", sub(user, "", permissions.Administrator, trustedRole), false)
		standing("rank 2", sub(user, "", 0, trustedRole, modRole), true)

		if err := s.SetCommandRank(ctx, discord.GuildID(guild), discord.UserID(admin), "cases", 1); err != nil {
			t.Fatal(err)
		}
		check("open, the parent requires rank 1, rank 0", sub(user, "cases view", 0), false, permissions.ViaRank)
		check("open, the parent requires rank 1, rank 1", sub(user, "cases view", 0, trustedRole), true, permissions.ViaRank)

		if _, err := permissions.New(st, catalogue, permissions.WithOpenCommands("nope")); err == nil {
			t.Error("New with an unknown open command: nil error")
		}
	})
}
