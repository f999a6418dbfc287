// Package app wires gavel together and runs it: it builds the store, the Discord adapter
// and gateway client and the services, hands the gateway's events to the router, and owns
// the lifecycle (Run, and Close, which lets the work in flight finish).
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/disgoorg/disgo"
	"github.com/disgoorg/disgo/bot"
	ddiscord "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/events"
	dgw "github.com/disgoorg/disgo/gateway"
	"github.com/disgoorg/disgo/rest"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/automod/enforcer"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/disgoport"
	"github.com/gavelbot/gavel/internal/discord/gateway"
	"github.com/gavelbot/gavel/internal/discord/guildstate"
	"github.com/gavelbot/gavel/internal/discord/leanhttp"
	"github.com/gavelbot/gavel/internal/discord/restcache"
	"github.com/gavelbot/gavel/internal/discord/shards"
	"github.com/gavelbot/gavel/internal/escalation"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/leases"
	"github.com/gavelbot/gavel/internal/lockdown"
	"github.com/gavelbot/gavel/internal/metrics"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/polls"
	"github.com/gavelbot/gavel/internal/raid"
	"github.com/gavelbot/gavel/internal/router"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/snippets"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/tools"
	"github.com/gavelbot/gavel/internal/upkeep"
	"github.com/gavelbot/gavel/internal/web"
)

// Intents are the gateway intents gavel asks for. Server Members and Message Content are
// privileged: they must be enabled for the bot in Discord's developer portal.
var Intents = []dgw.Intents{
	dgw.IntentGuilds, dgw.IntentGuildMembers, dgw.IntentGuildMessages, dgw.IntentMessageContent,
	dgw.IntentGuildModeration, dgw.IntentDirectMessages, dgw.IntentAutoModerationExecution,
	dgw.IntentAutoModerationConfiguration,
}

// Defaults for the limits an Option can change.
const (
	DefaultShutdownTimeout = 30 * time.Second
	DefaultCommandTimeout  = 2 * time.Minute
	// DefaultRejailRecheck leaves other bots' on-join roles (often given after 5 seconds)
	// time to arrive before the second look at a re-jailed member.
	DefaultRejailRecheck = 10 * time.Second
	// DefaultTransientReplyDelay is how long a transient prefix reply (purge's
	// confirmation) stays in the channel.
	DefaultTransientReplyDelay = 5 * time.Second
)

// App is one running gavel process: the shards it runs (one gateway connection each), the
// store, the Discord client and the services, wired to the router (the gateway's events),
// until Close.
type App struct {
	cfg   config.Config
	log   *slog.Logger
	store *store.Store
	// runLock holds a SQLite database for this process alone (store.LockRunner).
	runLock *store.RunLock
	// listening is told when the App first listens for other processes' changes.
	listening func()
	// leases is the shard-lease provider (discord.shards = "auto" on PostgreSQL), or nil.
	leases *leases.Provider
	// leasesIdle: a test replaced the provider (WithShardProvider), so the leases do not
	// run and do not filter this process's expiries.
	leasesIdle bool
	// dbHealth follows whether the database answers (store.Health).
	dbHealth *store.Health
	cases    *cases.Service
	modlog   *modlog.Service
	expiry   *expiry.Service
	guilds   *settings.Service
	exec     *executor.Executor
	metrics  *metrics.Metrics
	cat      *moderation.Catalogue
	// tree is every command, actions and tools: what Run registers as slash commands.
	tree *commands.Tree
	// toolEnv is the tools' environment; onReady fills in BotID (under mu, before any
	// command can start).
	toolEnv *tools.Env
	port    *disgoport.Adapter
	// cached answers Guild (and gavel's own Member) from the guild state the router keeps
	// up to date, and everything else through port.
	cached discord.Port
	client *bot.Client
	// shards runs this process's gateway connections, one per shard.
	shards  *shards.Manager
	upkeep  *upkeep.Upkeep
	automod *enforcer.Enforcer
	// raid is raid defence: the detector, raid mode and its durable check.
	raid *raid.Service
	// lockdown locks and unlocks channels, with its durable check.
	lockdown *lockdown.Service
	// web is the dashboard, nil unless web.addr is set; webLn is a listener a test gave.
	web   *web.Server
	webLn net.Listener
	// webHandler is what the dashboard's listener serves: the dashboard, or the sandbox's
	// panel around it.
	webHandler http.Handler

	shutdownTimeout time.Duration
	commandTimeout  time.Duration
	// clock is what expiries are judged and scheduled by, and what transient replies wait
	// on: the system's, or a test's manual clock.
	clock clock.Clock

	// flight is the work in flight: the commands, events and expiries running, and the
	// moderation pipeline READY builds.
	flight
	expiryCfg expiry.Config
	horizon   time.Duration
	coOpts    []moderation.CoordinatorOption
	// modlogStop ends the mod log's worker, which READY starts; modlogDone closes when it
	// has stopped.
	modlogStop context.CancelFunc
	modlogDone chan struct{}
	// escalation keeps points and policies; escRunner carries out their firings, and its
	// schedule (re-arming, approvals' expiry) runs from READY until escStop.
	escalation *escalation.Service
	escRunner  *escalation.Runner
	escStop    context.CancelFunc
	escDone    chan struct{}

	closeOnce sync.Once
}

// Option changes how New builds the App.
type Option func(*options)

type options struct {
	gateway         []gateway.Option
	shutdownTimeout time.Duration
	commandTimeout  time.Duration
	expiry          func(*expiry.Config)
	horizon         time.Duration
	coordinator     []moderation.CoordinatorOption
	reconcileAge    time.Duration
	executor        []executor.Option
	rejailRecheck   time.Duration
	automodWindow   time.Duration
	automodCheck    time.Duration
	limiter         *disgoport.Limiter
	transientDelay  time.Duration
	clock           clock.Clock
	modlog          []modlog.Option
	upkeepHandled   func(upkeep.Handled)
	automodHandled  func(enforcer.Handled)
	webListener     net.Listener
	webMembers      func(*restcache.Config)
	sandbox         func(*web.Server) http.Handler
	listening       func()
	heard           func(store.Change)
	raidObserve     func(raid.Step)
	leases          []func(*leases.Config)
	shardProvider   shards.Provider
	shardConfig     []func(*shards.Config)
}

