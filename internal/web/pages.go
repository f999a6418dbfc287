package web

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/escalation"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/tools"
)

// parsePages builds one template set per page, each with the shared layout.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"when":  formatTime,
		"clip":  clip,
		"types": cases.Types,
		"raidData": func(g discord.Guild, v *raidView) raidPage {
			return raidPage{Guild: g, Raid: *v}
		},
	}
	out := map[string]*template.Template{}
	for _, name := range []string{"home", "error", "servers", "cases", "case", "member", "scheduled", "automod", "settings", "raids", "raid"} {
		files := []string{"templates/layout.html", "templates/" + name + ".html"}
		if name == "raids" || name == "raid" || name == "case" {
			// A raid, and the cases under a case, are shown the same way on each page.
			files = append(files, "templates/raid-parts.html")
		}
		if name == "raids" {
			// The current lockdown and its snapshot (the "lockdown" block).
			files = append(files, "templates/lockdown.html")
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, files...)
		if err != nil {
			return nil, fmt.Errorf("web: parsing the %s page: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// serverRow is one server on the servers page.
type serverRow struct {
	ID      discord.GuildID
	Name    string
	CanEdit bool
}

// handleServers lists the servers gavel is in where the user may see cases.
func (s *Server) handleServers(w http.ResponseWriter, r *http.Request, sess *session) error {
	var rows []serverRow
	for _, id := range s.cfg.Guilds() {
		a, err := s.authorizeGuild(r.Context(), id, sess)
		var pe *pageError
		if errors.As(err, &pe) {
			continue // not a member, or not allowed: not listed
		}
		if err != nil {
			return err
		}
		rows = append(rows, serverRow{ID: id, Name: a.Guild.Name, CanEdit: a.CanEdit})
	}
	s.render(w, http.StatusOK, "servers", sess, "Servers", rows)
	return nil
}

// filterForm is the case list's filter as the form holds it, to show it back.
type filterForm struct {
	User, Moderator, Type, Status, From, Until, Text string
}

// parseFilter reads the case list's filter from the query, or says what is wrong.
func parseFilter(guild discord.GuildID, q url.Values) (cases.Browse, filterForm, error) {
	f := filterForm{User: q.Get("user"), Moderator: q.Get("moderator"), Type: q.Get("type"), Status: q.Get("status"),
		From: q.Get("from"), Until: q.Get("until"), Text: q.Get("q")}
	b := cases.Browse{Filter: cases.Filter{GuildID: guild}, Text: strings.TrimSpace(f.Text)}
	bad := func(msg string) (cases.Browse, filterForm, error) {
		return cases.Browse{}, f, &pageError{Status: http.StatusBadRequest, Title: "Bad filter", Message: msg}
	}
	var err error
	if b.UserID, err = parseUserRef(f.User); err != nil {
		return bad("user: " + err.Error())
	}
	if b.ModeratorID, err = parseUserRef(f.Moderator); err != nil {
		return bad("moderator: " + err.Error())
	}
	if f.Type != "" {
		t, err := cases.ParseType(f.Type)
		if err != nil {
			return bad("type: " + err.Error())
		}
		b.Types = []cases.Type{t}
	}
	if f.Status != "" {
		st, err := cases.ParseStatus(f.Status)
		if err != nil {
			return bad("status: " + err.Error())
		}
		b.Status = st
	}
	if b.From, err = parseDate(f.From); err != nil {
		return bad("from: " + err.Error())
	}
	if b.Until, err = parseDate(f.Until); err != nil {
		return bad("until: " + err.Error())
	}
	if !b.Until.IsZero() {
		b.Until = b.Until.Add(24 * time.Hour) // the whole day named
	}
	if err := b.Check(); err != nil {
		return bad(err.Error())
	}
	return b, f, nil
}

// parseUserRef reads a user id or mention; "" is none.
func parseUserRef(s string) (discord.UserID, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	t := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(s, "<@!"), "<@"), ">")
	id, err := strconv.ParseInt(t, 10, 64)
	if err != nil || id <= 0 || len(t) > 20 {
		return 0, fmt.Errorf("%q is not a user id; give the id (a number such as 123456789012345678) or a mention such as <@123456789012345678>", clip(s, 40))
	}
	return discord.UserID(id), nil
}

// parseDate reads a day as YYYY-MM-DD, in UTC; "" is none.
func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date; give it as YYYY-MM-DD, such as 2026-12-01 (UTC)", clip(s, 40))
	}
	return t, nil
}

