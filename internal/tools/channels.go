package tools

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Discord permission bits the channel tools check for gavel itself, before acting, so that
// a missing one is named instead of surfacing as Discord's bare 403.
const (
	permAdministrator      uint64 = 1 << 3
	permManageChannels     uint64 = 1 << 4
	permViewChannel        uint64 = 1 << 10
	permManageMessages     uint64 = 1 << 13
	permReadMessageHistory uint64 = 1 << 16
	permManageThreads      uint64 = 1 << 34
	permAll                       = discord.AllPermissions
)

// missingPerms names the bits of need that have lacks, as Discord's client does; "" when
// none.
func missingPerms(have, need uint64) string {
	if need&^have == 0 {
		return ""
	}
	return permissions.Permission(need &^ have).String()
}

// isThread reports whether a channel is a thread, which takes its permissions from its parent.
func isThread(t discord.ChannelType) bool {
	return t == discord.ChannelPublicThread || t == discord.ChannelPrivateThread || t == discord.ChannelAnnouncementThread
}

// channelPermissions is a member's permissions in a channel (discord.Guild.ChannelPermissions).
func channelPermissions(g discord.Guild, m discord.Member, overwrites []discord.Overwrite) uint64 {
	return g.ChannelPermissions(m, overwrites)
}

// channelRefusal is a check on the target channel that said no; Problem is the reply.
type channelRefusal struct{ Problem string }

func (r *channelRefusal) Error() string { return r.Problem }

// targetChannel reads the channel a tool acts on (the one named, else the one the command
// was given in) and checks that it belongs to the guild and is of a type the tool handles.
// what names the tool's action for messages ("purge messages in"). A refusal is a
// *channelRefusal; any other error is Discord's or the executor's.
func targetChannel(ctx context.Context, env *Env, call Call, named int64, allowed map[discord.ChannelType]bool, what string) (discord.Channel, error) {
	id := named
	if id == 0 {
		id = int64(call.ChannelID)
	}
	var ch discord.Channel
	err := env.Exec.Do(ctx, executor.OpRead, func(ctx context.Context) (err error) {
		ch, err = env.Port.Channel(ctx, discord.ChannelID(id))
		return err
	})
	if err != nil {
		if de := discord.AsError(err); de != nil && (de.Status == http.StatusNotFound || de.Status == http.StatusForbidden) {
			return discord.Channel{}, &channelRefusal{fmt.Sprintf("I cannot find or see the channel <#%d> (%s). Name a channel of this server that gavel can view.", id, discordTrouble(err))}
		}
		return discord.Channel{}, fmt.Errorf("channel %d: %w", id, err)
	}
	if ch.GuildID != call.GuildID {
		return discord.Channel{}, &channelRefusal{fmt.Sprintf("<#%d> is not a channel of this server; name one of this server's channels.", id)}
	}
	if !allowed[ch.Type] {
		return discord.Channel{}, &channelRefusal{fmt.Sprintf("I cannot %s <#%d>: it is %s. Accepted: %s.", what, id, channelTypeName(ch.Type), channelTypeList(allowed))}
	}
	return ch, nil
}

// botPermissionsIn computes gavel's own permissions in a channel (a thread's are its
// parent's).
func botPermissionsIn(ctx context.Context, env *Env, ch discord.Channel) (uint64, error) {
	var (
		g      discord.Guild
		bot    discord.Member
		source = ch
	)
	err := env.Exec.Do(ctx, executor.OpRead, func(ctx context.Context) (err error) {
		if g, err = env.Port.Guild(ctx, ch.GuildID); err != nil {
			return err
		}
		if bot, err = env.Port.Member(ctx, ch.GuildID, env.BotID); err != nil {
			return err
		}
		if isThread(ch.Type) && ch.ParentID != 0 {
			source, err = env.Port.Channel(ctx, ch.ParentID)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("gavel's permissions in channel %d: %w", ch.ID, err)
	}
	return channelPermissions(g, bot, source.Overwrites), nil
}

// channelTypeName names a channel type for people.
func channelTypeName(t discord.ChannelType) string {
	switch t {
	case discord.ChannelGuildText:
		return "a text channel"
	case discord.ChannelDM:
		return "a direct message"
	case discord.ChannelGuildVoice:
		return "a voice channel"
	case discord.ChannelGuildCategory:
		return "a category"
	case discord.ChannelGuildAnnouncement:
		return "an announcement channel"
	case discord.ChannelAnnouncementThread, discord.ChannelPublicThread, discord.ChannelPrivateThread:
		return "a thread"
	case discord.ChannelGuildStageVoice:
		return "a stage channel"
	case discord.ChannelGuildForum:
		return "a forum"
	case discord.ChannelGuildMedia:
		return "a media channel"
	}
	return fmt.Sprintf("a channel of type %d", int(t))
}

// channelTypeList lists the kinds of channel in allowed, in a fixed order.
func channelTypeList(allowed map[discord.ChannelType]bool) string {
	order := []struct {
		t    discord.ChannelType
		name string
	}{
		{discord.ChannelGuildText, "text channels"}, {discord.ChannelPublicThread, "threads"},
		{discord.ChannelGuildVoice, "voice channels"}, {discord.ChannelGuildAnnouncement, "announcement channels"},
		{discord.ChannelGuildForum, "forums"}, {discord.ChannelGuildMedia, "media channels"},
		{discord.ChannelGuildStageVoice, "stage channels"},
	}
	var names []string
	for _, o := range order {
		if allowed[o.t] {
			names = append(names, o.name)
		}
	}
	return strings.Join(names, ", ")
}

// discordTrouble says in a few words why a Discord call failed, for replies.
func discordTrouble(err error) string {
	var open *executor.OpenError
	if errors.As(err, &open) {
		return open.Error()
	}
	if de := discord.AsError(err); de != nil {
		switch {
		case de.Code == discord.CodeUnknownChannel:
			return "Discord says the channel does not exist (it may have been deleted)"
		case de.Code == discord.CodeMissingAccess:
			return "gavel cannot see that channel (it needs View Channel there)"
		case de.Status == http.StatusForbidden:
			return "Discord refused: gavel lacks a permission there"
		case de.Status == http.StatusNotFound:
			return "Discord says it does not exist"
		}
	}
	// Never the error's own text (a library's or Discord's words): the log has it.
	return moderation.FailureText(err)
}

// logToAuditChannel posts an entry in the guild's audit-log channel, when one is set. It
// returns a note for the moderator when that failed; what was done stands either way.
func logToAuditChannel(ctx context.Context, env *Env, guildID discord.GuildID, e discord.Embed) string {
	g, err := env.Settings.Get(ctx, guildID)
	if err != nil {
		env.Log.Error("audit log: reading settings", "guild", guildID, "err", err)
		return "The audit-log entry was not posted (gavel could not read this server's settings)."
	}
	if g.AuditlogChannelID == 0 {
		return ""
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = env.Now()
	}
	msg := discord.Message{Embeds: []discord.Embed{e}, AllowedMentions: &discord.AllowedMentions{}}
	err = env.Exec.Do(ctx, executor.OpMessages, func(ctx context.Context) error {
		_, err := env.Port.SendMessage(ctx, g.AuditlogChannelID, msg)
		return err
	})
	if err != nil {
		env.Log.Warn("audit log: posting", "guild", guildID, "channel", g.AuditlogChannelID, "err", err)
		return fmt.Sprintf("The audit-log entry could not be posted in <#%d> (%s).", g.AuditlogChannelID, discordTrouble(err))
	}
	return ""
}
