// Package upkeep is what gavel does on its own when a guild changes, beside the commands:
// it records actions taken outside gavel (seen in the audit log) as cases, re-jails a member
// who left while jailed, denies the jail role on new channels, deletes the polls of
// poll-banned members, and settles the pending cases
// a crash left behind when a guild becomes available (and comes back for the younger ones).
//
// It takes these events already translated (the router reads them from the gateway), so it
// knows nothing of disgo. Each runs on its own goroutine, counted among the work in flight,
// so the gateway is never held up and a shutdown lets it finish.
package upkeep

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/polls"
	"github.com/gavelbot/gavel/internal/store"
)

// EventTimeout bounds the work one event causes.
const EventTimeout = time.Minute

// Work is the process's work in flight, as the app keeps it.
type Work interface {
	// Begin reserves a place among the work in flight, and returns the moderation
	// pipeline; false once the process is closing, and before READY has built the pipeline.
	Begin() (*moderation.Coordinator, bool)
	// End releases the place Begin reserved.
	End()
	// Context is the context work in flight runs in; it outlives a shutdown's start.
	Context() context.Context
}

// Guilds records that gavel serves a guild.
type Guilds interface {
	GuildJoined(ctx context.Context, guildID discord.GuildID, at time.Time) error
}

// Config is what upkeep needs.
type Config struct {
	Work   Work
	Guilds Guilds
	// Polls deletes the polls of poll-banned members; nil: polls are left alone.
	Polls *polls.Enforcer
	Log   *slog.Logger
	// RejailRecheck is how long after re-jailing a rejoining member gavel looks again, for
	// the roles other bots give on join a few seconds late.
	RejailRecheck time.Duration
	// ReconcileAge is how old a pending case must be before reconciliation settles it.
	ReconcileAge time.Duration
	// ReconcileTimeout bounds one guild's reconciliation.
	ReconcileTimeout time.Duration
	// Clock is what the later looks and the reconciliation rechecks wait on, the clock the
	// pipeline judges a pending case's age by (nil: the system's).
	Clock clock.Clock
	// Affinity keeps each guild's upkeep to the process that owns the guild's shard (the
	// shard leases, store.Enter); nil: every guild is this process's.
	Affinity store.Affinity
	// Handled, when set, is told about each event once upkeep is done with it, whatever came
	// of it. The events run on goroutines of their own, so this is the ordered event a test
	// waits for instead of sleeping (a guild's audit-log entries are handled in the order
	// they arrived: the last one handled means every earlier one was).
	Handled func(Handled)
}

// Kind names the event a Handled reports.
type Kind string

// The events upkeep tells Config.Handled about.
const (
	KindExternalAction Kind = "external_action"
	KindMemberJoined   Kind = "member_joined"
	KindChannelCreated Kind = "channel_created"
	KindPoll           Kind = "poll"
)

// Handled is an event upkeep is done with.
type Handled struct {
	Kind    Kind
	GuildID discord.GuildID
	// EntryID is the audit-log entry of an external action (0 for the other kinds).
	EntryID int64
	// Poll is what was done with a poll (KindPoll only).
	Poll polls.Outcome
}

// handled tells Config.Handled, when set, that upkeep is done with h.
func (u *Upkeep) handled(h Handled) {
	if u.cfg.Handled != nil {
		u.cfg.Handled(h)
	}
}

// Upkeep runs the events; Stop cancels the ones waiting for later.
type Upkeep struct {
	cfg Config

	// audit runs each guild's audit-log entries one at a time, in the order they arrived,
	// so that a ban and the unban just after it are numbered in that order.
	audit queues

	mu      sync.Mutex
	stopped bool
	// later are the stops of the later looks (re-jail's second look); recon the stop of
	// the next reconciliation of each guild, so that a guild that becomes available again (a
	// reconnect) does not start a second one.
	later map[*waiting]struct{}
	recon map[int64]*waiting
}

