package storetest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/postgres"
)

// The pool of migrated PostgreSQL schemas.
//
// Migrating a fresh schema took 1-1.7 s on the shared 2-core machine, and more than a
// hundred store tests each did it, every run. The pool keeps migrated schemas in the test
// database instead, named after a hash of the migrations (tp_<hash>_<n>), and shares them
// between the test processes that `go test ./...` runs at once and between runs:
//
//   - A test claims a schema by taking a session advisory lock on its name (class
//     poolLockClass) on a connection it holds until the test ends; a process that dies
//     releases its locks with its connections.
//   - A schema is handed out only when its comment says it is ready for these migrations
//     (poolReady + the catalogue's fingerprint). The claim replaces the comment with
//     poolInUse, so a test that dies half-way leaves it marked, and the next claim builds
//     the schema again (drop, create, migrate) instead of handing out its rows.
//   - When the test ends, every table but goose's that holds a row is truncated and every
//     sequence used is restarted. The schema is marked ready again only if its catalogue
//     (tables, columns, defaults, constraints, indexes, triggers and whether they are
//     enabled, functions, goose's versions) still has the fingerprint it had when it was
//     migrated: a test that migrated it down or changed it leaves it to be built again.
//
// A freshly migrated schema holds rows only in goose's table (the migrations that move
// data find none); a pool schema that holds others after migrating is not used, and such
// tests get a fresh schema of their own as before.

// poolLockClass is the first key of the pool's advisory locks (two int4 keys: a space of
// their own, apart from gavel's single-bigint locks).
const poolLockClass = 0x6776 // "gv"

// poolSize bounds the pool: more tests at once than this get fresh schemas.
const poolSize = 64

// gooseTable is goose's version table, the one table a fresh schema has rows in.
const gooseTable = "goose_db_version"

const (
	poolReady = "gavel test pool: ready "
	poolInUse = "gavel test pool: in use"
)

// migrationsHash is a hash of PostgreSQL's migrations: a pool schema is for one version
// of them.
var migrationsHash = sync.OnceValues(func() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(postgres.Migrations, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(postgres.Migrations, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:10], err
})

// pooledPostgresURL returns the URL of a migrated schema from the pool, held by t until
// it ends, or "" when the pool cannot serve it (then the caller migrates a fresh schema).
// An unreachable server skips or fails t as URL does.
func pooledPostgresURL(t testing.TB) string {
	t.Helper()
	hash, err := migrationsHash()
	if err != nil {
		t.Fatalf("hashing the migrations: %v", err)
	}
	admin := poolDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dropStale(ctx, t, admin, hash)
	conn, err := admin.Conn(ctx)
	if err != nil {
		t.Fatalf("schema pool: %v", err)
	}
	release := func() { conn.Close() }
	for i := range poolSize {
		schema := fmt.Sprintf("tp_%s_%d", hash, i)
		var mine bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1, hashtext($2))", poolLockClass, schema).Scan(&mine); err != nil {
			release()
			t.Fatalf("schema pool: %v", err)
		}
		if !mine {
			continue
		}
		// The connection goes back to the process's pool (its catalogue caches warm for
		// the next claim) once the lock is released; a connection that cannot release it
		// is thrown away, and the lock with it.
		release = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1, hashtext($2))", poolLockClass, schema); err != nil {
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
			conn.Close()
		}
		u, fp, err := claim(ctx, t, conn, schema)
		if err != nil {
			release()
			t.Fatalf("schema pool: %s: %v", schema, err)
		}
		if u == "" {
			// Its migrations leave rows behind: the pool cannot reset it.
			release()
			return ""
		}
		t.Cleanup(func() {
			defer release()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := giveBack(ctx, conn, schema, fp); err != nil {
				t.Logf("schema pool: %s is left to be built again: %v", schema, err)
			}
		})
		return u
	}
	release()
	return ""
}

// poolDB is the process's connections to the test server for the pool: shared by its
// tests, never closed (the process's end closes them).
var poolDB = func() func(t testing.TB) *sql.DB {
	var mu sync.Mutex
	var db *sql.DB
	return func(t testing.TB) *sql.DB {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if db == nil {
			db = adminDB(t)
			// Few idle connections, closed soon: the server's connections are shared with
			// every other test process (100 by default).
			db.SetMaxIdleConns(2)
			db.SetConnMaxIdleTime(10 * time.Second)
		}
		return db
	}
}()

// staleAfter is how long a pool schema of other migrations (another branch's) is kept
// after its last use.
const staleAfter = 24 * time.Hour

