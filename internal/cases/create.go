package cases

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/store"
)

// New is what a case is created from.
type New struct {
	GuildID     discord.GuildID
	UserID      discord.UserID
	ModeratorID discord.UserID
	Type        Type
	// Status is Active when empty. Pending records a case before its Discord action.
	Status    Status
	Reason    string
	RoleIDs   []discord.RoleID
	ExpiresAt time.Time
	Metadata  map[string]string
	// SourceEvent is the command's event the case is made from (its message or
	// interaction); zero when no event made it. A guild has at most one case per event:
	// Create fails with an error store.DuplicateEvent recognises for a second one.
	SourceEvent discord.EventID
}

func (n *New) check() error {
	if err := checkID("guild", n.GuildID); err != nil {
		return err
	}
	if err := checkID("user", n.UserID); err != nil {
		return err
	}
	if err := checkID("moderator", n.ModeratorID); err != nil {
		return err
	}
	if !n.Type.Valid() {
		return input.Invalid("type", fmt.Sprintf("%q is not a case type; accepted: %s", n.Type, typeList()))
	}
	switch n.Status {
	case "":
		n.Status = Active
	case Pending, Active:
	default:
		return input.Invalid("status", fmt.Sprintf("a new case cannot be %q; accepted: pending, active", n.Status))
	}
	if err := checkReason("reason", n.Reason); err != nil {
		return err
	}
	if len(n.RoleIDs) > MaxRoleIDs {
		return input.Invalid("roles", fmt.Sprintf("%d roles; at most %d are accepted", len(n.RoleIDs), MaxRoleIDs))
	}
	for _, r := range n.RoleIDs {
		if err := checkID("role", r); err != nil {
			return err
		}
	}
	return checkMetadata(n.Metadata)
}

// Create records a case, allocating the guild's next number in the same transaction. Calls
// that arrive together are committed together (the store's group commit), which is what lets
// many moderators, or several processes, record cases at the rate of bare inserts; numbers
// stay dense and unique per guild across processes.
func (s *Service) Create(ctx context.Context, n New) (Case, error) {
	if err := n.check(); err != nil {
		return Case{}, err
	}
	row := n.row(s.nowMS())
	if len(s.obs) > 0 && n.Status == Active {
		// The observer hears of it in the creating transaction: a case of its own.
		out, err := s.createObserved(ctx, []*New{&n}, []store.NewCase{row})
		if err != nil {
			return Case{}, err
		}
		return out[0], nil
	}
	k, err := s.st.CreateCase(ctx, row)
	if err != nil {
		return Case{}, err
	}
	return n.created(row, k), nil
}

// createObserved inserts the cases in one transaction and tells the observer, in it, of
// those created active (a pending case is news once it is settled). The observer (escalation)
// locks the member's points, which two writes at once can deadlock on PostgreSQL
// (docs/escalation.md): the write PostgreSQL ends is run again, not lost.
func (s *Service) createObserved(ctx context.Context, ns []*New, rows []store.NewCase) ([]Case, error) {
	var keys []store.CaseKey
	err := s.st.InTxRetrying(ctx, func(tx *store.Tx) error {
		var err error
		if keys, err = tx.InsertCases(rows); err != nil {
			return err
		}
		var ch changedSet
		for i, n := range ns {
			if n.Status == Active {
				ch.add(n.created(rows[i], keys[i]), "")
			}
		}
		return s.observe(tx, &ch)
	})
	if err != nil {
		return nil, err
	}
	out := make([]Case, len(ns))
	for i, n := range ns {
		out[i] = n.created(rows[i], keys[i])
	}
	return out, nil
}

// CreateMany records all the cases in one transaction, or none of them. Each guild's cases
// get consecutive numbers in the order given.
func (s *Service) CreateMany(ctx context.Context, ns []New) ([]Case, error) {
	if len(ns) == 0 {
		return nil, nil
	}
	rows := make([]store.NewCase, len(ns))
	now := s.nowMS()
	for i := range ns {
		if err := ns[i].check(); err != nil {
			return nil, fmt.Errorf("case %d of %d: %w", i+1, len(ns), err)
		}
		rows[i] = ns[i].row(now)
	}
	ptrs := make([]*New, len(ns))
	for i := range ns {
		ptrs[i] = &ns[i]
	}
	out, err := s.createObserved(ctx, ptrs, rows)
	if err != nil {
		return nil, fmt.Errorf("create %d cases: %w", len(ns), err)
	}
	return out, nil
}

// row is the checked case as the store inserts it.
func (n *New) row(nowMS int64) store.NewCase {
	return store.NewCase{GuildID: int64(n.GuildID), UserID: int64(n.UserID), ModeratorID: int64(n.ModeratorID), Type: string(n.Type),
		Status: string(n.Status), Reason: n.Reason, RoleIDs: roleJSON(n.RoleIDs), Metadata: metadataJSON(n.Metadata),
		ExpiresAt: nullMS(n.ExpiresAt), CreatedAt: nowMS,
		SourceEventID: sql.NullInt64{Int64: int64(n.SourceEvent), Valid: n.SourceEvent > 0}}
}

// created is the case the store recorded from n.
func (n *New) created(row store.NewCase, k store.CaseKey) Case {
	c := Case{ID: k.ID, Number: k.Number, GuildID: n.GuildID, Type: n.Type, Status: n.Status, Reason: n.Reason,
		ModeratorID: n.ModeratorID, UserID: n.UserID, RoleIDs: n.RoleIDs, Metadata: n.Metadata,
		CreatedAt: time.UnixMilli(row.CreatedAt).UTC(), UpdatedAt: time.UnixMilli(row.CreatedAt).UTC()}
	if !n.ExpiresAt.IsZero() {
		c.ExpiresAt = time.UnixMilli(n.ExpiresAt.UnixMilli()).UTC()
	}
	if len(c.Metadata) == 0 {
		c.Metadata = nil
	}
	return c
}
