package gateway

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	ddiscord "github.com/disgoorg/disgo/discord"
	dgw "github.com/disgoorg/disgo/gateway"
	"github.com/disgoorg/snowflake/v2"

	"github.com/gavelbot/gavel/internal/discord"
)

// MessageCreate is a MESSAGE_CREATE as gavel reads it: only the fields gavel's listeners use
// (the router's prefix commands and poll bans, the AutoMod enforcer, raid defence), decoded
// by gavel itself (WithMessageDecoding). disgo's decoding of the whole message (through
// encoding/json, every nested type's UnmarshalJSON scanning its part again) was 58 % of a
// message storm's time (docs/benchmarks.md, issue 16).
//
// Each field holds what disgo's discord.Message held for it (FuzzMessageCreate): an absent
// or null field is the zero value.
type MessageCreate struct {
	// disgoEvent gives MessageCreate the unexported methods of disgo's gateway.EventData, so
	// that it travels through the gateway's queue and disgo's event manager like disgo's own
	// events (Handlers dispatches it).
	disgoEvent

	ID        discord.MessageID
	ChannelID discord.ChannelID
	// GuildID is the guild the message was posted in; InGuild is false for a DM (guild_id
	// absent or null).
	GuildID discord.GuildID
	InGuild bool
	// Type is the message's type (0 default, 19 reply, 38 a raid report, …).
	Type int
	// Flags are the message's flags (64: ephemeral).
	Flags     int
	CreatedAt time.Time
	// Author is who posted it; AuthorSystem is true for Discord's system messages.
	Author       discord.User
	AuthorSystem bool
	// HasMember is true when the event carries the author's member (every guild message but
	// a webhook's); Roles are then the member's roles, never nil (a nil list of roles means
	// "unknown, read them" to package moderation).
	HasMember bool
	Roles     []discord.RoleID
	Content   string
	// Mentions are the users the message mentions, MentionRoles the roles.
	Mentions     []discord.UserID
	MentionRoles []discord.RoleID
	// MentionMembers are the mentioned users the message carries as members of its guild,
	// in the order of Mentions: Discord adds to each mention, in a guild message, the user's
	// partial member (no user, deaf or mute), as of the message. Each Member's User is the
	// mention's (id, names, bot). A mention's member is kept only when it states its roles
	// (Discord always does): without them it could not stand for the member in a rank
	// check, and the user is read from Discord instead. A field the member leaves out is
	// zero (Nick, JoinedAt, CommunicationDisabledUntil).
	MentionMembers []discord.Member
	// Webhook is true for a message posted by a webhook (webhook_id present).
	Webhook bool
	// Poll is true for a message that carries a poll.
	Poll bool
}

type disgoEvent = dgw.EventResumed

// messageFlagEphemeral marks an ephemeral message, which comes without guild_id and member.
const messageFlagEphemeral = 1 << 6

// Ephemeral reports whether the message is ephemeral: disgo drops those before its
// listeners (they lack guild_id and member), and Handlers does the same.
func (m *MessageCreate) Ephemeral() bool { return m.Flags&messageFlagEphemeral != 0 }

// decodeMessage decodes MESSAGE_CREATE's d: itself when d has the plain shape Discord sends,
// through disgo otherwise. It fails only where disgo fails.
func decodeMessage(d []byte) (*MessageCreate, error) {
	if m, ok := readMessage(d); ok {
		return m, nil
	}
	return decodeThroughDisgo(d)
}

// decodeThroughDisgo is decodeMessage's fallback: disgo's decoding, and the mentions'
// members, which disgo's Message drops (its mentions are plain users), read with
// encoding/json.
func decodeThroughDisgo(d []byte) (*MessageCreate, error) {
	ev, err := unmarshalEventData(d, dgw.EventTypeMessageCreate)
	if err != nil {
		return nil, err
	}
	e, _ := ev.(dgw.EventMessageCreate)
	m := messageFromDisgo(e.Message)
	m.MentionMembers = mentionMembers(d)
	return m, nil
}