// WithLeaseConfig adjusts the shard leases' configuration after gavel's own (tests shorten
// the renewal and the lease, and give them a clock).
func WithLeaseConfig(f func(*leases.Config)) Option {
	return func(o *options) { o.leases = append(o.leases, f) }
}

// WithChangesListening calls f once the App listens for the configuration changes other
// processes announce (store.Store.Listen): a test changes something only after that.
func WithChangesListening(f func()) Option {
	return func(o *options) { o.listening = f }
}

// WithChangesHeard calls f with each configuration change the App hears of, once its own
// caches have dropped what changed (tests wait for it).
func WithChangesHeard(f func(store.Change)) Option {
	return func(o *options) { o.heard = f }
}

// WithRaidObserver makes raid defence tell f of each step a raid takes, once committed:
// tests and the benchmark wait on it instead of sleeping.
func WithRaidObserver(f func(raid.Step)) Option {
	return func(o *options) { o.raidObserve = f }
}

// WithShardProvider replaces the provider of this process's shards (by default: the
// discord.shards list, or every shard for "auto").
func WithShardProvider(p shards.Provider) Option {
	return func(o *options) { o.shardProvider = p }
}

// WithShardConfig adjusts the shard manager's configuration after gavel's own (tests give it
// a manual clock and shorter polls).
func WithShardConfig(f func(*shards.Config)) Option {
	return func(o *options) { o.shardConfig = append(o.shardConfig, f) }
}

// WithSandbox makes the dashboard the sandbox's (gavel sandbox): its pages say so and it
// signs in without OAuth; mount returns the handler served in its place, which wraps the
// dashboard with the sandbox's panel on the same origin.
func WithSandbox(mount func(dashboard *web.Server) http.Handler) Option {
	return func(o *options) { o.sandbox = mount }
}

// WithWebListener serves the dashboard on ln instead of listening on web.addr (tests
// listen on a free port first, to know the public URL).
func WithWebListener(ln net.Listener) Option {
	return func(o *options) { o.webListener = ln }
}

// WithWebMemberCache adjusts the dashboard's member cache (its TTL and size); the case
// browser benchmark makes every page a miss with it.
func WithWebMemberCache(f func(*restcache.Config)) Option {
	return func(o *options) { o.webMembers = f }
}

// WithModlogOptions adds options to the mod log, after gavel's own (tests give it a manual
// clock and watch its deliveries).
func WithModlogOptions(opts ...modlog.Option) Option {
	return func(o *options) { o.modlog = append(o.modlog, opts...) }
}

// WithCoordinatorOptions adds options to the moderation coordinator, after gavel's own
// (tests move its clock).
func WithCoordinatorOptions(opts ...moderation.CoordinatorOption) Option {
	return func(o *options) { o.coordinator = append(o.coordinator, opts...) }
}

// WithExpiryConfig adjusts the expiry poller's settings after the configuration's (tests
// shorten the backoff).
func WithExpiryConfig(f func(*expiry.Config)) Option {
	return func(o *options) { o.expiry = f }
}

// WithTimeoutHorizon sets the longest timeout applied at once, Discord's 28 days unless a
// test shortens it to see renewals.
func WithTimeoutHorizon(d time.Duration) Option {
	return func(o *options) { o.horizon = d }
}

// WithGatewayOptions adds options to the gateway client, after gavel's own (URL, intents,
// compression, logger), so they win: tests shorten its timings or turn compression off.
func WithGatewayOptions(opts ...gateway.Option) Option {
	return func(o *options) { o.gateway = append(o.gateway, opts...) }
}

// WithShutdownTimeout bounds how long Run waits, once its context ends, for the commands in
// flight before it cancels them.
func WithShutdownTimeout(d time.Duration) Option {
	return func(o *options) { o.shutdownTimeout = d }
}

// WithCommandTimeout bounds one command, from the event to the reply.
func WithCommandTimeout(d time.Duration) Option {
	return func(o *options) { o.commandTimeout = d }
}

// WithExecutorOptions adds options to the executor of Discord calls (retries, breakers):
// tests make a breaker open after one failure without waiting through backoffs.
func WithExecutorOptions(opts ...executor.Option) Option {
	return func(o *options) { o.executor = append(o.executor, opts...) }
}

// WithReconcileAge sets how old a pending case must be before start-up reconciliation
// settles it (default: the command timeout). A younger one may belong to an action another
// process on the same database is still carrying out; it is looked at again once old enough.
func WithReconcileAge(d time.Duration) Option {
	return func(o *options) { o.reconcileAge = d }
}

// WithRejailRecheck sets how long after re-jailing a rejoining member gavel looks again and
// takes the roles other bots gave them on join (default DefaultRejailRecheck).
func WithRejailRecheck(d time.Duration) Option {
	return func(o *options) { o.rejailRecheck = d }
}

// WithUpkeepObserver makes upkeep tell f about each background event it is done with (an
// audit-log entry, a member's arrival, a new channel): tests wait for it instead of sleeping.
func WithUpkeepObserver(f func(upkeep.Handled)) Option {
	return func(o *options) { o.upkeepHandled = f }
}

// discordTransport is the HTTP transport of the REST client. Every call goes to one host,
// so the default of two idle connections per host would make concurrent commands open and
// close a connection per call over HTTP/1.1 (a rate-limit proxy, or the fake); over
// HTTP/2 (discord.com) the calls share one connection anyway.
func discordTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 128
	t.MaxIdleConns = 128
	return t
}

// restTransport is the port's: over plain HTTP (a rate-limit proxy, the fake) the calls are
// made by leanhttp on the caller's goroutine; https (Discord itself), a configured proxy and
// anything else leanhttp does not do itself go to discordTransport's net/http.
func restTransport() http.RoundTripper {
	return leanhttp.New(discordTransport(), 128, 0)
}

// WithDiscordLimiter replaces the REST rate limiter (default disgoport.NewLimiter(), which
// paces every request under Discord's global 50 a second). A bot granted a higher global
// limit, or one behind a rate-limit proxy, sets its own; benchmarks lift the pacing to
// measure gavel rather than Discord's limits.
func WithDiscordLimiter(l *disgoport.Limiter) Option {
	return func(o *options) { o.limiter = l }
}

