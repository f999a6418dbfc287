package store

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/gavelbot/gavel/internal/store/postgres"
	"github.com/gavelbot/gavel/internal/store/query"
	"github.com/gavelbot/gavel/internal/store/sqlite"
)

// stmtCache keeps one prepared statement per query text for a pool, so that a query run
// again skips SQLite's parser, which is where a short statement spends most of its time
// (modernc's driver keeps a prepared statement's handle and resets it between runs, but has
// no cache of its own for unprepared ones). database/sql prepares a cached statement once per
// connection of the pool, and Tx.StmtContext reuses it inside a transaction on a connection
// it was prepared on.
//
// A statement is prepared in the background the first time its text is seen, and that first
// run goes unprepared: the writer pool has one connection, and preparing synchronously from
// inside a transaction that holds it would wait for itself. A text the engine cannot prepare
// (a query written for the other engine) stays unprepared and fails, if it is ever run, with
// its own error.
type stmtCache struct {
	db *sql.DB

	mu     sync.Mutex
	stmts  map[string]*sql.Stmt // nil: being prepared, or not preparable
	closed bool
	wg     sync.WaitGroup
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}}
}

// get returns query's prepared statement, or nil when there is none yet.
func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, seen := c.stmts[query]
	if seen || c.closed {
		return st
	}
	c.stmts[query] = nil
	c.wg.Add(1)
	go c.prepare(query)
	return nil
}

func (c *stmtCache) prepare(query string) {
	defer c.wg.Done()
	// Bounded: it waits for the writer's connection behind whatever transaction holds it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		st.Close()
		return
	}
	c.stmts[query] = st
}

// close closes the prepared statements; the pool is closed after it, which also ends any
// preparation still waiting for a connection.
func (c *stmtCache) close() {
	c.mu.Lock()
	c.closed = true
	stmts := c.stmts
	c.stmts = map[string]*sql.Stmt{}
	c.mu.Unlock()
	for _, st := range stmts {
		if st != nil {
			st.Close()
		}
	}
}

// wait waits for the background preparations, once the pool is closed.
func (c *stmtCache) wait() { c.wg.Wait() }

// cachedPool runs queries on the pool through the cache. On the reading pool (uncancelled)
// a statement runs in its caller's context without the context's end: see uncancelled.
type cachedPool struct {
	c           *stmtCache
	uncancelled bool
}

// ctx is the context a statement of the pool runs in. On SQLite's reading pool a context
// that can end costs two goroutines per statement (modernc's driver watches it to interrupt
// the statement, database/sql watches it to close the rows) and a context of its own, while
// the statement is a read of a few pages that never waits for a lock (WAL), and a wait for
// a reading connection lasts one such read. So an ended context still refuses the
// statement before it starts (database/sql checks it first), but one that ends while it
// runs no longer interrupts it.
func (p cachedPool) ctx(ctx context.Context) context.Context {
	if !p.uncancelled || ctx.Done() == nil || ctx.Err() != nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

func (p cachedPool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = p.ctx(ctx)
	if st := p.c.get(query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return p.c.db.ExecContext(ctx, query, args...)
}

func (p cachedPool) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return p.c.db.PrepareContext(ctx, query)
}

func (p cachedPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = p.ctx(ctx)
	if st := p.c.get(query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.c.db.QueryContext(ctx, query, args...)
}

func (p cachedPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = p.ctx(ctx)
	if st := p.c.get(query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.c.db.QueryRowContext(ctx, query, args...)
}

// cachedTx runs queries in a transaction through the cache of the pool it began on. Each
// cached statement is bound to the transaction once (Tx.StmtContext makes a new handle per
// call), so a batch running one statement per row binds it once. Like the transaction, it
// is for one goroutine at a time.
type cachedTx struct {
	c     *stmtCache
	tx    *sql.Tx
	bound map[string]*sql.Stmt
	// unprepared counts the runs of each text unprepared in this transaction (the cache had
	// none yet); -1 marks a text the engine could not prepare.
	unprepared map[string]int
}

// stmt returns query's statement bound to the transaction, or nil when the cache has none
// yet. A text run a second time in the transaction while the cache's own is still being
// prepared (that waits for the writer's connection, which this transaction holds) is
// prepared on the transaction itself: a batch's first transaction after a start (a mass
// ban's 1,000 target rows, its first 200 cases) would otherwise parse its statement once per
// row. database/sql closes such a statement when the transaction ends.
func (t *cachedTx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := t.bound[query]; ok {
		return st
	}
	st := t.c.get(query)
	if st == nil {
		return t.again(ctx, query)
	}
	if t.bound == nil {
		t.bound = map[string]*sql.Stmt{}
	}
	st = t.tx.StmtContext(ctx, st)
	t.bound[query] = st
	return st
}

// again prepares query on the transaction the second time it is run unprepared in it; nil
// the first time, and when the engine cannot prepare it (it then runs unprepared and fails,
// if it must, with its own error).
func (t *cachedTx) again(ctx context.Context, query string) *sql.Stmt {
	if t.unprepared == nil {
		t.unprepared = map[string]int{}
	}
	if n := t.unprepared[query]; n < 1 {
		if n == 0 {
			t.unprepared[query] = 1
		}
		return nil
	}
	st, err := t.tx.PrepareContext(ctx, query)
	if err != nil {
		t.unprepared[query] = -1
		return nil
	}
	if t.bound == nil {
		t.bound = map[string]*sql.Stmt{}
	}
	t.bound[query] = st
	return st
}

func (t *cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

func (t *cachedTx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return t.tx.PrepareContext(ctx, query)
}

func (t *cachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t *cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

// Queries runs the queries on the reading pool.
func (s *Store) Queries() query.Queries { return s.queries(s.ReadDB()) }

// WriteQueries runs the queries on the writing pool, outside a transaction.
func (s *Store) WriteQueries() query.Queries { return s.queries(s.WriteDB()) }

// queries is the engine's implementation of the queries, on db.
func (s *Store) queries(db query.DBTX) query.Queries {
	if s.Location.Engine == Postgres {
		return postgres.New(db)
	}
	return sqlite.New(db)
}

// ReadDB is the reading pool for hand-written statements too, with the statement cache on
// SQLite. A statement whose text varies with its input (a filter built per call) should use
// Reader instead: every text is kept.
func (s *Store) ReadDB() query.DBTX {
	if s.readCache == nil {
		return s.read
	}
	return cachedPool{c: s.readCache, uncancelled: true}
}

// WriteDB is the writing pool with the statement cache on SQLite.
func (s *Store) WriteDB() query.DBTX {
	if s.writeCache == nil {
		return s.write
	}
	return cachedPool{c: s.writeCache}
}

// TxDB is tx, a transaction begun on the writing pool, with the statement cache on SQLite.
// PostgreSQL needs none: pgx keeps a statement cache per connection itself.
func (s *Store) TxDB(tx *sql.Tx) query.DBTX {
	if s.writeCache == nil {
		return tx
	}
	return &cachedTx{c: s.writeCache, tx: tx}
}
