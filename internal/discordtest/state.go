package discordtest

import (
	"encoding/json"
	"strconv"
	"time"
)

// Permissions is a Discord permission bit set; on the wire a decimal string.
type Permissions uint64

// MarshalJSON writes the bits as a decimal string.
func (p Permissions) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatUint(uint64(p), 10) + `"`), nil
}

// UnmarshalJSON reads a decimal string or number.
func (p *Permissions) UnmarshalJSON(b []byte) error {
	var id ID
	if err := id.UnmarshalJSON(b); err != nil {
		return err
	}
	*p = Permissions(id)
	return nil
}

// The permission bits gavel's moderation needs, named as in Discord's documentation.
const (
	PermCreateInstantInvite   Permissions = 1 << 0
	PermKickMembers           Permissions = 1 << 1
	PermBanMembers            Permissions = 1 << 2
	PermAdministrator         Permissions = 1 << 3
	PermManageChannels        Permissions = 1 << 4
	PermManageGuild           Permissions = 1 << 5
	PermAddReactions          Permissions = 1 << 6
	PermViewAuditLog          Permissions = 1 << 7
	PermViewChannel           Permissions = 1 << 10
	PermSendMessages          Permissions = 1 << 11
	PermManageMessages        Permissions = 1 << 13
	PermEmbedLinks            Permissions = 1 << 14
	PermReadMessageHistory    Permissions = 1 << 16
	PermMentionEveryone       Permissions = 1 << 17
	PermManageNicknames       Permissions = 1 << 27
	PermManageRoles           Permissions = 1 << 28
	PermManageWebhooks        Permissions = 1 << 29
	PermManageThreads         Permissions = 1 << 34
	PermSendMessagesInThreads Permissions = 1 << 38
	PermModerateMembers       Permissions = 1 << 40
	PermSendPolls             Permissions = 1 << 49
	PermAll                   Permissions = 1<<53 - 1 // every bit Discord defines, up to BYPASS_SLOWMODE (1 << 52)
	PermDefaultEveryone                   = PermViewChannel | PermSendMessages | PermReadMessageHistory | PermAddReactions | PermSendMessagesInThreads | PermEmbedLinks | PermSendPolls
)

// Channel types used by the fake.
const (
	ChannelGuildText          = 0
	ChannelDM                 = 1
	ChannelGuildVoice         = 2
	ChannelGuildCategory      = 4
	ChannelAnnouncementThread = 10
	ChannelPublicThread       = 11
	ChannelPrivateThread      = 12
)

// User is a Discord user.
type User struct {
	ID         ID      `json:"id"`
	Username   string  `json:"username"`
	GlobalName *string `json:"global_name"`
	Bot        bool    `json:"bot,omitempty"`
	Avatar     *string `json:"avatar"`
	// DMsClosed makes the bot's DMs to this user fail with 50007, as when a user blocks
	// DMs from server members or has blocked the bot.
	DMsClosed bool `json:"dms_closed,omitempty"`
}

// Role is a guild role. Position orders the hierarchy: higher is more powerful; @everyone
// (whose id is the guild's) is at position 0.
type Role struct {
	ID          ID          `json:"id"`
	Name        string      `json:"name"`
	Color       int         `json:"color"`
	Hoist       bool        `json:"hoist"`
	Position    int         `json:"position"`
	Permissions Permissions `json:"permissions"`
	Managed     bool        `json:"managed"`
	Mentionable bool        `json:"mentionable"`
}

// Member is a user's membership of a guild.
type Member struct {
	UserID                     ID         `json:"-"`
	Nick                       *string    `json:"nick"`
	Roles                      []ID       `json:"roles"`
	JoinedAt                   time.Time  `json:"joined_at"`
	CommunicationDisabledUntil *time.Time `json:"communication_disabled_until"`
	// Flags are the member flags (MemberFlagDidRejoin, MemberFlagBypassesVerification).
	Flags int `json:"flags"`
}

// Overwrite is a channel permission overwrite for a role (Type 0) or a member (Type 1).
type Overwrite struct {
	ID    ID          `json:"id"`
	Type  int         `json:"type"`
	Allow Permissions `json:"allow"`
	Deny  Permissions `json:"deny"`
}

