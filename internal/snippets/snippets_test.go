package snippets_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/snippets"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

const (
	guild  = int64(1000)
	author = int64(2001)
	other  = int64(2002)
	mod    = int64(2003)
)

func TestValidateName(t *testing.T) {
	for _, name := range []string{"a", "faq", "FAQ", "how-to_install", "x1", strings.Repeat("n", snippets.MaxNameLength)} {
		if err := snippets.ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q) = %v; want nil", name, err)
		}
	}
	for name, want := range map[string]string{
		"": "empty",
		strings.Repeat("n", snippets.MaxNameLength+1): "33 characters long",
		"two words": `' ' cannot be in a name`,
		"café":      `'é' cannot be in a name`,
		"<@123>":    `'<' cannot be in a name`,
		"a.b":       `'.' cannot be in a name`,
		"\xff":      "not valid text",
		"name\n":    `'\n' cannot be in a name`,
		"@everyone": `'@' cannot be in a name`,
		"ｆｕｌｌwidth": "cannot be in a name",
	} {
		err := snippets.ValidateName(name)
		if !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), snippets.NameRule) {
			t.Errorf("ValidateName(%q) = %v; want an invalid-input error saying %q and the rule", name, err, want)
		}
	}
}

func TestCleanContent(t *testing.T) {
	got, err := snippets.CleanContent("  \n```go\nfmt.Println(\"hi\")\n```\n<@123> @everyone \n")
	if err != nil || got != "```go\nfmt.Println(\"hi\")\n```\n<@123> @everyone" {
		t.Errorf("CleanContent = %q, %v; want the text as written, mentions kept, blank ends trimmed", got, err)
	}
	if got, err := snippets.CleanContent(strings.Repeat("é", snippets.MaxContentLength)); err != nil || utf8.RuneCountInString(got) != snippets.MaxContentLength {
		t.Errorf("CleanContent(%d characters) = %v; want it accepted (characters, not bytes)", snippets.MaxContentLength, err)
	}
	for content, want := range map[string]string{
		"":     "empty",
		" \n ": "empty",
		strings.Repeat("x", snippets.MaxContentLength+1): "1961 characters long; accepted: 1 to 1960",
		"a\x00b": "NUL",
		"\xff":   "not valid text",
	} {
		if _, err := snippets.CleanContent(content); !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("CleanContent(%q) = %v; want an invalid-input error saying %q", clip(content), err, want)
		}
	}
}

// FuzzSnippetName checks that ValidateName accepts exactly the names the rule describes, and
// that an accepted name's key is its lower case and itself a valid name.
func FuzzSnippetName(f *testing.F) {
	for _, s := range []string{"faq", "FAQ", "a-b_c", "", " ", "é", strings.Repeat("z", 40), "\x00", "<@&1>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := snippets.ValidateName(name)
		want := name != "" && len(name) <= snippets.MaxNameLength
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				want = false
			}
		}
		if (err == nil) != want {
			t.Fatalf("ValidateName(%q) = %v; want accepted=%v", name, err, want)
		}
		if err != nil {
			if !errors.Is(err, input.ErrInvalid) {
				t.Fatalf("ValidateName(%q) = %v; want an invalid-input error", name, err)
			}
			return
		}
		key := snippets.Key(name)
		if key != strings.ToLower(name) || snippets.ValidateName(key) != nil || snippets.Key(strings.ToUpper(name)) != key {
			t.Fatalf("Key(%q) = %q; want its lower case, valid, the same for every letter case", name, key)
		}
	})
}

func clip(s string) string {
	if len(s) > 30 {
		return s[:30] + "…"
	}
	return s
}

// bans is the snippet-ban state a test sets: which users have an active SNIPPETBAN case.
type bans struct {
	mu     sync.Mutex
	banned map[int64]int64 // user -> case number
}

func (b *bans) Restricted(_ context.Context, _ discord.GuildID, userID discord.UserID, r cases.Type) (bool, cases.Case, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r != cases.Snippetban {
		return false, cases.Case{}, fmt.Errorf("asked about %s", r)
	}
	n, ok := b.banned[int64(userID)]
	if !ok {
		return false, cases.Case{}, nil
	}
	return true, cases.Case{Number: n, Type: cases.Snippetban, UserID: userID}, nil
}

type rig struct {
	s    *snippets.Service
	bans *bans
	now  time.Time
}

