package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	ddiscord "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/events"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/gateway"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/tools"
)

// Outcomes of a command, the metric's label values.
const (
	outcomeRefused = "refused"
	outcomeFailed  = "failed"
	// outcomeReplayed counts command events dropped because they were handled before.
	outcomeReplayed = "replayed"
)

// replyTimeout bounds the answer to the moderator, which gets a deadline of its own.
const replyTimeout = 10 * time.Second

// maxReplyTries bounds the tries of one reply that Discord answers with 429, and
// replyRetryBudget the time spent on them: each try has replyTimeout, and the waits
// Discord asks for come on top, so a reply outlives a burst of rate limits (several
// processes starting at once) instead of being lost to it.
const (
	maxReplyTries    = 20
	replyRetryBudget = time.Minute
)

// sendRetrying posts m, waiting out each 429's Retry-After and trying again (up to
// maxReplyTries, within replyRetryBudget and ctx); each try is bounded by replyTimeout. A
// moderator's answer is not lost to a rate limit, which processes sharing the bot's
// global limit meet now and then. Discord's waits are real time, so they are waited on
// the wall clock.
func sendRetrying(ctx context.Context, port interface {
	SendMessage(context.Context, discord.ChannelID, discord.Message) (discord.MessageID, error)
}, channelID discord.ChannelID, m discord.Message) (discord.MessageID, error) {
	ctx, cancel := context.WithTimeout(ctx, replyRetryBudget)
	defer cancel()
	for try := 1; ; try++ {
		tryCtx, cancelTry := context.WithTimeout(ctx, replyTimeout)
		id, err := port.SendMessage(tryCtx, channelID, m)
		cancelTry()
		de := discord.AsError(err)
		if err == nil || de == nil || de.RetryAfter <= 0 || try == maxReplyTries {
			return id, err
		}
		t := time.NewTimer(de.RetryAfter)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, fmt.Errorf("%w (and the reply's time ran out while waiting out Discord's rate limit)", err)
		case <-t.C:
		}
	}
}

// failureText is what the moderator reads when gavel itself failed, before or around the
// pipeline (which words its own failures).
const failureText = "Something went wrong on gavel's side and nothing was done. Try again in a moment; if it keeps happening, tell the bot's operator."

// databaseDownText is what a moderator reads when gavel's database does not answer, in the
// pipeline's words: what failed, that nothing was done, and what to do.
const databaseDownText = "gavel's database is unreachable; nothing was done; try again shortly."

// failure words gavel's own failure for the moderator and returns the error to log: an
// unreachable database is said so (and reported to the health tracker, which logs the
// driver's detail once per outage, so the error returned then carries none); anything
// else is the generic failure text with the error as it is.
func (rt *Router) failure(err error) (string, error) {
	if !store.Unreachable(err) {
		return failureText, err
	}
	if rt.cfg.Health != nil {
		return databaseDownText, rt.cfg.Health.Failed(err)
	}
	return databaseDownText, store.ErrUnreachable
}

// onMessage handles a prefix command. Events arrive one at a time from the gateway, so the
// work is done on its own goroutine, counted among the commands in flight. A message that is
// no command by the guild's cached prefix is let go here: most messages are talk, and a
// goroutine, a timer and a context for each was the largest cost left of a message storm
// once gavel decoded messages itself (docs/benchmarks.md, issue 16).
func (rt *Router) onMessage(e *gateway.MessageCreateEvent) {
	msg := e.MessageCreate
	if msg.Author.Bot || msg.AuthorSystem {
		return
	}
	if !msg.InGuild {
		rt.onDirectMessage(msg)
		return
	}
	if !msg.HasMember {
		return
	}
	if g, ok := rt.cfg.Settings.Cached(msg.GuildID); ok {
		// What handlePrefix decides first with the same settings.
		if _, command, _ := rt.cfg.Tree.ParsePrefix(g.Prefix, msg.Content); !command {
			return
		}
	}
	co, ok := rt.begin()
	if !ok {
		return
	}
	release := rt.hold(e)
	go func() {
		defer rt.end()
		ctx, cancel := context.WithTimeout(rt.cfg.Work.Context(), rt.cfg.CommandTimeout)
		defer cancel()
		held, done, ok := rt.enter(ctx, int64(msg.GuildID), "message", release)
		if !ok {
			return
		}
		defer done()
		rt.handlePrefix(held, co, msg)
	}()
}

