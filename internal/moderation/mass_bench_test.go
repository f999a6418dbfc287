package moderation_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/store"
)

// BenchmarkMassBan1000 bans 1,000 raiders through ExecuteMass against the fake with its
// rate limits as Discord sets them (50 requests a second overall, the bulk-ban route one call
// a second per guild), on SQLite. It reports the bulk calls made (target 5), every REST call,
// and the time as a ratio to the floor the limits set: five calls one window apart take four
// windows (target ≤ 1.1×), both for the whole ExecuteMass (which first reads the guild and
// its member list, two pages here) and from the first bulk call on. The fake's own check of
// every response against Discord's OpenAPI spec is off: it is the fake's cost, not Discord's.
// Run: go test -run '^$' -bench MassBan1000 -benchtime 3x ./internal/moderation/
func BenchmarkMassBan1000(b *testing.B) {
	const raiders, window = 1000, time.Second
	var bulk, total int
	var took, fromBulk time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var mu sync.Mutex
		var first time.Time
		w := newWorld(b, store.SQLite, discordtest.WithoutSpecValidation(), discordtest.WithRequestObserver(func(s discordtest.Served) {
			mu.Lock()
			defer mu.Unlock()
			if s.Route == discordtest.BulkBanRoute && first.IsZero() {
				first = s.Start
			}
		}))
		w.s.EditRole(w.guild, w.botRole, func(r *discordtest.Role) { r.Permissions |= discordtest.PermManageGuild })
		w.co = moderation.NewCoordinator(actions.Catalogue(), w.port, w.cases, w.settings, w.exec,
			moderation.WithBotUserID(discord.UserID(w.s.BotID())), moderation.WithStore(w.st))
		ids := w.raiders(raiders)
		before := w.s.RateLimitStats()
		b.StartTimer()
		start := time.Now()
		res := w.co.ExecuteMass(context.Background(), w.massReq(moderation.MassBan, ids))
		took += time.Since(start)
		mu.Lock()
		fromBulk += time.Since(first)
		mu.Unlock()
		b.StopTimer()
		if res.Err != nil || res.Progress.Done != raiders {
			b.Fatalf("ExecuteMass: %+v", res)
		}
		after := w.s.RateLimitStats()
		bulk += after.Routes[discordtest.BulkBanRoute].Requests - before.Routes[discordtest.BulkBanRoute].Requests
		total += after.Requests - before.Requests
		b.StartTimer()
	}
	chunks := (raiders + discord.MaxBulkBan - 1) / discord.MaxBulkBan
	floor := time.Duration(chunks-1) * window
	per := took / time.Duration(b.N)
	b.ReportMetric(float64(bulk)/float64(b.N), "bulk_calls/op")
	b.ReportMetric(float64(total)/float64(b.N), "rest_calls/op")
	b.ReportMetric(per.Seconds(), "s/op_wall")
	b.ReportMetric(per.Seconds()/floor.Seconds(), "x_floor")
	b.ReportMetric((fromBulk/time.Duration(b.N)).Seconds()/floor.Seconds(), "x_floor_from_first_bulk")
}
