// Package lockdown closes channels, or the whole server, to @everyone and opens them again
// exactly as they were (docs/raids.md#lockdown). A lockdown is a record: a LOCKDOWN case made
// through the moderation pipeline, the channels it holds, and a snapshot of every permission
// overwrite it touched, written before anything changes. Unlock puts back only what still
// equals what gavel set, deletes what gavel created, and reports (without touching) whatever
// a person changed meanwhile. A timed lockdown ends by itself through a durable scheduled
// action (expiry.LockdownCheck), which also renews a server lockdown's invite pause.
package lockdown

import (
	"fmt"
	"strings"

	"github.com/gavelbot/gavel/internal/discord"
)

// Discord's permission bits a lockdown denies, and the ones it needs to know about.
const (
	PermAddReactions          uint64 = 1 << 6
	PermSendMessages          uint64 = 1 << 11
	PermConnect               uint64 = 1 << 20
	PermSpeak                 uint64 = 1 << 21
	PermCreatePublicThreads   uint64 = 1 << 35
	PermCreatePrivateThreads  uint64 = 1 << 36
	PermSendMessagesInThreads uint64 = 1 << 38
	PermSendVoiceMessages     uint64 = 1 << 46
	PermSendPolls             uint64 = 1 << 49

	permKickMembers     uint64 = 1 << 1
	permBanMembers      uint64 = 1 << 2
	permAdministrator   uint64 = 1 << 3
	permManageChannels  uint64 = 1 << 4
	permManageGuild     uint64 = 1 << 5
	permViewChannel     uint64 = 1 << 10
	permManageMessages  uint64 = 1 << 13
	permManageRoles     uint64 = 1 << 28
	permModerateMembers uint64 = 1 << 40
)

// TextBits are what a lockdown takes from @everyone in every channel: sending, threads,
// reactions, polls and voice messages.
const TextBits = PermSendMessages | PermSendMessagesInThreads | PermCreatePublicThreads | PermCreatePrivateThreads |
	PermAddReactions | PermSendPolls | PermSendVoiceMessages

// VoiceBits are denied too: in a voice or stage channel nobody new connects and those in it
// can no longer speak. Discord ignores them in a text channel; gavel denies the same bits in
// every channel so that a channel synced with its category stays equal to it.
const VoiceBits = PermConnect | PermSpeak

// Denied is every bit a lockdown denies (those of them gavel itself holds: it can deny only
// permissions it has).
const Denied = TextBits | VoiceBits

// StaffBits mark a moderator: a role or member holding one of them (or a gavel rank) keeps
// the allows its overwrites give during a lockdown, so moderators can still talk.
const StaffBits = permAdministrator | permManageGuild | permManageChannels | permManageRoles | permManageMessages |
	permModerateMembers | permKickMembers | permBanMembers

// Lockable reports whether a lockdown changes a channel of type t: the channels members
// send in (text, announcement, forum, media, and the text chat of voice and stage
// channels) and categories (so the channels synced with them stay synced).
func Lockable(t discord.ChannelType) bool {
	switch t {
	case discord.ChannelGuildText, discord.ChannelGuildVoice, discord.ChannelGuildAnnouncement, discord.ChannelGuildStageVoice,
		discord.ChannelGuildForum, discord.ChannelGuildMedia, discord.ChannelGuildCategory:
		return true
	}
	return false
}

// EveryoneCanView reports whether @everyone sees a channel: its base permissions with the
// @everyone overwrite applied. A channel it cannot see is private and a server lockdown
// leaves it alone.
func EveryoneCanView(g discord.Guild, overwrites []discord.Overwrite) bool {
	var p uint64
	if r, ok := g.Role(g.ID.EveryoneRole()); ok {
		p = r.Permissions
	}
	if p&permAdministrator != 0 {
		return true
	}
	for _, o := range overwrites {
		if o.Type == discord.OverwriteRole && o.ID == int64(g.ID) {
			p = p&^o.Deny | o.Allow
		}
	}
	return p&permViewChannel != 0
}

// Staff tells moderators apart: roles and members whose overwrites a lockdown leaves alone.
type Staff struct {
	Roles   map[discord.RoleID]bool
	Members map[discord.UserID]bool
}

// Change is one overwrite a lockdown sets: as it was (Before, or absent) and as gavel sets
// it (Set).
type Change struct {
	ID           int64
	Type         discord.OverwriteType
	BeforeAbsent bool
	Before       discord.Overwrite
	Set          discord.Overwrite
}

