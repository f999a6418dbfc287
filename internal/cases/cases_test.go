package cases_test

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

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

const (
	guild = int64(1000)
	mod   = int64(2000)
	user  = int64(3000)
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
func svc(st *store.Store, c *clock) *cases.Service {
	return cases.NewService(st, cases.WithClock(c.now))
}

func warn(g, u int64, reason string) cases.New {
	return cases.New{GuildID: discord.GuildID(g), UserID: discord.UserID(u), ModeratorID: discord.UserID(mod), Type: cases.Warn, Reason: reason}
}

func TestCreateAndGet(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newClock()
		s := svc(st, clk)
		exp := clk.now().Add(72 * time.Hour)
		c, err := s.Create(ctx, cases.New{GuildID: discord.GuildID(guild), UserID: discord.UserID(user), ModeratorID: discord.UserID(mod), Type: cases.Jail, Reason: "spam",
			RoleIDs: []discord.RoleID{1, 1 << 62}, ExpiresAt: exp, Metadata: map[string]string{"source": "prefix"}})
		if err != nil {
			t.Fatal(err)
		}
		want := cases.Case{ID: c.ID, GuildID: discord.GuildID(guild), Number: 1, Type: cases.Jail, Status: cases.Active, Reason: "spam",
			ModeratorID: discord.UserID(mod), UserID: discord.UserID(user), RoleIDs: cases.IDs{1, 1 << 62}, ExpiresAt: exp,
			Metadata: map[string]string{"source": "prefix"}, CreatedAt: clk.now(), UpdatedAt: clk.now()}
		if diff := cmp.Diff(want, c); diff != "" {
			t.Errorf("created (-want +got):\n%s", diff)
		}
		byID, err := s.Get(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, byID); diff != "" {
			t.Errorf("by id (-want +got):\n%s", diff)
		}
		byNum, err := s.GetByNumber(ctx, discord.GuildID(guild), 1)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, byNum); diff != "" {
			t.Errorf("by number (-want +got):\n%s", diff)
		}
		ev, err := s.Events(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ev) != 1 || ev[0].Kind != cases.EventCreated || ev[0].ActorID != discord.UserID(mod) || ev[0].New != "active" {
			t.Errorf("history after create: %+v", ev)
		}
		c2, err := s.Create(ctx, warn(guild, user, "again"))
		if err != nil || c2.Number != 2 {
			t.Fatalf("second case: %+v, %v", c2, err)
		}
		other, err := s.Create(ctx, warn(guild+1, user, "elsewhere"))
		if err != nil || other.Number != 1 {
			t.Fatalf("first case of another guild: %+v, %v", other, err)
		}
		if _, err := s.GetByNumber(ctx, discord.GuildID(guild), 99); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("missing number: %v", err)
		}
		if _, err := s.Get(ctx, 1<<40); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("missing id: %v", err)
		}
		g, err := s.Guild(ctx, discord.GuildID(guild))
		if err != nil || g.CaseCount != 2 {
			t.Errorf("guild counter: %+v, %v", g, err)
		}
	})
}

