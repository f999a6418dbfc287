package escalation

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// Metadata keys escalation reads and writes on cases.
const (
	// MetaPoints on a new case gives it that many points, whatever its type's weight (an
	// AutoMod rule's points).
	MetaPoints = cases.MetaPoints
	// MetaFiring marks a case an escalation made (the firing's id): it carries no points,
	// or an escalation would feed itself.
	MetaFiring = "escalation_firing"
	// MetaTrigger is the number of the case that triggered an escalation case.
	MetaTrigger = "escalation_of"
)

// Firing states (escalation_firings.state).
const (
	StateQueued   = "queued"
	StateRunning  = "running"
	StateDone     = "done"
	StateFailed   = "failed"
	StatePending  = "pending"
	StateAwaiting = "awaiting_approval"
	StateApproved = "approved"
	StateDenied   = "denied"
	StateExpired  = "expired"
	StateSkipped  = "skipped"
)

// Service keeps the guilds' escalation settings, the points on cases and the firings. As a
// cases.ChangeObserver it evaluates every case change inside the transaction that writes it.
type Service struct {
	st   *store.Store
	read query.Queries
	now  func() time.Time
	log  *slog.Logger
	// fired hears of each firing that has an action to take, after its transaction commits.
	fired func(Firing)
	// parsed keeps each guild's settings as last parsed, with the text they were parsed
	// from: the evaluation still reads the settings in its transaction (a change committed
	// elsewhere is seen at once), but parses them only when the text differs.
	parsedMu sync.Mutex
	parsed   map[discord.GuildID]parsedConfig
	// evaluated keeps, per guild, the settings text the guild's last committed evaluation
	// read in its transaction and the cases it evaluated with it, so that the standing shown
	// for one of those cases (Standing) is computed from the settings the case was evaluated
	// with, without reading them again (a read on every command: docs/benchmarks.md, issue
	// 11, session 10). Guarded by parsedMu.
	evaluated map[discord.GuildID]evaluatedConfig
}

// evaluatedConfig is the settings text an evaluation read ("": none) and the cases it
// evaluated in the guild.
type evaluatedConfig struct {
	text  string
	cases []int64
}

// parsedConfig is a guild's settings and the stored text they were parsed from.
type parsedConfig struct {
	text string
	cfg  Config
	// md5 is the text's (hex), by which the statement that reads a case checks that the
	// settings a guess was made from are the stored ones (guess); top is cfg's highest
	// threshold of an enabled policy.
	md5 string
	top int64
}

// Option configures a Service.
type Option func(*Service)