// casesPage is the case list's data.
type casesPage struct {
	Guild  discord.Guild
	Filter filterForm
	Cases  []cases.Case
	// Next, First, CSV and JSONL are whole links (a query written into a template after a
	// literal "?" would be escaped as one value).
	Next, First, CSV, JSONL string
	Statuses                []string
	CanEdit                 bool
	// Raids links the raids page (the process keeps raids).
	Raids bool
}

func (s *Server) handleCases(w http.ResponseWriter, r *http.Request, sess *session) error {
	a, err := s.authorize(r.Context(), r, sess)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	b, form, err := parseFilter(a.Guild.ID, q)
	if err != nil {
		return err
	}
	var before int64
	if raw := q.Get("before"); raw != "" {
		if before, err = strconv.ParseInt(raw, 10, 64); err != nil || before < 1 {
			return &pageError{Status: http.StatusBadRequest, Title: "Bad page", Message: fmt.Sprintf("before=%q is not a case number.", clip(raw, 30))}
		}
	}
	list, more, err := s.cfg.Cases.BrowsePage(r.Context(), b, before, casesPerPage)
	if errors.Is(err, input.ErrInvalid) {
		return &pageError{Status: http.StatusBadRequest, Title: "Bad filter", Message: err.Error()}
	}
	if err != nil {
		return err
	}
	base := url.Values{}
	for k, v := range q {
		if k != "before" && len(v) > 0 && v[0] != "" {
			base.Set(k, v[0])
		}
	}
	path := fmt.Sprintf("/g/%d/cases", a.Guild.ID)
	page := casesPage{Guild: a.Guild, Filter: form, Cases: list, CanEdit: a.CanEdit, Raids: s.cfg.Raids != nil,
		CSV: path + ".csv?" + base.Encode(), JSONL: path + ".jsonl?" + base.Encode(),
		Statuses: []string{string(cases.Pending), string(cases.Active), string(cases.Voided)}}
	if more {
		next := maps.Clone(base)
		next.Set("before", strconv.FormatInt(list[len(list)-1].Number, 10))
		page.Next = path + "?" + next.Encode()
	}
	if before != 0 {
		page.First = path + "?" + base.Encode()
	}
	s.render(w, http.StatusOK, "cases", sess, "Cases · "+a.Guild.Name, page)
	return nil
}

// exportFilter authorizes and parses an export's filter.
func (s *Server) exportFilter(r *http.Request, sess *session) (cases.Browse, error) {
	a, err := s.authorize(r.Context(), r, sess)
	if err != nil {
		return cases.Browse{}, err
	}
	b, _, err := parseFilter(a.Guild.ID, r.URL.Query())
	return b, err
}

// csvCell keeps a spreadsheet from reading a cell as a formula (CSV injection).
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (s *Server) handleExportCSV(w http.ResponseWriter, r *http.Request, sess *session) error {
	b, err := s.exportFilter(r, sess)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="gavel-cases-%d.csv"`, b.GuildID))
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"number", "type", "status", "user_id", "moderator_id", "reason", "created_at", "expires_at", "updated_at"})
	rfc := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	err = s.cfg.Cases.BrowseAll(r.Context(), b, func(c cases.Case) error {
		return cw.Write([]string{strconv.FormatInt(c.Number, 10), string(c.Type), string(c.Status), strconv.FormatInt(int64(c.UserID), 10),
			strconv.FormatInt(int64(c.ModeratorID), 10), csvCell(c.Reason), rfc(c.CreatedAt), rfc(c.ExpiresAt), rfc(c.UpdatedAt)})
	})
	cw.Flush()
	if err != nil {
		// The status is sent; the truncated file ends without its last rows, and the log
		// says why.
		s.log.Error("dashboard CSV export cut short", "guild", b.GuildID, "err", err)
	}
	return nil
}

func (s *Server) handleExportJSONL(w http.ResponseWriter, r *http.Request, sess *session) error {
	b, err := s.exportFilter(r, sess)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="gavel-cases-%d.jsonl"`, b.GuildID))
	enc := json.NewEncoder(w)
	if err := s.cfg.Cases.BrowseAll(r.Context(), b, func(c cases.Case) error { return enc.Encode(c) }); err != nil {
		s.log.Error("dashboard JSON Lines export cut short", "guild", b.GuildID, "err", err)
	}
	return nil
}

