package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/gavelbot/gavel/internal/store"
)

// SeedCase is one case a seed writes straight into the cases table: the columns a
// benchmark varies (every seeded case is processed).
type SeedCase struct {
	Number, ModeratorID, UserID int64
	// CreatedAt (also the case's updated_at) and ExpiresAt are Unix milliseconds; a nil
	// ExpiresAt never expires.
	CreatedAt    int64
	ExpiresAt    *int64
	Type, Status string
	Reason       string
}

// KeptDB returns the URL of a migrated database that outlives the test, for benchmarks whose
// seed takes minutes: a SQLite file in GAVEL_BENCH_DIR (default the system's temporary
// directory), or a PostgreSQL database on the test server, both named after name. When
// ready says an earlier run left it complete it is returned as it is; otherwise it is
// emptied, migrated again and handed to fill. An unreachable PostgreSQL skips the test.
func KeptDB(tb testing.TB, e store.Engine, name string, ready func(ctx context.Context, st *store.Store) (bool, error),
	fill func(ctx context.Context, st *store.Store) error) string {
	tb.Helper()
	ctx := context.Background()
	var dbURL string
	// reset empties the database for a fresh seed.
	var reset func() error
	switch e {
	case store.SQLite:
		dir := os.Getenv("GAVEL_BENCH_DIR")
		if dir == "" {
			dir = os.TempDir()
		}
		file := filepath.Join(dir, strings.ReplaceAll(name, "_", "-")+".db")
		dbURL = "sqlite:" + file
		reset = func() error {
			for _, f := range []string{file, file + "-wal", file + "-shm"} {
				if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
					return err
				}
			}
			return nil
		}
	case store.Postgres:
		base, err := url.Parse(PostgresURL())
		if err != nil {
			tb.Fatal(err)
		}
		admin, err := sql.Open("pgx", base.String())
		if err != nil {
			tb.Fatal(err)
		}
		defer admin.Close()
		if err := admin.PingContext(ctx); err != nil {
			tb.Skipf("PostgreSQL at %s unreachable: %v", base, err)
		}
		var exists bool
		if err := admin.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
			tb.Fatal(err)
		}
		if !exists {
			if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
				tb.Fatal(err)
			}
		}
		reset = func() error {
			if _, err := admin.ExecContext(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
				return err
			}
			_, err := admin.ExecContext(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
			return err
		}
		base.Path = "/" + name
		dbURL = base.String()
	default:
		tb.Fatalf("no kept database for engine %q", e)
	}
	open := func() *store.Store {
		st, err := store.OpenURL(ctx, dbURL, store.Options{MaxOpenConns: 2})
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := st.MigrateUp(ctx); err != nil {
			st.Close()
			tb.Fatal(err)
		}
		return st
	}
	st := open()
	ok, err := ready(ctx, st)
	st.Close()
	if err != nil {
		tb.Fatalf("checking %s: %v", dbURL, err)
	}
	if ok {
		return dbURL
	}
	if err := reset(); err != nil {
		tb.Fatalf("emptying %s: %v", dbURL, err)
	}
	st = open()
	defer st.Close()
	tb.Logf("seeding %s on %s (once; later runs reuse it)", name, e)
	if err := fill(ctx, st); err != nil {
		tb.Fatalf("seeding %s: %v", dbURL, err)
	}
	return dbURL
}

// GuildCaseCount is the guild's case counter (guilds.case_count); 0 for a guild the
// database does not have. SeedCases writes it last, so a seed stopped half-way leaves it
// short.
func GuildCaseCount(ctx context.Context, st *store.Store, guildID int64) (int64, error) {
	var n int64
	err := st.Writer().QueryRowContext(ctx, "SELECT case_count FROM guilds WHERE id = $1", guildID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// SeedCases writes a guild (joined at joinedAt) and the cases gen yields, numbered as
// given, straight into the tables in large transactions: COPY on PostgreSQL, multi-row
// INSERTs on SQLite. The tables' own triggers write each case's "created" history row, as
// for every case. On PostgreSQL the table is then analyzed, as autovacuum would soon do;
// gavel never runs ANALYZE on SQLite, so its planner works without statistics there, as in
// production. Last, the guild's case counter is set to the number of cases written.
func SeedCases(ctx context.Context, st *store.Store, guildID int64, joinedAt time.Time, gen func(yield func(SeedCase) error) error) error {
	db := st.Writer()
	if _, err := db.ExecContext(ctx, "INSERT INTO guilds (id, case_count, joined_at) VALUES ($1, 0, $2)", guildID, joinedAt.UnixMilli()); err != nil {
		return fmt.Errorf("guild: %w", err)
	}
	const chunk = 100_000
	batch := make([]SeedCase, 0, chunk)
	written := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var err error
		if st.Engine() == store.Postgres {
			err = copyCases(ctx, db, guildID, batch)
		} else {
			err = insertCases(ctx, db, guildID, batch)
		}
		written += len(batch)
		batch = batch[:0]
		return err
	}
	err := gen(func(c SeedCase) error {
		batch = append(batch, c)
		if len(batch) == chunk {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	if st.Engine() == store.Postgres {
		if _, err := db.ExecContext(ctx, "VACUUM ANALYZE cases"); err != nil {
			return fmt.Errorf("analyze: %w", err)
		}
	}
	if _, err := db.ExecContext(ctx, "UPDATE guilds SET case_count = $1 WHERE id = $2", written, guildID); err != nil {
		return fmt.Errorf("case count: %w", err)
	}
	return nil
}

var seedColumns = []string{"guild_id", "number", "type", "status", "processed", "reason", "moderator_id", "user_id", "expires_at", "created_at", "updated_at"}

func copyCases(ctx context.Context, db *sql.DB, guildID int64, cs []SeedCase) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		rows := make([][]any, len(cs))
		for i, c := range cs {
			rows[i] = []any{guildID, c.Number, c.Type, c.Status, true, c.Reason, c.ModeratorID, c.UserID, c.ExpiresAt, c.CreatedAt, c.CreatedAt}
		}
		if _, err := pc.CopyFrom(ctx, pgx.Identifier{"cases"}, seedColumns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy cases: %w", err)
		}
		return nil
	})
}

func insertCases(ctx context.Context, db *sql.DB, guildID int64, cs []SeedCase) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	const perStmt = 500
	for len(cs) > 0 {
		k := min(perStmt, len(cs))
		var q strings.Builder
		q.WriteString("INSERT INTO cases (" + strings.Join(seedColumns, ", ") + ") VALUES ")
		args := make([]any, 0, k*len(seedColumns))
		for i, c := range cs[:k] {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			var exp any
			if c.ExpiresAt != nil {
				exp = *c.ExpiresAt
			}
			args = append(args, guildID, c.Number, c.Type, c.Status, 1, c.Reason, c.ModeratorID, c.UserID, exp, c.CreatedAt, c.CreatedAt)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("insert cases: %w", err)
		}
		cs = cs[k:]
	}
	return tx.Commit()
}
