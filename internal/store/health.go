package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gavelbot/gavel/internal/store/postgres"
)

// ErrUnreachable stands for a database that does not answer, in what callers pass on
// (replies, per-command log lines): the driver's own text, which names the database's user
// and host, stays in the one log line Health writes when the outage starts.
var ErrUnreachable = errors.New("the database is unreachable")

// Unreachable says whether err means the database could not be reached or the connection
// to it was lost (rather than a statement it refused): a refused or reset connection, an
// unexpected end of the stream, a pool whose connections are gone, a PostgreSQL server
// that cannot be connected to or is shutting down.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnreachable) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if postgres.Unreachable(err) {
		return true
	}
	// pgx reports a connection it could not make as "failed to connect to …" and one it lost
	// as "conn closed"; both arrive wrapped in types that change between its versions.
	msg := err.Error()
	return strings.Contains(msg, "failed to connect to") || strings.Contains(msg, "conn closed")
}

// Health follows whether the database answers, from what its users see: it logs an outage
// once, with the driver's detail, when it starts and once when it ends, however many
// commands fail in between. It is safe for concurrent use.
type Health struct {
	log *slog.Logger
	now func() time.Time

	mu    sync.Mutex
	down  bool
	since time.Time
	// failed counts the failures seen during the current outage.
	failed int
}

// NewHealth returns a Health that logs to log.
func NewHealth(log *slog.Logger, now func() time.Time) *Health {
	if now == nil {
		now = time.Now
	}
	return &Health{log: log, now: now}
}

// Failed reports a failed use of the database. When err means the database is unreachable
// it returns ErrUnreachable (for replies and per-command logs, without the driver's text)
// and logs err itself only when this is the first failure of an outage; any other error
// is returned as it is.
func (h *Health) Failed(err error) error {
	if !Unreachable(err) {
		return err
	}
	h.mu.Lock()
	first := !h.down
	if first {
		h.down, h.since, h.failed = true, h.now(), 0
	}
	h.failed++
	h.mu.Unlock()
	if first {
		h.log.Error("database unreachable; commands that need it are refused until it answers (logged once per outage)", "err", err)
	}
	return ErrUnreachable
}

// Succeeded reports a use of the database that worked: an outage, if there was one, is over.
func (h *Health) Succeeded() {
	h.mu.Lock()
	was, since, failed := h.down, h.since, h.failed
	h.down = false
	h.mu.Unlock()
	if was {
		h.log.Info("database reachable again", "outage", h.now().Sub(since).Round(time.Second), "failures", failed)
	}
}

// Up reports whether the database answered at the last use of it.
func (h *Health) Up() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.down
}

// Probe asks the database whether it answers (a ping, bounded by ctx) and records the
// answer: the database-up metric reads it on each scrape, so it shows an outage even while
// no command runs.
func (h *Health) Probe(ctx context.Context, st *Store) bool {
	if err := st.Ping(ctx); err != nil {
		_ = h.Failed(err)
		return !Unreachable(err)
	}
	h.Succeeded()
	return true
}

// Ping asks the database whether it answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return err
	}
	if s.read != s.write {
		return s.read.PingContext(ctx)
	}
	return nil
}