// Channel is a guild channel, a thread, or a DM channel (GuildID 0).
type Channel struct {
	ID                   ID          `json:"id"`
	Type                 int         `json:"type"`
	GuildID              ID          `json:"guild_id,omitempty"`
	Name                 string      `json:"name,omitempty"`
	Position             int         `json:"position"`
	ParentID             ID          `json:"parent_id,omitempty"`
	Topic                *string     `json:"topic,omitempty"`
	NSFW                 bool        `json:"nsfw"`
	RateLimitPerUser     int         `json:"rate_limit_per_user"`
	PermissionOverwrites []Overwrite `json:"permission_overwrites"`
	// Recipients are the other users of a DM channel.
	Recipients []ID `json:"-"`
	// OwnerID is the user who started a thread.
	OwnerID ID `json:"owner_id,omitempty"`
}

// Message is a message in a channel. Embeds, components and allowed_mentions are kept as
// sent, so a test can assert on exactly what the bot asked Discord to show.
type Message struct {
	ID              ID                `json:"id"`
	ChannelID       ID                `json:"channel_id"`
	GuildID         ID                `json:"guild_id,omitempty"`
	AuthorID        ID                `json:"-"`
	Content         string            `json:"content"`
	Embeds          []json.RawMessage `json:"embeds"`
	Components      []json.RawMessage `json:"components"`
	AllowedMentions json.RawMessage   `json:"-"`
	Flags           int               `json:"flags"`
	Type            int               `json:"type"`
	Timestamp       time.Time         `json:"timestamp"`
	EditedTimestamp *time.Time        `json:"edited_timestamp"`
	WebhookID       ID                `json:"webhook_id,omitempty"`
	// Poll is the message's poll object (Discord's native polls), nil for none.
	Poll json.RawMessage `json:"poll,omitempty"`
	// InteractionID is set on an interaction's responses and follow-ups.
	InteractionID ID   `json:"-"`
	Deleted       bool `json:"-"`
}

// Ban is a guild ban.
type Ban struct {
	UserID ID      `json:"-"`
	Reason *string `json:"reason"`
}

// AutoModRule is an AutoMod rule, stored as Discord returns it.
type AutoModRule struct {
	ID              ID              `json:"id"`
	GuildID         ID              `json:"guild_id"`
	Name            string          `json:"name"`
	CreatorID       ID              `json:"creator_id"`
	EventType       int             `json:"event_type"`
	TriggerType     int             `json:"trigger_type"`
	TriggerMetadata json.RawMessage `json:"trigger_metadata"`
	Actions         json.RawMessage `json:"actions"`
	Enabled         bool            `json:"enabled"`
	ExemptRoles     []ID            `json:"exempt_roles"`
	ExemptChannels  []ID            `json:"exempt_channels"`
}

// Command is a registered application command, global (GuildID 0) or per guild.
type Command struct {
	ID                       ID              `json:"id"`
	ApplicationID            ID              `json:"application_id"`
	GuildID                  ID              `json:"guild_id,omitempty"`
	Name                     string          `json:"name"`
	Description              string          `json:"description"`
	Type                     int             `json:"type"`
	Options                  json.RawMessage `json:"options,omitempty"`
	DefaultMemberPermissions *string         `json:"default_member_permissions"`
	Contexts                 json.RawMessage `json:"contexts,omitempty"`
	NSFW                     bool            `json:"nsfw"`
	Version                  ID              `json:"version"`
	NameLocalizations        json.RawMessage `json:"name_localizations,omitempty"`
	DescriptionLocalizations json.RawMessage `json:"description_localizations,omitempty"`
	IntegrationTypes         json.RawMessage `json:"integration_types,omitempty"`
	DMPermission             *bool           `json:"dm_permission,omitempty"`
}

// AuditLogEntry is one entry of a guild's audit log. Reason is the decoded
// X-Audit-Log-Reason header of the request that caused it.
type AuditLogEntry struct {
	ID         ID              `json:"id"`
	GuildID    ID              `json:"-"`
	ActionType int             `json:"action_type"`
	UserID     ID              `json:"user_id"`
	TargetID   ID              `json:"target_id,omitempty"`
	Reason     string          `json:"reason,omitempty"`
	Changes    json.RawMessage `json:"changes,omitempty"`
	Options    json.RawMessage `json:"options,omitempty"`
}

