package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/escalation"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Limits of the case commands.
const (
	// casesPerPage is how many cases one page of the list shows, as in Tux.
	casesPerPage = 10
	// maxCaseNumber is the largest number "$cases N" reads as a case number; a bigger one is
	// a user id (Tux's rule).
	maxCaseNumber = 10_000_000
	// maxListPage bounds the page a button or -page may ask for.
	maxListPage = maxCaseNumber / casesPerPage
	// maxSearchText bounds the text of cases search (the store takes at most 200 bytes).
	maxSearchText = 100
	// maxCustomID is Discord's limit on a button's custom_id.
	maxCustomID = 100
	// casesComponentPrefix starts the custom_id of the list's buttons.
	casesComponentPrefix = "cases:"
	// caseColor is Tux's colour for case embeds.
	caseColor = 0xF7768E
)

// caseStatusChoices are the statuses a list may filter by; modify sets only the last two
// (pending belongs to gavel while it carries out the action).
var (
	caseStatusChoices   = []string{string(cases.Pending), string(cases.Active), string(cases.Voided)}
	modifyStatusChoices = []string{string(cases.Active), string(cases.Voided)}
)

func caseTypeChoices() []string {
	out := make([]string, 0, len(cases.Types()))
	for _, t := range cases.Types() {
		out = append(out, string(t))
	}
	return out
}

// casesSpec declares the cases command: list (the default), view and modify.
func casesSpec() *commands.Spec {
	number := commands.Param{Name: "number", Description: "The case number", Kind: commands.KindInt,
		Required: true, Positional: true, Min: 1, Max: maxCaseNumber}
	filters := []commands.Param{
		{Name: "moderator", Description: "Only cases by this moderator", Kind: commands.KindUser, Aliases: []string{"mod"}},
		{Name: "type", Description: "Only cases of this type", Kind: commands.KindString, Choices: caseTypeChoices(), Aliases: []string{"t"}},
		{Name: "status", Description: "Only cases in this status", Kind: commands.KindString, Choices: caseStatusChoices, Aliases: []string{"s"}},
		{Name: "page", Description: "The page to show", Kind: commands.KindInt, Min: 1, Max: maxListPage, Aliases: []string{"p"}},
	}
	return &commands.Spec{
		Name: "cases", Native: permissions.ManageMessages, Rank: 2,
		Aliases:     []string{"case", "c"},
		Description: "List, view and modify this server's moderation cases",
		Default:     "list",
		Route:       routeCases,
		Subs: []*commands.Spec{
			{Name: "list", Aliases: []string{"filter", "ls"}, Description: "List cases, newest first, 10 per page",
				Params: append([]commands.Param{
					{Name: "user", Description: "Only this user's cases", Kind: commands.KindUser, Positional: true, Aliases: []string{"u", "target"}},
				}, filters...)},
			{Name: "search", Aliases: []string{"find"}, Description: "Find cases whose reason contains every word given, newest first",
				Params: append([]commands.Param{
					{Name: "text", Description: "The words the reason contains (letters and digits)", Kind: commands.KindString,
						Required: true, Positional: true, Rest: true, Max: maxSearchText},
					{Name: "user", Description: "Only this user's cases", Kind: commands.KindUser, Aliases: []string{"u", "target"}},
				}, filters...)},
			{Name: "view", Aliases: []string{"v", "show", "get"}, Description: "Show one case with its history",
				Params: []commands.Param{number}},
			{Name: "modify", Aliases: []string{"m", "edit", "update"}, Rank: 4, Description: "Change a case's reason, status or expiry",
				Params: []commands.Param{
					number,
					{Name: "reason", Description: "The new reason", Kind: commands.KindString, Min: 1, Max: cases.MaxReasonLength, Aliases: []string{"r"}},
					{Name: "status", Description: "active, or voided (kept, no longer counts)", Kind: commands.KindString, Choices: modifyStatusChoices, Aliases: []string{"s"}},
					{Name: "duration", Description: "How long it lasts in all, from when it was given (e.g. 3d)", Kind: commands.KindDuration,
						Bounds: duration.Bounds{Min: time.Minute, Max: maxCaseDuration}, Aliases: []string{"d"}},
					{Name: "expires", Description: "When it ends: 2026-12-01 18:00 (UTC), an RFC 3339 time, or never", Kind: commands.KindString,
						Min: 1, Max: 40, Aliases: []string{"e"}},
					{Name: "lift", Description: "With status voided: lift its punishment now (an unban, untimeout, unjail…)", Kind: commands.KindBool},
					{Name: "points", Description: "Its escalation points (0 to 100)", Kind: commands.KindInt, Aliases: []string{"pts"}},
				}},
		},
	}
}

