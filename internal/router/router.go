// Package router is where gateway events come in. It translates them from disgo's types
// (MESSAGE_CREATE comes as the gateway's own gateway.MessageCreate) and dispatches them: every command — a prefix command in a message, a slash command, a
// click on one of gavel's buttons, an autocomplete — through one dispatcher, with the
// permission check as the same middleware on every route; the guild changes to the guild
// state; and the events gavel acts on by itself (the audit log, members joining, new
// channels, guilds becoming available) to package upkeep, and AutoMod's events (executions,
// messages, rule changes) to AutoMod's enforcer.
package router

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/disgoorg/disgo/bot"
	"github.com/disgoorg/disgo/events"

	"github.com/gavelbot/gavel/internal/automod/enforcer"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/guildstate"
	"github.com/gavelbot/gavel/internal/metrics"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/tools"
	"github.com/gavelbot/gavel/internal/upkeep"
)

// Work is the process's work in flight, as the app keeps it: commands run inside it, so
// that a shutdown lets them finish.
type Work interface {
	upkeep.Work
	// Hold keeps a place among the work in flight for work a command in flight starts (the
	// wait before a transient reply is deleted), even once closing; the returned function
	// releases it.
	Hold() (release func())
	// Closing is closed when the process starts closing.
	Closing() <-chan struct{}
}

// Discord is what the router asks of Discord: the guild for the permission check, and
// replies, to messages and to interactions.
type Discord interface {
	discord.Guilds
	discord.Messages
	discord.Interactions
}

// Config is what the router dispatches to.
type Config struct {
	Log  *slog.Logger
	Work Work
	// Port answers the commands (replies, interaction responses) and reads the guild for
	// the permission check.
	Port     Discord
	State    *guildstate.State
	Settings *settings.Service
	Perms    *permissions.Service
	// Health follows the database's reachability (store.Health): the router's own reads
	// (settings, the permission check) report to it, as the pipeline's do.
	Health  *store.Health
	Metrics *metrics.Metrics
	// Events records the command events handled, so that a replayed one is handled once;
	// nil handles every event it is given.
	Events Events
	// Tree is every command; Tools runs the ones that are not moderation actions.
	Tree   *commands.Tree
	Tools  *tools.Set
	Upkeep *upkeep.Upkeep
	// AutoMod enforces AutoMod: Discord's executions become cases, messages are checked
	// against gavel-enforced rules, rule changes are reported.
	AutoMod *enforcer.Enforcer
	// Raid is raid defence: it hears every arrival and Discord's raid signal; nil for none.
	Raid RaidEvents
	// Ready is told when a session starts, with gavel's own user (after the guild state
	// has been reset for it).
	Ready func(e *events.Ready)
	// Affinity keeps each command to the process that owns its guild's shard (the shard
	// leases): a command of a guild this process does not own is dropped, one whose shard
	// is lost while it runs is cancelled, and its writes are fenced (store.Enter). nil:
	// every guild is this process's.
	Affinity store.Affinity
	// Pending keeps a command's gateway event unfinished until the command has recorded it
	// (shards.Manager.Hold), so that the session saved for the shard's next owner resumes
	// from before it: a command cut short by a lost lease is replayed there. nil: events are
	// not held.
	Pending Pending
	// CommandTimeout bounds one command, from the event to the reply.
	CommandTimeout time.Duration
	// TransientDelay is how long a transient prefix reply (purge's confirmation) stays,
	// on Clock (nil: the system's).
	TransientDelay time.Duration
	Clock          clock.Clock
}

// Pending holds gateway events whose work outlives their handler (shards.Manager).
type Pending interface {
	Hold(shardID, seq int) (release func())
}

// Router dispatches gateway events.
type Router struct {
	cfg Config
	log *slog.Logger
	// hush keeps gavel quiet, for a while, to members without standing who were refused.
	hush *hush
}

// New returns the router of cfg.
func New(cfg Config) *Router {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.Clock = clock.OrSystem(cfg.Clock)
	return &Router{cfg: cfg, log: cfg.Log, hush: newHush(cfg.Clock, RefusalQuiet)}
}

