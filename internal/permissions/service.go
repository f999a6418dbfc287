package permissions

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/guildcache"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// DefaultCacheTTL is how long a guild's ranks are served from memory. A change made in this
// process is seen at once; one made by another process sharing the database is seen here
// within this long.
const DefaultCacheTTL = 30 * time.Second

// Service keeps each guild's ranks, role ranks and command ranks, and decides with Check. It
// is safe for concurrent use, also by several processes sharing one database.
type Service struct {
	st        *store.Store
	read      query.Queries
	now       func() time.Time
	ttl       time.Duration
	known     map[string]bool
	native    map[string]Permission
	botOwners map[discord.UserID]bool
	// open are the commands every member may use until the guild requires a rank for them.
	open map[string]bool
	// defaults are the command ranks InitRanks sets (WithDefaultCommandRanks).
	defaults map[string]int
	cache    *guildcache.Cache[*snapshot]
	optErr   error
}

// Option configures a Service.
type Option func(*Service)

// WithBotOwners names the users who pass every check in every guild: the people running
// gavel. Ids must be positive.
func WithBotOwners(ids ...discord.UserID) Option {
	return func(s *Service) {
		for _, id := range ids {
			if id <= 0 {
				s.optErr = errors.Join(s.optErr, input.Invalid("bot owner", fmt.Sprintf("%d is not a Discord id; ids are positive numbers", id)))
				continue
			}
			s.botOwners[id] = true
		}
	}
}

// WithNativePermissions adds entries to (or replaces entries of) the fallback table: the
// Discord permission each command needs in a guild without ranks. The commands declare it
// themselves (each moderation action and each tool); the wiring hands their table here. A
// subcommand not listed uses its parent's entry; a command with none in its chain needs
// Manage Server (DefaultNativePermission).
func WithNativePermissions(table map[string]Permission) Option {
	return func(s *Service) {
		for cmd, p := range table {
			if err := checkCommandName(cmd); err != nil {
				s.optErr = errors.Join(s.optErr, fmt.Errorf("native permission table: %w", err))
				continue
			}
			if p == 0 {
				s.optErr = errors.Join(s.optErr, input.Invalid("native permission table", fmt.Sprintf("%q needs no permission; give it at least one, or leave it out to require Manage Server", cmd)))
				continue
			}
			s.native[cmd] = p
		}
	}
}

// WithDefaultCommandRanks names the rank each command requires once a guild runs
// InitRanks (`config ranks init`): the commands declare theirs (commands.Spec.Rank) and the
// wiring hands the table here. A subcommand left out requires its parent's.
func WithDefaultCommandRanks(table map[string]int) Option {
	return func(s *Service) {
		for cmd, rank := range table {
			if err := errors.Join(checkCommandName(cmd), checkRank(rank)); err != nil {
				s.optErr = errors.Join(s.optErr, fmt.Errorf("default command ranks: %w", err))
				continue
			}
			s.defaults[cmd] = rank
		}
	}
}

// WithOpenCommands names commands every member may use, in a guild with ranks or without,
// until the guild requires a rank for one of them or a parent (`config commands set`): using
// and managing one's own snippets. The commands declare it (commands.Spec.Open); a
// subcommand is open only when named here itself.
func WithOpenCommands(names ...string) Option {
	return func(s *Service) {
		for _, cmd := range names {
			if err := checkCommandName(cmd); err != nil {
				s.optErr = errors.Join(s.optErr, fmt.Errorf("open commands: %w", err))
				continue
			}
			s.open[cmd] = true
		}
	}
}

// WithClock makes the service read the time from now instead of the system clock.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithCacheTTL sets how long a guild's ranks are cached (DefaultCacheTTL when not given).
// Zero turns the cache off, so every Check reads the database.
func WithCacheTTL(d time.Duration) Option { return func(s *Service) { s.ttl = d } }

