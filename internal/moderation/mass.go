package moderation

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// A mass action (massban, masskick, masstimeout, a raid's Ban all) is the pipeline's batch
// path. It is one parent case and a child case per target:
//
//   - The parent is a NOTE case about the moderator, created active with metadata
//     mass=ban|kick|timeout and mass_targets=N; its mod-log message is the one message the
//     mass action posts, and every chunk adds a history row to it (what the chunk did), which
//     edits that message. (A case type of its own would mean rebuilding SQLite's cases table,
//     whose CHECK lists the types; the metadata says as much and costs nothing.)
//   - A child is an ordinary BAN (HACKBAN for a non-member), KICK or TIMEOUT case whose
//     metadata names the parent (cases.MetaParentCase). The mod log posts no message for a
//     child (cases.Changed.Child): the parent sums them up, and `cases` lists them.
//
// Bans go in chunks of up to 200 unique ids, one bulk call per chunk: the chunk's children are
// written pending with the chunk's durable record in one transaction, then the call, then
// every child is finalized from the call's result (banned → active, not banned → voided with
// why) in one transaction. Kicks and timeouts have no bulk endpoint: each target runs through
// the whole pipeline (Execute) in turn, paced by the executor. The durable record
// (mass_actions, mass_targets) is what a restart continues from (ResumeMass).

// MaxMassTargets is the most users one mass action takes.
const MaxMassTargets = 10000

// massLookupEach is the largest target list whose memberships are read one call each; a
// longer one reads the guild's member list a page (1,000) at a time instead.
const massLookupEach = 25

// MassKind is what a mass action does to each target.
type MassKind string

const (
	MassBan     MassKind = "ban"
	MassKick    MassKind = "kick"
	MassTimeout MassKind = "timeout"
)

// Verb is the kind as a moderator reads it ("ban", "kick", "time out").
func (k MassKind) Verb() string {
	if k == MassTimeout {
		return "time out"
	}
	return string(k)
}

// Valid reports whether k is one of the three kinds.
func (k MassKind) Valid() bool { return k == MassBan || k == MassKick || k == MassTimeout }

// MassRequest is one mass action to carry out. The caller has checked that the moderator may
// use the command (massban, masskick, masstimeout, or the raid buttons' rank).
type MassRequest struct {
	GuildID   discord.GuildID
	Moderator discord.User
	// ModeratorRoles are the moderator's role ids; nil makes the coordinator fetch them.
	ModeratorRoles []discord.RoleID
	Kind           MassKind
	// Targets are the users, in the order given; duplicates count once.
	Targets []discord.UserID
	Reason  string
	// PurgeDays is how many days of messages a mass ban deletes (0–7).
	PurgeDays int
	// Duration is how long a mass timeout lasts (1 minute to 28 days); zero otherwise.
	Duration time.Duration
	// Silent sends no DM to the targets of a mass kick or timeout (mass bans never DM: a
	// thousand DMs at once is what Discord's Create DM warns against).
	Silent bool
	// Metadata is recorded on the parent case (a raid records its number).
	Metadata map[string]string
	// Cancelled is asked between chunks (between targets for kicks and timeouts); true stops
	// the mass action there. Nil never stops it.
	Cancelled func() bool
	// Progress is told after each chunk. Nil is told nothing.
	Progress func(MassProgress)
}

// MassTarget is one target as the plan sees it.
type MassTarget struct {
	User   discord.User
	Member bool
}

// MassPlan is what a mass action would do, found without changing anything: the targets in
// the order they will be acted on (members first), and the refusal, if any.
type MassPlan struct {
	Kind    MassKind
	Targets []MassTarget
	// Members and NonMembers count the targets by membership.
	Members, NonMembers int
	// Chunks is how many bulk calls a mass ban makes (0 for kicks and timeouts).
	Chunks int
}

// MassProgress counts what a mass action has done so far.
type MassProgress struct {
	ParentCase int64
	Total      int
	// Done were banned (kicked, timed out); Failed were not; Listed went on the ban-on-join
	// list; Cancelled were never tried; Left are still to do.
	Done, Failed, Listed, Cancelled, Left int
	// Chunk of Chunks is the chunk just finished (bans).
	Chunk, Chunks int
}

// MassResult is what became of a mass action. Reply is always set.
type MassResult struct {
	// Parent is the mass action's parent case; nil when refused.
	Parent   *cases.Case
	MassID   int64
	Progress MassProgress
	// Failures lists the targets not acted on, by why.
	Failures map[string][]discord.UserID
	// Done holds the targets acted on, each with its child case's id: a caller keeping its
	// own record (a raid's candidates) reads who was done from it, not from what is missing
	// in Failures (a cancelled or interrupted run leaves targets in neither).
	Done    map[discord.UserID]int64
	Reply   discord.Message
	Refused bool
	// Interrupted says Discord's answer to a chunk is unknown: the mass action stays running
	// and the next start continues it.
	Interrupted bool
	Err         error
}

// WithStore gives the coordinator the store its batch path keeps the durable record of a
// mass action in (mass_actions, mass_targets, ban_on_join). Without it, mass actions are
// refused.
func WithStore(st *store.Store) CoordinatorOption { return func(c *Coordinator) { c.st = st } }

// Target states in mass_targets.
const (
	tQueued    = "queued"
	tSending   = "sending"
	tDone      = "done"
	tFailed    = "failed"
	tListed    = "listed"
	tCancelled = "cancelled"
)

// Why a target of a mass ban was not banned, as the voided child case and the report say it.
const (
	whyAlreadyBanned = "already banned"
	whyNotPermitted  = "not permitted: their highest role is at or above gavel's, or Discord refused it"
	whyUnknownUser   = "no Discord user has this id"
	whyListed        = "Discord's limit on bans of users who are not members was reached; added to the ban-on-join list (banned if they join)"
	whyNotMember     = "not a member of the server"
)

func massRefused(problem string) MassResult {
	return MassResult{Reply: RefusalReply(problem), Refused: true}
}