// Listeners are the router's event listeners, for the disgo client. disgo runs listeners on
// the goroutine that reads the gateway, in the order of the events and, for one event, in
// the order given here: the guild state takes a change before any command that follows it
// is dispatched (package guildstate depends on that order).
func (rt *Router) Listeners() []bot.ConfigOpt {
	guild := func(id uint64, name string) {
		rt.cfg.Upkeep.GuildAvailable(discord.GuildID(id), name)
	}
	return append(append(stateListeners(rt.cfg.State),
		bot.WithEventListenerFunc(func(e *events.Ready) {
			if rt.cfg.Ready != nil {
				rt.cfg.Ready(e)
			}
		}),
		bot.WithEventListenerFunc(func(e *events.GuildReady) { guild(uint64(e.Guild.ID), e.Guild.Name) }),
		bot.WithEventListenerFunc(func(e *events.GuildAvailable) { guild(uint64(e.Guild.ID), e.Guild.Name) }),
		bot.WithEventListenerFunc(func(e *events.GuildJoin) { guild(uint64(e.Guild.ID), e.Guild.Name) }),
		bot.WithEventListenerFunc(rt.onMessage),
		bot.WithEventListenerFunc(rt.onPoll),
		bot.WithEventListenerFunc(rt.onSlashCommand),
		bot.WithEventListenerFunc(rt.onComponent),
		bot.WithEventListenerFunc(rt.onAutocomplete),
		bot.WithEventListenerFunc(rt.onAuditLogEntry),
		bot.WithEventListenerFunc(rt.onMemberJoin),
		bot.WithEventListenerFunc(rt.onChannelCreate),
	), append(rt.autoModListeners(), rt.raidListeners()...)...)
}

// begin reserves a place among the work in flight for a command.
func (rt *Router) begin() (*moderation.Coordinator, bool) { return rt.cfg.Work.Begin() }

func (rt *Router) end() { rt.cfg.Work.End() }

// hold keeps a command's gateway event unfinished (Config.Pending) from its handler until
// the command has recorded it (leave) or returned. Call it on the gateway's goroutine,
// before the command's own goroutine starts.
func (rt *Router) hold(e interface {
	ShardID() int
	SequenceNumber() int
}) (release func()) {
	if rt.cfg.Pending == nil {
		return func() {}
	}
	return rt.cfg.Pending.Hold(e.ShardID(), e.SequenceNumber())
}

// enter starts a command's work on guildID under the shard leases (Config.Affinity): ok is
// false when this process does not own the guild (the command is dropped: the guild's
// owner has the event, or gets it replayed when it resumes the shard's session). release
// ends the hold of the command's event (hold): with the work's, at leave or when done is
// called.
func (rt *Router) enter(ctx context.Context, guildID int64, what string, release func()) (context.Context, func(), bool) {
	held, leaveShard, ok := store.Enter(ctx, rt.cfg.Affinity, guildID)
	if !ok {
		release()
		rt.log.Info("dropping a command of a guild whose shard this process no longer holds", "guild", guildID, "event", what)
		return nil, nil, false
	}
	done := sync.OnceFunc(func() { leaveShard(); release() })
	return context.WithValue(held, leaveKey{}, done), done, true
}

type leaveKey struct{}

// leave ends a command's hold on its guild's shard and on its gateway event (enter) once its
// work is done, its event recorded, and only its answer is left: a shard handed back waits
// for the work holding it, and an answer that waits out Discord's rate limits (up to a
// minute) must not hold a rolling restart, nor keep the saved session from moving on.
func leave(ctx context.Context) {
	if f, ok := ctx.Value(leaveKey{}).(func()); ok {
		f()
	}
}

// moved says whether a command stopped because its guild's shard moved to another
// process (its context was cancelled by the lease, or a write was fenced).
func moved(ctx context.Context, err error) bool {
	return errors.Is(err, store.ErrFenced) || errors.Is(context.Cause(ctx), store.ErrFenced)
}

// commandContext is the context of one command, bounded by the command timeout.
func (rt *Router) commandContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(rt.cfg.Work.Context(), timeout)
}