var staleOnce sync.Once

// dropStale drops, once a process, the pool schemas of other migrations that no test has
// given back for staleAfter and none holds now.
func dropStale(ctx context.Context, t testing.TB, db *sql.DB, hash string) {
	staleOnce.Do(func() {
		conn, err := db.Conn(ctx)
		if err != nil {
			return
		}
		defer conn.Close()
		rows, err := conn.QueryContext(ctx, `SELECT nspname, COALESCE(obj_description(oid, 'pg_namespace'), '') FROM pg_namespace
			WHERE nspname LIKE 'tp\_%' AND nspname NOT LIKE $1`, "tp\\_"+hash+"\\_%")
		if err != nil {
			return
		}
		var stale []string
		for rows.Next() {
			var name, comment string
			if rows.Scan(&name, &comment) != nil {
				continue
			}
			rest, ready := strings.CutPrefix(comment, poolReady)
			_, at, _ := strings.Cut(rest, " ")
			var unix int64
			fmt.Sscan(at, &unix)
			if !ready || time.Since(time.Unix(unix, 0)) > staleAfter {
				stale = append(stale, name)
			}
		}
		rows.Close()
		for _, name := range stale {
			var mine bool
			if conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1, hashtext($2))", poolLockClass, name).Scan(&mine) != nil || !mine {
				continue
			}
			if _, err := conn.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
				t.Logf("schema pool: dropping %s, of other migrations: %v", name, err)
			}
			_, _ = conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1, hashtext($2))", poolLockClass, name)
		}
	})
}

// claim readies schema, whose lock conn holds, and returns its URL and its catalogue's
// fingerprint as migrated: as it is when it is marked ready for these migrations, or built
// again. "" means a fresh migration leaves rows outside goose's table.
func claim(ctx context.Context, t testing.TB, conn *sql.Conn, schema string) (string, string, error) {
	u, err := schemaURL(schema)
	if err != nil {
		return "", "", err
	}
	var comment sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = $1", schema).Scan(&comment); err != nil && err != sql.ErrNoRows {
		return "", "", err
	}
	fp, ready := strings.CutPrefix(comment.String, poolReady)
	fp, _, _ = strings.Cut(fp, " ")
	if !ready {
		if fp, err = build(ctx, t, conn, schema, u); err != nil || fp == "" {
			return "", "", err
		}
	}
	if err := setComment(ctx, conn, schema, poolInUse); err != nil {
		return "", "", err
	}
	return u, fp, nil
}

// build makes schema again, migrated, and returns its catalogue's fingerprint ("" when
// the migrations left rows the pool would not restore).
func build(ctx context.Context, t testing.TB, conn *sql.Conn, schema, u string) (string, error) {
	id := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+id+" CASCADE"); err != nil {
		return "", err
	}
	if _, err := conn.ExecContext(ctx, "CREATE SCHEMA "+id); err != nil {
		return "", err
	}
	st, err := store.OpenURL(ctx, u, store.Options{MaxOpenConns: 2})
	if err != nil {
		return "", err
	}
	_, err = st.MigrateUp(ctx)
	st.Close()
	if err != nil {
		return "", fmt.Errorf("migrate: %w", err)
	}
	used, err := tablesWithRows(ctx, conn, schema)
	if err != nil {
		return "", err
	}
	if len(used) > 0 {
		t.Logf("schema pool: migrating leaves rows in %v; the test gets a schema of its own", used)
		_, err := conn.ExecContext(ctx, "DROP SCHEMA "+id+" CASCADE")
		return "", err
	}
	return fingerprint(ctx, conn, schema)
}

