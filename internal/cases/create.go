package cases

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/dbsqlc"
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
		return input.Invalid("type", fmt.Sprintf("%q is not a case type; accepted: %s", n.Type, typeList()))
	}
	switch n.Status {
	case "":
		n.Status = Active
	case Pending, Active:
	default:
		return input.Invalid("status", fmt.Sprintf("a new case cannot be %q; accepted: pending, active", n.Status))
	}
	if err := checkReason("reason", n.Reason); err != nil {
		return err
	}
	if len(n.RoleIDs) > MaxRoleIDs {
		return input.Invalid("roles", fmt.Sprintf("%d roles; at most %d are accepted", len(n.RoleIDs), MaxRoleIDs))
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
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		var err error
		out, err = s.insert(tx.Context(), tx.DB(), reqs)
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

// takeBatch claims up to maxBatch queued requests for a leader and returns them, with the
// requests still queued; abandoned ones are dropped. Both group commits (creation and
// updates) share it.
func takeBatch[R any](pending []*R, state func(*R) *atomic.Int32) (batch, rest []*R) {
	rest = pending[:0:0]
	for _, r := range pending {
		st := state(r)
		if len(batch) < maxBatch && st.CompareAndSwap(reqQueued, reqTaken) {
			batch = append(batch, r)
		} else if st.Load() == reqQueued {
			rest = append(rest, r)
		}
	}
	return batch, rest
}

func (b *batcher) lead(ctx context.Context, s *Service) {
	b.mu.Lock()
	var batch []*createReq
	batch, b.pending = takeBatch(b.pending, func(r *createReq) *atomic.Int32 { return &r.state })
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
		var err error
		if s.st.Engine() == store.Postgres {
			// One statement, atomic by itself: autocommit saves the BEGIN and COMMIT round
			// trips.
			out, err = s.insert(txCtx, s.st.WriteDB(), ns)
		} else {
			err = s.st.InTx(txCtx, func(tx *store.Tx) error {
				out, err = s.insert(txCtx, tx.DB(), ns)
				return err
			})
		}
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

// insert allocates numbers for ns and inserts them; the cases_record_creation trigger writes
// each one's "created" history row. Whatever the batch size, PostgreSQL gets one statement
// (a round trip is the cost that matters there) and SQLite two prepared statements per row
// (parsing is the cost that matters there).
func (s *Service) insert(ctx context.Context, db dbsqlc.DBTX, ns []*New) ([]Case, error) {
	now := s.nowMS()
	out := make([]Case, len(ns))
	for i, n := range ns {
		out[i] = Case{GuildID: n.GuildID, Type: n.Type, Status: n.Status, Reason: n.Reason,
			ModeratorID: n.ModeratorID, UserID: n.UserID, RoleIDs: n.RoleIDs, Metadata: n.Metadata,
			CreatedAt: time.UnixMilli(now).UTC(), UpdatedAt: time.UnixMilli(now).UTC()}
		if !n.ExpiresAt.IsZero() {
			out[i].ExpiresAt = time.UnixMilli(n.ExpiresAt.UnixMilli()).UTC()
		}
		if len(out[i].Metadata) == 0 {
			out[i].Metadata = nil
		}
	}
	if s.st.Engine() == store.Postgres {
		for start := 0; start < len(ns); start += maxBatch {
			end := min(start+maxBatch, len(ns))
			if err := s.insertPostgres(ctx, db, ns[start:end], out[start:end], now); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return out, s.insertSQLite(ctx, db, ns, out, now)
}

// insertPostgres allocates the numbers and inserts the cases in one statement. The guild
// rows are locked in id order, so that concurrent batches cannot deadlock.
func (s *Service) insertPostgres(ctx context.Context, db dbsqlc.DBTX, ns []*New, out []Case, now int64) error {
	var (
		guilds, moderators, users []int64
		types, statuses, reasons  []string
		roles, expiries, metadata []*string
	)
	for _, n := range ns {
		guilds = append(guilds, n.GuildID)
		moderators = append(moderators, n.ModeratorID)
		users = append(users, n.UserID)
		types = append(types, string(n.Type))
		statuses = append(statuses, string(n.Status))
		reasons = append(reasons, n.Reason)
		r, m := roleJSON(n.RoleIDs), metadataJSON(n.Metadata)
		roles = append(roles, &r)
		metadata = append(metadata, &m)
		var exp *string
		if !n.ExpiresAt.IsZero() {
			e := strconv.FormatInt(n.ExpiresAt.UnixMilli(), 10)
			exp = &e
		}
		expiries = append(expiries, exp)
	}
	// Arrays rather than a VALUES list keep the statement text the same for every batch
	// size, so each connection parses and plans it once.
	const q = `WITH input AS (
    SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::text[])
        WITH ORDINALITY AS t (guild_id, type, status, reason, moderator_id, user_id, role_ids, expires_at, metadata, ord)),
counts AS (SELECT guild_id, count(*) AS n FROM input GROUP BY guild_id),
counters AS (
    INSERT INTO guilds (id, case_count, joined_at) SELECT guild_id, n, $1 FROM counts ORDER BY guild_id
    ON CONFLICT (id) DO UPDATE SET case_count = guilds.case_count + excluded.case_count
    RETURNING id, case_count)
INSERT INTO cases (guild_id, number, type, status, reason, moderator_id, user_id, role_ids, expires_at, metadata, created_at, updated_at)
SELECT i.guild_id, g.case_count - c.n + row_number() OVER (PARTITION BY i.guild_id ORDER BY i.ord),
       i.type, i.status, i.reason, i.moderator_id, i.user_id, i.role_ids::jsonb, i.expires_at::bigint, i.metadata::jsonb, $1, $1
FROM input i JOIN counters g ON g.id = i.guild_id JOIN counts c ON c.guild_id = i.guild_id
ORDER BY i.ord
RETURNING id, guild_id, number`
	rows, err := db.QueryContext(ctx, q, now, guilds, types, statuses, reasons, moderators, users, roles, expiries, metadata)
	if err != nil {
		return fmt.Errorf("insert cases: %w", err)
	}
	defer rows.Close()
	type got struct{ id, number int64 }
	perGuild := map[int64][]got{}
	for rows.Next() {
		var id, g, num int64
		if err := rows.Scan(&id, &g, &num); err != nil {
			return fmt.Errorf("insert cases: %w", err)
		}
		perGuild[g] = append(perGuild[g], got{id, num})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert cases: %w", err)
	}
	// Within a guild, numbers follow the input order (row_number over ord): the k-th
	// smallest number belongs to the guild's k-th request.
	for g := range perGuild {
		slices.SortFunc(perGuild[g], func(a, b got) int { return cmp.Compare(a.number, b.number) })
	}
	for i := range out {
		list := perGuild[out[i].GuildID]
		if len(list) == 0 {
			return fmt.Errorf("insert cases: no row returned for a case of guild %d", out[i].GuildID)
		}
		out[i].ID, out[i].Number = list[0].id, list[0].number
		perGuild[out[i].GuildID] = list[1:]
	}
	return nil
}

const (
	sqliteUpsertGuild = `INSERT INTO guilds (id, case_count, joined_at) VALUES (?, ?, ?)
ON CONFLICT (id) DO UPDATE SET case_count = guilds.case_count + excluded.case_count RETURNING case_count`
	sqliteInsertCase = `INSERT INTO cases (guild_id, number, type, status, reason, moderator_id, user_id, role_ids, expires_at, metadata, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
)

// insertSQLite runs two statements per row, both kept prepared by the store's statement
// cache: the guild's counter upsert and the case insert. SQLite has no round trips, and a
// prepared statement skips the parser, which is where a growing multi-row statement spends
// its time.
func (s *Service) insertSQLite(ctx context.Context, db dbsqlc.DBTX, ns []*New, out []Case, now int64) error {
	perGuild := map[int64]int64{}
	for _, n := range ns {
		perGuild[n.GuildID]++
	}
	guilds := make([]int64, 0, len(perGuild))
	for g := range perGuild {
		guilds = append(guilds, g)
	}
	slices.Sort(guilds)
	next := make(map[int64]int64, len(guilds))
	for _, g := range guilds {
		var count int64
		if err := db.QueryRowContext(ctx, sqliteUpsertGuild, g, perGuild[g], now).Scan(&count); err != nil {
			return fmt.Errorf("allocate case numbers in guild %d: %w", g, err)
		}
		next[g] = count - perGuild[g] + 1
	}
	for i, n := range ns {
		num := next[n.GuildID]
		next[n.GuildID] = num + 1
		var id int64
		err := db.QueryRowContext(ctx, sqliteInsertCase, n.GuildID, num, string(n.Type), string(n.Status), n.Reason, n.ModeratorID,
			n.UserID, roleJSON(n.RoleIDs), nullMS(n.ExpiresAt), metadataJSON(n.Metadata), now, now).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert case #%d of guild %d: %w", num, n.GuildID, err)
		}
		out[i].ID, out[i].Number = id, num
	}
	return nil
}
