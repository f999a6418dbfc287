package app

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	ddiscord "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/events"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/moderation"
)

// The gateway events gavel acts on by itself, beyond commands: actions taken outside gavel
// (the audit log), members rejoining while jailed, new channels, and a guild becoming
// available (start-up reconciliation). Each runs on its own goroutine, counted among the
// work in flight, so the gateway is never held up and a shutdown lets it finish.

// eventTimeout bounds the work one event causes.
const eventTimeout = time.Minute

// background runs fn as work in flight, with a deadline; it does nothing while the App is
// closing or before READY.
func (a *App) background(timeout time.Duration, fn func(ctx context.Context, co *moderation.Coordinator)) {
	co, ok := a.begin()
	if !ok {
		return
	}
	go func() {
		defer a.end()
		ctx, cancel := context.WithTimeout(a.work, timeout)
		defer cancel()
		fn(ctx, co)
	}()
}

// eventState is what the event handlers keep between events.
type eventState struct {
	// audit runs each guild's audit-log entries one at a time, in the order they arrived,
	// so that a ban and the unban just after it are numbered in that order.
	audit queues
	recon reconcileTimers

	mu      sync.Mutex
	stopped bool
	timers  map[*time.Timer]struct{}
}

// after runs fn after d, unless the App closes first.
func (s *eventState) after(d time.Duration, fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	if s.timers == nil {
		s.timers = map[*time.Timer]struct{}{}
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		s.mu.Lock()
		delete(s.timers, t)
		s.mu.Unlock()
		fn()
	})
	s.timers[t] = struct{}{}
}

