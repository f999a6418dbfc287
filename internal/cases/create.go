package cases

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavelbot/gavel/internal/store"
)

// New is what a case is created from.
type New struct {
	GuildID     int64
	UserID      int64
	ModeratorID int64
	Type        Type
	// Status is Active when empty. Pending records a case before its Discord action.
	Status    Status
	Reason    string
	RoleIDs   []int64
	ExpiresAt time.Time
	Metadata  map[string]string
}

func (n *New) check() error {
	if err := checkID("guild", n.GuildID); err != nil {
		return err
	}
	if err := checkID("user", n.UserID); err != nil {
		return err
	}
	if err := checkID("moderator", n.ModeratorID); err != nil {
		return err
	}
	if !n.Type.Valid() {
		return invalid("type", fmt.Sprintf("%q is not a case type; accepted: %s", n.Type, typeList()))
	}
	switch n.Status {
	case "":
		n.Status = Active
	case Pending, Active:
	default:
		return invalid("status", fmt.Sprintf("a new case cannot be %q; accepted: pending, active", n.Status))
	}
	if err := checkReason("reason", n.Reason); err != nil {
		return err
	}
	if len(n.RoleIDs) > MaxRoleIDs {
		return invalid("roles", fmt.Sprintf("%d roles; at most %d are accepted", len(n.RoleIDs), MaxRoleIDs))
	}
	for _, r := range n.RoleIDs {
		if err := checkID("role", r); err != nil {
			return err
		}
	}
	return checkMetadata(n.Metadata)
}

// Create records a case, allocating the guild's next number in the same transaction. Calls
// that arrive together are committed together (a group commit), which is what lets many
// moderators, or several processes, record cases at the rate of bare inserts; numbers stay
// dense and unique per guild across processes because they come from the guild's counter
// row, locked inside the transaction.
func (s *Service) Create(ctx context.Context, n New) (Case, error) {
	if err := n.check(); err != nil {
		return Case{}, err
	}
	return s.batch.submit(ctx, s, &n)
}

// CreateMany records all the cases in one transaction, or none of them. Each guild's cases
// get consecutive numbers in the order given.
func (s *Service) CreateMany(ctx context.Context, ns []New) ([]Case, error) {
	if len(ns) == 0 {
		return nil, nil
	}
	reqs := make([]*New, len(ns))
	for i := range ns {
		n := ns[i]
		if err := n.check(); err != nil {
			return nil, fmt.Errorf("case %d of %d: %w", i+1, len(ns), err)
		}
		reqs[i] = &n
	}
	var out []Case
	err := s.st.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.insert(ctx, tx, reqs)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create %d cases: %w", len(ns), err)
	}
	return out, nil
}

// batcher is a leader/follower group commit: whoever holds sem commits everything queued so
// far in one transaction, while later arrivals queue for the next one. No goroutine of its
// own, so there is nothing to start or stop.
type batcher struct {
	mu      sync.Mutex
	pending []*createReq
	sem     chan struct{}
}

const maxBatch = 128

type createReq struct {
	n     *New
	state atomic.Int32 // reqQueued → reqTaken by a leader, or → reqAbandoned by its caller
	done  chan struct{}
	c     Case
	err   error
}

const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

func (b *batcher) submit(ctx context.Context, s *Service, n *New) (Case, error) {
	r := &createReq{n: n, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, r)
	b.mu.Unlock()
	for {
		select {
		case <-r.done:
			return r.c, r.err
		case b.sem <- struct{}{}:
			b.lead(ctx, s)
			<-b.sem
		case <-ctx.Done():
			if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
				return Case{}, fmt.Errorf("create case: %w", ctx.Err())
			}
			// A leader has it: its outcome is coming and must be reported, because a case
			// may now exist.
			<-r.done
			return r.c, r.err
		}
	}
}

func (b *batcher) lead(ctx context.Context, s *Service) {
	b.mu.Lock()
	var batch []*createReq
	rest := b.pending[:0:0]
	for _, r := range b.pending {
		if len(batch) < maxBatch && r.state.CompareAndSwap(reqQueued, reqTaken) {
			batch = append(batch, r)
		} else if r.state.Load() == reqQueued {
			rest = append(rest, r)
		}
	}
	b.pending = rest
	b.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	// The transaction outlives any one caller's context: callers that gave up are still told.
	txCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	finish := func(rs []*createReq) {
		ns := make([]*New, len(rs))
		for i, r := range rs {
			ns[i] = r.n
		}
		var out []Case
		err := s.st.InTx(txCtx, func(tx *sql.Tx) error {
			var err error
			out, err = s.insert(txCtx, tx, ns)
			return err
		})
		for i, r := range rs {
			if err != nil {
				r.err = fmt.Errorf("create case: %w", err)
			} else {
				r.c = out[i]
			}
		}
	}
	finish(batch)
	if len(batch) > 1 && batch[0].err != nil {
		// One bad request must not fail its neighbours: retry each on its own.
		for _, r := range batch {
			r.err = nil
			finish([]*createReq{r})
		}
	}
	for _, r := range batch {
		close(r.done)
	}
}

