package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	sqlitedrv "modernc.org/sqlite"
)

// ErrNotWritable marks a database gavel can open but not write: a read-only file, a
// directory where SQLite cannot create its journal, a read-only file system or server.
var ErrNotWritable = errors.New("cannot be written")

// CheckWritable makes sure the database takes writes, and otherwise says in words why not
// and what to change. A process that writes (run, migrate, automod apply) calls it at start,
// so that a read-only database stops it at once instead of failing every command later.
func (s *Store) CheckWritable(ctx context.Context) error {
	switch s.Location.Engine {
	case SQLite:
		if s.Location.Path == ":memory:" {
			return nil
		}
		if err := sqlitePathProblem(s.Location.Path); err != nil {
			return fmt.Errorf("database %s: %w", s.Location.Redacted, err)
		}
		// What the file system allows is not the whole story (an immutable file, a full
		// disk, a lock another program holds): a write, rolled back, is.
		if err := s.probeWrite(ctx); err != nil {
			return fmt.Errorf("database %s %w: %w", s.Location.Redacted, ErrNotWritable, explainSQLite(s.Location.Path, err))
		}
	case Postgres:
		var readOnly string
		if err := s.write.QueryRowContext(ctx, "SELECT current_setting('transaction_read_only')").Scan(&readOnly); err != nil {
			return fmt.Errorf("database %s: checking that it takes writes: %w", s.Location.Redacted, err)
		}
		if readOnly == "on" {
			return fmt.Errorf("database %s %w: the PostgreSQL server accepts only reads (a standby, or default_transaction_read_only is on); point database.url at the primary", s.Location.Redacted, ErrNotWritable)
		}
	}
	return nil
}

// probeWrite creates a table in a transaction and rolls it back: the same locks, journal
// and file writes as a real change, and nothing left behind.
func (s *Store) probeWrite(ctx context.Context) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "CREATE TABLE gavel_write_check (x INTEGER)"); err != nil {
		return err
	}
	return nil
}

// explainSQLite turns an SQLite error about opening or writing the file at path into words:
// first what the file system says, then the meaning of SQLite's result code. Anything else
// is returned as it is.
func explainSQLite(path string, err error) error {
	if p := sqlitePathProblem(path); p != nil {
		return p
	}
	var se *sqlitedrv.Error
	if !errors.As(err, &se) {
		return err
	}
	// The primary result code is the low byte; the extended code says which case it is.
	switch se.Code() & 0xff {
	case 8: // SQLITE_READONLY
		if se.Code() == 1544 { // SQLITE_READONLY_DIRECTORY
			return fmt.Errorf("the directory %s cannot be written, and SQLite creates its journal files (%s-wal, %s-shm) there; make the directory writable for the user gavel runs as", filepath.Dir(path), filepath.Base(path), filepath.Base(path))
		}
		return fmt.Errorf("the file %s is read-only to SQLite (the file, its -wal or -shm file, or the file system); make them writable for the user gavel runs as", path)
	case 14: // SQLITE_CANTOPEN
		return fmt.Errorf("SQLite cannot open %s or create its journal files beside it; check that the directory %s exists and is writable for the user gavel runs as", path, filepath.Dir(path))
	case 13: // SQLITE_FULL
		return fmt.Errorf("the disk holding %s is full", path)
	case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
		return fmt.Errorf("another program holds a lock on %s and did not release it", path)
	}
	return err
}

// sqlitePathProblem checks, without opening it, what SQLite needs of the file at path: a
// directory that exists and that the process may write (SQLite creates the database and its
// -wal and -shm files there), and a database file, and journal files if present, that it
// may read and write. It names the user, the owner and the mode, so that the fix is plain.
func sqlitePathProblem(path string) error {
	dir := filepath.Dir(path)
	di, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("the directory %s does not exist; create it (mkdir -p %s) or change database.url", dir, dir)
	case err != nil:
		return fmt.Errorf("the directory %s cannot be read: %w", dir, unwrapPathError(err))
	case !di.IsDir():
		return fmt.Errorf("%s is not a directory, so %s cannot be a database file in it", dir, filepath.Base(path))
	}
	if err := access(dir, accessWrite|accessExec); err != nil {
		return fmt.Errorf("the directory %s %s; SQLite creates the database's journal files (%s-wal, %s-shm) there, so gavel must be able to write it", dir, why(dir, di, err), filepath.Base(path), filepath.Base(path))
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("the file %s cannot be read: %w", f, unwrapPathError(err))
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file (it is a %s)", f, kind(fi.Mode()))
		}
		if err := access(f, accessRead|accessWrite); err != nil {
			return fmt.Errorf("the file %s %s; make it readable and writable for that user (chmod u+rw, or chown), or run gavel as its owner", f, why(f, fi, err))
		}
	}
	return nil
}

// why says why access was refused: a read-only file system, or the permissions, with the
// user gavel runs as and the file's owner and mode.
func why(path string, fi fs.FileInfo, err error) string {
	if errors.Is(err, syscall.EROFS) {
		return "is on a read-only file system"
	}
	return fmt.Sprintf("is not writable by the user gavel runs as (uid %d; it has mode %04o%s)", os.Getuid(), fi.Mode().Perm(), owner(fi))
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
