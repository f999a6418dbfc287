package moderation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
)

// DefaultDMTimeout bounds how long an action waits for its DM: a slow DM never holds a ban.
const DefaultDMTimeout = 3 * time.Second

// defaultReason is recorded when a request carries none (the front-ends fill one in).
const defaultReason = "No reason provided"

// Target is who a request is aimed at: a user id, or (for unban) a name in the ban list.
type Target struct {
	ID   discord.UserID
	Name string
}

// Request is one moderation command to carry out. The command front-ends build it from
// their parsed invocation (commands.Invocation.Request); the caller has already checked that
// the moderator may use the command.
type Request struct {
	GuildID   discord.GuildID
	Moderator discord.User
	// ModeratorRoles are the moderator's role ids; nil makes the coordinator fetch them.
	ModeratorRoles []discord.RoleID

	Action *Action
	Target Target
	// TargetMember is the target's membership as the command's event carries it (a
	// mention's member in the message, a slash command's resolved member), as of the
	// command; nil when the event carries none, and the pipeline reads it from Discord. A
	// field the event left out is zero (see resolve for what is taken from it).
	TargetMember *discord.Member
	Reason       string
	Silent       bool
	// PurgeDays is how many days of the target's messages a ban deletes.
	PurgeDays int
	// Duration is zero when none was given.
	Duration time.Duration
	// Metadata is recorded on the case (an AutoMod punishment records its rule and match).
	Metadata map[string]string
	// Event is the gateway event the command came from (its message or interaction); zero
	// for requests no event made. The case records it, and a guild holds one case per
	// event, so a replayed command (a RESUME that repeats what was handled) makes no second
	// case, no Discord call and no reply: its Result is Replayed.
	Event discord.EventID
}

// Result is what became of a request. Reply is always set: the success, the refusal or the
// failure, ready to send to the moderator.
type Result struct {
	// Case is the case recorded (voided when the Discord action failed); nil when refused.
	Case    *cases.Case
	Reply   discord.Message
	Refused bool
	// Err is the failure, for logs and metrics; nil on success and on refusal.
	Err error
	// DM says whether the target was told.
	DM DMOutcome
	// Pending says the action's outcome is unknown (no answer from Discord, the command
	// cancelled): Case stays pending until reconciliation settles it.
	Pending bool
	// Replayed says the request's event had already made a case (Request.Event): nothing
	// was done and nothing is to be said; Case is nil, Reply empty.
	Replayed bool
}

// Discord is what moderation asks of Discord: the actions themselves (bans, member
// removals and timeouts, roles, channel overwrites), reading the guild, its members and
// its audit log for the checks and reconciliation, and messages (DMs, the mod log).
type Discord interface {
	discord.Bans
	discord.Users
	discord.Members
	discord.Roles
	discord.Guilds
	discord.Channels
	discord.Messages
	discord.AuditLogs
}

// Coordinator runs moderation actions through the pipeline: the per-target lock, checks with
// no side effect, the pending case, the DM, the Discord calls through the executor, the
// case's final status (which queues the mod-log message, see internal/modlog). It is safe for
// concurrent use.
type Coordinator struct {
	cat       *Catalogue
	port      Discord
	cases     *cases.Service
	settings  *settings.Service
	exec      *executor.Executor
	locks     *Locks
	now       func() time.Time
	log       *slog.Logger
	dmTimeout time.Duration
	botID     discord.UserID
	// expiry schedules and supersedes expiries; nil leaves them out (tests of other parts).
	expiry *expiry.Service
	// timeoutHorizon is the longest timeout applied at once (Discord's 28 days); a longer
	// one is renewed by the expiry poller.
	timeoutHorizon time.Duration
	// external is told about each case mirrored from the audit log (see RecordExternal).
	external ExternalActionObserver
	// observer counts the cases the pipeline settles; nil counts nothing.
	observer CaseObserver
	// reconcileRequest is told of a guild with a case left pending by an unknown outcome.
	reconcileRequest func(guildID discord.GuildID)
	// db tracks the database's reachability from what the pipeline's writes see.
	db *store.Health
	// st keeps the durable record of mass actions (WithStore); nil refuses them.
	st *store.Store
	// standing says where a case leaves its member (escalation's points); nil says nothing.
	standing Standing
	// affinity keeps a mass action's run to the process that owns its guild's shard
	// (WithAffinity); nil: every guild is this process's.
	affinity store.Affinity
}

