package store_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// A write transaction run with a command's event claims it with its change: the same event
// again changes nothing (ErrReplayed), on both engines, through InTx and GroupTx; a case
// carrying an event is one per guild, and its refusal leaves no gap in the numbers.
func TestEventsAreHandledOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		const guild, other = 7001, 7002
		writes := 0
		write := func(ctx context.Context, group bool) error {
			fn := func(tx *store.Tx) error {
				if err := tx.EnsureGuild(guild, 1); err != nil {
					return err
				}
				writes++
				return nil
			}
			if group {
				return st.GroupTx(ctx, fn)
			}
			return st.InTx(ctx, fn)
		}
		for _, group := range []bool{false, true} {
			ev := int64(900)
			if group {
				ev = 901
			}
			first := store.WithEvent(ctx, guild, ev, "config prefix")
			if err := write(first, group); err != nil {
				t.Fatal(err)
			}
			if !store.EventClaimed(first) {
				t.Fatal("the first write did not claim its event")
			}
			// The same command's second write is not a replay.
			if err := write(first, group); err != nil {
				t.Fatalf("a second write of the same command: %v", err)
			}
			replay := store.WithEvent(ctx, guild, ev, "config prefix")
			if err := write(replay, group); !errors.Is(err, store.ErrReplayed) {
				t.Fatalf("the replay's write: %v; want ErrReplayed", err)
			}
			// The same id in another guild is another event.
			if err := write(store.WithEvent(ctx, other, ev, "config prefix"), group); err != nil {
				t.Fatalf("the same id in another guild: %v", err)
			}
		}
		if writes != 6 {
			t.Errorf("%d writes applied; want 6 (two per command, none for the replays)", writes)
		}

		// A command that wrote nothing is recorded once it answered.
		read := store.WithEvent(ctx, guild, 902, "cases list")
		if seen, _ := st.EventHandled(ctx, guild, 902); seen {
			t.Fatal("an event nobody handled is seen")
		}
		if first, err := st.ClaimEvent(read); err != nil || !first {
			t.Fatalf("ClaimEvent = %v, %v; want the first claim", first, err)
		}
		if first, err := st.ClaimEvent(store.WithEvent(ctx, guild, 902, "cases list")); err != nil || first {
			t.Fatalf("ClaimEvent of a replay = %v, %v; want false", first, err)
		}
		if seen, err := st.EventHandled(ctx, guild, 902); err != nil || !seen {
			t.Fatalf("EventHandled = %v, %v after the claim", seen, err)
		}

		// Cases: one per (guild, event); the refused insert takes no number.
		mk := func(ev int64) (store.CaseKey, error) {
			return st.CreateCase(ctx, store.NewCase{GuildID: guild, UserID: 5, ModeratorID: 6, Type: "WARN", Status: "pending",
				Reason: "r", RoleIDs: "[]", Metadata: "{}", CreatedAt: time.Now().UnixMilli(),
				SourceEventID: sql.NullInt64{Int64: ev, Valid: ev != 0}})
		}
		k1, err := mk(903)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mk(903); !store.DuplicateEvent(err) {
			t.Fatalf("a second case of event 903: %v; want a duplicate-event error", err)
		}
		if seen, _ := st.EventHandled(ctx, guild, 903); !seen {
			t.Error("the event that made a case is not seen as handled")
		}
		if got, ok, err := st.CaseBySourceEvent(ctx, guild, 903); err != nil || !ok || got != k1 {
			t.Errorf("CaseBySourceEvent = %v, %v, %v; want %v", got, ok, err, k1)
		}
		k2, err := mk(0)
		if err != nil {
			t.Fatal(err)
		}
		k3, err := mk(0) // cases with no event are not limited
		if err != nil {
			t.Fatal(err)
		}
		if k2.Number != k1.Number+1 || k3.Number != k1.Number+2 {
			t.Errorf("numbers %d, %d, %d; want consecutive", k1.Number, k2.Number, k3.Number)
		}

		n, err := st.PurgeEvents(ctx, time.Now().Add(time.Hour))
		if err != nil || n != 5 {
			t.Errorf("PurgeEvents = %d, %v; want the 5 recorded events", n, err)
		}
	})
}

