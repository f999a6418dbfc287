// Package storetest gives tests a migrated store on every engine: always a fresh SQLite file,
// and a PostgreSQL schema of their own when GAVEL_TEST_DATABASE_URL (or the local default)
// answers. With GAVEL_REQUIRE_POSTGRES=1 an unreachable server fails the test instead of
// skipping it, so CI cannot silently lose half of the suite.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/store"
)

// DefaultPostgresURL is used when GAVEL_TEST_DATABASE_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable&connect_timeout=3"

// Each runs fn as a subtest once per engine, each with a freshly migrated store.
func Each(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Helper()
	EachWith(t, store.Options{}, fn)
}

// EachWith is Each with stores opened with opts (MaxOpenConns is 20 when not set).
func EachWith(t *testing.T, opts store.Options, fn func(t *testing.T, st *store.Store)) {
	t.Helper()
	for _, e := range []store.Engine{store.SQLite, store.Postgres} {
		t.Run(string(e), func(t *testing.T) {
			fn(t, OpenWith(t, e, opts))
		})
	}
}

// Open returns a migrated store on engine e that is closed and removed when the test ends.
func Open(t testing.TB, e store.Engine) *store.Store {
	t.Helper()
	return OpenWith(t, e, store.Options{})
}

// OpenWith is Open with opts (MaxOpenConns is 20 when not set).
func OpenWith(t testing.TB, e store.Engine, opts store.Options) *store.Store {
	t.Helper()
	if e == store.Postgres {
		// A migrated schema from the pool (pool.go), when it can give one.
		if u := pooledPostgresURL(t); u != "" {
			return openURL(t, e, u, opts)
		}
	}
	st := openUnmigrated(t, e, opts)
	if _, err := st.MigrateUp(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", e, err)
	}
	return st
}

// MigratedURL returns the URL of a migrated database on engine e for a test that opens it
// itself, or hands it to an App or a gavel process (which migrate at start and find
// nothing to do): on PostgreSQL a schema from the pool (pool.go), held by t and emptied for
// the next test when t ends; otherwise a new database, migrated. Separate processes given
// the URL share the database.
func MigratedURL(t testing.TB, e store.Engine) string {
	t.Helper()
	if e == store.Postgres {
		if u := pooledPostgresURL(t); u != "" {
			return u
		}
	}
	u := URL(t, e)
	st, err := store.OpenURL(context.Background(), u, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatalf("open %s: %v", e, err)
	}
	defer st.Close()
	if _, err := st.MigrateUp(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", e, err)
	}
	return u
}

// OpenUnmigrated returns an empty store on engine e.
func OpenUnmigrated(t testing.TB, e store.Engine) *store.Store {
	t.Helper()
	return openUnmigrated(t, e, store.Options{})
}

func openUnmigrated(t testing.TB, e store.Engine, opts store.Options) *store.Store {
	t.Helper()
	return openURL(t, e, URL(t, e), opts)
}

func openURL(t testing.TB, e store.Engine, raw string, opts store.Options) *store.Store {
	t.Helper()
	if opts.MaxOpenConns == 0 {
		opts.MaxOpenConns = 20
	}
	st, err := store.OpenURL(context.Background(), raw, opts)
	if err != nil {
		t.Fatalf("open %s: %v", e, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// URL returns a database URL for a new, empty database on engine e: a SQLite file in the
// test's temporary directory, or a PostgreSQL URL whose search_path is a new schema that is
// dropped when the test ends. Separate processes given the same URL share the database.
func URL(t testing.TB, e store.Engine) string {
	t.Helper()
	switch e {
	case store.SQLite:
		return "sqlite:" + filepath.Join(t.TempDir(), "gavel.db")
	case store.Postgres:
		return postgresSchemaURL(t)
	default:
		t.Fatalf("unknown engine %q", e)
		return ""
	}
}

// PostgresURL is the server the PostgreSQL tests use.
func PostgresURL() string {
	if u := os.Getenv("GAVEL_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// adminDB opens the test server's database, skipping t (failing it under
// GAVEL_REQUIRE_POSTGRES=1) when the server does not answer.
func adminDB(t testing.TB) *sql.DB {
	t.Helper()
	base := PostgresURL()
	admin, err := sql.Open("pgx", base)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = admin.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if admin != nil {
			admin.Close()
		}
		if os.Getenv("GAVEL_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL at %s is required (GAVEL_REQUIRE_POSTGRES=1) but unreachable: %v", base, err)
		}
		t.Skipf("PostgreSQL at %s unreachable (set GAVEL_TEST_DATABASE_URL): %v", base, err)
	}
	return admin
}

func postgresSchemaURL(t testing.TB) string {
	t.Helper()
	base := PostgresURL()
	admin := adminDB(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("GAVEL_TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