func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := svc(st, newClock())
		ok := warn(guild, user, "fine")
		bad := map[string]struct {
			n    cases.New
			want string
		}{
			"empty reason":    {func() cases.New { n := ok; n.Reason = "  "; return n }(), "reason: is empty"},
			"long reason":     {func() cases.New { n := ok; n.Reason = strings.Repeat("é", 2001); return n }(), "reason: is 2001 characters long; at most 2000"},
			"unknown type":    {func() cases.New { n := ok; n.Type = "YEET"; return n }(), `type: "YEET" is not a case type; accepted: BAN`},
			"zero guild":      {func() cases.New { n := ok; n.GuildID = 0; return n }(), "guild: 0 is not a Discord id"},
			"negative user":   {func() cases.New { n := ok; n.UserID = -5; return n }(), "user: -5 is not a Discord id"},
			"zero moderator":  {func() cases.New { n := ok; n.ModeratorID = 0; return n }(), "moderator: 0"},
			"voided new case": {func() cases.New { n := ok; n.Status = cases.Voided; return n }(), `status: a new case cannot be "voided"`},
			"bad role":        {func() cases.New { n := ok; n.RoleIDs = []discord.RoleID{0}; return n }(), "role: 0"},
			"bad meta key":    {func() cases.New { n := ok; n.Metadata = map[string]string{"a b": "x"}; return n }(), `metadata key: "a b"`},
		}
		for name, tc := range bad {
			_, err := s.Create(ctx, tc.n)
			if !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: err = %v, want input.ErrInvalid containing %q", name, err, tc.want)
			}
		}
		if _, err := s.CreateMany(ctx, []cases.New{ok, bad["empty reason"].n}); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("bulk with one bad case: %v", err)
		}
		if _, err := s.Get(ctx, 0); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("Get(0): %v", err)
		}
		if _, err := s.GetByNumber(ctx, discord.GuildID(guild), -1); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("GetByNumber(-1): %v", err)
		}
		if _, err := s.List(ctx, cases.Filter{GuildID: discord.GuildID(guild)}, cases.PageRequest{Page: 0, PerPage: 10}); !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), "pages start at 1") {
			t.Errorf("page 0: %v", err)
		}
		if _, err := s.List(ctx, cases.Filter{GuildID: discord.GuildID(guild)}, cases.PageRequest{Page: 1, PerPage: 101}); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("per page 101: %v", err)
		}
		if _, err := s.List(ctx, cases.Filter{Types: []cases.Type{"NOPE"}}, cases.PageRequest{Page: 1, PerPage: 10}); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("unknown type filter: %v", err)
		}
		if n, err := s.CountInGuild(ctx, discord.GuildID(guild)); err != nil || n != 0 {
			t.Errorf("after rejected input the guild has %d cases (err %v), want 0", n, err)
		}
		if _, err := s.Guild(ctx, discord.GuildID(guild)); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("a rejected case created the guild row: %v", err)
		}
	})
}

func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newClock()
		s := svc(st, clk)
		var ns []cases.New
		for i := 0; i < 25; i++ {
			n := warn(guild, user+int64(i%3), fmt.Sprintf("reason %d", i))
			if i%5 == 0 {
				n.Type = cases.Ban
				n.ModeratorID = discord.UserID(mod + 1)
			}
			ns = append(ns, n)
		}
		ns = append(ns, warn(guild+1, user, "other guild"))
		if _, err := s.CreateMany(ctx, ns); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Void(ctx, discord.GuildID(guild), 25, discord.UserID(mod), "mistake"); err != nil {
			t.Fatal(err)
		}
		p, err := s.List(ctx, cases.Filter{GuildID: discord.GuildID(guild)}, cases.PageRequest{Page: 1, PerPage: 10})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 25 || p.Pages != 3 || len(p.Cases) != 10 || p.Cases[0].Number != 25 || p.Cases[9].Number != 16 {
			t.Errorf("page 1: total %d pages %d len %d first #%d", p.Total, p.Pages, len(p.Cases), p.Cases[0].Number)
		}
		p3, err := s.List(ctx, cases.Filter{GuildID: discord.GuildID(guild)}, cases.PageRequest{Page: 3, PerPage: 10})
		if err != nil || len(p3.Cases) != 5 || p3.Cases[4].Number != 1 {
			t.Errorf("page 3: %+v %v", p3, err)
		}
		p9, err := s.List(ctx, cases.Filter{GuildID: discord.GuildID(guild)}, cases.PageRequest{Page: 9, PerPage: 10})
		if err != nil || len(p9.Cases) != 0 || p9.Total != 25 {
			t.Errorf("page past the end: %+v %v", p9, err)
		}
		count := func(f cases.Filter) int64 {
			t.Helper()
			p, err := s.List(ctx, f, cases.PageRequest{Page: 1, PerPage: 100})
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(p.Cases)) != p.Total {
				t.Errorf("filter %+v: %d rows, total %d", f, len(p.Cases), p.Total)
			}
			return p.Total
		}
		checks := []struct {
			f    cases.Filter
			want int64
		}{
			{cases.Filter{}, 26},
			{cases.Filter{GuildID: discord.GuildID(guild), UserID: discord.UserID(user)}, 9},
			{cases.Filter{GuildID: discord.GuildID(guild), ModeratorID: discord.UserID(mod + 1)}, 5},
			{cases.Filter{GuildID: discord.GuildID(guild), Types: []cases.Type{cases.Ban}}, 5},
			{cases.Filter{GuildID: discord.GuildID(guild), Types: []cases.Type{cases.Ban, cases.Warn}}, 25},
			{cases.Filter{GuildID: discord.GuildID(guild), Status: cases.Voided}, 1},
			{cases.Filter{GuildID: discord.GuildID(guild), UserID: discord.UserID(user), Types: []cases.Type{cases.Ban}, ModeratorID: discord.UserID(mod + 1)}, 2},
			{cases.Filter{UserID: discord.UserID(user)}, 10},
		}
		for _, c := range checks {
			if got := count(c.f); got != c.want {
				t.Errorf("filter %+v: %d cases, want %d", c.f, got, c.want)
			}
		}
	})
}

