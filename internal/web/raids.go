package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/raid"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store/query"
)

// raidCommand is the command whose permission the raids pages need: whoever may run raid
// (raid status, its default) may see them.
const raidCommand = "raid status"

// Raid page sizes: past raids per page, candidates listed on a raid's page, children
// (cases naming a case as their parent) per page.
const (
	raidsPerPage    = 20
	raidCandidates  = 100
	childrenPerPage = 50
)

// The join rate's two views: the last minute in 5-second slices and the last 15 minutes
// (all the detector remembers) in minutes. The page asks again every rateRefresh.
const rateRefresh = 5 * time.Second

var rateViews = []struct {
	Span    time.Duration
	Buckets int
	Label   string
}{
	{time.Minute, 12, "last minute, by 5 seconds"},
	{15 * time.Minute, 15, "last 15 minutes, by minute"},
}

// rateView is one view of the join rate.
type rateView struct {
	Label   string
	Total   int
	Buckets []rateBucket
}

type rateBucket struct {
	// Ago is how long before now the slice ends ("now" for the newest).
	Ago   string
	Count int
}

// joinRate is the rate section: Live is false where no detector runs (gavel web).
type joinRate struct {
	Guild        discord.Guild
	Live         bool
	At           time.Time
	Views        []rateView
	Threshold    int
	Window       time.Duration
	Enabled      bool
	RefreshEvery int
}

// raidView is a raid as the raids pages show it.
type raidView struct {
	raid.Raid
	Number     int64
	CaseNumber int64
	Reason     string
	StartedAt  time.Time
	LastJoin   time.Time
	EndedAt    time.Time
	Summary    raid.Summary
	States     string
	Responses  []raidStep
	Invites    time.Time
	DMs        time.Time
	// Candidates are the first raidCandidates candidates, with their cases' numbers.
	Candidates []raidCandidate
	More       int
}

type raidStep struct {
	At      time.Time
	Kind    string
	ActorID int64
	Detail  string
}

type raidCandidate struct {
	query.RaidMember
	Joined     time.Time
	AccountAge string
	CaseNumber int64
}

// raidRow is one raid of the past raids list.
type raidRow struct {
	Number     int64
	CaseNumber int64
	Trigger    string
	StartedAt  time.Time
	EndedAt    time.Time
	EndReason  string
	Open       bool
	Candidates int64
}

type raidsPage struct {
	Guild   discord.Guild
	Rate    joinRate
	Current *raidView
	// Lockdowns are the open lockdowns with their snapshots, shown when LockdownsShown.
	Lockdowns      []lockdownView
	LockdownsShown bool
	Past           []raidRow
	// Next continues the list below its last raid; First goes back to the newest.
	Next, First string
}

type raidPage struct {
	Guild    discord.Guild
	Raid     raidView
	Children childLinks
}

// childLinks is one page of the cases that name a case as their parent (cases.MetaParentCase):
// a raid's candidates' cases and its mass actions' parent cases, or a mass action's cases.
type childLinks struct {
	Parent int64
	Cases  []cases.Case
	Total  int64
	// Page is this page's number; Prev and Next link the pages around it ("" none).
	Page       int
	Prev, Next string
}

// children reads page p of the cases naming case number parent as theirs; base is the path
// of the page that lists them, which the links to the pages around p go to.
func (s *Server) children(ctx context.Context, guildID discord.GuildID, parent int64, p int, base string) (childLinks, error) {
	pg, err := s.cfg.Cases.WithMetadata(ctx, guildID, cases.MetaParentCase, strconv.FormatInt(parent, 10), cases.PageRequest{Page: p, PerPage: childrenPerPage})
	if err != nil {
		return childLinks{}, err
	}
	out := childLinks{Parent: parent, Cases: pg.Cases, Total: pg.Total, Page: p}
	if p > 1 {
		out.Prev = fmt.Sprintf("%s?children=%d#children", base, p-1)
	}
	if p < pg.Pages {
		out.Next = fmt.Sprintf("%s?children=%d#children", base, p+1)
	}
	return out, nil
}

// childrenPage reads the children page number from the query (1 when absent), or says
// what is accepted.
func childrenPage(r *http.Request) (int, error) {
	raw := r.URL.Query().Get("children")
	if raw == "" {
		return 1, nil
	}
	p, err := strconv.Atoi(raw)
	if err != nil || p < 1 {
		return 0, &pageError{Status: http.StatusBadRequest, Title: "Bad page", Message: fmt.Sprintf("children=%q is not a page number (pages are numbered from 1).", clip(raw, 30))}
	}
	return p, nil
}

