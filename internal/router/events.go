package router

import (
	"context"
	"errors"
	"log/slog"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/tools"
)

// Events records which command events were handled, so that a replayed one (a gateway
// RESUME repeats what the shard's previous session may already have handled) is handled
// once: *store.Store. How each kind of command is recorded is in store/events.go.
type Events interface {
	EventHandled(ctx context.Context, guildID, eventID int64) (bool, error)
	ClaimEvent(ctx context.Context) (first bool, err error)
	ClaimAnswered(ctx context.Context) (first bool, err error)
}

// replayed says whether a command's event was handled before: the router then drops it,
// with no reply. A failed read lets the command run: the case's own uniqueness and the
// tools' claims still stop a second effect.
func (rt *Router) replayed(ctx context.Context, guildID discord.GuildID, ev discord.EventID, command string, log *slog.Logger) bool {
	if rt.cfg.Events == nil || guildID == 0 || ev == 0 {
		return false
	}
	seen, err := rt.cfg.Events.EventHandled(ctx, int64(guildID), int64(ev))
	if err != nil {
		_, err = rt.failure(err)
		log.Warn("reading whether the command's event was handled", "event", ev, "err", err)
		return false
	}
	if seen {
		rt.cfg.Metrics.Command(command, outcomeReplayed)
		log.Info("dropping a replayed command event", "event", ev)
	}
	return seen
}

// withEvent has a tool's writes claim its event (store.WithEvent). An action's event is
// recorded by its case instead (moderation.Request.Event), so the pipeline's transactions
// never carry it.
func (rt *Router) withEvent(ctx context.Context, call tools.Call, command string) context.Context {
	if rt.cfg.Events == nil || call.GuildID == 0 || call.Event == 0 {
		return ctx
	}
	return store.WithEvent(ctx, int64(call.GuildID), int64(call.Event), command)
}

// settle records the command's event as handled before its answer goes out, unless its
// case or a write of its tool recorded it already (recorded): a replay arriving while the
// answer is on its way (a RESUME by the shard's next owner, or Discord repeating an event)
// then finds the record and is dropped, instead of being handled as a new command and
// answered a second time. It says whether the answer is this handling's to send:
//
//   - not when another handling of the same event recorded it first (a replay run beside
//     the original): that one answers;
//   - not when the record was refused because the guild's shard moved to another process
//     (store.ErrFenced) and nothing of the command was recorded: the new owner's RESUME
//     replays the event (the sequence saved for it stays below every event whose work had
//     not finished, see shards.Manager.Hold) and answers it, so the moderator gets one
//     answer, the outcome of the command run once;
//   - yes on any other failure to record it (the database does not answer): a moderator
//     is answered even then, at the risk of a second answer to a replay.
func (rt *Router) settle(ctx context.Context, guildID discord.GuildID, ev discord.EventID, command string, recorded bool, log *slog.Logger) bool {
	if rt.cfg.Events == nil || recorded || guildID == 0 || ev == 0 {
		return true
	}
	first, err := rt.cfg.Events.ClaimEvent(store.WithEvent(context.WithoutCancel(ctx), int64(guildID), int64(ev), command))
	switch {
	case errors.Is(err, store.ErrFenced):
		log.Info("the guild's shard moved to another process before this command recorded anything: its answer is left to the new owner, which gets the event replayed", "event", ev)
		return false
	case err != nil:
		_, err = rt.failure(err)
		log.Warn("recording the command's event as handled", "err", err)
		return true
	case !first:
		// Counted already with its outcome (refused, failed, …), as the other handling is.
		log.Info("another handling of the same event recorded it first and answers it", "event", ev)
		return false
	}
	return true
}

// settleAnswered records an interaction's event as handled before this process answers
// it, fenced or not (store.Store.ClaimAnswered): the process that acknowledged an
// interaction is the only one that can answer it (Discord refuses a second
// acknowledgment, and an interaction replayed to another process is past its 3 seconds),
// so it answers whatever happened, even once the guild's shard moved, and the shard's next
// owner drops the replay.
func (rt *Router) settleAnswered(ctx context.Context, guildID discord.GuildID, ev discord.EventID, command string, recorded bool, log *slog.Logger) {
	if rt.cfg.Events == nil || recorded || guildID == 0 || ev == 0 {
		return
	}
	if _, err := rt.cfg.Events.ClaimAnswered(store.WithEvent(context.WithoutCancel(ctx), int64(guildID), int64(ev), command)); err != nil {
		_, err = rt.failure(err)
		log.Warn("recording the interaction's event as handled", "err", err)
	}
}

// replayedTool says whether a tool stopped because its event was already handled.
func replayedTool(err error) bool { return errors.Is(err, store.ErrReplayed) }