func TestQueries(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newClock()
		s := svc(st, clk)
		mk := func(n cases.New) cases.Case {
			t.Helper()
			c, err := s.Create(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			clk.add(time.Hour)
			return c
		}
		old := mk(warn(guild, user, "posting invite links in general"))
		clk.add(48 * time.Hour)
		ban := mk(cases.New{GuildID: discord.GuildID(guild), UserID: discord.UserID(user), ModeratorID: discord.UserID(mod), Type: cases.Tempban, Reason: "raid account",
			ExpiresAt: clk.now().Add(2 * time.Hour), Metadata: map[string]string{"automod_rule": "42"}})
		jail := mk(cases.New{GuildID: discord.GuildID(guild), UserID: discord.UserID(user + 1), ModeratorID: discord.UserID(mod), Type: cases.Jail, Reason: "Invite spam, again",
			RoleIDs: []discord.RoleID{555, 777}, ExpiresAt: clk.now().Add(30 * time.Minute)})
		note := mk(cases.New{GuildID: discord.GuildID(guild), UserID: discord.UserID(user), ModeratorID: discord.UserID(mod), Type: cases.Note, Reason: "watch this one"})

		recent, err := s.Recent(ctx, discord.GuildID(guild), 24*time.Hour, 10)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int64{note.Number, jail.Number, ban.Number}, numbers(recent)); diff != "" {
			t.Errorf("recent (-want +got):\n%s", diff)
		}
		if _, err := s.Void(ctx, discord.GuildID(guild), note.Number, discord.UserID(mod), "wrong user"); err != nil {
			t.Fatal(err)
		}
		active, err := s.ActiveOfUser(ctx, discord.GuildID(guild), discord.UserID(user))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int64{ban.Number, old.Number}, numbers(active)); diff != "" {
			t.Errorf("active of user (-want +got):\n%s", diff)
		}
		latest, err := s.LatestOfUser(ctx, discord.GuildID(guild), discord.UserID(user))
		if err != nil || latest.Number != note.Number {
			t.Errorf("latest of user: #%d %v", latest.Number, err)
		}
		latest, err = s.LatestOfUser(ctx, discord.GuildID(guild), discord.UserID(user), cases.Warn, cases.Tempban)
		if err != nil || latest.Number != ban.Number {
			t.Errorf("latest of user among WARN, TEMPBAN: #%d %v", latest.Number, err)
		}
		if _, err := s.LatestOfUser(ctx, discord.GuildID(guild), discord.UserID(user), cases.Kick); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("latest KICK: %v", err)
		}
		if n, err := s.CountInGuild(ctx, discord.GuildID(guild)); err != nil || n != 4 {
			t.Errorf("count in guild: %d %v", n, err)
		}
		if n, err := s.CountOfUser(ctx, discord.GuildID(guild), discord.UserID(user)); err != nil || n != 3 {
			t.Errorf("count of user: %d %v", n, err)
		}
		stats, err := s.Statistics(ctx, discord.GuildID(guild))
		if err != nil {
			t.Fatal(err)
		}
		wantStats := []cases.Stat{{cases.Jail, cases.Active, 1}, {cases.Note, cases.Voided, 1}, {cases.Tempban, cases.Active, 1}, {cases.Warn, cases.Active, 1}}
		if diff := cmp.Diff(wantStats, stats); diff != "" {
			t.Errorf("statistics (-want +got):\n%s", diff)
		}

		// Due expiries: the jail first (it expires first), then the tempban.
		due, err := s.Due(ctx, clk.now().Add(3*time.Hour), "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int64{jail.Number, ban.Number}, numbers(due)); diff != "" {
			t.Errorf("due (-want +got):\n%s", diff)
		}
		due, err = s.Due(ctx, clk.now().Add(3*time.Hour), cases.Tempban, 10)
		if err != nil || len(due) != 1 || due[0].ID != ban.ID {
			t.Errorf("due tempbans: %v %v", numbers(due), err)
		}
		if due, _ := s.Due(ctx, ban.CreatedAt, "", 10); len(due) != 0 {
			t.Errorf("nothing is due yet, got %v", numbers(due))
		}
		first, err := s.MarkProcessed(ctx, ban.ID, discord.UserID(mod), "unbanned")
		if err != nil || !first {
			t.Fatalf("mark processed: %v %v", first, err)
		}
		again, err := s.MarkProcessed(ctx, ban.ID, discord.UserID(mod), "unbanned")
		if err != nil || again {
			t.Errorf("mark processed twice: %v %v", again, err)
		}
		due, _ = s.Due(ctx, clk.now().Add(3*time.Hour), "", 10)
		if diff := cmp.Diff([]int64{jail.Number}, numbers(due)); diff != "" {
			t.Errorf("due after processing (-want +got):\n%s", diff)
		}

		// Search, metadata, saved roles.
		found, err := s.Search(ctx, discord.GuildID(guild), "INVITE", cases.PageRequest{Page: 1, PerPage: 10})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int64{jail.Number, old.Number}, numbers(found.Cases)); diff != "" || found.Total != 2 {
			t.Errorf("search invite (-want +got):\n%s", diff)
		}
		found, err = s.Search(ctx, discord.GuildID(guild), `invite "spam" OR*`, cases.PageRequest{Page: 1, PerPage: 10})
		if err != nil || found.Total != 0 {
			// "or" is a word too: all words must be present, and query syntax is never obeyed.
			t.Errorf("search with operators: %+v %v", found, err)
		}
		found, err = s.Search(ctx, discord.GuildID(guild), "spam invite", cases.PageRequest{Page: 1, PerPage: 10})
		if err != nil || found.Total != 1 || found.Cases[0].ID != jail.ID {
			t.Errorf("search two words: %+v %v", found, err)
		}
		if _, err := s.Search(ctx, discord.GuildID(guild), " *** ", cases.PageRequest{Page: 1, PerPage: 10}); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("search without words: %v", err)
		}
		byMeta, err := s.WithMetadata(ctx, discord.GuildID(guild), "automod_rule", "42", cases.PageRequest{Page: 1, PerPage: 10})
		if err != nil || byMeta.Total != 1 || byMeta.Cases[0].ID != ban.ID {
			t.Errorf("by metadata: %+v %v", byMeta, err)
		}
		if byMeta, _ := s.WithMetadata(ctx, discord.GuildID(guild), "automod_rule", "43", cases.PageRequest{Page: 1, PerPage: 10}); byMeta.Total != 0 {
			t.Errorf("by metadata, other value: %+v", byMeta)
		}
		if _, err := s.WithMetadata(ctx, discord.GuildID(guild), `x"]`, "1", cases.PageRequest{Page: 1, PerPage: 10}); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("metadata key with quotes: %v", err)
		}
		byRole, err := s.WithRole(ctx, discord.GuildID(guild), 777, cases.PageRequest{Page: 1, PerPage: 10})
		if err != nil || byRole.Total != 1 || byRole.Cases[0].ID != jail.ID {
			t.Errorf("by role: %+v %v", byRole, err)
		}
		if byRole, _ := s.WithRole(ctx, discord.GuildID(guild), 77, cases.PageRequest{Page: 1, PerPage: 10}); byRole.Total != 0 {
			t.Errorf("by a role nobody has: %+v", byRole)
		}
	})
}

