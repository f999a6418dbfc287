// Package config holds gavel's configuration: its defaults, the TOML file, the GAVEL_*
// environment variables, and the validation every value passes before gavel uses it.
//
// The layers apply in this order, each overriding the one before: defaults, the file, the
// environment, then command-line flags (which the caller sets on the returned Config before
// calling Validate). Secrets come only from the environment.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/BurntSushi/toml"
	"github.com/caarlos0/env/v11"

	"github.com/gavelbot/gavel/internal/discord/shards"
	"github.com/gavelbot/gavel/internal/store"
)

// Config is gavel's whole configuration. The toml tags name the file's keys and the env tags
// the environment variables; both lists are read from these tags, so a new field needs no
// other registration.
type Config struct {
	Database Database `toml:"database"`
	Log      Log      `toml:"log"`
	Discord  Discord  `toml:"discord"`
	Metrics  Metrics  `toml:"metrics"`
	Expiry   Expiry   `toml:"expiry"`
	Web      Web      `toml:"web"`
}

// Web is the [web] section: the moderators' dashboard, which gavel run serves when Addr is
// set (docs/dashboard.md).
type Web struct {
	// Addr is the host:port the dashboard listens on; "" turns it off.
	Addr string `toml:"addr" env:"GAVEL_WEB_ADDR" accept:"host:port in quotes, such as addr = \"127.0.0.1:8080\", or \"\" for no dashboard"`
	// PublicURL is where browsers reach the dashboard (behind a reverse proxy, the proxy's
	// https address): Discord sends signed-in users back to PublicURL + "/auth/callback", and
	// cookies are Secure when it is https.
	PublicURL string `toml:"public_url" env:"GAVEL_WEB_PUBLIC_URL" accept:"an http or https URL in quotes, such as public_url = \"https://gavel.example.org\""`
	// ClientID is the OAuth2 client id; empty means the application id in DISCORD_TOKEN,
	// which is what Discord's developer portal shows as the client id.
	ClientID string `toml:"client_id" env:"GAVEL_WEB_CLIENT_ID" accept:"a Discord id in quotes, such as client_id = \"123456789012345678\""`
	// ClientSecret is read only from GAVEL_WEB_CLIENT_SECRET, like the token.
	ClientSecret Secret `toml:"-" env:"GAVEL_WEB_CLIENT_SECRET"`
}

// OAuthClientID returns the OAuth2 client id: ClientID, or the application id in the token.
func (c Config) OAuthClientID() string {
	if c.Web.ClientID != "" {
		return strings.TrimSpace(c.Web.ClientID)
	}
	if id := ApplicationID(string(c.Discord.Token)); id != 0 {
		return strconv.FormatInt(id, 10)
	}
	return ""
}

// Expiry is the [expiry] section: the poller that lifts tempbans, renews long timeouts and
// ends timed restrictions.
type Expiry struct {
	// PollInterval is how often the poller looks for actions other gavel processes
	// scheduled, as a Go duration ("2s"); actions this process schedules need no poll.
	PollInterval string `toml:"poll_interval" env:"GAVEL_EXPIRY_POLL_INTERVAL" accept:"a duration in quotes from 100ms to 1m, such as poll_interval = \"2s\""`
	// MaxAttempts is how many times an expiry is tried (with exponential backoff) before it
	// gives up and warns in the mod log.
	MaxAttempts int `toml:"max_attempts" env:"GAVEL_EXPIRY_MAX_ATTEMPTS" accept:"a whole number from 1 to 100, such as max_attempts = 8"`
	// Workers is how many expiries one process runs at once: more drain a burst (a mass
	// tempban ending) faster while Discord's latency, not its rate limit, is the bound.
	Workers int `toml:"workers" env:"GAVEL_EXPIRY_WORKERS" accept:"a whole number from 1 to 64, such as workers = 8"`
}

// Bounds of the [expiry] values.
const (
	minPollInterval = 100 * time.Millisecond
	maxPollInterval = time.Minute
	minAttempts     = 1
	maxAttempts     = 100
	minWorkers      = 1
	maxWorkers      = 64
)