// The pipeline's check under the target's lock (CaseBySourceEvent) right after the router's
// (EventHandled): on SQLite it reads nothing while no case of the guild was committed since
// the router's read, and reads (and finds the case) once one was, however the two checks
// interleave with the case's commit. PostgreSQL, shared by processes, always reads.
func TestCaseBySourceEventAfterEventHandled(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		const guild, other = 7101, 7102
		sqlite := st.Engine() == store.SQLite
		mk := func(g, ev int64) store.CaseKey {
			t.Helper()
			k, err := st.CreateCase(ctx, store.NewCase{GuildID: g, UserID: 5, ModeratorID: 6, Type: "WARN", Status: "pending",
				Reason: "r", RoleIDs: "[]", Metadata: "{}", CreatedAt: time.Now().UnixMilli(),
				SourceEventID: sql.NullInt64{Int64: ev, Valid: true}})
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
		handled := func(ev int64) {
			t.Helper()
			if seen, err := st.EventHandled(ctx, guild, ev); err != nil || seen {
				t.Fatalf("EventHandled(%d) = %v, %v; want false", ev, seen, err)
			}
		}
		bySource := func(ev int64) (store.CaseKey, bool) {
			t.Helper()
			k, ok, err := st.CaseBySourceEvent(ctx, guild, ev)
			if err != nil {
				t.Fatal(err)
			}
			return k, ok
		}

		// Nothing in between: answered without a read on SQLite, and only once.
		handled(1)
		if got := store.EventCheckStands(st, guild, 1); got != sqlite {
			t.Errorf("after EventHandled: the check stands %v, want %v", got, sqlite)
		}
		if _, ok := bySource(1); ok {
			t.Error("event 1 made no case, CaseBySourceEvent found one")
		}
		if store.EventCheckStands(st, guild, 1) {
			t.Error("the check still stands after CaseBySourceEvent used it")
		}

		// The event's case committed between the two checks (a second delivery's): read and
		// found.
		handled(2)
		k := mk(guild, 2)
		if store.EventCheckStands(st, guild, 2) {
			t.Error("the check stands after a case of the guild was committed")
		}
		if got, ok := bySource(2); !ok || got != k {
			t.Errorf("CaseBySourceEvent(2) = %+v, %v; want %+v", got, ok, k)
		}

		// Another guild's case leaves the check standing.
		handled(3)
		mk(other, 3)
		if got := store.EventCheckStands(st, guild, 3); got != sqlite {
			t.Errorf("after another guild's case: the check stands %v, want %v", got, sqlite)
		}
		if _, ok := bySource(3); ok {
			t.Error("event 3 made no case in the guild, CaseBySourceEvent found one")
		}
	})
}

// Once the process holds a SQLite database alone (LockRunner, ServeAlone), EventHandled
// answers an event newer than every event recorded before from what the store recorded
// itself, without a read: a case made by the event and a claim of it count once committed,
// and a claim written behind the store's back (which no process may do while it holds the
// database) is not seen. An event up to the highest recorded before, and every event of a
// store that does not serve alone, are read; the pipeline's check still finds a case
// committed after the answer.
func TestEventHandledWhileServingAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := storetest.MigratedURL(t, store.SQLite)
	open := func() *store.Store {
		st, err := store.OpenURL(ctx, u, store.Options{MaxOpenConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st, bystander := open(), open()
	const guild = 7201
	claimBehind := func(ev int64) {
		t.Helper()
		if _, err := st.Writer().ExecContext(ctx, "INSERT INTO processed_events (guild_id, event_id, command, created_at) VALUES (?, ?, 'x', 1)", guild, ev); err != nil {
			t.Fatal(err)
		}
	}
	handled := func(s *store.Store, ev int64) bool {
		t.Helper()
		seen, err := s.EventHandled(ctx, guild, ev)
		if err != nil {
			t.Fatal(err)
		}
		return seen
	}
	const before, after = 5000, 6000
	claimBehind(before)
	claimBehind(before - 10)
	lock, err := store.LockRunner(st.Location)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if err := st.ServeAlone(ctx); err != nil {
		t.Fatal(err)
	}
	claimBehind(after)
	claimBehind(before - 5)
	if !handled(st, before) || !handled(st, before-10) {
		t.Error("an event recorded before ServeAlone: not handled")
	}
	if !handled(st, before-5) {
		t.Error("an event below the highest recorded before: not read")
	}
	if handled(st, after) {
		t.Error("a newer event the store did not record was read from the database")
	}
	if !handled(bystander, after) {
		t.Error("a store that does not serve alone did not read the event")
	}

	mk := func(ev int64) store.CaseKey {
		t.Helper()
		k, err := st.CreateCase(ctx, store.NewCase{GuildID: guild, UserID: 5, ModeratorID: 6, Type: "WARN", Status: "pending",
			Reason: "r", RoleIDs: "[]", Metadata: "{}", CreatedAt: time.Now().UnixMilli(),
			SourceEventID: sql.NullInt64{Int64: ev, Valid: true}})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	mk(after + 1)
	if !handled(st, after+1) {
		t.Error("the event of a committed case: not handled")
	}
	if first, err := st.ClaimEvent(store.WithEvent(ctx, guild, after+2, "config prefix")); err != nil || !first {
		t.Fatalf("ClaimEvent = %v, %v", first, err)
	}
	if !handled(st, after+2) {
		t.Error("a claimed event: not handled")
	}
	// The event's case committed between the router's answer and the pipeline's check.
	if handled(st, after+3) {
		t.Fatal("a new event: handled")
	}
	k := mk(after + 3)
	if store.EventCheckStands(st, guild, after+3) {
		t.Error("the check stands after a case of the guild was committed")
	}
	if got, ok, err := st.CaseBySourceEvent(ctx, guild, after+3); err != nil || !ok || got != k {
		t.Errorf("CaseBySourceEvent = %+v, %v, %v; want %+v", got, ok, err, k)
	}
	// The highest recorded event may be a case's.
	mk(after + 100)
	again := open()
	if err := again.ServeAlone(ctx); err != nil {
		t.Fatal(err)
	}
	if !handled(again, after+100) {
		t.Error("a case's event recorded before ServeAlone: not handled")
	}
}