func (rt *Router) handlePrefix(ctx context.Context, co *moderation.Coordinator, msg *gateway.MessageCreate) {
	guildID, channelID := msg.GuildID, msg.ChannelID
	g, err := rt.cfg.Settings.Get(ctx, guildID)
	if err != nil {
		// Every message of the guild needs its prefix, so an outage would be logged per
		// message: the health tracker keeps the driver's detail to one line per outage.
		_, err = rt.failure(err)
		rt.log.Error("reading the guild's settings", "guild", guildID, "channel", channelID, "user", msg.Author.ID, "err", err)
		return
	}
	args, ok, parseErr := rt.cfg.Tree.ParsePrefix(g.Prefix, msg.Content)
	if !ok {
		return
	}
	// Only now, for a command: a logger with attributes formats them when made, which for
	// every message of a storm was a tenth of gavel's time (docs/benchmarks.md, issue 16).
	log := rt.log.With("guild", guildID, "channel", channelID, "user", msg.Author.ID)
	command, known := commandOf(args, parseErr)
	ev := discord.EventID(msg.ID)
	if rt.replayed(ctx, guildID, ev, command, log) {
		return
	}
	// recorded: the command's case or a write of its tool recorded the event. Otherwise it
	// is recorded before the answer (settle), or at the end for a command that answers
	// nothing (a refusal kept quiet).
	recorded, settled := false, false
	reply := func(m discord.Message) int64 {
		settled = true
		if !rt.settle(ctx, guildID, ev, command, recorded, log) {
			leave(ctx)
			return 0
		}
		leave(ctx)
		id, err := sendRetrying(context.WithoutCancel(ctx), rt.cfg.Port, channelID, m)
		if err != nil {
			log.Warn("replying in the channel", "err", err)
		}
		return int64(id)
	}
	defer func() {
		if !settled {
			rt.settle(ctx, guildID, ev, command, recorded, log)
		}
	}()
	if !known {
		reply(rt.usageReply(log, "", parseErr))
		return
	}
	call := tools.Call{GuildID: guildID, ChannelID: channelID, User: msg.Author,
		Roles: msg.Roles, Prefix: g.Prefix, MessageID: msg.ID, Event: ev, At: msg.CreatedAt, Members: msg.MentionMembers}
	sub, err := rt.subject(ctx, guildID, call.User.ID, call.Roles, command)
	if err != nil {
		rt.cfg.Metrics.Command(command, outcomeFailed)
		log.Error("reading the guild for a permission check", "err", err)
		reply(discord.Message{Content: failureText})
		return
	}
	call.GuildOwnerID, call.Permissions = sub.GuildOwnerID, sub.NativePermissions
	// The permission check comes first, so that a member who may not use a command learns
	// nothing of how to write it.
	refusal, decision, allowed := rt.permit(ctx, sub)
	if !allowed {
		rt.cfg.Metrics.Command(command, string(refusal.Outcome))
		if refusal.Outcome == tools.Refused && rt.plain(ctx, sub, decision) && !rt.hush.answer(guildID, call.User.ID) {
			return
		}
		reply(refusal.Message)
		return
	}
	if parseErr != nil {
		reply(rt.usageReply(log, command, parseErr))
		return
	}
	r := rt.dispatch(ctx, co, call, args)
	if r.Replayed {
		recorded = true
		return
	}
	recorded = r.Recorded
	if id := reply(r.Message); id != 0 && r.Transient {
		rt.deleteLater(log, channelID, discord.MessageID(id))
	}
}

// commandOf is the command a parse reached: the parsed one, or, for a usage error, the
// command as far as it was read. known is false when there is none (gavel's own failure).
func commandOf(args commands.Args, err error) (command string, known bool) {
	if err == nil {
		return args.Command(), true
	}
	var usage *commands.UsageError
	if errors.As(err, &usage) && usage.Command != "" {
		return usage.Command, true
	}
	return "", false
}

// inServerOnly is the answer to a command given outside a server, the same for both front
// ends.
const inServerOnly = "gavel's commands work only in a server: use this in a server where gavel is."

// onDirectMessage answers a prefix command sent to gavel in a DM: it cannot run there, and
// saying so beats silence (a slash command there is answered too). Only what reads as one
// of gavel's commands with the default prefix is answered (a guild's own prefix means
// nothing in a DM), at most once a minute per user, so a DM conversation is left alone.
func (rt *Router) onDirectMessage(msg *gateway.MessageCreate) {
	if _, ok, _ := rt.cfg.Tree.ParsePrefix(settings.DefaultPrefix, msg.Content); !ok {
		return
	}
	userID, channelID := msg.Author.ID, msg.ChannelID
	if !rt.hush.answer(0, userID) {
		return
	}
	if _, ok := rt.begin(); !ok {
		return
	}
	go func() {
		defer rt.end()
		ctx, cancel := context.WithTimeout(rt.cfg.Work.Context(), replyTimeout)
		defer cancel()
		if _, err := rt.cfg.Port.SendMessage(ctx, channelID, discord.Message{Content: inServerOnly}); err != nil {
			rt.log.Warn("answering a command in a DM", "user", userID, "err", err)
		}
	}()
}