// PollEvery returns PollInterval as a duration. Validate has checked it.
func (e Expiry) PollEvery() time.Duration {
	d, _ := time.ParseDuration(e.PollInterval)
	return d
}

// Database is the [database] section.
type Database struct {
	// URL is "sqlite:PATH" or "postgres://…"; store.ParseURL defines the accepted forms.
	URL          string `toml:"url" env:"GAVEL_DATABASE_URL" accept:"a database URL in quotes, such as url = \"sqlite:gavel.db\" or url = \"postgres://user:pass@host:5432/gavel\""`
	MaxOpenConns int    `toml:"max_open_conns" env:"GAVEL_DATABASE_MAX_OPEN_CONNS" accept:"a whole number from 1 to 1000, such as max_open_conns = 10"`
}

// Log is the [log] section.
type Log struct {
	Level  string `toml:"level" env:"GAVEL_LOG_LEVEL" accept:"\"debug\", \"info\", \"warn\" or \"error\", such as level = \"info\""`
	Format string `toml:"format" env:"GAVEL_LOG_FORMAT" accept:"\"text\" or \"json\", such as format = \"text\""`
}

// Discord is the [discord] section.
type Discord struct {
	// Token is read only from DISCORD_TOKEN: a file is easy to commit or share by accident.
	Token Secret `toml:"-" env:"DISCORD_TOKEN"`
	// APIURL is the REST base URL, version included: Discord's, a rate-limit proxy's or a
	// fake's.
	APIURL string `toml:"api_url" env:"GAVEL_DISCORD_API_URL" accept:"a URL in quotes, such as api_url = \"https://discord.com/api/v10\""`
	// GatewayURL is the WebSocket URL gavel connects to; the query is added by the client.
	GatewayURL string `toml:"gateway_url" env:"GAVEL_DISCORD_GATEWAY_URL" accept:"a URL in quotes, such as gateway_url = \"wss://gateway.discord.gg\""`
	// Guilds are the guild ids the slash commands are registered in; none registers them
	// globally. Ids are strings because that is how Discord's client copies them.
	Guilds []string `toml:"guilds" env:"GAVEL_DISCORD_GUILDS" accept:"an array of Discord ids, each in quotes, such as guilds = [\"123456789012345678\"]"`
	// BotOwners are user ids that may use every command in every guild, ranks regardless.
	BotOwners []string `toml:"bot_owners" env:"GAVEL_DISCORD_BOT_OWNERS" accept:"an array of Discord user ids, each in quotes, such as bot_owners = [\"123456789012345678\"]"`
	// ShardCount is the total number of shards: "auto" (the count GET /gateway/bot
	// recommends, and a re-shard when Discord asks for more) or a number. The file may
	// write it as a number or a string.
	ShardCount ShardCount `toml:"shard_count" env:"GAVEL_DISCORD_SHARD_COUNT" toml_also:"Integer" accept:"\"auto\" or a whole number of shards from 1 to 65536, such as shard_count = \"auto\" or shard_count = 16"`
	// Shards are the shards this process runs: "auto" (free shards taken from the
	// database) or ids and ranges ("0-15", "0,2,4-7").
	Shards string `toml:"shards" env:"GAVEL_DISCORD_SHARDS" accept:"\"auto\" or shard ids and ranges separated by commas, in quotes, such as shards = \"0-15\" or shards = \"0,2,4-7\""`
	// RESTShare is how many REST requests a second this process keeps to, of the bot's
	// global 50 shared by all its processes: 0 is an equal split of 45 among the processes
	// holding shard leases (the whole 50 for a process without them).
	RESTShare int `toml:"rest_share" env:"GAVEL_DISCORD_REST_SHARE" accept:"a whole number of requests a second from 0 to 50, such as rest_share = 15 (0: an equal split among the processes)"`
	// LeaseRenew and LeaseTTL are the shard leases' timings (discord.shards = "auto" on
	// PostgreSQL), as Go durations: how often a process renews its leases (and looks for
	// shards to take or hand back), and how long a lease lasts unrenewed (a killed process's
	// shards are taken over within TTL + renew). The defaults suit production; the tests
	// that run gavel as processes shorten them so that a takeover takes seconds.
	LeaseRenew string `toml:"lease_renew" env:"GAVEL_DISCORD_LEASE_RENEW" accept:"a duration in quotes from 100ms to 1m, such as lease_renew = \"5s\""`
	LeaseTTL   string `toml:"lease_ttl" env:"GAVEL_DISCORD_LEASE_TTL" accept:"a duration in quotes from 1s to 10m and at least three times lease_renew, such as lease_ttl = \"30s\""`
}

