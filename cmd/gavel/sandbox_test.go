package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSandboxCommand runs `gavel sandbox` with no token and no configuration, on a
// database file of the test's: it prints the URL, the URL serves the panel, and the command
// stops cleanly, keeping the file.
func TestSandboxCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(t.TempDir(), "sandbox.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	code := make(chan int, 1)
	noEnv := func(string) (string, bool) { return "", false }
	go func() {
		code <- run(ctx, nil, dir, []string{"sandbox", "--addr", "127.0.0.1:0", "--db", db}, &stdout, &stderr, noEnv)
	}()

	urlRE := regexp.MustCompile(`open (http://\S+/sandbox/)`)
	// The bound only ends a failing test: 30 s ran out under -race at load 24, the fake
	// answering gavel's first interaction 3.4 s late (session 10).
	out, err := stdout.waitFor(2*time.Minute, code, urlRE.MatchString)
	if err != nil {
		t.Fatalf("sandbox printed no URL (%v); stdout %q, stderr:\n%s", err, out, stderr.String())
	}
	url := urlRE.FindStringSubmatch(out)[1]
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "gavel sandbox") || !strings.Contains(string(body), "signed in without OAuth") {
		t.Fatalf("GET %s = %d:\n%s", url, resp.StatusCode, body)
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("sandbox exited with %d; stderr:\n%s", c, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("sandbox did not stop after its context ended")
	}
	if !strings.Contains(stdout.String(), "control API") || !strings.Contains(stdout.String(), "/control\n") {
		t.Errorf("sandbox printed no control API URL: %q", stdout.String())
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("the --db file is gone: %v", err)
	}
}
