package moderation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
)

// Embed colours of the audit-log channel's reports.
const colorFailed = 0x992D22

// colorJailKept is a restriction's colour: the jail stays.
var colorJailKept = colorRestriction

// Rejailed is what Rejail did.
type Rejailed struct {
	// Case is the jail case the member is under; zero when they are not jailed.
	Case cases.Case
	// Done is true when the jail role was given back (and other roles taken).
	Done bool
	// Taken are the roles taken from the member as they rejoined.
	Taken []int64
}

// Rejail puts a member who rejoined back in jail when their latest jail case is still
// active: they get the jail role back and lose every role gavel can take, as a jail does. A
// member who left to shed the jail cannot. Called again a few seconds later, it takes the
// roles other bots give on join; it does nothing when the member is as the jail left them. The Discord call goes through the executor under
// the member's lock; the jail case's history records it (or its failure), and the guild's
// audit-log channel is told.
func (co *Coordinator) Rejail(ctx context.Context, guildID discord.GuildID, userID discord.UserID) (Rejailed, error) {
	g, err := co.settings.Get(ctx, guildID)
	if err != nil {
		return Rejailed{}, fmt.Errorf("reading the settings of guild %d: %w", guildID, err)
	}
	if g.JailRoleID == 0 {
		return Rejailed{}, nil
	}
	// A cheap look first: nearly every member who joins was never jailed.
	if jailed, _, err := co.cases.Restricted(ctx, guildID, userID, cases.Jail); err != nil || !jailed {
		return Rejailed{}, err
	}
	unlock, err := co.locks.Lock(ctx, guildID, userID)
	if err != nil {
		return Rejailed{}, err
	}
	defer unlock()
	// Again under the lock: an unjail may have just finished.
	jailed, jc, err := co.cases.Restricted(ctx, guildID, userID, cases.Jail)
	if err != nil || !jailed || jc.Status != cases.Active {
		return Rejailed{}, err
	}
	out := Rejailed{Case: jc}

	var guild discord.Guild
	var bot, member discord.Member
	err = co.read(ctx, func(ctx context.Context) (err error) {
		if guild, err = co.port.Guild(ctx, guildID); err != nil {
			return err
		}
		if bot, err = co.port.Member(ctx, guildID, co.botID); err != nil {
			return err
		}
		member, err = co.port.Member(ctx, guildID, userID)
		return err
	})
	if discord.IsCode(err, discord.CodeUnknownMember) {
		return out, nil // gone again already
	}
	if err != nil {
		return out, co.rejailFailed(ctx, jc, member, fmt.Errorf("reading the server: %w", err))
	}

	// The jail action's own steps: its checks of the jail role, its plan of the roles to
	// take, its Discord call.
	ja, ok := co.cat.ByCase(cases.Jail)
	if !ok {
		return out, fmt.Errorf("re-jailing user %d: no jail action in the catalogue", userID)
	}
	sc := co.step(PathRejail, Request{GuildID: guildID, Moderator: bot.User, Action: ja,
		Reason: fmt.Sprintf("Re-jail on rejoin (case #%d)", jc.Number)}, ja)
	sc.Guild, sc.Bot, sc.JailRole = guild, bot, g.JailRoleID
	sc.Member, sc.IsMember, sc.Target = member, true, member.User
	if ja.CheckTarget != nil {
		if err := ja.CheckTarget(sc); err != nil {
			return out, co.rejailFailed(ctx, jc, member, err)
		}
	}
	if !guildPermissions(guild, co.botID, bot.Roles).Has(ja.BotNeeds) {
		return out, co.rejailFailed(ctx, jc, member, fmt.Errorf("gavel lacks the %s permission", ja.BotNeeds))
	}
	co.plan(sc)
	out.Taken = discord.Int64s(sc.Plan.SavedRoles)
	if len(out.Taken) == 0 && slices.Contains(member.Roles, g.JailRoleID) {
		return out, nil // already as the jail left them
	}
	if _, err := ja.Act(ctx, sc); err != nil {
		return out, co.rejailFailed(ctx, jc, member, err)
	}
	out.Done = true

	hadJailRole := slices.Contains(member.Roles, g.JailRoleID)
	note := "re-jailed on rejoin: jail role given back"
	if hadJailRole {
		// A later pass: something gave the member roles after they rejoined.
		note = "re-jailed on rejoin: roles given since rejoining taken"
	}
	if len(out.Taken) > 0 {
		note += fmt.Sprintf("; roles taken: %s", roleList(out.Taken))
	}
	var noteErr error
	if out.Case, noteErr = co.cases.AddNote(ctx, guildID, jc.Number, co.botID, note); noteErr != nil {
		out.Case = jc
		noteErr = fmt.Errorf("recording the re-jail in case #%d: %w", jc.Number, noteErr)
	}
	co.postAuditLog(ctx, guildID, discord.Embed{
		Title:       "Re-jailed on rejoin",
		Description: rejailText(userID, member.User.Username, jc.Number, hadJailRole),
		Color:       colorJailKept,
		Fields:      takenField(out.Taken),
	})
	return out, noteErr
}

func rejailText(userID discord.UserID, name string, caseNumber int64, hadJailRole bool) string {
	if hadJailRole {
		return fmt.Sprintf("<@%d> (%s) rejoined while jailed (case #%d) and was given roles since; gavel took them again.", userID, name, caseNumber)
	}
	return fmt.Sprintf("<@%d> (%s) rejoined while jailed (case #%d) and got the jail role back.", userID, name, caseNumber)
}

