package cases_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

func mirrored(entry string) cases.New {
	return cases.New{GuildID: discord.GuildID(guild), UserID: discord.UserID(user), ModeratorID: discord.UserID(mod), Type: cases.Ban, Reason: "by hand",
		Metadata: map[string]string{cases.MetaAuditLogEntry: entry, "source": "audit_log"}}
}

// TestAuditLogEntryIsUnique: the database refuses a second case for the same audit-log
// entry in a guild, even when both arrive at once; another guild may use the same id.
func TestAuditLogEntryIsUnique(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := svc(st, newClock())
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[i] = s.Create(ctx, mirrored("555")) }()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d creations for one entry succeeded (%v); want exactly 1", ok, len(errs), errs)
		}
		c, err := s.ByAuditLogEntry(ctx, discord.GuildID(guild), 555)
		if err != nil {
			t.Fatal(err)
		}
		if c.Type != cases.Ban || c.Metadata[cases.MetaAuditLogEntry] != "555" {
			t.Errorf("ByAuditLogEntry = %+v", c)
		}
		other := mirrored("555")
		other.GuildID = discord.GuildID(guild + 1)
		if _, err := s.Create(ctx, other); err != nil {
			t.Errorf("the same entry id in another guild: %v", err)
		}
		if _, err := s.Create(ctx, warn(guild, user, "no entry")); err != nil {
			t.Errorf("cases without an entry id are not limited: %v", err)
		}
		if _, err := s.Create(ctx, warn(guild, user, "no entry either")); err != nil {
			t.Errorf("cases without an entry id are not limited: %v", err)
		}
		if _, err := s.ByAuditLogEntry(ctx, discord.GuildID(guild), 556); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("ByAuditLogEntry(unknown) = %v; want ErrNotFound", err)
		}
		if _, err := s.ByAuditLogEntry(ctx, discord.GuildID(guild), 0); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("ByAuditLogEntry(0) = %v; want input.ErrInvalid", err)
		}
	})
}

func TestPendingInGuild(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newClock()
		s := svc(st, clk)
		old := warn(guild, user, "old")
		old.Status = cases.Pending
		first, err := s.Create(ctx, old)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, warn(guild, user, "active")); err != nil {
			t.Fatal(err)
		}
		other := old
		other.GuildID = discord.GuildID(guild + 1)
		if _, err := s.Create(ctx, other); err != nil {
			t.Fatal(err)
		}
		clk.add(time.Minute)
		young := old
		young.Reason = "young"
		if _, err := s.Create(ctx, young); err != nil {
			t.Fatal(err)
		}
		got, err := s.PendingInGuild(ctx, discord.GuildID(guild), clk.now(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != first.ID {
			t.Errorf("PendingInGuild before now = %+v; want only case #%d", got, first.Number)
		}
		got, err = s.PendingInGuild(ctx, discord.GuildID(guild), clk.now().Add(time.Millisecond), 10)
		if err != nil || len(got) != 2 {
			t.Errorf("PendingInGuild including the young one = %d cases, %v; want 2", len(got), err)
		}
		if _, err := s.PendingInGuild(ctx, discord.GuildID(guild), clk.now(), 0); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("limit 0: %v; want input.ErrInvalid", err)
		}
	})
}

func TestAddNote(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newClock()
		s := svc(st, clk)
		c, err := s.Create(ctx, cases.New{GuildID: discord.GuildID(guild), UserID: discord.UserID(user), ModeratorID: discord.UserID(mod), Type: cases.Jail, Reason: "spam"})
		if err != nil {
			t.Fatal(err)
		}
		clk.add(time.Second)
		after, err := s.AddNote(ctx, discord.GuildID(guild), c.Number, 42, "re-jailed on rejoin")
		if err != nil {
			t.Fatal(err)
		}
		if after.Status != c.Status || after.Reason != c.Reason {
			t.Errorf("a note changed the case: %+v", after)
		}
		evs, err := s.Events(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		last := evs[len(evs)-1]
		if len(evs) != 2 || last.Kind != cases.EventNote || last.ActorID != 42 || last.Note != "re-jailed on rejoin" || !last.At.Equal(clk.now()) {
			t.Errorf("history = %+v; want created, then the note by 42", evs)
		}
		if _, err := s.AddNote(ctx, discord.GuildID(guild), c.Number, 42, "  "); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("empty note: %v; want input.ErrInvalid", err)
		}
		if _, err := s.AddNote(ctx, discord.GuildID(guild), c.Number+1, 42, "x"); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("note on a missing case: %v; want ErrNotFound", err)
		}
	})
}