// jsonMentions is what mentionMembers reads of a message, with the types encoding/json
// and disgo give these fields. Roles is a pointer so that a member without them (absent or
// null) can be told from one with none.
type jsonMentions struct {
	Mentions []struct {
		ID         snowflake.ID `json:"id"`
		Username   string       `json:"username"`
		GlobalName *string      `json:"global_name"`
		Bot        bool         `json:"bot"`
		Member     *struct {
			Roles                      *[]snowflake.ID `json:"roles"`
			Nick                       *string         `json:"nick"`
			JoinedAt                   *time.Time      `json:"joined_at"`
			CommunicationDisabledUntil *time.Time      `json:"communication_disabled_until"`
		} `json:"member"`
	} `json:"mentions"`
}

// mentionMembers reads the mentions' members of a message disgo read. A message disgo
// reads but whose mentions encoding/json cannot (a member's field of the wrong type, which
// disgo never looks at) gives none: the targets are then read from Discord.
func mentionMembers(d []byte) []discord.Member {
	var j jsonMentions
	if err := json.Unmarshal(d, &j); err != nil {
		return nil
	}
	var out []discord.Member
	for _, u := range j.Mentions {
		if u.Member == nil || u.Member.Roles == nil {
			continue
		}
		user := discord.User{ID: discord.UserID(u.ID), Username: u.Username, Bot: u.Bot}
		if u.GlobalName != nil {
			user.GlobalName = *u.GlobalName
		}
		var roles []discord.RoleID
		for _, r := range *u.Member.Roles {
			roles = append(roles, discord.RoleID(r))
		}
		out = append(out, discord.MemberOf(user, roles, u.Member.Nick, u.Member.JoinedAt, u.Member.CommunicationDisabledUntil))
	}
	return out
}

// messageFromDisgo is what gavel reads of a message disgo decoded.
func messageFromDisgo(msg ddiscord.Message) *MessageCreate {
	m := &MessageCreate{ID: discord.MessageID(msg.ID), ChannelID: discord.ChannelID(msg.ChannelID), Type: int(msg.Type),
		Flags: int(msg.Flags), CreatedAt: msg.CreatedAt, Content: msg.Content, Webhook: msg.WebhookID != nil, Poll: msg.Poll != nil,
		Author:       discord.User{ID: discord.UserID(msg.Author.ID), Username: msg.Author.Username, Bot: msg.Author.Bot},
		AuthorSystem: msg.Author.System}
	if msg.GuildID != nil {
		m.GuildID, m.InGuild = discord.GuildID(*msg.GuildID), true
	}
	if msg.Author.GlobalName != nil {
		m.Author.GlobalName = *msg.Author.GlobalName
	}
	if msg.Member != nil {
		m.HasMember, m.Roles = true, []discord.RoleID{}
		for _, r := range msg.Member.RoleIDs {
			m.Roles = append(m.Roles, discord.RoleID(r))
		}
	}
	for _, u := range msg.Mentions {
		m.Mentions = append(m.Mentions, discord.UserID(u.ID))
	}
	for _, r := range msg.MentionRoles {
		m.MentionRoles = append(m.MentionRoles, discord.RoleID(r))
	}
	return m
}

// The keys readMessage reads, at each level. encoding/json matches keys without regard to
// case, so a key that differs from one of these only in case is left to disgo.
var (
	messageKeys = []string{"id", "channel_id", "guild_id", "type", "flags", "timestamp", "author", "member", "content",
		"mentions", "mention_roles", "webhook_id", "poll"}
	authorKeys        = []string{"id", "username", "global_name", "bot", "system"}
	memberKeys        = []string{"roles"}
	mentionKeys       = []string{"id", "username", "global_name", "bot", "member"}
	mentionMemberKeys = []string{"roles", "nick", "joined_at", "communication_disabled_until"}
)

