package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/gavelbot/gavel/internal/store/query"
)

// CaseFilter selects cases; every set field must match (an AND). The zero filter matches all.
type CaseFilter struct {
	GuildID, UserID, ModeratorID int64
	// Types matches any of the listed types.
	Types  []string
	Status string
	// ReasonWords: the reason contains every word. PostgreSQL matches whole words with its
	// full-text index; SQLite matches substrings (ASCII case-insensitively) with LIKE, over
	// the cases its trigram index names when the words are rare, and otherwise by reading
	// the guild's cases newest first (see reasonCandidates). Words must hold only letters
	// and digits.
	ReasonWords []string
	// MetaKey and MetaValue: the metadata has MetaKey set to MetaValue. The key must be of
	// a-z, A-Z, 0-9, _ and -.
	MetaKey, MetaValue string
	// AuditLogEntry: the metadata's audit_log_entry_id is this, through its unique index.
	AuditLogEntry string
	// RoleID: the saved roles include it.
	RoleID int64
	// CreatedBefore, in Unix milliseconds, when not 0.
	CreatedBefore int64
	// CreatedFrom: created at or after, in Unix milliseconds, when not 0.
	CreatedFrom int64
	// NumberBelow: the case number is below it, when not 0 — the keyset of a guild's
	// listing by number, highest first, which the (guild_id, number) index answers at any
	// depth, where an OFFSET would read every row it skips.
	NumberBelow int64
}

// CaseOrder is the order of a listing.
type CaseOrder int

const (
	// NewestFirst orders by id, newest first.
	NewestFirst CaseOrder = iota
	// HighestNumberFirst orders by number, highest first: within one guild, through the
	// (guild_id, number) index.
	HighestNumberFirst
	// OldestFirst orders by id, oldest first.
	OldestFirst
)

// caseColumns is the column order of query.Case.
const caseColumns = "id, guild_id, number, type, status, processed, reason, moderator_id, user_id, role_ids, expires_at, metadata, modlog_message_id, created_at, updated_at, modlog_channel_id, source_event_id"

// LatestCase returns the newest case matching f, and false when there is none. Its
// statement is kept prepared: use it for filters of a few shapes, not ones built per user.
func (s *Store) LatestCase(ctx context.Context, f CaseFilter) (query.Case, bool, error) {
	w, err := s.where(ctx, f)
	if err != nil {
		return query.Case{}, false, err
	}
	got, err := queryCases(ctx, s.ReadDB(), "SELECT "+caseColumns+" FROM "+w.from()+w.sql()+" ORDER BY id DESC LIMIT 1", w.args...)
	if err != nil || len(got) == 0 {
		return query.Case{}, false, err
	}
	return got[0], true, nil
}

// CountCases counts the cases matching f. On SQLite it reads through the pool that maps
// the file (see openSQLite): a filter may read most of a guild's cases.
func (s *Store) CountCases(ctx context.Context, f CaseFilter) (int64, error) {
	w, err := s.where(ctx, f)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.scan.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+w.from()+w.sql(), w.args...).Scan(&n)
	return n, err
}

// ListCases returns at most limit cases matching f in order o, after skipping offset. On
// SQLite it reads through the pool that maps the file, as CountCases does.
func (s *Store) ListCases(ctx context.Context, f CaseFilter, o CaseOrder, limit, offset int) ([]query.Case, error) {
	w, err := s.where(ctx, f)
	if err != nil {
		return nil, err
	}
	order := map[CaseOrder]string{NewestFirst: "id DESC", HighestNumberFirst: "number DESC", OldestFirst: "id"}[o]
	if o == HighestNumberFirst && f.UserID != 0 && s.Location.Engine == SQLite {
		// A member's cases by number: without statistics SQLite walks the guild's
		// (guild_id, number) index to skip the sort and tests every case's user, which for a
		// member with a few hundred cases of a million reads a quarter of the guild (1.5 s,
		// docs/benchmarks.md "Case browser"). The + keeps that index out of the ORDER BY, so
		// the (guild_id, user_id, id) index finds the member's cases and they are sorted.
		order = "+number DESC"
	}
	n := len(w.args)
	q := fmt.Sprintf("SELECT %s FROM %s%s ORDER BY %s LIMIT $%d OFFSET $%d", caseColumns, w.from(), w.sql(), order, n+1, n+2)
	return queryCases(ctx, s.scan, q, append(w.args, limit, offset)...)
}

