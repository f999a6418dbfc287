package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/automod/enforcer"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/disgoport"
	"github.com/gavelbot/gavel/internal/discord/restcache"
	"github.com/gavelbot/gavel/internal/escalation"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/lockdown"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/raid"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/snippets"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/tools"
	"github.com/gavelbot/gavel/internal/web"
)

// ErrWebNeedsPostgres is what gavel web says on SQLite: an embedded database belongs to one
// process, which must then be gavel run serving the dashboard itself.
var ErrWebNeedsPostgres = errors.New("gavel web needs PostgreSQL: a SQLite database is used by one process only, so on SQLite serve the dashboard from gavel run by setting web.addr")

// WebOnly is gavel web: the dashboard as a process of its own beside gavel run, on the same
// PostgreSQL database, with no gateway. The guilds it serves are those the gateway's
// process recorded in the database; the guilds' owners and roles and the signed-in members'
// roles are read over REST and cached (package restcache).
type WebOnly struct {
	cfg   config.Config
	cat   *moderation.Catalogue
	exp   *expiry.Service
	perms *permissions.Service
	log   *slog.Logger
	store *store.Store
	port  *disgoport.Adapter
	cache *restcache.Cache
	cases *cases.Service
	web   *web.Server
	ln    net.Listener
	clock clock.Clock
}

// WebOption changes how NewWebOnly builds the process.
type WebOption func(*webOptions)

type webOptions struct {
	clock    clock.Clock
	listener net.Listener
	cache    func(*restcache.Config)
}

// WithWebOnlyClock times the sessions and the caches on c (tests move a manual clock).
func WithWebOnlyClock(c clock.Clock) WebOption { return func(o *webOptions) { o.clock = c } }

// WithWebOnlyListener serves on ln instead of web.addr.
func WithWebOnlyListener(ln net.Listener) WebOption {
	return func(o *webOptions) { o.listener = ln }
}

// WithWebOnlyCache adjusts the REST cache's settings (its TTL and size).
func WithWebOnlyCache(f func(*restcache.Config)) WebOption {
	return func(o *webOptions) { o.cache = f }
}