// onSlashCommand handles a slash command: deferred (ephemeral) at once, then filled in with
// the outcome. Every deferred response gets its edit, whatever happens.
func (rt *Router) onSlashCommand(e *events.ApplicationCommandInteractionCreate) {
	if e.Data.Type() != ddiscord.ApplicationCommandTypeSlash {
		return
	}
	id, token := int64(e.ID()), e.Token()
	co, ok := rt.begin()
	if !ok {
		// Closing (or not ready): say so at once rather than leave the moderator waiting.
		// This runs on the gateway's handler, which the gateway's Close waits for.
		ctx, cancel := context.WithTimeout(rt.cfg.Work.Context(), 3*time.Second)
		defer cancel()
		err := rt.cfg.Port.Respond(ctx, id, token, discord.Response{Type: discord.RespondMessage, Message: discord.Message{
			Content: "gavel is restarting and took no action. Try again in a moment.", Flags: discord.FlagEphemeral}})
		if err != nil {
			rt.log.Warn("answering an interaction while closing", "err", err)
		}
		return
	}
	ia := e.ApplicationCommandInteraction
	release := rt.hold(e)
	go func() {
		defer rt.end()
		ctx, cancel := context.WithTimeout(rt.cfg.Work.Context(), rt.cfg.CommandTimeout)
		defer cancel()
		var guildID int64
		if g := ia.GuildID(); g != nil {
			guildID = int64(*g)
		}
		held, done, ok := rt.enter(ctx, guildID, "interaction", release)
		if !ok {
			// An interaction must be answered within 3 seconds, which a replay to the
			// shard's next owner would miss: say so now, and record it as answered so
			// that the next owner drops the replay (settleAnswered).
			rt.settleAnswered(ctx, discord.GuildID(guildID), discord.EventID(id), ia.Data.CommandName(), false, rt.log.With("interaction", id))
			rt.answerMoving(ctx, id, token)
			return
		}
		defer done()
		rt.handleSlash(held, co, id, token, ia)
	}()
}

func (rt *Router) handleSlash(ctx context.Context, co *moderation.Coordinator, id int64, token string, ia ddiscord.ApplicationCommandInteraction) {
	data := ia.SlashCommandInteractionData()
	name := data.CommandName()
	log := rt.log.With("interaction", id, "command", name, "user", int64(ia.User().ID))
	path := []string{name}
	if g := data.SubCommandGroupName; g != nil {
		path = append(path, *g)
	}
	if sc := data.SubCommandName; sc != nil {
		path = append(path, *sc)
	}
	// A replayed interaction is dropped before its deferral: it was answered already.
	var guildID discord.GuildID
	if g := ia.GuildID(); g != nil {
		guildID = discord.GuildID(*g)
	}
	if rt.replayed(ctx, guildID, discord.EventID(id), strings.Join(path, " "), log) {
		return
	}
	if leaf, ok := rt.cfg.Tree.Leaf(path); ok && leaf.Public {
		rt.handlePublicSlash(ctx, co, id, token, ia, path, log)
		return
	}
	// Discord allows 3 seconds for the first answer; a deferral buys 15 minutes.
	deferCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	err := rt.cfg.Port.Respond(deferCtx, id, token, discord.Response{Type: discord.RespondDeferred,
		Message: discord.Message{Flags: discord.FlagEphemeral}})
	cancel()
	if err != nil {
		if discord.IsCode(err, discord.CodeAlreadyAcknowledged) {
			// A replay of an interaction that the process holding its guild's shard before
			// acknowledged: that process answers it (settleAnswered).
			log.Info("the interaction was acknowledged by another handling of it, which answers it", "err", err)
			return
		}
		log.Error("deferring the interaction", "err", err)
		return
	}
	edit := func(m discord.Message) {
		leave(ctx)
		m.Flags |= discord.FlagEphemeral
		// Its own deadline: a command that used up its time must still be answered.
		editCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), replyTimeout)
		defer cancel()
		if err := rt.cfg.Port.EditOriginal(editCtx, token, m); err != nil {
			log.Error("answering the interaction", "err", err)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			log.Error("a slash command panicked", "panic", r, "stack", string(debug.Stack()))
			// It may have panicked after acting: do not claim that nothing was done.
			edit(discord.Message{Content: "Something went wrong on gavel's side while handling this command. Check the user's cases before trying again."})
		}
	}()

	r := rt.slashCommand(ctx, co, ia, path, log)
	if r.Replayed {
		// Another process handled the same interaction at the same time, and answers it.
		return
	}
	rt.settleAnswered(ctx, guildID, discord.EventID(id), strings.Join(path, " "), r.Recorded, log)
	edit(r.Message)
}