// readMessage reads d in one pass that also checks that d is valid JSON. ok is false for
// anything but the plain shape Discord sends: an object whose keys are unescaped and each
// read key appears once, ids as strings of digits, and every read field of the type
// disgo's Message gives it (for the mentions' members, which disgo's Message does not keep,
// the type disgo's Member gives it). When ok, disgo's decoding reads the same, and
// encoding/json the same mentions' members (FuzzMessageCreate).
func readMessage(d []byte) (*MessageCreate, bool) {
	m := &MessageCreate{}
	var seen uint32
	end, ok := members(d, skipSpace(d, 0), messageKeys, &seen, func(k int, v []byte) bool {
		var ok bool
		switch messageKeys[k] {
		case "id":
			var id uint64
			id, ok = snowflakeID(v)
			m.ID = discord.MessageID(id)
		case "channel_id":
			var id uint64
			id, ok = snowflakeID(v)
			m.ChannelID = discord.ChannelID(id)
		case "guild_id":
			var id uint64
			m.InGuild = string(v) != "null"
			id, ok = snowflakeID(v)
			m.GuildID = discord.GuildID(id)
		case "type":
			m.Type, ok = nullableInt(v)
		case "flags":
			m.Flags, ok = nullableInt(v)
		case "timestamp":
			// What encoding/json does for a time.Time: its UnmarshalJSON gets the literal.
			ok = m.CreatedAt.UnmarshalJSON(v) == nil
		case "author":
			ok = readAuthor(v, m)
		case "member":
			ok = readMember(v, m)
		case "content":
			m.Content, ok = str(v)
		case "mentions":
			ok = readMentions(v, m)
		case "mention_roles":
			ok = eachElement(v, func(e []byte) bool {
				id, ok := snowflakeID(e)
				m.MentionRoles = append(m.MentionRoles, discord.RoleID(id))
				return ok
			})
		case "webhook_id":
			m.Webhook = string(v) != "null"
			_, ok = snowflakeID(v)
		case "poll":
			// disgo's *Poll: null is none, an object is one.
			m.Poll = v[0] == '{'
			ok = m.Poll || string(v) == "null"
		}
		return ok
	})
	if !ok || skipSpace(d, end) != len(d) {
		return nil, false
	}
	return m, true
}

func readAuthor(v []byte, m *MessageCreate) bool {
	if string(v) == "null" {
		return true // a struct: null leaves it as it was
	}
	var seen uint32
	end, ok := members(v, 0, authorKeys, &seen, func(k int, v []byte) bool {
		if ok, kept := readUserField(authorKeys[k], v, &m.Author); kept {
			return ok
		}
		if authorKeys[k] == "system" {
			var ok bool
			m.AuthorSystem, ok = boolean(v)
			return ok
		}
		return true
	})
	return ok && end == len(v)
}

// readUserField reads a user object's field into u when it is one gavel keeps of a user
// (id, username, global_name, bot); kept is false for any other key.
func readUserField(key string, v []byte, u *discord.User) (ok, kept bool) {
	switch key {
	case "id":
		id, ok := snowflakeID(v)
		u.ID = discord.UserID(id)
		return ok, true
	case "username":
		u.Username, ok = str(v)
	case "global_name":
		u.GlobalName, ok = str(v)
	case "bot":
		u.Bot, ok = boolean(v)
	default:
		return false, false
	}
	return ok, true
}

func readMember(v []byte, m *MessageCreate) bool {
	if string(v) == "null" {
		return true
	}
	m.HasMember, m.Roles = true, []discord.RoleID{}
	var seen uint32
	end, ok := members(v, 0, memberKeys, &seen, func(_ int, v []byte) bool {
		return eachElement(v, func(e []byte) bool {
			id, ok := snowflakeID(e)
			m.Roles = append(m.Roles, discord.RoleID(id))
			return ok
		})
	})
	return ok && end == len(v)
}

