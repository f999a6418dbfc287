package discord

import (
	"context"
	"encoding/json"
	"time"
)

// Port is every Discord call gavel's services make, in gavel's terms: ids are typed (GuildID, UserID, …;
// see ids.go), permissions uint64, and nothing of the Discord library shows through. The disgo adapter
// (package disgoport) implements it over HTTP; unit tests may use a small in-memory double.
// It is the composition of small interfaces by resource (Bans, Members, Roles, …): a
// service asks for the ones it uses, as disgo's rest package does, so what it may do to
// Discord shows in its type and a test double implements only that.
//
// Every method returns a *Error when Discord answered with an error or did not answer (see
// Error for what Status 0 and 429 mean), so the executor can decide about retries. None of
// them retries by itself. A reason, where taken, is written to the guild's audit log; ""
// writes none.
type Port interface {
	Bans
	Users
	Members
	Roles
	Guilds
	Channels
	Messages
	AutoMod
	AuditLogs
	Commands
	Interactions
}

// Bans is banning: who is banned, banning and lifting bans.
type Bans interface {
	// Ban bans a user (a member or not) and deletes their messages of the last
	// deleteMessageSeconds (0–604800). Banning a banned user succeeds and changes nothing.
	Ban(ctx context.Context, guildID GuildID, userID UserID, deleteMessageSeconds int, reason string) error
	// Unban lifts a ban; a user who is not banned is a 404 with CodeUnknownBan.
	Unban(ctx context.Context, guildID GuildID, userID UserID, reason string) error
	// GetBan reports whether a user is banned, and the ban's reason.
	GetBan(ctx context.Context, guildID GuildID, userID UserID) (ban Ban, banned bool, err error)
	// ListBans returns up to limit bans (1–1000; 0 means 1000) of users whose id is above
	// after, in ascending user id: pass the last id of one page as after for the next.
	ListBans(ctx context.Context, guildID GuildID, after UserID, limit int) ([]Ban, error)
	// BulkBan bans up to MaxBulkBan unique users in one call (POST /guilds/{id}/bulk-ban,
	// which needs both BAN_MEMBERS and MANAGE_GUILD) and deletes their messages of the last
	// deleteMessageSeconds. Who was banned and who was not come back in the result; the bot's
	// own id is in neither. When nobody could be banned Discord answers with an error instead:
	// CodeFailedToBanUsers (500000), or CodeMaxNonMemberBans when the cap on bans of
	// non-members stopped them.
	BulkBan(ctx context.Context, guildID GuildID, userIDs []UserID, deleteMessageSeconds int, reason string) (BulkBanResult, error)
}

// MaxBulkBan is how many users one bulk ban takes.
const MaxBulkBan = 200

// BulkBanResult is what a bulk ban did: the users it banned and those it did not (already
// banned, not bannable by gavel, unknown, or past the non-member cap; Discord does not say
// which).
type BulkBanResult struct {
	Banned []UserID
	Failed []UserID
}

// Users reads Discord users, members of a server gavel is in or not.
type Users interface {
	// User returns a user by id (GET /users/{user.id}, open to bots for any user): the
	// name of someone banned by id, who shares no server with gavel. An id no user has is
	// a 404 with CodeUnknownUser.
	User(ctx context.Context, userID UserID) (User, error)
}

// Members reads guild members and removes or times them out.
type Members interface {
	// Member returns a guild member; a user who is not a member is a 404 with
	// CodeUnknownMember.
	Member(ctx context.Context, guildID GuildID, userID UserID) (Member, error)
	// ListMembers returns up to limit members (1–1000; 0 means 1000) whose user id is above
	// after, in ascending user id (GET /guilds/{id}/members, which needs the GUILD_MEMBERS
	// intent): a mass action reads who is a member, and their roles, a page at a time
	// rather than one call per target.
	ListMembers(ctx context.Context, guildID GuildID, after UserID, limit int) ([]Member, error)
	// Kick removes a member; a user who is not a member is a 404 with CodeUnknownMember.
	Kick(ctx context.Context, guildID GuildID, userID UserID, reason string) error
	// Timeout times a member out until a time (at most 28 days ahead); the zero time lifts
	// the timeout.
	Timeout(ctx context.Context, guildID GuildID, userID UserID, until time.Time, reason string) error
}

