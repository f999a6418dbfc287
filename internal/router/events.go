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

// handled records the command's event once it has been answered, unless its case records
// it (recorded) or a write of the tool claimed it already (claimed, from the tool's
// context).
func (rt *Router) handled(ctx context.Context, guildID discord.GuildID, ev discord.EventID, command string, recorded bool, log *slog.Logger) {
	if rt.cfg.Events == nil || recorded || guildID == 0 || ev == 0 {
		return
	}
	if _, err := rt.cfg.Events.ClaimEvent(store.WithEvent(context.WithoutCancel(ctx), int64(guildID), int64(ev), command)); err != nil {
		_, err = rt.failure(err)
		log.Warn("recording the command's event as handled", "err", err)
	}
}

// replayedTool says whether a tool stopped because its event was already handled.
func replayedTool(err error) bool { return errors.Is(err, store.ErrReplayed) }
