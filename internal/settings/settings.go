// Package settings holds each guild's own configuration, the part a guild changes from
// Discord with the config command: the command prefix, the log channels, the jail role and
// channel, and whether actions taken outside gavel are mirrored into cases. Every change is
// recorded, with who made it and the old and new value, in an append-only history.
package settings

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
)

// DefaultPrefix is the prefix of a guild that never set one (Tux's default).
const DefaultPrefix = "$"

// MaxPrefixLength is the longest prefix accepted, in characters.
const MaxPrefixLength = 5

// Guild is one guild's settings. An id of zero means "not set".
type Guild struct {
	GuildID           discord.GuildID
	Prefix            string
	ModlogChannelID   discord.ChannelID
	AuditlogChannelID discord.ChannelID
	JailRoleID        discord.RoleID
	JailChannelID     discord.ChannelID
	// MirrorExternalActions makes bans, kicks and timeouts done by hand in Discord (seen in
	// the audit log) become cases too.
	MirrorExternalActions bool
}

// Defaults returns the settings of a guild that has never been configured.
func Defaults(guildID discord.GuildID) Guild {
	return Guild{GuildID: guildID, Prefix: DefaultPrefix, MirrorExternalActions: true}
}

// Channel names one of the channels a guild can set.
type Channel int

const (
	// ModLog is where case embeds are posted, and edited when their case changes.
	ModLog Channel = iota + 1
	// AuditLog is where gavel reports what happened in the guild outside its own commands.
	AuditLog
	// JailChannel is the one channel a jailed member can still see.
	JailChannel
)

// Channels lists every Channel in a stable order.
func Channels() []Channel { return []Channel{ModLog, AuditLog, JailChannel} }

// Key is the channel's name in the history and in the config command: "modlog_channel",
// "auditlog_channel" or "jail_channel".
func (c Channel) Key() string {
	switch c {
	case ModLog:
		return KeyModlogChannel
	case AuditLog:
		return KeyAuditlogChannel
	case JailChannel:
		return KeyJailChannel
	}
	return fmt.Sprintf("channel(%d)", int(c))
}

// String is the channel's name for people: "mod-log channel", "audit-log channel", "jail channel".
func (c Channel) String() string {
	switch c {
	case ModLog:
		return "mod-log channel"
	case AuditLog:
		return "audit-log channel"
	case JailChannel:
		return "jail channel"
	}
	return fmt.Sprintf("channel(%d)", int(c))
}

func (c Channel) valid() bool { return c >= ModLog && c <= JailChannel }

// ParseChannel accepts a channel's key or a short spelling of it, in any letter case:
// modlog, mod-log, modlog_channel, auditlog, audit-log, auditlog_channel, jail, jail_channel.
func ParseChannel(s string) (Channel, error) {
	k := strings.NewReplacer("-", "", "_", "", " ", "").Replace(strings.ToLower(strings.TrimSpace(s)))
	switch strings.TrimSuffix(k, "channel") {
	case "modlog":
		return ModLog, nil
	case "auditlog":
		return AuditLog, nil
	case "jail":
		return JailChannel, nil
	}
	return 0, input.Invalid("channel", fmt.Sprintf("%q is not a setting; accepted: modlog, auditlog, jail", s))
}

// History keys of the settings this package owns. The permissions package records its
// changes in the same history under "rank N", "role ID" and "command NAME".
const (
	KeyPrefix                = "prefix"
	KeyModlogChannel         = "modlog_channel"
	KeyAuditlogChannel       = "auditlog_channel"
	KeyJailChannel           = "jail_channel"
	KeyJailRole              = "jail_role"
	KeyMirrorExternalActions = "mirror_external_actions"
)

// Event is one row of a guild's configuration history.
type Event struct {
	ID      int64
	GuildID discord.GuildID
	ActorID discord.UserID
	Key     string
	// Old and New are the values before and after, as text; "" means "not set".
	Old string
	New string
	At  time.Time
}

const prefixAccepted = "accepted: 1 to 5 characters, not a single letter or digit, with no spaces, mentions (@, <#), invisible characters or backticks, such as $, ! or ??"

// CheckPrefix reports whether p can be a guild's prefix: 1 to 5 characters, none of them
// whitespace, an invisible control or format character, or a backtick (which would break the code
// formatting gavel uses to show the prefix back). A single letter or digit is refused, since
// ordinary talk starts with one ("a ban is…" would be a command under "a"); so is anything
// that reads as a mention (@here, <@…>, <#…>), which would ping or start every command with
// a ping.
func CheckPrefix(p string) error {
	const accepted = prefixAccepted
	if !utf8.ValidString(p) {
		return input.Invalid("prefix", "is not valid text; "+accepted)
	}
	n := utf8.RuneCountInString(p)
	if n == 0 {
		return input.Invalid("prefix", "is empty; "+accepted)
	}
	if n > MaxPrefixLength {
		return input.Invalid("prefix", fmt.Sprintf("%q is %d characters long; %s", p, n, accepted))
	}
	if r, _ := utf8.DecodeRuneInString(p); n == 1 && (unicode.IsLetter(r) || unicode.IsNumber(r)) {
		return input.Invalid("prefix", fmt.Sprintf("%q is a single letter or digit, which ordinary messages start with; %s", p, accepted))
	}
	if strings.Contains(p, "@") || strings.Contains(p, "<#") {
		return input.Invalid("prefix", fmt.Sprintf("%q reads as a mention; %s", p, accepted))
	}
	for _, r := range p {
		switch {
		case unicode.IsSpace(r):
			return input.Invalid("prefix", fmt.Sprintf("%q contains whitespace; %s", p, accepted))
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return input.Invalid("prefix", fmt.Sprintf("%q contains an invisible character; %s", p, accepted))
		case r == '`':
			return input.Invalid("prefix", fmt.Sprintf("%q contains a backtick; %s", p, accepted))
		}
	}
	return nil
}

func checkID[T discord.Snowflake](field string, id T) error {
	if id <= 0 {
		return input.Invalid(field, fmt.Sprintf("%d is not a Discord id; ids are positive numbers", id))
	}
	return nil
}

// checkOptionalID accepts zero, which clears the setting.
func checkOptionalID[T discord.Snowflake](field string, id T) error {
	if id < 0 {
		return input.Invalid(field, fmt.Sprintf("%d is not a Discord id; accepted: a positive id, or 0 to clear it", id))
	}
	return nil
}