// slashCommand reads a slash command's options, checks the permission and runs it: what
// both slash routes (deferred, public) share.
func (rt *Router) slashCommand(ctx context.Context, co *moderation.Coordinator, ia ddiscord.ApplicationCommandInteraction, path []string, log *slog.Logger) tools.Reply {
	data := ia.SlashCommandInteractionData()
	guildID := ia.GuildID()
	member := ia.Member()
	if guildID == nil || member == nil {
		return tools.Reply{Message: discord.Message{Content: inServerOnly}, Outcome: tools.Refused}
	}
	opts := make(map[string]any, len(data.Options))
	for optName, o := range data.Options {
		if o.Type == ddiscord.ApplicationCommandOptionTypeSubCommand || o.Type == ddiscord.ApplicationCommandOptionTypeSubCommandGroup {
			continue
		}
		var v any
		if err := json.Unmarshal(o.Value, &v); err != nil {
			log.Error("decoding an option", "option", optName, "err", err)
			return tools.Reply{Message: discord.Message{Content: failureText}, Outcome: tools.Failed}
		}
		opts[optName] = v
	}
	args, parseErr := rt.cfg.Tree.FromSlash(path, opts)
	command, known := commandOf(args, parseErr)
	if !known {
		return tools.Reply{Message: rt.usageReply(log, path[0], parseErr), Outcome: tools.Refused}
	}
	call := tools.Call{GuildID: discord.GuildID(*guildID), ChannelID: discord.ChannelID(ia.Channel().ID()), User: User(member.User),
		Roles: RoleIDs(member.RoleIDs), Slash: true, Event: discord.EventID(ia.ID()), At: ia.CreatedAt(), Members: resolvedMembers(data.Resolved)}
	sub, err := rt.interactionSubject(ctx, call.GuildID, call.User.ID, call.Roles, member.Permissions, command)
	if err != nil {
		rt.cfg.Metrics.Command(command, outcomeFailed)
		log.Error("reading the guild for a permission check", "err", err)
		return tools.Reply{Message: discord.Message{Content: failureText}, Outcome: tools.Failed}
	}
	call.GuildOwnerID, call.Permissions = sub.GuildOwnerID, sub.NativePermissions
	// Permission first, then the arguments; an interaction is always answered (ephemerally),
	// so a slash refusal is never kept quiet.
	if refusal, _, allowed := rt.permit(ctx, sub); !allowed {
		rt.cfg.Metrics.Command(command, string(refusal.Outcome))
		return refusal
	}
	if parseErr != nil {
		return tools.Reply{Message: rt.usageReply(log, command, parseErr), Outcome: tools.Refused}
	}
	return rt.dispatch(ctx, co, call, args)
}

// publicAnswerTime is how long a public slash command (commands.Spec.Public) may take: it
// answers without a deferral, within Discord's 3 seconds, so that its answer can be public
// when it succeeds and ephemeral when it is refused (a deferral fixes the visibility first).
const publicAnswerTime = 2 * time.Second

// handlePublicSlash runs a public slash command (posting a snippet): its answer is the
// interaction's first response, public when the command succeeded, else ephemeral.
func (rt *Router) handlePublicSlash(ctx context.Context, co *moderation.Coordinator, id int64, token string, ia ddiscord.ApplicationCommandInteraction, path []string, log *slog.Logger) {
	runCtx, cancel := context.WithTimeout(ctx, publicAnswerTime)
	r := func() (r tools.Reply) {
		defer func() {
			if p := recover(); p != nil {
				log.Error("a slash command panicked", "panic", p, "stack", string(debug.Stack()))
				r = tools.Reply{Message: discord.Message{Content: failureText}, Outcome: tools.Failed}
			}
		}()
		return rt.slashCommand(runCtx, co, ia, path, log)
	}()
	cancel()
	if r.Replayed {
		return
	}
	var guildID discord.GuildID
	if g := ia.GuildID(); g != nil {
		guildID = discord.GuildID(*g)
	}
	rt.settleAnswered(ctx, guildID, discord.EventID(id), strings.Join(path, " "), r.Recorded, log)
	leave(ctx)
	if r.Outcome != "" && r.Outcome != tools.OK {
		r.Message.Flags |= discord.FlagEphemeral
	}
	respCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := rt.cfg.Port.Respond(respCtx, id, token, discord.Response{Type: discord.RespondMessage, Message: r.Message}); err != nil {
		log.Error("answering the interaction", "err", err)
	}
}

