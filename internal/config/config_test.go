package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
	"github.com/google/go-cmp/cmp"
)

// lookupIn stands in for os.LookupEnv so that no test depends on the process environment.
func lookupIn(vars map[string]string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		v, ok := vars[key]
		return v, ok
	}
}

func TestLoadAndValidate(t *testing.T) {
	withDefaults := func(edit func(*Config)) Config {
		c := Default()
		edit(&c)
		return c
	}
	tests := []struct {
		name     string
		file     string // written to gavel.toml unless empty
		noFile   bool
		required bool
		env      map[string]string
		want     Config
		wantErr  string
	}{
		{
			name:   "defaults",
			noFile: true,
			want:   Default(),
		},
		{
			name: "empty file keeps defaults",
			file: "# nothing set\n",
			want: Default(),
		},
		{
			name: "file overrides defaults",
			file: "[database]\nurl = \"postgres://gavel@db:5432/gavel\"\nmax_open_conns = 25\n\n[log]\nlevel = \"debug\"\nformat = \"json\"\n",
			want: Config{
				Database: Database{URL: "postgres://gavel@db:5432/gavel", MaxOpenConns: 25},
				Log:      Log{Level: "debug", Format: "json"},
				Discord:  Discord{APIURL: DefaultAPIURL, GatewayURL: DefaultGatewayURL, ShardCount: "auto", Shards: "auto", LeaseRenew: "5s", LeaseTTL: "30s"},
				Expiry:   Expiry{PollInterval: "2s", MaxAttempts: 8, Workers: 8},
			},
		},
		{
			name: "empty discord table is allowed",
			file: "[discord]\n",
			want: Default(),
		},
		{
			name: "env overrides file",
			file: "[database]\nurl = \"sqlite:file.db\"\nmax_open_conns = 25\n[log]\nlevel = \"debug\"\n",
			env: map[string]string{
				"GAVEL_DATABASE_URL":            "sqlite:env.db",
				"GAVEL_DATABASE_MAX_OPEN_CONNS": "7",
				"GAVEL_LOG_FORMAT":              "json",
				"DISCORD_TOKEN":                 "token-from-env",
			},
			want: Config{
				Database: Database{URL: "sqlite:env.db", MaxOpenConns: 7},
				Log:      Log{Level: "debug", Format: "json"},
				Discord:  Discord{Token: "token-from-env", APIURL: DefaultAPIURL, GatewayURL: DefaultGatewayURL, ShardCount: "auto", Shards: "auto", LeaseRenew: "5s", LeaseTTL: "30s"},
				Expiry:   Expiry{PollInterval: "2s", MaxAttempts: 8, Workers: 8},
			},
		},
		{
			name: "empty env variable counts as unset",
			file: "[log]\nlevel = \"warn\"\n",
			env:  map[string]string{"GAVEL_LOG_LEVEL": "", "GAVEL_DATABASE_MAX_OPEN_CONNS": ""},
			want: withDefaults(func(c *Config) { c.Log.Level = "warn" }),
		},
		{
			name:    "unknown key",
			file:    "[database]\nurll = \"sqlite:x.db\"\n",
			wantErr: `config gavel.toml:2:1: unknown key "database.urll"; known keys: database.max_open_conns, database.url, discord.api_url, discord.bot_owners, discord.gateway_url, discord.guilds, discord.lease_renew, discord.lease_ttl, discord.rest_share, discord.shard_count, discord.shards, expiry.max_attempts, expiry.poll_interval, expiry.workers, log.format, log.level, metrics.addr, web.addr, web.client_id, web.public_url`,
		},
		{
			name:    "unknown table",
			file:    "[telemetry]\nlisten = \":9090\"\n",
			wantErr: `config gavel.toml:1:1: unknown key "telemetry"; known keys: database.max_open_conns, database.url, discord.api_url, discord.bot_owners, discord.gateway_url, discord.guilds, discord.lease_renew, discord.lease_ttl, discord.rest_share, discord.shard_count, discord.shards, expiry.max_attempts, expiry.poll_interval, expiry.workers, log.format, log.level, metrics.addr, web.addr, web.client_id, web.public_url`,
		},
		{
			name:    "keys are case-sensitive",
			file:    "[Database]\nurl = \"sqlite:x.db\"\n",
			wantErr: `config gavel.toml:1:1: unknown key "Database"; known keys: database.max_open_conns, database.url, discord.api_url, discord.bot_owners, discord.gateway_url, discord.guilds, discord.lease_renew, discord.lease_ttl, discord.rest_share, discord.shard_count, discord.shards, expiry.max_attempts, expiry.poll_interval, expiry.workers, log.format, log.level, metrics.addr, web.addr, web.client_id, web.public_url`,
		},
		{
			name:    "dotted key in quotes is one key",
			file:    "\"database.url\" = \"sqlite:x.db\"\n",
			wantErr: `config gavel.toml:1:1: unknown key "\"database.url\""; known keys: database.max_open_conns, database.url, discord.api_url, discord.bot_owners, discord.gateway_url, discord.guilds, discord.lease_renew, discord.lease_ttl, discord.rest_share, discord.shard_count, discord.shards, expiry.max_attempts, expiry.poll_interval, expiry.workers, log.format, log.level, metrics.addr, web.addr, web.client_id, web.public_url`,
		},
		{
			name:    "token in file rejected",
			file:    "[discord]\ntoken = \"abc.def.ghi\"\n",
			wantErr: `config gavel.toml:2:1: "discord.token" is a secret and is read only from the DISCORD_TOKEN environment variable`,
		},
		{
			name:    "token in inline table rejected",
			file:    "discord = { token = \"abc.def.ghi\" }\n",
			wantErr: `config gavel.toml:1:1: "discord.token" is a secret and is read only from the DISCORD_TOKEN environment variable`,
		},
		{
			name:    "wrong type",
			file:    "[database]\nmax_open_conns = \"ten\"\n",
			wantErr: `config gavel.toml:2:1: database.max_open_conns is a string; it takes a whole number from 1 to 1000, such as max_open_conns = 10`,
		},
		{
			name:    "scalar where a table belongs",
			file:    "database = \"sqlite:x.db\"\n",
			wantErr: `config gavel.toml:1:1: database is a string; it takes a table, such as [database] followed by its keys`,
		},
		{
			name:    "TOML syntax error",
			file:    "[log]\nlevel = \"debug\"\nformat = json\n",
			wantErr: `config gavel.toml:3:10: expected value but found "json" instead`,
		},
		{
			name:    "unterminated string",
			file:    "[database]\nurl = \"sqlite:x.db\n",
			wantErr: `config gavel.toml:2:19: strings cannot contain newlines`,
		},
		{
			name:    "an array's element of the wrong type, in an inline table",
			file:    "# ids\n\ndiscord = { guilds = [\"1\", 2.5] }\n[log]\nlevel = \"info\"\n",
			wantErr: `config gavel.toml:3:1: discord.guilds holds a float; it takes an array of Discord ids, each in quotes, such as guilds = ["123456789012345678"]`,
		},
		{
			name:    "a number where a string belongs",
			file:    "[expiry]\npoll_interval = 2\n",
			wantErr: `config gavel.toml:2:1: expiry.poll_interval is an integer; it takes a duration in quotes from 100ms to 1m, such as poll_interval = "2s"`,
		},
		{
			name:    "a boolean where a number belongs, indented",
			file:    "[expiry]\n  workers = true\n",
			wantErr: `config gavel.toml:2:3: expiry.workers is a boolean; it takes a whole number from 1 to 64, such as workers = 8`,
		},
		{
			name:    "an array of tables where a table belongs",
			file:    "[[log]]\nlevel = \"info\"\n",
			wantErr: `config gavel.toml:1:1: log is an array of tables; it takes a table, such as [log] followed by its keys`,
		},
		{
			name:    "unclosed array is reported where it opens, not at the next table",
			file:    "[discord]\nguilds = [\"1\"\n\n[log]\nlevel = \"info\"\n",
			wantErr: `config gavel.toml:2:10: this array is not closed (at 4:1: expected a comma (',') or array terminator (']'), but got '[')`,
		},
		{
			name:    "unclosed multi-line string is reported where it opens",
			file:    "[database]\nurl = \"\"\"sqlite:x.db\n\n[log]\n",
			wantErr: `config gavel.toml:2:7: this multi-line string is not closed (at 4:6: unexpected EOF; expected '"""')`,
		},
		{
			name:    "missing value at the end of the file is on its own line",
			file:    "[log]\nlevel = \"debug\"\nformat =",
			wantErr: `config gavel.toml:3:9: unexpected EOF; expected value`,
		},
		{
			name:    "trailing blank lines do not move an error off its line",
			file:    "[discord]\nguilds = [\"1\",\n\n\n",
			wantErr: `config gavel.toml:2:10: this array is not closed (at 2:15: unexpected EOF; expected value)`,
		},
		{
			name:    "columns count characters, and CRLF files count lines the same",
			file:    "# réglages\r\n[log]\r\nlevel = \"débug\" x\r\n",
			wantErr: `config gavel.toml:3:17: expected a top-level item to end with a newline, comment, or EOF, but got 'x' instead`,
		},
		{
			name:    "a number out of range says what the key takes",
			file:    "[database]\nmax_open_conns = 99999999999999999999\n",
			wantErr: `config gavel.toml:2:18: 99999999999999999999 is out of range for int64; database.max_open_conns takes a whole number from 1 to 1000, such as max_open_conns = 10`,
		},
		{
			name:     "missing required file",
			noFile:   true,
			required: true,
			wantErr:  `config gavel.toml: file does not exist`,
		},
		{
			name:    "bad level",
			file:    "[log]\nlevel = \"verbose\"\n",
			wantErr: `log.level "verbose" is not one of debug, info, warn, error`,
		},
		{
			name:    "bad level from env",
			env:     map[string]string{"GAVEL_LOG_LEVEL": "INFO"},
			wantErr: `log.level "INFO" is not one of debug, info, warn, error`,
		},
		{
			name:    "bad format",
			file:    "[log]\nformat = \"xml\"\n",
			wantErr: `log.format "xml" is not one of text, json`,
		},
		{
			name:    "max_open_conns zero",
			file:    "[database]\nmax_open_conns = 0\n",
			wantErr: `database.max_open_conns 0 is not between 1 and 1000`,
		},
		{
			name:    "max_open_conns too large",
			file:    "[database]\nmax_open_conns = 1001\n",
			wantErr: `database.max_open_conns 1001 is not between 1 and 1000`,
		},
		{
			name: "discord and metrics from the file",
			file: "[discord]\napi_url = \"http://127.0.0.1:8080/api/v10\"\ngateway_url = \"ws://127.0.0.1:8080/ws\"\nguilds = [\"100\", \"200\"]\nbot_owners = [\"42\"]\n[metrics]\naddr = \":9090\"\n",
			want: withDefaults(func(c *Config) {
				c.Discord = Discord{APIURL: "http://127.0.0.1:8080/api/v10", GatewayURL: "ws://127.0.0.1:8080/ws",
					Guilds: []string{"100", "200"}, BotOwners: []string{"42"}, ShardCount: "auto", Shards: "auto", LeaseRenew: "5s", LeaseTTL: "30s"}
				c.Metrics.Addr = ":9090"
			}),
		},
		{
			name: "discord and metrics from the environment",
			env: map[string]string{"GAVEL_DISCORD_API_URL": "https://proxy.example/api/v10", "GAVEL_DISCORD_GATEWAY_URL": "wss://gw.example",
				"GAVEL_DISCORD_GUILDS": "1,2", "GAVEL_DISCORD_BOT_OWNERS": "3", "GAVEL_METRICS_ADDR": "127.0.0.1:9090"},
			want: withDefaults(func(c *Config) {
				c.Discord = Discord{APIURL: "https://proxy.example/api/v10", GatewayURL: "wss://gw.example",
					Guilds: []string{"1", "2"}, BotOwners: []string{"3"}, ShardCount: "auto", Shards: "auto", LeaseRenew: "5s", LeaseTTL: "30s"}
				c.Metrics.Addr = "127.0.0.1:9090"
			}),
		},
		{
			name: "shards from the file: a count as a number, ids as ranges",
			file: "[discord]\nshard_count = 16\nshards = \"0-3, 8\"\n",
			want: withDefaults(func(c *Config) { c.Discord.ShardCount, c.Discord.Shards = "16", "0-3, 8" }),
		},
		{
			name: "shards from the environment",
			env:  map[string]string{"GAVEL_DISCORD_SHARD_COUNT": "4", "GAVEL_DISCORD_SHARDS": "2,3"},
			want: withDefaults(func(c *Config) { c.Discord.ShardCount, c.Discord.Shards = "4", "2,3" }),
		},
		{
			name:    "bad shard settings say what is accepted",
			file:    "[discord]\nshard_count = 0\nshards = \"3-1\"\n",
			wantErr: `discord.shard_count "0": accepted is "auto" (the count GET /gateway/bot recommends, raised when Discord asks for more) or a whole number from 1 to 65536, such as shard_count = 16; discord.shards "3-1": the range 3-1 runs backwards; accepted is "auto" (take free shards from the database) or shard ids and ranges from 0 to 65535 separated by commas, such as shards = "0-15" or shards = "0,2,4-7"`,
		},
		{
			name: "lease timings from the file and the environment",
			file: "[discord]\nlease_renew = \"500ms\"\nlease_ttl = \"10s\"\n",
			env:  map[string]string{"GAVEL_DISCORD_LEASE_TTL": "3s"},
			want: withDefaults(func(c *Config) { c.Discord.LeaseRenew, c.Discord.LeaseTTL = "500ms", "3s" }),
		},
		{
			name:    "lease timings out of range",
			file:    "[discord]\nlease_renew = \"50ms\"\nlease_ttl = \"forever\"\n",
			wantErr: `discord.lease_renew "50ms" is not a duration from 100ms to 1m0s (such as "5s"); discord.lease_ttl "forever" is not a duration from 1s to 10m0s (such as "30s")`,
		},
		{
			name:    "a lease TTL shorter than three renewals",
			env:     map[string]string{"GAVEL_DISCORD_LEASE_RENEW": "1s", "GAVEL_DISCORD_LEASE_TTL": "2s"},
			wantErr: `discord.lease_ttl 2s is less than 3 times discord.lease_renew (1s): one late renewal would lose the shards`,
		},
		{
			name:    "a shard count of another type",
			file:    "[discord]\nshard_count = 1.5\n",
			wantErr: `config gavel.toml:2:1: discord.shard_count is a float; it takes "auto" or a whole number of shards from 1 to 65536, such as shard_count = "auto" or shard_count = 16`,
		},
		{
			name:    "discord URLs need their schemes",
			file:    "[discord]\napi_url = \"ws://x/api\"\ngateway_url = \"https://gateway\"\n",
			wantErr: `discord.api_url: "ws://x/api" is not a URL with a host and the scheme http or https; discord.gateway_url: "https://gateway" is not a URL with a host and the scheme ws or wss`,
		},
		{
			name:    "ids must be snowflakes",
			file:    "[discord]\nguilds = [\"abc\"]\nbot_owners = [\"-1\"]\n",
			wantErr: `discord.guilds: "abc" is not a Discord id (a positive whole number such as "123456789012345678"); discord.bot_owners: "-1" is not a Discord id (a positive whole number such as "123456789012345678")`,
		},
		{
			name: "expiry from the file and the environment",
			file: "[expiry]\npoll_interval = \"500ms\"\nmax_attempts = 3\nworkers = 16\n",
			env:  map[string]string{"GAVEL_EXPIRY_MAX_ATTEMPTS": "5", "GAVEL_EXPIRY_WORKERS": "12"},
			want: withDefaults(func(c *Config) { c.Expiry = Expiry{PollInterval: "500ms", MaxAttempts: 5, Workers: 12} }),
		},
		{
			name:    "expiry values out of range",
			file:    "[expiry]\npoll_interval = \"soon\"\nmax_attempts = 0\nworkers = 65\n",
			wantErr: `expiry.poll_interval "soon" is not a duration from 100ms to 1m0s (such as "2s"); expiry.max_attempts 0 is not between 1 and 100; expiry.workers 65 is not between 1 and 64`,
		},
		{
			name:    "ids are strings",
			file:    "[discord]\nguilds = [100]\n",
			wantErr: `config gavel.toml:2:1: discord.guilds holds an integer; it takes an array of Discord ids, each in quotes, such as guilds = ["123456789012345678"]`,
		},
		{
			name:    "metrics address needs a port",
			env:     map[string]string{"GAVEL_METRICS_ADDR": "localhost"},
			wantErr: `metrics.addr "localhost" is not host:port (such as "127.0.0.1:9090" or ":9090"); leave it empty to turn metrics off`,
		},
		{
			name:    "max_open_conns not a number in env",
			env:     map[string]string{"GAVEL_DATABASE_MAX_OPEN_CONNS": "abc"},
			wantErr: `environment variable GAVEL_DATABASE_MAX_OPEN_CONNS: "abc" is not a whole number`,
		},
		{
			name:    "malformed URL",
			file:    "[database]\nurl = \"mysql://root@localhost/gavel\"\n",
			wantErr: `database.url: database URL "mysql://root@localhost/gavel" has unsupported scheme "mysql"; accepted: "sqlite:PATH" (e.g. sqlite:gavel.db, sqlite:///var/lib/gavel/gavel.db) or "postgres://user@host:port/db"`,
		},
		{
			name:    "every problem reported at once",
			file:    "[database]\nmax_open_conns = -1\n[log]\nlevel = \"loud\"\nformat = \"yaml\"\n",
			wantErr: `database.max_open_conns -1 is not between 1 and 1000; log.level "loud" is not one of debug, info, warn, error; log.format "yaml" is not one of text, json`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The relative path makes the messages read as they do for a user.
			t.Chdir(t.TempDir())
			if !tt.noFile {
				if err := os.WriteFile("gavel.toml", []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Load("gavel.toml", tt.required, lookupIn(tt.env))
			if err == nil {
				err = got.Validate()
			}
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("no error; want %q", tt.wantErr)
				}
				if err.Error() != tt.wantErr {
					t.Fatalf("error:\n got %s\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("config mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadWithoutPath(t *testing.T) {
	got, err := Load("", true, lookupIn(map[string]string{"GAVEL_LOG_LEVEL": "error"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Log.Level = "error"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir, false, lookupIn(nil))
	want := fmt.Sprintf("config %s: is a directory", dir)
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v; want %s", err, want)
	}
}

func TestWriteTOML(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{
			name: "defaults",
			cfg:  Default(),
			want: `[database]
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
			name: "secrets masked",
			cfg: Config{
				Database: Database{URL: "postgres://gavel:hunter2@db:5432/gavel?sslmode=disable", MaxOpenConns: 20},
				Log:      Log{Level: "debug", Format: "json"},
				Discord:  Discord{Token: "MTIz.real.token"},
			},
			want: `[database]
url = "postgres://gavel:xxxxx@db:5432/gavel?sslmode=disable"
max_open_conns = 20

[log]
level = "debug"
format = "json"

[discord]
token = "(set from DISCORD_TOKEN; hidden)"
api_url = ""
gateway_url = ""
shard_count = ""
shards = ""
rest_share = 0
lease_renew = ""
lease_ttl = ""

[metrics]
addr = ""

[expiry]
poll_interval = ""
max_attempts = 0
workers = 0

[web]
addr = ""
public_url = ""
client_id = ""
client_secret = "(not set: read only from GAVEL_WEB_CLIENT_SECRET)"
`,
		},
		{
			name: "invalid URL hidden",
			cfg: Config{
				Database: Database{URL: "postgres://gavel:hunter2@db:5432/%zz", MaxOpenConns: 20},
				Log:      Log{Level: "info", Format: "text"},
			},
			want: `[database]
url = "(invalid)"
max_open_conns = 20

[log]
level = "info"
format = "text"

[discord]
token = "(not set: gavel reads it only from DISCORD_TOKEN)"
api_url = ""
gateway_url = ""
shard_count = ""
shards = ""
rest_share = 0
lease_renew = ""
lease_ttl = ""

[metrics]
addr = ""

[expiry]
poll_interval = ""
max_attempts = 0
workers = 0

[web]
addr = ""
public_url = ""
client_id = ""
client_secret = "(not set: read only from GAVEL_WEB_CLIENT_SECRET)"
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.cfg.WriteTOML(&buf); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, buf.String()); diff != "" {
				t.Errorf("TOML mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSecretNeverPrinted covers the ways a Config ends up in output by accident.
func TestSecretNeverPrinted(t *testing.T) {
	const token = "MTIz.real.token"
	cfg := Default()
	cfg.Discord.Token = token

	var out bytes.Buffer
	fmt.Fprintf(&out, "%v %+v %#v %s\n", cfg, cfg, cfg, cfg.Discord.Token)
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(j)
	slog.New(slog.NewTextHandler(&out, nil)).Info("config", "cfg", cfg, "token", cfg.Discord.Token)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("config", "cfg", cfg, "token", cfg.Discord.Token)

	if strings.Contains(out.String(), token) {
		t.Fatalf("token leaked:\n%s", out.String())
	}
	if string(cfg.Discord.Token) != token {
		t.Fatalf("string(token) = %q; want the real value", string(cfg.Discord.Token))
	}
}

// TestExampleFile keeps gavel.example.toml loadable and valid, and keeps the copy in
// docs/configuration.md identical to it.
func TestExampleFile(t *testing.T) {
	root := filepath.Join("..", "..")
	example := filepath.Join(root, "gavel.example.toml")
	cfg, err := Load(example, true, lookupIn(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("gavel.example.toml: %v", err)
	}

	exampleText, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte("```toml\n"+string(exampleText)+"```\n")) {
		t.Errorf("docs/configuration.md does not contain gavel.example.toml verbatim in a ```toml block")
	}
	// Every key and variable is documented.
	for _, key := range leafKeys(fileKeys()) {
		if !bytes.Contains(doc, []byte("`"+key+"`")) {
			t.Errorf("docs/configuration.md does not mention `%s`", key)
		}
	}
	for _, name := range []string{"GAVEL_DATABASE_URL", "GAVEL_DATABASE_MAX_OPEN_CONNS", "GAVEL_LOG_LEVEL", "GAVEL_LOG_FORMAT", "DISCORD_TOKEN"} {
		if !bytes.Contains(doc, []byte("`"+name+"`")) {
			t.Errorf("docs/configuration.md does not mention `%s`", name)
		}
	}
}

// placeRE finds the line:column places an error names.
var placeRE = regexp.MustCompile(`(?:^:|at )(\d+):(\d+)`)

func FuzzLoad(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("[database]\nurl = \"postgres://u:p@h:5432/d?sslmode=disable\"\nmax_open_conns = 5\n[log]\nlevel = \"warn\"\nformat = \"json\"\n"))
	f.Add([]byte("[discord]\ntoken = \"x\"\n"))
	f.Add([]byte("[[database]]\nurl = 1\n"))
	f.Add([]byte("a.b.c = [1, {x = 2}]\n"))
	f.Add([]byte("[log]\nlevel = \"debug\nformat = 'json'\n"))
	f.Add([]byte("database.max_open_conns = 9223372036854775807\n"))
	f.Add([]byte("\xef\xbb\xbf[log]\nlevel = \"\\u0000\"\n"))
	f.Add([]byte("[discord]\nguilds = [\"1\"\n\n[log]\n"))
	f.Add([]byte("a = '''\nx\n"))
	f.Add([]byte("[log]\r\nlevel = \"é\" x\r\n"))
	f.Add([]byte("discord = { guilds = [1] }\n"))
	if example, err := os.ReadFile(filepath.Join("..", "..", "gavel.example.toml")); err == nil {
		f.Add(example)
	}
	// One file per fuzzing process, rewritten for each input: the inputs run one at a time.
	path := filepath.Join(f.TempDir(), "gavel.toml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path, true, lookupIn(nil))
		if err != nil {
			if strings.ContainsFunc(err.Error(), unicode.IsControl) {
				t.Fatalf("error is not one line: %q", err)
			}
			// Every place an error names is in the file: a line it has, a column at most
			// one past that line's last character.
			lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
			for _, m := range placeRE.FindAllStringSubmatch(strings.TrimPrefix(err.Error(), "config "+path), -1) {
				line, _ := strconv.Atoi(m[1])
				col, _ := strconv.Atoi(m[2])
				if line < 1 || line > len(lines) || col < 1 || col > utf8.RuneCountInString(strings.TrimSuffix(lines[line-1], "\r"))+1 {
					t.Fatalf("error names %d:%d, outside the file (%d lines): %v\n%q", line, col, len(lines), err, data)
				}
			}
			return
		}
		if err := cfg.Validate(); err != nil && strings.ContainsFunc(err.Error(), unicode.IsControl) {
			t.Fatalf("validation error is not one line: %q", err)
		}
		var buf bytes.Buffer
		if err := cfg.WriteTOML(&buf); err != nil {
			t.Fatalf("WriteTOML: %v", err)
		}
		var parsed map[string]any
		if _, err := toml.Decode(buf.String(), &parsed); err != nil {
			t.Fatalf("WriteTOML output does not parse: %v\n%s", err, buf.String())
		}
	})
}

func TestCheckToken(t *testing.T) {
	good := "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abc-def_ghi"
	if err := CheckToken(Secret(good)); err != nil {
		t.Fatalf("good token refused: %v", err)
	}
	if ApplicationID(good) != 123456789012345678 {
		t.Fatalf("ApplicationID = %d", ApplicationID(good))
	}
	for _, tc := range []struct{ token, want string }{
		{"", "DISCORD_TOKEN is not set"},
		{"one", "DISCORD_TOKEN is malformed: it has 1 parts"},
		{"a.b.c.d", "DISCORD_TOKEN is malformed: it has 4 parts"},
		{"Bot " + good, `DISCORD_TOKEN is malformed: it starts with "Bot "`},
		{"MTIz.b!d.c", "DISCORD_TOKEN is malformed: part 2 has characters that are not base64"},
		{"LTE=.b.c", "DISCORD_TOKEN is malformed: its first part is not an application id in base64"}, // "-1"
	} {
		err := CheckToken(Secret(tc.token))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !strings.Contains(err.Error(), "Bot → Reset Token") {
			t.Errorf("CheckToken(%q) = %v; want %q and where to get a token", tc.token, err, tc.want)
		}
	}
}

// tokenWording is every fixed word CheckToken's messages use.
const tokenWording = "DISCORD_TOKEN is malformed: it has parts; it starts with \"Bot \", which gavel adds itself; part is empty; has characters that are not base64; its first part is not an application id in base64; a bot token is three parts separated by dots, the first the application id in base64; " +
	"DISCORD_TOKEN is not set: gavel reads the bot token only from the DISCORD_TOKEN environment variable; " + TokenHelp

func FuzzCheckToken(f *testing.F) {
	f.Add("MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abc-def_ghi")
	f.Add("Bot x.y.z")
	f.Add("..")
	f.Add("secret\n.x.y")
	f.Fuzz(func(t *testing.T, token string) {
		err := CheckToken(Secret(token))
		if err == nil {
			if ApplicationID(strings.TrimSpace(token)) <= 0 {
				t.Fatalf("accepted %q without an application id", token)
			}
			return
		}
		// The message never quotes the token's secret parts (the text around them is fixed,
		// so a part that happens to be a word of it is no leak).
		parts := strings.Split(strings.TrimSpace(token), ".")
		for _, part := range parts[min(1, len(parts)-1):] {
			if len(part) >= 6 && strings.Contains(err.Error(), part) && !strings.Contains(tokenWording, part) {
				t.Fatalf("error quotes the token: %v", err)
			}
		}
		if strings.ContainsFunc(err.Error(), unicode.IsControl) {
			t.Fatalf("error is not one line: %q", err)
		}
	})
}

// TestWebValidate checks the [web] section: off by default, and when on, every value
// needed for sign-in is present and well formed, each problem said with what is accepted.
func TestWebValidate(t *testing.T) {
	good := Default()
	good.Web = Web{Addr: "127.0.0.1:8080", PublicURL: "https://gavel.example.org", ClientSecret: "s3cret"}
	if err := good.Validate(); err != nil {
		t.Fatalf("a good [web] section: %v", err)
	}
	if err := Default().Validate(); err != nil {
		t.Fatalf("the dashboard off: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(*Web)
		want string
	}{
		{"addr", func(w *Web) { w.Addr = "8080" }, `web.addr "8080" is not host:port`},
		{"no public url", func(w *Web) { w.PublicURL = "" }, "web.public_url is not set"},
		{"public url scheme", func(w *Web) { w.PublicURL = "ftp://x" }, `web.public_url "ftp://x" is not an http or https URL`},
		{"public url query", func(w *Web) { w.PublicURL = "https://x/?a=1" }, "no query"},
		{"client id", func(w *Web) { w.ClientID = "abc" }, `web.client_id: "abc" is not a Discord id`},
		{"no secret", func(w *Web) { w.ClientSecret = "" }, "GAVEL_WEB_CLIENT_SECRET is not set"},
	} {
		cfg := good
		c.edit(&cfg.Web)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want it to say %q", c.name, err, c.want)
		}
	}
	cfg := good
	cfg.Discord.Token = Secret("MTIzNDU2Nzg5MDEyMzQ1Njc4.fake.token")
	if got := cfg.OAuthClientID(); got != "123456789012345678" {
		t.Errorf("client id from the token = %q", got)
	}
	cfg.Web.ClientID = "42"
	if got := cfg.OAuthClientID(); got != "42" {
		t.Errorf("configured client id = %q", got)
	}
}
