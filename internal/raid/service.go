package raid

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/lockdown"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// RenewLead is how long before Discord's 24-hour limit runs out the pause is renewed: a
// paused guild is renewed every 23 hours, with an hour to spare for retries.
const RenewLead = time.Hour

// Work is where the service runs what a join sets off: the moderation pipeline (built at
// READY) and the work in flight that a shutdown waits for. app's flight satisfies it.
type Work interface {
	Begin() (*moderation.Coordinator, bool)
	End()
	Context() context.Context
}

// Config is what the service works with.
type Config struct {
	Store    *store.Store
	Cases    *cases.Service
	Expiry   *expiry.Service
	Settings *settings.Service
	// Catalogue supplies the actions a joiner policy runs (timeout, kick, ban).
	Catalogue *moderation.Catalogue
	Safety    discord.GuildSafety
	// Lockdowns runs the lockdown response (settings.Raid.Lockdown); nil where lockdowns do
	// not run (the response is then recorded as failed).
	Lockdowns Lockdowns
	Work      Work
	Clock     clock.Clock
	Log       *slog.Logger
	// Observe, when set, is told of each step a raid takes, once it is committed (tests and
	// the benchmark wait on it instead of sleeping).
	Observe func(Step)
	// Affinity keeps each guild's raid work (its joins counted, its raid's record, its
	// responses and their undoing) to the process that owns the guild's shard (the shard
	// leases, store.Enter): a task of a guild this process does not own is dropped, a task
	// under way is cancelled when the shard is lost, and its writes are refused once the
	// lease moved. nil: every guild is this process's.
	Affinity store.Affinity
}

// Lockdowns is the lockdown service as raid mode uses it: the server lockdown it starts,
// and its end when raid mode ends. lockdown.Service satisfies it.
type Lockdowns interface {
	Lock(ctx context.Context, req lockdown.LockRequest) (lockdown.LockResult, error)
	End(ctx context.Context, id int64, by discord.User, reason string) (lockdown.EndResult, error)
}

// Step is one thing a raid did, as Observe hears it.
type Step struct {
	GuildID discord.GuildID
	Raid    int64 // the raid's number
	Kind    string
	Detail  string
	At      time.Time
}

// Service detects raids and runs raid mode. It is safe for concurrent use.
type Service struct {
	cfg   Config
	det   *Detector
	now   func() time.Time
	log   *slog.Logger
	botMu sync.Mutex
	botID discord.UserID

	// queues runs each guild's raid work in the order its joins arrived, one at a time.
	qmu    sync.Mutex
	queues map[discord.GuildID]*queue
	// reported is the newest raid report seen of each guild (under qmu).
	reported map[discord.GuildID]time.Time
	// dirty holds the guilds whose open raid gained candidates since its message was last
	// refreshed, and when that was (under qmu).
	dirty     map[discord.GuildID]bool
	refreshed map[discord.GuildID]time.Time
}

// RefreshEvery is how often, during a burst of joins, the raid's mod-log message is brought
// up to date; a burst's end (the guild's queue empty) refreshes it at once.
const RefreshEvery = 5 * time.Second

// reportFresh is how old a raid report of Discord's may be and still start raid mode: an
// older one is history (every GUILD_UPDATE repeats the last raid_detected_at).
const reportFresh = 10 * time.Minute

type queue struct {
	tasks   []func(ctx context.Context, co *moderation.Coordinator)
	running bool
}

// New returns the service.
func New(cfg Config) *Service {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := clock.OrSystem(cfg.Clock)
	return &Service{cfg: cfg, det: NewDetector(), now: c.Now, log: cfg.Log, queues: map[discord.GuildID]*queue{}, reported: map[discord.GuildID]time.Time{},
		dirty: map[discord.GuildID]bool{}, refreshed: map[discord.GuildID]time.Time{}}
}

// Detector is the service's detector (the dashboard reads the live join rate from it).
func (s *Service) Detector() *Detector { return s.det }

// SetBot tells the service gavel's own user id (known at READY): the moderator of what
// gavel does by itself and the target of a RAID case.
func (s *Service) SetBot(id discord.UserID) {
	s.botMu.Lock()
	s.botID = id
	s.botMu.Unlock()
}

func (s *Service) bot() discord.UserID {
	s.botMu.Lock()
	defer s.botMu.Unlock()
	return s.botID
}

