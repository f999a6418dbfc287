package sqlite

import (
	"context"
	"database/sql"

	"github.com/gavelbot/gavel/internal/store/query"
)

// The two statements of every command's finalizing transaction that PostgreSQL runs with
// RETURNING are written here without it. SQLite builds a RETURNING's rows in an ephemeral
// table it opens (a B-tree with its own pager) and fills through a trigger program, for every
// run of the statement; an update followed by a read of the row, or an insert whose row the
// caller already knows, costs less (docs/benchmarks.md, issue 11, session 10).

const activatePendingCase = `UPDATE cases SET status = 'active', updated_at = ?1 WHERE id = ?2 AND status = 'pending'`

// ActivatePendingCase makes a pending case active in one statement that also stands for the
// row lock (it matches only while the case is still pending, so the caller knows the old
// value its history row needs), then reads the case as the transaction now holds it:
// sql.ErrNoRows when it was not pending.
func (q *Queries) ActivatePendingCase(ctx context.Context, arg query.ActivatePendingCaseParams) (query.Case, error) {
	res, err := q.db.ExecContext(ctx, activatePendingCase, arg.UpdatedAt, arg.ID)
	if err != nil {
		return query.Case{}, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return query.Case{}, err
	} else if n == 0 {
		return query.Case{}, sql.ErrNoRows
	}
	return q.GetCaseByID(ctx, arg.ID)
}

const (
	// insertModlog writes a case's row when it has none: the common case, a case's first
	// change since its last delivery.
	insertModlog = `INSERT INTO modlog_outbox (case_id, guild_id, generation, run_at, attempts, lease_owner, lease_until, created_at, updated_at)
VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?3, ?3) ON CONFLICT (case_id) DO NOTHING`
	// joinModlog is for a case whose row waits: see EnqueueModlog.
	joinModlog = `INSERT INTO modlog_outbox (case_id, guild_id, generation, run_at, attempts, lease_owner, lease_until, created_at, updated_at)
VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?3, ?3)
ON CONFLICT (case_id) DO UPDATE SET generation = modlog_outbox.generation + 1, run_at = excluded.run_at,
    updated_at = excluded.updated_at
RETURNING case_id, guild_id, generation, run_at, attempts, lease_owner, lease_until, last_error, created_at, updated_at`
)

// EnqueueModlog queues a case's mod-log delivery: one row per case. A change while a row
// waits bumps its generation and makes it due now; the attempts so far and any lease stay,
// so an outage's backoff keeps growing and a delivery under way is not taken from its
// holder. A new row may be written already leased (owner and lease_until set, attempts 1, as
// a claim leaves it) to the process whose worker will deliver it, so that no claim is needed;
// its lease ending hands it to any claimer, as a claimed row's does. The row is returned:
// generation 1 means it is new. A new row is what the parameters say, so it is inserted
// without RETURNING; only a row that waits is upserted and read back.
func (q *Queries) EnqueueModlog(ctx context.Context, arg query.EnqueueModlogParams) (query.ModlogOutbox, error) {
	res, err := q.db.ExecContext(ctx, insertModlog, arg.CaseID, arg.GuildID, arg.Now, arg.Attempts, arg.Owner, arg.LeaseUntil)
	if err != nil {
		return query.ModlogOutbox{}, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return query.ModlogOutbox{}, err
	} else if n == 1 {
		return query.ModlogOutbox{CaseID: arg.CaseID, GuildID: arg.GuildID, Generation: 1, RunAt: arg.Now, Attempts: arg.Attempts,
			LeaseOwner: arg.Owner, LeaseUntil: arg.LeaseUntil, CreatedAt: arg.Now, UpdatedAt: arg.Now}, nil
	}
	var r query.ModlogOutbox
	err = q.db.QueryRowContext(ctx, joinModlog, arg.CaseID, arg.GuildID, arg.Now, arg.Attempts, arg.Owner, arg.LeaseUntil).Scan(
		&r.CaseID, &r.GuildID, &r.Generation, &r.RunAt, &r.Attempts, &r.LeaseOwner, &r.LeaseUntil, &r.LastError, &r.CreatedAt, &r.UpdatedAt)
	return r, err
}
