package settings

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/guildcache"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// DefaultCacheTTL is how long a guild's settings are served from memory. A change made in
// this process is seen at once; one made by another process sharing the database is seen
// here within this long.
const DefaultCacheTTL = 30 * time.Second

// MaxHistory is the most history rows one History call returns.
const MaxHistory = 1000

// Service reads and changes guild settings. It is safe for concurrent use, also by several
// processes sharing one database.
type Service struct {
	st    *store.Store
	read  query.Queries
	now   func() time.Time
	ttl   time.Duration
	cache *guildcache.Cache[Guild]
}

// Option configures a Service.
type Option func(*Service)

// WithClock makes the service read the time from now instead of the system clock.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithCacheTTL sets how long settings are cached (DefaultCacheTTL when not given). Zero turns
// the cache off, so every Get reads the database.
func WithCacheTTL(d time.Duration) Option { return func(s *Service) { s.ttl = d } }

// NewService returns the settings service over a migrated store.
func NewService(st *store.Store, opts ...Option) *Service {
	s := &Service{st: st, read: st.Queries(), now: time.Now, ttl: DefaultCacheTTL}
	for _, o := range opts {
		o(s)
	}
	s.cache = guildcache.New[Guild](s.ttl, 0, s.now)
	// A change made by another process (store.Tx.Announce) is forgotten here too.
	st.OnChange(store.TopicSettings, s.cache.Changed)
	return s
}

// Get returns a guild's settings: the defaults when it has never changed any.
func (s *Service) Get(ctx context.Context, guildID discord.GuildID) (Guild, error) {
	if err := checkID("guild", guildID); err != nil {
		return Guild{}, err
	}
	return s.cache.Get(ctx, guildID, func(ctx context.Context) (Guild, error) {
		row, err := s.read.GetGuildSettings(ctx, int64(guildID))
		if errors.Is(err, sql.ErrNoRows) {
			return Defaults(guildID), nil
		}
		if err != nil {
			return Guild{}, fmt.Errorf("settings of guild %d: %w", guildID, err)
		}
		return fromRow(row), nil
	})
}

// Cached returns a guild's settings when this process has them fresh (what Get would
// return without reading the database); false otherwise.
func (s *Service) Cached(guildID discord.GuildID) (Guild, bool) {
	return s.cache.Peek(guildID)
}

// SetPrefix changes the prefix of the guild's text commands.
func (s *Service) SetPrefix(ctx context.Context, guildID discord.GuildID, actor discord.UserID, prefix string) (Guild, error) {
	if err := errors.Join(checkID("guild", guildID), checkID("actor", actor), CheckPrefix(prefix)); err != nil {
		return Guild{}, err
	}
	return s.change(ctx, guildID, actor, KeyPrefix, func(g *Guild) (string, string) {
		old := g.Prefix
		g.Prefix = prefix
		return old, prefix
	})
}

// SetChannel sets one of the guild's channels; an id of 0 clears it.
func (s *Service) SetChannel(ctx context.Context, guildID discord.GuildID, actor discord.UserID, which Channel, id discord.ChannelID) (Guild, error) {
	if err := errors.Join(checkID("guild", guildID), checkID("actor", actor)); err != nil {
		return Guild{}, err
	}
	if !which.valid() {
		return Guild{}, input.Invalid("channel", fmt.Sprintf("%d is not a channel setting; accepted: ModLog, AuditLog, JailChannel", int(which)))
	}
	if err := checkOptionalID(which.String(), id); err != nil {
		return Guild{}, err
	}
	return s.change(ctx, guildID, actor, which.Key(), func(g *Guild) (string, string) {
		field := g.channel(which)
		old := *field
		*field = id
		return idText(int64(old)), idText(int64(id))
	})
}

// SetJailRole sets the role a jailed member is given; 0 clears it.
func (s *Service) SetJailRole(ctx context.Context, guildID discord.GuildID, actor discord.UserID, roleID discord.RoleID) (Guild, error) {
	if err := errors.Join(checkID("guild", guildID), checkID("actor", actor), checkOptionalID("jail role", roleID)); err != nil {
		return Guild{}, err
	}
	if roleID == guildID.EveryoneRole() {
		// Every member has @everyone (its id is the guild's), so jailing by it would be a no-op.
		return Guild{}, input.Invalid("jail role", "the @everyone role cannot be the jail role, since every member has it; accepted: a role of its own, or 0 to clear it")
	}
	return s.change(ctx, guildID, actor, KeyJailRole, func(g *Guild) (string, string) {
		old := g.JailRoleID
		g.JailRoleID = roleID
		return idText(int64(old)), idText(int64(roleID))
	})
}

