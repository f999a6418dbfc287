package lockdown

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/store/query"
)

// UnlockRequest is one unlock: the channels named, or every channel gavel holds locked
// (Server, or no channel named).
type UnlockRequest struct {
	GuildID    discord.GuildID
	By         discord.User
	ChannelIDs []discord.ChannelID
	Server     bool
	Reason     string
}

// UnlockResult is what an unlock did, and its report.
type UnlockResult struct {
	// Channels is how many channels were unlocked; Restored the overwrites put back as they
	// were, Deleted those gavel had created and removed.
	Channels, Restored, Deleted int
	// Changed are the overwrites (and syncs) a person changed during the lockdown: left as
	// they are, and reported.
	Changed []string
	// Failed are the changes Discord refused; NotLocked the channels named that no lockdown
	// holds.
	Failed    []string
	NotLocked []string
	// Ended are the case numbers of the lockdowns this unlock ended.
	Ended []int64
	// Invites says what became of a server lockdown's invite pause ("" when none).
	Invites string
}

// Report is the result as text for the moderator and the case's history.
func (r UnlockResult) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "unlocked %d channels: %d overwrites restored, %d removed", r.Channels, r.Restored, r.Deleted)
	if len(r.Changed) == 0 {
		b.WriteString("; nothing was changed by anyone else during the lockdown")
	} else {
		fmt.Fprintf(&b, "; %d changed by someone during the lockdown, left as they are: %s", len(r.Changed), strings.Join(r.Changed, "; "))
	}
	if len(r.Failed) > 0 {
		fmt.Fprintf(&b, "; Discord refused: %s", strings.Join(r.Failed, "; "))
	}
	if r.Invites != "" {
		b.WriteString("; " + r.Invites)
	}
	return b.String()
}

// Unlock opens the channels named (or all that gavel holds locked) again: every overwrite
// that still equals what gavel set is put back as snapshotted (or deleted when gavel created
// it); anything else is left as it is and reported.
func (s *Service) Unlock(ctx context.Context, req UnlockRequest) (UnlockResult, error) {
	defer s.guildLock(req.GuildID)()
	held, snaps, err := s.held(ctx, req.GuildID)
	if err != nil {
		return UnlockResult{}, err
	}
	if len(held) == 0 {
		return UnlockResult{}, refuse("Nothing is locked by gavel in this server. Nothing was changed.")
	}
	var picks []query.LockdownChannel
	var res UnlockResult
	if req.Server || len(req.ChannelIDs) == 0 {
		for _, c := range held {
			picks = append(picks, c)
		}
	} else {
		for _, id := range req.ChannelIDs {
			if c, ok := held[id]; ok {
				picks = append(picks, c)
			} else {
				res.NotLocked = append(res.NotLocked, fmt.Sprintf("<#%d>", id))
			}
		}
		if len(picks) == 0 {
			return UnlockResult{}, refuse("%s is not locked by gavel (%d channels are: `unlock server` opens them all). Nothing was changed.",
				strings.Join(res.NotLocked, ", "), len(held))
		}
	}
	if req.Reason == "" {
		req.Reason = "No reason given"
	}
	out, err := s.unlock(ctx, req.GuildID, req.By, req.Reason, picks, snaps, 0)
	out.NotLocked = res.NotLocked
	return out, err
}

// EndResult is what ending one lockdown (End) did.
type EndResult struct {
	Lockdown query.Lockdown
	Case     cases.Case
	// Already is true when the lockdown had ended before (a moderator's unlock, a later
	// lockdown taking every channel over): nothing was done; Lockdown says how it ended.
	Already bool
	Unlock  UnlockResult
}

