package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// newFileMode is the mode of an output file that did not exist: exports hold moderation
// records (user ids, reasons), so only the owner may read them until they say otherwise.
const newFileMode fs.FileMode = 0o600

// writeOutput sends what write produces to the place -o named. "" and "-" are standard
// output. A regular file, or a path where nothing exists yet, is written atomically: a
// temporary file beside it, renamed over it only when write succeeded, so that a failed
// export never leaves a truncated file that looks complete; an existing file keeps its
// mode. A symlink is followed and its target written the same way, so the link stays a
// link. Anything else (a FIFO, a device such as /dev/null, a terminal) is written straight
// to: renaming over it would replace the device or the pipe with a plain file.
func writeOutput(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "" || path == "-" {
		bw := bufio.NewWriter(stdout)
		if err := write(bw); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("write to standard output: %w", err)
		}
		return nil
	}
	target := path
	if li, err := os.Lstat(path); err == nil && li.Mode()&fs.ModeSymlink != 0 {
		resolved, err := filepath.EvalSymlinks(path)
		if err != nil {
			// A dangling link: opening it creates its target, which is what a user who
			// points a link at a file yet to exist expects.
			return writeStraight(path, os.O_CREATE, write)
		}
		target = resolved
	}
	fi, err := os.Stat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return writeAtomic(target, newFileMode, write)
	case err != nil:
		return fmt.Errorf("write to %s: %w", path, unwrapPath(err))
	case fi.Mode().IsRegular():
		return writeAtomic(target, fi.Mode().Perm(), write)
	case fi.IsDir():
		return fmt.Errorf("write to %s: it is a directory; give a file name, or - for standard output", path)
	default:
		return writeStraight(target, 0, write)
	}
}

// writeAtomic writes a temporary file in path's directory with mode perm and renames it
// over path.
func writeAtomic(path string, perm fs.FileMode, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write to %s: %w", path, unwrapPath(err))
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes 0600 files; the result must have the mode the file had.
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("write to %s: %w", path, unwrapPath(err))
	}
	bw := bufio.NewWriter(tmp)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write to %s: %w", path, unwrapPath(err))
	}
	// Synced before the rename, so that a crash cannot leave an empty file under the name.
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write to %s: %w", path, unwrapPath(err))
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write to %s: %w", path, unwrapPath(err))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write to %s: %w", path, unwrapPath(err))
	}
	return nil
}

// writeStraight opens path for writing as it is and writes to it.
func writeStraight(path string, flag int, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|flag, newFileMode)
	if err != nil {
		return fmt.Errorf("write to %s: %w", path, unwrapPath(err))
	}
	bw := bufio.NewWriter(f)
	werr := write(bw)
	if werr == nil {
		werr = bw.Flush()
		if werr != nil {
			werr = fmt.Errorf("write to %s: %w", path, unwrapPath(werr))
		}
	}
	if err := f.Close(); err != nil && werr == nil {
		werr = fmt.Errorf("write to %s: %w", path, unwrapPath(err))
	}
	return werr
}

// unwrapPath drops the path an *fs.PathError repeats, since the messages above name it.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
