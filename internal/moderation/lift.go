package moderation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/expiry"
)

// Expiries returns the handler the expiry poller runs due actions with. Each runs under the
// same per-(guild, user) lock as Execute, so an expiry and a moderator's action on the same
// user never interleave, and records its lift case through the same steps: pending case,
// Discord call through the executor, active or voided, mod-log post.
func (co *Coordinator) Expiries() expiry.Handler { return expiryHandler{co} }

type expiryHandler struct{ co *Coordinator }

func (h expiryHandler) bot() discord.User {
	return discord.User{ID: h.co.botID, Username: "gavel"}
}

// Run carries out one claimed expiry.
func (h expiryHandler) Run(ctx context.Context, cl expiry.Claim) error {
	co := h.co
	if co.expiry == nil || co.botID == 0 {
		return errors.New("moderation: expiries need WithExpiry and WithBotUserID")
	}
	unlock, err := co.locks.Lock(ctx, cl.GuildID, cl.UserID)
	if err != nil {
		return err
	}
	defer unlock()

	c, err := co.cases.Get(ctx, cl.CaseID)
	if err != nil {
		return fmt.Errorf("reading case id %d: %w", cl.CaseID, err)
	}
	// A voided case's expiry still runs: voiding says the case no longer counts, not that
	// its punishment, still in force on Discord, should never end (cases modify -lift ends
	// it at once instead). A processed or pending case has nothing left to end.
	if c.Status == cases.Pending || c.Processed {
		state := string(c.Status)
		if c.Processed {
			state += ", processed"
		}
		return co.expiry.Complete(ctx, cl, expiry.Stale, fmt.Sprintf("case #%d is %s", c.Number, state))
	}
	if c.ExpiresAt.IsZero() {
		return co.expiry.Complete(ctx, cl, expiry.Cancelled, fmt.Sprintf("case #%d no longer expires", c.Number))
	}
	a, ok := co.cat.ByCase(c.Type)
	if !ok || (cl.Kind != a.Expiry && cl.Kind != a.Renew) {
		return fmt.Errorf("expiry kind %q does not end a %s case", cl.Kind, c.Type)
	}
	// An action that runs its own expiry (a renewal runs before the case ends) decides for
	// itself what a moved end means.
	if a.Expire == nil && c.ExpiresAt.After(cl.RunAt.Add(time.Second)) {
		// The case's expiry moved later than its action (a change that did not reach the
		// schedule): wait for it.
		_, err := co.expiry.Schedule(ctx, c.ID, co.botID, cl.Kind, c.ExpiresAt)
		return err
	}
	// A later case may decide the state even where no supersede reached the schedule (an
	// action recorded by another path): never undo it.
	later, err := co.cases.LatestActiveOfUser(ctx, c.GuildID, c.UserID, co.cat.deciding(c.Type)...)
	if err != nil && !errors.Is(err, cases.ErrNotFound) {
		return fmt.Errorf("reading the later cases of user %d: %w", c.UserID, err)
	}
	if err == nil && later.ID > c.ID {
		return h.superseded(ctx, cl, c, later)
	}
	if a.Expire != nil {
		return a.Expire(ctx, &Expiring{h: h, Claim: cl, Case: c})
	}
	return h.lift(ctx, cl, c, a)
}

// superseded ends an expiry that a later case made stale.
func (h expiryHandler) superseded(ctx context.Context, cl expiry.Claim, c, by cases.Case) error {
	note := fmt.Sprintf("superseded by case #%d (%s)", by.Number, by.Type)
	return h.co.cases.InTx(ctx, h.co.botID, func(tx *cases.Tx) error {
		locked, err := tx.Lock(c.ID)
		if err != nil {
			return err
		}
		if err := tx.Record(locked, cases.EventSuperseded, string(cl.Kind), fmt.Sprintf("#%d", by.Number), note); err != nil {
			return err
		}
		if _, err := tx.MarkProcessed(locked, "its expiry will not run: "+note); err != nil {
			return err
		}
		return h.co.expiry.CompleteTx(tx, cl, expiry.Superseded, note)
	})
}

// alreadyDone ends an expiry whose effect Discord already shows: the case is processed,
// no lift case is recorded (gavel lifted nothing).
func (h expiryHandler) alreadyDone(ctx context.Context, cl expiry.Claim, c cases.Case, why string) error {
	return h.co.cases.InTx(ctx, h.co.botID, func(tx *cases.Tx) error {
		locked, err := tx.Lock(c.ID)
		if err != nil {
			return err
		}
		if _, err := tx.MarkProcessed(locked, "expired; "+why); err != nil {
			return err
		}
		return h.co.expiry.CompleteTx(tx, cl, expiry.AlreadyDone, why)
	})
}

