package tools

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/settings"
)

// What the jail role may do: nothing outside the jail channel, and read and write in it.
const (
	// jailDenied is what the jail role is denied on every other channel and category, the
	// same overwrite a channel created later gets (moderation.JailOverwrite).
	jailDenied = permViewChannel | permSendMessages
	// jailAllowed is what it is allowed in the jail channel.
	jailAllowed = permViewChannel | permSendMessages | permReadMessageHistory
)

// jailChannelTypes are the channels a jailed member could read or speak in, and the
// categories whose overwrites new channels inherit; threads follow their parent.
var jailChannelTypes = map[discord.ChannelType]bool{
	discord.ChannelGuildText: true, discord.ChannelGuildVoice: true, discord.ChannelGuildCategory: true,
	discord.ChannelGuildAnnouncement: true, discord.ChannelGuildStageVoice: true, discord.ChannelGuildForum: true,
	discord.ChannelGuildMedia: true,
}

// jailSetup is what setting up the jail did.
type jailSetup struct {
	role, jailChannel int64
	// changed are the channels whose overwrite for the jail role gavel set; kept, those
	// already as the jail needs them.
	changed []discord.Channel
	kept    int
	// failed are the channels gavel could not change, each with why.
	failed []string
	// unreached are the channels left when the command ran out of time.
	unreached int
}

// jailOverwrite is the jail role's overwrite a channel needs, from the one it has (zero
// when none): the permissions the jail is about set, the others kept as they were. Discord
// lets a bot allow or deny only what it holds itself in the channel (have), so a permission
// gavel lacks there is left as it is: View Channel, which gavel always holds where it can
// act, is what keeps jailed members out.
func jailOverwrite(cur discord.Overwrite, roleID discord.RoleID, jailChannel bool, have uint64) discord.Overwrite {
	ow := discord.Overwrite{ID: int64(roleID), Type: discord.OverwriteRole, Allow: cur.Allow, Deny: cur.Deny}
	if jailChannel {
		ow.Allow |= jailAllowed & have
		ow.Deny &^= jailAllowed & have
	} else {
		ow.Deny |= jailDenied & have
		ow.Allow &^= jailDenied & have
	}
	return ow
}

func roleOverwrite(ch discord.Channel, roleID discord.RoleID) (discord.Overwrite, bool) {
	for _, o := range ch.Overwrites {
		if o.Type == discord.OverwriteRole && discord.RoleID(o.ID) == roleID {
			return o, true
		}
	}
	return discord.Overwrite{}, false
}

