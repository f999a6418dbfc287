// Package web is gavel's dashboard for moderators: server-rendered pages (html/template,
// usable without JavaScript, htmx served from the binary for smoother navigation) over the
// cases, behind Discord OAuth2 sign-in. Every request is authorized by gavel's own
// permission engine with the commands' own check: viewing needs what the cases command
// needs, editing what cases modify needs, so there is one policy for Discord and the web.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/escalation"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/lockdown"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/raid"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// The commands whose permission the pages need.
const (
	viewCommand = "cases"
	editCommand = "cases modify"
)

// maxFormBytes bounds a POST body: a reason is at most cases.MaxReasonLength characters
// (4 bytes each at most), with room for the form's other fields.
const maxFormBytes = 4*cases.MaxReasonLength + 4096

// casesPerPage is how many cases one page of the list shows.
const casesPerPage = 50

// Discord is what the dashboard asks of Discord: the guild (its owner and roles) and the
// signed-in user's membership and roles.
type Discord interface {
	discord.Guilds
	discord.Members
}

// Config is what the dashboard works with.
type Config struct {
	Log   *slog.Logger
	Cases *cases.Service
	// Expiry changes a case's status and expiry as cases modify does, moving its scheduled
	// end with it; nil hides those two actions.
	Expiry *expiry.Service
	// Escalation shows a member's points and a case's escalation links; nil hides them.
	Escalation *escalation.Service
	Perms      *permissions.Service
	// Settings holds the servers' settings; nil hides the settings page.
	Settings *settings.Service
	// AutoMod reads the server's AutoMod rules from Discord and dry-runs messages against
	// them; nil hides the AutoMod page.
	AutoMod *automod.Service
	// GavelRules reads a server's gavel-enforced rules (those beyond Discord's limits), for
	// the tester; nil leaves them out.
	GavelRules func(ctx context.Context, guildID discord.GuildID) ([]automod.GavelRule, error)
	// GavelStore stores the gavel-enforced rules a rules file applies (with the Discord
	// rules AutoMod changes); nil hides the rules file's plan and apply.
	GavelStore automod.GavelRuleStore
	// Lift ends case n's punishment now through the moderation pipeline, as moderator with
	// roles (the lifting command's own permission is checked on the way); it returns the
	// pipeline's reply, and whether it refused. Nil hides "lift now".
	// Liftable says whether a case type is a punishment some command lifts (the
	// moderation catalogue's inverse): the member page lists those as in force.
	Liftable func(cases.Type) bool
	Lift     func(ctx context.Context, guildID discord.GuildID, moderator discord.User, roles []discord.RoleID, n int64) (reply string, refused bool, err error)
	// LiftQueues says that Lift does not lift but records the request for the process that
	// holds the gateway (gavel web: the case's expiry moves to now, and gavel run's expiry
	// runner lifts it through the pipeline): the page says the lift is queued, and shows a
	// case whose end has come as ending rather than offering the button again.
	LiftQueues bool
	// Raids reads the servers' raids (the raids pages, a RAID case's raid); nil hides them.
	Raids *raid.Service
	// Lockdowns reads the servers' open lockdowns and their snapshots (the raids page's
	// Lockdown section); nil hides the section.
	Lockdowns *lockdown.Service
	// JoinRate is the live join rate of the raid detector (raid.Detector.Rate) in the
	// process that holds the gateway; nil where none runs (gavel web), and the raids page
	// says so rather than show a number.
	JoinRate func(guildID discord.GuildID, now time.Time, span time.Duration, buckets int) (int, []int)
	// Discord answers Guild from gavel's guild state and Member over REST.
	Discord Discord
	// Guilds lists the guilds gavel is in now.
	Guilds func() []discord.GuildID
	// PublicURL is where browsers reach the dashboard; the OAuth2 redirect is
	// PublicURL + "/auth/callback".
	PublicURL string
	// ClientID and ClientSecret are the Discord application's OAuth2 credentials.
	ClientID, ClientSecret string
	// Store keeps the sessions (web_sessions).
	Store *store.Store
	// APIURL is Discord's REST base (with the version), from which the OAuth2 endpoints
	// follow: the authorize page at its host, the token exchange and /users/@me under it.
	APIURL string
	// HTTPClient makes the token exchange and the /users/@me call; nil is a client with a
	// 15-second timeout.
	HTTPClient *http.Client
	// Clock times the sessions and the background purge of expired ones (nil: the
	// system's).
	Clock clock.Clock
	// Sandbox marks the dashboard of gavel sandbox: every page says that it runs against
	// the fake Discord and that sign-in skipped OAuth, and SignInSandbox is allowed.
	Sandbox bool
}