// End unlocks every channel lockdown id still holds, with the exact-restore rules of
// unlock, and ends it: what raid mode does with the lockdown it started when it ends.
// A lockdown that has ended already is left alone (Already).
func (s *Service) End(ctx context.Context, id int64, by discord.User, reason string) (EndResult, error) {
	ld, err := s.cfg.Store.Queries().GetLockdown(ctx, id)
	if err != nil {
		return EndResult{}, fmt.Errorf("lockdown %d: %w", id, err)
	}
	g := discord.GuildID(ld.GuildID)
	defer s.guildLock(g)()
	// Read again under the guild's lock: an unlock may have ended it meanwhile.
	if ld, err = s.cfg.Store.Queries().GetLockdown(ctx, id); err != nil {
		return EndResult{}, fmt.Errorf("lockdown %d: %w", id, err)
	}
	out := EndResult{Lockdown: ld}
	if out.Case, err = s.cfg.Cases.Get(ctx, ld.CaseID); err != nil {
		return out, err
	}
	if ld.EndedAt.Valid {
		out.Already = true
		return out, nil
	}
	held, snaps, err := s.held(ctx, g)
	if err != nil {
		return out, err
	}
	var picks []query.LockdownChannel
	for _, c := range held {
		if c.LockdownID == id {
			picks = append(picks, c)
		}
	}
	if len(picks) == 0 {
		// Every channel was taken over by later lockdowns: it ends with nothing to put back.
		err = s.endIfEmpty(ctx, id, by, reason, false)
	} else {
		out.Unlock, err = s.unlock(ctx, g, by, reason, picks, snaps, 0)
	}
	if ld2, gerr := s.cfg.Store.Queries().GetLockdown(ctx, id); gerr == nil {
		out.Lockdown = ld2
	}
	return out, err
}

