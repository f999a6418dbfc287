package cases

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// Filter selects cases; every set field must match (an AND). The zero Filter matches all.
type Filter struct {
	GuildID     discord.GuildID
	UserID      discord.UserID
	ModeratorID discord.UserID
	// Types matches any of the listed types.
	Types  []Type
	Status Status
	// Words: the reason contains every one (see Search for how each engine matches). Each
	// must hold only letters and digits (SearchWords splits text into such words).
	Words []string
}

// SearchWords splits text into the words a search looks for: runs of letters and digits.
func SearchWords(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}

func (f Filter) check() error {
	for _, c := range []struct {
		name string
		id   int64
	}{{"guild", int64(f.GuildID)}, {"user", int64(f.UserID)}, {"moderator", int64(f.ModeratorID)}} {
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
	for _, w := range f.Words {
		if len(SearchWords(w)) != 1 || SearchWords(w)[0] != w {
			return input.Invalid("search", fmt.Sprintf("%q is not a word of letters or digits", w))
		}
	}
	return nil
}

func (f Filter) store() store.CaseFilter {
	return store.CaseFilter{GuildID: int64(f.GuildID), UserID: int64(f.UserID), ModeratorID: int64(f.ModeratorID),
		Types: typeNames(f.Types), Status: string(f.Status), ReasonWords: f.Words}
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
	return s.page(ctx, f.store(), f.GuildID != 0, p, "list cases")
}

// Search returns one page of the cases (of a guild, when guildID is not 0) whose reason
// contains every word of text. PostgreSQL matches whole words with its full-text index;
// SQLite matches substrings (ASCII case-insensitively), reading the cases its trigram index
// names for rare words and the guild's cases newest first for common ones.
func (s *Service) Search(ctx context.Context, guildID discord.GuildID, text string, p PageRequest) (Page, error) {
	if guildID < 0 {
		return Page{}, checkID("guild", guildID)
	}
	if len(text) > MaxSearchTextBytes {
		return Page{}, input.Invalid("search", fmt.Sprintf("is %d bytes long; at most %d are accepted", len(text), MaxSearchTextBytes))
	}
	words := SearchWords(text)
	if len(words) == 0 {
		return Page{}, input.Invalid("search", "has no words to look for; give at least one word of letters or digits")
	}
	return s.page(ctx, store.CaseFilter{GuildID: int64(guildID), ReasonWords: words}, guildID != 0, p, "search cases")
}

// WithMetadata returns one page of a guild's cases whose metadata has key set to value.
func (s *Service) WithMetadata(ctx context.Context, guildID discord.GuildID, key, value string, p PageRequest) (Page, error) {
	if err := checkID("guild", guildID); err != nil {
		return Page{}, err
	}
	if err := checkMetadataKey(key); err != nil {
		return Page{}, err
	}
	return s.page(ctx, store.CaseFilter{GuildID: int64(guildID), MetaKey: key, MetaValue: value}, true, p, "cases by metadata")
}

// WithRole returns one page of a guild's cases whose saved roles include roleID.
func (s *Service) WithRole(ctx context.Context, guildID discord.GuildID, roleID discord.RoleID, p PageRequest) (Page, error) {
	if err := checkID("guild", guildID); err != nil {
		return Page{}, err
	}
	if err := checkID("role", roleID); err != nil {
		return Page{}, err
	}
	return s.page(ctx, store.CaseFilter{GuildID: int64(guildID), RoleID: int64(roleID)}, true, p, "cases by saved role")
}

// page runs one page of a listing. oneGuild says the conditions pin a single guild, whose
// cases are ordered by number through the (guild_id, number) index; across guilds the
// order is the global id.
func (s *Service) page(ctx context.Context, f store.CaseFilter, oneGuild bool, p PageRequest, what string) (Page, error) {
	if err := p.check(); err != nil {
		return Page{}, err
	}
	total, err := s.st.CountCases(ctx, f)
	if err != nil {
		return Page{}, fmt.Errorf("%s: count: %w", what, err)
	}
	out := Page{Total: total, Page: p.Page, PerPage: p.PerPage, Pages: int((total + int64(p.PerPage) - 1) / int64(p.PerPage))}
	if total == 0 || int64(p.Page-1)*int64(p.PerPage) >= total {
		out.Cases = []Case{}
		return out, nil
	}
	order := store.NewestFirst
	if oneGuild {
		order = store.HighestNumberFirst
	}
	rows, err := s.st.ListCases(ctx, f, order, p.PerPage, (p.Page-1)*p.PerPage)
	if err != nil {
		return Page{}, fmt.Errorf("%s: %w", what, err)
	}
	if out.Cases, err = fromRows(rows); err != nil {
		return Page{}, err
	}
	return out, nil
}

// Browse is a guild's case listing as the dashboard filters it: every set field must
// match.
type Browse struct {
	Filter
	// Text: the reason contains every word of it (as Search).
	Text string
	// From and Until bound when the case was made: From included, Until excluded; zero
	// leaves the side open.
	From, Until time.Time
}

// store returns the filter, or an input error naming the bad field.
func (b Browse) store() (store.CaseFilter, error) {
	if err := checkID("guild", b.GuildID); err != nil {
		return store.CaseFilter{}, err
	}
	if err := b.Filter.check(); err != nil {
		return store.CaseFilter{}, err
	}
	f := b.Filter.store()
	if b.Text != "" {
		if len(b.Text) > MaxSearchTextBytes {
			return store.CaseFilter{}, input.Invalid("reason text", fmt.Sprintf("is %d bytes long; at most %d are accepted", len(b.Text), MaxSearchTextBytes))
		}
		f.ReasonWords = strings.FieldsFunc(b.Text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
		if len(f.ReasonWords) == 0 {
			return store.CaseFilter{}, input.Invalid("reason text", "has no words to look for; give at least one word of letters or digits")
		}
	}
	if !b.From.IsZero() {
		f.CreatedFrom = b.From.UnixMilli()
	}
	if !b.Until.IsZero() {
		f.CreatedBefore = b.Until.UnixMilli()
	}
	if !b.From.IsZero() && !b.Until.IsZero() && !b.From.Before(b.Until) {
		return store.CaseFilter{}, input.Invalid("dates", "the start is not before the end")
	}
	return f, nil
}

// Check reports an input error in b, naming the field, without reading anything.
func (b Browse) Check() error {
	_, err := b.store()
	return err
}

// BrowsePage lists the cases matching b whose number is below before (0: from the
// newest), highest number first, at most limit of them; more reports whether there are
// further cases after the last. Keyset pagination: each page is one indexed range read
// however deep the listing goes.
func (s *Service) BrowsePage(ctx context.Context, b Browse, before int64, limit int) (cs []Case, more bool, err error) {
	f, err := b.store()
	if err != nil {
		return nil, false, err
	}
	if before < 0 {
		return nil, false, input.Invalid("before", fmt.Sprintf("%d is not a case number", before))
	}
	if limit < 1 || limit > MaxPerPage {
		return nil, false, input.Invalid("per page", fmt.Sprintf("%d is out of range; accepted: 1 to %d", limit, MaxPerPage))
	}
	f.NumberBelow = before
	rows, err := s.st.ListCases(ctx, f, store.HighestNumberFirst, limit+1, 0)
	if err != nil {
		return nil, false, fmt.Errorf("browse guild %d: %w", b.GuildID, err)
	}
	if len(rows) > limit {
		rows, more = rows[:limit], true
	}
	cs, err = fromRows(rows)
	return cs, more, err
}

// BrowseAll calls fn for every case matching b, highest number first, a page at a time
// (an export of the dashboard's current filter, in bounded memory).
func (s *Service) BrowseAll(ctx context.Context, b Browse, fn func(Case) error) error {
	const pageSize = MaxPerPage
	before := int64(0)
	for {
		page, more, err := s.BrowsePage(ctx, b, before, pageSize)
		if err != nil {
			return err
		}
		for _, c := range page {
			if err := fn(c); err != nil {
				return err
			}
		}
		if !more || len(page) == 0 {
			return nil
		}
		before = page[len(page)-1].Number
	}
}

// Export calls fn for each of a guild's cases, oldest first, with its whole history. It
// reads a page at a time, so a guild of any size streams in bounded memory.
func (s *Service) Export(ctx context.Context, guildID discord.GuildID, fn func(Case, []Event) error) error {
	if err := checkID("guild", guildID); err != nil {
		return err
	}
	const pageSize = 500
	after := int64(0)
	for {
		rows, err := s.read.GuildCasesAfter(ctx, query.GuildCasesAfterParams{GuildID: int64(guildID), Number: after, Limit: pageSize})
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
	ids := make([]int64, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	rows, err := s.st.CaseEventsOf(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("case history: %w", err)
	}
	out := make(map[int64][]Event, len(cs))
	for _, r := range rows {
		out[r.CaseID] = append(out[r.CaseID], eventFromRow(r))
	}
	return out, nil
}
