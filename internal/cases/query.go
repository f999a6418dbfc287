package cases

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/dbsqlc"
)

// caseColumns is the column order of dbsqlc.Case, for the queries that are built at run time
// (optional filters, IN lists) or differ per engine (search, JSON containment).
const caseColumns = "id, guild_id, number, type, status, processed, reason, moderator_id, user_id, role_ids, expires_at, metadata, modlog_message_id, created_at, updated_at"

// Filter selects cases; every set field must match (an AND). The zero Filter matches all.
type Filter struct {
	GuildID     int64
	UserID      int64
	ModeratorID int64
	// Types matches any of the listed types.
	Types  []Type
	Status Status
}

func (f Filter) check() error {
	for _, c := range []struct {
		name string
		id   int64
	}{{"guild", f.GuildID}, {"user", f.UserID}, {"moderator", f.ModeratorID}} {
		if c.id < 0 {
			return checkID(c.name, c.id)
		}
	}
	if err := checkTypes(f.Types); err != nil {
		return err
	}
	if f.Status != "" {
		if _, err := ParseStatus(string(f.Status)); err != nil {
			return err
		}
	}
	return nil
}

func (f Filter) where() where {
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
		w.in("type", f.Types)
	}
	if f.Status != "" {
		w.status(f.Status)
	}
	return w
}

// PageRequest asks for one page of a listing; pages start at 1.
type PageRequest struct {
	Page    int
	PerPage int
}

func (p PageRequest) check() error {
	if p.Page < 1 {
		return input.Invalid("page", fmt.Sprintf("%d is not a page; pages start at 1", p.Page))
	}
	if p.PerPage < 1 || p.PerPage > MaxPerPage {
		return input.Invalid("per page", fmt.Sprintf("%d is out of range; accepted: 1 to %d", p.PerPage, MaxPerPage))
	}
	return nil
}

// Page is one page of cases, newest first, with the size of the whole listing.
type Page struct {
	Cases   []Case
	Total   int64
	Page    int
	PerPage int
	Pages   int
}

// List returns one page of the cases matching f, newest first.
func (s *Service) List(ctx context.Context, f Filter, p PageRequest) (Page, error) {
	if err := f.check(); err != nil {
		return Page{}, err
	}
	return s.page(ctx, f.where(), f.GuildID != 0, p, "list cases")
}

// Search returns one page of the cases (of a guild, when guildID is not 0) whose reason
// contains every word of text. PostgreSQL matches whole words with its full-text index;
// SQLite matches substrings (ASCII case-insensitively) by scanning the guild's cases — an
// FTS5 index there cost a third of the case-creation rate, and a moderator's search over
// one guild's cases is a scan SQLite does in milliseconds.
func (s *Service) Search(ctx context.Context, guildID int64, text string, p PageRequest) (Page, error) {
	if guildID < 0 {
		return Page{}, checkID("guild", guildID)
	}
	if len(text) > MaxSearchTextBytes {
		return Page{}, input.Invalid("search", fmt.Sprintf("is %d bytes long; at most %d are accepted", len(text), MaxSearchTextBytes))
	}
	words := strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
	if len(words) == 0 {
		return Page{}, input.Invalid("search", "has no words to look for; give at least one word of letters or digits")
	}
	var w where
	if guildID != 0 {
		w.add("guild_id = ?", guildID)
	}
	if s.st.Engine() == store.Postgres {
		w.add("to_tsvector('simple', reason) @@ plainto_tsquery('simple', ?)", strings.Join(words, " "))
	} else {
		// Words hold only letters and digits, so no LIKE wildcard can come from the user.
		for _, word := range words {
			w.add("reason LIKE ?", "%"+word+"%")
		}
	}
	return s.page(ctx, w, guildID != 0, p, "search cases")
}

// WithMetadata returns one page of a guild's cases whose metadata has key set to value.
func (s *Service) WithMetadata(ctx context.Context, guildID int64, key, value string, p PageRequest) (Page, error) {
	if err := checkID("guild", guildID); err != nil {
		return Page{}, err
	}
	if err := checkMetadataKey(key); err != nil {
		return Page{}, err
	}
	var w where
	w.add("guild_id = ?", guildID)
	if s.st.Engine() == store.Postgres {
		w.add("metadata @> jsonb_build_object(CAST(? AS TEXT), CAST(? AS TEXT))", key, value)
	} else {
		w.add("json_extract(metadata, ?) = ?", `$."`+key+`"`, value)
	}
	return s.page(ctx, w, true, p, "cases by metadata")
}

// WithRole returns one page of a guild's cases whose saved roles include roleID.
func (s *Service) WithRole(ctx context.Context, guildID, roleID int64, p PageRequest) (Page, error) {
	if err := checkID("guild", guildID); err != nil {
		return Page{}, err
	}
	if err := checkID("role", roleID); err != nil {
		return Page{}, err
	}
	var w where
	w.add("guild_id = ?", guildID)
	if s.st.Engine() == store.Postgres {
		w.add("role_ids @> jsonb_build_array(CAST(? AS TEXT))", strconv.FormatInt(roleID, 10))
	} else {
		w.add("EXISTS (SELECT 1 FROM json_each(cases.role_ids) WHERE json_each.value = ?)", strconv.FormatInt(roleID, 10))
	}
	return s.page(ctx, w, true, p, "cases by saved role")
}