func readMentions(v []byte, m *MessageCreate) bool {
	return eachElement(v, func(e []byte) bool {
		var u discord.User
		var member discord.Member
		hasMember := false
		if string(e) != "null" { // an element that is null is a zero user
			var seen uint32
			end, ok := members(e, 0, mentionKeys, &seen, func(k int, v []byte) bool {
				if ok, kept := readUserField(mentionKeys[k], v, &u); kept {
					return ok
				}
				var ok bool
				hasMember, ok = readMentionMember(v, &member) // "member", the one key left
				return ok
			})
			if !ok || end != len(e) {
				return false
			}
		}
		m.Mentions = append(m.Mentions, u.ID)
		if hasMember {
			// The user's fields may come after the member's (Discord sends "member" before
			// "id"), so it gets them once the whole mention is read.
			member.User = u
			m.MentionMembers = append(m.MentionMembers, member)
		}
		return true
	})
}

// readMentionMember reads a mention's partial member into member; keep is false for null
// and for a member that does not state its roles (MessageCreate.MentionMembers).
func readMentionMember(v []byte, member *discord.Member) (keep, ok bool) {
	if string(v) == "null" {
		return false, true
	}
	hasRoles := false
	var seen uint32
	end, ok := members(v, 0, mentionMemberKeys, &seen, func(k int, v []byte) bool {
		switch mentionMemberKeys[k] {
		case "roles":
			hasRoles = string(v) != "null"
			return eachElement(v, func(e []byte) bool {
				id, ok := snowflakeID(e)
				member.Roles = append(member.Roles, discord.RoleID(id))
				return ok
			})
		case "nick":
			var ok bool
			member.Nick, ok = str(v)
			return ok
		case "joined_at":
			return readTime(v, &member.JoinedAt)
		case "communication_disabled_until":
			return readTime(v, &member.CommunicationDisabledUntil)
		}
		return true
	})
	return hasRoles, ok && end == len(v)
}

// readTime reads a *time.Time field as encoding/json does (null leaves it nil: zero; else
// time.Time's UnmarshalJSON gets the literal), in UTC as the REST port gives member times.
func readTime(v []byte, t *time.Time) bool {
	if string(v) == "null" {
		return true
	}
	var at time.Time
	if at.UnmarshalJSON(v) != nil {
		return false
	}
	*t = at.UTC()
	return true
}

// members reads the object at data[i] (no space before it) and calls f with the index in
// keys of each member whose key is one of keys, and its value (already checked to be JSON).
// Other members are checked and skipped. It fails, for the caller to leave the object to
// encoding/json, when a key holds an escape, differs from one of keys only in case, or
// repeats one of keys (seen has a bit per key), and when f fails. It returns the index
// after the object.
func members(data []byte, i int, keys []string, seen *uint32, f func(k int, v []byte) bool) (int, bool) {
	if i >= len(data) || data[i] != '{' {
		return 0, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, true
	}
	for {
		key, end, ok := plainString(data, i)
		if !ok {
			return 0, false
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return 0, false
		}
		i = skipSpace(data, i+1)
		vEnd, ok := skipValue(data, i)
		if !ok {
			return 0, false
		}
		k := keyIndex(key, keys)
		switch {
		case k >= 0:
			if *seen&(1<<k) != 0 {
				return 0, false
			}
			*seen |= 1 << k
			if !f(k, data[i:vEnd]) {
				return 0, false
			}
		case !plainKey(key):
			for _, known := range keys {
				if bytes.EqualFold(key, []byte(known)) {
					return 0, false
				}
			}
		}
		i = skipSpace(data, vEnd)
		if i >= len(data) {
			return 0, false
		}
		if data[i] == '}' {
			return i + 1, true
		}
		if data[i] != ',' {
			return 0, false
		}
		i = skipSpace(data, i+1)
	}
}

func keyIndex(key []byte, keys []string) int {
	for k, known := range keys {
		if string(key) == known {
			return k
		}
	}
	return -1
}

