package leases

import (
	"context"
	"log/slog"
	"time"

	"github.com/gavelbot/gavel/internal/discord/disgoport"
	"github.com/gavelbot/gavel/internal/store"
)

// ShareRateLimits makes Discord's global limit, which is the bot token's across all its
// processes, a shared one on PostgreSQL: a global 429 lim meets is announced to the other
// processes (store.TopicRateLimit, with the pause's end), and one announced by another
// process pauses lim until it ends. On SQLite (one process) it does nothing.
func ShareRateLimits(st *store.Store, lim *disgoport.Limiter, log *slog.Logger) {
	if !st.Shared() {
		return
	}
	st.OnChange(store.TopicRateLimit, func(untilMS int64) {
		// 0 is the listener's "anything may have changed" after a reconnection: no pause.
		if untilMS > 0 {
			lim.PauseGlobal(time.UnixMilli(untilMS))
		}
	})
	lim.ObserveGlobal(func(until time.Time) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := st.Announce(ctx, store.TopicRateLimit, until.UnixMilli()); err != nil {
			log.Warn("telling the other processes of a global rate limit", "err", err)
		}
	})
}
