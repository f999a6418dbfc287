package automod

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// Store keeps what AutoMod needs in the database: each guild's gavel-enforced rules, and the
// keys that make every execution and every gavel punishment one case only.
type Store struct {
	st   *store.Store
	read query.Queries
	now  func() time.Time
}

// StoreOption configures a Store.
type StoreOption func(*Store)

// WithStoreClock makes the Store read the time from now instead of the system clock: when a
// key was seen, and when rules were stored, are on the same clock as the caller's cut-offs.
func WithStoreClock(now func() time.Time) StoreOption { return func(s *Store) { s.now = now } }

// NewStore returns a Store over st.
func NewStore(st *store.Store, opts ...StoreOption) *Store {
	s := &Store{st: st, read: st.Queries(), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// GavelRules returns a guild's gavel-enforced rules in the order they were given, and the
// version of the set (0 when none was ever stored).
func (s *Store) GavelRules(ctx context.Context, guildID discord.GuildID) ([]GavelRule, int64, error) {
	var rules []GavelRule
	var version int64
	// One transaction, so that the version read is the version of the rules read.
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		q := tx.Queries()
		v, err := q.GavelVersion(ctx, int64(guildID))
		if err != nil {
			return err
		}
		version = v
		rows, err := q.ListGavelRules(ctx, int64(guildID))
		if err != nil {
			return err
		}
		for _, row := range rows {
			g, err := DecodeGavel([]byte(row.Rule))
			if err != nil {
				return fmt.Errorf("rule %q: %w", row.Name, err)
			}
			rules = append(rules, g)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("read gavel-enforced rules of guild %d: %w", guildID, err)
	}
	return rules, version, nil
}

// GavelVersion returns the version of a guild's gavel-enforced rules: it changes whenever
// they do, so a process can cache a compiled engine until it changes.
func (s *Store) GavelVersion(ctx context.Context, guildID discord.GuildID) (int64, error) {
	v, err := s.read.GavelVersion(ctx, int64(guildID))
	if err != nil {
		return 0, fmt.Errorf("read the version of guild %d's gavel-enforced rules: %w", guildID, err)
	}
	return v, nil
}

// ReplaceGavelRules makes rules the guild's gavel-enforced rules, in one transaction. Each
// rule must have passed ValidateGavel, and names must be unique (ParseFile checks both).
func (s *Store) ReplaceGavelRules(ctx context.Context, guildID discord.GuildID, rules []GavelRule) error {
	now := s.now().UnixMilli()
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		q := tx.Queries()
		if err := q.DeleteGavelRules(ctx, int64(guildID)); err != nil {
			return err
		}
		for i, g := range rules {
			b, err := EncodeGavel(g)
			if err != nil {
				return err
			}
			if err := q.InsertGavelRule(ctx, query.InsertGavelRuleParams{GuildID: int64(guildID), Name: g.Name,
				Position: int64(i), Rule: string(b), UpdatedAt: now}); err != nil {
				return fmt.Errorf("rule %q: %w", g.Name, err)
			}
		}
		if _, err := q.BumpGavelVersion(ctx, query.BumpGavelVersionParams{GuildID: int64(guildID), UpdatedAt: now}); err != nil {
			return err
		}
		// Every process compiles the new rules at its next message, not at its next check.
		return tx.Announce(store.TopicAutoMod, int64(guildID))
	})
	if err != nil {
		return fmt.Errorf("store gavel-enforced rules of guild %d: %w", guildID, err)
	}
	return nil
}

// Claim takes key for the guild: true when it was free, or when it was last claimed before
// staleBefore (the zero time: never stale). False means another event, process or run has it.
func (s *Store) Claim(ctx context.Context, guildID discord.GuildID, key string, staleBefore time.Time) (bool, error) {
	stale := int64(-1)
	if !staleBefore.IsZero() {
		stale = staleBefore.UnixMilli()
	}
	n, err := s.st.WriteQueries().ClaimAutomodKey(ctx, query.ClaimAutomodKeyParams{GuildID: int64(guildID), DedupeKey: key,
		SeenAt: s.now().UnixMilli(), StaleBefore: stale})
	if err != nil {
		return false, fmt.Errorf("claim automod key %q in guild %d: %w", key, guildID, err)
	}
	return n == 1, nil
}

// Settle records the case made for a claimed key.
func (s *Store) Settle(ctx context.Context, guildID discord.GuildID, key string, caseID int64) error {
	return s.st.InTx(ctx, func(tx *store.Tx) error { return s.SettleTx(tx, guildID, key, caseID) })
}

// SettleTx records the case made for a claimed key inside tx, the unit of work that
// finalizes the case, so that the key and its case commit together.
func (s *Store) SettleTx(tx *store.Tx, guildID discord.GuildID, key string, caseID int64) error {
	err := tx.Queries().SetAutomodKeyCase(tx.Context(), query.SetAutomodKeyCaseParams{GuildID: int64(guildID), DedupeKey: key,
		CaseID: sql.NullInt64{Int64: caseID, Valid: true}})
	if err != nil {
		return fmt.Errorf("settle automod key %q in guild %d: %w", key, guildID, err)
	}
	return nil
}

// Release gives back a claimed key whose case could not be made, so that a later event (a
// resent execution, the message edited again) tries again.
func (s *Store) Release(ctx context.Context, guildID discord.GuildID, key string) error {
	err := s.st.WriteQueries().ReleaseAutomodKey(ctx, query.ReleaseAutomodKeyParams{GuildID: int64(guildID), DedupeKey: key})
	if err != nil {
		return fmt.Errorf("release automod key %q in guild %d: %w", key, guildID, err)
	}
	return nil
}
