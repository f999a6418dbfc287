package store

import (
	"context"
	"fmt"
	"sync"
)

// handledEvents lets EventHandled answer without a read on SQLite, once the process holds
// the database alone (LockRunner, then ServeAlone): from then on no other process records
// an event as handled, so an event this store has not recorded since, and that is newer
// than every event recorded before, was handled by nobody. The router asks EventHandled for
// every command, and the read was a statement on a reading connection, which reads cold
// after every commit (about 5% of gavel's CPU per command: docs/benchmarks.md, issue 11,
// session 10).
//
// Events are compared by id (snowflakes). ServeAlone reads the highest id recorded as
// handled (a case's source event, a claim) and starts floor above it; from then on the
// store remembers the events it records once their transaction commits, in two generations
// of at most maxHandledEvents each, and floor rises above every event of a generation when
// it is dropped. Events below floor are read. No clock is involved.
//
// An answer from memory is what the read would give, except in the moment between a
// commit and its AfterCommit, where the read would already see the case or claim: the same
// race as an event arriving just before the commit, which the case's unique index, the
// claims and the pipeline's own check (CaseBySourceEvent, whose count of committed cases
// moves after the event is remembered here) settle.
type handledEvents struct {
	mu              sync.Mutex
	floor           int64 // 0: nothing is answered from memory
	cur, prev       map[[2]int64]struct{}
	curMax, prevMax int64
}

// maxHandledEvents bounds a generation: two of them are about 2 MB.
const maxHandledEvents = 16384

// highestHandledEvent is the highest event id recorded as handled.
const highestHandledEvent = `SELECT MAX(COALESCE((SELECT MAX(event_id) FROM processed_events), 0),
    COALESCE((SELECT MAX(source_event_id) FROM cases WHERE source_event_id IS NOT NULL), 0))`

// ServeAlone tells a SQLite store that this process holds its database alone (LockRunner)
// and has migrated it: EventHandled then answers events newer than any recorded so far from
// what the store records itself (handledEvents). It reads the highest event recorded as
// handled, once (a scan of the handled events and of the cases' source events index).
func (s *Store) ServeAlone(ctx context.Context) error {
	if s.Location.Engine != SQLite {
		return nil
	}
	h := &s.handled
	// Held across the read: an event committed after the read's snapshot is remembered
	// only once floor is set, above it or not (then it is read).
	h.mu.Lock()
	defer h.mu.Unlock()
	var top int64
	if err := s.write.QueryRowContext(ctx, highestHandledEvent).Scan(&top); err != nil {
		return fmt.Errorf("read the highest handled event: %w", err)
	}
	h.startLocked(top + 1)
	return nil
}

// startLocked answers from memory the events from floor on; h.mu is held.
func (h *handledEvents) startLocked(floor int64) {
	h.floor = max(h.floor, floor, 1)
	if h.cur == nil {
		h.cur = make(map[[2]int64]struct{})
	}
}

// lookup says whether the event was recorded as handled; known is false when memory cannot
// tell (the store does not serve alone, or the event is older than what it remembers).
func (h *handledEvents) lookup(guildID, eventID int64) (handled, known bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.floor == 0 || eventID < h.floor {
		return false, false
	}
	k := [2]int64{guildID, eventID}
	_, inCur := h.cur[k]
	_, inPrev := h.prev[k]
	return inCur || inPrev, true
}

// add remembers an event recorded as handled, after its transaction committed.
func (h *handledEvents) add(guildID, eventID int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.floor == 0 || eventID < h.floor {
		return
	}
	if len(h.cur) >= maxHandledEvents {
		// The older generation goes: every event in it falls below the floor, so that it is
		// read from the database again.
		h.floor = max(h.floor, h.prevMax+1)
		h.prev, h.prevMax = h.cur, h.curMax
		h.cur, h.curMax = make(map[[2]int64]struct{}, maxHandledEvents), 0
	}
	h.cur[[2]int64{guildID, eventID}] = struct{}{}
	h.curMax = max(h.curMax, eventID)
}
