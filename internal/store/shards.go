package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ShardCount is the shard_config row: the shard count the processes sharing this database
// run with, and its generation, which every change raises.
type ShardCount struct {
	Count      int
	Generation int64
	Reason     string
	UpdatedAt  time.Time
}

// ShardCount reads the agreed shard count; ok is false while none is recorded.
func (s *Store) ShardCount(ctx context.Context) (sc ShardCount, ok bool, err error) {
	var at int64
	err = s.write.QueryRowContext(ctx, `SELECT shard_count, generation, reason, updated_at FROM shard_config WHERE id = 1`).
		Scan(&sc.Count, &sc.Generation, &sc.Reason, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return ShardCount{}, false, nil
	}
	if err != nil {
		return ShardCount{}, false, fmt.Errorf("reading the shard count: %w", err)
	}
	sc.UpdatedAt = time.UnixMilli(at)
	return sc, true, nil
}

// SetShardCount records count if the row's generation is still generation (0: no row
// yet), and returns the row as it is afterwards: the new one, or the one another process
// wrote first (compare-and-set, so two processes raising the count at once agree on one).
func (s *Store) SetShardCount(ctx context.Context, count int, generation int64, reason string, now time.Time) (ShardCount, error) {
	if count < 1 {
		return ShardCount{}, fmt.Errorf("shard count %d: must be at least 1", count)
	}
	var err error
	if generation == 0 {
		_, err = s.write.ExecContext(ctx, `INSERT INTO shard_config (id, shard_count, generation, reason, updated_at)
			VALUES (1, $1, 1, $2, $3) ON CONFLICT (id) DO NOTHING`, count, reason, now.UnixMilli())
	} else {
		_, err = s.write.ExecContext(ctx, `UPDATE shard_config SET shard_count = $1, generation = generation + 1, reason = $2, updated_at = $3
			WHERE id = 1 AND generation = $4`, count, reason, now.UnixMilli(), generation)
	}
	if err != nil {
		return ShardCount{}, fmt.Errorf("recording shard count %d: %w", count, err)
	}
	sc, ok, err := s.ShardCount(ctx)
	if err != nil {
		return ShardCount{}, err
	}
	if !ok {
		return ShardCount{}, errors.New("recording the shard count: the row is missing after the write")
	}
	return sc, nil
}

// identifyLockKey is the advisory lock key of an identify bucket: a hash of the schema gavel's
// tables live in, a name and the bucket. Advisory locks are per database, not per schema, so
// the schema keeps two deployments (or two tests) in one database from sharing buckets.
const identifyLockKey = `hashtextextended(current_schema() || ':gavel identify bucket ' || $1::text, 0)`

// LockIdentifyBucket takes the lock of an identify bucket (shard_id % max_concurrency) that
// every process sharing this PostgreSQL database sees: a session advisory lock on a
// connection of its own, held until unlock is called. It waits while another process holds
// it; ctx bounds the wait. On SQLite there is one process, so the lock is the caller's own
// business and unlock does nothing.
func (s *Store) LockIdentifyBucket(ctx context.Context, bucket int) (unlock func(), err error) {
	if s.Location.Engine != Postgres {
		return func() {}, nil
	}
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("identify lock of bucket %d: %w", bucket, err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+identifyLockKey+`)`, strconv.Itoa(bucket)); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("identify lock of bucket %d: %w", bucket, err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock(`+identifyLockKey+`)`, strconv.Itoa(bucket)); err != nil {
			// A failed unlock must not leave the lock with a pooled connection: dropping
			// the connection ends its session, which releases every advisory lock it holds.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
	}, nil
}
