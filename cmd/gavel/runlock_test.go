package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/discordtest"
)

// TestSecondRunOnSQLiteRefuses runs real processes on one SQLite file: a second gavel run
// refuses to start and says why, the command line's reads work beside the first, and once
// the first is killed (SIGKILL: no clean-up of its own) the lock is gone with it and a new
// run starts.
func TestSecondRunOnSQLiteRefuses(t *testing.T) {
	t.Parallel()
	const (
		guild discordtest.ID = 740000000000010100
		owner discordtest.ID = 740000000000010201
	)
	fake := discordtest.New(t, discordtest.WithSeed(discordtest.Seed{
		Users:  []discordtest.User{{ID: owner, Username: "owner"}},
		Guilds: []discordtest.SeedGuild{{ID: guild, Name: "g", OwnerID: owner, Members: []discordtest.SeedMember{{UserID: owner}}}},
	}))
	dir := t.TempDir()
	db := filepath.Join(dir, "gavel.db")
	env := []string{"DISCORD_TOKEN=" + fake.Token(), "GAVEL_DISCORD_API_URL=" + fake.APIURL(),
		"GAVEL_DISCORD_GATEWAY_URL=" + fake.GatewayURL, "GAVEL_DISCORD_GUILDS=" + guild.String(), "GAVEL_DATABASE_URL=sqlite:" + db}
	start := func() (*exec.Cmd, *lockedBuffer, chan error) {
		cmd := exec.Command(gavelBinary(t), "run")
		cmd.Dir = dir
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
		var out lockedBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				cmd.Process.Kill()
				<-exited
			}
			if t.Failed() {
				t.Logf("gavel's log:\n%s", out.String())
			}
		})
		return cmd, &out, exited
	}
	first, out, exited := start()
	// The bound only keeps a broken build from hanging the run: the wait is for the event.
	waitUntil(t, hangBound, "the first gavel run to serve the guild", func() bool {
		return strings.Contains(out.String(), `msg="serving guild"`)
	})

	second := runBinary(t, dir, env, "run")
	if second.code == 0 {
		t.Fatalf("a second gavel run on the same SQLite file started:\n%s%s", second.stdout, second.stderr)
	}
	for _, want := range []string{"is already served by a gavel run (pid", "a SQLite database serves one gavel process", "use PostgreSQL"} {
		if !strings.Contains(second.stderr, want) {
			t.Errorf("the second run's message lacks %q:\n%s", want, second.stderr)
		}
	}
	if strings.Contains(second.stderr, "database ready") {
		t.Errorf("the second run opened the database before refusing:\n%s", second.stderr)
	}

	list := runBinary(t, dir, env, "cases", "list", "--guild", guild.String())
	if list.code != 0 {
		t.Fatalf("gavel cases list beside a running gavel failed (%d):\n%s%s", list.code, list.stdout, list.stderr)
	}

	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	_, out2, _ := start()
	waitUntil(t, hangBound, "a gavel run to start once the first was killed", func() bool {
		return strings.Contains(out2.String(), `msg="serving guild"`)
	})
}