// casePage is one case's data.
type casePage struct {
	Guild       discord.Guild
	Case        cases.Case
	Events      []cases.Event
	Metadata    [][2]string
	CanEdit     bool
	EditRefusal string
	CSRF        string
	MaxReason   int
	Notice      string
	// CanSchedule shows the status and expiry actions (the process runs the schedule).
	CanSchedule bool
	Statuses    []string
	// Lifts is the case this one lifts (0: none); LiftedBy the cases that lift this one.
	Lifts    int64
	LiftedBy []cases.Case
	// Parent is the case this one was made under (metadata parent_case: a raid's or a mass
	// action's), Raid the raid it belongs to (metadata raid, or the raid a RAID case is the
	// parent of); 0: none. Children are the cases made under this one, a page of them.
	Parent      int64
	Raid        int64
	Children    childLinks
	HasChildren bool
	// Escalations are the escalation links: the firings this case triggered (with the case
	// each made) and the one this case carried out (with the case that triggered it).
	Escalations []escalationLink
	// Points are the escalation points the case carries (HasPoints false: none).
	HasPoints   bool
	Points      int
	CountsUntil time.Time
}

// escalationLink is one firing as a case page shows it.
type escalationLink struct {
	escalation.Firing
	// Triggered: this case set the firing off; Other is the case at the firing's other end
	// (0: none yet).
	Triggered bool
	Other     int64
}

// metaLifts is the metadata key a lift case names the case it ends by (moderation's
// lift and cases modify -lift write it).
const metaLifts = "lifts_case"

// metaRaid is the metadata key a raid's child case names its raid's number by (raid's
// joiner policy and its mass actions write it, with cases.MetaParentCase).
const metaRaid = "raid"

// metaNumber reads a case number (or a raid's) that a case's metadata names under key; 0
// when it names none. The case page's links (the case a lift ends, the parent a raid's or
// a mass action's case was made under, the raid) all start from one.
func metaNumber(c cases.Case, key string) int64 {
	if n, err := strconv.ParseInt(c.Metadata[key], 10, 64); err == nil && n > 0 {
		return n
	}
	return 0
}

// caseInPath reads the case the path names, in the authorized guild.
func (s *Server) caseInPath(r *http.Request, a access) (cases.Case, error) {
	raw := r.PathValue("number")
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 1 {
		return cases.Case{}, &pageError{Status: http.StatusNotFound, Title: "No such case", Message: fmt.Sprintf("%q is not a case number (cases are numbered from 1).", clip(raw, 30))}
	}
	c, err := s.cfg.Cases.GetByNumber(r.Context(), a.Guild.ID, n)
	if errors.Is(err, cases.ErrNotFound) {
		return cases.Case{}, &pageError{Status: http.StatusNotFound, Title: "No such case", Message: fmt.Sprintf("%s has no case #%d.", a.Guild.Name, n)}
	}
	return c, err
}

func (s *Server) handleCase(w http.ResponseWriter, r *http.Request, sess *session) error {
	a, err := s.authorize(r.Context(), r, sess)
	if err != nil {
		return err
	}
	c, err := s.caseInPath(r, a)
	if err != nil {
		return err
	}
	events, err := s.cfg.Cases.Events(r.Context(), c.ID)
	if err != nil {
		return err
	}
	page := casePage{Guild: a.Guild, Case: c, Events: events, CanEdit: a.CanEdit, EditRefusal: a.EditRefusal, CSRF: sess.CSRF,
		MaxReason: cases.MaxReasonLength, CanSchedule: s.cfg.Expiry != nil, Statuses: []string{string(cases.Active), string(cases.Voided)}}
	page.Lifts, page.Parent, page.Raid = metaNumber(c, metaLifts), metaNumber(c, cases.MetaParentCase), metaNumber(c, metaRaid)
	if c.Type == cases.Raid && s.cfg.Raids != nil {
		rd, ok, err := s.cfg.Raids.ByCase(r.Context(), c.ID)
		if err != nil {
			return err
		}
		if ok {
			page.Raid = rd.Number
		}
	}
	p, err := childrenPage(r)
	if err != nil {
		return err
	}
	if page.Children, err = s.children(r.Context(), a.Guild.ID, c.Number, p, fmt.Sprintf("/g/%d/cases/%d", a.Guild.ID, c.Number)); err != nil {
		return err
	}
	page.HasChildren = page.Children.Total > 0
	lifted, err := s.cfg.Cases.WithMetadata(r.Context(), a.Guild.ID, metaLifts, strconv.FormatInt(c.Number, 10), cases.PageRequest{Page: 1, PerPage: cases.MaxPerPage})
	if err != nil {
		return err
	}
	page.LiftedBy = lifted.Cases
	if s.cfg.Escalation != nil {
		if page.Points, page.CountsUntil, page.HasPoints, err = s.cfg.Escalation.CasePoints(r.Context(), c.ID); err != nil {
			return err
		}
		fs, err := s.cfg.Escalation.FiringsOfCase(r.Context(), c.ID)
		if err != nil {
			return err
		}
		for _, f := range fs {
			if f.State == escalation.StateSkipped {
				continue // crossed at once with a harsher one, which took the action
			}
			l := escalationLink{Firing: f, Triggered: f.TriggerCase == c.ID}
			other := f.EscalationCase
			if !l.Triggered {
				other = f.TriggerCase
			}
			if other != 0 {
				if l.Other, err = s.caseNumber(r.Context(), other); err != nil {
					return err
				}
			}
			page.Escalations = append(page.Escalations, l)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Metadata)) {
		page.Metadata = append(page.Metadata, [2]string{k, c.Metadata[k]})
	}
	switch r.URL.Query().Get("updated") {
	case "reason":
		page.Notice = "Reason updated. The mod-log message follows."
	case "status":
		page.Notice = "Status updated. The mod-log message follows."
		if c.Status == cases.Voided {
			page.Notice += " Voiding keeps the case and does not undo its Discord action; a scheduled end still runs."
		}
	case "expiry":
		page.Notice = "Expiry updated; its scheduled end moved with it. The mod-log message follows."
	case "note":
		page.Notice = "Note added to the case's history."
	}
	s.render(w, http.StatusOK, "case", sess, fmt.Sprintf("Case #%d · %s", c.Number, a.Guild.Name), page)
	return nil
}

