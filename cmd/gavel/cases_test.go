package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// seeded returns a database URL on engine e holding 25 cases in guild 10 and 1 in guild 11.
func seeded(t *testing.T, e store.Engine) string {
	t.Helper()
	url := storetest.URL(t, e)
	ctx := context.Background()
	st, err := store.OpenURL(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	svc := cases.NewService(st)
	var ns []cases.New
	for i := 0; i < 25; i++ {
		typ := cases.Warn
		if i%5 == 0 {
			typ = cases.Ban
		}
		ns = append(ns, cases.New{GuildID: 10, UserID: discord.UserID(100 + int64(i%2)), ModeratorID: 7, Type: typ, Reason: "reason number " + string(rune('a'+i))})
	}
	ns = append(ns, cases.New{GuildID: 11, UserID: 100, ModeratorID: 7, Type: cases.Kick, Reason: "elsewhere"})
	ns[2].RoleIDs = []discord.RoleID{1234567890123456789}
	ns[2].ExpiresAt = time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)
	if _, err := svc.CreateMany(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetReason(ctx, 10, 3, 8, "edited\nover two lines"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Void(ctx, 10, 4, 8, "wrong user"); err != nil {
		t.Fatal(err)
	}
	return url
}

func TestCasesCommands(t *testing.T) {
	t.Parallel()
	for _, e := range []store.Engine{store.SQLite, store.Postgres} {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			url := seeded(t, e)
			env := map[string]string{"GAVEL_DATABASE_URL": url}

			got := gavel(t, dir, env, "cases", "list", "--guild", "10", "--per-page", "10")
			if got.code != 0 {
				t.Fatalf("list: %d %s", got.code, got.stderr)
			}
			lines := strings.Split(strings.TrimSpace(got.stdout), "\n")
			if len(lines) != 12 || !strings.HasPrefix(lines[0], "CASE") || !strings.HasPrefix(lines[1], "#25") || !strings.HasPrefix(lines[10], "#16") {
				t.Errorf("list page 1:\n%s", got.stdout)
			}
			if lines[11] != "page 1 of 3 (25 cases)" {
				t.Errorf("footer %q", lines[11])
			}
			// A page past the end is the last page, and stderr says so (issue 12).
			got = gavel(t, dir, env, "cases", "list", "--guild", "10", "--per-page", "10", "--page", "999")
			lines = strings.Split(strings.TrimSpace(got.stdout), "\n")
			if got.code != 0 || lines[len(lines)-1] != "page 3 of 3 (25 cases)" || !strings.HasPrefix(lines[1], "#5") ||
				got.stderr != "there is no page 999 (3 pages); showing the last\n" {
				t.Errorf("--page 999: %d\n%s\nstderr %q", got.code, got.stdout, got.stderr)
			}

			got = gavel(t, dir, env, "cases", "list", "--guild", "10", "--type", "ban", "--user", "100", "--json")
			var page struct {
				Cases []cases.Case `json:"cases"`
				Total int64        `json:"total"`
				Pages int          `json:"pages"`
			}
			if err := json.Unmarshal([]byte(got.stdout), &page); err != nil {
				t.Fatalf("list --json: %v\n%s", err, got.stdout)
			}
			if page.Total != 3 || len(page.Cases) != 3 || page.Cases[0].Type != cases.Ban || page.Cases[0].UserID != 100 {
				t.Errorf("list --json: %+v", page)
			}
			if !strings.Contains(got.stdout, `"guild_id": "10"`) {
				t.Errorf("snowflakes must be JSON strings:\n%s", got.stdout)
			}

			got = gavel(t, dir, env, "cases", "list", "--status", "voided")
			if got.code != 0 || !strings.Contains(got.stdout, "GUILD") || !strings.Contains(got.stdout, "#4") || !strings.Contains(got.stdout, "(1 case)") {
				t.Errorf("list --status voided across guilds:\n%s%s", got.stdout, got.stderr)
			}

			got = gavel(t, dir, env, "cases", "show", "--guild", "10", "3")
			for _, want := range []string{"Case #3 in guild 10", "Saved roles 1234567890123456789", "Expires", "2030-01-02 03:04 UTC", "edited\n over two lines", "created as active", `reason by 8 "reason number c" → "edited`} {
				if !strings.Contains(squash(got.stdout), want) {
					t.Errorf("show #3 lacks %q:\n%s", want, got.stdout)
				}
			}
			got = gavel(t, dir, env, "cases", "show", "--guild", "10", "4")
			if !strings.Contains(got.stdout, "voided") || !strings.Contains(got.stdout, "wrong user") {
				t.Errorf("show #4:\n%s", got.stdout)
			}

			out := filepath.Join(t.TempDir(), "export.jsonl")
			got = gavel(t, dir, env, "cases", "export", "--guild", "10", "-o", out)
			if got.code != 0 || !strings.Contains(got.stderr, "exported 25 cases of guild 10") {
				t.Fatalf("export: %d %s", got.code, got.stderr)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			rows := strings.Split(strings.TrimSpace(string(data)), "\n")
			if len(rows) != 25 {
				t.Fatalf("export has %d lines, want 25", len(rows))
			}
			var third exported
			if err := json.Unmarshal([]byte(rows[2]), &third); err != nil {
				t.Fatal(err)
			}
			if third.Number != 3 || len(third.History) != 2 || third.History[1].Kind != cases.EventReason || len(third.RoleIDs) != 1 || third.RoleIDs[0] != 1234567890123456789 {
				t.Errorf("exported case #3: %+v", third)
			}
			stdout := gavel(t, dir, env, "cases", "export", "--guild", "11")
			if n := strings.Count(stdout.stdout, "\n"); n != 1 {
				t.Errorf("export to stdout: %d lines:\n%s", n, stdout.stdout)
			}
		})
	}
}

func TestCasesBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	url := seeded(t, store.SQLite)
	env := map[string]string{"GAVEL_DATABASE_URL": url}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"cases", "list", "--type", "yeet"}, `type: "yeet" is not a case type; accepted: BAN`},
		{[]string{"cases", "list", "--status", "open"}, `status: "open" is not a case status; accepted: pending, active, voided`},
		{[]string{"cases", "list", "--page", "0"}, "page: 0 is not a page; pages start at 1"},
		{[]string{"cases", "list", "--per-page", "500"}, "per page: 500 is out of range; accepted: 1 to 100"},
		{[]string{"cases", "list", "--guild=-3"}, "guild: -3 is not a Discord id"},
		{[]string{"cases", "show", "--guild", "10", "99"}, "case #99 in guild 10: case not found"},
		{[]string{"cases", "show", "--guild", "10", "0"}, "case number: 0 is not a case number"},
		{[]string{"cases", "export", "--guild", "0"}, "guild: 0 is not a Discord id"},
	} {
		got := gavel(t, dir, env, tc.args...)
		if got.code != 1 || !strings.Contains(got.stderr, tc.want) || strings.Count(got.stderr, "\n") != 1 {
			t.Errorf("%v: code %d, stderr %q; want one line containing %q", tc.args, got.code, got.stderr, tc.want)
		}
	}
	if got := gavel(t, dir, env, "cases", "show", "3"); got.code != 2 || !strings.Contains(got.stderr, "--guild") {
		t.Errorf("show without --guild: %d %q", got.code, got.stderr)
	}
}

func TestReadCommandsNeedADatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	got := gavel(t, dir, nil, "cases", "list")
	if got.code != 1 || !strings.Contains(got.stderr, "database file gavel.db does not exist: run 'gavel migrate up'") {
		t.Errorf("cases list without a database: %d %q", got.code, got.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "gavel.db")); err == nil {
		t.Error("a read command created gavel.db")
	}
	// migrate status and migrate down refuse a mistyped path too, and leave no file behind.
	for _, args := range [][]string{{"migrate", "status"}, {"migrate", "down", "--yes"}} {
		got := gavel(t, dir, nil, append([]string{"--database", "sqlite:typo.db"}, args...)...)
		if got.code != 1 || got.stdout != "" || got.stderr != "gavel: database file typo.db does not exist: run 'gavel migrate up' (or 'gavel run') to create it\n" {
			t.Errorf("%v on a missing file: %d %q %q", args, got.code, got.stdout, got.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "typo.db")); err == nil {
			t.Fatalf("%v created typo.db", args)
		}
	}
	// An existing, empty file is a database with every migration pending.
	if err := os.WriteFile(filepath.Join(dir, "unmigrated.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := gavel(t, dir, nil, "--database", "sqlite:unmigrated.db", "migrate", "status"); got.code != 0 || !strings.Contains(squash(got.stdout), "00001 pending") {
		t.Errorf("status of a new database: %d %q %q", got.code, got.stdout, got.stderr)
	}
	if got := gavel(t, dir, nil, "--database", "sqlite:unmigrated.db", "cases", "list"); got.code != 1 || !strings.Contains(got.stderr, "is not migrated (migration 1 is pending)") {
		t.Errorf("cases list on an unmigrated database: %d %q", got.code, got.stderr)
	}
}

