package raid

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// Raid is a raid as the command, the mod log and the dashboard show it.
type Raid struct {
	query.Raid
	Case    cases.Case
	Members []query.RaidMember
	Events  []query.RaidEvent
}

// Open reports whether raid mode is still on.
func (r Raid) Open() bool { return !r.EndedAt.Valid }

// Counts is how many candidates are in each state.
func (r Raid) Counts() map[string]int {
	out := map[string]int{}
	for _, m := range r.Members {
		out[m.State]++
	}
	return out
}

// Current returns the guild's open raid; false when raid mode is off.
func (s *Service) Current(ctx context.Context, guildID discord.GuildID) (Raid, bool, error) {
	r, open, err := s.open(ctx, guildID)
	if err != nil || !open {
		return Raid{}, false, err
	}
	full, err := s.load(ctx, r)
	return full, err == nil, err
}

// ByNumber returns raid number n of the guild.
func (s *Service) ByNumber(ctx context.Context, guildID discord.GuildID, n int64) (Raid, error) {
	r, err := s.cfg.Store.Queries().GetRaidByNumber(ctx, query.GetRaidByNumberParams{GuildID: int64(guildID), Number: n})
	if errors.Is(err, sql.ErrNoRows) {
		return Raid{}, fmt.Errorf("%w #%d", ErrUnknown, n)
	}
	if err != nil {
		return Raid{}, err
	}
	return s.load(ctx, r)
}

// ByCase returns the raid whose parent case is caseID; false when none is.
func (s *Service) ByCase(ctx context.Context, caseID int64) (Raid, bool, error) {
	r, err := s.cfg.Store.Queries().GetRaidByCase(ctx, caseID)
	if errors.Is(err, sql.ErrNoRows) {
		return Raid{}, false, nil
	}
	if err != nil {
		return Raid{}, false, err
	}
	full, err := s.load(ctx, r)
	return full, err == nil, err
}

// List returns the guild's raids, newest first, at most limit (without their members).
func (s *Service) List(ctx context.Context, guildID discord.GuildID, limit int) ([]query.Raid, error) {
	return s.cfg.Store.Queries().ListRaids(ctx, query.ListRaidsParams{GuildID: int64(guildID), Limit: int64(limit)})
}

// Page returns one page of the guild's raids, newest first: at most limit raids numbered
// below before (0: from the newest), and whether older ones follow (the dashboard's
// keyset pages).
func (s *Service) Page(ctx context.Context, guildID discord.GuildID, before int64, limit int) ([]query.Raid, bool, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	rs, err := s.cfg.Store.Queries().ListRaidsBefore(ctx, query.ListRaidsBeforeParams{GuildID: int64(guildID), Number: before, Limit: int64(limit) + 1})
	if err != nil {
		return nil, false, fmt.Errorf("raids of guild %d: %w", guildID, err)
	}
	if len(rs) > limit {
		return rs[:limit], true, nil
	}
	return rs, false, nil
}

// CountMembers is how many candidates raid id has.
func (s *Service) CountMembers(ctx context.Context, raidID int64) (int64, error) {
	n, err := s.cfg.Store.Queries().CountRaidMembers(ctx, raidID)
	if err != nil {
		return 0, fmt.Errorf("raid %d's candidates: %w", raidID, err)
	}
	return n, nil
}

// Responses are the raid's steps other than the per-member ones (its responses, their
// undoing, mass actions, its end), oldest first: what raid mode did.
func (r Raid) Responses() []query.RaidEvent {
	var out []query.RaidEvent
	for _, ev := range r.Events {
		if strings.HasPrefix(ev.Kind, "member_") || ev.Kind == "counted" {
			continue
		}
		out = append(out, ev)
	}
	return out
}

func (s *Service) load(ctx context.Context, r query.Raid) (Raid, error) {
	q := s.cfg.Store.Queries()
	out := Raid{Raid: r}
	var err error
	if out.Case, err = s.cfg.Cases.Get(ctx, r.CaseID); err != nil {
		return Raid{}, err
	}
	if out.Members, err = q.RaidMembers(ctx, r.ID); err != nil {
		return Raid{}, fmt.Errorf("raid members: %w", err)
	}
	if out.Events, err = q.RaidEvents(ctx, r.ID); err != nil {
		return Raid{}, fmt.Errorf("raid events: %w", err)
	}
	return out, nil
}

