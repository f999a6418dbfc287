package tools

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/permissions"
)

// MaxSlowmode is Discord's longest slowmode (rate_limit_per_user), in seconds: 6 hours.
const MaxSlowmode = 21600

// slowmodeBounds is the message for a delay out of range.
const slowmodeBounds = "Slowmode must be between 0 seconds (off) and 6 hours (21600 seconds)."

// slowmodeAccepted says how a delay is written.
const slowmodeAccepted = "Write the delay as seconds (30), a duration (30s, 2m, 1h, 1h30m) or off."

const slowmodeColor = 0x3498DB

// slowmodeChannelTypes are the channels whose rate_limit_per_user Discord lets a bot set.
// Announcement channels have no slowmode on Discord.
var slowmodeChannelTypes = map[discord.ChannelType]bool{
	discord.ChannelGuildText: true, discord.ChannelGuildVoice: true, discord.ChannelGuildStageVoice: true,
	discord.ChannelGuildForum: true, discord.ChannelGuildMedia: true,
	discord.ChannelPublicThread: true, discord.ChannelPrivateThread: true, discord.ChannelAnnouncementThread: true,
}

func newSlowmode(env *Env) *Tool {
	return &Tool{Spec: slowmodeSpec(), Run: func(ctx context.Context, call Call, args commands.Args) Reply {
		return runSlowmode(ctx, env, call, args)
	}}
}

func slowmodeSpec() *commands.Spec {
	return &commands.Spec{
		Name: "slowmode", Native: permissions.ManageChannels, Rank: 2,
		Aliases:     []string{"sm"},
		Description: "Show a channel's slowmode, or set it (0 to 6 hours; off turns it off).",
		Params: []commands.Param{
			{Name: "delay", Description: "The new delay: 30, 30s, 2m, 1h30m or off (leave out to see the current one)",
				Kind: commands.KindString, Positional: true, Rest: true},
			{Name: "channel", Description: "The channel (default: here)", Kind: commands.KindChannel, Aliases: []string{"c"}},
		},
	}
}

func runSlowmode(ctx context.Context, env *Env, call Call, args commands.Args) Reply {
	set := args.Has("delay")
	var secs int
	if set {
		var err error
		if secs, err = parseSlowmode(args.String("delay"), call.Slash); err != nil {
			return Text(Refused, "%s Nothing was changed.", err.Error())
		}
	}
	ch, err := targetChannel(ctx, env, call, args.ID("channel"), slowmodeChannelTypes, "set the slowmode of")
	if err != nil {
		return channelFailure(err, "Nothing was changed.")
	}
	if !set {
		if ch.RateLimitPerUser == 0 {
			return Text(OK, "The slowmode in <#%d> is off.", ch.ID)
		}
		return Text(OK, "The slowmode in <#%d> is %s.", ch.ID, spellSeconds(ch.RateLimitPerUser))
	}

	// Discord lets a thread's settings be changed with Manage Threads, other channels' with
	// Manage Channels.
	need, needName := permManageChannels, "Manage Channels"
	if isThread(ch.Type) {
		need, needName = permManageThreads, "Manage Threads"
	}
	perms, err := botPermissionsIn(ctx, env, ch)
	if err != nil {
		r := Text(Failed, "I could not check my permissions in <#%d> (%s). Nothing was changed; try again in a moment.", ch.ID, discordTrouble(err))
		r.Err = err
		return r
	}
	if missing := missingPerms(perms, permViewChannel|need); missing != "" {
		return Text(Refused, "I need %s in <#%d> to change its slowmode. Nothing was changed; give gavel's role %s there (or server-wide) and try again.",
			missing, ch.ID, needName)
	}
	if secs == ch.RateLimitPerUser {
		if secs == 0 {
			return Text(OK, "Slowmode is already off in <#%d>; nothing changed.", ch.ID)
		}
		return Text(OK, "Slowmode is already %s in <#%d>; nothing changed.", spellSeconds(secs), ch.ID)
	}

	reason := moderation.AuditReason(call.User, "slowmode "+shortSeconds(secs))
	err = env.Exec.Do(ctx, executor.OpChannels, func(ctx context.Context) error {
		return env.Port.SetSlowmode(ctx, ch.ID, secs, reason)
	})
	if err != nil {
		r := Text(Failed, "I could not change the slowmode of <#%d>: %s. It is still %s.", ch.ID, discordTrouble(err), slowmodeState(ch.RateLimitPerUser))
		r.Err = fmt.Errorf("slowmode %d in channel %d: %w", secs, ch.ID, err)
		return r
	}
	text := fmt.Sprintf("Slowmode is now %s in <#%d>.", spellSeconds(secs), ch.ID)
	if secs == 0 {
		text = fmt.Sprintf("Slowmode is off in <#%d>.", ch.ID)
	}
	e := discord.Embed{
		Title:       "Slowmode changed",
		Description: fmt.Sprintf("<@%d> changed the slowmode of <#%d>.", call.User.ID, ch.ID),
		Color:       slowmodeColor,
		Fields: []discord.EmbedField{
			{Name: "Moderator", Value: fmt.Sprintf("%s (%d)", call.User.Username, call.User.ID), Inline: true},
			{Name: "Channel", Value: fmt.Sprintf("<#%d>", ch.ID), Inline: true},
			{Name: "Before", Value: slowmodeState(ch.RateLimitPerUser), Inline: true},
			{Name: "After", Value: slowmodeState(secs), Inline: true},
		},
		Timestamp: call.At,
	}
	if note := logToAuditChannel(ctx, env, call.GuildID, e); note != "" {
		text += "\n" + note
	}
	return Text(OK, "%s", text)
}