func TestMigrateCommands(t *testing.T) {
	t.Parallel()
	for _, e := range []store.Engine{store.SQLite, store.Postgres} {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := map[string]string{"GAVEL_DATABASE_URL": storetest.URL(t, e)}
			type step struct {
				args     []string
				code     int
				contains string
			}
			// A fresh PostgreSQL schema exists and is empty; a SQLite file that is not
			// there is refused until migrate up creates it.
			first := step{[]string{"migrate", "status"}, 0, "00001 pending"}
			if e == store.SQLite {
				first = step{[]string{"migrate", "status"}, 1, "does not exist: run 'gavel migrate up'"}
			}
			steps := []step{
				first,
				{[]string{"migrate", "up"}, 0, "applied 00001"},
				{[]string{"migrate", "up"}, 0, "is up to date"},
				{[]string{"migrate", "status"}, 0, "00001 applied"},
				{[]string{"migrate", "status"}, 0, "00002 applied"},
				{[]string{"migrate", "status"}, 0, "00003 applied"},
				{[]string{"migrate", "down"}, 1, "--yes"},
				// Down to version 1 whatever the latest migration is, so that adding one
				// does not change this test.
				{[]string{"migrate", "down", "--to", "1", "--yes"}, 0, "rolled back 00002"},
				{[]string{"migrate", "down", "--yes"}, 0, "rolled back 00001"},
				{[]string{"migrate", "down", "--yes"}, 0, "nothing to roll back"},
				{[]string{"migrate", "up"}, 0, "applied 00003"},
				{[]string{"migrate", "down", "--to", "0", "--yes"}, 0, "rolled back 00001"},
				{[]string{"migrate", "down", "--to=-5", "--yes"}, 1, "give a migration version"},
			}
			for _, s := range steps {
				got := gavel(t, dir, env, s.args...)
				if got.code != s.code || !strings.Contains(squash(got.stdout+got.stderr), s.contains) {
					t.Fatalf("%v: code %d, out %q %q; want code %d containing %q", s.args, got.code, got.stdout, got.stderr, s.code, s.contains)
				}
			}
		})
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	got := gavel(t, dir, nil, "run")
	if got.code != 1 || !strings.Contains(got.stderr, "gavel: DISCORD_TOKEN is not set") {
		t.Errorf("run without a token: %d %q", got.code, got.stderr)
	}
	if !strings.Contains(got.stderr, `msg="database ready"`) || !strings.Contains(got.stderr, "migrations_applied=") || strings.Contains(got.stderr, "migrations_applied=0") {
		t.Errorf("run did not migrate the database first: %q", got.stderr)
	}
	// docs/cli.md shows this very output.
	doc := docBlock(t, "$ gavel run\n")
	if !slices.Equal(logShape(doc), logShape(got.stderr)) || !strings.HasSuffix(doc, got.stderr[strings.Index(got.stderr, "gavel: "):]) {
		t.Errorf("docs/cli.md's sample of run without a token is stale:\n doc %q\nreal %q", doc, got.stderr)
	}
	if got := gavel(t, dir, nil, "migrate", "status"); !strings.Contains(squash(got.stdout), "00001 applied") {
		t.Errorf("after run: %q", got.stdout)
	}
	got = gavel(t, dir, map[string]string{"GAVEL_DATABASE_URL": "postgres://postgres:hunter2@127.0.0.1:1/x?connect_timeout=1"}, "run")
	if got.code != 1 || !strings.Contains(got.stderr, "is unreachable") || strings.Contains(got.stderr, "hunter2") || strings.Count(got.stderr, "\n") != 1 {
		t.Errorf("run with an unreachable database: %d %q", got.code, got.stderr)
	}
}

// squash collapses runs of spaces, so that assertions do not depend on tabwriter's padding.
func squash(s string) string {
	return regexp.MustCompile(` +`).ReplaceAllString(s, " ")
}