// handleReason changes a case's reason as the signed-in user, through cases.Service.Modify
// — the path cases modify takes — so the change is a history row naming them and the
// mod-log message is edited through the outbox.
func (s *Server) handleReason(w http.ResponseWriter, r *http.Request, sess *session) error {
	a, err := s.authorize(r.Context(), r, sess)
	if err != nil {
		return err
	}
	if !a.CanEdit {
		return &pageError{Status: http.StatusForbidden, Title: "Not allowed", Message: "You may not change cases here: " + a.EditRefusal + " Nothing was changed."}
	}
	c, err := s.caseInPath(r, a)
	if err != nil {
		return err
	}
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	_, err = s.cfg.Cases.Modify(r.Context(), a.Guild.ID, c.Number, discord.UserID(sess.UserID), cases.Changes{Reason: &reason})
	switch {
	case errors.Is(err, input.ErrUnchanged):
		return &pageError{Status: http.StatusBadRequest, Title: "Nothing changed", Message: fmt.Sprintf("Case #%d already has that reason.", c.Number)}
	case errors.Is(err, input.ErrInvalid):
		return &pageError{Status: http.StatusBadRequest, Title: "Not changed", Message: fmt.Sprintf("Case #%d was not changed: %s.", c.Number, err)}
	case err != nil:
		return err
	}
	s.log.Info("dashboard: case reason changed", "guild", a.Guild.ID, "case", c.Number, "user", sess.UserID)
	http.Redirect(w, r, fmt.Sprintf("/g/%d/cases/%d?updated=reason", a.Guild.ID, c.Number), http.StatusSeeOther)
	return nil
}

// handleNote adds a note to the case's history: something said or done about the case
// that changes none of its fields (cases.AddNote, which the pipeline uses for the same). No
// command adds a note to a case, so it takes what editing a case takes, cases modify's
// permission; the history row names the dashboard user.
func (s *Server) handleNote(w http.ResponseWriter, r *http.Request, sess *session) error {
	a, c, err := s.editable(r, sess, false)
	if err != nil {
		return err
	}
	note := strings.TrimSpace(r.PostForm.Get("note"))
	if n := utf8.RuneCountInString(note); n == 0 || n > cases.MaxReasonLength {
		return &pageError{Status: http.StatusBadRequest, Title: "Not added",
			Message: fmt.Sprintf("A note is 1 to %d characters; this one is %d. Nothing was added to case #%d.", cases.MaxReasonLength, n, c.Number)}
	}
	_, err = s.cfg.Cases.AddNote(r.Context(), a.Guild.ID, c.Number, discord.UserID(sess.UserID), note)
	switch {
	case errors.Is(err, input.ErrInvalid):
		return &pageError{Status: http.StatusBadRequest, Title: "Not added", Message: fmt.Sprintf("No note was added to case #%d: %s.", c.Number, err)}
	case err != nil:
		return err
	}
	s.log.Info("dashboard: note added to a case", "guild", a.Guild.ID, "case", c.Number, "user", sess.UserID)
	http.Redirect(w, r, fmt.Sprintf("/g/%d/cases/%d?updated=note", a.Guild.ID, c.Number), http.StatusSeeOther)
	return nil
}