// Bounds of discord.lease_renew and discord.lease_ttl; the TTL is at least leaseRenewsPerTTL
// renewals, so that one slow renewal does not lose a lease.
const (
	minLeaseRenew     = 100 * time.Millisecond
	maxLeaseRenew     = time.Minute
	minLeaseTTL       = time.Second
	maxLeaseTTL       = 10 * time.Minute
	leaseRenewsPerTTL = 3
)

// LeaseRenewEvery and LeaseTTLDuration return discord.lease_renew and discord.lease_ttl as
// durations. Validate has checked them.
func (d Discord) LeaseRenewEvery() time.Duration {
	v, _ := time.ParseDuration(d.LeaseRenew)
	return v
}

func (d Discord) LeaseTTLDuration() time.Duration {
	v, _ := time.ParseDuration(d.LeaseTTL)
	return v
}

// MaxRESTShare bounds discord.rest_share: Discord's global limit for a bot.
const MaxRESTShare = 50

// ShardCount is discord.shard_count: "auto" or a number, which a TOML file may write
// without quotes.
type ShardCount string

// UnmarshalTOML takes the number or the string.
func (c *ShardCount) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		*c = ShardCount(v)
	case int64:
		*c = ShardCount(strconv.FormatInt(v, 10))
	default:
		return fmt.Errorf("discord.shard_count takes \"auto\" or a whole number, not %T", v)
	}
	return nil
}

// ShardCountN returns discord.shard_count: 0 for "auto", or the count. Validate has checked it.
func (d Discord) ShardCountN() int {
	n, _ := shards.ParseCount(string(d.ShardCount))
	return n
}

// ShardIDs returns discord.shards: nil for "auto", or the ids in order. Validate has
// checked it.
func (d Discord) ShardIDs() []int {
	ids, _ := shards.ParseIDs(d.Shards)
	return ids
}

// GuildIDs returns Guilds as snowflakes. Validate has checked them.
func (d Discord) GuildIDs() []int64 { return snowflakes(d.Guilds) }

// BotOwnerIDs returns BotOwners as snowflakes. Validate has checked them.
func (d Discord) BotOwnerIDs() []int64 { return snowflakes(d.BotOwners) }

func snowflakes(ids []string) []int64 {
	out := make([]int64, 0, len(ids))
	for _, s := range ids {
		if id, err := parseSnowflake(s); err == nil {
			out = append(out, id)
		}
	}
	return out
}

func parseSnowflake(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%q is not a Discord id (a positive whole number such as \"123456789012345678\")", s)
	}
	return id, nil
}

// Metrics is the [metrics] section.
type Metrics struct {
	// Addr is the host:port the Prometheus endpoint (/metrics) listens on; "" turns it off.
	Addr string `toml:"addr" env:"GAVEL_METRICS_ADDR" accept:"host:port in quotes, such as addr = \"127.0.0.1:9090\", or \"\" for no metrics"`
}

// Secret is a string that prints masked, so that logging or printing a Config cannot leak
// it. Use string(s) where the real value is needed.
type Secret string

// String returns "***" when the secret is set and "" when it is not.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "***"
}

// GoString masks %#v too.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// MarshalText masks the secret in TOML, JSON and slog output.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// The accepted values, in the order error messages and docs list them.
var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"text", "json"}
)

const (
	minOpenConns = 1
	maxOpenConns = 1000
)

// TokenHelp says where a bot token comes from, for every message about a wrong one.
const TokenHelp = "copy the bot token from Discord's developer portal (https://discord.com/developers/applications → your application → Bot → Reset Token) into DISCORD_TOKEN"

// ErrTokenRefused is what a 401 from Discord means to the operator.
var ErrTokenRefused = errors.New("Discord refused DISCORD_TOKEN (401 Unauthorized): the token is wrong, or was reset in the developer portal; " + TokenHelp)

