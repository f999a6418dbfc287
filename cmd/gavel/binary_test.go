package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gavelbot/gavel/internal/discordtest"
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
	return runBinaryAs(t, nil, dir, env, args...)
}

// runBinaryAs is runBinary as another user when cred is not nil.
func runBinaryAs(t *testing.T, cred *syscall.Credential, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(gavelBinary(t), args...)
	cmd.Dir = dir
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
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

// unprivileged returns the credential to run gavel with so that file permissions apply:
// nobody's when the tests run as root (whom permissions do not stop), none otherwise.
func unprivileged(t *testing.T) *syscall.Credential {
	if os.Geteuid() != 0 {
		return nil
	}
	return &syscall.Credential{Uid: 65534, Gid: 65534, NoSetGroups: true}
}

// openDir makes dir and its parent (t.TempDir's) enterable by the user of unprivileged.
func openDir(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStartRefusesUnwritableDatabase: a database gavel could open but not write stops run
// (and every command that writes) at once, with the file or directory, the user and the
// fix in words, instead of SQLite's "(14)" or "(1544)"; the read commands still read it.
func TestStartRefusesUnwritableDatabase(t *testing.T) {
	cred := unprivileged(t)
	uid := os.Getuid()
	if cred != nil {
		uid = int(cred.Uid)
	}
	fake := discordtest.New(t)
	owner := fake.AddUser("owner", false)
	guild := fake.AddGuild("g", owner)
	env := []string{"DISCORD_TOKEN=" + fake.Token(), "GAVEL_DISCORD_API_URL=" + fake.APIURL(),
		"GAVEL_DISCORD_GATEWAY_URL=" + fake.GatewayURL, "GAVEL_DISCORD_GUILDS=" + guild.String()}

	// A migrated database owned by gavel's user, then made read-only.
	dir := t.TempDir()
	openDir(t, dir)
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	db := filepath.Join(dir, "gavel.db")
	if got := runBinaryAs(t, cred, dir, nil, "--database", "sqlite:"+db, "migrate", "up"); got.code != 0 {
		t.Fatalf("migrate up: %d %s", got.code, got.stderr)
	}
	if err := os.Chmod(db, 0o444); err != nil {
		t.Fatal(err)
	}
	wantFile := fmt.Sprintf("gavel: database sqlite:%s: the file %s is not writable by the user gavel runs as (uid %d; it has mode 0444, owned by uid %d); make it readable and writable for that user (chmod u+rw, or chown), or run gavel as its owner\n", db, db, uid, uid)
	for _, args := range [][]string{{"run"}, {"migrate", "up"}, {"migrate", "down", "--yes"}} {
		got := runBinaryAs(t, cred, dir, env, append([]string{"--database", "sqlite:" + db}, args...)...)
		if got.code != 1 || got.stderr != wantFile {
			t.Errorf("%v on a read-only file: code %d, stderr %q\nwant %q", args, got.code, got.stderr, wantFile)
		}
	}
	if got := runBinaryAs(t, cred, dir, nil, "--database", "sqlite:"+db, "cases", "list"); got.code != 0 || got.stdout != "no cases match\n" {
		t.Errorf("cases list on a read-only file: %d %q %q", got.code, got.stdout, got.stderr)
	}
	// run never got as far as Discord.
	if n := len(fake.Commands(guild)); n != 0 {
		t.Errorf("run registered %d commands before refusing the database", n)
	}

	// A writable file in a directory gavel may not write: SQLite's journal cannot be made.
	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 0, 0); err != nil && cred != nil {
		t.Fatal(err)
	}
	if cred == nil {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dir, 0o755)
	}
	got := runBinaryAs(t, cred, dir, env, "--database", "sqlite:"+db, "run")
	wantDir := fmt.Sprintf("gavel: database sqlite:%s: the directory %s is not writable by the user gavel runs as (uid %d; ", db, dir, uid)
	if got.code != 1 || !strings.HasPrefix(got.stderr, wantDir) || !strings.Contains(got.stderr, "SQLite creates the database's journal files (gavel.db-wal, gavel.db-shm) there") || strings.Count(got.stderr, "\n") != 1 {
		t.Errorf("run in a read-only directory: code %d, stderr %q\nwant %q…", got.code, got.stderr, wantDir)
	}

	// A directory that is not there.
	got = runBinaryAs(t, cred, dir, env, "--database", "sqlite:"+filepath.Join(dir, "nodir", "gavel.db"), "run")
	if got.code != 1 || !strings.Contains(got.stderr, "the directory "+filepath.Join(dir, "nodir")+" does not exist; create it (mkdir -p ") {
		t.Errorf("run with a missing directory: code %d, stderr %q", got.code, got.stderr)
	}
}
