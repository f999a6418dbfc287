// Package enforcer is AutoMod in a running gavel: Discord's rule executions become cases,
// gavel-enforced rules are evaluated on every message and edit and their punishments carried
// out, and rule changes made outside gavel are reported. Its cases and punishments go through
// the moderation pipeline. It takes gateway events already translated to gavel's types; the
// wiring (app) gives it its dependencies explicitly.
package enforcer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
)

// AutoMod in a running gavel:
//   - Discord's executions become cases. Discord sends one AUTO_MODERATION_ACTION_EXECUTION
//     per action of a rule; the events of one (rule, user, message) are gathered for a short
//     window and become one case, TIMEOUT when a timeout was among the actions, else AUTOMOD.
//     The key is claimed in the database first, so a resent event, another process or a
//     restart never makes a second case.
//   - Gavel-enforced rules are evaluated on every message and edit; each punishment is a case
//     through the moderation pipeline, once per (rule, message).
//   - Rule changes made outside gavel are reported in the audit-log channel.

// Defaults.
const (
	// DefaultExecutionWindow is how long the events of one execution are gathered: Discord
	// sends them together, milliseconds apart.
	DefaultExecutionWindow = 2 * time.Second
	// DefaultGavelRulesCheck is how often a guild's stored gavel-enforced rules are checked
	// for changes (`gavel automod apply` runs in another process).
	DefaultGavelRulesCheck = 10 * time.Second
	// blockedKeyLife is how long the key of an execution without a message (a blocked
	// message has no id) stays taken: the same text blocked again later is a new case.
	blockedKeyLife = time.Minute
	// auditLogSecondLook is how long after a first look that found no audit-log entry for a
	// rule change the enforcer looks again.
	auditLogSecondLook = time.Second
)

// Work is the running gavel's account of the work in flight, so that a shutdown waits for
// it.
type Work interface {
	// Begin counts one piece of work and returns the pipeline, or false when gavel is not
	// ready (the pipeline is built once gavel knows its own user) or is closing.
	Begin() (*moderation.Coordinator, bool)
	// End ends a piece of work Begin counted.
	End()
	// Context is the context work runs in: it outlives an event's handler.
	Context() context.Context
}

// GuildSource answers a guild's owner, roles and permissions (the gateway's cache).
type GuildSource interface {
	Guild(ctx context.Context, guildID discord.GuildID) (discord.Guild, error)
}

// Discord is what the enforcer asks of Discord: a rule, the member and channel of an
// execution, its audit-log entry, and messages (alerts, deletions).
type Discord interface {
	discord.AutoMod
	discord.Members
	discord.Channels
	discord.Messages
	discord.AuditLogs
}

// Config is what the enforcer works with. Every field but the timings is required.
type Config struct {
	Store *automod.Store
	// Port is Discord: rules, members, channels, messages and the audit log.
	Port     Discord
	Guilds   GuildSource
	Exec     *executor.Executor
	Settings *settings.Service
	// Cases links a case the enforcer posted in the mod log to its message.
	Cases *cases.Service
	// Actions looks up the pipeline's warn and timeout actions for gavel-enforced rules.
	Actions *moderation.Catalogue
	Work    Work
	Log     *slog.Logger
	// Timeout bounds the handling of one event (the command timeout).
	Timeout time.Duration
	// Window is how long the events of one execution are gathered (DefaultExecutionWindow
	// when 0); Check how often stored gavel-enforced rules are checked for changes (0 checks
	// on every message).
	Window, Check time.Duration
	// Clock is what the window, the rule checks and the audit log's second look wait on,
	// what a timeout's end is counted from and what a blocked message's key ages on: the
	// pipeline's clock (nil: the system's), which Store's should be too
	// (automod.WithStoreClock).
	Clock clock.Clock
	// Affinity keeps each guild's enforcement to the process that owns the guild's shard
	// (the shard leases, store.Enter); nil: every guild is this process's.
	Affinity store.Affinity
	// Handled, when set, is told about each step the enforcer is done with: the events run
	// on goroutines and timers of their own, so this is what a test waits for instead of
	// sleeping, including before it asserts that no case came.
	Handled func(Handled)
}

// Kind names the step a Handled reports.
type Kind string

// The steps the enforcer tells Config.Handled about.
const (
	// KindExecutionEvent: an execution event was gathered into its execution's window.
	KindExecutionEvent Kind = "execution_event"
	// KindExecution: an execution's window closed and its case was made, or found made.
	KindExecution Kind = "execution"
	// KindMessage: a message or an edit was evaluated and its punishments carried out.
	KindMessage Kind = "message"
)

// Handled is a step the enforcer is done with.
type Handled struct {
	Kind    Kind
	GuildID discord.GuildID
	// MessageID is the message evaluated (KindMessage), or the one an execution names.
	MessageID discord.MessageID
}

