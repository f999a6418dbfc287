// Package leases divides the gateway shards between the gavel processes that share one
// database (discord.shards = "auto"): a shards.Provider over the shard_leases table.
//
// Each process heartbeats a row of its own; the live processes share the shards equally
// (each runs at most ceil(count / live)). A shard is leased: its owner renews the lease
// every Renew and saves the shard's session with it (id, sequence, resume URL), so that
// whoever takes it next RESUMEs that session and Discord replays what was missed. A lease
// not renewed for TTL (its owner was killed, lost power, lost the database) is free, and the
// next tick of another process takes it: a dead process's shards are taken over within
// TTL + Renew. A clean stop hands every shard back with its session at once.
//
// Fencing: every change of owner increments the lease's epoch, and a renewal counts only
// for the epoch its process took. A process that cannot renew (the database does not
// answer, or another process holds a newer epoch) stops the shard before its lease runs
// out, so no two processes ever work on one shard's guilds at the same time, provided the
// processes' clocks agree to within the margin (Margin, a fifth of TTL by default): run
// NTP.
package leases

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord/shards"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// Defaults: a killed process's shards are taken over within TTL + Renew = 35 s (the
// issue's bound is 45 s).
const (
	DefaultRenew = 5 * time.Second
	DefaultTTL   = 30 * time.Second
)

// Config is a Provider's configuration.
type Config struct {
	Store *store.Store
	// Owner names this process in the table; empty: host:pid:random.
	Owner string
	// Renew is how often leases are renewed and sessions saved; TTL how long a lease lasts
	// without renewal; Margin how long before its end an unrenewed lease's shard is
	// stopped. Zero: the defaults.
	Renew, TTL, Margin time.Duration
	Clock              clock.Clock
	Log                *slog.Logger
	// Owned, when set, is told the shards this process holds each time they change (the
	// guild affinity filters work on it).
	Owned func(count int, shards []int)
	// Live, when set, is told at every renewal how many processes hold leases (the REST
	// share is split between them).
	Live func(processes int)
}

// lease is a shard this process holds.
type lease struct {
	epoch int64
	// until is when the lease runs out, as last written.
	until time.Time
	// fence is what work on the shard's guilds holds (Hold); it ends with the lease.
	fence *fence
}

// fence is the life of one lease (one epoch) in this process: work on the shard's guilds
// runs under ctx, which ends when the shard is lost or handed back, or when its lease,
// not renewed, comes within the margin of running out (Run's loop wakes for that, apart
// from its renewals).
type fence struct {
	ctx  context.Context
	stop context.CancelFunc
	// mu guards work and idle. work holds the cancels of the holders' contexts (one per
	// piece of work that has not returned yet), called as the fence ends (at once, not from
	// a goroutine, so the work is cancelled before the provider goes on). idle, when not
	// nil, is closed as work empties. A count under mu, not a sync.WaitGroup: during a
	// hand-back's grace new work may still start while end waits, and a WaitGroup forbids
	// an Add from zero concurrent with its Wait (the race detector reports it).
	mu   sync.Mutex
	work map[*context.CancelCauseFunc]struct{}
	idle chan struct{}
}

func newFence() *fence {
	f := &fence{work: map[*context.CancelCauseFunc]struct{}{}}
	f.ctx, f.stop = context.WithCancel(context.Background())
	return f
}

// hold registers a holder's cancel; false when the fence has ended.
func (f *fence) hold(cancel *context.CancelCauseFunc) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx.Err() != nil {
		return false
	}
	f.work[cancel] = struct{}{}
	return true
}

func (f *fence) unhold(cancel *context.CancelCauseFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.work, cancel)
	if len(f.work) == 0 && f.idle != nil {
		close(f.idle)
		f.idle = nil
	}
}

// idled returns a channel closed once no work holds the fence (at once if none does now).
func (f *fence) idled() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.work) == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	if f.idle == nil {
		f.idle = make(chan struct{})
	}
	return f.idle
}

// cancel ends the fence and cancels every holder's context.
func (f *fence) cancel() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stop()
	for c := range f.work {
		// The cause says why (context.Cause): the work reports that its guild moved, not
		// that it timed out or that the process is stopping.
		(*c)(ErrLeaseLost)
	}
}