// routeCases is Tux's rule for "$cases <word>": a number from 1 to 10,000,000 is a case to
// view, anything else a user whose cases to list.
func routeCases(word string) (string, error) {
	if n, err := strconv.ParseInt(word, 10, 64); err == nil {
		if n >= 1 && n <= maxCaseNumber {
			return "view", nil
		}
		if _, ok := commands.ParseUserRef(word); ok {
			return "list", nil
		}
		return "", fmt.Errorf("%s is neither a case number (1 to %d) nor a user id", word, maxCaseNumber)
	}
	if strings.HasPrefix(word, "-") {
		return "list", nil // a flag of the list: "$cases -type ban"
	}
	if _, ok := commands.ParseUserRef(word); ok {
		return "list", nil
	}
	return "", fmt.Errorf("could not find case number or user %q: use a case number (e.g. 123) or mention a user (e.g. @user)", clipText(word, 40))
}

// caseTool holds what the cases command needs.
type caseTool struct {
	env  *Env
	spec *commands.Spec
}

func newCases(env *Env) *Tool {
	ct := &caseTool{env: env, spec: casesSpec()}
	return &Tool{Spec: ct.spec, Run: ct.run, ComponentPrefix: casesComponentPrefix, ClickCommand: "cases list", Click: ct.click}
}

func (ct *caseTool) run(ctx context.Context, call Call, args commands.Args) Reply {
	switch args.Spec.Name {
	case "list", "search":
		q := listQuery{Page: 1, UserID: discord.UserID(args.ID("user")), ModeratorID: discord.UserID(args.ID("moderator")),
			Type: cases.Type(args.String("type")), Status: cases.Status(args.String("status"))}
		if args.Has("page") {
			q.Page = int(args.Int("page"))
		}
		if args.Spec.Name == "search" {
			q.Words = cases.SearchWords(args.String("text"))
			if len(q.Words) == 0 {
				return Text(Refused, "Give at least one word of letters or digits to look for in the reasons, as in `%scases search spam links`.", call.Prefix)
			}
		}
		return ct.list(ctx, call, q)
	case "view":
		return ct.view(ctx, call, args.Int("number"))
	case "modify":
		return ct.modify(ctx, call, args)
	}
	return Text(Refused, "%s is not a cases subcommand; use list, view or modify.", args.Command())
}

// click shows another page of a list: the button's custom_id holds the page and filters.
func (ct *caseTool) click(ctx context.Context, call Call, customID string) Reply {
	q, _, err := parseListID(customID)
	if err != nil {
		return Text(Refused, "This button is not one gavel made (%v). Run the cases command again.", err)
	}
	return ct.list(ctx, call, q)
}

// listQuery is one page of a filtered case list: what a button of the list carries.
type listQuery struct {
	Page        int
	UserID      discord.UserID
	ModeratorID discord.UserID
	Type        cases.Type
	Status      cases.Status
	// Words are a search's: the reason holds every one.
	Words []string
}

// The list's buttons, each a letter in the custom_id: Discord refuses a message whose
// components share a custom_id, and first and previous lead to the same page on page 2.
const (
	buttonFirst = 'f'
	buttonPrev  = 'p'
	buttonNext  = 'n'
	buttonLast  = 'l'
)

// customID encodes the query behind one button: "cases:n:3:<user>:<moderator>:<type>:<status>",
// empty where a filter is unset. It is at most 6+2+7+20+20+13+8 = 76 characters, within
// Discord's 100.
func (q listQuery) customID(button byte) string {
	id := func(v int64) string {
		if v == 0 {
			return ""
		}
		return strconv.FormatInt(v, 10)
	}
	s := casesComponentPrefix + string(button) + ":" + strconv.Itoa(q.Page) + ":" + id(int64(q.UserID)) + ":" +
		id(int64(q.ModeratorID)) + ":" + string(q.Type) + ":" + string(q.Status)
	if len(q.Words) > 0 {
		// A search's words follow, joined by +; a search too long for Discord's 100
		// characters gets no buttons (listButtons).
		s += ":" + strings.Join(q.Words, "+")
	}
	return s
}