// editable authorizes an edit of the case in the path: the user must be allowed cases
// modify, and the process must run the schedule when needSchedule is set.
func (s *Server) editable(r *http.Request, sess *session, needSchedule bool) (access, cases.Case, error) {
	a, err := s.authorize(r.Context(), r, sess)
	if err != nil {
		return access{}, cases.Case{}, err
	}
	if !a.CanEdit {
		return access{}, cases.Case{}, &pageError{Status: http.StatusForbidden, Title: "Not allowed", Message: "You may not change cases here: " + a.EditRefusal + " Nothing was changed."}
	}
	if needSchedule && s.cfg.Expiry == nil {
		return access{}, cases.Case{}, &pageError{Status: http.StatusNotFound, Title: "Not available", Message: "This gavel process runs no schedule, so statuses and expiries cannot be changed here."}
	}
	c, err := s.caseInPath(r, a)
	return a, c, err
}

// handleStatus voids or re-activates a case as cases modify -status does: through the
// schedule, which keeps a voided punishment's end and schedules a re-activated one again.
func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request, sess *session) error {
	a, c, err := s.editable(r, sess, true)
	if err != nil {
		return err
	}
	st := cases.Status(r.PostForm.Get("status"))
	if st != cases.Active && st != cases.Voided {
		return &pageError{Status: http.StatusBadRequest, Title: "Not changed", Message: fmt.Sprintf("Status %q is not one a case can be set to; use active or voided. Nothing was changed.", clip(string(st), 20))}
	}
	if c.Status == cases.Pending {
		return &pageError{Status: http.StatusConflict, Title: "Not changed", Message: fmt.Sprintf("Case #%d is pending: gavel is still carrying out its action (or will check it against Discord when it restarts), so its status cannot be set by hand yet; its reason can be changed.", c.Number)}
	}
	if c.Status == st {
		return &pageError{Status: http.StatusBadRequest, Title: "Nothing changed", Message: fmt.Sprintf("Case #%d is already %s.", c.Number, st)}
	}
	_, err = s.cfg.Expiry.SetStatus(r.Context(), a.Guild.ID, c.Number, discord.UserID(sess.UserID), st, "")
	if err := s.changeError(c, err); err != nil {
		return err
	}
	s.log.Info("dashboard: case status changed", "guild", a.Guild.ID, "case", c.Number, "status", st, "user", sess.UserID)
	http.Redirect(w, r, fmt.Sprintf("/g/%d/cases/%d?updated=status", a.Guild.ID, c.Number), http.StatusSeeOther)
	return nil
}

// handleExpiry moves a case's expiry as cases modify -expires does, with its scheduled end.
func (s *Server) handleExpiry(w http.ResponseWriter, r *http.Request, sess *session) error {
	a, c, err := s.editable(r, sess, true)
	if err != nil {
		return err
	}
	at, err := tools.ParseExpires(r.PostForm.Get("expires"), s.cfg.Clock.Now())
	if err != nil {
		return &pageError{Status: http.StatusBadRequest, Title: "Not changed", Message: err.Error() + ". Nothing was changed."}
	}
	if at.Equal(c.ExpiresAt) || at.IsZero() && c.ExpiresAt.IsZero() {
		return &pageError{Status: http.StatusBadRequest, Title: "Nothing changed", Message: fmt.Sprintf("Case #%d already expires %s.", c.Number, formatTime(at))}
	}
	_, err = s.cfg.Expiry.Reschedule(r.Context(), a.Guild.ID, c.Number, discord.UserID(sess.UserID), at, "dashboard")
	if err := s.changeError(c, err); err != nil {
		return err
	}
	s.log.Info("dashboard: case expiry changed", "guild", a.Guild.ID, "case", c.Number, "user", sess.UserID)
	http.Redirect(w, r, fmt.Sprintf("/g/%d/cases/%d?updated=expiry", a.Guild.ID, c.Number), http.StatusSeeOther)
	return nil
}

// changeError turns a refused change into a page saying why.
func (s *Server) changeError(c cases.Case, err error) error {
	var invalid *input.InvalidError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, input.ErrUnchanged):
		return &pageError{Status: http.StatusBadRequest, Title: "Nothing changed", Message: fmt.Sprintf("Case #%d already has that value.", c.Number)}
	case errors.As(err, &invalid):
		return &pageError{Status: http.StatusBadRequest, Title: "Not changed", Message: fmt.Sprintf("Case #%d was not changed: %s.", c.Number, invalid.Problem)}
	}
	return err
}