// WithTransientReplyDelay sets how long a transient prefix reply (purge's confirmation)
// stays before gavel deletes it; tests shorten it.
func WithTransientReplyDelay(d time.Duration) Option {
	return func(o *options) { o.transientDelay = d }
}

// WithClock makes the cases, the expiry schedule and its poller, the coordinator, the
// transient replies, upkeep's later looks and the AutoMod enforcer's execution window and
// rule checks read the time from c and wait on it: tests move a manual clock instead of
// waiting out real expiries and delays.
func WithClock(c clock.Clock) Option {
	return func(o *options) { o.clock = c }
}

// New opens and migrates the database and builds the services and the Discord client. It
// connects to nothing: Run does. cfg must have passed Validate and carry the token.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger, opts ...Option) (_ *App, err error) {
	o := options{shutdownTimeout: DefaultShutdownTimeout, commandTimeout: DefaultCommandTimeout, rejailRecheck: DefaultRejailRecheck,
		automodWindow: DefaultExecutionWindow, automodCheck: DefaultGavelRulesCheck,
		transientDelay: DefaultTransientReplyDelay}
	for _, opt := range opts {
		opt(&o)
	}
	if o.reconcileAge == 0 {
		o.reconcileAge = o.commandTimeout
	}
	if cfg.Discord.Token == "" {
		return nil, errors.New("app: no Discord token")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &App{cfg: cfg, log: logger, shutdownTimeout: o.shutdownTimeout, commandTimeout: o.commandTimeout,
		clock: clock.OrSystem(o.clock), horizon: o.horizon, coOpts: o.coordinator,
		flight: flight{closed: make(chan struct{})}, listening: o.listening}
	if a.horizon <= 0 {
		a.horizon = moderation.MaxTimeout
	}
	a.expiryCfg = expiry.Config{PollInterval: cfg.Expiry.PollEvery(), MaxAttempts: cfg.Expiry.MaxAttempts, Workers: cfg.Expiry.Workers}
	if o.expiry != nil {
		o.expiry(&a.expiryCfg)
	}

	// A SQLite file serves one gavel run: a second one stops once the file is known to be
	// usable, saying why, before it migrates or connects anything.
	defer func() {
		if err != nil {
			_ = a.runLock.Release()
		}
	}()
	st, err := openStore(ctx, cfg, logger, func(st *store.Store) (err error) {
		a.runLock, err = store.LockRunner(st.Location)
		return err
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	a.store = st
	// Holding the SQLite file (above), this process is the only one to handle its guilds'
	// events: the router's check of each command's event is answered from memory
	// (ServeAlone does nothing on PostgreSQL).
	if err := st.ServeAlone(ctx); err != nil {
		return nil, err
	}

	a.cat = actions.Catalogue()
	a.guilds = settings.NewService(st)
	a.metrics = metrics.New()
	// The mod log hears of every case change inside its transaction, and reads the cases
	// back when it delivers: the two name each other. Its clock is the App's unless a test
	// gives it its own.
	a.modlog = modlog.New(st, a.guilds, append([]modlog.Option{modlog.WithLogger(logger), modlog.WithClock(a.clock), modlog.WithTones(a.cat.Tone),
		modlog.WithDeliveryObserver(func(_ int64, o modlog.Outcome) { a.metrics.ModlogDelivered(string(o)) }),
		// A RAID case's message shows its raid (a.raid is built below, before the worker runs).
		modlog.WithDecorator(func(ctx context.Context, c cases.Case, msg *discord.Message) error {
			if err := a.raid.Decorate(ctx, c, msg); err != nil {
				return err
			}
			return a.lockdown.Decorate(ctx, c, msg)
		})}, o.modlog...)...)
	// The poll bans are kept in memory and dropped on every change of one (package polls).
	pollBans := polls.New(polls.Config{Log: logger, Clock: a.clock})
	pollBans.Listen(st)
	if o.heard != nil {
		// Registered before the services' own, but told after them (store.OnAnyChange).
		st.OnAnyChange(o.heard)
	}
	// Told after the services have dropped what they kept: the operator (and the process
	// tests) can see when a change made elsewhere reached this process.
	st.OnAnyChange(func(c store.Change) {
		if c.Topic != store.TopicRateLimit {
			logger.Info("configuration changed elsewhere: cached copy dropped", "topic", c.Topic, "guild", c.GuildID)
		}
	})
	// Escalation evaluates every case change in its transaction, as the mod log does.
	a.escalation = escalation.NewService(st, escalation.WithClock(a.clock.Now), escalation.WithLogger(logger.With("component", "escalation")))
	a.cases = cases.NewService(st, cases.WithClock(a.clock.Now), cases.WithChangeObserver(a.modlog), cases.WithChangeObserver(pollBans),
		cases.WithChangeObserver(a.escalation))
	a.modlog.Bind(a.cases)
	// With shard leases, this process claims only the expiries of its shards' guilds.
	a.expiry = expiry.NewService(st, a.cases, expiry.WithRules(a.cat.ExpiryRules()), expiry.WithClock(a.clock), expiry.WithObserver(expiryMetrics{a.metrics}),
		expiry.WithShards(a.leasedShards), expiry.WithGuard(leaseGuard{a}))
	// One tracker of the database's reachability: the pipeline reports to it and the metric
	// pings through it, so an outage is logged once with the driver's detail.
	a.dbHealth = store.NewHealth(logger, a.clock.Now)
	a.metrics.WatchDatabase(func(ctx context.Context) bool { return a.dbHealth.Probe(ctx, st) })
	a.metrics.WatchSchedule(a.expiry.Counts)
	a.metrics.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gavel_expiry_overdue",
		Help: "Scheduled expiry actions more than 5 minutes overdue that no process holds, as this process's poller last counted them (once a minute): no process claims them."},
		func() float64 { return float64(a.expiry.Overdue()) }))
	a.metrics.WatchModlog(a.modlog.Counts)
	a.exec = executor.New(append([]executor.Option{executor.WithObserver(a.metrics)}, o.executor...)...)
	a.toolEnv = &tools.Env{Cases: a.cases, Expiry: a.expiry, Settings: a.guilds, Exec: a.exec, Log: logger, Now: a.clock.Now,
		Snippets: snippets.NewService(st, a.cases, snippets.WithClock(a.clock.Now))}
	toolSet := tools.NewSet(a.toolEnv)
	a.tree, err = commands.NewTree(append(commands.ActionSpecs(a.cat), toolSet.Specs()...)...)
	if err != nil {
		return nil, err
	}
	// Each command declares the Discord permission it needs in a guild without ranks: the
	// actions in their own files, the tools in theirs; the tree carries them here.
	perms, err := permissions.New(st, a.tree.Names(), permissions.WithBotOwners(discord.IDs[discord.UserID](cfg.Discord.BotOwnerIDs())...),
		permissions.WithNativePermissions(a.tree.Native()), permissions.WithDefaultCommandRanks(a.tree.DefaultRanks()),
		permissions.WithOpenCommands(a.tree.Open()...))
	if err != nil {
		return nil, err
	}
	a.toolEnv.Perms = perms
	a.toolEnv.Lift = a.liftCase
	a.toolEnv.Mass = massRunner{a}
	a.toolEnv.Escalation = &tools.Escalation{Service: a.escalation, Decide: a.decideEscalation}
	a.toolEnv.CommandNames = perms.Commands

	portOpts := []disgoport.Option{disgoport.WithAPIURL(cfg.Discord.APIURL), disgoport.WithLogger(logger),
		disgoport.WithHTTPClient(&http.Client{Timeout: 20 * time.Second, Transport: a.metrics.Transport(restTransport())})}
	lim := o.limiter
	if lim == nil {
		lim = disgoport.NewLimiter()
	}
	portOpts = append(portOpts, disgoport.WithLimiter(lim))
	a.shareGlobalLimit(cfg, st, lim)
	a.leases = a.newLeases(cfg, st, lim, o.leases)
	a.port, err = disgoport.New(string(cfg.Discord.Token), portOpts...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			a.port.Close(closeCtx)
		}
	}()

	gwOpts := append([]gateway.Option{
		gateway.WithURL(cfg.Discord.GatewayURL),
		gateway.WithIntents(Intents...),
		gateway.WithCompression(gateway.CompressionZlibStream),
		gateway.WithLogger(logger),
		// AutoMod executions are read from the raw payload (matched_keyword).
		gateway.WithRawEvents(true),
		// Bots' messages (gavel's own among them) are dropped undecoded: no listener reads them.
		gateway.WithSkip(router.SkipEvent),
		// MESSAGE_CREATE is decoded by gavel (only what the router reads), not by disgo: most
		// of a busy bot's events, and disgo's decoding of them was most of its time.
		gateway.WithMessageDecoding(true),
	}, o.gateway...)
	state := guildstate.New()
	a.cached = guildstate.Port{Port: a.port, State: state}
	a.toolEnv.Port = a.cached
	pollBans.Bind(a.cases, a.cached, a.exec)
	a.escRunner = escalation.NewRunner(escalation.RunnerConfig{Service: a.escalation, Cases: a.cases, Settings: a.guilds,
		Port: a.cached, Exec: a.exec, Work: flightWork{&a.flight}, Log: logger.With("component", "escalation"), Affinity: guildAffinity{a}})
	a.escalation.OnFired(a.escRunner.Fired)
	a.automod = a.newEnforcer(o)
	a.toolEnv.AutoMod = a.AutoMod()
	work := flightWork{&a.flight}
	a.lockdown = lockdown.New(lockdown.Config{Store: st, Cases: a.cases, Expiry: a.expiry, Discord: lockdownPort{Port: a.cached, safety: a.port},
		Exec: a.exec, Work: work, Clock: a.clock, Log: logger.With("component", "lockdown"),
		StaffRoles: func(ctx context.Context, g discord.GuildID) ([]discord.RoleID, error) {
			rrs, err := perms.RoleRanks(ctx, g)
			out := make([]discord.RoleID, 0, len(rrs))
			for _, r := range rrs {
				out = append(out, r.RoleID)
			}
			return out, err
		}})
	a.toolEnv.Lockdown = a.lockdown
	// Raid mode's lockdown response runs through the lockdown service (built first).
	a.raid = raid.New(raid.Config{Store: st, Cases: a.cases, Expiry: a.expiry, Settings: a.guilds, Catalogue: a.cat, Safety: a.port,
		Lockdowns: a.lockdown, Work: work, Clock: a.clock, Log: logger.With("component", "raid"), Observe: o.raidObserve, Affinity: guildAffinity{a}})
	a.toolEnv.Raid = a.raid
	a.upkeep = upkeep.New(upkeep.Config{Work: work, Guilds: a.cases, Polls: pollBans, Log: logger, RejailRecheck: o.rejailRecheck,
		ReconcileAge: o.reconcileAge, ReconcileTimeout: o.commandTimeout, Clock: a.clock,
		Handled: o.upkeepHandled, Affinity: guildAffinity{a}})
	rt := router.New(router.Config{Log: logger, Work: work, Port: a.cached, State: state, Settings: a.guilds, Perms: perms, Health: a.dbHealth,
		Metrics: a.metrics, Events: st, Tree: a.tree, Tools: toolSet, Upkeep: a.upkeep, AutoMod: a.automod, Raid: a.raid, Ready: a.onReady,
		Clock: a.clock, CommandTimeout: o.commandTimeout, TransientDelay: o.transientDelay, Affinity: guildAffinity{a},
		Pending: pendingEvents{a}})
	botOpts := append(append(a.port.BotOptions(), rt.Listeners()...),
		bot.WithLogger(logger),
		// Dispatches the gateway's own MESSAGE_CREATE (WithMessageDecoding) to the listeners.
		bot.WithEventManagerConfigOpts(bot.WithGatewayHandlers(gateway.Handlers())),
	)
	provider := o.shardProvider
	if provider != nil {
		a.leasesIdle = true
	}
	if provider == nil && a.leases != nil {
		// "auto" on PostgreSQL: the processes divide the shards through their leases.
		provider = a.leases
	}
	if provider == nil {
		// An explicit list runs those shards; "auto" runs every shard of the count, which
		// is what a process on its own (the only kind on SQLite) should take.
		provider = shards.Static{IDs: cfg.Discord.ShardIDs()}
	}
	shardCfg := shards.Config{Token: string(cfg.Discord.Token), Count: cfg.Discord.ShardCountN(), Provider: provider,
		Gateway: gwOpts, Discover: a.gatewayBot, Counts: st, Locker: st, Log: logger, Clock: a.clock,
		Ready: func(id, count int) {
			a.log.Info("connected to Discord", "gateway", cfg.Discord.GatewayURL, "shard_id", id, "shard_count", count)
		}}
	// The identify windows and the count's polls run on the App's clock: a test that
	// freezes it moves it through an identify window it needs (or gives the shard manager
	// a clock of its own with WithShardConfig).
	for _, f := range o.shardConfig {
		f(&shardCfg)
	}
	if a.shards, err = shards.New(shardCfg); err != nil {
		return nil, err
	}
	a.metrics.WatchShards(a.shardMetrics)
	// The shard manager is the client's gateway; it is handed the client's event handler
	// once the client exists.
	if a.client, err = disgo.New(string(cfg.Discord.Token), append(botOpts, bot.WithShardManager(a.shards))...); err != nil {
		return nil, fmt.Errorf("new disgo client: %w", err)
	}
	a.shards.SetEventHandler(a.client.EventManager.HandleGatewayEvent)
	if cfg.Web.Addr != "" || o.webListener != nil {
		if a.web, err = a.newWeb(state, perms, o.sandbox != nil, o.webMembers); err != nil {
			return nil, err
		}
		a.webLn = o.webListener
		a.webHandler = a.web.Handler()
		if o.sandbox != nil {
			a.webHandler = o.sandbox(a.web)
		}
	}
	a.work, a.cancelWork = context.WithCancel(context.WithoutCancel(ctx))
	return a, nil
}

