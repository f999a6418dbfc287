package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/expiry"
)

// casesCmd groups the commands that read cases from the database.
type casesCmd struct {
	List   casesListCmd   `cmd:"" help:"List cases, newest first, with filters and pages."`
	Show   casesShowCmd   `cmd:"" help:"Show one case of a guild with its history."`
	Export casesExportCmd `cmd:"" help:"Write every case of a guild, with its history, as JSON Lines."`
}

type casesListCmd struct {
	Guild     int64    `placeholder:"ID" help:"Only cases of this guild."`
	User      int64    `placeholder:"ID" help:"Only cases whose target is this user."`
	Moderator int64    `placeholder:"ID" help:"Only cases taken by this moderator."`
	Type      []string `placeholder:"TYPE" sep:"," help:"Only cases of these types (repeat or separate with commas): BAN, UNBAN, HACKBAN, TEMPBAN, KICK, TIMEOUT, UNTIMEOUT, WARN, JAIL, UNJAIL, SNIPPETBAN, SNIPPETUNBAN, POLLBAN, POLLUNBAN, SOFTBAN, NOTE, AUTOMOD."`
	Status    string   `placeholder:"STATUS" help:"Only cases in this status: pending, active or voided."`
	Page      int      `default:"1" help:"Page to show, from 1."`
	PerPage   int      `default:"20" help:"Cases per page, 1 to 100."`
	JSON      bool     `name:"json" help:"Print the page as JSON."`
	// PendingExpiry lists the schedule instead of the cases.
	PendingExpiry bool `name:"pending-expiry" help:"List the scheduled expiries still to run (unbans, timeout renewals, lifts of timed jails and restrictions), soonest first, instead of cases. Takes --guild, --user, --type (of the case), --page, --per-page and --json."`
}

func (c casesListCmd) Run(ctx context.Context, rt *Runtime) error {
	if c.PendingExpiry {
		return c.pendingExpiry(ctx, rt)
	}
	f := cases.Filter{GuildID: discord.GuildID(c.Guild), UserID: discord.UserID(c.User), ModeratorID: discord.UserID(c.Moderator)}
	for _, t := range c.Type {
		typ, err := cases.ParseType(t)
		if err != nil {
			return err
		}
		f.Types = append(f.Types, typ)
	}
	if c.Status != "" {
		st, err := cases.ParseStatus(c.Status)
		if err != nil {
			return err
		}
		f.Status = st
	}
	st, err := rt.openMigratedStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := cases.NewService(st)
	page, err := svc.List(ctx, f, cases.PageRequest{Page: c.Page, PerPage: c.PerPage})
	if err == nil && page.Pages > 0 && c.Page > page.Pages {
		// Past the end: the last page, as the Discord list does, and said on stderr so that
		// stdout stays the table.
		fmt.Fprintf(rt.Stderr, "there is no page %d (%s); showing the last\n", c.Page, counted(page.Pages, "page", "pages"))
		page, err = svc.List(ctx, f, cases.PageRequest{Page: page.Pages, PerPage: c.PerPage})
	}
	if err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(rt.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Cases   []cases.Case `json:"cases"`
			Total   int64        `json:"total"`
			Page    int          `json:"page"`
			PerPage int          `json:"per_page"`
			Pages   int          `json:"pages"`
		}{page.Cases, page.Total, page.Page, page.PerPage, page.Pages})
	}
	if page.Total == 0 {
		fmt.Fprintln(rt.Stdout, "no cases match")
		return nil
	}
	tw := tabwriter.NewWriter(rt.Stdout, 0, 4, 2, ' ', 0)
	header := "CASE\tTYPE\tSTATUS\tUSER\tMODERATOR\tCREATED\tEXPIRES\tREASON"
	if c.Guild == 0 {
		header = "GUILD\t" + header
	}
	fmt.Fprintln(tw, header)
	for _, k := range page.Cases {
		row := fmt.Sprintf("#%d\t%s\t%s\t%d\t%d\t%s\t%s\t%s", k.Number, k.Type, k.Status, k.UserID, k.ModeratorID,
			stamp(k.CreatedAt), stamp(k.ExpiresAt), shorten(k.Reason, 60))
		if c.Guild == 0 {
			row = strconv.FormatInt(int64(k.GuildID), 10) + "\t" + row
		}
		fmt.Fprintln(tw, row)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(rt.Stdout, "page %d of %d (%s)\n", page.Page, page.Pages, counted(int(page.Total), "case", "cases"))
	return nil
}