func TestRestriction(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := svc(st, newClock())
		is := func(r cases.Type) bool {
			t.Helper()
			on, deciding, err := s.Restricted(ctx, discord.GuildID(guild), discord.UserID(user), r)
			if err != nil {
				t.Fatal(err)
			}
			// The guild-wide set agrees with the one-user answer, deciding case included.
			all, err := s.UnderRestriction(ctx, discord.GuildID(guild), r)
			if err != nil {
				t.Fatal(err)
			}
			if c, in := all[user]; in != on || (in && c.ID != deciding.ID) || len(all) > 1 {
				t.Errorf("UnderRestriction(%s) = %v; Restricted says %v (case id %d)", r, all, on, deciding.ID)
			}
			return on
		}
		mk := func(typ cases.Type) cases.Case {
			t.Helper()
			c, err := s.Create(ctx, cases.New{GuildID: discord.GuildID(guild), UserID: discord.UserID(user), ModeratorID: discord.UserID(mod), Type: typ, Reason: "r"})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		if is(cases.Jail) {
			t.Error("jailed with no case")
		}
		jail := mk(cases.Jail)
		mk(cases.Warn) // other types never decide
		if !is(cases.Jail) || is(cases.Pollban) {
			t.Error("after JAIL: want jailed, not pollbanned")
		}
		unjail := mk(cases.Unjail)
		if is(cases.Jail) {
			t.Error("after UNJAIL: still jailed")
		}
		if _, err := s.Void(ctx, discord.GuildID(guild), unjail.Number, discord.UserID(mod), "unjailed by mistake"); err != nil {
			t.Fatal(err)
		}
		if !is(cases.Jail) {
			t.Error("a voided UNJAIL must not count: want jailed")
		}
		if _, err := s.Void(ctx, discord.GuildID(guild), jail.Number, discord.UserID(mod), "wrong person"); err != nil {
			t.Fatal(err)
		}
		if is(cases.Jail) {
			t.Error("a voided JAIL must not count: want free")
		}
		mk(cases.Pollban)
		mk(cases.Snippetban)
		mk(cases.Snippetunban)
		if !is(cases.Pollban) || is(cases.Snippetban) {
			t.Error("want pollbanned and not snippetbanned")
		}
		if _, _, err := s.Restricted(ctx, discord.GuildID(guild), discord.UserID(user), cases.Ban); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("BAN is not a restriction: %v", err)
		}
		if _, err := s.UnderRestriction(ctx, discord.GuildID(guild), cases.Ban); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("UnderRestriction(BAN): %v", err)
		}
	})
}

