package app

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/disgoport"
	"github.com/gavelbot/gavel/internal/discord/shards"
	"github.com/gavelbot/gavel/internal/leases"
	"github.com/gavelbot/gavel/internal/store"
)

// restBudget is what the processes holding shard leases split between them by default:
// Discord's global 50 requests a second per bot token, less a tenth of headroom for the
// moment a process joins and the shares have not moved yet.
const restBudget = 45

// newLeases returns the shard-lease provider of a process that takes its shards from the
// database (discord.shards = "auto" on PostgreSQL), or nil. Its shards limit the expiries
// this process claims (expiry.WithShards: until it runs, every guild's), and the number of
// processes holding leases sets this process's REST share.
func (a *App) newLeases(cfg config.Config, st *store.Store, lim *disgoport.Limiter, opts []func(*leases.Config)) *leases.Provider {
	if cfg.Discord.Shards != shards.Auto || !st.Shared() {
		return nil
	}
	lc := leases.Config{Store: st, Clock: a.clock, Log: a.log, Renew: cfg.Discord.LeaseRenewEvery(), TTL: cfg.Discord.LeaseTTLDuration()}
	if cfg.Discord.RESTShare == 0 {
		lc.Live = func(processes int) { lim.SetGlobalLimit(max(restBudget/max(processes, 1), 1)) }
	}
	for _, o := range opts {
		o(&lc)
	}
	// The expiries this process claims are its shards' guilds': when they change, the
	// poller looks again at once rather than at its next poll.
	owned, taken := lc.Owned, a.shardsTaken()
	lc.Owned = func(count int, ids []int) {
		if owned != nil {
			owned(count, ids)
		}
		a.expiry.Wake()
		taken(count, ids)
	}
	p := leases.New(lc)
	a.log.Info("shard leases: this process takes its shards from the database", "owner", p.Owner())
	a.metrics.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gavel_shard_leases_held", Help: "Shards whose lease this process holds (discord.shards = \"auto\")."},
			func() float64 { _, ids := p.Shards(); return float64(len(ids)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gavel_shard_processes", Help: "Processes holding shard leases, as this process counted them at its last renewal."},
			func() float64 { return float64(p.Live()) }),
	)
	return p
}

// shareGlobalLimit paces this process at its explicit share (discord.rest_share) and, on
// PostgreSQL, shares global 429s with the bot's other processes (leases.ShareRateLimits).
func (a *App) shareGlobalLimit(cfg config.Config, st *store.Store, lim *disgoport.Limiter) {
	if n := cfg.Discord.RESTShare; n > 0 {
		lim.SetGlobalLimit(n)
	}
	a.metrics.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gavel_rest_share",
		Help: "REST requests a second this process keeps to, of the bot's global limit (0: not paced)."},
		func() float64 { return float64(lim.GlobalLimit()) }))
	leases.ShareRateLimits(st, lim, a.log)
}

// Leases returns the shard-lease provider (discord.shards = "auto" on PostgreSQL), nil
// when the process's shards are not leased: the shard manager runs it.
func (a *App) Leases() *leases.Provider { return a.leases }

// leasedShards is the shard filter of the expiries: with an explicit shard list
// (discord.shards = "0-3"), the guilds of those shards, none before the shard count is
// known; with leases, the guilds of the shards held, none before the leases run; every
// guild's (count 0) for a process that runs every shard by itself ("auto" without leases:
// SQLite) and for a test's provider.
func (a *App) leasedShards() (count int, ids []int) {
	if a.leasesIdle {
		return 0, nil
	}
	if a.leases == nil {
		ids := a.cfg.Discord.ShardIDs()
		if ids == nil || a.shards == nil {
			return 0, nil
		}
		if count = a.shards.Count(); count == 0 {
			return 1, nil // the count is not known yet: no guild is this process's
		}
		return count, ids
	}
	count, ids = a.leases.Shards()
	if count == 0 {
		return 1, nil // no lease taken yet: no guild is this process's
	}
	return count, ids
}

// leaseGuard fences expiry runs to the shard leases (expiry.Guard).
type leaseGuard struct{ a *App }

func (g leaseGuard) Hold(ctx context.Context, guildID discord.GuildID) (context.Context, func(*store.Tx) error, func(), bool) {
	if g.a.leases == nil || g.a.leasesIdle {
		return ctx, nil, func() {}, true
	}
	return g.a.leases.Hold(ctx, uint64(guildID))
}

// guildAffinity keeps the work on a guild that a gateway event starts (commands, jail
// keeping, the audit log's mirrored actions, AutoMod's punishments) to the shard leases,
// as leaseGuard does the expiries (store.Affinity): it runs only while this process holds
// the guild's shard, is cancelled when the shard is lost or handed back, and its writes
// are refused once the lease it began under is gone.
type guildAffinity struct{ a *App }

func (g guildAffinity) Hold(ctx context.Context, guildID int64) (context.Context, func(*store.Tx) error, func(), bool) {
	return leaseGuard(g).Hold(ctx, discord.GuildID(guildID))
}

// pendingEvents holds the gateway events of commands in flight (shards.Manager.Hold), so
// that a shard's saved session resumes from before them. The manager is built after the
// router, and before any event comes.
type pendingEvents struct{ a *App }

func (p pendingEvents) Hold(shardID, seq int) (release func()) {
	if p.a.shards == nil {
		return func() {}
	}
	return p.a.shards.Hold(shardID, seq)
}

// shardsTaken returns the leases' Owned hook: when the shards this process holds change
// (one taken, or a lease renewed after its work had been stopped as it ran late), the
// background work of their guilds that was left (by their previous owner, or by this
// process's stopped work) is picked up here, each piece only for the guilds this process
// owns: the mass actions left running (moderation.ResumeMass, which continues only those
// no run holds) and the escalation's re-arming of thresholds whose points stopped counting
// meanwhile (escalation.Runner.Rewind). Called on the leases' loop: it only starts work.
func (a *App) shardsTaken() func(count int, ids []int) {
	return func(count int, ids []int) {
		if len(ids) == 0 {
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.coordinator == nil || a.closing {
			return // startPipeline resumes them once the pipeline exists
		}
		a.resumeMass(a.coordinator)
		a.escRunner.Rewind()
	}
}
