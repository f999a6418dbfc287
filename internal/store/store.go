// Package store opens gavel's database (an embedded SQLite file or PostgreSQL), applies its
// migrations, and hands the domain packages the unit of work (Tx) and the operations they
// need. Each engine owns its migrations, its queries and the package sqlc generates from
// them (internal/store/sqlite, internal/store/postgres); both serve the same query.Queries.
// Only this package and the engines know which engine runs.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/gavelbot/gavel/internal/store/postgres"
	"github.com/gavelbot/gavel/internal/store/sqlite"
)

// Options tune the connection pools.
type Options struct {
	// MaxOpenConns bounds the reading pool (and, on PostgreSQL, the whole pool). Zero means 10.
	MaxOpenConns int
	// GroupCommit says whether GroupTx shares transactions (the engine's choice by default).
	GroupCommit GroupCommit
	// MustExist refuses to create the database: opening a SQLite file that does not exist
	// fails with ErrNotExist instead of creating it. (A PostgreSQL database is never created.)
	MustExist bool
}

// ErrNotExist is returned by Open with Options.MustExist for a database that does not exist.
var ErrNotExist = errors.New("does not exist")

// Store is an open database. On SQLite it keeps three pools over the same file: a writer
// with one connection, so that writers queue in Go instead of sleeping in SQLite's busy
// handler, a read-only pool for everything else, and a read-only pool that maps the file for
// the listings that read many pages (see openSQLite). On PostgreSQL all are the same pool.
type Store struct {
	Location Location
	write    *sql.DB
	read     *sql.DB
	scan     *sql.DB
	// Statement caches, on SQLite only (see stmtCache).
	writeCache, readCache *stmtCache
	// The group commits: of case creation (always), and of GroupTx (nil when off).
	batch batcher
	upd   *updater
	// changes are the subscribers to the changes processes announce (changes.go).
	changes changes
	// trigramLimit overrides trigramCandidateLimit when not 0 (tests).
	trigramLimit int
	// reasonMark is a mark SQLite's reason trigram index is known to have reached
	// (raiseReasonMark).
	reasonMark atomic.Int64
	// checks lets CaseBySourceEvent skip its read on SQLite (eventChecks).
	checks eventChecks
	// handled lets EventHandled skip its read on SQLite once the process holds the database
	// alone (handledEvents).
	handled handledEvents
}

// groupCommits sets up the group commits for the engine. PostgreSQL gains from a few
// batches in flight: while one waits for its commit to reach disk the next is already on
// the wire. SQLite has one writer connection anyway.
func (s *Store) groupCommits(opt GroupCommit) *Store {
	slots := 1
	if s.Location.Engine == Postgres {
		slots = 2
	}
	s.batch.sem = make(chan struct{}, slots)
	on := s.Location.Engine == SQLite
	switch opt {
	case GroupOn:
		on = true
	case GroupOff:
		on = false
	}
	if on {
		s.upd = &updater{s: s, sem: make(chan struct{}, slots)}
		if s.Location.Engine == Postgres {
			s.upd.transient = postgres.Transient
		}
	}
	return s
}

// Open connects to the database at loc and checks that it answers. It does not migrate.
func Open(ctx context.Context, loc Location, opts Options) (*Store, error) {
	if opts.MaxOpenConns <= 0 {
		opts.MaxOpenConns = 10
	}
	switch loc.Engine {
	case SQLite:
		return openSQLite(ctx, loc, opts)
	case Postgres:
		return openPostgres(ctx, loc, opts)
	default:
		return nil, fmt.Errorf("open database: unknown engine %q", loc.Engine)
	}
}

// OpenURL parses raw and opens it.
func OpenURL(ctx context.Context, raw string, opts Options) (*Store, error) {
	loc, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	return Open(ctx, loc, opts)
}