// New returns the upkeep of cfg.
func New(cfg Config) *Upkeep {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.Clock = clock.OrSystem(cfg.Clock)
	return &Upkeep{cfg: cfg, later: map[*waiting]struct{}{}, recon: map[int64]*waiting{}}
}

// background runs fn as work in flight on guildID, with a deadline; it does nothing while
// the process is closing or before READY, nor when this process does not own the guild's
// shard (Config.Affinity), and fn's context ends if the shard is lost meanwhile.
func (u *Upkeep) background(guildID discord.GuildID, timeout time.Duration, fn func(ctx context.Context, co *moderation.Coordinator)) {
	co, ok := u.cfg.Work.Begin()
	if !ok {
		return
	}
	go func() {
		defer u.cfg.Work.End()
		ctx, cancel := context.WithTimeout(u.cfg.Work.Context(), timeout)
		defer cancel()
		held, done, ok := u.enter(ctx, guildID)
		if !ok {
			return
		}
		defer done()
		fn(held, co)
	}()
}

// enter starts work on guildID under the shard leases (store.Enter).
func (u *Upkeep) enter(ctx context.Context, guildID discord.GuildID) (context.Context, func(), bool) {
	held, done, ok := store.Enter(ctx, u.cfg.Affinity, int64(guildID))
	if !ok {
		u.cfg.Log.Info("upkeep: not this process's guild any more (its shard moved); left to its owner", "guild", guildID)
	}
	return held, done, ok
}

// waiting is fn waiting for its instant on the clock; stop cancels it.
type waiting struct {
	once sync.Once
	done chan struct{}
}

// at runs fn when the clock reaches when, on a goroutine of its own, unless stopped first.
func (u *Upkeep) at(when time.Time, fn func(w *waiting)) *waiting {
	w := &waiting{done: make(chan struct{})}
	t := u.cfg.Clock.TimerAt(when)
	go func() {
		defer t.Stop()
		select {
		case <-t.C():
			fn(w)
		case <-w.done:
		}
	}()
	return w
}

func (w *waiting) stop() { w.once.Do(func() { close(w.done) }) }

// after runs fn after d, unless Stop comes first.
func (u *Upkeep) after(d time.Duration, fn func()) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stopped {
		return
	}
	w := u.at(u.cfg.Clock.Now().Add(d), func(w *waiting) {
		u.mu.Lock()
		_, live := u.later[w]
		delete(u.later, w)
		u.mu.Unlock()
		if live {
			fn()
		}
	})
	u.later[w] = struct{}{}
}

// Stop cancels every wait: the later looks and the reconciliation rechecks.
func (u *Upkeep) Stop() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.stopped = true
	for w := range u.later {
		w.stop()
	}
	clear(u.later)
	for g, w := range u.recon {
		w.stop()
		delete(u.recon, g)
	}
}

// ExternalAction turns a ban, unban, kick or timeout done outside gavel into a case.
func (u *Upkeep) ExternalAction(ext moderation.External) {
	co, ok := u.cfg.Work.Begin()
	if !ok {
		return
	}
	u.audit.push(int64(ext.GuildID), func() {
		defer u.cfg.Work.End()
		defer u.handled(Handled{Kind: KindExternalAction, GuildID: ext.GuildID, EntryID: ext.EntryID})
		ctx, cancel := context.WithTimeout(u.cfg.Work.Context(), EventTimeout)
		defer cancel()
		ctx, done, ok := u.enter(ctx, ext.GuildID)
		if !ok {
			return
		}
		defer done()
		c, recorded, err := co.RecordExternal(ctx, ext)
		if err == nil && !recorded {
			return // gavel's own action, or not mirrored: nothing to log
		}
		log := u.cfg.Log.With("guild", ext.GuildID, "entry", ext.EntryID, "type", ext.Type, "user", ext.UserID, "moderator", ext.ModeratorID)
		switch {
		case err != nil:
			log.Error("an action taken outside gavel was not recorded", "err", err)
		case recorded:
			log.Info("action taken outside gavel recorded", "case", c.Number)
		}
	})
}

