package escalation

import (
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// InsertPointsForTest gives case c a points row directly, as escalation would have written
// it, for benchmarks that seed a long history.
func InsertPointsForTest(tx *store.Tx, c cases.Case, points int, until time.Time) error {
	return tx.Queries().InsertCasePoints(tx.Context(), query.InsertCasePointsParams{CaseID: c.ID, GuildID: int64(c.GuildID), UserID: int64(c.UserID),
		Points: int64(points), CountsUntil: until.UnixMilli(), CreatedAt: c.CreatedAt.UnixMilli()})
}