// dispatch is the one dispatcher behind the prefix and slash routes, once the permission
// middleware has let the command through: the action's pipeline or the tool, then the
// command's metric.
func (rt *Router) dispatch(ctx context.Context, co *moderation.Coordinator, call tools.Call, args commands.Args) tools.Reply {
	name := args.Command()
	var r tools.Reply
	if args.Spec.Action != nil {
		r = rt.act(ctx, co, call, args)
	} else {
		tctx := rt.withEvent(ctx, call, name)
		r = rt.cfg.Tools.Run(tctx, call, args)
		// A write of the tool claimed the event (store.WithEvent): nothing more to record.
		r.Recorded = r.Recorded || store.EventClaimed(tctx)
		if replayedTool(r.Err) {
			rt.cfg.Metrics.Command(name, outcomeReplayed)
			return tools.Reply{Replayed: true}
		}
		if r.Err != nil {
			// An unreachable database is logged with the driver's detail once per outage
			// (store.Health), not once per command.
			_, err := rt.failure(r.Err)
			rt.log.Warn("command failed", "guild", call.GuildID, "command", name, "err", err)
			if moved(ctx, r.Err) {
				r.Message.Content = movedTool + " " + r.Message.Content
			} else if rt.stopping() {
				// The tool's own words say what was and was not done; they only need the
				// reason, which they cannot know.
				r.Message.Content = restartingTool + " " + r.Message.Content
			}
		}
	}
	outcome := r.Outcome
	if outcome == "" {
		outcome = tools.OK
	}
	rt.cfg.Metrics.Command(name, string(outcome))
	return r
}

// permit is the permission middleware of every route (prefix, slash, buttons and
// autocomplete): whether sub may run its command, the decision, and the reply when not.
func (rt *Router) permit(ctx context.Context, sub permissions.Subject) (tools.Reply, permissions.Decision, bool) {
	decision, err := rt.cfg.Perms.Check(ctx, sub)
	if err != nil {
		text, err := rt.failure(err)
		rt.log.Error("checking permissions", "guild", sub.GuildID, "user", sub.UserID, "command", sub.Command, "err", err)
		return tools.Reply{Message: discord.Message{Content: text}, Outcome: tools.Failed}, decision, false
	}
	if !decision.Allowed {
		return tools.Reply{Message: moderation.RefusalReply(decision.Reason), Outcome: tools.Refused}, decision, false
	}
	return tools.Reply{}, decision, true
}

// act carries out a moderation action through the pipeline.
func (rt *Router) act(ctx context.Context, co *moderation.Coordinator, call tools.Call, args commands.Args) tools.Reply {
	inv, err := commands.InvocationOf(args)
	if err != nil {
		return tools.Reply{Message: discord.Message{Content: failureText}, Outcome: tools.Failed, Err: err}
	}
	req := inv.Request(call.GuildID, call.User, call.Roles)
	req.Event = call.Event
	req.TargetMember = targetMember(call.Members, req.Target.ID)
	name := req.Action.Name
	start := time.Now()
	res := co.Execute(ctx, req)
	rt.cfg.Metrics.ActionLatency(name, time.Since(start))
	switch {
	case res.Replayed:
		return tools.Reply{Replayed: true, Outcome: outcomeReplayed}
	case !res.Refused && moved(ctx, res.Err):
		rt.log.Warn("action stopped: the guild's shard moved to another process", "guild", req.GuildID, "command", name, "target", req.Target.ID, "err", res.Err)
		return tools.Reply{Message: movedReply(name, res), Outcome: tools.Failed, Recorded: res.Case != nil}
	case !res.Refused && res.Err != nil && rt.stopping():
		rt.log.Warn("action interrupted by the shutdown", "guild", req.GuildID, "command", name, "target", req.Target.ID, "err", res.Err)
		return tools.Reply{Message: restartingReply(name, res), Outcome: tools.Failed, Recorded: res.Case != nil}
	case res.Refused:
		return tools.Reply{Message: res.Reply, Outcome: tools.Refused}
	case res.Err != nil:
		rt.log.Warn("action failed", "guild", req.GuildID, "command", name, "target", req.Target.ID, "err", res.Err)
		return tools.Reply{Message: res.Reply, Outcome: tools.Failed, Recorded: res.Case != nil}
	}
	return tools.Reply{Message: res.Reply, Outcome: tools.OK, Recorded: res.Case != nil}
}

// answerMoving answers an interaction of a guild whose shard this process no longer holds:
// nothing was done, and the moderator can try again once the shard's new owner runs it.
func (rt *Router) answerMoving(ctx context.Context, id int64, token string) {
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err := rt.cfg.Port.Respond(rctx, id, token, discord.Response{Type: discord.RespondMessage, Message: discord.Message{
		Content: "This server is moving to another gavel process and nothing was done. Try again in a moment.", Flags: discord.FlagEphemeral}})
	if err != nil {
		rt.log.Warn("answering an interaction of a guild that moved", "err", err)
	}
}

// movedTool opens the answer of a tool command cut short because its guild's shard moved
// to another process.
const movedTool = "This server moved to another gavel process while the command ran, and this one stopped it."