// WithAffinity keeps the background work of mass actions (the chunks a mass action runs
// after its command answered, and the mass actions left unfinished that ResumeMass
// continues) to the process that owns each guild's shard (the shard leases, store.Enter):
// such work of a guild this process does not own is left to the owner, it stops when the
// shard is lost (its record stays running, for the next owner to continue), and its
// writes are refused once the lease moved.
func WithAffinity(a store.Affinity) CoordinatorOption { return func(c *Coordinator) { c.affinity = a } }

// Standing says where case c leaves its member after it became active, for the moderator's
// reply (who names the member) and the member's DM (who is "you"); "" when there is nothing
// to say. who is written into the text as given: the coordinator asks once with a
// placeholder (standingWho) and puts each reader's name in its place.
type Standing func(ctx context.Context, c cases.Case, who string) string

// standingWho stands for the member in the one Standing the coordinator asks for a case.
const standingWho = "\x00member\x00"

// WithStanding adds where the member stands (escalation's points) to the moderator's reply
// and the member's DM of the actions that DM after acting.
func WithStanding(f Standing) CoordinatorOption { return func(c *Coordinator) { c.standing = f } }

// WithReconcileRequest has the coordinator call f with the guild of every case it leaves
// pending because an action's outcome is unknown, so that reconciliation settles it (upkeep
// runs it once the case is old enough).
func WithReconcileRequest(f func(guildID discord.GuildID)) CoordinatorOption {
	return func(c *Coordinator) { c.reconcileRequest = f }
}

// The paths into the pipeline, as the case metrics name them.
const (
	PathCommand   = "command"
	PathExpiry    = "expiry"
	PathAuditLog  = "audit_log"
	PathReconcile = "reconcile"
	PathAutoMod   = "automod"
	// PathRejail re-applies an active jail to a member who rejoined; it settles no case.
	PathRejail = "rejail"
)

// CaseObserver is told about every case the pipeline settles, whatever the path: made
// active by finalize, or voided because its action failed or never happened.
type CaseObserver interface {
	CaseSettled(path string, t cases.Type, status cases.Status)
}

// WithCaseObserver counts the cases the pipeline settles (the metrics).
func WithCaseObserver(o CaseObserver) CoordinatorOption {
	return func(c *Coordinator) { c.observer = o }
}

func (co *Coordinator) settled(sc *Step, t cases.Type, st cases.Status) {
	if co.observer != nil {
		co.observer.CaseSettled(sc.path, t, st)
	}
}

// CoordinatorOption configures a Coordinator.
type CoordinatorOption func(*Coordinator)

// WithCoordinatorClock makes the coordinator read the time from now.
func WithCoordinatorClock(now func() time.Time) CoordinatorOption {
	return func(c *Coordinator) { c.now = now }
}

// WithLogger sets where failures that do not stop an action (DMs, the mod log) are logged.
func WithLogger(l *slog.Logger) CoordinatorOption { return func(c *Coordinator) { c.log = l } }

// WithDMTimeout bounds how long an action waits for its DM (default DefaultDMTimeout).
func WithDMTimeout(d time.Duration) CoordinatorOption {
	return func(c *Coordinator) { c.dmTimeout = d }
}

// WithBotUserID tells the coordinator gavel's own user id, for the "not the bot" check and
// gavel's place in the role hierarchy. Required.
func WithBotUserID(id discord.UserID) CoordinatorOption { return func(c *Coordinator) { c.botID = id } }

// WithLocks shares the per-target locks with other users of them.
func WithLocks(l *Locks) CoordinatorOption { return func(c *Coordinator) { c.locks = l } }

// WithExpiry makes the coordinator schedule the expiry of temporary actions and supersede
// the pending expiries a later action makes stale, in the transaction that activates the
// case.
func WithExpiry(s *expiry.Service) CoordinatorOption { return func(c *Coordinator) { c.expiry = s } }

// WithTimeoutHorizon sets the longest timeout applied at once (default MaxTimeout, Discord's
// limit); tests shorten it to see a renewal without waiting 28 days.
func WithTimeoutHorizon(d time.Duration) CoordinatorOption {
	return func(c *Coordinator) { c.timeoutHorizon = d }
}