// newWeb builds the dashboard over the same cases, permission engine and guild state the
// commands use.
func (a *App) newWeb(state *guildstate.State, perms *permissions.Service, sandbox bool, adjust func(*restcache.Config)) (*web.Server, error) {
	// The signed-in members' roles come from Discord (the guild state keeps gavel's own
	// only); they are cached as gavel web caches them, and dropped when the gateway says a
	// member changed or left, so a page makes no Discord call on a hit and a role change is
	// seen on the next page.
	mcfg := restcache.Config{Source: a.cached, Clock: a.clock, GuildsFromSource: true}
	if adjust != nil {
		adjust(&mcfg)
	}
	members := restcache.New(mcfg)
	state.Watch(members.Forget)
	return web.New(web.Config{Store: a.store, Log: a.log.With("component", "web"), Cases: a.cases, Expiry: a.expiry, Escalation: a.escalation, Perms: perms, AutoMod: a.toolEnv.AutoMod, Settings: a.guilds,
		Lockdowns: a.lockdown,
		GavelRules: func(ctx context.Context, guildID discord.GuildID) ([]automod.GavelRule, error) {
			rules, _, err := a.automod.Store().GavelRules(ctx, guildID)
			return rules, err
		}, GavelStore: a.automod.Store(), Discord: members,
		Guilds: state.Guilds, PublicURL: a.cfg.Web.PublicURL, ClientID: a.cfg.OAuthClientID(), ClientSecret: string(a.cfg.Web.ClientSecret),
		APIURL: a.cfg.Discord.APIURL, Clock: a.clock, Lift: a.webLift,
		// The raids page: the raids in the database, and the detector's live join rate.
		Raids: a.raid, JoinRate: a.raid.Detector().Rate,
		// A punishment is an action with an inverse that is not itself a lift (an unban's
		// inverse is a ban, but an unban punishes nobody).
		Liftable: func(t cases.Type) bool {
			act, ok := a.cat.ByCase(t)
			return ok && act.Inverse != "" && act.Tone != modlog.Lift
		}, Sandbox: sandbox,
		HTTPClient: &http.Client{Timeout: 15 * time.Second, Transport: discordTransport()}})
}