// New returns the permission service over a migrated store. knownCommands are the full names
// of every command that can be given a rank ("ban", "cases modify", …); their parents
// ("cases") are known too. They come from the command catalogue, which lives elsewhere.
func New(st *store.Store, knownCommands []string, opts ...Option) (*Service, error) {
	s := &Service{
		st: st, read: st.Queries(), now: time.Now, ttl: DefaultCacheTTL,
		known: map[string]bool{}, native: map[string]Permission{}, botOwners: map[discord.UserID]bool{}, defaults: map[string]int{},
		open: map[string]bool{},
	}
	for _, o := range opts {
		o(s)
	}
	for _, c := range knownCommands {
		if err := checkCommandName(c); err != nil {
			s.optErr = errors.Join(s.optErr, fmt.Errorf("known commands: %w", err))
			continue
		}
		for _, name := range chain(c) {
			s.known[name] = true
		}
	}
	for cmd := range s.open {
		if !s.known[cmd] {
			s.optErr = errors.Join(s.optErr, fmt.Errorf("open commands: %q is not a known command", cmd))
		}
	}
	for cmd := range s.defaults {
		if !s.known[cmd] {
			s.optErr = errors.Join(s.optErr, fmt.Errorf("default command ranks: %q is not a known command", cmd))
		}
	}
	if s.optErr != nil {
		return nil, fmt.Errorf("permissions: %w", s.optErr)
	}
	s.cache = guildcache.New[*snapshot](s.ttl, 0, s.now)
	// A change made by another process (store.Tx.Announce) is forgotten here too.
	st.OnChange(store.TopicPermissions, s.cache.Changed)
	return s, nil
}

// Commands returns every command that can be given a rank, parents included, sorted.
func (s *Service) Commands() []string { return sortedKeys(s.known) }

// NativePermission returns the Discord permission command needs in a guild without ranks:
// its own entry in the fallback table, else its nearest parent's, else Manage Server.
func (s *Service) NativePermission(command string) Permission {
	for _, c := range chain(command) {
		if p, ok := s.native[c]; ok {
			return p
		}
	}
	return DefaultNativePermission
}

// snapshot is everything Check needs to know about one guild. It is shared through the
// cache and never modified after it is built.
type snapshot struct {
	ranks    []Rank
	byNumber map[int]Rank
	roles    []RoleRank
	byRole   map[discord.RoleID]int
	commands []CommandRank
	byName   map[string]int
}

func (s *Service) snapshot(ctx context.Context, guildID discord.GuildID) (*snapshot, error) {
	return s.cache.Get(ctx, guildID, func(ctx context.Context) (*snapshot, error) {
		ranks, err := s.read.ListRanks(ctx, int64(guildID))
		if err != nil {
			return nil, fmt.Errorf("ranks of guild %d: %w", guildID, err)
		}
		roles, err := s.read.ListRoleRanks(ctx, int64(guildID))
		if err != nil {
			return nil, fmt.Errorf("role ranks of guild %d: %w", guildID, err)
		}
		cmds, err := s.read.ListCommandRanks(ctx, int64(guildID))
		if err != nil {
			return nil, fmt.Errorf("command ranks of guild %d: %w", guildID, err)
		}
		snap := &snapshot{byNumber: map[int]Rank{}, byRole: map[discord.RoleID]int{}, byName: map[string]int{}}
		for _, r := range ranks {
			rk := rankFromRow(r)
			snap.ranks = append(snap.ranks, rk)
			snap.byNumber[rk.Number] = rk
		}
		for _, r := range roles {
			snap.roles = append(snap.roles, RoleRank{RoleID: discord.RoleID(r.RoleID), Rank: int(r.Rank)})
			snap.byRole[discord.RoleID(r.RoleID)] = int(r.Rank)
		}
		for _, c := range cmds {
			snap.commands = append(snap.commands, CommandRank{Command: c.Command, Rank: int(c.Rank)})
			snap.byName[c.Command] = int(c.Rank)
		}
		return snap, nil
	})
}

// Ranks returns the guild's ranks, lowest first.
func (s *Service) Ranks(ctx context.Context, guildID discord.GuildID) ([]Rank, error) {
	if err := checkID("guild", guildID); err != nil {
		return nil, err
	}
	snap, err := s.snapshot(ctx, guildID)
	if err != nil {
		return nil, err
	}
	return slices.Clone(snap.ranks), nil
}

// RoleRanks returns the guild's role assignments, highest rank first.
func (s *Service) RoleRanks(ctx context.Context, guildID discord.GuildID) ([]RoleRank, error) {
	if err := checkID("guild", guildID); err != nil {
		return nil, err
	}
	snap, err := s.snapshot(ctx, guildID)
	if err != nil {
		return nil, err
	}
	return slices.Clone(snap.roles), nil
}

