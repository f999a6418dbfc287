package store_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

func TestMigrateUpDownUp(t *testing.T) {
	t.Parallel()
	for _, e := range []store.Engine{store.SQLite, store.Postgres} {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := storetest.OpenUnmigrated(t, e)
			applied, err := st.MigrateUp(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(applied) == 0 {
				t.Fatal("no migration applied to an empty database")
			}
			if got := tables(t, st); !contains(got, "cases") || !contains(got, "case_events") || !contains(got, "guilds") || !contains(got, "guild_settings") || !contains(got, "settings_events") {
				t.Fatalf("tables after up: %v", got)
			}
			if _, err := st.MigrateDown(ctx, 0, true); err != nil {
				t.Fatal(err)
			}
			if got := tables(t, st); contains(got, "cases") || contains(got, "guilds") || contains(got, "case_events") || contains(got, "guild_settings") || contains(got, "permission_ranks") {
				t.Fatalf("tables after down to 0: %v", got)
			}
			status, err := st.MigrationStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range status {
				if m.Applied {
					t.Errorf("migration %d still applied after down to 0", m.Version)
				}
			}
			again, err := st.MigrateUp(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(applied, again); diff != "" {
				t.Errorf("second up applied different versions (-first +second):\n%s", diff)
			}
			if more, err := st.MigrateUp(ctx); err != nil || len(more) != 0 {
				t.Errorf("up on an up-to-date database: applied %v, err %v", more, err)
			}
		})
	}
}

// TestSchemasInLockstep keeps the two dialects' migrations describing the same tables and
// columns, so that the one generated query package fits both.
func TestSchemasInLockstep(t *testing.T) {
	t.Parallel()
	lite := storetest.Open(t, store.SQLite)
	pg := storetest.Open(t, store.Postgres)
	if diff := cmp.Diff(columns(t, pg), columns(t, lite)); diff != "" {
		t.Errorf("schemas differ (-postgres +sqlite):\n%s", diff)
	}
	ctx := context.Background()
	ls, err := lite.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := pg.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var lv, pv []int64
	for _, m := range ls {
		lv = append(lv, m.Version)
	}
	for _, m := range ps {
		pv = append(pv, m.Version)
	}
	if diff := cmp.Diff(pv, lv); diff != "" {
		t.Errorf("migration versions differ (-postgres +sqlite):\n%s", diff)
	}
}

func TestCaseEventsAppendOnly(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		mustExec(t, w, `INSERT INTO guilds (id, case_count, joined_at) VALUES (1, 1, 0)`)
		mustExec(t, w, `INSERT INTO cases (guild_id, number, type, status, reason, moderator_id, user_id, created_at, updated_at) VALUES (1, 1, 'WARN', 'active', 'r', 2, 3, 0, 0)`)
		mustExec(t, w, `INSERT INTO case_events (case_id, guild_id, kind, actor_id, created_at) SELECT id, 1, 'created', 2, 0 FROM cases`)
		if _, err := w.ExecContext(ctx, `UPDATE case_events SET note = 'x'`); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("update of case_events: err = %v, want append-only", err)
		}
		if _, err := w.ExecContext(ctx, `DELETE FROM case_events`); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("delete from case_events: err = %v, want append-only", err)
		}
	})
}

func TestSettingsEventsAppendOnly(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		mustExec(t, w, `INSERT INTO guilds (id, case_count, joined_at) VALUES (1, 0, 0)`)
		mustExec(t, w, `INSERT INTO settings_events (guild_id, actor_id, key, old_value, new_value, created_at) VALUES (1, 2, 'prefix', '$', '!', 0)`)
		if _, err := w.ExecContext(ctx, `UPDATE settings_events SET new_value = '?'`); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("update of settings_events: err = %v, want append-only", err)
		}
		if _, err := w.ExecContext(ctx, `DELETE FROM settings_events`); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("delete from settings_events: err = %v, want append-only", err)
		}
	})
}

func TestPermissionEventsAppendOnly(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		mustExec(t, w, `INSERT INTO guilds (id, case_count, joined_at) VALUES (1, 0, 0)`)
		mustExec(t, w, `INSERT INTO permission_events (guild_id, actor_id, key, old_value, new_value, created_at) VALUES (1, 2, 'rank 3', NULL, 'Moderator', 0)`)
		if _, err := w.ExecContext(ctx, `UPDATE permission_events SET new_value = 'Admin'`); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("update of permission_events: err = %v, want append-only", err)
		}
		if _, err := w.ExecContext(ctx, `DELETE FROM permission_events`); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("delete from permission_events: err = %v, want append-only", err)
		}
	})
}