// giveBack empties schema after a test and marks it ready again, if its catalogue is as
// migrated; otherwise it stays marked in use and is built again by its next claim. It is
// one transaction, committed without waiting for the disk (a crash loses it whole, and the
// schema stays marked in use): a TRUNCATE of the tables took 1.5 s at load 20, each its
// files made anew and synced. A superuser deletes the rows instead, with the triggers (the
// history tables' append-only guards, the foreign keys') off for the transaction.
func giveBack(ctx context.Context, conn *sql.Conn, schema, want string) error {
	used, err := tablesWithRows(ctx, conn, schema)
	if err != nil {
		return err
	}
	var super bool
	if err := conn.QueryRowContext(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		return err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	// A connection the test left behind (a process killed a moment ago) may still hold a
	// lock: wait for it a while, not forever.
	settings := "SET LOCAL lock_timeout = '20s'; SET LOCAL synchronous_commit = off"
	if super {
		settings += "; SET LOCAL session_replication_role = replica"
	}
	if _, err := tx.ExecContext(ctx, settings); err != nil {
		return err
	}
	if len(used) > 0 {
		names := make([]string, len(used))
		for i, tbl := range used {
			names[i] = pgx.Identifier{schema, tbl}.Sanitize()
		}
		if super {
			for _, n := range names {
				if _, err := tx.ExecContext(ctx, "DELETE FROM "+n); err != nil {
					return fmt.Errorf("delete from %s: %w", n, err)
				}
			}
		} else if _, err := tx.ExecContext(ctx, "TRUNCATE "+strings.Join(names, ", ")+" CASCADE"); err != nil {
			return fmt.Errorf("truncate: %w", err)
		}
	}
	// Every sequence used starts again (goose's own is left alone, with its table).
	if _, err := tx.ExecContext(ctx, `SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false) FROM pg_sequences
		WHERE schemaname = $1 AND last_value IS NOT NULL AND sequencename NOT LIKE $2`, schema, gooseTable+"%"); err != nil {
		return fmt.Errorf("restart the sequences: %w", err)
	}
	fp, err := fingerprint(ctx, tx, schema)
	if err != nil {
		return err
	}
	if fp != want {
		return fmt.Errorf("its catalogue changed during the test (fingerprint %s, migrated %s)", fp, want)
	}
	if err := setComment(ctx, tx, schema, fmt.Sprintf("%s%s %d", poolReady, fp, time.Now().Unix())); err != nil {
		return err
	}
	return tx.Commit()
}

// querier is a connection or a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func setComment(ctx context.Context, conn querier, schema, comment string) error {
	_, err := conn.ExecContext(ctx, "COMMENT ON SCHEMA "+pgx.Identifier{schema}.Sanitize()+" IS "+quote(comment))
	return err
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// tablesWithRows lists schema's tables, goose's apart, that hold at least one row.
func tablesWithRows(ctx context.Context, conn querier, schema string) ([]string, error) {
	rows, err := conn.QueryContext(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> $2 ORDER BY 1`, schema, gooseTable)
	if err != nil {
		return nil, err
	}
	var tables []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return nil, err
		}
		tables = append(tables, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(tables) == 0 {
		return nil, nil
	}
	parts := make([]string, len(tables))
	for i, tbl := range tables {
		parts[i] = fmt.Sprintf("SELECT %s WHERE EXISTS (SELECT 1 FROM %s)", quote(tbl), pgx.Identifier{schema, tbl}.Sanitize())
	}
	rows, err = conn.QueryContext(ctx, strings.Join(parts, " UNION ALL "))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var used []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		used = append(used, s)
	}
	return used, rows.Err()
}

// fingerprint hashes schema's catalogue: what a test could change that TRUNCATE does not
// put back.
func fingerprint(ctx context.Context, conn querier, schema string) (string, error) {
	var fp string
	err := conn.QueryRowContext(ctx, `
SELECT md5(COALESCE(string_agg(x, E'\n' ORDER BY x), '')) FROM (
	SELECT 'rel ' || c.relname || ' ' || c.relkind::text || ' ' || c.relpersistence::text || ' (' || COALESCE((
		SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text || ' ' ||
			COALESCE(pg_get_expr(d.adbin, d.adrelid), ''), ', ' ORDER BY a.attnum)
		FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')' AS x
	FROM pg_class c WHERE c.relnamespace = $1::regnamespace
	UNION ALL SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
		WHERE c.relnamespace = $1::regnamespace
	UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
		WHERE connamespace = $1::regnamespace
	UNION ALL SELECT 'trigger ' || t.tgname || ' ' || t.tgenabled::text || ' ' || pg_get_triggerdef(t.oid) FROM pg_trigger t
		JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = $1::regnamespace AND NOT t.tgisinternal
	UNION ALL SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') ' || md5(p.prosrc)
		FROM pg_proc p WHERE p.pronamespace = $1::regnamespace
	UNION ALL SELECT 'goose ' || version_id::text || ' ' || is_applied::text FROM `+pgx.Identifier{schema, gooseTable}.Sanitize()+`
) parts`, schema).Scan(&fp)
	return fp, err
}

// schemaURL is the test server's URL with search_path set to schema.
func schemaURL(schema string) (string, error) {
	u, err := url.Parse(PostgresURL())
	if err != nil {
		return "", fmt.Errorf("GAVEL_TEST_DATABASE_URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