// NewWebOnly opens (and migrates) the PostgreSQL database and builds the dashboard over the
// same services gavel run uses. cfg must have passed Validate and carry the token and
// web.addr (or a listener).
func NewWebOnly(ctx context.Context, cfg config.Config, logger *slog.Logger, opts ...WebOption) (_ *WebOnly, err error) {
	var o webOptions
	for _, opt := range opts {
		opt(&o)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Discord.Token == "" {
		return nil, errors.New("gavel web: no Discord token")
	}
	if cfg.Web.Addr == "" && o.listener == nil {
		return nil, errors.New("gavel web: web.addr is not set: set it (or GAVEL_WEB_ADDR) to the host:port to serve the dashboard on")
	}
	loc, err := store.ParseURL(cfg.Database.URL)
	if err != nil {
		return nil, err
	}
	if !loc.Shared() {
		return nil, ErrWebNeedsPostgres
	}
	w := &WebOnly{cfg: cfg, log: logger, clock: clock.OrSystem(o.clock), ln: o.listener}
	st, err := openStore(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	w.store = st

	// The same services as gavel run's, so that a write from the web is the same write:
	// every case change goes through cases.Service with the mod log's outbox row in its
	// transaction, and gavel run's mod-log worker (which polls the outbox) delivers it.
	cat := actions.Catalogue()
	guilds := settings.NewService(st)
	ml := modlog.New(st, guilds, modlog.WithLogger(logger), modlog.WithClock(w.clock), modlog.WithTones(cat.Tone))
	// A dashboard edit (a case voided or made active again) changes points as a command's
	// does; a firing it sets off is carried out by gavel run (escalation.Runner.Serve).
	esc := escalation.NewService(st, escalation.WithClock(w.clock.Now))
	w.cases = cases.NewService(st, cases.WithClock(w.clock.Now), cases.WithChangeObserver(ml), cases.WithChangeObserver(esc))
	ml.Bind(w.cases)
	exp := expiry.NewService(st, w.cases, expiry.WithRules(cat.ExpiryRules()), expiry.WithClock(w.clock))
	w.cat, w.exp = cat, exp
	// The command tree only names the commands and their permissions for the engine: this
	// process runs none of them.
	toolSet := tools.NewSet(&tools.Env{Cases: w.cases, Expiry: exp, Settings: guilds, Log: logger,
		Snippets: snippets.NewService(st, w.cases, snippets.WithClock(w.clock.Now))})
	tree, err := commands.NewTree(append(commands.ActionSpecs(cat), toolSet.Specs()...)...)
	if err != nil {
		return nil, err
	}
	perms, err := permissions.New(st, tree.Names(), permissions.WithBotOwners(discord.IDs[discord.UserID](cfg.Discord.BotOwnerIDs())...),
		permissions.WithNativePermissions(tree.Native()), permissions.WithDefaultCommandRanks(tree.DefaultRanks()),
		permissions.WithOpenCommands(tree.Open()...))
	if err != nil {
		return nil, err
	}
	w.perms = perms
	portOpts := []disgoport.Option{disgoport.WithAPIURL(cfg.Discord.APIURL), disgoport.WithLogger(logger),
		disgoport.WithHTTPClient(&http.Client{Timeout: 20 * time.Second, Transport: restTransport()})}
	if w.port, err = disgoport.New(string(cfg.Discord.Token), portOpts...); err != nil {
		return nil, err
	}
	// The AutoMod page: Discord's rules over REST, the gavel-enforced ones in the database
	// (gavel run's enforcer reads them again within a minute), each change reported in the
	// guild's audit-log channel as the /automod commands report theirs; an executor of this
	// process's own retries Discord's 429s and 5xx as gavel run's does.
	exec := executor.New()
	amStore := automod.NewStore(st, automod.WithStoreClock(w.clock.Now))
	amService := automod.NewService(w.port, automod.WithExecutor(exec), automod.WithGavelRules(amStore),
		automod.WithReporter(enforcer.AuditReporter(guilds, w.port, exec, logger.With("component", "automod"))))
	ccfg := restcache.Config{Source: w.port, Clock: w.clock}
	if o.cache != nil {
		o.cache(&ccfg)
	}
	w.cache = restcache.New(ccfg)
	// The pages ask for the guild list on every request; the cache's table is that list,
	// refreshed in the background, so listing costs no call.
	w.web, err = web.New(web.Config{Store: st, Log: logger.With("component", "web"), Cases: w.cases, Expiry: exp, Escalation: esc, Perms: perms, Settings: guilds,
		AutoMod: amService, GavelStore: amStore,
		GavelRules: func(ctx context.Context, guildID discord.GuildID) ([]automod.GavelRule, error) {
			rules, _, err := amStore.GavelRules(ctx, guildID)
			return rules, err
		},
		Discord: w.cache, Guilds: w.cache.Guilds, PublicURL: cfg.Web.PublicURL, ClientID: cfg.OAuthClientID(), ClientSecret: string(cfg.Web.ClientSecret),
		APIURL: cfg.Discord.APIURL, Clock: w.clock,
		Liftable: func(t cases.Type) bool {
			act, ok := cat.ByCase(t)
			return ok && act.Inverse != "" && act.Tone != modlog.Lift
		},
		Lift: w.queueLift, LiftQueues: true,
		// The raids page reads the raids gavel run records; the detector, and so the live
		// join rate, lives in gavel run's memory: JoinRate is left out and the page says so.
		Raids: raid.New(raid.Config{Store: st, Cases: w.cases, Settings: guilds, Clock: w.clock, Log: logger.With("component", "raid")}),
		// The lockdowns gavel run records, read only (Current).
		Lockdowns:  lockdown.New(lockdown.Config{Store: st, Cases: w.cases, Clock: w.clock, Log: logger.With("component", "lockdown")}),
		HTTPClient: &http.Client{Timeout: 15 * time.Second, Transport: discordTransport()}})
	if err != nil {
		w.port.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return w, nil
}

// queueLift is gavel web's "lift now". This process has no gateway and so no moderation
// pipeline; the lift is asked of the process that has one through the schedule they share:
// the case's expiry moves to now (a history row naming the dashboard user, as cases modify
// -expires writes it), and gavel run's expiry runner, which reads the schedule every few
// seconds, lifts it through the pipeline as it lifts any punishment whose end has come,
// with a lift case linked to this one. The checks are LiftCase's: a case that exists, that
// something lifts, that has not ended, and the lifting command's own permission.
// Punishments that never expire (a ban, a hackban) have no end for the schedule to move:
// those are refused with where to lift them instead.
func (w *WebOnly) queueLift(ctx context.Context, guildID discord.GuildID, moderator discord.User, roles []discord.RoleID, n int64) (string, bool, error) {
	c, err := w.cases.GetByNumber(ctx, guildID, n)
	switch {
	case errors.Is(err, cases.ErrNotFound):
		return fmt.Sprintf("Case #%d does not exist in this server.", n), true, nil
	case err != nil:
		return "", false, err
	}
	act, ok := w.cat.ByCase(c.Type)
	if !ok || act.Inverse == "" {
		return fmt.Sprintf("Case #%d is a %s, which nothing lifts.", c.Number, c.Type), true, nil
	}
	inv, ok := w.cat.Lookup(act.Inverse)
	if !ok {
		return fmt.Sprintf("Case #%d is a %s, which nothing lifts.", c.Number, c.Type), true, nil
	}
	if c.Processed {
		return fmt.Sprintf("Case #%d has already ended; there is nothing to lift.", c.Number), true, nil
	}
	g, err := w.cache.Guild(ctx, guildID)
	if err != nil {
		return "", false, fmt.Errorf("reading the server for a permission check: %w", err)
	}
	d, err := w.perms.Check(ctx, permissions.Subject{GuildID: guildID, GuildOwnerID: g.OwnerID, UserID: moderator.ID, RoleIDs: roles,
		NativePermissions: permissions.Permission(g.MemberPermissions(moderator.ID, roles)), Command: inv.Name})
	if err != nil {
		return "", false, err
	}
	if !d.Allowed {
		return d.Reason, true, nil
	}
	if act.Expiry == "" {
		return fmt.Sprintf("Case #%d is a %s, which never ends by itself, so gavel web cannot hand its lift to gavel run's schedule: "+
			"lift it in Discord with %s (or cases modify %d -lift), or from the dashboard gavel run serves.", c.Number, c.Type, inv.Name, c.Number), true, nil
	}
	if c.Status != cases.Active {
		return fmt.Sprintf("Case #%d is %s: gavel web lifts a punishment by ending its case now, which a %s case cannot; "+
			"lift it in Discord with %s (or cases modify %d -lift), or from the dashboard gavel run serves.", c.Number, c.Status, c.Status, inv.Name, c.Number), true, nil
	}
	note := fmt.Sprintf("lift now, asked on the dashboard by %s; gavel run's schedule lifts it", moderator.Username)
	if _, err := w.exp.Reschedule(ctx, guildID, c.Number, moderator.ID, w.clock.Now(), note); err != nil {
		var invalid *input.InvalidError
		if errors.As(err, &invalid) {
			return invalid.Problem, true, nil
		}
		return "", false, fmt.Errorf("queue the lift of case #%d: %w", c.Number, err)
	}
	return fmt.Sprintf("Lift of case #%d queued.", c.Number), false, nil
}

// Cache is the REST cache the pages read guilds and members from (tests read its size).
func (w *WebOnly) Cache() *restcache.Cache { return w.cache }

// Run loads the guilds, serves the dashboard until ctx ends, and closes everything.
func (w *WebOnly) Run(ctx context.Context) error {
	defer w.close()
	// The guilds are loaded before the first page, so that a page's only call on a cold
	// cache is its member.
	ids, err := w.cases.PresentGuilds(ctx)
	if err != nil {
		return err
	}
	if err := w.cache.LoadGuilds(ctx, ids); err != nil {
		return err
	}
	w.log.Info("guilds loaded", "guilds", len(ids))
	bg, stopBg := context.WithCancel(ctx)
	defer stopBg()
	refreshed := make(chan struct{})
	go func() {
		defer close(refreshed)
		w.cache.Refresh(bg, w.cases.PresentGuilds, func(err error) { w.log.Warn("refreshing the guilds", "err", err) })
	}()
	purged := make(chan struct{})
	go func() {
		defer close(purged)
		w.web.PurgeSessions(bg)
	}()
	defer func() {
		stopBg()
		<-refreshed
		<-purged
	}()

	ln := w.ln
	if ln == nil {
		if ln, err = net.Listen("tcp", w.cfg.Web.Addr); err != nil {
			return fmt.Errorf("dashboard: %w", err)
		}
	}
	srv := &http.Server{Handler: w.web.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	w.log.Info("serving the dashboard without a gateway", "addr", ln.Addr().String(), "public_url", w.cfg.Web.PublicURL)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutCtx); err != nil {
			w.log.Warn("dashboard shutdown", "err", err)
		}
		return nil
	case err := <-done:
		return fmt.Errorf("dashboard server: %w", err)
	}
}

func (w *WebOnly) close() {
	closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w.port.Close(closeCtx)
	w.store.Close()
}
