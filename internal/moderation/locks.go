package moderation

import (
	"context"
	"fmt"
	"sync"

	"github.com/gavelbot/gavel/internal/discord"
)

// targetKey names one member of one guild: the unit no two actions may work on at once.
type targetKey struct {
	guild discord.GuildID
	user  discord.UserID
}

// Locks serialise actions per (guild, target), so that two moderators banning the same user
// at once give one ban and one "already banned", while actions on different targets run in
// parallel. A waiter gives up when its context ends. Entries exist only while someone holds
// or waits for them, so the map never grows with the number of users ever moderated.
type Locks struct {
	mu      sync.Mutex
	entries map[targetKey]*lockEntry
}

type lockEntry struct {
	ch   chan struct{} // holds one token while the lock is free
	refs int           // holders and waiters
}

// NewLocks returns an empty set of locks.
func NewLocks() *Locks { return &Locks{entries: map[targetKey]*lockEntry{}} }

// Lock waits until no other action holds (guild, user) and returns the function that
// releases it.
func (l *Locks) Lock(ctx context.Context, guild discord.GuildID, user discord.UserID) (unlock func(), err error) {
	k := targetKey{guild, user}
	l.mu.Lock()
	e, ok := l.entries[k]
	if !ok {
		e = &lockEntry{ch: make(chan struct{}, 1)}
		e.ch <- struct{}{}
		l.entries[k] = e
	}
	e.refs++
	l.mu.Unlock()

	release := func() {
		l.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(l.entries, k)
		}
		l.mu.Unlock()
	}
	select {
	case <-e.ch:
		var once sync.Once
		return func() {
			once.Do(func() {
				e.ch <- struct{}{}
				release()
			})
		}, nil
	case <-ctx.Done():
		release()
		return nil, fmt.Errorf("waiting for another action on user %d: %w", user, ctx.Err())
	}
}

// Len is how many targets are held or awaited, for metrics and tests.
func (l *Locks) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}