// unlock restores picks (channels held by open lockdowns) and ends the lockdowns left with
// none. claimed is the case whose check is running this unlock (its scheduled action is
// completed by the check, not cancelled); 0 for a moderator's unlock.
func (s *Service) unlock(ctx context.Context, guildID discord.GuildID, by discord.User, reason string, picks []query.LockdownChannel,
	snaps map[heldKey][]query.LockdownOverwrite, claimed int64) (UnlockResult, error) {
	var res UnlockResult
	all, err := s.cfg.Discord.GuildChannels(ctx, guildID)
	if err != nil {
		return res, fmt.Errorf("reading the server's channels: %w", err)
	}
	cur := map[discord.ChannelID]discord.Channel{}
	for _, c := range all {
		cur[c.ID] = c
	}
	bot := s.botID()
	type verdict struct {
		action string // restore, delete, unchanged, changed
		found  string
	}
	verdicts := map[key]verdict{}
	var targets []*target
	gone := map[discord.ChannelID]bool{}
	for _, p := range picks {
		ch, ok := cur[discord.ChannelID(p.ChannelID)]
		if !ok {
			gone[discord.ChannelID(p.ChannelID)] = true
			res.Changed = append(res.Changed, fmt.Sprintf("#%s was deleted during the lockdown", p.Name))
			continue
		}
		t := &target{ch: ch, synced: p.Synced}
		for _, r := range snaps[h(&p)] {
			c := Change{ID: r.OverwriteID, Type: discord.OverwriteType(r.OverwriteType), BeforeAbsent: r.BeforeAbsent,
				Before: discord.Overwrite{ID: r.OverwriteID, Type: discord.OverwriteType(r.OverwriteType), Allow: uint64(r.BeforeAllow), Deny: uint64(r.BeforeDeny)},
				Set:    discord.Overwrite{ID: r.OverwriteID, Type: discord.OverwriteType(r.OverwriteType), Allow: uint64(r.SetAllow), Deny: uint64(r.SetDeny)}}
			now, present := find(ch.Overwrites, c.ID)
			var v verdict
			switch {
			case present && now == c.Set && c.BeforeAbsent:
				v.action = "delete"
			case present && now == c.Set:
				v.action = "restore"
			case (c.BeforeAbsent && !present) || (present && !c.BeforeAbsent && now == c.Before):
				v.action = "unchanged" // never set (a lock cut short), or already as it was
			default:
				v.action = "changed"
				v.found = overwriteText(!present, now.Allow, now.Deny)
				res.Changed = append(res.Changed, fmt.Sprintf("<#%d>: the overwrite of %s is %s; gavel had set %s (before the lockdown: %s)",
					ch.ID, targetText(guildID, c.ID, int64(c.Type)), v.found, overwriteText(false, c.Set.Allow, c.Set.Deny),
					overwriteText(c.BeforeAbsent, c.Before.Allow, c.Before.Deny)))
			}
			verdicts[key{ch.ID, c.ID}] = v
			t.changes = append(t.changes, c)
		}
		// gavel's own overwrite goes last: until then it is what lets gavel change the bits
		// the lockdown denied.
		sort.SliceStable(t.changes, func(i, j int) bool {
			return !(t.changes[i].Type == discord.OverwriteMember && t.changes[i].ID == int64(bot)) &&
				t.changes[j].Type == discord.OverwriteMember && t.changes[j].ID == int64(bot)
		})
		targets = append(targets, t)
	}
	audit := moderation.AuditReason(by, "unlock: "+reason)
	outcomes := s.apply(ctx, targets, func(t *target, c Change) (discord.Overwrite, bool) {
		return c.Before, verdicts[key{t.ch.ID, c.ID}].action == "restore"
	}, func(t *target, c Change) bool {
		return verdicts[key{t.ch.ID, c.ID}].action == "delete"
	}, audit)

	// What the channels hold now, to tell whether those that were synced still are.
	final := map[discord.ChannelID][]discord.Overwrite{}
	for _, c := range all {
		final[c.ID] = c.Overwrites
	}
	for _, t := range targets {
		ows := append([]discord.Overwrite(nil), t.ch.Overwrites...)
		for _, c := range t.changes {
			o, called := outcomes[key{t.ch.ID, c.ID}]
			if !called {
				continue
			}
			if o.err != nil {
				res.Failed = append(res.Failed, fmt.Sprintf("<#%d> %s: %s", t.ch.ID, targetText(guildID, c.ID, int64(c.Type)), o.err))
				continue
			}
			kept := ows[:0]
			for _, w := range ows {
				if w.ID != c.ID {
					kept = append(kept, w)
				}
			}
			ows = kept
			if o.deleted {
				res.Deleted++
			} else {
				ows = append(ows, c.Before)
				res.Restored++
			}
		}
		final[t.ch.ID] = ows
	}
	for _, t := range targets {
		if t.synced && t.ch.ParentID != 0 && !SameOverwrites(final[t.ch.ID], final[t.ch.ParentID]) {
			res.Changed = append(res.Changed, fmt.Sprintf("<#%d> is no longer synced with its category <#%d>: one of them was changed during the lockdown", t.ch.ID, t.ch.ParentID))
		}
	}
	res.Channels = len(targets) + len(gone)

	// The record, one transaction per lockdown touched.
	byLockdown := map[int64][]query.LockdownChannel{}
	for _, p := range picks {
		byLockdown[p.LockdownID] = append(byLockdown[p.LockdownID], p)
	}
	report := res.Report()
	var errs []error
	for id, chans := range byLockdown {
		ld, err := s.cfg.Store.Queries().GetLockdown(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		left, err := s.cfg.Store.Queries().CountHeldLockdownChannels(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ending := left == int64(len(chans))
		if ending && ld.InvitesUntil.Valid {
			res.Invites = s.lift(ctx, ld, by)
			report = res.Report()
		}
		err = s.cfg.Cases.InTx(ctx, by.ID, func(tx *cases.Tx) error {
			q, tctx := tx.StoreTx().Queries(), tx.Context()
			for _, p := range chans {
				for _, r := range snaps[h(&p)] {
					k := key{discord.ChannelID(p.ChannelID), r.OverwriteID}
					v := verdicts[k]
					outc, found := v.action, v.found
					switch {
					case gone[discord.ChannelID(p.ChannelID)]:
						outc, found = "changed", "channel deleted"
					case outcomes[k].err != nil:
						outc, found = "failed", outcomes[k].err.Error()
					case outc == "restore":
						outc = "restored"
					case outc == "delete":
						outc = "deleted"
					}
					if err := q.SetLockdownOverwriteOutcome(tctx, query.SetLockdownOverwriteOutcomeParams{LockdownID: id, ChannelID: p.ChannelID,
						OverwriteID: r.OverwriteID, Outcome: outc, Found: found}); err != nil {
						return fmt.Errorf("overwrite outcome: %w", err)
					}
				}
				if err := q.SetLockdownChannelState(tctx, query.SetLockdownChannelStateParams{LockdownID: id, ChannelID: p.ChannelID, State: "unlocked", UpdatedAt: tx.NowMS()}); err != nil {
					return fmt.Errorf("channel state: %w", err)
				}
			}
			c, err := tx.Lock(ld.CaseID)
			if err != nil {
				return err
			}
			if !ending {
				return tx.Record(c, cases.EventNote, "", "", fmt.Sprintf("unlock by %s (%s): %s", by.Username, reason, report))
			}
			if err := q.EndLockdown(tctx, query.EndLockdownParams{ID: id, EndedAt: sql.NullInt64{Int64: tx.NowMS(), Valid: true},
				EndedBy: sql.NullInt64{Int64: int64(by.ID), Valid: true}, EndReason: sql.NullString{String: reason, Valid: true}}); err != nil {
				return fmt.Errorf("end lockdown: %w", err)
			}
			if ld.CaseID != claimed {
				if _, err := s.cfg.Expiry.CancelTx(tx, c, "unlocked"); err != nil {
					return err
				}
			}
			if _, _, err := tx.Process(ld.CaseID, fmt.Sprintf("unlocked by %s (%s): %s", by.Username, reason, report)); err != nil {
				return err
			}
			res.Ended = append(res.Ended, c.Number)
			return nil
		})
		errs = append(errs, err)
	}
	s.log.Info("unlock", "guild", guildID, "channels", res.Channels, "restored", res.Restored, "deleted", res.Deleted, "changed", len(res.Changed))
	return res, errors.Join(errs...)
}

// lift ends the invite pause a server lockdown set, unless raid mode has invites paused
// too (the raid lifts its own when it ends); the DM pause is sent back as Discord has it.
func (s *Service) lift(ctx context.Context, ld query.Lockdown, by discord.User) string {
	g := discord.GuildID(ld.GuildID)
	if r, err := s.cfg.Store.Queries().OpenRaid(ctx, ld.GuildID); err == nil && r.InvitesUntil.Valid {
		return "invites stay paused: raid mode paused them too"
	}
	cur, err := s.cfg.Discord.GuildSafety(ctx, g)
	if err == nil {
		_, err = s.cfg.Discord.SetIncidentActions(ctx, g, time.Time{}, cur.DMsDisabledUntil, moderation.AuditReason(by, "unlock"))
	}
	if err != nil {
		return "could not lift the invite pause (it runs out by itself within 24 hours): " + err.Error()
	}
	return "invites are no longer paused"
}

// endIfEmpty ends a lockdown whose channels a later lockdown took over, with a processed
// row on its case; its invite pause is lifted unless the later lockdown is the server's
// (which paused invites itself).
func (s *Service) endIfEmpty(ctx context.Context, id int64, by discord.User, why string, takerServer bool) error {
	left, err := s.cfg.Store.Queries().CountHeldLockdownChannels(ctx, id)
	if err != nil || left > 0 {
		return err
	}
	ld, err := s.cfg.Store.Queries().GetLockdown(ctx, id)
	if err != nil || ld.EndedAt.Valid {
		return err
	}
	note := why
	if ld.InvitesUntil.Valid && !takerServer {
		note += "; " + s.lift(ctx, ld, by)
	}
	return s.cfg.Cases.InTx(ctx, by.ID, func(tx *cases.Tx) error {
		q := tx.StoreTx().Queries()
		if err := q.EndLockdown(tx.Context(), query.EndLockdownParams{ID: id, EndedAt: sql.NullInt64{Int64: tx.NowMS(), Valid: true},
			EndedBy: sql.NullInt64{Int64: int64(by.ID), Valid: true}, EndReason: sql.NullString{String: why, Valid: true}}); err != nil {
			return err
		}
		c, err := tx.Lock(ld.CaseID)
		if err != nil {
			return err
		}
		if _, err := s.cfg.Expiry.CancelTx(tx, c, why); err != nil {
			return err
		}
		_, _, err = tx.Process(ld.CaseID, note)
		return err
	})
}

// Run is the lockdown's check (expiry.LockdownCheck): a timed lockdown ends once its time
// has come; until then a server lockdown's invite pause is renewed before its 24 hours run
// out, and the check comes back at its next due time.
func (s *Service) Run(ctx context.Context, cl expiry.Claim) error {
	ld, err := s.cfg.Store.Queries().GetLockdownByCase(ctx, cl.CaseID)
	if errors.Is(err, sql.ErrNoRows) {
		return s.cfg.Expiry.Complete(ctx, cl, expiry.Stale, "no lockdown has this case")
	}
	if err != nil {
		return err
	}
	if ld.EndedAt.Valid {
		return s.cfg.Expiry.Complete(ctx, cl, expiry.Stale, "the lockdown has ended")
	}
	g := discord.GuildID(ld.GuildID)
	release := s.guildLock(g)
	defer release()
	bot := discord.User{ID: s.botID(), Username: "gavel", Bot: true}
	now := s.now()
	if ld.EndsAt.Valid && !now.Before(time.UnixMilli(ld.EndsAt.Int64)) {
		held, snaps, err := s.held(ctx, g)
		if err != nil {
			return err
		}
		var picks []query.LockdownChannel
		for _, c := range held {
			if c.LockdownID == ld.ID {
				picks = append(picks, c)
			}
		}
		why := "the timed lockdown ended"
		if _, err := s.unlock(ctx, g, bot, why, picks, snaps, ld.CaseID); err != nil {
			return err
		}
		if len(picks) == 0 {
			// Every channel was taken over by later lockdowns: this one ends with nothing to do.
			if err := s.endIfEmpty(ctx, ld.ID, bot, why, false); err != nil {
				return err
			}
		}
		return s.cfg.Expiry.Complete(ctx, cl, expiry.Done, why)
	}
	if ld.InvitesUntil.Valid && !now.Before(time.UnixMilli(ld.InvitesUntil.Int64).Add(-RenewLead)) {
		c, err := s.cfg.Cases.Get(ctx, ld.CaseID)
		if err != nil {
			return err
		}
		until, err := s.pause(ctx, ld, c)
		if err != nil {
			return err
		}
		ld.InvitesUntil = sql.NullInt64{Int64: until.UnixMilli(), Valid: true}
	}
	at, ok := next(ld)
	return s.cfg.Cases.InTx(ctx, bot.ID, func(tx *cases.Tx) error {
		if err := s.cfg.Expiry.CompleteTx(tx, cl, expiry.Done, "the lockdown continues"); err != nil {
			return err
		}
		if !ok {
			return nil
		}
		c, err := tx.Lock(ld.CaseID)
		if err != nil {
			return err
		}
		_, err = s.cfg.Expiry.ScheduleTx(tx, c, expiry.LockdownCheck, at)
		return err
	})
}

// GaveUp is told when the lockdown's check failed for good: the lockdown stays, and its
// case says so, for a moderator to unlock by hand.
func (s *Service) GaveUp(ctx context.Context, a expiry.Action, cause string) {
	c, err := s.cfg.Cases.Get(ctx, a.CaseID)
	if err == nil {
		err = s.noteErr(ctx, c, "the lockdown's check failed for good; unlock by hand with unlock", errors.New(cause))
	}
	s.log.Error("lockdown check gave up", "case", a.CaseID, "cause", cause, "err", err)
}

// Open is an open lockdown as the dashboard and the commands show it: its record, its case,
// its channels (every state) and its snapshot rows.
type Open struct {
	Lockdown   query.Lockdown
	Case       cases.Case
	Channels   []query.LockdownChannel
	Overwrites []query.LockdownOverwrite
}

// Current returns the guild's open lockdowns, oldest first, each with its snapshot.
func (s *Service) Current(ctx context.Context, guildID discord.GuildID) ([]Open, error) {
	q := s.cfg.Store.Queries()
	lds, err := q.OpenLockdowns(ctx, int64(guildID))
	if err != nil {
		return nil, fmt.Errorf("open lockdowns: %w", err)
	}
	out := make([]Open, 0, len(lds))
	for _, ld := range lds {
		o := Open{Lockdown: ld}
		if o.Case, err = s.cfg.Cases.Get(ctx, ld.CaseID); err != nil {
			return nil, err
		}
		if o.Channels, err = q.LockdownChannels(ctx, ld.ID); err != nil {
			return nil, fmt.Errorf("lockdown channels: %w", err)
		}
		if o.Overwrites, err = q.LockdownOverwrites(ctx, ld.ID); err != nil {
			return nil, fmt.Errorf("lockdown snapshot: %w", err)
		}
		out = append(out, o)
	}
	return out, nil
}

// Held is how many channels an open lockdown holds now.
func (o Open) Held() int {
	n := 0
	for _, c := range o.Channels {
		if c.State == "pending" || c.State == "locked" {
			n++
		}
	}
	return n
}
