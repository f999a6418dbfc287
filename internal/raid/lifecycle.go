package raid

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/lockdown"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store/query"
)

// ErrOpen is returned by a start while the guild already has a raid open.
var ErrOpen = errors.New("raid mode is already on")

// ErrUnknown is returned (wrapped, with the number) for a raid number the guild never had.
var ErrUnknown = errors.New("this server has no raid")

// ErrNone is returned by an end (or a button) when the guild has no open raid.
var ErrNone = errors.New("raid mode is not on")

type startRequest struct {
	guildID    discord.GuildID
	trigger    Trigger
	by         discord.User
	reason     string
	at         time.Time
	candidates []Join
	cfg        settings.Raid
}

// Start is raid start: a moderator turning raid mode on by hand (whether or not raid defence
// is enabled), with the guild's responses; the joins of twice the window before now are the
// candidates.
func (s *Service) Start(ctx context.Context, guildID discord.GuildID, by discord.User, reason string) (query.Raid, error) {
	var r query.Raid
	err := s.serial(ctx, guildID, func(ctx context.Context, co *moderation.Coordinator) error {
		cfg, err := s.cfg.Settings.GetRaid(ctx, guildID)
		if err != nil {
			return err
		}
		now := s.now()
		if reason == "" {
			reason = "Raid mode started by hand"
		}
		r, err = s.start(ctx, co, startRequest{guildID: guildID, trigger: TriggerManual, by: by, reason: reason, at: now,
			candidates: s.det.Candidates(guildID, now.Add(-2*cfg.Window), now), cfg: cfg})
		return err
	})
	return r, err
}

// start records the raid (its parent case through the pipeline, its number, its candidates),
// then applies the responses, each a row of the raid's record, and arms the raid's check.
func (s *Service) start(ctx context.Context, co *moderation.Coordinator, sr startRequest) (query.Raid, error) {
	if _, open, err := s.open(ctx, sr.guildID); err != nil {
		return query.Raid{}, err
	} else if open {
		return query.Raid{}, ErrOpen
	}
	bot := s.bot()
	parent, err := co.RecordDone(ctx, moderation.Done{Path: "raid", GuildID: sr.guildID, UserID: bot, TargetName: "gavel",
		Moderator: sr.by, Type: cases.Raid, Reason: sr.reason, Note: "raid mode on",
		Metadata: map[string]string{"trigger": string(sr.trigger), "candidates": strconv.Itoa(len(sr.candidates))}})
	if err != nil {
		return query.Raid{}, fmt.Errorf("record the raid's case: %w", err)
	}
	var r query.Raid
	err = s.cfg.Cases.InTx(ctx, sr.by.ID, func(ctx *cases.Tx) error {
		tx := ctx.StoreTx()
		q, tctx := tx.Queries(), tx.Context()
		n, err := q.NextRaidNumber(tctx, int64(sr.guildID))
		if err != nil {
			return fmt.Errorf("raid number: %w", err)
		}
		r, err = q.InsertRaid(tctx, query.InsertRaidParams{GuildID: int64(sr.guildID), Number: n, CaseID: parent.ID, Trigger: string(sr.trigger),
			StartedAt: sr.at.UnixMilli(), StartedBy: int64(sr.by.ID), LastJoinAt: sr.at.UnixMilli()})
		if err != nil {
			return fmt.Errorf("insert raid: %w", err)
		}
		now := s.now().UnixMilli()
		for _, j := range sr.candidates {
			if _, err := q.InsertRaidMember(tctx, memberParams(r.ID, j, false, now)); err != nil {
				return fmt.Errorf("raid candidate: %w", err)
			}
		}
		if err := s.event(tx, r, "started", sr.by.ID, fmt.Sprintf("%s (%s); %d candidates; case #%d", sr.reason, sr.trigger, len(sr.candidates), parent.Number), now); err != nil {
			return err
		}
		// A note on the case makes the mod log render it again, now with its raid.
		return ctx.Record(parent, cases.EventNote, "", "", fmt.Sprintf("raid #%d: raid mode on, %d candidates", r.Number, len(sr.candidates)))
	})
	if err != nil {
		return query.Raid{}, err
	}
	s.told(r, "started", sr.reason)
	s.log.Info("raid mode on", "guild", sr.guildID, "raid", r.Number, "trigger", sr.trigger, "candidates", len(sr.candidates))
	r, err = s.respond(ctx, r, sr.cfg, sr.by)
	if err != nil {
		s.log.Error("raid responses", "guild", sr.guildID, "raid", r.Number, "err", err)
	}
	if err := s.arm(ctx, r, sr.cfg); err != nil {
		return r, err
	}
	return r, nil
}