// Server is the dashboard.
type Server struct {
	cfg      Config
	log      *slog.Logger
	oauth    *oauth2.Config
	meURL    string
	sessions *sessions
	states   *states
	writes   *writeLimiter
	pages    map[string]*template.Template
	handler  http.Handler
}

// New builds the dashboard.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.Clock = clock.OrSystem(cfg.Clock)
	if cfg.Store == nil {
		return nil, errors.New("web: no store for the sessions")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	public, err := url.Parse(strings.TrimSuffix(cfg.PublicURL, "/"))
	if err != nil || (public.Scheme != "http" && public.Scheme != "https") || public.Host == "" {
		return nil, fmt.Errorf("web: public URL %q is not an http or https URL", cfg.PublicURL)
	}
	api, err := url.Parse(strings.TrimSuffix(cfg.APIURL, "/"))
	if err != nil || api.Host == "" {
		return nil, fmt.Errorf("web: Discord API URL %q is not a URL", cfg.APIURL)
	}
	s := &Server{cfg: cfg, log: cfg.Log,
		oauth: &oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
			RedirectURL: public.String() + "/auth/callback", Scopes: []string{"identify"},
			Endpoint: oauth2.Endpoint{AuthURL: api.Scheme + "://" + api.Host + "/oauth2/authorize", TokenURL: api.String() + "/oauth2/token",
				AuthStyle: oauth2.AuthStyleInHeader}},
		meURL:    api.String() + "/users/@me",
		sessions: &sessions{st: cfg.Store, secure: public.Scheme == "https", now: cfg.Clock.Now},
		states:   &states{m: map[string]time.Time{}, now: cfg.Clock.Now},
		writes:   &writeLimiter{m: map[int64]*bucket{}, now: cfg.Clock.Now},
	}
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	static, _ := fs.Sub(staticFS, "static")
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", s.page(s.handleHome))
	mux.HandleFunc("GET /auth/login", s.handleLogin)
	mux.HandleFunc("GET /auth/callback", s.handleCallback)
	mux.HandleFunc("POST /auth/logout", s.signedIn(s.handleLogout))
	mux.HandleFunc("GET /servers", s.signedIn(s.handleServers))
	mux.HandleFunc("GET /g/{guild}/cases", s.signedIn(s.handleCases))
	mux.HandleFunc("GET /g/{guild}/cases.csv", s.signedIn(s.handleExportCSV))
	mux.HandleFunc("GET /g/{guild}/cases.jsonl", s.signedIn(s.handleExportJSONL))
	mux.HandleFunc("GET /g/{guild}/cases/{number}", s.signedIn(s.handleCase))
	mux.HandleFunc("POST /g/{guild}/cases/{number}/reason", s.signedIn(s.limited(s.handleReason)))
	mux.HandleFunc("POST /g/{guild}/cases/{number}/status", s.signedIn(s.limited(s.handleStatus)))
	mux.HandleFunc("POST /g/{guild}/cases/{number}/expiry", s.signedIn(s.limited(s.handleExpiry)))
	mux.HandleFunc("POST /g/{guild}/cases/{number}/lift", s.signedIn(s.limited(s.handleLift)))
	mux.HandleFunc("POST /g/{guild}/cases/{number}/note", s.signedIn(s.limited(s.handleNote)))
	mux.HandleFunc("GET /g/{guild}/members/{user}", s.signedIn(s.handleMember))
	mux.HandleFunc("GET /g/{guild}/scheduled", s.signedIn(s.handleScheduled))
	mux.HandleFunc("GET /g/{guild}/automod", s.signedIn(s.handleAutoMod))
	mux.HandleFunc("POST /g/{guild}/automod/plan", s.signedInBody(maxRulesFormBytes, s.handlePlan))
	mux.HandleFunc("POST /g/{guild}/automod/apply", s.signedInBody(maxRulesFormBytes, s.limited(s.handleApply)))
	mux.HandleFunc("GET /g/{guild}/settings", s.signedIn(s.handleSettings))
	mux.HandleFunc("GET /g/{guild}/raids", s.signedIn(s.handleRaids))
	mux.HandleFunc("GET /g/{guild}/raids/rate", s.signedIn(s.handleJoinRate))
	mux.HandleFunc("GET /g/{guild}/raids/{number}", s.signedIn(s.handleRaid))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, nil, &pageError{Status: http.StatusNotFound, Title: "Not found", Message: "There is no page at " + r.URL.Path + "."})
	})
	// Every state change is refused unless the browser says it comes from the dashboard's
	// own origin (Sec-Fetch-Site, or Origin against Host); the session's CSRF token is
	// checked on top, in the handlers.
	cop := http.NewCrossOriginProtection()
	if err := cop.AddTrustedOrigin(public.Scheme + "://" + public.Host); err != nil {
		return nil, fmt.Errorf("web: trusting the public URL's origin: %w", err)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, nil, &pageError{Status: http.StatusForbidden, Title: "Cross-site request refused",
			Message: "This form was sent from another site, so gavel refused it and changed nothing. Use the dashboard's own pages to make changes."})
	}))
	s.handler = securityHeaders(cop.Handler(mux))
	return s, nil
}