// CommandRanks returns the ranks the guild requires for its commands, by name.
func (s *Service) CommandRanks(ctx context.Context, guildID discord.GuildID) ([]CommandRank, error) {
	if err := checkID("guild", guildID); err != nil {
		return nil, err
	}
	snap, err := s.snapshot(ctx, guildID)
	if err != nil {
		return nil, err
	}
	return slices.Clone(snap.commands), nil
}

// InitRanks creates those of DefaultRanks the guild does not have yet, and gives every
// command of the default command ranks (WithDefaultCommandRanks) that has no rank of its
// own its default one, so that a guild switched to ranks is not closed to all but its
// owner. It returns what it created and set. It never changes an existing rank or command
// rank, and skips a default whose name another rank already uses; run again, it does
// nothing and returns nothing. Every rank and command rank it writes is a history row.
func (s *Service) InitRanks(ctx context.Context, guildID discord.GuildID, actor discord.UserID) ([]Rank, []CommandRank, error) {
	if err := errors.Join(checkID("guild", guildID), checkID("actor", actor)); err != nil {
		return nil, nil, err
	}
	var created []Rank
	var set []CommandRank
	err := s.write(ctx, guildID, actor, "create the default ranks", func(c *change) error {
		created, set = nil, nil // a retried transaction starts over
		rows, err := c.q.ListRanks(ctx, int64(guildID))
		if err != nil {
			return fmt.Errorf("list ranks: %w", err)
		}
		ranks := ranksFromRows(rows)
		for _, d := range DefaultRanks() {
			if _, ok := rankByNumber(ranks, d.Number); ok {
				continue
			}
			if _, taken := rankByName(ranks, d.Name); taken {
				continue
			}
			if err := c.putRank(Rank{}, d); err != nil {
				return err
			}
			ranks = append(ranks, d)
			created = append(created, d)
		}
		cmds, err := c.q.ListCommandRanks(ctx, int64(guildID))
		if err != nil {
			return fmt.Errorf("list command ranks: %w", err)
		}
		for _, name := range sortedKeys(s.defaults) {
			if slices.ContainsFunc(cmds, func(r query.CommandRank) bool { return r.Command == name }) {
				continue
			}
			rank := s.defaults[name]
			if err := c.q.UpsertCommandRank(ctx, query.UpsertCommandRankParams{GuildID: int64(guildID), Command: name, Rank: int64(rank)}); err != nil {
				return fmt.Errorf("set command rank: %w", err)
			}
			if err := c.record(commandKey(name), "", strconv.Itoa(rank)); err != nil {
				return err
			}
			set = append(set, CommandRank{Command: name, Rank: rank})
		}
		if len(created) == 0 && len(set) == 0 {
			return errNothingToDo
		}
		return nil
	})
	if errors.Is(err, errNothingToDo) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return created, set, nil
}

// SetRank creates rank number or renames it. Names are unique within a guild, ignoring
// letter case; surrounding spaces are trimmed.
func (s *Service) SetRank(ctx context.Context, guildID discord.GuildID, actor discord.UserID, number int, name, description string) (Rank, error) {
	if err := errors.Join(checkID("guild", guildID), checkID("actor", actor), checkRank(number)); err != nil {
		return Rank{}, err
	}
	name, err := cleanName(name)
	if err != nil {
		return Rank{}, err
	}
	description, err = cleanDescription(description)
	if err != nil {
		return Rank{}, err
	}
	want := Rank{Number: number, Name: name, Description: description}
	err = s.write(ctx, guildID, actor, fmt.Sprintf("set rank %d", number), func(c *change) error {
		rows, err := c.q.ListRanks(ctx, int64(guildID))
		if err != nil {
			return fmt.Errorf("list ranks: %w", err)
		}
		ranks := ranksFromRows(rows)
		if other, taken := rankByName(ranks, name); taken && other.Number != number {
			return input.Invalid("rank name", fmt.Sprintf("%q is already the name of rank %d; accepted: a name no other rank of this server has", name, other.Number))
		}
		old, _ := rankByNumber(ranks, number)
		if old == want {
			return fmt.Errorf("rank %d is already %q with that description: %w", number, name, input.ErrUnchanged)
		}
		return c.putRank(old, want)
	})
	if err != nil {
		return Rank{}, err
	}
	return want, nil
}

