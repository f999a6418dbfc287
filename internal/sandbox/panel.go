package sandbox

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/web"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed templates/panel.css
var panelCSS []byte

// asCookie holds who you are in the panel: a user id of the fake's, unsigned, because in
// the sandbox anyone may be anyone.
const asCookie = "gavel_sandbox_as"

// replyWait bounds how long a command's POST waits for gavel's reply before showing the
// channel, so that without JavaScript the reply is usually on the page that follows; a
// later reply shows on the next load (htmx refreshes the messages every two seconds).
const replyWait = 5 * time.Second

// maxRaid bounds the accounts one "raid" adds.
const maxRaid = 100

// panel is the Discord-like page of the sandbox.
type panel struct {
	fake  *discordtest.Server
	world World
	dash  *web.Server
	log   *slog.Logger
	tmpl  *template.Template
	// raids numbers the raids, so each one's accounts have names of their own; handlers
	// run concurrently.
	raids atomic.Int32
}

func newPanel(fake *discordtest.Server, w World, dash *web.Server, log *slog.Logger) *panel {
	p := &panel{fake: fake, world: w, dash: dash, log: log}
	p.tmpl = template.Must(template.New("").Funcs(template.FuncMap{
		"content": p.renderContent,
		"embeds":  decodeEmbeds,
		"buttons": decodeButtons,
		"when":    func(t time.Time) string { return t.UTC().Format("15:04:05") },
		"until":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	}).ParseFS(templateFS, "templates/*.html"))
	return p
}

// handler serves the panel under /sandbox/ and the dashboard everywhere else, on one
// origin, so that picking who you are also signs you in to the dashboard.
func (p *panel) handler(dashboard http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", dashboard)
	mux.HandleFunc("GET /sandbox/{$}", func(w http.ResponseWriter, r *http.Request) {
		to := fmt.Sprintf("/sandbox/c/%s", p.world.General)
		if r.URL.RawQuery != "" {
			to += "?" + r.URL.RawQuery // a message for the page
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	})
	mux.HandleFunc("GET /sandbox/panel.css", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		_, _ = w.Write(panelCSS)
	})
	mux.HandleFunc("GET /sandbox/c/{channel}", p.channelPage)
	mux.HandleFunc("GET /sandbox/c/{channel}/messages", p.messagesFragment)
	mux.HandleFunc("POST /sandbox/c/{channel}", p.send)
	mux.HandleFunc("POST /sandbox/c/{channel}/press", p.press)
	mux.HandleFunc("POST /sandbox/as", p.pick)
	mux.HandleFunc("POST /sandbox/dashboard", p.toDashboard)
	mux.HandleFunc("GET /sandbox/dms", p.dmsPage)
	mux.HandleFunc("GET /sandbox/members", p.membersPage)
	mux.HandleFunc("POST /sandbox/members/raid", p.raid)
	mux.HandleFunc("POST /sandbox/members/join", p.join)
	mux.HandleFunc("POST /sandbox/members/leave", p.leave)
	mux.HandleFunc("GET /sandbox/audit-log", p.auditPage)
	// The panel's POSTs are refused from other origins, like the dashboard's.
	cop := http.NewCrossOriginProtection()
	panelHandler := cop.Handler(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/sandbox/") {
			h := w.Header()
			h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Cache-Control", "no-store")
		}
		panelHandler.ServeHTTP(w, r)
	})
}

// me is who the browser is in the panel: the cookie's user while they exist, else the
// moderator, so that a first visit can type $ban at once.
func (p *panel) me(r *http.Request) discordtest.User {
	if c, err := r.Cookie(asCookie); err == nil {
		if id, ok := discordtest.ParseID(c.Value); ok {
			if u, ok := p.fake.UserByID(id); ok {
				return u
			}
		}
	}
	u, _ := p.fake.UserByID(p.world.Moderator)
	return u
}

// frame is what every panel page shows around its content.
type frame struct {
	Title    string
	Me       discordtest.User
	MeRole   string
	Guild    discordtest.GuildView
	Channels []channelLink
	People   []person
	Error    string
	Notice   string
	Page     string
	// Next is where picking someone else returns to: this page.
	Next string
	Data any
}