func newRig(st *store.Store) *rig {
	r := &rig{bans: &bans{banned: map[int64]int64{}}, now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	r.s = snippets.NewService(st, r.bans, snippets.WithClock(func() time.Time { return r.now }))
	return r
}

var (
	member    = snippets.Actor{ID: author}
	stranger  = snippets.Actor{ID: other}
	moderator = snippets.Actor{ID: mod, Moderator: true}
)

func kinds(t *testing.T, s *snippets.Service, id int64) []string {
	t.Helper()
	ev, err := s.History(context.Background(), id, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ev {
		out = append(out, fmt.Sprintf("%s %s by %d: %q→%q", e.Kind, e.Name, e.ActorID, e.Old, e.New))
	}
	return out
}

func TestLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		r := newRig(st)
		s := r.s

		sn, err := s.Create(ctx, guild, member, "FAQ", "  Read the <#1> channel, @everyone.\n")
		if err != nil {
			t.Fatal(err)
		}
		if sn.Name != "FAQ" || sn.Content != "Read the <#1> channel, @everyone." || sn.AuthorID != author || sn.Uses != 0 || sn.Locked || !sn.CreatedAt.Equal(r.now) {
			t.Errorf("created %+v", sn)
		}
		// Names are unique whatever their letter case.
		if _, err := s.Create(ctx, guild, stranger, "faq", "other"); !errors.Is(err, snippets.ErrExists) {
			t.Errorf("Create(faq) after FAQ = %v; want ErrExists", err)
		}
		// Another guild has its own names.
		if _, err := s.Create(ctx, guild+1, stranger, "faq", "other guild"); err != nil {
			t.Errorf("Create in another guild = %v", err)
		}

		// Use counts; Get does not.
		r.now = r.now.Add(time.Minute)
		for i := 1; i <= 3; i++ {
			got, err := s.Use(ctx, guild, "fAq")
			if err != nil || got.Uses != int64(i) || !got.LastUsedAt.Equal(r.now) {
				t.Fatalf("Use #%d = %+v, %v", i, got, err)
			}
		}
		if got, err := s.Get(ctx, guild, "faq"); err != nil || got.Uses != 3 {
			t.Errorf("Get = %+v, %v; want 3 uses", got, err)
		}
		if _, err := s.Use(ctx, guild, "nope"); !errors.Is(err, snippets.ErrNotFound) {
			t.Errorf("Use(nope) = %v; want ErrNotFound", err)
		}

		// Edit: only the author (or a moderator); the same text is no change.
		if _, err := s.Edit(ctx, guild, stranger, "faq", "mine now"); !errors.Is(err, snippets.ErrRefused) || !strings.Contains(err.Error(), "only edit, rename or delete your own") {
			t.Errorf("Edit by a stranger = %v; want refused", err)
		}
		if _, err := s.Edit(ctx, guild, member, "faq", "Read the <#1> channel, @everyone."); !errors.Is(err, input.ErrUnchanged) {
			t.Errorf("Edit to the same text = %v; want ErrUnchanged", err)
		}
		if _, err := s.Edit(ctx, guild, member, "faq", strings.Repeat("x", snippets.MaxContentLength+1)); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("Edit too long = %v; want invalid", err)
		}
		if got, err := s.Edit(ctx, guild, member, "faq", "v2"); err != nil || got.Content != "v2" || got.Uses != 3 {
			t.Errorf("Edit = %+v, %v", got, err)
		}
		if got, err := s.Edit(ctx, guild, moderator, "faq", "v3 by a mod"); err != nil || got.AuthorID != author {
			t.Errorf("Edit by a moderator = %+v, %v; want allowed, author kept", got, err)
		}

		// Rename: letter case only is a rename; to a taken name is refused.
		if _, err := s.Create(ctx, guild, stranger, "rules", "be nice"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Rename(ctx, guild, member, "faq", "RULES"); !errors.Is(err, snippets.ErrExists) {
			t.Errorf("Rename to a taken name = %v; want ErrExists", err)
		}
		if _, err := s.Rename(ctx, guild, member, "faq", "bad name"); !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), "new name") {
			t.Errorf("Rename to a bad name = %v; want invalid new name", err)
		}
		if got, err := s.Rename(ctx, guild, member, "faq", "faq"); err != nil || got.Name != "faq" {
			t.Errorf("Rename FAQ→faq = %+v, %v", got, err)
		}
		if _, err := s.Rename(ctx, guild, member, "faq", "faq"); !errors.Is(err, input.ErrUnchanged) {
			t.Errorf("Rename to its own name = %v; want ErrUnchanged", err)
		}
		if got, err := s.Rename(ctx, guild, member, "FAQ", "help"); err != nil || got.Name != "help" {
			t.Errorf("Rename → help = %+v, %v", got, err)
		}
		if _, err := s.Get(ctx, guild, "faq"); !errors.Is(err, snippets.ErrNotFound) {
			t.Errorf("Get(old name) = %v; want ErrNotFound", err)
		}

		// Lock: moderators only; a locked snippet is the moderators'.
		if _, err := s.SetLocked(ctx, guild, member, "help", true); !errors.Is(err, snippets.ErrRefused) || !strings.Contains(err.Error(), "Only moderators") {
			t.Errorf("lock by a member = %v; want refused", err)
		}
		if got, err := s.SetLocked(ctx, guild, moderator, "help", true); err != nil || !got.Locked {
			t.Errorf("lock = %+v, %v", got, err)
		}
		if _, err := s.SetLocked(ctx, guild, moderator, "help", true); !errors.Is(err, input.ErrUnchanged) {
			t.Errorf("lock twice = %v; want ErrUnchanged", err)
		}
		for name, f := range map[string]func() error{
			"edit":   func() error { _, err := s.Edit(ctx, guild, member, "help", "v4"); return err },
			"rename": func() error { _, err := s.Rename(ctx, guild, member, "help", "help2"); return err },
			"delete": func() error { _, err := s.Delete(ctx, guild, member, "help"); return err },
		} {
			if err := f(); !errors.Is(err, snippets.ErrRefused) || !strings.Contains(err.Error(), "locked") {
				t.Errorf("%s of a locked snippet by its author = %v; want refused as locked", name, err)
			}
		}
		if _, err := s.Use(ctx, guild, "help"); err != nil {
			t.Errorf("Use of a locked snippet = %v", err)
		}
		if _, err := s.Edit(ctx, guild, moderator, "help", "v4 by a mod"); err != nil {
			t.Errorf("Edit of a locked snippet by a moderator = %v", err)
		}
		if _, err := s.SetLocked(ctx, guild, moderator, "help", false); err != nil {
			t.Error(err)
		}

		// The snippet ban: no create, edit, rename or delete; use still works; moderators pass.
		r.bans.banned[author] = 7
		for name, f := range map[string]func() error{
			"create": func() error { _, err := s.Create(ctx, guild, member, "new", "x"); return err },
			"edit":   func() error { _, err := s.Edit(ctx, guild, member, "help", "v5"); return err },
			"rename": func() error { _, err := s.Rename(ctx, guild, member, "help", "help2"); return err },
			"delete": func() error { _, err := s.Delete(ctx, guild, member, "help"); return err },
		} {
			if err := f(); !errors.Is(err, snippets.ErrRefused) || !strings.Contains(err.Error(), "banned from creating, editing and deleting snippets (case #7)") {
				t.Errorf("%s while snippet-banned = %v; want refused, naming the case", name, err)
			}
		}
		if _, err := s.Use(ctx, guild, "help"); err != nil {
			t.Errorf("Use while snippet-banned = %v", err)
		}
		r.bans.banned[mod] = 8
		if _, err := s.Create(ctx, guild, moderator, "modnote", "x"); err != nil {
			t.Errorf("Create by a snippet-banned moderator = %v; want the override", err)
		}
		delete(r.bans.banned, author)

		// Delete keeps the history, with the content.
		help, _ := s.Get(ctx, guild, "help")
		if _, err := s.Delete(ctx, guild, member, "help"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, guild, "help"); !errors.Is(err, snippets.ErrNotFound) {
			t.Errorf("Get after delete = %v", err)
		}
		want := []string{
			fmt.Sprintf(`create FAQ by %d: ""→"Read the <#1> channel, @everyone."`, author),
			fmt.Sprintf(`edit FAQ by %d: "Read the <#1> channel, @everyone."→"v2"`, author),
			fmt.Sprintf(`edit FAQ by %d: "v2"→"v3 by a mod"`, mod),
			fmt.Sprintf(`rename faq by %d: "FAQ"→"faq"`, author),
			fmt.Sprintf(`rename help by %d: "faq"→"help"`, author),
			fmt.Sprintf(`lock help by %d: "false"→"true"`, mod),
			fmt.Sprintf(`edit help by %d: "v3 by a mod"→"v4 by a mod"`, mod),
			fmt.Sprintf(`unlock help by %d: "true"→"false"`, mod),
			fmt.Sprintf(`delete help by %d: "v4 by a mod"→""`, author),
		}
		if got := kinds(t, s, help.ID); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// The name is free again.
		if _, err := s.Create(ctx, guild, stranger, "HELP", "again"); err != nil {
			t.Errorf("Create after delete = %v", err)
		}
	})
}