// Release drops the raid's candidates: those not acted on leave the list, and the timeouts
// raid mode applied are lifted through the pipeline (an UNTIMEOUT case each).
func (s *Service) Release(ctx context.Context, guildID discord.GuildID, n int64, by discord.User) (int, error) {
	co, ok := s.cfg.Work.Begin()
	if !ok {
		return 0, errors.New("gavel is not connected to Discord yet; try again in a moment")
	}
	defer s.cfg.Work.End()
	full, err := s.ByNumber(ctx, guildID, n)
	if err != nil {
		return 0, err
	}
	released := 0
	var errs []error
	for _, m := range full.Members {
		switch m.State {
		case "candidate":
			released++
			if err := s.setState(ctx, full.Raid, m.UserID, "released", m.CaseID, by.ID, fmt.Sprintf("released %d", m.UserID)); err != nil {
				errs = append(errs, err)
			}
		case "timed_out":
			a, ok := s.cfg.Catalogue.ByCase(cases.Untimeout)
			if !ok {
				return released, errors.New("no untimeout action")
			}
			res := co.Execute(ctx, moderationRequest(full.Raid, full.Case, a, discord.UserID(m.UserID), m.Username, by, "released"))
			if res.Case == nil || res.Case.Status == cases.Voided {
				errs = append(errs, fmt.Errorf("lifting %s's timeout: %s", m.Username, res.Reply.Content))
				continue
			}
			released++
			detail := fmt.Sprintf("released %d: case #%d lifts the timeout", m.UserID, res.Case.Number)
			if err := s.setState(ctx, full.Raid, m.UserID, "released", sql.NullInt64{Int64: res.Case.ID, Valid: true}, by.ID, detail); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := s.note(ctx, full.Raid, "released", by.ID, fmt.Sprintf("%s released %d candidates", by.Username, released)); err != nil {
		errs = append(errs, err)
	}
	return released, errors.Join(errs...)
}

// Remaining returns the raid's candidates a mass action of kind may still act on: those not
// yet removed (banned, kicked) nor released. A timed-out candidate may still be kicked or
// banned, not timed out again; one that failed before is tried again.
func (r Raid) Remaining(kind moderation.MassKind) []query.RaidMember {
	var out []query.RaidMember
	for _, m := range r.Members {
		if m.State == "candidate" || m.State == "failed" || (m.State == "timed_out" && kind != moderation.MassTimeout) {
			out = append(out, m)
		}
	}
	return out
}

// massState is the raid member state a mass action of kind leaves a member it acted on in.
func massState(kind moderation.MassKind) string {
	switch kind {
	case moderation.MassBan:
		return "banned"
	case moderation.MassKick:
		return "kicked"
	}
	return "timed_out"
}

// ActAll runs a policy (timeout, kick or ban) on every candidate of raid n not yet acted on
// (a timed-out one may still be kicked or banned) through the moderation pipeline's batch
// path for mass actions (Coordinator.ExecuteMass): a mass action with its own parent case
// (metadata raid and parent_case naming the raid's case) and a child case per member; bans
// go in bulk calls of 200. The raid's record then holds each member's new state.
func (s *Service) ActAll(ctx context.Context, guildID discord.GuildID, n int64, what settings.JoinerAction, by discord.User) (done, failed int, err error) {
	co, ok := s.cfg.Work.Begin()
	if !ok {
		return 0, 0, errors.New("gavel is not connected to Discord yet; try again in a moment")
	}
	defer s.cfg.Work.End()
	full, err := s.ByNumber(ctx, guildID, n)
	if err != nil {
		return 0, 0, err
	}
	cfg, err := s.cfg.Settings.GetRaid(ctx, guildID)
	if err != nil {
		return 0, 0, err
	}
	kind := moderation.MassTimeout
	switch what {
	case settings.JoinerBan:
		kind = moderation.MassBan
	case settings.JoinerKick:
		kind = moderation.MassKick
	}
	var targets []discord.UserID
	for _, m := range full.Remaining(kind) {
		targets = append(targets, discord.UserID(m.UserID))
	}
	if len(targets) == 0 {
		return 0, 0, fmt.Errorf("raid #%d has no candidate left to %s", n, kind.Verb())
	}
	req := moderation.MassRequest{GuildID: guildID, Moderator: by, Kind: kind, Targets: targets, Silent: true,
		Reason: fmt.Sprintf("Raid #%d: %s all, by %s", n, kind, by.Username), Metadata: full.MassMetadata()}
	if kind == moderation.MassTimeout {
		req.Duration = cfg.JoinerTimeout
	}
	res := co.ExecuteMass(ctx, req)
	if res.Parent == nil {
		return 0, 0, fmt.Errorf("%s all refused: %s", kind, res.Reply.Content)
	}
	done, failed, err = s.RecordMass(ctx, full.Raid, kind, targets, res, by, kind.Verb()+" all")
	return done, failed, errors.Join(err, res.Err)
}

// MassMetadata is the metadata a mass action on the raid's candidates records on its parent
// case: the raid's number and the raid's case as its parent.
func (r Raid) MassMetadata() map[string]string {
	return map[string]string{"raid": strconv.FormatInt(r.Number, 10), "parent_case": strconv.FormatInt(r.Case.Number, 10)}
}

// RecordMass writes what a mass action of kind on the raid's candidates (targets; other
// targets of the same action are not the raid's) did into the raid's record, in one
// transaction: each member acted on takes the new state and its child case; each one tried
// and not acted on is "failed"; one never tried (the action cancelled or interrupted) keeps
// its state. A step row and a note on the raid's case (its mod-log message follows) sum it
// up. how names what ran it ("ban all", "massban").
func (s *Service) RecordMass(ctx context.Context, r query.Raid, kind moderation.MassKind, targets []discord.UserID, res moderation.MassResult, by discord.User, how string) (done, failed int, err error) {
	notDone := map[discord.UserID]bool{}
	for _, ids := range res.Failures {
		for _, id := range ids {
			notDone[id] = true
		}
	}
	state := massState(kind)
	err = s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		now := s.now().UnixMilli()
		for _, id := range targets {
			st, caseID := "", sql.NullInt64{}
			if c, ok := res.Done[id]; ok {
				st, caseID = state, sql.NullInt64{Int64: c, Valid: c != 0}
				done++
			} else if notDone[id] {
				st = "failed"
				failed++
			} else {
				continue
			}
			if err := tx.Queries().SetRaidMemberState(tx.Context(), query.SetRaidMemberStateParams{RaidID: r.ID, UserID: int64(id), State: st, CaseID: caseID, UpdatedAt: now}); err != nil {
				return fmt.Errorf("raid member state: %w", err)
			}
			if err := s.event(tx, r, "member_"+st, by.ID, fmt.Sprintf("%s %d by mass action case #%d", st, id, res.Parent.Number), now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return done, failed, err
	}
	left := len(targets) - done - failed
	summary := fmt.Sprintf("%s by %s: %d done, %d not (case #%d)", how, by.Username, done, failed, res.Parent.Number)
	if left > 0 {
		summary += fmt.Sprintf(", %d never tried", left)
	}
	return done, failed, s.note(ctx, r, "mass_"+string(kind), by.ID, summary)
}

// RecordResumed writes a mass action continued after a restart (moderation.ResumeMass) into
// its raid's record, when its parent case names a raid (raid:N, or a raid's button): the
// raid's candidates it acted on, or failed on, take their state as RecordMass gives it.
// Other mass actions are left alone.
func (s *Service) RecordResumed(ctx context.Context, res moderation.MassResult) error {
	if res.Parent == nil || res.Parent.Metadata["raid"] == "" {
		return nil
	}
	n, err := strconv.ParseInt(res.Parent.Metadata["raid"], 10, 64)
	if err != nil {
		return fmt.Errorf("mass action case #%d names raid %q: %w", res.Parent.Number, res.Parent.Metadata["raid"], err)
	}
	ctx, done, ok := s.enter(ctx, res.Parent.GuildID)
	if !ok {
		return errNotOwned
	}
	defer done()
	r, err := s.ByNumber(ctx, res.Parent.GuildID, n)
	if err != nil {
		return err
	}
	kind := moderation.MassKind(res.Parent.Metadata[cases.MetaMass])
	if !kind.Valid() {
		return fmt.Errorf("mass action case #%d has no kind", res.Parent.Number)
	}
	// The mass action's own target list is its record; the raid's candidates it reached are
	// those it did or failed (one never tried keeps its state, and is not counted here).
	failed := map[discord.UserID]bool{}
	for _, ids := range res.Failures {
		for _, id := range ids {
			failed[id] = true
		}
	}
	var targets []discord.UserID
	for _, m := range r.Members {
		if _, done := res.Done[discord.UserID(m.UserID)]; done || failed[discord.UserID(m.UserID)] {
			targets = append(targets, discord.UserID(m.UserID))
		}
	}
	by := discord.User{ID: res.Parent.ModeratorID, Username: res.Parent.Metadata[cases.MetaModeratorName]}
	_, _, err = s.RecordMass(ctx, r.Raid, kind, targets, res, by, "mass "+string(kind)+" continued after a restart")
	return err
}

func (s *Service) setState(ctx context.Context, r query.Raid, userID int64, state string, caseID sql.NullInt64, actor discord.UserID, detail string) error {
	return s.cfg.Store.InTx(ctx, func(tx *store.Tx) error {
		now := s.now().UnixMilli()
		if err := tx.Queries().SetRaidMemberState(tx.Context(), query.SetRaidMemberStateParams{RaidID: r.ID, UserID: userID, State: state, CaseID: caseID, UpdatedAt: now}); err != nil {
			return fmt.Errorf("raid member state: %w", err)
		}
		return s.event(tx, r, "member_"+state, actor, detail, now)
	})
}

// Summary is what a raid's mod-log message and status show of its candidates.
type Summary struct {
	Candidates int
	First      time.Time
	Last       time.Time
	// Ages counts the candidates by account age at joining, in AgeBuckets' order.
	Ages []int
	// Patterns are the most common name shapes (letters as a, digits as 0), with counts.
	Patterns []Pattern
	States   map[string]int
}

// Pattern is a name shape shared by Count candidates.
type Pattern struct {
	Shape string
	Count int
}

// AgeBuckets names the account-age histogram's buckets.
var AgeBuckets = []string{"< 1 hour", "< 1 day", "< 7 days", "< 30 days", "< 1 year", "older"}

var ageLimits = []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 365 * 24 * time.Hour}

// Summarize builds the summary of a raid's candidates.
func Summarize(ms []query.RaidMember) Summary {
	s := Summary{Candidates: len(ms), Ages: make([]int, len(AgeBuckets)), States: map[string]int{}}
	shapes := map[string]int{}
	for i, m := range ms {
		joined := time.UnixMilli(m.JoinedAt)
		if i == 0 || joined.Before(s.First) {
			s.First = joined
		}
		if joined.After(s.Last) {
			s.Last = joined
		}
		age := joined.Sub(time.UnixMilli(m.AccountCreatedAt))
		b := len(ageLimits)
		for k, lim := range ageLimits {
			if age < lim {
				b = k
				break
			}
		}
		s.Ages[b]++
		shapes[Shape(m.Username)]++
		s.States[m.State]++
	}
	for sh, n := range shapes {
		if n > 1 {
			s.Patterns = append(s.Patterns, Pattern{Shape: sh, Count: n})
		}
	}
	sort.Slice(s.Patterns, func(i, j int) bool {
		if s.Patterns[i].Count != s.Patterns[j].Count {
			return s.Patterns[i].Count > s.Patterns[j].Count
		}
		return s.Patterns[i].Shape < s.Patterns[j].Shape
	})
	if len(s.Patterns) > 5 {
		s.Patterns = s.Patterns[:5]
	}
	return s
}

// Shape is a name's shape: its letters kept up to the first digit run, each run of digits
// as "#", so "raider0423" and "raider17" share "raider#".
func Shape(name string) string {
	var b strings.Builder
	inDigits := false
	for _, r := range strings.ToLower(name) {
		if unicode.IsDigit(r) {
			if !inDigits {
				b.WriteRune('#')
			}
			inDigits = true
			continue
		}
		inDigits = false
		b.WriteRune(r)
	}
	return b.String()
}

// StatesText says how many candidates are in each state: "12 candidates, 288 timed out".
func StatesText(states map[string]int) string {
	var parts []string
	for _, k := range []string{"candidate", "timed_out", "kicked", "banned", "released", "failed"} {
		if n := states[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, strings.ReplaceAll(k, "_", " ")))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Decorate adds a RAID case's raid to its mod-log message (modlog.WithDecorator): how many
// joined and when, the account-age histogram, the common name patterns, what raid mode did,
// and, while it lasts, the buttons Ban all, Kick all, Time out all, Release and End raid
// mode. Other cases are left as they are.
func (s *Service) Decorate(ctx context.Context, c cases.Case, msg *discord.Message) error {
	if c.Type != cases.Raid || len(msg.Embeds) == 0 {
		return nil
	}
	r, ok, err := s.ByCase(ctx, c.ID)
	if err != nil || !ok {
		return err
	}
	e := &msg.Embeds[0]
	e.Title = fmt.Sprintf("Raid #%d · case #%d · RAID", r.Number, c.Number)
	sum := Summarize(r.Members)
	state := "🚨 raid mode on"
	if !r.Open() {
		state = fmt.Sprintf("ended <t:%d:f>: %s", r.EndedAt.Int64/1000, r.EndReason.String)
	}
	fields := []discord.EmbedField{
		{Name: "Raid", Value: fmt.Sprintf("%s · detected by %s", state, r.Trigger)},
		{Name: "Joined", Value: joinedText(sum)},
		{Name: "Account age at joining", Value: histogram(sum.Ages)},
	}
	if len(sum.Patterns) > 0 {
		var b strings.Builder
		for _, p := range sum.Patterns {
			fmt.Fprintf(&b, "`%s` × %d\n", strings.ReplaceAll(p.Shape, "`", "'"), p.Count)
		}
		fields = append(fields, discord.EmbedField{Name: "Common name patterns", Value: b.String()})
	}
	fields = append(fields, discord.EmbedField{Name: "Candidates", Value: StatesText(sum.States)})
	if steps := stepsText(r.Events); steps != "" {
		fields = append(fields, discord.EmbedField{Name: "What raid mode did", Value: steps})
	}
	e.Fields = append(e.Fields, fields...)
	if r.Open() {
		msg.Components = Buttons(r.Number)
	}
	return nil
}

// Buttons are a raid message's buttons while raid mode lasts.
func Buttons(n int64) []byte {
	b := func(style int, label, what string) string {
		return fmt.Sprintf(`{"type":2,"style":%d,"label":%q,"custom_id":"raid:%d:%s"}`, style, label, n, what)
	}
	return []byte(`[{"type":1,"components":[` + strings.Join([]string{
		b(4, "Ban all", "ban"), b(4, "Kick all", "kick"), b(2, "Time out all", "timeout"), b(2, "Release", "release"), b(3, "End raid mode", "end"),
	}, ",") + `]}]`)
}

func joinedText(s Summary) string {
	if s.Candidates == 0 {
		return "no candidates"
	}
	return fmt.Sprintf("%d accounts, <t:%d:T> to <t:%d:T> (%s)", s.Candidates, s.First.Unix(), s.Last.Unix(), s.Last.Sub(s.First).Round(time.Second))
}

func histogram(ages []int) string {
	most := 0
	for _, n := range ages {
		most = max(most, n)
	}
	var b strings.Builder
	for i, n := range ages {
		bar := 0
		if most > 0 {
			bar = (n*12 + most - 1) / most
		}
		fmt.Fprintf(&b, "`%-9s` %s %d\n", AgeBuckets[i], strings.Repeat("█", bar), n)
	}
	return b.String()
}

// stepsText lists the raid's responses and their undoing (not the per-member rows), the
// newest last, within a field's 1024 characters.
func stepsText(evs []query.RaidEvent) string {
	var lines []string
	for _, ev := range evs {
		if strings.HasPrefix(ev.Kind, "member_") || ev.Kind == "started" || ev.Kind == "counted" {
			continue
		}
		lines = append(lines, fmt.Sprintf("<t:%d:T> %s", ev.CreatedAt/1000, ev.Detail))
	}
	out := strings.Join(lines, "\n")
	for len(out) > 1000 && len(lines) > 1 {
		lines = lines[1:]
		out = "…\n" + strings.Join(lines, "\n")
	}
	return out
}

// Later runs f as work in flight, after the caller has returned, with the work's own
// context bounded by timeout: a button's answer must reach Discord within 3 seconds, and a
// mass action on hundreds of members takes longer. What f does is in the raid's record and
// its mod-log message.
// It runs only while this process holds the guild's shard (Config.Affinity), like the
// guild's queue.
func (s *Service) Later(guildID discord.GuildID, timeout time.Duration, f func(ctx context.Context) error) {
	go func() {
		ctx, cancel := context.WithTimeout(s.cfg.Work.Context(), timeout)
		defer cancel()
		held, done, ok := s.enter(ctx, guildID)
		if !ok {
			s.log.Warn("raid: a button's work dropped: this process no longer holds the server's shard", "guild", guildID)
			return
		}
		defer done()
		if err := f(held); err != nil {
			s.log.Warn("raid: a button's work", "err", err)
		}
	}()
}