// CaseEventsOf returns the history of the given cases, by case and then oldest first.
func (s *Store) CaseEventsOf(ctx context.Context, caseIDs []int64) ([]query.CaseEvent, error) {
	var w where
	args := make([]any, len(caseIDs))
	for i, id := range caseIDs {
		args[i] = id
	}
	w.in("case_id", args)
	rows, err := s.read.QueryContext(ctx, "SELECT id, case_id, guild_id, kind, actor_id, old_value, new_value, note, created_at FROM case_events"+w.sql()+" ORDER BY case_id, id", w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []query.CaseEvent
	for rows.Next() {
		var r query.CaseEvent
		if err := rows.Scan(&r.ID, &r.CaseID, &r.GuildID, &r.Kind, &r.ActorID, &r.OldValue, &r.NewValue, &r.Note, &r.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *Store) where(ctx context.Context, f CaseFilter) (where, error) {
	var w where
	if f.GuildID != 0 {
		w.add("guild_id = ?", f.GuildID)
	}
	if f.UserID != 0 {
		w.add("user_id = ?", f.UserID)
	}
	if f.ModeratorID != 0 {
		w.add("moderator_id = ?", f.ModeratorID)
	}
	if len(f.Types) > 0 {
		args := make([]any, len(f.Types))
		for i, t := range f.Types {
			args[i] = t
		}
		w.in("type", args)
	}
	if f.Status != "" {
		w.status(f.Status)
	}
	if len(f.ReasonWords) > 0 {
		if s.Location.Engine == Postgres {
			w.add("to_tsvector('simple', reason) @@ plainto_tsquery('simple', ?)", strings.Join(f.ReasonWords, " "))
		} else {
			match, err := s.reasonCandidates(ctx, f.ReasonWords)
			if err != nil {
				return where{}, err
			}
			if match != "" {
				w.fromTrigrams(match)
			}
			// Words hold only letters and digits, so no LIKE wildcard can come from the user.
			// LIKE decides even over the index's candidates, so both ways answer the same.
			for _, word := range f.ReasonWords {
				w.add("reason LIKE ?", "%"+word+"%")
			}
		}
	}
	if f.MetaKey != "" {
		if s.Location.Engine == Postgres {
			w.add("metadata @> jsonb_build_object(CAST(? AS TEXT), CAST(? AS TEXT))", f.MetaKey, f.MetaValue)
		} else {
			w.add("json_extract(metadata, ?) = ?", `$."`+f.MetaKey+`"`, f.MetaValue)
		}
	}
	if f.AuditLogEntry != "" {
		// The expression is the unique index's, so the index answers.
		w.add("metadata ->> 'audit_log_entry_id' = ?", f.AuditLogEntry)
	}
	if f.RoleID != 0 {
		role := strconv.FormatInt(f.RoleID, 10)
		if s.Location.Engine == Postgres {
			w.add("role_ids @> jsonb_build_array(CAST(? AS TEXT))", role)
		} else {
			w.add("EXISTS (SELECT 1 FROM json_each(cases.role_ids) WHERE json_each.value = ?)", role)
		}
	}
	if f.CreatedBefore != 0 {
		w.add("created_at < ?", f.CreatedBefore)
	}
	if f.CreatedFrom != 0 {
		w.add("created_at >= ?", f.CreatedFrom)
	}
	if f.NumberBelow != 0 {
		w.add("number < ?", f.NumberBelow)
	}
	return w, nil
}

// trigramCandidateLimit is how many cases the trigram index may name for SQLite's reason
// search to read them rather than the guild: reading a few thousand cases by id and
// sorting them is a few milliseconds, and a word held by more cases than that is common
// enough that reading the guild newest first meets a page of matches soon.
const trigramCandidateLimit = 4096

// reasonCandidates returns the trigram index's query for words (every trigram of every
// word, each quoted: words hold only letters and digits, so nothing of the user's is read
// as query syntax) when the index names fewer than trigramCandidateLimit cases for it, and
// "" when the search should read the guild instead: the words are common, or none has
// three letters, which is the least a trigram index can look up. The index folds case and
// keeps no positions, so its candidates include every case whose reason holds the words
// and maybe some that do not; the LIKE conditions decide.
func (s *Store) reasonCandidates(ctx context.Context, words []string) (string, error) {
	seen := map[string]bool{}
	var terms []string
	for _, word := range words {
		r := []rune(word)
		for i := 0; i+3 <= len(r); i++ {
			t := string(r[i : i+3])
			if !seen[t] {
				seen[t] = true
				terms = append(terms, `"`+t+`"`)
			}
		}
	}
	if len(terms) == 0 {
		return "", nil
	}
	match := strings.Join(terms, " AND ")
	limit := trigramCandidateLimit
	if s.trigramLimit != 0 {
		limit = s.trigramLimit
	}
	var n int
	err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM (SELECT 1 FROM cases_reason_trigrams WHERE cases_reason_trigrams MATCH $1 LIMIT $2)",
		match, limit).Scan(&n)
	if err != nil {
		return "", fmt.Errorf("count the reason index's candidates: %w", err)
	}
	if n >= limit {
		return "", nil
	}
	return match, nil
}

func queryCases(ctx context.Context, db query.DBTX, q string, args ...any) ([]query.Case, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []query.Case
	for rows.Next() {
		var r query.Case
		if err := rows.Scan(&r.ID, &r.GuildID, &r.Number, &r.Type, &r.Status, &r.Processed, &r.Reason,
			&r.ModeratorID, &r.UserID, &r.RoleIds, &r.ExpiresAt, &r.Metadata, &r.ModlogMessageID,
			&r.CreatedAt, &r.UpdatedAt, &r.ModlogChannelID, &r.SourceEventID); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// where collects AND-ed conditions written with ? and numbers them $1, $2, … — the one
// placeholder form both PostgreSQL and SQLite accept.
type where struct {
	conds []string
	args  []any
	// trigrams: the cases are read from the trigram index's candidates for this match
	// (SQLite) instead of from the table's indexes.
	trigrams string
}

// fromTrigrams makes the query read, by id, the cases the trigram index names for match
// and the few newest ones it does not hold yet (above its mark, indexed in batches: see
// migration 00011): the CROSS JOIN keeps SQLite from reading the guild's cases by an index
// of the table and testing each against the candidates, which is the scan the index is
// there to avoid.
func (w *where) fromTrigrams(match string) {
	w.args = append(w.args, match)
	w.trigrams = "(SELECT rowid AS trigram_case FROM cases_reason_trigrams WHERE cases_reason_trigrams MATCH $" +
		strconv.Itoa(len(w.args)) + " UNION ALL SELECT id FROM cases WHERE id > (SELECT upto FROM cases_reason_trigrams_upto))" +
		" CROSS JOIN cases ON cases.id = trigram_case"
}

// from is the query's FROM clause.
func (w *where) from() string {
	if w.trigrams != "" {
		return w.trigrams
	}
	return "cases"
}

func (w *where) add(cond string, args ...any) {
	var b strings.Builder
	for _, r := range cond {
		if r == '?' {
			w.args = append(w.args, args[0])
			args = args[1:]
			b.WriteString("$" + strconv.Itoa(len(w.args)))
			continue
		}
		b.WriteRune(r)
	}
	w.conds = append(w.conds, b.String())
}

// status adds "status = '<st>'" with the value written into the text, not bound: SQLite
// proves that a query may use a partial index (cases_pending, cases_due: WHERE status = …)
// from a bound parameter's value, and then re-prepares the statement every time a value is
// bound, which would undo the statement cache. Only the three known statuses are written;
// anything else matches nothing.
func (w *where) status(st string) {
	switch st {
	case "pending", "active", "voided":
		w.conds = append(w.conds, "status = '"+st+"'")
	default:
		w.conds = append(w.conds, "FALSE")
	}
}

func (w *where) in(col string, vals []any) {
	marks := make([]string, len(vals))
	for i := range vals {
		marks[i] = "?"
	}
	w.add(col+" IN ("+strings.Join(marks, ", ")+")", vals...)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