// memberPage is one member's record in a guild.
type memberPage struct {
	Guild  discord.Guild
	UserID discord.UserID
	// Escalation: the member's points now (of MaxAt, the highest enabled threshold; 0 when
	// no policy is on), the cases that make them with when each stops counting, and the
	// latest firings. ShowPoints is false when the process keeps no escalation.
	ShowPoints bool
	Points     int
	MaxAt      int
	PointCases []escalation.PointCase
	Firings    []escalation.Firing
	// Active are the member's cases in force; Liftable marks those a lift would end.
	Active   []activeCase
	Notes    []cases.Case
	Cases    []cases.Case
	More     bool
	AllCases string
	CanLift  bool
	CSRF     string
	Notice   string
}

type activeCase struct {
	cases.Case
	Liftable bool
	// Ending: its end has come and its lift is on its way (a queued lift, or an expiry the
	// runner has not reached yet).
	Ending bool
}

// memberCases is how many of a member's cases the member page lists before linking to the
// filtered case list.
const memberCases = 50

func (s *Server) handleMember(w http.ResponseWriter, r *http.Request, sess *session) error {
	a, err := s.authorize(r.Context(), r, sess)
	if err != nil {
		return err
	}
	user, err := parseUserRef(r.PathValue("user"))
	if err != nil || user == 0 {
		return &pageError{Status: http.StatusNotFound, Title: "No such member", Message: fmt.Sprintf("%q is not a user id.", clip(r.PathValue("user"), 30))}
	}
	page := memberPage{Guild: a.Guild, UserID: user, CanLift: s.cfg.Lift != nil, CSRF: sess.CSRF,
		AllCases: fmt.Sprintf("/g/%d/cases?user=%d", a.Guild.ID, user)}
	active, err := s.cfg.Cases.ActiveOfUser(r.Context(), a.Guild.ID, user)
	if err != nil {
		return err
	}
	for _, c := range active {
		if c.Processed || s.cfg.Liftable == nil || !s.cfg.Liftable(c.Type) {
			continue // ended, or not a punishment (a warning, a note, an unban)
		}
		ending := s.cfg.LiftQueues && !c.ExpiresAt.IsZero() && !c.ExpiresAt.After(s.cfg.Clock.Now())
		page.Active = append(page.Active, activeCase{Case: c, Liftable: true, Ending: ending})
	}
	notes, _, err := s.cfg.Cases.BrowsePage(r.Context(), cases.Browse{Filter: cases.Filter{GuildID: a.Guild.ID, UserID: user, Types: []cases.Type{cases.Note}}}, 0, memberCases)
	if err != nil {
		return err
	}
	page.Notes = notes
	if page.Cases, page.More, err = s.cfg.Cases.BrowsePage(r.Context(), cases.Browse{Filter: cases.Filter{GuildID: a.Guild.ID, UserID: user}}, 0, memberCases); err != nil {
		return err
	}
	if s.cfg.Escalation != nil {
		page.ShowPoints = true
		cfg, _, err := s.cfg.Escalation.Config(r.Context(), a.Guild.ID)
		if err != nil {
			return err
		}
		page.MaxAt = cfg.MaxAt()
		if page.Points, page.PointCases, err = s.cfg.Escalation.Points(r.Context(), a.Guild.ID, user); err != nil {
			return err
		}
		if page.Firings, err = s.cfg.Escalation.FiringsOfMember(r.Context(), a.Guild.ID, user, 10); err != nil {
			return err
		}
	}
	if r.URL.Query().Get("lifted") != "" {
		page.Notice = "Punishment lifted: the lift is a case of its own, listed below, linked to the case it ends."
	}
	if n := r.URL.Query().Get("queued"); n != "" {
		if _, err := strconv.ParseInt(n, 10, 64); err == nil {
			page.Notice = fmt.Sprintf("Lift of case #%s queued: its end is now, and gavel's schedule lifts it in a few seconds, as a case of its own linked to #%s. Reload to see it done.", n, n)
		}
	}
	s.render(w, http.StatusOK, "member", sess, fmt.Sprintf("Member %d · %s", user, a.Guild.Name), page)
	return nil
}

