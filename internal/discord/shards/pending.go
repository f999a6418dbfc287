package shards

import (
	"sync"
)

// A shard's saved session (Session.Seq) is where the next owner's RESUME starts: Discord
// replays every event after it. Saving the last sequence received would skip an event
// whose work was still running when the shard moved (a command cancelled by the lost
// lease, or one still waiting in the gateway's buffer): the next owner would never see
// it, and the command would be lost. So the saved sequence is a low-water mark: the
// sequence below which every event of the session has been handled and its work is
// finished. The events after it that were finished too are replayed as well; a replay
// of a command that was handled is dropped (its case or its record carries the event,
// store/events.go).

// pending follows one gateway's events: those handed to the handler whose work is not
// finished. The handler itself holds each event while it runs; work it starts that
// outlives it (a command's goroutine) holds the event too (Manager.Hold).
type pending struct {
	mu  sync.Mutex
	cur *session
}

// session is one gateway session's events: a new session (READY) numbers its events from
// 1 again, so holds of the previous one's events are kept apart.
type session struct {
	// last is the highest sequence handed to the handler (or resumed from).
	last int
	// refs counts the holds of each event not finished.
	refs map[int]int
}

func newPending(resumedFrom int) *pending {
	return &pending{cur: &session{last: resumedFrom, refs: map[int]int{}}}
}

// newSession starts a new session's numbering (READY).
func (p *pending) newSession() {
	p.mu.Lock()
	p.cur = &session{refs: map[int]int{}}
	p.mu.Unlock()
}

// begin holds event seq while the handler runs; release(s, seq), with the session it
// returns, ends that hold. (No closure: this runs for every event of a storm.)
func (p *pending) begin(seq int) *session {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.cur
	s.refs[seq]++
	s.last = max(s.last, seq)
	return s
}

// hold holds event seq, which the handler is running, until the returned function is
// called (once); ok is false when seq is not an event being handled.
func (p *pending) hold(seq int) (release func(), ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.cur
	if s.refs[seq] == 0 {
		return nil, false
	}
	s.refs[seq]++
	return sync.OnceFunc(func() { p.release(s, seq) }), true
}

func (p *pending) release(s *session, seq int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.refs[seq]--; s.refs[seq] <= 0 {
		delete(s.refs, seq)
	}
}

// mark is the low-water mark of the current session: every event up to it is finished.
// 0 when none is (a session that has handled nothing cannot be resumed from here).
func (p *pending) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.cur.last
	for seq := range p.cur.refs {
		m = min(m, seq-1)
	}
	return m
}