// rejailFailed records in the jail case and in the audit-log channel that a rejoining
// jailed member could not be put back in jail, so that a moderator can.
func (co *Coordinator) rejailFailed(ctx context.Context, jc cases.Case, member discord.Member, cause error) error {
	why := failureText(cause)
	err := fmt.Errorf("re-jailing user %d (case #%d): %w", jc.UserID, jc.Number, cause)
	if _, noteErr := co.cases.AddNote(ctx, jc.GuildID, jc.Number, co.botID, "re-jail on rejoin failed: "+why); noteErr != nil {
		co.log.Error("re-jail failure not recorded", "guild", jc.GuildID, "case", jc.Number, "err", noteErr)
	}
	name := member.User.Username
	if name == "" {
		name = fmt.Sprint(jc.UserID)
	}
	co.postAuditLog(ctx, jc.GuildID, discord.Embed{
		Title:       "Re-jail on rejoin failed",
		Description: fmt.Sprintf("<@%d> (%s) rejoined while jailed (case #%d), but gavel could not give the jail role back: %s. Jail them again by hand.", jc.UserID, name, jc.Number, why),
		Color:       colorFailed,
	})
	return err
}

func takenField(ids []int64) []discord.EmbedField {
	if len(ids) == 0 {
		return nil
	}
	return []discord.EmbedField{{Name: "Roles taken", Value: roleList(ids)}}
}

func roleList(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("<@&%d>", id)
	}
	return strings.Join(parts, " ")
}

// Discord's View Channel and Send Messages permission bits.
const (
	permViewChannel  = uint64(1) << 10
	permSendMessages = uint64(1) << 11
	permManageRoles  = uint64(1) << 28
)

// JailOverwrite is what a jail role is denied in every channel but the jail channel:
// jailed members neither see nor write there.
const JailOverwrite = permViewChannel | permSendMessages

// errChannelGone is a new channel deleted before the jail role could be denied on it.
var errChannelGone = errors.New("the channel no longer exists")

// DenyJailRole denies the guild's jail role View Channel and Send Messages in a newly
// created channel, so that a channel made after the jail was set up does not open it. The
// jail channel itself, and guilds without a jail role, are left alone. As config jail setup
// does, it denies only what gavel holds in the channel (Discord refuses an overwrite naming
// a permission the bot lacks there), keeps the rest of an overwrite the channel already has
// (copied from its category), and reports a channel it cannot change (not visible, no
// Manage Permissions, Discord's refusal). It reports whether the overwrite was set; either
// outcome is posted in the audit-log channel.
func (co *Coordinator) DenyJailRole(ctx context.Context, guildID discord.GuildID, channelID discord.ChannelID, channelName string) (bool, error) {
	g, err := co.settings.Get(ctx, guildID)
	if err != nil {
		return false, fmt.Errorf("reading the settings of guild %d: %w", guildID, err)
	}
	if g.JailRoleID == 0 || channelID == g.JailChannelID {
		return false, nil
	}
	failed := func(why string, err error) (bool, error) {
		co.postAuditLog(ctx, guildID, discord.Embed{
			Title: "Jail role not denied on a new channel",
			Description: fmt.Sprintf("<#%d> (%s) was created, but gavel could not deny the jail role <@&%d> there: %s. Jailed members can see it until a moderator denies them View Channel (or runs `config jail setup`).",
				channelID, discord.EscapeMarkdown(channelName), g.JailRoleID, why),
			Color: colorFailed,
		})
		return false, fmt.Errorf("denying the jail role in channel %d: %w", channelID, err)
	}
	var (
		guild discord.Guild
		bot   discord.Member
		ch    discord.Channel
	)
	err = co.exec.Do(ctx, executor.OpRead, func(ctx context.Context) (err error) {
		if guild, err = co.port.Guild(ctx, guildID); err != nil {
			return err
		}
		if bot, err = co.port.Member(ctx, guildID, co.botID); err != nil {
			return err
		}
		// The guild's list, not the channel itself: Discord lists channels gavel cannot
		// see, and refuses to show one of them alone.
		chs, err := co.port.GuildChannels(ctx, guildID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(chs, func(c discord.Channel) bool { return c.ID == channelID })
		if i < 0 {
			return errChannelGone
		}
		ch = chs[i]
		return nil
	})
	switch {
	case errors.Is(err, errChannelGone):
		return false, nil
	case err != nil:
		return failed(failureText(err), err)
	}
	have := guild.ChannelPermissions(bot, ch.Overwrites)
	switch {
	case have&permViewChannel == 0:
		return failed("gavel cannot see it (it needs View Channel there)", errors.New("gavel cannot see the channel"))
	case have&permManageRoles == 0:
		return failed("gavel lacks Manage Permissions there", errors.New("gavel lacks Manage Permissions in the channel"))
	}
	var cur discord.Overwrite
	for _, o := range ch.Overwrites {
		if o.Type == discord.OverwriteRole && discord.RoleID(o.ID) == g.JailRoleID {
			cur = o
		}
	}
	deny := JailOverwrite & have
	ow := discord.Overwrite{ID: int64(g.JailRoleID), Type: discord.OverwriteRole, Allow: cur.Allow &^ deny, Deny: cur.Deny | deny}
	err = co.exec.Do(ctx, executor.OpChannels, func(ctx context.Context) error {
		return co.port.SetChannelOverwrite(ctx, channelID, ow, "Jail role denied on a new channel")
	})
	if err != nil {
		return failed(failureText(err), err)
	}
	what := "may not view it or send messages there"
	if deny&permSendMessages == 0 {
		what = "may not view it (Send Messages was left as it is: gavel does not hold it there)"
	}
	co.postAuditLog(ctx, guildID, discord.Embed{
		Title:       "Jail role denied on a new channel",
		Description: fmt.Sprintf("<#%d> (%s) was created: the jail role <@&%d> %s.", channelID, discord.EscapeMarkdown(channelName), g.JailRoleID, what),
		Color:       colorJailKept,
	})
	return true, nil
}