// CheckToken says whether t has the shape of a bot token: three parts separated by dots,
// the first the bot's application id in base64. It says nothing of whether Discord accepts
// it, and never quotes the token.
func CheckToken(t Secret) error {
	s := strings.TrimSpace(string(t))
	if s == "" {
		return errors.New("DISCORD_TOKEN is not set: gavel reads the bot token only from the DISCORD_TOKEN environment variable; " + TokenHelp)
	}
	malformed := func(why string) error {
		return fmt.Errorf("DISCORD_TOKEN is malformed: %s; a bot token is three parts separated by dots, the first the application id in base64; %s", why, TokenHelp)
	}
	if strings.HasPrefix(s, "Bot ") {
		return malformed(`it starts with "Bot ", which gavel adds itself`)
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return malformed(fmt.Sprintf("it has %d parts", len(parts)))
	}
	for i, p := range parts {
		if p == "" {
			return malformed(fmt.Sprintf("part %d is empty", i+1))
		}
		if strings.ContainsFunc(p, func(r rune) bool {
			return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '+' || r == '/' || r == '=')
		}) {
			return malformed(fmt.Sprintf("part %d has characters that are not base64", i+1))
		}
	}
	if ApplicationID(s) == 0 {
		return malformed("its first part is not an application id in base64")
	}
	return nil
}

// ApplicationID reads the application id from a bot token's first part (base64 of the id,
// padded or not, standard or URL alphabet), or returns 0.
func ApplicationID(token string) int64 {
	first, _, _ := strings.Cut(token, ".")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.StdEncoding, base64.RawURLEncoding, base64.URLEncoding} {
		if b, err := enc.DecodeString(first); err == nil {
			if id, err := strconv.ParseInt(string(b), 10, 64); err == nil && id > 0 {
				return id
			}
		}
	}
	return 0
}

// What WriteTOML shows in place of the token.
const (
	TokenSet    = "(set from DISCORD_TOKEN; hidden)"
	TokenNotSet = "(not set: gavel reads it only from DISCORD_TOKEN)"
)

// Default returns the configuration gavel runs with when nothing is set.
func Default() Config {
	return Config{
		Database: Database{URL: "sqlite:gavel.db", MaxOpenConns: 10},
		Log:      Log{Level: "info", Format: "text"},
		Discord: Discord{APIURL: DefaultAPIURL, GatewayURL: DefaultGatewayURL, ShardCount: shards.Auto, Shards: shards.Auto,
			LeaseRenew: "5s", LeaseTTL: "30s"},
		Expiry: Expiry{PollInterval: "2s", MaxAttempts: 8, Workers: 8},
	}
}

// Discord's own endpoints, the defaults of discord.api_url and discord.gateway_url.
const (
	DefaultAPIURL     = "https://discord.com/api/v10"
	DefaultGatewayURL = "wss://gateway.discord.gg"
)