type channelLink struct {
	ID      discordtest.ID
	Name    string
	Current bool
	Visible bool
}

type person struct {
	ID    discordtest.ID
	Label string
	Me    bool
}

func (p *panel) frame(r *http.Request, title, page string) (frame, error) {
	g, ok := p.fake.Guild(p.world.Guild)
	if !ok {
		return frame{}, errors.New("the sandbox's server is gone")
	}
	me := p.me(r)
	f := frame{Title: title, Me: me, Guild: g, Page: page, Error: r.URL.Query().Get("error"), Notice: r.URL.Query().Get("notice"), Next: "/sandbox/"}
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/sandbox/") && !strings.HasSuffix(r.URL.Path, "/messages") {
		f.Next = r.URL.Path
	}
	f.MeRole = p.roleOf(g, me.ID)
	for _, c := range g.Channels {
		if c.Type != discordtest.ChannelGuildText {
			continue
		}
		f.Channels = append(f.Channels, channelLink{ID: c.ID, Name: c.Name, Current: r.PathValue("channel") == c.ID.String(),
			Visible: p.fake.CanView(c.ID, me.ID)})
	}
	for _, m := range g.Members {
		if m.User.Bot {
			continue
		}
		f.People = append(f.People, person{ID: m.User.ID, Label: m.User.Username + " · " + p.roleOf(g, m.User.ID), Me: m.User.ID == me.ID})
	}
	sort.SliceStable(f.People, func(i, j int) bool { return rankOrder(g, f.People[i].ID) > rankOrder(g, f.People[j].ID) })
	return f, nil
}

// roleOf names what a member is in the seeded server: owner, their highest role, or member.
func (p *panel) roleOf(g discordtest.GuildView, id discordtest.ID) string {
	if id == g.OwnerID {
		return "owner"
	}
	for _, m := range g.Members {
		if m.User.ID != id {
			continue
		}
		for _, r := range g.Roles { // highest first
			if slices.Contains(m.Roles, r.ID) && r.ID != g.ID {
				return r.Name
			}
		}
		return "member"
	}
	return "not a member"
}

func rankOrder(g discordtest.GuildView, id discordtest.ID) int {
	if id == g.OwnerID {
		return 1 << 20
	}
	for _, m := range g.Members {
		if m.User.ID == id {
			top := 0
			for _, r := range g.Roles {
				if slices.Contains(m.Roles, r.ID) && r.Position > top {
					top = r.Position
				}
			}
			return top
		}
	}
	return -1
}

func (p *panel) render(w http.ResponseWriter, status int, name string, f frame) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := p.tmpl.ExecuteTemplate(w, name, f); err != nil {
		p.log.Warn("rendering a sandbox page", "page", name, "err", err)
	}
}

func (p *panel) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	f, err := p.frame(r, "Error", "error")
	if err != nil {
		http.Error(w, msg, status)
		return
	}
	f.Error = msg
	p.render(w, status, "error.html", f)
}