// TestPermissionHistoryMoves: migration 6 moves the permission rows that settings_events
// held into permission_events, in their order, keeps the settings' rows where they were and
// the append-only guard on, and its down migration moves them back.
func TestPermissionHistoryMoves(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		if _, err := st.MigrateDown(ctx, 5, true); err != nil {
			t.Fatal(err)
		}
		mustExec(t, w, `INSERT INTO guilds (id, case_count, joined_at) VALUES (1, 0, 0)`)
		for _, row := range []string{
			`(1, 2, 'prefix', '$', '!', 10)`, `(1, 2, 'rank 3', NULL, 'Moderator', 11)`,
			`(1, 2, 'role 44', NULL, '3', 12)`, `(1, 2, 'jail_role', NULL, '55', 13)`, `(1, 2, 'command ban', '3', '5', 14)`,
		} {
			mustExec(t, w, `INSERT INTO settings_events (guild_id, actor_id, key, old_value, new_value, created_at) VALUES `+row)
		}
		if _, err := st.MigrateUp(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := inOrder(t, w, `SELECT key FROM settings_events ORDER BY id`), []string{"prefix", "jail_role"}; !cmp.Equal(got, want) {
			t.Errorf("settings_events after up: %v, want %v", got, want)
		}
		if got, want := inOrder(t, w, `SELECT key FROM permission_events ORDER BY id`), []string{"rank 3", "role 44", "command ban"}; !cmp.Equal(got, want) {
			t.Errorf("permission_events after up: %v, want %v", got, want)
		}
		if _, err := w.ExecContext(ctx, `DELETE FROM settings_events`); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("delete from settings_events after the move: err = %v, want append-only", err)
		}
		if _, err := st.MigrateDown(ctx, 5, true); err != nil {
			t.Fatal(err)
		}
		if got, want := inOrder(t, w, `SELECT key FROM settings_events ORDER BY id`), []string{"prefix", "jail_role", "rank 3", "role 44", "command ban"}; !cmp.Equal(got, want) {
			t.Errorf("settings_events after down: %v, want %v", got, want)
		}
	})
}