// webLift is the dashboard's "lift now": cases modify -lift's path, as the signed-in user.
func (a *App) webLift(ctx context.Context, guildID discord.GuildID, moderator discord.User, roles []discord.RoleID, n int64) (string, bool, error) {
	res := a.liftCase(ctx, tools.Call{GuildID: guildID, User: moderator, Roles: roles, At: a.clock.Now()}, n)
	if res.Err != nil && !res.Refused {
		a.log.Warn("dashboard lift failed", "guild", guildID, "case", n, "err", res.Err)
		if res.Reply.Content == "" {
			return "", false, res.Err
		}
		// The pipeline's reply says what happened (a refusal from Discord, an outcome left
		// pending): the moderator reads it as the command's caller would.
		return res.Reply.Content, true, nil
	}
	return res.Reply.Content, res.Refused, nil
}

// serveWeb starts the dashboard; the returned function stops it.
func (a *App) serveWeb(errc chan<- error) (func(), error) {
	ln := a.webLn
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", a.cfg.Web.Addr); err != nil {
			return nil, fmt.Errorf("dashboard: %w", err)
		}
	}
	srv := &http.Server{Handler: a.webHandler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	a.log.Info("serving the dashboard", "addr", ln.Addr().String(), "public_url", a.cfg.Web.PublicURL)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	return func() {
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutCtx); err != nil {
			a.log.Warn("dashboard shutdown", "err", err)
		}
	}, nil
}

// Shards returns the manager of this process's shards (their states, for benchmarks and
// tests).
func (a *App) Shards() *shards.Manager { return a.shards }

// Metrics returns the App's metrics, for tests and for serving them elsewhere.
func (a *App) Metrics() *metrics.Metrics { return a.metrics }