// enqueue runs task after the guild's earlier tasks, as work in flight. It returns false
// when the process is closing (or not yet READY) and the task was dropped.
func (s *Service) enqueue(guildID discord.GuildID, task func(ctx context.Context, co *moderation.Coordinator)) {
	s.qmu.Lock()
	q := s.queues[guildID]
	if q == nil {
		q = &queue{}
		s.queues[guildID] = q
	}
	q.tasks = append(q.tasks, task)
	if q.running {
		s.qmu.Unlock()
		return
	}
	q.running = true
	s.qmu.Unlock()
	go s.drain(guildID, q)
}

func (s *Service) drain(guildID discord.GuildID, q *queue) {
	for {
		s.qmu.Lock()
		var task func(ctx context.Context, co *moderation.Coordinator)
		switch {
		case s.dirty[guildID] && (len(q.tasks) == 0 || s.now().Sub(s.refreshed[guildID]) >= RefreshEvery):
			delete(s.dirty, guildID)
			s.refreshed[guildID] = s.now()
			task = func(ctx context.Context, co *moderation.Coordinator) {
				if co != nil {
					s.refresh(ctx, guildID)
				}
			}
		case len(q.tasks) == 0:
			q.running = false
			s.qmu.Unlock()
			return
		default:
			task = q.tasks[0]
			q.tasks = q.tasks[1:]
		}
		s.qmu.Unlock()
		co, ok := s.cfg.Work.Begin()
		if !ok {
			// Closing (or not READY): the task is told, with no pipeline, and drops its work.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			task(ctx, nil)
			continue
		}
		func() {
			defer s.cfg.Work.End()
			ctx, cancel := context.WithTimeout(s.cfg.Work.Context(), 2*time.Minute)
			defer cancel()
			held, done, ok := store.Enter(ctx, s.cfg.Affinity, int64(guildID))
			if !ok {
				// The guild's shard is another process's: its joins are counted and its raid
				// run there. The task is told, as at a shutdown, with the reason.
				s.log.Info("raid: dropping work of a guild whose shard this process does not hold", "guild", guildID)
				ctx, cancel := context.WithCancelCause(ctx)
				cancel(errNotOwned)
				task(ctx, nil)
				return
			}
			defer done()
			task(held, co)
		}()
	}
}

// errNotOwned is why a guild's task was dropped: this process does not hold the guild's
// shard (a store.ErrFenced, so that a command's answer says the server moved).
var errNotOwned = fmt.Errorf("raid: this server is served by another gavel process now: %w", store.ErrFenced)

// enter starts work on guildID outside the guild's queue under the shard leases
// (Config.Affinity): false when this process does not own the guild.
func (s *Service) enter(ctx context.Context, guildID discord.GuildID) (context.Context, func(), bool) {
	return store.Enter(ctx, s.cfg.Affinity, int64(guildID))
}