// Roles changes a member's roles.
type Roles interface {
	// AddRole gives a member a role; giving one they have changes nothing.
	AddRole(ctx context.Context, guildID GuildID, userID UserID, roleID RoleID, reason string) error
	// RemoveRole takes a role from a member; taking one they lack changes nothing.
	RemoveRole(ctx context.Context, guildID GuildID, userID UserID, roleID RoleID, reason string) error
	// SetRoles replaces a member's roles with roleIDs, in one call (jail and unjail).
	SetRoles(ctx context.Context, guildID GuildID, userID UserID, roleIDs []RoleID, reason string) error
}

// Guilds reads a guild: its owner and roles.
type Guilds interface {
	// Guild returns a guild's owner and roles.
	Guild(ctx context.Context, guildID GuildID) (Guild, error)
}

// Channels reads channels and changes their permissions and slowmode.
type Channels interface {
	// Channel returns a channel: a guild channel, a thread or a DM.
	Channel(ctx context.Context, channelID ChannelID) (Channel, error)
	// GuildChannels returns a guild's channels, threads excluded.
	GuildChannels(ctx context.Context, guildID GuildID) ([]Channel, error)
	// SetChannelOverwrite creates or replaces a channel's permission overwrite for a role or
	// a member (lockdown, per-channel bans).
	SetChannelOverwrite(ctx context.Context, channelID ChannelID, ow Overwrite, reason string) error
	// DeleteChannelOverwrite removes a channel's overwrite for a role or a member (unlock
	// removing one gavel created); deleting one the channel lacks changes nothing.
	DeleteChannelOverwrite(ctx context.Context, channelID ChannelID, overwriteID int64, reason string) error
	// SetSlowmode sets a channel's rate_limit_per_user in seconds (0–21600; 0 turns it off).
	SetSlowmode(ctx context.Context, channelID ChannelID, seconds int, reason string) error
}

// Messages sends, edits, reads and deletes messages, DMs included.
type Messages interface {
	// SendDM opens the bot's DM channel with a user and sends msg there. A user who accepts
	// no DMs from the bot is a 403 with CodeCannotDMUser.
	SendDM(ctx context.Context, userID UserID, msg Message) (MessageRef, error)
	// SendMessage posts msg in a channel and returns the new message's id.
	SendMessage(ctx context.Context, channelID ChannelID, msg Message) (MessageID, error)
	// EditMessage replaces one of the bot's messages with msg: content, embeds and
	// components all become msg's (a nil Components removes the message's components).
	EditMessage(ctx context.Context, channelID ChannelID, messageID MessageID, msg Message) error
	// DeleteMessage deletes a message.
	DeleteMessage(ctx context.Context, channelID ChannelID, messageID MessageID, reason string) error
	// BulkDelete deletes messages younger than two weeks, in as few calls as Discord allows
	// (100 per call; a single id is deleted on its own). Duplicate ids are dropped. On an
	// error, the calls made before it have deleted their messages.
	BulkDelete(ctx context.Context, channelID ChannelID, messageIDs []MessageID, reason string) error
	// ListMessages returns a channel's messages, newest first; see MessageQuery.
	ListMessages(ctx context.Context, channelID ChannelID, q MessageQuery) ([]ChannelMessage, error)
}

// AutoMod reads and changes a guild's AutoMod rules.
type AutoMod interface {
	// AutoModRules lists a guild's AutoMod rules, each as the JSON object Discord returns.
	AutoModRules(ctx context.Context, guildID GuildID) ([]json.RawMessage, error)
	// AutoModRule returns one rule as Discord's JSON object.
	AutoModRule(ctx context.Context, guildID GuildID, ruleID int64) (json.RawMessage, error)
	// CreateAutoModRule creates a rule from Discord's JSON body and returns the rule Discord
	// stored.
	CreateAutoModRule(ctx context.Context, guildID GuildID, rule json.RawMessage, reason string) (json.RawMessage, error)
	// ModifyAutoModRule changes the fields present in patch (Discord's JSON body) and returns
	// the rule as changed.
	ModifyAutoModRule(ctx context.Context, guildID GuildID, ruleID int64, patch json.RawMessage, reason string) (json.RawMessage, error)
	// DeleteAutoModRule deletes a rule.
	DeleteAutoModRule(ctx context.Context, guildID GuildID, ruleID int64, reason string) error
}

