package store

import "testing"

// The memory of handled events answers from its floor on, and drops its older
// generation when the newer is full: the floor then rises above every event dropped, which
// are read from the database again, and the events still kept are still answered.
func TestHandledEventsGenerations(t *testing.T) {
	t.Parallel()
	var h handledEvents
	const base = int64(1) << 40
	if _, known := h.lookup(1, base); known {
		t.Fatal("answered before ServeAlone")
	}
	h.mu.Lock()
	h.startLocked(base)
	h.mu.Unlock()
	if _, known := h.lookup(1, base-1); known {
		t.Error("an event below the floor was answered")
	}
	if handled, known := h.lookup(1, base); !known || handled {
		t.Errorf("a new event: handled %v, known %v; want false, true", handled, known)
	}
	for i := range int64(2*maxHandledEvents + 1) {
		h.add(1, base+i)
	}
	// Generations: [0, max) dropped, [max, 2 max) kept, 2 max in the current one.
	if _, known := h.lookup(1, base+maxHandledEvents-1); known {
		t.Error("an event of the dropped generation was answered")
	}
	for _, i := range []int64{maxHandledEvents, 2*maxHandledEvents - 1, 2 * maxHandledEvents} {
		if handled, known := h.lookup(1, base+i); !known || !handled {
			t.Errorf("event %d: handled %v, known %v; want true, true", i, handled, known)
		}
	}
	if handled, known := h.lookup(2, base+maxHandledEvents); !known || handled {
		t.Errorf("the same id in another guild: handled %v, known %v; want false, true", handled, known)
	}
	h.add(1, base-5) // below the floor: not kept, and still read
	if _, known := h.lookup(1, base-5); known {
		t.Error("an event below the floor was answered")
	}
}
