package tools

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/raid"
	"github.com/gavelbot/gavel/internal/settings"
)

// RaidRank is the rank the raid command (and its buttons) needs by default.
const RaidRank = 3

// raidButtonTimeout bounds the work a raid's button starts (a mass action on thousands).
const raidButtonTimeout = 30 * time.Minute

// RaidButtonPrefix starts the custom_id of a raid's buttons: "raid:<number>:<what>".
const RaidButtonPrefix = "raid:"

func raidSpec() *commands.Spec {
	keys := make([]string, 0, len(settings.RaidKeys()))
	for _, k := range settings.RaidKeys() {
		keys = append(keys, string(k))
	}
	return &commands.Spec{
		Name: "raid", Native: permissions.ManageGuild, Rank: RaidRank, Default: "status",
		Description: "Raid defence: detection settings, raid mode on and off, and its state",
		Subs: []*commands.Spec{
			{Name: "status", Description: "Show whether raid mode is on, its candidates and what it did"},
			{Name: "config", Description: "Show or change the raid defence settings", Params: []commands.Param{
				{Name: "setting", Description: "Which setting: " + strings.Join(keys, ", "), Kind: commands.KindString, Positional: true, Choices: keys},
				{Name: "value", Description: "Its new value; left out, the setting is shown with what it accepts", Kind: commands.KindString, Positional: true, Max: 100},
			}},
			{Name: "start", Description: "Turn raid mode on by hand, with the server's responses", Params: []commands.Param{
				{Name: "reason", Description: "Why", Kind: commands.KindString, Positional: true, Rest: true, Max: 500},
			}},
			{Name: "end", Description: "Turn raid mode off and undo its responses", Params: []commands.Param{
				{Name: "reason", Description: "Why", Kind: commands.KindString, Positional: true, Rest: true, Max: 500},
			}},
		},
	}
}

// raidTool is the raid command and the raid message's buttons.
type raidTool struct{ env *Env }

func newRaid(env *Env) *Tool {
	t := &raidTool{env: env}
	// ClickDefers: "end" undoes the raid's responses before it answers (a lockdown's
	// channel overwrites restored one call per channel), which can take longer than
	// Discord's 3 seconds; the other buttons only start work and answer at once.
	return &Tool{Spec: raidSpec(), Run: t.run, ComponentPrefix: RaidButtonPrefix, ClickCommand: "raid", Click: t.click,
		ClickDefers: true}
}

func (t *raidTool) run(ctx context.Context, call Call, args commands.Args) Reply {
	if t.env.Raid == nil {
		return refused("Raid defence does not run in this process.")
	}
	switch args.Command() {
	case "raid status":
		return t.status(ctx, call)
	case "raid config":
		return t.config(ctx, call, args.String("setting"), args.String("value"), args.Has("value"))
	case "raid start":
		r, err := t.env.Raid.Start(ctx, call.GuildID, call.User, args.String("reason"))
		if errors.Is(err, raid.ErrOpen) {
			return refused("Raid mode is already on: `raid status` shows it, `raid end` ends it.")
		}
		if err != nil && r.ID == 0 {
			return failed(err)
		}
		text := fmt.Sprintf("🚨 Raid mode is on: raid #%d (case #%s in the mod log).", r.Number, caseNumberOf(ctx, t.env, r.CaseID))
		if err != nil {
			text += " Some responses could not be applied: " + err.Error()
		}
		return Text(OK, "%s", text)
	case "raid end":
		r, err := t.env.Raid.End(ctx, call.GuildID, call.User, args.String("reason"))
		if errors.Is(err, raid.ErrNone) {
			return refused("Raid mode is not on.")
		}
		if err != nil {
			return failed(err)
		}
		return Text(OK, "Raid mode is off: raid #%d ended and its responses were undone (see the mod log).", r.Number)
	}
	return refused("%s is not a raid subcommand; accepted: raid status, raid config, raid start, raid end", args.Command())
}

func caseNumberOf(ctx context.Context, env *Env, id int64) string {
	c, err := env.Cases.Get(ctx, id)
	if err != nil {
		return "?"
	}
	return strconv.FormatInt(c.Number, 10)
}

func (t *raidTool) config(ctx context.Context, call Call, setting, value string, hasValue bool) Reply {
	if setting == "" {
		cur, err := t.env.Settings.GetRaid(ctx, call.GuildID)
		if err != nil {
			return failed(err)
		}
		var b strings.Builder
		b.WriteString("**Raid defence settings** (`raid config <setting> <value>` changes one)\n")
		for _, k := range settings.RaidKeys() {
			fmt.Fprintf(&b, "`%s` = **%s** — %s\n", k, cur.Value(k), settings.RaidAccepted(k))
		}
		return Text(OK, "%s", b.String())
	}
	k, err := settings.ParseRaidKey(setting)
	if err != nil {
		return raidRefusal(err)
	}
	if !hasValue {
		cur, err := t.env.Settings.GetRaid(ctx, call.GuildID)
		if err != nil {
			return failed(err)
		}
		return Text(OK, "`%s` is **%s**; accepted: %s.", k, cur.Value(k), settings.RaidAccepted(k))
	}
	r, err := t.env.Settings.SetRaid(ctx, call.GuildID, call.User.ID, k, value)
	if err != nil {
		return raidRefusal(err)
	}
	return Text(OK, "Raid `%s` is now **%s**.", k, r.Value(k))
}