// errNotSandbox refuses a sign-in without OAuth outside the sandbox.
var errNotSandbox = errors.New("web: signing in without OAuth is only for gavel sandbox")

// SignInSandbox signs the browser in as user without OAuth: in the sandbox every account
// belongs to the fake Discord in the same process, so there is nobody to ask. Outside the
// sandbox it refuses and writes nothing.
func (s *Server) SignInSandbox(ctx context.Context, w http.ResponseWriter, user int64, name string) error {
	if !s.cfg.Sandbox {
		return errNotSandbox
	}
	if _, err := s.sessions.create(ctx, w, user, name); err != nil {
		return err
	}
	s.log.Info("sandbox sign-in without OAuth", "user", user, "username", name)
	return nil
}

// Handler serves the dashboard.
func (s *Server) Handler() http.Handler { return s.handler }

// PurgeSessions deletes the expired sessions every hour (on the configured clock) until ctx
// ends. An expired session found on access, and every expired one at each sign-in, is
// deleted anyway; this keeps the table small when nobody signs in.
func (s *Server) PurgeSessions(ctx context.Context) {
	for {
		t := clock.After(s.cfg.Clock, sessionPurgeEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		if n, err := s.sessions.purge(ctx); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("purging expired dashboard sessions", "err", err)
			}
		} else if n > 0 {
			s.log.Info("purged expired dashboard sessions", "count", n)
		}
	}
}

// securityHeaders keeps the pages from being framed, sniffed or fed scripts from elsewhere.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// pageError is a refusal or failure shown as a page.
type pageError struct {
	Status  int
	Title   string
	Message string
	// SignIn offers a link to sign in again.
	SignIn bool
	// Sandbox makes that link the sandbox panel, where signing in needs no OAuth.
	Sandbox bool
}

func (e *pageError) Error() string { return e.Title + ": " + e.Message }

// fail renders an error page; a non-pageError is logged and shown as a failure without
// its detail.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	var pe *pageError
	if !errors.As(err, &pe) {
		s.log.Error("dashboard request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		pe = &pageError{Status: http.StatusInternalServerError, Title: "Something went wrong",
			Message: "gavel could not complete this request; nothing was changed. Try again in a moment."}
	}
	pe.Sandbox = s.cfg.Sandbox
	s.render(w, pe.Status, "error", sess, pe.Title, pe)
}