// AuditLogs reads a guild's audit log.
type AuditLogs interface {
	// AuditLog returns a guild's audit-log entries that match f, newest first unless
	// f.After is set (then oldest first, as Discord pages forward).
	AuditLog(ctx context.Context, guildID GuildID, f AuditLogFilter) ([]AuditLogEntry, error)
}

// Commands registers the application's commands.
type Commands interface {
	// RegisterCommands replaces the application's commands in a guild (guildID 0: the global
	// ones) with commands, a JSON array of Discord's application command objects, and
	// returns what Discord registered.
	RegisterCommands(ctx context.Context, guildID GuildID, commands json.RawMessage) ([]RegisteredCommand, error)
}

// Interactions answers interactions.
type Interactions interface {
	// Respond answers an interaction (within 3 seconds of its creation).
	Respond(ctx context.Context, interactionID int64, token string, r Response) error
	// EditOriginal replaces the interaction's original response with msg (fills in a
	// deferred one). Flags cannot change an existing response's visibility.
	EditOriginal(ctx context.Context, token string, msg Message) error
	// Followup sends another message for an interaction and returns its id.
	Followup(ctx context.Context, token string, msg Message) (MessageID, error)
}

// Message is what the bot says: in a channel, a DM or an interaction response.
type Message struct {
	Content string
	Embeds  []Embed
	// Components is a JSON array of Discord's component objects, sent as is; nil for none.
	Components json.RawMessage
	// AllowedMentions says who the message may ping. Nil pings nobody: every message gavel
	// sends carries an explicit allowed_mentions that parses no mention from the text, so a
	// reason such as "@everyone <@123>" shows but notifies no one.
	AllowedMentions *AllowedMentions
	Flags           MessageFlags
}

// MessageFlags are the flags a bot may set on a message.
type MessageFlags int

// The flags gavel uses.
const (
	FlagSuppressEmbeds        MessageFlags = 1 << 2
	FlagEphemeral             MessageFlags = 1 << 6 // interaction responses only
	FlagSuppressNotifications MessageFlags = 1 << 12
)

// AllowedMentions widens, on purpose, who a message may ping. Mentions are never parsed
// from the text (Discord's "parse" is always empty), so only the ids listed here ping.
type AllowedMentions struct {
	Users []UserID
	Roles []RoleID
	// RepliedUser pings the author of the message replied to.
	RepliedUser bool
}

// Embed is a rich embed. Zero fields are left out.
type Embed struct {
	Title       string
	Description string
	URL         string
	Color       int
	Fields      []EmbedField
	Footer      *EmbedFooter
	Timestamp   time.Time
	Author      *EmbedAuthor
	// Thumbnail is the thumbnail image's URL.
	Thumbnail string
}

// EmbedField is one name/value pair of an embed.
type EmbedField struct {
	Name   string
	Value  string
	Inline bool
}

// EmbedFooter is an embed's footer.
type EmbedFooter struct {
	Text    string
	IconURL string
}

// EmbedAuthor is an embed's author line.
type EmbedAuthor struct {
	Name    string
	URL     string
	IconURL string
}

// MessageRef names a message the bot sent.
type MessageRef struct {
	ChannelID ChannelID
	MessageID MessageID
}

// User is a Discord user.
type User struct {
	ID       UserID
	Username string
	// GlobalName is the display name; "" when the user has none.
	GlobalName string
	Bot        bool
}

// DisplayName is the name Discord shows: the global name, else the username.
func (u User) DisplayName() string {
	if u.GlobalName != "" {
		return u.GlobalName
	}
	return u.Username
}

// Member is a user's membership of a guild.
type Member struct {
	User User
	// Nick is the guild nickname; "" when none.
	Nick     string
	Roles    []RoleID
	JoinedAt time.Time
	// CommunicationDisabledUntil is when the member's timeout ends; zero when none was set.
	// A time in the past means the timeout has run out.
	CommunicationDisabledUntil time.Time
}