// back sends the browser to path with a message for the page (POST, redirect, GET).
func back(w http.ResponseWriter, r *http.Request, path, key, msg string) {
	if msg != "" {
		path += "?" + key + "=" + url.QueryEscape(msg)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

func (p *panel) channelOf(r *http.Request) (discordtest.Channel, bool) {
	id, ok := discordtest.ParseID(r.PathValue("channel"))
	if !ok {
		return discordtest.Channel{}, false
	}
	c, ok := p.fake.Channel(id)
	if !ok || c.GuildID != p.world.Guild {
		return discordtest.Channel{}, false
	}
	return c, true
}

// channelData is a channel as the current member sees it.
type channelData struct {
	Channel  discordtest.Channel
	Messages []discordtest.MessageView
	Hidden   bool
}

func (p *panel) channelData(r *http.Request, c discordtest.Channel) (channelData, error) {
	me := p.me(r)
	d := channelData{Channel: c}
	if !p.fake.CanView(c.ID, me.ID) {
		d.Hidden = true
		return d, nil
	}
	msgs, err := p.fake.ChannelAs(c.ID, me.ID)
	d.Messages = msgs
	return d, err
}

func (p *panel) channelPage(w http.ResponseWriter, r *http.Request) {
	c, ok := p.channelOf(r)
	if !ok {
		p.fail(w, r, http.StatusNotFound, fmt.Sprintf("There is no channel %q in the sandbox's server.", r.PathValue("channel")))
		return
	}
	f, err := p.frame(r, "#"+c.Name, "channel")
	if err != nil {
		p.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	if f.Data, err = p.channelData(r, c); err != nil {
		p.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	p.render(w, http.StatusOK, "channel.html", f)
}

// messagesFragment is the message list alone, which htmx swaps in every two seconds.
func (p *panel) messagesFragment(w http.ResponseWriter, r *http.Request) {
	c, ok := p.channelOf(r)
	if !ok {
		http.Error(w, "no such channel", http.StatusNotFound)
		return
	}
	f, err := p.frame(r, "#"+c.Name, "channel")
	if err == nil {
		f.Data, err = p.channelData(r, c)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	p.render(w, http.StatusOK, "messages", f)
}

// send posts what the member typed: a slash command when it starts with "/", else a
// message (a prefix command is a message), with @name, #channel and @Role written the way
// Discord's client writes them once picked (<@id>, <#id>, <@&id>).
func (p *panel) send(w http.ResponseWriter, r *http.Request) {
	c, ok := p.channelOf(r)
	if !ok {
		p.fail(w, r, http.StatusNotFound, "There is no such channel in the sandbox's server.")
		return
	}
	path := "/sandbox/c/" + c.ID.String()
	text := strings.TrimSpace(r.PostFormValue("text"))
	if text == "" {
		back(w, r, path, "error", "Type a message, a prefix command such as $ban @member spam, or a slash command such as /ban user:@member reason:spam.")
		return
	}
	if len([]rune(text)) > 2000 {
		back(w, r, path, "error", "A message is at most 2000 characters, as in Discord; nothing was sent.")
		return
	}
	me := p.me(r)
	ctx, cancel := context.WithTimeout(r.Context(), replyWait)
	defer cancel()
	if strings.HasPrefix(text, "/") {
		in, err := p.fake.SlashText(p.world.Guild, c.ID, me.ID, p.mentions(text))
		if err != nil {
			back(w, r, path, "error", "Discord would not send this: "+err.Error())
			return
		}
		_, _ = in.WaitResponses(ctx, 1)
		back(w, r, path, "", "")
		return
	}
	before := p.lastBotMessage(c.ID, me.ID)
	if _, err := p.fake.TrySendMessage(c.ID, me.ID, p.mentions(text)); err != nil {
		back(w, r, path, "error", "Discord refused the message: "+err.Error())
		return
	}
	p.waitBot(ctx, c.ID, me.ID, before)
	back(w, r, path, "", "")
}

// press is the member pressing a button on a message.
func (p *panel) press(w http.ResponseWriter, r *http.Request) {
	c, ok := p.channelOf(r)
	if !ok {
		p.fail(w, r, http.StatusNotFound, "There is no such channel in the sandbox's server.")
		return
	}
	path := "/sandbox/c/" + c.ID.String()
	msg, ok := discordtest.ParseID(r.PostFormValue("message"))
	if !ok {
		back(w, r, path, "error", "The button's message id is not an id.")
		return
	}
	in, err := p.fake.TryClickButton(p.world.Guild, c.ID, p.me(r).ID, msg, r.PostFormValue("custom_id"))
	if err != nil {
		back(w, r, path, "error", "Discord would not press this: "+err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), replyWait)
	defer cancel()
	_, _ = in.WaitResponses(ctx, 1)
	back(w, r, path, "", "")
}

// lastBotMessage is the id of gavel's newest message the member sees in the channel.
func (p *panel) lastBotMessage(channel, viewer discordtest.ID) discordtest.ID {
	msgs, _ := p.fake.ChannelAs(channel, viewer)
	var last discordtest.ID
	for _, m := range msgs {
		if m.Author.ID == p.fake.BotID() && m.ID > last {
			last = m.ID
		}
	}
	return last
}

// waitBot waits (until ctx ends) for gavel to post in the channel after the message; a
// message that is not a command gets no answer, and the page shows after replyWait at most.
func (p *panel) waitBot(ctx context.Context, channel, viewer, before discordtest.ID) {
	for {
		posted := p.fake.MessagePosted()
		if p.lastBotMessage(channel, viewer) != before {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-posted:
		}
	}
}

var mentionRE = regexp.MustCompile(`([@#])([\p{L}\p{N}_.\-]+(?: [\p{L}\p{N}_.\-]+)?)`)

// mentions writes @username, @Role and #channel as the ids Discord's client sends once the
// member picks them from its menu. A role's name may have one space (@Senior Moderator).
func (p *panel) mentions(text string) string {
	g, ok := p.fake.Guild(p.world.Guild)
	if !ok {
		return text
	}
	return mentionRE.ReplaceAllStringFunc(text, func(m string) string {
		sigil, name := m[:1], m[1:]
		try := []string{name}
		if first, _, ok := strings.Cut(name, " "); ok {
			try = append(try, first)
		}
		for _, n := range try {
			rest := strings.TrimPrefix(name, n)
			if sigil == "#" {
				for _, c := range g.Channels {
					if strings.EqualFold(c.Name, n) {
						return "<#" + c.ID.String() + ">" + rest
					}
				}
				continue
			}
			for _, mem := range g.Members {
				if strings.EqualFold(mem.User.Username, n) {
					return "<@" + mem.User.ID.String() + ">" + rest
				}
			}
			for _, role := range g.Roles {
				if strings.EqualFold(role.Name, n) && role.ID != g.ID {
					return "<@&" + role.ID.String() + ">" + rest
				}
			}
		}
		return m
	})
}

var idMentionRE = regexp.MustCompile(`<(@!?|@&|#)(\d+)>`)

var (
	boldRE = regexp.MustCompile(`\*\*(.+?)\*\*`)
	codeRE = regexp.MustCompile("`([^`]+)`")
)

// renderContent shows mentions by name, as Discord's client does, and the markdown gavel
// writes (bold and inline code); everything else is escaped.
func (p *panel) renderContent(s string) template.HTML {
	h := template.HTMLEscapeString(p.names(s))
	h = boldRE.ReplaceAllString(h, "<strong>$1</strong>")
	h = codeRE.ReplaceAllString(h, "<code>$1</code>")
	return template.HTML(h) //nolint:gosec // escaped above; only <strong> and <code> are added
}

// names writes mentions as the names they point at.
func (p *panel) names(s string) string {
	g, _ := p.fake.Guild(p.world.Guild)
	return idMentionRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := idMentionRE.FindStringSubmatch(m)
		id, _ := discordtest.ParseID(sub[2])
		switch sub[1] {
		case "#":
			if c, ok := p.fake.Channel(id); ok {
				return "#" + c.Name
			}
		case "@&":
			for _, r := range g.Roles {
				if r.ID == id {
					return "@" + r.Name
				}
			}
		default:
			if u, ok := p.fake.UserByID(id); ok {
				return "@" + u.Username
			}
		}
		return m
	})
}

// pick makes the browser someone else: the panel's cookie, and a dashboard session
// signed in without OAuth.
func (p *panel) pick(w http.ResponseWriter, r *http.Request) {
	next := r.PostFormValue("next")
	if !strings.HasPrefix(next, "/sandbox/") || strings.HasPrefix(next, "//") {
		next = "/sandbox/"
	}
	id, ok := discordtest.ParseID(r.PostFormValue("user"))
	u, known := p.fake.UserByID(id)
	if !ok || !known {
		back(w, r, next, "error", "Pick someone from the list: "+strconv.Quote(r.PostFormValue("user"))+" is not a user of the sandbox.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: asCookie, Value: u.ID.String(), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	if err := p.dash.SignInSandbox(r.Context(), w, int64(u.ID), u.Username); err != nil {
		p.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	back(w, r, next, "notice", "You are now "+u.Username+"; the dashboard signed you in as them too.")
}

// toDashboard signs the dashboard in as whoever you are in the panel and opens it.
func (p *panel) toDashboard(w http.ResponseWriter, r *http.Request) {
	me := p.me(r)
	if err := p.dash.SignInSandbox(r.Context(), w, int64(me.ID), me.Username); err != nil {
		p.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	http.Redirect(w, r, "/servers", http.StatusSeeOther)
}

func (p *panel) dmsPage(w http.ResponseWriter, r *http.Request) {
	f, err := p.frame(r, "Direct messages", "dms")
	if err != nil {
		p.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	type inbox struct {
		User     discordtest.User
		Messages []discordtest.MessageView
	}
	var boxes []inbox
	for _, m := range f.Guild.Members {
		if msgs := p.fake.DMsOf(m.User.ID); len(msgs) > 0 {
			boxes = append(boxes, inbox{User: m.User, Messages: msgs})
		}
	}
	// Banned and kicked members are no longer in the server, and their DMs matter most.
	for _, b := range f.Guild.Bans {
		if msgs := p.fake.DMsOf(b.User.ID); len(msgs) > 0 {
			boxes = append(boxes, inbox{User: b.User, Messages: msgs})
		}
	}
	for _, id := range p.world.Members {
		if slices.ContainsFunc(boxes, func(b inbox) bool { return b.User.ID == id }) {
			continue
		}
		if msgs := p.fake.DMsOf(id); len(msgs) > 0 {
			u, _ := p.fake.UserByID(id)
			boxes = append(boxes, inbox{User: u, Messages: msgs})
		}
	}
	f.Data = boxes
	p.render(w, http.StatusOK, "dms.html", f)
}

func (p *panel) membersPage(w http.ResponseWriter, r *http.Request) {
	f, err := p.frame(r, "Members", "members")
	if err != nil {
		p.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	roleNames := map[discordtest.ID]string{}
	for _, role := range f.Guild.Roles {
		roleNames[role.ID] = role.Name
	}
	type row struct {
		discordtest.MemberView
		RoleNames []string
		Label     string
	}
	var rows []row
	for _, m := range f.Guild.Members {
		rw := row{MemberView: m, Label: p.roleOf(f.Guild, m.User.ID)}
		for _, id := range m.Roles {
			rw.RoleNames = append(rw.RoleNames, roleNames[id])
		}
		rows = append(rows, rw)
	}
	var seeded []discordtest.User
	for _, id := range p.world.Members {
		if u, ok := p.fake.UserByID(id); ok {
			seeded = append(seeded, u)
		}
	}
	f.Data = struct {
		Rows    []row
		Bans    []discordtest.BanView
		MaxRaid int
		Seeded  []discordtest.User
	}{rows, f.Guild.Bans, maxRaid, seeded}
	p.render(w, http.StatusOK, "members.html", f)
}

// raid adds n new accounts that join at once: a raid's worth of members to try raid
// handling and mass actions on.
func (p *panel) raid(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PostFormValue("count"))
	if err != nil || n < 1 || n > maxRaid {
		back(w, r, "/sandbox/members", "error", fmt.Sprintf("Say how many accounts join: a whole number from 1 to %d.", maxRaid))
		return
	}
	raid := p.raids.Add(1)
	for i := 1; i <= n; i++ {
		id, err := p.fake.TryAddUser(fmt.Sprintf("raider%d_%03d", raid, i))
		if err == nil {
			err = p.fake.TryUserJoins(p.world.Guild, id)
		}
		if err != nil {
			back(w, r, "/sandbox/members", "error", fmt.Sprintf("Account %d of %d could not join: %v", i, n, err))
			return
		}
	}
	back(w, r, "/sandbox/members", "notice", fmt.Sprintf("%d accounts (raider%d_001 …) joined the server.", n, raid))
}

func (p *panel) memberAct(w http.ResponseWriter, r *http.Request, act func(guild, user discordtest.ID) error, done string) {
	id, ok := discordtest.ParseID(r.PostFormValue("user"))
	if !ok {
		back(w, r, "/sandbox/members", "error", "Pick a user from the list.")
		return
	}
	if err := act(p.world.Guild, id); err != nil {
		back(w, r, "/sandbox/members", "error", err.Error())
		return
	}
	u, _ := p.fake.UserByID(id)
	back(w, r, "/sandbox/members", "notice", u.Username+" "+done+".")
}

func (p *panel) join(w http.ResponseWriter, r *http.Request) {
	p.memberAct(w, r, p.fake.TryUserJoins, "joined the server")
}

func (p *panel) leave(w http.ResponseWriter, r *http.Request) {
	p.memberAct(w, r, p.fake.TryUserLeaves, "left the server")
}

// auditEntry is an audit-log entry with its names resolved.
type auditEntry struct {
	discordtest.AuditLogEntry
	Action, Actor, Target string
	Changes               string
}

// auditActions names the audit-log action types the fake writes.
var auditActions = map[int]string{
	discordtest.AuditChannelUpdate: "channel update", discordtest.AuditOverwriteCreate: "permission overwrite create",
	discordtest.AuditMemberKick: "member kick", discordtest.AuditMemberBanAdd: "member ban add",
	discordtest.AuditMemberBanRemove: "member ban remove", discordtest.AuditMemberUpdate: "member update",
	discordtest.AuditMemberRoleUpdate: "member role update", discordtest.AuditOverwriteUpdate: "permission overwrite update",
	discordtest.AuditMessageDelete: "message delete", discordtest.AuditMessageBulkDelete: "message bulk delete",
	discordtest.AuditAutoModRuleCreate: "AutoMod rule create", discordtest.AuditAutoModRuleUpdate: "AutoMod rule update",
	discordtest.AuditAutoModRuleDelete: "AutoMod rule delete", discordtest.AuditAutoModBlockMessage: "AutoMod block message",
}

func (p *panel) auditPage(w http.ResponseWriter, r *http.Request) {
	f, err := p.frame(r, "Audit log", "audit-log")
	if err != nil {
		p.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	entries := p.fake.AuditLog(p.world.Guild)
	out := make([]auditEntry, 0, len(entries))
	name := func(id discordtest.ID) string {
		if id == 0 {
			return ""
		}
		if u, ok := p.fake.UserByID(id); ok {
			return u.Username
		}
		if c, ok := p.fake.Channel(id); ok {
			return "#" + c.Name
		}
		return id.String()
	}
	for i := len(entries) - 1; i >= 0; i-- { // newest first, as Discord lists it
		e := entries[i]
		a := auditEntry{AuditLogEntry: e, Actor: name(e.UserID), Target: name(e.TargetID), Action: auditActions[e.ActionType]}
		if a.Action == "" {
			a.Action = "action " + strconv.Itoa(e.ActionType)
		}
		if len(e.Changes) > 0 {
			a.Changes = string(e.Changes)
		}
		out = append(out, a)
	}
	f.Data = out
	p.render(w, http.StatusOK, "audit.html", f)
}

// embedView is the part of a message embed the panel shows.
type embedView struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Color       int    `json:"color"`
	Fields      []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"fields"`
	Footer *struct {
		Text string `json:"text"`
	} `json:"footer"`
}

func decodeEmbeds(raw []json.RawMessage) []embedView {
	var out []embedView
	for _, r := range raw {
		var e embedView
		if json.Unmarshal(r, &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// button is a message component the panel can press (or a link it can follow).
type button struct {
	CustomID string `json:"custom_id"`
	Label    string `json:"label"`
	Style    int    `json:"style"`
	Disabled bool   `json:"disabled"`
	URL      string `json:"url"`
	Type     int    `json:"type"`
}

func decodeButtons(raw []json.RawMessage) []button {
	var out []button
	for _, r := range raw {
		var row struct {
			Components []button `json:"components"`
		}
		if json.Unmarshal(r, &row) != nil {
			continue
		}
		for _, b := range row.Components {
			if b.Type == 2 {
				out = append(out, b)
			}
		}
	}
	return out
}
