package discordtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// User actions: what a test does as a person on Discord. Each changes the state and
// dispatches the event Discord would, under Server.mu, so the event and the state it
// describes can never be seen apart. Ids that do not exist panic: they are bugs in the test.

// OpenDM returns the id of the DM channel between the bot and user, creating it, as the
// user's client does before they message the bot.
func (s *Server) OpenDM(user ID) ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.users[user]; !ok {
		panic(fmt.Sprintf("discordtest: OpenDM: unknown user %s", user))
	}
	return s.dmChannelForActionLocked(user, 0).ID
}

// SendMessage is author posting content in a guild channel or in their DM with the bot
// (OpenDM). It dispatches MESSAGE_CREATE (GUILD_MESSAGES, or DIRECT_MESSAGES in a DM),
// with guild_id and the author's member in a guild. It panics where Discord's client would
// refuse; TrySendMessage returns that error instead.
func (s *Server) SendMessage(channel, author ID, content string) Message {
	m, err := s.TrySendMessage(channel, author, content)
	if err != nil {
		panic(fmt.Sprintf("discordtest: SendMessage: %v", err))
	}
	return m
}

// TrySendMessage is SendMessage returning Discord's error when the author may not post: not
// a member (50001), no VIEW_CHANNEL or SEND_MESSAGES, or timed out (50013), an empty
// message (50006).
func (s *Server) TrySendMessage(channel, author ID, content string) (Message, error) {
	return s.trySend(channel, author, content, nil)
}

// SendPoll is author posting a message with a poll (Discord's native polls: a question and
// its answers, open for a day) in a guild channel, as Discord's client does: it needs Send
// Polls there besides what SendMessage needs. It dispatches MESSAGE_CREATE with the poll
// object, and panics where Discord would refuse; TrySendPoll returns that error instead.
func (s *Server) SendPoll(channel, author ID, question string, answers ...string) Message {
	m, err := s.TrySendPoll(channel, author, question, answers...)
	if err != nil {
		panic(fmt.Sprintf("discordtest: SendPoll: %v", err))
	}
	return m
}

// TrySendPoll is SendPoll returning Discord's error: those of TrySendMessage, and a missing
// Send Polls permission (50013).
func (s *Server) TrySendPoll(channel, author ID, question string, answers ...string) (Message, error) {
	type media struct {
		Text string `json:"text"`
	}
	type answer struct {
		AnswerID int   `json:"answer_id"`
		Media    media `json:"poll_media"`
	}
	poll := struct {
		Question         media     `json:"question"`
		Answers          []answer  `json:"answers"`
		Expiry           time.Time `json:"expiry"`
		AllowMultiselect bool      `json:"allow_multiselect"`
		LayoutType       int       `json:"layout_type"`
	}{Question: media{question}, Expiry: s.now().Add(24 * time.Hour).UTC(), LayoutType: 1}
	for i, a := range answers {
		poll.Answers = append(poll.Answers, answer{AnswerID: i + 1, Media: media{a}})
	}
	raw, err := json.Marshal(poll)
	if err != nil {
		return Message{}, fmt.Errorf("discordtest: poll: %w", err)
	}
	return s.trySend(channel, author, "", raw)
}

