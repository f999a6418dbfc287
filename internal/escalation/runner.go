package escalation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
)

// Work is the process's work in flight, as the app keeps it (the same contract as
// upkeep.Work): the runner's actions are work in flight that a shutdown waits for.
type Work interface {
	Begin() (*moderation.Coordinator, bool)
	End()
	Context() context.Context
}

// Messages is what the runner asks of Discord besides the pipeline: the mod-log posts.
type Messages interface {
	discord.Messages
}

// Button custom ids of an approval request: ApprovePrefix or DenyPrefix and the firing's id.
const (
	ComponentPrefix = "esc:"
	ApprovePrefix   = "esc:approve:"
	DenyPrefix      = "esc:deny:"
)

// Runner carries out firings: the action as a case of its own through the moderation
// pipeline (moderation.Coordinator.Execute, the one path), or a request for a moderator's
// approval in the mod log.
type Runner struct {
	svc      *Service
	cases    *cases.Service
	settings *settings.Service
	port     Messages
	exec     *executor.Executor
	work     Work
	log      *slog.Logger
	botID    discord.UserID
	affinity store.Affinity
	// rewind asks Serve for a round over all the points that ever stopped counting (the
	// guilds of a shard this process just took: the process that held it may not have
	// re-armed them, nor has this one).
	rewind chan struct{}
}

// RunnerConfig is what a Runner needs.
type RunnerConfig struct {
	Service  *Service
	Cases    *cases.Service
	Settings *settings.Service
	Port     Messages
	Exec     *executor.Executor
	Work     Work
	Log      *slog.Logger
	// Affinity keeps each guild's escalation work (firings carried out, approvals expired,
	// thresholds re-armed, firings left running settled) to the process that owns the
	// guild's shard (the shard leases, store.Enter): the others leave it, the work is
	// cancelled when the shard is lost, and its writes are refused once the lease moved.
	// nil: every guild is this process's.
	Affinity store.Affinity
}

// NewRunner returns a runner; it acts once SetBot names gavel's user.
func NewRunner(cfg RunnerConfig) *Runner {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Runner{svc: cfg.Service, cases: cfg.Cases, settings: cfg.Settings, port: cfg.Port, exec: cfg.Exec, work: cfg.Work, log: cfg.Log,
		affinity: cfg.Affinity, rewind: make(chan struct{}, 1)}
}

// enter starts work on guildID under the shard leases (RunnerConfig.Affinity): false when
// this process does not own the guild now (its owner does the work).
func (r *Runner) enter(ctx context.Context, guildID discord.GuildID) (context.Context, func(), bool) {
	return store.Enter(ctx, r.affinity, int64(guildID))
}

// Rewind tells Serve that this process took shards it did not hold: its next round, at
// once, re-arms the thresholds of every member whose points stopped counting, not only
// since its last round (the guilds' previous owner may have stopped before it did).
func (r *Runner) Rewind() {
	select {
	case r.rewind <- struct{}{}:
	default:
	}
}

// SetBot names gavel's own user: the moderator of the actions the policy takes by itself.
func (r *Runner) SetBot(id discord.UserID) { r.botID = id }

// Fired takes a firing that just committed: it runs as work in flight, after whatever the
// triggering case's own command still does (its DM and reply: the pipeline's lock on the
// member keeps the escalation behind them).
func (r *Runner) Fired(f Firing) {
	co, ok := r.work.Begin()
	if !ok {
		// Closing, or not connected yet: Resume at the next start picks it up.
		r.log.Info("escalation left for the next start", "guild", f.GuildID, "user", f.UserID, "firing", f.ID)
		return
	}
	go func() {
		defer r.work.End()
		ctx, done, ok := r.enter(r.work.Context(), f.GuildID)
		if !ok {
			// Another process holds the guild's shard: its Serve picks the firing up.
			r.log.Info("escalation left for the process that holds the server's shard", "guild", f.GuildID, "user", f.UserID, "firing", f.ID)
			return
		}
		defer done()
		switch f.State {
		case StateQueued:
			r.run(ctx, co, f, discord.User{ID: r.botID, Username: "gavel"}, StateQueued)
		case StateAwaiting:
			r.askApproval(ctx, f)
		}
	}()
}

// Resume runs what a previous process left: firings queued or approved but not run, and
// approval requests never posted. Each is claimed first, so several processes never run one
// twice.
func (r *Runner) Resume(ctx context.Context) { r.resumeBefore(ctx, r.svc.Now()) }

