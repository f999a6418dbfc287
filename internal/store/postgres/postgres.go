// Package postgres is the store's PostgreSQL engine: its migrations, its queries and the
// package sqlc generates from both (pgdb), served to the store as query.Queries.
package postgres

import (
	"embed"

	"github.com/gavelbot/gavel/internal/store/postgres/pgdb"
	"github.com/gavelbot/gavel/internal/store/query"
)

// Migrations are PostgreSQL's goose migrations, in lockstep with SQLite's (same versions,
// same tables and columns).
//
//go:embed migrations/*.sql
var Migrations embed.FS

// Queries runs gavel's queries on PostgreSQL.
type Queries struct{ q *pgdb.Queries }

var _ query.Queries = (*Queries)(nil)

// New runs the queries on db.
func New(db query.DBTX) *Queries { return &Queries{q: pgdb.New(db)} }