// SetMirrorExternalActions turns on or off the mirroring of actions taken outside gavel.
func (s *Service) SetMirrorExternalActions(ctx context.Context, guildID discord.GuildID, actor discord.UserID, on bool) (Guild, error) {
	if err := errors.Join(checkID("guild", guildID), checkID("actor", actor)); err != nil {
		return Guild{}, err
	}
	return s.change(ctx, guildID, actor, KeyMirrorExternalActions, func(g *Guild) (string, string) {
		old := g.MirrorExternalActions
		g.MirrorExternalActions = on
		return strconv.FormatBool(old), strconv.FormatBool(on)
	})
}

// History returns the guild's most recent settings changes, newest first, at most limit. The
// permissions package keeps the history of ranks itself (permissions.Service.History).
func (s *Service) History(ctx context.Context, guildID discord.GuildID, limit int) ([]Event, error) {
	if err := checkID("guild", guildID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxHistory {
		return nil, input.Invalid("limit", fmt.Sprintf("%d is out of range; accepted: 1 to %d", limit, MaxHistory))
	}
	rows, err := s.read.SettingsEvents(ctx, query.SettingsEventsParams{GuildID: int64(guildID), Limit: int64(limit)})
	if err != nil {
		return nil, fmt.Errorf("settings history of guild %d: %w", guildID, err)
	}
	out := make([]Event, 0, len(rows))
	for _, r := range rows {
		out = append(out, Event{ID: r.ID, GuildID: discord.GuildID(r.GuildID), ActorID: discord.UserID(r.ActorID), Key: r.Key,
			Old: r.OldValue.String, New: r.NewValue.String, At: time.UnixMilli(r.CreatedAt).UTC()})
	}
	return out, nil
}

// change applies one setting under the guild's configuration lock and records it. apply
// edits the settings and returns the old and new value as history text ("" for not set).
func (s *Service) change(ctx context.Context, guildID discord.GuildID, actor discord.UserID, key string, apply func(g *Guild) (before, after string)) (Guild, error) {
	var out Guild
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		q := tx.Queries()
		now := s.now().UnixMilli()
		row, err := LockGuild(tx, guildID, now)
		if err != nil {
			return err
		}
		g := fromRow(row)
		before, after := apply(&g)
		if before == after {
			return fmt.Errorf("%s is already %s: %w", key, shown(after), input.ErrUnchanged)
		}
		if err := q.UpdateGuildSettings(ctx, toParams(g, now)); err != nil {
			return fmt.Errorf("update settings: %w", err)
		}
		if err := record(tx, guildID, actor, key, before, after, now); err != nil {
			return err
		}
		out = g
		return tx.Announce(store.TopicSettings, int64(guildID))
	})
	if err != nil {
		if errors.Is(err, input.ErrUnchanged) {
			return Guild{}, err
		}
		return Guild{}, fmt.Errorf("set %s of guild %d: %w", key, guildID, err)
	}
	s.cache.Invalidate(guildID)
	return out, nil
}

// LockGuild makes sure the guild and its settings row exist, takes the row's lock for the rest of
// tx, and returns the settings as they were. Every configuration change (these settings, and
// the permissions package's ranks) takes it first, so changes to one guild are serialised
// across processes and each history row holds the true old value.
func LockGuild(tx *store.Tx, guildID discord.GuildID, nowMS int64) (query.GuildSetting, error) {
	ctx, q := tx.Context(), tx.Queries()
	if err := tx.EnsureGuild(int64(guildID), nowMS); err != nil {
		return query.GuildSetting{}, fmt.Errorf("guild row: %w", err)
	}
	row, err := q.LockGuildSettings(ctx, query.LockGuildSettingsParams{GuildID: int64(guildID), UpdatedAt: nowMS})
	if err != nil {
		return query.GuildSetting{}, fmt.Errorf("lock settings: %w", err)
	}
	return row, nil
}

// record appends one row to the guild's settings history; "" stores NULL ("not set").
func record(tx *store.Tx, guildID discord.GuildID, actor discord.UserID, key, before, after string, nowMS int64) error {
	err := tx.Queries().InsertSettingsEvent(tx.Context(), query.InsertSettingsEventParams{
		GuildID: int64(guildID), ActorID: int64(actor), Key: key,
		OldValue: sql.NullString{String: before, Valid: before != ""}, NewValue: sql.NullString{String: after, Valid: after != ""},
		CreatedAt: nowMS,
	})
	if err != nil {
		return fmt.Errorf("record %s: %w", key, err)
	}
	return nil
}