func TestCasesPendingExpiry(t *testing.T) {
	t.Parallel()
	for _, e := range []store.Engine{store.SQLite, store.Postgres} {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			url := storetest.URL(t, e)
			ctx := context.Background()
			st, err := store.OpenURL(ctx, url, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.MigrateUp(ctx); err != nil {
				t.Fatal(err)
			}
			cs := cases.NewService(st)
			svc := expiry.NewService(st, cs)
			soon, later := time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC), time.Date(2030, 2, 2, 3, 4, 0, 0, time.UTC)
			for _, n := range []cases.New{
				{GuildID: 10, UserID: 100, ModeratorID: 7, Type: cases.Tempban, Reason: "raid", ExpiresAt: later},
				{GuildID: 10, UserID: 101, ModeratorID: 7, Type: cases.Jail, Reason: "spam", ExpiresAt: soon},
				{GuildID: 11, UserID: 100, ModeratorID: 7, Type: cases.Tempban, Reason: "elsewhere", ExpiresAt: soon},
			} {
				c, err := cs.Create(ctx, n)
				if err != nil {
					t.Fatal(err)
				}
				a, _ := actions.Catalogue().ByCase(c.Type)
				if _, err := svc.Schedule(ctx, c.ID, 7, a.Expiry, c.ExpiresAt); err != nil {
					t.Fatal(err)
				}
			}
			env := map[string]string{"GAVEL_DATABASE_URL": url}

			got := gavel(t, dir, env, "cases", "list", "--pending-expiry")
			lines := strings.Split(strings.TrimSpace(got.stdout), "\n")
			if got.code != 0 || len(lines) != 5 || !strings.HasPrefix(lines[0], "DUE") || !strings.Contains(lines[1], "2030-01-02 03:04 UTC") ||
				!strings.Contains(lines[3], "unban") || !strings.Contains(lines[3], "2030-02-02") || lines[4] != "page 1 of 1 (3 pending expiries)" {
				t.Errorf("list --pending-expiry: %d\n%s%s", got.code, got.stdout, got.stderr)
			}

			// One is "1 pending expiry", and a page past the end is the last one, said on stderr.
			got = gavel(t, dir, env, "cases", "list", "--pending-expiry", "--guild", "10", "--type", "jail", "--page", "4")
			lines = strings.Split(strings.TrimSpace(got.stdout), "\n")
			if got.code != 0 || len(lines) != 3 || lines[2] != "page 1 of 1 (1 pending expiry)" || got.stderr != "there is no page 4 (1 page); showing the last\n" {
				t.Errorf("one jail's expiry, page 4: %d\n%s%s", got.code, got.stdout, got.stderr)
			}

			got = gavel(t, dir, env, "cases", "list", "--pending-expiry", "--guild", "10", "--type", "tempban", "--json")
			var page struct {
				Expiries []struct {
					expiry.Action
					Case cases.Case `json:"case"`
				} `json:"expiries"`
				Total int `json:"total"`
			}
			if err := json.Unmarshal([]byte(got.stdout), &page); err != nil {
				t.Fatalf("--json: %v\n%s", err, got.stdout)
			}
			if page.Total != 1 || len(page.Expiries) != 1 || page.Expiries[0].Kind != expiry.Unban || page.Expiries[0].Case.Number != 1 || page.Expiries[0].GuildID != 10 {
				t.Errorf("--json: %+v", page)
			}

			got = gavel(t, dir, env, "cases", "show", "--guild", "10", "1")
			for _, want := range []string{"Expiry", "unban 2030-02-02 03:04 UTC scheduled", "scheduled by 7"} {
				if !strings.Contains(squash(got.stdout), want) {
					t.Errorf("show #1 lacks %q:\n%s", want, got.stdout)
				}
			}

			got = gavel(t, dir, env, "cases", "list", "--pending-expiry", "--status", "active")
			if got.code == 0 || !strings.Contains(got.stderr, "not --moderator or --status") {
				t.Errorf("--pending-expiry --status: %d %s", got.code, got.stderr)
			}
			got = gavel(t, dir, env, "cases", "list", "--pending-expiry", "--user", "999")
			if got.code != 0 || !strings.Contains(got.stdout, "no pending expiries match") {
				t.Errorf("no match: %d %s%s", got.code, got.stdout, got.stderr)
			}
		})
	}
}