func raidRefusal(err error) Reply {
	var inv *input.InvalidError
	switch {
	case errors.As(err, &inv):
		return refused("**%s**: %s. Nothing was changed.", inv.Field, strings.TrimSuffix(inv.Problem, "."))
	case errors.Is(err, input.ErrUnchanged):
		return Text(OK, "Nothing to change: %s.", strings.TrimSuffix(err.Error(), ": "+input.ErrUnchanged.Error()))
	}
	return failed(err)
}

func (t *raidTool) status(ctx context.Context, call Call) Reply {
	cfg, err := t.env.Settings.GetRaid(ctx, call.GuildID)
	if err != nil {
		return failed(err)
	}
	cur, open, err := t.env.Raid.Current(ctx, call.GuildID)
	if err != nil {
		return failed(err)
	}
	var b strings.Builder
	state := "off"
	if cfg.Enabled {
		state = fmt.Sprintf("on (%d joins within %s)", cfg.Threshold, cfg.Value(settings.RaidWindow))
	}
	fmt.Fprintf(&b, "Raid detection is **%s**.\n", state)
	if !open {
		b.WriteString("Raid mode is **off**.")
		if past, err := t.env.Raid.List(ctx, call.GuildID, 1); err == nil && len(past) > 0 {
			p := past[0]
			fmt.Fprintf(&b, " The last raid was #%d, %s to %s.", p.Number, discordTime(time.UnixMilli(p.StartedAt)), discordTime(time.UnixMilli(p.EndedAt.Int64)))
		}
		return Text(OK, "%s", b.String())
	}
	sum := raid.Summarize(cur.Members)
	fmt.Fprintf(&b, "🚨 Raid mode is **on**: raid #%d since %s (case #%d, %s).\n", cur.Number, discordTime(time.UnixMilli(cur.StartedAt)), cur.Case.Number, cur.Trigger)
	fmt.Fprintf(&b, "Candidates: %d (%s).\n", sum.Candidates, raid.StatesText(sum.States))
	if cur.InvitesUntil.Valid {
		fmt.Fprintf(&b, "Invites paused until %s (renewed while the raid lasts).\n", discordTime(time.UnixMilli(cur.InvitesUntil.Int64)))
	}
	if cur.VerificationSet.Valid {
		b.WriteString("Verification level raised to High.\n")
	}
	if cur.LockdownID.Valid {
		b.WriteString(raidLockdownLine(ctx, t.env, call.GuildID, cur.LockdownID.Int64))
	}
	fmt.Fprintf(&b, "Ends by itself %s after the last surge of joins, or with `raid end`.", cfg.Value(settings.RaidQuiet))
	return Text(OK, "%s", b.String())
}

// raidLockdownLine says what became of the lockdown raid mode started: still on (unlocked
// when raid mode ends), or already unlocked.
func raidLockdownLine(ctx context.Context, env *Env, g discord.GuildID, id int64) string {
	if env.Lockdown != nil {
		if open, err := env.Lockdown.Current(ctx, g); err == nil {
			for _, o := range open {
				if o.Lockdown.ID == id {
					return fmt.Sprintf("Server locked down (case #%d, %d channels) until raid mode ends.\n", o.Case.Number, o.Held())
				}
			}
			return "The server's lockdown raid mode started was unlocked before raid mode ended.\n"
		}
	}
	return "Server locked down until raid mode ends.\n"
}

func discordTime(t time.Time) string { return fmt.Sprintf("<t:%d:f>", t.Unix()) }

// click runs one of a raid message's buttons; the one who clicked is answered, and the
// message itself follows the raid through the mod log.
func (t *raidTool) click(ctx context.Context, call Call, customID string) Reply {
	if t.env.Raid == nil {
		return refused("Raid defence does not run in this process.")
	}
	parts := strings.Split(strings.TrimPrefix(customID, RaidButtonPrefix), ":")
	if len(parts) != 2 {
		return refused("This button no longer does anything.")
	}
	n, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || n < 1 {
		return refused("This button no longer does anything.")
	}
	switch parts[1] {
	case "end":
		if _, err := t.env.Raid.End(ctx, call.GuildID, call.User, "ended with the raid message's button by "+call.User.Username); err != nil {
			if errors.Is(err, raid.ErrNone) {
				return keep(Text(OK, "Raid mode is already off."))
			}
			return keep(failed(err))
		}
		return keep(Text(OK, "Raid mode is off; its responses were undone."))
	case "release":
		t.env.Raid.Later(call.GuildID, raidButtonTimeout, func(ctx context.Context) error {
			_, err := t.env.Raid.Release(ctx, call.GuildID, n, call.User)
			return err
		})
		return keep(Text(OK, "Releasing the candidates of raid #%d: their timeouts are lifted, each with its case; the raid's message shows it when done.", n))
	case "ban", "kick", "timeout":
		what := map[string]settings.JoinerAction{"ban": settings.JoinerBan, "kick": settings.JoinerKick, "timeout": settings.JoinerTimeout}[parts[1]]
		t.env.Raid.Later(call.GuildID, raidButtonTimeout, func(ctx context.Context) error {
			_, _, err := t.env.Raid.ActAll(ctx, call.GuildID, n, what, call.User)
			return err
		})
		return keep(Text(OK, "Raid #%d: %s all started as a mass action, a case for each member; the raid's message shows the result.", n, what))
	}
	return refused("This button no longer does anything.")
}

func keep(r Reply) Reply {
	r.Keep = true
	return r
}