func TestListSearchNames(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		r := newRig(st)
		s := r.s
		for i := 0; i < snippets.PageSize+3; i++ {
			if _, err := s.Create(ctx, guild, member, fmt.Sprintf("tip-%02d", i), fmt.Sprintf("tip number %d", i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Create(ctx, guild, member, "Install", "How to INSTALL the tips"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, guild, member, "zzz", "mentions install in passing"); err != nil {
			t.Fatal(err)
		}
		p, err := s.List(ctx, guild, 1)
		if err != nil || p.Total != int64(snippets.PageSize+5) || p.Pages != 2 || len(p.Snippets) != snippets.PageSize || p.Snippets[0].Name != "Install" {
			t.Fatalf("List page 1 = %d snippets of %d, %d pages, first %v, %v", len(p.Snippets), p.Total, p.Pages, p.Snippets, err)
		}
		p, _ = s.List(ctx, guild, 2)
		if len(p.Snippets) != 5 || p.Snippets[4].Name != "zzz" {
			t.Errorf("List page 2 = %v", p.Snippets)
		}
		if _, err := s.List(ctx, guild, 0); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("List page 0 = %v", err)
		}

		// Search: name or content, any letter case, by name.
		p, err = s.Search(ctx, guild, "INSTALL", 1)
		if err != nil || p.Total != 2 || p.Snippets[0].Name != "Install" || p.Snippets[1].Name != "zzz" {
			t.Errorf("Search(INSTALL) = %+v, %v", p, err)
		}
		// No pattern characters: % and _ are looked for as written.
		if p, err := s.Search(ctx, guild, "%", 1); err != nil || p.Total != 0 {
			t.Errorf("Search(%%) = %d, %v; want nothing", p.Total, err)
		}
		if p, err := s.Search(ctx, guild, "tip-1", 1); err != nil || p.Total != 8 {
			t.Errorf("Search(tip-1) = %d, %v; want tip-10..17", p.Total, err)
		}
		if _, err := s.Search(ctx, guild, "  ", 1); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("Search(blank) = %v", err)
		}

		// Names: most used first.
		for i := 0; i < 3; i++ {
			if _, err := s.Use(ctx, guild, "tip-07"); err != nil {
				t.Fatal(err)
			}
		}
		names, err := s.Names(ctx, guild, "TIP-0", 5)
		if err != nil || len(names) != 5 || names[0] != "tip-07" || names[1] != "tip-00" {
			t.Errorf("Names(TIP-0) = %v, %v", names, err)
		}
	})
}

