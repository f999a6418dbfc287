// Package raid is gavel's raid defence (docs/raids.md): a per-guild detector of join raids
// kept in memory (a guild lives in one process), the raid as a record (a number per guild,
// a parent case of type RAID, its candidates and a row for every step), the responses
// (paused invites and DMs kept paused by a durable check, the verification level raised and
// restored only when no one changed it, new joiners timed out, kicked or banned through the
// moderation pipeline) and their undoing, in reverse, when raid mode ends after a quiet
// period or by hand.
package raid

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/settings"
)

// Join is one member's arrival as the detector sees it.
type Join struct {
	GuildID  discord.GuildID
	UserID   discord.UserID
	Username string
	JoinedAt time.Time
	// DefaultAvatar: the account has no avatar of its own.
	DefaultAvatar bool
	// Rejoined is Discord's DID_REJOIN flag.
	Rejoined bool
	// Bot and Bypass (BYPASSES_VERIFICATION) joins are never counted.
	Bot, Bypass bool
}

// CreatedAt is when the account was made, read from its id (a snowflake).
func (j Join) CreatedAt() time.Time { return SnowflakeTime(int64(j.UserID)) }

// SnowflakeTime is the creation time a Discord id carries.
func SnowflakeTime(id int64) time.Time {
	return time.UnixMilli(int64(uint64(id)>>22) + 1420070400000).UTC()
}

// Detection's fixed parameters (docs/raids.md).
const (
	// NewAccount is the account age under which a joiner is suspicious.
	NewAccount = 7 * 24 * time.Hour
	// Cluster: accounts created within this of another joiner's are suspicious.
	Cluster = 10 * time.Minute
	// keep is how long the detector remembers a guild's joins; maxKeep bounds how many.
	keep    = 15 * time.Minute
	maxKeep = 5000
)

// Trigger is what started a raid.
type Trigger string

// The triggers.
const (
	TriggerRate       Trigger = "rate"
	TriggerSuspicious Trigger = "suspicious"
	TriggerDiscord    Trigger = "discord"
	TriggerManual     Trigger = "manual"
)

// Verdict is what one join tells the detector.
type Verdict struct {
	// Raid: the join completes a raid (Trigger says which rule).
	Raid    bool
	Trigger Trigger
	// Counted is how many counted joins the window holds, this one included; Suspicious how
	// many of them are suspicious.
	Counted, Suspicious int
	// Surge: the window holds at least the threshold (raid mode stays on while it does).
	Surge bool
}

// Detector keeps each guild's recent joins. It is safe for concurrent use.
type Detector struct {
	mu     sync.Mutex
	guilds map[discord.GuildID][]Join
}

// NewDetector returns an empty detector.
func NewDetector() *Detector { return &Detector{guilds: map[discord.GuildID][]Join{}} }

// counted reports whether a join counts toward a raid: bots and members who bypass
// verification do not.
func counted(j Join) bool { return !j.Bot && !j.Bypass }

// Add remembers j and judges the guild's window as of j.JoinedAt against cfg.
func (d *Detector) Add(j Join, cfg settings.Raid) Verdict {
	d.mu.Lock()
	defer d.mu.Unlock()
	js := append(d.guilds[j.GuildID], j)
	// Joins arrive in order but a resumed session may replay one: keep the slice sorted.
	if n := len(js); n > 1 && js[n-1].JoinedAt.Before(js[n-2].JoinedAt) {
		slices.SortStableFunc(js, func(a, b Join) int { return a.JoinedAt.Compare(b.JoinedAt) })
	}
	cut := 0
	for cut < len(js) && (j.JoinedAt.Sub(js[cut].JoinedAt) > keep || len(js)-cut > maxKeep) {
		cut++
	}
	js = js[cut:]
	d.guilds[j.GuildID] = js
	if !counted(j) {
		return Verdict{}
	}
	win := inWindow(js, j.JoinedAt.Add(-cfg.Window), j.JoinedAt)
	v := Verdict{Counted: len(win), Suspicious: suspicious(win)}
	half := int(math.Ceil(float64(cfg.Threshold) / 2))
	switch {
	case v.Counted >= cfg.Threshold:
		v.Raid, v.Trigger, v.Surge = true, TriggerRate, true
	case v.Counted >= half && 2*v.Suspicious > v.Counted:
		v.Raid, v.Trigger = true, TriggerSuspicious
	}
	return v
}

// Candidates are the counted joins of the guild from since to until: a raid's retroactive
// candidate list (twice the window before detection).
func (d *Detector) Candidates(guildID discord.GuildID, since, until time.Time) []Join {
	d.mu.Lock()
	defer d.mu.Unlock()
	return inWindow(d.guilds[guildID], since, until)
}

// Rate is how many counted joins the guild had in the span before now, and the counts of
// each of buckets equal slices of it, oldest first: the dashboard's live join rate.
func (d *Detector) Rate(guildID discord.GuildID, now time.Time, span time.Duration, buckets int) (int, []int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]int, buckets)
	total := 0
	start := now.Add(-span)
	for _, j := range d.guilds[guildID] {
		if !counted(j) || !j.JoinedAt.After(start) || j.JoinedAt.After(now) {
			continue
		}
		i := int(j.JoinedAt.Sub(start) * time.Duration(buckets) / span)
		out[min(i, buckets-1)]++
		total++
	}
	return total, out
}

// inWindow returns the counted joins with since ≤ JoinedAt ≤ until.
func inWindow(js []Join, since, until time.Time) []Join {
	var out []Join
	for _, j := range js {
		if counted(j) && !j.JoinedAt.Before(since) && !j.JoinedAt.After(until) {
			out = append(out, j)
		}
	}
	return out
}

// suspicious counts the joins that look made for a raid: an account younger than
// NewAccount when it joined, one without an avatar of its own, or one created within
// Cluster of another joiner's account.
func suspicious(js []Join) int {
	created := make([]time.Time, len(js))
	for i, j := range js {
		created[i] = j.CreatedAt()
	}
	sorted := slices.Clone(created)
	slices.SortFunc(sorted, func(a, b time.Time) int { return a.Compare(b) })
	clustered := func(t time.Time) bool {
		i, _ := slices.BinarySearchFunc(sorted, t, func(a, b time.Time) int { return a.Compare(b) })
		// sorted[i] is t itself (or its first equal); a neighbour close by is another account.
		for _, k := range []int{i - 1, i + 1} {
			if k >= 0 && k < len(sorted) {
				if d := sorted[k].Sub(t); d < Cluster && d > -Cluster {
					return true
				}
			}
		}
		return false
	}
	n := 0
	for i, j := range js {
		if j.JoinedAt.Sub(created[i]) < NewAccount || j.DefaultAvatar || clustered(created[i]) {
			n++
		}
	}
	return n
}
