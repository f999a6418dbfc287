package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gavelbot/gavel/internal/store/query"
)

// ClaimModlog leases up to max due rows of the mod-log outbox to owner until leaseUntil
// (Unix milliseconds, as is now), oldest due first. Two claimers never get the same row:
// PostgreSQL skips the rows another claim has locked, SQLite runs the claim in an immediate
// (write-locked) transaction. The engine is the store's business, so the choice is made here.
func (s *Store) ClaimModlog(ctx context.Context, owner string, max int, leaseUntil, now int64) ([]query.ModlogOutbox, error) {
	p := query.ClaimModlogParams{Owner: sql.NullString{String: owner, Valid: true},
		LeaseUntil: sql.NullInt64{Int64: leaseUntil, Valid: true}, Now: now, MaxRows: int64(max)}
	var rows []query.ModlogOutbox
	var err error
	if s.Engine() == Postgres {
		// One statement is atomic on its own, and the row locks SKIP LOCKED honours last
		// until it commits.
		rows, err = s.WriteQueries().ClaimModlog(ctx, p)
	} else {
		err = s.InTx(ctx, func(tx *Tx) error {
			var err error
			rows, err = tx.Queries().ClaimModlog(ctx, p)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("claim mod-log deliveries: %w", err)
	}
	return rows, nil
}