// raidAccess authorizes the raids pages: the server, and the raid command's permission.
func (s *Server) raidAccess(r *http.Request, sess *session) (access, error) {
	if s.cfg.Raids == nil {
		return access{}, &pageError{Status: http.StatusNotFound, Title: "Not available", Message: "This gavel process keeps no raids."}
	}
	return s.authorizeFor(r.Context(), r, sess, raidCommand, "raids")
}

// rate reads the join rate of the guild now, or says that this process has none.
func (s *Server) rate(ctx context.Context, g discord.Guild) (joinRate, error) {
	out := joinRate{Guild: g, Live: s.cfg.JoinRate != nil, At: s.cfg.Clock.Now(), RefreshEvery: int(rateRefresh / time.Second)}
	if s.cfg.Settings != nil {
		cfg, err := s.cfg.Settings.GetRaid(ctx, g.ID)
		if err != nil {
			return joinRate{}, err
		}
		out.Threshold, out.Window, out.Enabled = cfg.Threshold, cfg.Window, cfg.Enabled
	}
	if !out.Live {
		return out, nil
	}
	for _, v := range rateViews {
		total, counts := s.cfg.JoinRate(g.ID, out.At, v.Span, v.Buckets)
		rv := rateView{Label: v.Label, Total: total}
		step := v.Span / time.Duration(v.Buckets)
		for i, n := range counts {
			ago := "now"
			if end := time.Duration(len(counts)-1-i) * step; end > 0 {
				ago = settingsDuration(end) + " ago"
			}
			rv.Buckets = append(rv.Buckets, rateBucket{Ago: ago, Count: n})
		}
		out.Views = append(out.Views, rv)
	}
	return out, nil
}

// settingsDuration writes a duration as the raid settings do (10s, 5m, 1h).
func settingsDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// view builds a raid's view: its case's number and reason, its candidates by state with
// the first of them and their cases, and its responses.
func (s *Server) view(ctx context.Context, r raid.Raid) (raidView, error) {
	v := raidView{Raid: r, Number: r.Raid.Number, CaseNumber: r.Case.Number, Reason: r.Case.Reason, StartedAt: time.UnixMilli(r.StartedAt),
		LastJoin: time.UnixMilli(r.LastJoinAt), Summary: raid.Summarize(r.Members)}
	v.States = raid.StatesText(v.Summary.States)
	if r.EndedAt.Valid {
		v.EndedAt = time.UnixMilli(r.EndedAt.Int64)
	}
	if r.InvitesUntil.Valid {
		v.Invites = time.UnixMilli(r.InvitesUntil.Int64)
	}
	if r.DmsUntil.Valid {
		v.DMs = time.UnixMilli(r.DmsUntil.Int64)
	}
	for _, ev := range r.Responses() {
		v.Responses = append(v.Responses, raidStep{At: time.UnixMilli(ev.CreatedAt), Kind: ev.Kind, ActorID: ev.ActorID, Detail: ev.Detail})
	}
	for i, m := range r.Members {
		if i == raidCandidates {
			v.More = len(r.Members) - raidCandidates
			break
		}
		c := raidCandidate{RaidMember: m, Joined: time.UnixMilli(m.JoinedAt),
			AccountAge: ageText(time.UnixMilli(m.JoinedAt).Sub(time.UnixMilli(m.AccountCreatedAt)))}
		if m.CaseID.Valid {
			n, err := s.caseNumber(ctx, m.CaseID.Int64)
			if err != nil {
				return raidView{}, err
			}
			c.CaseNumber = n
		}
		v.Candidates = append(v.Candidates, c)
	}
	return v, nil
}

// caseNumber is the number of the case with id (links name cases by number; the raid
// record and escalation firings by id).
func (s *Server) caseNumber(ctx context.Context, id int64) (int64, error) {
	c, err := s.cfg.Cases.Get(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("case %d: %w", id, err)
	}
	return c.Number, nil
}

// ageText is an account's age at joining, roughly: "3 minutes", "5 days", "2 years".
func ageText(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	case d < 730*24*time.Hour:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
	return fmt.Sprintf("%d years", int(d/(365*24*time.Hour)))
}