// Enforcer is AutoMod in a running gavel. It is safe for concurrent use.
type Enforcer struct {
	store    *automod.Store
	port     Discord
	guilds   GuildSource
	exec     *executor.Executor
	settings *settings.Service
	cases    *cases.Service
	actions  *moderation.Catalogue
	work     Work
	log      *slog.Logger
	timeout  time.Duration
	window   time.Duration
	check    time.Duration
	clock    clock.Clock
	observe  func(Handled)
	affinity store.Affinity

	mu      sync.Mutex
	botUser discord.User
	pending map[string]*execution
	engines map[int64]*guildRules
	// loading are the guilds whose rules are being read: one message per guild reads them
	// while the others wait for its answer (rulesFor) or, when the guild has rules already,
	// are judged by those (passes). Without it, every message of a guild whose check was due
	// started its own read: in a message storm they piled up by the thousand, half of
	// gavel's CPU and hundreds of MiB of stacks (docs/benchmarks.md, issue 16).
	loading map[int64]*rulesLoad
	// shared are the compiled engines by their rules (compile).
	shared map[string]weak.Pointer[automod.Engine]
}

// guildRules is a guild's compiled gavel-enforced rules.
type guildRules struct {
	version   int64
	checkedAt time.Time
	rules     []automod.GavelRule
	engine    *automod.Engine // nil when the guild has no rules
}

// rulesLoad is one read of a guild's rules that other messages wait for: done is closed
// when gr and err are set.
type rulesLoad struct {
	done chan struct{}
	gr   *guildRules
	err  error
}

// New returns an enforcer over cfg.
func New(cfg Config) *Enforcer {
	if cfg.Window <= 0 {
		cfg.Window = DefaultExecutionWindow
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Enforcer{store: cfg.Store, port: cfg.Port, guilds: cfg.Guilds, exec: cfg.Exec, settings: cfg.Settings,
		cases: cfg.Cases, actions: cfg.Actions, work: cfg.Work, log: cfg.Log, timeout: cfg.Timeout, window: cfg.Window, check: cfg.Check,
		clock: clock.OrSystem(cfg.Clock), observe: cfg.Handled, affinity: cfg.Affinity,
		pending: map[string]*execution{}, engines: map[int64]*guildRules{}, loading: map[int64]*rulesLoad{}}
}

// handled tells Config.Handled, when set, that the enforcer is done with h.
func (am *Enforcer) handled(h Handled) {
	if am.observe != nil {
		am.observe(h)
	}
}

// Store is the AutoMod store the enforcer reads gavel-enforced rules from.
func (am *Enforcer) Store() *automod.Store { return am.store }

// SetBot tells the enforcer gavel's own user (READY): the moderator of its cases, and the
// actor whose rule changes are not reported.
func (am *Enforcer) SetBot(u discord.User) {
	am.mu.Lock()
	defer am.mu.Unlock()
	am.botUser = u
}

func (am *Enforcer) bot() discord.User {
	am.mu.Lock()
	defer am.mu.Unlock()
	return am.botUser
}

// rawID reads an id Discord writes as a string (or, leniently, a number); null and
// absent are 0.
type rawID int64

func (s *rawID) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	if string(b) == "null" || len(b) == 0 {
		*s = 0
		return nil
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("snowflake %q: %w", b, err)
	}
	*s = rawID(v)
	return nil
}

// executionEvent is AUTO_MODERATION_ACTION_EXECUTION as Discord sends it. It is decoded
// here, from the raw payload, because disgo's struct reads matched_keywords, which Discord
// never sends (discord-api-notes.md §1.2).
type executionEvent struct {
	GuildID rawID `json:"guild_id"`
	Action  struct {
		Type     automod.ActionType `json:"type"`
		Metadata struct {
			ChannelID       rawID  `json:"channel_id"`
			DurationSeconds int    `json:"duration_seconds"`
			CustomMessage   string `json:"custom_message"`
		} `json:"metadata"`
	} `json:"action"`
	RuleID               rawID               `json:"rule_id"`
	RuleTriggerType      automod.TriggerType `json:"rule_trigger_type"`
	UserID               rawID               `json:"user_id"`
	ChannelID            rawID               `json:"channel_id"`
	MessageID            rawID               `json:"message_id"`
	AlertSystemMessageID rawID               `json:"alert_system_message_id"`
	Content              string              `json:"content"`
	MatchedKeyword       *string             `json:"matched_keyword"`
	MatchedContent       *string             `json:"matched_content"`
}

// key names the (rule, user, message) an event belongs to. A blocked message has no id: its
// channel and text stand in for it.
func (ev executionEvent) key() (key string, durable bool) {
	base := fmt.Sprintf("exec:%d:%d:", ev.RuleID, ev.UserID)
	if ev.MessageID != 0 {
		return base + "m" + strconv.FormatInt(int64(ev.MessageID), 10), true
	}
	sum := sha256.Sum256([]byte(ev.Content))
	return base + fmt.Sprintf("c%d:%s", ev.ChannelID, hex.EncodeToString(sum[:12])), false
}

// decodeExecution reads an AUTO_MODERATION_ACTION_EXECUTION payload; one without a guild,
// a user or a rule cannot become a case and is refused.
func decodeExecution(body []byte) (executionEvent, error) {
	var ev executionEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return executionEvent{}, fmt.Errorf("automod execution: %w", err)
	}
	if ev.GuildID <= 0 || ev.UserID <= 0 || ev.RuleID <= 0 {
		return executionEvent{}, fmt.Errorf("automod execution without a guild, user or rule (guild %d, user %d, rule %d)", ev.GuildID, ev.UserID, ev.RuleID)
	}
	return ev, nil
}

