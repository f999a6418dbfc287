package cases_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// The bare baseline table has the columns, types and CHECK constraints of cases
// (migrations/*/00001_cases.sql), its primary key and its UNIQUE (guild_id, number), and
// nothing else: no foreign key to guilds, no secondary index, no full-text trigger and no
// history. It is what a "one row per case" design would pay at the least.
const bareTypes = `'BAN', 'UNBAN', 'HACKBAN', 'TEMPBAN', 'KICK', 'TIMEOUT', 'UNTIMEOUT', 'WARN', 'JAIL', 'UNJAIL', 'SNIPPETBAN', 'SNIPPETUNBAN', 'POLLBAN', 'POLLUNBAN', 'SOFTBAN', 'NOTE', 'AUTOMOD'`

// bareDDL returns the baseline table's definition on an engine.
func bareDDL(e store.Engine) string {
	return map[store.Engine]string{
		store.SQLite: `CREATE TABLE bare_cases (
    id                INTEGER PRIMARY KEY,
    guild_id          INTEGER NOT NULL,
    number            INTEGER NOT NULL CHECK (number >= 1),
    type              TEXT    NOT NULL CHECK (type IN (` + bareTypes + `)),
    status            TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'voided')),
    processed         INTEGER NOT NULL DEFAULT 0 CHECK (processed IN (0, 1)),
    reason            TEXT    NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    moderator_id      INTEGER NOT NULL CHECK (moderator_id > 0),
    user_id           INTEGER NOT NULL CHECK (user_id > 0),
    role_ids          TEXT    NOT NULL DEFAULT '[]' CHECK (json_type(role_ids) = 'array'),
    expires_at        INTEGER,
    metadata          TEXT    NOT NULL DEFAULT '{}' CHECK (json_type(metadata) = 'object'),
    modlog_message_id INTEGER CHECK (modlog_message_id IS NULL OR modlog_message_id > 0),
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    CONSTRAINT bare_cases_guild_number UNIQUE (guild_id, number)
) STRICT`,
		store.Postgres: `CREATE TABLE bare_cases (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guild_id          BIGINT NOT NULL,
    number            BIGINT NOT NULL CHECK (number >= 1),
    type              TEXT   NOT NULL CHECK (type IN (` + bareTypes + `)),
    status            TEXT   NOT NULL CHECK (status IN ('pending', 'active', 'voided')),
    processed         BOOLEAN NOT NULL DEFAULT FALSE,
    reason            TEXT   NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 2000),
    moderator_id      BIGINT NOT NULL CHECK (moderator_id > 0),
    user_id           BIGINT NOT NULL CHECK (user_id > 0),
    role_ids          JSONB  NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(role_ids) = 'array'),
    expires_at        BIGINT,
    metadata          JSONB  NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    modlog_message_id BIGINT CHECK (modlog_message_id IS NULL OR modlog_message_id > 0),
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    CONSTRAINT bare_cases_guild_number UNIQUE (guild_id, number)
)`,
	}[e]
}

// Every column a created case writes explicitly, with the values Service.Create gives it.
var bareInsert = map[store.Engine]string{
	store.SQLite: `INSERT INTO bare_cases (guild_id, number, type, status, reason, moderator_id, user_id, role_ids, expires_at, metadata, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	store.Postgres: `INSERT INTO bare_cases (guild_id, number, type, status, reason, moderator_id, user_id, role_ids, expires_at, metadata, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
}

const (
	benchGuildBase = int64(1_000_000)
	benchUserBase  = int64(2_000_000)
	benchMod       = int64(3_000_000)
	benchReason    = "spamming invite links in #general after a warning"
)

// BenchmarkCreate measures Service.Create against a single-row autocommit INSERT of the same
// width, in the same store (same file or schema, pool and pragmas), so the ratio of the two
// ops/s figures is comparable across machines. The target (docs/benchmarks.md): at
// concurrency 16, case creation reaches at least half the bare-insert rate on both engines.
func BenchmarkCreate(b *testing.B) {
	for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
		b.Run("engine="+string(engine), func(b *testing.B) {
			for _, op := range []string{"case", "bare"} {
				b.Run("op="+op, func(b *testing.B) {
					for _, conc := range []int{1, 16} {
						b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
							for _, guilds := range []int{1, 100} {
								b.Run(fmt.Sprintf("guilds=%d", guilds), func(b *testing.B) {
									benchCreate(b, engine, op, conc, guilds)
								})
							}
						})
					}
				})
			}
		})
	}
}