// NewCoordinator returns a coordinator over its dependencies. cat holds every case type's
// action (actions.Catalogue()): the pipeline looks up what to do for a case by its type.
func NewCoordinator(cat *Catalogue, port Discord, cs *cases.Service, st *settings.Service, exec *executor.Executor, opts ...CoordinatorOption) *Coordinator {
	c := &Coordinator{cat: cat, port: port, cases: cs, settings: st, exec: exec, locks: NewLocks(),
		now: time.Now, log: slog.Default(), dmTimeout: DefaultDMTimeout, timeoutHorizon: MaxTimeout}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Execute carries out one request and says what happened.
func (co *Coordinator) Execute(ctx context.Context, req Request) Result {
	return co.execute(ctx, req, cases.Case{})
}

// execute runs the pipeline for req; lifts, when set, is the case the action ends now at a
// moderator's request (LiftCase): the new case and it are linked, and it is processed, in
// the transaction that activates the new case.
func (co *Coordinator) execute(ctx context.Context, req Request, lifts cases.Case) Result {
	a := req.Action
	if a == nil {
		return refused("No action was given.")
	}
	if co.botID == 0 {
		err := errors.New("moderation: the coordinator was built without WithBotUserID")
		return Result{Reply: RefusalReply("gavel is misconfigured: it does not know its own user id. Nothing was done."), Err: err}
	}
	if strings.TrimSpace(req.Reason) == "" {
		req.Reason = defaultReason
	}
	if err := checkArguments(req); err != nil {
		return co.notDone(a, err)
	}

	// 1. Lock the target when the request names it, so that the reads and checks below
	// see what no other action of this process can change until this one is done: each
	// is made once. (An unban by name learns the id from the ban list first.)
	locked := false
	if req.Target.ID != 0 {
		unlock, err := co.locks.Lock(ctx, req.GuildID, req.Target.ID)
		if err != nil {
			return co.notDone(a, err)
		}
		defer unlock()
		locked = true
	}
	// A command's event makes one case: a replay of it (a gateway RESUME repeating what was
	// handled) stops here, before any check could answer it again. Two deliveries at once
	// are caught by the case's own insert (step 4).
	if req.Event != 0 {
		if n, ok, err := co.cases.BySourceEvent(ctx, req.GuildID, req.Event); err != nil {
			return co.unrecorded(req, err)
		} else if ok {
			co.log.Info("a replayed command's case already exists; nothing done", "guild", req.GuildID, "event", req.Event, "case", n)
			return Result{Replayed: true}
		}
	}
	// 2. Resolve the guild, gavel, the moderator and the target.
	sc, modRoles, err := co.resolve(ctx, req)
	if err != nil {
		return co.notDone(a, err)
	}
	sc.liftOf = lifts
	// 3. Checks, with no side effect.
	if err := co.checkWho(req, a, sc, modRoles); err != nil {
		return co.notDone(a, err)
	}
	if err := a.Check(ctx, sc); err != nil {
		return co.notDone(a, err)
	}
	if !locked {
		// Lock the target now, and check again whether another action has lifted the
		// ban meanwhile.
		unlock, err := co.locks.Lock(ctx, req.GuildID, sc.Target.ID)
		if err != nil {
			return co.notDone(a, err)
		}
		defer unlock()
		if err := a.Check(ctx, sc); err != nil {
			return co.notDone(a, err)
		}
	}
	// While Discord is failing the action's calls, gavel would not even try: refuse now,
	// before the case and the DM, rather than announce what will not happen.
	if err := co.checkBreakers(sc); err != nil {
		return co.notDone(a, err)
	}

	// 4. Record the case as pending: no Discord action is ever left without a record.
	c, err := co.record(ctx, sc)
	if err != nil {
		if req.Event != 0 && store.DuplicateEvent(err) {
			co.log.Info("a replayed command's case already exists; nothing done", "guild", req.GuildID, "event", req.Event, "action", a.Name)
			return Result{Replayed: true}
		}
		return co.unrecorded(req, err)
	}
	co.dbOK()
	// From here on the case exists: what follows is written even when the command's
	// context ends (a shutdown, the moderator's interaction expiring), so that the case
	// says what became of the action.
	wctx := context.WithoutCancel(ctx)

	// 5. Tell the target first when the action takes them out of reach.
	dm := DMNotApplicable
	if a.DM == DMBefore {
		dm = co.sendDM(ctx, req, sc, c)
	}

	// 6. Discord.
	note, err := a.Act(ctx, sc)
	if err != nil {
		if !Definite(err) {
			return co.unsettled(wctx, sc, c, dm, err)
		}
		res := co.voided(wctx, sc, c, dm, err)
		if dm == DMSent {
			co.correct(wctx, sc, c)
		}
		return res
	}

	// 7. The case counts now; in the same transaction, its expiry is scheduled and the
	// expiries it makes stale are cancelled.
	active, err := co.finalize(wctx, sc, c, "the action succeeded", co.linkLifted(sc))
	if err != nil {
		text := co.storeText(err)
		err = fmt.Errorf("marking case #%d active: %w", c.Number, co.dbFailed(err))
		co.log.Error("case left pending after its action", "guild", req.GuildID, "case", c.Number, "err", err)
		co.askReconcile(req.GuildID)
		return Result{Case: &c, Reply: RefusalReply(fmt.Sprintf("The %s was done, but %s, so case #%d could not be marked active; it stays pending and gavel will settle it against Discord.", a.Name, text, c.Number)), Err: err, DM: dm, Pending: true}
	}
	c = active

	// Where the member now stands goes into the DM and the reply (escalation's points).
	// Asked once, naming the member by a placeholder that the reply and the DM each
	// replace: every question costs reads (the guild's escalation settings, and with a
	// policy the member's points and the case's firings), the same for both.
	standing := ""
	if co.standing != nil && a.DM == DMAfter {
		if s := co.standing(wctx, c, standingWho); s != "" {
			standing = strings.ReplaceAll(s, standingWho, userRef(sc.Target))
			sc.standingDM = strings.ReplaceAll(s, standingWho, "you")
		}
	}

	// 8. Tell the target afterwards for the other actions.
	if a.DM == DMAfter {
		dm = co.sendDM(ctx, req, sc, c)
	}

	// The mod log follows from the outbox the activation queued (internal/modlog).
	reply := SuccessReply(a, c, sc.Target, dm, note)
	if standing != "" {
		reply.Content += "\n" + standing
	}
	return Result{Case: &c, Reply: reply, DM: dm}
}

// checkBreakers refuses an action one of whose Discord operations is paused by its open
// circuit breaker, saying until when. An action that will make no call (Plan.NoCall) is
// not refused.
func (co *Coordinator) checkBreakers(sc *Step) error {
	if sc.Plan.NoCall {
		return nil
	}
	for _, op := range sc.Action.Ops {
		if until, open := co.exec.OpenUntil(op); open {
			return refuse("Discord has been failing %s requests, so gavel is not sending any until %s. Nothing was done (no case, no DM); try again then.",
				op, discordTime(until))
		}
	}
	return nil
}

// Definite says whether a failed Discord call certainly did not happen: Discord refused it
// (a 4xx), or gavel did not send it (the breaker was open). Anything else — no answer, a
// deadline, a cancelled context, a 5xx — may have happened: its case stays pending until
// reconciliation asks Discord.
func Definite(err error) bool {
	if errors.Is(err, executor.ErrOpen) {
		return true
	}
	if _, ok := isRefusal(err); ok {
		return true
	}
	de := discord.AsError(err)
	return de != nil && de.Status >= 400 && de.Status < 500
}

// unsettled answers an action whose outcome is unknown: its case stays pending, and
// reconciliation settles it from what Discord shows once it is old enough that no action of
// any process can still be running on it.
func (co *Coordinator) unsettled(ctx context.Context, sc *Step, c cases.Case, dm DMOutcome, actErr error) Result {
	req := sc.Request
	co.log.Warn("action outcome unknown; case left pending for reconciliation", "guild", req.GuildID, "case", c.Number, "type", c.Type, "err", actErr)
	if dm == DMSent {
		// Reconciliation reads this to correct the announcement if the action did not happen.
		if _, err := co.cases.AddNote(ctx, req.GuildID, c.Number, req.Moderator.ID, noteToldBefore); err != nil {
			co.log.Warn("recording that the target was told", "guild", req.GuildID, "case", c.Number, "err", co.dbFailed(err))
		}
	}
	co.askReconcile(req.GuildID)
	msg := fmt.Sprintf("gavel does not know whether the %s happened: %s. Case #%d stays pending; gavel will check Discord and settle it (active if the %s shows there, voided if not).",
		req.Action.Name, failureText(actErr), c.Number, req.Action.Name)
	if s := dm.Sentence(); s != "" {
		msg += " " + s
	}
	return Result{Case: &c, Reply: RefusalReply(msg), Err: actErr, DM: dm, Pending: true}
}

// askReconcile tells whoever settles pending cases (WithReconcileRequest) that guildID has
// one to settle.
func (co *Coordinator) askReconcile(guildID discord.GuildID) {
	if co.reconcileRequest != nil {
		co.reconcileRequest(guildID)
	}
}

// correct tells a target who was told of an action that then failed that it did not take
// effect: a short DM after the announcement.
func (co *Coordinator) correct(ctx context.Context, sc *Step, c cases.Case) {
	dctx, cancel := context.WithTimeout(ctx, co.dmTimeout)
	defer cancel()
	msg := Correction(sc.Guild.Name, sc.Action, c)
	if _, err := co.port.SendDM(dctx, sc.Target.ID, msg); err != nil {
		co.log.Info("correction DM not delivered", "guild", sc.Request.GuildID, "user", sc.Target.ID, "case", c.Number, "err", err)
	}
}

// record plans the step's action and records its case as pending, the first write of every
// path that acts on Discord.
func (co *Coordinator) record(ctx context.Context, sc *Step) (cases.Case, error) {
	co.plan(sc)
	req := sc.Request
	c, err := co.cases.Create(ctx, cases.New{
		GuildID: req.GuildID, UserID: sc.Target.ID, ModeratorID: req.Moderator.ID, Type: sc.Type,
		Status: cases.Pending, Reason: req.Reason, RoleIDs: sc.Plan.SavedRoles, ExpiresAt: sc.Plan.Expires,
		Metadata: withNames(req.Metadata, sc.Target, req.Moderator), SourceEvent: req.Event,
	})
	if err != nil {
		return cases.Case{}, err
	}
	sc.Case = c
	return c, nil
}

// withNames is metadata with the target's and the moderator's usernames added, as the
// pipeline knows them now (cases.MetaTargetName, cases.MetaModeratorName), so the mod log
// names them without asking Discord. A name the pipeline does not know (a user known only by
// id carries the id as its name) is left out. meta itself is not changed.
func withNames(meta map[string]string, target, moderator discord.User) map[string]string {
	out := make(map[string]string, len(meta)+2)
	for k, v := range meta {
		out[k] = v
	}
	for key, u := range map[string]discord.User{cases.MetaTargetName: target, cases.MetaModeratorName: moderator} {
		if u.ID != 0 && u.Username != "" && u.Username != strconv.FormatInt(int64(u.ID), 10) {
			out[key] = u.Username
		}
	}
	return out
}

// plan works out what the step's action will do: its expiry, then the action's own plan.
func (co *Coordinator) plan(sc *Step) {
	if d := sc.Request.Duration; d > 0 {
		sc.Plan.Expires = co.now().Add(d)
	}
	if sc.Action.Plan != nil {
		sc.Action.Plan(sc)
	}
}

// finalize makes pending case c active and, in the same transaction, cancels the open
// expiries the case makes stale, schedules its own, and runs more (the path's own records: a
// lift links and processes the case it ends). The mod log follows from the same transaction
// (its outbox, see internal/modlog). Every path that settles a case as active goes through it.
func (co *Coordinator) finalize(ctx context.Context, sc *Step, c cases.Case, note string, more func(tx *cases.Tx, c cases.Case) error) (cases.Case, error) {
	var out cases.Case
	err := co.cases.InTx(ctx, sc.Request.Moderator.ID, func(tx *cases.Tx) error {
		// The common case in one statement; the general path when another writer changed
		// the case first (its rules then decide).
		l, ok, err := tx.Activate(c.ID, note)
		if err != nil {
			return err
		}
		if !ok {
			if l, err = tx.Lock(c.ID); err != nil {
				return err
			}
			if l.Status != cases.Active {
				if err := tx.SetStatus(l, cases.Active, note); err != nil {
					return err
				}
				l.Status = cases.Active
			}
		}
		if err := co.settleExpiries(tx, sc, l); err != nil {
			return err
		}
		if more != nil {
			if err := more(tx, l); err != nil {
				return err
			}
		}
		out = l
		return nil
	})
	if err == nil {
		co.settled(sc, out.Type, cases.Active)
	}
	return out, err
}

// settleExpiries cancels the open expiries active case c makes stale and schedules its own,
// inside tx; nothing without an expiry service.
func (co *Coordinator) settleExpiries(tx *cases.Tx, sc *Step, c cases.Case) error {
	if co.expiry == nil || sc.decidedLater {
		return nil
	}
	a, ok := co.cat.ByCase(c.Type)
	if !ok {
		return fmt.Errorf("case #%d: no action for case type %s", c.Number, c.Type)
	}
	if len(a.Supersedes) > 0 && !sc.expiryRun {
		why := sc.supersedeWhy
		if why == "" {
			why = fmt.Sprintf("a later %s by %s", strings.ToLower(string(c.Type)), sc.Request.Moderator.Username)
		}
		if _, err := co.expiry.SupersedeTx(tx, c.GuildID, c.UserID, a.Supersedes, c, why); err != nil {
			return err
		}
	}
	if a.Expiry == "" || c.ExpiresAt.IsZero() {
		return nil
	}
	kind, at := a.Expiry, c.ExpiresAt
	if a.Renew != "" && !sc.Plan.RenewAt.IsZero() && sc.Plan.RenewAt.Before(at) {
		kind, at = a.Renew, sc.Plan.RenewAt
	}
	_, err := co.expiry.ScheduleTx(tx, c, kind, at)
	return err
}

// RenewLead is how long before an applied timeout ends that the renewal runs: an hour, or a
// quarter of a (test's) shorter horizon, so the member is never left untimed between two.
func RenewLead(horizon time.Duration) time.Duration { return min(time.Hour, horizon/4) }

func refused(problem string) Result {
	return Result{Reply: RefusalReply(problem), Refused: true}
}

// notDone turns an error before the case was recorded into a result: a refusal, or a
// failure to find out what was needed (from Discord or gavel's database).
func (co *Coordinator) notDone(a *Action, err error) Result {
	if r, ok := isRefusal(err); ok {
		return refused(r.Problem)
	}
	if discord.AsError(err) == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, executor.ErrOpen) {
		// Not Discord: gavel's own database (settings, cases) failed.
		text := co.storeText(err)
		return Result{Reply: RefusalReply(fmt.Sprintf("%s; nothing was done; try again shortly.", text)), Err: co.dbFailed(err)}
	}
	return Result{Reply: RefusalReply(fmt.Sprintf("Nothing was done: gavel could not read what the %s needs from Discord: %s.", a.Name, failureText(err))), Err: err}
}

