// Package expiry holds gavel's durable scheduled actions — the unban when a tempban ends,
// the renewal of a timeout longer than Discord's 28 days, the lift of a timed jail or
// restriction — and the poller that claims them with a lease and runs them once, after any
// restart, on one process or several sharing a PostgreSQL database.
//
// Every change to a schedule is written in the same transaction as the history row of the
// case it belongs to, so a case's history tells what its expiry did and why.
package expiry

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// Kind is what a scheduled action does when it falls due.
type Kind string

const (
	// Unban lifts a tempban.
	Unban Kind = "unban"
	// Unjail releases a timed jail and gives the saved roles back.
	Unjail Kind = "unjail"
	// Pollunban ends a timed poll ban.
	Pollunban Kind = "pollunban"
	// Snippetunban ends a timed snippet ban.
	Snippetunban Kind = "snippetunban"
	// TimeoutRenew applies a timeout longer than Discord's maximum again, before the
	// applied part ends.
	TimeoutRenew Kind = "timeout_renew"
	// TimeoutExpire marks a timeout case processed when Discord's timeout ends by itself.
	TimeoutExpire Kind = "timeout_expire"
	// RaidCheck is a raid's durable timer (package raid): it ends raid mode after the quiet
	// period and renews the invite pause before Discord's 24 hours run out.
	RaidCheck Kind = "raid_check"
	// LockdownCheck is a lockdown's durable timer (package lockdown): it ends a timed
	// lockdown, and renews a server lockdown's invite pause before Discord's 24 hours run out.
	LockdownCheck Kind = "lockdown_check"
)

// Kinds lists every kind.
func Kinds() []Kind {
	return []Kind{Unban, Unjail, Pollunban, Snippetunban, TimeoutRenew, TimeoutExpire, RaidCheck, LockdownCheck}
}

// Rule is what the schedule does for the cases of one type, as the type's action declares
// it (moderation.Catalogue.ExpiryRules builds the table; WithRules hands it over): the
// schedule itself knows no case type.
type Rule struct {
	// Lift is the kind that ends a case of the type when it expires.
	Lift Kind
	// Renew, when set, is the kind that applies the action again on Discord (a timeout
	// longer than Discord's maximum). A case whose expiry moves, or that is found without a
	// schedule, gets it at once: the runner works out whether to apply it again or end it.
	Renew Kind
}

// Rules is the rule of every case type that expires.
type Rules map[cases.Type]Rule

// scheduled returns the kind and time of the action that a case of type t expiring at end
// gets when its expiry is set again (Reschedule) or found missing (Reconcile), and false
// when the type never expires.
func (r Rules) scheduled(t cases.Type, end, now time.Time) (Kind, time.Time, bool) {
	rule, ok := r[t]
	switch {
	case !ok || rule.Lift == "":
		return "", time.Time{}, false
	case rule.Renew != "":
		return rule.Renew, now, true
	default:
		return rule.Lift, end, true
	}
}

// expiring lists the case types that expire, for messages.
func (r Rules) expiring() string {
	var ts []string
	for t, rule := range r {
		if rule.Lift != "" {
			ts = append(ts, string(t))
		}
	}
	slices.Sort(ts)
	return strings.Join(ts, ", ")
}

// Outcome is how an action ended.
type Outcome string

const (
	// Done: the action ran.
	Done Outcome = "done"
	// AlreadyDone: Discord's state already was what the action would make it.
	AlreadyDone Outcome = "already_done"
	// Stale: its case was voided or processed before it ran.
	Stale Outcome = "stale"
	// GaveUp: it failed MaxAttempts times; the case history and the mod log say why.
	GaveUp Outcome = "gave_up"
	// Superseded: a later action made it stale.
	Superseded Outcome = "superseded"
	// Cancelled: its case no longer expires.
	Cancelled Outcome = "cancelled"
)