// parseSlowmode reads a slowmode delay: a number of seconds ("30"), a duration ("30s",
// "2m", "1h30m", "1.5h"), or "off"; it must be from 0 to 6 hours.
func parseSlowmode(s string, slash bool) (int, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	switch in {
	case "":
		return 0, fmt.Errorf("The delay is empty. %s", slowmodeAccepted)
	case "off", "none", "disable", "disabled":
		return 0, nil
	}
	if strings.HasPrefix(in, "<#") {
		if slash {
			return 0, fmt.Errorf("%q is a channel, not a delay: pick the channel in the channel: option.", clipText(s, 40))
		}
		return 0, fmt.Errorf("%q is a channel, not a delay: name the channel with -channel, as in slowmode 30 -channel %s.", clipText(s, 40), clipText(s, 40))
	}
	if strings.HasPrefix(in, "-") {
		return 0, fmt.Errorf("%s", slowmodeBounds)
	}
	if digits(in) {
		n, err := strconv.Atoi(strings.TrimPrefix(in, "+"))
		if err != nil || n > MaxSlowmode {
			return 0, fmt.Errorf("%s", slowmodeBounds)
		}
		return n, nil
	}
	d, err := duration.Parse(in)
	if err != nil {
		if zeroDuration(in) {
			return 0, nil
		}
		return 0, fmt.Errorf("%q is not a delay. %s", clipText(s, 40), slowmodeAccepted)
	}
	if d > MaxSlowmode*time.Second {
		return 0, fmt.Errorf("%s", slowmodeBounds)
	}
	return int(d / time.Second), nil
}

// digits reports whether s is a whole number, perhaps with a plus sign.
func digits(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// zeroDuration reports whether s is zero in a unit duration knows ("0s", "0m", "0 hours"),
// which duration.Parse refuses as shorter than a second but a slowmode reads as off.
func zeroDuration(s string) bool {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	v, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || v != 0 {
		return false
	}
	rest := strings.TrimSpace(s[i:])
	if rest == "" || strings.ContainsAny(rest, "0123456789") {
		return false
	}
	_, err = duration.Parse("1" + rest)
	return err == nil
}

// spellSeconds writes a delay for people: "2 minutes 5 seconds", "1 hour", "off".
func spellSeconds(n int) string {
	if n <= 0 {
		return "off"
	}
	var parts []string
	for _, u := range []struct {
		secs int
		name string
	}{{3600, "hour"}, {60, "minute"}, {1, "second"}} {
		if k := n / u.secs; k > 0 {
			if k == 1 {
				parts = append(parts, "1 "+u.name)
			} else {
				parts = append(parts, fmt.Sprintf("%d %ss", k, u.name))
			}
			n -= k * u.secs
		}
	}
	return strings.Join(parts, " ")
}

// shortSeconds writes a delay as it may be typed: "2m5s", "off".
func shortSeconds(n int) string {
	if n <= 0 {
		return "off"
	}
	return strings.ReplaceAll(duration.Short(time.Duration(n)*time.Second), " ", "")
}

// slowmodeState is a delay for the audit-log entry and failure messages.
func slowmodeState(n int) string {
	if n <= 0 {
		return "off"
	}
	return spellSeconds(n)
}