// setUpJail denies the jail role View Channel and Send Messages on every channel and
// category of the guild but the jail channel, where it may view, send and read the
// history. Each change is one Discord call through the executor (which waits out rate
// limits); a channel gavel cannot change (it cannot see it, or lacks Manage Roles or one of
// those permissions there, or Discord refused) is reported and the others are still done.
func (c *configTool) setUpJail(ctx context.Context, call Call, g settings.Guild) (jailSetup, error) {
	out := jailSetup{role: int64(g.JailRoleID), jailChannel: int64(g.JailChannelID)}
	guild, bot, err := c.guildAndBot(ctx, call.GuildID)
	if err != nil {
		return out, err
	}
	var channels []discord.Channel
	if err := c.read(ctx, func(ctx context.Context) (err error) {
		channels, err = c.env.Port.GuildChannels(ctx, call.GuildID)
		return err
	}); err != nil {
		return out, fmt.Errorf("channels of guild %d: %w", call.GuildID, err)
	}
	// Categories first: a channel created while the setup runs copies its category's
	// overwrites.
	slices.SortStableFunc(channels, func(a, b discord.Channel) int {
		return boolRank(b.Type == discord.ChannelGuildCategory) - boolRank(a.Type == discord.ChannelGuildCategory)
	})
	reason := fmt.Sprintf("Jail setup by %s (%d)", call.User.Username, call.User.ID)
	for i, ch := range channels {
		if !jailChannelTypes[ch.Type] {
			continue
		}
		if ctx.Err() != nil {
			out.unreached = len(channels) - i
			break
		}
		isJail := ch.ID == g.JailChannelID
		cur, had := roleOverwrite(ch, g.JailRoleID)
		have := channelPermissions(guild, bot, ch.Overwrites)
		want := jailOverwrite(cur, g.JailRoleID, isJail, have)
		if had && want == cur && (want.Deny|want.Allow)&permViewChannel != 0 {
			out.kept++
			continue
		}
		switch {
		case have&permViewChannel == 0:
			out.failed = append(out.failed, fmt.Sprintf("%s: gavel cannot see it (it needs View Channel there)", channelLabel(ch)))
			continue
		case have&permManageRoles == 0:
			out.failed = append(out.failed, fmt.Sprintf("%s: gavel lacks Manage Permissions there", channelLabel(ch)))
			continue
		}
		err := c.env.Exec.Do(ctx, executor.OpChannels, func(ctx context.Context) error {
			return c.env.Port.SetChannelOverwrite(ctx, ch.ID, want, reason)
		})
		if err != nil {
			if ctx.Err() != nil {
				out.unreached = len(channels) - i
				break
			}
			out.failed = append(out.failed, fmt.Sprintf("%s: %s", channelLabel(ch), discordTrouble(err)))
			continue
		}
		out.changed = append(out.changed, ch)
	}
	return out, nil
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// channelLabel names a channel in a report: its mention, and "category" for a category
// (whose mention Discord does not render).
func channelLabel(ch discord.Channel) string {
	if ch.Type == discord.ChannelGuildCategory {
		return fmt.Sprintf("category **%s**", ch.Name)
	}
	return channelText(int64(ch.ID))
}

// text is the report of a setup, for the moderator and the audit-log channel.
func (s jailSetup) text(call Call) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Jail setup for %s: ", roleText(s.role))
	if len(s.changed) == 0 {
		b.WriteString("no channel needed a change")
	} else {
		labels := make([]string, len(s.changed))
		for i, ch := range s.changed {
			labels[i] = channelLabel(ch)
		}
		fmt.Fprintf(&b, "changed %d channels and categories (%s)", len(s.changed), clipText(strings.Join(labels, ", "), 900))
	}
	if s.kept > 0 {
		fmt.Fprintf(&b, "; %d were already set", s.kept)
	}
	b.WriteString(". Everywhere the jail role is denied View Channel (and Send Messages where gavel holds it)")
	if s.jailChannel != 0 {
		fmt.Fprintf(&b, ", except the jail channel %s, where it may view, send messages and read the history", channelText(s.jailChannel))
	} else {
		fmt.Fprintf(&b, " (no jail channel is set, so jailed members see no channel at all; set one with %s)", cmdRef(call, "config channel jail"))
	}
	b.WriteString(".")
	if len(s.failed) > 0 {
		fmt.Fprintf(&b, "\n⚠️ Not changed (%d), so jailed members may still see them: %s. Fix gavel's permissions there and run %s again.",
			len(s.failed), clipText(strings.Join(s.failed, "; "), 900), cmdRef(call, "config jail setup"))
	}
	if s.unreached > 0 {
		fmt.Fprintf(&b, "\n⚠️ The command ran out of time with %d channels left: run %s again to finish.", s.unreached, cmdRef(call, "config jail setup"))
	}
	return b.String()
}

// jailSetupCmd runs config jail setup.
func (c *configTool) jailSetupCmd(ctx context.Context, call Call) Reply {
	g, err := c.env.Settings.Get(ctx, call.GuildID)
	if err != nil {
		return failed(err)
	}
	if g.JailRoleID == 0 {
		return refused("No jail role is set, so there is nothing to set up; set one with %s (which sets up the channels too).", cmdRef(call, "config jailrole"))
	}
	s, err := c.setUpJail(ctx, call, g)
	if err != nil {
		return failed(err)
	}
	return c.done(ctx, call, "config jail setup", s.text(call), "", nil)
}

