package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// result is what one run of the binary produced.
type result struct {
	code           int
	stdout, stderr string
}

// gavel runs the command line in-process with the given environment, taking relative paths
// from dir (a fresh directory of the test's, so that no gavel.toml lying around changes the
// result) as the binary takes them from its working directory. The output names the files
// as the binary would, relative: dir's prefix is cut from it.
func gavel(t *testing.T, dir string, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	lookup := func(key string) (string, bool) {
		v, ok := env[key]
		return v, ok
	}
	code := run(context.Background(), nil, dir, args, &stdout, &stderr, lookup)
	rel := func(s string) string { return strings.ReplaceAll(s, dir+string(filepath.Separator), "") }
	return result{code: code, stdout: rel(stdout.String()), stderr: rel(stderr.String())}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	got := gavel(t, dir, nil, "version")
	if got.code != 0 || got.stderr != "" {
		t.Fatalf("code %d, stderr %q", got.code, got.stderr)
	}
	for _, want := range []string{"version: dev\n", "commit: ", "go: " + runtime.Version() + "\n"} {
		if !strings.Contains(got.stdout, want) {
			t.Errorf("stdout %q does not contain %q", got.stdout, want)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	const goodFile = "[database]\nurl = \"sqlite:data/gavel.db\"\nmax_open_conns = 4\n\n[log]\nlevel = \"debug\"\n"
	tests := []struct {
		name       string
		file       string // written to gavel.toml when set
		env        map[string]string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{
			name:     "defaults without a file",
			args:     []string{"config", "check"},
			wantCode: 0,
			wantStdout: `[database]
url = "sqlite:gavel.db"
max_open_conns = 10

[log]
level = "info"
format = "text"

[discord]
token = "(not set: gavel reads it only from DISCORD_TOKEN)"
api_url = "https://discord.com/api/v10"
gateway_url = "wss://gateway.discord.gg"
shard_count = "auto"
shards = "auto"
rest_share = 0
lease_renew = "5s"
lease_ttl = "30s"

[metrics]
addr = ""

[expiry]
poll_interval = "2s"
max_attempts = 8
workers = 8

[web]
addr = ""
public_url = ""
client_id = ""
client_secret = "(not set: read only from GAVEL_WEB_CLIENT_SECRET)"
`,
		},
		{
			name:     "good config file",
			file:     goodFile,
			args:     []string{"config", "check"},
			wantCode: 0,
			wantStdout: `[database]
url = "sqlite:data/gavel.db"
max_open_conns = 4

[log]
level = "debug"
format = "text"

[discord]
token = "(not set: gavel reads it only from DISCORD_TOKEN)"
api_url = "https://discord.com/api/v10"
gateway_url = "wss://gateway.discord.gg"
shard_count = "auto"
shards = "auto"
rest_share = 0
lease_renew = "5s"
lease_ttl = "30s"

[metrics]
addr = ""

[expiry]
poll_interval = "2s"
max_attempts = 8
workers = 8

[web]
addr = ""
public_url = ""
client_id = ""
client_secret = "(not set: read only from GAVEL_WEB_CLIENT_SECRET)"
`,
		},
		{
			name: "token and password masked",
			env: map[string]string{
				"DISCORD_TOKEN":      "MTIz.secret.token",
				"GAVEL_DATABASE_URL": "postgres://gavel:hunter2@db:5432/gavel?sslmode=disable",
			},
			args:     []string{"config", "check"},
			wantCode: 0,
			wantStdout: `[database]
url = "postgres://gavel:xxxxx@db:5432/gavel?sslmode=disable"
max_open_conns = 10

[log]
level = "info"
format = "text"

[discord]
token = "(set from DISCORD_TOKEN; hidden)"
api_url = "https://discord.com/api/v10"
gateway_url = "wss://gateway.discord.gg"
shard_count = "auto"
shards = "auto"
rest_share = 0
lease_renew = "5s"
lease_ttl = "30s"

[metrics]
addr = ""

[expiry]
poll_interval = "2s"
max_attempts = 8
workers = 8

[web]
addr = ""
public_url = ""
client_id = ""
client_secret = "(not set: read only from GAVEL_WEB_CLIENT_SECRET)"
`,
		},
		{
			name:     "env overrides file, flags override env",
			file:     goodFile,
			env:      map[string]string{"GAVEL_LOG_LEVEL": "warn", "GAVEL_LOG_FORMAT": "json", "GAVEL_DATABASE_MAX_OPEN_CONNS": "8"},
			args:     []string{"--log-level", "error", "config", "check", "--database", "sqlite:///var/lib/gavel/gavel.db"},
			wantCode: 0,
			wantStdout: `[database]
url = "sqlite:///var/lib/gavel/gavel.db"
max_open_conns = 8

[log]
level = "error"
format = "json"

[discord]
token = "(not set: gavel reads it only from DISCORD_TOKEN)"
api_url = "https://discord.com/api/v10"
gateway_url = "wss://gateway.discord.gg"
shard_count = "auto"
shards = "auto"
rest_share = 0
lease_renew = "5s"
lease_ttl = "30s"

[metrics]
addr = ""

[expiry]
poll_interval = "2s"
max_attempts = 8
workers = 8

[web]
addr = ""
public_url = ""
client_id = ""
client_secret = "(not set: read only from GAVEL_WEB_CLIENT_SECRET)"
`,
		},
		{
			name:       "unknown key",
			file:       "[log]\nlvl = \"debug\"\n",
			args:       []string{"config", "check"},
			wantCode:   1,
			wantStderr: "gavel: config gavel.toml:2:1: unknown key \"log.lvl\"; known keys: database.max_open_conns, database.url, discord.api_url, discord.bot_owners, discord.gateway_url, discord.guilds, discord.lease_renew, discord.lease_ttl, discord.rest_share, discord.shard_count, discord.shards, expiry.max_attempts, expiry.poll_interval, expiry.workers, log.format, log.level, metrics.addr, web.addr, web.client_id, web.public_url\n",
		},
		{
			name:       "token in file",
			file:       "[discord]\ntoken = \"MTIz.secret.token\"\n",
			args:       []string{"config", "check"},
			wantCode:   1,
			wantStderr: "gavel: config gavel.toml:2:1: \"discord.token\" is a secret and is read only from the DISCORD_TOKEN environment variable\n",
		},
		{
			name:       "invalid flag value",
			args:       []string{"config", "check", "--log-format", "xml"},
			wantCode:   1,
			wantStderr: "gavel: log.format \"xml\" is not one of text, json\n",
		},
		{
			name:       "bad environment variable",
			env:        map[string]string{"GAVEL_DATABASE_MAX_OPEN_CONNS": "lots"},
			args:       []string{"config", "check"},
			wantCode:   1,
			wantStderr: "gavel: environment variable GAVEL_DATABASE_MAX_OPEN_CONNS: \"lots\" is not a whole number\n",
		},
		{
			name:       "explicit config file must exist",
			args:       []string{"--config", "gavel.toml", "config", "check"},
			wantCode:   1,
			wantStderr: "gavel: config gavel.toml: file does not exist\n",
		},
		{
			name:     "explicit config file is read",
			file:     goodFile,
			args:     []string{"config", "check", "-c", "gavel.toml"},
			wantCode: 0,
			wantStdout: `[database]
url = "sqlite:data/gavel.db"
max_open_conns = 4

[log]
level = "debug"
format = "text"

[discord]
token = "(not set: gavel reads it only from DISCORD_TOKEN)"
api_url = "https://discord.com/api/v10"
gateway_url = "wss://gateway.discord.gg"
shard_count = "auto"
shards = "auto"
rest_share = 0
lease_renew = "5s"
lease_ttl = "30s"

[metrics]
addr = ""

[expiry]
poll_interval = "2s"
max_attempts = 8
workers = 8

[web]
addr = ""
public_url = ""
client_id = ""
client_secret = "(not set: read only from GAVEL_WEB_CLIENT_SECRET)"
`,
		},
		{
			name:       "usage error",
			args:       []string{"config", "verify"},
			wantCode:   2,
			wantStderr: "gavel: unexpected argument verify\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.file != "" {
				if err := os.WriteFile(filepath.Join(dir, "gavel.toml"), []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got := gavel(t, dir, tt.env, tt.args...)
			if got != (result{tt.wantCode, tt.wantStdout, tt.wantStderr}) {
				t.Errorf("gavel %s\n code %d, want %d\n stdout %q\n  want  %q\n stderr %q\n  want  %q",
					strings.Join(tt.args, " "), got.code, tt.wantCode, got.stdout, tt.wantStdout, got.stderr, tt.wantStderr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	got := gavel(t, dir, nil, "--help")
	if got.code != 0 || got.stderr != "" || !strings.Contains(got.stdout, "config check") {
		t.Fatalf("code %d, stderr %q, stdout %q", got.code, got.stderr, got.stdout)
	}
}

func TestNoArgumentsPrintsHelp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	got := gavel(t, dir, nil)
	if got.code != 0 || got.stderr != "" || !strings.HasPrefix(got.stdout, "Usage: gavel <command>") {
		t.Fatalf("code %d, stderr %q, stdout %q", got.code, got.stderr, got.stdout)
	}
}

func TestVersionFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, args := range [][]string{{"--version"}, {"migrate", "up", "--version"}} {
		got := gavel(t, dir, nil, args...)
		if got.code != 0 || got.stderr != "" || !strings.HasPrefix(got.stdout, "version: dev\ncommit: ") {
			t.Errorf("%v: code %d, stderr %q, stdout %q", args, got.code, got.stderr, got.stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "gavel.db")); err == nil {
		t.Error("migrate up --version ran the migration")
	}
}

// TestConfigCheckDocumented: docs/cli.md's sample of config check is the real output.
func TestConfigCheckDocumented(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	got := gavel(t, dir, map[string]string{"DISCORD_TOKEN": "MTIz.x.y"}, "config", "check")
	doc := docBlock(t, "$ DISCORD_TOKEN=… gavel config check\n")
	if want := strings.TrimPrefix(doc, "$ DISCORD_TOKEN=… gavel config check\n"); got.code != 0 || got.stdout != want {
		t.Errorf("docs/cli.md's config check sample is stale:\n doc %q\nreal %q", want, got.stdout)
	}
}