// Noop reports whether setting the change changes nothing on Discord.
func (c Change) Noop() bool { return !c.BeforeAbsent && c.Before == c.Set }

// Plan computes the overwrites that lock a channel: @everyone denied bits (its allows of them
// dropped; created when absent), the allows of bits dropped from the overwrites of roles and
// members who are not staff (Discord applies role and member overwrites after @everyone's,
// so an allow there would give the bits back), and, unless gavel holds every permission, an
// allow of bits for gavel itself (a member overwrite wins over everything), so it still
// answers in the channel and can put the overwrites back. Staff overwrites are not touched.
// The result depends only on the overwrites given, so channels synced with their category
// get the same overwrites as the category and stay synced.
func Plan(guildID discord.GuildID, bot discord.UserID, botAdmin bool, overwrites []discord.Overwrite, bits uint64, staff Staff) []Change {
	var out []Change
	seenEveryone, seenBot := false, false
	for _, o := range overwrites {
		set := o
		switch {
		case o.Type == discord.OverwriteRole && o.ID == int64(guildID):
			seenEveryone = true
			set.Allow &^= bits
			set.Deny |= bits
		case o.Type == discord.OverwriteMember && o.ID == int64(bot):
			seenBot = true
			if botAdmin {
				continue
			}
			set.Allow |= bits
			set.Deny &^= bits
		case o.Type == discord.OverwriteRole:
			if staff.Roles[discord.RoleID(o.ID)] {
				continue
			}
			set.Allow &^= bits
		default:
			if staff.Members[discord.UserID(o.ID)] {
				continue
			}
			set.Allow &^= bits
		}
		if set != o {
			out = append(out, Change{ID: o.ID, Type: o.Type, Before: o, Set: set})
		}
	}
	if !seenEveryone {
		out = append(out, Change{ID: int64(guildID), Type: discord.OverwriteRole, BeforeAbsent: true,
			Set: discord.Overwrite{ID: int64(guildID), Type: discord.OverwriteRole, Deny: bits}})
	}
	if !seenBot && !botAdmin {
		out = append(out, Change{ID: int64(bot), Type: discord.OverwriteMember, BeforeAbsent: true,
			Set: discord.Overwrite{ID: int64(bot), Type: discord.OverwriteMember, Allow: bits}})
	}
	return out
}

// SameOverwrites reports whether two overwrite lists hold the same overwrites in any order:
// what Discord's client calls a channel "synced" with its category.
func SameOverwrites(a, b []discord.Overwrite) bool {
	if len(a) != len(b) {
		return false
	}
	m := make(map[int64]discord.Overwrite, len(a))
	for _, o := range a {
		m[o.ID] = o
	}
	for _, o := range b {
		if m[o.ID] != o {
			return false
		}
	}
	return true
}

// find returns a channel's overwrite for id.
func find(overwrites []discord.Overwrite, id int64) (discord.Overwrite, bool) {
	for _, o := range overwrites {
		if o.ID == id {
			return o, true
		}
	}
	return discord.Overwrite{}, false
}

// bitNames spells the bits of a lockdown's set for people.
var bitNames = []struct {
	bit  uint64
	name string
}{
	{PermSendMessages, "Send Messages"}, {PermSendMessagesInThreads, "Send Messages in Threads"},
	{PermCreatePublicThreads, "Create Public Threads"}, {PermCreatePrivateThreads, "Create Private Threads"},
	{PermAddReactions, "Add Reactions"}, {PermSendPolls, "Create Polls"}, {PermSendVoiceMessages, "Send Voice Messages"},
	{PermConnect, "Connect"}, {PermSpeak, "Speak"},
}

// BitsText names the lockdown bits in p ("none" when there are none).
func BitsText(p uint64) string {
	var names []string
	for _, b := range bitNames {
		if p&b.bit != 0 {
			names = append(names, b.name)
		}
	}
	if rest := p &^ Denied; rest != 0 {
		names = append(names, fmt.Sprintf("other bits %d", rest))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// overwriteText describes an overwrite's value for a report.
func overwriteText(absent bool, allow, deny uint64) string {
	if absent {
		return "absent"
	}
	return fmt.Sprintf("allow %d, deny %d", allow, deny)
}

// targetText names an overwrite's role or member as Discord renders a mention.
func targetText(guildID discord.GuildID, id int64, typ int64) string {
	switch {
	case typ == int64(discord.OverwriteRole) && id == int64(guildID):
		return "@everyone"
	case typ == int64(discord.OverwriteRole):
		return fmt.Sprintf("<@&%d>", id)
	}
	return fmt.Sprintf("<@%d>", id)
}