type casesShowCmd struct {
	Guild  int64 `required:"" placeholder:"ID" help:"The guild the case belongs to."`
	Number int64 `arg:"" help:"The case number in that guild."`
	JSON   bool  `name:"json" help:"Print the case and its history as JSON."`
}

func (c casesShowCmd) Run(ctx context.Context, rt *Runtime) error {
	st, err := rt.openMigratedStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := cases.NewService(st)
	k, err := svc.GetByNumber(ctx, discord.GuildID(c.Guild), c.Number)
	if err != nil {
		return err
	}
	history, err := svc.Events(ctx, k.ID)
	if err != nil {
		return err
	}
	scheduled, err := expiry.NewService(st, svc).OfCase(ctx, k.ID)
	if err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(rt.Stdout)
		enc.SetIndent("", "  ")
		if scheduled == nil {
			scheduled = []expiry.Action{}
		}
		return enc.Encode(struct {
			exported
			Expiry []expiry.Action `json:"expiry"`
		}{exported{k, history}, scheduled})
	}
	w := rt.Stdout
	fmt.Fprintf(w, "Case #%d in guild %d (id %d)\n", k.Number, k.GuildID, k.ID)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Type\t%s\n", k.Type)
	fmt.Fprintf(tw, "Status\t%s\n", k.Status)
	fmt.Fprintf(tw, "User\t%d\n", k.UserID)
	fmt.Fprintf(tw, "Moderator\t%d\n", k.ModeratorID)
	fmt.Fprintf(tw, "Created\t%s\n", stamp(k.CreatedAt))
	fmt.Fprintf(tw, "Updated\t%s\n", stamp(k.UpdatedAt))
	if !k.ExpiresAt.IsZero() {
		state := "not yet processed"
		if k.Processed {
			state = "processed"
		}
		fmt.Fprintf(tw, "Expires\t%s (%s)\n", stamp(k.ExpiresAt), state)
	}
	if len(k.RoleIDs) > 0 {
		ids := make([]string, len(k.RoleIDs))
		for i, id := range k.RoleIDs {
			ids[i] = strconv.FormatInt(int64(id), 10)
		}
		fmt.Fprintf(tw, "Saved roles\t%s\n", strings.Join(ids, ", "))
	}
	if k.ModlogMessageID != 0 {
		fmt.Fprintf(tw, "Mod-log message\t%d (channel %d)\n", k.ModlogMessageID, k.ModlogChannelID)
	}
	for key, v := range k.Metadata {
		fmt.Fprintf(tw, "Metadata %s\t%s\n", key, v)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "Reason\n  %s\n", strings.ReplaceAll(k.Reason, "\n", "\n  "))
	if len(scheduled) > 0 {
		fmt.Fprintln(w, "Expiry")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, a := range scheduled {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", a.Kind, stamp(a.RunAt), actionState(a))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "History")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, e := range history {
		fmt.Fprintf(tw, "  %s\t%s\tby %d\t%s\n", stamp(e.At), e.Kind, e.ActorID, describe(e))
	}
	return tw.Flush()
}

// actionState says where a scheduled action stands, for people.
func actionState(a expiry.Action) string {
	var s string
	switch {
	case a.Open() && a.Attempts == 0:
		s = "scheduled"
	case a.Open():
		s = fmt.Sprintf("retrying (%d attempts so far)", a.Attempts)
	case !a.DoneAt.IsZero():
		s = fmt.Sprintf("%s %s", a.Outcome, stamp(a.DoneAt))
	default:
		s = fmt.Sprintf("%s %s", a.Outcome, stamp(a.Cancelled))
	}
	if a.LastError != "" {
		s += "; last error: " + shorten(a.LastError, 80)
	}
	if a.Note != "" {
		s += "; " + shorten(a.Note, 80)
	}
	return s
}