// movedReply answers an action stopped because its guild's shard moved to another process
// (the lease was lost): its case, when it has one, stays pending and is settled against
// what Discord shows; without one, nothing was done. It is sent only when the command's
// event is recorded as handled here (its case, or settle), so the new owner drops the
// event's replay and this is the one answer; a prefix command that recorded nothing is
// answered by the new owner instead, which runs it from the replay.
func movedReply(action string, res moderation.Result) discord.Message {
	if res.Case == nil {
		return discord.Message{Content: "This server moved to another gavel process while the " + action +
			" ran, and this one stopped before recording anything: nothing was done. Type the command again."}
	}
	if !res.Pending {
		return res.Reply
	}
	return discord.Message{Content: fmt.Sprintf("This server moved to another gavel process while the %s ran, and this one stopped before Discord answered. Case #%d stays pending: gavel checks Discord and settles it (active if the %s shows there, voided if not).",
		action, res.Case.Number, action)}
}

// restartingTool opens the answer of a tool command cut short by the shutdown.
const restartingTool = "gavel is restarting and cut this command short."

// stopping says whether the process's work has been cancelled: a shutdown that could not
// wait for the commands in flight (its timeout passed, or a second Ctrl-C).
func (rt *Router) stopping() bool { return rt.cfg.Work.Context().Err() != nil }

// restartingReply answers an action the shutdown interrupted. Its case, when it has one, is
// pending (the Discord call may or may not have been carried out), and the next start
// settles it against what Discord shows.
func restartingReply(action string, res moderation.Result) discord.Message {
	if res.Case == nil {
		return discord.Message{Content: "gavel is restarting and took no action. Try again in a moment."}
	}
	if !res.Pending {
		// Settled before the shutdown reached it (a definite refusal): that reply holds.
		return res.Reply
	}
	return discord.Message{Content: fmt.Sprintf("gavel is restarting, so the %s was interrupted before Discord answered. Case #%d stays pending: when gavel is back it checks Discord and settles it (active if the %s shows there, voided if not).",
		action, res.Case.Number, action)}
}

// usageReply answers a command that could not be parsed: the usage error, or gavel's own
// failure.
func (rt *Router) usageReply(log *slog.Logger, name string, err error) discord.Message {
	if name != "" {
		rt.cfg.Metrics.Command(name, outcomeRefused)
	}
	var usage *commands.UsageError
	if errors.As(err, &usage) {
		return discord.Message{Content: usage.Error(), AllowedMentions: &discord.AllowedMentions{}}
	}
	log.Error("parsing a command", "err", err)
	return discord.Message{Content: failureText}
}

// deleteLater deletes one of gavel's replies after the transient delay without holding the
// command. The wait counts among the work in flight, so Close does not close the Discord
// client under it; and Close cuts it short, deleting at once, so that a shutdown neither
// waits out the delay nor leaves the reply behind for good (Tux's bug #1189). Called from
// a command in flight, whose own place keeps the count above zero for the Add.
func (rt *Router) deleteLater(log *slog.Logger, channelID discord.ChannelID, messageID discord.MessageID) {
	release := rt.cfg.Work.Hold()
	go func() {
		defer release()
		t := clock.After(rt.cfg.Clock, rt.cfg.TransientDelay)
		defer t.Stop()
		select {
		case <-t.C():
		case <-rt.cfg.Work.Closing():
		case <-rt.cfg.Work.Context().Done():
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(rt.cfg.Work.Context()), replyTimeout)
		defer cancel()
		if err := rt.cfg.Port.DeleteMessage(ctx, channelID, messageID, ""); err != nil && !discord.IsCode(err, discord.CodeUnknownMessage) {
			log.Warn("deleting a transient reply", "message", messageID, "err", err)
		}
	}()
}

// interactionSubject builds the permission question for an interaction. Discord computes
// the member's permissions for an interaction (channel overwrites included); gavel's
// fallback asks about guild permissions, which is what Discord sends for a command in a
// channel without overwrites.
func (rt *Router) interactionSubject(ctx context.Context, guildID discord.GuildID, userID discord.UserID, roles []discord.RoleID, perms ddiscord.Permissions, command string) (permissions.Subject, error) {
	g, err := rt.cfg.Port.Guild(ctx, guildID)
	if err != nil {
		return permissions.Subject{}, fmt.Errorf("guild %d: %w", guildID, err)
	}
	return permissions.Subject{GuildID: guildID, GuildOwnerID: g.OwnerID, UserID: userID, RoleIDs: roles,
		NativePermissions: permissions.Permission(perms), Command: command}, nil
}

// subject builds the permission question for a prefix command. A message carries the
// member's roles but not their permissions, so they are computed from the guild's roles.
func (rt *Router) subject(ctx context.Context, guildID discord.GuildID, userID discord.UserID, roles []discord.RoleID, command string) (permissions.Subject, error) {
	g, err := rt.cfg.Port.Guild(ctx, guildID)
	if err != nil {
		return permissions.Subject{}, fmt.Errorf("guild %d: %w", guildID, err)
	}
	return permissions.Subject{GuildID: guildID, GuildOwnerID: g.OwnerID, UserID: userID, RoleIDs: roles,
		NativePermissions: permissions.Permission(g.MemberPermissions(userID, roles)), Command: command}, nil
}