// layoutData is what every page's frame shows.
type layoutData struct {
	Title   string
	User    *session
	Data    any
	Sandbox bool
}

func (s *Server) render(w http.ResponseWriter, status int, name string, sess *session, title string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := s.pages[name].ExecuteTemplate(w, "layout", layoutData{Title: title, User: sess, Data: data, Sandbox: s.cfg.Sandbox}); err != nil {
		s.log.Warn("rendering a dashboard page", "page", name, "err", err)
	}
}

// renderPart renders one template of a page's set alone: the part of a page htmx asks for
// again (the raids page's join rate).
func (s *Server) renderPart(w http.ResponseWriter, page, part string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.pages[page].ExecuteTemplate(w, part, data); err != nil {
		s.log.Warn("rendering part of a dashboard page", "page", page, "part", part, "err", err)
	}
}

// page wraps a handler that works with or without a session.
func (s *Server) page(h func(w http.ResponseWriter, r *http.Request, sess *session) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var sp *session
		if sess, err := s.sessions.read(r.Context(), r); err == nil {
			sp = &sess
		}
		if err := h(w, r, sp); err != nil {
			s.fail(w, r, sp, err)
		}
	}
}

// signedIn wraps a handler that needs a session: without one the answer is a page saying
// why (not signed in, expired, or a cookie that fails its signature) with a sign-in link.
// A POST must also carry the session's CSRF token.
func (s *Server) signedIn(h func(w http.ResponseWriter, r *http.Request, sess *session) error) http.HandlerFunc {
	return s.signedInBody(maxFormBytes, h)
}

// signedInBody is signedIn taking POST bodies of up to limit bytes.
func (s *Server) signedInBody(limit int64, h func(w http.ResponseWriter, r *http.Request, sess *session) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.sessions.read(r.Context(), r)
		if err != nil {
			msg := "Sign in with Discord to use the dashboard."
			switch {
			case errors.Is(err, errEnded):
				msg = "Your session has ended: it expired (sessions last 7 days, or 24 hours unused), or you signed out. Sign in again; nothing was changed."
				s.sessions.clear(w)
			case errors.Is(err, errTampered):
				msg = "Your session cookie is not valid: it was altered. Sign in again; nothing was changed."
				s.sessions.clear(w)
			case !errors.Is(err, errNoSession):
				s.fail(w, r, nil, err)
				return
			}
			s.fail(w, r, nil, &pageError{Status: http.StatusUnauthorized, Title: "Sign in needed", Message: msg, SignIn: true})
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			if err := r.ParseForm(); err != nil {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					s.fail(w, r, &sess, &pageError{Status: http.StatusRequestEntityTooLarge, Title: "Too much text",
						Message: tooBigMessage(limit)})
					return
				}
				s.fail(w, r, &sess, &pageError{Status: http.StatusBadRequest, Title: "Bad form", Message: "The form could not be read; nothing was changed."})
				return
			}
			if tok := r.PostForm.Get("csrf"); tok == "" || tok != sess.CSRF {
				s.fail(w, r, &sess, &pageError{Status: http.StatusForbidden, Title: "Form expired",
					Message: "This form does not carry the token of your session (it is from an older session, or another site). Reload the page and try again; nothing was changed."})
				return
			}
		}
		if err := h(w, r, &sess); err != nil {
			s.fail(w, r, &sess, err)
		}
	}
}

// tooBigMessage says what a form sent to a handler taking limit bytes may hold.
func tooBigMessage(limit int64) string {
	if limit == maxRulesFormBytes {
		return fmt.Sprintf("The form is larger than %d bytes; a rules file is at most %d bytes. Nothing was changed.", limit, maxRulesFileBytes)
	}
	return fmt.Sprintf("The form is larger than %d bytes; a reason is at most %d characters. Nothing was changed.", limit, cases.MaxReasonLength)
}

