package sqlite

import (
	"context"
	"fmt"
	"slices"

	"github.com/gavelbot/gavel/internal/store/query"
)

const (
	sqliteUpsertGuild = `INSERT INTO guilds (id, case_count, joined_at) VALUES (?, ?, ?)
ON CONFLICT (id) DO UPDATE SET case_count = guilds.case_count + excluded.case_count RETURNING case_count`
	sqliteInsertCase = `INSERT INTO cases (guild_id, number, type, status, reason, moderator_id, user_id, role_ids, expires_at, metadata, created_at, updated_at, source_event_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
)

// InsertCases allocates numbers for ns and inserts them, writing each one's key to out. It
// runs two statements per row, both kept prepared by the statement cache:
// the guild's counter upsert and the case insert. SQLite has no round trips, and a prepared
// statement skips the parser, which is where a growing multi-row statement spends its time.
func InsertCases(ctx context.Context, db query.DBTX, ns []query.NewCase, out []query.CaseKey) error {
	perGuild := map[int64]int64{}
	joined := map[int64]int64{}
	for _, n := range ns {
		perGuild[n.GuildID]++
		if j, ok := joined[n.GuildID]; !ok || n.CreatedAt < j {
			joined[n.GuildID] = n.CreatedAt
		}
	}
	guilds := make([]int64, 0, len(perGuild))
	for g := range perGuild {
		guilds = append(guilds, g)
	}
	slices.Sort(guilds)
	next := make(map[int64]int64, len(guilds))
	for _, g := range guilds {
		var count int64
		if err := db.QueryRowContext(ctx, sqliteUpsertGuild, g, perGuild[g], joined[g]).Scan(&count); err != nil {
			return fmt.Errorf("allocate case numbers in guild %d: %w", g, err)
		}
		next[g] = count - perGuild[g] + 1
	}
	for i, n := range ns {
		num := next[n.GuildID]
		next[n.GuildID] = num + 1
		var id int64
		err := db.QueryRowContext(ctx, sqliteInsertCase, n.GuildID, num, n.Type, n.Status, n.Reason, n.ModeratorID,
			n.UserID, n.RoleIDs, n.ExpiresAt, n.Metadata, n.CreatedAt, n.CreatedAt, n.SourceEventID).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert case #%d of guild %d: %w", num, n.GuildID, err)
		}
		out[i] = query.CaseKey{ID: id, Number: num}
	}
	return nil
}