// Load builds the configuration from the defaults, the TOML file at path, then the
// environment as seen through lookupEnv (os.LookupEnv in the binary; a map in tests). A
// missing file is an error only when required is true; an empty path means no file. An
// empty environment variable counts as unset. Load does not validate: the caller applies
// its flags first, then calls Validate on the result.
func Load(path string, required bool, lookupEnv func(string) (string, bool)) (Config, error) {
	cfg := Default()
	if path != "" {
		if err := readFile(path, required, &cfg); err != nil {
			return Config{}, err
		}
	}
	if err := overlayEnv(&cfg, lookupEnv); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// secretKey is the one file key that is refused with its own message, because putting the
// token in the file is a mistake worth explaining rather than a typo.
const secretKey = "discord.token"

func readFile(path string, required bool, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !required {
			return nil
		}
		// The path error repeats the path; the prefix below already names it.
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			err = pathErr.Err
		}
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("config %s: file does not exist", path)
		}
		return fmt.Errorf("config %s: %w", path, err)
	}

	// First into plain values: the syntax, the keys and every value's type are checked
	// against what gavel accepts, each problem placed at file:line:column, before the
	// decoder into Config (whose messages speak of Go types) sees the file.
	var raw map[string]any
	md, err := toml.Decode(string(data), &raw)
	var syntaxErr toml.ParseError
	if errors.As(err, &syntaxErr) {
		return syntaxError(path, data, syntaxErr)
	}
	if err != nil {
		return fmt.Errorf("config %s: %s", path, oneLine(strings.TrimPrefix(err.Error(), "toml: ")))
	}
	at := func(key string) string {
		if p, ok := keyPlace(data, key); ok {
			return fmt.Sprintf("config %s:%d:%d", path, p.line, p.col)
		}
		return "config " + path
	}
	known := fileKeys()
	for _, key := range md.Keys() {
		name := key.String()
		if strings.EqualFold(name, secretKey) {
			return fmt.Errorf("%s: %q is a secret and is read only from the DISCORD_TOKEN environment variable", at(name), secretKey)
		}
		want, ok := known[name]
		if !ok {
			// Checked against the exact keys rather than MetaData.Undecoded, which would let
			// "[Database]" through: the decoder falls back to a case-insensitive match, while
			// TOML keys are case-sensitive.
			return fmt.Errorf("%s: unknown key %q; known keys: %s", at(name), oneLine(name), strings.Join(leafKeys(known), ", "))
		}
		if got := md.Type(key...); got != want.tomlType && (want.also == "" || got != want.also) {
			return fmt.Errorf("%s: %s is %s; it takes %s", at(name), name, tomlTypeName(got), want.accept)
		}
		if want.tomlType == "Array" {
			// Every element must be a string: ids in quotes, as Discord's client copies them.
			for _, v := range lookup(raw, key) {
				if _, ok := v.(string); !ok {
					return fmt.Errorf("%s: %s holds %s; it takes %s", at(name), name, goValueName(v), want.accept)
				}
			}
		}
	}
	if _, err := toml.Decode(string(data), cfg); err != nil {
		// Not expected after the checks above; said as the decoder says it rather than lost.
		return fmt.Errorf("config %s: %s", path, oneLine(strings.TrimPrefix(err.Error(), "toml: ")))
	}
	return nil
}

// syntaxError places a TOML syntax error at file:line:column, counted in characters. An
// array, inline table or multi-line string left open is reported where it was opened,
// since the decoder notices only where the file stops making sense (often a later table
// or the end of the file).
func syntaxError(path string, data []byte, pe toml.ParseError) error {
	msg := oneLine(pe.Message)
	off := pe.Position.Start
	eof := strings.HasPrefix(pe.Message, "unexpected EOF")
	if eof {
		// The decoder points at the last character read; the mistake is after it.
		off = len(data)
	}
	// The span of an unexpected token may start with the blanks before it.
	for end := pe.Position.Start + pe.Position.Len - 1; off < end && off < len(data) && (data[off] == ' ' || data[off] == '\t'); off++ {
	}
	where := placeOf(data, off)
	if known, ok := fileKeys()[pe.LastKey]; ok && known.tomlType != "Hash" && strings.Contains(msg, "out of range") {
		msg += "; " + pe.LastKey + " takes " + known.accept
	}
	if o, ok := unclosedBefore(data, pe.Position.Start); ok {
		if open := placeOf(data, o.off); open.line < where.line || eof {
			return fmt.Errorf("config %s:%d:%d: this %s is not closed (at %d:%d: %s)", path, open.line, open.col, o.what, where.line, where.col, msg)
		}
	}
	return fmt.Errorf("config %s:%d:%d: %s", path, where.line, where.col, msg)
}