// Audit-log action types the fake records.
const (
	AuditChannelUpdate       = 11
	AuditOverwriteCreate     = 13
	AuditOverwriteUpdate     = 14
	AuditOverwriteDelete     = 15
	AuditMemberKick          = 20
	AuditMemberBanAdd        = 22
	AuditMemberBanRemove     = 23
	AuditMemberUpdate        = 24
	AuditMemberRoleUpdate    = 25
	AuditMessageDelete       = 72
	AuditMessageBulkDelete   = 73
	AuditAutoModRuleCreate   = 140
	AuditAutoModRuleUpdate   = 141
	AuditAutoModRuleDelete   = 142
	AuditAutoModBlockMessage = 143
)

// Guild is a guild and everything in it.
type Guild struct {
	ID           ID
	Name         string
	OwnerID      ID
	Roles        map[ID]*Role
	Members      map[ID]*Member
	Channels     map[ID]*Channel
	Bans         map[ID]*Ban
	AutoModRules map[ID]*AutoModRule
	Commands     map[ID]*Command
	AuditLog     []*AuditLogEntry
	// VerificationLevel is 0 (none) to 4 (verified phone); Incidents are the paused invites
	// and DMs and Discord's raid signal (incidents.go).
	VerificationLevel int
	Incidents         Incidents
	incidentLog       []IncidentChange
	// wasMember remembers who has ever been a member, for DID_REJOIN.
	wasMember map[ID]bool

	// While auditHeld, the entries actions write wait in heldAudit, unlisted and not
	// announced, until ReleaseAuditLog (Discord writes an entry about when it sends the
	// action's event, sometimes just after).
	auditHeld bool
	heldAudit []*AuditLogEntry

	// NonMemberBans counts the bans of users who were not members when banned, which
	// Discord caps (error 30035, see SetNonMemberBanCap).
	NonMemberBans int
	// nonMemberBanCap overrides DefaultNonMemberBanCap for this guild when set.
	nonMemberBanCap *int
}

func newGuild(id ID, name string, owner ID) *Guild {
	g := &Guild{ID: id, Name: name, OwnerID: owner,
		Roles: map[ID]*Role{}, Members: map[ID]*Member{}, Channels: map[ID]*Channel{}, Bans: map[ID]*Ban{},
		AutoModRules: map[ID]*AutoModRule{}, Commands: map[ID]*Command{}, wasMember: map[ID]bool{}}
	// @everyone shares the guild's id, as on Discord.
	g.Roles[id] = &Role{ID: id, Name: "@everyone", Position: 0, Permissions: PermDefaultEveryone}
	return g
}

// state is everything the fake knows. Server.mu guards it.
type state struct {
	users    map[ID]*User
	guilds   map[ID]*Guild
	channels map[ID]*Channel // every channel, guild or DM, by id
	messages map[ID][]*Message
	// posted is closed and replaced whenever a message is posted in any channel
	// (MessagePosted), so a waiter wakes on the event instead of polling.
	posted chan struct{}
	// changed is closed and replaced whenever a message is posted or edited (MessageChanged).
	changed  chan struct{}
	dms      map[ID]ID // user → DM channel with the bot
	commands map[ID]*Command
}

func newState() *state {
	return &state{users: map[ID]*User{}, guilds: map[ID]*Guild{}, channels: map[ID]*Channel{},
		messages: map[ID][]*Message{}, posted: make(chan struct{}), changed: make(chan struct{}), dms: map[ID]ID{}, commands: map[ID]*Command{}}
}

// postLocked adds a message to its channel and wakes whoever waits on MessagePosted. The
// caller holds s.mu.
func (s *Server) postLocked(m *Message) {
	s.st.messages[m.ChannelID] = append(s.st.messages[m.ChannelID], m)
	close(s.st.posted)
	s.st.posted = make(chan struct{})
	s.messageEditedLocked()
}

// messageEditedLocked wakes whoever waits on MessageChanged. The caller holds s.mu.
func (s *Server) messageEditedLocked() {
	close(s.st.changed)
	s.st.changed = make(chan struct{})
}

// MessageChanged is closed when the next message is posted or edited in any channel (a
// bot's progress message edited to its outcome, say): take it, check what you wait for,
// then wait on it, and nothing changed in between is missed.
func (s *Server) MessageChanged() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.changed
}

// MessagePosted is closed when the next message is posted in any channel: take it, check
// what you wait for, then wait on it, and nothing posted in between is missed.
func (s *Server) MessagePosted() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.posted
}