// trySend posts content, with a poll when poll is not nil (a poll makes an empty content
// acceptable, as in Discord).
func (s *Server) trySend(channel, author ID, content string, poll json.RawMessage) (Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.users[author]; !ok {
		panic(fmt.Sprintf("discordtest: unknown user %s", author))
	}
	c := s.st.channels[channel]
	if c == nil {
		panic(fmt.Sprintf("discordtest: unknown channel %s", channel))
	}
	if content == "" && poll == nil {
		return Message{}, errEmptyMessage
	}
	var g *Guild
	if c.Type == ChannelDM {
		s.dmChannelForActionLocked(author, channel) // panics unless author is the recipient
	} else {
		g = s.st.guilds[c.GuildID]
		if g == nil || g.Members[author] == nil {
			return Message{}, errMissingAccess
		}
		need := PermViewChannel | PermSendMessages
		if isThread(c) {
			need = PermViewChannel | PermSendMessagesInThreads
		}
		if poll != nil {
			need |= PermSendPolls
		}
		if channelPermissions(g, c, author, s.now())&need != need {
			return Message{}, errMissingPermission
		}
	}
	m := &Message{ID: s.newID(), ChannelID: c.ID, GuildID: c.GuildID, AuthorID: author, Content: content, Timestamp: s.now().UTC(), Poll: poll}
	s.postLocked(m)

	d := s.messageJSON(m)
	d["channel_type"] = c.Type
	users, roles, everyone := parseMentions(content)
	mentions := []map[string]any{}
	for _, id := range users {
		if _, ok := s.st.users[id]; !ok {
			continue
		}
		u := s.userJSON(id)
		if g != nil && g.Members[id] != nil {
			u["member"] = partialMemberJSON(s.memberJSON(g.Members[id]))
		}
		mentions = append(mentions, u)
	}
	d["mentions"] = mentions
	intent := IntentDirectMessages
	if g != nil {
		intent = IntentGuildMessages
		mentionRoles := []ID{}
		for _, id := range roles {
			if g.Roles[id] != nil {
				mentionRoles = append(mentionRoles, id)
			}
		}
		d["mention_roles"] = mentionRoles
		d["mention_everyone"] = everyone && channelPermissions(g, c, author, s.now())&PermMentionEveryone != 0
		d["guild_id"] = g.ID
		d["member"] = partialMemberJSON(s.memberJSON(g.Members[author]))
	}
	s.dispatch(c.GuildID, "MESSAGE_CREATE", intent, d)
	return copyMessage(m), nil
}

var (
	userMention = regexp.MustCompile(`<@!?(\d+)>`)
	roleMention = regexp.MustCompile(`<@&(\d+)>`)
)

// parseMentions reads the user and role mentions in content, in order and without repeats,
// and whether it mentions @everyone or @here.
func parseMentions(content string) (users, roles []ID, everyone bool) {
	seen := map[ID]bool{}
	for _, m := range userMention.FindAllStringSubmatch(content, -1) {
		if id, ok := ParseID(m[1]); ok && !seen[id] {
			seen[id] = true
			users = append(users, id)
		}
	}
	for _, m := range roleMention.FindAllStringSubmatch(content, -1) {
		if id, ok := ParseID(m[1]); ok && !seen[id] {
			seen[id] = true
			roles = append(roles, id)
		}
	}
	return users, roles, strings.Contains(content, "@everyone") || strings.Contains(content, "@here")
}

// Application command option types (application-commands.mdx).
const (
	OptionSubCommand      = 1
	OptionSubCommandGroup = 2
	OptionString          = 3
	OptionInteger         = 4
	OptionBoolean         = 5
	OptionUser            = 6
	OptionChannel         = 7
	OptionRole            = 8
	OptionMentionable     = 9
	OptionNumber          = 10
)

// CommandOption is an option a user filled in a slash command: a value, or a subcommand
// (group) with options of its own.
type CommandOption struct {
	Name    string
	Type    int
	Value   any
	Options []CommandOption
	// Focused marks the option being typed, for Autocomplete.
	Focused bool
}

// StringOpt is a STRING option.
func StringOpt(name, v string) CommandOption {
	return CommandOption{Name: name, Type: OptionString, Value: v}
}

// IntOpt is an INTEGER option.
func IntOpt(name string, v int) CommandOption {
	return CommandOption{Name: name, Type: OptionInteger, Value: v}
}

// NumberOpt is a NUMBER option.
func NumberOpt(name string, v float64) CommandOption {
	return CommandOption{Name: name, Type: OptionNumber, Value: v}
}

