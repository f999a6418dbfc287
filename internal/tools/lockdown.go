package tools

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/lockdown"
	"github.com/gavelbot/gavel/internal/permissions"
)

// LockdownRank is the rank lockdown and unlock need by default (as raid does).
const LockdownRank = 3

// lockdownNative is what lockdown and unlock need in a server without ranks: the
// permissions the lockdown itself uses.
const lockdownNative = permissions.ManageChannels | permissions.ManageRoles

// lockdownTargetsHelp says what the targets accept.
const lockdownTargetsHelp = "name channels as #channel or their ids, or write server; anything after them is the reason"

// maxListedInReply bounds the report lines a reply lists (Discord's 2,000 characters); the
// case's history keeps them all.
const maxListedInReply = 8

func lockdownSpecs() (*commands.Spec, *commands.Spec) {
	lock := &commands.Spec{
		Name: "lockdown", Native: lockdownNative, Rank: LockdownRank, Aliases: []string{"lock"},
		Description: "Stop @everyone sending in channels (or the whole server) until unlock or a duration",
		Params: []commands.Param{
			{Name: "targets", Description: "Channels (#a #b) or server; then the reason. Left out: this channel",
				Kind: commands.KindString, Positional: true, Rest: true, Max: 2000},
			{Name: "duration", Description: "End by itself after this long (1m to 28d)", Kind: commands.KindDuration,
				Bounds: duration.Bounds{Min: lockdown.MinDuration, Max: lockdown.MaxDuration}, Aliases: []string{"d", "t"}},
			{Name: "reason", Description: "Why (the prefix form takes it after the channels)", Kind: commands.KindString, Max: 500, Aliases: []string{"r"}},
		},
	}
	unlock := &commands.Spec{
		Name: "unlock", Native: lockdownNative, Rank: LockdownRank,
		Description: "Open locked channels (or the whole server) again, exactly as they were",
		Params: []commands.Param{
			{Name: "targets", Description: "Channels (#a #b) or server; then the reason. Left out: this channel",
				Kind: commands.KindString, Positional: true, Rest: true, Max: 2000},
			{Name: "reason", Description: "Why (the prefix form takes it after the channels)", Kind: commands.KindString, Max: 500, Aliases: []string{"r"}},
		},
	}
	return lock, unlock
}

func newLockdownTools(env *Env) []*Tool {
	lock, unlock := lockdownSpecs()
	return []*Tool{
		{Spec: lock, Run: func(ctx context.Context, call Call, args commands.Args) Reply {
			return runLockdown(ctx, env, call, args)
		}},
		{Spec: unlock, Run: func(ctx context.Context, call Call, args commands.Args) Reply { return runUnlock(ctx, env, call, args) }},
	}
}

// LockTargets is what a lockdown or unlock names: channels, or the whole server, and the
// reason written after them.
type LockTargets struct {
	Server   bool
	Channels []discord.ChannelID
	Reason   string
}

// ParseLockTargets reads "server", or channel mentions and ids, from the start of text; the
// words after them are the reason. Nothing named means the channel the command was given in.
func ParseLockTargets(text string) (LockTargets, error) {
	var t LockTargets
	seen := map[discord.ChannelID]bool{}
	words := strings.Fields(text)
	i := 0
	for ; i < len(words); i++ {
		w := words[i]
		if strings.EqualFold(w, "server") && i == 0 {
			t.Server = true
			continue
		}
		id, ok, err := channelWord(w)
		if err != nil {
			return LockTargets{}, err
		}
		if !ok {
			break
		}
		if t.Server {
			return LockTargets{}, fmt.Errorf("server already means every channel: name channels or server, not both")
		}
		if !seen[id] {
			seen[id] = true
			t.Channels = append(t.Channels, id)
		}
	}
	t.Reason = strings.Join(words[i:], " ")
	if len(t.Channels) > 500 {
		return LockTargets{}, fmt.Errorf("%d channels named; at most 500, or write server", len(t.Channels))
	}
	return t, nil
}

