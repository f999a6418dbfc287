// Package modlog keeps each case's mod-log message following its case. Every change to a
// case (created active, status, reason, expiry, void, lift, supersede, reconciliation) queues
// the case in an outbox, in the transaction that makes the change (cases.ChangeObserver);
// a worker then posts the case's message, or edits it where it is, rendering the case as it
// is at delivery. Deliveries are retried with backoff until Discord takes them or the message
// is gone, so neither a crash nor an outage loses one; several processes sharing one
// database share the outbox through leases.
package modlog

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// Port is what the worker asks of Discord: to post and edit its messages, and to name the
// people a case names.
type Port interface {
	SendMessage(ctx context.Context, channelID discord.ChannelID, msg discord.Message) (discord.MessageID, error)
	EditMessage(ctx context.Context, channelID discord.ChannelID, messageID discord.MessageID, msg discord.Message) error
	Member(ctx context.Context, guildID discord.GuildID, userID discord.UserID) (discord.Member, error)
	GetBan(ctx context.Context, guildID discord.GuildID, userID discord.UserID) (discord.Ban, bool, error)
}

// Config tunes the worker. Zero fields take the defaults.
type Config struct {
	// Batch is how many deliveries one claim takes (default 32).
	Batch int
	// Workers is how many deliveries run at once (default 4): each is a few Discord calls
	// and a write, and a burst of lifts queues two per lift.
	Workers int
	// Lease is how long a claimed delivery is the claimer's alone (default 2 minutes): a
	// process that dies holding it hands it on once the lease ends.
	Lease time.Duration
	// PollEvery bounds how long the worker waits without being woken (default 1 minute):
	// it then picks up what another process queued and left, or what a dead one held.
	PollEvery time.Duration
	// BackoffBase and BackoffMax bound the wait before a failed delivery is tried again:
	// BackoffBase doubled per attempt, at most BackoffMax (defaults 5 seconds, 10 minutes).
	BackoffBase, BackoffMax time.Duration
}