func (r *Runner) resumeBefore(ctx context.Context, before time.Time) {
	r.resumeRunning(ctx)
	for _, st := range []string{StateQueued, StateAwaiting} {
		fs, err := r.svc.InState(ctx, st, before, 100)
		if err != nil {
			if ctx.Err() == nil { // a shutdown is not a failure
				r.log.Warn("escalations left by the last run", "err", err)
			}
			return
		}
		for _, f := range fs {
			if st == StateAwaiting && f.ApprovalMessage != 0 {
				continue
			}
			r.Fired(f)
		}
	}
}

// RunningGrace is how long a firing may stay running before it counts as left by a process
// that stopped (killed between claiming it and recording its outcome): far longer than a
// pipeline run takes (its Discord calls are bounded by the executor's timeouts and retries),
// so a run still under way in a live process is never taken over.
const RunningGrace = 5 * time.Minute

// resumeRunning settles the firings left running for longer than RunningGrace, each exactly
// once: taken over first (Reclaim: one process gets it), then, when the action's case exists
// (the pipeline records it before any Discord call), linked to the triggering case and the
// firing marked by what became of that case: done, pending (reconciliation settles the case)
// or failed; when there is no case, nothing reached Discord, and the action is carried out.
func (r *Runner) resumeRunning(ctx context.Context) {
	cutoff := r.svc.Now().Add(-RunningGrace)
	fs, err := r.svc.InState(ctx, StateRunning, cutoff, 100)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("escalations left running by the last run", "err", err)
		}
		return
	}
	for _, f := range fs {
		if f.UpdatedAt.After(cutoff) {
			continue // claimed recently: its process may still be running it
		}
		co, ok := r.work.Begin()
		if !ok {
			return
		}
		if held, done, ok := r.enter(ctx, f.GuildID); ok {
			r.settleRunning(held, co, f)
			done()
		}
		r.work.End()
	}
}

func (r *Runner) settleRunning(ctx context.Context, co *moderation.Coordinator, f Firing) {
	f, err := r.svc.Reclaim(ctx, f)
	if err != nil {
		if !errors.Is(err, ErrMoved) {
			r.log.Warn("taking over an escalation left running", "firing", f.ID, "err", err)
		}
		return
	}
	page, err := r.cases.WithMetadata(ctx, f.GuildID, MetaFiring, strconv.FormatInt(f.ID, 10), cases.PageRequest{Page: 1, PerPage: 10})
	if err != nil {
		// Left running: the next round takes it over again once RunningGrace has passed.
		r.log.Warn("looking for the case of an escalation left running", "firing", f.ID, "err", err)
		return
	}
	if len(page.Cases) == 0 {
		r.log.Info("escalation left running before its case was recorded: carrying it out", "firing", f.ID, "guild", f.GuildID, "user", f.UserID)
		moderator := discord.User{ID: r.botID, Username: "gavel"}
		if f.DecidedBy != 0 {
			moderator = discord.User{ID: f.DecidedBy, Username: fmt.Sprintf("<@%d>", f.DecidedBy)}
		}
		r.carryOut(ctx, co, f, moderator)
		return
	}
	c := page.Cases[0]
	state, note := StateDone, fmt.Sprintf("its process stopped after case #%d was recorded; settled at the next start", c.Number)
	switch c.Status {
	case cases.Pending:
		state, note = StatePending, "outcome unknown; reconciliation settles the case"
	case cases.Voided:
		state = StateFailed
	}
	r.log.Info("escalation left running: its case exists", "firing", f.ID, "case", c.Number, "state", state)
	if trigger, err := r.cases.Get(ctx, f.TriggerCase); err != nil {
		r.log.Warn("reading an escalation's triggering case", "firing", f.ID, "err", err)
	} else if linked, err := r.linked(ctx, c.ID, trigger.Number); err != nil {
		r.log.Warn("reading an escalation case's history", "firing", f.ID, "err", err)
	} else if !linked {
		r.link(ctx, r.botID, trigger, c)
	}
	r.finish(ctx, f, state, c.ID, note)
	if state == StateFailed {
		trigger, _ := r.cases.Get(ctx, f.TriggerCase)
		r.postFailure(ctx, f, trigger, fmt.Sprintf("case #%d was voided", c.Number))
	}
}

// linked says whether escalation case id's history already names the triggering case (the
// stopped process got that far).
func (r *Runner) linked(ctx context.Context, id, triggerNumber int64) (bool, error) {
	evs, err := r.cases.Events(ctx, id)
	if err != nil {
		return false, err
	}
	for _, e := range evs {
		if e.Kind == cases.EventLinked && e.New == fmt.Sprintf("#%d", triggerNumber) {
			return true, nil
		}
	}
	return false, nil
}