// channelWord reads a channel mention (<#id>) or a bare id. ok is false for a word that is
// neither (the reason's first word); err for a mention that is not a channel's.
func channelWord(w string) (discord.ChannelID, bool, error) {
	raw := w
	if strings.HasPrefix(w, "<#") {
		if !strings.HasSuffix(w, ">") {
			return 0, false, fmt.Errorf("%q is not a channel mention; %s", clipText(w, 40), lockdownTargetsHelp)
		}
		raw = w[2 : len(w)-1]
	} else if strings.HasPrefix(w, "<@") {
		return 0, false, fmt.Errorf("%q is a user or role, not a channel; %s", clipText(w, 40), lockdownTargetsHelp)
	} else if !digits(w) || len(w) < 17 || len(w) > 20 {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(raw, 10, 64)
	if err != nil || n == 0 || n > 1<<63-1 {
		return 0, false, fmt.Errorf("%q is not a channel id; %s", clipText(w, 40), lockdownTargetsHelp)
	}
	return discord.ChannelID(n), true, nil
}

// hereChannel is the channel the command was given in, or a thread's parent (threads follow
// their channel's permissions).
func hereChannel(ctx context.Context, env *Env, call Call) (discord.ChannelID, error) {
	c, err := env.Port.Channel(ctx, call.ChannelID)
	if err != nil {
		return 0, err
	}
	if isThread(c.Type) {
		return c.ParentID, nil
	}
	return c.ID, nil
}

func lockTargets(ctx context.Context, env *Env, call Call, args commands.Args) (LockTargets, *Reply) {
	t, err := ParseLockTargets(args.String("targets"))
	if err != nil {
		r := refused("%s: %v. Nothing was changed.", args.Spec.Name, err)
		return t, &r
	}
	if flag := strings.TrimSpace(args.String("reason")); flag != "" {
		if t.Reason != "" {
			r := refused("%q is not a channel (%s). Nothing was changed.", clipText(t.Reason, 40), lockdownTargetsHelp)
			return t, &r
		}
		t.Reason = flag
	}
	if !t.Server && len(t.Channels) == 0 {
		id, err := hereChannel(ctx, env, call)
		if err != nil {
			r := failed(err)
			return t, &r
		}
		t.Channels = []discord.ChannelID{id}
	}
	return t, nil
}

func lockdownRefusal(err error) Reply {
	var ref *lockdown.Refusal
	if errors.As(err, &ref) {
		return refused("%s", ref.Problem)
	}
	return failed(err)
}

func runLockdown(ctx context.Context, env *Env, call Call, args commands.Args) Reply {
	if env.Lockdown == nil {
		return refused("Lockdowns do not run in this gavel process.")
	}
	t, bad := lockTargets(ctx, env, call, args)
	if bad != nil {
		return *bad
	}
	res, err := env.Lockdown.Lock(ctx, lockdown.LockRequest{GuildID: call.GuildID, By: call.User, ChannelIDs: t.Channels, Server: t.Server,
		Duration: args.Duration("duration"), Reason: t.Reason})
	if err != nil && res.Case.ID == 0 {
		return lockdownRefusal(err)
	}
	var b strings.Builder
	what := fmt.Sprintf("%d channels", len(res.Locked))
	if len(res.Locked) == 1 {
		what = fmt.Sprintf("<#%d>", res.Locked[0].ID)
	}
	if t.Server {
		what = "the server (" + what + ")"
	}
	fmt.Fprintf(&b, "🔒 Locked %s: @everyone can no longer send, start threads, react, make polls or send voice messages there (case #%d, %d overwrites changed, all snapshotted first).",
		what, res.Case.Number, res.Overwrites)
	if res.EndsAt.IsZero() {
		b.WriteString(" It lasts until `unlock`.")
	} else {
		fmt.Fprintf(&b, " It ends by itself %s, or with `unlock`.", discordTime(res.EndsAt))
	}
	if !res.InvitesUntil.IsZero() {
		fmt.Fprintf(&b, "\nInvites are paused (renewed every 23 hours while the lockdown lasts).")
	}
	if len(res.Superseded) > 0 {
		fmt.Fprintf(&b, "\nTaken over from the earlier lockdown of case %s: unlock restores what was there before it.", numbers(res.Superseded))
	}
	listLines(&b, "Left alone", res.Skipped)
	listLines(&b, "Discord refused", res.Failed)
	if err != nil {
		b.WriteString("\n" + err.Error())
	}
	return Text(OK, "%s", b.String())
}

func runUnlock(ctx context.Context, env *Env, call Call, args commands.Args) Reply {
	if env.Lockdown == nil {
		return refused("Lockdowns do not run in this gavel process.")
	}
	t, bad := lockTargets(ctx, env, call, args)
	if bad != nil {
		return *bad
	}
	res, err := env.Lockdown.Unlock(ctx, lockdown.UnlockRequest{GuildID: call.GuildID, By: call.User, ChannelIDs: t.Channels, Server: t.Server, Reason: t.Reason})
	if err != nil && res.Channels == 0 {
		return lockdownRefusal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "🔓 Unlocked %d channels: %d overwrites put back as they were, %d that gavel had created removed.", res.Channels, res.Restored, res.Deleted)
	if len(res.Ended) > 0 {
		fmt.Fprintf(&b, " Lockdown case %s is over.", numbers(res.Ended))
	}
	if len(res.Changed) == 0 {
		b.WriteString("\nNothing was changed by anyone else during the lockdown.")
	} else {
		listLines(&b, fmt.Sprintf("Changed by someone during the lockdown, left as they are (%d)", len(res.Changed)), res.Changed)
	}
	listLines(&b, "Discord refused", res.Failed)
	listLines(&b, "Not locked by gavel", res.NotLocked)
	if res.Invites != "" {
		b.WriteString("\n" + strings.ToUpper(res.Invites[:1]) + res.Invites[1:] + ".")
	}
	if err != nil {
		b.WriteString("\nSome of it could not be recorded: " + err.Error())
	}
	return Text(OK, "%s", b.String())
}

func listLines(b *strings.Builder, title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(b, "\n**%s:**", title)
	for i, l := range lines {
		if i == maxListedInReply {
			fmt.Fprintf(b, "\n… and %d more (the case's history lists them all)", len(lines)-i)
			break
		}
		b.WriteString("\n• " + clipText(l, 200))
	}
}

func numbers(ns []int64) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = "#" + strconv.FormatInt(n, 10)
	}
	return strings.Join(parts, ", ")
}
