// Package sqlite is the store's SQLite engine: its migrations, its queries and the package
// sqlc generates from both (sqlitedb), served to the store as query.Queries.
package sqlite

import (
	"context"
	"crypto/md5"
	"embed"
	"encoding/hex"

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

// AddCasePoints is written here rather than in queries/escalation.sql, as two of the
// generated queries: sqlc's SQLite parser drops the names of RETURNING's columns. It reads
// what LockMemberPoints reads (the member's points without this row, bounded by lim) and
// then inserts the row (InsertCasePoints). No lock to take: SQLite's write transactions
// hold the whole database.
func (q *Queries) AddCasePoints(ctx context.Context, arg query.AddCasePointsParams) (query.AddCasePointsRow, error) {
	r, err := q.q.LockMemberPoints(ctx, sqlitedb.LockMemberPointsParams{GuildID: arg.GuildID, UserID: arg.UserID, Now: arg.Now, Lim: arg.Lim})
	if err != nil {
		return query.AddCasePointsRow{}, err
	}
	if err := q.q.InsertCasePoints(ctx, sqlitedb.InsertCasePointsParams{CaseID: arg.CaseID, GuildID: arg.GuildID, UserID: arg.UserID,
		Points: arg.Points, CountsUntil: arg.CountsUntil, CreatedAt: arg.CreatedAt}); err != nil {
		return query.AddCasePointsRow{}, err
	}
	return query.AddCasePointsRow{MemberPoints: r.Points, OpenResetBelow: r.OpenResetBelow, Exact: r.Exact}, nil
}

// AddCasePointsShared is AddCasePoints with the member's lock in share mode on PostgreSQL;
// the same here.
func (q *Queries) AddCasePointsShared(ctx context.Context, arg query.AddCasePointsSharedParams) (query.AddCasePointsSharedRow, error) {
	r, err := q.AddCasePoints(ctx, query.AddCasePointsParams(arg))
	return query.AddCasePointsSharedRow(r), err
}

// EscalationCaseAddingPoints is PostgreSQL's escalation_case_adding_points (migration 00029)
// in two of the generated queries: EscalationConfigAndCase, then, when the stored settings
// (by their md5) and case are those the caller computed the points from, the case's points
// row (InsertCasePoints). The member's points returned are those read before the row, as
// AddCasePoints returns them; no lock to take, so shared is 0. The metadata is compared as
// stored text (cases writes it as encoding/json does): a difference in spelling alone only
// makes the caller read and write in two steps. When it writes the row, it says the settings
// are the caller's (ConfigSame) instead of returning them, as PostgreSQL's does. The
// member's points are bounded by top alone (PostgreSQL's, read under the lock, by the
// highest open reset level too): the caller reads again when that does not settle them.
func (q *Queries) EscalationCaseAddingPoints(ctx context.Context, arg query.EscalationCaseAddingPointsParams) (query.EscalationCaseAddingPointsRow, error) {
	lim := max(arg.Top, 1)
	r, err := q.q.EscalationConfigAndCase(ctx, sqlitedb.EscalationConfigAndCaseParams{ID: arg.ID, Now: arg.Now, Lim: lim})
	if err != nil {
		return query.EscalationCaseAddingPointsRow{}, err
	}
	out := query.EscalationCaseAddingPointsRow{Config: r.Config, ID: r.ID, GuildID: r.GuildID, UserID: r.UserID, Number: r.Number,
		Type: r.Type, Status: r.Status, Reason: r.Reason, Metadata: r.Metadata, CreatedAt: r.CreatedAt, Points: r.Points,
		CountsUntil: r.CountsUntil, MemberPoints: r.MemberPoints, MemberExact: b2i(r.MemberPoints < lim), OpenResetBelow: r.OpenResetBelow}
	if r.Config == "" || r.Points >= 0 || r.Status != "active" || r.Type != arg.Type || r.Reason != arg.Reason ||
		r.Metadata != arg.Metadata || r.CreatedAt != arg.CreatedAt || arg.Points <= 0 || arg.CountsUntil <= arg.Now {
		return out, nil
	}
	if sum := md5.Sum([]byte(r.Config)); hex.EncodeToString(sum[:]) != arg.ConfigMd5 {
		return out, nil
	}
	if err := q.q.InsertCasePoints(ctx, sqlitedb.InsertCasePointsParams{CaseID: r.ID, GuildID: r.GuildID, UserID: r.UserID,
		Points: arg.Points, CountsUntil: arg.CountsUntil, CreatedAt: arg.Now}); err != nil {
		return query.EscalationCaseAddingPointsRow{}, err
	}
	out.Added, out.Points, out.CountsUntil = 1, arg.Points, arg.CountsUntil
	// As PostgreSQL's: the caller has the text it computed the md5 from.
	out.Config, out.ConfigSame = "", 1
	return out, nil
}

// b2i is SQLite's spelling of a boolean column: 1 or 0.
func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
