package gateway

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	dgw "github.com/disgoorg/disgo/gateway"
	"github.com/gorilla/websocket"

	"github.com/gavelbot/gavel/internal/clock"
)

// DefaultURL is Discord's gateway. Production callers should pass the URL from
// GET /gateway/bot with WithURL; Discord asks clients to cache and reuse it.
const DefaultURL = "wss://gateway.discord.gg"

// Compression is the transport compression the gateway asks Discord for.
type Compression string

const (
	// CompressionNone receives plain JSON text frames.
	CompressionNone Compression = ""
	// CompressionZlibStream receives binary frames from one zlib stream per connection,
	// each message ending with the Z_SYNC_FLUSH suffix 00 00 ff ff.
	CompressionZlibStream Compression = "zlib-stream"
)

// Option configures a Gateway.
type Option func(*config)

type config struct {
	url            string
	logger         *slog.Logger
	dialer         *websocket.Dialer
	intents        dgw.Intents
	shardID        int
	shardCount     int
	largeThreshold int
	compression    Compression
	presence       *dgw.MessageDataPresenceUpdate
	os             string
	rawEvents      bool
	ownMessages    bool
	skip           func(t dgw.EventType, d []byte) bool
	eventBuffer    int

	identify IdentifyLimiter
	// resume is a session another connection (another process) left, to RESUME at Open.
	resume struct {
		id, url string
		seq     int
	}

	backoffBase, backoffMax   time.Duration
	invalidSessionMin         time.Duration
	invalidSessionMax         time.Duration
	sendLimit, sendReserved   int
	sendWindow                time.Duration
	helloTimeout, dialTimeout time.Duration
	writeTimeout, closeGrace  time.Duration
	maxFailedResumes          int
	closeHandler              func(error)
	jitter, rand              func() float64
	// clock is what heartbeats, the HELLO timeout, reconnect delays and the send and
	// identify limits wait on. Network deadlines stay on the wall clock.
	clock clock.Clock
}

func defaultConfig() config {
	return config{
		url:               DefaultURL,
		logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		dialer:            &websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: 10 * time.Second},
		intents:           dgw.IntentsDefault,
		shardCount:        1,
		largeThreshold:    50,
		compression:       CompressionZlibStream,
		os:                runtime.GOOS,
		eventBuffer:       256,
		backoffBase:       time.Second,
		backoffMax:        60 * time.Second,
		invalidSessionMin: time.Second,
		invalidSessionMax: 5 * time.Second,
		sendLimit:         defaultSendLimit,
		sendReserved:      defaultSendReserved,
		sendWindow:        defaultSendWindow,
		helloTimeout:      20 * time.Second,
		dialTimeout:       15 * time.Second,
		writeTimeout:      10 * time.Second,
		closeGrace:        time.Second,
		maxFailedResumes:  3,
		jitter:            defaultRand,
		rand:              defaultRand,
		clock:             clock.System(),
	}
}

func (c *config) validate() error {
	var errs []error
	if _, err := gatewayURL(c.url, CompressionNone); err != nil {
		errs = append(errs, err)
	}
	if c.shardCount < 1 {
		errs = append(errs, fmt.Errorf("shard count %d: must be at least 1", c.shardCount))
	}
	if c.shardID < 0 || c.shardID >= c.shardCount {
		errs = append(errs, fmt.Errorf("shard id %d: must be in [0, %d)", c.shardID, c.shardCount))
	}
	if c.largeThreshold < 50 || c.largeThreshold > 250 {
		errs = append(errs, fmt.Errorf("large threshold %d: Discord accepts 50 to 250", c.largeThreshold))
	}
	if c.compression != CompressionNone && c.compression != CompressionZlibStream {
		errs = append(errs, fmt.Errorf("compression %q: accepted are none (\"\") and %q", c.compression, CompressionZlibStream))
	}
	if c.backoffBase <= 0 || c.backoffMax < c.backoffBase {
		errs = append(errs, fmt.Errorf("backoff %v to %v: base must be positive and at most max", c.backoffBase, c.backoffMax))
	}
	if c.invalidSessionMin < 0 || c.invalidSessionMax < c.invalidSessionMin {
		errs = append(errs, fmt.Errorf("invalid-session delay %v to %v: min must be non-negative and at most max", c.invalidSessionMin, c.invalidSessionMax))
	}
	if c.sendLimit < 2 || c.sendWindow <= 0 {
		errs = append(errs, fmt.Errorf("send rate limit %d per %v: need at least 2 per positive window", c.sendLimit, c.sendWindow))
	}
	if c.eventBuffer < 1 {
		errs = append(errs, fmt.Errorf("event buffer %d: must be at least 1", c.eventBuffer))
	}
	if c.dialer == nil {
		errs = append(errs, errors.New("dialer is nil"))
	}
	if c.logger == nil {
		errs = append(errs, errors.New("logger is nil"))
	}
	return errors.Join(errs...)
}

// WithURL sets the gateway URL used to IDENTIFY and whenever RESUME cannot use READY's
// resume_gateway_url. The query string (v=10, encoding=json, compress) is added for you.
func WithURL(url string) Option { return func(c *config) { c.url = url } }

// WithLogger sets where the gateway logs (connects, closes, reconnects; debug: every
// payload's opcode). The default discards.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithDialer replaces the WebSocket dialer.
func WithDialer(d *websocket.Dialer) Option { return func(c *config) { c.dialer = d } }

