// Package polls enforces poll bans. Discord's own permission to create polls cannot be
// denied to one member, so gavel does it: a message with a poll from a member under an
// active POLLBAN case is deleted at once, the member is told why in a DM (at most once a
// minute), and the deletion — or the failure to delete — is a row of the POLLBAN case's
// history.
//
// Which members are poll-banned is kept in memory per guild, loaded from the cases and
// dropped whenever a POLLBAN or POLLUNBAN case of the guild changes in this process, so a
// poll costs no query; a change made by another process sharing the database (a lift by its
// expiry poller, the command line) is seen within the cache's TTL.
package polls

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/guildcache"
	"github.com/gavelbot/gavel/internal/store"
)

// Defaults.
const (
	// DefaultTTL is how long a guild's poll bans are trusted without a change seen here.
	DefaultTTL = 30 * time.Second
	// DefaultNoticeEvery is the least time between two DMs to one member about their polls.
	DefaultNoticeEvery = time.Minute
)

// Discord is what enforcing asks of Discord: deleting the poll and the DM.
type Discord interface {
	DeleteMessage(ctx context.Context, channelID discord.ChannelID, messageID discord.MessageID, reason string) error
	SendDM(ctx context.Context, userID discord.UserID, msg discord.Message) (discord.MessageRef, error)
}

// Cases is what enforcing asks of the cases: who is poll-banned, and the history row.
type Cases interface {
	UnderRestriction(ctx context.Context, guildID discord.GuildID, r cases.Type) (map[int64]cases.Case, error)
	AddNote(ctx context.Context, guildID discord.GuildID, n int64, actor discord.UserID, note string) (cases.Case, error)
}

// Config is what an Enforcer needs.
type Config struct {
	Cases Cases
	Port  Discord
	Exec  *executor.Executor
	Log   *slog.Logger
	// Clock paces the DMs (nil: the system's).
	Clock clock.Clock
	// TTL and NoticeEvery: zero means DefaultTTL and DefaultNoticeEvery.
	TTL         time.Duration
	NoticeEvery time.Duration
}

// Poll is a message with a poll, as the router saw it.
type Poll struct {
	GuildID   discord.GuildID
	GuildName string
	ChannelID discord.ChannelID
	MessageID discord.MessageID
	Author    discord.User
}

// Outcome is what Enforce did with a poll.
type Outcome string

// The outcomes.
const (
	// Allowed: the author is not poll-banned.
	Allowed Outcome = "allowed"
	// Deleted: the poll was deleted (or was already gone) and the case records it.
	Deleted Outcome = "deleted"
	// NotDeleted: Discord refused or failed the deletion; the case records that too.
	NotDeleted Outcome = "not_deleted"
)

// Result is what Enforce did.
type Result struct {
	Outcome Outcome
	// Case is the POLLBAN case the poll broke; zero when Allowed.
	Case cases.Case
	// Notified is true when the member was sent a DM about it (false when they had one
	// within NoticeEvery, or the DM failed).
	Notified bool
}

// Enforcer deletes the polls of poll-banned members. It is a cases.ChangeObserver: give it
// to the case service so that it hears of every poll ban and lift.
type Enforcer struct {
	cfg    Config
	banned *guildcache.Cache[map[int64]cases.Case]

	mu sync.Mutex
	// told is when each member (guild, user) was last sent a DM about a poll.
	told map[[2]int64]time.Time
}

// New returns the enforcer of cfg.
func New(cfg Config) *Enforcer {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.Clock = clock.OrSystem(cfg.Clock)
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.NoticeEvery == 0 {
		cfg.NoticeEvery = DefaultNoticeEvery
	}
	return &Enforcer{cfg: cfg, banned: guildcache.New[map[int64]cases.Case](cfg.TTL, 0, cfg.Clock.Now), told: map[[2]int64]time.Time{}}
}

// Listen has the enforcer forget the poll bans that change in other processes.
func (e *Enforcer) Listen(st *store.Store) { st.OnChange(store.TopicPolls, e.banned.Changed) }

// Bind gives the enforcer what it reads and acts through, which exist only after it was
// handed to the case service as its observer: the two name each other.
func (e *Enforcer) Bind(cs Cases, port Discord, exec *executor.Executor) {
	e.cfg.Cases, e.cfg.Port, e.cfg.Exec = cs, port, exec
}

// CasesChanged forgets a guild's poll bans once a transaction that changed one of its
// POLLBAN or POLLUNBAN cases commits, so the next poll reads them again.
func (e *Enforcer) CasesChanged(tx *store.Tx, changed []cases.Changed) error {
	for _, c := range changed {
		if c.Type == cases.Pollban || c.Type == cases.Pollunban {
			guildID := c.GuildID
			tx.AfterCommit(func() { e.banned.Invalidate(guildID) })
			// The other processes hear of it after the commit: a case write never waits
			// for NOTIFY's lock. (Poll bans are rare.)
			tx.AnnounceAfter(store.TopicPolls, int64(guildID))
		}
	}
	return nil
}

