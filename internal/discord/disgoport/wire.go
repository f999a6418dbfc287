package disgoport

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/gateway"
)

// The adapter sends and reads Discord's JSON with its own small structs rather than disgo's
// models: gavel controls every byte of allowed_mentions and embeds, passes components and
// AutoMod rules through untouched, and asks for a response body only where Discord sends one
// (disgo v0.19.6 fails decoding the empty body of a 204 when given somewhere to put it).

// sf is a snowflake on the wire: a JSON string (a number or null is accepted when reading).
type sf int64

func (s sf) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 22)
	b = append(b, '"')
	b = strconv.AppendInt(b, int64(s), 10)
	return append(b, '"'), nil
}

func (s *sf) UnmarshalJSON(b []byte) error {
	// Discord writes snowflakes as quoted digits: read those directly. Every REST answer
	// holds several (a member's id and roles, a message's ids), and decoding each as a JSON
	// string first, a whole json.Unmarshal of its own, was most of decoding a member.
	if len(b) > 2 && len(b) <= 21 && b[0] == '"' && b[len(b)-1] == '"' {
		// At most 19 digits: below 10^19, so no uint64 overflow; int64's bound checked.
		var v uint64
		ok := true
		for _, c := range b[1 : len(b)-1] {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			v = v*10 + uint64(c-'0')
		}
		if ok && v <= math.MaxInt64 {
			*s = sf(v)
			return nil
		}
	}
	str := string(b)
	if str == "null" {
		*s = 0
		return nil
	}
	if len(str) >= 2 && str[0] == '"' {
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
	}
	v, err := strconv.ParseInt(str, 10, 64)
	if err != nil {
		return fmt.Errorf("snowflake %s: %w", b, err)
	}
	*s = sf(v)
	return nil
}

func sfs[T discord.Snowflake](ids []T) []sf {
	out := make([]sf, len(ids))
	for i, id := range ids {
		out[i] = sf(id)
	}
	return out
}

func typed[T discord.Snowflake](ids []sf) []T {
	out := make([]T, len(ids))
	for i, id := range ids {
		out[i] = T(id)
	}
	return out
}

// perms is a permission bit set: a decimal string on the wire.
type perms uint64

func (p perms) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatUint(uint64(p), 10) + `"`), nil
}

func (p *perms) UnmarshalJSON(b []byte) error {
	str := string(b)
	if str == "null" {
		*p = 0
		return nil
	}
	if len(str) >= 2 && str[0] == '"' {
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
	}
	v, err := strconv.ParseUint(str, 10, 64)
	if err != nil {
		return fmt.Errorf("permissions %s: %w", b, err)
	}
	*p = perms(v)
	return nil
}

type wireUser struct {
	ID         sf      `json:"id"`
	Username   string  `json:"username"`
	GlobalName *string `json:"global_name"`
	Bot        bool    `json:"bot"`
}

func (u *wireUser) user() discord.User {
	if u == nil {
		return discord.User{}
	}
	out := discord.User{ID: discord.UserID(u.ID), Username: u.Username, Bot: u.Bot}
	if u.GlobalName != nil {
		out.GlobalName = *u.GlobalName
	}
	return out
}

type wireMember struct {
	User                       *wireUser  `json:"user"`
	Nick                       *string    `json:"nick"`
	Roles                      []sf       `json:"roles"`
	JoinedAt                   *time.Time `json:"joined_at"`
	CommunicationDisabledUntil *time.Time `json:"communication_disabled_until"`
}

func (m *wireMember) member() discord.Member {
	return discord.MemberOf(m.User.user(), typed[discord.RoleID](m.Roles), m.Nick, m.JoinedAt, m.CommunicationDisabledUntil)
}

type wireRole struct {
	ID          sf     `json:"id"`
	Name        string `json:"name"`
	Position    int    `json:"position"`
	Permissions perms  `json:"permissions"`
	Managed     bool   `json:"managed"`
	Color       int    `json:"color"`
}

type wireGuild struct {
	ID      sf         `json:"id"`
	Name    string     `json:"name"`
	OwnerID sf         `json:"owner_id"`
	Roles   []wireRole `json:"roles"`
}