// end stops the work on the shard's guilds and waits until all of it has returned. With
// a grace (a clean hand-back), the work has that long to finish before it is cancelled;
// a lost lease cancels it at once.
func (f *fence) end(grace time.Duration) {
	if grace > 0 {
		t := time.NewTimer(grace)
		select {
		case <-f.idled():
		case <-t.C:
		case <-f.ctx.Done():
		}
		t.Stop()
	}
	f.cancel()
	// No work starts once the fence is cancelled, so idle is final.
	<-f.idled()
}

// handBackGrace is how long the work on a handed-back shard's guilds may take to finish
// before it is cancelled (a cancelled lift leaves its case pending, for reconciliation).
const handBackGrace = 5 * time.Second

// Provider is the "auto" shard provider. It is safe for concurrent use.
type Provider struct {
	cfg Config

	mu     sync.Mutex
	count  int
	leases map[int]lease
	// live is how many processes held leases at the last renewal.
	live int
}

// Live is how many processes held leases at the last renewal (0 before the first).
func (p *Provider) Live() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live
}

var _ shards.Provider = (*Provider)(nil)

// New returns the provider of cfg.
func New(cfg Config) *Provider {
	if cfg.Renew <= 0 {
		cfg.Renew = DefaultRenew
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Margin <= 0 {
		cfg.Margin = cfg.TTL / 5
	}
	cfg.Clock = clock.OrSystem(cfg.Clock)
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		cfg.Owner = fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	return &Provider{cfg: cfg, leases: map[int]lease{}}
}

// Owner is the name this process holds its leases under.
func (p *Provider) Owner() string { return p.cfg.Owner }

// Holds says whether this process holds shard's lease now: the guild affinity check of
// work that was not started by the shard's own events (expiry lifts).
func (p *Provider) Holds(shard int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.leases[shard]
	return ok && p.cfg.Clock.Now().Before(l.until.Add(-p.cfg.Margin))
}

// Hold starts a piece of work on guild's behalf (an expiry's lift, a command, jail keeping,
// an AutoMod punishment), which must run in the process holding the guild's shard. ok is false when this process does not hold it (or
// its lease is within the margin of running out). Otherwise the work runs under held,
// which ends when the shard is lost, handed back or its lease runs late (and when ctx
// ends), and calls done when it returns: a shard is handed back only once every holder
// has returned, so the next owner never starts while this process still works on the
// guild. check verifies, inside a store transaction that records the work's outcome, that
// this process still holds the lease it held at Hold: on PostgreSQL it also locks the
// lease's row, so another process's claim of it waits for that transaction, and the
// outcome is either committed before the next owner starts or refused.
func (p *Provider) Hold(ctx context.Context, guildID uint64) (held context.Context, check func(*store.Tx) error, done func(), ok bool) {
	p.mu.Lock()
	count := p.count
	if count == 0 {
		p.mu.Unlock()
		return nil, nil, nil, false
	}
	shard := int((guildID >> 22) % uint64(count))
	l, have := p.leases[shard]
	if !have || !p.cfg.Clock.Now().Before(l.until.Add(-p.cfg.Margin)) {
		p.mu.Unlock()
		return nil, nil, nil, false
	}
	p.mu.Unlock()
	held, cancel := context.WithCancelCause(ctx)
	// The fence's check (below) verifies this lease: saying which lets a case's insert on
	// PostgreSQL check it within its own statement (store.WithLease).
	held = store.WithLease(held, store.Lease{Count: int64(count), Shard: int64(shard), Owner: p.cfg.Owner, Epoch: l.epoch,
		Now: func() int64 { return p.cfg.Clock.Now().UnixMilli() }})
	if !l.fence.hold(&cancel) {
		cancel(nil)
		return nil, nil, nil, false
	}
	var once sync.Once
	done = func() {
		once.Do(func() {
			cancel(nil)
			l.fence.unhold(&cancel)
		})
	}
	check = func(tx *store.Tx) error {
		// Once per transaction and lease: a batch of cases of one shard's guilds (the case
		// batcher checks each caller's fence) costs one check, and the row stays locked
		// (FOR SHARE) until the transaction ends anyway.
		return tx.Once(fenceCheck{count: count, shard: shard, epoch: l.epoch}, func() error {
			n, err := tx.Queries().ShardLeaseHeld(tx.Context(), query.ShardLeaseHeldParams{ShardCount: int64(count), ShardID: int64(shard),
				Owner: p.owner(), Epoch: l.epoch, Now: p.cfg.Clock.Now().UnixMilli()})
			if err != nil {
				return fmt.Errorf("checking the lease of shard %d: %w", shard, err)
			}
			if n == 0 {
				return fmt.Errorf("shard %d of %d (epoch %d): %w", shard, count, l.epoch, ErrLeaseLost)
			}
			return nil
		})
	}
	return held, check, done, true
}

// fenceCheck is the key of a lease's check in a transaction (store.Tx.Once).
type fenceCheck struct {
	count, shard int
	epoch        int64
}

// ErrLeaseLost: this process no longer holds the shard lease the work began under. It is a
// store.ErrFenced (the writes it refuses are the store's), and the cause (context.Cause) of
// the contexts of the work Hold cancels when the shard is lost or handed back.
var ErrLeaseLost = fmt.Errorf("this process no longer holds the shard's lease: %w", store.ErrFenced)

// Shards returns the shard count and the shards this process holds, in order.
func (p *Provider) Shards() (count int, ids []int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id := range p.leases {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return p.count, ids
}

func (p *Provider) owner() sql.NullString { return sql.NullString{String: p.cfg.Owner, Valid: true} }

func (p *Provider) q() query.Queries { return p.cfg.Store.WriteQueries() }

// Run implements shards.Provider: one tick at once, then one every Renew until ctx ends.
func (p *Provider) Run(ctx context.Context, count int, r shards.Runner) error {
	now := p.cfg.Clock.Now().UnixMilli()
	err := p.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		for id := range count {
			if err := tx.Queries().EnsureShardLease(ctx, query.EnsureShardLeaseParams{ShardCount: int64(count), ShardID: int64(id), UpdatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("shard leases: creating the %d shards' rows: %w", count, err)
	}
	p.mu.Lock()
	old := p.leases
	p.count = count
	p.leases = map[int]lease{}
	p.mu.Unlock()
	// A re-shard: the previous count's shards were stopped; their work ends too.
	for _, l := range old {
		l.fence.end(0)
	}
	nextTick := p.cfg.Clock.Now()
	for {
		if now := p.cfg.Clock.Now(); !now.Before(nextTick) {
			p.tick(ctx, count, r)
			nextTick = now.Add(p.cfg.Renew)
		}
		wake := nextTick
		if at := p.expireFences(p.cfg.Clock.Now()); !at.IsZero() && at.Before(wake) {
			wake = at
		}
		t := p.cfg.Clock.TimerAt(wake)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}

// tick heartbeats, renews (stopping what it lost), gives back what is more than its
// share, and takes free shards up to its share.
func (p *Provider) tick(ctx context.Context, count int, r shards.Runner) {
	now := p.cfg.Clock.Now()
	until := now.Add(p.cfg.TTL)
	q := p.q()
	log := p.cfg.Log
	// Each statement is bounded, so that a database that hangs cannot hold this loop, and
	// the fences it checks after the tick, past their time.
	db := func() context.Context {
		c, cancel := context.WithTimeout(ctx, max(p.cfg.Margin/2, time.Second))
		context.AfterFunc(c, cancel)
		return c
	}
	if err := q.HeartbeatProcess(db(), query.HeartbeatProcessParams{Owner: p.cfg.Owner, StartedAt: now.UnixMilli(), ExpiresAt: until.UnixMilli()}); err != nil {
		log.Warn("shard leases: heartbeat failed", "err", err)
	}
	sessions := r.Sessions()
	p.mu.Lock()
	held := make(map[int]lease, len(p.leases))
	for id, l := range p.leases {
		held[id] = l
	}
	p.mu.Unlock()
	changed := false
	for _, id := range sortedIDs(held) {
		l := held[id]
		s := sessions[id]
		n, err := q.RenewShardLease(db(), query.RenewShardLeaseParams{ExpiresAt: until.UnixMilli(), SessionID: s.ID, Seq: int64(s.Seq),
			ResumeUrl: s.ResumeURL, Now: now.UnixMilli(), ShardCount: int64(count), ShardID: int64(id), Owner: p.owner(), Epoch: l.epoch})
		switch {
		case err == nil && n == 1:
			if p.renewLease(id, until) {
				// The work stopped when the fence ended is lost to this connection: its events
				// were handled (and dropped) already. A RESUME from the saved session, which
				// stays below any command that recorded nothing, has Discord send them again.
				log.Info("shard leases: renewed a lease whose work had been stopped as it ran late; resuming the shard so that the stopped work is replayed", "shard", id, "epoch", l.epoch)
				sess := r.Stop(ctx, id, true)
				if err := r.Start(ctx, id, sess); err != nil {
					log.Warn("shard leases: restarting a shard after a late renewal failed; handing it back", "shard", id, "err", err)
					p.release(ctx, count, id, sess)
				}
				changed = true
			}
		case err == nil:
			// Another process holds a newer epoch: ours ran out. Stop at once; the session
			// is the new owner's now, so it is kept (not closed with 1000).
			log.Warn("shard leases: lost a shard's lease to another process", "shard", id, "epoch", l.epoch)
			p.drop(id)
			r.Stop(ctx, id, true)
			l.fence.end(0)
			changed = true
		case !now.Before(l.until.Add(-p.cfg.Margin)):
			// The database does not answer and the lease is about to run out: stop before
			// another process may take it.
			log.Error("shard leases: cannot renew a lease that is running out; stopping the shard", "shard", id, "err", err)
			p.drop(id)
			r.Stop(ctx, id, true)
			l.fence.end(0)
			changed = true
		default:
			log.Warn("shard leases: renewal failed; trying again", "shard", id, "err", err)
		}
	}

	live, err := q.LiveProcesses(db(), now.UnixMilli())
	if err != nil || live < 1 {
		if err != nil {
			log.Warn("shard leases: counting the live processes", "err", err)
		}
		if changed {
			p.owned()
		}
		return
	}
	p.mu.Lock()
	p.live = int(live)
	p.mu.Unlock()
	if p.cfg.Live != nil {
		p.cfg.Live(int(live))
	}
	share := (count + int(live) - 1) / int(live)
	p.mu.Lock()
	mine := sortedIDs(p.leases)
	p.mu.Unlock()
	// More than the share (a process joined): hand the highest shards back with their
	// sessions, for the newcomer to resume.
	for len(mine) > share {
		id := mine[len(mine)-1]
		mine = mine[:len(mine)-1]
		p.release(ctx, count, id, r.Stop(ctx, id, true))
		changed = true
	}
	// Starting a shard waits for its IDENTIFY's window (5 seconds per max_concurrency
	// bucket, across processes): taking a share of many shards in one tick would hold back
	// the renewals of the leases taken first until they ran out. Claiming stops once a
	// renewal interval has gone by in this tick; the next tick renews and takes more.
	for len(mine) < share && ctx.Err() == nil && p.cfg.Clock.Now().Before(now.Add(p.cfg.Renew)) {
		row, err := q.ClaimShardLease(db(), query.ClaimShardLeaseParams{Owner: p.owner(), ExpiresAt: until.UnixMilli(), Now: now.UnixMilli(), ShardCount: int64(count)})
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			log.Warn("shard leases: claiming a free shard", "err", err)
			break
		}
		id := int(row.ShardID)
		p.setLease(id, lease{epoch: row.Epoch, until: until, fence: newFence()})
		sess := shards.Session{ID: row.SessionID, Seq: int(row.Seq), ResumeURL: row.ResumeUrl}
		log.Info("shard leases: took a shard", "shard", id, "count", count, "epoch", row.Epoch, "resume", sess.Resumable())
		p.owned()
		if err := r.Start(ctx, id, sess); err != nil {
			log.Warn("shard leases: starting a taken shard failed; handing it back", "shard", id, "err", err)
			p.release(ctx, count, id, sess)
			break
		}
		mine = append(mine, id)
		changed = true
	}
	if changed {
		p.owned()
	}
}

func (p *Provider) setLease(id int, l lease) {
	p.mu.Lock()
	p.leases[id] = l
	p.mu.Unlock()
}

// renewLease records a renewal. A lease whose fence was ended because it came within the
// margin of running out unrenewed (the database did not answer for a while) gets a new
// fence: the renewal, at the same epoch, proves that no other process took the shard
// meanwhile, so work on its guilds may start again. Without it every later piece of work
// on the shard's guilds would be refused as if the shard were lost, while this process
// still held it and ran its connection.
func (p *Provider) renewLease(id int, until time.Time) (refenced bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.leases[id]
	if !ok {
		return false
	}
	l.until = until
	if l.fence.ctx.Err() != nil {
		l.fence = newFence()
		refenced = true
	}
	p.leases[id] = l
	return refenced
}

// expireFences ends the work on the guilds of every lease that comes within the margin of
// running out unrenewed by now, and returns when the next one would.
func (p *Provider) expireFences(now time.Time) (next time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.leases {
		at := l.until.Add(-p.cfg.Margin)
		if !now.Before(at) {
			l.fence.cancel()
			continue
		}
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next
}

// drop forgets a shard's lease: no new work on its guilds holds it from now on.
func (p *Provider) drop(id int) {
	p.mu.Lock()
	delete(p.leases, id)
	p.mu.Unlock()
}

// release gives a shard back with its session (after it was stopped), once the work on
// its guilds has returned, so that the next owner starts only after this process stopped.
func (p *Provider) release(ctx context.Context, count, id int, s shards.Session) {
	p.mu.Lock()
	l, ok := p.leases[id]
	delete(p.leases, id)
	p.mu.Unlock()
	if !ok {
		return
	}
	l.fence.end(handBackGrace)
	_, err := p.q().ReleaseShardLease(context.WithoutCancel(ctx), query.ReleaseShardLeaseParams{SessionID: s.ID, Seq: int64(s.Seq), ResumeUrl: s.ResumeURL,
		Now: p.cfg.Clock.Now().UnixMilli(), ShardCount: int64(count), ShardID: int64(id), Owner: p.owner(), Epoch: l.epoch})
	if err != nil {
		// The lease runs out by itself; the session saved at the last renewal is resumed.
		p.cfg.Log.Warn("shard leases: handing a shard back", "shard", id, "err", err)
	}
}

func (p *Provider) owned() {
	if p.cfg.Owned == nil {
		return
	}
	count, ids := p.Shards()
	p.cfg.Owned(count, ids)
}

// KeepsSessions says that this provider hands sessions on (Release saves them), so a clean
// stop closes each shard with a code that keeps its session for the next owner.
func (p *Provider) KeepsSessions() bool { return true }

// IdentifiesNeeded is how many IDENTIFYs taking this process's share of count shards may
// cost at most: the free shards with no session to resume, up to the share (the others
// RESUME). It reads the table; on a failed read it assumes every shard identifies.
func (p *Provider) IdentifiesNeeded(count int) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := p.cfg.Clock.Now()
	q := p.q()
	rows, err := q.ShardLeases(ctx, int64(count))
	if err != nil {
		return count
	}
	live, err := q.LiveProcesses(ctx, now.UnixMilli())
	if err != nil {
		return count
	}
	share := count / int(live+1)
	if count%int(live+1) != 0 {
		share++
	}
	fresh, free := 0, 0
	for _, r := range rows {
		if r.Owner.Valid && r.ExpiresAt > now.UnixMilli() {
			continue
		}
		free++
		if r.SessionID == "" || r.Seq <= 0 {
			fresh++
		}
	}
	if len(rows) < count {
		fresh += count - len(rows)
		free += count - len(rows)
	}
	return min(fresh, share, free)
}

// Release implements shards.Provider: after a clean stop, every shard still held is handed
// back with the session it kept, so the next owner resumes it (a rolling restart costs no
// IDENTIFY), and the process leaves the table.
func (p *Provider) Release(ctx context.Context, sessions map[int]shards.Session) {
	p.mu.Lock()
	count := p.count
	ids := sortedIDs(p.leases)
	p.mu.Unlock()
	for _, id := range ids {
		p.release(ctx, count, id, sessions[id])
	}
	if err := p.q().DeleteProcess(context.WithoutCancel(ctx), p.cfg.Owner); err != nil {
		p.cfg.Log.Warn("shard leases: leaving the process table", "err", err)
	}
	p.owned()
}

func sortedIDs(m map[int]lease) []int {
	ids := make([]int, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