func (g *Guild) channel(c Channel) *discord.ChannelID {
	switch c {
	case AuditLog:
		return &g.AuditlogChannelID
	case JailChannel:
		return &g.JailChannelID
	default:
		return &g.ModlogChannelID
	}
}

func fromRow(r query.GuildSetting) Guild {
	return Guild{
		GuildID: discord.GuildID(r.GuildID), Prefix: r.Prefix,
		ModlogChannelID: discord.ChannelID(r.ModlogChannelID.Int64), AuditlogChannelID: discord.ChannelID(r.AuditlogChannelID.Int64),
		JailRoleID: discord.RoleID(r.JailRoleID.Int64), JailChannelID: discord.ChannelID(r.JailChannelID.Int64),
		MirrorExternalActions: r.MirrorExternalActions,
	}
}

func toParams(g Guild, nowMS int64) query.UpdateGuildSettingsParams {
	return query.UpdateGuildSettingsParams{
		GuildID: int64(g.GuildID), Prefix: g.Prefix,
		ModlogChannelID: nullID(int64(g.ModlogChannelID)), AuditlogChannelID: nullID(int64(g.AuditlogChannelID)),
		JailRoleID: nullID(int64(g.JailRoleID)), JailChannelID: nullID(int64(g.JailChannelID)),
		MirrorExternalActions: g.MirrorExternalActions, UpdatedAt: nowMS,
	}
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

func idText(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

func shown(v string) string {
	if v == "" {
		return "not set"
	}
	return strconv.Quote(v)
}

// KeyAccountAgeGate names the account-age gate in the configuration history.
const KeyAccountAgeGate = "account_age_gate"

// Bounds of the account-age gate: a joining member whose account is younger than the set
// age is timed out until it is that old, and Discord times out for 28 days at most.
const (
	MinAccountAgeGate = time.Hour
	MaxAccountAgeGate = 28 * 24 * time.Hour
)

// AccountAgeGate returns the guild's account-age gate: the age an account must have
// reached, 0 when the gate is off (the default).
func (s *Service) AccountAgeGate(ctx context.Context, guildID discord.GuildID) (time.Duration, error) {
	r, err := s.st.Queries().GetAccountAgeGate(ctx, int64(guildID))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the account-age gate of guild %d: %w", guildID, err)
	}
	return time.Duration(r.MinAgeMs) * time.Millisecond, nil
}

// SetAccountAgeGate sets the account-age gate (0 turns it off) under the guild's
// configuration lock, with its history row. An age outside MinAccountAgeGate to
// MaxAccountAgeGate is refused, and input.ErrUnchanged says it was already so.
func (s *Service) SetAccountAgeGate(ctx context.Context, guildID discord.GuildID, actor discord.UserID, age time.Duration) error {
	if age != 0 && (age < MinAccountAgeGate || age > MaxAccountAgeGate) {
		return input.Invalid("age", fmt.Sprintf("%v is out of range; give 1h to 28d, or off", age))
	}
	age = age.Truncate(time.Second)
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		q := tx.Queries()
		now := s.now().UnixMilli()
		if _, err := LockGuild(tx, guildID, now); err != nil {
			return err
		}
		var before time.Duration
		r, err := q.GetAccountAgeGate(tx.Context(), int64(guildID))
		switch {
		case err == nil:
			before = time.Duration(r.MinAgeMs) * time.Millisecond
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("read the gate: %w", err)
		}
		if before == age {
			return fmt.Errorf("%s is already %s: %w", KeyAccountAgeGate, ageText(age), input.ErrUnchanged)
		}
		if age == 0 {
			_, err = q.DeleteAccountAgeGate(tx.Context(), int64(guildID))
		} else {
			err = q.SetAccountAgeGate(tx.Context(), query.SetAccountAgeGateParams{GuildID: int64(guildID), MinAgeMs: age.Milliseconds(), UpdatedAt: now})
		}
		if err != nil {
			return fmt.Errorf("write the gate: %w", err)
		}
		return record(tx, guildID, actor, KeyAccountAgeGate, ageHistory(before), ageHistory(age), now)
	})
	if err != nil && !errors.Is(err, input.ErrUnchanged) {
		return fmt.Errorf("set %s of guild %d: %w", KeyAccountAgeGate, guildID, err)
	}
	return err
}

func ageText(d time.Duration) string {
	if d == 0 {
		return "off"
	}
	return d.String()
}

func ageHistory(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}
