package moderation

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
)

// LiftRequest asks to end the punishment of a case now (`cases modify N -status voided
// -lift`): the case's inverse action (an unban for a tempban, an untimeout for a timeout,
// an unjail for a jail) runs through the pipeline as a command of the moderator's.
type LiftRequest struct {
	GuildID   discord.GuildID
	Moderator discord.User
	// ModeratorRoles are the moderator's role ids; nil makes the coordinator fetch them.
	ModeratorRoles []discord.RoleID
	// Number is the case whose punishment ends.
	Number int64
	// Reason is the lift case's reason; "Lifts case #N" when empty.
	Reason string
	// Permit says whether the moderator may use command (the lifting action's name, as the
	// permission middleware would for the command itself), and why not; nil permits all.
	Permit func(ctx context.Context, command string) (allowed bool, why string, err error)
}

// LiftCase ends case Number's punishment now, through the same steps as a command (checks,
// pending case, Discord call, finalize): the lift case and the lifted case name each other
// in their histories, the lifted case is processed, and its scheduled end is superseded, in
// the transaction that activates the lift case. A case whose action has no inverse, that
// has already ended, or whose punishment Discord no longer shows is refused with a reason.
func (co *Coordinator) LiftCase(ctx context.Context, lr LiftRequest) Result {
	c, err := co.cases.GetByNumber(ctx, lr.GuildID, lr.Number)
	switch {
	case errors.Is(err, cases.ErrNotFound):
		return refused(fmt.Sprintf("Case #%d does not exist in this server.", lr.Number))
	case err != nil:
		return co.notDone(&Action{Name: "lift"}, err)
	}
	a, ok := co.cat.ByCase(c.Type)
	if !ok || a.Inverse == "" {
		return refused(fmt.Sprintf("Case #%d is a %s, which nothing lifts.", c.Number, c.Type))
	}
	inv, ok := co.cat.Lookup(a.Inverse)
	if !ok {
		return refused(fmt.Sprintf("Case #%d is a %s, which nothing lifts.", c.Number, c.Type))
	}
	if c.Processed {
		return refused(fmt.Sprintf("Case #%d has already ended; there is nothing to lift.", c.Number))
	}
	if lr.Permit != nil {
		// Lifting is the inverse command: whoever may amend cases still needs the right to
		// run it.
		ok, why, err := lr.Permit(ctx, inv.Name)
		if err != nil {
			return co.notDone(inv, err)
		}
		if !ok {
			return refused(why)
		}
	}
	reason := lr.Reason
	if reason == "" {
		reason = fmt.Sprintf("Lifts case #%d (%s)", c.Number, c.Type)
	}
	req := Request{GuildID: lr.GuildID, Moderator: lr.Moderator, ModeratorRoles: lr.ModeratorRoles, Action: inv,
		Target: Target{ID: c.UserID}, Reason: reason,
		Metadata: map[string]string{"lifts_case": strconv.FormatInt(c.Number, 10)}}
	return co.execute(ctx, req, c)
}

// linkLifted is finalize's extra work when the step lifts a case at a moderator's request:
// the two cases' "linked" rows, and the lifted case processed.
func (co *Coordinator) linkLifted(sc *Step) func(tx *cases.Tx, l cases.Case) error {
	lifted := sc.liftOf
	if lifted.ID == 0 {
		return nil
	}
	return func(tx *cases.Tx, l cases.Case) error {
		done := fmt.Sprintf("lifted by case #%d (%s)", l.Number, l.Type)
		if err := tx.Record(l, cases.EventLinked, "", fmt.Sprintf("#%d", lifted.Number), fmt.Sprintf("lifts case #%d (%s) at %s's request", lifted.Number, lifted.Type, sc.Request.Moderator.Username)); err != nil {
			return err
		}
		if err := tx.Record(lifted, cases.EventLinked, "", fmt.Sprintf("#%d", l.Number), done); err != nil {
			return err
		}
		_, _, err := tx.Process(lifted.ID, done)
		return err
	}
}