// Reason is the escalation case's reason: the points and the cases that make them.
func (f Firing) Reason() string {
	return fmt.Sprintf("escalation: %d points from %s (policy %s, threshold %d)", f.Points, f.Contributing, f.Policy, f.Threshold.At)
}

// run carries out firing f as moderator: claimed from state from, the action's case through
// the pipeline, its outcome on the firing, the two cases linked in their histories.
func (r *Runner) run(ctx context.Context, co *moderation.Coordinator, f Firing, moderator discord.User, from string) {
	claimed, err := r.svc.Move(ctx, f.ID, Transition{From: from, To: StateRunning})
	if err != nil {
		if !errors.Is(err, ErrMoved) {
			r.log.Warn("claiming an escalation", "firing", f.ID, "err", err)
		}
		return
	}
	r.carryOut(ctx, co, claimed, moderator)
}

// carryOut runs firing f, claimed (running), as moderator: the action's case through the
// pipeline, its outcome on the firing, the two cases linked in their histories.
func (r *Runner) carryOut(ctx context.Context, co *moderation.Coordinator, f Firing, moderator discord.User) {
	act, ok := co.Catalogue().Lookup(string(f.Threshold.Action))
	if !ok {
		r.finish(ctx, f, StateFailed, 0, fmt.Sprintf("gavel has no %s action", f.Threshold.Action))
		return
	}
	trigger, err := r.cases.Get(ctx, f.TriggerCase)
	if err != nil {
		r.log.Warn("reading an escalation's triggering case", "firing", f.ID, "err", err)
	}
	res := co.Execute(ctx, moderation.Request{GuildID: f.GuildID, Moderator: moderator, Action: act,
		Target: moderation.Target{ID: f.UserID}, Reason: f.Reason(), Duration: f.Threshold.Duration,
		Metadata: map[string]string{MetaFiring: fmt.Sprint(f.ID), MetaTrigger: fmt.Sprint(trigger.Number)}})
	state, note := StateDone, ""
	var caseID int64
	switch {
	case res.Case == nil:
		state, note = StateFailed, strings.TrimPrefix(res.Reply.Content, "❌ ")
	case res.Pending:
		state, caseID, note = StatePending, res.Case.ID, "outcome unknown; reconciliation settles the case"
	case res.Case.Status == cases.Voided:
		state, caseID, note = StateFailed, res.Case.ID, strings.TrimPrefix(res.Reply.Content, "❌ ")
	default:
		caseID = res.Case.ID
	}
	if caseID != 0 && trigger.ID != 0 {
		r.link(ctx, moderator.ID, trigger, *res.Case)
	}
	r.finish(ctx, f, state, caseID, note)
	if state == StateFailed {
		r.postFailure(ctx, f, trigger, note)
	}
}

func (r *Runner) finish(ctx context.Context, f Firing, state string, caseID int64, note string) {
	if _, err := r.svc.Move(ctx, f.ID, Transition{From: StateRunning, To: state, Note: note, EscalationCase: caseID}); err != nil {
		r.log.Error("recording an escalation's outcome", "firing", f.ID, "state", state, "err", err)
	}
}

// link records in both histories that the escalation case carried out the triggering one's
// escalation.
func (r *Runner) link(ctx context.Context, actor discord.UserID, trigger, esc cases.Case) {
	err := r.cases.InTx(ctx, actor, func(tx *cases.Tx) error {
		t, err := tx.Lock(trigger.ID)
		if err != nil {
			return err
		}
		e, err := tx.Lock(esc.ID)
		if err != nil {
			return err
		}
		if err := tx.Record(t, cases.EventLinked, "", fmt.Sprintf("#%d", e.Number), "escalation: case #"+fmt.Sprint(e.Number)+" carried out the escalation this case triggered"); err != nil {
			return err
		}
		return tx.Record(e, cases.EventLinked, "", fmt.Sprintf("#%d", t.Number), "escalation triggered by case #"+fmt.Sprint(t.Number))
	})
	if err != nil {
		r.log.Warn("linking an escalation to its case", "trigger", trigger.Number, "case", esc.Number, "err", err)
	}
}