func (g *wireGuild) guild() discord.Guild {
	out := discord.Guild{ID: discord.GuildID(g.ID), Name: g.Name, OwnerID: discord.UserID(g.OwnerID), Roles: make([]discord.Role, len(g.Roles))}
	for i, r := range g.Roles {
		out.Roles[i] = discord.Role{ID: discord.RoleID(r.ID), Name: r.Name, Position: r.Position, Permissions: uint64(r.Permissions),
			Managed: r.Managed, Color: r.Color}
	}
	return out
}

type wireOverwrite struct {
	ID    sf    `json:"id"`
	Type  int   `json:"type"`
	Allow perms `json:"allow"`
	Deny  perms `json:"deny"`
}

type wireChannel struct {
	ID               sf              `json:"id"`
	GuildID          sf              `json:"guild_id"`
	Type             int             `json:"type"`
	Name             string          `json:"name"`
	ParentID         sf              `json:"parent_id"`
	Position         int             `json:"position"`
	RateLimitPerUser int             `json:"rate_limit_per_user"`
	Overwrites       []wireOverwrite `json:"permission_overwrites"`
}

func (c *wireChannel) channel() discord.Channel {
	out := discord.Channel{ID: discord.ChannelID(c.ID), GuildID: discord.GuildID(c.GuildID), Type: discord.ChannelType(c.Type), Name: c.Name,
		ParentID: discord.ChannelID(c.ParentID), Position: c.Position, RateLimitPerUser: c.RateLimitPerUser}
	for _, o := range c.Overwrites {
		out.Overwrites = append(out.Overwrites, discord.Overwrite{ID: int64(o.ID), Type: discord.OverwriteType(o.Type),
			Allow: uint64(o.Allow), Deny: uint64(o.Deny)})
	}
	return out
}

type wireBan struct {
	User   *wireUser `json:"user"`
	Reason *string   `json:"reason"`
}

func (b *wireBan) ban() discord.Ban {
	out := discord.Ban{User: b.User.user()}
	if b.Reason != nil {
		out.Reason = *b.Reason
	}
	return out
}

// wireID is an answer of which only the id is read: a message posted, a DM channel opened.
// A command's calls are mostly these, and decoding a whole message (author, content,
// embeds, timestamp) to keep its id was most of the cost of reading the answer.
type wireID struct {
	ID sf `json:"id"`
}

// read reads raw's id as json.Unmarshal into wireID would, with one checking pass and one
// look for the key instead of a decoding of every field. Of a repeated key it reads the
// last (encoding/json would also fail on an unreadable earlier one; Discord repeats none).
func (w *wireID) read(raw []byte) error {
	if !json.Valid(raw) {
		return errors.New("invalid JSON in the response body")
	}
	if v, ok := gateway.Field(raw, "id"); ok {
		return w.ID.UnmarshalJSON(v)
	}
	// No key spelt exactly "id" (absent, in another case, escaped) or not an object:
	// encoding/json decides, as before.
	var full struct {
		ID sf `json:"id"`
	}
	if err := json.Unmarshal(raw, &full); err != nil {
		return err
	}
	w.ID = full.ID
	return nil
}

type wireMessageIn struct {
	ID        sf        `json:"id"`
	ChannelID sf        `json:"channel_id"`
	Author    *wireUser `json:"author"`
	Content   string    `json:"content"`
	Timestamp time.Time `json:"timestamp"`
}

// wireMentions always parses nothing: only the ids listed may ping.
type wireMentions struct {
	Parse       []string `json:"parse"`
	Users       []sf     `json:"users,omitempty"`
	Roles       []sf     `json:"roles,omitempty"`
	RepliedUser bool     `json:"replied_user,omitempty"`
}

func mentions(am *discord.AllowedMentions) *wireMentions {
	out := &wireMentions{Parse: []string{}}
	if am != nil {
		out.Users, out.Roles, out.RepliedUser = sfs(am.Users), sfs(am.Roles), am.RepliedUser
		if len(am.Users) == 0 {
			out.Users = nil
		}
		if len(am.Roles) == 0 {
			out.Roles = nil
		}
	}
	return out
}