// handleRaids is the raids page: the live join rate, the current raid and the past raids.
func (s *Server) handleRaids(w http.ResponseWriter, r *http.Request, sess *session) error {
	a, err := s.raidAccess(r, sess)
	if err != nil {
		return err
	}
	ctx := r.Context()
	page := raidsPage{Guild: a.Guild}
	if page.Rate, err = s.rate(ctx, a.Guild); err != nil {
		return err
	}
	var before int64
	if raw := r.URL.Query().Get("before"); raw != "" {
		if before, err = strconv.ParseInt(raw, 10, 64); err != nil || before < 1 {
			return &pageError{Status: http.StatusBadRequest, Title: "Bad page", Message: fmt.Sprintf("before=%q is not a raid number.", clip(raw, 30))}
		}
	}
	cur, open, err := s.cfg.Raids.Current(ctx, a.Guild.ID)
	if err != nil {
		return err
	}
	if open {
		v, err := s.view(ctx, cur)
		if err != nil {
			return err
		}
		page.Current = &v
	}
	if s.cfg.Lockdowns != nil {
		roles := map[discord.RoleID]string{}
		for _, r := range a.Guild.Roles {
			roles[r.ID] = r.Name
		}
		page.LockdownsShown = true
		if page.Lockdowns, err = s.lockdowns(ctx, a.Guild.ID, roles); err != nil {
			return err
		}
	}
	list, more, err := s.cfg.Raids.Page(ctx, a.Guild.ID, before, raidsPerPage)
	if err != nil {
		return err
	}
	for _, rd := range list {
		row := raidRow{Number: rd.Number, Trigger: rd.Trigger, StartedAt: time.UnixMilli(rd.StartedAt), Open: !rd.EndedAt.Valid, EndReason: rd.EndReason.String}
		if rd.EndedAt.Valid {
			row.EndedAt = time.UnixMilli(rd.EndedAt.Int64)
		}
		if row.CaseNumber, err = s.caseNumber(ctx, rd.CaseID); err != nil {
			return err
		}
		if row.Candidates, err = s.cfg.Raids.CountMembers(ctx, rd.ID); err != nil {
			return err
		}
		page.Past = append(page.Past, row)
	}
	path := fmt.Sprintf("/g/%d/raids", a.Guild.ID)
	if more {
		page.Next = fmt.Sprintf("%s?before=%d", path, list[len(list)-1].Number)
	}
	if before != 0 {
		page.First = path
	}
	s.render(w, http.StatusOK, "raids", sess, "Raids · "+a.Guild.Name, page)
	return nil
}

// handleJoinRate is the join rate alone, the part of the raids page htmx asks for again
// every few seconds.
func (s *Server) handleJoinRate(w http.ResponseWriter, r *http.Request, sess *session) error {
	a, err := s.raidAccess(r, sess)
	if err != nil {
		return err
	}
	rate, err := s.rate(r.Context(), a.Guild)
	if err != nil {
		return err
	}
	s.renderPart(w, "raids", "rate", rate)
	return nil
}

// handleRaid is one raid's page: what the current raid shows, and its children.
func (s *Server) handleRaid(w http.ResponseWriter, r *http.Request, sess *session) error {
	a, err := s.raidAccess(r, sess)
	if err != nil {
		return err
	}
	raw := r.PathValue("number")
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 1 {
		return &pageError{Status: http.StatusNotFound, Title: "No such raid", Message: fmt.Sprintf("%q is not a raid number (raids are numbered from 1).", clip(raw, 30))}
	}
	p, err := childrenPage(r)
	if err != nil {
		return err
	}
	rd, err := s.cfg.Raids.ByNumber(r.Context(), a.Guild.ID, n)
	if errors.Is(err, raid.ErrUnknown) {
		return &pageError{Status: http.StatusNotFound, Title: "No such raid", Message: fmt.Sprintf("%s has no raid #%d.", a.Guild.Name, n)}
	}
	if err != nil {
		return err
	}
	v, err := s.view(r.Context(), rd)
	if err != nil {
		return err
	}
	page := raidPage{Guild: a.Guild, Raid: v}
	if page.Children, err = s.children(r.Context(), a.Guild.ID, v.CaseNumber, p, fmt.Sprintf("/g/%d/raids/%d", a.Guild.ID, n)); err != nil {
		return err
	}
	s.render(w, http.StatusOK, "raid", sess, fmt.Sprintf("Raid #%d · %s", n, a.Guild.Name), page)
	return nil
}

// WindowText is the detection window as raid config writes it (10s, 1m), for the page.
func (j joinRate) WindowText() string {
	r := settings.DefaultRaid()
	r.Window = j.Window
	return r.Value(settings.RaidWindow)
}
