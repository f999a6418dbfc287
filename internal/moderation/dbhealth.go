package moderation

import (
	"github.com/gavelbot/gavel/internal/store"
)

// WithDatabaseHealth shares the tracker of the database's reachability (store.Health): the
// pipeline reports its writes' failures and successes to it, so an outage is logged once,
// with the driver's detail, instead of once per command.
func WithDatabaseHealth(h *store.Health) CoordinatorOption {
	return func(c *Coordinator) { c.db = h }
}

// dbFailed reports a failed database write and returns the error to pass on: without the
// driver's text when the database is unreachable (the health tracker logged that once).
func (co *Coordinator) dbFailed(err error) error {
	if co.db == nil {
		if store.Unreachable(err) {
			return store.ErrUnreachable
		}
		return err
	}
	return co.db.Failed(err)
}

// dbOK reports a database write that worked.
func (co *Coordinator) dbOK() {
	if co.db != nil {
		co.db.Succeeded()
	}
}

// storeText says in a moderator's terms what failed when the database did: never the
// driver's text, which names the database's user and host.
func (co *Coordinator) storeText(err error) string {
	if store.Unreachable(err) {
		return "gavel's database is unreachable"
	}
	return "gavel could not write to its database (its log has the details)"
}