// WithClock makes the service read the time from now.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithLogger sets where the service logs.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// NewService returns the escalation service over a migrated store.
func NewService(st *store.Store, opts ...Option) *Service {
	s := &Service{st: st, read: st.Queries(), now: time.Now, log: slog.New(slog.DiscardHandler), parsed: map[discord.GuildID]parsedConfig{},
		evaluated: map[discord.GuildID]evaluatedConfig{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// OnFired makes the service call f with every firing that has an action to run or to
// approve, once the transaction that fired it has committed (the Runner).
func (s *Service) OnFired(f func(Firing)) { s.fired = f }

// Now is the service's clock reading.
func (s *Service) Now() time.Time { return s.now() }

// Config returns a guild's settings and their version (0 and the zero Config when none were
// ever set).
func (s *Service) Config(ctx context.Context, guildID discord.GuildID) (Config, int64, error) {
	return configOf(ctx, s.read, guildID)
}

func configOf(ctx context.Context, q query.Queries, guildID discord.GuildID) (Config, int64, error) {
	row, err := storedSettings(ctx, q, guildID)
	if err != nil || row == (query.EscalationConfig{}) {
		return Config{}, 0, err
	}
	var c Config
	if err := json.Unmarshal([]byte(row.Config), &c); err != nil {
		return Config{}, 0, fmt.Errorf("escalation settings of guild %d: %w", guildID, err)
	}
	return c, row.Version, nil
}

// storedSettings reads a guild's stored settings row through q (the zero row when none
// were ever set).
func storedSettings(ctx context.Context, q query.Queries, guildID discord.GuildID) (query.EscalationConfig, error) {
	row, err := q.GetEscalationConfig(ctx, int64(guildID))
	if errors.Is(err, sql.ErrNoRows) {
		return query.EscalationConfig{}, nil
	}
	if err != nil {
		return query.EscalationConfig{}, fmt.Errorf("escalation settings of guild %d: %w", guildID, err)
	}
	return row, nil
}

// parseConfig parses a guild's settings as stored ("": none) for the evaluation, which
// runs on every case change: the evaluation reads the text in its transaction (so a change
// committed elsewhere is seen at once), but the copy parsed from the same text before is
// reused (the evaluation only reads it).
func (s *Service) parseConfig(guildID discord.GuildID, text string) (Config, error) {
	if text == "" {
		return Config{}, nil
	}
	s.parsedMu.Lock()
	p, ok := s.parsed[guildID]
	s.parsedMu.Unlock()
	if ok && p.text == text {
		return p.cfg, nil
	}
	var c Config
	if err := json.Unmarshal([]byte(text), &c); err != nil {
		return Config{}, fmt.Errorf("escalation settings of guild %d: %w", guildID, err)
	}
	sum := md5.Sum([]byte(text))
	s.parsedMu.Lock()
	s.parsed[guildID] = parsedConfig{text: text, cfg: c, md5: hex.EncodeToString(sum[:]), top: int64(c.MaxAt())}
	s.parsedMu.Unlock()
	return c, nil
}

// noteEvaluated records, once tx commits, that the guild's changed cases were evaluated
// with the settings text (see Service.evaluated).
func (s *Service) noteEvaluated(tx *store.Tx, guildID discord.GuildID, changed []cases.Changed, text string) {
	ids := make([]int64, len(changed))
	for i, ch := range changed {
		ids[i] = ch.ID
	}
	tx.AfterCommit(func() {
		s.parsedMu.Lock()
		s.evaluated[guildID] = evaluatedConfig{text: text, cases: ids}
		s.parsedMu.Unlock()
	})
}

// idleSettings returns the settings text ("": none) the guild's last committed evaluation
// read, when those settings do nothing (no enabled policy to count points for); false when
// they do or the guild has not been evaluated since the start.
func (s *Service) idleSettings(guildID discord.GuildID) (string, bool) {
	s.parsedMu.Lock()
	e, ok := s.evaluated[guildID]
	s.parsedMu.Unlock()
	if !ok {
		return "", false
	}
	cfg, err := s.parseConfig(guildID, e.text)
	return e.text, err == nil && cfg.Empty()
}

// evaluatedConfig returns the settings case id of the guild was last evaluated with, when
// the guild's last committed evaluation was that case's; false otherwise.
func (s *Service) evaluatedConfig(guildID discord.GuildID, caseID int64) (Config, bool) {
	s.parsedMu.Lock()
	e, ok := s.evaluated[guildID]
	s.parsedMu.Unlock()
	if !ok || !slices.Contains(e.cases, caseID) {
		return Config{}, false
	}
	cfg, err := s.parseConfig(guildID, e.text)
	return cfg, err == nil
}

// guess prepares the evaluation of a transaction's only changed case in a guild, a case
// that may have started counting, so that its points row is written by the statement that
// reads the case (EscalationCaseAddingPoints) instead of by one after it: on PostgreSQL that
// round trip was one of the two things escalation still cost a warning (docs/benchmarks.md,
// issue 15; the other was the guild row's lock, migration 00029). The points
// are computed from the settings last parsed for the guild and the case as the transaction
// wrote it (ch.Case); the statement writes the row only when the stored settings (by their
// md5) and case are those, and otherwise only reads. ok is false when there is nothing to
// guess: no settings parsed yet, a case that was counting already or carries no points.
//
// text is the settings' text the guess was made from: the statement returns the stored text
// only when it is another (ConfigSame says it is this one).
func (s *Service) guess(guildID discord.GuildID, ch cases.Changed, nowMS int64) (g query.EscalationCaseAddingPointsParams, text string, ok bool) {
	if ch.Before != "" && ch.Before != cases.Pending {
		return g, "", false
	}
	s.parsedMu.Lock()
	p, ok := s.parsed[guildID]
	s.parsedMu.Unlock()
	if !ok || p.cfg.Empty() {
		return g, "", false
	}
	c := ch.Case
	pts, until, ok := pointsFor(p.cfg, c.Type, c.Reason, c.Metadata, c.CreatedAt)
	if !ok || until.UnixMilli() <= nowMS {
		return g, "", false
	}
	meta := []byte("{}") // as the cases package stores metadata
	if len(c.Metadata) > 0 {
		var err error
		if meta, err = json.Marshal(c.Metadata); err != nil {
			return g, "", false
		}
	}
	return query.EscalationCaseAddingPointsParams{ID: ch.ID, Now: nowMS, ConfigMd5: p.md5, Type: string(c.Type), Reason: c.Reason,
		Metadata: string(meta), CreatedAt: c.CreatedAt.UnixMilli(), Points: int64(pts), CountsUntil: until.UnixMilli(), Top: p.top}, p.text, true
}

// ErrStale is returned by Update when the settings changed since the version the change
// was made from.
var ErrStale = errors.New("the escalation settings changed meanwhile")

// Update changes a guild's settings as actor: change edits a copy of the current ones, which
// are then validated and stored. When version is not negative it must be the version read
// (ErrStale otherwise). It returns the settings before and after, and the new version.
func (s *Service) Update(ctx context.Context, guildID discord.GuildID, actor discord.UserID, version int64, change func(c *Config) error) (before, after Config, v int64, err error) {
	err = s.st.InTx(ctx, func(tx *store.Tx) error {
		q := tx.Queries()
		cur, curV, err := configOf(ctx, q, guildID)
		if err != nil {
			return err
		}
		if version >= 0 && curV != version {
			return ErrStale
		}
		before = cur
		next := cur.clone()
		if err := change(&next); err != nil {
			return err
		}
		if err := next.Validate(); err != nil {
			return err
		}
		if equalJSON(cur, next) && curV > 0 {
			return fmt.Errorf("escalation settings: %w", input.ErrUnchanged)
		}
		b, err := json.Marshal(next)
		if err != nil {
			return err
		}
		now := s.now().UnixMilli()
		if err := tx.EnsureGuild(int64(guildID), now); err != nil {
			return err
		}
		if v, err = q.PutEscalationConfig(ctx, query.PutEscalationConfigParams{GuildID: int64(guildID), Config: string(b), UpdatedBy: int64(actor), UpdatedAt: now}); err != nil {
			return fmt.Errorf("store the escalation settings of guild %d: %w", guildID, err)
		}
		after = next
		return nil
	})
	return before, after, v, err
}

// CasesChanged evaluates, inside the transaction that changed them, what the changed cases
// do to their members' points: a case that starts counting gets its points (from the
// guild's weights) and may take its member across thresholds; a case that stops counting
// lowers the sum and may re-arm thresholds. Guilds without escalation settings cost one
// read.
func (s *Service) CasesChanged(tx *store.Tx, changed []cases.Changed) error {
	byGuild := map[discord.GuildID][]cases.Changed{}
	var guilds []discord.GuildID
	for _, ch := range changed {
		if _, ok := byGuild[ch.GuildID]; !ok {
			guilds = append(guilds, ch.GuildID)
		}
		byGuild[ch.GuildID] = append(byGuild[ch.GuildID], ch)
	}
	sort.Slice(guilds, func(i, j int) bool { return guilds[i] < guilds[j] })
	for _, g := range guilds {
		if err := s.evaluateGuild(tx, g, byGuild[g]); err != nil {
			return fmt.Errorf("escalation in guild %d: %w", g, err)
		}
	}
	return nil
}

// memberChange is what one transaction did to one member's points.
type memberChange struct {
	user    discord.UserID
	delta   int
	trigger query.Case
	// unlocked is the member's points as read before any lock (-1: not read), after the
	// transaction's status changes and before the points rows the evaluation gives its
	// cases (rows), bounded (sumLimit): exact says it is their points, not a lower bound,
	// and openReset is the highest reset level of their open firings then. On PostgreSQL the read only picks the
	// mode of the member's lock (evaluateMember); on SQLite it was made under the lock.
	unlocked  int64
	exact     bool
	openReset int64
	// rows are the points rows to give the member's newly counting cases, written under
	// the member's lock (evaluateMember); inserted is their points, and those of the row
	// the statement that read the case wrote already (added).
	rows     []query.InsertCasePointsParams
	inserted int64
	// added is what that statement returned when it wrote the case's points row under the
	// member's lock (EscalationCaseAddingPoints: the member's points without the row, as
	// AddCasePoints returns them), and addedShared the mode it took the lock in; nil when
	// it did not.
	added       *query.AddCasePointsRow
	addedShared bool
}

func (s *Service) evaluateGuild(tx *store.Tx, guildID discord.GuildID, changed []cases.Changed) error {
	ctx, q := tx.Context(), tx.Queries()
	now := s.now()
	nowMS := now.UnixMilli()
	var cfg Config
	var members []*memberChange
	byUser := map[int64]*memberChange{}
	ulim := s.unlockedLimit(guildID)
	for i, ch := range changed {
		var r query.CaseForEscalationRow
		// exact: r.MemberPoints is the member's points, not a lower bound (sumLimit).
		var exact bool
		// added: the statement that read the case wrote its points row (guess).
		var added *query.AddCasePointsRow
		var addedShared bool
		if i == 0 {
			// The settings come with the first case: a guild without them costs this read.
			// A transaction's only case in the guild may get its points row in the same
			// statement; with several, the member locks are taken in their order below.
			var row query.EscalationConfigAndCaseRow
			var err error
			var g query.EscalationCaseAddingPointsParams
			var guessed string
			ok := false
			if len(changed) == 1 {
				g, guessed, ok = s.guess(guildID, ch, nowMS)
			}
			if ok {
				a, aerr := q.EscalationCaseAddingPoints(ctx, g)
				if aerr != nil {
					return fmt.Errorf("read case id %d: %w", ch.ID, aerr)
				}
				if a.ConfigSame == 1 {
					// The stored settings are those the guess was made from (by their md5):
					// the statement did not send them back.
					a.Config = guessed
				}
				row = query.EscalationConfigAndCaseRow{Config: a.Config, ID: a.ID, GuildID: a.GuildID, UserID: a.UserID, Number: a.Number,
					Type: a.Type, Status: a.Status, Reason: a.Reason, Metadata: a.Metadata, CreatedAt: a.CreatedAt, Points: a.Points,
					CountsUntil: a.CountsUntil, MemberPoints: a.MemberPoints, OpenResetBelow: a.OpenResetBelow}
				exact = a.MemberExact == 1
				if a.Added == 1 {
					added = &query.AddCasePointsRow{MemberPoints: a.MemberPoints, OpenResetBelow: a.OpenResetBelow, Exact: a.MemberExact}
					addedShared = a.Shared == 1
				}
			} else {
				if text, idle := s.idleSettings(guildID); idle {
					// The guild's last committed evaluation found settings that do nothing
					// (none, mostly): read the settings alone, in this transaction, and
					// stop there when they are still those: one row of five columns where
					// the case's read with its points returns fifteen, on every case change
					// in a guild without escalation. Settings that changed meanwhile are
					// read again with the case below (one statement more, once).
					stored, err := storedSettings(ctx, q, guildID)
					if err != nil {
						return err
					}
					if stored.Config == text {
						s.noteEvaluated(tx, guildID, changed, text)
						return nil
					}
				}
				if row, err = q.EscalationConfigAndCase(ctx, query.EscalationConfigAndCaseParams{ID: ch.ID, Now: nowMS, Lim: ulim}); err != nil {
					return fmt.Errorf("read case id %d: %w", ch.ID, err)
				}
				exact = row.MemberPoints < ulim
			}
			if cfg, err = s.parseConfig(guildID, row.Config); err != nil {
				return err
			}
			s.noteEvaluated(tx, guildID, changed, row.Config)
			if cfg.Empty() {
				return nil
			}
			r = query.CaseForEscalationRow{ID: row.ID, GuildID: row.GuildID, UserID: row.UserID, Number: row.Number, Type: row.Type,
				Status: row.Status, Reason: row.Reason, Metadata: row.Metadata, CreatedAt: row.CreatedAt, Points: row.Points,
				CountsUntil: row.CountsUntil, MemberPoints: row.MemberPoints, OpenResetBelow: row.OpenResetBelow}
		} else {
			var err error
			if r, err = q.CaseForEscalation(ctx, query.CaseForEscalationParams{ID: ch.ID, Now: nowMS, Lim: ulim}); err != nil {
				return fmt.Errorf("read case id %d: %w", ch.ID, err)
			}
			exact = r.MemberPoints < ulim
		}
		c := query.Case{ID: r.ID, GuildID: r.GuildID, UserID: r.UserID, Number: r.Number, Type: r.Type, Status: r.Status,
			Reason: r.Reason, Metadata: r.Metadata, CreatedAt: r.CreatedAt}
		has := r.Points >= 0
		var row *query.InsertCasePointsParams
		p := query.CasePoint{CaseID: c.ID, GuildID: c.GuildID, UserID: c.UserID, Points: max(r.Points, 0), CountsUntil: r.CountsUntil}
		newlyCounting := (ch.Before == "" || ch.Before == cases.Pending) && cases.Status(c.Status) == cases.Active
		if added != nil && !newlyCounting {
			// The statement wrote the row only for an active case without one.
			return fmt.Errorf("case id %d: points written for a case that did not start counting", c.ID)
		}
		if !has && newlyCounting {
			pts, until, ok, err := pointsOf(cfg, c)
			if err != nil {
				return err
			}
			if ok {
				p = query.CasePoint{CaseID: c.ID, GuildID: c.GuildID, UserID: c.UserID, Points: int64(pts), CountsUntil: until.UnixMilli(), CreatedAt: nowMS}
				row = &query.InsertCasePointsParams{CaseID: p.CaseID, GuildID: p.GuildID, UserID: p.UserID,
					Points: p.Points, CountsUntil: p.CountsUntil, CreatedAt: nowMS}
				has = true
			}
		}
		if !has || p.Points == 0 || p.CountsUntil <= nowMS {
			if row != nil {
				// Points that already stopped counting: the row is the record, the sum
				// does not change.
				if err := q.InsertCasePoints(ctx, *row); err != nil {
					return fmt.Errorf("points of case #%d: %w", c.Number, err)
				}
			}
			continue
		}
		before, after := 0, 0
		if ch.Before == cases.Active {
			before = int(p.Points)
		}
		if cases.Status(c.Status) == cases.Active {
			after = int(p.Points)
		}
		if before == after {
			continue
		}
		m := byUser[c.UserID]
		if m == nil {
			m = &memberChange{user: discord.UserID(c.UserID), unlocked: r.MemberPoints, exact: exact, openReset: r.OpenResetBelow}
			byUser[c.UserID] = m
			members = append(members, m)
		}
		if added != nil {
			m.added, m.addedShared = added, addedShared
			m.inserted += p.Points
		} else if row != nil {
			m.rows = append(m.rows, *row)
			m.inserted += p.Points
		}
		m.delta += after - before
		if after > before {
			m.trigger = c
		}
	}
	if len(members) == 0 {
		return nil
	}
	// Each member is evaluated under their lock (LockMemberPoints), so each sum is what every
	// committed transaction left. The locks are taken in one order (guilds, then users,
	// ascending), so two transactions that change the same members never wait for each
	// other in a cycle.
	sort.Slice(members, func(i, j int) bool { return members[i].user < members[j].user })
	for _, m := range members {
		if err := s.evaluateMember(tx, cfg, guildID, m, nowMS); err != nil {
			return err
		}
	}
	return nil
}

// memberPoints is a member's points read under their lock.
type memberPoints struct {
	// Points is the sum of their counting points, or a lower bound of it that settles the
	// evaluation it was read for (sumLimit); OpenResetBelow the highest reset level of
	// their open firings (0: none).
	Points, OpenResetBelow int64
}

// A member's points are read from the ledger bounded (migration 00035): the sum of at most
// L of their counting points rows, each at least one point, is their points when below L
// and a lower bound at or above L otherwise, in a read of at most L index entries however
// long their history. An evaluation computes old = read + excluded - delta and new = old +
// delta (excluded: the points of this transaction's rows the read did not see; delta: what
// the transaction changed) and acts only when old is below a threshold it crosses (at most
// top) or the lower of the two below an open firing's reset level. A lower bound of at
// least need(top, openReset, delta, excluded) makes both computed values at least
// max(top, openReset), and the true ones are higher still: nothing is crossed, nothing
// re-arms, as the exact sum would have decided. So a bounded read settles the evaluation
// when it is exact or at least need.
func need(top, openReset, delta, excluded int64) int64 {
	return max(top, openReset) + max(0, delta-excluded)
}

// sumLimit is the L to read a member's points with for an evaluation: need before the
// member's open reset level is known (the reads under the lock raise L to it themselves on
// PostgreSQL; when that is not enough the evaluation reads again: lockMemberPoints), and at
// least 1.
func sumLimit(top, delta, excluded int64) int64 {
	return max(need(top, 0, delta, excluded), 1)
}

// unlockedLimit is the L of the reads made before the guild's settings are parsed: the
// highest threshold of the settings this service last parsed for the guild, or the highest
// any can have. A read it does not settle is made again under the member's lock.
func (s *Service) unlockedLimit(guildID discord.GuildID) int64 {
	s.parsedMu.Lock()
	p, ok := s.parsed[guildID]
	s.parsedMu.Unlock()
	if ok && p.top > 0 {
		return p.top
	}
	return MaxPoints
}

// lockMemberPoints takes the member's escalation lock until tx ends (in share mode with
// shared) and reads their points under it (see LockMemberPoints): whoever evaluates a
// member's points holds it, so that evaluations of one member run one after the other and
// each sees the points the previous one committed. The points are read for an evaluation
// of a change of delta with the highest threshold top, every row of the change already
// written (sumLimit): a lower bound that does not settle it (an open firing's reset level
// above the bound) is read again with the bound it needs.
func lockMemberPoints(tx *store.Tx, guildID discord.GuildID, userID discord.UserID, nowMS int64, shared bool, top, delta int64) (memberPoints, error) {
	ctx, q := tx.Context(), tx.Queries()
	lim := sumLimit(top, delta, 0)
	for again := false; ; again = true {
		var r query.LockMemberPointsRow
		var err error
		if shared {
			var sr query.LockMemberPointsSharedRow
			sr, err = q.LockMemberPointsShared(ctx, query.LockMemberPointsSharedParams{GuildID: int64(guildID), UserID: int64(userID), Now: nowMS, Lim: lim})
			r = query.LockMemberPointsRow(sr)
		} else {
			r, err = q.LockMemberPoints(ctx, query.LockMemberPointsParams{GuildID: int64(guildID), UserID: int64(userID), Now: nowMS, Lim: lim})
		}
		if err != nil {
			return memberPoints{}, fmt.Errorf("points of user %d in guild %d: %w", userID, guildID, err)
		}
		n := need(top, r.OpenResetBelow, delta, 0)
		if r.Exact == 1 || r.Points >= n {
			return memberPoints{Points: r.Points, OpenResetBelow: r.OpenResetBelow}, nil
		}
		if again {
			return memberPoints{}, fmt.Errorf("points of user %d in guild %d: %d read with the bound %d, a lower bound under %d", userID, guildID, r.Points, lim, n)
		}
		lim = n
	}
}

// pointsOf decides a newly counting case's points and until when they count; ok is false
// for a case that carries none.
func pointsOf(cfg Config, c query.Case) (int, time.Time, bool, error) {
	var meta map[string]string
	if err := json.Unmarshal([]byte(c.Metadata), &meta); err != nil {
		return 0, time.Time{}, false, fmt.Errorf("case #%d metadata: %w", c.Number, err)
	}
	pts, until, ok := pointsFor(cfg, cases.Type(c.Type), c.Reason, meta, time.UnixMilli(c.CreatedAt))
	return pts, until, ok, nil
}

// pointsFor is pointsOf for a case's type, reason, metadata and creation time.
func pointsFor(cfg Config, t cases.Type, reason string, meta map[string]string, createdAt time.Time) (int, time.Time, bool) {
	if meta[MetaFiring] != "" {
		return 0, time.Time{}, false
	}
	var explicit *int
	if v, ok := meta[MetaPoints]; ok {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= MaxPoints {
			explicit = &n
		}
	}
	pts, countsFor := cfg.PointsFor(t, reason, explicit)
	if pts <= 0 {
		return 0, time.Time{}, false
	}
	return pts, createdAt.Add(countsFor), true
}

// oneWriter says the store runs one write transaction at a time over the whole database
// (SQLite): a read in a write transaction is then already under every member's lock.
func (s *Service) oneWriter() bool { return s.st.OneWriter() }

func (s *Service) evaluateMember(tx *store.Tx, cfg Config, guildID discord.GuildID, m *memberChange, nowMS int64) (err error) {
	ctx, q := tx.Context(), tx.Queries()
	var top int64 // the highest threshold of the enabled policies
	for _, p := range cfg.Enabled() {
		for _, t := range p.Thresholds {
			top = max(top, int64(t.At))
		}
	}
	// A change that only adds points to a member already at or above every threshold
	// crosses nothing and re-arms nothing, whatever else adds points beside it; only a
	// change that lowers them (a void, lower points, points that stopped counting) could
	// bring the member back under a threshold meanwhile, and each of those takes the
	// member's lock exclusively. So such a change takes it in share mode: the member's other
	// additions run beside it instead of one after the other (16 warnings at once on a
	// member with hundreds of points, docs/benchmarks.md issue 15), and no lowering change
	// can commit between its read and its commit. The unlocked read only picks the mode;
	// the decision is made on the read under the lock. SQLite has no modes to pick.
	shared := m.delta > 0 && m.unlocked >= 0 && !s.oneWriter() && m.unlocked+m.inserted-int64(m.delta) >= top
	if m.added != nil {
		// The statement that read the case took the lock already, in the mode its read
		// picked by this rule (escalation_case_adding_points): what follows must know which.
		shared = m.addedShared
	}
	var sum memberPoints
	switch {
	case s.oneWriter() && m.unlocked >= 0 && (m.exact || m.unlocked >= need(top, m.openReset, int64(m.delta), m.inserted)):
		// SQLite: the evaluation's first read of the member was made in this write
		// transaction, which holds the whole database (the one writer), so no other write
		// can come between it and the commit, and it settles the evaluation (exact, or a
		// lower bound high enough: need); the member's new points rows are the rest of
		// their sum. No read a warning beyond the case's.
		for _, row := range m.rows {
			if err := q.InsertCasePoints(ctx, row); err != nil {
				return fmt.Errorf("points of case id %d: %w", row.CaseID, err)
			}
		}
		sum = memberPoints{Points: m.unlocked + m.inserted, OpenResetBelow: m.openReset}
	case m.added != nil || len(m.rows) > 0:
		// The lock, the read and the first row in one round trip (AddCasePoints), or none
		// when the statement that read the case did that (m.added).
		var r query.AddCasePointsRow
		rows := m.rows
		if m.added != nil {
			r = *m.added
		} else {
			first := query.AddCasePointsParams{CaseID: rows[0].CaseID, GuildID: rows[0].GuildID, UserID: rows[0].UserID,
				Points: rows[0].Points, CountsUntil: rows[0].CountsUntil, CreatedAt: rows[0].CreatedAt, Now: nowMS,
				Lim: sumLimit(top, int64(m.delta), m.inserted)}
			if shared {
				var sr query.AddCasePointsSharedRow
				sr, err = q.AddCasePointsShared(ctx, query.AddCasePointsSharedParams(first))
				r = query.AddCasePointsRow(sr)
			} else {
				r, err = q.AddCasePoints(ctx, first)
			}
			if err != nil {
				return fmt.Errorf("points of case id %d: %w", first.CaseID, err)
			}
			rows = rows[1:]
		}
		for _, row := range rows {
			if err := q.InsertCasePoints(ctx, row); err != nil {
				return fmt.Errorf("points of case id %d: %w", row.CaseID, err)
			}
		}
		if r.Exact == 1 || r.MemberPoints >= need(top, r.OpenResetBelow, int64(m.delta), m.inserted) {
			sum = memberPoints{Points: r.MemberPoints + m.inserted, OpenResetBelow: r.OpenResetBelow}
		} else if sum, err = lockMemberPoints(tx, guildID, m.user, nowMS, shared, top, int64(m.delta)); err != nil {
			// A lower bound that does not settle the evaluation (an open firing's reset
			// level above it): read again, now with the new rows, as far as it needs.
			return err
		}
	default:
		if sum, err = lockMemberPoints(tx, guildID, m.user, nowMS, shared, top, int64(m.delta)); err != nil {
			return err
		}
	}
	if shared {
		if old := sum.Points - int64(m.delta); old >= top && old >= sum.OpenResetBelow {
			return nil
		}
		// Points were lowered between the two reads: evaluate under the exclusive lock, as
		// any other change does (taken on top of the shared one; the rows are written).
		if sum, err = lockMemberPoints(tx, guildID, m.user, nowMS, false, top, int64(m.delta)); err != nil {
			return err
		}
	}
	newSum := sum.Points
	oldSum := newSum - int64(m.delta)
	// A threshold re-arms once the points fall below its reset level, whether they fell in
	// this transaction (a voided case) or before it (points that stopped counting).
	if low := min(oldSum, newSum); low < sum.OpenResetBelow {
		if _, err := q.RearmFirings(ctx, query.RearmFiringsParams{Now: sql.NullInt64{Int64: nowMS, Valid: true}, GuildID: int64(guildID), UserID: int64(m.user), Points: low}); err != nil {
			return fmt.Errorf("re-arm the thresholds of user %d: %w", m.user, err)
		}
	}
	if m.delta <= 0 {
		return nil
	}
	type crossed struct {
		policy string
		t      Threshold
	}
	var cs []crossed
	for _, p := range cfg.Enabled() {
		for _, t := range p.Thresholds {
			if oldSum < int64(t.At) && int64(t.At) <= newSum {
				cs = append(cs, crossed{p.Name, t})
			}
		}
	}
	if len(cs) == 0 {
		return nil
	}
	sort.SliceStable(cs, func(i, j int) bool { return harsher(cs[i].t, cs[j].t) })
	contributing, err := s.contributing(ctx, q, guildID, m.user, nowMS)
	if err != nil {
		return err
	}
	var chosen *Firing
	for _, c := range cs {
		state := StateSkipped
		if chosen == nil {
			state = StateQueued
			if c.t.NeedsApproval() {
				state = StateAwaiting
			}
		}
		row, err := q.InsertFiring(ctx, query.InsertFiringParams{GuildID: int64(guildID), UserID: int64(m.user), Policy: c.policy,
			AtPoints: int64(c.t.At), ResetBelow: int64(c.t.Reset()), Action: string(c.t.Action), DurationMs: c.t.Duration.Milliseconds(),
			NeedsApproval: c.t.NeedsApproval(), Points: newSum, Contributing: contributing, TriggerCaseID: m.trigger.ID, State: state, FiredAt: nowMS})
		if errors.Is(err, sql.ErrNoRows) {
			continue // fired already and not re-armed
		}
		if err != nil {
			return fmt.Errorf("fire %s at %d for user %d: %w", c.policy, c.t.At, m.user, err)
		}
		if chosen == nil {
			f := firingFromRow(row)
			chosen = &f
		}
	}
	if chosen != nil && s.fired != nil {
		f := *chosen
		tx.AfterCommit(func() { s.fired(f) })
	}
	return nil
}

// contributing names the cases that make up a member's points: "#12, #15, #19".
func (s *Service) contributing(ctx context.Context, q query.Queries, guildID discord.GuildID, userID discord.UserID, nowMS int64) (string, error) {
	rows, err := q.MemberPointCases(ctx, query.MemberPointCasesParams{GuildID: int64(guildID), UserID: int64(userID), CountsUntil: nowMS})
	if err != nil {
		return "", fmt.Errorf("cases of user %d: %w", userID, err)
	}
	nums := make([]string, len(rows))
	for i, r := range rows {
		nums[i] = "#" + strconv.FormatInt(r.Number, 10)
	}
	return strings.Join(nums, ", "), nil
}

// PointCase is one case that counts towards a member's points.
type PointCase struct {
	CaseID, Number int64
	Type           cases.Type
	Reason         string
	Points         int
	CreatedAt      time.Time
	// CountsUntil is when its points stop counting.
	CountsUntil time.Time
}

// Points returns a member's points now and the cases that make them up, oldest first.
func (s *Service) Points(ctx context.Context, guildID discord.GuildID, userID discord.UserID) (int, []PointCase, error) {
	rows, err := s.read.MemberPointCases(ctx, query.MemberPointCasesParams{GuildID: int64(guildID), UserID: int64(userID), CountsUntil: s.now().UnixMilli()})
	if err != nil {
		return 0, nil, fmt.Errorf("points of user %d in guild %d: %w", userID, guildID, err)
	}
	total := 0
	out := make([]PointCase, len(rows))
	for i, r := range rows {
		out[i] = PointCase{CaseID: r.CaseID, Number: r.Number, Type: cases.Type(r.Type), Reason: r.Reason, Points: int(r.Points),
			CreatedAt: time.UnixMilli(r.CreatedAt).UTC(), CountsUntil: time.UnixMilli(r.CountsUntil).UTC()}
		total += int(r.Points)
	}
	return total, out, nil
}

// CasePoints returns the points case id carries and until when; ok is false for a case
// that carries none.
func (s *Service) CasePoints(ctx context.Context, caseID int64) (points int, until time.Time, ok bool, err error) {
	p, err := s.read.GetCasePoints(ctx, caseID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, false, nil
	}
	if err != nil {
		return 0, time.Time{}, false, fmt.Errorf("points of case id %d: %w", caseID, err)
	}
	return int(p.Points), time.UnixMilli(p.CountsUntil).UTC(), true, nil
}

// SetPoints changes the points of case number n as actor, with a history row; the member's
// sum changes with it, which may take them across a threshold (or re-arm one) in the same
// transaction. A case that carried no points gets a row counting from its creation for the
// guild's default time.
func (s *Service) SetPoints(ctx context.Context, cs *cases.Service, guildID discord.GuildID, n int64, actor discord.UserID, points int) (before int, after cases.Case, err error) {
	if points < 0 || points > MaxPoints {
		return 0, cases.Case{}, input.Invalid("points", fmt.Sprintf("%d is out of range; accepted: 0 to %d", points, MaxPoints))
	}
	err = cs.InTx(ctx, actor, func(tx *cases.Tx) error {
		c, err := tx.LockNumber(guildID, n)
		if err != nil {
			return err
		}
		stx := tx.StoreTx()
		q := stx.Queries()
		cfg, _, err := configOf(ctx, q, guildID)
		if err != nil {
			return err
		}
		p, err := q.GetCasePoints(ctx, c.ID)
		has := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		before = int(p.Points)
		if has && before == points {
			return fmt.Errorf("case #%d already carries %d points: %w", c.Number, points, input.ErrUnchanged)
		}
		if !has && points == 0 {
			return fmt.Errorf("case #%d carries no points: %w", c.Number, input.ErrUnchanged)
		}
		nowMS := tx.NowMS()
		if !has {
			_, countsFor := cfg.PointsFor(c.Type, c.Reason, nil)
			p = query.CasePoint{CaseID: c.ID, CountsUntil: c.CreatedAt.Add(countsFor).UnixMilli()}
			if err := q.InsertCasePoints(ctx, query.InsertCasePointsParams{CaseID: c.ID, GuildID: int64(c.GuildID), UserID: int64(c.UserID),
				Points: int64(points), CountsUntil: p.CountsUntil, CreatedAt: nowMS}); err != nil {
				return fmt.Errorf("points of case #%d: %w", c.Number, err)
			}
		} else if _, err := q.SetCasePoints(ctx, query.SetCasePointsParams{CaseID: c.ID, Points: int64(points), CountsUntil: p.CountsUntil, UpdatedAt: nowMS}); err != nil {
			return fmt.Errorf("points of case #%d: %w", c.Number, err)
		}
		if err := tx.Record(c, cases.EventPoints, strconv.Itoa(before), strconv.Itoa(points), ""); err != nil {
			return err
		}
		after = c
		if c.Status != cases.Active || p.CountsUntil <= nowMS || cfg.Empty() {
			return nil
		}
		row, err := q.GetCaseByID(ctx, c.ID)
		if err != nil {
			return err
		}
		return s.evaluateMember(stx, cfg, guildID, &memberChange{user: c.UserID, delta: points - before, trigger: row, unlocked: -1}, nowMS)
	})
	return before, after, err
}