// insert allocates numbers for ns and inserts them with their "created" history rows, in
// three statements whatever the batch size: one upsert of the guild counters, one multi-row
// insert of the cases, one of the events.
func (s *Service) insert(ctx context.Context, tx *sql.Tx, ns []*New) ([]Case, error) {
	now := s.nowMS()
	perGuild := map[int64]int64{}
	for _, n := range ns {
		perGuild[n.GuildID]++
	}
	guilds := make([]int64, 0, len(perGuild))
	for g := range perGuild {
		guilds = append(guilds, g)
	}
	// Sorted, so that two transactions lock guild rows in the same order and cannot deadlock.
	slices.Sort(guilds)

	next := map[int64]int64{} // guild → next number to hand out
	for chunk := range slices.Chunk(guilds, 1000) {
		var q strings.Builder
		args := make([]any, 0, 3*len(chunk))
		q.WriteString("INSERT INTO guilds (id, case_count, joined_at) VALUES ")
		for i, g := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString(s.placeholders(len(args), 3))
			args = append(args, g, perGuild[g], now)
		}
		q.WriteString(" ON CONFLICT (id) DO UPDATE SET case_count = guilds.case_count + excluded.case_count RETURNING id, case_count")
		rows, err := tx.QueryContext(ctx, q.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("allocate case numbers: %w", err)
		}
		for rows.Next() {
			var g, count int64
			if err := rows.Scan(&g, &count); err != nil {
				rows.Close()
				return nil, fmt.Errorf("allocate case numbers: %w", err)
			}
			next[g] = count - perGuild[g] + 1
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("allocate case numbers: %w", err)
		}
	}

	out := make([]Case, len(ns))
	index := map[[2]int64]int{} // (guild, number) → position in ns
	for i, n := range ns {
		num, ok := next[n.GuildID]
		if !ok {
			return nil, fmt.Errorf("allocate case numbers: no counter returned for guild %d", n.GuildID)
		}
		next[n.GuildID] = num + 1
		index[[2]int64{n.GuildID, num}] = i
		out[i] = Case{GuildID: n.GuildID, Number: num, Type: n.Type, Status: n.Status, Reason: n.Reason,
			ModeratorID: n.ModeratorID, UserID: n.UserID, RoleIDs: n.RoleIDs, Metadata: n.Metadata,
			CreatedAt: time.UnixMilli(now).UTC(), UpdatedAt: time.UnixMilli(now).UTC()}
		if !n.ExpiresAt.IsZero() {
			out[i].ExpiresAt = time.UnixMilli(n.ExpiresAt.UnixMilli()).UTC()
		}
		if len(out[i].Metadata) == 0 {
			out[i].Metadata = nil
		}
	}

	const caseCols = 12
	for start := 0; start < len(ns); start += maxBatch {
		end := min(start+maxBatch, len(ns))
		var q strings.Builder
		args := make([]any, 0, caseCols*(end-start))
		q.WriteString("INSERT INTO cases (guild_id, number, type, status, reason, moderator_id, user_id, role_ids, expires_at, metadata, created_at, updated_at) VALUES ")
		for i := start; i < end; i++ {
			n, c := ns[i], out[i]
			if i > start {
				q.WriteString(", ")
			}
			q.WriteString(s.placeholders(len(args), caseCols))
			args = append(args, c.GuildID, c.Number, string(n.Type), string(n.Status), n.Reason, n.ModeratorID,
				n.UserID, roleJSON(n.RoleIDs), nullMS(n.ExpiresAt), metadataJSON(n.Metadata), now, now)
		}
		q.WriteString(" RETURNING id, guild_id, number")
		rows, err := tx.QueryContext(ctx, q.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("insert cases: %w", err)
		}
		for rows.Next() {
			var id, g, num int64
			if err := rows.Scan(&id, &g, &num); err != nil {
				rows.Close()
				return nil, fmt.Errorf("insert cases: %w", err)
			}
			out[index[[2]int64{g, num}]].ID = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("insert cases: %w", err)
		}

		const eventCols = 6
		var e strings.Builder
		eargs := make([]any, 0, eventCols*(end-start))
		e.WriteString("INSERT INTO case_events (case_id, guild_id, kind, actor_id, new_value, created_at) VALUES ")
		for i := start; i < end; i++ {
			c := out[i]
			if c.ID == 0 {
				return nil, fmt.Errorf("insert cases: no id returned for case #%d of guild %d", c.Number, c.GuildID)
			}
			if i > start {
				e.WriteString(", ")
			}
			e.WriteString(s.placeholders(len(eargs), eventCols))
			eargs = append(eargs, c.ID, c.GuildID, string(EventCreated), c.ModeratorID, string(c.Status), now)
		}
		if _, err := tx.ExecContext(ctx, e.String(), eargs...); err != nil {
			return nil, fmt.Errorf("record case creation: %w", err)
		}
	}
	return out, nil
}

// placeholders returns "($k+1, $k+2, …, $k+n)" for PostgreSQL and "(?, ?, …)" for SQLite,
// which resolves each named $n parameter by a linear search: quadratic in a wide insert.
func (s *Service) placeholders(k, n int) string {
	if s.st.Engine() == store.SQLite {
		return "(" + strings.Repeat("?, ", n-1) + "?)"
	}
	var b strings.Builder
	b.WriteByte('(')
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(k + i))
	}
	b.WriteByte(')')
	return b.String()
}
