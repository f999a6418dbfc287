package discordtest

import (
	"encoding/json"
	"sort"
	"time"
)

// The accessors below let tests assert on the fake's state. Each returns a copy taken under
// the lock, so a test can keep it while the server goes on changing.

// Member returns a guild member.
func (s *Server) Member(guild, user ID) (Member, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.st.guilds[guild]
	if !ok {
		return Member{}, false
	}
	m, ok := g.Members[user]
	if !ok {
		return Member{}, false
	}
	return copyMember(m), true
}

func copyMember(m *Member) Member {
	c := *m
	c.Roles = append([]ID{}, m.Roles...)
	if m.Nick != nil {
		v := *m.Nick
		c.Nick = &v
	}
	if m.CommunicationDisabledUntil != nil {
		v := *m.CommunicationDisabledUntil
		c.CommunicationDisabledUntil = &v
	}
	return c
}

// Banned returns a user's ban in a guild.
func (s *Server) Banned(guild, user ID) (Ban, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.st.guilds[guild]
	if !ok {
		return Ban{}, false
	}
	b, ok := g.Bans[user]
	if !ok {
		return Ban{}, false
	}
	c := *b
	if b.Reason != nil {
		v := *b.Reason
		c.Reason = &v
	}
	return c, true
}

// Messages returns a channel's messages that are not deleted, oldest first.
func (s *Server) Messages(channel ID) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.st.messages[channel] {
		if !m.Deleted {
			out = append(out, copyMessage(m))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func copyMessage(m *Message) Message {
	c := *m
	clone := func(in []json.RawMessage) []json.RawMessage {
		out := make([]json.RawMessage, len(in))
		for i, raw := range in {
			out[i] = append(json.RawMessage{}, raw...)
		}
		return out
	}
	c.Embeds = clone(m.Embeds)
	c.Components = clone(m.Components)
	if m.AllowedMentions != nil {
		c.AllowedMentions = append(json.RawMessage{}, m.AllowedMentions...)
	}
	if m.EditedTimestamp != nil {
		v := *m.EditedTimestamp
		c.EditedTimestamp = &v
	}
	return c
}

// DMChannel returns the id of the bot's DM channel with a user, once the bot opened it.
func (s *Server) DMChannel(user ID) (ID, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.st.dms[user]
	return id, ok
}

// AuditLog returns a guild's audit log, oldest first.
func (s *Server) AuditLog(guild ID) []AuditLogEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.st.guilds[guild]
	if !ok {
		return nil
	}
	out := make([]AuditLogEntry, 0, len(g.AuditLog))
	for _, e := range g.AuditLog {
		c := *e
		c.Changes = append(json.RawMessage(nil), e.Changes...)
		c.Options = append(json.RawMessage(nil), e.Options...)
		out = append(out, c)
	}
	return out
}

// AutoModRules returns a guild's AutoMod rules by id.
func (s *Server) AutoModRules(guild ID) []AutoModRule {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.st.guilds[guild]
	if !ok {
		return nil
	}
	var out []AutoModRule
	for _, r := range sortedRules(g) {
		out = append(out, copyRule(r))
	}
	return out
}

// Commands returns the application commands registered in a guild, or the global ones for
// guild 0, by id.
func (s *Server) Commands(guild ID) []Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmds := s.st.commands
	if guild != 0 {
		g, ok := s.st.guilds[guild]
		if !ok {
			return nil
		}
		cmds = g.Commands
	}
	var out []Command
	for _, c := range sortedCommands(cmds) {
		out = append(out, copyCommand(c))
	}
	return out
}

// Channel returns a channel (guild, thread or DM).
func (s *Server) Channel(id ID) (Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.st.channels[id]
	if !ok {
		return Channel{}, false
	}
	out := *c
	out.PermissionOverwrites = append([]Overwrite{}, c.PermissionOverwrites...)
	out.Recipients = append([]ID(nil), c.Recipients...)
	if c.Topic != nil {
		v := *c.Topic
		out.Topic = &v
	}
	return out, true
}

// AddMessage stores a message written by author at a time and returns its id, for tests
// that need messages the bot did not send (another user's, or old ones). Like the other
// Add* builders it emits no gateway event.
func (s *Server) AddMessage(channel, author ID, content string, at time.Time) ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addMessageLocked(channel, author, content, at).ID
}

// addMessageLocked is AddMessage with s.mu held.
func (s *Server) addMessageLocked(channel, author ID, content string, at time.Time) *Message {
	c := s.st.channels[channel]
	// The id carries the message's time, as Discord's do, so "older than two weeks" can be
	// tested; ids still increase, so the next one after the newest is taken.
	id := ID(uint64(at.UnixMilli()-discordEpoch) << 22)
	if at.After(s.now().Add(-time.Second)) {
		id = s.newID()
	}
	for taken := true; taken; {
		taken = false
		for _, other := range s.st.messages[channel] {
			if other.ID == id {
				id++
				taken = true
			}
		}
	}
	m := &Message{ID: id, ChannelID: channel, AuthorID: author, Content: content,
		Embeds: []json.RawMessage{}, Components: []json.RawMessage{}, Timestamp: at.UTC()}
	if c != nil {
		m.GuildID = c.GuildID
	}
	s.postLocked(m)
	return m
}