// pendingExpiry lists the open scheduled actions with their cases.
func (c casesListCmd) pendingExpiry(ctx context.Context, rt *Runtime) error {
	if c.Moderator != 0 || c.Status != "" {
		return fmt.Errorf("--pending-expiry lists scheduled expiries: it takes --guild, --user, --type, --page, --per-page and --json, not --moderator or --status")
	}
	if c.Page < 1 {
		return fmt.Errorf("--page %d: pages start at 1", c.Page)
	}
	if c.PerPage < 1 || c.PerPage > cases.MaxPerPage {
		return fmt.Errorf("--per-page %d is out of range; accepted: 1 to %d", c.PerPage, cases.MaxPerPage)
	}
	if c.Guild < 0 || c.User < 0 {
		return fmt.Errorf("--guild and --user take Discord ids, which are positive numbers")
	}
	var types []cases.Type
	for _, t := range c.Type {
		typ, err := cases.ParseType(t)
		if err != nil {
			return err
		}
		types = append(types, typ)
	}
	st, err := rt.openMigratedStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := cases.NewService(st)
	// The schedule holds one open action per expiring case: filtering in Go over the
	// listing (at most expiry.MaxPending) keeps the query simple.
	all, total, err := expiry.NewService(st, svc).Pending(ctx, discord.GuildID(c.Guild), expiry.MaxPending)
	if err != nil {
		return err
	}
	type row struct {
		expiry.Action
		Case cases.Case `json:"case"`
	}
	var rows []row
	for _, a := range all {
		if c.User != 0 && a.UserID != discord.UserID(c.User) {
			continue
		}
		k, err := svc.Get(ctx, a.CaseID)
		if err != nil {
			return err
		}
		if len(types) > 0 && !slices.Contains(types, k.Type) {
			continue
		}
		rows = append(rows, row{a, k})
	}
	matched := len(rows)
	pages := (matched + c.PerPage - 1) / c.PerPage
	if pages > 0 && c.Page > pages {
		fmt.Fprintf(rt.Stderr, "there is no page %d (%s); showing the last\n", c.Page, counted(pages, "page", "pages"))
		c.Page = pages
	}
	start := min((c.Page-1)*c.PerPage, matched)
	rows = rows[start:min(start+c.PerPage, matched)]
	if c.JSON {
		if rows == nil {
			rows = []row{}
		}
		enc := json.NewEncoder(rt.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Expiries []row `json:"expiries"`
			Total    int   `json:"total"`
			Page     int   `json:"page"`
			PerPage  int   `json:"per_page"`
			Pages    int   `json:"pages"`
		}{rows, matched, c.Page, c.PerPage, pages})
	}
	if matched == 0 {
		fmt.Fprintln(rt.Stdout, "no pending expiries match")
		return nil
	}
	tw := tabwriter.NewWriter(rt.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DUE\tACTION\tGUILD\tCASE\tTYPE\tUSER\tSTATE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t#%d\t%s\t%d\t%s\n", stamp(r.RunAt), r.Kind, r.GuildID, r.Case.Number, r.Case.Type, r.UserID, actionState(r.Action))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(rt.Stdout, "page %d of %d (%s", c.Page, pages, counted(matched, "pending expiry", "pending expiries"))
	if total > int64(len(all)) {
		fmt.Fprintf(rt.Stdout, "; only the %d soonest of %d were searched", len(all), total)
	}
	fmt.Fprintln(rt.Stdout, ")")
	return nil
}

// counted says n things, singular or plural: "1 pending expiry", "3 pending expiries".
func counted(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// describe renders a history row's change in words.
func describe(e cases.Event) string {
	var s string
	switch {
	case e.Kind == cases.EventCreated:
		s = "created as " + e.New
	case e.Old == "" && e.New == "":
		s = ""
	case e.Old == "":
		s = fmt.Sprintf("set to %q", e.New)
	case e.New == "":
		s = fmt.Sprintf("cleared (was %q)", e.Old)
	default:
		s = fmt.Sprintf("%q → %q", e.Old, e.New)
	}
	if e.Note != "" {
		if s != "" {
			s += ": "
		}
		s += e.Note
	}
	return s
}

type casesExportCmd struct {
	Guild  int64  `required:"" placeholder:"ID" help:"The guild whose cases to export."`
	Output string `short:"o" placeholder:"FILE" help:"Write to FILE instead of standard output (- is standard output). A regular file is replaced only when the export succeeds and keeps its mode; a FIFO or device is written to as it is; a symlink's target is written."`
}

// exported is one line of an export: the case's fields and its history.
type exported struct {
	cases.Case
	History []cases.Event `json:"history"`
}

func (c casesExportCmd) Run(ctx context.Context, rt *Runtime) error {
	st, err := rt.openMigratedStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	n := 0
	err = writeOutput(rt.path(c.Output), rt.Stdout, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		return cases.NewService(st).Export(ctx, discord.GuildID(c.Guild), func(k cases.Case, history []cases.Event) error {
			n++
			if history == nil {
				history = []cases.Event{}
			}
			return enc.Encode(exported{k, history})
		})
	})
	if err != nil {
		return err
	}
	if c.Output != "" && c.Output != "-" {
		fmt.Fprintf(rt.Stderr, "exported %d cases of guild %d to %s\n", n, c.Guild, c.Output)
	}
	return nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// shorten cuts s to n characters on one line, for a table cell.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