// execution gathers the events of one (rule, user, message).
type execution struct {
	first   executionEvent
	key     string
	durable bool
	actions []automod.ActionType
	timeout time.Duration
	// alertMessageID is the alert Discord posted, when one of the actions was an alert.
	alertMessageID discord.MessageID
	// pipeline records the case; taken when the first event began the work.
	pipeline *moderation.Coordinator
}

// Execution takes one AUTO_MODERATION_ACTION_EXECUTION payload, as Discord sent it.
func (am *Enforcer) Execution(body []byte) {
	ev, err := decodeExecution(body)
	if err != nil {
		am.log.Error("automod execution: decoding the event", "err", err, "payload", string(body))
		return
	}
	key, durable := ev.key()
	am.mu.Lock()
	x, ok := am.pending[key]
	if !ok {
		// Counted among the work in flight from its first event, so that a shutdown waits
		// for the window to close and the case to be made.
		co, running := am.work.Begin()
		if !running {
			am.mu.Unlock()
			am.log.Warn("automod execution dropped: gavel is not ready or is closing", "guild", int64(ev.GuildID), "rule", int64(ev.RuleID))
			return
		}
		x = &execution{first: ev, key: key, durable: durable, pipeline: co}
		am.pending[key] = x
		// The window is set on the clock for an instant: a manual clock moved meanwhile
		// only makes it due sooner.
		t := clock.After(am.clock, am.window)
		go func() {
			<-t.C()
			am.flush(key)
		}()
	}
	x.actions = append(x.actions, ev.Action.Type)
	if ev.Action.Type == automod.ActionTimeout {
		x.timeout = time.Duration(ev.Action.Metadata.DurationSeconds) * time.Second
	}
	if ev.AlertSystemMessageID != 0 {
		x.alertMessageID = discord.MessageID(ev.AlertSystemMessageID)
	}
	if x.first.MatchedKeyword == nil && ev.MatchedKeyword != nil {
		x.first.MatchedKeyword = ev.MatchedKeyword
	}
	if x.first.MatchedContent == nil && ev.MatchedContent != nil {
		x.first.MatchedContent = ev.MatchedContent
	}
	am.mu.Unlock()
	am.handled(Handled{Kind: KindExecutionEvent, GuildID: discord.GuildID(ev.GuildID), MessageID: discord.MessageID(ev.MessageID)})
}

func (am *Enforcer) flush(key string) {
	defer am.work.End()
	am.mu.Lock()
	x := am.pending[key]
	delete(am.pending, key)
	am.mu.Unlock()
	if x == nil {
		return
	}
	defer am.handled(Handled{Kind: KindExecution, GuildID: discord.GuildID(x.first.GuildID), MessageID: discord.MessageID(x.first.MessageID)})
	ctx, cancel := context.WithTimeout(am.work.Context(), am.timeout)
	defer cancel()
	ctx, done, ok := am.enter(ctx, int64(x.first.GuildID))
	if !ok {
		return
	}
	defer done()
	if err := am.recordExecution(ctx, x); err != nil {
		am.log.Error("automod execution: no case made", "guild", int64(x.first.GuildID), "rule", int64(x.first.RuleID),
			"user", int64(x.first.UserID), "err", err)
	}
}