// MemberJoined bans a member on the guild's ban-on-join list, times out one whose account
// is younger than the account-age gate, and puts a member who left while jailed back in
// jail.
func (u *Upkeep) MemberJoined(guildID discord.GuildID, userID discord.UserID) {
	u.background(guildID, EventTimeout, func(ctx context.Context, co *moderation.Coordinator) {
		defer u.handled(Handled{Kind: KindMemberJoined, GuildID: guildID})
		if res, listed, err := co.BanOnSight(ctx, guildID, userID); err != nil {
			u.cfg.Log.Error("ban on join", "guild", guildID, "user", userID, "err", err)
		} else if listed {
			if res.Case != nil {
				u.cfg.Log.Info("banned on joining (ban-on-join list)", "guild", guildID, "user", userID, "case", res.Case.Number, "status", res.Case.Status)
			} else {
				u.cfg.Log.Warn("a user on the ban-on-join list joined and was not banned", "guild", guildID, "user", userID, "reply", res.Reply.Content)
			}
			return
		}
		if res, gated, err := co.GateAccountAge(ctx, guildID, userID); err != nil {
			u.cfg.Log.Error("account-age gate", "guild", guildID, "user", userID, "err", err)
		} else if gated && res.Case != nil {
			u.cfg.Log.Info("account-age gate timed a new member out", "guild", guildID, "user", userID, "case", res.Case.Number, "status", res.Case.Status)
		}
		r, err := co.Rejail(ctx, guildID, userID)
		if err != nil {
			u.cfg.Log.Error("re-jail on rejoin", "guild", guildID, "user", userID, "err", err)
			return
		}
		if !r.Done {
			return
		}
		u.cfg.Log.Info("re-jailed on rejoin", "guild", guildID, "user", userID, "case", r.Case.Number, "roles_taken", len(r.Taken))
		// Other bots give roles on join a few seconds late: look again then.
		u.after(u.cfg.RejailRecheck, func() {
			u.background(guildID, EventTimeout, func(ctx context.Context, co *moderation.Coordinator) {
				r, err := co.Rejail(ctx, guildID, userID)
				switch {
				case err != nil:
					u.cfg.Log.Error("re-jail on rejoin, second look", "guild", guildID, "user", userID, "err", err)
				case r.Done:
					u.cfg.Log.Info("roles given after a rejoin taken from a jailed member", "guild", guildID, "user", userID, "roles_taken", len(r.Taken))
				}
			})
		})
	})
}

// ChannelCreated denies the jail role on a new channel.
func (u *Upkeep) ChannelCreated(guildID discord.GuildID, channelID discord.ChannelID, name string) {
	u.background(guildID, EventTimeout, func(ctx context.Context, co *moderation.Coordinator) {
		defer u.handled(Handled{Kind: KindChannelCreated, GuildID: guildID})
		done, err := co.DenyJailRole(ctx, guildID, channelID, name)
		if err != nil {
			u.cfg.Log.Warn("jail role not denied on a new channel", "guild", guildID, "channel", channelID, "err", err)
			return
		}
		if done {
			u.cfg.Log.Info("jail role denied on a new channel", "guild", guildID, "channel", channelID)
		}
	})
}

// PollPosted deletes a poll whose author is poll-banned (see package polls); actor is
// gavel's own user, who the case's history row names.
func (u *Upkeep) PollPosted(actor discord.UserID, p polls.Poll) {
	if u.cfg.Polls == nil {
		return
	}
	u.background(p.GuildID, EventTimeout, func(ctx context.Context, _ *moderation.Coordinator) {
		res, err := u.cfg.Polls.Enforce(ctx, actor, p)
		defer u.handled(Handled{Kind: KindPoll, GuildID: p.GuildID, Poll: res.Outcome})
		switch {
		case err != nil:
			u.cfg.Log.Error("enforcing a poll ban", "guild", p.GuildID, "user", p.Author.ID, "message", p.MessageID, "err", err)
		case res.Outcome != polls.Allowed:
			u.cfg.Log.Info("poll of a poll-banned member", "guild", p.GuildID, "user", p.Author.ID, "case", res.Case.Number,
				"outcome", res.Outcome, "told", res.Notified)
		}
	})
}