// onComponent handles a click on one of gavel's buttons (the case list's pages): the
// clicked message is replaced with the tool's answer, within Discord's 3 seconds (a page is
// one indexed query), or after acknowledging the click when the tool's work is slow
// (tools.Tool.ClickDefers); a refusal is told to the one who clicked only.
func (rt *Router) onComponent(e *events.ComponentInteractionCreate) {
	id, token := int64(e.ID()), e.Token()
	if _, ok := rt.begin(); !ok {
		ctx, cancel := context.WithTimeout(rt.cfg.Work.Context(), 3*time.Second)
		defer cancel()
		err := rt.cfg.Port.Respond(ctx, id, token, discord.Response{Type: discord.RespondMessage, Message: discord.Message{
			Content: "gavel is restarting. Try again in a moment.", Flags: discord.FlagEphemeral}})
		if err != nil {
			rt.log.Warn("answering a click while closing", "err", err)
		}
		return
	}
	ci := e.ComponentInteraction
	go func() {
		defer rt.end()
		ctx, cancel := context.WithTimeout(rt.cfg.Work.Context(), rt.cfg.CommandTimeout)
		defer cancel()
		var guildID int64
		if g := ci.GuildID(); g != nil {
			guildID = int64(*g)
		}
		held, done, ok := rt.enter(ctx, guildID, "click", func() {})
		if !ok {
			rt.answerMoving(ctx, id, token)
			return
		}
		defer done()
		rt.handleComponent(held, id, token, ci)
	}()
}

func (rt *Router) handleComponent(ctx context.Context, id int64, token string, ci ddiscord.ComponentInteraction) {
	customID := ci.Data.CustomID()
	log := rt.log.With("interaction", id, "custom_id", customID, "user", int64(ci.User().ID))
	// settle, once the click's tool is known, records the click's event as handled before
	// it is answered (settleAnswered): a click replayed to the guild's shard's next owner (a
	// RESUME repeats it) is then dropped instead of run a second time.
	var settle func()
	// deferred: the click was acknowledged (DEFERRED_UPDATE_MESSAGE), and its answer edits
	// the clicked message (@original) or follows up, as respond does.
	deferred := false
	respond := func(r discord.Response) bool {
		if settle != nil {
			settle()
			settle = nil
		}
		var err error
		if deferred {
			// Its own deadline: a click that used up its time must still be answered.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), replyTimeout)
			defer cancel()
			if r.Type == discord.RespondUpdate {
				err = rt.cfg.Port.EditOriginal(rctx, token, r.Message)
			} else {
				_, err = rt.cfg.Port.Followup(rctx, token, r.Message)
			}
		} else {
			rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			err = rt.cfg.Port.Respond(rctx, id, token, r)
		}
		if err != nil {
			log.Error("answering a click", "err", err)
			return false
		}
		return true
	}
	ephemeral := func(text string) {
		respond(discord.Response{Type: discord.RespondMessage, Message: discord.Message{Content: text,
			Flags: discord.FlagEphemeral, AllowedMentions: &discord.AllowedMentions{}}})
	}
	tool, ok := rt.cfg.Tools.Component(customID)
	guildID, member := ci.GuildID(), ci.Member()
	if !ok || guildID == nil || member == nil {
		ephemeral("This button no longer does anything. Run the command again.")
		return
	}
	call := tools.Call{GuildID: discord.GuildID(*guildID), ChannelID: discord.ChannelID(ci.Channel().ID()), User: User(member.User),
		Roles: RoleIDs(member.RoleIDs), Slash: true, At: ci.CreatedAt()}
	ev := discord.EventID(id)
	if rt.replayed(ctx, call.GuildID, ev, tool.ClickCommand, log) {
		return
	}
	settle = func() { rt.settleAnswered(ctx, call.GuildID, ev, tool.ClickCommand, false, log) }
	if tool.ClickDefers {
		// Discord allows 3 seconds for the first answer, which a tool that acts (with its
		// DMs and Discord calls) cannot promise; the acknowledgement buys 15 minutes.
		dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := rt.cfg.Port.Respond(dctx, id, token, discord.Response{Type: discord.RespondDeferredUpdate})
		cancel()
		if err != nil {
			if discord.IsCode(err, discord.CodeAlreadyAcknowledged) {
				// A replay of a click that the process holding its guild's shard before
				// acknowledged: that process answers it (settleAnswered).
				log.Info("the click was acknowledged by another handling of it, which answers it", "err", err)
				return
			}
			log.Error("acknowledging a click", "err", err)
			return
		}
		deferred = true
	}
	sub, err := rt.interactionSubject(ctx, call.GuildID, call.User.ID, call.Roles, member.Permissions, tool.ClickCommand)
	if err != nil {
		rt.cfg.Metrics.Command(tool.ClickCommand, outcomeFailed)
		log.Error("reading the guild for a permission check", "err", err)
		ephemeral(failureText)
		return
	}
	// A click that needs more than ClickCommand's right (approving an escalation needs the
	// action's own) checks it with what the permission check knew.
	call.GuildOwnerID, call.Permissions = sub.GuildOwnerID, sub.NativePermissions
	if refusal, _, allowed := rt.permit(ctx, sub); !allowed {
		rt.cfg.Metrics.Command(tool.ClickCommand, string(refusal.Outcome))
		refusal.Message.Flags |= discord.FlagEphemeral
		respond(discord.Response{Type: discord.RespondMessage, Message: refusal.Message})
		return
	}
	r := tool.Click(ctx, call, customID)
	if r.Err != nil {
		log.Warn("click failed", "err", r.Err)
	}
	outcome := r.Outcome
	if outcome == "" {
		outcome = tools.OK
	}
	rt.cfg.Metrics.Command(tool.ClickCommand, string(outcome))
	if outcome != tools.OK || r.Keep {
		// The page stays as it was; only the one who clicked is told why (or, for a raid's
		// buttons, what was done: the mod log edits the raid's message).
		r.Message.Flags |= discord.FlagEphemeral
		respond(discord.Response{Type: discord.RespondMessage, Message: r.Message})
		return
	}
	respond(discord.Response{Type: discord.RespondUpdate, Message: r.Message})
}