// Run registers the slash commands, connects to the gateway and handles events until ctx
// ends or the gateway stops for good. Then it stops taking commands, waits for the ones in
// flight (at most the shutdown timeout) and closes everything. It returns nil after a
// shutdown asked for through ctx. Run may be called once; it closes the App.
func (a *App) Run(ctx context.Context) (err error) {
	defer a.Close()

	if err := a.registerCommands(ctx); err != nil {
		return err
	}
	botID, err := a.whoAmI(ctx)
	if err != nil {
		return err
	}
	a.startPipeline(botID)
	var metricsSrv *http.Server
	metricsDone := make(chan error, 1)
	if addr := a.cfg.Metrics.Addr; addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", a.metrics.Handler())
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		a.log.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
		go func() { metricsDone <- metricsSrv.Serve(ln) }()
		defer func() {
			shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if shutErr := metricsSrv.Shutdown(shutCtx); shutErr != nil {
				a.log.Warn("metrics server shutdown", "err", shutErr)
			}
		}()
	}

	webDone := make(chan error, 1)
	if a.web != nil {
		stop, err := a.serveWeb(webDone)
		if err != nil {
			return err
		}
		defer stop()
		purgeCtx, stopPurge := context.WithCancel(ctx)
		purged := make(chan struct{})
		go func() {
			defer close(purged)
			a.web.PurgeSessions(purgeCtx)
		}()
		defer func() {
			stopPurge()
			<-purged
		}()
	}

	// Configuration changed by other processes (store.Tx.Announce), and the handled
	// events' record kept to its retention.
	bgCtx, stopBackground := context.WithCancel(ctx)
	var background sync.WaitGroup
	background.Add(2)
	go func() {
		defer background.Done()
		_ = a.store.Listen(bgCtx, a.log, a.listening)
	}()
	go func() {
		defer background.Done()
		a.purgeEvents(bgCtx)
	}()
	defer func() {
		stopBackground()
		background.Wait()
	}()

	if err := a.shards.Prepare(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("connecting to the Discord gateway: %w", explainClose(err))
	}
	// The shard count is known now, and with it the guilds of an explicit shard list: the
	// poller's claims so far took none of them.
	a.expiry.Wake()
	shardsDone := make(chan error, 1)
	go func() { shardsDone <- a.shards.Run(ctx) }()

	select {
	case <-ctx.Done():
		// The shards stop first (their events would find no one to take them), then Close
		// lets the commands in flight finish.
		err := <-shardsDone
		a.log.Info("shutting down: finishing the commands in flight (a second interrupt stops them at once; their cases stay pending and are settled at the next start)")
		if err != nil {
			a.log.Warn("the shards stopped with an error", "err", err)
		}
		return nil
	case err := <-shardsDone:
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("the shards stopped")
		}
		return fmt.Errorf("the Discord gateway stopped: %w", explainClose(err))
	case err := <-metricsDone:
		return fmt.Errorf("metrics server: %w", err)
	case err := <-webDone:
		return fmt.Errorf("dashboard server: %w", err)
	}
}