// afterJailChange sets up the jail after the jail role or channel changed, and returns the
// report to add to the change's answer ("" when there is no jail role).
func (c *configTool) afterJailChange(ctx context.Context, call Call) string {
	g, err := c.env.Settings.Get(ctx, call.GuildID)
	if err != nil {
		c.env.Log.Warn("config: reading settings for the jail setup", "guild", call.GuildID, "err", err)
		return fmt.Sprintf("⚠️ The channels were not set up for the jail (settings unreadable): run %s.", cmdRef(call, "config jail setup"))
	}
	if g.JailRoleID == 0 {
		return ""
	}
	s, err := c.setUpJail(ctx, call, g)
	if err != nil {
		c.env.Log.Warn("config: jail setup", "guild", call.GuildID, "err", err)
		return fmt.Sprintf("⚠️ The channels were not set up for the jail (%s): run %s.", discordTrouble(err), cmdRef(call, "config jail setup"))
	}
	return s.text(call)
}

// jailCheck lists the channels where the jail role is not denied View Channel, and a jail
// channel it cannot view. A channel's own overwrites decide, whatever its category says:
// one synced to a category that denies the role has the same overwrite and is fine; one
// that is not synced is named with its category, so the moderator sees why.
func (c *configTool) jailCheck(ctx context.Context, call Call) Reply {
	g, err := c.env.Settings.Get(ctx, call.GuildID)
	if err != nil {
		return failed(err)
	}
	if g.JailRoleID == 0 {
		return refused("No jail role is set; set one with %s.", cmdRef(call, "config jailrole"))
	}
	var channels []discord.Channel
	if err := c.read(ctx, func(ctx context.Context) (err error) {
		channels, err = c.env.Port.GuildChannels(ctx, call.GuildID)
		return err
	}); err != nil {
		return failed(err)
	}
	byID := map[discord.ChannelID]discord.Channel{}
	for _, ch := range channels {
		byID[ch.ID] = ch
	}
	var open []string
	checked := 0
	jailFound := false
	for _, ch := range channels {
		if !jailChannelTypes[ch.Type] {
			continue
		}
		ow, _ := roleOverwrite(ch, g.JailRoleID)
		if ch.ID == g.JailChannelID {
			jailFound = true
			if ow.Deny&permViewChannel != 0 {
				open = append(open, fmt.Sprintf("%s is the jail channel, but the jail role is denied View Channel there: jailed members cannot see it", channelLabel(ch)))
			}
			continue
		}
		checked++
		if ow.Deny&permViewChannel != 0 && ow.Allow&permViewChannel == 0 {
			continue
		}
		line := channelLabel(ch)
		if ow.Allow&permViewChannel != 0 {
			line += " (allowed View Channel)"
		}
		if parent, ok := byID[ch.ParentID]; ok && ch.ParentID != 0 {
			if pow, _ := roleOverwrite(parent, g.JailRoleID); pow.Deny&permViewChannel != 0 {
				line += fmt.Sprintf(" (its category **%s** denies it, but the channel is not synced with the category, so its own permissions apply)", parent.Name)
			}
		}
		open = append(open, line)
	}
	if g.JailChannelID != 0 && !jailFound {
		open = append(open, fmt.Sprintf("the jail channel %s no longer exists", channelText(int64(g.JailChannelID))))
	}
	if len(open) == 0 {
		return Text(OK, "✅ The jail role %s is denied View Channel on all %d channels and categories but the jail channel.", roleText(int64(g.JailRoleID)), checked)
	}
	return Text(OK, "%s", clipText(fmt.Sprintf("⚠️ Jailed members (%s) can see %d of %d channels and categories:\n%s\nDeny them with %s.",
		roleText(int64(g.JailRoleID)), len(open), checked, "• "+strings.Join(open, "\n• "), cmdRef(call, "config jail setup")), 2000))
}
