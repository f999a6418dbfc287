// Package sqlite is the store's SQLite engine: its migrations, its queries and the package
// sqlc generates from both (sqlitedb), served to the store as query.Queries.
package sqlite

import (
	"context"
	"embed"

	"github.com/gavelbot/gavel/internal/store/query"
	"github.com/gavelbot/gavel/internal/store/sqlite/sqlitedb"
)

// Migrations are SQLite's goose migrations, in lockstep with PostgreSQL's (same versions,
// same tables and columns).
//
//go:embed migrations/*.sql
var Migrations embed.FS

// Queries runs gavel's queries on SQLite.
type Queries struct {
	q  *sqlitedb.Queries
	db query.DBTX
}

var _ query.Queries = (*Queries)(nil)

// New runs the queries on db.
func New(db query.DBTX) *Queries { return &Queries{q: sqlitedb.New(db), db: db} }

// claimAutomodKey is written here rather than in queries/automod.sql: sqlc's SQLite parser
// drops the parameters of an upsert's WHERE clause.
const claimAutomodKey = `INSERT INTO automod_seen (guild_id, dedupe_key, seen_at) VALUES (?1, ?2, ?3)
ON CONFLICT (guild_id, dedupe_key) DO UPDATE SET seen_at = excluded.seen_at, case_id = NULL
WHERE automod_seen.seen_at < ?4`

// ClaimAutomodKey claims a key: 1 row when it was new, or when it was last claimed before
// stale_before; 0 when it is taken.
func (q *Queries) ClaimAutomodKey(ctx context.Context, arg query.ClaimAutomodKeyParams) (int64, error) {
	res, err := q.db.ExecContext(ctx, claimAutomodKey, arg.GuildID, arg.DedupeKey, arg.SeenAt, arg.StaleBefore)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