func benchCreate(b *testing.B, engine store.Engine, op string, conc, guilds int) {
	ctx := context.Background()
	// A fresh store per run, so that every b.N starts from empty tables and no run inherits
	// another's index growth.
	st := storetest.Open(b, engine)
	var do func(i int64) error
	switch op {
	case "case":
		svc := cases.NewService(st)
		do = func(i int64) error {
			_, err := svc.Create(ctx, cases.New{GuildID: discord.GuildID(benchGuildBase + i%int64(guilds)), UserID: discord.UserID(benchUserBase + i%1000),
				ModeratorID: discord.UserID(benchMod), Type: cases.Warn, Reason: benchReason})
			return err
		}
	case "bare":
		if _, err := st.Writer().ExecContext(ctx, bareDDL(engine)); err != nil {
			b.Fatalf("create bare_cases: %v", err)
		}
		q := bareInsert[engine]
		numbers := make([]atomic.Int64, guilds)
		do = func(i int64) error {
			g := i % int64(guilds)
			now := time.Now().UnixMilli()
			_, err := st.Writer().ExecContext(ctx, q, benchGuildBase+g, numbers[g].Add(1), string(cases.Warn),
				string(cases.Active), benchReason, benchMod, benchUserBase+i%1000, "[]", nil, "{}", now, now)
			return err
		}
	default:
		b.Fatalf("unknown op %q", op)
	}

	runOps(b, conc, do)
}

// runOps runs b.N operations on exactly conc goroutines (RunParallel would start
// GOMAXPROCS×parallelism goroutines, which ties the concurrency to the machine), stops at
// the first error, and reports the rate as ops/s.
func runOps(b *testing.B, conc int, do func(i int64) error) {
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	b.ResetTimer()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if err := do(i); err != nil {
					if failed.CompareAndSwap(false, true) {
						b.Errorf("op %d: %v", i, err)
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkFollowUp measures the writes a command makes after creating its case: the case
// marked active (pending → active, with its history row) and its mod-log message linked
// (with its history row), each a Service call of its own as in the coordinator. One op is
// both, on a pending case created before the timer. mode=batched is the service as it is
// (concurrent writes share a transaction and its commit); mode=unbatched is the path before
// that (a transaction per write), kept callable for this comparison.
func BenchmarkFollowUp(b *testing.B) {
	for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
		b.Run("engine="+string(engine), func(b *testing.B) {
			for _, mode := range []string{"unbatched", "batched"} {
				b.Run("mode="+mode, func(b *testing.B) {
					for _, conc := range []int{1, 16, 64} {
						b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
							benchFollowUp(b, engine, mode == "batched", conc)
						})
					}
				})
			}
		})
	}
}

func benchFollowUp(b *testing.B, engine store.Engine, batched bool, conc int) {
	ctx := context.Background()
	// Unbatched, every write is a transaction of its own, as before the group commit of
	// updates: the baseline.
	opts := store.Options{GroupCommit: store.GroupOn}
	if !batched {
		opts.GroupCommit = store.GroupOff
	}
	st := storetest.OpenWith(b, engine, opts)
	svc := cases.NewService(st)
	const guilds = 64
	ns := make([]cases.New, b.N)
	for i := range ns {
		ns[i] = cases.New{GuildID: discord.GuildID(benchGuildBase + int64(i%guilds)), UserID: discord.UserID(benchUserBase + int64(i%1000)),
			ModeratorID: discord.UserID(benchMod), Type: cases.Warn, Status: cases.Pending, Reason: benchReason}
	}
	var created []cases.Case
	for start := 0; start < len(ns); start += 1000 {
		cs, err := svc.CreateMany(ctx, ns[start:min(start+1000, len(ns))])
		if err != nil {
			b.Fatal(err)
		}
		created = append(created, cs...)
	}
	runOps(b, conc, func(i int64) error {
		c := created[i]
		_, err := svc.SetStatus(ctx, c.GuildID, c.Number, discord.UserID(benchMod), cases.Active, "the action succeeded")
		if err == nil {
			_, err = svc.LinkModlog(ctx, c.GuildID, c.Number, discord.UserID(benchMod), 3_000_000, discord.MessageID(4_000_000+i))
		}
		return err
	})
}
