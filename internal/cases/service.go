package cases

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// Service is the case store's API. It is safe for concurrent use, also by several processes
// sharing one database.
type Service struct {
	st   *store.Store
	read query.Queries
	now  func() time.Time
	// obs hear of every change (see ChangeObserver).
	obs []ChangeObserver
}

// Option configures a Service.
type Option func(*Service)

// WithClock makes the service read the time from now instead of the system clock.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// NewService returns the case service over a migrated store.
func NewService(st *store.Store, opts ...Option) *Service {
	s := &Service{st: st, read: st.Queries(), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Service) nowMS() int64 { return s.now().UnixMilli() }

// Get returns the case with global id.
func (s *Service) Get(ctx context.Context, id int64) (Case, error) {
	if err := checkID("case id", id); err != nil {
		return Case{}, err
	}
	row, err := s.read.GetCaseByID(ctx, id)
	if err != nil {
		return Case{}, notFound(err, fmt.Sprintf("case id %d", id))
	}
	return fromRow(row)
}

// BySourceEvent returns the number of the guild's case made by the command event ev
// (New.SourceEvent); ok is false when the event made none.
func (s *Service) BySourceEvent(ctx context.Context, guildID discord.GuildID, ev discord.EventID) (number int64, ok bool, err error) {
	k, ok, err := s.st.CaseBySourceEvent(ctx, int64(guildID), int64(ev))
	return k.Number, ok, err
}

// GetByNumber returns case number n of a guild.
func (s *Service) GetByNumber(ctx context.Context, guildID discord.GuildID, n int64) (Case, error) {
	if err := checkID("guild", guildID); err != nil {
		return Case{}, err
	}
	if n <= 0 {
		return Case{}, input.Invalid("case number", fmt.Sprintf("%d is not a case number; numbers start at 1", n))
	}
	row, err := s.read.GetCaseByNumber(ctx, query.GetCaseByNumberParams{GuildID: int64(guildID), Number: n})
	if err != nil {
		return Case{}, notFound(err, fmt.Sprintf("case #%d in guild %d", n, guildID))
	}
	return fromRow(row)
}

// Recent returns a guild's cases created within the last d, newest first, at most limit.
func (s *Service) Recent(ctx context.Context, guildID discord.GuildID, d time.Duration, limit int) ([]Case, error) {
	if err := checkID("guild", guildID); err != nil {
		return nil, err
	}
	if d <= 0 {
		return nil, input.Invalid("period", fmt.Sprintf("%s is not a period; give a positive duration such as 24h", d))
	}
	if limit <= 0 || limit > 1000 {
		return nil, input.Invalid("limit", fmt.Sprintf("%d is out of range; accepted: 1 to 1000", limit))
	}
	rows, err := s.read.RecentCases(ctx, query.RecentCasesParams{GuildID: int64(guildID), CreatedAt: s.now().Add(-d).UnixMilli(), Limit: int64(limit)})
	if err != nil {
		return nil, fmt.Errorf("recent cases of guild %d: %w", guildID, err)
	}
	return fromRows(rows)
}

// ActiveOfUser returns the active cases of a user in a guild, newest first.
func (s *Service) ActiveOfUser(ctx context.Context, guildID discord.GuildID, userID discord.UserID) ([]Case, error) {
	if err := errors.Join(checkID("guild", guildID), checkID("user", userID)); err != nil {
		return nil, err
	}
	rows, err := s.read.ActiveCasesOfUser(ctx, query.ActiveCasesOfUserParams{GuildID: int64(guildID), UserID: int64(userID)})
	if err != nil {
		return nil, fmt.Errorf("active cases of user %d in guild %d: %w", userID, guildID, err)
	}
	return fromRows(rows)
}

// LatestOfUser returns the newest case of a user in a guild, among the given types when any
// are given. It returns ErrNotFound when there is none.
func (s *Service) LatestOfUser(ctx context.Context, guildID discord.GuildID, userID discord.UserID, types ...Type) (Case, error) {
	if err := errors.Join(checkID("guild", guildID), checkID("user", userID), checkTypes(types)); err != nil {
		return Case{}, err
	}
	if len(types) == 0 {
		row, err := s.read.LatestCaseOfUser(ctx, query.LatestCaseOfUserParams{GuildID: int64(guildID), UserID: int64(userID)})
		if err != nil {
			return Case{}, notFound(err, fmt.Sprintf("a case of user %d in guild %d", userID, guildID))
		}
		return fromRow(row)
	}
	row, ok, err := s.st.LatestCase(ctx, store.CaseFilter{GuildID: int64(guildID), UserID: int64(userID), Types: typeNames(types)})
	if err != nil {
		return Case{}, fmt.Errorf("latest case of user %d in guild %d: %w", userID, guildID, err)
	}
	if !ok {
		return Case{}, fmt.Errorf("a case of type %v for user %d in guild %d: %w", types, userID, guildID, ErrNotFound)
	}
	return fromRow(row)
}

// LatestActiveOfUser returns the newest active case of a user in a guild among types, or
// ErrNotFound. It walks the user's own cases newest first (the (guild_id, user_id, id)
// index), so its cost does not grow with the guild.
func (s *Service) LatestActiveOfUser(ctx context.Context, guildID discord.GuildID, userID discord.UserID, types ...Type) (Case, error) {
	if err := errors.Join(checkID("guild", guildID), checkID("user", userID), checkTypes(types)); err != nil {
		return Case{}, err
	}
	row, ok, err := s.st.LatestCase(ctx, store.CaseFilter{GuildID: int64(guildID), UserID: int64(userID), Types: typeNames(types), Status: string(Active)})
	if err != nil {
		return Case{}, fmt.Errorf("latest active case of user %d in guild %d: %w", userID, guildID, err)
	}
	if !ok {
		return Case{}, fmt.Errorf("an active case of type %v for user %d in guild %d: %w", types, userID, guildID, ErrNotFound)
	}
	return fromRow(row)
}

// CountInGuild counts a guild's cases, voided ones included.
func (s *Service) CountInGuild(ctx context.Context, guildID discord.GuildID) (int64, error) {
	if err := checkID("guild", guildID); err != nil {
		return 0, err
	}
	n, err := s.read.CountCasesInGuild(ctx, int64(guildID))
	if err != nil {
		return 0, fmt.Errorf("count cases of guild %d: %w", guildID, err)
	}
	return n, nil
}

// CountOfUser counts a user's cases in a guild, voided ones included.
func (s *Service) CountOfUser(ctx context.Context, guildID discord.GuildID, userID discord.UserID) (int64, error) {
	if err := errors.Join(checkID("guild", guildID), checkID("user", userID)); err != nil {
		return 0, err
	}
	n, err := s.read.CountCasesOfUser(ctx, query.CountCasesOfUserParams{GuildID: int64(guildID), UserID: int64(userID)})
	if err != nil {
		return 0, fmt.Errorf("count cases of user %d in guild %d: %w", userID, guildID, err)
	}
	return n, nil
}

// Stat is the number of a guild's cases of one type in one status.
type Stat struct {
	Type   Type
	Status Status
	Count  int64
}

// Statistics counts a guild's cases by type and status.
func (s *Service) Statistics(ctx context.Context, guildID discord.GuildID) ([]Stat, error) {
	if err := checkID("guild", guildID); err != nil {
		return nil, err
	}
	rows, err := s.read.CaseStatistics(ctx, int64(guildID))
	if err != nil {
		return nil, fmt.Errorf("statistics of guild %d: %w", guildID, err)
	}
	out := make([]Stat, 0, len(rows))
	for _, r := range rows {
		out = append(out, Stat{Type: Type(r.Type), Status: Status(r.Status), Count: r.N})
	}
	return out, nil
}

// Due returns active, unprocessed cases whose expiry is at or before now, oldest expiry
// first; of one type when typ is not empty.
func (s *Service) Due(ctx context.Context, now time.Time, typ Type, limit int) ([]Case, error) {
	if limit <= 0 || limit > 1000 {
		return nil, input.Invalid("limit", fmt.Sprintf("%d is out of range; accepted: 1 to 1000", limit))
	}
	var rows []query.Case
	var err error
	if typ == "" {
		rows, err = s.read.DueCases(ctx, query.DueCasesParams{ExpiresAt: sql.NullInt64{Int64: now.UnixMilli(), Valid: true}, Limit: int64(limit)})
	} else {
		if err := checkTypes([]Type{typ}); err != nil {
			return nil, err
		}
		rows, err = s.read.DueCasesOfType(ctx, query.DueCasesOfTypeParams{ExpiresAt: sql.NullInt64{Int64: now.UnixMilli(), Valid: true}, Type: string(typ), Limit: int64(limit)})
	}
	if err != nil {
		return nil, fmt.Errorf("due cases: %w", err)
	}
	return fromRows(rows)
}

// Restricted reports whether a user is under restriction r (JAIL, POLLBAN or SNIPPETBAN):
// true when their newest non-voided case among r and its lift is r. It also returns that
// deciding case, or ErrNotFound's zero Case when there is none.
func (s *Service) Restricted(ctx context.Context, guildID discord.GuildID, userID discord.UserID, r Type) (bool, Case, error) {
	off, ok := r.Lift()
	if !ok {
		return false, Case{}, input.Invalid("restriction", fmt.Sprintf("%q is not a restriction; accepted: JAIL, POLLBAN, SNIPPETBAN", r))
	}
	if err := errors.Join(checkID("guild", guildID), checkID("user", userID)); err != nil {
		return false, Case{}, err
	}
	row, err := s.read.LatestRestrictionCase(ctx, query.LatestRestrictionCaseParams{GuildID: int64(guildID), UserID: int64(userID), OnType: string(r), OffType: string(off)})
	if errors.Is(err, sql.ErrNoRows) {
		return false, Case{}, nil
	}
	if err != nil {
		return false, Case{}, fmt.Errorf("restriction %s of user %d in guild %d: %w", r, userID, guildID, err)
	}
	c, err := fromRow(row)
	if err != nil {
		return false, Case{}, err
	}
	return c.Type == r, c, nil
}

// UnderRestriction returns every user of a guild under restriction r (JAIL, POLLBAN or
// SNIPPETBAN), as Restricted decides for each, with the case that decides it. It reads the
// guild's cases of r and its lift, newest first, a page at a time: a feature that asks
// about many members (every poll posted) loads the set once and keeps it.
func (s *Service) UnderRestriction(ctx context.Context, guildID discord.GuildID, r Type) (map[int64]Case, error) {
	off, ok := r.Lift()
	if !ok {
		return nil, input.Invalid("restriction", fmt.Sprintf("%q is not a restriction; accepted: JAIL, POLLBAN, SNIPPETBAN", r))
	}
	if err := checkID("guild", guildID); err != nil {
		return nil, err
	}
	const page = 500
	decided := map[int64]bool{}
	out := map[int64]Case{}
	f := store.CaseFilter{GuildID: int64(guildID), Types: []string{string(r), string(off)}}
	for offset := 0; ; offset += page {
		rows, err := s.st.ListCases(ctx, f, store.NewestFirst, page, offset)
		if err != nil {
			return nil, fmt.Errorf("%s cases of guild %d: %w", r, guildID, err)
		}
		for _, row := range rows {
			if decided[row.UserID] || Status(row.Status) == Voided {
				continue
			}
			decided[row.UserID] = true
			if Type(row.Type) != r {
				continue
			}
			c, err := fromRow(row)
			if err != nil {
				return nil, err
			}
			out[int64(c.UserID)] = c
		}
		if len(rows) < page {
			return out, nil
		}
	}
}

// Events returns a case's history, oldest first.
func (s *Service) Events(ctx context.Context, caseID int64) ([]Event, error) {
	if err := checkID("case id", caseID); err != nil {
		return nil, err
	}
	rows, err := s.read.CaseEvents(ctx, caseID)
	if err != nil {
		return nil, fmt.Errorf("history of case %d: %w", caseID, err)
	}
	out := make([]Event, 0, len(rows))
	for _, r := range rows {
		out = append(out, eventFromRow(r))
	}
	return out, nil
}

// Guild is what the store knows of a guild.
type Guild struct {
	ID        int64
	CaseCount int64
	JoinedAt  time.Time
	// LeftAt is when the bot left; zero while it is in the guild. Leaving never deletes cases.
	LeftAt time.Time
}

// GuildJoined records that the bot is in a guild (again).
func (s *Service) GuildJoined(ctx context.Context, guildID discord.GuildID, at time.Time) error {
	if err := checkID("guild", guildID); err != nil {
		return err
	}
	if err := s.st.WriteQueries().GuildJoined(ctx, query.GuildJoinedParams{ID: int64(guildID), JoinedAt: at.UnixMilli()}); err != nil {
		return fmt.Errorf("guild %d joined: %w", guildID, err)
	}
	return nil
}

// GuildLeft records that the bot left a guild. Its cases stay.
func (s *Service) GuildLeft(ctx context.Context, guildID discord.GuildID, at time.Time) error {
	if err := checkID("guild", guildID); err != nil {
		return err
	}
	if _, err := s.st.WriteQueries().GuildLeft(ctx, query.GuildLeftParams{ID: int64(guildID), LeftAt: sql.NullInt64{Int64: at.UnixMilli(), Valid: true}}); err != nil {
		return fmt.Errorf("guild %d left: %w", guildID, err)
	}
	return nil
}

// Guild returns what the store knows of a guild, or ErrNotFound.
func (s *Service) Guild(ctx context.Context, guildID discord.GuildID) (Guild, error) {
	if err := checkID("guild", int64(guildID)); err != nil {
		return Guild{}, err
	}
	g, err := s.read.GetGuild(ctx, int64(guildID))
	if err != nil {
		return Guild{}, notFound(err, fmt.Sprintf("guild %d", guildID))
	}
	out := Guild{ID: g.ID, CaseCount: g.CaseCount, JoinedAt: time.UnixMilli(g.JoinedAt).UTC()}
	if g.LeftAt.Valid {
		out.LeftAt = time.UnixMilli(g.LeftAt.Int64).UTC()
	}
	return out, nil
}

func notFound(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func checkTypes(types []Type) error {
	for _, t := range types {
		if !t.Valid() {
			return input.Invalid("type", fmt.Sprintf("%q is not a case type; accepted: %s", t, typeList()))
		}
	}
	return nil
}

func typeNames(types []Type) []string {
	out := make([]string, len(types))
	for i, t := range types {
		out[i] = string(t)
	}
	return out
}

func fromRows(rows []query.Case) ([]Case, error) {
	out := make([]Case, 0, len(rows))
	for _, r := range rows {
		c, err := fromRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func fromRow(r query.Case) (Case, error) {
	c := Case{
		ID: r.ID, GuildID: discord.GuildID(r.GuildID), Number: r.Number, Type: Type(r.Type), Status: Status(r.Status),
		Processed: r.Processed, Reason: r.Reason, ModeratorID: discord.UserID(r.ModeratorID), UserID: discord.UserID(r.UserID),
		CreatedAt: time.UnixMilli(r.CreatedAt).UTC(), UpdatedAt: time.UnixMilli(r.UpdatedAt).UTC(),
	}
	if r.ExpiresAt.Valid {
		c.ExpiresAt = time.UnixMilli(r.ExpiresAt.Int64).UTC()
	}
	if r.ModlogMessageID.Valid {
		c.ModlogMessageID = discord.MessageID(r.ModlogMessageID.Int64)
	}
	if r.ModlogChannelID.Valid {
		c.ModlogChannelID = discord.ChannelID(r.ModlogChannelID.Int64)
	}
	var roles []string
	if err := json.Unmarshal([]byte(r.RoleIds), &roles); err != nil {
		return Case{}, fmt.Errorf("case %d: role ids %q: %w", r.ID, r.RoleIds, err)
	}
	for _, s := range roles {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Case{}, fmt.Errorf("case %d: role id %q: %w", r.ID, s, err)
		}
		c.RoleIDs = append(c.RoleIDs, discord.RoleID(id))
	}
	if err := json.Unmarshal([]byte(r.Metadata), &c.Metadata); err != nil {
		return Case{}, fmt.Errorf("case %d: metadata: %w", r.ID, err)
	}
	if len(c.Metadata) == 0 {
		c.Metadata = nil
	}
	return c, nil
}

func eventFromRow(r query.CaseEvent) Event {
	return Event{ID: r.ID, CaseID: r.CaseID, GuildID: discord.GuildID(r.GuildID), Kind: EventKind(r.Kind), ActorID: discord.UserID(r.ActorID),
		Old: r.OldValue.String, New: r.NewValue.String, Note: r.Note.String, At: time.UnixMilli(r.CreatedAt).UTC()}
}

// roleJSON stores snowflakes as JSON strings, as Discord does, so no reader loses precision.
func roleJSON(ids []discord.RoleID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(int64(id), 10)
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func metadataJSON(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func nullMS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// PresentGuilds lists the guilds the bot is in, as the process holding the gateway recorded
// them (joined and not left): what a process without a gateway (gavel web) serves.
func (s *Service) PresentGuilds(ctx context.Context) ([]discord.GuildID, error) {
	ids, err := s.read.PresentGuilds(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the guilds: %w", err)
	}
	out := make([]discord.GuildID, len(ids))
	for i, id := range ids {
		out[i] = discord.GuildID(id)
	}
	return out, nil
}
