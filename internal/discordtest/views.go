package discordtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The views below are what a member would see in Discord's client: the sandbox's panel
// reads them in process, and the control API (control.go) serves them as JSON.

// MemberView is a member as the member list shows them.
type MemberView struct {
	User          User       `json:"user"`
	Nick          *string    `json:"nick"`
	Roles         []ID       `json:"roles"`
	JoinedAt      time.Time  `json:"joined_at"`
	TimedOutUntil *time.Time `json:"timed_out_until"`
	Owner         bool       `json:"owner"`
}

// BanView is a ban as the server settings list it.
type BanView struct {
	User   User    `json:"user"`
	Reason *string `json:"reason"`
}

// GuildView is a guild with its roles (highest first), channels (by position), members
// (by username) and bans.
type GuildView struct {
	ID       ID           `json:"id"`
	Name     string       `json:"name"`
	OwnerID  ID           `json:"owner_id"`
	Roles    []Role       `json:"roles"`
	Channels []Channel    `json:"channels"`
	Members  []MemberView `json:"members"`
	Bans     []BanView    `json:"bans"`
}

// MessageView is a message as the client shows it: its author resolved and, for an
// interaction's response, whether only the member who used the interaction sees it.
type MessageView struct {
	ID              ID                `json:"id"`
	ChannelID       ID                `json:"channel_id"`
	Author          User              `json:"author"`
	Content         string            `json:"content"`
	Embeds          []json.RawMessage `json:"embeds"`
	Components      []json.RawMessage `json:"components"`
	Timestamp       time.Time         `json:"timestamp"`
	EditedTimestamp *time.Time        `json:"edited_timestamp"`
	Ephemeral       bool              `json:"ephemeral"`
	InteractionID   ID                `json:"interaction_id,omitempty"`
}

func (s *Server) userLocked(id ID) User {
	if u, ok := s.st.users[id]; ok {
		return *u
	}
	return User{ID: id, Username: "unknown"}
}

func (s *Server) messageViewLocked(m *Message) MessageView {
	c := copyMessage(m)
	return MessageView{ID: c.ID, ChannelID: c.ChannelID, Author: s.userLocked(c.AuthorID), Content: c.Content, Embeds: c.Embeds,
		Components: c.Components, Timestamp: c.Timestamp, EditedTimestamp: c.EditedTimestamp,
		Ephemeral: c.Flags&MessageFlagEphemeral != 0, InteractionID: c.InteractionID}
}

// GuildIDs lists the guilds, oldest first.
func (s *Server) GuildIDs() []ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]ID, 0, len(s.st.guilds))
	for id := range s.st.guilds {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// UserByID returns a user.
func (s *Server) UserByID(id ID) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.st.users[id]
	if !ok {
		return User{}, false
	}
	return *u, true
}

// Guild returns a guild as its members see it.
func (s *Server) Guild(id ID) (GuildView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.st.guilds[id]
	if !ok {
		return GuildView{}, false
	}
	v := GuildView{ID: g.ID, Name: g.Name, OwnerID: g.OwnerID}
	for _, r := range sortedRoles(g) {
		v.Roles = append(v.Roles, *r)
	}
	slices.Reverse(v.Roles)
	for _, c := range g.Channels {
		cc := *c
		cc.PermissionOverwrites = slices.Clone(c.PermissionOverwrites)
		v.Channels = append(v.Channels, cc)
	}
	sort.Slice(v.Channels, func(i, j int) bool {
		a, b := v.Channels[i], v.Channels[j]
		if a.Position != b.Position {
			return a.Position < b.Position
		}
		return a.ID < b.ID
	})
	now := s.now()
	for _, m := range g.Members {
		mv := MemberView{User: s.userLocked(m.UserID), Nick: m.Nick, Roles: slices.Clone(m.Roles), JoinedAt: m.JoinedAt, Owner: m.UserID == g.OwnerID}
		if m.CommunicationDisabledUntil != nil && m.CommunicationDisabledUntil.After(now) {
			t := *m.CommunicationDisabledUntil
			mv.TimedOutUntil = &t
		}
		v.Members = append(v.Members, mv)
	}
	sort.Slice(v.Members, func(i, j int) bool { return v.Members[i].User.Username < v.Members[j].User.Username })
	for _, b := range g.Bans {
		v.Bans = append(v.Bans, BanView{User: s.userLocked(b.UserID), Reason: b.Reason})
	}
	sort.Slice(v.Bans, func(i, j int) bool { return v.Bans[i].User.ID < v.Bans[j].User.ID })
	return v, true
}