// postFailure tells the mod log that an escalation did not happen; the triggering case
// stands.
func (r *Runner) postFailure(ctx context.Context, f Firing, trigger cases.Case, why string) {
	e := discord.Embed{
		Title: fmt.Sprintf("⚠️ Escalation failed · %s of <@%d>", f.Threshold.Describe(), f.UserID),
		Description: fmt.Sprintf("<@%d> reached %d points (%s; policy %s, threshold %d), but the %s did not happen: %s\n\nCase #%d stands.",
			f.UserID, f.Points, f.Contributing, f.Policy, f.Threshold.At, f.Threshold.Action, why, trigger.Number),
		Color: 0xE67E22, Timestamp: r.svc.Now(),
	}
	r.post(ctx, f.GuildID, discord.Message{Embeds: []discord.Embed{e}, AllowedMentions: &discord.AllowedMentions{}})
}

func (r *Runner) post(ctx context.Context, guildID discord.GuildID, msg discord.Message) (discord.ChannelID, discord.MessageID, bool) {
	g, err := r.settings.Get(ctx, guildID)
	if err != nil {
		r.log.Error("escalation: reading settings", "guild", guildID, "err", err)
		return 0, 0, false
	}
	if g.ModlogChannelID == 0 {
		r.log.Warn("escalation notice not posted: no mod-log channel", "guild", guildID)
		return 0, 0, false
	}
	var sent discord.MessageID
	if err := r.exec.Do(ctx, executor.OpMessages, func(ctx context.Context) (err error) {
		sent, err = r.port.SendMessage(ctx, g.ModlogChannelID, msg)
		return err
	}); err != nil {
		r.log.Warn("escalation: posting to the mod log", "guild", guildID, "err", err)
		return 0, 0, false
	}
	return g.ModlogChannelID, sent, true
}

// askApproval posts the pending escalation with Approve and Deny buttons.
func (r *Runner) askApproval(ctx context.Context, f Firing) {
	ch, id, ok := r.post(ctx, f.GuildID, ApprovalMessage(f, r.svc.Now()))
	if !ok {
		return
	}
	if err := r.svc.SetApprovalMessage(ctx, f.ID, ch, id); err != nil {
		r.log.Warn("recording an approval request", "firing", f.ID, "err", err)
	}
}

// ApprovalMessage is the mod log's pending escalation, or (once decided) what became of it.
func ApprovalMessage(f Firing, now time.Time) discord.Message {
	e := discord.Embed{
		Title: fmt.Sprintf("Pending escalation · %s of <@%d>", f.Threshold.Describe(), f.UserID),
		Description: fmt.Sprintf("<@%d> reached %d points (%s; policy %s, threshold %d). The %s needs a moderator's approval; it expires %s.",
			f.UserID, f.Points, f.Contributing, f.Policy, f.Threshold.At, f.Threshold.Action, moderation.DiscordTime(f.FiredAt.Add(ApprovalWait))),
		Color: 0xF1C40F, Timestamp: f.FiredAt,
		Footer: &discord.EmbedFooter{Text: fmt.Sprintf("Escalation %d", f.ID)},
	}
	msg := discord.Message{Embeds: []discord.Embed{e}, AllowedMentions: &discord.AllowedMentions{}}
	switch f.State {
	case StateAwaiting:
		if now.Before(f.FiredAt.Add(ApprovalWait)) {
			// An action row (type 1) of two buttons (type 2): green (3) and red (4).
			msg.Components = json.RawMessage(fmt.Sprintf(`[{"type":1,"components":[{"type":2,"style":3,"label":"Approve","custom_id":"%s%d"},{"type":2,"style":4,"label":"Deny","custom_id":"%s%d"}]}]`,
				ApprovePrefix, f.ID, DenyPrefix, f.ID))
		}
	case StateDenied:
		msg.Embeds[0].Title = fmt.Sprintf("Escalation denied · %s of <@%d>", f.Threshold.Describe(), f.UserID)
		msg.Embeds[0].Description += fmt.Sprintf("\n\nDenied by <@%d> %s; the cases that led to it stand.", f.DecidedBy, moderation.DiscordTime(f.DecidedAt))
		msg.Embeds[0].Color = 0x95A5A6
	case StateExpired:
		msg.Embeds[0].Title = fmt.Sprintf("Escalation expired · %s of <@%d>", f.Threshold.Describe(), f.UserID)
		msg.Embeds[0].Description += "\n\nNobody approved it within a day; it was not carried out."
		msg.Embeds[0].Color = 0x95A5A6
	default:
		msg.Embeds[0].Title = fmt.Sprintf("Escalation approved · %s of <@%d>", f.Threshold.Describe(), f.UserID)
		msg.Embeds[0].Description += fmt.Sprintf("\n\nApproved by <@%d> %s.", f.DecidedBy, moderation.DiscordTime(f.DecidedAt))
		if f.Note != "" {
			msg.Embeds[0].Description += " " + f.Note
		}
		msg.Embeds[0].Color = 0x2ECC71
	}
	return msg
}