func TestChangesAndHistory(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newClock()
		s := svc(st, clk)
		c, err := s.Create(ctx, cases.New{GuildID: discord.GuildID(guild), UserID: discord.UserID(user), ModeratorID: discord.UserID(mod), Type: cases.Ban, Status: cases.Pending, Reason: "first"})
		if err != nil {
			t.Fatal(err)
		}
		const actor = int64(4444)
		step := func(what string, f func() (cases.Case, error)) cases.Case {
			t.Helper()
			clk.add(time.Minute)
			got, err := f()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			return got
		}
		step("activate", func() (cases.Case, error) {
			return s.SetStatus(ctx, discord.GuildID(guild), 1, discord.UserID(mod), cases.Active, "ban done")
		})
		step("reason", func() (cases.Case, error) {
			return s.SetReason(ctx, discord.GuildID(guild), 1, discord.UserID(actor), "second")
		})
		exp := clk.now().Add(time.Hour)
		step("expiry", func() (cases.Case, error) {
			return s.SetExpiry(ctx, discord.GuildID(guild), 1, discord.UserID(actor), exp, "made temporary")
		})
		step("modlog", func() (cases.Case, error) {
			return s.LinkModlog(ctx, discord.GuildID(guild), 1, discord.UserID(mod), 123456789, 987654321)
		})
		// Reason unchanged, status changed: the status change still applies.
		same, voided := "second", cases.Voided
		got := step("modify", func() (cases.Case, error) {
			return s.Modify(ctx, discord.GuildID(guild), 1, discord.UserID(actor), cases.Changes{Reason: &same, Status: &voided, Note: "appeal accepted"})
		})
		if got.Status != cases.Voided || got.Reason != "second" || !got.ExpiresAt.Equal(exp) || got.ModlogMessageID != 987654321 || got.ModlogChannelID != 123456789 || !got.UpdatedAt.Equal(clk.now()) {
			t.Errorf("after changes: %+v", got)
		}
		if _, err := s.Modify(ctx, discord.GuildID(guild), 1, discord.UserID(actor), cases.Changes{Reason: &same, Status: &voided}); !errors.Is(err, input.ErrUnchanged) {
			t.Errorf("no-op modify: %v", err)
		}
		if _, err := s.Void(ctx, discord.GuildID(guild), 1, discord.UserID(actor), "again"); !errors.Is(err, input.ErrUnchanged) {
			t.Errorf("void a voided case: %v", err)
		}
		if _, err := s.SetStatus(ctx, discord.GuildID(guild), 1, discord.UserID(actor), cases.Pending, ""); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("back to pending: %v", err)
		}
		long := strings.Repeat("x", 2001)
		if _, err := s.SetReason(ctx, discord.GuildID(guild), 1, discord.UserID(actor), long); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("over-long reason: %v", err)
		}
		if _, err := s.SetReason(ctx, discord.GuildID(guild), 2, discord.UserID(actor), "x"); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("change a missing case: %v", err)
		}
		step("clear expiry", func() (cases.Case, error) {
			return s.SetExpiry(ctx, discord.GuildID(guild), 1, discord.UserID(actor), time.Time{}, "")
		})
		step("reinstate", func() (cases.Case, error) {
			return s.SetStatus(ctx, discord.GuildID(guild), 1, discord.UserID(actor), cases.Active, "appeal reversed")
		})
		step("void", func() (cases.Case, error) {
			return s.Void(ctx, discord.GuildID(guild), 1, discord.UserID(actor), "duplicate of #2")
		})

		ev, err := s.Events(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			Kind           cases.EventKind
			Actor          int64
			Old, New, Note string
		}
		var gotRows []row
		for _, e := range ev {
			gotRows = append(gotRows, row{e.Kind, int64(e.ActorID), e.Old, e.New, e.Note})
		}
		expText := exp.UTC().Format(time.RFC3339Nano)
		want := []row{
			{cases.EventCreated, mod, "", "pending", ""},
			{cases.EventStatus, mod, "pending", "active", "ban done"},
			{cases.EventReason, actor, "first", "second", ""},
			{cases.EventExpiry, actor, "", expText, "made temporary"},
			{cases.EventModlog, mod, "", "123456789/987654321", ""},
			{cases.EventStatus, actor, "active", "voided", "appeal accepted"},
			{cases.EventExpiry, actor, expText, "", ""},
			{cases.EventStatus, actor, "voided", "active", "appeal reversed"},
			{cases.EventVoided, actor, "active", "voided", "duplicate of #2"},
		}
		if diff := cmp.Diff(want, gotRows); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
		for i := 1; i < len(ev); i++ {
			if !ev[i].At.After(ev[i-1].At) {
				t.Errorf("history row %d at %v is not after row %d at %v", i, ev[i].At, i-1, ev[i-1].At)
			}
		}
	})
}

