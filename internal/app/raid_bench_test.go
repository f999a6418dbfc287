package app_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/discordtest"
)

// BenchmarkRaidDetectionToPause measures, in wall time, from the threshold-th join of a raid
// (its GUILD_MEMBER_ADD sent by the fake) to the fake receiving gavel's PUT
// /guilds/{id}/incident-actions that pauses invites: detection, the raid's record and parent
// case, and the pause, with the fake answering at once (no rate limits). Each iteration is one
// raid of 10 established accounts (threshold 10 in 10 s, none suspicious), ended with
// `$raid end` before the next; the test clock moves a minute between raids so each starts
// with an empty window. It reports the p50 and p99 of the iterations (target: p99 ≤ 2 s).
//
//	go test -run '^$' -bench BenchmarkRaidDetectionToPause -benchtime 100x ./internal/app/
func BenchmarkRaidDetectionToPause(b *testing.B) {
	rw := newRaidWorld(b, true, nil)
	w := rw.world
	pauses := make(chan time.Time, 16)
	w.s.SetRequestObserver(func(sv discordtest.Served) {
		if sv.Route == "PUT /guilds/{guild_id}/incident-actions" {
			pauses <- time.Now()
		}
	})
	wait := func(what string) time.Time {
		select {
		case at := <-pauses:
			return at
		case <-time.After(30 * time.Second):
			var said []string
			for _, m := range w.s.Messages(w.general) {
				said = append(said, m.Content)
			}
			b.Fatalf("timed out waiting for %s; #general: %q; steps %v", what, said, rw.stepKinds())
			return time.Time{}
		}
	}
	old := rw.clk.Now().Add(-400 * 24 * time.Hour)
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var sent time.Time
		for k := range 10 {
			rw.clk.Advance(100 * time.Millisecond)
			w.s.MassJoin(w.guild, discordtest.Joiner{Name: fmt.Sprintf("bench%d_%d", i, k), Avatar: true,
				CreatedAt: old.Add(time.Duration(i*10+k) * 24 * time.Hour)})
			sent = time.Now()
		}
		lat = append(lat, wait("the pause").Sub(sent))
		b.StopTimer()
		w.s.SendMessage(w.general, w.owner, "$raid end")
		wait("the pause's lift")
		rw.clk.Advance(time.Minute)
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}