// DeleteRank deletes a rank and, with it, every role assignment to it (each recorded in the
// history). It returns the deleted rank and the roles that lost it. Commands that require the
// rank keep requiring it.
func (s *Service) DeleteRank(ctx context.Context, guildID discord.GuildID, actor discord.UserID, number int) (Rank, []int64, error) {
	if err := errors.Join(checkID("guild", guildID), checkID("actor", actor), checkRank(number)); err != nil {
		return Rank{}, nil, err
	}
	var deleted Rank
	var roles []int64
	err := s.write(ctx, guildID, actor, fmt.Sprintf("delete rank %d", number), func(c *change) error {
		rows, err := c.q.ListRanks(ctx, int64(guildID))
		if err != nil {
			return fmt.Errorf("list ranks: %w", err)
		}
		var ok bool
		if deleted, ok = rankByNumber(ranksFromRows(rows), number); !ok {
			return fmt.Errorf("rank %d does not exist in this server: %w", number, ErrNotFound)
		}
		assigned, err := c.q.ListRoleRanks(ctx, int64(guildID))
		if err != nil {
			return fmt.Errorf("list role ranks: %w", err)
		}
		for _, a := range assigned {
			if int(a.Rank) != number {
				continue
			}
			roles = append(roles, a.RoleID)
			if err := c.record(roleKey(a.RoleID), strconv.Itoa(number), ""); err != nil {
				return err
			}
		}
		if _, err := c.q.DeleteRank(ctx, query.DeleteRankParams{GuildID: int64(guildID), Rank: int64(number)}); err != nil {
			return fmt.Errorf("delete rank: %w", err)
		}
		if err := c.record(rankKey(number), deleted.Name, ""); err != nil {
			return err
		}
		if deleted.Description != "" {
			return c.record(rankDescriptionKey(number), deleted.Description, "")
		}
		return nil
	})
	if err != nil {
		return Rank{}, nil, err
	}
	return deleted, roles, nil
}

// AssignRole gives a role a rank (replacing the one it had). The rank must exist. The
// @everyone role, whose id is the guild's, can be given a rank: every member then has it.
func (s *Service) AssignRole(ctx context.Context, guildID discord.GuildID, actor discord.UserID, roleID discord.RoleID, rank int) error {
	if err := errors.Join(checkID("guild", guildID), checkID("actor", actor), checkID("role", roleID), checkRank(rank)); err != nil {
		return err
	}
	return s.write(ctx, guildID, actor, fmt.Sprintf("assign rank %d to role %d", rank, roleID), func(c *change) error {
		rows, err := c.q.ListRanks(ctx, int64(guildID))
		if err != nil {
			return fmt.Errorf("list ranks: %w", err)
		}
		ranks := ranksFromRows(rows)
		if _, ok := rankByNumber(ranks, rank); !ok {
			return input.Invalid("rank", missingRank(rank, ranks))
		}
		assigned, err := c.q.ListRoleRanks(ctx, int64(guildID))
		if err != nil {
			return fmt.Errorf("list role ranks: %w", err)
		}
		old := ""
		for _, a := range assigned {
			if discord.RoleID(a.RoleID) == roleID {
				if int(a.Rank) == rank {
					return fmt.Errorf("role %d already has rank %d: %w", roleID, rank, input.ErrUnchanged)
				}
				old = strconv.Itoa(int(a.Rank))
			}
		}
		if err := c.q.UpsertRoleRank(ctx, query.UpsertRoleRankParams{GuildID: int64(guildID), RoleID: int64(roleID), Rank: int64(rank)}); err != nil {
			return fmt.Errorf("assign role: %w", err)
		}
		return c.record(roleKey(int64(roleID)), old, strconv.Itoa(rank))
	})
}

// UnassignRole takes a role's rank away. It returns ErrNotFound when the role has none.
func (s *Service) UnassignRole(ctx context.Context, guildID discord.GuildID, actor discord.UserID, roleID discord.RoleID) error {
	if err := errors.Join(checkID("guild", guildID), checkID("actor", actor), checkID("role", roleID)); err != nil {
		return err
	}
	return s.write(ctx, guildID, actor, fmt.Sprintf("unassign role %d", roleID), func(c *change) error {
		assigned, err := c.q.ListRoleRanks(ctx, int64(guildID))
		if err != nil {
			return fmt.Errorf("list role ranks: %w", err)
		}
		i := slices.IndexFunc(assigned, func(a query.RoleRank) bool { return discord.RoleID(a.RoleID) == roleID })
		if i < 0 {
			return fmt.Errorf("role %d has no rank: %w", roleID, ErrNotFound)
		}
		if _, err := c.q.DeleteRoleRank(ctx, query.DeleteRoleRankParams{GuildID: int64(guildID), RoleID: int64(roleID)}); err != nil {
			return fmt.Errorf("unassign role: %w", err)
		}
		return c.record(roleKey(int64(roleID)), strconv.Itoa(int(assigned[i].Rank)), "")
	})
}