// lift ends a tempban, a timed jail or a timed poll or snippet ban with a case of its own:
// the lifted action's inverse, through the same steps as a command (pending case, Discord
// call through the executor, active or voided, finalized in one transaction).
func (h expiryHandler) lift(ctx context.Context, cl expiry.Claim, c cases.Case, lifted *Action) error {
	co := h.co
	inv, ok := co.cat.Lookup(lifted.Inverse)
	if !ok {
		return fmt.Errorf("case type %s has no inverse action to lift it", c.Type)
	}
	reason := fmt.Sprintf("%s (case #%d)", lifted.LiftReason, c.Number)
	sc := co.step(PathExpiry, Request{GuildID: c.GuildID, Moderator: h.bot(), Reason: reason, Action: inv,
		Metadata: map[string]string{"lifts_case": strconv.FormatInt(c.Number, 10)}}, inv)
	sc.Target = discord.User{ID: c.UserID, Username: strconv.FormatInt(int64(c.UserID), 10)}
	if n := c.Metadata[cases.MetaTargetName]; n != "" {
		// The lifted case's record names the target: the lift case keeps that name.
		sc.Target.Username = n
	}
	sc.Lifts = c
	// The expiry being run is the only open one the lift could make stale: it is completed
	// below, not superseded.
	sc.expiryRun = true
	if inv.JailRole {
		g, err := co.settings.Get(ctx, c.GuildID)
		if err != nil {
			return fmt.Errorf("reading the server's settings: %w", err)
		}
		sc.JailRole = g.JailRoleID
	}

	// Discord's state first: what is already undone needs no lift.
	done, err := inv.Observe(ctx, sc)
	if err != nil {
		return err
	}
	if done != "" {
		return h.alreadyDone(ctx, cl, c, done)
	}

	lc, err := co.record(ctx, sc)
	if err != nil {
		return fmt.Errorf("recording the %s case: %w", inv.Case, err)
	}
	note, err := inv.Act(ctx, sc)
	if err != nil && !Definite(err) {
		// The lift may have happened: its case stays pending for reconciliation, and the
		// expiry's next attempt finds Discord's state (Observe) before recording another.
		co.askReconcile(c.GuildID)
		return fmt.Errorf("%s of user %d for case #%d: outcome unknown (case #%d left pending): %s", inv.Case, c.UserID, c.Number, lc.Number, FailureText(err))
	}
	if err != nil {
		why := FailureText(err)
		if _, verr := co.cases.Void(context.WithoutCancel(ctx), c.GuildID, lc.Number, co.botID, why); verr != nil {
			co.log.Error("failed lift's case not voided", "guild", c.GuildID, "case", lc.Number, "err", verr)
		} else {
			co.settled(sc, lc.Type, cases.Voided)
		}
		if discord.IsCode(err, discord.CodeUnknownBan) || discord.IsCode(err, discord.CodeUnknownMember) {
			return h.alreadyDone(ctx, cl, c, fmt.Sprintf("Discord had nothing to lift (%s)", why))
		}
		return fmt.Errorf("%s of user %d for case #%d: %s", inv.Case, c.UserID, c.Number, why)
	}
	done = fmt.Sprintf("lifted by case #%d (%s)", lc.Number, inv.Case)
	// The mod log follows from the finalizing transaction: it queues the lift case's post
	// and the edit of the lifted case's message ("ended by #…"), which the mod log's worker
	// delivers after the commit, off the lift's own path.
	record := func(tx *cases.Tx, l cases.Case) error {
		if err := tx.Record(l, cases.EventLinked, "", fmt.Sprintf("#%d", c.Number), fmt.Sprintf("lifts case #%d (%s), which expired", c.Number, c.Type)); err != nil {
			return err
		}
		if err := tx.Record(c, cases.EventLinked, "", fmt.Sprintf("#%d", lc.Number), done); err != nil {
			return err
		}
		_, _, err = tx.Process(c.ID, "expired; "+done)
		return err
	}
	_, err = co.finalize(ctx, sc, lc, "the action succeeded", func(tx *cases.Tx, l cases.Case) error {
		if err := record(tx, l); err != nil {
			return err
		}
		return co.expiry.CompleteTx(tx, cl, expiry.Done, done)
	})
	if errors.Is(err, expiry.ErrLeaseLost) {
		// The lift happened: the cases say so even though this claim may not complete the
		// action; whoever holds it now finds the case processed.
		if _, rerr := co.finalize(ctx, sc, lc, "the action succeeded", record); rerr != nil {
			return errors.Join(err, rerr)
		}
	} else if err != nil {
		return fmt.Errorf("recording the lift of case #%d: %w", c.Number, err)
	}
	if note != "" {
		co.log.Info("expiry: lift note", "guild", c.GuildID, "case", lc.Number, "note", note)
	}
	return nil
}

