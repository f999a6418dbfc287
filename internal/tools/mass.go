package tools

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/raid"
)

// MassRunner plans and runs mass actions: moderation.Coordinator's batch path, run as work in
// flight by the app.
type MassRunner interface {
	PlanMass(ctx context.Context, req moderation.MassRequest) (moderation.MassPlan, error)
	// StartMass runs the mass action in the background (ExecuteMass) and calls done with its
	// result; false when gavel is shutting down or not connected (nothing started).
	StartMass(req moderation.MassRequest, done func(moderation.MassResult)) bool
}

// ConfirmWindow is how long a mass command's Confirm button works.
const ConfirmWindow = 5 * time.Minute

// componentPrefix starts the custom_id of a mass command's buttons ("massban:c:<token>"
// confirms, "massban:x:<token>" cancels), so a click needs that command's permission.
func (mt *massTool) componentPrefix() string { return mt.spec.Name + ":" }

// maxListed is how many targets the dry run names.
const maxListed = 40

// massTool is massban, masskick or masstimeout.
type massTool struct {
	env  *Env
	kind moderation.MassKind
	spec *commands.Spec
	// pending holds the dry runs waiting for Confirm and the runs waiting for Cancel, by
	// token; shared by the three commands.
	pending *massPending
}

type massPending struct {
	mu sync.Mutex
	m  map[string]*massEntry
}

type massEntry struct {
	req     moderation.MassRequest
	user    discord.UserID
	created time.Time
	// started is set once confirmed; cancelled once Cancel is clicked.
	started, cancelled bool
	channel            discord.ChannelID
	// raid is the raid named by raid:N, whose record the outcome is written into; nil when
	// none was named.
	raid *raidTargets
}

// raidTargets is what raid:N selected: the raid, and its candidates chosen.
type raidTargets struct {
	raid raid.Raid
	ids  []discord.UserID
}

// raidTargets reads raid:N's candidates not yet removed (for this kind of mass action),
// narrowed by the selection's filters when it has any (matched against what the raid
// recorded of each: join time, account age, username). A raid number the server never had,
// or a raid with nobody left to act on, is refused.
func (mt *massTool) raidTargets(ctx context.Context, call Call, sel massSelection) (raidTargets, Reply, bool) {
	if mt.env.Raid == nil {
		return raidTargets{}, mt.refuse("raid:%d: raid defence does not run in this gavel process; list the users or a filter (joined:10m) instead. Nothing was done.", sel.Raid), false
	}
	r, err := mt.env.Raid.ByNumber(ctx, call.GuildID, sel.Raid)
	if errors.Is(err, raid.ErrUnknown) {
		last := "this server has had no raid yet"
		if past, err := mt.env.Raid.List(ctx, call.GuildID, 1); err == nil && len(past) > 0 {
			last = fmt.Sprintf("its raids are numbered 1 to %d", past[0].Number)
		}
		return raidTargets{}, mt.refuse("raid:%d: this server has no raid #%d (%s; `raid status` shows the last). Nothing was done.", sel.Raid, sel.Raid, last), false
	}
	if err != nil {
		return raidTargets{}, Reply{Message: discord.Message{Content: fmt.Sprintf("❌ Nothing was done: gavel could not read raid #%d: %s.", sel.Raid, moderation.FailureText(err)), AllowedMentions: &discord.AllowedMentions{}}, Outcome: Failed, Err: err}, false
	}
	now := mt.env.Now()
	out := raidTargets{raid: r}
	for _, m := range r.Remaining(mt.kind) {
		member := discord.Member{User: discord.User{ID: discord.UserID(m.UserID), Username: m.Username}, JoinedAt: time.UnixMilli(m.JoinedAt)}
		if !sel.filtered() || sel.matches(member, now) {
			out.ids = append(out.ids, member.User.ID)
		}
	}
	if len(out.ids) == 0 {
		what := "no candidate left to " + mt.kind.Verb() + " (each was banned, kicked or released"
		if mt.kind == moderation.MassTimeout {
			what += ", or is timed out already"
		}
		what += ")"
		if sel.filtered() {
			what = "no candidate left to " + mt.kind.Verb() + " that matches the filters"
		}
		return raidTargets{}, mt.refuse("raid:%d: raid #%d has %s. Nothing was done.", sel.Raid, sel.Raid, what), false
	}
	return out, Reply{}, true
}

