package cases

// Batched makes writes share transactions on either engine (the default on SQLite only),
// so that the group commit's rules are tested on PostgreSQL too.
func Batched() Option { return func(s *Service) { s.upd.off = false } }

// Unbatched makes every write a transaction of its own, as before the group commit of
// updates: the baseline of BenchmarkFollowUp.
func Unbatched() Option { return func(s *Service) { s.upd.off = true } }

// QueuedWrites is how many writes wait for a leader.
func QueuedWrites(s *Service) int {
	s.upd.mu.Lock()
	defer s.upd.mu.Unlock()
	return len(s.upd.pending)
}

// SharedWrites is how many transactions were shared by several writes, and by how many.
func SharedWrites(s *Service) (txs, writes int64) {
	return s.upd.shared.Load(), s.upd.members.Load()
}