// purgeEvents forgets the handled command events older than store.EventRetention, at
// start and then every hour, until ctx ends.
func (a *App) purgeEvents(ctx context.Context) {
	for {
		if n, err := a.store.PurgeEvents(ctx, a.clock.Now().Add(-store.EventRetention)); err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Warn("purging the handled events", "err", err)
		} else if n > 0 {
			a.log.Debug("handled events purged", "count", n)
		}
		t := clock.After(a.clock, time.Hour)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// gatewayBot asks Discord for GET /gateway/bot: the recommended shard count and the
// session start limit.
func (a *App) gatewayBot(ctx context.Context) (ddiscord.GatewayBot, error) {
	g, err := a.port.Rest().GetGatewayBot(rest.WithCtx(ctx))
	if err != nil {
		var re *rest.Error
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == http.StatusUnauthorized {
			return ddiscord.GatewayBot{}, config.ErrTokenRefused
		}
		return ddiscord.GatewayBot{}, err
	}
	return *g, nil
}

// shardMetrics reports the shards for the metrics: each one's state, latency and counts,
// and the session start budget last read.
func (a *App) shardMetrics() metrics.Shards {
	var out metrics.Shards
	for _, s := range a.shards.Statuses() {
		out.Shards = append(out.Shards, metrics.Shard{ID: s.ID, Ready: s.State == dgw.StatusReady, State: s.State.String(),
			Latency: s.Latency, Identifies: s.Stats.Identifies, Resumes: s.Stats.Resumes, Reconnects: s.Stats.Reconnects, Events: s.Events})
	}
	out.Count = a.shards.Count()
	budget, _ := a.shards.Budget()
	out.IdentifiesRemaining, out.IdentifiesTotal = budget.Remaining, budget.Total
	return out
}

// explainClose adds what to do to the close codes an operator can fix.
func explainClose(err error) error {
	var ce *gateway.CloseError
	if !errors.As(err, &ce) {
		return err
	}
	switch ce.Code {
	case gateway.CloseDisallowedIntents:
		return fmt.Errorf("%w; turn on the Server Members and Message Content intents under Bot in Discord's developer portal", err)
	case gateway.CloseAuthenticationFailed:
		return fmt.Errorf("%w; Discord refused DISCORD_TOKEN: the token is wrong, or was reset; %s", err, config.TokenHelp)
	}
	return err
}

// StopNow cancels the work in flight (commands, expiries) instead of letting it finish: a
// second interrupt during a shutdown. A command it cuts short answers that gavel is
// restarting; its case stays pending (the Discord call may have been made) and the next
// start's reconciliation settles it from what Discord shows. Close, which Run's return
// calls, then finishes at once. Safe to call at any time and more than once.
func (a *App) StopNow() {
	a.log.Warn("stopping at once: cancelling the commands in flight; their cases stay pending and are settled at the next start")
	a.cancelWork()
}

// Close stops taking commands, waits for those in flight (cancelling them after the
// shutdown timeout), then closes the Discord client, the adapter and the store. It is safe
// to call more than once; Run calls it.
func (a *App) Close() {
	a.closeOnce.Do(func() {
		a.mu.Lock()
		a.closing = true
		// The poller stops claiming; the expiries it is running finish (each bounded by its
		// lease) while the commands in flight do.
		stop, pollerDone := a.pollerStop, a.pollerDone
		modlogStop, modlogDone := a.modlogStop, a.modlogDone
		escStop, escDone := a.escStop, a.escDone
		a.mu.Unlock()
		if stop != nil {
			stop()
		}
		if escStop != nil {
			escStop()
			<-escDone
		}
		close(a.closed)

		done := make(chan struct{})
		go func() {
			a.inflight.Wait()
			if pollerDone != nil {
				<-pollerDone
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(a.shutdownTimeout):
			a.log.Warn("commands still running after the shutdown timeout: cancelling them", "timeout", a.shutdownTimeout)
			a.cancelWork()
			<-done
		}
		a.cancelWork()
		a.upkeep.Stop()
		// The mod log last: what the commands queued is delivered now or, when the worker
		// is interrupted, by the next start (the outbox keeps it).
		if modlogStop != nil {
			modlogStop()
			<-modlogDone
		}

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// Once only: disgo's bot.Client.Close deadlocks when called again.
		a.client.Close(ctx)
		a.port.Close(ctx)
		if err := a.store.Close(); err != nil {
			a.log.Warn("closing the database", "err", err)
		}
		if err := a.runLock.Release(); err != nil {
			a.log.Warn("releasing the database's run lock", "err", err)
		}
		a.log.Info("stopped")
	})
}

// registerCommands replaces the application's slash commands with the tree's, in each
// configured guild, or globally when none is configured.
func (a *App) registerCommands(ctx context.Context) error {
	defs, err := json.Marshal(a.tree.Slash())
	if err != nil {
		return fmt.Errorf("encoding the slash commands: %w", err)
	}
	guilds := a.cfg.Discord.GuildIDs()
	if len(guilds) == 0 {
		guilds = []int64{0}
	}
	for _, g := range guilds {
		registered, err := a.port.RegisterCommands(ctx, discord.GuildID(g), defs)
		if err != nil {
			where := "globally"
			if g != 0 {
				where = fmt.Sprintf("in guild %d", g)
			}
			return fmt.Errorf("registering the slash commands %s: %w", where, err)
		}
		a.log.Info("slash commands registered", "guild", g, "count", len(registered))
	}
	return nil
}

func (a *App) onReady(e *events.Ready) {
	a.startPipeline(discord.UserID(e.User.ID))
	a.log.Info("logged in", "user", e.User.Username, "id", int64(e.User.ID), "guilds", len(e.Guilds))
}

// startPipeline builds the moderation pipeline and starts what runs beside the shards'
// events (the expiry poller, the mod log, unfinished mass actions, escalation) once the
// bot's user id is known: at Run's start from GET /users/@me, so that a process whose
// shards all RESUME (no READY) or that holds no shard yet still runs them; READY calls it
// too, which changes nothing then.
func (a *App) startPipeline(id discord.UserID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.coordinator != nil {
		return
	}
	a.toolEnv.BotID = id
	a.raid.SetBot(id)
	a.lockdown.SetBot(id)
	a.coordinator = moderation.NewCoordinator(a.cat, a.cached, a.cases, a.guilds, a.exec, append([]moderation.CoordinatorOption{
		moderation.WithBotUserID(id), moderation.WithLogger(a.log), moderation.WithExpiry(a.expiry), moderation.WithCoordinatorClock(a.clock.Now),
		moderation.WithTimeoutHorizon(a.horizon), moderation.WithCaseObserver(caseMetrics{a.metrics}),
		moderation.WithDatabaseHealth(a.dbHealth), moderation.WithReconcileRequest(a.upkeep.Unsettled), moderation.WithStore(a.store),
		moderation.WithStanding(a.escalation.Standing), moderation.WithAffinity(guildAffinity{a})}, a.coOpts...)...)
	a.escRunner.SetBot(id)
	if !a.closing {
		a.startPoller(id)
		a.startModlog(id)
		a.resumeMass(a.coordinator)
		a.startEscalation()
	}
}

// whoAmI asks Discord for the bot's own user (GET /users/@me).
func (a *App) whoAmI(ctx context.Context) (discord.UserID, error) {
	me, err := a.port.Rest().GetCurrentUser("", rest.WithCtx(ctx))
	if err != nil {
		var re *rest.Error
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == http.StatusUnauthorized {
			return 0, config.ErrTokenRefused
		}
		return 0, fmt.Errorf("asking Discord who the bot is (GET /users/@me): %w", err)
	}
	return discord.UserID(me.ID), nil
}

// liftCase is cases modify -lift: the case's inverse action through the pipeline, as the
// moderator, who must be allowed that command too.
func (a *App) liftCase(ctx context.Context, call tools.Call, n int64) moderation.Result {
	a.mu.Lock()
	co := a.coordinator
	a.mu.Unlock()
	if co == nil {
		return moderation.Result{Refused: true, Reply: moderation.RefusalReply("gavel is still connecting to Discord; try again in a moment.")}
	}
	permit := func(ctx context.Context, command string) (bool, string, error) {
		g, err := a.cached.Guild(ctx, call.GuildID)
		if err != nil {
			return false, "", fmt.Errorf("reading the server for a permission check: %w", err)
		}
		d, err := a.toolEnv.Perms.Check(ctx, permissions.Subject{GuildID: call.GuildID, GuildOwnerID: g.OwnerID, UserID: call.User.ID,
			RoleIDs: call.Roles, NativePermissions: permissions.Permission(g.MemberPermissions(call.User.ID, call.Roles)), Command: command})
		if err != nil {
			return false, "", err
		}
		return d.Allowed, d.Reason, nil
	}
	return co.LiftCase(ctx, moderation.LiftRequest{GuildID: call.GuildID, Moderator: call.User, ModeratorRoles: call.Roles, Number: n, Permit: permit})
}

// caseMetrics counts the cases the pipeline settles.
type caseMetrics struct{ m *metrics.Metrics }

func (c caseMetrics) CaseSettled(path string, t cases.Type, st cases.Status) {
	c.m.CaseSettled(path, string(t), string(st))
}

// expiryHandlers hands each scheduled action to what runs its kind: a raid's check to raid
// defence, the rest (the ends of cases) to the moderation pipeline.
type expiryHandlers struct {
	cases    expiry.Handler
	raid     expiry.Handler
	lockdown expiry.Handler
}

func (h expiryHandlers) pick(k expiry.Kind) expiry.Handler {
	switch k {
	case expiry.RaidCheck:
		return h.raid
	case expiry.LockdownCheck:
		return h.lockdown
	}
	return h.cases
}

// lockdownPort is what a lockdown asks of Discord: the guild state's cached guild and
// members with the live channels, and the guild's incident actions.
type lockdownPort struct {
	discord.Port
	safety discord.GuildSafety
}

func (p lockdownPort) GuildSafety(ctx context.Context, g discord.GuildID) (discord.Safety, error) {
	return p.safety.GuildSafety(ctx, g)
}

func (p lockdownPort) SetIncidentActions(ctx context.Context, g discord.GuildID, invitesUntil, dmsUntil time.Time, reason string) (discord.Safety, error) {
	return p.safety.SetIncidentActions(ctx, g, invitesUntil, dmsUntil, reason)
}

func (p lockdownPort) SetVerificationLevel(ctx context.Context, g discord.GuildID, level int, reason string) error {
	return p.safety.SetVerificationLevel(ctx, g, level, reason)
}

func (h expiryHandlers) Run(ctx context.Context, cl expiry.Claim) error {
	return h.pick(cl.Kind).Run(ctx, cl)
}

func (h expiryHandlers) GaveUp(ctx context.Context, a expiry.Action, cause string) {
	h.pick(a.Kind).GaveUp(ctx, a, cause)
}

// expiryMetrics tells the metrics how scheduled actions end.
type expiryMetrics struct{ m *metrics.Metrics }

func (e expiryMetrics) ExpiryFinished(kind expiry.Kind, outcome expiry.Outcome, late time.Duration) {
	e.m.ExpiryFinished(string(kind), string(outcome), late)
}

func (e expiryMetrics) ExpiryRetried(kind expiry.Kind) { e.m.ExpiryRetried(string(kind)) }

// startPoller starts the expiry poller once the bot's user id (the lift cases' moderator)
// is known. a.mu is held.
func (a *App) startPoller(botID discord.UserID) {
	cfg := a.expiryCfg
	cfg.Actor = botID
	p := expiry.NewPoller(a.expiry, expiryHandlers{cases: a.coordinator.Expiries(), raid: a.raid, lockdown: a.lockdown}, cfg, a.log)
	ctx, stop := context.WithCancel(a.work)
	a.pollerStop, a.pollerDone = stop, make(chan struct{})
	a.log.Info("expiry poller started", "settings", p.Config().String())
	go func() {
		defer close(a.pollerDone)
		if err := p.Serve(ctx, a.work); err != nil {
			a.log.Error("expiry poller stopped", "err", err)
		}
	}()
}

// resumeMass continues, as work in flight, the mass actions an earlier run left unfinished
// (moderation.ResumeMass): their parent cases' mod-log messages get the outcome. a.mu is held.
func (a *App) resumeMass(co *moderation.Coordinator) {
	a.inflight.Add(1)
	go func() {
		defer a.inflight.Done()
		res, err := co.ResumeMass(a.work)
		if err != nil {
			a.log.Error("continuing unfinished mass actions", "err", err)
		}
		for _, r := range res {
			if r.Parent != nil {
				a.log.Info("mass action continued after a restart", "guild", r.Parent.GuildID, "case", r.Parent.Number,
					"done", r.Progress.Done, "failed", r.Progress.Failed, "listed", r.Progress.Listed, "interrupted", r.Interrupted)
				if a.raid != nil {
					if err := a.raid.RecordResumed(a.work, r); err != nil {
						a.log.Warn("recording a continued mass action in its raid", "case", r.Parent.Number, "err", err)
					}
				}
			}
		}
	}()
}

// startEscalation runs, once the pipeline exists, what escalation does on its own: the
// firings an earlier run left, then its schedule (re-arming thresholds as points stop
// counting, expiring approval requests after a day). a.mu is held.
func (a *App) startEscalation() {
	ctx, stop := context.WithCancel(a.work)
	a.escStop, a.escDone = stop, make(chan struct{})
	go func() {
		defer close(a.escDone)
		a.escRunner.Resume(ctx)
		// Within a minute of what another process scheduled; its own wake-ups are exact.
		a.escRunner.Serve(ctx, a.clock, time.Minute, nil)
	}()
}

// decideEscalation approves or denies a pending escalation as the caller (escalation
// approve|deny and the mod log's buttons): an approval runs the action through the pipeline.
func (a *App) decideEscalation(ctx context.Context, call tools.Call, id int64, approve bool) (string, bool, error) {
	a.mu.Lock()
	co := a.coordinator
	a.mu.Unlock()
	if co == nil {
		return "gavel is still connecting to Discord; try again in a moment.", false, errors.New("no pipeline yet")
	}
	_, text, err := a.escRunner.Decide(ctx, co, id, call.User, approve)
	if errors.Is(err, escalation.ErrMoved) {
		return text, false, err
	}
	if err != nil {
		return text, false, err
	}
	return text, true, nil
}

// startModlog starts the mod log's worker once the bot's user id (the actor of the links it
// records) is known; it first delivers what an earlier run left. a.mu is held.
func (a *App) startModlog(botID discord.UserID) {
	ctx, stop := context.WithCancel(context.WithoutCancel(a.work))
	a.modlogStop, a.modlogDone = stop, make(chan struct{})
	go func() {
		defer close(a.modlogDone)
		if err := a.modlog.Run(ctx, a.cached, botID); err != nil {
			a.log.Error("mod log stopped", "err", err)
		}
	}()
}

// openStore opens the configured database, refuses one it cannot write, and brings its
// schema up to date: what gavel run and gavel web each do before anything else.
//
// before, when given, runs once the database is known to be writable and before it is
// migrated (gavel run takes its SQLite run lock there).
func openStore(ctx context.Context, cfg config.Config, logger *slog.Logger, before ...func(*store.Store) error) (*store.Store, error) {
	st, err := store.OpenURL(ctx, cfg.Database.URL, store.Options{MaxOpenConns: cfg.Database.MaxOpenConns})
	if err != nil {
		return nil, err
	}
	// A database that cannot be written would let gavel start and then fail every
	// command (and every expiry poll): stop here, saying why.
	if err := st.CheckWritable(ctx); err != nil {
		st.Close()
		return nil, err
	}
	for _, f := range before {
		if err := f(st); err != nil {
			st.Close()
			return nil, err
		}
	}
	applied, err := st.MigrateUp(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	logger.Info("database ready", "database", st.Location.Redacted, "engine", st.Engine(), "migrations_applied", len(applied))
	return st, nil
}