// limited applies the per-user write limit to a handler that changes something.
func (s *Server) limited(h func(w http.ResponseWriter, r *http.Request, sess *session) error) func(w http.ResponseWriter, r *http.Request, sess *session) error {
	return func(w http.ResponseWriter, r *http.Request, sess *session) error {
		if ok, wait := s.writes.allow(sess.UserID); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			return &pageError{Status: http.StatusTooManyRequests, Title: "Too many changes",
				Message: fmt.Sprintf("You made %d changes in the last minute, the most gavel takes from one user; try again in %d seconds. Nothing was changed.",
					writeBurst, int(math.Ceil(wait.Seconds())))}
		}
		return h(w, r, sess)
	}
}

// access is what the signed-in user may do in a guild.
type access struct {
	Guild discord.Guild
	// Roles are the signed-in user's roles in the guild.
	Roles   []discord.RoleID
	CanEdit bool
	// EditRefusal says why editing is refused, when it is.
	EditRefusal string
	// may asks the permission engine about another command, for this user in this guild.
	may func(command string) (permissions.Decision, error)
}

// authorize checks the signed-in user against the guild in the path: gavel must be in it,
// the user must be a member, and the permission engine must allow the cases command — the
// check the commands make, from the same guild state.
func (s *Server) authorize(ctx context.Context, r *http.Request, sess *session) (access, error) {
	return s.authorizeFor(ctx, r, sess, viewCommand, "cases")
}

// authorizeFor is authorize with another command's permission deciding who may see the
// page (what names what they may not see in the refusal): the raids pages need the raid
// command's, so whoever may run it may see them and nobody else.
func (s *Server) authorizeFor(ctx context.Context, r *http.Request, sess *session, command, what string) (access, error) {
	raw := r.PathValue("guild")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return access{}, &pageError{Status: http.StatusNotFound, Title: "No such server", Message: fmt.Sprintf("%q is not a server id.", clip(raw, 30))}
	}
	return s.authorizeGuildFor(ctx, discord.GuildID(id), sess, command, what)
}

func (s *Server) authorizeGuild(ctx context.Context, id discord.GuildID, sess *session) (access, error) {
	return s.authorizeGuildFor(ctx, id, sess, viewCommand, "cases")
}

func (s *Server) authorizeGuildFor(ctx context.Context, id discord.GuildID, sess *session, command, what string) (access, error) {
	if !slices.Contains(s.cfg.Guilds(), id) {
		return access{}, &pageError{Status: http.StatusNotFound, Title: "No such server", Message: fmt.Sprintf("gavel is not in server %d.", id)}
	}
	g, err := s.cfg.Discord.Guild(ctx, id)
	if err != nil {
		return access{}, fmt.Errorf("reading server %d: %w", id, err)
	}
	var roles []discord.RoleID
	if discord.UserID(sess.UserID) != g.OwnerID {
		m, err := s.cfg.Discord.Member(ctx, id, discord.UserID(sess.UserID))
		switch {
		case discord.IsCode(err, discord.CodeUnknownMember):
			return access{}, &pageError{Status: http.StatusForbidden, Title: "Not allowed", Message: fmt.Sprintf("You are not a member of %s.", g.Name)}
		case err != nil:
			return access{}, fmt.Errorf("reading member %d of server %d: %w", sess.UserID, id, err)
		}
		roles = m.Roles
	}
	check := func(command string) (permissions.Decision, error) {
		return s.cfg.Perms.Check(ctx, permissions.Subject{GuildID: id, GuildOwnerID: g.OwnerID, UserID: discord.UserID(sess.UserID),
			RoleIDs: roles, NativePermissions: permissions.Permission(g.MemberPermissions(discord.UserID(sess.UserID), roles)),
			Command: command})
	}
	view, err := check(command)
	if err != nil {
		return access{}, err
	}
	if !view.Allowed {
		return access{}, &pageError{Status: http.StatusForbidden, Title: "Not allowed",
			Message: fmt.Sprintf("You may not see the %s of %s: %s", what, g.Name, strings.ReplaceAll(view.Reason, "`", ""))}
	}
	edit, err := check(editCommand)
	if err != nil {
		return access{}, err
	}
	return access{Guild: g, Roles: roles, may: check, CanEdit: edit.Allowed, EditRefusal: strings.ReplaceAll(edit.Reason, "`", "")}, nil
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
