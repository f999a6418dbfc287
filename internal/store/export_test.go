package store

import (
	"context"

	"github.com/gavelbot/gavel/internal/store/query"
)

// DB runs statements in t, through the statement cache.
func DB(t *Tx) query.DBTX { return t.db }

// PreparedTexts counts the query texts s holds prepared statements for, on both pools.
func PreparedTexts(s *Store) int {
	n := 0
	for _, c := range []*stmtCache{s.writeCache, s.readCache} {
		if c == nil {
			continue
		}
		c.mu.Lock()
		for _, st := range c.stmts {
			if st != nil {
				n++
			}
		}
		c.mu.Unlock()
	}
	return n
}

// WaitPreparations waits until the background preparations started so far have ended
// (prepared, or found unpreparable). Nothing may start new ones meanwhile.
func WaitPreparations(s *Store) {
	for _, c := range []*stmtCache{s.writeCache, s.readCache} {
		if c != nil {
			c.wg.Wait()
		}
	}
}

// MmapSizes reports SQLite's mmap_size on a connection of the point-read pool and of the
// listing pool.
func MmapSizes(ctx context.Context, s *Store) (read, scan int64, err error) {
	if err := s.read.QueryRowContext(ctx, "PRAGMA mmap_size").Scan(&read); err != nil {
		return 0, 0, err
	}
	err = s.scan.QueryRowContext(ctx, "PRAGMA mmap_size").Scan(&scan)
	return read, scan, err
}

// BatchContext is the context a group-committed batch of s runs its statements in, made
// from ctx.
func BatchContext(ctx context.Context, s *Store) (context.Context, context.CancelFunc) {
	return s.batchCtx(ctx)
}

// SetTrigramCandidateLimit sets how many candidates of the reason trigram index SQLite's
// search reads by id before it reads the guild instead.
func SetTrigramCandidateLimit(s *Store, n int) { s.trigramLimit = n }

// TxStatements counts the statements t's transaction holds bound or prepared on itself.
func TxStatements(t *Tx) int {
	if c, ok := t.db.(*cachedTx); ok {
		return len(c.bound)
	}
	return 0
}

// EventCheckStands reports whether CaseBySourceEvent would answer for the event without a
// read (eventChecks), without using the answer up.
func EventCheckStands(s *Store, guildID, eventID int64) bool {
	c := &s.checks
	c.mu.Lock()
	seq, ok := c.checked[[2]int64{guildID, eventID}]
	c.mu.Unlock()
	return ok && seq == c.seq(guildID)
}
