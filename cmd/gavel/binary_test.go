package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/testmain"
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

// packageDir is the package's directory, where go test starts.
var packageDir string

// TestMain notes the package's directory, starts building the gavel binary when the whole
// package runs, and removes the binary the tests built.
//
// Every test is parallel (up to 4 at once, one at a time under -race, where gavel's
// processes compute: testmain.Parallel): the in-process CLI tests give run a directory of
// their own instead of changing the process's, so they run beside the build (13-17 s on
// the shared 2-core machine) and beside the tests that run the binary.
func TestMain(m *testing.M) {
	var err error
	if packageDir, err = os.Getwd(); err != nil {
		panic(err)
	}
	testmain.Parallel(4, 1)
	building := make(chan struct{})
	if flag.Lookup("test.run").Value.String() == "" && !testing.Short() {
		go func() {
			defer close(building)
			built.once.Do(build)
		}()
	} else {
		close(building)
	}
	code := m.Run()
	<-building
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
	built.once.Do(build)
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.path
}

// build builds cmd/gavel into built.
func build() {
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
	cmd.Dir = packageDir
	built.out, built.err = cmd.CombinedOutput()
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
	t.Parallel()
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
	t.Parallel()
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

// TestSecondInterruptStopsAtOnce runs gavel as a process, holds a ban on Discord's side and
// interrupts twice: the first interrupt waits for the ban (the shutdown timeout is 30 s),
// the second cancels it at once. The moderator is told gavel is restarting and the case
// will be settled; the case stays pending; the next start settles it against Discord.
func TestSecondInterruptStopsAtOnce(t *testing.T) {
	t.Parallel()
	const (
		guild   discordtest.ID = 740000000000000100
		owner   discordtest.ID = 740000000000000201
		mod     discordtest.ID = 740000000000000202
		target  discordtest.ID = 740000000000000203
		modRole discordtest.ID = 740000000000000301
		botRole discordtest.ID = 740000000000000302
		general discordtest.ID = 740000000000000401
	)
	fake := discordtest.New(t, discordtest.WithSeed(discordtest.Seed{
		Users: []discordtest.User{{ID: owner, Username: "owner"}, {ID: mod, Username: "mod"}, {ID: target, Username: "target"}},
		Guilds: []discordtest.SeedGuild{{ID: guild, Name: "g", OwnerID: owner,
			Roles: []discordtest.Role{
				{ID: modRole, Name: "mods", Position: 1, Permissions: discordtest.PermBanMembers},
				{ID: botRole, Name: "gavel", Position: 2, Permissions: discordtest.PermBanMembers | discordtest.PermViewAuditLog |
					discordtest.PermViewChannel | discordtest.PermSendMessages | discordtest.PermEmbedLinks | discordtest.PermReadMessageHistory},
			},
			BotRoles: []discordtest.ID{botRole},
			Members:  []discordtest.SeedMember{{UserID: owner}, {UserID: mod, Roles: []discordtest.ID{modRole}}, {UserID: target}},
			Channels: []discordtest.Channel{{ID: general, Type: discordtest.ChannelGuildText, Name: "general"}},
		}},
	}))
	dir := t.TempDir()
	dbURL := "sqlite:" + filepath.Join(dir, "gavel.db")
	cmd := exec.Command(gavelBinary(t), "run")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DISCORD_TOKEN=" + fake.Token(), "GAVEL_DISCORD_API_URL=" + fake.APIURL(),
		"GAVEL_DISCORD_GATEWAY_URL=" + fake.GatewayURL, "GAVEL_DISCORD_GUILDS=" + guild.String(), "GAVEL_DATABASE_URL=" + dbURL}
	var stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gavel's log:\n%s", stderr.String())
		}
	})
	// The waits below are for events; their bound only keeps a broken build from hanging
	// the run (2 minutes: under CI's -race pass at load 26 on two cores, the race-built
	// process had not logged a line after 20 s).
	waitUntil(t, hangBound, "gavel to serve the guild", func() bool {
		return strings.Contains(stderr.String(), `msg="serving guild"`)
	})

	// Discord holds the ban request (an hour, far past the 30 s shutdown timeout).
	const banRoute = "PUT /guilds/{guild_id}/bans/{user_id}"
	fake.SetLatency(banRoute, time.Hour)
	ia := fake.SlashCommand(guild, general, mod, "ban", discordtest.UserOpt("user", target), discordtest.StringOpt("reason", "raid"))
	waitUntil(t, hangBound, "the ban to reach Discord", func() bool {
		return fake.FaultStats().Routes[banRoute].Delayed > 0
	})

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, hangBound, "gavel to start shutting down", func() bool {
		return strings.Contains(stderr.String(), "shutting down: finishing the commands in flight")
	})
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("gavel exited with %v:\n%s", err, stderr.String())
		}
	case <-time.After(hangBound):
		t.Fatalf("gavel did not stop after the second interrupt:\n%s", stderr.String())
	}
	logs := stderr.String()
	if !strings.Contains(logs, "stopping at once") || strings.Contains(logs, "after the shutdown timeout") {
		t.Errorf("the second interrupt did not stop the commands at once:\n%s", logs)
	}
	var reply string
	if msgs := ia.Responses(); len(msgs) > 0 {
		reply = msgs[len(msgs)-1].Content
	}
	const want = "gavel is restarting, so the ban was interrupted before Discord answered. Case #1 stays pending: when gavel is back it checks Discord and settles it (active if the ban shows there, voided if not)."
	if reply != want {
		t.Errorf("reply to the interrupted ban:\n got %q\nwant %q", reply, want)
	}

	ctx := context.Background()
	caseOne := func() cases.Case {
		t.Helper()
		st, err := store.OpenURL(ctx, dbURL, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		k, err := cases.NewService(st).GetByNumber(ctx, discord.GuildID(guild), 1)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	if k := caseOne(); k.Status != cases.Pending || k.Type != cases.Ban {
		t.Fatalf("case #1 after the stop: %s %s; want a pending BAN", k.Type, k.Status)
	}

	// Discord had carried the ban out after all (the request was on its way). The next
	// start, with the reconciliation age shortened so that the case need not be two
	// minutes old, finds the ban and makes the case active.
	fake.SetLatency(banRoute, 0)
	if err := fake.BanAs(guild, fake.BotID(), target, "raid"); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Database.URL = dbURL
	cfg.Discord.Token = config.Secret(fake.Token())
	cfg.Discord.APIURL, cfg.Discord.GatewayURL = fake.APIURL(), fake.GatewayURL
	cfg.Discord.Guilds = []string{guild.String()}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	a, err := app.New(runCtx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.WithReconcileAge(time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	waitUntil(t, hangBound, "the next start to settle the pending case", func() bool {
		return caseOne().Status != cases.Pending
	})
	if k := caseOne(); k.Status != cases.Active {
		t.Errorf("case #1 after the next start: %s; want active (Discord shows the ban)", k.Status)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("second run: %v", err)
	}
}