// BoolOpt is a BOOLEAN option.
func BoolOpt(name string, v bool) CommandOption {
	return CommandOption{Name: name, Type: OptionBoolean, Value: v}
}

// UserOpt is a USER option; the interaction's data.resolved carries the user and, in a
// guild they belong to, their member.
func UserOpt(name string, id ID) CommandOption {
	return CommandOption{Name: name, Type: OptionUser, Value: id}
}

// ChannelOpt is a CHANNEL option, resolved in data.resolved.channels.
func ChannelOpt(name string, id ID) CommandOption {
	return CommandOption{Name: name, Type: OptionChannel, Value: id}
}

// RoleOpt is a ROLE option, resolved in data.resolved.roles.
func RoleOpt(name string, id ID) CommandOption {
	return CommandOption{Name: name, Type: OptionRole, Value: id}
}

// SubCommand is a SUB_COMMAND with its options.
func SubCommand(name string, opts ...CommandOption) CommandOption {
	return CommandOption{Name: name, Type: OptionSubCommand, Options: opts}
}

// SubCommandGroup is a SUB_COMMAND_GROUP holding one subcommand.
func SubCommandGroup(name string, sub CommandOption) CommandOption {
	return CommandOption{Name: name, Type: OptionSubCommandGroup, Options: []CommandOption{sub}}
}

// Focused marks an option as the one being typed (Autocomplete).
func Focused(o CommandOption) CommandOption {
	o.Focused = true
	return o
}

// SlashCommand is user running the chat command name in a guild channel (guild 0 and
// channel 0 or their DM channel: in a DM). It dispatches INTERACTION_CREATE of type 2 with
// data {id, name, type 1, options, resolved}; data.id is the registered command's id (guild
// commands first, then global), or a fresh id when no command of that name is registered:
// the fake does not refuse unregistered commands, nor check default_member_permissions.
func (s *Server) SlashCommand(guild, channel, user ID, name string, options ...CommandOption) *Interaction {
	return s.command(InteractionApplicationCommand, guild, channel, user, name, options)
}

// Autocomplete is user typing in an option of a command that has autocomplete: an
// INTERACTION_CREATE of type 4; mark the option being typed with Focused.
func (s *Server) Autocomplete(guild, channel, user ID, name string, options ...CommandOption) *Interaction {
	return s.command(InteractionAutocomplete, guild, channel, user, name, options)
}

func (s *Server) command(typ int, guild, channel, user ID, name string, options []CommandOption) *Interaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	data := map[string]any{"name": name, "type": 1}
	var cmd *Command
	if g := s.st.guilds[guild]; g != nil {
		cmd = findCommand(g.Commands, name)
	}
	if cmd == nil {
		cmd = findCommand(s.st.commands, name)
	}
	if cmd != nil {
		data["id"] = cmd.ID
		if cmd.GuildID != 0 {
			data["guild_id"] = cmd.GuildID
		}
	} else {
		data["id"] = s.newID()
	}
	res := resolved{s: s, users: map[ID]any{}, members: map[ID]any{}, channels: map[ID]any{}, roles: map[ID]any{}}
	if guild != 0 {
		res.g = s.mustGuild(guild)
	}
	if len(options) > 0 {
		data["options"] = res.options(options)
	}
	if r := res.json(); r != nil {
		data["resolved"] = r
	}
	return s.newInteractionLocked(typ, guild, channel, user, data, nil).pub
}

func findCommand(cmds map[ID]*Command, name string) *Command {
	var found *Command
	for _, c := range cmds {
		if c.Name == name && (c.Type == 0 || c.Type == 1) && (found == nil || c.ID < found.ID) {
			found = c
		}
	}
	return found
}

// resolved renders options and collects the users, members, channels and roles they name.
type resolved struct {
	s                               *Server
	g                               *Guild
	users, members, channels, roles map[ID]any
}

