package sqlite

import (
	"context"
	"fmt"
	"slices"

	"github.com/gavelbot/gavel/internal/store/query"
)

// The statements of a case insert have no RETURNING clause: SQLite builds a RETURNING's
// rows in an ephemeral table it opens (a B-tree and its pager) and fills through a trigger
// program for every statement run, which cost more than the statements that replace it
// (docs/benchmarks.md, issue 11, session 10). The counter is read with a SELECT of its row,
// and a case's id is the connection's last insert rowid (the history trigger's insert
// does not change it once the trigger has run).
const (
	sqliteBumpGuild = `UPDATE guilds SET case_count = case_count + ? WHERE id = ?`
	sqliteAddGuild  = `INSERT INTO guilds (id, case_count, joined_at) VALUES (?, ?, ?)
ON CONFLICT (id) DO UPDATE SET case_count = guilds.case_count + excluded.case_count`
	sqliteGuildCount = `SELECT case_count FROM guilds WHERE id = ?`
	sqliteInsertCase = `INSERT INTO cases (guild_id, number, type, status, reason, moderator_id, user_id, role_ids, expires_at, metadata, created_at, updated_at, source_event_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqliteReasonsIndexedUpTo = `SELECT upto FROM cases_reason_trigrams_upto`
	sqliteIndexReasons       = `INSERT INTO cases_reason_trigrams (rowid, reason) SELECT id, reason FROM cases WHERE id > ? AND id <= ? ORDER BY id`
	sqliteMarkReasonsIndexed = `UPDATE cases_reason_trigrams_upto SET upto = ?`
)

// ReasonIndexLag is how many new cases wait for the reason trigram index before case
// creation indexes them in one go: FTS5 writes a segment per transaction that touches it,
// so one per batch of this many instead of one per commit. The search reads those cases
// by id, which for this many is a millisecond (migration 00011).
const ReasonIndexLag = 1024

// IndexReasons puts the reasons of the cases above the index's mark, up to id upTo, in
// the reason trigram index and moves the mark, inside db's transaction. It returns how many
// it indexed.
func IndexReasons(ctx context.Context, db query.DBTX, upTo int64) (int64, error) {
	var mark int64
	if err := db.QueryRowContext(ctx, sqliteReasonsIndexedUpTo).Scan(&mark); err != nil {
		return 0, fmt.Errorf("read the reason index's mark: %w", err)
	}
	if upTo <= mark {
		return 0, nil
	}
	res, err := db.ExecContext(ctx, sqliteIndexReasons, mark, upTo)
	if err != nil {
		return 0, fmt.Errorf("index the reasons of cases %d to %d: %w", mark+1, upTo, err)
	}
	if _, err := db.ExecContext(ctx, sqliteMarkReasonsIndexed, upTo); err != nil {
		return 0, fmt.Errorf("move the reason index's mark: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// InsertCases allocates numbers for ns and inserts them, writing each one's key to out. It
// runs the guild's counter update and read once per guild and the case insert once per row,
// all kept prepared by the statement cache. SQLite has no round trips, and a prepared
// statement skips the parser, which is where a growing multi-row statement spends its time.
//
// known is a mark the reason index is known to have reached (the mark only moves up), 0
// when none is; while the cases inserted stay within ReasonIndexLag of it the mark is not
// read at all. It returns the mark known once the transaction commits, to pass to the next
// call: at most one read of it per ReasonIndexLag cases instead of one per transaction.
func InsertCases(ctx context.Context, db query.DBTX, ns []query.NewCase, out []query.CaseKey, known int64) (int64, error) {
	if err := insertCases(ctx, db, ns, out); err != nil {
		return known, err
	}
	if len(out) == 0 {
		return known, nil
	}
	// The reason index follows in batches (ReasonIndexLag); the mark is read on the one
	// writer, so every case up to the last id inserted here is committed or in this
	// transaction.
	last := out[len(out)-1].ID
	if last-known < ReasonIndexLag {
		return known, nil
	}
	var mark int64
	if err := db.QueryRowContext(ctx, sqliteReasonsIndexedUpTo).Scan(&mark); err != nil {
		return known, fmt.Errorf("read the reason index's mark: %w", err)
	}
	if last-mark >= ReasonIndexLag {
		if _, err := IndexReasons(ctx, db, last); err != nil {
			return known, err
		}
		mark = last
	}
	return max(mark, known), nil
}

func insertCases(ctx context.Context, db query.DBTX, ns []query.NewCase, out []query.CaseKey) error {
	perGuild := map[int64]int64{}
	joined := map[int64]int64{}
	for _, n := range ns {
		perGuild[n.GuildID]++
		if j, ok := joined[n.GuildID]; !ok || n.CreatedAt < j {
			joined[n.GuildID] = n.CreatedAt
		}
	}
	guilds := make([]int64, 0, len(perGuild))
	for g := range perGuild {
		guilds = append(guilds, g)
	}
	slices.Sort(guilds)
	next := make(map[int64]int64, len(guilds))
	for _, g := range guilds {
		count, err := allocateNumbers(ctx, db, g, perGuild[g], joined[g])
		if err != nil {
			return fmt.Errorf("allocate case numbers in guild %d: %w", g, err)
		}
		next[g] = count - perGuild[g] + 1
	}
	for i, n := range ns {
		num := next[n.GuildID]
		next[n.GuildID] = num + 1
		res, err := db.ExecContext(ctx, sqliteInsertCase, n.GuildID, num, n.Type, n.Status, n.Reason, n.ModeratorID,
			n.UserID, n.RoleIDs, n.ExpiresAt, n.Metadata, n.CreatedAt, n.CreatedAt, n.SourceEventID)
		if err != nil {
			return fmt.Errorf("insert case #%d of guild %d: %w", num, n.GuildID, err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("insert case #%d of guild %d: %w", num, n.GuildID, err)
		}
		out[i] = query.CaseKey{ID: id, Number: num}
	}
	return nil
}

// allocateNumbers adds k to the guild's case counter, creating its row (joined at joined)
// the first time, and returns the counter's new value: the guild's last number.
func allocateNumbers(ctx context.Context, db query.DBTX, guildID, k, joined int64) (int64, error) {
	res, err := db.ExecContext(ctx, sqliteBumpGuild, k, guildID)
	if err != nil {
		return 0, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, err
	} else if n == 0 {
		if _, err := db.ExecContext(ctx, sqliteAddGuild, guildID, k, joined); err != nil {
			return 0, err
		}
	}
	var count int64
	if err := db.QueryRowContext(ctx, sqliteGuildCount, guildID).Scan(&count); err != nil {
		return 0, err
	}
	return count, nil
}
