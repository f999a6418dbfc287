package cases

import (
	"fmt"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/store"
)

// Changed names a case a write transaction changed.
type Changed struct {
	ID      int64
	GuildID discord.GuildID
	// Type is the case's type, so that an observer that follows some types only (the poll
	// bans) can skip the others.
	Type Type
	// Child says the case is one target of a mass action (its metadata names the parent case,
	// MetaParentCase): the mod log shows the parent, which sums its children up, instead of
	// a message per child.
	Child bool
	// Before is the case's status before the transaction changed it; empty for a case the
	// transaction created. An observer that counts active cases (escalation's points) tells
	// from it whether the case started or stopped counting.
	Before Status
	// Case is the case as the transaction created it, or as its first change of it found it
	// (Status is then Before): what an observer may prepare its work from before it reads
	// the case (escalation computes a new warning's points from the reason, metadata and
	// creation time). A later change in the same transaction is not in it, so whatever is
	// prepared from it must be checked against the stored case before it is used.
	Case Case
	// Current is the case as the transaction leaves it, when the transaction knows that
	// without reading it: its last change of the case returned the whole row (Activate).
	// Nil otherwise (any other change, the link to its message included, leaves it unknown).
	// The mod log renders a new case's first message from it instead of reading the case.
	Current *Case
}

// ChangeObserver hears of every case a write transaction changes: a case created active, and
// every change that writes a history row (status, reason, expiry, void, processed, lifts and
// supersedes, notes), except the link to the case's own mod-log message. It is what keeps
// the mod log following its cases on every path without code at the call sites.
type ChangeObserver interface {
	// CasesChanged runs inside the transaction, after its history rows; it writes its own
	// tables through tx, and an error rolls the whole transaction back. It may run more than
	// once for one change when the transaction is retried (see InTx); tx.AfterCommit tells
	// it of the commit.
	CasesChanged(tx *store.Tx, changed []Changed) error
}

// WithChangeObserver makes the service tell o of every case change (see ChangeObserver).
// Given more than once, it tells each, in the order given.
func WithChangeObserver(o ChangeObserver) Option {
	return func(s *Service) { s.obs = append(s.obs, o) }
}

// changedSet collects a transaction's changed cases, each once, in the order first changed.
type changedSet struct{ list []Changed }

func (c *changedSet) add(k Case, before Status) {
	for _, x := range c.list {
		if x.ID == k.ID {
			return
		}
	}
	c.list = append(c.list, Changed{ID: k.ID, GuildID: k.GuildID, Type: k.Type, Child: k.Metadata[MetaParentCase] != "", Before: before, Case: k})
}

// unknown records that the transaction changed case id in a way that leaves its Current
// unknown.
func (c *changedSet) unknown(id int64) {
	for i := range c.list {
		if c.list[i].ID == id {
			c.list[i].Current = nil
		}
	}
}

// current records k as the case the transaction leaves, as its last change returned it.
func (c *changedSet) current(k Case) {
	for i := range c.list {
		if c.list[i].ID == k.ID {
			c.list[i].Current = &k
		}
	}
}

// observe tells the observer, inside the transaction, what it changed.
func (s *Service) observe(tx *store.Tx, c *changedSet) error {
	if len(c.list) == 0 {
		return nil
	}
	for _, o := range s.obs {
		if err := o.CasesChanged(tx, c.list); err != nil {
			return fmt.Errorf("observing the change of case id %d: %w", c.list[0].ID, err)
		}
	}
	return nil
}