// WithIntents adds intents to IDENTIFY. Privileged ones (GUILD_MEMBERS, GUILD_PRESENCES,
// MESSAGE_CONTENT) must be enabled for the application or Discord closes with 4014.
func WithIntents(intents ...dgw.Intents) Option {
	return func(c *config) { c.intents = c.intents.Add(intents...) }
}

// WithShard sets this connection's shard and the total shard count.
func WithShard(id, count int) Option {
	return func(c *config) { c.shardID, c.shardCount = id, count }
}

// WithLargeThreshold sets IDENTIFY's large_threshold (50 to 250; default 50).
func WithLargeThreshold(n int) Option { return func(c *config) { c.largeThreshold = n } }

// WithCompression selects transport compression (default zlib-stream).
func WithCompression(comp Compression) Option { return func(c *config) { c.compression = comp } }

// WithPresence sets the presence sent with IDENTIFY.
func WithPresence(opts ...dgw.PresenceOpt) Option {
	return func(c *config) {
		p := &dgw.MessageDataPresenceUpdate{}
		for _, o := range opts {
			o(p)
		}
		c.presence = p
	}
}

// WithRawEvents makes the gateway hand every dispatch to the event handler a second time as
// gateway.EventRaw (before the decoded event), for fields disgo does not decode.
func WithRawEvents(on bool) Option { return func(c *config) { c.rawEvents = on } }

// WithMessageDecoding makes the gateway decode MESSAGE_CREATE itself, into *MessageCreate
// (only what gavel's listeners read, in one pass), instead of handing it to disgo. disgo's
// own handler ignores that type: the client needs Handlers, which dispatch it to listeners
// as *MessageCreateEvent (and disgo's caches do not see such messages).
func WithMessageDecoding(on bool) Option { return func(c *config) { c.ownMessages = on } }

// WithSkip drops the dispatches skip reports, before their data is decoded: they advance
// the sequence (a resume does not ask for them again) but reach no handler, raw or decoded.
// skip gets the event's type and its raw d, and must not keep d. For events that no
// handler would act on: decoding a large payload only to ignore it is most of what it costs.
func WithSkip(skip func(t dgw.EventType, d []byte) bool) Option {
	return func(c *config) { c.skip = skip }
}

// WithEventBuffer sets how many received events may wait for the handler. When it is full
// the gateway stops reading, which is the back-pressure a slow handler should feel.
func WithEventBuffer(n int) Option { return func(c *config) { c.eventBuffer = n } }

// WithIdentifyLimiter sets the IDENTIFY limiter; share one across the shards of a process.
// The default allows one IDENTIFY per DefaultIdentifyInterval (max_concurrency 1).
func WithIdentifyLimiter(l IdentifyLimiter) Option { return func(c *config) { c.identify = l } }

// WithSession makes the first Open RESUME a session another connection left (another
// process's, handed over through the database): its id, the last sequence handled and its
// resume_gateway_url (may be empty: the configured URL is used). Discord replays what was
// dispatched after seq. If Discord no longer has the session (op 9), the gateway identifies
// as usual. An empty id or a seq below 1 leaves nothing to resume.
func WithSession(id string, seq int, resumeURL string) Option {
	return func(c *config) {
		if id == "" || seq < 1 {
			return
		}
		c.resume.id, c.resume.seq, c.resume.url = id, seq, resumeURL
	}
}

// WithBackoff sets the reconnect backoff after failed connection attempts: the first retry
// waits about base, each further one doubles, up to max (default 1 s to 60 s).
func WithBackoff(base, max time.Duration) Option {
	return func(c *config) { c.backoffBase, c.backoffMax = base, max }
}

// WithInvalidSessionDelay sets the random wait after op 9 Invalid Session before resuming
// or identifying again (Discord suggests 1 to 5 s, the default).
func WithInvalidSessionDelay(min, max time.Duration) Option {
	return func(c *config) { c.invalidSessionMin, c.invalidSessionMax = min, max }
}

// WithSendRateLimit sets the send limit (default Discord's 120 events per 60 s per
// connection); Send queues rather than exceeds it.
func WithSendRateLimit(events int, window time.Duration) Option {
	return func(c *config) { c.sendLimit, c.sendWindow = events, window }
}

// WithHelloTimeout sets how long a new connection may take to send HELLO (default 20 s).
func WithHelloTimeout(d time.Duration) Option { return func(c *config) { c.helloTimeout = d } }

// WithCloseHandler sets a function called once when the gateway stops on its own after
// Open succeeded: Discord closed with a code that must not be reconnected (a *CloseError
// whose Fatal is true). It is not called for Close. It runs on the gateway's goroutine,
// which may call Close or Open.
func WithCloseHandler(f func(error)) Option { return func(c *config) { c.closeHandler = f } }

// WithClock makes the gateway time its heartbeats, HELLO timeout, reconnect delays and send
// and identify limits on c: tests move a manual clock instead of waiting.
func WithClock(c clock.Clock) Option { return func(cfg *config) { cfg.clock = clock.OrSystem(c) } }

// withJitter replaces the source of the first heartbeat's jitter (tests).
func withJitter(f func() float64) Option { return func(c *config) { c.jitter = f } }
