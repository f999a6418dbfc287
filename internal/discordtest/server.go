// Package discordtest is a Discord-compatible fake: a stateful REST API (v10) and gateway on
// loopback that enforce what Discord enforces (permissions, role hierarchy, rate limits,
// interaction windows), validate every request and response body against Discord's OpenAPI
// spec, and let a test act as a user would. gavel's tests drive the real disgo client
// against it over real HTTP and WebSocket.
package discordtest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running fake Discord.
type Server struct {
	// URL is the server's base, http://127.0.0.1:PORT; the REST API is URL+"/api/v10".
	URL string
	// GatewayURL is the WebSocket address GET /gateway hands out.
	GatewayURL string

	appID    ID
	botID    ID
	botToken string
	log      *slog.Logger
	now      func() time.Time
	ids      idSource

	// report receives every protocol violation a client commits (a body that does not match
	// the spec, a second interaction response, …). Under New it is t.Errorf, so the test
	// that caused it fails and names it.
	report func(format string, args ...any)

	mu sync.Mutex // guards st and everything reachable from it
	st *state

	mux *http.ServeMux
	srv *http.Server
	ln  net.Listener

	// Fields below belong to the parts of the fake that use them (gateway, rate limits,
	// faults, validation); each part documents its own locking.
	ext extensions
	// oauth is the OAuth2 code flow's state (oauth2.go).
	oauth *oauth
}

// Option configures a Server.
type Option func(*config)

type config struct {
	appID    ID
	botName  string
	log      *slog.Logger
	now      func() time.Time
	report   func(format string, args ...any)
	seed     *Seed
	ln       net.Listener
	settings []func(*Server)
}

// WithApplicationID sets the application (and bot user) id; the bot token encodes it.
func WithApplicationID(id ID) Option { return func(c *config) { c.appID = id } }

// WithLogger makes the fake log what it serves.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithClock makes the fake read the time from now.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithListener serves the fake on ln instead of a TCP port of its own (Start's address is
// then unused). An in-memory listener lets a test run the fake and its client in a
// testing/synctest bubble, where waits on the clock take no real time.
func WithListener(ln net.Listener) Option { return func(c *config) { c.ln = ln } }

// WithSeed loads guilds, users, roles, members and channels at start.
func WithSeed(s Seed) Option { return func(c *config) { c.seed = &s } }

// WithReporter replaces where protocol violations go (t.Errorf under New; a log line
// under Start).
func WithReporter(f func(format string, args ...any)) Option {
	return func(c *config) { c.report = f }
}

// New starts a fake on 127.0.0.1 with a random port and stops it when the test ends.
// Protocol violations fail t.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	opts = append([]Option{WithReporter(func(format string, args ...any) {
		t.Helper()
		t.Errorf("discordtest: "+format, args...)
	})}, opts...)
	s, err := Start("127.0.0.1:0", opts...)
	if err != nil {
		t.Fatalf("discordtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s
}

// Start runs a fake on addr until Close.
func Start(addr string, opts ...Option) (*Server, error) {
	c := config{appID: 123456789012345678, botName: "gavel", now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.report == nil {
		c.report = func(format string, args ...any) {
			c.log.Error("protocol violation", "detail", fmt.Sprintf(format, args...))
		}
	}
	ln := c.ln
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
	}
	s := &Server{
		appID:  c.appID,
		botID:  c.appID,
		log:    c.log,
		now:    c.now,
		report: c.report,
		st:     newState(),
		mux:    http.NewServeMux(),
		ln:     ln,
		oauth:  newOAuth(),
	}
	s.URL = "http://" + ln.Addr().String()
	s.GatewayURL = "ws://" + ln.Addr().String() + "/ws"
	// disgo reads the application id from the token's first segment.
	s.botToken = base64.RawStdEncoding.EncodeToString([]byte(s.appID.String())) + ".fake.token"
	s.st.users[s.botID] = &User{ID: s.botID, Username: c.botName, Bot: true}
	s.ext.init(s)
	for _, f := range c.settings {
		f(s)
	}
	if c.seed != nil {
		if err := s.Load(*c.seed); err != nil {
			ln.Close()
			return nil, err
		}
	}
	s.routes()
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve", "err", err)
		}
	}()
	return s, nil
}

// Close stops the server and ends every gateway session.
func (s *Server) Close(ctx context.Context) {
	s.ext.close()
	_ = s.srv.Shutdown(ctx)
}

// Token is the bot token clients must present ("Bot " + Token in Authorization).
func (s *Server) Token() string { return s.botToken }

// APIURL is the REST base a client is configured with.
func (s *Server) APIURL() string { return s.URL + "/api/v10" }

// BotID is the bot user's id (the application id).
func (s *Server) BotID() ID { return s.botID }

func (s *Server) newID() ID { return s.ids.next(s.now()) }

// apiError is Discord's JSON error body.
type apiError struct {
	Status  int             `json:"-"`
	Message string          `json:"message"`
	Code    int             `json:"code"`
	Errors  json.RawMessage `json:"errors,omitempty"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s (code %d)", e.Status, e.Message, e.Code) }

// Discord's errors, as its API returns them.
func errUnknown(what string, code int) *apiError {
	return &apiError{Status: http.StatusNotFound, Message: "Unknown " + what, Code: code}
}

var (
	errUnauthorized      = &apiError{Status: http.StatusUnauthorized, Message: "401: Unauthorized", Code: 0}
	errMissingAccess     = &apiError{Status: http.StatusForbidden, Message: "Missing Access", Code: 50001}
	errMissingPermission = &apiError{Status: http.StatusForbidden, Message: "Missing Permissions", Code: 50013}
)

// Error codes for unknown resources.
const (
	codeUnknownChannel     = 10003
	codeUnknownGuild       = 10004
	codeUnknownMember      = 10007
	codeUnknownMessage     = 10008
	codeUnknownRole        = 10011
	codeUnknownUser        = 10013
	codeUnknownBan         = 10026
	codeUnknownInteraction = 10062
	codeUnknownWebhook     = 10015
	codeUnknownCommand     = 10063
	codeUnknownAutoModRule = 10066
)

// invalidForm is Discord's 50035 "Invalid Form Body" with a field path, e.g.
// invalidForm("delete_message_seconds", "NUMBER_TYPE_MAX", "int value should be less than or equal to 604800.").
func invalidForm(field, code, message string) *apiError {
	// {"errors": {"a": {"b": {"_errors": [{"code": ..., "message": ...}]}}}}
	inner := map[string]any{"_errors": []map[string]string{{"code": code, "message": message}}}
	parts := strings.Split(field, ".")
	var tree any = inner
	for i := len(parts) - 1; i >= 0; i-- {
		tree = map[string]any{parts[i]: tree}
	}
	b, _ := json.Marshal(tree)
	return &apiError{Status: http.StatusBadRequest, Message: "Invalid Form Body", Code: 50035, Errors: b}
}

// writeJSON writes a response body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func writeError(w http.ResponseWriter, e *apiError) { writeJSON(w, e.Status, e) }