// unrecorded answers a command whose case could not be recorded: nothing happened.
func (co *Coordinator) unrecorded(req Request, err error) Result {
	text := co.storeText(err)
	return Result{Reply: RefusalReply(fmt.Sprintf("%s; nothing was done (no case, no DM, no Discord action); try again shortly.", text)), Err: co.dbFailed(err)}
}

// step starts a step of action a for req.
func (co *Coordinator) step(path string, req Request, a *Action) *Step {
	return &Step{Request: req, Action: a, Type: a.Case, path: path, co: co}
}

// resolve fetches what the checks need: the guild, gavel's membership, the moderator's roles
// and the target (from the command's event when it carries the target's member and the
// action can use it, else from Discord).
func (co *Coordinator) resolve(ctx context.Context, req Request) (*Step, []discord.RoleID, error) {
	a := req.Action
	sc := co.step(PathCommand, req, a)
	if err := co.read(ctx, func(ctx context.Context) (err error) {
		sc.Guild, err = co.port.Guild(ctx, req.GuildID)
		return err
	}); err != nil {
		return nil, nil, fmt.Errorf("reading the server: %w", err)
	}
	if err := co.read(ctx, func(ctx context.Context) (err error) {
		sc.Bot, err = co.port.Member(ctx, req.GuildID, co.botID)
		return err
	}); err != nil {
		return nil, nil, fmt.Errorf("reading gavel's own membership: %w", err)
	}
	modRoles := req.ModeratorRoles
	if modRoles == nil && req.Moderator.ID != sc.Guild.OwnerID {
		var m discord.Member
		if err := co.read(ctx, func(ctx context.Context) (err error) {
			m, err = co.port.Member(ctx, req.GuildID, req.Moderator.ID)
			return err
		}); err != nil {
			return nil, nil, fmt.Errorf("reading your roles: %w", err)
		}
		modRoles = m.Roles
	}
	if a.JailRole {
		g, err := co.settings.Get(ctx, req.GuildID)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the server's settings: %w", err)
		}
		sc.JailRole = g.JailRoleID
	}

	targetID := req.Target.ID
	if targetID == 0 {
		if a.Target != TargetBanned || strings.TrimSpace(req.Target.Name) == "" {
			return nil, nil, refuse("Say whom to %s: a mention or a user id.", a.Name)
		}
		u, err := co.findBanned(ctx, req.GuildID, req.Target.Name)
		if err != nil {
			return nil, nil, err
		}
		sc.Target = u
		return sc, modRoles, nil
	}
	if a.Target == TargetBanned {
		sc.Target = discord.User{ID: targetID, Username: fmt.Sprint(targetID)}
		var ban discord.Ban
		var banned bool
		if err := co.read(ctx, func(ctx context.Context) (err error) {
			ban, banned, err = co.port.GetBan(ctx, req.GuildID, targetID)
			return err
		}); err != nil {
			return nil, nil, fmt.Errorf("checking the ban of user %d: %w", targetID, err)
		}
		if banned && ban.User.ID != 0 {
			sc.Target = ban.User
		}
		return sc, modRoles, nil
	}
	if m := req.TargetMember; m != nil && m.User.ID == targetID && !a.FreshMember {
		// The target as the command's event carries it, instead of a REST read per command:
		// the member as of the command, like the moderator's own roles (ModeratorRoles), so
		// that the rank checks compare the two at one moment. Package guildstate's comment
		// gives the reasoning: Discord enforces its own hierarchy and permissions on the
		// action, so a value as of the command can at worst refuse what Discord would allow
		// or meet a 403, which voids the case; it cannot make Discord do what it refuses.
		// Per field: the user (id, names) and the roles that the rank and administrator
		// checks read come from the event (every member object states its roles; the
		// gateway keeps a mention's member only when it does). An action that reads more
		// says FreshMember and reads Discord as before: the timeout (timeout, untimeout),
		// which a partial member may leave out and which a timeout gavel itself applied
		// just before, waiting on this target's lock, changed after the event; and the role
		// list a jail or unjail writes back whole, where a role given since the message
		// would be dropped (and a jail would not save it).
		sc.Member, sc.IsMember, sc.Target = *m, true, m.User
		if sc.Target.Username == "" {
			sc.Target.Username = fmt.Sprint(targetID)
		}
		return sc, modRoles, nil
	}
	err := co.read(ctx, func(ctx context.Context) (err error) {
		sc.Member, err = co.port.Member(ctx, req.GuildID, targetID)
		return err
	})
	switch {
	case err == nil:
		sc.IsMember = true
		sc.Target = sc.Member.User
	case discord.IsCode(err, discord.CodeUnknownMember):
		if a.Target != TargetUser {
			return nil, nil, refuse("%d is not a member of this server.", targetID)
		}
		// Not a member: Discord still names any user to a bot, and the case keeps that
		// name (a HACKBAN's mod-log post and the case list say who it was).
		sc.Target = discord.User{ID: targetID, Username: fmt.Sprint(targetID)}
		var u discord.User
		err := co.read(ctx, func(ctx context.Context) (err error) {
			u, err = co.port.User(ctx, targetID)
			return err
		})
		switch {
		case err == nil && u.Username != "":
			sc.Target = u
		case discord.IsCode(err, discord.CodeUnknownUser):
			return nil, nil, refuse("No Discord user has the id %d.", targetID)
		case err != nil:
			// The name is a nicety: the action goes on, the case names the user by id.
			co.log.Warn("reading the name of a user who is not a member", "guild", req.GuildID, "user", targetID, "err", err)
		}
		if a.NonMember != "" {
			sc.Type = a.NonMember
		}
	case discord.IsCode(err, discord.CodeUnknownUser):
		return nil, nil, refuse("No Discord user has the id %d.", targetID)
	default:
		return nil, nil, fmt.Errorf("reading user %d: %w", targetID, err)
	}
	if sc.Target.Username == "" {
		sc.Target.Username = fmt.Sprint(targetID)
	}
	return sc, modRoles, nil
}