// MemberOf is the member a member object describes, from its fields as Discord's JSON gives
// them: a field left out or null (nick, joined_at, communication_disabled_until) is zero,
// and times are in UTC. The REST port, the gateway's mentions and a slash command's
// resolved members all read members this way.
func MemberOf(user User, roles []RoleID, nick *string, joinedAt, disabledUntil *time.Time) Member {
	m := Member{User: user, Roles: roles}
	if nick != nil {
		m.Nick = *nick
	}
	if joinedAt != nil {
		m.JoinedAt = joinedAt.UTC()
	}
	if disabledUntil != nil {
		m.CommunicationDisabledUntil = disabledUntil.UTC()
	}
	return m
}

// TimedOut reports whether the member is timed out at now.
func (m Member) TimedOut(now time.Time) bool { return m.CommunicationDisabledUntil.After(now) }

// Guild is what moderation needs of a guild: its owner and its role hierarchy.
type Guild struct {
	ID      GuildID
	Name    string
	OwnerID UserID
	// Roles includes @everyone, whose id is the guild's.
	Roles []Role
}

// AllPermissions is every permission bit: what the owner and administrators hold.
const AllPermissions uint64 = 1<<53 - 1

// permAdministrator is Discord's Administrator bit, which grants every permission.
const permAdministrator = 1 << 3

// permViewChannel is Discord's View Channel bit: without it nothing in a channel is usable.
const permViewChannel = 1 << 10

// MemberPermissions computes a member's guild-wide permissions as Discord does: the owner
// and administrators hold AllPermissions; anyone else @everyone's and their roles' together.
// Channel overwrites come on top of these.
func (g Guild) MemberPermissions(userID UserID, roleIDs []RoleID) uint64 {
	if userID == g.OwnerID {
		return AllPermissions
	}
	var p uint64
	if everyone, ok := g.Role(g.ID.EveryoneRole()); ok {
		p |= everyone.Permissions
	}
	for _, id := range roleIDs {
		if r, ok := g.Role(id); ok {
			p |= r.Permissions
		}
	}
	if p&permAdministrator != 0 {
		return AllPermissions
	}
	return p
}

// ChannelPermissions computes a member's permissions in a channel as Discord does: the
// guild's (the owner and administrators have all), then the @everyone overwrite, the role
// overwrites (denies, then allows), then the member's own. overwrites are the channel's, or
// its parent's for a thread. Without View Channel nothing in the channel is usable.
func (g Guild) ChannelPermissions(m Member, overwrites []Overwrite) uint64 {
	p := g.MemberPermissions(m.User.ID, m.Roles)
	if p == AllPermissions {
		return p
	}
	find := func(id int64, typ OverwriteType) (Overwrite, bool) {
		for _, o := range overwrites {
			if o.ID == id && o.Type == typ {
				return o, true
			}
		}
		return Overwrite{}, false
	}
	if o, ok := find(int64(g.ID), OverwriteRole); ok {
		p = p&^o.Deny | o.Allow
	}
	var allow, deny uint64
	for _, id := range m.Roles {
		if o, ok := find(int64(id), OverwriteRole); ok {
			allow |= o.Allow
			deny |= o.Deny
		}
	}
	p = p&^deny | allow
	if o, ok := find(int64(m.User.ID), OverwriteMember); ok {
		p = p&^o.Deny | o.Allow
	}
	if p&permViewChannel == 0 {
		return 0
	}
	return p
}

// Role returns the guild's role with an id.
func (g Guild) Role(id RoleID) (Role, bool) {
	for _, r := range g.Roles {
		if r.ID == id {
			return r, true
		}
	}
	return Role{}, false
}

// Role is a guild role. Higher Position is higher in the hierarchy; ties are broken by
// the lower id, as Discord does.
type Role struct {
	ID          RoleID
	Name        string
	Position    int
	Permissions uint64
	// Managed roles belong to an integration (a bot's own role, boosters) and cannot be
	// given or taken.
	Managed bool
	Color   int
}

// ChannelType is Discord's channel type number.
type ChannelType int

// The channel types gavel tells apart.
const (
	ChannelGuildText          ChannelType = 0
	ChannelDM                 ChannelType = 1
	ChannelGuildVoice         ChannelType = 2
	ChannelGuildCategory      ChannelType = 4
	ChannelGuildAnnouncement  ChannelType = 5
	ChannelAnnouncementThread ChannelType = 10
	ChannelPublicThread       ChannelType = 11
	ChannelPrivateThread      ChannelType = 12
	ChannelGuildStageVoice    ChannelType = 13
	ChannelGuildForum         ChannelType = 15
	ChannelGuildMedia         ChannelType = 16
)