// Banned returns the active POLLBAN case a member is under, and false when they are not
// poll-banned (or their poll ban is still pending).
func (e *Enforcer) Banned(ctx context.Context, guild discord.GuildID, user discord.UserID) (cases.Case, bool, error) {
	guildID, userID := int64(guild), int64(user)
	set, err := e.banned.Get(ctx, discord.GuildID(guildID), func(ctx context.Context) (map[int64]cases.Case, error) {
		return e.cfg.Cases.UnderRestriction(ctx, discord.GuildID(guildID), cases.Pollban)
	})
	if err != nil {
		return cases.Case{}, false, fmt.Errorf("poll bans of guild %d: %w", guildID, err)
	}
	c, ok := set[userID]
	return c, ok && c.Status == cases.Active, nil
}

// Enforce deletes p when its author is poll-banned, records it in their POLLBAN case as
// actor (gavel's own user), and tells them why. An error means the case could not be read
// or written; what was done on Discord is in the Result.
func (e *Enforcer) Enforce(ctx context.Context, actor discord.UserID, p Poll) (Result, error) {
	c, banned, err := e.Banned(ctx, p.GuildID, p.Author.ID)
	if err != nil || !banned {
		return Result{Outcome: Allowed}, err
	}
	res := Result{Outcome: Deleted, Case: c}
	err = e.cfg.Exec.Do(ctx, executor.OpMessages, func(ctx context.Context) error {
		return e.cfg.Port.DeleteMessage(ctx, p.ChannelID, p.MessageID, fmt.Sprintf("Poll ban (case #%d)", c.Number))
	})
	note := fmt.Sprintf("poll deleted: message %d in channel %d", p.MessageID, p.ChannelID)
	switch {
	case discord.IsCode(err, discord.CodeUnknownMessage):
		note = fmt.Sprintf("poll already gone when gavel came to delete it: message %d in channel %d", p.MessageID, p.ChannelID)
	case err != nil:
		res.Outcome = NotDeleted
		note = fmt.Sprintf("poll NOT deleted (%s): message %d in channel %d", deleteProblem(err), p.MessageID, p.ChannelID)
		e.cfg.Log.Warn("a poll-banned member's poll could not be deleted", "guild", p.GuildID, "user", p.Author.ID,
			"case", c.Number, "message", p.MessageID, "err", err)
	}
	updated, noteErr := e.cfg.Cases.AddNote(ctx, p.GuildID, c.Number, actor, note)
	if noteErr == nil {
		res.Case = updated
	}
	if res.Outcome == Deleted {
		res.Notified = e.notify(ctx, p, c)
	}
	if noteErr != nil {
		return res, fmt.Errorf("recording the poll of user %d in case #%d: %w", p.Author.ID, c.Number, noteErr)
	}
	return res, nil
}

// notify DMs the member why their poll went, unless they were told within NoticeEvery.
func (e *Enforcer) notify(ctx context.Context, p Poll, c cases.Case) bool {
	key := [2]int64{int64(p.GuildID), int64(p.Author.ID)}
	now := e.cfg.Clock.Now()
	e.mu.Lock()
	if last, ok := e.told[key]; ok && now.Sub(last) < e.cfg.NoticeEvery {
		e.mu.Unlock()
		return false
	}
	e.told[key] = now
	// Keep the map to the members told within the window.
	if len(e.told) > 1024 {
		for k, at := range e.told {
			if now.Sub(at) >= e.cfg.NoticeEvery {
				delete(e.told, k)
			}
		}
	}
	e.mu.Unlock()

	server := "this server"
	if p.GuildName != "" {
		server = p.GuildName
	}
	text := fmt.Sprintf("Your poll in <#%d> was removed: you are banned from creating polls in %s (case #%d).", p.ChannelID, server, c.Number)
	if !c.ExpiresAt.IsZero() {
		text += fmt.Sprintf(" The ban ends <t:%d:R>.", c.ExpiresAt.Unix())
	}
	msg := discord.Message{Content: text, AllowedMentions: &discord.AllowedMentions{}}
	err := e.cfg.Exec.Do(ctx, executor.OpDM, func(ctx context.Context) error {
		_, err := e.cfg.Port.SendDM(ctx, p.Author.ID, msg)
		return err
	})
	if err != nil {
		e.cfg.Log.Info("a poll-banned member could not be told why their poll went", "guild", p.GuildID, "user", p.Author.ID, "err", err)
		return false
	}
	return true
}

// deleteProblem says briefly why a deletion failed, for the case's history.
func deleteProblem(err error) string {
	if errors.Is(err, executor.ErrOpen) {
		return "Discord has been failing message deletions; gavel paused them"
	}
	if de := discord.AsError(err); de != nil {
		switch {
		case de.Status == 403:
			return "gavel lacks Manage Messages in that channel"
		case de.Status == 0:
			return "Discord did not answer"
		}
		return fmt.Sprintf("Discord answered %d", de.Status)
	}
	return "an error on gavel's side"
}