// respond applies the guild's responses: pause invites (and DMs), the verification level,
// then the lockdown (as by, who started raid mode). Each success or failure is a row of the
// record and a note on the raid's case (so the mod-log message follows); a response that
// fails does not stop the next.
func (s *Service) respond(ctx context.Context, r query.Raid, cfg settings.Raid, by discord.User) (query.Raid, error) {
	g := discord.GuildID(r.GuildID)
	why := fmt.Sprintf("gavel raid #%d", r.Number)
	var errs []error
	if cfg.PauseInvites || cfg.PauseDMs {
		var err error
		if r, err = s.pause(ctx, r, cfg.PauseInvites, cfg.PauseDMs, "invites_paused"); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.RaiseVerification {
		cur, err := s.cfg.Safety.GuildSafety(ctx, g)
		switch {
		case err != nil:
			errs = append(errs, s.note(ctx, r, "verification_failed", s.bot(), "could not read the verification level: "+err.Error()))
		case cur.VerificationLevel >= discord.VerificationHigh:
			errs = append(errs, s.note(ctx, r, "verification_kept", s.bot(), fmt.Sprintf("verification level already %s", levelName(cur.VerificationLevel))))
		default:
			if err := s.cfg.Safety.SetVerificationLevel(ctx, g, discord.VerificationHigh, why); err != nil {
				errs = append(errs, s.note(ctx, r, "verification_failed", s.bot(), "could not raise the verification level: "+err.Error()), err)
				break
			}
			err := s.change(ctx, r, "verification_raised", s.bot(), fmt.Sprintf("verification level %s → High", levelName(cur.VerificationLevel)), func(q query.Queries, ctx context.Context) error {
				r.VerificationBefore = sql.NullInt64{Int64: int64(cur.VerificationLevel), Valid: true}
				r.VerificationSet = sql.NullInt64{Int64: discord.VerificationHigh, Valid: true}
				return q.SetRaidVerification(ctx, query.SetRaidVerificationParams{ID: r.ID, VerificationBefore: r.VerificationBefore, VerificationSet: r.VerificationSet})
			})
			errs = append(errs, err)
		}
	}
	if cfg.Lockdown == settings.LockdownServer {
		var err error
		if r, err = s.lockDown(ctx, r, by); err != nil {
			errs = append(errs, err)
		}
	}
	return r, errors.Join(errs...)
}

// lockDown is the lockdown response: a server lockdown through the lockdown service, as
// `lockdown server` runs it (its snapshot first, its LOCKDOWN case through the pipeline, the
// invite pause), linked to the raid (the case's metadata raid and parent_case, the raid's
// lockdown_id). It has no end of its own: ending raid mode unlocks it. A server lockdown
// already on is not stacked on: raid mode leaves it as it is, and does not end it.
func (s *Service) lockDown(ctx context.Context, r query.Raid, by discord.User) (query.Raid, error) {
	if s.cfg.Lockdowns == nil {
		return r, s.note(ctx, r, "lockdown_failed", s.bot(), "could not lock the server down: lockdowns do not run in this process")
	}
	open, err := s.cfg.Store.Queries().OpenLockdowns(ctx, r.GuildID)
	if err != nil {
		return r, errors.Join(err, s.note(ctx, r, "lockdown_failed", s.bot(), "could not read the open lockdowns: "+err.Error()))
	}
	for _, ld := range open {
		if !ld.Server {
			continue
		}
		which := fmt.Sprintf("lockdown %d", ld.ID)
		if c, err := s.cfg.Cases.Get(ctx, ld.CaseID); err == nil {
			which = fmt.Sprintf("case #%d", c.Number)
		}
		return r, s.note(ctx, r, "lockdown_left", s.bot(), fmt.Sprintf("lockdown left: a lockdown was already on (%s); raid mode does not end it", which))
	}
	parent, err := s.cfg.Cases.Get(ctx, r.CaseID)
	if err != nil {
		return r, err
	}
	res, err := s.cfg.Lockdowns.Lock(ctx, lockdown.LockRequest{GuildID: discord.GuildID(r.GuildID), By: by, Server: true,
		Reason:   fmt.Sprintf("Raid #%d: lockdown", r.Number),
		Metadata: map[string]string{"raid": strconv.FormatInt(r.Number, 10), "parent_case": strconv.FormatInt(parent.Number, 10)}})
	if res.Lockdown.ID == 0 {
		if err == nil {
			err = errors.New("the lockdown was not recorded")
		}
		// Refused before anything changed (no Manage Roles, no channel to lock) or not
		// recorded at all: the other responses stand, and the raid's record says why.
		return r, errors.Join(err, s.note(ctx, r, "lockdown_failed", s.bot(), "could not lock the server down: "+err.Error()))
	}
	detail := fmt.Sprintf("locked down the server: %d channels, %d overwrites changed (case #%d)", len(res.Locked), res.Overwrites, res.Case.Number)
	if len(res.Skipped) > 0 {
		detail += fmt.Sprintf("; %d channels left alone", len(res.Skipped))
	}
	if len(res.Failed) > 0 {
		detail += "; Discord refused: " + strings.Join(res.Failed, "; ")
	}
	if err != nil {
		// Recorded, then cut short: the lockdown is still raid mode's, for its end to unlock.
		detail += "; cut short: " + err.Error()
	}
	lerr := s.change(ctx, r, "locked_down", s.bot(), detail, func(q query.Queries, ctx context.Context) error {
		r.LockdownID = sql.NullInt64{Int64: res.Lockdown.ID, Valid: true}
		return q.SetRaidLockdown(ctx, query.SetRaidLockdownParams{ID: r.ID, LockdownID: r.LockdownID})
	})
	return r, errors.Join(err, lerr)
}

// unlockDown undoes the lockdown response: the raid's lockdown is unlocked with the
// exact-restore rules (what a person changed during it is left and reported, in the raid's
// record too); one a moderator already unlocked is left, and the record says so.
func (s *Service) unlockDown(ctx context.Context, r query.Raid, by discord.User, reason string) error {
	if s.cfg.Lockdowns == nil {
		return fmt.Errorf("raid #%d's lockdown: lockdowns do not run in this process", r.Number)
	}
	ours := fmt.Sprintf("raid #%d ended", r.Number)
	res, err := s.cfg.Lockdowns.End(ctx, r.LockdownID.Int64, by, ours+": "+reason)
	switch {
	case err != nil && res.Case.ID == 0:
		return errors.Join(err, s.note(ctx, r, "unlock_failed", by.ID, "could not unlock the raid's lockdown: "+err.Error()))
	case err != nil:
		return errors.Join(err, s.note(ctx, r, "unlock_failed", by.ID, fmt.Sprintf("unlocking the lockdown of case #%d: %s (%s)", res.Case.Number, err, res.Unlock.Report())))
	case res.Already && strings.HasPrefix(res.Lockdown.EndReason.String, ours):
		return nil // this end unlocked it on an earlier try (another response failed then)
	case res.Already:
		who := "someone"
		if res.Lockdown.EndedBy.Valid {
			who = fmt.Sprintf("<@%d>", res.Lockdown.EndedBy.Int64)
		}
		return s.note(ctx, r, "lockdown_left", by.ID, fmt.Sprintf("lockdown of case #%d left: already unlocked by %s (%s)", res.Case.Number, who, res.Lockdown.EndReason.String))
	}
	return s.note(ctx, r, "unlocked", by.ID, fmt.Sprintf("lockdown of case #%d ended: %s", res.Case.Number, res.Unlock.Report()))
}

// pause sets the incident actions for the next 24 hours: invites and/or DMs as asked, the
// other field as Discord has it now (a field not sent would be reset).
func (s *Service) pause(ctx context.Context, r query.Raid, invites, dms bool, kind string) (query.Raid, error) {
	g := discord.GuildID(r.GuildID)
	cur, err := s.cfg.Safety.GuildSafety(ctx, g)
	if err != nil {
		return r, errors.Join(err, s.note(ctx, r, "pause_failed", s.bot(), "could not read the incident actions: "+err.Error()))
	}
	until := s.now().Add(discord.MaxIncidentAhead).Truncate(time.Second)
	inv, dm := cur.InvitesDisabledUntil, cur.DMsDisabledUntil
	if invites {
		inv = until
	}
	if dms {
		dm = until
	}
	if _, err := s.cfg.Safety.SetIncidentActions(ctx, g, inv, dm, fmt.Sprintf("gavel raid #%d", r.Number)); err != nil {
		return r, errors.Join(err, s.note(ctx, r, "pause_failed", s.bot(), "could not pause invites: "+err.Error()))
	}
	what := "invites"
	switch {
	case invites && dms:
		what = "invites and DMs"
	case dms:
		what = "DMs"
	}
	err = s.change(ctx, r, kind, s.bot(), fmt.Sprintf("%s paused until %s", what, until.UTC().Format(time.RFC3339)), func(q query.Queries, ctx context.Context) error {
		r.InvitesUntil, r.DmsUntil = nullTime(inv, invites), nullTime(dm, dms)
		return q.SetRaidPauses(ctx, query.SetRaidPausesParams{ID: r.ID, InvitesUntil: r.InvitesUntil, DmsUntil: r.DmsUntil})
	})
	return r, err
}

func nullTime(t time.Time, ours bool) sql.NullInt64 {
	if !ours || t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// change writes one change of the raid (its columns, by apply) with its record row and a
// note on the raid's case, both naming actor (gavel, or the moderator who ended the raid or
// ran a mass action), in one transaction through the case service (so the mod log edits the
// raid's message).
func (s *Service) change(ctx context.Context, r query.Raid, kind string, actor discord.UserID, detail string, apply func(q query.Queries, ctx context.Context) error) error {
	if actor == 0 {
		actor = s.bot()
	}
	err := s.cfg.Cases.InTx(ctx, actor, func(tx *cases.Tx) error {
		c, err := tx.Lock(r.CaseID)
		if err != nil {
			return err
		}
		st := tx.StoreTx()
		if apply != nil {
			if err := apply(st.Queries(), st.Context()); err != nil {
				return fmt.Errorf("raid %s: %w", kind, err)
			}
		}
		if err := s.event(st, r, kind, actor, detail, tx.NowMS()); err != nil {
			return err
		}
		return tx.Record(c, cases.EventNote, "", "", fmt.Sprintf("raid #%d: %s", r.Number, detail))
	})
	if err != nil {
		return err
	}
	s.told(r, kind, detail)
	return nil
}

// note records a step that changed nothing (a failure, a response skipped).
func (s *Service) note(ctx context.Context, r query.Raid, kind string, actor discord.UserID, detail string) error {
	return s.change(ctx, r, kind, actor, detail, nil)
}

// arm schedules the raid's check at its next due time: the end of the quiet period, or
// the renewal of the pause, whichever comes first.
func (s *Service) arm(ctx context.Context, r query.Raid, cfg settings.Raid) error {
	at := s.nextCheck(r, cfg)
	return s.cfg.Cases.InTx(ctx, s.bot(), func(tx *cases.Tx) error {
		c, err := tx.Lock(r.CaseID)
		if err != nil {
			return err
		}
		_, err = s.cfg.Expiry.ScheduleTx(tx, c, expiry.RaidCheck, at)
		return err
	})
}

func (s *Service) nextCheck(r query.Raid, cfg settings.Raid) time.Time {
	at := time.UnixMilli(r.LastJoinAt).Add(cfg.Quiet)
	if renew, ok := renewal(r); ok && renew.Before(at) {
		at = renew
	}
	return at
}

// renewal is when the raid's pause must be renewed; false when it paused nothing.
func renewal(r query.Raid) (time.Time, bool) {
	var first time.Time
	for _, v := range []sql.NullInt64{r.InvitesUntil, r.DmsUntil} {
		if v.Valid && (first.IsZero() || time.UnixMilli(v.Int64).Before(first)) {
			first = time.UnixMilli(v.Int64)
		}
	}
	if first.IsZero() {
		return time.Time{}, false
	}
	return first.Add(-RenewLead), true
}

// Run is the raid check's run (expiry.RaidCheck): raid mode ends once the quiet period has
// passed since the last join that kept it going; until then the pause is renewed when its
// 24 hours near their end, and the check comes back at its next due time.
func (s *Service) Run(ctx context.Context, cl expiry.Claim) error {
	r, err := s.cfg.Store.Queries().GetRaidByCase(ctx, cl.CaseID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return s.cfg.Expiry.Complete(ctx, cl, expiry.Stale, "no raid has this case")
	}
	return s.serial(ctx, discord.GuildID(r.GuildID), func(ctx context.Context, _ *moderation.Coordinator) error { return s.check(ctx, cl) })
}

// check is Run in the guild's queue.
func (s *Service) check(ctx context.Context, cl expiry.Claim) error {
	r, err := s.cfg.Store.Queries().GetRaidByCase(ctx, cl.CaseID)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && r.EndedAt.Valid) {
		return s.cfg.Expiry.Complete(ctx, cl, expiry.Stale, "the raid has ended")
	}
	if err != nil {
		return err
	}
	cfg, err := s.cfg.Settings.GetRaid(ctx, discord.GuildID(r.GuildID))
	if err != nil {
		return err
	}
	now := s.now()
	if !now.Before(time.UnixMilli(r.LastJoinAt).Add(cfg.Quiet)) {
		quiet := fmt.Sprintf("no surge of joins for %s", settings.Raid{Quiet: cfg.Quiet}.Value(settings.RaidQuiet))
		if err := s.end(ctx, r, s.botUser(), quiet); err != nil {
			return err
		}
		return s.cfg.Expiry.Complete(ctx, cl, expiry.Done, "raid mode ended: "+quiet)
	}
	if renew, ok := renewal(r); ok && !now.Before(renew) {
		if r, err = s.pause(ctx, r, r.InvitesUntil.Valid, r.DmsUntil.Valid, "pause_renewed"); err != nil {
			return err
		}
	}
	next := s.nextCheck(r, cfg)
	return s.cfg.Cases.InTx(ctx, s.bot(), func(tx *cases.Tx) error {
		if err := s.cfg.Expiry.CompleteTx(tx, cl, expiry.Done, "raid mode continues"); err != nil {
			return err
		}
		c, err := tx.Lock(r.CaseID)
		if err != nil {
			return err
		}
		_, err = s.cfg.Expiry.ScheduleTx(tx, c, expiry.RaidCheck, next)
		return err
	})
}

// GaveUp is told when the raid's check failed for good: raid mode stays on, and the raid's
// record and case say so, for a moderator to end it by hand.
func (s *Service) GaveUp(ctx context.Context, a expiry.Action, cause string) {
	r, err := s.cfg.Store.Queries().GetRaidByCase(ctx, a.CaseID)
	if err != nil {
		s.log.Error("raid check gave up", "case", a.CaseID, "cause", cause, "err", err)
		return
	}
	if err := s.note(ctx, r, "check_gave_up", s.bot(), "the raid's check failed for good ("+cause+"); end raid mode by hand with raid end"); err != nil {
		s.log.Error("raid check gave up", "raid", r.Number, "err", err)
	}
}

// End is raid end: a moderator ending the guild's raid mode by hand.
func (s *Service) End(ctx context.Context, guildID discord.GuildID, by discord.User, reason string) (query.Raid, error) {
	var r query.Raid
	err := s.serial(ctx, guildID, func(ctx context.Context, _ *moderation.Coordinator) error {
		var open bool
		var err error
		if r, open, err = s.open(ctx, guildID); err != nil {
			return err
		}
		if !open {
			return ErrNone
		}
		if reason == "" {
			reason = "ended by hand"
		}
		if err := s.end(ctx, r, by, reason); err != nil {
			return err
		}
		r, err = s.cfg.Store.Queries().GetRaid(ctx, r.ID)
		return err
	})
	return r, err
}

// end undoes the responses in reverse (the lockdown first, then the verification level,
// then the pause), cancels the raid's check, closes the raid and marks its case processed.
func (s *Service) end(ctx context.Context, r query.Raid, by discord.User, reason string) error {
	g := discord.GuildID(r.GuildID)
	why := fmt.Sprintf("gavel raid #%d ended", r.Number)
	var errs []error
	if r.LockdownID.Valid {
		// Unlocked while raid mode is still on: the lockdown leaves the invite pause to the
		// raid when the raid paused invites too (lockdown's lift).
		errs = append(errs, s.unlockDown(ctx, r, by, reason))
	}
	if r.VerificationSet.Valid {
		cur, err := s.cfg.Safety.GuildSafety(ctx, g)
		switch {
		case err != nil:
			errs = append(errs, err)
		case int64(cur.VerificationLevel) != r.VerificationSet.Int64:
			errs = append(errs, s.note(ctx, r, "verification_left", by.ID, fmt.Sprintf("verification level left at %s: someone changed it during the raid (gavel had set %s)",
				levelName(cur.VerificationLevel), levelName(int(r.VerificationSet.Int64)))))
		default:
			if err := s.cfg.Safety.SetVerificationLevel(ctx, g, int(r.VerificationBefore.Int64), why); err != nil {
				errs = append(errs, err)
				break
			}
			errs = append(errs, s.note(ctx, r, "verification_restored", by.ID, fmt.Sprintf("verification level restored to %s", levelName(int(r.VerificationBefore.Int64)))))
		}
	}
	if r.InvitesUntil.Valid || r.DmsUntil.Valid {
		// A server lockdown still on (a moderator's, or one raid mode found on) paused
		// invites too and renews its pause: lifting it here would open the server under it.
		held, herr := s.lockdownPause(ctx, g)
		if herr != nil {
			errs = append(errs, herr)
		}
		cur, err := s.cfg.Safety.GuildSafety(ctx, g)
		if err == nil {
			// Lift only what gavel paused; a pause someone else set stays (sent back as is).
			inv, dm := cur.InvitesDisabledUntil, cur.DMsDisabledUntil
			if r.InvitesUntil.Valid && held == "" {
				inv = time.Time{}
			}
			if r.DmsUntil.Valid {
				dm = time.Time{}
			}
			_, err = s.cfg.Safety.SetIncidentActions(ctx, g, inv, dm, why)
		}
		if err != nil {
			errs = append(errs, err)
		} else {
			detail := "invites and DMs no longer paused by gavel"
			if held != "" && r.InvitesUntil.Valid {
				detail = "invites stay paused: the lockdown of " + held + " paused them too (it lifts its own when it ends)"
				if r.DmsUntil.Valid {
					detail += "; DMs no longer paused by gavel"
				}
			}
			errs = append(errs, s.note(ctx, r, "pause_lifted", by.ID, detail))
		}
	}
	if err := errors.Join(errs...); err != nil {
		// Raid mode stays on: the check (or raid end) tries again, and the record says why.
		return fmt.Errorf("undoing raid #%d's responses: %w", r.Number, err)
	}
	err := s.cfg.Cases.InTx(ctx, by.ID, func(tx *cases.Tx) error {
		st := tx.StoreTx()
		now := tx.NowMS()
		if err := st.Queries().EndRaid(st.Context(), query.EndRaidParams{ID: r.ID, EndedAt: sql.NullInt64{Int64: now, Valid: true},
			EndedBy: sql.NullInt64{Int64: int64(by.ID), Valid: true}, EndReason: sql.NullString{String: reason, Valid: true}}); err != nil {
			return fmt.Errorf("end raid: %w", err)
		}
		if err := s.event(st, r, "ended", by.ID, reason, now); err != nil {
			return err
		}
		if _, _, err := tx.Process(r.CaseID, "raid mode ended: "+reason); err != nil {
			return err
		}
		if open, err := st.Queries().OpenActionOfCase(st.Context(), r.CaseID); err == nil && open.LeaseOwner.String == "" {
			c, err := tx.Lock(r.CaseID)
			if err != nil {
				return err
			}
			if _, err := s.cfg.Expiry.SupersedeTx(tx, c.GuildID, c.UserID, []expiry.Kind{expiry.RaidCheck}, c, "raid mode ended"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.told(r, "ended", reason)
	s.log.Info("raid mode off", "guild", g, "raid", r.Number, "reason", reason)
	return nil
}

// lockdownPause names the open lockdown that has invites paused ("case #N"), "" when none.
func (s *Service) lockdownPause(ctx context.Context, g discord.GuildID) (string, error) {
	open, err := s.cfg.Store.Queries().OpenLockdowns(ctx, int64(g))
	if err != nil {
		return "", fmt.Errorf("open lockdowns of guild %d: %w", g, err)
	}
	for _, ld := range open {
		if !ld.InvitesUntil.Valid {
			continue
		}
		if c, err := s.cfg.Cases.Get(ctx, ld.CaseID); err == nil {
			return fmt.Sprintf("case #%d", c.Number), nil
		}
		return fmt.Sprintf("lockdown %d", ld.ID), nil
	}
	return "", nil
}

func levelName(l int) string {
	switch l {
	case discord.VerificationNone:
		return "None"
	case discord.VerificationLow:
		return "Low"
	case discord.VerificationMedium:
		return "Medium"
	case discord.VerificationHigh:
		return "High"
	case discord.VerificationVeryHigh:
		return "Highest"
	}
	return strconv.Itoa(l)
}