// Channel is a guild channel, a thread or a DM (GuildID 0).
type Channel struct {
	ID       ChannelID
	GuildID  GuildID
	Type     ChannelType
	Name     string
	ParentID ChannelID
	Position int
	// RateLimitPerUser is the slowmode in seconds.
	RateLimitPerUser int
	Overwrites       []Overwrite
}

// OverwriteType says whether an overwrite is for a role or a member.
type OverwriteType int

// Overwrite types.
const (
	OverwriteRole   OverwriteType = 0
	OverwriteMember OverwriteType = 1
)

// Overwrite is a channel permission overwrite.
type Overwrite struct {
	// ID is the role's or the member's.
	ID    int64
	Type  OverwriteType
	Allow uint64
	Deny  uint64
}

// Ban is a guild ban.
type Ban struct {
	User User
	// Reason is "" when none was given.
	Reason string
}

// MessageQuery picks the messages ListMessages returns: at most Limit (1–100; 0 means 50)
// before the message Before, or else after the message After, or else the newest.
type MessageQuery struct {
	Before MessageID
	After  MessageID
	Limit  int
}

// ChannelMessage is a message read from a channel.
type ChannelMessage struct {
	ID        MessageID
	ChannelID ChannelID
	Author    User
	Content   string
	Timestamp time.Time
}

// AuditLogFilter picks audit-log entries. Zero fields filter nothing. Limit is 1–100 (0
// means 50).
type AuditLogFilter struct {
	UserID UserID
	// TargetID is the target's id: a user's for the member actions, a rule's for AutoMod's.
	TargetID   int64
	ActionType int
	Before     int64
	After      int64
	Limit      int
}

// Audit-log action types gavel reads.
const (
	AuditMemberKick       = 20
	AuditMemberBanAdd     = 22
	AuditMemberBanRemove  = 23
	AuditMemberUpdate     = 24
	AuditMemberRoleUpdate = 25
)

// AuditLogEntry is one audit-log entry. Changes and Options are Discord's JSON as sent.
type AuditLogEntry struct {
	ID         int64
	ActionType int
	// UserID is who acted; 0 when Discord does not say.
	UserID UserID
	// TargetID is the target's id: a user's for the member actions, a rule's for AutoMod's.
	TargetID int64
	Reason   string
	Changes  json.RawMessage
	Options  json.RawMessage
}

// RegisteredCommand is an application command as Discord registered it.
type RegisteredCommand struct {
	ID   int64
	Name string
	Type int
}

// ResponseType is how an interaction is answered.
type ResponseType int

// Interaction response types (Discord's callback types).
const (
	// RespondMessage shows Response.Message.
	RespondMessage ResponseType = 4
	// RespondDeferred shows "thinking…" until EditOriginal fills it in; only
	// Response.Message.Flags (FlagEphemeral) is read.
	RespondDeferred ResponseType = 5
	// RespondDeferredUpdate acknowledges a component interaction and changes nothing yet.
	RespondDeferredUpdate ResponseType = 6
	// RespondUpdate replaces the message whose component was used with Response.Message.
	RespondUpdate ResponseType = 7
	// RespondAutocomplete answers an autocomplete interaction with Response.Choices.
	RespondAutocomplete ResponseType = 8
)

// MaxChoices is how many suggestions an autocomplete answer may hold.
const MaxChoices = 25

// Choice is one suggestion of an autocomplete answer: the name shown and the value filled in.
type Choice struct {
	Name  string
	Value string
}

// Response answers an interaction.
type Response struct {
	Type    ResponseType
	Message Message
	// Choices are RespondAutocomplete's suggestions (at most MaxChoices).
	Choices []Choice
}

// discordEpoch is the first millisecond of 2015, where snowflake timestamps start.
const discordEpoch = 1420070400000

// SnowflakeTime returns when the object with a snowflake id was created.
func SnowflakeTime[T Snowflake](id T) time.Time {
	return time.UnixMilli(int64(id)>>22 + discordEpoch).UTC()
}

// SnowflakeAt returns the smallest snowflake created at t, for before/after bounds by time.
func SnowflakeAt(t time.Time) int64 {
	ms := t.UnixMilli() - discordEpoch
	if ms < 0 {
		return 0
	}
	return ms << 22
}