func openSQLite(ctx context.Context, loc Location, opts Options) (*Store, error) {
	if loc.Path != ":memory:" && opts.MustExist {
		if _, err := os.Stat(loc.Path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("database file %s %w", loc.Path, ErrNotExist)
		}
	}
	if loc.Path != ":memory:" {
		dir := filepath.Dir(loc.Path)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("database %s: the directory %s does not exist; create it (mkdir -p %s) or change database.url", loc.Redacted, dir, dir)
		}
	}
	// The writer keeps its temporary files in memory. Above all the statement journal: an
	// insert of a case (its indexes, its history trigger) inside a batch's transaction
	// journals the pages it changes so that it can be undone alone, and SQLite spilled that
	// journal to a temporary file it created, wrote and deleted again, system calls that were
	// 5% of gavel's CPU per command (docs/benchmarks.md, "gavel's own CPU per command"). Its
	// size is a statement's pages; a migration's index build sorts in memory too (tens of MB
	// for a million cases, for the migration's length).
	write, err := sql.Open("sqlite", loc.DSN+"&_pragma=temp_store(2)")
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", loc.Redacted, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		// SQLite's "(14)" and "(1544)" name no file and no fix: say which and why.
		return nil, fmt.Errorf("database %s: %w", loc.Redacted, explainSQLite(loc.Path, err))
	}
	read, err := sql.Open("sqlite", loc.DSN+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("database %s: %w", loc.Redacted, err)
	}
	read.SetMaxOpenConns(opts.MaxOpenConns)
	read.SetMaxIdleConns(opts.MaxOpenConns)
	// The listings that may read most of a guild's cases (ListCases, CountCases: the case
	// browser's filters) map the file (up to 1 GiB, address space only) instead of reading
	// each page with a system call into a 2 MB page cache: a rare word in the reason went
	// from 1.3 s to 0.27 s at a million cases (docs/benchmarks.md "Case browser"). The point
	// reads do not: in WAL mode SQLite unmaps a connection's whole mapping at the first read
	// after any commit, and on the command path (a read of the case for the mod log after
	// every write) that munmap was 4% of gavel's CPU per command (docs/benchmarks.md,
	// "Issue 11"). The writer keeps ordinary reads.
	scan, err := sql.Open("sqlite", loc.DSN+"&_pragma=query_only(1)&_pragma=mmap_size(1073741824)")
	if err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("database %s: %w", loc.Redacted, err)
	}
	scan.SetMaxOpenConns(opts.MaxOpenConns)
	scan.SetMaxIdleConns(opts.MaxOpenConns)
	st := &Store{Location: loc, write: write, read: read, scan: scan, writeCache: newStmtCache(write), readCache: newStmtCache(read)}
	return st.groupCommits(opts.GroupCommit), nil
}

func openPostgres(ctx context.Context, loc Location, opts Options) (*Store, error) {
	db, err := sql.Open("pgx", loc.DSN)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", loc.Redacted, err)
	}
	db.SetMaxOpenConns(opts.MaxOpenConns)
	db.SetMaxIdleConns(opts.MaxOpenConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s is unreachable: %s", loc.Redacted, oneLine(err))
	}
	st := &Store{Location: loc, write: db, read: db, scan: db}
	return st.groupCommits(opts.GroupCommit), nil
}

// Engine reports which database engine the store runs on: for logs and tests. Code outside
// the store asks what the engine can do instead (OneWriter, Shared), so that a third engine
// is a change here and not a hunt for comparisons.
func (s *Store) Engine() Engine { return s.Location.Engine }

// OneWriter reports that the database runs one write transaction at a time over the whole
// database (SQLite): a read made inside a write transaction is then under every lock a
// writer could take, and no other write can come between it and the commit.
func (s *Store) OneWriter() bool { return s.Location.Engine == SQLite }

// Shared reports that several processes can use the database at once (PostgreSQL): shard
// leases, shared rate limits and announcements to the other processes work only there. A
// SQLite file is held by one process (LockRunner).
func (s *Store) Shared() bool { return s.Location.Shared() }

// Reader is the pool for queries that only read.
func (s *Store) Reader() *sql.DB { return s.read }

