package snippets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// Restrictions tells whether a member is under a restriction case (cases.Service).
type Restrictions interface {
	Restricted(ctx context.Context, guildID discord.GuildID, userID discord.UserID, r cases.Type) (bool, cases.Case, error)
}

// Actor is who asks for a change.
type Actor struct {
	ID int64
	// Moderator is a member of rank ModeratorRank or above (in a guild without ranks, one
	// with Manage Messages), or the server's owner: they may lock snippets, and change any
	// snippet, locked or not, snippet ban or not, as Tux's "mod override".
	Moderator bool
}

// Service reads and changes snippets. It is safe for concurrent use, also by several
// processes sharing one database.
type Service struct {
	st           *store.Store
	read         query.Queries
	restrictions Restrictions
	now          func() time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithClock makes the service read the time from now instead of the system clock.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// NewService returns the snippet service over a migrated store; restrictions answers
// whether a member is snippet-banned.
func NewService(st *store.Store, restrictions Restrictions, opts ...Option) *Service {
	s := &Service{st: st, read: st.Queries(), restrictions: restrictions, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Get returns the guild's snippet named name (any letter case), or ErrNotFound.
func (s *Service) Get(ctx context.Context, guildID int64, name string) (Snippet, error) {
	if err := errors.Join(checkID("guild", guildID), ValidateName(name)); err != nil {
		return Snippet{}, err
	}
	row, err := s.read.GetSnippet(ctx, query.GetSnippetParams{GuildID: guildID, NameKey: Key(name)})
	if errors.Is(err, sql.ErrNoRows) {
		return Snippet{}, fmt.Errorf("%q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Snippet{}, fmt.Errorf("snippet %q of guild %d: %w", name, guildID, err)
	}
	return fromRow(row), nil
}

// Use returns the snippet to post and counts the use. A use is not a change: it has no
// history row, only the count and the time of the last use.
func (s *Service) Use(ctx context.Context, guildID int64, name string) (Snippet, error) {
	if err := errors.Join(checkID("guild", guildID), ValidateName(name)); err != nil {
		return Snippet{}, err
	}
	// A write, through the store's writer (SQLite's readers are read-only).
	var row query.Snippet
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		var err error
		row, err = tx.Queries().UseSnippet(tx.Context(), query.UseSnippetParams{GuildID: guildID, NameKey: Key(name),
			LastUsedAt: sql.NullInt64{Int64: s.now().UnixMilli(), Valid: true}})
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Snippet{}, fmt.Errorf("%q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Snippet{}, fmt.Errorf("use snippet %q of guild %d: %w", name, guildID, err)
	}
	return fromRow(row), nil
}

// Page is one page of a listing, by name, with the size of the whole listing.
type Page struct {
	Snippets []Snippet
	// Number is the page shown (from 1), Pages how many there are (at least 1).
	Number, Pages int
	Total         int64
}

// List returns one page (from 1) of the guild's snippets, by name.
func (s *Service) List(ctx context.Context, guildID int64, page int) (Page, error) {
	if err := errors.Join(checkID("guild", guildID), checkPage(page)); err != nil {
		return Page{}, err
	}
	total, err := s.read.CountSnippets(ctx, guildID)
	if err != nil {
		return Page{}, fmt.Errorf("count snippets of guild %d: %w", guildID, err)
	}
	rows, err := s.read.ListSnippets(ctx, query.ListSnippetsParams{GuildID: guildID, Limit: PageSize, Offset: int64(page-1) * PageSize})
	if err != nil {
		return Page{}, fmt.Errorf("list snippets of guild %d: %w", guildID, err)
	}
	return pageOf(rows, page, total), nil
}

// MaxSearch bounds the text a search looks for, in characters.
const MaxSearch = 100

// Search returns one page (from 1) of the guild's snippets whose name or content holds text,
// by name, ignoring letter case (ASCII letters only on SQLite).
func (s *Service) Search(ctx context.Context, guildID int64, text string, page int) (Page, error) {
	text = strings.ToLower(strings.TrimSpace(text))
	if err := errors.Join(checkID("guild", guildID), checkPage(page), checkSearch(text)); err != nil {
		return Page{}, err
	}
	total, err := s.read.CountSearchSnippets(ctx, query.CountSearchSnippetsParams{GuildID: guildID, Text: text})
	if err != nil {
		return Page{}, fmt.Errorf("count snippets of guild %d holding %q: %w", guildID, text, err)
	}
	rows, err := s.read.SearchSnippets(ctx, query.SearchSnippetsParams{GuildID: guildID, Text: text,
		MaxRows: PageSize, Skip: int64(page-1) * PageSize})
	if err != nil {
		return Page{}, fmt.Errorf("search snippets of guild %d for %q: %w", guildID, text, err)
	}
	return pageOf(rows, page, total), nil
}

// Names returns at most limit names of the guild's snippets holding typed (any letter case),
// the most used first: an autocomplete's suggestions. Empty typed matches every name.
func (s *Service) Names(ctx context.Context, guildID int64, typed string, limit int) ([]string, error) {
	typed = strings.ToLower(strings.TrimSpace(typed))
	if err := checkID("guild", guildID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > PageSize*10 {
		return nil, input.Invalid("limit", fmt.Sprintf("%d is out of range; accepted: 1 to %d", limit, PageSize*10))
	}
	if len(typed) > MaxSearch {
		return nil, nil // no name is that long
	}
	names, err := s.read.SnippetNamesLike(ctx, query.SnippetNamesLikeParams{GuildID: guildID, Text: typed, MaxRows: int64(limit)})
	if err != nil {
		return nil, fmt.Errorf("snippet names of guild %d like %q: %w", guildID, typed, err)
	}
	return names, nil
}

// History returns a snippet's history (by its id), oldest first, at most limit rows.
func (s *Service) History(ctx context.Context, snippetID int64, limit int) ([]Event, error) {
	if err := checkID("snippet", snippetID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxHistory {
		return nil, input.Invalid("limit", fmt.Sprintf("%d is out of range; accepted: 1 to %d", limit, MaxHistory))
	}
	rows, err := s.read.SnippetEvents(ctx, query.SnippetEventsParams{SnippetID: snippetID, Limit: int64(limit)})
	if err != nil {
		return nil, fmt.Errorf("history of snippet %d: %w", snippetID, err)
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = Event{ID: r.ID, GuildID: r.GuildID, SnippetID: r.SnippetID, ActorID: r.ActorID, Kind: Kind(r.Kind),
			Name: r.Name, Old: r.OldValue.String, New: r.NewValue.String, At: time.UnixMilli(r.CreatedAt).UTC()}
	}
	return out, nil
}

// Create adds a snippet authored by the actor. A snippet-banned member is refused (a
// moderator is not); a name the guild already has, in any letter case, is ErrExists.
func (s *Service) Create(ctx context.Context, guildID int64, actor Actor, name, content string) (Snippet, error) {
	content, err := s.checkWrite(ctx, guildID, actor, name, content, true)
	if err != nil {
		return Snippet{}, err
	}
	if err := s.checkBan(ctx, guildID, actor); err != nil {
		return Snippet{}, err
	}
	var out Snippet
	err = s.st.InTx(ctx, func(tx *store.Tx) error {
		now := s.now().UnixMilli()
		if err := tx.EnsureGuild(guildID, now); err != nil {
			return fmt.Errorf("guild row: %w", err)
		}
		row, err := tx.Queries().InsertSnippet(tx.Context(), query.InsertSnippetParams{GuildID: guildID, Name: name,
			NameKey: Key(name), Content: content, AuthorID: actor.ID, CreatedAt: now})
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%q: %w", name, ErrExists)
		}
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		out = fromRow(row)
		return record(tx, out, actor.ID, Created, "", content, now)
	})
	if err != nil {
		return Snippet{}, s.wrap(err, "create", name, guildID)
	}
	return out, nil
}

// Edit replaces a snippet's content.
func (s *Service) Edit(ctx context.Context, guildID int64, actor Actor, name, content string) (Snippet, error) {
	content, err := s.checkWrite(ctx, guildID, actor, name, content, true)
	if err != nil {
		return Snippet{}, err
	}
	return s.change(ctx, guildID, actor, name, "edit", func(tx *store.Tx, sn *Snippet, now int64) error {
		if sn.Content == content {
			return fmt.Errorf("snippet %s already says that: %w", sn.Name, input.ErrUnchanged)
		}
		if err := tx.Queries().UpdateSnippetContent(tx.Context(), query.UpdateSnippetContentParams{ID: sn.ID, Content: content, UpdatedAt: now}); err != nil {
			return fmt.Errorf("update: %w", err)
		}
		old := sn.Content
		sn.Content = content
		return record(tx, *sn, actor.ID, Edited, old, content, now)
	})
}

// Rename gives a snippet a new name; changing only its letter case is a rename too.
func (s *Service) Rename(ctx context.Context, guildID int64, actor Actor, name, newName string) (Snippet, error) {
	if _, err := s.checkWrite(ctx, guildID, actor, name, "", false); err != nil {
		return Snippet{}, err
	}
	if err := ValidateName(newName); err != nil {
		return Snippet{}, asNewName(err)
	}
	return s.change(ctx, guildID, actor, name, "rename", func(tx *store.Tx, sn *Snippet, now int64) error {
		q := tx.Queries()
		if sn.Name == newName {
			return fmt.Errorf("snippet %s already has that name: %w", sn.Name, input.ErrUnchanged)
		}
		if Key(newName) != Key(sn.Name) {
			_, err := q.LockSnippet(tx.Context(), query.LockSnippetParams{GuildID: guildID, NameKey: Key(newName)})
			if err == nil {
				return fmt.Errorf("%q: %w", newName, ErrExists)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("read %q: %w", newName, err)
			}
		}
		if err := q.RenameSnippet(tx.Context(), query.RenameSnippetParams{ID: sn.ID, Name: newName, NameKey: Key(newName), UpdatedAt: now}); err != nil {
			// Two renames to one new name at once on PostgreSQL: the unique key refuses the
			// second; say so rather than fail.
			if _, gerr := s.read.GetSnippet(tx.Context(), query.GetSnippetParams{GuildID: guildID, NameKey: Key(newName)}); gerr == nil {
				return fmt.Errorf("%q: %w", newName, ErrExists)
			}
			return fmt.Errorf("rename: %w", err)
		}
		old := sn.Name
		sn.Name = newName
		return record(tx, *sn, actor.ID, Renamed, old, newName, now)
	})
}

// Delete removes a snippet; its history stays, with the content it had.
func (s *Service) Delete(ctx context.Context, guildID int64, actor Actor, name string) (Snippet, error) {
	if _, err := s.checkWrite(ctx, guildID, actor, name, "", false); err != nil {
		return Snippet{}, err
	}
	return s.change(ctx, guildID, actor, name, "delete", func(tx *store.Tx, sn *Snippet, now int64) error {
		if err := tx.Queries().DeleteSnippet(tx.Context(), sn.ID); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		return record(tx, *sn, actor.ID, Deleted, sn.Content, "", now)
	})
}

// SetLocked locks or unlocks a snippet: moderators only. A locked snippet can be edited,
// renamed or deleted by moderators only.
func (s *Service) SetLocked(ctx context.Context, guildID int64, actor Actor, name string, locked bool) (Snippet, error) {
	if err := errors.Join(checkID("guild", guildID), checkID("actor", actor.ID), ValidateName(name)); err != nil {
		return Snippet{}, err
	}
	verb, kind := "unlock", Unlocked
	if locked {
		verb, kind = "lock", Locked
	}
	if !actor.Moderator {
		return Snippet{}, refused("Only moderators (rank %d or above) can %s snippets.", ModeratorRank, verb)
	}
	return s.change(ctx, guildID, actor, name, verb, func(tx *store.Tx, sn *Snippet, now int64) error {
		if sn.Locked == locked {
			return fmt.Errorf("snippet %s is already %sed: %w", sn.Name, verb, input.ErrUnchanged)
		}
		if err := tx.Queries().SetSnippetLocked(tx.Context(), query.SetSnippetLockedParams{ID: sn.ID, Locked: locked, UpdatedAt: now}); err != nil {
			return fmt.Errorf("%s: %w", verb, err)
		}
		sn.Locked = locked
		return record(tx, *sn, actor.ID, kind, strconv.FormatBool(!locked), strconv.FormatBool(locked), now)
	})
}

// checkWrite checks what every create, edit, rename and delete needs before the database:
// the ids, the name, and (withContent) the content, which it returns cleaned.
func (s *Service) checkWrite(_ context.Context, guildID int64, actor Actor, name, content string, withContent bool) (string, error) {
	if err := errors.Join(checkID("guild", guildID), checkID("actor", actor.ID), ValidateName(name)); err != nil {
		return "", err
	}
	if !withContent {
		return "", nil
	}
	return CleanContent(content)
}

// checkBan refuses a snippet-banned member who is not a moderator.
func (s *Service) checkBan(ctx context.Context, guildID int64, actor Actor) error {
	if actor.Moderator {
		return nil
	}
	banned, c, err := s.restrictions.Restricted(ctx, discord.GuildID(guildID), discord.UserID(actor.ID), cases.Snippetban)
	if err != nil {
		return fmt.Errorf("snippet ban of user %d in guild %d: %w", actor.ID, guildID, err)
	}
	if banned {
		return refused("You are banned from creating, editing and deleting snippets (case #%d); you can still use them.", c.Number)
	}
	return nil
}

// change runs one change to an existing snippet in a transaction, after the checks every
// such change has, in Tux's order: a moderator passes; a snippet-banned member is refused;
// then a locked snippet, then another member's.
func (s *Service) change(ctx context.Context, guildID int64, actor Actor, name, verb string, apply func(tx *store.Tx, sn *Snippet, now int64) error) (Snippet, error) {
	if err := s.checkBan(ctx, guildID, actor); err != nil {
		return Snippet{}, err
	}
	var out Snippet
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		row, err := tx.Queries().LockSnippet(tx.Context(), query.LockSnippetParams{GuildID: guildID, NameKey: Key(name)})
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%q: %w", name, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		sn := fromRow(row)
		if !actor.Moderator {
			if sn.Locked {
				return refused("Snippet `%s` is locked: only moderators can edit, rename or delete it.", sn.Name)
			}
			if sn.AuthorID != actor.ID {
				return refused("Snippet `%s` is <@%d>'s: you can only edit, rename or delete your own snippets.", sn.Name, sn.AuthorID)
			}
		}
		now := s.now().UnixMilli()
		if err := apply(tx, &sn, now); err != nil {
			return err
		}
		sn.UpdatedAt = time.UnixMilli(now).UTC()
		out = sn
		return nil
	})
	if err != nil {
		return Snippet{}, s.wrap(err, verb, name, guildID)
	}
	return out, nil
}

// wrap adds context to a write's error, leaving refusals and bad input as they are, so that
// the front end shows their sentence.
func (s *Service) wrap(err error, verb, name string, guildID int64) error {
	if errors.Is(err, ErrRefused) || errors.Is(err, input.ErrInvalid) || errors.Is(err, input.ErrUnchanged) ||
		errors.Is(err, ErrNotFound) || errors.Is(err, ErrExists) {
		return err
	}
	return fmt.Errorf("%s snippet %q of guild %d: %w", verb, name, guildID, err)
}

// record appends one row to the snippet's history; "" stores NULL.
func record(tx *store.Tx, sn Snippet, actor int64, kind Kind, old, new string, nowMS int64) error {
	err := tx.Queries().InsertSnippetEvent(tx.Context(), query.InsertSnippetEventParams{
		GuildID: sn.GuildID, SnippetID: sn.ID, ActorID: actor, Kind: string(kind), Name: sn.Name,
		OldValue: sql.NullString{String: old, Valid: old != ""}, NewValue: sql.NullString{String: new, Valid: new != ""},
		CreatedAt: nowMS,
	})
	if err != nil {
		return fmt.Errorf("record %s: %w", kind, err)
	}
	return nil
}

func fromRow(r query.Snippet) Snippet {
	sn := Snippet{ID: r.ID, GuildID: r.GuildID, Name: r.Name, Content: r.Content, AuthorID: r.AuthorID, Uses: r.Uses,
		Locked: r.Locked, CreatedAt: time.UnixMilli(r.CreatedAt).UTC(), UpdatedAt: time.UnixMilli(r.UpdatedAt).UTC()}
	if r.LastUsedAt.Valid {
		sn.LastUsedAt = time.UnixMilli(r.LastUsedAt.Int64).UTC()
	}
	return sn
}

func pageOf(rows []query.Snippet, page int, total int64) Page {
	p := Page{Number: page, Total: total, Pages: int((total + PageSize - 1) / PageSize)}
	if p.Pages == 0 {
		p.Pages = 1
	}
	for _, r := range rows {
		p.Snippets = append(p.Snippets, fromRow(r))
	}
	return p
}

// MaxPage bounds the page a listing may ask for.
const MaxPage = 10_000

func checkPage(page int) error {
	if page < 1 || page > MaxPage {
		return input.Invalid("page", fmt.Sprintf("%d is out of range; accepted: 1 to %d", page, MaxPage))
	}
	return nil
}

func checkSearch(text string) error {
	if text == "" {
		return input.Invalid("search", "it is empty; say what to look for in the snippets' names and content")
	}
	if n := len([]rune(text)); n > MaxSearch {
		return input.Invalid("search", fmt.Sprintf("it is %d characters long; accepted: 1 to %d", n, MaxSearch))
	}
	if strings.ContainsRune(text, 0) {
		return input.Invalid("search", "it holds a NUL character")
	}
	return nil
}

func checkID(field string, id int64) error {
	if id <= 0 {
		return input.Invalid(field, fmt.Sprintf("%d is not a Discord id; ids are positive numbers", id))
	}
	return nil
}

// asNewName words a bad new name as such.
func asNewName(err error) error {
	var inv *input.InvalidError
	if errors.As(err, &inv) {
		return input.Invalid("new name", inv.Problem)
	}
	return err
}
