package store

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gavelbot/gavel/internal/store/query"
)

// Several processes share one PostgreSQL database, and each keeps some of a guild's
// configuration in memory (settings, ranks, gavel-enforced AutoMod rules, poll bans). A
// change made anywhere (another gavel run, gavel web, gavel automod apply) is announced on a
// PostgreSQL channel, and every process drops what it kept of that guild: the next read
// loads the new value. NOTIFY takes a database-wide lock at commit, so only low-volume
// changes announce themselves: configuration, never a case write.

// Topics of the changes announced: what a process drops on hearing one.
const (
	TopicSettings    = "settings"
	TopicPermissions = "permissions"
	TopicAutoMod     = "automod"
	TopicPolls       = "polls"
	// TopicRateLimit is a global 429 one process met: every process of the bot pauses its
	// REST requests. Its number is not a guild but the pause's end, in Unix milliseconds.
	TopicRateLimit = "ratelimit"
)

// AllGuilds is the guild of a change heard as "anything may have changed": the listener
// says so after it (re)connects, when it may have missed announcements.
const AllGuilds int64 = 0

// Change is one announcement: a topic of one guild (or AllGuilds).
type Change struct {
	Topic   string
	GuildID int64
}

// changes is the store's subscribers and its channel's name.
type changes struct {
	mu   sync.Mutex
	subs map[string][]func(guildID int64)
	// all hear every change (tests wait for one).
	all []func(Change)
	// channel is the PostgreSQL channel, per schema (tests give each their own schema).
	channel string
}

// OnChange calls f with the guild of each change of topic announced by any process
// (AllGuilds: anything may have changed). f runs on the listener's goroutine: keep it short.
func (s *Store) OnChange(topic string, f func(guildID int64)) {
	s.changes.mu.Lock()
	defer s.changes.mu.Unlock()
	if s.changes.subs == nil {
		s.changes.subs = map[string][]func(int64){}
	}
	s.changes.subs[topic] = append(s.changes.subs[topic], f)
}

// OnAnyChange calls f after the topic's subscribers have been told of each change.
func (s *Store) OnAnyChange(f func(Change)) {
	s.changes.mu.Lock()
	defer s.changes.mu.Unlock()
	s.changes.all = append(s.changes.all, f)
}

func (s *Store) deliver(c Change) {
	s.changes.mu.Lock()
	subs := append([]func(int64){}, s.changes.subs[c.Topic]...)
	if c.Topic == "" {
		for _, fs := range s.changes.subs {
			subs = append(subs, fs...)
		}
	}
	all := append([]func(Change){}, s.changes.all...)
	s.changes.mu.Unlock()
	for _, f := range subs {
		f(c.GuildID)
	}
	for _, f := range all {
		f(c)
	}
}

// Announce tells every process sharing the database that topic changed in the guild,
// when the transaction commits (PostgreSQL delivers a NOTIFY only then, and drops it on a
// rollback); the writer forgets its own cached value itself. On SQLite, which serves one
// gavel run, there is nobody else to tell. Low volume only: never from a case write.
func (t *Tx) Announce(topic string, guildID int64) error {
	if t.s.Location.Engine != Postgres {
		return nil
	}
	ch, err := t.s.channel(t.ctx, t.db)
	if err != nil {
		return err
	}
	if _, err := t.db.ExecContext(t.ctx, "SELECT pg_notify($1, $2)", ch, topic+":"+strconv.FormatInt(guildID, 10)); err != nil {
		return fmt.Errorf("announce the change of %s in guild %d: %w", topic, guildID, err)
	}
	return nil
}

// AnnounceAfter is Announce for a change made in a transaction that must not notify (a
// case write, whose commit must not wait for NOTIFY's lock): a statement of its own, once
// the transaction has committed. A failure only delays the other processes until their
// caches expire.
func (t *Tx) AnnounceAfter(topic string, guildID int64) {
	s := t.s
	if s.Location.Engine != Postgres {
		return
	}
	t.AfterCommit(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Announce(ctx, topic, guildID)
	})
}

// Announce, outside a transaction, tells every process sharing the database of a change
// (or, for TopicRateLimit, a pause) at once. On SQLite there is nobody else to tell.
func (s *Store) Announce(ctx context.Context, topic string, value int64) error {
	if s.Location.Engine != Postgres {
		return nil
	}
	return s.InTx(withoutEvent(ctx), func(tx *Tx) error { return tx.Announce(topic, value) })
}

// channel is the store's NOTIFY channel: one per schema, read once.
func (s *Store) channel(ctx context.Context, db query.DBTX) (string, error) {
	s.changes.mu.Lock()
	ch := s.changes.channel
	s.changes.mu.Unlock()
	if ch != "" {
		return ch, nil
	}
	var schema string
	if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return "", fmt.Errorf("read the schema for the change channel: %w", err)
	}
	ch = channelName(schema)
	s.changes.mu.Lock()
	s.changes.channel = ch
	s.changes.mu.Unlock()
	return ch, nil
}

// Listen hears the changes every process announces and tells this process's subscribers
// (OnChange), until ctx ends. It holds one connection of its own. After each (re)connection
// it tells every subscriber AllGuilds, since announcements made while it was away are lost;
// ready, when not nil, is called once it listens the first time. On SQLite there is nobody
// else to hear: it returns at once.
func (s *Store) Listen(ctx context.Context, log *slog.Logger, ready func()) error {
	if s.Location.Engine != Postgres {
		if ready != nil {
			ready()
		}
		return nil
	}
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, func() {
			backoff = 100 * time.Millisecond
			if !first {
				s.deliver(Change{GuildID: AllGuilds})
			}
			if first {
				log.Info("listening for other processes' configuration changes")
				if ready != nil {
					ready()
				}
			}
			first = false
		})
		if ctx.Err() != nil {
			break
		}
		log.Warn("listening for configuration changes: reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
	return nil
}

func (s *Store) listenOnce(ctx context.Context, listening func()) error {
	conn, err := pgx.Connect(ctx, s.Location.DSN)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	var schema string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return err
	}
	ch := channelName(schema)
	s.changes.mu.Lock()
	s.changes.channel = ch
	s.changes.mu.Unlock()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
		return err
	}
	listening()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		c, ok := parseChange(n.Payload)
		if !ok {
			continue
		}
		s.deliver(c)
	}
}

// channelName is the channel of a schema; PostgreSQL cuts identifiers at 63 bytes.
func channelName(schema string) string {
	ch := "gavel_changes." + schema
	if len(ch) > 63 {
		ch = ch[:63]
	}
	return ch
}

// parseChange reads a payload "topic:guild".
func parseChange(p string) (Change, bool) {
	topic, guild, ok := strings.Cut(p, ":")
	if !ok || topic == "" {
		return Change{}, false
	}
	id, err := strconv.ParseInt(guild, 10, 64)
	if err != nil || id < 0 {
		return Change{}, false
	}
	return Change{Topic: topic, GuildID: id}, true
}
