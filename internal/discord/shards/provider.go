package shards

import (
	"context"
	"fmt"
	"slices"
)

// Session is what a shard needs to RESUME instead of identifying: READY's session id and
// resume URL and the last sequence the process handled. A Session with an empty ID
// resumes nothing.
type Session struct {
	ID        string
	Seq       int
	ResumeURL string
}

// Resumable says whether s can be resumed.
func (s Session) Resumable() bool { return s.ID != "" && s.Seq > 0 }

// Runner is what a Provider drives: the process's shards. The Manager implements it. All
// methods are safe for concurrent use.
type Runner interface {
	// Start connects shardID (of the count Run was given) and returns once it is ready
	// (READY or RESUMED handled), or with the reason it could not. With a resumable
	// session it RESUMEs that session, so the events Discord kept for it are replayed; when
	// Discord no longer has it, the shard identifies. Starting a shard that runs is an
	// error. Start waits for the identify limit; ctx bounds the wait.
	Start(ctx context.Context, shardID int, resume Session) error
	// Stop disconnects shardID. With keep, it closes with a code that keeps the session on
	// Discord's side (4000) after handing every event already received to the handlers,
	// and returns the session for the next owner to resume; without, it closes with 1000,
	// which ends the session. Stop returns once the shard's events have all been handled,
	// so a provider that releases the shard afterwards knows this process no longer works
	// on its guilds. Stopping a shard that does not run returns an empty Session.
	Stop(ctx context.Context, shardID int, keep bool) Session
	// Sessions returns the session of every running shard, for a provider that saves them
	// as it goes (a process killed without a clean stop leaves the last saved one).
	Sessions() map[int]Session
	// Running lists the shards that run, in order.
	Running() []int
}

// Provider decides which shards this process runs.
//
// The Manager calls Run once the shard count is known and keeps it running; Run starts the
// shards it grants through r.Start and stops the ones it loses through r.Stop, for as long
// as ctx lives, then returns (nil, or why it could not go on, which stops gavel). When
// ctx ends the Manager stops what is still running itself: a clean stop (keep = true, the
// sessions handed to Release) or a re-shard (keep = false). Run is called again, with the
// new count, after a re-shard.
type Provider interface {
	Run(ctx context.Context, count int, r Runner) error
	// Release is told, after Run returned and the Manager stopped the shards that were
	// still running, the session each kept (clean stop) so that the next owner can resume
	// it. A provider that keeps nothing ignores it.
	Release(ctx context.Context, sessions map[int]Session)
}

// Static is the provider of an explicit shard list (discord.shards = "0-3,8"): the process
// runs exactly those shards. A static process does not share with others through the
// database, so every process of a static deployment must be given disjoint lists; what
// makes sure of that is the operator's configuration.
type Static struct {
	// IDs are the shards to run. Empty means every shard of the count Run gets (one process
	// running the whole bot).
	IDs []int
}

// Run starts the listed shards in id order, each after the identify limit allows it, then
// waits for ctx. A listed id outside the count is an error: the list was written for
// another count.
func (s Static) Run(ctx context.Context, count int, r Runner) error {
	ids, err := s.shards(count)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := r.Start(ctx, id, Session{}); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("starting shard %d of %d: %w", id, count, err)
		}
	}
	<-ctx.Done()
	return nil
}

// Release implements Provider: a static list saves no session.
func (Static) Release(context.Context, map[int]Session) {}

func (s Static) shards(count int) ([]int, error) {
	if len(s.IDs) == 0 {
		ids := make([]int, count)
		for i := range ids {
			ids[i] = i
		}
		return ids, nil
	}
	ids := slices.Clone(s.IDs)
	slices.Sort(ids)
	for _, id := range ids {
		if id < 0 || id >= count {
			return nil, fmt.Errorf("discord.shards lists shard %d, but the shard count is %d (shard ids go from 0 to %d): set discord.shards for this count or set discord.shard_count", id, count, count-1)
		}
	}
	return slices.Compact(ids), nil
}
