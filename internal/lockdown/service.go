package lockdown

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// RenewLead is how long before Discord's 24-hour limit a server lockdown's invite pause is
// renewed (every 23 hours, an hour to spare for retries), as raid mode does.
const RenewLead = time.Hour

// MaxDuration is the longest timed lockdown: 28 days.
const MaxDuration = 28 * 24 * time.Hour

// MinDuration is the shortest timed lockdown.
const MinDuration = time.Minute

// workers is how many channels are changed at once: Discord limits each channel's route on
// its own, so a few in parallel finish a server of hundreds of channels in seconds without
// meeting the global limit's wall.
const workers = 4

// Discord is what a lockdown asks of Discord.
type Discord interface {
	discord.Guilds
	discord.Members
	discord.Channels
	discord.GuildSafety
}

// Work is where the LOCKDOWN case is recorded: the moderation pipeline (built at READY),
// as work in flight. app's flight satisfies it.
type Work interface {
	Begin() (*moderation.Coordinator, bool)
	End()
	Context() context.Context
}

// Config is what the service works with.
type Config struct {
	Store   *store.Store
	Cases   *cases.Service
	Expiry  *expiry.Service
	Discord Discord
	Exec    *executor.Executor
	Work    Work
	// StaffRoles returns the roles that carry a gavel rank in a guild (their overwrites are
	// staff's, besides those of roles with StaffBits); nil: none.
	StaffRoles func(ctx context.Context, guildID discord.GuildID) ([]discord.RoleID, error)
	Clock      clock.Clock
	Log        *slog.Logger
}

// Service locks and unlocks channels. It is safe for concurrent use; a guild's lockdowns
// run one at a time in this process (a guild lives in one process).
type Service struct {
	cfg   Config
	now   func() time.Time
	log   *slog.Logger
	mu    sync.Mutex
	bot   discord.UserID
	locks map[discord.GuildID]*sync.Mutex
}

// New returns the service.
func New(cfg Config) *Service {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Exec == nil {
		cfg.Exec = executor.New()
	}
	return &Service{cfg: cfg, now: clock.OrSystem(cfg.Clock).Now, log: cfg.Log, locks: map[discord.GuildID]*sync.Mutex{}}
}

// SetBot tells the service gavel's own user id (known at READY): the target of a LOCKDOWN
// case and the member whose overwrite keeps gavel able to speak in a locked channel.
func (s *Service) SetBot(id discord.UserID) {
	s.mu.Lock()
	s.bot = id
	s.mu.Unlock()
}

func (s *Service) botID() discord.UserID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bot
}

