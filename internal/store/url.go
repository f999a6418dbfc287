package store

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// Engine names the database engine a URL selects.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Location is a parsed database URL: which engine, and what the driver needs to reach it.
type Location struct {
	Engine Engine
	// Path is the SQLite file (absolute or relative to the working directory), or ":memory:".
	Path string
	// DSN is what the driver is opened with: the SQLite file URI with gavel's pragmas, or the
	// PostgreSQL URL as given.
	DSN string
	// Redacted is the URL with any password replaced, safe for logs and error messages.
	Redacted string
}

// Shared reports that the database can serve several processes at once (PostgreSQL): what
// the dashboard's own process and sharded processes need. A SQLite file is held by one.
func (l Location) Shared() bool { return l.Engine == Postgres }

// File returns the database's file, as given (absolute or relative), when the database is a
// file on this machine: a SQLite database other than ":memory:".
func (l Location) File() (string, bool) {
	if l.Engine != SQLite || l.Path == ":memory:" {
		return "", false
	}
	return l.Path, true
}

// accepted lists the URL forms in every parse error, so that the message says what would work.
const accepted = `accepted: "sqlite:PATH" (e.g. sqlite:gavel.db, sqlite:///var/lib/gavel/gavel.db) or "postgres://user@host:port/db"`

// ParseURL turns a database URL into a Location. The default for gavel is "sqlite:gavel.db".
func ParseURL(raw string) (Location, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return Location{}, fmt.Errorf("database URL is empty; %s", accepted)
	}
	switch {
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		u, err := url.Parse(s)
		if err != nil {
			// url.Error repeats the whole URL, password included: keep only its cause.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return Location{}, fmt.Errorf("database URL %q is malformed: %v; %s", redactRaw(s), err, accepted)
		}
		if u.Host == "" {
			return Location{}, fmt.Errorf("database URL %q has no host; %s", u.Redacted(), accepted)
		}
		return Location{Engine: Postgres, DSN: s, Redacted: u.Redacted()}, nil
	case strings.HasPrefix(s, "sqlite:"):
		rest := strings.TrimPrefix(s, "sqlite:")
		// sqlite:///abs/path and sqlite://rel are the URL spellings; sqlite:path is the short one.
		if strings.HasPrefix(rest, "//") {
			rest = strings.TrimPrefix(rest, "//")
		}
		if i := strings.IndexByte(rest, '?'); i >= 0 {
			return Location{}, fmt.Errorf("database URL %q: SQLite options are set by gavel and cannot be given in the URL; %s", s, accepted)
		}
		if rest == "" {
			return Location{}, fmt.Errorf("database URL %q has no file path; %s", s, accepted)
		}
		if rest == ":memory:" {
			return Location{Engine: SQLite, Path: rest, DSN: sqliteDSN("file::memory:?mode=memory&cache=shared"), Redacted: s}, nil
		}
		path := filepath.Clean(rest)
		return Location{Engine: SQLite, Path: path, DSN: sqliteDSN("file:" + (&url.URL{Path: path}).EscapedPath()), Redacted: s}, nil
	default:
		scheme := s
		if i := strings.Index(s, ":"); i >= 0 {
			scheme = s[:i]
		}
		return Location{}, fmt.Errorf("database URL %q has unsupported scheme %q; %s", redactRaw(s), scheme, accepted)
	}
}

// sqliteDSN adds the pragmas every connection needs: WAL so readers never block the writer,
// a busy timeout so a second process waits instead of failing, foreign keys (per connection in
// SQLite), and immediate transactions so a read-then-write transaction cannot fail with
// SQLITE_BUSY on a snapshot conflict.
func sqliteDSN(base string) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
}

// redactRaw hides a password in a URL that url.Parse rejected.
func redactRaw(s string) string {
	at := strings.LastIndex(s, "@")
	scheme := strings.Index(s, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return s
	}
	userinfo := s[scheme+3 : at]
	if i := strings.IndexByte(userinfo, ':'); i >= 0 {
		return s[:scheme+3] + userinfo[:i] + ":xxxxx" + s[at:]
	}
	return s
}
