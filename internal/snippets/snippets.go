// Package snippets keeps each guild's snippets: named text any member posts with
// `snippet <name>`, as in Tux. A member creates snippets and edits, renames and deletes their
// own; moderators (Actor.Moderator) may change anyone's, lock a snippet so that only
// moderators can change it, and are not held back by a snippet ban. A member under an active
// SNIPPETBAN case may still read and use snippets but not create, edit, rename or delete them.
// The package owns the snippets and snippet_events tables; every change is one transaction
// that also appends its history row (docs/snippets.md).
package snippets

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gavelbot/gavel/internal/input"
)

// Limits of a snippet. The migrations' CHECKs repeat them.
const (
	// MaxNameLength bounds a name, in characters.
	MaxNameLength = 32
	// MaxContentLength bounds the content, in characters: Discord's 2,000 for a message, less
	// the header gavel puts above it when posting (the name in backticks and the lock, at
	// most 38 characters), with room to spare.
	MaxContentLength = 1960
	// PageSize is how many snippets one page of a list or a search shows.
	PageSize = 15
	// ModeratorRank is the rank from which a member moderates snippets, as in Tux.
	ModeratorRank = 2
	// MaxHistory is the most history rows one History call returns.
	MaxHistory = 100
)

// NameRule says what a name may be, for messages and docs.
const NameRule = "1 to 32 characters: letters a-z and A-Z, digits, - and _"

// Snippet is one guild's named text.
type Snippet struct {
	ID      int64
	GuildID int64
	// Name is as it was written; names are unique in a guild whatever their letter case.
	Name     string
	Content  string
	AuthorID int64
	// Uses counts how many times the snippet was posted.
	Uses   int64
	Locked bool
	// CreatedAt and UpdatedAt are when it was created and last changed (content, name or
	// lock); LastUsedAt is when it was last posted, zero when never.
	CreatedAt, UpdatedAt, LastUsedAt time.Time
}

// Kind is what one history row records.
type Kind string

// The kinds of change.
const (
	Created  Kind = "create"
	Edited   Kind = "edit"
	Renamed  Kind = "rename"
	Deleted  Kind = "delete"
	Locked   Kind = "lock"
	Unlocked Kind = "unlock"
)

// Event is one row of a snippet's history. Old and New are the content (create, edit,
// delete) or the name (rename); "" when there is none.
type Event struct {
	ID        int64
	GuildID   int64
	SnippetID int64
	ActorID   int64
	Kind      Kind
	// Name is the snippet's name when the change was made (after it, for a rename).
	Name     string
	Old, New string
	At       time.Time
}

// ErrNotFound is returned when a guild has no snippet of the name asked for.
var ErrNotFound = errors.New("snippet not found")

// ErrExists is returned when a guild already has a snippet of the name (any letter case).
var ErrExists = errors.New("snippet name taken")

// ErrRefused is matched (with errors.Is) by every *RefusedError.
var ErrRefused = errors.New("refused")

// RefusedError is a change the actor may not make: a snippet ban, a lock, another member's
// snippet, or a lock by someone who is not a moderator. Reason is the sentence shown.
type RefusedError struct {
	Reason string
}

func (e *RefusedError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

func refused(format string, args ...any) error {
	return &RefusedError{Reason: fmt.Sprintf(format, args...)}
}

// Key is the form a name is unique in: its lower case. Names are ASCII (ValidateName), so
// this is the same fold both databases' lower() make.
func Key(name string) string { return strings.ToLower(name) }

// ValidateName checks a snippet name: NameRule. The error says what was wrong.
func ValidateName(name string) error {
	if name == "" {
		return input.Invalid("name", "it is empty; accepted: "+NameRule)
	}
	if !utf8.ValidString(name) {
		return input.Invalid("name", "it is not valid text; accepted: "+NameRule)
	}
	if n := utf8.RuneCountInString(name); n > MaxNameLength {
		return input.Invalid("name", fmt.Sprintf("it is %d characters long; accepted: %s", n, NameRule))
	}
	for _, r := range name {
		if !nameRune(r) {
			return input.Invalid("name", fmt.Sprintf("%q cannot be in a name; accepted: %s", r, NameRule))
		}
	}
	return nil
}

func nameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// CleanContent checks a snippet's content and returns it as stored: as written, without
// the blank space around it. Mentions stay as written; posting a snippet never pings.
func CleanContent(content string) (string, error) {
	if !utf8.ValidString(content) {
		return "", input.Invalid("content", "it is not valid text")
	}
	if strings.ContainsRune(content, 0) {
		return "", input.Invalid("content", "it holds a NUL character, which Discord does not show")
	}
	content = strings.TrimSpace(content)
	n := utf8.RuneCountInString(content)
	if n == 0 {
		return "", input.Invalid("content", fmt.Sprintf("it is empty; accepted: 1 to %d characters", MaxContentLength))
	}
	if n > MaxContentLength {
		return "", input.Invalid("content", fmt.Sprintf("it is %d characters long; accepted: 1 to %d characters (a Discord message is 2,000, and gavel adds the snippet's name above it)", n, MaxContentLength))
	}
	return content, nil
}