func TestExport(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := svc(st, newClock())
		var ns []cases.New
		for i := 0; i < 1203; i++ {
			ns = append(ns, warn(guild, user+int64(i), fmt.Sprintf("r%d", i)))
		}
		ns = append(ns, warn(guild+1, user, "not exported"))
		if _, err := s.CreateMany(ctx, ns); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetReason(ctx, discord.GuildID(guild), 600, discord.UserID(mod), "changed"); err != nil {
			t.Fatal(err)
		}
		var got []int64
		err := s.Export(ctx, discord.GuildID(guild), func(c cases.Case, ev []cases.Event) error {
			got = append(got, c.Number)
			want := 1
			if c.Number == 600 {
				want = 2
			}
			if len(ev) != want {
				t.Errorf("case #%d exported with %d history rows, want %d", c.Number, len(ev), want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1203 || got[0] != 1 || got[1202] != 1203 {
			t.Errorf("exported %d cases, from #%d", len(got), got[0])
		}
	})
}

func TestGuildLifecycle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newClock()
		s := svc(st, clk)
		if err := s.GuildJoined(ctx, discord.GuildID(guild), clk.now()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, warn(guild, user, "r")); err != nil {
			t.Fatal(err)
		}
		clk.add(time.Hour)
		if err := s.GuildLeft(ctx, discord.GuildID(guild), clk.now()); err != nil {
			t.Fatal(err)
		}
		g, err := s.Guild(ctx, discord.GuildID(guild))
		if err != nil || g.LeftAt.IsZero() || g.CaseCount != 1 {
			t.Errorf("after leaving: %+v %v", g, err)
		}
		if n, _ := s.CountInGuild(ctx, discord.GuildID(guild)); n != 1 {
			t.Errorf("leaving a guild lost its cases: %d left", n)
		}
		clk.add(time.Hour)
		if err := s.GuildJoined(ctx, discord.GuildID(guild), clk.now()); err != nil {
			t.Fatal(err)
		}
		c, err := s.Create(ctx, warn(guild, user, "r"))
		if err != nil || c.Number != 2 {
			t.Errorf("numbering after rejoin: #%d %v", c.Number, err)
		}
		g, _ = s.Guild(ctx, discord.GuildID(guild))
		if !g.LeftAt.IsZero() || !g.JoinedAt.Equal(clk.now()) {
			t.Errorf("after rejoining: %+v", g)
		}
	})
}