// Decide approves or denies firing id as moderator: an approval runs the action through the
// pipeline with the moderator as its moderator; a denial keeps the cases that led to it and
// records who denied. A firing that waited longer than ApprovalWait expires instead. The
// returned text is for the moderator.
func (r *Runner) Decide(ctx context.Context, co *moderation.Coordinator, id int64, moderator discord.User, approve bool) (Firing, string, error) {
	f, err := r.svc.Firing(ctx, id)
	if err != nil {
		return Firing{}, "", err
	}
	if f.State != StateAwaiting {
		return f, fmt.Sprintf("Escalation %d is %s already; nothing was done.", id, strings.ReplaceAll(f.State, "_", " ")), ErrMoved
	}
	if !r.svc.Now().Before(f.FiredAt.Add(ApprovalWait)) {
		f, err = r.Expire(ctx, f)
		if err != nil {
			return f, "", err
		}
		return f, fmt.Sprintf("Escalation %d waited more than a day and has expired; nothing was done.", id), ErrMoved
	}
	if !approve {
		f, err = r.svc.Move(ctx, id, Transition{From: StateAwaiting, To: StateDenied, DecidedBy: moderator.ID, Note: "denied by " + moderator.Username})
		if err != nil {
			return f, fmt.Sprintf("Escalation %d was already decided; nothing was done.", id), err
		}
		r.refresh(ctx, f)
		return f, fmt.Sprintf("Escalation %d denied: the %s of <@%d> will not happen. The cases that led to it stand.", id, f.Threshold.Describe(), f.UserID), nil
	}
	f, err = r.svc.Move(ctx, id, Transition{From: StateAwaiting, To: StateApproved, DecidedBy: moderator.ID})
	if err != nil {
		return f, fmt.Sprintf("Escalation %d was already decided; nothing was done.", id), err
	}
	r.run(ctx, co, f, moderator, StateApproved)
	f, err = r.svc.Firing(ctx, id)
	if err != nil {
		return f, "", err
	}
	r.refresh(ctx, f)
	switch f.State {
	case StateDone:
		c, _ := r.cases.Get(ctx, f.EscalationCase)
		return f, fmt.Sprintf("Escalation %d approved: case #%d, %s of <@%d>.", id, c.Number, f.Threshold.Describe(), f.UserID), nil
	case StatePending:
		return f, fmt.Sprintf("Escalation %d approved; Discord's answer did not come, so its case stays pending until gavel checks.", id), nil
	}
	return f, fmt.Sprintf("Escalation %d approved, but the %s did not happen: %s", id, f.Threshold.Action, f.Note), nil
}

// Expire ends firing f, which waited longer than ApprovalWait, and says so in the mod log.
func (r *Runner) Expire(ctx context.Context, f Firing) (Firing, error) {
	out, err := r.svc.Move(ctx, f.ID, Transition{From: StateAwaiting, To: StateExpired, Note: "nobody approved it within " + duration.Format(ApprovalWait)})
	if err != nil {
		return f, err
	}
	r.refresh(ctx, out)
	return out, nil
}

// ExpireDue expires every approval request older than ApprovalWait; it returns how many.
func (r *Runner) ExpireDue(ctx context.Context) (int, error) {
	fs, err := r.svc.InState(ctx, StateAwaiting, r.svc.Now().Add(-ApprovalWait), 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range fs {
		held, done, ok := r.enter(ctx, f.GuildID)
		if !ok {
			continue // the guild's owner expires it
		}
		_, err := r.Expire(held, f)
		done()
		if err == nil {
			n++
		} else if !errors.Is(err, ErrMoved) {
			return n, err
		}
	}
	return n, nil
}

// refresh edits the approval request's message to show what became of it.
func (r *Runner) refresh(ctx context.Context, f Firing) {
	if f.ApprovalMessage == 0 {
		return
	}
	msg := ApprovalMessage(f, r.svc.Now())
	if err := r.exec.Do(ctx, executor.OpMessages, func(ctx context.Context) error {
		return r.port.EditMessage(ctx, f.ApprovalChannel, f.ApprovalMessage, msg)
	}); err != nil {
		r.log.Warn("escalation: editing the approval request", "firing", f.ID, "err", err)
	}
}
