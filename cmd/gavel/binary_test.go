package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// testVersion is what the test binary is linked with, as a release build is.
const testVersion = "v0.0.0-test"

// built is the gavel binary the process tests run, built once per test run.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

// TestMain removes the binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// gavelBinary builds cmd/gavel (with -race when the tests run with it, so that the process
// is checked too) and returns its path. Tests that are about the process itself (signals,
// exit codes, file permissions as another user, the version linked in) run it.
func gavelBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the gavel binary")
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "gavel-bin-")
		if built.err != nil {
			return
		}
		// World-readable and executable, so that a test may run it as another user.
		if built.err = os.Chmod(built.dir, 0o755); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "gavel")
		args := []string{"build", "-o", built.path, "-ldflags", "-X main.version=" + testVersion}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, ".")...)
		built.out, built.err = cmd.CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.path
}

// runBinary runs the built binary to completion in dir with env (and nothing else from the
// test's environment but PATH and HOME).
func runBinary(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(gavelBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run gavel: %v", err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestBinaryVersionAndHelp(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"--version"}, {"version"}, {"cases", "list", "--version"}} {
		got := runBinary(t, dir, nil, args...)
		if got.code != 0 || got.stderr != "" || !strings.HasPrefix(got.stdout, "version: "+testVersion+"\n") || !strings.Contains(got.stdout, "\ngo: go") {
			t.Errorf("gavel %v: code %d, stdout %q, stderr %q; want the linked version %s", args, got.code, got.stdout, got.stderr, testVersion)
		}
	}
	// No arguments at all: the help, on standard output, and success.
	got := runBinary(t, dir, nil)
	if got.code != 0 || got.stderr != "" || !strings.HasPrefix(got.stdout, "Usage: gavel <command>") || !strings.Contains(got.stdout, "migrate status") || !strings.Contains(got.stdout, "--version") {
		t.Errorf("gavel without arguments: code %d, stdout %q, stderr %q; want the help", got.code, got.stdout, got.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "gavel.db")); err == nil {
		t.Error("gavel without arguments created a database")
	}
}