// GuildAvailable records that gavel serves the guild and settles its pending cases.
func (u *Upkeep) GuildAvailable(guildID discord.GuildID, name string) {
	u.cfg.Log.Info("serving guild", "id", guildID, "name", name)
	ctx, cancel := context.WithTimeout(u.cfg.Work.Context(), 10*time.Second)
	defer cancel()
	if err := u.cfg.Guilds.GuildJoined(ctx, guildID, u.cfg.Clock.Now()); err != nil {
		// A shutdown that cuts the write short is no fault: the next start records the
		// guild again when Discord announces it.
		if u.cfg.Work.Context().Err() == nil {
			u.cfg.Log.Warn("recording the guild", "guild", guildID, "err", err)
		}
	}
	u.reconcile(guildID)
}

// Unsettled is told of a case the pipeline left pending because its action's outcome is
// unknown (no answer from Discord, a cancelled command): the guild is reconciled, which
// comes back for the case once it is old enough (ReconcileAge) to be sure no action is still
// running on it.
func (u *Upkeep) Unsettled(guildID discord.GuildID) { u.reconcile(guildID) }

// reconcile settles the guild's pending cases old enough to have been left by a crash, and
// comes back for the younger ones once they are old enough.
func (u *Upkeep) reconcile(guildID discord.GuildID) {
	u.mu.Lock()
	if w, ok := u.recon[int64(guildID)]; ok {
		w.stop()
		delete(u.recon, int64(guildID))
	}
	u.mu.Unlock()
	u.background(guildID, u.cfg.ReconcileTimeout, func(ctx context.Context, co *moderation.Coordinator) {
		r, err := co.Reconcile(ctx, guildID, u.cfg.ReconcileAge)
		if err != nil {
			u.cfg.Log.Error("reconciling pending cases", "guild", guildID, "err", err)
			r.RecheckAt = u.cfg.Clock.Now().Add(max(u.cfg.ReconcileAge, 30*time.Second))
		}
		if r.Activated+r.Voided > 0 {
			u.cfg.Log.Info("pending cases reconciled", "guild", guildID, "activated", r.Activated, "voided", r.Voided)
		}
		if r.RecheckAt.IsZero() {
			return
		}
		u.mu.Lock()
		defer u.mu.Unlock()
		if u.stopped {
			return
		}
		if _, ok := u.recon[int64(guildID)]; !ok {
			u.recon[int64(guildID)] = u.at(r.RecheckAt, func(w *waiting) {
				u.mu.Lock()
				live := u.recon[int64(guildID)] == w
				if live {
					delete(u.recon, int64(guildID))
				}
				u.mu.Unlock()
				if live {
					u.reconcile(guildID)
				}
			})
		}
	})
}

// queues run functions one at a time per key, in the order given, each key on its own
// goroutine while it has work.
type queues struct {
	mu      sync.Mutex
	pending map[int64][]func()
}

func (q *queues) push(key int64, fn func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pending == nil {
		q.pending = map[int64][]func(){}
	}
	list, running := q.pending[key]
	q.pending[key] = append(list, fn)
	if !running {
		go q.drain(key)
	}
}

func (q *queues) drain(key int64) {
	for {
		q.mu.Lock()
		list := q.pending[key]
		if len(list) == 0 {
			delete(q.pending, key)
			q.mu.Unlock()
			return
		}
		fn := list[0]
		q.pending[key] = list[1:]
		q.mu.Unlock()
		fn()
	}
}