// lookup returns the array at key in the decoded document, or nil.
func lookup(doc map[string]any, key toml.Key) []any {
	var v any = doc
	for _, k := range key {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	a, _ := v.([]any)
	return a
}

// goValueName names a decoded TOML value's type in words.
func goValueName(v any) string {
	switch v.(type) {
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return "a date-time"
}

// oneLine escapes control characters, which the TOML decoder copies from the input into its
// messages, so that an error stays on one line of a terminal or a log.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			b.WriteString(strings.Trim(strconv.QuoteRune(r), "'"))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// fileKey is what a file key must hold: its TOML type, in the names MetaData.Type uses,
// and what it accepts, in words with an example, for error messages.
type fileKey struct {
	tomlType string
	accept   string
	// also is a second TOML type the key takes (toml_also tag): discord.shard_count is
	// "auto" or a number.
	also string
}

// fileKeys maps every key a file may contain to what it must hold. It is read from the toml
// and accept tags so it cannot drift from the struct.
func fileKeys() map[string]fileKey {
	keys := map[string]fileKey{}
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if name == "-" || name == "" {
				continue
			}
			key := prefix + name
			accept := f.Tag.Get("accept")
			switch f.Type.Kind() {
			case reflect.Struct:
				keys[key] = fileKey{tomlType: "Hash", accept: fmt.Sprintf("a table, such as [%s] followed by its keys", key)}
				walk(f.Type, key+".")
				continue
			case reflect.Int:
				keys[key] = fileKey{tomlType: "Integer", accept: accept}
			case reflect.String:
				keys[key] = fileKey{"String", accept, f.Tag.Get("toml_also")}
			case reflect.Slice:
				keys[key] = fileKey{tomlType: "Array", accept: accept}
			default:
				// A field of a new kind needs its TOML type here; failing loudly in every
				// test beats silently rejecting the key in production.
				panic(fmt.Sprintf("config: field %s has kind %s, which fileKeys does not map", key, f.Type.Kind()))
			}
			if accept == "" {
				panic(fmt.Sprintf("config: field %s has no accept tag saying what it takes", key))
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return keys
}

// leafKeys lists the keys that hold values, sorted, for error messages.
func leafKeys(known map[string]fileKey) []string {
	var leaves []string
	for k, fk := range known {
		if fk.tomlType != "Hash" {
			leaves = append(leaves, k)
		}
	}
	slices.Sort(leaves)
	return leaves
}

// tomlTypeName turns MetaData.Type's names into words for error messages.
func tomlTypeName(t string) string {
	switch t {
	case "Integer":
		return "an integer"
	case "Float":
		return "a float"
	case "Datetime":
		return "a date-time"
	case "String":
		return "a string"
	case "Bool":
		return "a boolean"
	case "Array":
		return "an array"
	case "Hash":
		return "a table"
	case "ArrayHash":
		return "an array of tables"
	}
	return strconv.Quote(t)
}

// overlayEnv applies the environment variables named by the env tags. Each variable is
// parsed on its own so that an error names the variable: env reports only the Go field.
func overlayEnv(cfg *Config, lookupEnv func(string) (string, bool)) error {
	// A non-nil Environment keeps env from reading the process environment.
	params, err := env.GetFieldParamsWithOptions(cfg, env.Options{Environment: map[string]string{}})
	if err != nil {
		return fmt.Errorf("config: reading env tags: %w", err)
	}
	for _, p := range params {
		value, ok := lookupEnv(p.Key)
		if !ok || value == "" {
			continue
		}
		err := env.ParseWithOptions(cfg, env.Options{Environment: map[string]string{p.Key: value}})
		if err == nil {
			continue
		}
		var parseErr env.ParseError
		if errors.As(err, &parseErr) && parseErr.Type.Kind() == reflect.Int {
			return fmt.Errorf("environment variable %s: %q is not a whole number", p.Key, value)
		}
		return fmt.Errorf("environment variable %s: %w", p.Key, err)
	}
	return nil
}

// Validate checks every value and reports all problems in one line, each saying what is
// accepted.
func (c Config) Validate() error {
	var problems []string
	if _, err := store.ParseURL(c.Database.URL); err != nil {
		problems = append(problems, "database.url: "+err.Error())
	}
	if n := c.Database.MaxOpenConns; n < minOpenConns || n > maxOpenConns {
		problems = append(problems, fmt.Sprintf("database.max_open_conns %d is not between %d and %d", n, minOpenConns, maxOpenConns))
	}
	if !slices.Contains(logLevels, c.Log.Level) {
		problems = append(problems, fmt.Sprintf("log.level %q is not one of %s", c.Log.Level, strings.Join(logLevels, ", ")))
	}
	if !slices.Contains(logFormats, c.Log.Format) {
		problems = append(problems, fmt.Sprintf("log.format %q is not one of %s", c.Log.Format, strings.Join(logFormats, ", ")))
	}
	if err := checkURL(c.Discord.APIURL, "http", "https"); err != nil {
		problems = append(problems, "discord.api_url: "+err.Error())
	}
	if err := checkURL(c.Discord.GatewayURL, "ws", "wss"); err != nil {
		problems = append(problems, "discord.gateway_url: "+err.Error())
	}
	for _, list := range []struct {
		key string
		ids []string
	}{{"discord.guilds", c.Discord.Guilds}, {"discord.bot_owners", c.Discord.BotOwners}} {
		for _, s := range list.ids {
			if _, err := parseSnowflake(s); err != nil {
				problems = append(problems, list.key+": "+err.Error())
			}
		}
	}
	if _, err := shards.ParseCount(string(c.Discord.ShardCount)); err != nil {
		problems = append(problems, err.Error())
	}
	if _, err := shards.ParseIDs(c.Discord.Shards); err != nil {
		problems = append(problems, err.Error())
	}
	if n := c.Discord.RESTShare; n < 0 || n > MaxRESTShare {
		problems = append(problems, fmt.Sprintf("discord.rest_share %d is not between 0 and %d: set the requests a second this process may send, or 0 for an equal split of 45 among the processes", n, MaxRESTShare))
	}
	renew, renewErr := time.ParseDuration(c.Discord.LeaseRenew)
	if renewErr != nil || renew < minLeaseRenew || renew > maxLeaseRenew {
		problems = append(problems, fmt.Sprintf("discord.lease_renew %q is not a duration from %s to %s (such as \"5s\")", c.Discord.LeaseRenew, minLeaseRenew, maxLeaseRenew))
	}
	if ttl, err := time.ParseDuration(c.Discord.LeaseTTL); err != nil || ttl < minLeaseTTL || ttl > maxLeaseTTL {
		problems = append(problems, fmt.Sprintf("discord.lease_ttl %q is not a duration from %s to %s (such as \"30s\")", c.Discord.LeaseTTL, minLeaseTTL, maxLeaseTTL))
	} else if renewErr == nil && ttl < leaseRenewsPerTTL*renew {
		problems = append(problems, fmt.Sprintf("discord.lease_ttl %s is less than %d times discord.lease_renew (%s): one late renewal would lose the shards", ttl, leaseRenewsPerTTL, renew))
	}
	if c.Metrics.Addr != "" {
		if _, port, err := net.SplitHostPort(c.Metrics.Addr); err != nil || port == "" {
			problems = append(problems, fmt.Sprintf("metrics.addr %q is not host:port (such as \"127.0.0.1:9090\" or \":9090\"); leave it empty to turn metrics off", c.Metrics.Addr))
		}
	}
	problems = append(problems, c.Web.problems()...)
	if d, err := time.ParseDuration(c.Expiry.PollInterval); err != nil || d < minPollInterval || d > maxPollInterval {
		problems = append(problems, fmt.Sprintf("expiry.poll_interval %q is not a duration from %s to %s (such as \"2s\")", c.Expiry.PollInterval, minPollInterval, maxPollInterval))
	}
	if n := c.Expiry.MaxAttempts; n < minAttempts || n > maxAttempts {
		problems = append(problems, fmt.Sprintf("expiry.max_attempts %d is not between %d and %d", n, minAttempts, maxAttempts))
	}
	if n := c.Expiry.Workers; n < minWorkers || n > maxWorkers {
		problems = append(problems, fmt.Sprintf("expiry.workers %d is not between %d and %d", n, minWorkers, maxWorkers))
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}

// problems checks the [web] section; everything but addr is checked only when addr is set.
func (w Web) problems() []string {
	if w.Addr == "" {
		if w.ClientID != "" {
			if _, err := parseSnowflake(w.ClientID); err != nil {
				return []string{"web.client_id: " + err.Error()}
			}
		}
		return nil
	}
	var problems []string
	if _, port, err := net.SplitHostPort(w.Addr); err != nil || port == "" {
		problems = append(problems, fmt.Sprintf("web.addr %q is not host:port (such as \"127.0.0.1:8080\" or \":8080\"); leave it empty to turn the dashboard off", w.Addr))
	}
	if w.PublicURL == "" {
		problems = append(problems, "web.public_url is not set: the dashboard needs the address browsers reach it at (such as \"https://gavel.example.org\"), for Discord's redirect after sign-in")
	} else if u, err := url.Parse(w.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		problems = append(problems, fmt.Sprintf("web.public_url %q is not an http or https URL with a host and no query (such as \"https://gavel.example.org\")", w.PublicURL))
	}
	if w.ClientID != "" {
		if _, err := parseSnowflake(w.ClientID); err != nil {
			problems = append(problems, "web.client_id: "+err.Error())
		}
	}
	if w.ClientSecret == "" {
		problems = append(problems, "GAVEL_WEB_CLIENT_SECRET is not set: the dashboard signs users in with Discord OAuth2 and needs the application's client secret (developer portal → your application → OAuth2 → Client Secret) in that environment variable")
	}
	return problems
}

// checkURL accepts an absolute URL with one of schemes and a host.
func checkURL(raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil || !slices.Contains(schemes, u.Scheme) || u.Host == "" {
		return fmt.Errorf("%q is not a URL with a host and the scheme %s", raw, strings.Join(schemes, " or "))
	}
	return nil
}

// WriteTOML writes the configuration as a TOML document with the secrets masked and the
// password in the database URL replaced, so that the output is safe to paste anywhere.
func (c Config) WriteTOML(w io.Writer) error {
	view := struct {
		Database Database `toml:"database"`
		Log      Log      `toml:"log"`
		Discord  struct {
			Token      string   `toml:"token"`
			APIURL     string   `toml:"api_url"`
			GatewayURL string   `toml:"gateway_url"`
			Guilds     []string `toml:"guilds"`
			BotOwners  []string `toml:"bot_owners"`
			ShardCount string   `toml:"shard_count"`
			Shards     string   `toml:"shards"`
			RESTShare  int      `toml:"rest_share"`
			LeaseRenew string   `toml:"lease_renew"`
			LeaseTTL   string   `toml:"lease_ttl"`
		} `toml:"discord"`
		Metrics Metrics `toml:"metrics"`
		Expiry  Expiry  `toml:"expiry"`
		Web     struct {
			Addr         string `toml:"addr"`
			PublicURL    string `toml:"public_url"`
			ClientID     string `toml:"client_id"`
			ClientSecret string `toml:"client_secret"`
		} `toml:"web"`
	}{Database: c.Database, Log: c.Log, Metrics: c.Metrics, Expiry: c.Expiry}
	view.Web.Addr, view.Web.PublicURL, view.Web.ClientID = c.Web.Addr, c.Web.PublicURL, c.Web.ClientID
	view.Web.ClientSecret = "(not set: read only from GAVEL_WEB_CLIENT_SECRET)"
	if c.Web.ClientSecret != "" {
		view.Web.ClientSecret = "(set from GAVEL_WEB_CLIENT_SECRET; hidden)"
	}
	// The token is never printed, not even masked to its length: only whether it is set,
	// and where it comes from. An empty "" would read as a token configured empty.
	view.Discord.Token = TokenNotSet
	if c.Discord.Token != "" {
		view.Discord.Token = TokenSet
	}
	view.Discord.APIURL, view.Discord.GatewayURL = c.Discord.APIURL, c.Discord.GatewayURL
	view.Discord.Guilds, view.Discord.BotOwners = c.Discord.Guilds, c.Discord.BotOwners
	view.Discord.ShardCount, view.Discord.Shards = string(c.Discord.ShardCount), c.Discord.Shards
	view.Discord.RESTShare = c.Discord.RESTShare
	view.Discord.LeaseRenew, view.Discord.LeaseTTL = c.Discord.LeaseRenew, c.Discord.LeaseTTL
	if loc, err := store.ParseURL(c.Database.URL); err == nil {
		view.Database.URL = loc.Redacted
	} else {
		// An unparseable URL may still hold a password; show nothing rather than risk it.
		view.Database.URL = "(invalid)"
	}
	enc := toml.NewEncoder(w)
	enc.Indent = ""
	if err := enc.Encode(view); err != nil {
		return fmt.Errorf("config: writing TOML: %w", err)
	}
	return nil
}