func (r *resolved) options(opts []CommandOption) []map[string]any {
	out := make([]map[string]any, 0, len(opts))
	for _, o := range opts {
		m := map[string]any{"name": o.Name, "type": o.Type}
		if o.Type == OptionSubCommand || o.Type == OptionSubCommandGroup {
			m["options"] = r.options(o.Options)
		} else {
			m["value"] = o.Value
			r.resolve(o)
		}
		if o.Focused {
			m["focused"] = true
		}
		out = append(out, m)
	}
	return out
}

func (r *resolved) resolve(o CommandOption) {
	id, ok := o.Value.(ID)
	if !ok {
		return
	}
	s := r.s
	if o.Type == OptionUser || o.Type == OptionMentionable {
		if _, known := s.st.users[id]; known {
			r.users[id] = s.userJSON(id)
			if r.g != nil && r.g.Members[id] != nil {
				// A resolved member lacks user, deaf and mute (receiving-and-responding.mdx,
				// the spec's BasicGuildMemberResponse).
				pm := partialMemberJSON(s.memberJSON(r.g.Members[id]))
				delete(pm, "deaf")
				delete(pm, "mute")
				pm["permissions"] = basePermissions(r.g, id, s.now())
				r.members[id] = pm
			}
			return
		}
	}
	if (o.Type == OptionRole || o.Type == OptionMentionable) && r.g != nil {
		if role := r.g.Roles[id]; role != nil {
			r.roles[id] = roleJSON(role)
		}
	}
	if o.Type == OptionChannel {
		if c := s.st.channels[id]; c != nil {
			ch := map[string]any{"id": c.ID, "type": c.Type, "name": c.Name, "permissions": Permissions(0), "flags": 0}
			if c.ParentID != 0 {
				ch["parent_id"] = c.ParentID
			}
			if r.g != nil && c.GuildID == r.g.ID {
				ch["guild_id"] = c.GuildID
			}
			r.channels[id] = ch
		}
	}
}