// ChannelAs is a channel's messages as viewer sees them, oldest first: everyone's
// messages, and the ephemeral responses to viewer's own interactions in the channel, which
// nobody else sees.
func (s *Server) ChannelAs(channel, viewer ID) ([]MessageView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.channels[channel]; !ok {
		return nil, fmt.Errorf("no channel %s", channel)
	}
	var out []MessageView
	for _, m := range s.st.messages[channel] {
		if !m.Deleted {
			out = append(out, s.messageViewLocked(m))
		}
	}
	for _, rec := range s.ixStore().byID {
		if rec.pub.ChannelID != channel || rec.pub.UserID != viewer {
			continue
		}
		for _, m := range append([]*Message{rec.original}, rec.followups...) {
			if m != nil && !m.Deleted && m.Flags&MessageFlagEphemeral != 0 {
				out = append(out, s.messageViewLocked(m))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// DMsOf lists the messages in a user's DM channel with the bot, oldest first (none when
// the bot never opened one).
func (s *Server) DMsOf(user ID) []MessageView {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.st.dms[user]
	if !ok {
		return nil
	}
	var out []MessageView
	for _, m := range s.st.messages[ch] {
		if !m.Deleted {
			out = append(out, s.messageViewLocked(m))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// errNotFound is the error of a control call naming something the fake does not have.
var errNotFound = errors.New("no such")

// checkMember says whether user is a known user and, for a guild, a member of it.
func (s *Server) checkActor(guild, channel, user ID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.users[user]; !ok {
		return fmt.Errorf("%w user %s", errNotFound, user)
	}
	if guild != 0 {
		g, ok := s.st.guilds[guild]
		if !ok {
			return fmt.Errorf("%w guild %s", errNotFound, guild)
		}
		if g.Members[user] == nil {
			return fmt.Errorf("user %s is not a member of guild %s", user, guild)
		}
	}
	if channel != 0 {
		c, ok := s.st.channels[channel]
		if !ok {
			return fmt.Errorf("%w channel %s", errNotFound, channel)
		}
		if c.GuildID != guild {
			return fmt.Errorf("channel %s is not in guild %s", channel, guild)
		}
	}
	return nil
}

// TryClickButton is ClickButton returning an error, instead of panicking, when the
// message or its component is not there or the component is disabled.
func (s *Server) TryClickButton(guild, channel, user, messageID ID, customID string) (*Interaction, error) {
	if err := s.checkActor(guild, channel, user); err != nil {
		return nil, err
	}
	s.mu.Lock()
	m := s.findMessageLocked(channel, messageID)
	if m == nil {
		// An ephemeral response is not in the channel's list; look among the interactions.
		m = s.ephemeralLocked(channel, user, messageID)
	}
	var err error
	switch comp, ok := findComponentIn(m, customID); {
	case m == nil:
		err = fmt.Errorf("%w message %s in channel %s", errNotFound, messageID, channel)
	case !ok:
		err = fmt.Errorf("message %s has no component with custom_id %q", messageID, customID)
	case comp["disabled"] == true:
		err = fmt.Errorf("the component %q on message %s is disabled", customID, messageID)
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.ClickButton(guild, channel, user, messageID, customID), nil
}

func findComponentIn(m *Message, customID string) (map[string]any, bool) {
	if m == nil {
		return nil, false
	}
	return findComponent(m.Components, customID)
}

func (s *Server) ephemeralLocked(channel, user, id ID) *Message {
	for _, rec := range s.ixStore().byID {
		if rec.pub.ChannelID != channel || rec.pub.UserID != user {
			continue
		}
		for _, m := range append([]*Message{rec.original}, rec.followups...) {
			if m != nil && m.ID == id && !m.Deleted {
				return m
			}
		}
	}
	return nil
}

// TryUserJoins is UserJoins returning an error for an unknown guild or user.
func (s *Server) TryUserJoins(guild, user ID) error {
	if err := s.checkActor(0, 0, user); err != nil {
		return err
	}
	if _, ok := s.Guild(guild); !ok {
		return fmt.Errorf("%w guild %s", errNotFound, guild)
	}
	return s.UserJoins(guild, user)
}

// TryUserLeaves is UserLeaves returning an error for an unknown guild, a user who is not
// a member, or the owner.
func (s *Server) TryUserLeaves(guild, user ID) error {
	if err := s.checkActor(guild, 0, user); err != nil {
		return err
	}
	s.mu.Lock()
	owner := s.st.guilds[guild].OwnerID
	s.mu.Unlock()
	if owner == user {
		return fmt.Errorf("user %s owns guild %s and cannot leave it", user, guild)
	}
	s.UserLeaves(guild, user)
	return nil
}

// TryAddUser creates a user, as AddUser, refusing a name Discord would refuse.
func (s *Server) TryAddUser(name string) (ID, error) {
	if n := runeLen(name); n < 2 || n > 32 || strings.ContainsAny(name, "@#:`") {
		return 0, fmt.Errorf("username %q: want 2 to 32 characters without @ # : or `", name)
	}
	return s.AddUser(name, false), nil
}

// slashOption is a registered command's option, as far as typing one needs.
type slashOption struct {
	Name    string        `json:"name"`
	Type    int           `json:"type"`
	Options []slashOption `json:"options"`
}

// SlashText is user typing a slash command as text, the way Discord's client fills one in
// ("/ban user:@name reason:spam", "/cases view case:3"): the command is looked up among the
// registered ones (guild first, then global), its subcommands and options are matched by
// name, and each value is read by the option's type (a user as <@id>, @username, username
// or an id; a channel as <#id>, #name or an id; a role as <@&id>, @name or an id;
// integers, numbers and true/false). It returns what was wrong and what is accepted, and
// sends nothing, when the text does not fit the command.
func (s *Server) SlashText(guild, channel, user ID, text string) (*Interaction, error) {
	if err := s.checkActor(guild, channel, user); err != nil {
		return nil, err
	}
	opts, err := s.parseSlash(guild, text)
	if err != nil {
		return nil, err
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(text), "/"), " ")
	return s.SlashCommand(guild, channel, user, name, opts...), nil
}

func (s *Server) parseSlash(guild ID, text string) ([]CommandOption, error) {
	text = strings.TrimSpace(text)
	if !strings.HasPrefix(text, "/") {
		return nil, errors.New("a slash command starts with /, as in /ban user:@name reason:spam")
	}
	words := strings.Fields(text[1:])
	if len(words) == 0 {
		return nil, errors.New("no command after /")
	}
	s.mu.Lock()
	var cmd *Command
	if g := s.st.guilds[guild]; g != nil {
		cmd = findCommand(g.Commands, words[0])
	}
	if cmd == nil {
		cmd = findCommand(s.st.commands, words[0])
	}
	s.mu.Unlock()
	if cmd == nil {
		return nil, fmt.Errorf("there is no slash command /%s registered", words[0])
	}
	var level []slashOption
	if len(cmd.Options) > 0 {
		if err := json.Unmarshal(cmd.Options, &level); err != nil {
			return nil, fmt.Errorf("reading /%s's options: %w", cmd.Name, err)
		}
	}
	rest := words[1:]
	var path []string
	for {
		var sub *slashOption
		var names []string
		for i := range level {
			if level[i].Type == OptionSubCommand || level[i].Type == OptionSubCommandGroup {
				names = append(names, level[i].Name)
				if len(rest) > 0 && level[i].Name == rest[0] {
					sub = &level[i]
				}
			}
		}
		if len(names) == 0 {
			break
		}
		if sub == nil {
			return nil, fmt.Errorf("/%s needs one of: %s", strings.Join(append([]string{cmd.Name}, path...), " "), strings.Join(names, ", "))
		}
		path = append(path, sub.Name)
		rest = rest[1:]
		level = sub.Options
	}
	values, err := s.slashValues(guild, level, strings.Join(rest, " "))
	if err != nil {
		return nil, err
	}
	// Wrap the values in the subcommands, innermost first.
	for i := len(path) - 1; i >= 0; i-- {
		typ := OptionSubCommand
		if i < len(path)-1 {
			typ = OptionSubCommandGroup
		}
		values = []CommandOption{{Name: path[i], Type: typ, Options: values}}
	}
	return values, nil
}

// slashValues reads "name:value name:value" against the options of one level; a value runs
// to the next " name:" of an option of the level.
func (s *Server) slashValues(guild ID, level []slashOption, text string) ([]CommandOption, error) {
	byName := map[string]slashOption{}
	var names []string
	for _, o := range level {
		byName[o.Name] = o
		names = append(names, o.Name+":")
	}
	var out []CommandOption
	text = strings.TrimSpace(text)
	for text != "" {
		name, after, ok := strings.Cut(text, ":")
		o, known := byName[name]
		if !ok || !known {
			if len(names) == 0 {
				return nil, fmt.Errorf("this command takes no options, but %q follows it", text)
			}
			return nil, fmt.Errorf("%q is not an option; the options are %s", strings.Fields(text)[0], strings.Join(names, " "))
		}
		end := len(after)
		for _, n := range names {
			if i := strings.Index(after, " "+n); i >= 0 && i < end {
				end = i
			}
		}
		raw := strings.TrimSpace(after[:end])
		text = strings.TrimSpace(after[end:])
		v, err := s.slashValue(guild, o, raw)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *Server) slashValue(guild ID, o slashOption, raw string) (CommandOption, error) {
	c := CommandOption{Name: o.Name, Type: o.Type}
	bad := func(want string) (CommandOption, error) {
		return c, fmt.Errorf("%s:%s is not %s", o.Name, raw, want)
	}
	switch o.Type {
	case OptionString:
		c.Value = raw
	case OptionInteger:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return bad("a whole number")
		}
		c.Value = n
	case OptionNumber:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return bad("a number")
		}
		c.Value = f
	case OptionBoolean:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return bad("true or false")
		}
		c.Value = b
	case OptionUser, OptionMentionable:
		id, ok := s.lookupUser(guild, raw)
		if !ok {
			return bad("a member (<@id>, @username, username or an id)")
		}
		c.Value = id
	case OptionChannel:
		id, ok := s.lookupChannel(guild, raw)
		if !ok {
			return bad("a channel (<#id>, #name or an id)")
		}
		c.Value = id
	case OptionRole:
		id, ok := s.lookupRole(guild, raw)
		if !ok {
			return bad("a role (<@&id>, @name or an id)")
		}
		c.Value = id
	default:
		return c, fmt.Errorf("option %s has type %d, which typing cannot fill", o.Name, o.Type)
	}
	return c, nil
}

func mentionID(raw, open string) (ID, bool) {
	if strings.HasPrefix(raw, open) && strings.HasSuffix(raw, ">") {
		return ParseID(strings.TrimPrefix(strings.TrimSuffix(strings.TrimPrefix(raw, open), ">"), "!"))
	}
	return ParseID(raw)
}

// lookupUser reads <@id>, <@!id>, an id, or a (possibly @-prefixed) username.
func (s *Server) lookupUser(guild ID, raw string) (ID, bool) {
	if id, ok := mentionID(raw, "<@"); ok {
		s.mu.Lock()
		defer s.mu.Unlock()
		_, known := s.st.users[id]
		return id, known
	}
	name := strings.TrimPrefix(raw, "@")
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.st.guilds[guild]; g != nil {
		for id := range g.Members {
			if u := s.st.users[id]; u != nil && strings.EqualFold(u.Username, name) {
				return id, true
			}
		}
	}
	return 0, false
}

func (s *Server) lookupChannel(guild ID, raw string) (ID, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := mentionID(raw, "<#"); ok {
		_, known := s.st.channels[id]
		return id, known
	}
	if g := s.st.guilds[guild]; g != nil {
		for id, c := range g.Channels {
			if c.Name == strings.TrimPrefix(raw, "#") {
				return id, true
			}
		}
	}
	return 0, false
}

func (s *Server) lookupRole(guild ID, raw string) (ID, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.st.guilds[guild]
	if g == nil {
		return 0, false
	}
	if id, ok := mentionID(raw, "<@&"); ok {
		_, known := g.Roles[id]
		return id, known
	}
	for id, r := range g.Roles {
		if strings.EqualFold(r.Name, strings.TrimPrefix(raw, "@")) {
			return id, true
		}
	}
	return 0, false
}

// controlStatus is the HTTP status of a control call's error.
func controlStatus(err error) int {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae.Status
	case errors.Is(err, errNotFound):
		return http.StatusNotFound
	default:
		return http.StatusBadRequest
	}
}

// CanView says whether user may see channel (View Channel there, after overwrites).
func (s *Server) CanView(channel, user ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.st.channels[channel]
	if !ok {
		return false
	}
	g, ok := s.st.guilds[c.GuildID]
	if !ok || g.Members[user] == nil {
		return false
	}
	return channelPermissions(g, c, user, s.now())&PermViewChannel != 0
}