// onAutocomplete answers an autocomplete interaction (a moderator typing in an option that
// offers suggestions, such as automod's rule names) with the tool's choices, within
// Discord's 3 seconds. A member who may not run the command gets no suggestions.
func (rt *Router) onAutocomplete(e *events.AutocompleteInteractionCreate) {
	id, token := int64(e.ID()), e.Token()
	if _, ok := rt.begin(); !ok {
		ctx, cancel := context.WithTimeout(rt.cfg.Work.Context(), 3*time.Second)
		defer cancel()
		if err := rt.cfg.Port.Respond(ctx, id, token, discord.Response{Type: discord.RespondAutocomplete}); err != nil {
			rt.log.Warn("answering an autocomplete while closing", "err", err)
		}
		return
	}
	ai := e.AutocompleteInteraction
	go func() {
		defer rt.end()
		ctx, cancel := context.WithTimeout(rt.cfg.Work.Context(), 3*time.Second)
		defer cancel()
		rt.handleAutocomplete(ctx, id, token, ai)
	}()
}

func (rt *Router) handleAutocomplete(ctx context.Context, id int64, token string, ai ddiscord.AutocompleteInteraction) {
	data := ai.Data
	path := []string{data.CommandName}
	if g := data.SubCommandGroupName; g != nil {
		path = append(path, *g)
	}
	if sc := data.SubCommandName; sc != nil {
		path = append(path, *sc)
	}
	log := rt.log.With("interaction", id, "command", path, "user", int64(ai.User().ID))
	var choices []discord.Choice
	guildID, member := ai.GuildID(), ai.Member()
	focused, typed := "", ""
	for name, o := range data.Options {
		if o.Focused {
			focused = name
			// A string option's value is what was typed; other kinds give no text to match.
			_ = json.Unmarshal(o.Value, &typed)
		}
	}
	if guildID != nil && member != nil && focused != "" && rt.cfg.Tree.Has(data.CommandName) {
		call := tools.Call{GuildID: discord.GuildID(*guildID), ChannelID: discord.ChannelID(ai.Channel().ID()), User: User(member.User),
			Roles: RoleIDs(member.RoleIDs), Slash: true, At: ai.CreatedAt()}
		command := strings.Join(path, " ")
		sub, err := rt.interactionSubject(ctx, call.GuildID, call.User.ID, call.Roles, member.Permissions, command)
		switch {
		case err != nil:
			log.Warn("reading the guild for a permission check", "err", err)
		default:
			call.GuildOwnerID, call.Permissions = sub.GuildOwnerID, sub.NativePermissions
			// A member who may not run the command gets no suggestions (and no refusal: an
			// autocomplete has nowhere to show one).
			if _, _, allowed := rt.permit(ctx, sub); allowed {
				choices = rt.cfg.Tools.Suggest(ctx, call, path, focused, typed)
			}
		}
	}
	// Its own short deadline: the suggestions may have used most of the time.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := rt.cfg.Port.Respond(rctx, id, token, discord.Response{Type: discord.RespondAutocomplete, Choices: choices}); err != nil {
		log.Warn("answering an autocomplete", "err", err)
	}
}