type wireEmbedField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline,omitempty"`
}

type wireEmbedFooter struct {
	Text    string `json:"text"`
	IconURL string `json:"icon_url,omitempty"`
}

type wireEmbedAuthor struct {
	Name    string `json:"name"`
	URL     string `json:"url,omitempty"`
	IconURL string `json:"icon_url,omitempty"`
}

type wireEmbedImage struct {
	URL string `json:"url"`
}

type wireEmbed struct {
	Title       string           `json:"title,omitempty"`
	Description string           `json:"description,omitempty"`
	URL         string           `json:"url,omitempty"`
	Color       int              `json:"color,omitempty"`
	Fields      []wireEmbedField `json:"fields,omitempty"`
	Footer      *wireEmbedFooter `json:"footer,omitempty"`
	Timestamp   string           `json:"timestamp,omitempty"`
	Author      *wireEmbedAuthor `json:"author,omitempty"`
	Thumbnail   *wireEmbedImage  `json:"thumbnail,omitempty"`
}

func embeds(in []discord.Embed) []wireEmbed {
	out := make([]wireEmbed, len(in))
	for i, e := range in {
		w := wireEmbed{Title: e.Title, Description: e.Description, URL: e.URL, Color: e.Color}
		for _, f := range e.Fields {
			w.Fields = append(w.Fields, wireEmbedField{Name: f.Name, Value: f.Value, Inline: f.Inline})
		}
		if e.Footer != nil {
			w.Footer = &wireEmbedFooter{Text: e.Footer.Text, IconURL: e.Footer.IconURL}
		}
		if !e.Timestamp.IsZero() {
			w.Timestamp = e.Timestamp.UTC().Format(time.RFC3339Nano)
		}
		if e.Author != nil {
			w.Author = &wireEmbedAuthor{Name: e.Author.Name, URL: e.Author.URL, IconURL: e.Author.IconURL}
		}
		if e.Thumbnail != "" {
			w.Thumbnail = &wireEmbedImage{URL: e.Thumbnail}
		}
		out[i] = w
	}
	return out
}

// wireMessage is a message to create or to replace one with. allowed_mentions is always
// present, so no message falls back to a default that would ping.
type wireMessage struct {
	Content         string          `json:"content"`
	Embeds          []wireEmbed     `json:"embeds"`
	Components      json.RawMessage `json:"components,omitempty"`
	AllowedMentions *wireMentions   `json:"allowed_mentions"`
	Flags           int             `json:"flags,omitempty"`
}

// newMessage is the body that creates msg, cut to Discord's limits: every message, edit and
// interaction response gavel sends is built here, so none can be refused for its length.
func newMessage(msg discord.Message) *wireMessage {
	msg = msg.Fit()
	return &wireMessage{Content: msg.Content, Embeds: embeds(msg.Embeds), Components: components(msg.Components),
		AllowedMentions: mentions(msg.AllowedMentions), Flags: int(msg.Flags)}
}

// replacement is the body that makes an existing message msg: components are always sent
// (an empty list removes them), and of the flags only SUPPRESS_EMBEDS, the one Discord lets
// an edit change.
func replacement(msg discord.Message) *wireMessage {
	m := newMessage(msg)
	if m.Components == nil {
		m.Components = json.RawMessage(`[]`)
	}
	m.Flags &= int(discord.FlagSuppressEmbeds)
	return m
}

func components(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}

type wireAuditLog struct {
	Entries []struct {
		ID         sf              `json:"id"`
		ActionType int             `json:"action_type"`
		UserID     sf              `json:"user_id"`
		TargetID   sf              `json:"target_id"`
		Reason     string          `json:"reason"`
		Changes    json.RawMessage `json:"changes"`
		Options    json.RawMessage `json:"options"`
	} `json:"audit_log_entries"`
}

type wireCommand struct {
	ID   sf     `json:"id"`
	Name string `json:"name"`
	Type int    `json:"type"`
}