func (s *Service) guildLock(g discord.GuildID) func() {
	s.mu.Lock()
	m := s.locks[g]
	if m == nil {
		m = &sync.Mutex{}
		s.locks[g] = m
	}
	s.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// Refusal is a lockdown or unlock refused before anything changed: Error says why and what
// is accepted.
type Refusal struct{ Problem string }

func (r *Refusal) Error() string { return r.Problem }

func refuse(format string, args ...any) error { return &Refusal{Problem: fmt.Sprintf(format, args...)} }

// LockRequest is one lockdown: the channels named (ChannelIDs) or the whole server.
type LockRequest struct {
	GuildID    discord.GuildID
	By         discord.User
	ChannelIDs []discord.ChannelID
	Server     bool
	// Duration, when set, ends the lockdown by itself after it.
	Duration time.Duration
	Reason   string
	// Metadata is added to the LOCKDOWN case's (raid mode's lockdown names its raid and the
	// raid's case: raid, parent_case).
	Metadata map[string]string
}

// LockResult is what a lockdown did.
type LockResult struct {
	Lockdown query.Lockdown
	Case     cases.Case
	// Locked are the channels now held; Overwrites how many overwrites were changed.
	Locked     []discord.Channel
	Overwrites int
	// Skipped are the channels a server lockdown left alone because gavel may not change
	// them, with why; Failed those whose change Discord refused midway.
	Skipped []string
	Failed  []string
	// Superseded are the earlier lockdowns' case numbers whose channels this one took over.
	Superseded []int64
	// InvitesUntil is when the invite pause runs out (renewed while the lockdown lasts).
	InvitesUntil time.Time
	EndsAt       time.Time
}

type target struct {
	ch      discord.Channel
	bits    uint64
	changes []Change
	synced  bool
	// held is the open lockdown that holds the channel now (superseded by this one).
	held *query.LockdownChannel
}

// Lock runs a lockdown: the checks, the snapshot (written first), the LOCKDOWN case, then
// the overwrites on Discord and, for the whole server, the invite pause.
func (s *Service) Lock(ctx context.Context, req LockRequest) (LockResult, error) {
	if req.Duration != 0 && (req.Duration < MinDuration || req.Duration > MaxDuration) {
		return LockResult{}, refuse("A lockdown lasts from 1 minute to 28 days (or until `unlock` when no duration is given). Nothing was changed.")
	}
	if !req.Server && len(req.ChannelIDs) == 0 {
		return LockResult{}, refuse("Name the channels to lock, or `server`. Nothing was changed.")
	}
	defer s.guildLock(req.GuildID)()
	bot := s.botID()
	g, err := s.cfg.Discord.Guild(ctx, req.GuildID)
	if err != nil {
		return LockResult{}, fmt.Errorf("reading the server: %w", err)
	}
	me, err := s.cfg.Discord.Member(ctx, req.GuildID, bot)
	if err != nil {
		return LockResult{}, fmt.Errorf("reading gavel's own roles: %w", err)
	}
	base := g.MemberPermissions(bot, me.Roles)
	botAdmin := base == discord.AllPermissions
	if base&(permManageRoles|permManageChannels) != permManageRoles|permManageChannels {
		return LockResult{}, refuse("I need the Manage Roles and Manage Channels permissions to lock channels (I change their permission overwrites). Nothing was changed; give gavel's role both and try again.")
	}
	all, err := s.cfg.Discord.GuildChannels(ctx, req.GuildID)
	if err != nil {
		return LockResult{}, fmt.Errorf("reading the server's channels: %w", err)
	}
	byID := map[discord.ChannelID]discord.Channel{}
	for _, c := range all {
		byID[c.ID] = c
	}
	chosen, skipped, err := s.choose(req, g, all, byID)
	if err != nil {
		return LockResult{}, err
	}
	staff, err := s.staff(ctx, g, all)
	if err != nil {
		return LockResult{}, err
	}
	held, heldRows, err := s.held(ctx, req.GuildID)
	if err != nil {
		return LockResult{}, err
	}
	var targets []*target
	var refusals []string
	for _, c := range chosen {
		own := g.ChannelPermissions(me, c.Overwrites)
		need := permViewChannel | permManageRoles
		if own&need != need || base&PermSendMessages == 0 {
			why := fmt.Sprintf("<#%d>: I need View Channel and Manage Roles (Manage Permissions) there, and Send Messages in the server", c.ID)
			if req.Server {
				skipped = append(skipped, why)
				continue
			}
			refusals = append(refusals, why)
			continue
		}
		// Discord lets gavel allow or deny only what it holds server-wide: the same bits in
		// every channel, so synced channels stay synced.
		t := &target{ch: c, bits: Denied & base}
		if p, ok := byID[c.ParentID]; ok && c.ParentID != 0 {
			t.synced = SameOverwrites(c.Overwrites, p.Overwrites)
		}
		if h, ok := held[c.ID]; ok {
			t.held = &h
			t.synced = h.Synced
		}
		t.changes = Plan(req.GuildID, bot, botAdmin, c.Overwrites, t.bits, staff)
		// A channel held by an earlier lockdown keeps that lockdown's "before": unlock
		// must bring back what there was before the first lock, not the locked state.
		if t.held != nil {
			t.changes = s.inherit(t, heldRows[h(t.held)])
		}
		// gavel's own overwrite first: from then on it keeps the bits the others deny.
		sort.SliceStable(t.changes, func(i, j int) bool {
			return t.changes[i].Type == discord.OverwriteMember && t.changes[i].ID == int64(bot) &&
				!(t.changes[j].Type == discord.OverwriteMember && t.changes[j].ID == int64(bot))
		})
		targets = append(targets, t)
	}
	if len(refusals) > 0 {
		return LockResult{}, refuse("I cannot lock %s. Nothing was changed.", strings.Join(refusals, "; "))
	}
	if len(targets) == 0 {
		return LockResult{}, refuse("There is no channel to lock: %s. Nothing was changed.", strings.Join(append(skipped, "no channel @everyone can see and send in"), "; "))
	}

	co, ok := s.cfg.Work.Begin()
	if !ok {
		return LockResult{}, refuse("gavel is shutting down, or not connected to Discord yet; try again in a moment. Nothing was changed.")
	}
	defer s.cfg.Work.End()
	if req.Reason == "" {
		req.Reason = "No reason given"
	}
	scope := fmt.Sprintf("%d channels", len(targets))
	if req.Server {
		scope = "the server (" + scope + ")"
	}
	md := map[string]string{"lockdown": "server", "channels": strconv.Itoa(len(targets))}
	if !req.Server {
		md["lockdown"] = "channels"
	}
	for k, v := range req.Metadata {
		if _, ours := md[k]; !ours {
			md[k] = v
		}
	}
	var res LockResult
	now := s.now()
	if req.Duration > 0 {
		res.EndsAt = now.Add(req.Duration).Truncate(time.Second)
		md["ends"] = res.EndsAt.UTC().Format(time.RFC3339)
	}
	c, err := co.RecordDone(ctx, moderation.Done{Path: "lockdown", GuildID: req.GuildID, UserID: bot, TargetName: "gavel",
		Moderator: req.By, Type: cases.Lockdown, Reason: req.Reason, Note: "lockdown of " + scope + ": snapshot next", Metadata: md})
	if err != nil {
		return LockResult{}, fmt.Errorf("record the lockdown's case: %w", err)
	}
	res.Case = c
	// The snapshot, before any change on Discord.
	var ld query.Lockdown
	superseded := map[int64]bool{}
	err = s.cfg.Cases.InTx(ctx, req.By.ID, func(tx *cases.Tx) error {
		q, tctx := tx.StoreTx().Queries(), tx.Context()
		ends := sql.NullInt64{}
		if !res.EndsAt.IsZero() {
			ends = sql.NullInt64{Int64: res.EndsAt.UnixMilli(), Valid: true}
		}
		var err error
		ld, err = q.InsertLockdown(tctx, query.InsertLockdownParams{GuildID: int64(req.GuildID), CaseID: c.ID, Server: req.Server,
			Reason: req.Reason, StartedAt: now.UnixMilli(), StartedBy: int64(req.By.ID), EndsAt: ends})
		if err != nil {
			return fmt.Errorf("insert lockdown: %w", err)
		}
		for _, t := range targets {
			if t.held != nil {
				if err := q.SetLockdownChannelState(tctx, query.SetLockdownChannelStateParams{LockdownID: t.held.LockdownID, ChannelID: t.held.ChannelID,
					State: "superseded", UpdatedAt: tx.NowMS()}); err != nil {
					return fmt.Errorf("supersede channel: %w", err)
				}
				for _, o := range heldRows[h(t.held)] {
					if err := q.SetLockdownOverwriteOutcome(tctx, query.SetLockdownOverwriteOutcomeParams{LockdownID: o.LockdownID, ChannelID: o.ChannelID,
						OverwriteID: o.OverwriteID, Outcome: "superseded", Found: fmt.Sprintf("taken over by the lockdown of case #%d", c.Number)}); err != nil {
						return fmt.Errorf("supersede overwrite: %w", err)
					}
				}
				superseded[t.held.LockdownID] = true
			}
			if err := q.InsertLockdownChannel(tctx, query.InsertLockdownChannelParams{LockdownID: ld.ID, ChannelID: int64(t.ch.ID), GuildID: int64(req.GuildID),
				Name: t.ch.Name, Type: int64(t.ch.Type), ParentID: int64(t.ch.ParentID), Synced: t.synced, State: "pending", UpdatedAt: tx.NowMS()}); err != nil {
				return fmt.Errorf("snapshot channel %d: %w", t.ch.ID, err)
			}
			for _, ch := range t.changes {
				if err := q.InsertLockdownOverwrite(tctx, query.InsertLockdownOverwriteParams{LockdownID: ld.ID, ChannelID: int64(t.ch.ID),
					OverwriteID: ch.ID, OverwriteType: int64(ch.Type), BeforeAbsent: ch.BeforeAbsent, BeforeAllow: int64(ch.Before.Allow),
					BeforeDeny: int64(ch.Before.Deny), SetAllow: int64(ch.Set.Allow), SetDeny: int64(ch.Set.Deny)}); err != nil {
					return fmt.Errorf("snapshot overwrite: %w", err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return LockResult{}, err
	}
	res.Lockdown = ld
	res.Skipped = skipped

	// The changes, a few channels at a time; categories first so that their channels'
	// sync is never seen broken by more than the time between two calls.
	sort.SliceStable(targets, func(i, j int) bool {
		return targets[i].ch.Type == discord.ChannelGuildCategory && targets[j].ch.Type != discord.ChannelGuildCategory
	})
	auditReason := moderation.AuditReason(req.By, fmt.Sprintf("lockdown (case #%d)", c.Number))
	outcomes := s.apply(ctx, targets, func(t *target, ch Change) (discord.Overwrite, bool) {
		cur, present := find(t.ch.Overwrites, ch.ID)
		return ch.Set, !present || cur != ch.Set
	}, nil, auditReason)
	err = s.cfg.Cases.InTx(ctx, req.By.ID, func(tx *cases.Tx) error {
		q, tctx := tx.StoreTx().Queries(), tx.Context()
		for _, t := range targets {
			failed := ""
			for _, ch := range t.changes {
				o := outcomes[key{t.ch.ID, ch.ID}]
				if o.err != nil {
					failed = o.err.Error()
				}
				out, found := "set", ""
				if o.err != nil {
					out, found = "failed", o.err.Error()
				}
				if err := q.SetLockdownOverwriteOutcome(tctx, query.SetLockdownOverwriteOutcomeParams{LockdownID: ld.ID, ChannelID: int64(t.ch.ID),
					OverwriteID: ch.ID, Outcome: out, Found: found}); err != nil {
					return err
				}
				if _, called := outcomes[key{t.ch.ID, ch.ID}]; called && o.err == nil {
					res.Overwrites++
				}
			}
			if failed != "" {
				res.Failed = append(res.Failed, fmt.Sprintf("<#%d>: %s", t.ch.ID, failed))
			}
			res.Locked = append(res.Locked, t.ch)
			if err := q.SetLockdownChannelState(tctx, query.SetLockdownChannelStateParams{LockdownID: ld.ID, ChannelID: int64(t.ch.ID), State: "locked", UpdatedAt: tx.NowMS()}); err != nil {
				return err
			}
		}
		cc, err := tx.Lock(c.ID)
		if err != nil {
			return err
		}
		note := fmt.Sprintf("locked %d channels (%d overwrites changed)", len(res.Locked), res.Overwrites)
		if len(res.Skipped) > 0 {
			note += fmt.Sprintf("; left alone: %s", strings.Join(res.Skipped, "; "))
		}
		if len(res.Failed) > 0 {
			note += fmt.Sprintf("; Discord refused: %s", strings.Join(res.Failed, "; "))
		}
		if !res.EndsAt.IsZero() {
			if _, err := s.cfg.Expiry.ScheduleTx(tx, cc, expiry.LockdownCheck, res.EndsAt); err != nil {
				return err
			}
		}
		return tx.Record(cc, cases.EventNote, "", "", note)
	})
	if err != nil {
		return res, err
	}
	for id := range superseded {
		if err := s.endIfEmpty(ctx, id, req.By, fmt.Sprintf("superseded by the lockdown of case #%d", c.Number), req.Server); err != nil {
			s.log.Error("lockdown: ending a superseded lockdown", "guild", req.GuildID, "lockdown", id, "err", err)
		}
		if old, err := s.cfg.Store.Queries().GetLockdown(ctx, id); err == nil {
			if oc, err := s.cfg.Cases.Get(ctx, old.CaseID); err == nil {
				res.Superseded = append(res.Superseded, oc.Number)
			}
		}
	}
	if req.Server {
		until, err := s.pause(ctx, ld, c)
		if err != nil {
			res.Failed = append(res.Failed, "invites: "+err.Error())
		}
		res.InvitesUntil = until
		if err == nil {
			ld.InvitesUntil = sql.NullInt64{Int64: until.UnixMilli(), Valid: true}
			if err := s.arm(ctx, ld, req.By.ID); err != nil {
				return res, err
			}
		}
	}
	res.Lockdown = ld
	s.log.Info("lockdown", "guild", req.GuildID, "case", c.Number, "channels", len(res.Locked), "overwrites", res.Overwrites, "server", req.Server)
	return res, nil
}

// choose picks the channels a lockdown changes: the named ones (a category with its
// channels), or for the whole server every lockable channel @everyone can see.
func (s *Service) choose(req LockRequest, g discord.Guild, all []discord.Channel, byID map[discord.ChannelID]discord.Channel) ([]discord.Channel, []string, error) {
	var out []discord.Channel
	var skipped []string
	seen := map[discord.ChannelID]bool{}
	add := func(c discord.Channel) {
		if !seen[c.ID] {
			seen[c.ID] = true
			out = append(out, c)
		}
	}
	if req.Server {
		for _, c := range all {
			if !Lockable(c.Type) {
				continue
			}
			if !EveryoneCanView(g, c.Overwrites) {
				continue
			}
			add(c)
		}
		return out, skipped, nil
	}
	var unknown, wrong []string
	for _, id := range req.ChannelIDs {
		c, ok := byID[id]
		if !ok {
			unknown = append(unknown, fmt.Sprintf("<#%d>", id))
			continue
		}
		if !Lockable(c.Type) {
			wrong = append(wrong, fmt.Sprintf("<#%d>", id))
			continue
		}
		add(c)
		if c.Type == discord.ChannelGuildCategory {
			for _, k := range all {
				if k.ParentID == c.ID && Lockable(k.Type) {
					add(k)
				}
			}
		}
	}
	if len(unknown) > 0 {
		return nil, nil, refuse("%s is not a channel of this server (threads cannot be locked on their own: lock their channel). Nothing was changed.", strings.Join(unknown, ", "))
	}
	if len(wrong) > 0 {
		return nil, nil, refuse("%s cannot be locked: a lockdown takes text, announcement, voice, stage, forum and media channels, and categories. Nothing was changed.", strings.Join(wrong, ", "))
	}
	return out, skipped, nil
}

// staff finds the roles and members whose overwrites a lockdown leaves alone: roles with
// StaffBits or a gavel rank, and members who are the owner or hold such a role or bits.
func (s *Service) staff(ctx context.Context, g discord.Guild, all []discord.Channel) (Staff, error) {
	st := Staff{Roles: map[discord.RoleID]bool{}, Members: map[discord.UserID]bool{}}
	for _, r := range g.Roles {
		if r.ID != g.ID.EveryoneRole() && r.Permissions&StaffBits != 0 {
			st.Roles[r.ID] = true
		}
	}
	if s.cfg.StaffRoles != nil {
		ranked, err := s.cfg.StaffRoles(ctx, g.ID)
		if err != nil {
			return Staff{}, fmt.Errorf("reading the ranked roles: %w", err)
		}
		for _, id := range ranked {
			st.Roles[id] = true
		}
	}
	seen := map[discord.UserID]bool{}
	for _, c := range all {
		for _, o := range c.Overwrites {
			id := discord.UserID(o.ID)
			if o.Type != discord.OverwriteMember || seen[id] {
				continue
			}
			seen[id] = true
			if id == g.OwnerID {
				st.Members[id] = true
				continue
			}
			m, err := s.cfg.Discord.Member(ctx, g.ID, id)
			if err != nil {
				var de *discord.Error
				if errors.As(err, &de) && de.Code == discord.CodeUnknownMember {
					continue // not a member: not staff; their allows are taken like anyone's
				}
				return Staff{}, fmt.Errorf("reading member %d: %w", id, err)
			}
			if g.MemberPermissions(id, m.Roles)&StaffBits != 0 {
				st.Members[id] = true
				continue
			}
			for _, r := range m.Roles {
				if st.Roles[r] {
					st.Members[id] = true
				}
			}
		}
	}
	return st, nil
}

type heldKey struct {
	lockdown int64
	channel  int64
}

func h(c *query.LockdownChannel) heldKey { return heldKey{c.LockdownID, c.ChannelID} }

// held returns the channels open lockdowns of the guild hold, and their snapshot rows.
func (s *Service) held(ctx context.Context, g discord.GuildID) (map[discord.ChannelID]query.LockdownChannel, map[heldKey][]query.LockdownOverwrite, error) {
	q := s.cfg.Store.Queries()
	rows, err := q.HeldLockdownChannels(ctx, int64(g))
	if err != nil {
		return nil, nil, fmt.Errorf("held channels: %w", err)
	}
	out := map[discord.ChannelID]query.LockdownChannel{}
	snaps := map[heldKey][]query.LockdownOverwrite{}
	loaded := map[int64]bool{}
	for _, r := range rows {
		out[discord.ChannelID(r.ChannelID)] = r
		if loaded[r.LockdownID] {
			continue
		}
		loaded[r.LockdownID] = true
		ows, err := q.LockdownOverwrites(ctx, r.LockdownID)
		if err != nil {
			return nil, nil, fmt.Errorf("lockdown snapshot: %w", err)
		}
		for _, o := range ows {
			k := heldKey{o.LockdownID, o.ChannelID}
			snaps[k] = append(snaps[k], o)
		}
	}
	return out, snaps, nil
}

// inherit makes a channel's changes start from the earlier lockdown's snapshot: every
// overwrite the earlier one touched keeps its "before" (and is listed even when this
// lockdown changes nothing more on it, so unlock still puts it back).
func (s *Service) inherit(t *target, rows []query.LockdownOverwrite) []Change {
	byID := map[int64]Change{}
	var order []int64
	for _, ch := range t.changes {
		byID[ch.ID] = ch
		order = append(order, ch.ID)
	}
	for _, r := range rows {
		ch, ok := byID[r.OverwriteID]
		if !ok {
			cur, present := find(t.ch.Overwrites, r.OverwriteID)
			if !present {
				// Gone since (a person deleted it): nothing of this lockdown to put back.
				continue
			}
			ch = Change{ID: r.OverwriteID, Type: discord.OverwriteType(r.OverwriteType), Set: cur}
			order = append(order, r.OverwriteID)
		}
		ch.BeforeAbsent = r.BeforeAbsent
		ch.Before = discord.Overwrite{ID: r.OverwriteID, Type: discord.OverwriteType(r.OverwriteType), Allow: uint64(r.BeforeAllow), Deny: uint64(r.BeforeDeny)}
		if r.BeforeAbsent {
			ch.Before = discord.Overwrite{}
		}
		byID[r.OverwriteID] = ch
	}
	out := make([]Change, 0, len(order))
	for _, id := range order {
		out = append(out, byID[id])
	}
	return out
}

type key struct {
	channel discord.ChannelID
	id      int64
}

type outcome struct {
	err     error
	deleted bool
}

// apply sets (or deletes) the overwrites of targets on Discord, a few channels at a time.
// value gives, for each change, the overwrite to set and whether to call at all; del, when
// not nil, says which changes delete their overwrite instead.
func (s *Service) apply(ctx context.Context, targets []*target, value func(*target, Change) (discord.Overwrite, bool), del func(*target, Change) bool, reason string) map[key]outcome {
	out := map[key]outcome{}
	var mu sync.Mutex
	work := make(chan *target)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				for _, ch := range t.changes {
					var err error
					deleted := false
					switch {
					case del != nil && del(t, ch):
						deleted = true
						err = s.cfg.Exec.Do(ctx, executor.OpChannels, func(ctx context.Context) error {
							return s.cfg.Discord.DeleteChannelOverwrite(ctx, t.ch.ID, ch.ID, reason)
						})
					default:
						ow, call := value(t, ch)
						if !call {
							continue
						}
						err = s.cfg.Exec.Do(ctx, executor.OpChannels, func(ctx context.Context) error {
							return s.cfg.Discord.SetChannelOverwrite(ctx, t.ch.ID, ow, reason)
						})
					}
					mu.Lock()
					out[key{t.ch.ID, ch.ID}] = outcome{err: err, deleted: deleted}
					mu.Unlock()
				}
			}
		}()
	}
	for _, t := range targets {
		work <- t
	}
	close(work)
	wg.Wait()
	return out
}

// pause pauses invites for the next 24 hours (DMs sent back as Discord has them: a field
// left out would be reset) and records until when.
func (s *Service) pause(ctx context.Context, ld query.Lockdown, c cases.Case) (time.Time, error) {
	g := discord.GuildID(ld.GuildID)
	cur, err := s.cfg.Discord.GuildSafety(ctx, g)
	if err != nil {
		return time.Time{}, s.noteErr(ctx, c, "could not read the incident actions", err)
	}
	until := s.now().Add(discord.MaxIncidentAhead).Truncate(time.Second)
	if _, err := s.cfg.Discord.SetIncidentActions(ctx, g, until, cur.DMsDisabledUntil, fmt.Sprintf("gavel lockdown (case #%d)", c.Number)); err != nil {
		return time.Time{}, s.noteErr(ctx, c, "could not pause invites", err)
	}
	err = s.cfg.Cases.InTx(ctx, s.botID(), func(tx *cases.Tx) error {
		if err := tx.StoreTx().Queries().SetLockdownInvites(tx.Context(), query.SetLockdownInvitesParams{ID: ld.ID,
			InvitesUntil: sql.NullInt64{Int64: until.UnixMilli(), Valid: true}}); err != nil {
			return err
		}
		cc, err := tx.Lock(c.ID)
		if err != nil {
			return err
		}
		return tx.Record(cc, cases.EventNote, "", "", "invites paused until "+until.UTC().Format(time.RFC3339))
	})
	return until, err
}

func (s *Service) noteErr(ctx context.Context, c cases.Case, what string, cause error) error {
	err := fmt.Errorf("%s: %w", what, cause)
	if nerr := s.cfg.Cases.InTx(ctx, s.botID(), func(tx *cases.Tx) error {
		cc, err := tx.Lock(c.ID)
		if err != nil {
			return err
		}
		return tx.Record(cc, cases.EventNote, "", "", err.Error())
	}); nerr != nil {
		return errors.Join(err, nerr)
	}
	return err
}

// next is when a lockdown's check runs next: its end, or the pause's renewal, whichever
// comes first; false when neither is due.
func next(ld query.Lockdown) (time.Time, bool) {
	var at time.Time
	if ld.EndsAt.Valid {
		at = time.UnixMilli(ld.EndsAt.Int64)
	}
	if ld.InvitesUntil.Valid {
		renew := time.UnixMilli(ld.InvitesUntil.Int64).Add(-RenewLead)
		if at.IsZero() || renew.Before(at) {
			at = renew
		}
	}
	return at, !at.IsZero()
}

// arm schedules the lockdown's check at its next due time.
func (s *Service) arm(ctx context.Context, ld query.Lockdown, actor discord.UserID) error {
	at, ok := next(ld)
	if !ok {
		return nil
	}
	return s.cfg.Cases.InTx(ctx, actor, func(tx *cases.Tx) error {
		c, err := tx.Lock(ld.CaseID)
		if err != nil {
			return err
		}
		_, err = s.cfg.Expiry.ScheduleTx(tx, c, expiry.LockdownCheck, at)
		return err
	})
}