// TestConcurrentCreate hammers one guild from many goroutines, including some whose
// contexts are cancelled mid-flight: every case that reports success exists, and the numbers
// are dense.
func TestConcurrentCreate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := svc(st, newClock())
		const workers, each = 16, 40
		var mu sync.Mutex
		var ok []int64
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					ctx, cancel := context.WithCancel(context.Background())
					if i%7 == 3 {
						cancel()
					}
					c, err := s.Create(ctx, warn(guild, user, "r"))
					cancel()
					if err == nil {
						mu.Lock()
						ok = append(ok, c.Number)
						mu.Unlock()
					} else if !errors.Is(err, context.Canceled) {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		total, err := s.CountInGuild(context.Background(), discord.GuildID(guild))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(ok)) != total {
			t.Errorf("%d creations reported success, %d cases exist", len(ok), total)
		}
		seen := map[int64]bool{}
		for _, n := range ok {
			if n < 1 || n > total || seen[n] {
				t.Errorf("number %d duplicated or out of 1..%d", n, total)
			}
			seen[n] = true
		}
	})
}

func FuzzParseType(f *testing.F) {
	for _, s := range []string{"ban", "TEMPBAN", " note ", "", "x", "bän"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, err := cases.ParseType(s)
		if err != nil {
			if !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), "accepted:") {
				t.Errorf("ParseType(%q): unhelpful error %v", s, err)
			}
			return
		}
		if !typ.Valid() {
			t.Errorf("ParseType(%q) = %q, which is not valid", s, typ)
		}
	})
}

func numbers(cs []cases.Case) []int64 {
	out := []int64{}
	for _, c := range cs {
		out = append(out, c.Number)
	}
	return out
}

