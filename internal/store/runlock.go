package store

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrInUse is returned by LockRunner when another gavel process runs on the same SQLite
// file.
var ErrInUse = errors.New("the database is in use by another gavel run")

// RunLock is a running gavel's hold on its SQLite database (LockRunner); Release lets the
// next one start. A crash releases it too: the kernel drops the lock with the process.
type RunLock struct{ f *os.File }

// Release gives the database up.
func (l *RunLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlockFile(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// LockPath is the sidecar file LockRunner locks for a SQLite database at path.
func LockPath(path string) string { return path + ".run-lock" }

// LockRunner takes the database for this process alone, for gavel run: SQLite serves one
// gavel process (its shards, its expiry poller, its caches assume nobody else runs the same
// guilds), while the command line's readers and writers may still open the file beside it.
// On PostgreSQL it takes nothing (several processes share it through the shard leases).
//
// The lock is an advisory lock (flock) on a sidecar file next to the database: it needs no
// cooperation from SQLite, and the kernel releases it when the process dies, however it
// dies, so a crash never leaves a stale lock behind. The file records the holder's pid and
// start time for the message a second process prints.
func LockRunner(loc Location) (*RunLock, error) {
	if loc.Engine != SQLite || loc.Path == ":memory:" || loc.Path == "" {
		return &RunLock{}, nil
	}
	path := LockPath(loc.Path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("database %s: cannot open its lock file %s: %w", loc.Redacted, path, err)
	}
	held, err := lockFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("database %s: cannot lock %s: %w", loc.Redacted, path, err)
	}
	if held {
		holder := readHolder(f)
		f.Close()
		return nil, fmt.Errorf("%w: %s is already served by a gavel run%s, and a SQLite database serves one gavel process. "+
			"Stop the other one first; to run several processes, use PostgreSQL (docs/deployment.md). "+
			"The command line's other commands (gavel cases, gavel config, gavel automod) work beside it",
			ErrInUse, loc.Path, holder)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d since %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))), 0)
	}
	return &RunLock{f: f}, nil
}

// readHolder is what the lock's holder wrote about itself, for the message.
func readHolder(f *os.File) string {
	b := make([]byte, 128)
	n, _ := f.ReadAt(b, 0)
	s := strings.TrimSpace(string(b[:n]))
	fields := strings.Fields(s)
	if len(fields) < 4 || fields[0] != "pid" {
		return ""
	}
	if _, err := strconv.Atoi(fields[1]); err != nil {
		return ""
	}
	return " (" + s + ")"
}