// enter starts work on guildID under the shard leases (store.Enter): false when this
// process does not own the guild's shard any more.
func (am *Enforcer) enter(ctx context.Context, guildID int64) (context.Context, func(), bool) {
	held, done, ok := store.Enter(ctx, am.affinity, guildID)
	if !ok {
		am.log.Info("automod: not this process's guild any more (its shard moved); left to its owner", "guild", guildID)
	}
	return held, done, ok
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (am *Enforcer) recordExecution(ctx context.Context, x *execution) error {
	ev := x.first
	guildID := int64(ev.GuildID)
	var stale time.Time
	if !x.durable {
		stale = am.clock.Now().Add(-blockedKeyLife)
	}
	claimed, err := am.store.Claim(ctx, discord.GuildID(guildID), x.key, stale)
	if err != nil {
		return err
	}
	if !claimed {
		am.log.Debug("automod execution already recorded", "guild", guildID, "key", x.key)
		return nil
	}
	ruleName := fmt.Sprintf("rule %d", int64(ev.RuleID))
	var raw json.RawMessage
	err = am.exec.Do(ctx, executor.OpRead, func(ctx context.Context) (err error) {
		raw, err = am.port.AutoModRule(ctx, discord.GuildID(guildID), int64(ev.RuleID))
		return err
	})
	if err == nil {
		if r, err := automod.DecodeRule(raw); err == nil {
			ruleName = r.Name
		}
	} else {
		am.log.Warn("automod execution: reading the rule's name", "guild", guildID, "rule", int64(ev.RuleID), "err", err)
	}
	bot := am.bot()
	typ := cases.Automod
	var expires time.Time
	if x.timeout > 0 {
		typ = cases.Timeout
		expires = am.clock.Now().Add(x.timeout)
	}
	names := make([]string, len(x.actions))
	for i, t := range x.actions {
		names[i] = strings.ToLower(t.String())
	}
	matched := deref(ev.MatchedContent)
	keyword := deref(ev.MatchedKeyword)
	reason := fmt.Sprintf("Discord AutoMod rule %q (%s)", ruleName, strings.Join(names, ", "))
	if keyword != "" {
		reason += fmt.Sprintf(": matched %q", keyword)
		if matched != "" && matched != keyword {
			reason += fmt.Sprintf(" in %q", matched)
		}
	}
	meta := map[string]string{
		"source": "discord_automod", "rule_id": strconv.FormatInt(int64(ev.RuleID), 10), "rule_name": clipText(ruleName, cases.MaxMetadataValue),
		"trigger_type": automod.TriggerName(ev.RuleTriggerType), "actions": strings.Join(names, ","),
	}
	for k, v := range map[string]string{"matched_keyword": keyword, "matched_content": matched, "content": ev.Content} {
		if v != "" {
			meta[k] = clipText(v, cases.MaxMetadataValue)
		}
	}
	for k, id := range map[string]int64{"channel_id": int64(ev.ChannelID), "message_id": int64(ev.MessageID), "alert_message_id": int64(x.alertMessageID)} {
		if id != 0 {
			meta[k] = strconv.FormatInt(id, 10)
		}
	}
	if x.timeout > 0 {
		meta["timeout_seconds"] = strconv.FormatInt(int64(x.timeout/time.Second), 10)
	}
	var c cases.Case
	// Discord applied the action; the case goes through the pipeline's record and finalize
	// steps (pending, then active with its expiry scheduled and stale ones cancelled).
	if co := x.pipeline; co == nil {
		err = errors.New("gavel is not ready")
	} else {
		c, err = co.RecordDone(ctx, moderation.Done{Path: moderation.PathAutoMod, GuildID: discord.GuildID(guildID), UserID: discord.UserID(ev.UserID), Moderator: bot, Type: typ,
			Reason: clipText(reason, cases.MaxReasonLength), ExpiresAt: expires, Metadata: meta,
			Note: "applied by Discord's AutoMod", Why: "a timeout by Discord's AutoMod"})
	}
	if err != nil && c.ID == 0 {
		if relErr := am.store.Release(context.WithoutCancel(ctx), discord.GuildID(guildID), x.key); relErr != nil {
			am.log.Error("automod execution: releasing the key", "err", relErr)
		}
		return fmt.Errorf("recording the case: %w", err)
	}
	if err != nil {
		// Recorded, left pending: reconciliation settles it; the key is the case's.
		am.log.Warn("automod execution: case left pending", "case", c.Number, "err", err)
	}
	if err := am.store.Settle(ctx, discord.GuildID(guildID), x.key, c.ID); err != nil {
		am.log.Warn("automod execution: linking the key to its case", "case", c.Number, "err", err)
	}
	// The case's finalizing transaction queued it for the mod log, which shows its rule and
	// match from the metadata (internal/modlog).
	return nil
}

func matchText(keyword, matched string) string {
	switch {
	case keyword == "" && matched == "":
		return "(Discord did not say)"
	case keyword == "":
		return fmt.Sprintf("%q", matched)
	case matched == "" || matched == keyword:
		return fmt.Sprintf("keyword %q", keyword)
	}
	return fmt.Sprintf("keyword %q in %q", keyword, matched)
}

func clipText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// --- gavel-enforced rules ---

// RulesChanged forgets a guild's compiled gavel-enforced rules (every guild's for 0, as
// store.AllGuilds), so the next message reads them again: the subscriber to the rule
// changes announced by any process (store.TopicAutoMod).
func (am *Enforcer) RulesChanged(guildID int64) {
	am.mu.Lock()
	defer am.mu.Unlock()
	// A read under way may have read the rules before the change: it answers the messages
	// waiting for it, but is no longer the guild's read, so it does not keep what it read.
	if guildID == 0 {
		clear(am.engines)
		clear(am.loading)
		return
	}
	delete(am.engines, guildID)
	delete(am.loading, guildID)
}

// rulesFor returns a guild's compiled gavel-enforced rules, reloading them when their
// stored version changed (checked at most every am.check).
func (am *Enforcer) rulesFor(ctx context.Context, guildID discord.GuildID) (*guildRules, error) {
	am.mu.Lock()
	cur := am.engines[int64(guildID)]
	if cur != nil && am.clock.Now().Sub(cur.checkedAt) < am.check {
		am.mu.Unlock()
		return cur, nil
	}
	if l, ok := am.loading[int64(guildID)]; ok {
		am.mu.Unlock()
		select {
		case <-l.done:
			return l.gr, l.err
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for guild %d's gavel-enforced rules: %w", guildID, ctx.Err())
		}
	}
	l := &rulesLoad{done: make(chan struct{})}
	am.loading[int64(guildID)] = l
	am.mu.Unlock()

	l.gr, l.err = am.loadRules(ctx, guildID, cur)
	am.mu.Lock()
	if am.loading[int64(guildID)] == l {
		delete(am.loading, int64(guildID))
		if l.err == nil {
			am.engines[int64(guildID)] = l.gr
		}
	}
	am.mu.Unlock()
	close(l.done)
	return l.gr, l.err
}

// loadRules reads a guild's gavel-enforced rules: only their version when it is still cur's
// (cur again, checked now), the rules compiled otherwise.
func (am *Enforcer) loadRules(ctx context.Context, guildID discord.GuildID, cur *guildRules) (*guildRules, error) {
	version, err := am.store.GavelVersion(ctx, guildID)
	if err != nil {
		return nil, err
	}
	if cur != nil && cur.version == version {
		return &guildRules{version: version, checkedAt: am.clock.Now(), rules: cur.rules, engine: cur.engine}, nil
	}
	rules, version, err := am.store.GavelRules(ctx, guildID)
	if err != nil {
		return nil, err
	}
	next := &guildRules{version: version, checkedAt: am.clock.Now(), rules: rules}
	if len(rules) > 0 {
		engineRules := make([]automod.Rule, len(rules))
		for i, g := range rules {
			engineRules[i] = g.EngineRule(int64(i + 1))
		}
		if next.engine, err = am.compile(engineRules); err != nil {
			return nil, fmt.Errorf("compiling guild %d's gavel-enforced rules: %w", guildID, err)
		}
	}
	return next, nil
}

// compile returns the engine of rules, shared with every guild whose rules are the same (a
// rules file applied to many guilds): an engine holds no guild (EngineRule leaves it out)
// and is safe for concurrent use, and building one (its Aho-Corasick automaton) cost a
// millisecond per guild, 2.5 s of CPU for the first messages of 2,500 guilds
// (docs/benchmarks.md, issue 16). Engines are held weakly: one no guild uses any more is
// collected.
func (am *Enforcer) compile(rules []automod.Rule) (*automod.Engine, error) {
	key, err := json.Marshal(rules)
	if err != nil {
		return automod.Compile(rules)
	}
	am.mu.Lock()
	if wp, ok := am.shared[string(key)]; ok {
		if e := wp.Value(); e != nil {
			am.mu.Unlock()
			return e, nil
		}
		delete(am.shared, string(key))
	}
	am.mu.Unlock()
	e, err := automod.Compile(rules)
	if err != nil {
		return nil, err
	}
	am.mu.Lock()
	if am.shared == nil {
		am.shared = map[string]weak.Pointer[automod.Engine]{}
	}
	if len(am.shared) >= maxSharedEngines {
		// Forget the collected ones; past the bound, stop sharing new sets.
		for k, wp := range am.shared {
			if wp.Value() == nil {
				delete(am.shared, k)
			}
		}
	}
	if len(am.shared) < maxSharedEngines {
		am.shared[string(key)] = weak.Make(e)
	}
	am.mu.Unlock()
	return e, nil
}

// maxSharedEngines bounds the keys of the shared engines (one per distinct rule set).
const maxSharedEngines = 10000

// Message is a message posted or edited in a guild, as the enforcer reads it.
type Message struct {
	GuildID, ChannelID, ID int64
	Author                 discord.User
	// FromBot is true for bots' and system messages, which are never evaluated.
	FromBot bool
	Content string
	// Mentions and MentionRoles are the users and roles the message mentions.
	Mentions     []discord.UserID
	MentionRoles []discord.RoleID
	// Roles are the author's roles; HasMember false when the event came without the
	// member (an edit may), and they are read from Discord when a rule matches.
	Roles     []discord.RoleID
	HasMember bool
	// Edit is true for an edit (MESSAGE_UPDATE).
	Edit bool
}

// Message evaluates the guild's gavel-enforced rules on a message posted or edited, and
// carries out the punishments of the rules it breaks, in the background.
func (am *Enforcer) Message(msg Message) {
	if msg.GuildID == 0 || msg.FromBot {
		return
	}
	if am.passes(msg) {
		am.handled(Handled{Kind: KindMessage, GuildID: discord.GuildID(msg.GuildID), MessageID: discord.MessageID(msg.ID)})
		return
	}
	co, ok := am.work.Begin()
	if !ok {
		return
	}
	go func() {
		defer am.work.End()
		defer am.handled(Handled{Kind: KindMessage, GuildID: discord.GuildID(msg.GuildID), MessageID: discord.MessageID(msg.ID)})
		ctx, cancel := context.WithTimeout(am.work.Context(), am.timeout)
		defer cancel()
		ctx, done, ok := am.enter(ctx, msg.GuildID)
		if !ok {
			return
		}
		defer done()
		if err := am.enforce(ctx, co, msg); err != nil {
			am.log.Error("gavel-enforced automod", "guild", msg.GuildID, "message", msg.ID, "err", err)
		}
	}()
}

// passes says, without waiting for anything, that msg breaks none of its guild's rules: the
// guild's compiled rules are at hand and fresh, and the first evaluation (the one enforce
// starts with, which decides for a message that matches nothing) matches nothing. Nearly
// every message passes, and then no goroutine, timer or context is made for it: those were
// a fifth of gavel's time in a message storm (docs/benchmarks.md, issue 16).
func (am *Enforcer) passes(msg Message) bool {
	am.mu.Lock()
	cur := am.engines[msg.GuildID]
	fresh := cur != nil && am.clock.Now().Sub(cur.checkedAt) < am.check
	if cur != nil && !fresh {
		// Another message is reading the guild's rules again: this one is judged by the
		// rules it had, as it would have been a moment before the check fell due.
		_, fresh = am.loading[msg.GuildID]
	}
	am.mu.Unlock()
	if !fresh {
		return false
	}
	if cur.engine == nil {
		return true
	}
	in := automod.Message{Content: msg.Content, AuthorID: msg.Author.ID, ChannelID: discord.ChannelID(msg.ChannelID),
		MentionedUsers: msg.Mentions, MentionedRoles: msg.MentionRoles}
	if msg.HasMember {
		in.AuthorRoles = msg.Roles
	}
	return len(cur.engine.Evaluate(in)) == 0
}

func (am *Enforcer) enforce(ctx context.Context, co *moderation.Coordinator, msg Message) error {
	guildID := msg.GuildID
	gr, err := am.rulesFor(ctx, discord.GuildID(guildID))
	if err != nil || gr.engine == nil {
		return err
	}
	in := automod.Message{Content: msg.Content, AuthorID: msg.Author.ID, ChannelID: discord.ChannelID(msg.ChannelID),
		MentionedUsers: msg.Mentions, MentionedRoles: msg.MentionRoles}
	var roles []int64
	if msg.HasMember {
		roles = discord.Int64s(msg.Roles)
		in.AuthorRoles = discord.IDs[discord.RoleID](roles)
	}
	matches := gr.engine.Evaluate(in)
	if len(matches) == 0 {
		return nil
	}
	if !msg.HasMember {
		// A MESSAGE_UPDATE may come without the member: ask Discord, only now that
		// something matched, for the exempt roles.
		var m discord.Member
		err := am.exec.Do(ctx, executor.OpRead, func(ctx context.Context) (err error) {
			m, err = am.port.Member(ctx, discord.GuildID(guildID), in.AuthorID)
			return err
		})
		if err != nil {
			return fmt.Errorf("reading the author's roles: %w", err)
		}
		roles = discord.Int64s(m.Roles)
		in.AuthorRoles = discord.IDs[discord.RoleID](roles)
	}
	// Exempt categories and parent channels: read only when something matched.
	if parents, err := am.parents(ctx, in.ChannelID); err == nil {
		in.ParentChannelIDs = parents
		matches = gr.engine.Evaluate(in)
	} else {
		am.log.Warn("gavel-enforced automod: reading the channel's parents", "channel", in.ChannelID, "err", err)
	}
	if len(matches) == 0 {
		return nil
	}
	// As Discord's own AutoMod, gavel's leaves the owner, administrators and members who
	// manage the server alone.
	var g discord.Guild
	err = am.exec.Do(ctx, executor.OpRead, func(ctx context.Context) (err error) {
		g, err = am.guilds.Guild(ctx, discord.GuildID(guildID))
		return err
	})
	if err != nil {
		return fmt.Errorf("reading the guild: %w", err)
	}
	if permissions.Permission(g.MemberPermissions(in.AuthorID, discord.IDs[discord.RoleID](roles))).Has(permissions.ManageGuild) {
		return nil
	}
	author := msg.Author
	for _, m := range matches {
		rule := gr.rules[m.RuleID-1]
		if err := am.punish(ctx, co, discord.GuildID(guildID), author, msg, rule, m); err != nil {
			am.log.Error("gavel-enforced automod: punishing", "guild", guildID, "rule", rule.Name, "user", author.ID, "err", err)
		}
	}
	return nil
}

// parents returns a channel's category, and for a thread its parent channel and that
// channel's category.
func (am *Enforcer) parents(ctx context.Context, channelID discord.ChannelID) ([]discord.ChannelID, error) {
	var out []int64
	id := channelID
	for range 2 {
		var ch discord.Channel
		err := am.exec.Do(ctx, executor.OpRead, func(ctx context.Context) (err error) {
			ch, err = am.port.Channel(ctx, id)
			return err
		})
		if err != nil {
			return discord.IDs[discord.ChannelID](out), err
		}
		if ch.ParentID == 0 {
			break
		}
		out = append(out, int64(ch.ParentID))
		id = ch.ParentID
	}
	return discord.IDs[discord.ChannelID](out), nil
}

func (am *Enforcer) punish(ctx context.Context, co *moderation.Coordinator, guildID discord.GuildID, author discord.User, msg Message,
	rule automod.GavelRule, m automod.Match) error {
	edit := msg.Edit
	key := fmt.Sprintf("gavel:%s:%d", rule.Name, msg.ID)
	claimed, err := am.store.Claim(ctx, guildID, key, time.Time{})
	if err != nil {
		return err
	}
	if !claimed {
		// Punished already: an edit that still matches the same rule.
		return nil
	}
	bot := am.bot()
	matched := m.MatchedContent
	what := matchText(m.Keyword+m.Regex, matched)
	if m.Keyword == "" && m.Regex == "" {
		what = fmt.Sprintf("%d distinct mentions", m.MentionCount)
	}
	// What matched a mention-spam rule is a count, which the mod log shows.
	mentions := ""
	if m.Keyword == "" && m.Regex == "" && matched == "" {
		mentions = strconv.Itoa(m.MentionCount)
	}
	reason := clipText(fmt.Sprintf("gavel AutoMod rule %q: %s", rule.Name, what), cases.MaxReasonLength)
	meta := map[string]string{"source": "gavel_automod", "rule_name": clipText(rule.Name, cases.MaxMetadataValue),
		"trigger_type": automod.TriggerName(rule.TriggerType), "actions": automod.DescribeGavelActions(rule.Actions),
		"channel_id": strconv.FormatInt(msg.ChannelID, 10), "message_id": strconv.FormatInt(msg.ID, 10),
		"content": clipText(msg.Content, cases.MaxMetadataValue)}
	if edit {
		meta["on_edit"] = "true"
	}
	for k, v := range map[string]string{"matched_keyword": m.Keyword, "matched_regex": m.Regex, "matched_content": matched, "mention_count": mentions} {
		if v != "" {
			meta[k] = clipText(v, cases.MaxMetadataValue)
		}
	}
	if rule.Points != nil {
		// The cases this firing makes carry the rule's escalation points.
		meta[cases.MetaPoints] = strconv.Itoa(*rule.Points)
	}
	var notes []string
	if _, ok := rule.Has(automod.GavelDelete); ok {
		err := am.exec.Do(ctx, executor.OpMessages, func(ctx context.Context) error {
			return am.port.DeleteMessage(ctx, discord.ChannelID(msg.ChannelID), discord.MessageID(msg.ID), "gavel AutoMod rule "+rule.Name)
		})
		if err != nil && !discord.IsCode(err, discord.CodeUnknownMessage) {
			notes = append(notes, "the message could not be deleted: "+err.Error())
		} else {
			meta["message_deleted"] = "true"
		}
	}
	var caseIDs []int64
	var caseNumbers []string
	ok := co != nil
	for _, t := range []automod.GavelActionType{automod.GavelWarn, automod.GavelTimeout} {
		act, has := rule.Has(t)
		if !has {
			continue
		}
		if !ok {
			notes = append(notes, string(t)+" not given: gavel is not ready")
			continue
		}
		action, _ := am.actions.Lookup(string(t))
		res := co.Execute(ctx, moderation.Request{GuildID: guildID, Moderator: bot, Action: action,
			Target: moderation.Target{ID: author.ID}, Reason: reason, Duration: act.Duration, Metadata: meta})
		if res.Case != nil {
			caseIDs = append(caseIDs, res.Case.ID)
			caseNumbers = append(caseNumbers, fmt.Sprintf("#%d", res.Case.Number))
		}
		if res.Refused || res.Err != nil {
			notes = append(notes, fmt.Sprintf("%s: %s", t, res.Reply.Content))
		}
	}
	if len(caseIDs) == 0 {
		// No pipeline punishment (delete or alert only, or it was refused): the rule's firing
		// is still a case, so nothing gavel did goes unrecorded.
		if len(notes) > 0 {
			meta["notes"] = clipText(strings.Join(notes, "; "), cases.MaxMetadataValue)
		}
		var c cases.Case
		if ok {
			c, err = co.RecordDone(ctx, moderation.Done{Path: moderation.PathAutoMod, GuildID: guildID, UserID: author.ID, Moderator: bot, Type: cases.Automod,
				Reason: reason, Metadata: meta, Note: "gavel's AutoMod rule fired"})
		} else {
			err = errors.New("gavel is not ready")
		}
		if err != nil && c.ID == 0 {
			if relErr := am.store.Release(context.WithoutCancel(ctx), guildID, key); relErr != nil {
				am.log.Error("gavel-enforced automod: releasing the key", "err", relErr)
			}
			return fmt.Errorf("recording the case: %w", err)
		}
		if err != nil {
			am.log.Warn("gavel-enforced automod: case left pending", "case", c.Number, "err", err)
		}
		caseIDs = append(caseIDs, c.ID)
		caseNumbers = append(caseNumbers, fmt.Sprintf("#%d", c.Number))
	}
	if err := am.store.Settle(ctx, guildID, key, caseIDs[0]); err != nil {
		am.log.Warn("gavel-enforced automod: linking the key to its case", "err", err)
	}
	if alert, ok := rule.Has(automod.GavelAlert); ok {
		text := fmt.Sprintf("gavel AutoMod rule **%s** fired on a message by <@%d> in <#%d> (%s): %s. Case %s.",
			rule.Name, author.ID, msg.ChannelID, describeDone(rule, meta), what, strings.Join(caseNumbers, ", "))
		if len(notes) > 0 {
			text += " Note: " + strings.Join(notes, "; ")
		}
		err := am.exec.Do(ctx, executor.OpMessages, func(ctx context.Context) error {
			_, err := am.port.SendMessage(ctx, alert.ChannelID, discord.Message{Content: clipText(text, 2000), AllowedMentions: &discord.AllowedMentions{}})
			return err
		})
		if err != nil {
			am.log.Warn("gavel-enforced automod: posting the alert", "channel", alert.ChannelID, "err", err)
		}
	}
	return nil
}

func describeDone(rule automod.GavelRule, meta map[string]string) string {
	if _, ok := rule.Has(automod.GavelDelete); ok && meta["message_deleted"] == "true" {
		return "message deleted"
	}
	return "message kept"
}

// --- rule changes made outside gavel ---

// Audit-log action types of AutoMod rule changes.
const (
	auditAutoModRuleCreate = 140
	auditAutoModRuleUpdate = 141
	auditAutoModRuleDelete = 142
)

// RuleChange is a change of a Discord AutoMod rule, seen on the gateway.
type RuleChange int

// The rule changes.
const (
	RuleCreated RuleChange = iota
	RuleUpdated
	RuleDeleted
)

// RuleChanged reports a rule change someone made outside gavel in the guild's audit-log
// channel, in the background. creatorID is the rule's creator (used when the audit log does
// not say who created it).
func (am *Enforcer) RuleChanged(change RuleChange, guildID discord.GuildID, ruleID int64, name string, creatorID int64) {
	auditType, verb := auditAutoModRuleCreate, "created"
	switch change {
	case RuleUpdated:
		auditType, verb = auditAutoModRuleUpdate, "changed"
	case RuleDeleted:
		auditType, verb = auditAutoModRuleDelete, "deleted"
	}
	if _, ok := am.work.Begin(); !ok {
		return
	}
	creator := creatorID
	go func() {
		defer am.work.End()
		ctx, cancel := context.WithTimeout(am.work.Context(), am.timeout)
		defer cancel()
		if err := am.reportRuleChange(ctx, guildID, ruleID, name, creator, auditType, verb); err != nil {
			am.log.Warn("automod rule change: reporting", "guild", guildID, "rule", ruleID, "err", err)
		}
	}()
}

// reportRuleChange tells the audit-log channel about a rule change someone made in
// Discord. Changes gavel made itself (its commands, `gavel automod apply`) are reported by
// whoever made them, so they are recognised by the audit log's actor, the bot, and skipped.
func (am *Enforcer) reportRuleChange(ctx context.Context, guildID discord.GuildID, ruleID int64, name string, creator int64, auditType int, verb string) error {
	gs, err := am.settings.Get(ctx, guildID)
	if err != nil {
		return err
	}
	if gs.AuditlogChannelID == 0 {
		return nil
	}
	bot := am.bot()
	var entry *discord.AuditLogEntry
	// Discord writes the audit-log entry about when it sends the event: look twice.
	for attempt := 0; attempt < 2 && entry == nil; attempt++ {
		if attempt > 0 {
			t := clock.After(am.clock, auditLogSecondLook)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C():
			}
		}
		entries, err := am.port.AuditLog(ctx, guildID, discord.AuditLogFilter{ActionType: auditType, TargetID: ruleID, Limit: 5})
		if err != nil {
			return fmt.Errorf("reading the audit log: %w", err)
		}
		if len(entries) > 0 {
			entry = &entries[0]
		}
	}
	actor := int64(0)
	if entry != nil {
		actor = int64(entry.UserID)
	} else if auditType == auditAutoModRuleCreate {
		actor = creator
	}
	if discord.UserID(actor) == bot.ID && bot.ID != 0 {
		return nil
	}
	who := "someone (Discord's audit log does not say who)"
	if actor != 0 {
		who = fmt.Sprintf("<@%d>", actor)
	}
	text := fmt.Sprintf("AutoMod rule %q (id %d) was %s outside gavel by %s.", name, ruleID, verb, who)
	if entry != nil {
		if changes := describeAuditChanges(entry.Changes); changes != "" {
			text += " Changes: " + changes
		}
		if entry.Reason != "" {
			text += fmt.Sprintf(" Reason: %q.", entry.Reason)
		}
	}
	return am.exec.Do(ctx, executor.OpMessages, func(ctx context.Context) error {
		_, err := am.port.SendMessage(ctx, gs.AuditlogChannelID, discord.Message{Content: clipText(text, 2000), AllowedMentions: &discord.AllowedMentions{}})
		return err
	})
}