// TestRoleRanksFollowTheirRank: a role's rank must exist, and goes when the rank goes.
func TestRoleRanksFollowTheirRank(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		mustExec(t, w, `INSERT INTO guilds (id, case_count, joined_at) VALUES (1, 0, 0)`)
		if _, err := w.ExecContext(ctx, `INSERT INTO role_ranks (guild_id, role_id, rank) VALUES (1, 5, 3)`); err == nil {
			t.Error("a role was given a rank that does not exist")
		}
		mustExec(t, w, `INSERT INTO permission_ranks (guild_id, rank, name) VALUES (1, 3, 'Moderator')`)
		mustExec(t, w, `INSERT INTO role_ranks (guild_id, role_id, rank) VALUES (1, 5, 3)`)
		mustExec(t, w, `DELETE FROM permission_ranks WHERE guild_id = 1 AND rank = 3`)
		if n := strs(t, st.Reader(), `SELECT CAST(role_id AS TEXT) FROM role_ranks`); len(n) != 0 {
			t.Errorf("role ranks left after their rank was deleted: %v", n)
		}
	})
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	good := map[string]store.Engine{
		"sqlite:gavel.db":                                store.SQLite,
		"sqlite:///var/lib/gavel/gavel.db":               store.SQLite,
		"sqlite::memory:":                                store.SQLite,
		"postgres://u:p@127.0.0.1:5432/test":             store.Postgres,
		"postgresql://u@localhost/gavel?sslmode=disable": store.Postgres,
	}
	for raw, want := range good {
		loc, err := store.ParseURL(raw)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", raw, err)
			continue
		}
		if loc.Engine != want {
			t.Errorf("ParseURL(%q).Engine = %s, want %s", raw, loc.Engine, want)
		}
		if strings.Contains(loc.Redacted, ":p@") {
			t.Errorf("ParseURL(%q).Redacted leaks the password: %s", raw, loc.Redacted)
		}
		if loc.Shared() != (want == store.Postgres) {
			t.Errorf("ParseURL(%q).Shared() = %v; only PostgreSQL serves several processes", raw, loc.Shared())
		}
	}
	files := map[string]string{"sqlite:gavel.db": "gavel.db", "sqlite:///var/lib/gavel/gavel.db": "/var/lib/gavel/gavel.db",
		"sqlite::memory:": "", "postgres://u@h/db": ""}
	for raw, want := range files {
		loc, err := store.ParseURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := loc.File(); got != want || ok != (want != "") {
			t.Errorf("ParseURL(%q).File() = %q, %v; want %q", raw, got, ok, want)
		}
	}
	bad := map[string]string{
		"":                         "empty",
		"mysql://x":                `unsupported scheme "mysql"`,
		"gavel.db":                 "unsupported scheme",
		"sqlite:":                  "no file path",
		"sqlite:x.db?mode=ro":      "cannot be given",
		"postgres://":              "no host",
		"postgres://u:secret@h:x/": "malformed",
	}
	for raw, want := range bad {
		_, err := store.ParseURL(raw)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "accepted:") {
			t.Errorf("ParseURL(%q) = %v, want an error containing %q and the accepted forms", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseURL(%q) leaks the password: %v", raw, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := store.OpenURL(ctx, "sqlite:/nonexistent-dir/x/gavel.db", store.Options{}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing directory: %v", err)
	}
	_, err := store.OpenURL(ctx, "postgres://postgres:hunter2@127.0.0.1:1/test?connect_timeout=1", store.Options{})
	if err == nil || !strings.Contains(err.Error(), "unreachable") || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "\n") {
		t.Errorf("unreachable server: %v", err)
	}
	// MustExist opens an existing file and refuses to create a missing one.
	path := filepath.Join(t.TempDir(), "gavel.db")
	if _, err := store.OpenURL(ctx, "sqlite:"+path, store.Options{MustExist: true}); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("missing file with MustExist: %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused open created %s: %v", path, err)
	}
	st, err := store.OpenURL(ctx, "sqlite:"+path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = store.OpenURL(ctx, "sqlite:"+path, store.Options{MustExist: true})
	if err != nil {
		t.Fatalf("existing file with MustExist: %v", err)
	}
	st.Close()
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"sqlite:gavel.db", "postgres://u:p@h:5432/d", "sqlite:///a/b", "", "x:y", "postgres://u:p@h:x/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		loc, err := store.ParseURL(raw)
		if err != nil {
			if !strings.Contains(err.Error(), "accepted:") {
				t.Errorf("error without the accepted forms: %v", err)
			}
			return
		}
		if loc.Engine != store.SQLite && loc.Engine != store.Postgres {
			t.Errorf("engine %q", loc.Engine)
		}
		if loc.DSN == "" {
			t.Error("empty DSN")
		}
	})
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func tables(t *testing.T, st *store.Store) []string {
	t.Helper()
	q := `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	if st.Engine() == store.SQLite {
		q = `SELECT name FROM sqlite_master WHERE type = 'table'`
	}
	return strs(t, st.Reader(), q)
}

// columns maps each gavel table to its column names (goose's own table, SQLite's internal
// ones and its reason index are engine details and left out).
func columns(t *testing.T, st *store.Store) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, tbl := range tables(t, st) {
		// SQLite's trigram index of the reasons (a virtual table and its shadow tables) has no
		// table of PostgreSQL's to match: its full-text index is an index of cases.
		if tbl == "goose_db_version" || strings.HasPrefix(tbl, "sqlite_") || strings.HasPrefix(tbl, "cases_reason_trigrams") {
			continue
		}
		q := `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '` + tbl + `'`
		if st.Engine() == store.SQLite {
			q = `SELECT name FROM pragma_table_info('` + tbl + `')`
		}
		out[tbl] = strs(t, st.Reader(), q)
	}
	return out
}

func strs(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

// inOrder reads one text column, in the order the query gives.
func inOrder(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOnlyListingsMapTheFile: the pool of the listings that read many pages maps the file;
// the pool of point reads does not, because SQLite unmaps a connection's whole mapping at
// its first read after any commit, which on the command path cost more than it saved.
func TestOnlyListingsMapTheFile(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	read, scan, err := store.MmapSizes(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if read != 0 || scan != 1<<30 {
		t.Fatalf("mmap_size: point reads %d (want 0), listings %d (want %d)", read, scan, 1<<30)
	}
}

// TestWriterKeepsTemporaryFilesInMemory: the writer's statement journals stay in memory
// (temp_store MEMORY); the readers keep SQLite's default.
func TestWriterKeepsTemporaryFilesInMemory(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	var write, read int
	if err := st.WriteDB().QueryRowContext(ctx, "PRAGMA temp_store").Scan(&write); err != nil {
		t.Fatal(err)
	}
	if err := st.Reader().QueryRowContext(ctx, "PRAGMA temp_store").Scan(&read); err != nil {
		t.Fatal(err)
	}
	if write != 2 || read != 0 {
		t.Fatalf("temp_store: writer %d (want 2, memory), reader %d (want 0, the default)", write, read)
	}
}

// TestBatchContext: a batch outlives its callers' contexts on both engines; on PostgreSQL it
// is bounded in time, on SQLite it has nothing to end it (busy_timeout bounds its only
// wait), so that the driver watches no context for every statement.
func TestBatchContext(t *testing.T) {
	t.Parallel()
	for _, e := range []store.Engine{store.SQLite, store.Postgres} {
		t.Run(string(e), func(t *testing.T) {
			st := storetest.Open(t, e)
			caller, cancelCaller := context.WithCancel(context.Background())
			ctx, cancel := store.BatchContext(caller, st)
			defer cancel()
			cancelCaller()
			if ctx.Err() != nil {
				t.Fatalf("the batch's context ended with its caller's: %v", ctx.Err())
			}
			_, hasDeadline := ctx.Deadline()
			switch e {
			case store.SQLite:
				if ctx.Done() != nil || hasDeadline {
					t.Errorf("SQLite batch context: Done %v, deadline %v; want neither", ctx.Done() != nil, hasDeadline)
				}
			case store.Postgres:
				if !hasDeadline {
					t.Error("PostgreSQL batch context has no deadline")
				}
			}
		})
	}
}