// SetCommandRank sets the rank a command requires; its subcommands without a rank of their
// own require it too. command is a known command's full name, in any letter case. The rank
// need not exist yet: until a role holds it or a higher one, only the owners pass.
func (s *Service) SetCommandRank(ctx context.Context, guildID discord.GuildID, actor discord.UserID, command string, rank int) error {
	if err := errors.Join(checkID("guild", guildID), checkID("actor", actor), checkRank(rank)); err != nil {
		return err
	}
	name, err := s.knownCommand(command)
	if err != nil {
		return err
	}
	return s.write(ctx, guildID, actor, fmt.Sprintf("set the rank of %s", name), func(c *change) error {
		old, err := c.commandRank(name)
		if err != nil {
			return err
		}
		if old == strconv.Itoa(rank) {
			return fmt.Errorf("%s already requires rank %d: %w", name, rank, input.ErrUnchanged)
		}
		if err := c.q.UpsertCommandRank(ctx, query.UpsertCommandRankParams{GuildID: int64(guildID), Command: name, Rank: int64(rank)}); err != nil {
			return fmt.Errorf("set command rank: %w", err)
		}
		return c.record(commandKey(name), old, strconv.Itoa(rank))
	})
}

// ClearCommandRank removes a command's own rank, so that it falls back to its parent's. It
// returns ErrNotFound when the command has none of its own.
func (s *Service) ClearCommandRank(ctx context.Context, guildID discord.GuildID, actor discord.UserID, command string) error {
	if err := errors.Join(checkID("guild", guildID), checkID("actor", actor)); err != nil {
		return err
	}
	name, err := s.knownCommand(command)
	if err != nil {
		return err
	}
	return s.write(ctx, guildID, actor, fmt.Sprintf("clear the rank of %s", name), func(c *change) error {
		old, err := c.commandRank(name)
		if err != nil {
			return err
		}
		if old == "" {
			return fmt.Errorf("%s has no rank of its own: %w", name, ErrNotFound)
		}
		if _, err := c.q.DeleteCommandRank(ctx, query.DeleteCommandRankParams{GuildID: int64(guildID), Command: name}); err != nil {
			return fmt.Errorf("clear command rank: %w", err)
		}
		return c.record(commandKey(name), old, "")
	})
}

func (s *Service) knownCommand(command string) (string, error) {
	name, err := ParseCommand(command)
	if err != nil {
		return "", err
	}
	if !s.known[name] {
		return "", input.Invalid("command", fmt.Sprintf("%q is not a gavel command; accepted: %s", name, strings.Join(s.Commands(), ", ")))
	}
	return name, nil
}

// errNothingToDo rolls back a write that turned out to have nothing to write.
var errNothingToDo = errors.New("nothing to do")

// change is one configuration transaction of one guild, holding the guild's lock.
type change struct {
	ctx     context.Context
	q       query.Queries
	guildID discord.GuildID
	actor   discord.UserID
	now     int64
}

// write runs fn in a transaction that holds the guild's configuration lock, then forgets the
// cached snapshot. Errors that describe the input (invalid, unchanged, not found) come back
// as they are, for the caller to show; others are wrapped with what was being done.
func (s *Service) write(ctx context.Context, guildID discord.GuildID, actor discord.UserID, what string, fn func(c *change) error) error {
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		c := &change{ctx: tx.Context(), q: tx.Queries(), guildID: guildID, actor: actor, now: s.now().UnixMilli()}
		if _, err := settings.LockGuild(tx, guildID, c.now); err != nil {
			return err
		}
		if err := fn(c); err != nil {
			return err
		}
		return tx.Announce(store.TopicPermissions, int64(guildID))
	})
	switch {
	case err == nil:
		s.cache.Invalidate(guildID)
		return nil
	case errors.Is(err, input.ErrInvalid), errors.Is(err, input.ErrUnchanged), errors.Is(err, ErrNotFound), errors.Is(err, errNothingToDo):
		return err
	default:
		return fmt.Errorf("%s in guild %d: %w", what, guildID, err)
	}
}