// TestConcurrentCreate: two members creating one name at once: exactly one wins, on both
// engines, and only the winner has a history row.
func TestConcurrentCreate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newRig(st).s
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.Create(ctx, guild, snippets.Actor{ID: author + int64(i)}, []string{"race", "RACE"}[i%2], fmt.Sprint(i))
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, snippets.ErrExists):
				t.Errorf("Create = %v; want nil or ErrExists", err)
			}
		}
		sn, err := s.Get(ctx, guild, "race")
		if won != 1 || err != nil || len(kinds(t, s, sn.ID)) != 1 {
			t.Errorf("%d creations won; want 1 (snippet %+v, %v)", won, sn, err)
		}
	})
}

// TestHistoryAppendOnly: the database itself refuses to rewrite a snippet's history, and
// refuses a snippet the rules refuse, whoever writes it.
func TestHistoryAppendOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newRig(st).s
		sn, err := s.Create(ctx, guild, member, "kept", "text")
		if err != nil {
			t.Fatal(err)
		}
		w := st.Writer()
		if _, err := w.ExecContext(ctx, `UPDATE snippet_events SET new_value = 'forged'`); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("update of snippet_events: err = %v, want append-only", err)
		}
		if _, err := w.ExecContext(ctx, `DELETE FROM snippet_events`); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("delete from snippet_events: err = %v, want append-only", err)
		}
		for _, bad := range []string{
			`INSERT INTO snippets (guild_id, name, name_key, content, author_id, created_at, updated_at) VALUES (1000, 'two words', 'two words', 'x', 1, 0, 0)`,
			`INSERT INTO snippets (guild_id, name, name_key, content, author_id, created_at, updated_at) VALUES (1000, 'Kept', 'kept', 'x', 1, 0, 0)`,
			`INSERT INTO snippets (guild_id, name, name_key, content, author_id, created_at, updated_at) VALUES (1000, 'Up', 'Up', 'x', 1, 0, 0)`,
			`INSERT INTO snippets (guild_id, name, name_key, content, author_id, created_at, updated_at) VALUES (1000, 'long', 'long', '` + strings.Repeat("x", snippets.MaxContentLength+1) + `', 1, 0, 0)`,
		} {
			if _, err := w.ExecContext(ctx, bad); err == nil {
				t.Errorf("%.90s…: accepted; want the schema to refuse it", bad)
			}
		}
		if got := kinds(t, s, sn.ID); len(got) != 1 {
			t.Errorf("history = %v", got)
		}
	})
}