// serial runs f in the guild's queue, after the joins and changes before it, and waits for
// it: starting and ending raid mode never interleave with each other or with a join's work.
func (s *Service) serial(ctx context.Context, guildID discord.GuildID, f func(ctx context.Context, co *moderation.Coordinator) error) error {
	done := make(chan error, 1)
	s.enqueue(guildID, func(qctx context.Context, co *moderation.Coordinator) {
		if co == nil {
			if cause := context.Cause(qctx); errors.Is(cause, store.ErrFenced) {
				done <- cause
				return
			}
			done <- errors.New("gavel is shutting down, or not connected to Discord yet; try again in a moment")
			return
		}
		// The caller's deadline and the queue's both bound it; its writes are fenced by the
		// queue's hold on the guild (the freshest: the caller's may be an expiry's or a
		// command's, taken before the task waited its turn).
		ctx, cancel := context.WithCancel(store.FenceFrom(ctx, qctx))
		defer cancel()
		stop := context.AfterFunc(qctx, cancel)
		defer stop()
		done <- f(ctx, co)
	})
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MemberJoined is a member's arrival (GUILD_MEMBER_ADD): the detector judges it at once, in
// the order joins arrive; what follows (starting raid mode, adding the joiner to an open
// raid and applying the joiner policy) runs in the guild's queue.
func (s *Service) MemberJoined(j Join) {
	if j.JoinedAt.IsZero() {
		j.JoinedAt = s.now()
	}
	s.enqueue(j.GuildID, func(ctx context.Context, co *moderation.Coordinator) {
		if co == nil {
			return
		}
		if err := s.joined(ctx, co, j); err != nil {
			s.log.Error("raid defence: a join", "guild", j.GuildID, "user", j.UserID, "err", err)
		}
	})
}

// DiscordReported is Discord's own raid signal (incidents_data.raid_detected_at moving, or
// the raid-report system message): it starts raid mode in a guild that opted in.
func (s *Service) DiscordReported(guildID discord.GuildID, at time.Time) {
	// Every GUILD_UPDATE carries the last raid_detected_at: only a new, recent one is news.
	s.qmu.Lock()
	seen := s.reported[guildID]
	fresh := at.After(seen) && s.now().Sub(at) < reportFresh
	if fresh {
		s.reported[guildID] = at
	}
	s.qmu.Unlock()
	if !fresh {
		return
	}
	s.enqueue(guildID, func(ctx context.Context, co *moderation.Coordinator) {
		if co == nil {
			return
		}
		cfg, err := s.cfg.Settings.GetRaid(ctx, guildID)
		if err != nil || !cfg.Enabled || !cfg.DiscordSignal {
			return
		}
		if _, open, err := s.open(ctx, guildID); err != nil || open {
			return
		}
		cands := s.det.Candidates(guildID, at.Add(-2*cfg.Window), at)
		if _, err := s.start(ctx, co, startRequest{guildID: guildID, trigger: TriggerDiscord, by: discord.User{ID: s.bot(), Username: "gavel"},
			reason: "Discord reported a raid", at: at, candidates: cands, cfg: cfg}); err != nil {
			s.log.Error("raid defence: Discord's raid report", "guild", guildID, "err", err)
		}
	})
}

func (s *Service) joined(ctx context.Context, co *moderation.Coordinator, j Join) error {
	cfg, err := s.cfg.Settings.GetRaid(ctx, j.GuildID)
	if err != nil {
		return err
	}
	v := s.det.Add(j, cfg)
	r, open, err := s.open(ctx, j.GuildID)
	if err != nil {
		return err
	}
	if open {
		return s.joinedDuring(ctx, co, r, j, v, cfg)
	}
	if !cfg.Enabled || !v.Raid {
		return nil
	}
	cands := s.det.Candidates(j.GuildID, j.JoinedAt.Add(-2*cfg.Window), j.JoinedAt)
	reason := fmt.Sprintf("Raid detected: %d joins within %s", v.Counted, settingsShort(cfg.Window))
	if v.Trigger == TriggerSuspicious {
		reason = fmt.Sprintf("Raid detected: %d joins within %s, %d of them suspicious", v.Counted, settingsShort(cfg.Window), v.Suspicious)
	}
	_, err = s.start(ctx, co, startRequest{guildID: j.GuildID, trigger: v.Trigger, by: discord.User{ID: s.bot(), Username: "gavel"},
		reason: reason, at: j.JoinedAt, candidates: cands, cfg: cfg})
	return err
}

// joinedDuring adds a joiner to the open raid, keeps raid mode on while joins surge, and
// applies the joiner policy through the pipeline (a child case).
func (s *Service) joinedDuring(ctx context.Context, co *moderation.Coordinator, r query.Raid, j Join, v Verdict, cfg settings.Raid) error {
	if !counted(j) {
		return nil
	}
	now := s.now().UnixMilli()
	err := s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		q := tx.Queries()
		if _, err := q.InsertRaidMember(tx.Context(), memberParams(r.ID, j, true, now)); err != nil {
			return fmt.Errorf("add raid member: %w", err)
		}
		if v.Surge {
			if err := q.SetRaidLastJoin(tx.Context(), query.SetRaidLastJoinParams{ID: r.ID, LastJoinAt: j.JoinedAt.UnixMilli()}); err != nil {
				return fmt.Errorf("raid last join: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.qmu.Lock()
	s.dirty[j.GuildID] = true
	s.qmu.Unlock()
	if cfg.Joiner == settings.JoinerNone {
		return nil
	}
	return s.act(ctx, co, r, j.UserID, j.Username, cfg.Joiner, cfg.JoinerTimeout, s.botUser(), "joined during raid mode")
}

// refresh brings the open raid's mod-log message up to date with its candidates: a note on
// its case (the mod log renders the case again, with Decorate).
func (s *Service) refresh(ctx context.Context, guildID discord.GuildID) {
	r, open, err := s.open(ctx, guildID)
	if err != nil || !open {
		return
	}
	n, err := s.cfg.Store.Queries().CountRaidMembers(ctx, r.ID)
	if err == nil {
		err = s.note(ctx, r, "counted", s.bot(), fmt.Sprintf("%d candidates", n))
	}
	if err != nil {
		s.log.Warn("raid: refreshing the raid's message", "guild", guildID, "raid", r.Number, "err", err)
	}
}

func (s *Service) botUser() discord.User {
	return discord.User{ID: s.bot(), Username: "gavel", Bot: true}
}

// act runs one policy on one member of raid r through the pipeline, as moderator: a child
// case (metadata raid and parent_case), and the member's state in the raid.
func (s *Service) act(ctx context.Context, co *moderation.Coordinator, r query.Raid, userID discord.UserID, name string, what settings.JoinerAction, timeout time.Duration, moderator discord.User, why string) error {
	t, state := cases.Timeout, "timed_out"
	switch what {
	case settings.JoinerKick:
		t, state = cases.Kick, "kicked"
	case settings.JoinerBan:
		t, state = cases.Ban, "banned"
	}
	a, ok := s.cfg.Catalogue.ByCase(t)
	if !ok {
		return fmt.Errorf("no %s action", t)
	}
	parent, err := s.cfg.Cases.Get(ctx, r.CaseID)
	if err != nil {
		return err
	}
	req := moderationRequest(r, parent, a, userID, name, moderator, why)
	if t == cases.Timeout {
		req.Duration = timeout
	}
	res := co.Execute(ctx, req)
	if res.Case == nil || res.Case.Status == cases.Voided {
		state = "failed"
	}
	var caseID sql.NullInt64
	detail := fmt.Sprintf("%s %d", t, userID)
	if res.Case != nil {
		caseID = sql.NullInt64{Int64: res.Case.ID, Valid: true}
		detail += fmt.Sprintf(": case #%d (%s)", res.Case.Number, res.Case.Status)
	} else {
		detail += ": refused: " + res.Reply.Content
	}
	err = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		now := s.now().UnixMilli()
		if err := tx.Queries().SetRaidMemberState(tx.Context(), query.SetRaidMemberStateParams{RaidID: r.ID, UserID: int64(userID), State: state,
			CaseID: caseID, UpdatedAt: now}); err != nil {
			return fmt.Errorf("raid member state: %w", err)
		}
		return s.event(tx, r, "member_"+state, moderator.ID, detail, now)
	})
	if err != nil {
		return err
	}
	s.told(r, "member_"+state, detail)
	return res.Err
}

// event appends one row to the raid's record, inside tx.
func (s *Service) event(tx *store.Tx, r query.Raid, kind string, actor discord.UserID, detail string, nowMS int64) error {
	if actor == 0 {
		actor = s.bot()
	}
	err := tx.Queries().InsertRaidEvent(tx.Context(), query.InsertRaidEventParams{RaidID: r.ID, GuildID: r.GuildID, Kind: kind,
		ActorID: int64(actor), Detail: detail, CreatedAt: nowMS})
	if err != nil {
		return fmt.Errorf("raid event %s: %w", kind, err)
	}
	return nil
}

func (s *Service) told(r query.Raid, kind, detail string) {
	if s.cfg.Observe != nil {
		s.cfg.Observe(Step{GuildID: discord.GuildID(r.GuildID), Raid: r.Number, Kind: kind, Detail: detail, At: s.now()})
	}
}

// open returns the guild's open raid, if any.
func (s *Service) open(ctx context.Context, guildID discord.GuildID) (query.Raid, bool, error) {
	r, err := s.cfg.Store.Queries().OpenRaid(ctx, int64(guildID))
	if errors.Is(err, sql.ErrNoRows) {
		return query.Raid{}, false, nil
	}
	if err != nil {
		return query.Raid{}, false, fmt.Errorf("open raid of guild %d: %w", guildID, err)
	}
	return r, true, nil
}

func memberParams(raidID int64, j Join, after bool, nowMS int64) query.InsertRaidMemberParams {
	name := j.Username
	if name == "" {
		name = strconv.FormatInt(int64(j.UserID), 10)
	}
	return query.InsertRaidMemberParams{RaidID: raidID, UserID: int64(j.UserID), Username: name, JoinedAt: j.JoinedAt.UnixMilli(),
		AccountCreatedAt: j.CreatedAt().UnixMilli(), DefaultAvatar: j.DefaultAvatar, Rejoined: j.Rejoined, AfterDetection: after, UpdatedAt: nowMS}
}

func settingsShort(d time.Duration) string {
	r := settings.DefaultRaid()
	r.Window = d
	return r.Value(settings.RaidWindow)
}

// moderationRequest is one action of raid r on a member, through the pipeline: a child case
// of the raid's case (metadata raid and parent_case), silent (no DM to a raider).
func moderationRequest(r query.Raid, parent cases.Case, a *moderation.Action, userID discord.UserID, name string, moderator discord.User, why string) moderation.Request {
	return moderation.Request{GuildID: discord.GuildID(r.GuildID), Moderator: moderator, Action: a,
		Target: moderation.Target{ID: userID, Name: name}, Reason: fmt.Sprintf("Raid #%d: %s", r.Number, why), Silent: true,
		Metadata: map[string]string{"raid": strconv.FormatInt(r.Number, 10), "parent_case": strconv.FormatInt(parent.Number, 10)}}
}