// parseListID reads a list button's custom_id back; it accepts exactly what customID
// writes, so a forged or stale id is an error, never a different query.
func parseListID(s string) (listQuery, byte, error) {
	rest, ok := strings.CutPrefix(s, casesComponentPrefix)
	if !ok || len(s) > 100 {
		return listQuery{}, 0, errors.New("not a case list button")
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 6 && len(parts) != 7 || len(parts[0]) != 1 || !strings.Contains("fpnl", parts[0]) {
		return listQuery{}, 0, fmt.Errorf("malformed custom id %q", clipText(s, 100))
	}
	var q listQuery
	page, err := strconv.Atoi(parts[1])
	if err != nil || page < 1 || page > maxListPage || strconv.Itoa(page) != parts[1] {
		return listQuery{}, 0, fmt.Errorf("bad page %q", clipText(parts[1], 20))
	}
	q.Page = page
	for i, dst := range []*discord.UserID{&q.UserID, &q.ModeratorID} {
		p := parts[2+i]
		if p == "" {
			continue
		}
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil || v <= 0 || strconv.FormatInt(v, 10) != p {
			return listQuery{}, 0, fmt.Errorf("bad id %q", clipText(p, 25))
		}
		*dst = discord.UserID(v)
	}
	if parts[4] != "" {
		if t := cases.Type(parts[4]); t.Valid() {
			q.Type = t
		} else {
			return listQuery{}, 0, fmt.Errorf("bad case type %q", clipText(parts[4], 20))
		}
	}
	if parts[5] != "" {
		st, err := cases.ParseStatus(parts[5])
		if err != nil || string(st) != parts[5] {
			return listQuery{}, 0, fmt.Errorf("bad status %q", clipText(parts[5], 20))
		}
		q.Status = st
	}
	if len(parts) == 7 {
		words := strings.Split(parts[6], "+")
		if parts[6] == "" || strings.Join(cases.SearchWords(parts[6]), "+") != parts[6] {
			return listQuery{}, 0, fmt.Errorf("bad search %q", clipText(parts[6], 30))
		}
		q.Words = words
	}
	return q, parts[0][0], nil
}

// list answers one page of the query, clamped to the pages there are now: cases may have
// been added or removed since the buttons were drawn.
func (ct *caseTool) list(ctx context.Context, call Call, q listQuery) Reply {
	f := cases.Filter{GuildID: call.GuildID, UserID: q.UserID, ModeratorID: q.ModeratorID, Status: q.Status, Words: q.Words}
	if q.Type != "" {
		f.Types = []cases.Type{q.Type}
	}
	page, err := ct.env.Cases.List(ctx, f, cases.PageRequest{Page: q.Page, PerPage: casesPerPage})
	asked := 0 // the page asked for, when there is no such page
	if err == nil && page.Pages > 0 && q.Page > page.Pages {
		asked, q.Page = q.Page, page.Pages
		page, err = ct.env.Cases.List(ctx, f, cases.PageRequest{Page: q.Page, PerPage: casesPerPage})
	}
	if err != nil {
		return Reply{Message: textMessage("Could not read the cases (the database failed); try again in a moment."),
			Outcome: Failed, Err: fmt.Errorf("cases list: %w", err)}
	}
	if page.Pages == 0 {
		q.Page = 1
	}
	title := listTitle(q, ct.userName(ctx, call.GuildID, int64(q.UserID)), ct.userName(ctx, call.GuildID, int64(q.ModeratorID)), page.Total)
	msg := listMessage(q, title, page, call)
	if asked > 0 {
		// Said, not only done: a moderator who asked for page 999 must not think it exists.
		msg.Content = fmt.Sprintf("There is no page %d: %s. This is the last.", asked, count(page.Pages, "page", "pages"))
	}
	return Reply{Message: msg, Outcome: OK}
}

// listTitle names the total and the filters: "Cases for target, by mod, type WARN (23)".
func listTitle(q listQuery, user, moderator string, total int64) string {
	var filters []string
	if q.UserID != 0 {
		filters = append(filters, "for "+discord.EscapeMarkdown(user))
	}
	if q.ModeratorID != 0 {
		filters = append(filters, "by "+discord.EscapeMarkdown(moderator))
	}
	if q.Type != "" {
		filters = append(filters, "type "+string(q.Type))
	}
	if q.Status != "" {
		filters = append(filters, "status "+string(q.Status))
	}
	if len(q.Words) > 0 {
		filters = append(filters, fmt.Sprintf("with %q", strings.Join(q.Words, " ")))
	}
	title := "Cases"
	if len(filters) > 0 {
		title += " " + strings.Join(filters, ", ")
	}
	return clipText(title, 240) + fmt.Sprintf(" (%d)", total)
}

// listMessage is the page as an embed with its buttons: one line per case, newest first.
func listMessage(q listQuery, title string, page cases.Page, call Call) discord.Message {
	e := discord.Embed{Title: title, Color: caseColor}
	if len(page.Cases) == 0 {
		e.Description = "No cases match."
		if q.UserID == 0 && q.ModeratorID == 0 && q.Type == "" && q.Status == "" && len(q.Words) == 0 {
			e.Description = "This server has no cases yet."
		}
	} else {
		lines := make([]string, 0, len(page.Cases))
		for _, c := range page.Cases {
			lines = append(lines, caseLine(c))
		}
		e.Description = strings.Join(lines, "\n")
		e.Footer = &discord.EmbedFooter{Text: fmt.Sprintf("Page %d of %d · newest first", q.Page, page.Pages)}
	}
	buttons := listButtons(q, page.Pages)
	if buttons == nil && page.Pages > 1 {
		// The search is too long for a button to carry: the page option turns the pages.
		e.Footer.Text += fmt.Sprintf(" · next: %s %d", commands.OptionName("page", call.Slash), min(q.Page+1, page.Pages))
	}
	return discord.Message{Embeds: []discord.Embed{e}, Components: buttons, AllowedMentions: &discord.AllowedMentions{}}
}

// caseLine is one case in a list: "`#12` **BAN** · active · <t:…:R> · spamming links".
func caseLine(c cases.Case) string {
	reason := strings.Join(strings.Fields(c.Reason), " ")
	reason = strings.ReplaceAll(reason, "`", "'")
	return fmt.Sprintf("`#%d` **%s** · %s · <t:%d:R> · %s", c.Number, c.Type, c.Status, c.CreatedAt.Unix(), clipText(reason, 80))
}

// listButtons are first, previous, next and last, disabled where they lead nowhere; none
// when everything fits on one page.
func listButtons(q listQuery, pages int) json.RawMessage {
	widest := q
	widest.Page = pages
	if pages <= 1 || len(widest.customID(buttonLast)) > maxCustomID {
		return nil
	}
	type button struct {
		key      byte
		label    string
		page     int
		disabled bool
	}
	buttons := []button{
		{buttonFirst, "⏮ First", 1, q.Page <= 1},
		{buttonPrev, "◀ Previous", max(q.Page-1, 1), q.Page <= 1},
		{buttonNext, "Next ▶", min(q.Page+1, pages), q.Page >= pages},
		{buttonLast, "Last ⏭", pages, q.Page >= pages},
	}
	var b strings.Builder
	b.WriteString(`[{"type":1,"components":[`)
	for i, bt := range buttons {
		if i > 0 {
			b.WriteByte(',')
		}
		target := q
		target.Page = bt.page
		fmt.Fprintf(&b, `{"type":2,"style":2,"label":%q,"custom_id":%q,"disabled":%t}`, bt.label, target.customID(bt.key), bt.disabled)
	}
	b.WriteString(`]}]`)
	return json.RawMessage(b.String())
}

// view shows one case with its history.
func (ct *caseTool) view(ctx context.Context, call Call, n int64) Reply {
	c, err := ct.env.Cases.GetByNumber(ctx, call.GuildID, n)
	if err != nil {
		return ct.caseError(n, err)
	}
	events, err := ct.env.Cases.Events(ctx, c.ID)
	if err != nil {
		return Reply{Message: textMessage("Could not read the case's history (the database failed); try again in a moment."),
			Outcome: Failed, Err: fmt.Errorf("cases view %d: %w", n, err)}
	}
	return Reply{Message: discord.Message{Embeds: []discord.Embed{ct.caseEmbed(ctx, call, c, events)}, AllowedMentions: &discord.AllowedMentions{}}, Outcome: OK}
}

// caseError words a failure to read or change case n.
func (ct *caseTool) caseError(n int64, err error) Reply {
	var inv *input.InvalidError
	switch {
	case errors.Is(err, cases.ErrNotFound):
		return Text(Refused, "Case #%d does not exist in this server.", n)
	case errors.As(err, &inv):
		return Text(Refused, "Nothing was changed: %s.", inv.Problem)
	}
	return Reply{Message: textMessage(fmt.Sprintf("Could not read case #%d (the database failed); try again in a moment.", n)),
		Outcome: Failed, Err: fmt.Errorf("case %d: %w", n, err)}
}

// caseEmbed resolves the names and the mod-log link the case view shows.
func (ct *caseTool) caseEmbed(ctx context.Context, call Call, c cases.Case, events []cases.Event) discord.Embed {
	names := map[int64]string{}
	for _, id := range []int64{int64(c.UserID), int64(c.ModeratorID)} {
		if _, ok := names[id]; !ok {
			names[id] = ct.userName(ctx, call.GuildID, id)
		}
	}
	link := ""
	switch {
	case c.ModlogMessageID != 0 && c.ModlogChannelID != 0:
		// Where the message is, which the guild's mod-log channel may no longer be.
		link = fmt.Sprintf("https://discord.com/channels/%d/%d/%d", call.GuildID, c.ModlogChannelID, c.ModlogMessageID)
	case c.ModlogMessageID != 0:
		link = fmt.Sprintf("message %d", c.ModlogMessageID)
	}
	return caseEmbed(c, events, names, link)
}

// Discord's embed limits.
const (
	embedMaxFields     = 25
	embedMaxFieldValue = 1024
	embedMaxTotal      = 6000
	embedMaxTitle      = 256
)

// caseEmbed is the single-case view: type, status, user, moderator, reason, when it was
// created and expires, whether the expiry was handled, the mod-log message, and the
// history, cut to Discord's embed limits with a note when it does not all fit.
func caseEmbed(c cases.Case, events []cases.Event, names map[int64]string, modlogLink string) discord.Embed {
	title := fmt.Sprintf("Case #%d · %s", c.Number, c.Type)
	who := func(id int64) string {
		if n := names[id]; n != "" && n != fallbackName(id) {
			return fmt.Sprintf("<@%d>\n%s · `%d`", id, discord.EscapeMarkdown(clipText(n, 100)), id)
		}
		return fmt.Sprintf("<@%d>\n`%d`", id, id)
	}
	expiry := "never"
	if !c.ExpiresAt.IsZero() {
		state := "not yet"
		if c.Processed {
			state = "yes, handled"
		}
		expiry = fmt.Sprintf("<t:%d:f> (<t:%d:R>)\nEnded: %s", c.ExpiresAt.Unix(), c.ExpiresAt.Unix(), state)
	}
	reason := c.Reason
	if reason == "" {
		reason = "No reason given."
	}
	e := discord.Embed{
		Title:       title,
		Description: reason,
		Color:       caseColor,
		Timestamp:   c.CreatedAt,
		Footer:      &discord.EmbedFooter{Text: fmt.Sprintf("Case #%d", c.Number)},
		Fields: []discord.EmbedField{
			{Name: "Type", Value: string(c.Type), Inline: true},
			{Name: "Status", Value: statusText(c.Status), Inline: true},
			{Name: "Created", Value: fmt.Sprintf("<t:%d:f>", c.CreatedAt.Unix()), Inline: true},
			{Name: "User", Value: who(int64(c.UserID)), Inline: true},
			{Name: "Moderator", Value: who(int64(c.ModeratorID)), Inline: true},
			{Name: "Expires", Value: expiry, Inline: true},
		},
	}
	if modlogLink != "" {
		e.Fields = append(e.Fields, discord.EmbedField{Name: "Mod log", Value: modlogLink})
	}
	lines := make([]string, 0, len(events))
	for _, ev := range events {
		lines = append(lines, eventLine(ev))
	}
	e.Fields = append(e.Fields, packHistory(lines, embedMaxFields-len(e.Fields), embedMaxTotal-embedSize(e)-20)...)
	return e
}

func statusText(s cases.Status) string {
	switch s {
	case cases.Pending:
		return "pending (gavel is carrying out the action)"
	case cases.Voided:
		return "voided (kept, no longer counts)"
	}
	return string(s)
}

// eventLine is one history row: when, what, who, and the old and new values.
func eventLine(ev cases.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<t:%d:R> **%s** by <@%d>", ev.At.Unix(), ev.Kind, ev.ActorID)
	show := func(s string) string {
		if s == "" {
			return "none"
		}
		return "“" + clipText(strings.Join(strings.Fields(s), " "), 80) + "”"
	}
	switch {
	case ev.Old != "" || ev.New != "" && ev.Kind != cases.EventCreated:
		fmt.Fprintf(&b, ": %s → %s", show(ev.Old), show(ev.New))
	case ev.New != "":
		fmt.Fprintf(&b, ": %s", show(ev.New))
	}
	if ev.Note != "" {
		fmt.Fprintf(&b, " (%s)", clipText(strings.Join(strings.Fields(ev.Note), " "), 100))
	}
	return b.String()
}

// packHistory fits history lines into at most maxFields fields of 1024 characters and
// budget characters in all. When they do not all fit, the newest are kept, after a note
// that says how many older events are left out.
func packHistory(lines []string, maxFields, budget int) []discord.EmbedField {
	if len(lines) == 0 || maxFields <= 0 {
		return nil
	}
	for keep := len(lines); keep >= 0; keep-- {
		shown := lines[len(lines)-keep:]
		if dropped := len(lines) - keep; dropped > 0 {
			shown = append([]string{fmt.Sprintf("*%s not shown.*", count(dropped, "older event", "older events"))}, shown...)
		}
		fields := packLines(shown)
		size := 0
		for _, f := range fields {
			size += runes(f.Name) + runes(f.Value)
		}
		if len(fields) <= maxFields && size <= budget {
			return fields
		}
	}
	return nil
}

func packLines(lines []string) []discord.EmbedField {
	var fields []discord.EmbedField
	var cur strings.Builder
	flush := func() {
		if cur.Len() == 0 {
			return
		}
		name := "History"
		if len(fields) > 0 {
			name = "History (continued)"
		}
		fields = append(fields, discord.EmbedField{Name: name, Value: cur.String()})
		cur.Reset()
	}
	for _, l := range lines {
		l = clipText(l, embedMaxFieldValue)
		if cur.Len() > 0 && runes(cur.String())+1+runes(l) > embedMaxFieldValue {
			flush()
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(l)
	}
	flush()
	return fields
}

// embedSize counts the characters Discord counts toward an embed's 6000.
func embedSize(e discord.Embed) int {
	n := runes(e.Title) + runes(e.Description)
	for _, f := range e.Fields {
		n += runes(f.Name) + runes(f.Value)
	}
	if e.Footer != nil {
		n += runes(e.Footer.Text)
	}
	if e.Author != nil {
		n += runes(e.Author.Name)
	}
	return n
}

// caseChange is one field modify may change: its parameter, how it goes into
// cases.Changes, and how the result is told. Adding a field (an expiry) is one entry here
// and one parameter in casesSpec.
type caseChange struct {
	param string
	// set copies the parameter into ch; it returns an error the moderator reads when the
	// value cannot apply to c.
	set func(args commands.Args, c cases.Case, ch *cases.Changes) error
	// describe says what happened to the field between before and after.
	describe func(before, after cases.Case) (changed bool, text string)
}

var caseChanges = []caseChange{
	{
		param: "reason",
		set: func(args commands.Args, _ cases.Case, ch *cases.Changes) error {
			r := args.String("reason")
			ch.Reason = &r
			return nil
		},
		describe: func(before, after cases.Case) (bool, string) {
			if before.Reason == after.Reason {
				return false, "the reason was already that"
			}
			return true, "reason changed"
		},
	},
	{
		param: "status",
		set: func(args commands.Args, c cases.Case, ch *cases.Changes) error {
			st := cases.Status(args.String("status"))
			if c.Status == cases.Pending && st != cases.Pending {
				return fmt.Errorf("case #%d is pending: gavel is still carrying out its action (or will check it against Discord when it restarts), so its status cannot be set by hand yet; its reason can be changed", c.Number)
			}
			ch.Status = &st
			return nil
		},
		describe: func(before, after cases.Case) (bool, string) {
			if before.Status == after.Status {
				return false, "the status was already " + string(after.Status)
			}
			text := fmt.Sprintf("status %s → %s", before.Status, after.Status)
			switch after.Status {
			case cases.Voided:
				text += " (this does not undo the Discord action; use unban, untimeout, unjail… for that)"
			case cases.Active:
				text += " (this does not redo the Discord action)"
			}
			return true, text
		},
	},
}

// modify changes the fields given, each one that differs; the change queues the edit of the
// case's mod-log message (internal/modlog), wherever that message is.
func (ct *caseTool) modify(ctx context.Context, call Call, args commands.Args) Reply {
	n := args.Int("number")
	var given []caseChange
	for _, f := range caseChanges {
		if args.Has(f.param) {
			given = append(given, f)
		}
	}
	expiryGiven := args.Has("duration") || args.Has("expires")
	lift := args.Bool("lift")
	pointsGiven := args.Has("points")
	// With the schedule at hand, a status change goes through it: voiding keeps the
	// punishment's end, re-activating schedules it again (statusChange).
	viaSchedule := args.Has("status") && ct.env.Expiry != nil
	if viaSchedule {
		given = slices.DeleteFunc(given, func(f caseChange) bool { return f.param == "status" })
	}
	if len(given) == 0 && !expiryGiven && !viaSchedule && !lift && !pointsGiven {
		names := []string{}
		for _, f := range caseChanges {
			names = append(names, f.param)
		}
		names = append(names, "duration", "expires", "points")
		if call.Slash {
			return Text(Refused, "Say what to change: give the %s option.", strings.Join(names, ", "))
		}
		for i := range names {
			names[i] = "-" + names[i]
		}
		return Text(Refused, "Say what to change: give %s.\nUsage: %s", strings.Join(names, ", "), args.Spec.Usage(call.Prefix))
	}
	if args.Has("duration") && args.Has("expires") {
		d, e := commands.OptionName("duration", call.Slash), commands.OptionName("expires", call.Slash)
		return Text(Refused, "Give %s or %s, not both: %s counts from when the case was given, %s is a time.", d, e, d, e)
	}
	before, err := ct.env.Cases.GetByNumber(ctx, call.GuildID, n)
	if err != nil {
		return ct.caseError(n, err)
	}
	if viaSchedule && before.Status == cases.Pending {
		return Text(Refused, "Nothing was changed: case #%d is pending: gavel is still carrying out its action (or will check it against Discord when it restarts), so its status cannot be set by hand yet; its reason can be changed.", n)
	}
	if lift {
		if st := args.String("status"); st != string(cases.Voided) && !(st == "" && before.Status == cases.Voided) {
			return Text(Refused, "Nothing was changed: -lift goes with -status voided (void the case and lift its punishment now); to lift without voiding, use the command that undoes it (unban, untimeout, unjail…).")
		}
		if ct.env.Lift == nil {
			return Text(Refused, "Nothing was changed: this process cannot lift punishments (it runs no moderation pipeline).")
		}
	}
	if pointsGiven {
		if ct.env.Escalation == nil || ct.env.Escalation.Service == nil {
			return Text(Refused, "Nothing was changed: this process keeps no escalation points.")
		}
		if p := args.Int("points"); p < 0 || p > escalation.MaxPoints {
			return Text(Refused, "Nothing was changed: %d points is out of range; accepted: 0 to %d.", p, escalation.MaxPoints)
		}
	}
	var ch cases.Changes
	for _, f := range given {
		if err := f.set(args, before, &ch); err != nil {
			return Text(Refused, "Nothing was changed: %s.", err)
		}
	}
	var done, same []string
	after := before
	if pointsGiven {
		old, _, err := ct.env.Escalation.Service.SetPoints(ctx, ct.env.Cases, call.GuildID, n, call.User.ID, int(args.Int("points")))
		var inv *input.InvalidError
		switch {
		case errors.Is(err, input.ErrUnchanged):
			same = append(same, fmt.Sprintf("its points were already %d", args.Int("points")))
		case errors.As(err, &inv):
			return Text(Refused, "Nothing was changed: %s.", inv.Problem)
		case err != nil:
			return ct.caseError(n, err)
		default:
			done = append(done, fmt.Sprintf("points %d → %d", old, args.Int("points")))
		}
	}
	// The expiry first: it is the change most likely to be refused (a case that does not
	// expire, or has ended), and a refusal then leaves everything as it was.
	if expiryGiven {
		text, changed, c, refusal, err := ct.reschedule(ctx, call, args, before)
		switch {
		case refusal != "":
			return Text(Refused, "Nothing was changed: %s", refusal)
		case err != nil:
			return ct.caseError(n, err)
		case changed:
			done, after = append(done, text), c
		default:
			same = append(same, text)
		}
	}
	if len(given) > 0 {
		modified, err := ct.env.Cases.Modify(ctx, call.GuildID, n, call.User.ID, ch)
		switch {
		case errors.Is(err, input.ErrUnchanged):
		case err != nil:
			return ct.caseError(n, err)
		default:
			after = modified
		}
		for _, f := range given {
			if changed, text := f.describe(before, after); changed {
				done = append(done, text)
			} else {
				same = append(same, text)
			}
		}
	}
	if viaSchedule {
		text, changed, c, refusal, err := ct.statusChange(ctx, call, cases.Status(args.String("status")), after)
		switch {
		case refusal != "":
			return Text(Refused, "Nothing was changed: %s", refusal)
		case err != nil:
			return ct.caseError(n, err)
		case changed:
			done, after = append(done, text), c
		default:
			same = append(same, text)
		}
	}
	var lifted string
	if lift {
		res := ct.env.Lift(ctx, call, n)
		switch {
		case res.Refused || res.Err != nil:
			lifted = "Its punishment was not lifted: " + strings.TrimPrefix(res.Reply.Content, "❌ ")
		default:
			lifted = "Lifted now: " + res.Reply.Content
			done = append(done, fmt.Sprintf("punishment lifted by case #%d", res.Case.Number))
			if c, err := ct.env.Cases.GetByNumber(ctx, call.GuildID, n); err == nil {
				after = c
			}
		}
	}
	if len(done) == 0 {
		if lifted != "" {
			return Text(Refused, "Nothing changed. %s", lifted)
		}
		return Text(Refused, "Nothing changed: case #%d already has the values given.", n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Case #%d updated: %s.", n, strings.Join(done, "; "))
	if len(same) > 0 {
		fmt.Fprintf(&b, " Unchanged: %s.", strings.Join(same, "; "))
	}
	if lifted != "" {
		b.WriteString("\n" + lifted)
	}
	reply := Reply{Message: textMessage(b.String()), Outcome: OK}
	if events, err := ct.env.Cases.Events(ctx, after.ID); err == nil {
		reply.Message.Embeds = []discord.Embed{ct.caseEmbed(ctx, call, after, events)}
	} else {
		ct.env.Log.Warn("cases modify: reading the history for the reply", "guild", call.GuildID, "case", n, "err", err)
	}
	return reply
}

// statusChange sets the case's status through the schedule (expiry.Service.SetStatus),
// which keeps a voided punishment's end and schedules a re-activated one's again. It
// returns the text for the reply, whether the status changed, the case as it now is, or a
// refusal the moderator reads.
func (ct *caseTool) statusChange(ctx context.Context, call Call, st cases.Status, c cases.Case) (text string, changed bool, after cases.Case, refusal string, err error) {
	if c.Status == cases.Pending {
		return "", false, c, fmt.Sprintf("case #%d is pending: gavel is still carrying out its action (or will check it against Discord when it restarts), so its status cannot be set by hand yet; its reason can be changed.", c.Number), nil
	}
	if c.Status == st {
		return "the status was already " + string(st), false, c, "", nil
	}
	sc, err := ct.env.Expiry.SetStatus(ctx, call.GuildID, c.Number, call.User.ID, st, "")
	var invalid *input.InvalidError
	switch {
	case errors.Is(err, input.ErrUnchanged):
		return "the status was already " + string(st), false, c, "", nil
	case errors.As(err, &invalid):
		return "", false, c, invalid.Problem + ".", nil
	case err != nil:
		return "", false, c, "", err
	}
	text = fmt.Sprintf("status %s → %s", c.Status, st)
	switch {
	case st == cases.Voided && sc.Kept.ID != 0:
		text += fmt.Sprintf(" (its punishment still ends as scheduled: the %s runs %s; add -lift to lift it now)", sc.Kept.Kind, expiryText(sc.Kept.RunAt))
	case st == cases.Voided && !c.Processed:
		text += " (this does not undo the Discord action; add -lift to undo it now)"
	case st == cases.Active && sc.Scheduled.ID != 0:
		text += fmt.Sprintf(" (its %s is scheduled again for %s)", sc.Scheduled.Kind, expiryText(sc.Scheduled.RunAt))
	case st == cases.Active:
		text += " (this does not redo the Discord action)"
	}
	return text, true, sc.Case, "", nil
}

// maxCaseDuration bounds -duration: the longest any temporary action may last.
const maxCaseDuration = 10 * duration.Year

// reschedule applies -duration or -expires through the expiry service, which moves the
// case's scheduled lift with it (and re-applies a timeout to match). It returns the text
// for the reply, whether the expiry changed, the case as it now is, or a refusal the
// moderator reads.
func (ct *caseTool) reschedule(ctx context.Context, call Call, args commands.Args, c cases.Case) (text string, changed bool, after cases.Case, refusal string, err error) {
	if ct.env.Expiry == nil {
		return "", false, c, "expiries cannot be changed from this process (it runs no expiry service).", nil
	}
	now := ct.env.Now()
	var at time.Time
	if args.Has("duration") {
		at = c.CreatedAt.Add(args.Duration("duration"))
	} else {
		at, err = ParseExpires(args.String("expires"), now)
		if err != nil {
			return "", false, c, err.Error() + ".", nil
		}
	}
	if at.Equal(c.ExpiresAt) || at.IsZero() && c.ExpiresAt.IsZero() {
		return "the expiry was already " + expiryText(at), false, c, "", nil
	}
	after, err = ct.env.Expiry.Reschedule(ctx, call.GuildID, c.Number, call.User.ID, at, "cases modify")
	var invalid *input.InvalidError
	if errors.As(err, &invalid) {
		return "", false, c, invalid.Problem + ".", nil
	}
	if err != nil {
		return "", false, c, "", err
	}
	text = fmt.Sprintf("expiry %s → %s", expiryText(c.ExpiresAt), expiryText(at))
	if !at.IsZero() && !at.After(now) {
		text += " (already past: it is lifted now)"
	}
	return text, true, after, "", nil
}

func expiryText(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("<t:%d:f>", t.Unix())
}

// ParseExpires reads -expires: "never" (the case becomes permanent), an RFC 3339 time, or
// a date and time in UTC ("2026-12-01 18:00", "2026-12-01T18:00", "2026-12-01").
func ParseExpires(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "never") || strings.EqualFold(s, "none") {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("expires must be never, a time such as %s (UTC) or an RFC 3339 time such as %s, not %q",
		now.UTC().Add(24*time.Hour).Format("2006-01-02 15:04"), now.UTC().Add(24*time.Hour).Format(time.RFC3339), clipText(s, 40))
}

// user is the user with id as this guild knows them; only the id when they are not a
// member (banned, left) or Discord does not answer.
func (ct *caseTool) user(ctx context.Context, guildID discord.GuildID, id int64) discord.User {
	if id == 0 || ct.env.Port == nil {
		return discord.User{ID: discord.UserID(id)}
	}
	var m discord.Member
	err := ct.env.Exec.Do(ctx, executor.OpRead, func(ctx context.Context) (err error) {
		m, err = ct.env.Port.Member(ctx, guildID, discord.UserID(id))
		return err
	})
	if err != nil {
		return discord.User{ID: discord.UserID(id), Username: fallbackName(id)}
	}
	return m.User
}

func (ct *caseTool) userName(ctx context.Context, guildID discord.GuildID, id int64) string {
	if id == 0 {
		return ""
	}
	if u := ct.user(ctx, guildID, id); u.Username != "" {
		return u.Username
	}
	return fallbackName(id)
}

func fallbackName(id int64) string { return fmt.Sprintf("user %d", id) }

func textMessage(s string) discord.Message {
	return discord.Message{Content: s, AllowedMentions: &discord.AllowedMentions{}}
}

func runes(s string) int { return len([]rune(s)) }

// clipText cuts s to n characters, an ellipsis included.
func clipText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