// needs is what gavel must hold for a kind.
func (k MassKind) needs() permissions.Permission {
	switch k {
	case MassBan:
		return permissions.BanMembers | permissions.ManageGuild
	case MassKick:
		return permissions.KickMembers
	}
	return permissions.ModerateMembers
}

// action is the single action each target of a mass kick or timeout runs through, and the
// catalogue's ban for a mass ban's children.
func (co *Coordinator) massAction(k MassKind) (*Action, bool) {
	switch k {
	case MassBan:
		return co.cat.ByCase(cases.Ban)
	case MassKick:
		return co.cat.ByCase(cases.Kick)
	}
	return co.cat.ByCase(cases.Timeout)
}

// PlanMass checks a mass action and works out what it would do, changing nothing: the dry
// run shows it, and ExecuteMass runs it. A refusal (Refuse) says what is wrong and what is
// accepted: no targets or more than MaxMassTargets, the owner, gavel, the moderator, or
// members at or above the moderator or gavel among the targets, gavel lacking a permission
// (Ban Members and Manage Server both, for bans), arguments out of bounds.
func (co *Coordinator) PlanMass(ctx context.Context, req MassRequest) (MassPlan, error) {
	if !req.Kind.Valid() {
		return MassPlan{}, refuse("A mass action bans, kicks or times out; %q is none of them.", req.Kind)
	}
	if co.botID == 0 {
		return MassPlan{}, errors.New("moderation: the coordinator was built without WithBotUserID")
	}
	ids := make([]discord.UserID, 0, len(req.Targets))
	seen := make(map[discord.UserID]bool, len(req.Targets))
	for _, id := range req.Targets {
		if id <= 0 || seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
	}
	switch {
	case len(ids) == 0:
		return MassPlan{}, refuse("Say whom to %s: mentions, user ids, a raid number (raid:3) or a filter.", req.Kind.Verb())
	case len(ids) > MaxMassTargets:
		return MassPlan{}, refuse("That is %d users; a mass action takes at most %d. Narrow the filter or split the list.", len(ids), MaxMassTargets)
	}
	if req.Kind == MassBan && (req.PurgeDays < MinPurgeDays || req.PurgeDays > MaxPurgeDays) {
		return MassPlan{}, refuse("purge %d is out of range: give a number of days from %d to %d.", req.PurgeDays, MinPurgeDays, MaxPurgeDays)
	}
	if req.Kind == MassTimeout && (req.Duration < time.Minute || req.Duration > MaxTimeout) {
		return MassPlan{}, refuse("A mass timeout needs a duration from 1 minute to 28 days, like 1h or 1d.")
	}
	if req.Kind != MassTimeout && req.Duration != 0 {
		return MassPlan{}, refuse("A mass %s takes no duration.", req.Kind)
	}

	var guild discord.Guild
	var bot discord.Member
	if err := co.read(ctx, func(ctx context.Context) (err error) {
		guild, err = co.port.Guild(ctx, req.GuildID)
		return err
	}); err != nil {
		return MassPlan{}, fmt.Errorf("reading the server: %w", err)
	}
	if err := co.read(ctx, func(ctx context.Context) (err error) {
		bot, err = co.port.Member(ctx, req.GuildID, co.botID)
		return err
	}); err != nil {
		return MassPlan{}, fmt.Errorf("reading gavel's own membership: %w", err)
	}
	if have := guildPermissions(guild, co.botID, bot.Roles); !have.Has(req.Kind.needs()) {
		return MassPlan{}, refuse("gavel needs %s to %s many users at once (it lacks %s); give them to gavel's role in Server Settings → Roles. Nothing was done.",
			req.Kind.needs(), req.Kind.Verb(), req.Kind.needs()&^have)
	}
	modRoles := req.ModeratorRoles
	if modRoles == nil && req.Moderator.ID != guild.OwnerID {
		var m discord.Member
		if err := co.read(ctx, func(ctx context.Context) (err error) {
			m, err = co.port.Member(ctx, req.GuildID, req.Moderator.ID)
			return err
		}); err != nil {
			return MassPlan{}, fmt.Errorf("reading your roles: %w", err)
		}
		modRoles = m.Roles
	}

	members, err := co.memberships(ctx, req.GuildID, ids)
	if err != nil {
		return MassPlan{}, err
	}
	modRank, botRank := RankOf(guild, modRoles), RankOf(guild, bot.Roles)
	var forbidden, aboveYou, aboveBot []string
	for _, id := range ids {
		switch id {
		case guild.OwnerID:
			forbidden = append(forbidden, fmt.Sprintf("%d (the owner)", id))
			continue
		case co.botID:
			forbidden = append(forbidden, fmt.Sprintf("%d (gavel itself)", id))
			continue
		case req.Moderator.ID:
			forbidden = append(forbidden, fmt.Sprintf("%d (you)", id))
			continue
		}
		m, ok := members[id]
		if !ok {
			continue
		}
		rank := RankOf(guild, m.Roles)
		if req.Moderator.ID != guild.OwnerID && !modRank.Above(rank) {
			aboveYou = append(aboveYou, userLabel(m.User))
		} else if !botRank.Above(rank) {
			aboveBot = append(aboveBot, userLabel(m.User))
		}
	}
	if len(forbidden) > 0 {
		return MassPlan{}, refuse("Nobody can %s %s; take them out of the list. Nothing was done.", req.Kind.Verb(), listSome(forbidden, 10))
	}
	if len(aboveYou) > 0 {
		return MassPlan{}, refuse("%s %s at or above your highest role; only someone above them can %s them. Take them out of the list. Nothing was done.",
			listSome(aboveYou, 10), isAre(len(aboveYou)), req.Kind.Verb())
	}
	if len(aboveBot) > 0 {
		return MassPlan{}, refuse("%s %s at or above gavel's highest role; move gavel's role above theirs in Server Settings → Roles, or take them out of the list. Nothing was done.",
			listSome(aboveBot, 10), isAre(len(aboveBot)))
	}

	plan := MassPlan{Kind: req.Kind}
	var rest []MassTarget
	for _, id := range ids {
		if m, ok := members[id]; ok {
			u := m.User
			u.ID = id
			plan.Targets = append(plan.Targets, MassTarget{User: u, Member: true})
			plan.Members++
			continue
		}
		rest = append(rest, MassTarget{User: discord.User{ID: id}})
		plan.NonMembers++
	}
	if req.Kind != MassBan && plan.Members == 0 {
		return MassPlan{}, refuse("None of them is a member of the server; only members can be %s. Nothing was done.", pastTense(req.Kind))
	}
	// Members first: bans of non-members count against Discord's cap (error 30035), which a
	// raid that has left could spend before the members still here are banned.
	plan.Targets = append(plan.Targets, rest...)
	if req.Kind == MassBan {
		plan.Chunks = (len(plan.Targets) + discord.MaxBulkBan - 1) / discord.MaxBulkBan
	}
	return plan, nil
}