// stop cancels every timer: the later looks and the reconciliation rechecks.
func (s *eventState) stop() {
	s.mu.Lock()
	s.stopped = true
	for t := range s.timers {
		t.Stop()
	}
	s.timers = nil
	s.mu.Unlock()
	s.recon.mu.Lock()
	for g, t := range s.recon.timers {
		t.Stop()
		delete(s.recon.timers, g)
	}
	s.recon.mu.Unlock()
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

// onAuditLogEntry turns a ban, unban, kick or timeout done outside gavel into a case.
func (a *App) onAuditLogEntry(e *events.GuildAuditLogEntryCreate) {
	ext, ok := externalAction(int64(e.GuildID), e.AuditLogEntry, time.Now())
	if !ok {
		return
	}
	co, ok := a.begin()
	if !ok {
		return
	}
	a.events.audit.push(ext.GuildID, func() {
		defer a.end()
		ctx, cancel := context.WithTimeout(a.work, eventTimeout)
		defer cancel()
		log := a.log.With("guild", ext.GuildID, "entry", ext.EntryID, "type", ext.Type, "user", ext.UserID, "moderator", ext.ModeratorID)
		c, recorded, err := co.RecordExternal(ctx, ext)
		switch {
		case err != nil:
			log.Error("an action taken outside gavel was not recorded", "err", err)
		case recorded:
			log.Info("action taken outside gavel recorded", "case", c.Number)
		}
	})
}

// externalAction reads an audit-log entry as an action gavel mirrors: member ban add (22),
// ban remove (23), kick (20), and member update (24) that sets or clears a timeout. Other
// entries, and entries without a target, are not.
func externalAction(guildID int64, e ddiscord.AuditLogEntry, now time.Time) (moderation.External, bool) {
	if e.TargetID == nil || *e.TargetID == 0 || e.UserID == 0 {
		return moderation.External{}, false
	}
	ext := moderation.External{GuildID: guildID, EntryID: int64(e.ID), ModeratorID: int64(e.UserID), UserID: int64(*e.TargetID)}
	if e.Reason != nil {
		ext.Reason = *e.Reason
	}
	switch int(e.ActionType) {
	case discord.AuditMemberBanAdd:
		ext.Type = cases.Ban
	case discord.AuditMemberBanRemove:
		ext.Type = cases.Unban
	case discord.AuditMemberKick:
		ext.Type = cases.Kick
	case discord.AuditMemberUpdate:
		until, found := timeoutChange(e.Changes)
		if !found {
			return moderation.External{}, false
		}
		// A timeout moved into the past lifts it, as clearing it does.
		if until.After(now) {
			ext.Type, ext.ExpiresAt = cases.Timeout, until
		} else {
			ext.Type = cases.Untimeout
		}
	default:
		return moderation.External{}, false
	}
	return ext, true
}

// timeoutChange finds the communication_disabled_until change of a member update: the new
// end of the timeout, the zero time when it was cleared.
func timeoutChange(changes []ddiscord.AuditLogChange) (time.Time, bool) {
	for _, ch := range changes {
		if ch.Key != "communication_disabled_until" {
			continue
		}
		var until *time.Time
		if len(ch.NewValue) > 0 {
			if err := json.Unmarshal(ch.NewValue, &until); err != nil {
				return time.Time{}, false
			}
		}
		if until == nil {
			return time.Time{}, true
		}
		return *until, true
	}
	return time.Time{}, false
}

// onMemberJoin puts a member who left while jailed back in jail.
func (a *App) onMemberJoin(e *events.GuildMemberJoin) {
	if e.Member.User.Bot {
		return
	}
	guildID, userID := int64(e.GuildID), int64(e.Member.User.ID)
	a.background(eventTimeout, func(ctx context.Context, co *moderation.Coordinator) {
		r, err := co.Rejail(ctx, guildID, userID)
		if err != nil {
			a.log.Error("re-jail on rejoin", "guild", guildID, "user", userID, "err", err)
			return
		}
		if !r.Done {
			return
		}
		a.log.Info("re-jailed on rejoin", "guild", guildID, "user", userID, "case", r.Case.Number, "roles_taken", len(r.Taken))
		// Other bots give roles on join a few seconds late: look again then.
		a.events.after(a.rejailRecheck, func() {
			a.background(eventTimeout, func(ctx context.Context, co *moderation.Coordinator) {
				r, err := co.Rejail(ctx, guildID, userID)
				switch {
				case err != nil:
					a.log.Error("re-jail on rejoin, second look", "guild", guildID, "user", userID, "err", err)
				case r.Done:
					a.log.Info("roles given after a rejoin taken from a jailed member", "guild", guildID, "user", userID, "roles_taken", len(r.Taken))
				}
			})
		})
	})
}

// onChannelCreate denies the jail role on a new channel.
func (a *App) onChannelCreate(e *events.GuildChannelCreate) {
	if e.Channel == nil {
		return
	}
	switch e.Channel.Type() {
	case ddiscord.ChannelTypeGuildText, ddiscord.ChannelTypeGuildVoice, ddiscord.ChannelTypeGuildCategory,
		ddiscord.ChannelTypeGuildNews, ddiscord.ChannelTypeGuildStageVoice, ddiscord.ChannelTypeGuildForum, ddiscord.ChannelTypeGuildMedia:
	default:
		return
	}
	guildID, channelID, name := int64(e.GuildID), int64(e.ChannelID), e.Channel.Name()
	a.background(eventTimeout, func(ctx context.Context, co *moderation.Coordinator) {
		done, err := co.DenyJailRole(ctx, guildID, channelID, name)
		if err != nil {
			a.log.Warn("jail role not denied on a new channel", "guild", guildID, "channel", channelID, "err", err)
			return
		}
		if done {
			a.log.Info("jail role denied on a new channel", "guild", guildID, "channel", channelID)
		}
	})
}

// reconcileTimers holds, per guild, the timer of the next reconciliation, so that a guild
// that becomes available again (a reconnect) does not start a second one.
type reconcileTimers struct {
	mu     sync.Mutex
	timers map[int64]*time.Timer
}

// reconcile settles the guild's pending cases old enough to have been left by a crash, and
// comes back for the younger ones once they are old enough.
func (a *App) reconcile(guildID int64) {
	a.events.recon.mu.Lock()
	if t, ok := a.events.recon.timers[guildID]; ok {
		t.Stop()
		delete(a.events.recon.timers, guildID)
	}
	a.events.recon.mu.Unlock()
	a.background(a.commandTimeout, func(ctx context.Context, co *moderation.Coordinator) {
		r, err := co.Reconcile(ctx, guildID, a.reconcileAge)
		if err != nil {
			a.log.Error("reconciling pending cases", "guild", guildID, "err", err)
			r.RecheckAt = time.Now().Add(max(a.reconcileAge, 30*time.Second))
		}
		if r.Activated+r.Voided > 0 {
			a.log.Info("pending cases reconciled", "guild", guildID, "activated", r.Activated, "voided", r.Voided)
		}
		if r.RecheckAt.IsZero() {
			return
		}
		a.events.recon.mu.Lock()
		defer a.events.recon.mu.Unlock()
		if a.events.recon.timers == nil {
			a.events.recon.timers = map[int64]*time.Timer{}
		}
		if _, ok := a.events.recon.timers[guildID]; !ok {
			a.events.recon.timers[guildID] = time.AfterFunc(time.Until(r.RecheckAt), func() { a.reconcile(guildID) })
		}
	})
}