// handleLift ends a case's punishment now, as cases modify -lift does: the lifting command
// (unban, untimeout, unjail, …) through the moderation pipeline, with its own permission.
func (s *Server) handleLift(w http.ResponseWriter, r *http.Request, sess *session) error {
	a, err := s.authorize(r.Context(), r, sess)
	if err != nil {
		return err
	}
	if s.cfg.Lift == nil {
		return &pageError{Status: http.StatusNotFound, Title: "Not available", Message: "This gavel process runs no moderation pipeline (gavel web has no gateway), so punishments cannot be lifted here: lift it in Discord with cases modify and -lift, or from the dashboard that gavel run serves."}
	}
	c, err := s.caseInPath(r, a)
	if err != nil {
		return err
	}
	reply, refused, err := s.cfg.Lift(r.Context(), a.Guild.ID, discord.User{ID: discord.UserID(sess.UserID), Username: sess.Username}, a.Roles, c.Number)
	if err != nil {
		return err
	}
	reply = strings.TrimSpace(strings.TrimPrefix(reply, "❌"))
	if refused {
		return &pageError{Status: http.StatusBadRequest, Title: "Not lifted", Message: reply}
	}
	if s.cfg.LiftQueues {
		s.log.Info("dashboard: lift queued", "guild", a.Guild.ID, "case", c.Number, "user", sess.UserID)
		http.Redirect(w, r, fmt.Sprintf("/g/%d/members/%d?queued=%d", a.Guild.ID, c.UserID, c.Number), http.StatusSeeOther)
		return nil
	}
	s.log.Info("dashboard: punishment lifted", "guild", a.Guild.ID, "case", c.Number, "user", sess.UserID)
	http.Redirect(w, r, fmt.Sprintf("/g/%d/members/%d?lifted=%d", a.Guild.ID, c.UserID, c.Number), http.StatusSeeOther)
	return nil
}

// scheduledShown is how many of a guild's scheduled actions the page lists, soonest first.
const scheduledShown = 100

// scheduledRow is one scheduled action with its case's number.
type scheduledRow struct {
	expiry.Action
	Number int64
}

type scheduledPage struct {
	Guild discord.Guild
	Rows  []scheduledRow
	Total int64
}

// handleScheduled lists a guild's pending expiries and renewals, soonest first.
func (s *Server) handleScheduled(w http.ResponseWriter, r *http.Request, sess *session) error {
	a, err := s.authorize(r.Context(), r, sess)
	if err != nil {
		return err
	}
	if s.cfg.Expiry == nil {
		return &pageError{Status: http.StatusNotFound, Title: "Not available", Message: "This gavel process runs no schedule."}
	}
	acts, total, err := s.cfg.Expiry.Pending(r.Context(), a.Guild.ID, scheduledShown)
	if err != nil {
		return err
	}
	page := scheduledPage{Guild: a.Guild, Total: total}
	for _, act := range acts {
		c, err := s.cfg.Cases.Get(r.Context(), act.CaseID)
		if err != nil {
			return err
		}
		page.Rows = append(page.Rows, scheduledRow{Action: act, Number: c.Number})
	}
	s.render(w, http.StatusOK, "scheduled", sess, "Scheduled · "+a.Guild.Name, page)
	return nil
}

// maxTestMessage bounds the tester's message: Discord's longest message.
const maxTestMessage = 4000

// ruleRow is one AutoMod rule as the page shows it.
type ruleRow struct {
	automod.Rule
	Trigger string
	Actions []string
}

type autoModPage struct {
	Guild   discord.Guild
	Rules   []ruleRow
	Message string
	Tested  bool
	Report  automod.Report
	// File is the rules file in the editor: the guild's rules exported, or the file just
	// planned.
	File string
	// CanPlan shows the editor's Plan button (automod edit's permission).
	CanPlan bool
	CSRF    string
	// FileError is why the file cannot be planned, as gavel automod plan says it.
	FileError string
	// Plan is the plan just made, with its Apply form.
	Plan *planView
	// Refusal says why Apply refused the plan it was sent with; Notice what was done.
	Refusal, Notice string
}

func (p *autoModPage) setRules(rules []automod.Rule) {
	p.Rules = nil
	for _, rule := range rules {
		row := ruleRow{Rule: rule, Trigger: rule.TriggerType.String()}
		for _, act := range rule.Actions {
			row.Actions = append(row.Actions, act.Type.String())
		}
		p.Rules = append(p.Rules, row)
	}
}

