package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gavelbot/gavel/internal/store/query"
)

// InsertCases allocates the numbers and inserts the cases in one statement. The
// guild rows are locked in id order, so that concurrent batches cannot deadlock. Arrays
// rather than a VALUES list keep the statement text the same for every batch size, so each
// connection parses and plans it once.
func InsertCases(ctx context.Context, db query.DBTX, ns []query.NewCase, out []query.CaseKey) error {
	_, err := insertCases(ctx, db, ns, out, nil)
	return err
}

// Lease is a shard lease that the cases' process must hold for them to be written
// (InsertCasesLeased).
type Lease struct {
	Count, Shard int64
	Owner        string
	Epoch        int64
	// Now: the lease must not have run out by then (Unix milliseconds).
	Now int64
}

// InsertCasesLeased is InsertCases under a shard lease's fence, in the same one statement:
// the cases are inserted only if owner holds the lease at epoch, not run out by now, and
// the lease's row is locked (FOR SHARE) until the statement's transaction ends, so another
// process's claim of the lease waits for it (as the check of leases.Provider.Hold does in
// a transaction of its own). ok is false, and nothing is written, when the lease is not held.
func InsertCasesLeased(ctx context.Context, db query.DBTX, ns []query.NewCase, out []query.CaseKey, l Lease) (ok bool, err error) {
	return insertCases(ctx, db, ns, out, &l)
}

const casesInput = `SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[])
        WITH ORDINALITY AS t (guild_id, type, status, reason, moderator_id, user_id, role_ids, expires_at, metadata, created_at, source_event_id, ord)`

const casesInsert = `counts AS (SELECT guild_id, count(*) AS n, min(created_at) AS joined_at FROM input GROUP BY guild_id),
counters AS (
    INSERT INTO guilds (id, case_count, joined_at) SELECT guild_id, n, joined_at FROM counts ORDER BY guild_id
    ON CONFLICT (id) DO UPDATE SET case_count = guilds.case_count + excluded.case_count
    RETURNING id, case_count)
INSERT INTO cases (guild_id, number, type, status, reason, moderator_id, user_id, role_ids, expires_at, metadata, created_at, updated_at, source_event_id)
SELECT i.guild_id, g.case_count - c.n + row_number() OVER (PARTITION BY i.guild_id ORDER BY i.ord),
       i.type, i.status, i.reason, i.moderator_id, i.user_id, i.role_ids::jsonb, i.expires_at::bigint, i.metadata::jsonb, i.created_at, i.created_at, i.source_event_id
FROM input i JOIN counters g ON g.id = i.guild_id JOIN counts c ON c.guild_id = i.guild_id
ORDER BY i.ord
RETURNING id, guild_id, number`

// The statement with the lease's check: no input row passes unless the lease is held.
const casesInsertLeased = `WITH held AS (
    SELECT l.shard_id FROM shard_leases l
    WHERE l.shard_count = $12 AND l.shard_id = $13 AND l.owner = $14 AND l.epoch = $15 AND l.expires_at > $16
    FOR SHARE),
input AS (` + casesInput + ` WHERE EXISTS (SELECT 1 FROM held)),
` + casesInsert

func insertCases(ctx context.Context, db query.DBTX, ns []query.NewCase, out []query.CaseKey, lease *Lease) (bool, error) {
	var (
		guilds, moderators, users, created []int64
		types, statuses, reasons           []string
		roles, expiries, metadata          []*string
		sources                            []*int64
	)
	for _, n := range ns {
		guilds = append(guilds, n.GuildID)
		moderators = append(moderators, n.ModeratorID)
		users = append(users, n.UserID)
		created = append(created, n.CreatedAt)
		types = append(types, n.Type)
		statuses = append(statuses, n.Status)
		reasons = append(reasons, n.Reason)
		r, m := n.RoleIDs, n.Metadata
		roles = append(roles, &r)
		metadata = append(metadata, &m)
		var exp *string
		if n.ExpiresAt.Valid {
			e := strconv.FormatInt(n.ExpiresAt.Int64, 10)
			exp = &e
		}
		expiries = append(expiries, exp)
		var src *int64
		if n.SourceEventID.Valid {
			v := n.SourceEventID.Int64
			src = &v
		}
		sources = append(sources, src)
	}
	q := `WITH input AS (` + casesInput + `),
` + casesInsert
	args := []any{guilds, types, statuses, reasons, moderators, users, roles, expiries, metadata, created, sources}
	if lease != nil {
		q = casesInsertLeased
		args = append(args, lease.Count, lease.Shard, lease.Owner, lease.Epoch, lease.Now)
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return false, fmt.Errorf("insert cases: %w", err)
	}
	defer rows.Close()
	perGuild := map[int64][]query.CaseKey{}
	for rows.Next() {
		var k query.CaseKey
		var g int64
		if err := rows.Scan(&k.ID, &g, &k.Number); err != nil {
			return false, fmt.Errorf("insert cases: %w", err)
		}
		perGuild[g] = append(perGuild[g], k)
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("insert cases: %w", err)
	}
	if lease != nil && len(perGuild) == 0 && len(ns) > 0 {
		return false, nil // the lease is not held: nothing was written
	}
	// Within a guild, numbers follow the input order (row_number over ord): the k-th
	// smallest number belongs to the guild's k-th request.
	for g := range perGuild {
		slices.SortFunc(perGuild[g], func(a, b query.CaseKey) int { return cmp.Compare(a.Number, b.Number) })
	}
	for i, n := range ns {
		list := perGuild[n.GuildID]
		if len(list) == 0 {
			return false, fmt.Errorf("insert cases: no row returned for a case of guild %d", n.GuildID)
		}
		out[i] = list[0]
		perGuild[n.GuildID] = list[1:]
	}
	return true, nil
}

// Transient reports PostgreSQL's deadlock and serialization failures: errors that
// come from sharing a transaction (two batches in flight may lock rows in opposite orders)
// rather than from a member's own work.
func Transient(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001")
}

// Unreachable reports pgx's errors for a server that could not be connected to, and
// PostgreSQL's own codes for a connection the server ended (admin shutdown, crash,
// cannot connect now).
func Unreachable(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (strings.HasPrefix(pg.Code, "08") || pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03")
}