func (c *Config) fill() {
	if c.Batch <= 0 {
		c.Batch = 32
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Lease <= 0 {
		c.Lease = 2 * time.Minute
	}
	if c.PollEvery <= 0 {
		c.PollEvery = time.Minute
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 5 * time.Second
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 10 * time.Minute
	}
}

// Backoff is how long the worker waits after a delivery's attempts-th failure.
func (c Config) Backoff(attempts int) time.Duration {
	d := c.BackoffBase
	for i := 1; i < attempts && d < c.BackoffMax; i++ {
		d *= 2
	}
	return min(d, c.BackoffMax)
}

// Service is the mod log: the outbox's writer (as the cases' change observer) and its
// worker. It is safe for concurrent use.
type Service struct {
	st       *store.Store
	cases    *cases.Service
	settings *settings.Service
	clk      clock.Clock
	log      *slog.Logger
	cfg      Config
	owner    string
	// wake holds one pending wake-up: a commit that queued a delivery while the worker was
	// busy is not lost.
	wake chan struct{}
	// running is set while Run is the process's worker: only then are new rows written
	// leased to it (see CasesChanged).
	running atomic.Bool
	// handMu guards handed, the rows committed already leased to this worker and not yet
	// taken by it, and claimDue, set when a commit queued a row that only a claim finds.
	// reread is set when the outbox's next due time may have moved (a row handed back,
	// kept, or requeued), for the worker to read it again.
	reread   atomic.Bool
	handMu   sync.Mutex
	handed   []leased
	claimDue bool
	// settleFault, when set (tests, export_test.go), is asked before each row's outcome is
	// written, in the settling transaction; an error it returns fails that transaction as a
	// refusal of the database would.
	settleFault func(caseID int64) error
	// delivered is told of each finished delivery (tests wait on it); nil when unused.
	delivered func(caseID int64, outcome Outcome)
	// tone tells what each case type's action does (its embed's colour); nil colours every
	// case as a record.
	tone func(cases.Type) Tone
	// decorate adds what a feature shows on its own cases' messages (a raid's summary and
	// buttons), at each delivery; nil for none.
	decorate func(ctx context.Context, c cases.Case, msg *discord.Message) error
}

// WithDecorator makes every delivery pass the rendered message through d, which may add
// to it what the case's feature knows (package raid: a RAID case's candidates and buttons).
// An error retries the delivery later, as a failed post does.
func WithDecorator(d func(ctx context.Context, c cases.Case, msg *discord.Message) error) Option {
	return func(s *Service) { s.decorate = d }
}

// Outcome is how a delivery ended.
type Outcome string

const (
	// Posted: the case's message was posted and linked to the case.
	Posted Outcome = "posted"
	// Edited: the case's message was edited to show the case as it is.
	Edited Outcome = "edited"
	// Skipped: there was nothing to show (the case is pending or was voided before it was
	// posted, or the guild has no mod-log channel).
	Skipped Outcome = "skipped"
	// Gone: the message or its channel no longer exists; it is not posted again elsewhere.
	Gone Outcome = "gone"
	// Retry: Discord did not take it; it is tried again after a backoff.
	Retry Outcome = "retry"
)

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock the outbox's times and the worker's waits read (default the
// system clock).
func WithClock(c clock.Clock) Option { return func(s *Service) { s.clk = c } }

// WithLogger sets where failed deliveries are logged.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithConfig tunes the worker.
func WithConfig(c Config) Option { return func(s *Service) { s.cfg = c } }

// WithDeliveryObserver calls f after each delivery with its outcome (metrics, tests). f
// must not block. Observers add up: each is called, in the order given.
func WithDeliveryObserver(f func(caseID int64, outcome Outcome)) Option {
	return func(s *Service) {
		prev := s.delivered
		if prev == nil {
			s.delivered = f
			return
		}
		s.delivered = func(caseID int64, o Outcome) { prev(caseID, o); f(caseID, o) }
	}
}

// WithTones tells the mod log each case type's tone, which its action declares
// (moderation.Catalogue.Tone).
func WithTones(tone func(cases.Type) Tone) Option { return func(s *Service) { s.tone = tone } }

// New returns the mod log over the store. Bind it to the cases service with
// cases.WithChangeObserver (it is a cases.ChangeObserver), then Bind the cases service to it.
func New(st *store.Store, gs *settings.Service, opts ...Option) *Service {
	var b [8]byte
	_, _ = rand.Read(b[:])
	s := &Service{st: st, settings: gs, log: slog.Default(), owner: "modlog-" + hex.EncodeToString(b[:]),
		wake: make(chan struct{}, 1)}
	for _, o := range opts {
		o(s)
	}
	s.clk = clock.OrSystem(s.clk)
	s.cfg.fill()
	return s
}

// Bind gives the mod log the cases service it renders from and links messages through. The
// two name each other: the cases service tells the mod log of changes, the mod log reads and
// links cases.
func (s *Service) Bind(cs *cases.Service) { s.cases = cs }

// Config returns the worker's settings, defaults filled in.
func (s *Service) Config() Config { return s.cfg }

// CasesChanged queues a delivery for each changed case, inside the transaction that changed
// it (cases.ChangeObserver), and wakes the worker once that transaction commits. One row per
// case: a change while one waits joins it. The row is due now by the mod log's own clock,
// which its worker's claims read.
//
// While this process's worker runs, a new row is written already leased to it, as a claim
// would leave it (attempts 1), and handed to it once the transaction commits: the worker
// delivers it without a claim of its own (a write transaction). Nothing else changes: if the
// process dies first, the lease ends and any worker claims the row, as it would a claimed
// one. A change that joins a waiting row leaves that row's lease as it is, and the worker
// claims it.
func (s *Service) CasesChanged(tx *store.Tx, changed []cases.Changed) error {
	now := s.clk.Now()
	lease := s.running.Load()
	var mine []leased
	claim := false
	for _, c := range changed {
		if c.Child {
			// A mass action's child: its parent's message sums it up (the mass action adds a
			// history row to the parent in the same transaction), so a raid of a thousand is
			// one message, not a thousand.
			continue
		}
		p := query.EnqueueModlogParams{CaseID: c.ID, GuildID: int64(c.GuildID), Now: now.UnixMilli()}
		if lease {
			p.Attempts = 1
			p.Owner = sql.NullString{String: s.owner, Valid: true}
			p.LeaseUntil = sql.NullInt64{Int64: now.Add(s.cfg.Lease).UnixMilli(), Valid: true}
		}
		row, err := tx.Queries().EnqueueModlog(tx.Context(), p)
		if err != nil {
			return fmt.Errorf("queue the mod-log message of case id %d: %w", c.ID, err)
		}
		// A joined row has generation 2 or more, whoever holds it.
		if lease && row.Generation == 1 && row.LeaseOwner.String == s.owner {
			mine = append(mine, leased{ModlogOutbox: row, snap: c.Current})
		} else {
			claim = true
		}
	}
	tx.AfterCommit(func() { s.hand(mine, claim) })
	return nil
}

// leased is an outbox row leased to this process's worker. A row handed over by the commit
// that wrote it may carry snap, the case as that commit left it (cases.Changed.Current): the
// row's generation 1 says no change has come since, as far as the worker knows, and a change
// that comes during the delivery makes another generation, which keeps the row for a delivery
// that reads the case again (see settleRow). Nil for a claimed row: the worker reads the case.
type leased struct {
	query.ModlogOutbox
	snap *cases.Case
}

// hand gives the worker rows committed leased to it, and notes whether a claim is needed,
// then wakes it.
func (s *Service) hand(rows []leased, claim bool) {
	s.handMu.Lock()
	s.handed = append(s.handed, rows...)
	s.claimDue = s.claimDue || claim
	s.handMu.Unlock()
	s.wakeUp()
}

// takeHanded takes up to max of the rows handed to the worker.
func (s *Service) takeHanded(max int) []leased {
	s.handMu.Lock()
	defer s.handMu.Unlock()
	n := min(max, len(s.handed))
	if n == 0 {
		return nil
	}
	out := append([]leased(nil), s.handed[:n]...)
	s.handed = append(s.handed[:0], s.handed[n:]...)
	return out
}

// takeClaimDue reports, and clears, that a commit queued a row only a claim finds.
func (s *Service) takeClaimDue() bool {
	s.handMu.Lock()
	defer s.handMu.Unlock()
	due := s.claimDue
	s.claimDue = false
	return due
}

// wakeUp wakes the worker; a wake-up while it is busy is kept for when it is done.
func (s *Service) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Pending is one queued delivery, as the outbox holds it.
type Pending struct {
	CaseID     int64
	GuildID    discord.GuildID
	Generation int64
	RunAt      time.Time
	Attempts   int
	LeaseOwner string
	LastError  string
}

// Counts reads how many deliveries are queued (waiting, being delivered, or waiting to be
// tried again), and how many of them failed at least once: the backlog an operator watches.
// It counts the whole outbox, every process's.
func (s *Service) Counts(ctx context.Context) (queued, failing int64, err error) {
	row, err := s.st.Queries().ModlogCounts(ctx, s.clk.Now().UnixMilli())
	if err != nil {
		return 0, 0, fmt.Errorf("count mod-log deliveries: %w", err)
	}
	return row.QueuedCount, row.FailingCount, nil
}

// Pending lists the queued deliveries, for operators and tests.
func (s *Service) Pending(ctx context.Context) ([]Pending, error) {
	rows, err := s.st.Queries().ModlogOutbox(ctx)
	if err != nil {
		return nil, fmt.Errorf("mod-log outbox: %w", err)
	}
	out := make([]Pending, 0, len(rows))
	for _, r := range rows {
		out = append(out, Pending{CaseID: r.CaseID, GuildID: discord.GuildID(r.GuildID), Generation: r.Generation,
			RunAt: time.UnixMilli(r.RunAt).UTC(), Attempts: int(r.Attempts), LeaseOwner: r.LeaseOwner.String, LastError: r.LastError.String})
	}
	return out, nil
}