// handleAutoMod lists the server's AutoMod rules as Discord has them and, given a message,
// shows which rules it would trigger and why, by gavel's local engine (Discord's
// semantics). It needs the automod list permission, and automod test for the tester.
func (s *Server) handleAutoMod(w http.ResponseWriter, r *http.Request, sess *session) error {
	a, err := s.authorize(r.Context(), r, sess)
	if err != nil {
		return err
	}
	if s.cfg.AutoMod == nil {
		return &pageError{Status: http.StatusNotFound, Title: "Not available", Message: "This gavel process does not manage AutoMod."}
	}
	msg := r.URL.Query().Get("message")
	cmd := "automod list"
	if msg != "" {
		cmd = "automod test"
	}
	d, err := a.may(cmd)
	if err != nil {
		return err
	}
	if !d.Allowed {
		return &pageError{Status: http.StatusForbidden, Title: "Not allowed",
			Message: fmt.Sprintf("You may not see the AutoMod rules of %s: %s", a.Guild.Name, strings.ReplaceAll(d.Reason, "`", ""))}
	}
	if len([]rune(msg)) > maxTestMessage {
		return &pageError{Status: http.StatusBadRequest, Title: "Message too long",
			Message: fmt.Sprintf("The message is %d characters long; Discord's messages are at most %d.", len([]rune(msg)), maxTestMessage)}
	}
	rules, err := s.cfg.AutoMod.List(r.Context(), a.Guild.ID)
	if err != nil {
		return fmt.Errorf("reading the AutoMod rules of %d: %w", a.Guild.ID, err)
	}
	page := autoModPage{Guild: a.Guild, Message: msg, CSRF: sess.CSRF}
	page.setRules(rules)
	var gavelRules []automod.GavelRule
	if s.cfg.GavelRules != nil {
		if gavelRules, err = s.cfg.GavelRules(r.Context(), a.Guild.ID); err != nil {
			return fmt.Errorf("reading the gavel-enforced rules of %d: %w", a.Guild.ID, err)
		}
	}
	// The rules as a file, as gavel automod export writes it, to edit and plan.
	file, _, err := automod.Export(rules, gavelRules)
	if err != nil {
		return fmt.Errorf("exporting the AutoMod rules of %d: %w", a.Guild.ID, err)
	}
	page.File = string(file)
	if s.cfg.GavelStore != nil {
		pd, err := a.may(planCommand)
		if err != nil {
			return err
		}
		page.CanPlan = pd.Allowed
	}
	if n := r.URL.Query().Get("applied"); n != "" {
		if k, err := strconv.Atoi(n); err == nil && k >= 0 {
			page.Notice = fmt.Sprintf("Applied the rules file: %d changes made. The rules below are Discord's now.", k)
		}
	}
	if msg != "" {
		if page.Report, err = automod.DryRun(rules, gavelRules, msg); err != nil {
			return fmt.Errorf("testing a message against the AutoMod rules of %d: %w", a.Guild.ID, err)
		}
		page.Tested = true
	}
	s.render(w, http.StatusOK, "automod", sess, "AutoMod · "+a.Guild.Name, page)
	return nil
}

// settingsHistory is how many changes of each kind the settings page shows.
const settingsHistory = 100

type settingsPage struct {
	Guild        discord.Guild
	Settings     settings.Guild
	Ranks        []permissions.Rank
	RoleRanks    []permissions.RoleRank
	CommandRanks []permissions.CommandRank
	History      []settings.Event
	RoleNames    map[int64]string
}

// handleSettings shows the server's settings, ranks, role ranks and command ranks with
// their change history, read-only; it needs what config show needs.
func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request, sess *session) error {
	a, err := s.authorize(r.Context(), r, sess)
	if err != nil {
		return err
	}
	if s.cfg.Settings == nil {
		return &pageError{Status: http.StatusNotFound, Title: "Not available", Message: "This gavel process keeps no settings."}
	}
	d, err := a.may("config show")
	if err != nil {
		return err
	}
	if !d.Allowed {
		return &pageError{Status: http.StatusForbidden, Title: "Not allowed",
			Message: fmt.Sprintf("You may not see the settings of %s: %s", a.Guild.Name, strings.ReplaceAll(d.Reason, "`", ""))}
	}
	ctx := r.Context()
	gid := int64(a.Guild.ID)
	page := settingsPage{Guild: a.Guild, RoleNames: map[int64]string{}}
	if page.Settings, err = s.cfg.Settings.Get(ctx, discord.GuildID(gid)); err != nil {
		return err
	}
	if page.Ranks, err = s.cfg.Perms.Ranks(ctx, discord.GuildID(gid)); err != nil {
		return err
	}
	if page.RoleRanks, err = s.cfg.Perms.RoleRanks(ctx, discord.GuildID(gid)); err != nil {
		return err
	}
	if page.CommandRanks, err = s.cfg.Perms.CommandRanks(ctx, discord.GuildID(gid)); err != nil {
		return err
	}
	own, err := s.cfg.Settings.History(ctx, discord.GuildID(gid), settingsHistory)
	if err != nil {
		return err
	}
	perms, err := s.cfg.Perms.History(ctx, discord.GuildID(gid), settingsHistory)
	if err != nil {
		return err
	}
	page.History = append(own, perms...)
	slices.SortStableFunc(page.History, func(x, y settings.Event) int { return y.At.Compare(x.At) })
	for _, role := range a.Guild.Roles {
		page.RoleNames[int64(role.ID)] = role.Name
	}
	s.render(w, http.StatusOK, "settings", sess, "Settings · "+a.Guild.Name, page)
	return nil
}