func (co *Coordinator) read(ctx context.Context, fn func(ctx context.Context) error) error {
	return co.exec.Do(ctx, executor.OpRead, fn)
}

// sendDM tells the target, unless -silent, and gives up after the DM timeout: a DM never
// blocks the action. Nobody is messaged who shares no server with gavel (a ban by id of a
// non-member), nor about an action that changed nothing they can see (Plan.NoCall).
func (co *Coordinator) sendDM(ctx context.Context, req Request, sc *Step, c cases.Case) DMOutcome {
	switch {
	case req.Action.DM == DMNone:
		return DMNotApplicable
	case sc.Plan.NoCall:
		return DMUnchanged
	case req.Silent:
		return DMSilent
	case !sc.IsMember:
		return DMNotMember
	}
	dctx, cancel := context.WithTimeout(ctx, co.dmTimeout)
	defer cancel()
	msg := DM(sc.Guild.Name, req.Action, c, req.Duration)
	if sc.standingDM != "" {
		msg.Embeds[0].Fields = append(msg.Embeds[0].Fields, discord.EmbedField{Name: "Points", Value: sc.standingDM})
	}
	_, err := co.port.SendDM(dctx, sc.Target.ID, msg)
	if err != nil {
		co.log.Info("DM not delivered", "guild", req.GuildID, "user", sc.Target.ID, "case", c.Number, "err", err)
	}
	return dmOutcome(err)
}