// Expiring is an expiry its action runs itself (Action.Expire) instead of a lift by its
// inverse: the case it ends, the claim being run, and what the action may read and call. It
// runs under the (guild, user) lock, after the pipeline found the case still active, still
// expiring and not decided by a later case.
type Expiring struct {
	h     expiryHandler
	Claim expiry.Claim
	Case  cases.Case
}

// Now reads the schedule's clock, which decided that the expiry is due.
func (e *Expiring) Now() time.Time { return e.h.co.expiry.Now() }

// TimeoutHorizon is the longest timeout Discord applies at once.
func (e *Expiring) TimeoutHorizon() time.Duration { return e.h.co.timeoutHorizon }

// Port is Discord.
func (e *Expiring) Port() Discord { return e.h.co.port }

// Do runs a Discord call through the executor.
func (e *Expiring) Do(ctx context.Context, op executor.Op, fn func(ctx context.Context) error) error {
	return e.h.co.exec.Do(ctx, op, fn)
}

// ReadMember reads the case's user as a member; false (and no error) when they are not one.
func (e *Expiring) ReadMember(ctx context.Context) (discord.Member, bool, error) {
	return e.h.co.member(ctx, e.Case.GuildID, e.Case.UserID)
}

// AuditReason is the audit-log reason of a call gavel makes for the expiry.
func (e *Expiring) AuditReason(why string) string { return AuditReason(e.h.bot(), why) }

// AlreadyDone ends the expiry without a call: Discord already shows its effect. The case is
// processed; no case is recorded.
func (e *Expiring) AlreadyDone(ctx context.Context, why string) error {
	return e.h.alreadyDone(ctx, e.Claim, e.Case, why)
}

// Finish completes the expiry as done with note and, in the same transaction, runs record
// with the case locked to write what the expiry changed (its history, processed, the next
// scheduled action). The claim is completed first: a case has one open action, so the next
// one can only be scheduled once this one is done.
func (e *Expiring) Finish(ctx context.Context, note string, record func(tx *cases.Tx, c cases.Case) error) error {
	co := e.h.co
	return co.cases.InTx(ctx, co.botID, func(tx *cases.Tx) error {
		c, err := tx.Lock(e.Case.ID)
		if err != nil {
			return err
		}
		if err := co.expiry.CompleteTx(tx, e.Claim, expiry.Done, note); err != nil {
			return err
		}
		return record(tx, c)
	})
}

// ScheduleTx schedules the case's next expiry action inside Finish's transaction.
func (e *Expiring) ScheduleTx(tx *cases.Tx, c cases.Case, kind expiry.Kind, at time.Time) error {
	_, err := e.h.co.expiry.ScheduleTx(tx, c, kind, at)
	return err
}

// GaveUp warns the mod log that an expiry will not be retried, saying what to do.
func (h expiryHandler) GaveUp(ctx context.Context, a expiry.Action, cause string) {
	c, err := h.co.cases.Get(ctx, a.CaseID)
	if err != nil {
		h.co.log.Error("expiry gave up; its case is unreadable", "case_id", a.CaseID, "err", err)
		return
	}
	// What a moderator does by hand is the action's to say; an expiry of a type no action
	// declares any longer asks for a look.
	todo := fmt.Sprintf("check case #%d by hand", c.Number)
	if act, ok := h.co.cat.ByCase(c.Type); ok && act.ByHand != nil {
		todo = act.ByHand(a.Kind, a.UserID)
	}
	e := discord.Embed{
		Title: fmt.Sprintf("⚠️ Case #%d · the %s failed", c.Number, a.Kind),
		Description: fmt.Sprintf("gavel tried %d times to carry out the expiry of case #%d (%s of <@%d>) and has given up: %s.\n\nFix the cause (usually gavel's permissions or role position), then %s.",
			a.Attempts, c.Number, c.Type, a.UserID, cause, todo),
		Color:     colorRemoval,
		Timestamp: h.co.expiry.Now(),
	}
	h.postNotice(ctx, c.GuildID, discord.Message{Embeds: []discord.Embed{e}, AllowedMentions: &discord.AllowedMentions{}})
}

func (h expiryHandler) postNotice(ctx context.Context, guildID discord.GuildID, msg discord.Message) {
	g, err := h.co.settings.Get(ctx, guildID)
	if err != nil {
		h.co.log.Error("mod log: reading settings", "guild", guildID, "err", err)
		return
	}
	if g.ModlogChannelID == 0 {
		h.co.log.Warn("expiry notice not posted: no mod-log channel", "guild", guildID, "title", msg.Embeds[0].Title)
		return
	}
	if err := h.co.exec.Do(ctx, executor.OpMessages, func(ctx context.Context) error {
		_, err := h.co.port.SendMessage(ctx, g.ModlogChannelID, msg)
		return err
	}); err != nil {
		h.co.log.Warn("mod log: posting an expiry notice", "guild", guildID, "err", err)
	}
}