func (r *resolved) json() map[string]any {
	out := map[string]any{}
	for name, m := range map[string]map[ID]any{"users": r.users, "members": r.members, "channels": r.channels, "roles": r.roles} {
		if len(m) > 0 {
			keyed := map[string]any{}
			for id, v := range m {
				keyed[id.String()] = v
			}
			out[name] = keyed
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// UserJoins is user joining guild: the member is added (kept as is if already one) and
// GUILD_MEMBER_ADD is dispatched (GUILD_MEMBERS). A banned user cannot join: the error is
// Discord's 40007 and nothing changes.
func (s *Server) UserJoins(guild, user ID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	if _, ok := s.st.users[user]; !ok {
		panic(fmt.Sprintf("discordtest: UserJoins: unknown user %s", user))
	}
	if _, banned := g.Bans[user]; banned {
		return &apiError{Status: http.StatusForbidden, Message: "The user is banned from this guild.", Code: 40007}
	}
	m := g.Members[user]
	if m == nil {
		m = &Member{UserID: user, Roles: []ID{}, JoinedAt: s.now().UTC()}
		if g.wasMember[user] {
			m.Flags |= MemberFlagDidRejoin
		}
		g.Members[user] = m
		g.wasMember[user] = true
	}
	d := s.memberJSON(m)
	d["guild_id"] = g.ID
	s.dispatch(g.ID, "GUILD_MEMBER_ADD", IntentGuildMembers, d)
	return nil
}

// UserLeaves is user leaving guild: the member is removed and GUILD_MEMBER_REMOVE is
// dispatched (GUILD_MEMBERS). Nothing happens if user is not a member; the owner cannot
// leave (panics).
func (s *Server) UserLeaves(guild, user ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	if _, ok := g.Members[user]; !ok {
		return
	}
	if user == g.OwnerID {
		panic(fmt.Sprintf("discordtest: UserLeaves: %s owns guild %s and cannot leave it", user, guild))
	}
	delete(g.Members, user)
	s.dispatch(g.ID, "GUILD_MEMBER_REMOVE", IntentGuildMembers, map[string]any{"guild_id": g.ID, "user": s.userJSON(user)})
}

// AutoModExecution is an AutoMod rule firing (gateway-events.mdx "Auto Moderation Action
// Execution"). Ids left 0 are omitted (message_id is absent when the message was blocked,
// alert_system_message_id unless the action is SEND_ALERT_MESSAGE).
type AutoModExecution struct {
	GuildID              ID
	Action               AutoModAction
	RuleID               ID
	RuleTriggerType      int // 0: taken from the stored rule RuleID names
	UserID               ID
	ChannelID            ID
	MessageID            ID
	AlertSystemMessageID ID
	Content              string
	MatchedKeyword       *string
	MatchedContent       *string
}

// AutoModAction is the action an AutoMod execution carried out: type 1 BLOCK_MESSAGE,
// 2 SEND_ALERT_MESSAGE, 3 TIMEOUT, 4 BLOCK_MEMBER_INTERACTION, with its metadata
// (channel_id, duration_seconds, custom_message).
type AutoModAction struct {
	Type     int            `json:"type"`
	Metadata map[string]any `json:"metadata"`
}

// AutoModExecution dispatches AUTO_MODERATION_ACTION_EXECUTION (AUTO_MODERATION_EXECUTION)
// with Discord's field names, matched_keyword included. Sessions without MESSAGE_CONTENT get
// content and matched_content empty. As on Discord, the event goes only to a bot with
// MANAGE_GUILD in the guild: without it nothing is sent.
func (s *Server) AutoModExecution(exec AutoModExecution) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(exec.GuildID)
	if exec.RuleTriggerType == 0 {
		if r := g.AutoModRules[exec.RuleID]; r != nil {
			exec.RuleTriggerType = r.TriggerType
		}
	}
	if basePermissions(g, s.botID, s.now())&PermManageGuild == 0 {
		return
	}
	meta := exec.Action.Metadata
	if meta == nil {
		meta = map[string]any{}
	}
	d := map[string]any{
		"guild_id":          g.ID,
		"action":            map[string]any{"type": exec.Action.Type, "metadata": meta},
		"rule_id":           exec.RuleID,
		"rule_trigger_type": exec.RuleTriggerType,
		"user_id":           exec.UserID,
		"content":           exec.Content,
		"matched_keyword":   exec.MatchedKeyword,
		"matched_content":   exec.MatchedContent,
	}
	for k, id := range map[string]ID{"channel_id": exec.ChannelID, "message_id": exec.MessageID, "alert_system_message_id": exec.AlertSystemMessageID} {
		if id != 0 {
			d[k] = id
		}
	}
	s.dispatch(g.ID, "AUTO_MODERATION_ACTION_EXECUTION", IntentAutoModerationExecution, d)
}

// EmitAuditLogEntry adds an entry to guild's audit log (an id is assigned when 0) and
// dispatches GUILD_AUDIT_LOG_ENTRY_CREATE (GUILD_MODERATION) with guild_id. As on Discord,
// the event goes only to a bot with VIEW_AUDIT_LOG; the entry is stored either way.
func (s *Server) EmitAuditLogEntry(guild ID, e AuditLogEntry) AuditLogEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	return *s.emitAuditLogLocked(g, &e)
}

// emitAuditLogLocked stores an audit-log entry and dispatches its event, as Server.audit
// does for the entries REST actions create.
func (s *Server) emitAuditLogLocked(g *Guild, e *AuditLogEntry) *AuditLogEntry {
	if e.ID == 0 {
		e.ID = s.newID()
	}
	e.GuildID = g.ID
	g.AuditLog = append(g.AuditLog, e)
	if s.require(g, s.botID, PermViewAuditLog) != nil {
		return e
	}
	d := auditEntryJSON(e)
	d["guild_id"] = g.ID
	s.dispatch(g.ID, "GUILD_AUDIT_LOG_ENTRY_CREATE", IntentGuildModeration, d)
	return e
}
