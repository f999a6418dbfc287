package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRunServesGateway starts the binary's run on a free port with the sample seed, reads
// the URLs it prints, and asks the REST API for the gateway URL.
func TestRunServesGateway(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, outW := io.Pipe()
	exited := make(chan int, 1)
	go func() {
		// The address comes from the environment, as FAKEDISCORD_ADDR gives it.
		env := func(k string) string {
			if k == "FAKEDISCORD_ADDR" {
				return "127.0.0.1:0"
			}
			return ""
		}
		code := run(ctx, []string{"--state", "testdata/seed.json", "--log-level", "warn"}, env, outW, io.Discard)
		outW.Close()
		exited <- code
	}()

	printed := map[string]string{}
	lines := bufio.NewScanner(out)
	for len(printed) < 4 && lines.Scan() {
		k, v, ok := strings.Cut(lines.Text(), "=")
		if !ok {
			t.Fatalf("unexpected output line %q", lines.Text())
		}
		printed[k] = v
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	for _, k := range []string{"api_url", "gateway_url", "control_url", "token"} {
		if printed[k] == "" {
			t.Fatalf("run printed no %s: %v", k, printed)
		}
	}

	resp, err := http.Get(printed["api_url"] + "/gateway")
	if err != nil {
		t.Fatalf("GET /gateway: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		URL string `json:"url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode /gateway: %v", err)
	}
	if resp.StatusCode != http.StatusOK || body.URL != printed["gateway_url"] {
		t.Fatalf("GET /gateway = %d %q, want 200 %q", resp.StatusCode, body.URL, printed["gateway_url"])
	}

	// The seed is loaded: the bot can read the seeded guild.
	req, _ := http.NewRequest(http.MethodGet, printed["api_url"]+"/guilds/300000000000000001", nil)
	req.Header.Set("Authorization", "Bot "+printed["token"])
	g, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET guild: %v", err)
	}
	g.Body.Close()
	if g.StatusCode != http.StatusOK {
		t.Fatalf("GET seeded guild = %d, want 200", g.StatusCode)
	}

	// The control API: the seeded member posts in #general, and the channel reads it back.
	post, err := http.Post(printed["control_url"]+"/messages", "application/json",
		strings.NewReader(`{"channel":"500000000000000001","user":"200000000000000003","content":"hello from the control API"}`))
	if err != nil {
		t.Fatalf("POST /control/messages: %v", err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusCreated {
		t.Fatalf("POST /control/messages = %d, want 201", post.StatusCode)
	}
	list, err := http.Get(printed["control_url"] + "/channels/500000000000000001/messages")
	if err != nil {
		t.Fatalf("GET messages: %v", err)
	}
	defer list.Body.Close()
	var msgs []struct {
		Content string `json:"content"`
		Author  struct {
			Username string `json:"username"`
		} `json:"author"`
	}
	if err := json.NewDecoder(list.Body).Decode(&msgs); err != nil {
		t.Fatalf("decode messages: %v", err)
	}
	if len(msgs) != 1 || msgs[0].Content != "hello from the control API" || msgs[0].Author.Username != "member" {
		t.Fatalf("messages = %+v", msgs)
	}

	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("run exited with %d, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop after its context was cancelled")
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	var stderr strings.Builder
	if code := run(context.Background(), []string{"--no-such-flag"}, func(string) string { return "" }, io.Discard, &stderr); code != exitUsage {
		t.Errorf("unknown flag: exit %d, want %d", code, exitUsage)
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--state", "testdata/missing.json"}, func(string) string { return "" }, io.Discard, &stderr); code != exitFailure {
		t.Errorf("missing seed: exit %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stderr.String(), "missing.json") {
		t.Errorf("missing seed: stderr %q does not name the file", stderr.String())
	}
}
