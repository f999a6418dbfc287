package store

import (
	"context"

	"github.com/gavelbot/gavel/internal/store/query"
)

// ClaimDueActions leases due scheduled actions. Two claimers never get the same action:
// PostgreSQL skips the rows another claim has locked (FOR UPDATE SKIP LOCKED), in one
// statement whose autocommit saves the BEGIN and COMMIT round trips; SQLite runs the claim
// in an immediate (write-locked) transaction, which already excludes every other writer.
func (s *Store) ClaimDueActions(ctx context.Context, p query.ClaimDueActionsParams) ([]query.ScheduledAction, error) {
	if s.Location.Engine == Postgres {
		return s.WriteQueries().ClaimDueActions(ctx, p)
	}
	var rows []query.ScheduledAction
	err := s.InTx(ctx, func(tx *Tx) error {
		var err error
		rows, err = tx.Queries().ClaimDueActions(ctx, p)
		return err
	})
	return rows, err
}

// ClaimDueActionsOfShards is ClaimDueActions limited to the guilds of some shards (the ones
// this process holds the leases of; ShardSet lists them as ",0,3,").
func (s *Store) ClaimDueActionsOfShards(ctx context.Context, p query.ClaimDueActionsOfShardsParams) ([]query.ScheduledAction, error) {
	if s.Location.Engine == Postgres {
		return s.WriteQueries().ClaimDueActionsOfShards(ctx, p)
	}
	var rows []query.ScheduledAction
	err := s.InTx(ctx, func(tx *Tx) error {
		var err error
		rows, err = tx.Queries().ClaimDueActionsOfShards(ctx, p)
		return err
	})
	return rows, err
}