// voided records that the Discord action failed and tells the moderator what happened.
func (co *Coordinator) voided(ctx context.Context, sc *Step, c cases.Case, dm DMOutcome, actErr error) Result {
	req := sc.Request
	why := failureText(actErr)
	vc, err := co.cases.Void(ctx, req.GuildID, c.Number, req.Moderator.ID, why)
	if err != nil {
		text := co.storeText(err)
		err = co.dbFailed(err)
		co.log.Error("failed action's case not voided", "guild", req.GuildID, "case", c.Number, "err", err)
		co.askReconcile(req.GuildID)
		return Result{Case: &c, Reply: RefusalReply(fmt.Sprintf("The %s failed: %s. %s, so case #%d could not be voided; it stays pending and gavel will settle it against Discord.", req.Action.Name, why, text, c.Number)),
			Err: errors.Join(actErr, err), DM: dm, Pending: true}
	}
	co.settled(sc, vc.Type, cases.Voided)
	msg := fmt.Sprintf("The %s failed: %s. Case #%d is voided.", req.Action.Name, why, vc.Number)
	if dm == DMSent {
		msg += " They had already been messaged about it, so gavel sent them a correction."
	}
	return Result{Case: &vc, Reply: RefusalReply(msg), Err: actErr, DM: dm}
}