// mergeIDs is a followed by the ids of b not in a.
func mergeIDs(a, b []discord.UserID) []discord.UserID {
	seen := make(map[discord.UserID]bool, len(a))
	out := append([]discord.UserID(nil), a...)
	for _, id := range a {
		seen[id] = true
	}
	for _, id := range b {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func newMassTools(env *Env) []*Tool {
	p := &massPending{m: map[string]*massEntry{}}
	var out []*Tool
	for _, k := range []moderation.MassKind{moderation.MassBan, moderation.MassKick, moderation.MassTimeout} {
		mt := &massTool{env: env, kind: k, pending: p, spec: massSpec(k)}
		out = append(out, &Tool{Spec: mt.spec, Run: mt.run, Click: mt.click, ClickCommand: mt.spec.Name, ComponentPrefix: mt.componentPrefix()})
	}
	return out
}

func massSpec(k moderation.MassKind) *commands.Spec {
	targets := commands.Param{Name: "targets", Description: "Mentions, ids, raid:N, joined:10m, age:7d, name:<pattern>; then the reason",
		Kind: commands.KindString, Required: true, Positional: true, Rest: true, Quoted: true, Max: 6000}
	reason := commands.Param{Name: "reason", Description: "Why (the prefix form takes it after the targets)", Kind: commands.KindString, Max: 1500, Aliases: []string{"r"}}
	switch k {
	case moderation.MassBan:
		return &commands.Spec{Name: "massban", Aliases: []string{"mb"}, Rank: 3, Native: permissions.BanMembers | permissions.ManageGuild,
			Description: "Ban many users at once (dry run first, then Confirm)",
			Params: []commands.Param{targets, reason,
				{Name: "purge", Description: "Days of their messages to delete, 0 to 7", Kind: commands.KindInt, Min: 0, Max: 7, Aliases: []string{"p"}}}}
	case moderation.MassKick:
		return &commands.Spec{Name: "masskick", Aliases: []string{"mk"}, Rank: 3, Native: permissions.KickMembers,
			Description: "Kick many members at once (dry run first, then Confirm)", Params: []commands.Param{targets, reason,
				{Name: "silent", Description: "Do not message them about it", Kind: commands.KindBool, Aliases: []string{"s"}}}}
	}
	return &commands.Spec{Name: "masstimeout", Aliases: []string{"mt"}, Rank: 2, Native: permissions.ModerateMembers,
		Description: "Time out many members at once (dry run first, then Confirm)", Params: []commands.Param{targets, reason,
			{Name: "duration", Description: "How long, 1m to 28d", Kind: commands.KindDuration, Required: true,
				Bounds: duration.Bounds{Min: time.Minute, Max: moderation.MaxTimeout}, Aliases: []string{"d", "t"}},
			{Name: "silent", Description: "Do not message them about it", Kind: commands.KindBool, Aliases: []string{"s"}}}}
}

func (mt *massTool) refuse(format string, args ...any) Reply {
	return Text(Refused, "❌ "+format, args...)
}

// run answers the command with the dry run: who would be acted on, the counts, and the
// Confirm button. Nothing is done until Confirm.
func (mt *massTool) run(ctx context.Context, call Call, args commands.Args) Reply {
	if mt.env.Mass == nil {
		return mt.refuse("Mass actions are not available in this gavel process.")
	}
	sel, err := parseMassSelection(args.String("targets"))
	if err != nil {
		return mt.refuse("%s: %v. Nothing was done.", mt.spec.Name, err)
	}
	reason := strings.TrimSpace(args.String("reason"))
	if reason == "" {
		reason = sel.Reason
	} else if sel.Reason != "" {
		return mt.refuse("%q is not a target (%s). Nothing was done.", clipText(sel.Reason, 40), massTargetsHelp)
	}
	ids := sel.IDs
	var fromRaid *raidTargets
	if sel.Raid != 0 {
		rt, refusal, ok := mt.raidTargets(ctx, call, sel)
		if !ok {
			return refusal
		}
		fromRaid = &rt
		ids = mergeIDs(rt.ids, ids)
	} else if sel.filtered() {
		found, err := mt.filter(ctx, call, sel)
		if err != nil {
			return Reply{Message: discord.Message{Content: fmt.Sprintf("❌ Nothing was done: gavel could not read the server's members: %s.", moderation.FailureText(err)), AllowedMentions: &discord.AllowedMentions{}}, Outcome: Failed, Err: err}
		}
		ids = mergeIDs(ids, found)
		if len(ids) == 0 {
			return mt.refuse("No member matches that filter. Nothing was done.")
		}
	}
	req := moderation.MassRequest{GuildID: call.GuildID, Moderator: call.User, ModeratorRoles: call.Roles, Kind: mt.kind,
		Targets: ids, Reason: reason, PurgeDays: int(args.Int("purge")), Duration: args.Duration("duration"), Silent: args.Bool("silent")}
	if fromRaid != nil {
		req.Metadata = fromRaid.raid.MassMetadata()
		if len(ids) > moderation.MaxMassTargets {
			return mt.refuse("raid #%d and the users named are %d targets; a mass action takes at most %d: narrow it with a filter (age:1d, joined:10m, name:<pattern>). Nothing was done.",
				sel.Raid, len(ids), moderation.MaxMassTargets)
		}
	}
	plan, err := mt.env.Mass.PlanMass(ctx, req)
	if err != nil {
		return mt.refuse("%s", strings.TrimPrefix(moderation.FailureText(err), "❌ "))
	}
	token := mt.pending.add(&massEntry{req: req, user: call.User.ID, created: mt.env.Now(), channel: call.ChannelID, raid: fromRaid})
	from := ""
	if fromRaid != nil {
		from = fmt.Sprintf("raid #%d's candidates not yet removed: %d", fromRaid.raid.Number, len(fromRaid.ids))
		if extra := len(ids) - len(fromRaid.ids); extra > 0 {
			from += fmt.Sprintf(", and %d named", extra)
		}
	}
	return Reply{Message: mt.dryRun(plan, reason, token, from), Outcome: OK}
}

// filter lists the members matching the selection's filters, a page of 1,000 at a time.
// Bots, the server's owner, gavel and the moderator are never selected by a filter (named by
// id, they are refused).
func (mt *massTool) filter(ctx context.Context, call Call, sel massSelection) ([]discord.UserID, error) {
	guildID := call.GuildID
	now := mt.env.Now()
	var out []discord.UserID
	var after discord.UserID
	for {
		var page []discord.Member
		err := mt.env.Exec.Do(ctx, executor.OpRead, func(ctx context.Context) (err error) {
			page, err = mt.env.Port.ListMembers(ctx, guildID, after, 1000)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, m := range page {
			skip := m.User.Bot || m.User.ID == call.User.ID || m.User.ID == call.GuildOwnerID || m.User.ID == mt.env.BotID
			if !skip && sel.matches(m, now) {
				out = append(out, m.User.ID)
			}
			after = max(after, m.User.ID)
		}
		if len(page) < 1000 {
			return out, nil
		}
	}
}

// dryRun is the dry run's message; from, when set, says where the targets came from (a raid).
func (mt *massTool) dryRun(plan moderation.MassPlan, reason, token, from string) discord.Message {
	var b strings.Builder
	fmt.Fprintf(&b, "**Dry run** — nothing has been done yet. Confirm to %s **%d** users", mt.kind.Verb(), len(plan.Targets))
	fmt.Fprintf(&b, " (%d members, %d not in the server)", plan.Members, plan.NonMembers)
	if plan.Chunks > 0 {
		fmt.Fprintf(&b, " in %d bulk calls of up to %d", plan.Chunks, discord.MaxBulkBan)
	}
	b.WriteString(".\n")
	if from != "" {
		fmt.Fprintf(&b, "Targets: %s.\n", from)
	}
	if reason != "" {
		fmt.Fprintf(&b, "Reason: %s\n", clipText(reason, 200))
	}
	for i, t := range plan.Targets {
		if i == maxListed {
			fmt.Fprintf(&b, "… and %d more\n", len(plan.Targets)-maxListed)
			break
		}
		name := t.User.Username
		if name == "" {
			name = "(not a member)"
		}
		fmt.Fprintf(&b, "`%d` %s\n", t.User.ID, discord.EscapeMarkdown(name))
	}
	fmt.Fprintf(&b, "The Confirm button works for %s, for you only.", duration.Format(ConfirmWindow))
	return discord.Message{Content: b.String(), AllowedMentions: &discord.AllowedMentions{},
		Components: massButtons(massButton{"Confirm", mt.componentPrefix() + "c:" + token, 4})}
}

type massButton struct {
	label, customID string
	style           int
}

func massButtons(bs ...massButton) json.RawMessage {
	var b strings.Builder
	b.WriteString(`[{"type":1,"components":[`)
	for i, bt := range bs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":2,"style":%d,"label":%q,"custom_id":%q}`, bt.style, bt.label, bt.customID)
	}
	b.WriteString(`]}]`)
	return json.RawMessage(b.String())
}

func (p *massPending) add(e *massEntry) string {
	var raw [12]byte
	_, _ = rand.Read(raw[:])
	token := hex.EncodeToString(raw[:])
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m[token] = e
	return token
}

// click answers Confirm (start the mass action; the message becomes its progress, with
// Cancel) and Cancel (stop between chunks).
func (mt *massTool) click(ctx context.Context, call Call, customID string) Reply {
	rest, _ := strings.CutPrefix(customID, mt.componentPrefix())
	op, token, ok := strings.Cut(rest, ":")
	mt.pending.mu.Lock()
	e := mt.pending.m[token]
	mt.pending.mu.Unlock()
	if !ok || e == nil {
		return mt.refuse("This button has expired (gavel keeps a dry run for %s and forgets it on restart). Run the command again.", duration.Format(ConfirmWindow))
	}
	if call.User.ID != e.user {
		return mt.refuse("Only the moderator who ran this command can use its buttons.")
	}
	now := mt.env.Now()
	switch op {
	case "c":
		mt.pending.mu.Lock()
		expired := now.Sub(e.created) > ConfirmWindow
		started := e.started
		if expired {
			delete(mt.pending.m, token)
		}
		e.started = true
		mt.pending.mu.Unlock()
		if expired {
			return mt.refuse("This dry run expired (the Confirm button works for %s). Run the command again; nothing was done.", duration.Format(ConfirmWindow))
		}
		if started {
			return mt.refuse("This mass action has already started.")
		}
		req := e.req
		req.Cancelled = func() bool {
			mt.pending.mu.Lock()
			defer mt.pending.mu.Unlock()
			return e.cancelled
		}
		progressMsg := make(chan discord.MessageID, 1)
		req.Progress = func(p moderation.MassProgress) { mt.showProgress(e, token, p, progressMsg) }
		if !mt.env.Mass.StartMass(req, func(r moderation.MassResult) {
			mt.recordRaid(e, call.User, r)
			mt.finished(e, token, r, progressMsg)
		}) {
			mt.pending.mu.Lock()
			e.started = false
			mt.pending.mu.Unlock()
			return mt.refuse("gavel is restarting; nothing was done. Run the command again in a moment.")
		}
		return Reply{Message: discord.Message{Content: fmt.Sprintf("Confirmed by %s: the mass %s of %d users has started. Its progress follows, with a Cancel button.",
			discord.EscapeMarkdown(call.User.Username), mt.kind, len(e.req.Targets)), AllowedMentions: &discord.AllowedMentions{}, Components: json.RawMessage(`[]`)}, Outcome: OK}
	case "x":
		mt.pending.mu.Lock()
		e.cancelled = true
		mt.pending.mu.Unlock()
		return Reply{Message: discord.Message{Content: "Cancelling: gavel stops before the next chunk; what is done stays done.",
			AllowedMentions: &discord.AllowedMentions{}, Components: json.RawMessage(`[]`)}, Outcome: OK}
	}
	return mt.refuse("This button is not one gavel made. Run the command again.")
}

// showProgress posts the progress message (with Cancel) after the first chunk, then edits it.
func (mt *massTool) showProgress(e *massEntry, token string, p moderation.MassProgress, msg chan discord.MessageID) {
	text := fmt.Sprintf("Mass %s (case #%d): %d of %d %s so far", mt.kind, p.ParentCase, p.Done, p.Total, pastTense(mt.kind))
	if p.Chunks > 0 {
		text += fmt.Sprintf(", chunk %d of %d", p.Chunk, p.Chunks)
	}
	if p.Failed+p.Listed > 0 {
		text += fmt.Sprintf("; %d not", p.Failed+p.Listed)
	}
	m := discord.Message{Content: text + ".", AllowedMentions: &discord.AllowedMentions{},
		Components: massButtons(massButton{"Cancel", mt.componentPrefix() + "x:" + token, 2})}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case id := <-msg:
		if err := mt.env.Port.EditMessage(ctx, e.channel, id, m); err != nil {
			mt.env.Log.Warn("editing a mass action's progress", "err", err)
		}
		msg <- id
	default:
		id, err := mt.env.Port.SendMessage(ctx, e.channel, m)
		if err != nil {
			mt.env.Log.Warn("posting a mass action's progress", "err", err)
			return
		}
		msg <- id
	}
}

// finished shows the outcome where the progress was, without the Cancel button.
func (mt *massTool) finished(e *massEntry, token string, r moderation.MassResult, msg chan discord.MessageID) {
	mt.pending.mu.Lock()
	delete(mt.pending.m, token)
	mt.pending.mu.Unlock()
	m := r.Reply
	m.Components = json.RawMessage(`[]`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case id := <-msg:
		if err := mt.env.Port.EditMessage(ctx, e.channel, id, m); err == nil {
			return
		}
	default:
	}
	m.Components = nil
	if _, err := mt.env.Port.SendMessage(ctx, e.channel, m); err != nil {
		mt.env.Log.Warn("posting a mass action's outcome", "err", err)
	}
}

// recordRaid writes a raid:N mass action's outcome into the raid's record (each candidate's
// new state and child case), before the outcome is shown.
func (mt *massTool) recordRaid(e *massEntry, by discord.User, r moderation.MassResult) {
	if e.raid == nil || r.Parent == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, _, err := mt.env.Raid.RecordMass(ctx, e.raid.raid.Raid, mt.kind, e.raid.ids, r, by, mt.spec.Name); err != nil {
		mt.env.Log.Warn("recording a mass action in its raid", "raid", e.raid.raid.Number, "err", err)
	}
}

func pastTense(k moderation.MassKind) string {
	switch k {
	case moderation.MassBan:
		return "banned"
	case moderation.MassKick:
		return "kicked"
	}
	return "timed out"
}
