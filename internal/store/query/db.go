// Package query is what the domain packages see of the database: the queries gavel runs
// (Queries) and their rows and parameters, the same Go shapes on both engines. Each engine
// (internal/store/sqlite, internal/store/postgres) implements Queries over the package sqlc
// generates from its own queries and migrations; the store hands the domain a Queries for its
// reading pool and one per unit of work (store.Tx.Queries).
//
// types.go, queries.go and the engines' queries.go are written by ./gen (go generate
// ./internal/store/query/) from the sqlc output; .ci/sqlc-check fails when they are stale.
package query

import (
	"context"
	"database/sql"
)

//go:generate go run ./gen ..

// DBTX is what a generated package runs its statements on: a pool, a transaction, or the
// store's statement cache over either.
type DBTX interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
	PrepareContext(context.Context, string) (*sql.Stmt, error)
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}