func failureText(err error) string { return FailureText(err) }

// FailureText says what a failed Discord call means, in the moderator's terms and with what
// to do. It never quotes an error's own text (a library's or Discord's words, which may name
// internals): the log has those.
func FailureText(err error) string {
	if r, ok := isRefusal(err); ok {
		return r.Problem
	}
	var open *executor.OpenError
	if errors.As(err, &open) {
		return open.Error()
	}
	if de := discord.AsError(err); de != nil {
		switch {
		case de.Code == discord.CodeUnknownMember:
			return "they left the server"
		case de.Code == discord.CodeUnknownBan:
			return "Discord has no such ban"
		case de.Code == discord.CodeUnknownUser:
			return "Discord knows no such user"
		case de.Status == http.StatusForbidden:
			return "gavel lacks permission or the target is above gavel's role (check gavel's role position and permissions)"
		case de.Status == http.StatusTooManyRequests:
			return "Discord is rate-limiting gavel; try again in a minute"
		case de.Status == 0 && errors.Is(err, context.DeadlineExceeded):
			return "Discord did not answer in time"
		case de.Status == 0 && errors.Is(err, context.Canceled):
			return "gavel stopped waiting for Discord (the command was cancelled or gavel is shutting down)"
		case de.Status == 0:
			return "the connection to Discord failed before an answer came"
		case de.Status >= 500:
			return fmt.Sprintf("Discord failed (HTTP %d); try again later", de.Status)
		case de.Code != 0:
			return fmt.Sprintf("Discord refused it (HTTP %d, error %d)", de.Status, de.Code)
		}
		return fmt.Sprintf("Discord refused it (HTTP %d)", de.Status)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "Discord did not answer in time"
	case errors.Is(err, context.Canceled):
		return "gavel stopped waiting for Discord (the command was cancelled or gavel is shutting down)"
	}
	return "something failed inside gavel (its log has the details)"
}