// Action is one scheduled action.
type Action struct {
	ID      int64           `json:"id"`
	Kind    Kind            `json:"kind"`
	GuildID discord.GuildID `json:"guild_id,string"`
	UserID  discord.UserID  `json:"user_id,string"`
	CaseID  int64           `json:"case_id"`
	RunAt   time.Time       `json:"run_at"`
	// Attempts counts the claims so far.
	Attempts   int       `json:"attempts"`
	LastError  string    `json:"last_error,omitempty"`
	LeaseOwner string    `json:"lease_owner,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	Outcome    Outcome   `json:"outcome,omitempty"`
	Note       string    `json:"note,omitempty"`
	DoneAt     time.Time `json:"done_at,omitzero"`
	Cancelled  time.Time `json:"cancelled_at,omitzero"`
	CreatedAt  time.Time `json:"created_at"`
}

// Open reports whether the action is still to run.
func (a Action) Open() bool { return a.DoneAt.IsZero() && a.Cancelled.IsZero() }

// Claim is an action a poller holds the lease of. Only the holder of the claim completes
// it, and only before LeaseUntil: a claim taken over by another poller is lost.
type Claim struct {
	Action
	Owner string
	// fence, when the poller ran the claim under a Guard, checks inside the transaction
	// that records the outcome that this process still owns the action's guild.
	fence func(*store.Tx) error
}

// checkFence runs cl's fence inside tx: ErrLeaseLost when this process has lost the
// guild meanwhile, so the outcome is not recorded.
func (cl Claim) checkFence(tx *store.Tx) error {
	if cl.fence == nil {
		return nil
	}
	if err := cl.fence(tx); err != nil {
		return fmt.Errorf("expiry %d (case id %d): the guild's shard moved to another process: %w: %w", cl.ID, cl.CaseID, ErrLeaseLost, err)
	}
	return nil
}

// Guard keeps an expiry's run in the process that owns its guild (the shard leases). Hold
// returns false when this process does not own guild now: the poller hands the claim
// back. Otherwise the run is cancelled when held ends (the guild moved, or is about to),
// its outcome is recorded only if check passes in the recording transaction, and done is
// called once the run has returned.
type Guard interface {
	Hold(ctx context.Context, guildID discord.GuildID) (held context.Context, check func(*store.Tx) error, done func(), ok bool)
}

// Errors.
var (
	// ErrLeaseLost: the claim's lease ran out or another poller holds the action now; its
	// outcome was not recorded.
	ErrLeaseLost = errors.New("the lease on the scheduled action was lost")
	// ErrNotFound: no open action matches.
	ErrNotFound = errors.New("no pending expiry")
)

// Service reads and writes the schedule. It is safe for concurrent use, also by several
// processes sharing one database.
type Service struct {
	st    *store.Store
	cases *cases.Service
	read  query.Queries
	clock clock.Clock
	now   func() time.Time // clock.Now
	// wake tells this process's poller that the schedule changed, so that an action due
	// sooner than its next poll is not late.
	wake chan struct{}
	obs  Observer
	// rules says which case types expire and how (WithRules).
	rules Rules
	// shards, when set, limits the claims to the guilds of the shards this process holds
	// (WithShards).
	shards func() (count int, ids []int)
	// guard, when set, fences each run to the process owning its guild (WithGuard).
	guard Guard
	// overdue is how many actions the poller last found overdue with no poller holding
	// them (Overdue).
	overdue atomic.Int64
}

// OverdueAfter is how long past its time an open action that no poller holds counts as
// overdue: longer than a backlog takes to drain in a healthy deployment, so an overdue
// action means that no process claims it (all are down or failing, or, with explicit
// shard lists, no process runs its guild's shard).
const OverdueAfter = 5 * time.Minute

// Overdue is how many actions were overdue (OverdueAfter) and held by no poller when this
// process's poller last looked (once a minute): the metric gavel_expiry_overdue.
func (s *Service) Overdue() int64 { return s.overdue.Load() }

// WithGuard fences every run to the process owning its guild: see Guard. With WithShards,
// this is what makes a lift never interleave with a command on the same member run by
// the guild's next owner.
func WithGuard(g Guard) Option { return func(s *Service) { s.guard = g } }

// WithShards limits what this process claims to the guilds of the shards it holds, as
// shards reports them at each claim (the shard leases, internal/leases): an expiry then
// runs in the process that runs its guild's events, commands and per-target locks, so a
// lift never interleaves with a command on the same member in another process. A count of
// 0 claims every guild (one process runs them all); no shard claims nothing.
func WithShards(shards func() (count int, ids []int)) Option {
	return func(s *Service) { s.shards = shards }
}

// Observer hears how this process's runs of scheduled actions end, once the outcome is
// committed: for metrics.
type Observer interface {
	// ExpiryFinished: the action ended with outcome (done, already_done, stale, superseded,
	// cancelled or gave_up), late after the time it was due (its latest run_at).
	ExpiryFinished(kind Kind, outcome Outcome, late time.Duration)
	// ExpiryRetried: a run failed and the action will run again after a backoff.
	ExpiryRetried(kind Kind)
}

// WithObserver tells obs how runs end.
func WithObserver(obs Observer) Option { return func(s *Service) { s.obs = obs } }

func (s *Service) finished(cl Claim, outcome Outcome) {
	if s.obs != nil {
		s.obs.ExpiryFinished(cl.Kind, outcome, s.now().Sub(cl.RunAt))
	}
}

// Counts reads how many actions are open, and how many of them are due now (running, or
// waiting for a worker or a retry): the backlog an operator watches.
func (s *Service) Counts(ctx context.Context) (open, due int64, err error) {
	row, err := s.read.ScheduleCounts(ctx, s.now().UnixMilli())
	if err != nil {
		return 0, 0, fmt.Errorf("count scheduled actions: %w", err)
	}
	return row.OpenCount, row.DueCount, nil
}

// Option configures a Service.
type Option func(*Service)

// WithClock makes the service, and its pollers, read the time and wait on c.
func WithClock(c clock.Clock) Option { return func(s *Service) { s.clock, s.now = c, c.Now } }

// WithRules tells the schedule how each case type expires, as its action declares it
// (moderation.Catalogue.ExpiryRules). Without it no case type expires: Reschedule refuses
// every case and Reconcile schedules none.
func WithRules(r Rules) Option { return func(s *Service) { s.rules = r } }

// NewService returns the schedule over a migrated store and its case service.
func NewService(st *store.Store, cs *cases.Service, opts ...Option) *Service {
	sys := clock.System()
	s := &Service{st: st, cases: cs, read: st.Queries(), clock: sys, now: sys.Now, wake: make(chan struct{}, 1)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Now reads the schedule's clock: the time due actions are judged by.
func (s *Service) Now() time.Time { return s.now() }

// Cases returns the case service the schedule writes history through.
func (s *Service) Cases() *cases.Service { return s.cases }

// Woken is signalled after a commit that added or moved an action.
func (s *Service) Woken() <-chan struct{} { return s.wake }

// Wake has this process's poller claim again at once: what it may claim changed (the
// shards this process runs became known, or its shard leases changed), so actions already
// due may now be its own, and waiting for the next poll would leave them late.
func (s *Service) Wake() { s.poke() }

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// NewOwner returns a lease owner name unique to this process and call: host, pid and a
// random suffix, so that the rows show who holds them.
func NewOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// ScheduleTx schedules kind for locked case c at at, inside tx, and records it in the case's
// history. A case has at most one open action: scheduling replaces (moves) the open one.
func (s *Service) ScheduleTx(tx *cases.Tx, c cases.Case, kind Kind, at time.Time) (Action, error) {
	if !validKind(kind) {
		return Action{}, fmt.Errorf("schedule case #%d: %q is not an expiry kind", c.Number, kind)
	}
	q := tx.StoreTx().Queries()
	ctx := tx.Context()
	if open, err := q.OpenActionOfCase(ctx, c.ID); err == nil {
		if _, err := q.MoveScheduledAction(ctx, query.MoveScheduledActionParams{ID: open.ID, RunAt: at.UnixMilli(), Kind: string(kind), Now: tx.NowMS()}); err != nil {
			return Action{}, fmt.Errorf("move the expiry of case #%d: %w", c.Number, err)
		}
		if err := tx.Record(c, cases.EventScheduled, scheduleText(Kind(open.Kind), time.UnixMilli(open.RunAt)), scheduleText(kind, at), "moved"); err != nil {
			return Action{}, err
		}
		open.RunAt, open.Kind, open.Attempts = at.UnixMilli(), string(kind), 0
		tx.AfterCommit(s.poke)
		return fromRow(open), nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return Action{}, fmt.Errorf("expiry of case #%d: %w", c.Number, err)
	}
	row, err := q.InsertScheduledAction(ctx, query.InsertScheduledActionParams{
		Kind: string(kind), GuildID: int64(c.GuildID), UserID: int64(c.UserID), CaseID: c.ID, RunAt: at.UnixMilli(), CreatedAt: tx.NowMS(),
	})
	if err != nil {
		return Action{}, fmt.Errorf("schedule the expiry of case #%d: %w", c.Number, err)
	}
	if err := tx.Record(c, cases.EventScheduled, "", scheduleText(kind, at), ""); err != nil {
		return Action{}, err
	}
	tx.AfterCommit(s.poke)
	return fromRow(row), nil
}

// Schedule schedules kind for case id at at, as actor, in a transaction of its own.
func (s *Service) Schedule(ctx context.Context, caseID int64, actor discord.UserID, kind Kind, at time.Time) (Action, error) {
	var a Action
	err := s.cases.InTx(ctx, actor, func(tx *cases.Tx) error {
		c, err := tx.Lock(caseID)
		if err != nil {
			return err
		}
		a, err = s.ScheduleTx(tx, c, kind, at)
		return err
	})
	return a, err
}

// SupersedeTx cancels the open actions of kinds for (guild, user), inside tx: each one's
// case is marked processed with a "superseded" history row saying by what. It returns the
// actions cancelled. by is the superseding case (zero when none was recorded).
func (s *Service) SupersedeTx(tx *cases.Tx, guildID discord.GuildID, userID discord.UserID, kinds []Kind, by cases.Case, why string) ([]Action, error) {
	if len(kinds) == 0 {
		return nil, nil
	}
	q := tx.StoreTx().Queries()
	ctx := tx.Context()
	rows, err := q.OpenActionsOfTarget(ctx, query.OpenActionsOfTargetParams{GuildID: int64(guildID), UserID: int64(userID)})
	if err != nil {
		return nil, fmt.Errorf("pending expiries of user %d in guild %d: %w", userID, guildID, err)
	}
	var out []Action
	for _, r := range rows {
		if !containsKind(kinds, Kind(r.Kind)) || r.CaseID == by.ID {
			continue
		}
		note := why
		if by.ID != 0 {
			note = fmt.Sprintf("superseded by case #%d (%s): %s", by.Number, by.Type, why)
		}
		if _, err := q.CancelScheduledAction(ctx, query.CancelScheduledActionParams{ID: r.ID, Outcome: nullText(string(Superseded)), Note: nullText(note), Now: tx.NowMS()}); err != nil {
			return nil, fmt.Errorf("cancel expiry %d: %w", r.ID, err)
		}
		c, err := tx.Lock(r.CaseID)
		if err != nil {
			return nil, err
		}
		newValue := ""
		if by.ID != 0 {
			newValue = fmt.Sprintf("#%d", by.Number)
		}
		if err := tx.Record(c, cases.EventSuperseded, scheduleText(Kind(r.Kind), time.UnixMilli(r.RunAt)), newValue, note); err != nil {
			return nil, err
		}
		if _, err := tx.MarkProcessed(c, "its expiry will not run: "+note); err != nil {
			return nil, err
		}
		a := fromRow(r)
		a.Outcome, a.Note, a.Cancelled = Superseded, note, time.UnixMilli(tx.NowMS()).UTC()
		out = append(out, a)
	}
	return out, nil
}

// Supersede cancels the pending expiries of kinds of (guild, user) — the ones the
// superseding action declares (moderation.Action.Supersedes) — recording why in each one's case history. byCaseNumber is the case
// that records the superseding action, or 0 when there is none (an action seen only in
// Discord's audit log, before its case exists); actor is who the history rows name. The
// audit-log ingestion calls it for bans and unbans done in Discord's own interface.
func (s *Service) Supersede(ctx context.Context, guildID discord.GuildID, userID discord.UserID, kinds []Kind, byCaseNumber int64, actor discord.UserID, why string) ([]Action, error) {
	if len(kinds) == 0 {
		return nil, errors.New("supersede: no kind of expiry to supersede")
	}
	var out []Action
	err := s.cases.InTx(ctx, actor, func(tx *cases.Tx) error {
		var byCase cases.Case
		if byCaseNumber > 0 {
			c, err := tx.LockNumber(guildID, byCaseNumber)
			if err != nil {
				return err
			}
			byCase = c
		}
		var err error
		out, err = s.SupersedeTx(tx, guildID, userID, kinds, byCase, why)
		return err
	})
	return out, err
}

// Cancel cancels the open action of case id, recording why, and reports whether there was
// one. The case stays unprocessed: use it when the case will not expire after all.
func (s *Service) Cancel(ctx context.Context, caseID int64, actor discord.UserID, why string) (bool, error) {
	cancelled := false
	err := s.cases.InTx(ctx, actor, func(tx *cases.Tx) error {
		c, err := tx.Lock(caseID)
		if err != nil {
			return err
		}
		cancelled, err = s.cancelTx(tx, c, why)
		return err
	})
	return cancelled, err
}

// CancelTx is Cancel inside tx, on locked case c: a feature ending its own timer in the
// transaction that ends what the timer was for (an unlock ending its lockdown).
func (s *Service) CancelTx(tx *cases.Tx, c cases.Case, why string) (bool, error) {
	return s.cancelTx(tx, c, why)
}

func (s *Service) cancelTx(tx *cases.Tx, c cases.Case, why string) (bool, error) {
	q := tx.StoreTx().Queries()
	open, err := q.OpenActionOfCase(tx.Context(), c.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("expiry of case #%d: %w", c.Number, err)
	}
	if _, err := q.CancelScheduledAction(tx.Context(), query.CancelScheduledActionParams{ID: open.ID, Outcome: nullText(string(Cancelled)), Note: nullText(why), Now: tx.NowMS()}); err != nil {
		return false, fmt.Errorf("cancel the expiry of case #%d: %w", c.Number, err)
	}
	return true, tx.Record(c, cases.EventScheduled, scheduleText(Kind(open.Kind), time.UnixMilli(open.RunAt)), "", "cancelled: "+why)
}

// Reschedule changes when case number n of a guild expires, as actor, and moves its
// scheduled action with it, in one transaction; both are recorded in the case's history.
// The zero time makes the case permanent and cancels the action. A timeout's action becomes
// a renewal due at once, which applies Discord's timeout again up to the new end (or lifts
// it when the new end has passed). This is what `cases modify N -duration|-expires` calls.
func (s *Service) Reschedule(ctx context.Context, guildID discord.GuildID, n int64, actor discord.UserID, expiresAt time.Time, note string) (cases.Case, error) {
	var id int64
	err := s.cases.InTx(ctx, actor, func(tx *cases.Tx) error {
		c, err := tx.LockNumber(guildID, n)
		if err != nil {
			return err
		}
		id = c.ID
		kind, at, ok := s.rules.scheduled(c.Type, expiresAt, time.UnixMilli(tx.NowMS()))
		if !ok {
			return &input.InvalidError{Field: "expiry", Problem: fmt.Sprintf("case #%d is a %s, which does not expire; only %s cases do", c.Number, c.Type, s.rules.expiring())}
		}
		if c.Status != cases.Active || c.Processed {
			return &input.InvalidError{Field: "expiry", Problem: fmt.Sprintf("case #%d has already ended (it is %s%s); its expiry can no longer change", c.Number, c.Status, processedText(c))}
		}
		if err := tx.SetExpiry(c, expiresAt, note); err != nil {
			return err
		}
		c.ExpiresAt = expiresAt
		if expiresAt.IsZero() {
			_, err := s.cancelTx(tx, c, "the case no longer expires")
			return err
		}
		_, err = s.ScheduleTx(tx, c, kind, at)
		return err
	})
	if err != nil {
		return cases.Case{}, err
	}
	return s.cases.Get(ctx, id)
}

// StatusChange is what SetStatus did.
type StatusChange struct {
	Case cases.Case
	// Kept is the case's open scheduled action that a voiding left in place: the punishment
	// still ends on time. Zero when there is none.
	Kept Action
	// Scheduled is the action a re-activation scheduled for a case that had none left (its
	// end ran, or was found stale, while it was voided). Zero when none was needed.
	Scheduled Action
}

// SetStatus sets the status of case number n (active or voided) as actor, and keeps its
// schedule true to it in the same transaction: voiding keeps the open action (the
// punishment still in force ends when it was to, and the history row says so), and
// re-activating an expiring case that is not processed schedules its end again when
// nothing is scheduled (due at once when the end has passed). Each schedule change is a
// history row (ScheduleTx).
func (s *Service) SetStatus(ctx context.Context, guildID discord.GuildID, n int64, actor discord.UserID, st cases.Status, note string) (StatusChange, error) {
	var out StatusChange
	err := s.cases.InTx(ctx, actor, func(tx *cases.Tx) error {
		out = StatusChange{}
		c, err := tx.LockNumber(guildID, n)
		if err != nil {
			return err
		}
		if c.Status == st {
			return fmt.Errorf("case #%d is already %s: %w", c.Number, st, input.ErrUnchanged)
		}
		q := tx.StoreTx().Queries()
		open, err := q.OpenActionOfCase(tx.Context(), c.ID)
		hasOpen := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("expiry of case #%d: %w", c.Number, err)
		}
		if st == cases.Voided && hasOpen {
			out.Kept = fromRow(open)
			kept := fmt.Sprintf("its %s at %s still runs: the punishment ends as scheduled", open.Kind, time.UnixMilli(open.RunAt).UTC().Format(time.RFC3339))
			if note == "" {
				note = kept
			} else {
				note += "; " + kept
			}
		}
		if err := tx.SetStatusByHand(c, st, note); err != nil {
			return err
		}
		c.Status = st
		if st == cases.Active && !hasOpen && !c.Processed && !c.ExpiresAt.IsZero() {
			if kind, at, ok := s.rules.scheduled(c.Type, c.ExpiresAt, time.UnixMilli(tx.NowMS())); ok {
				a, err := s.ScheduleTx(tx, c, kind, at)
				if err != nil {
					return err
				}
				out.Scheduled = a
			}
		}
		return nil
	})
	if err != nil {
		return StatusChange{}, err
	}
	c, err := s.cases.GetByNumber(ctx, guildID, n)
	if err != nil {
		return StatusChange{}, err
	}
	out.Case = c
	return out, nil
}

func processedText(c cases.Case) string {
	if c.Processed {
		return ", processed"
	}
	return ""
}

// Claim leases up to max due actions to owner for lease, oldest due first. Two claimers
// never get the same action: PostgreSQL skips the rows another claim has locked, SQLite
// runs the claim in an immediate (write-locked) transaction.
func (s *Service) Claim(ctx context.Context, owner string, max int, lease time.Duration) ([]Claim, error) {
	if owner == "" || max <= 0 || lease <= 0 {
		return nil, fmt.Errorf("claim: owner %q, max %d and lease %s must be set", owner, max, lease)
	}
	now := s.now()
	leaseUntil := sql.NullInt64{Int64: now.Add(lease).UnixMilli(), Valid: true}
	var rows []query.ScheduledAction
	var err error
	count, ids := 0, []int(nil)
	if s.shards != nil {
		count, ids = s.shards()
	}
	switch {
	case count == 0:
		rows, err = s.st.ClaimDueActions(ctx, query.ClaimDueActionsParams{
			Owner: nullText(owner), LeaseUntil: leaseUntil, Now: now.UnixMilli(), MaxRows: int64(max)})
	case len(ids) == 0:
		return nil, nil
	default:
		var set strings.Builder
		set.WriteString(",")
		for _, id := range ids {
			set.WriteString(strconv.Itoa(id) + ",")
		}
		rows, err = s.st.ClaimDueActionsOfShards(ctx, query.ClaimDueActionsOfShardsParams{
			Owner: nullText(owner), LeaseUntil: leaseUntil, Now: now.UnixMilli(), MaxRows: int64(max),
			ShardSet: set.String(), ShardCount: int64(count)})
	}
	if err != nil {
		return nil, fmt.Errorf("claim due expiries: %w", err)
	}
	out := make([]Claim, 0, len(rows))
	for _, r := range rows {
		out = append(out, Claim{Action: fromRow(r), Owner: owner})
	}
	sortClaims(out)
	return out, nil
}

// CompleteTx records cl's outcome inside tx, with the case changes the run made; it returns
// ErrLeaseLost (and the caller must roll back) when cl no longer holds its lease.
func (s *Service) CompleteTx(tx *cases.Tx, cl Claim, outcome Outcome, note string) error {
	if err := cl.checkFence(tx.StoreTx()); err != nil {
		return err
	}
	n, err := tx.StoreTx().Queries().CompleteScheduledAction(tx.Context(), query.CompleteScheduledActionParams{
		Now: tx.NowMS(), Outcome: nullText(string(outcome)), Note: nullText(note), ID: cl.ID, Owner: nullText(cl.Owner), Attempts: int64(cl.Attempts)})
	if err != nil {
		return fmt.Errorf("complete expiry %d: %w", cl.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("complete expiry %d (case id %d): %w", cl.ID, cl.CaseID, ErrLeaseLost)
	}
	tx.AfterCommit(func() { s.finished(cl, outcome) })
	return nil
}

// Complete records cl's outcome on its own, when the run changed no case.
func (s *Service) Complete(ctx context.Context, cl Claim, outcome Outcome, note string) error {
	var n int64
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		if err := cl.checkFence(tx); err != nil {
			return err
		}
		var err error
		n, err = tx.Queries().CompleteScheduledAction(ctx, query.CompleteScheduledActionParams{
			Now: s.now().UnixMilli(), Outcome: nullText(string(outcome)), Note: nullText(note), ID: cl.ID, Owner: nullText(cl.Owner), Attempts: int64(cl.Attempts)})
		return err
	})
	if errors.Is(err, ErrLeaseLost) {
		return err
	}
	if err != nil {
		return fmt.Errorf("complete expiry %d: %w", cl.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("complete expiry %d (case id %d): %w", cl.ID, cl.CaseID, ErrLeaseLost)
	}
	s.finished(cl, outcome)
	return nil
}

// Fail releases cl to run again at retryAt, recording the error. ErrLeaseLost when cl no
// longer holds its lease.
func (s *Service) Fail(ctx context.Context, cl Claim, cause string, retryAt time.Time) error {
	now := s.now().UnixMilli()
	n, err := s.st.WriteQueries().FailScheduledAction(ctx, query.FailScheduledActionParams{
		RunAt: retryAt.UnixMilli(), LastError: nullText(cut(cause)), Now: now, ID: cl.ID, Owner: nullText(cl.Owner), Attempts: int64(cl.Attempts)})
	if err != nil {
		return fmt.Errorf("reschedule failed expiry %d: %w", cl.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("reschedule failed expiry %d: %w", cl.ID, ErrLeaseLost)
	}
	if s.obs != nil {
		s.obs.ExpiryRetried(cl.Kind)
	}
	return nil
}

// Release hands cl back unrun, as a stopping poller does with claims it has not started: the
// lease is cleared and the claim's attempt taken back, so another poller runs it at once
// instead of after the lease. ErrLeaseLost when cl no longer holds its lease.
func (s *Service) Release(ctx context.Context, cl Claim) error {
	n, err := s.st.WriteQueries().ReleaseScheduledAction(ctx, query.ReleaseScheduledActionParams{
		Now: s.now().UnixMilli(), ID: cl.ID, Owner: nullText(cl.Owner), Attempts: int64(cl.Attempts)})
	if err != nil {
		return fmt.Errorf("release expiry %d: %w", cl.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("release expiry %d: %w", cl.ID, ErrLeaseLost)
	}
	return nil
}

// GiveUp ends cl for good after its last failure: the action is marked gave_up and its case
// gets a "gave_up" history row saying why, so a human can act. actor names the bot.
func (s *Service) GiveUp(ctx context.Context, cl Claim, actor discord.UserID, cause string) error {
	return s.cases.InTx(ctx, actor, func(tx *cases.Tx) error {
		if err := cl.checkFence(tx.StoreTx()); err != nil {
			return err
		}
		n, err := tx.StoreTx().Queries().GiveUpScheduledAction(tx.Context(), query.GiveUpScheduledActionParams{
			Now: tx.NowMS(), LastError: nullText(cut(cause)), ID: cl.ID, Owner: nullText(cl.Owner), Attempts: int64(cl.Attempts)})
		if err != nil {
			return fmt.Errorf("give up expiry %d: %w", cl.ID, err)
		}
		if n == 0 {
			return fmt.Errorf("give up expiry %d: %w", cl.ID, ErrLeaseLost)
		}
		c, err := tx.Lock(cl.CaseID)
		if err != nil {
			return err
		}
		tx.AfterCommit(func() { s.finished(cl, GaveUp) })
		return tx.Record(c, cases.EventGaveUp, string(cl.Kind), strconv.Itoa(cl.Attempts)+" attempts",
			fmt.Sprintf("the %s failed %d times and will not be retried: %s", cl.Kind, cl.Attempts, cut(cause)))
	})
}

// NextRunAt is when the next claimable action falls due; false when none is open.
func (s *Service) NextRunAt(ctx context.Context) (time.Time, bool, error) {
	at, err := s.read.NextRunAt(ctx, s.now().UnixMilli())
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next expiry: %w", err)
	}
	return time.UnixMilli(at).UTC(), true, nil
}

// MaxPending bounds one Pending listing.
const MaxPending = 1000

// Pending lists the open actions, of one guild unless guildID is 0, soonest first, at most
// limit, with the number of all open actions.
func (s *Service) Pending(ctx context.Context, guildID discord.GuildID, limit int) ([]Action, int64, error) {
	if guildID < 0 {
		return nil, 0, &input.InvalidError{Field: "guild", Problem: fmt.Sprintf("%d is not a Discord id; ids are positive numbers", guildID)}
	}
	if limit <= 0 || limit > MaxPending {
		return nil, 0, &input.InvalidError{Field: "limit", Problem: fmt.Sprintf("%d is out of range; accepted: 1 to %d", limit, MaxPending)}
	}
	rows, err := s.read.PendingActions(ctx, query.PendingActionsParams{GuildID: int64(guildID), MaxRows: int64(limit)})
	if err != nil {
		return nil, 0, fmt.Errorf("pending expiries: %w", err)
	}
	total, err := s.read.CountPendingActions(ctx, int64(guildID))
	if err != nil {
		return nil, 0, fmt.Errorf("count pending expiries: %w", err)
	}
	out := make([]Action, 0, len(rows))
	for _, r := range rows {
		out = append(out, fromRow(r))
	}
	return out, total, nil
}

// OpenOfTarget lists the open actions of a user in a guild: what is scheduled to end their
// tempban, timeout, jail or restriction.
func (s *Service) OpenOfTarget(ctx context.Context, guildID discord.GuildID, userID discord.UserID) ([]Action, error) {
	rows, err := s.read.OpenActionsOfTarget(ctx, query.OpenActionsOfTargetParams{GuildID: int64(guildID), UserID: int64(userID)})
	if err != nil {
		return nil, fmt.Errorf("pending expiries of user %d in guild %d: %w", userID, guildID, err)
	}
	out := make([]Action, 0, len(rows))
	for _, r := range rows {
		out = append(out, fromRow(r))
	}
	return out, nil
}

// OfCase lists every action a case has had, oldest first.
func (s *Service) OfCase(ctx context.Context, caseID int64) ([]Action, error) {
	rows, err := s.read.ActionsOfCase(ctx, caseID)
	if err != nil {
		return nil, fmt.Errorf("expiries of case id %d: %w", caseID, err)
	}
	out := make([]Action, 0, len(rows))
	for _, r := range rows {
		out = append(out, fromRow(r))
	}
	return out, nil
}

// Reconcile schedules the expiry of every active, unprocessed, expiring case that has never
// had an action (a crash between a case and its schedule, or cases older than the schedule),
// at most limit of them, as actor. Overdue ones fall due at once. It returns how many it
// scheduled. Which types expire is the actions' to say (Rules), not the query's: it reads the
// candidates in id order, a page at a time, and passes over the types that never expire.
func (s *Service) Reconcile(ctx context.Context, actor discord.UserID, limit int) (int, error) {
	n := 0
	for after := int64(0); n < limit; {
		rows, err := s.st.WriteQueries().UnscheduledExpiringCases(ctx, query.UnscheduledExpiringCasesParams{After: after, MaxRows: int64(limit)})
		if err != nil {
			return n, fmt.Errorf("unscheduled expiring cases after id %d: %w", after, err)
		}
		for _, r := range rows {
			after = r.ID
			if _, _, ok := s.rules.scheduled(cases.Type(r.Type), time.Time{}, time.Time{}); !ok || n >= limit {
				continue // its type does not expire (no action declares an expiry for it)
			}
			scheduled := false
			err := s.cases.InTx(ctx, actor, func(tx *cases.Tx) error {
				scheduled = false
				c, err := tx.Lock(r.ID)
				if err != nil {
					return err
				}
				if c.Processed || c.Status != cases.Active || c.ExpiresAt.IsZero() {
					return nil
				}
				if _, err := tx.StoreTx().Queries().OpenActionOfCase(tx.Context(), c.ID); err == nil {
					return nil // another process got there first
				}
				kind, at, ok := s.rules.scheduled(c.Type, c.ExpiresAt, time.UnixMilli(tx.NowMS()))
				if !ok {
					return nil
				}
				if _, err := s.ScheduleTx(tx, c, kind, at); err != nil {
					return err
				}
				scheduled = true
				return nil
			})
			if err != nil {
				return n, fmt.Errorf("reconcile case id %d: %w", r.ID, err)
			}
			if scheduled {
				n++
			}
		}
		if len(rows) < limit {
			break
		}
	}
	return n, nil
}

func sortClaims(cs []Claim) {
	slices.SortFunc(cs, func(a, b Claim) int {
		if c := a.RunAt.Compare(b.RunAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

func validKind(k Kind) bool { return containsKind(Kinds(), k) }

func containsKind(ks []Kind, k Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

func scheduleText(k Kind, at time.Time) string {
	return string(k) + " at " + at.UTC().Format(time.RFC3339Nano)
}

// cut keeps error texts within what a history note holds.
func cut(s string) string {
	if r := []rune(s); len(r) > 1000 {
		return string(r[:999]) + "…"
	}
	return s
}

func nullText(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func fromRow(r query.ScheduledAction) Action {
	a := Action{ID: r.ID, Kind: Kind(r.Kind), GuildID: discord.GuildID(r.GuildID), UserID: discord.UserID(r.UserID), CaseID: r.CaseID,
		RunAt: time.UnixMilli(r.RunAt).UTC(), Attempts: int(r.Attempts), LastError: r.LastError.String,
		LeaseOwner: r.LeaseOwner.String, Outcome: Outcome(r.Outcome.String), Note: r.Note.String,
		CreatedAt: time.UnixMilli(r.CreatedAt).UTC()}
	if r.LeaseUntil.Valid {
		a.LeaseUntil = time.UnixMilli(r.LeaseUntil.Int64).UTC()
	}
	if r.DoneAt.Valid {
		a.DoneAt = time.UnixMilli(r.DoneAt.Int64).UTC()
	}
	if r.CancelledAt.Valid {
		a.Cancelled = time.UnixMilli(r.CancelledAt.Int64).UTC()
	}
	return a
}