// describeAuditChanges writes an audit-log entry's changes as "key: old → new".
func describeAuditChanges(raw json.RawMessage) string {
	var changes []struct {
		Key string          `json:"key"`
		Old json.RawMessage `json:"old_value"`
		New json.RawMessage `json:"new_value"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &changes) != nil {
		return ""
	}
	parts := make([]string, 0, len(changes))
	for _, c := range changes {
		old, new := string(c.Old), string(c.New)
		if old == "" {
			old = "none"
		}
		if new == "" {
			new = "none"
		}
		parts = append(parts, fmt.Sprintf("%s: %s → %s", c.Key, clipText(old, 200), clipText(new, 200)))
	}
	return strings.Join(parts, "; ")
}

// ReportAudit posts a change gavel made (a /automod command) to the guild's audit-log
// channel; the automod.Service calls it (automod.WithReporter).
func (am *Enforcer) ReportAudit(ctx context.Context, guildID discord.GuildID, text string) {
	AuditReporter(am.settings, am.port, am.exec, am.log)(ctx, guildID, text)
}

// AuditReporter returns what ReportAudit does, for a process without an enforcer (gavel
// web, whose AutoMod page changes rules): post text to the guild's audit-log channel, if it
// has one, through exec. Failures are logged, never returned: a change is not undone for its
// report.
func AuditReporter(guilds *settings.Service, port discord.Messages, exec *executor.Executor, log *slog.Logger) func(ctx context.Context, guildID discord.GuildID, text string) {
	return func(ctx context.Context, guildID discord.GuildID, text string) {
		g, err := guilds.Get(ctx, guildID)
		if err != nil {
			log.Warn("audit log: reading settings", "guild", guildID, "err", err)
			return
		}
		if g.AuditlogChannelID == 0 {
			return
		}
		err = exec.Do(ctx, executor.OpMessages, func(ctx context.Context) error {
			_, err := port.SendMessage(ctx, g.AuditlogChannelID, discord.Message{Content: clipText(text, 2000), AllowedMentions: &discord.AllowedMentions{}})
			return err
		})
		if err != nil {
			log.Warn("audit log: posting", "guild", guildID, "err", err)
		}
	}
}
