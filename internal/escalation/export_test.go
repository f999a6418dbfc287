package escalation

import (
	"context"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// InsertPointsForTest gives case c a points row directly, as escalation would have written
// it, for benchmarks that seed a long history.
func InsertPointsForTest(tx *store.Tx, c cases.Case, points int, until time.Time) error {
	return tx.Queries().InsertCasePoints(tx.Context(), query.InsertCasePointsParams{CaseID: c.ID, GuildID: int64(c.GuildID), UserID: int64(c.UserID),
		Points: int64(points), CountsUntil: until.UnixMilli(), CreatedAt: c.CreatedAt.UnixMilli()})
}

// MemberPointsForTest reads a member's points as the evaluation does (from the ledger, under
// the member's lock), with a bound no member reaches, so exactly, in a transaction of its own.
func MemberPointsForTest(s *Service, guildID discord.GuildID, userID discord.UserID, now time.Time) (int, error) {
	return BoundedPointsForTest(s, guildID, userID, now, 1<<40)
}

// BoundedPointsForTest reads a member's points as an evaluation with the highest threshold
// top and no change of its own does: exact below the bound it settles on, a lower bound at
// or above it.
func BoundedPointsForTest(s *Service, guildID discord.GuildID, userID discord.UserID, now time.Time, top int64) (int, error) {
	var p memberPoints
	err := s.st.InTx(context.Background(), func(tx *store.Tx) error {
		var err error
		p, err = lockMemberPoints(tx, guildID, userID, now.UnixMilli(), false, top, 0)
		return err
	})
	return int(p.Points), err
}