// Writer is the pool for statements and transactions that write.
func (s *Store) Writer() *sql.DB { return s.write }

// Close closes both pools.
func (s *Store) Close() error {
	for _, c := range []*stmtCache{s.writeCache, s.readCache} {
		if c != nil {
			c.close()
		}
	}
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	if s.scan != s.write {
		err = errors.Join(err, s.scan.Close())
	}
	for _, c := range []*stmtCache{s.writeCache, s.readCache} {
		if c != nil {
			c.wait()
		}
	}
	return err
}

func (s *Store) provider() (*goose.Provider, error) {
	dialect, migrations := goose.DialectSQLite3, fs.FS(sqlite.Migrations)
	if s.Engine() == Postgres {
		dialect, migrations = goose.DialectPostgres, postgres.Migrations
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(dialect, s.write, sub)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// MigrationState is one migration and whether it is applied.
type MigrationState struct {
	Version   int64
	Source    string
	Applied   bool
	AppliedAt time.Time
}

// MigrateUp applies every pending migration and returns the versions it applied.
func (s *Store) MigrateUp(ctx context.Context) ([]int64, error) {
	p, err := s.provider()
	if err != nil {
		return nil, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate up: %w", err)
	}
	if _, err := s.IndexReasons(ctx); err != nil {
		return versions(res), err
	}
	return versions(res), nil
}

// IndexReasons puts every case's reason that SQLite's reason trigram index does not hold
// yet in it (case creation indexes them in batches of sqlite.ReasonIndexLag; this takes
// the rest, and cases written around the store, such as a benchmark's seed). MigrateUp
// calls it, so a database opened by gavel starts with its index complete. It returns how
// many it indexed; on PostgreSQL, or before migration 00011, it does nothing.
func (s *Store) IndexReasons(ctx context.Context) (int64, error) {
	if s.Location.Engine != SQLite {
		return 0, nil
	}
	var present int
	if err := s.write.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name = 'cases_reason_trigrams_upto'`).Scan(&present); err != nil || present == 0 {
		return 0, err
	}
	// A plain transaction, not InTx's: these statements run once at start and have no
	// place in the statement cache.
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("index the cases' reasons: %w", err)
	}
	defer tx.Rollback()
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM cases`).Scan(&last); err != nil {
		return 0, fmt.Errorf("index the cases' reasons: %w", err)
	}
	n, err := sqlite.IndexReasons(ctx, tx, last)
	if err != nil {
		return 0, fmt.Errorf("index the cases' reasons: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("index the cases' reasons: %w", err)
	}
	s.raiseReasonMark(last)
	return n, nil
}

// MigrateDown rolls back the newest migration, or every migration above version to.
func (s *Store) MigrateDown(ctx context.Context, to int64, all bool) ([]int64, error) {
	p, err := s.provider()
	if err != nil {
		return nil, err
	}
	if all {
		res, err := p.DownTo(ctx, to)
		if err != nil {
			return nil, fmt.Errorf("migrate down to %d: %w", to, err)
		}
		return versions(res), nil
	}
	res, err := p.Down(ctx)
	if err != nil {
		if errors.Is(err, goose.ErrNoNextVersion) {
			return nil, nil
		}
		return nil, fmt.Errorf("migrate down: %w", err)
	}
	return versions([]*goose.MigrationResult{res}), nil
}

// MigrationStatus lists every known migration with its state.
func (s *Store) MigrationStatus(ctx context.Context) ([]MigrationState, error) {
	p, err := s.provider()
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]MigrationState, 0, len(st))
	for _, m := range st {
		out = append(out, MigrationState{
			Version:   m.Source.Version,
			Source:    filepath.Base(m.Source.Path),
			Applied:   m.State == goose.StateApplied,
			AppliedAt: m.AppliedAt,
		})
	}
	return out, nil
}

func versions(res []*goose.MigrationResult) []int64 {
	out := make([]int64, 0, len(res))
	for _, r := range res {
		if r != nil && r.Source != nil {
			out = append(out, r.Source.Version)
		}
	}
	return out
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