func pastTense(k MassKind) string {
	switch k {
	case MassBan:
		return "banned"
	case MassKick:
		return "kicked"
	}
	return "timed out"
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func userLabel(u discord.User) string {
	if u.Username == "" {
		return strconv.FormatInt(int64(u.ID), 10)
	}
	return fmt.Sprintf("%s (%d)", discord.EscapeMarkdown(u.Username), u.ID)
}

// listSome joins up to n items and says how many more there are.
func listSome(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// memberships reads which of ids are members, with their roles: one call each for a short
// list, the guild's member list a page at a time for a long one.
func (co *Coordinator) memberships(ctx context.Context, guildID discord.GuildID, ids []discord.UserID) (map[discord.UserID]discord.Member, error) {
	out := make(map[discord.UserID]discord.Member, len(ids))
	if len(ids) <= massLookupEach {
		for _, id := range ids {
			m, ok, err := co.member(ctx, guildID, id)
			if err != nil {
				return nil, fmt.Errorf("reading user %d: %w", id, err)
			}
			if ok {
				out[id] = m
			}
		}
		return out, nil
	}
	want := make(map[discord.UserID]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var after discord.UserID
	for {
		var page []discord.Member
		if err := co.read(ctx, func(ctx context.Context) (err error) {
			page, err = co.port.ListMembers(ctx, guildID, after, 1000)
			return err
		}); err != nil {
			return nil, fmt.Errorf("reading the server's members: %w", err)
		}
		for _, m := range page {
			if want[m.User.ID] {
				out[m.User.ID] = m
			}
			after = max(after, m.User.ID)
		}
		if len(page) < 1000 {
			return out, nil
		}
	}
}

// ExecuteMass carries out a mass action and says what happened: PlanMass's checks first
// (nothing is done when they refuse), then the parent case and the durable record in one
// transaction, then the targets chunk by chunk (see the comment at the top of this file).
// It returns when every chunk is done, when Cancelled stops it, or when Discord's answer to
// a chunk is unknown twice (Interrupted: the next start continues it, ResumeMass). Safe for
// concurrent use; mass actions of one guild run one at a time.
func (co *Coordinator) ExecuteMass(ctx context.Context, req MassRequest) MassResult {
	if co.st == nil {
		return MassResult{Reply: RefusalReply("gavel is misconfigured: mass actions have no database. Nothing was done."), Err: errors.New("moderation: mass action without WithStore")}
	}
	if strings.TrimSpace(req.Reason) == "" {
		req.Reason = defaultReason
	}
	// Only the process holding the guild's shard starts it (WithAffinity): its record is
	// written under the guild's fence.
	ctx, leave, ok := store.Enter(ctx, co.affinity, int64(req.GuildID))
	if !ok {
		return MassResult{Reply: RefusalReply("Nothing was done: this server is now served by another gavel process; try again in a moment."), Err: errShardMoved}
	}
	defer leave()
	plan, err := co.PlanMass(ctx, req)
	if err != nil {
		if r, ok := isRefusal(err); ok {
			return massRefused(r.Problem)
		}
		return MassResult{Reply: RefusalReply(fmt.Sprintf("Nothing was done: gavel could not read what the mass %s needs: %s.", req.Kind, FailureText(err))), Err: err}
	}
	unlock, err := co.locks.Lock(ctx, req.GuildID, massLockID)
	if err != nil {
		return MassResult{Reply: RefusalReply("Nothing was done: the command was cancelled while another mass action of this server ran."), Err: err}
	}
	defer unlock()

	var parent cases.Case
	var massID int64
	meta := map[string]string{cases.MetaMass: string(req.Kind), "mass_targets": strconv.Itoa(len(plan.Targets))}
	for k, v := range req.Metadata {
		meta[k] = v
	}
	err = co.cases.InTx(ctx, req.Moderator.ID, func(tx *cases.Tx) error {
		ps, err := tx.Create([]cases.New{{GuildID: req.GuildID, UserID: req.Moderator.ID, ModeratorID: req.Moderator.ID, Type: cases.Note,
			Status: cases.Active, Reason: req.Reason, Metadata: withNames(meta, req.Moderator, req.Moderator)}})
		if err != nil {
			return err
		}
		parent = ps[0]
		q := tx.StoreTx().Queries()
		ma, err := q.InsertMassAction(tx.Context(), query.InsertMassActionParams{GuildID: int64(req.GuildID), ParentCaseID: parent.ID,
			Kind: string(req.Kind), ModeratorID: int64(req.Moderator.ID), Reason: req.Reason, DeleteSeconds: int64(req.PurgeDays * 86400),
			DurationMs: req.Duration.Milliseconds(), Silent: req.Silent, CreatedAt: tx.NowMS()})
		if err != nil {
			return fmt.Errorf("record the mass action: %w", err)
		}
		massID = ma.ID
		for i, t := range plan.Targets {
			chunk := i
			if req.Kind == MassBan {
				chunk = i / discord.MaxBulkBan
			}
			if err := q.InsertMassTarget(tx.Context(), query.InsertMassTargetParams{MassID: ma.ID, Seq: int64(i), UserID: int64(t.User.ID),
				Member: t.Member, Chunk: int64(chunk)}); err != nil {
				return fmt.Errorf("record target %d: %w", t.User.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return MassResult{Reply: RefusalReply(fmt.Sprintf("%s; nothing was done (no case, no Discord action); try again shortly.", co.storeText(err))), Err: co.dbFailed(err)}
	}
	names := make(map[discord.UserID]string, len(plan.Targets))
	for _, t := range plan.Targets {
		if t.User.Username != "" {
			names[t.User.ID] = t.User.Username
		}
	}
	// The run outlives the command (its timeout, its answer), but not the process's hold on
	// the guild's shard: it holds the guild afresh, and a shard lost stops it between
	// chunks, its record left running for the guild's next owner (ResumeMass).
	held, done, ok := store.Enter(context.WithoutCancel(ctx), co.affinity, int64(req.GuildID))
	if !ok {
		return MassResult{MassID: massID, Parent: &parent, Interrupted: true, Err: errShardMoved,
			Reply: RefusalReply(fmt.Sprintf("Mass action case #%d is recorded, but this server moved to another gavel process before it ran; that process continues it.", parent.Number))}
	}
	defer done()
	r := co.runMass(held, massID, runOpts{names: names, modRoles: req.ModeratorRoles, moderator: req.Moderator,
		cancelled: req.Cancelled, progress: req.Progress})
	r.Parent = &parent
	return r
}

// errShardMoved: this process does not hold the guild's shard (a store.ErrFenced).
var errShardMoved = fmt.Errorf("moderation: the server's shard is held by another gavel process: %w", store.ErrFenced)

// massLockID is the per-guild lock a mass action holds (Locks keys by guild and user; no
// user has id 0), so two mass actions of one guild never interleave their chunks.
const massLockID discord.UserID = 0

// runOpts is what a run of a mass action knows beyond its record.
type runOpts struct {
	names     map[discord.UserID]string
	modRoles  []discord.RoleID
	moderator discord.User
	cancelled func() bool
	progress  func(MassProgress)
	resumed   bool
}

// massRun is one run over a mass action's record.
type massRun struct {
	co      *Coordinator
	ma      query.MassAction
	parent  cases.Case
	targets []query.MassTarget
	opts    runOpts
	// capped says Discord refused a non-member ban with 30035 in this run: the remaining
	// non-members go to the ban-on-join list without another call.
	capped bool
	why    map[string][]discord.UserID
}

func (r *massRun) guild() discord.GuildID { return discord.GuildID(r.ma.GuildID) }

func (r *massRun) progress() MassProgress {
	p := MassProgress{ParentCase: r.parent.Number, Total: len(r.targets)}
	chunks := map[int64]bool{}
	for _, t := range r.targets {
		switch t.State {
		case tDone:
			p.Done++
		case tFailed:
			p.Failed++
		case tListed:
			p.Listed++
		case tCancelled:
			p.Cancelled++
		default:
			p.Left++
		}
		chunks[t.Chunk] = true
	}
	if MassKind(r.ma.Kind) == MassBan {
		p.Chunks = len(chunks)
	}
	return p
}

// runMass runs a mass action's record from where it stands to its end.
func (co *Coordinator) runMass(ctx context.Context, massID int64, o runOpts) MassResult {
	run, err := co.loadMass(ctx, massID, o)
	if err != nil {
		return MassResult{MassID: massID, Reply: RefusalReply(fmt.Sprintf("The mass action could not be read back: %s. gavel will continue it at its next start.", co.storeText(err))), Err: err, Interrupted: true}
	}
	kind := MassKind(run.ma.Kind)
	var chunks []int64
	for _, t := range run.targets {
		if (t.State == tQueued || t.State == tSending) && !slices.Contains(chunks, t.Chunk) {
			chunks = append(chunks, t.Chunk)
		}
	}
	res := MassResult{MassID: massID}
	cancelled := false
	for i, chunk := range chunks {
		if o.cancelled != nil && o.cancelled() {
			cancelled = true
			break
		}
		var err error
		if kind == MassBan {
			err = run.banChunk(ctx, chunk)
		} else {
			err = run.oneByOne(ctx, chunk)
		}
		if err != nil {
			res.Err, res.Interrupted = err, true
			break
		}
		if o.progress != nil {
			p := run.progress()
			p.Chunk = i + 1
			o.progress(p)
		}
	}
	state := "done"
	if cancelled {
		state = "cancelled"
	}
	if !res.Interrupted {
		if err := run.finish(ctx, state); err != nil {
			res.Err, res.Interrupted = err, true
		}
	}
	res.Progress = run.progress()
	res.Failures = run.why
	res.Done = map[discord.UserID]int64{}
	for _, t := range run.targets {
		if t.State == tDone {
			res.Done[discord.UserID(t.UserID)] = t.CaseID.Int64
		}
	}
	res.Parent = &run.parent
	res.Reply = run.reply(res)
	return res
}

func (co *Coordinator) loadMass(ctx context.Context, massID int64, o runOpts) (*massRun, error) {
	q := co.st.WriteQueries()
	ma, err := q.GetMassAction(ctx, massID)
	if err != nil {
		return nil, fmt.Errorf("mass action %d: %w", massID, err)
	}
	ts, err := q.MassTargets(ctx, massID)
	if err != nil {
		return nil, fmt.Errorf("targets of mass action %d: %w", massID, err)
	}
	parent, err := co.cases.Get(ctx, ma.ParentCaseID)
	if err != nil {
		return nil, fmt.Errorf("parent case of mass action %d: %w", massID, err)
	}
	if o.moderator.ID == 0 {
		o.moderator = discord.User{ID: discord.UserID(ma.ModeratorID), Username: parent.Metadata[cases.MetaModeratorName]}
	}
	run := &massRun{co: co, ma: ma, parent: parent, targets: ts, opts: o, why: map[string][]discord.UserID{}}
	for _, t := range ts {
		if t.State == tFailed || t.State == tListed {
			run.why[t.Detail] = append(run.why[t.Detail], discord.UserID(t.UserID))
		}
	}
	return run, nil
}

// outcome is what became of one target of a chunk.
type outcome struct {
	state string
	why   string
}

// banChunk bans one chunk's queued targets with one bulk call and settles their children.
func (r *massRun) banChunk(ctx context.Context, chunk int64) error {
	co := r.co
	var idx []int
	for i, t := range r.targets {
		if t.Chunk == chunk && (t.State == tQueued || t.State == tSending) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	for _, i := range idx {
		unlock, err := co.locks.Lock(ctx, r.guild(), discord.UserID(r.targets[i].UserID))
		if err != nil {
			return err
		}
		defer unlock()
	}
	// Non-members after Discord refused one with 30035 in this run: listed, no call.
	outcomes := map[discord.UserID]outcome{}
	var send []discord.UserID
	for _, i := range idx {
		t := r.targets[i]
		if r.capped && !t.Member {
			outcomes[discord.UserID(t.UserID)] = outcome{tListed, whyListed}
			continue
		}
		send = append(send, discord.UserID(t.UserID))
	}
	// 1. The children, pending, with the chunk's record: a crash after this leaves them to
	// the next start (ResumeMass), which asks Discord's ban list what happened.
	if err := r.recordSending(ctx, idx); err != nil {
		return err
	}
	if len(send) > 0 {
		// 2. One bulk call. A chunk whose answer is unknown is looked up in the ban list and
		// what is not banned is sent once more.
		var res discord.BulkBanResult
		var err error
		for attempt := 0; ; attempt++ {
			res, err = r.bulk(ctx, send)
			if err == nil || Definite(err) || attempt == 1 {
				break
			}
			co.log.Warn("mass ban chunk outcome unknown; reading the ban list", "guild", r.guild(), "mass", r.ma.ID, "chunk", chunk, "err", err)
			banned, lerr := co.bannedSet(ctx, r.guild())
			if lerr != nil {
				return fmt.Errorf("chunk %d: %s, and the ban list could not be read: %w", chunk+1, FailureText(err), lerr)
			}
			var again []discord.UserID
			for _, id := range send {
				if banned[id] {
					outcomes[id] = outcome{tDone, ""}
				} else {
					again = append(again, id)
				}
			}
			if send = again; len(send) == 0 {
				err = nil
				break
			}
		}
		if err != nil && !Definite(err) {
			co.askReconcile(r.guild())
			return fmt.Errorf("chunk %d: Discord's answer is unknown (%s); gavel continues this mass ban at its next start", chunk+1, FailureText(err))
		}
		if err := r.classify(ctx, send, res, err, outcomes); err != nil {
			return err
		}
	}
	// 3. Every child settled from the result, in one transaction.
	return r.settle(ctx, idx, outcomes, fmt.Sprintf("chunk %d", chunk+1))
}

func (r *massRun) bulk(ctx context.Context, ids []discord.UserID) (discord.BulkBanResult, error) {
	var res discord.BulkBanResult
	reason := AuditReason(r.opts.moderator, fmt.Sprintf("Mass ban (case #%d): %s", r.parent.Number, r.ma.Reason))
	err := r.co.exec.Do(ctx, executor.OpBan, func(ctx context.Context) (err error) {
		res, err = r.co.port.BulkBan(ctx, r.guild(), ids, int(r.ma.DeleteSeconds), reason)
		return err
	})
	return res, err
}

// classify says what became of each id sent, from the bulk call's result or error.
// failed_users does not say why: the ban list tells the already banned; a member who failed
// was not permitted; a non-member who is not banned is tried alone, which tells Discord's
// cap on non-member bans (30035, then listed) from an unknown user.
func (r *massRun) classify(ctx context.Context, sent []discord.UserID, res discord.BulkBanResult, callErr error, out map[discord.UserID]outcome) error {
	co := r.co
	member := map[discord.UserID]bool{}
	for _, t := range r.targets {
		member[discord.UserID(t.UserID)] = t.Member
	}
	var failed []discord.UserID
	switch {
	case callErr == nil:
		for _, id := range res.Banned {
			out[id] = outcome{tDone, ""}
		}
		for _, id := range sent {
			if _, ok := out[id]; !ok {
				failed = append(failed, id)
			}
		}
	case discord.IsCode(callErr, discord.CodeMaxNonMemberBans):
		r.capped = true
		for _, id := range sent {
			if member[id] {
				failed = append(failed, id)
			} else {
				out[id] = outcome{tListed, whyListed}
			}
		}
	case discord.IsCode(callErr, discord.CodeFailedToBanUsers):
		// Checked, not assumed: nobody was banned, and each is looked at below.
		failed = append(failed, sent...)
	default:
		why := FailureText(callErr)
		for _, id := range sent {
			out[id] = outcome{tFailed, why}
		}
		return nil
	}
	if len(failed) == 0 {
		return nil
	}
	banned, err := co.bannedSet(ctx, r.guild())
	if err != nil {
		return fmt.Errorf("classifying %d users the bulk ban did not ban: %w", len(failed), err)
	}
	for _, id := range failed {
		switch {
		case banned[id]:
			out[id] = outcome{tFailed, whyAlreadyBanned}
		case member[id]:
			out[id] = outcome{tFailed, whyNotPermitted}
		case r.capped:
			out[id] = outcome{tListed, whyListed}
		default:
			err := co.exec.Do(ctx, executor.OpBan, func(ctx context.Context) error {
				return co.port.Ban(ctx, r.guild(), id, int(r.ma.DeleteSeconds), AuditReason(r.opts.moderator, fmt.Sprintf("Mass ban (case #%d): %s", r.parent.Number, r.ma.Reason)))
			})
			switch {
			case err == nil:
				out[id] = outcome{tDone, ""}
			case discord.IsCode(err, discord.CodeMaxNonMemberBans):
				r.capped = true
				out[id] = outcome{tListed, whyListed}
			case discord.IsCode(err, discord.CodeUnknownUser):
				out[id] = outcome{tFailed, whyUnknownUser}
			default:
				out[id] = outcome{tFailed, FailureText(err)}
			}
		}
	}
	return nil
}

// bannedSet reads the guild's whole ban list, a page of 1,000 at a time.
func (co *Coordinator) bannedSet(ctx context.Context, guildID discord.GuildID) (map[discord.UserID]bool, error) {
	out := map[discord.UserID]bool{}
	var after discord.UserID
	for {
		var page []discord.Ban
		if err := co.read(ctx, func(ctx context.Context) (err error) {
			page, err = co.port.ListBans(ctx, guildID, after, 1000)
			return err
		}); err != nil {
			return nil, err
		}
		for _, b := range page {
			out[b.User.ID] = true
			after = max(after, b.User.ID)
		}
		if len(page) < 1000 {
			return out, nil
		}
	}
}

// recordSending writes the pending children of the targets at idx that have none, and marks
// them sending, in one transaction.
func (r *massRun) recordSending(ctx context.Context, idx []int) error {
	co := r.co
	kind := MassKind(r.ma.Kind)
	var ns []cases.New
	var need []int
	for _, i := range idx {
		t := r.targets[i]
		if t.CaseID.Valid {
			continue
		}
		typ := cases.Ban
		switch {
		case kind == MassKick:
			typ = cases.Kick
		case kind == MassTimeout:
			typ = cases.Timeout
		case !t.Member:
			typ = cases.Hackban
		}
		target := discord.User{ID: discord.UserID(t.UserID), Username: r.opts.names[discord.UserID(t.UserID)]}
		meta := withNames(map[string]string{cases.MetaParentCase: strconv.FormatInt(r.parent.Number, 10)}, target, r.opts.moderator)
		ns = append(ns, cases.New{GuildID: r.guild(), UserID: target.ID, ModeratorID: discord.UserID(r.ma.ModeratorID), Type: typ,
			Status: cases.Pending, Reason: r.ma.Reason, Metadata: meta})
		need = append(need, i)
	}
	err := co.cases.InTx(ctx, discord.UserID(r.ma.ModeratorID), func(tx *cases.Tx) error {
		q := tx.StoreTx().Queries()
		made, err := tx.Create(ns)
		if err != nil {
			return err
		}
		ids := map[int]int64{}
		for j, i := range need {
			ids[i] = made[j].ID
		}
		for _, i := range idx {
			t := r.targets[i]
			caseID := t.CaseID
			if id, ok := ids[i]; ok {
				caseID = sql.NullInt64{Int64: id, Valid: true}
			}
			if err := q.SetMassTarget(tx.Context(), query.SetMassTargetParams{MassID: r.ma.ID, UserID: t.UserID, State: tSending, CaseID: caseID}); err != nil {
				return fmt.Errorf("mark target %d sending: %w", t.UserID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording the chunk's cases: %w", co.dbFailed(err))
	}
	// Read back what was committed (a group commit may have retried the function).
	ts, err := co.st.WriteQueries().MassTargets(ctx, r.ma.ID)
	if err != nil {
		return fmt.Errorf("reading the mass action back: %w", err)
	}
	r.targets = ts
	return nil
}

// settle finalizes the children of the targets at idx from their outcomes in one
// transaction: banned → active (with the expiries a ban makes stale superseded), not banned
// → voided with why, listed → voided and put on the ban-on-join list; the targets' records
// follow, and a history row on the parent says what the step did (which edits its mod-log
// message).
func (r *massRun) settle(ctx context.Context, idx []int, outcomes map[discord.UserID]outcome, what string) error {
	co := r.co
	a, _ := co.massAction(MassKind(r.ma.Kind))
	sc := co.step(PathCommand, Request{GuildID: r.guild(), Moderator: r.opts.moderator, Action: a, Reason: r.ma.Reason}, a)
	var done, failed, listed int
	var settledCases []cases.Case
	err := co.cases.InTx(ctx, discord.UserID(r.ma.ModeratorID), func(tx *cases.Tx) error {
		done, failed, listed = 0, 0, 0
		settledCases = settledCases[:0]
		q := tx.StoreTx().Queries()
		for _, i := range idx {
			t := r.targets[i]
			o, ok := outcomes[discord.UserID(t.UserID)]
			if !ok {
				continue
			}
			var c cases.Case
			if t.CaseID.Valid {
				l, err := tx.Lock(t.CaseID.Int64)
				if err != nil {
					return err
				}
				c = l
				if o.state == tDone && c.Status != cases.Active {
					if err := tx.SetStatus(c, cases.Active, "banned by the mass action's "+what); err != nil {
						return err
					}
					c.Status = cases.Active
					if err := co.settleExpiries(tx, sc, c); err != nil {
						return err
					}
				} else if o.state != tDone && c.Status == cases.Pending {
					if err := tx.SetStatus(c, cases.Voided, o.why); err != nil {
						return err
					}
					c.Status = cases.Voided
				}
				settledCases = append(settledCases, c)
			}
			if o.state == tListed {
				if err := q.AddBanOnJoin(tx.Context(), query.AddBanOnJoinParams{GuildID: int64(r.guild()), UserID: t.UserID, ModeratorID: r.ma.ModeratorID,
					Reason: r.ma.Reason, ParentCaseID: sql.NullInt64{Int64: r.parent.ID, Valid: true}, AddedAt: tx.NowMS()}); err != nil {
					return fmt.Errorf("add %d to the ban-on-join list: %w", t.UserID, err)
				}
			}
			if err := q.SetMassTarget(tx.Context(), query.SetMassTargetParams{MassID: r.ma.ID, UserID: t.UserID, State: o.state, CaseID: t.CaseID, Detail: o.why}); err != nil {
				return fmt.Errorf("record target %d: %w", t.UserID, err)
			}
			switch o.state {
			case tDone:
				done++
			case tListed:
				listed++
			default:
				failed++
			}
		}
		note := fmt.Sprintf("%s: %d %s", what, done, pastTense(MassKind(r.ma.Kind)))
		if failed > 0 {
			note += fmt.Sprintf(", %d not", failed)
		}
		if listed > 0 {
			note += fmt.Sprintf(", %d on the ban-on-join list", listed)
		}
		return tx.Record(r.parent, cases.EventNote, "", "", note)
	})
	if err != nil {
		return fmt.Errorf("settling the %s: %w", what, co.dbFailed(err))
	}
	for _, c := range settledCases {
		co.settled(sc, c.Type, c.Status)
	}
	for _, i := range idx {
		t := &r.targets[i]
		if o, ok := outcomes[discord.UserID(t.UserID)]; ok {
			t.State, t.Detail = o.state, o.why
			if o.state != tDone {
				r.why[o.why] = append(r.why[o.why], discord.UserID(t.UserID))
			}
		}
	}
	return nil
}

// oneByOne runs one target of a mass kick or timeout through the whole pipeline.
func (r *massRun) oneByOne(ctx context.Context, chunk int64) error {
	co := r.co
	i := slices.IndexFunc(r.targets, func(t query.MassTarget) bool { return t.Chunk == chunk })
	t := r.targets[i]
	id := discord.UserID(t.UserID)
	if t.State == tSending {
		// gavel stopped while this one ran: its case, if it was recorded, is settled by
		// reconciliation like any other; running it again could act twice.
		return r.settleOne(ctx, i, outcome{tFailed, "gavel stopped while acting on them; their case, if any, is settled by reconciliation"}, 0)
	}
	if !t.Member {
		return r.settleOne(ctx, i, outcome{tFailed, whyNotMember}, 0)
	}
	if err := co.st.WriteFenced(ctx, func(ctx context.Context, q query.Queries) error {
		return q.SetMassTarget(ctx, query.SetMassTargetParams{MassID: r.ma.ID, UserID: t.UserID, State: tSending})
	}); err != nil {
		return fmt.Errorf("marking target %d: %w", id, co.dbFailed(err))
	}
	a, _ := co.massAction(MassKind(r.ma.Kind))
	res := co.Execute(ctx, Request{GuildID: r.guild(), Moderator: r.opts.moderator, ModeratorRoles: r.opts.modRoles, Action: a,
		Target: Target{ID: id}, Reason: r.ma.Reason, Silent: r.ma.Silent, Duration: time.Duration(r.ma.DurationMs) * time.Millisecond,
		Metadata: map[string]string{cases.MetaParentCase: strconv.FormatInt(r.parent.Number, 10)}})
	var caseID int64
	if res.Case != nil {
		caseID = res.Case.ID
	}
	o := outcome{tDone, ""}
	if res.Case == nil || res.Case.Status != cases.Active {
		o = outcome{tFailed, strings.TrimPrefix(res.Reply.Content, "❌ ")}
	}
	return r.settleOne(ctx, i, o, caseID)
}

// settleOne records what became of one target of a mass kick or timeout, and every 25th
// (and the last) adds the running count to the parent.
func (r *massRun) settleOne(ctx context.Context, i int, o outcome, caseID int64) error {
	co := r.co
	t := &r.targets[i]
	t.State, t.Detail = o.state, o.why
	if caseID != 0 {
		t.CaseID = sql.NullInt64{Int64: caseID, Valid: true}
	}
	if o.state != tDone {
		r.why[o.why] = append(r.why[o.why], discord.UserID(t.UserID))
	}
	p := r.progress()
	return co.cases.InTx(ctx, discord.UserID(r.ma.ModeratorID), func(tx *cases.Tx) error {
		if err := tx.StoreTx().Queries().SetMassTarget(tx.Context(), query.SetMassTargetParams{MassID: r.ma.ID, UserID: t.UserID, State: o.state, CaseID: t.CaseID, Detail: o.why}); err != nil {
			return fmt.Errorf("record target %d: %w", t.UserID, err)
		}
		if n := p.Done + p.Failed; n%25 == 0 || p.Left == 0 {
			return tx.Record(r.parent, cases.EventNote, "", "", fmt.Sprintf("%d of %d %s, %d not", p.Done, p.Total, pastTense(MassKind(r.ma.Kind)), p.Failed))
		}
		return nil
	})
}

// finish ends the record: the targets never tried are cancelled, and the parent's last
// history row sums the mass action up.
func (r *massRun) finish(ctx context.Context, state string) error {
	co := r.co
	err := co.cases.InTx(ctx, discord.UserID(r.ma.ModeratorID), func(tx *cases.Tx) error {
		q := tx.StoreTx().Queries()
		if _, err := q.CancelQueuedMassTargets(tx.Context(), r.ma.ID); err != nil {
			return fmt.Errorf("cancel the rest: %w", err)
		}
		if err := q.SetMassActionState(tx.Context(), query.SetMassActionStateParams{ID: r.ma.ID, State: state, UpdatedAt: tx.NowMS()}); err != nil {
			return fmt.Errorf("end the mass action: %w", err)
		}
		for i := range r.targets {
			if r.targets[i].State == tQueued {
				r.targets[i].State = tCancelled
			}
		}
		return tx.Record(r.parent, cases.EventNote, "", "", r.summary(state))
	})
	if err != nil {
		return fmt.Errorf("ending the mass action: %w", co.dbFailed(err))
	}
	return nil
}

// summary is the parent's last history row and the head of the moderator's reply.
func (r *massRun) summary(state string) string {
	p := r.progress()
	for _, t := range r.targets {
		if t.State == tQueued {
			p.Cancelled++
			p.Left--
		}
	}
	verb := pastTense(MassKind(r.ma.Kind))
	s := fmt.Sprintf("%s: %d of %d %s", map[string]string{"done": "Done", "cancelled": "Cancelled"}[state], p.Done, p.Total, verb)
	if p.Failed > 0 {
		s += fmt.Sprintf(", %d not", p.Failed)
	}
	if p.Listed > 0 {
		s += fmt.Sprintf(", %d on the ban-on-join list", p.Listed)
	}
	if p.Cancelled > 0 {
		s += fmt.Sprintf(", %d never tried (cancelled)", p.Cancelled)
	}
	return s
}

// reply is the moderator's answer: the counts, and who was not acted on and why.
func (r *massRun) reply(res MassResult) discord.Message {
	var b strings.Builder
	p := res.Progress
	kind := MassKind(r.ma.Kind)
	switch {
	case res.Interrupted:
		fmt.Fprintf(&b, "⚠️ Mass %s (case #%d) stopped: %s. So far %d of %d %s.", kind, r.parent.Number, FailureText(res.Err), p.Done, p.Total, pastTense(kind))
		if res.Err != nil && !strings.Contains(res.Err.Error(), "next start") {
			b.WriteString(" gavel continues it at its next start.")
		}
	default:
		state := "done"
		if p.Cancelled > 0 {
			state = "cancelled"
		}
		fmt.Fprintf(&b, "✅ Mass %s (case #%d): %s.", kind, r.parent.Number, r.summary(state))
	}
	reasons := make([]string, 0, len(res.Failures))
	for why := range res.Failures {
		reasons = append(reasons, why)
	}
	slices.Sort(reasons)
	for _, why := range reasons {
		ids := res.Failures[why]
		shown := make([]string, 0, min(len(ids), 20))
		for _, id := range ids[:min(len(ids), 20)] {
			shown = append(shown, id.String())
		}
		more := ""
		if len(ids) > 20 {
			more = fmt.Sprintf(" and %d more", len(ids)-20)
		}
		fmt.Fprintf(&b, "\n• %d %s: %s%s", len(ids), why, strings.Join(shown, ", "), more)
	}
	return discord.Message{Content: b.String(), AllowedMentions: &discord.AllowedMentions{}}
}

// ResumeMass continues every mass action a previous run left running (gavel stopped, or
// Discord's answer to a chunk was unknown). A mass ban's chunk that was being sent is looked
// up in the guild's ban list first: who is banned has their pending child made active (one
// case each, no second ban); the rest are sent again with the chunks never sent. Each
// resumed mass action's parent case gets the summary, which edits its mod-log message.
func (co *Coordinator) ResumeMass(ctx context.Context) ([]MassResult, error) {
	if co.st == nil {
		return nil, nil
	}
	running, err := co.st.WriteQueries().RunningMassActions(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading unfinished mass actions: %w", err)
	}
	var out []MassResult
	for _, ma := range running {
		// Only the process holding the guild's shard continues it (WithAffinity); the
		// others leave it to that one.
		held, done, ok := store.Enter(ctx, co.affinity, ma.GuildID)
		if !ok {
			continue
		}
		res, resumed, err := co.resumeHeld(held, ma)
		done()
		if errors.Is(err, errLockCancelled) {
			if ctx.Err() != nil {
				return out, err
			}
			continue // the guild's shard was lost while it waited: its next owner resumes it
		}
		if !resumed {
			continue
		}
		if err != nil {
			co.log.Error("resuming a mass action", "guild", ma.GuildID, "mass", ma.ID, "err", err)
			out = append(out, MassResult{MassID: ma.ID, Err: err, Interrupted: true})
			continue
		}
		out = append(out, res)
	}
	return out, nil
}

// resumeHeld continues ma under the guild's mass lock, unless it stopped running meanwhile
// (ResumeMass runs again each time this process takes shards, and a run may have ended
// since the list was read): resumed is false then.
func (co *Coordinator) resumeHeld(ctx context.Context, ma query.MassAction) (res MassResult, resumed bool, err error) {
	unlock, err := co.locks.Lock(ctx, discord.GuildID(ma.GuildID), massLockID)
	if err != nil {
		return MassResult{}, false, fmt.Errorf("%w: %w", errLockCancelled, err)
	}
	defer unlock()
	now, err := co.st.WriteQueries().GetMassAction(ctx, ma.ID)
	if err != nil {
		return MassResult{}, true, fmt.Errorf("mass action %d: %w", ma.ID, err)
	}
	if now.State != "running" {
		return MassResult{}, false, nil
	}
	res, err = co.resumeOne(ctx, now)
	return res, true, err
}

// errLockCancelled: ResumeMass stopped waiting for a guild's mass lock (its context ended).
var errLockCancelled = errors.New("moderation: waiting for the server's mass action lock")

func (co *Coordinator) resumeOne(ctx context.Context, ma query.MassAction) (MassResult, error) {
	run, err := co.loadMass(ctx, ma.ID, runOpts{resumed: true})
	if err != nil {
		return MassResult{}, err
	}
	var sending []int
	for i, t := range run.targets {
		if t.State == tSending {
			sending = append(sending, i)
		}
	}
	if len(sending) > 0 && MassKind(ma.Kind) == MassBan {
		banned, err := co.bannedSet(ctx, discord.GuildID(ma.GuildID))
		if err != nil {
			return MassResult{}, fmt.Errorf("reading the ban list: %w", err)
		}
		outcomes := map[discord.UserID]outcome{}
		for _, i := range sending {
			id := discord.UserID(run.targets[i].UserID)
			if banned[id] {
				outcomes[id] = outcome{tDone, ""}
			}
		}
		if len(outcomes) > 0 {
			if err := run.settle(ctx, sending, outcomes, "the chunk sent before gavel restarted"); err != nil {
				return MassResult{}, err
			}
		}
	}
	co.log.Info("continuing a mass action", "guild", ma.GuildID, "mass", ma.ID, "kind", ma.Kind)
	return co.runMass(ctx, ma.ID, runOpts{resumed: true}), nil
}