// TestBrowsePages walks a guild's cases by keyset pages under the dashboard's filters:
// user, text, a date range, and bad input refused.
func TestBrowsePages(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newClock()
		start := clk.now()
		s := svc(st, clk)
		for i := 1; i <= 25; i++ {
			n := warn(guild, user+int64(i%2), fmt.Sprintf("reason %d", i))
			if i%5 == 0 {
				n.Reason = fmt.Sprintf("spam link %d", i)
			}
			if _, err := s.Create(ctx, n); err != nil {
				t.Fatal(err)
			}
			clk.add(time.Hour)
		}
		if _, err := s.Create(ctx, warn(guild+1, user, "spam elsewhere")); err != nil {
			t.Fatal(err)
		}
		numbers := func(cs []cases.Case) []int64 {
			var out []int64
			for _, c := range cs {
				out = append(out, c.Number)
			}
			return out
		}
		all := cases.Browse{Filter: cases.Filter{GuildID: discord.GuildID(guild)}}
		var got [][]int64
		before := int64(0)
		for {
			page, more, err := s.BrowsePage(ctx, all, before, 10)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, numbers(page))
			if !more {
				break
			}
			before = page[len(page)-1].Number
		}
		want := [][]int64{{25, 24, 23, 22, 21, 20, 19, 18, 17, 16}, {15, 14, 13, 12, 11, 10, 9, 8, 7, 6}, {5, 4, 3, 2, 1}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}
		for _, c := range []struct {
			name string
			b    cases.Browse
			want []int64
		}{
			{"text", cases.Browse{Filter: cases.Filter{GuildID: discord.GuildID(guild)}, Text: "spam"}, []int64{25, 20, 15, 10, 5}},
			{"text and user", cases.Browse{Filter: cases.Filter{GuildID: discord.GuildID(guild), UserID: discord.UserID(user + 1)}, Text: "spam"}, []int64{25, 15, 5}},
			{"dates", cases.Browse{Filter: cases.Filter{GuildID: discord.GuildID(guild)}, From: start.Add(2 * time.Hour), Until: start.Add(5 * time.Hour)}, []int64{5, 4, 3}},
			{"from only", cases.Browse{Filter: cases.Filter{GuildID: discord.GuildID(guild)}, From: start.Add(23 * time.Hour)}, []int64{25, 24}},
		} {
			var seen []int64
			if err := s.BrowseAll(ctx, c.b, func(cs cases.Case) error { seen = append(seen, cs.Number); return nil }); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if diff := cmp.Diff(c.want, seen); diff != "" {
				t.Errorf("%s (-want +got):\n%s", c.name, diff)
			}
		}
		for _, c := range []struct {
			name   string
			b      cases.Browse
			before int64
			want   string
		}{
			{"no guild", cases.Browse{}, 0, "guild"},
			{"no words", cases.Browse{Filter: cases.Filter{GuildID: discord.GuildID(guild)}, Text: "!!"}, 0, "no words"},
			{"long text", cases.Browse{Filter: cases.Filter{GuildID: discord.GuildID(guild)}, Text: strings.Repeat("a", cases.MaxSearchTextBytes+1)}, 0, "at most"},
			{"dates reversed", cases.Browse{Filter: cases.Filter{GuildID: discord.GuildID(guild)}, From: start.Add(time.Hour), Until: start}, 0, "not before"},
			{"negative cursor", cases.Browse{Filter: cases.Filter{GuildID: discord.GuildID(guild)}}, -1, "not a case number"},
		} {
			if _, _, err := s.BrowsePage(ctx, c.b, c.before, 10); !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v; want an input error saying %q", c.name, err, c.want)
			}
		}
	})
}

// The mod log links its message on the case as it read it before posting, without a lock:
// written (with its history row) while the case links what was read; refused, and nothing
// written, once another writer changed the link meanwhile.
func TestLinkModlogIfUnchanged(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newClock()
		s := svc(st, clk)
		c, err := s.Create(ctx, cases.New{GuildID: discord.GuildID(guild), UserID: discord.UserID(user), ModeratorID: discord.UserID(mod), Type: cases.Warn, Status: cases.Active, Reason: "r"})
		if err != nil {
			t.Fatal(err)
		}
		link := func(seen cases.Case, msg discord.MessageID) (bool, error) {
			var linked bool
			err := s.InTx(ctx, discord.UserID(mod), func(tx *cases.Tx) error {
				var err error
				linked, err = tx.LinkModlogIfUnchanged(seen, 100, msg)
				return err
			})
			return linked, err
		}
		if ok, err := link(c, 200); err != nil || !ok {
			t.Fatalf("link on the case as read: %v, %v", ok, err)
		}
		// c still says "no message": the link it names is no longer the case's.
		if ok, err := link(c, 300); err != nil || ok {
			t.Fatalf("link on a stale read: %v, %v; want false, nil", ok, err)
		}
		got, err := s.Get(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ModlogChannelID != 100 || got.ModlogMessageID != 200 {
			t.Errorf("link after the stale attempt: %d/%d, want 100/200", got.ModlogChannelID, got.ModlogMessageID)
		}
		if ok, err := link(got, 200); !errors.Is(err, input.ErrUnchanged) || ok {
			t.Errorf("the same link again: %v, %v; want ErrUnchanged", ok, err)
		}
		if ok, err := link(got, 400); err != nil || !ok {
			t.Fatalf("relink on the case as read: %v, %v", ok, err)
		}
		ev, err := s.Events(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var links []string
		for _, e := range ev {
			if e.Kind == cases.EventModlog {
				links = append(links, e.Old+" -> "+e.New)
			}
		}
		if diff := cmp.Diff([]string{" -> 100/200", "100/200 -> 100/400"}, links); diff != "" {
			t.Errorf("mod-log history (-want +got):\n%s", diff)
		}
	})
}