// plainKey reports a key of lower-case letters, digits and underscores, as all of Discord's
// are: such a key equals one of readMessage's keys without regard to case only if it equals
// it exactly (they are all of that kind).
func plainKey(key []byte) bool {
	for _, c := range key {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// eachElement calls f with each element of the array v (checked JSON); null is an empty
// array (a nil slice), anything else fails.
func eachElement(v []byte, f func(e []byte) bool) bool {
	if string(v) == "null" {
		return true
	}
	if v[0] != '[' {
		return false
	}
	i := skipSpace(v, 1)
	if i < len(v) && v[i] == ']' {
		return true
	}
	for {
		end, ok := skipValue(v, i)
		if !ok || !f(v[i:end]) {
			return false
		}
		i = skipSpace(v, end)
		if i >= len(v) {
			return false
		}
		if v[i] == ']' {
			return true
		}
		if v[i] != ',' {
			return false
		}
		i = skipSpace(v, i+1)
	}
}

// snowflakeID reads an id as disgo's snowflake.ID does: a string of decimal digits; null and 0
// are 0. Anything else (an escape, a sign, an overflow, a bare number) fails.
func snowflakeID(v []byte) (uint64, bool) {
	if string(v) == "null" || string(v) == "0" {
		return 0, true
	}
	if len(v) < 3 || v[0] != '"' || v[len(v)-1] != '"' {
		return 0, false
	}
	var n uint64
	for _, c := range v[1 : len(v)-1] {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// nullableInt reads an int field: null leaves it 0.
func nullableInt(v []byte) (int, bool) {
	if string(v) == "null" {
		return 0, true
	}
	return integer(v)
}

func boolean(v []byte) (bool, bool) {
	switch string(v) {
	case "true":
		return true, true
	case "false", "null":
		return false, true
	}
	return false, false
}

// str reads a string field (null leaves it ""), as encoding/json does: escapes decoded,
// a lone surrogate and bytes that are not UTF-8 read as U+FFFD.
func str(v []byte) (string, bool) {
	if string(v) == "null" {
		return "", true
	}
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	s := v[1 : len(v)-1]
	// The common case: nothing to decode.
	r := 0
	for r < len(s) {
		c := s[r]
		if c == '\\' || c == '"' || c < ' ' {
			break
		}
		if c < utf8.RuneSelf {
			r++
			continue
		}
		rr, size := utf8.DecodeRune(s[r:])
		if rr == utf8.RuneError && size == 1 {
			break
		}
		r += size
	}
	if r == len(s) {
		return string(s), true
	}
	return unquote(s, r)
}

// unquote decodes the string contents s from r on, where the first escape or invalid byte
// is, as encoding/json's unquoteBytes does.
func unquote(s []byte, r int) (string, bool) {
	b := make([]byte, r, len(s)+2*utf8.UTFMax)
	copy(b, s[:r])
	for r < len(s) {
		switch c := s[r]; {
		case c == '\\':
			r++
			if r >= len(s) {
				return "", false
			}
			switch s[r] {
			case '"', '\\', '/', '\'':
				b = append(b, s[r])
				r++
			case 'b':
				b = append(b, '\b')
				r++
			case 'f':
				b = append(b, '\f')
				r++
			case 'n':
				b = append(b, '\n')
				r++
			case 'r':
				b = append(b, '\r')
				r++
			case 't':
				b = append(b, '\t')
				r++
			case 'u':
				r--
				rr := getu4(s[r:])
				if rr < 0 {
					return "", false
				}
				r += 6
				if utf16.IsSurrogate(rr) {
					rr1 := getu4(s[r:])
					if dec := utf16.DecodeRune(rr, rr1); dec != unicode.ReplacementChar {
						r += 6
						b = utf8.AppendRune(b, dec)
						break
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
			default:
				return "", false
			}
		case c == '"' || c < ' ':
			return "", false
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			b = utf8.AppendRune(b, rr)
		}
	}
	return string(b), true
}

// getu4 decodes \uXXXX from the beginning of s, returning the hex value, or -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c = c - '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