// record appends one row to the guild's permission history; "" stores NULL ("not set").
func (c *change) record(key, before, after string) error {
	err := c.q.InsertPermissionEvent(c.ctx, query.InsertPermissionEventParams{
		GuildID: int64(c.guildID), ActorID: int64(c.actor), Key: key,
		OldValue: sql.NullString{String: before, Valid: before != ""}, NewValue: sql.NullString{String: after, Valid: after != ""},
		CreatedAt: c.now,
	})
	if err != nil {
		return fmt.Errorf("record %s: %w", key, err)
	}
	return nil
}

// MaxHistory is the most history rows one History call returns.
const MaxHistory = 1000

// History returns the guild's most recent permission changes, newest first, at most limit:
// rows shaped like the settings' own, with keys "rank N", "rank N description", "role ID"
// and "command NAME".
func (s *Service) History(ctx context.Context, guildID discord.GuildID, limit int) ([]settings.Event, error) {
	if err := checkID("guild", guildID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxHistory {
		return nil, input.Invalid("limit", fmt.Sprintf("%d is out of range; accepted: 1 to %d", limit, MaxHistory))
	}
	rows, err := s.read.PermissionEvents(ctx, query.PermissionEventsParams{GuildID: int64(guildID), Limit: int64(limit)})
	if err != nil {
		return nil, fmt.Errorf("permission history of guild %d: %w", guildID, err)
	}
	out := make([]settings.Event, 0, len(rows))
	for _, r := range rows {
		out = append(out, settings.Event{ID: r.ID, GuildID: discord.GuildID(r.GuildID), ActorID: discord.UserID(r.ActorID), Key: r.Key,
			Old: r.OldValue.String, New: r.NewValue.String, At: time.UnixMilli(r.CreatedAt).UTC()})
	}
	return out, nil
}

// putRank writes want over old (the zero Rank when there was none) and records what changed.
func (c *change) putRank(old, want Rank) error {
	err := c.q.UpsertRank(c.ctx, query.UpsertRankParams{GuildID: int64(c.guildID), Rank: int64(want.Number), Name: want.Name, Description: want.Description})
	if err != nil {
		return fmt.Errorf("write rank %d: %w", want.Number, err)
	}
	if old.Name != want.Name {
		if err := c.record(rankKey(want.Number), old.Name, want.Name); err != nil {
			return err
		}
	}
	if old.Description != want.Description {
		return c.record(rankDescriptionKey(want.Number), old.Description, want.Description)
	}
	return nil
}

// commandRank is the command's own rank as history text, "" when it has none.
func (c *change) commandRank(name string) (string, error) {
	rows, err := c.q.ListCommandRanks(c.ctx, int64(c.guildID))
	if err != nil {
		return "", fmt.Errorf("list command ranks: %w", err)
	}
	for _, r := range rows {
		if r.Command == name {
			return strconv.Itoa(int(r.Rank)), nil
		}
	}
	return "", nil
}

func rankKey(n int) string            { return "rank " + strconv.Itoa(n) }
func rankDescriptionKey(n int) string { return "rank " + strconv.Itoa(n) + " description" }
func roleKey(id int64) string         { return "role " + strconv.FormatInt(id, 10) }
func commandKey(name string) string   { return "command " + name }

func rankFromRow(r query.PermissionRank) Rank {
	return Rank{Number: int(r.Rank), Name: r.Name, Description: r.Description}
}

func ranksFromRows(rows []query.PermissionRank) []Rank {
	out := make([]Rank, 0, len(rows))
	for _, r := range rows {
		out = append(out, rankFromRow(r))
	}
	return out
}

func rankByNumber(ranks []Rank, n int) (Rank, bool) {
	for _, r := range ranks {
		if r.Number == n {
			return r, true
		}
	}
	return Rank{}, false
}

func rankByName(ranks []Rank, name string) (Rank, bool) {
	for _, r := range ranks {
		if strings.EqualFold(r.Name, name) {
			return r, true
		}
	}
	return Rank{}, false
}

func missingRank(n int, ranks []Rank) string {
	if len(ranks) == 0 {
		return fmt.Sprintf("rank %d does not exist: this server has no ranks yet; create them first (the default ones, or one at a time)", n)
	}
	have := make([]string, 0, len(ranks))
	for _, r := range ranks {
		have = append(have, fmt.Sprintf("%d (%s)", r.Number, r.Name))
	}
	return fmt.Sprintf("rank %d does not exist in this server; accepted: %s, or create rank %d first", n, strings.Join(have, ", "), n)
}
