package main

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gavelbot/gavel/internal/store"
)

// TestExportTargets runs cases export -o against each kind of target a user may name:
// only regular files and new paths are replaced (atomically, keeping the mode); a symlink
// stays a link, a FIFO and a device are written to as they are, and - is standard output.
func TestExportTargets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"GAVEL_DATABASE_URL": seeded(t, store.SQLite)}
	export := func(out string) result {
		t.Helper()
		return gavel(t, dir, env, "cases", "export", "--guild", "10", "-o", out)
	}
	lines := func(b []byte) int { return strings.Count(string(b), "\n") }

	t.Run("new file", func(t *testing.T) {
		if got := export("new.jsonl"); got.code != 0 {
			t.Fatalf("export: %d %s", got.code, got.stderr)
		}
		fi, err := os.Stat(filepath.Join(dir, "new.jsonl"))
		if err != nil || fi.Mode() != newFileMode {
			t.Fatalf("new file: %v %v; want mode %v", fi, err, newFileMode)
		}
	})

	t.Run("existing file keeps its mode", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, "kept.jsonl"), []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, "kept.jsonl"), 0o644); err != nil { // past the umask
			t.Fatal(err)
		}
		if got := export("kept.jsonl"); got.code != 0 {
			t.Fatalf("export: %d %s", got.code, got.stderr)
		}
		fi, err := os.Stat(filepath.Join(dir, "kept.jsonl"))
		if err != nil || fi.Mode() != 0o644 {
			t.Fatalf("after export: %v %v; want -rw-r--r--", fi.Mode(), err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "kept.jsonl")); lines(b) != 25 {
			t.Errorf("kept.jsonl has %d lines, want 25", lines(b))
		}
		// No temporary file is left beside it.
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp-") {
				t.Errorf("leftover temporary file %s", e.Name())
			}
		}
	})

	t.Run("symlink stays a link", func(t *testing.T) {
		if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "real/target.jsonl"), nil, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("real/target.jsonl", filepath.Join(dir, "link.jsonl")); err != nil {
			t.Fatal(err)
		}
		if got := export("link.jsonl"); got.code != 0 {
			t.Fatalf("export: %d %s", got.code, got.stderr)
		}
		li, err := os.Lstat(filepath.Join(dir, "link.jsonl"))
		if err != nil || li.Mode()&fs.ModeSymlink == 0 {
			t.Fatalf("link.jsonl is no longer a symlink: %v %v", li.Mode(), err)
		}
		fi, _ := os.Stat(filepath.Join(dir, "real/target.jsonl"))
		if b, _ := os.ReadFile(filepath.Join(dir, "real/target.jsonl")); lines(b) != 25 || fi.Mode() != 0o640 {
			t.Errorf("target: %d lines, mode %v; want 25 lines, -rw-r-----", lines(b), fi.Mode())
		}
	})

	t.Run("dangling symlink creates its target", func(t *testing.T) {
		if err := os.Symlink("real/later.jsonl", filepath.Join(dir, "later.jsonl")); err != nil {
			t.Fatal(err)
		}
		if got := export("later.jsonl"); got.code != 0 {
			t.Fatalf("export: %d %s", got.code, got.stderr)
		}
		if li, err := os.Lstat(filepath.Join(dir, "later.jsonl")); err != nil || li.Mode()&fs.ModeSymlink == 0 {
			t.Fatalf("later.jsonl is no longer a symlink: %v", err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "real/later.jsonl")); lines(b) != 25 {
			t.Errorf("target has %d lines, want 25", lines(b))
		}
	})

	t.Run("FIFO is written to", func(t *testing.T) {
		fifo := filepath.Join(dir, "pipe")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		// The read end is opened first, without blocking, so that the export's open of
		// the write end does not wait; the export (some 15 kB) fits the pipe's buffer and
		// is read once it is done. Had the export replaced the FIFO, this reads nothing.
		r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if got := export(fifo); got.code != 0 {
			t.Fatalf("export: %d %s", got.code, got.stderr)
		}
		if b, _ := io.ReadAll(r); lines(b) != 25 {
			t.Errorf("read %d lines from the FIFO, want 25", lines(b))
		}
		if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
			t.Errorf("the FIFO was replaced: %v %v", fi.Mode(), err)
		}
	})

	t.Run("device is written to", func(t *testing.T) {
		// As root a copy of /dev/null in the test's directory, so that a regression
		// replaces that copy and not the system's; otherwise /dev/null itself, which an
		// unprivileged process could not replace anyway.
		dev := "/dev/null"
		if os.Geteuid() == 0 {
			dev = filepath.Join(dir, "null")
			if err := syscall.Mknod(dev, syscall.S_IFCHR|0o666, int(unixMkdev(1, 3))); err != nil {
				t.Skipf("mknod: %v", err)
			}
		}
		if got := export(dev); got.code != 0 {
			t.Fatalf("export to %s: %d %s", dev, got.code, got.stderr)
		}
		if fi, err := os.Lstat(dev); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
			t.Errorf("%s is no longer a character device: %v %v", dev, fi.Mode(), err)
		}
	})

	t.Run("dash is standard output", func(t *testing.T) {
		got := export("-")
		if got.code != 0 || lines([]byte(got.stdout)) != 25 {
			t.Fatalf("export -o -: %d, %d lines on stdout; %s", got.code, lines([]byte(got.stdout)), got.stderr)
		}
		if _, err := os.Lstat(filepath.Join(dir, "-")); err == nil {
			t.Error(`export -o - created a file named "-"`)
		}
	})

	t.Run("directory is refused", func(t *testing.T) {
		got := export("real")
		if got.code != 1 || !strings.Contains(got.stderr, "write to real: it is a directory") {
			t.Errorf("export to a directory: %d %q", got.code, got.stderr)
		}
	})
}

// unixMkdev is Linux's makedev for the small major and minor numbers of /dev/null.
func unixMkdev(major, minor uint64) uint64 {
	return (major << 8) | minor
}