// page runs one page of a listing. oneGuild says the conditions pin a single guild, whose
// cases are ordered by number through the (guild_id, number) index; across guilds the
// order is the global id.
func (s *Service) page(ctx context.Context, w where, oneGuild bool, p PageRequest, what string) (Page, error) {
	if err := p.check(); err != nil {
		return Page{}, err
	}
	var total int64
	if err := s.st.Reader().QueryRowContext(ctx, "SELECT COUNT(*) FROM cases"+w.sql(), w.args...).Scan(&total); err != nil {
		return Page{}, fmt.Errorf("%s: count: %w", what, err)
	}
	out := Page{Total: total, Page: p.Page, PerPage: p.PerPage, Pages: int((total + int64(p.PerPage) - 1) / int64(p.PerPage))}
	if total == 0 || int64(p.Page-1)*int64(p.PerPage) >= total {
		out.Cases = []Case{}
		return out, nil
	}
	n := len(w.args)
	order := "id DESC"
	if oneGuild {
		order = "number DESC"
	}
	q := fmt.Sprintf("SELECT %s FROM cases%s ORDER BY %s LIMIT $%d OFFSET $%d", caseColumns, w.sql(), order, n+1, n+2)
	got, err := s.queryCases(ctx, s.st.Reader(), q, append(w.args, p.PerPage, (p.Page-1)*p.PerPage)...)
	if err != nil {
		return Page{}, fmt.Errorf("%s: %w", what, err)
	}
	out.Cases = got
	return out, nil
}

// Export calls fn for each of a guild's cases, oldest first, with its whole history. It
// reads a page at a time, so a guild of any size streams in bounded memory.
func (s *Service) Export(ctx context.Context, guildID int64, fn func(Case, []Event) error) error {
	if err := checkID("guild", guildID); err != nil {
		return err
	}
	const pageSize = 500
	after := int64(0)
	for {
		rows, err := s.read.GuildCasesAfter(ctx, dbsqlc.GuildCasesAfterParams{GuildID: guildID, Number: after, Limit: pageSize})
		if err != nil {
			return fmt.Errorf("export guild %d: %w", guildID, err)
		}
		if len(rows) == 0 {
			return nil
		}
		page, err := fromRows(rows)
		if err != nil {
			return err
		}
		events, err := s.eventsOf(ctx, page)
		if err != nil {
			return fmt.Errorf("export guild %d: %w", guildID, err)
		}
		for _, c := range page {
			if err := fn(c, events[c.ID]); err != nil {
				return err
			}
		}
		after = rows[len(rows)-1].Number
	}
}

func (s *Service) eventsOf(ctx context.Context, cs []Case) (map[int64][]Event, error) {
	var w where
	ids := make([]int64, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	w.in("case_id", ids)
	rows, err := s.st.Reader().QueryContext(ctx, "SELECT id, case_id, guild_id, kind, actor_id, old_value, new_value, note, created_at FROM case_events"+w.sql()+" ORDER BY case_id, id", w.args...)
	if err != nil {
		return nil, fmt.Errorf("case history: %w", err)
	}
	defer rows.Close()
	out := make(map[int64][]Event, len(cs))
	for rows.Next() {
		var r dbsqlc.CaseEvent
		if err := rows.Scan(&r.ID, &r.CaseID, &r.GuildID, &r.Kind, &r.ActorID, &r.OldValue, &r.NewValue, &r.Note, &r.CreatedAt); err != nil {
			return nil, fmt.Errorf("case history: %w", err)
		}
		out[r.CaseID] = append(out[r.CaseID], eventFromRow(r))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("case history: %w", err)
	}
	return out, nil
}

// queryCases runs a hand-built case query on db: the store's cached reader (ReadDB) for a
// text drawn from a small set, the plain pool (Reader) for one built from a user's filters.
func (s *Service) queryCases(ctx context.Context, db dbsqlc.DBTX, q string, args ...any) ([]Case, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Case
	for rows.Next() {
		var r dbsqlc.Case
		if err := rows.Scan(&r.ID, &r.GuildID, &r.Number, &r.Type, &r.Status, &r.Processed, &r.Reason,
			&r.ModeratorID, &r.UserID, &r.RoleIds, &r.ExpiresAt, &r.Metadata, &r.ModlogMessageID,
			&r.CreatedAt, &r.UpdatedAt); err != nil {
			return nil, err
		}
		c, err := fromRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// where collects AND-ed conditions written with ? and numbers them $1, $2, … — the one
// placeholder form both PostgreSQL and SQLite accept.
type where struct {
	conds []string
	args  []any
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
// bound, which would undo the store's statement cache. Only the three known statuses are
// written; anything else matches nothing.
func (w *where) status(st Status) {
	switch st {
	case Pending, Active, Voided:
		w.conds = append(w.conds, "status = '"+string(st)+"'")
	default:
		w.conds = append(w.conds, "FALSE")
	}
}

func (w *where) in(col string, vals any) {
	var marks []string
	var args []any
	switch v := vals.(type) {
	case []Type:
		for _, t := range v {
			marks, args = append(marks, "?"), append(args, string(t))
		}
	case []int64:
		for _, id := range v {
			marks, args = append(marks, "?"), append(args, id)
		}
	}
	w.add(col+" IN ("+strings.Join(marks, ", ")+")", args...)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
