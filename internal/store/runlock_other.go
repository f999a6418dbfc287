//go:build !unix

package store

import (
	"errors"
	"os"
)

// lockFile cannot take an advisory lock on this system: gavel run refuses SQLite here
// rather than risk two processes on one file.
func lockFile(*os.File) (bool, error) {
	return false, errors.New("this system has no advisory file locks (flock); run gavel on PostgreSQL here")
}

func unlockFile(*os.File) error { return nil }
