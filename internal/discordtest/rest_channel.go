package discordtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Message flags a bot may set when it sends or edits a message; Discord ignores the rest.
const (
	flagSuppressEmbeds        = 1 << 2
	flagSuppressNotifications = 1 << 12
	flagIsVoiceMessage        = 1 << 13
	flagIsComponentsV2        = 1 << 15
	settableMessageFlags      = flagSuppressEmbeds | flagSuppressNotifications | flagIsVoiceMessage | flagIsComponentsV2
)

// Guild channel types beyond the ones state.go names: announcement channels hold messages,
// forum and media channels only threads.
const (
	channelGuildAnnouncement = 5
	channelGuildForum        = 15
	channelGuildMedia        = 16
)

// bulkDeleteMaxAge is how old a message may be for bulk delete.
const bulkDeleteMaxAge = 14 * 24 * time.Hour

func (s *Server) handleGetChannel(r *Request) (Response, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, _, e := s.channelFor(r)
	if e != nil {
		return Response{}, e
	}
	return Response{Body: s.channelObject(c)}, nil
}

func (s *Server) handleUpdateChannel(r *Request) (Response, *apiError) {
	var body struct {
		Name             opt[string] `json:"name"`
		Topic            opt[string] `json:"topic"`
		RateLimitPerUser opt[int]    `json:"rate_limit_per_user"`
		NSFW             opt[bool]   `json:"nsfw"`
		ParentID         opt[ID]     `json:"parent_id"`
		Position         opt[int]    `json:"position"`
	}
	if e := decodeBody(r, &body); e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, g, e := s.channelFor(r)
	if e != nil {
		return Response{}, e
	}
	if g == nil {
		return Response{}, apiErr(http.StatusForbidden, codeCannotActOnDM, "Cannot execute action on a DM channel")
	}
	need := PermManageChannels
	if isThread(c) {
		need = PermManageThreads
	}
	if e := s.requireIn(g, c, s.botID, need); e != nil {
		return Response{}, e
	}
	if body.Name.Set && (body.Name.Null || runeLen(body.Name.V) < 1 || runeLen(body.Name.V) > 100) {
		return Response{}, invalidForm("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
	}
	if body.Topic.has() && runeLen(body.Topic.V) > 1024 {
		return Response{}, invalidForm("topic", "BASE_TYPE_MAX_LENGTH", "Must be 1024 or fewer in length.")
	}
	if body.RateLimitPerUser.has() {
		if v := body.RateLimitPerUser.V; v < 0 {
			return Response{}, invalidForm("rate_limit_per_user", "NUMBER_TYPE_MIN", "int value should be greater than or equal to 0.")
		} else if v > 21600 {
			return Response{}, invalidForm("rate_limit_per_user", "NUMBER_TYPE_MAX", "int value should be less than or equal to 21600.")
		}
	}
	if body.ParentID.has() && !isThread(c) {
		p, ok := g.Channels[body.ParentID.V]
		if !ok || p.Type != ChannelGuildCategory {
			return Response{}, invalidForm("parent_id", "CHANNEL_PARENT_INVALID_TYPE", "Not a category")
		}
	}

	var changes []auditChange
	if body.Name.has() && body.Name.V != c.Name {
		changes = append(changes, auditChange{Key: "name", Old: c.Name, New: body.Name.V})
		c.Name = body.Name.V
	}
	if body.Topic.Set {
		var old, topic any
		if c.Topic != nil {
			old = *c.Topic
		}
		var next *string
		if body.Topic.has() && body.Topic.V != "" {
			v := body.Topic.V
			next, topic = &v, v
		}
		if old != topic {
			changes = append(changes, auditChange{Key: "topic", Old: old, New: topic})
			c.Topic = next
		}
	}
	if body.RateLimitPerUser.Set {
		v := 0
		if body.RateLimitPerUser.has() {
			v = body.RateLimitPerUser.V
		}
		if v != c.RateLimitPerUser {
			changes = append(changes, auditChange{Key: "rate_limit_per_user", Old: c.RateLimitPerUser, New: v})
			c.RateLimitPerUser = v
		}
	}
	if body.NSFW.has() && body.NSFW.V != c.NSFW {
		changes = append(changes, auditChange{Key: "nsfw", Old: c.NSFW, New: body.NSFW.V})
		c.NSFW = body.NSFW.V
	}
	if body.ParentID.Set && !isThread(c) {
		var next ID
		if body.ParentID.has() {
			next = body.ParentID.V
		}
		if next != c.ParentID {
			changes = append(changes, auditChange{Key: "parent_id", Old: idOrNil(c.ParentID), New: idOrNil(next)})
			c.ParentID = next
		}
	}
	if body.Position.has() && body.Position.V != c.Position {
		changes = append(changes, auditChange{Key: "position", Old: c.Position, New: body.Position.V})
		c.Position = body.Position.V
	}
	if len(changes) > 0 {
		s.dispatch(g.ID, "CHANNEL_UPDATE", IntentGuilds, s.channelObject(c))
		s.audit(g, AuditChannelUpdate, s.botID, c.ID, r.Reason, changes, nil)
	}
	return Response{Body: s.channelObject(c)}, nil
}

func idOrNil(id ID) any {
	if id == 0 {
		return nil
	}
	return id.String()
}

// handlePutOverwrite creates or replaces a channel permission overwrite. Discord lets the
// bot allow or deny only permissions it has itself in that channel.
func (s *Server) handlePutOverwrite(r *Request) (Response, *apiError) {
	var body struct {
		Type  opt[int]         `json:"type"`
		Allow opt[Permissions] `json:"allow"`
		Deny  opt[Permissions] `json:"deny"`
	}
	if e := decodeBody(r, &body); e != nil {
		return Response{}, e
	}
	target, e := pathID(r, "overwrite_id")
	if e != nil {
		return Response{}, e
	}
	if !body.Type.has() {
		return Response{}, invalidForm("type", "BASE_TYPE_REQUIRED", "This field is required")
	}
	if body.Type.V != 0 && body.Type.V != 1 {
		return Response{}, invalidForm("type", "BASE_TYPE_CHOICES", "Value must be one of "+quoteList(0, 1)+".")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, g, e := s.channelFor(r)
	if e != nil {
		return Response{}, e
	}
	if e := s.putOverwriteLocked(g, c, s.botID, Overwrite{ID: target, Type: body.Type.V, Allow: body.Allow.V, Deny: body.Deny.V}, r.Reason); e != nil {
		return Response{}, e
	}
	return Response{Status: http.StatusNoContent}, nil
}

// overwriteEditable checks that actor may change c's overwrites: a guild channel that is not
// a thread, Manage Roles in it (Discord's "Manage Permissions"), and, as Discord's
// documentation of the endpoint says, only bits actor has in the guild (bits: the
// overwrite's allow and deny), unless an overwrite in the channel allows actor Manage Roles.
// An @everyone deny in the channel does not stop actor from changing the bits it denies.
func (s *Server) overwriteEditable(g *Guild, c *Channel, actor ID, bits Permissions) *apiError {
	if g == nil {
		return apiErr(http.StatusForbidden, codeCannotActOnDM, "Cannot execute action on a DM channel")
	}
	if isThread(c) {
		return apiErr(http.StatusBadRequest, codeWrongChannelType, "Cannot execute action on this channel type")
	}
	if channelPermissions(g, c, actor, s.now())&PermManageRoles == 0 {
		return errMissingPermission
	}
	base := basePermissions(g, actor, s.now())
	if base == PermAll || bits&^base == 0 || manageRolesOverwrite(g, c, actor) {
		return nil
	}
	return errMissingPermission
}

// manageRolesOverwrite reports whether one of c's overwrites for actor (its member
// overwrite, or one of its roles') allows Manage Roles.
func manageRolesOverwrite(g *Guild, c *Channel, actor ID) bool {
	m := g.Members[actor]
	if m == nil {
		return false
	}
	for _, o := range c.PermissionOverwrites {
		if o.Allow&PermManageRoles == 0 {
			continue
		}
		if o.Type == 1 && o.ID == actor {
			return true
		}
		if o.Type == 0 && slices.Contains(m.Roles, o.ID) {
			return true
		}
	}
	return false
}

// putOverwriteLocked creates or replaces one overwrite of c as actor, with CHANNEL_UPDATE and
// an audit-log entry when something changed. Called with s.mu held.
func (s *Server) putOverwriteLocked(g *Guild, c *Channel, actor ID, ow Overwrite, reason string) *apiError {
	if e := s.overwriteEditable(g, c, actor, ow.Allow|ow.Deny); e != nil {
		return e
	}
	options := map[string]string{"id": ow.ID.String(), "type": strconv.Itoa(ow.Type)}
	switch ow.Type {
	case 0:
		role, ok := g.Roles[ow.ID]
		if !ok {
			return errUnknown("Role", codeUnknownRole)
		}
		options["role_name"] = role.Name
	case 1:
		if _, ok := s.st.users[ow.ID]; !ok {
			return errUnknown("User", codeUnknownUser)
		}
	}
	action := AuditOverwriteCreate
	var changes []auditChange
	replaced := false
	for i, o := range c.PermissionOverwrites {
		if o.ID == ow.ID {
			action = AuditOverwriteUpdate
			if o.Allow != ow.Allow {
				changes = append(changes, auditChange{Key: "allow", Old: o.Allow, New: ow.Allow})
			}
			if o.Deny != ow.Deny {
				changes = append(changes, auditChange{Key: "deny", Old: o.Deny, New: ow.Deny})
			}
			c.PermissionOverwrites[i] = ow
			replaced = true
			break
		}
	}
	if !replaced {
		changes = []auditChange{{Key: "id", New: ow.ID.String()}, {Key: "type", New: ow.Type},
			{Key: "allow", New: ow.Allow}, {Key: "deny", New: ow.Deny}}
		c.PermissionOverwrites = append(c.PermissionOverwrites, ow)
	}
	if !replaced || len(changes) > 0 {
		s.dispatch(g.ID, "CHANNEL_UPDATE", IntentGuilds, s.channelObject(c))
		s.audit(g, action, actor, c.ID, reason, changes, options)
	}
	return nil
}

// handleDeleteOverwrite deletes a channel permission overwrite (Manage Roles in the channel,
// and, as for a PUT, only an overwrite whose bits the bot has). Deleting one the channel
// does not have changes nothing and answers 204, as Discord does.
func (s *Server) handleDeleteOverwrite(r *Request) (Response, *apiError) {
	target, e := pathID(r, "overwrite_id")
	if e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, g, e := s.channelFor(r)
	if e != nil {
		return Response{}, e
	}
	if e := s.deleteOverwriteLocked(g, c, s.botID, target, r.Reason); e != nil {
		return Response{}, e
	}
	return Response{Status: http.StatusNoContent}, nil
}

// deleteOverwriteLocked removes c's overwrite for id as actor, with CHANNEL_UPDATE and an
// audit-log entry when there was one. Called with s.mu held.
func (s *Server) deleteOverwriteLocked(g *Guild, c *Channel, actor, id ID, reason string) *apiError {
	i := slices.IndexFunc(c.PermissionOverwrites, func(o Overwrite) bool { return o.ID == id })
	var bits Permissions
	if i >= 0 {
		bits = c.PermissionOverwrites[i].Allow | c.PermissionOverwrites[i].Deny
	}
	if e := s.overwriteEditable(g, c, actor, bits); e != nil {
		return e
	}
	if i < 0 {
		return nil
	}
	o := c.PermissionOverwrites[i]
	c.PermissionOverwrites = slices.Delete(c.PermissionOverwrites, i, i+1)
	s.dispatch(g.ID, "CHANNEL_UPDATE", IntentGuilds, s.channelObject(c))
	s.audit(g, AuditOverwriteDelete, actor, c.ID, reason, []auditChange{{Key: "id", Old: o.ID.String()}, {Key: "type", Old: o.Type},
		{Key: "allow", Old: o.Allow}, {Key: "deny", Old: o.Deny}}, map[string]string{"id": o.ID.String(), "type": strconv.Itoa(o.Type)})
	return nil
}

// messageBody is what create and edit accept. Embeds, components and allowed_mentions are
// kept as sent, so tests see exactly what the bot asked Discord to show.
type messageBody struct {
	Content         opt[string]            `json:"content"`
	Embeds          opt[[]json.RawMessage] `json:"embeds"`
	Components      opt[[]json.RawMessage] `json:"components"`
	AllowedMentions json.RawMessage        `json:"allowed_mentions"`
	Flags           opt[int]               `json:"flags"`
	StickerIDs      []ID                   `json:"sticker_ids"`
	Poll            json.RawMessage        `json:"poll"`
}

// check applies Discord's message limits that the spec cannot express.
func (b *messageBody) check() *apiError {
	if b.Content.has() && runeLen(b.Content.V) > 2000 {
		return invalidForm("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
	}
	if b.Embeds.has() {
		if len(b.Embeds.V) > 10 {
			return invalidForm("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
		}
		if e := checkEmbeds(b.Embeds.V); e != nil {
			return e
		}
	}
	return nil
}

// embedText is one limited text of an embed.
type embedText struct {
	field, v string
	max      int
}

// checkEmbeds applies the embed limits of message.mdx "Embed Limits".
func checkEmbeds(embeds []json.RawMessage) *apiError {
	var total int
	for i, raw := range embeds {
		var e struct {
			Title       string `json:"title"`
			Description string `json:"description"`
			Footer      *struct {
				Text string `json:"text"`
			} `json:"footer"`
			Author *struct {
				Name string `json:"name"`
			} `json:"author"`
			Fields []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"fields"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return invalidForm(fmt.Sprintf("embeds.%d", i), "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
		}
		// Limits count characters after trimming, and every text counts toward the total.
		limit := func(field, v string, max int) *apiError {
			n := runeLen(strings.TrimSpace(v))
			total += n
			if n > max {
				return invalidForm(fmt.Sprintf("embeds.%d.%s", i, field), "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", max))
			}
			return nil
		}
		texts := []embedText{{"title", e.Title, 256}, {"description", e.Description, 4096}}
		if e.Footer != nil {
			texts = append(texts, embedText{"footer.text", e.Footer.Text, 2048})
		}
		if e.Author != nil {
			texts = append(texts, embedText{"author.name", e.Author.Name, 256})
		}
		if len(e.Fields) > 25 {
			return invalidForm(fmt.Sprintf("embeds.%d.fields", i), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
		}
		for j, f := range e.Fields {
			texts = append(texts, embedText{fmt.Sprintf("fields.%d.name", j), f.Name, 256},
				embedText{fmt.Sprintf("fields.%d.value", j), f.Value, 1024})
		}
		for _, t := range texts {
			if err := limit(t.field, t.v, t.max); err != nil {
				return err
			}
		}
	}
	if total > 6000 {
		return invalidForm("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
	}
	return nil
}

// normalizeEmbeds fills in what Discord adds to every embed it stores (its type).
func normalizeEmbeds(in []json.RawMessage) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(in))
	for _, raw := range in {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil || m == nil {
			continue
		}
		if _, ok := m["type"]; !ok {
			m["type"] = "rich"
		}
		// Discord answers every field with its inline flag, false when it was not sent.
		if fields, ok := m["fields"].([]any); ok {
			for _, f := range fields {
				if fm, ok := f.(map[string]any); ok {
					if _, ok := fm["inline"]; !ok {
						fm["inline"] = false
					}
				}
			}
		}
		for k, v := range m {
			if v == nil {
				delete(m, k)
			}
		}
		b, _ := json.Marshal(m)
		out = append(out, b)
	}
	return out
}

func (s *Server) handleCreateMessage(r *Request) (Response, *apiError) {
	var body messageBody
	if e := decodeBody(r, &body); e != nil {
		return Response{}, e
	}
	if e := body.check(); e != nil {
		return Response{}, e
	}
	hasContent := body.Content.has() && strings.TrimSpace(body.Content.V) != ""
	if !hasContent && (!body.Embeds.has() || len(body.Embeds.V) == 0) && (!body.Components.has() || len(body.Components.V) == 0) &&
		len(body.StickerIDs) == 0 && len(body.Poll) == 0 {
		return Response{}, apiErr(http.StatusBadRequest, codeEmptyMessage, "Cannot send an empty message")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, g, e := s.channelFor(r)
	if e != nil {
		return Response{}, e
	}
	if g == nil {
		if len(c.Recipients) == 0 {
			return Response{}, apiErr(http.StatusForbidden, codeCannotSendToUser, "Cannot send messages to this user")
		}
		u, ok := s.st.users[c.Recipients[0]]
		// Discord delivers a bot's DM only to a user who shares a server with it (a user
		// banned from or never in the bot's servers gets none) and accepts DMs.
		if !ok || u.DMsClosed || u.Bot || !s.sharesGuildLocked(u.ID) {
			return Response{}, apiErr(http.StatusForbidden, codeCannotSendToUser, "Cannot send messages to this user")
		}
	} else {
		switch c.Type {
		case ChannelGuildCategory, channelGuildForum, channelGuildMedia:
			return Response{}, apiErr(http.StatusBadRequest, codeNonTextChannel, "Cannot send messages in a non-text channel")
		}
		need := PermViewChannel | PermSendMessages
		if isThread(c) {
			need = PermViewChannel | PermSendMessagesInThreads
		}
		if e := s.requireIn(g, c, s.botID, need); e != nil {
			return Response{}, e
		}
	}
	m := &Message{ID: s.newID(), ChannelID: c.ID, GuildID: c.GuildID, AuthorID: s.botID, Content: body.Content.V,
		Embeds: []json.RawMessage{}, Components: []json.RawMessage{}, Timestamp: s.now().UTC()}
	if body.Embeds.has() {
		m.Embeds = normalizeEmbeds(body.Embeds.V)
	}
	if body.Components.has() {
		m.Components = numberComponents(body.Components.V)
	}
	if len(body.AllowedMentions) > 0 && string(body.AllowedMentions) != "null" {
		m.AllowedMentions = append(json.RawMessage{}, body.AllowedMentions...)
	}
	m.Flags = body.Flags.V & settableMessageFlags
	s.postLocked(m)
	s.dispatchMessage("MESSAGE_CREATE", m)
	return Response{Body: s.messageJSON(m)}, nil
}

// dispatchMessage emits MESSAGE_CREATE or MESSAGE_UPDATE: the message with guild_id and the
// author's partial member in guilds. Called with s.mu held.
func (s *Server) dispatchMessage(event string, m *Message) {
	payload := s.messageJSON(m)
	intent := IntentDirectMessages
	if m.GuildID != 0 {
		intent = IntentGuildMessages
		payload["guild_id"] = m.GuildID
		if g, ok := s.st.guilds[m.GuildID]; ok {
			if mem, ok := g.Members[m.AuthorID]; ok {
				member := s.memberJSON(mem)
				delete(member, "user")
				payload["member"] = member
			}
		}
	}
	if c, ok := s.st.channels[m.ChannelID]; ok {
		payload["channel_type"] = c.Type
	}
	s.dispatch(m.GuildID, event, intent, payload)
}

// messageIn finds a live message of a channel. Called with s.mu held.
func (s *Server) messageIn(c *Channel, id ID) (*Message, *apiError) {
	for _, m := range s.st.messages[c.ID] {
		if m.ID == id && !m.Deleted {
			return m, nil
		}
	}
	return nil, errUnknown("Message", codeUnknownMessage)
}

func (s *Server) handleGetMessage(r *Request) (Response, *apiError) {
	id, e := pathID(r, "message_id")
	if e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, g, e := s.channelFor(r)
	if e != nil {
		return Response{}, e
	}
	if g != nil {
		if e := s.requireIn(g, c, s.botID, PermReadMessageHistory); e != nil {
			return Response{}, e
		}
	}
	m, e := s.messageIn(c, id)
	if e != nil {
		return Response{}, e
	}
	return Response{Body: s.messageJSON(m)}, nil
}

// handleListMessages pages through a channel newest first, like Discord: around, before and
// after are exclusive of each other (around wins, then before, then after).
func (s *Server) handleListMessages(r *Request) (Response, *apiError) {
	limit, e := queryInt(r, "limit", 50, 1, 100)
	if e != nil {
		return Response{}, e
	}
	var anchors [3]ID
	for i, name := range []string{"around", "before", "after"} {
		if anchors[i], e = queryID(r, name); e != nil {
			return Response{}, e
		}
	}
	around, before, after := anchors[0], anchors[1], anchors[2]
	s.mu.Lock()
	defer s.mu.Unlock()
	c, g, e := s.channelFor(r)
	if e != nil {
		return Response{}, e
	}
	out := []map[string]any{}
	if g != nil && channelPermissions(g, c, s.botID, s.now())&PermReadMessageHistory == 0 {
		// Without READ_MESSAGE_HISTORY Discord answers with no messages rather than an error.
		return Response{Body: out}, nil
	}
	var live []*Message // ascending by id
	for _, m := range s.st.messages[c.ID] {
		if !m.Deleted {
			live = append(live, m)
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i].ID < live[j].ID })
	var pick []*Message
	switch {
	case around != 0:
		idx := sort.Search(len(live), func(i int) bool { return live[i].ID >= around })
		lo := idx - limit/2
		if lo < 0 {
			lo = 0
		}
		hi := lo + limit
		if hi > len(live) {
			hi = len(live)
		}
		pick = live[lo:hi]
	case before != 0:
		idx := sort.Search(len(live), func(i int) bool { return live[i].ID >= before })
		lo := idx - limit
		if lo < 0 {
			lo = 0
		}
		pick = live[lo:idx]
	case after != 0:
		idx := sort.Search(len(live), func(i int) bool { return live[i].ID > after })
		hi := idx + limit
		if hi > len(live) {
			hi = len(live)
		}
		pick = live[idx:hi]
	default:
		lo := len(live) - limit
		if lo < 0 {
			lo = 0
		}
		pick = live[lo:]
	}
	for i := len(pick) - 1; i >= 0; i-- {
		out = append(out, s.messageJSON(pick[i]))
	}
	return Response{Body: out}, nil
}

// handleUpdateMessage edits one of the bot's own messages; Discord refuses edits of other
// authors' messages with 50005.
func (s *Server) handleUpdateMessage(r *Request) (Response, *apiError) {
	id, e := pathID(r, "message_id")
	if e != nil {
		return Response{}, e
	}
	var body messageBody
	if e := decodeBody(r, &body); e != nil {
		return Response{}, e
	}
	if e := body.check(); e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, _, e := s.channelFor(r)
	if e != nil {
		return Response{}, e
	}
	m, e := s.messageIn(c, id)
	if e != nil {
		return Response{}, e
	}
	if m.AuthorID != s.botID {
		return Response{}, apiErr(http.StatusForbidden, codeCannotEditOthers, "Cannot edit a message authored by another user")
	}
	next := *m
	if body.Content.Set {
		next.Content = body.Content.V
	}
	if body.Embeds.Set {
		next.Embeds = normalizeEmbeds(body.Embeds.V)
	}
	if body.Components.Set {
		next.Components = numberComponents(append([]json.RawMessage{}, body.Components.V...))
	}
	if body.Flags.has() {
		// Only SUPPRESS_EMBEDS can change after sending.
		next.Flags = m.Flags&^flagSuppressEmbeds | body.Flags.V&flagSuppressEmbeds
	}
	if len(body.AllowedMentions) > 0 && string(body.AllowedMentions) != "null" {
		next.AllowedMentions = append(json.RawMessage{}, body.AllowedMentions...)
	}
	if strings.TrimSpace(next.Content) == "" && len(next.Embeds) == 0 && len(next.Components) == 0 {
		return Response{}, apiErr(http.StatusBadRequest, codeEmptyMessage, "Cannot send an empty message")
	}
	now := s.now().UTC()
	next.EditedTimestamp = &now
	*m = next
	s.messageEditedLocked()
	s.dispatchMessage("MESSAGE_UPDATE", m)
	return Response{Body: s.messageJSON(m)}, nil
}

// handleDeleteMessage deletes a message: the bot's own freely, others' with MANAGE_MESSAGES
// (never in a DM). Only deleting someone else's message leaves an audit-log entry.
func (s *Server) handleDeleteMessage(r *Request) (Response, *apiError) {
	id, e := pathID(r, "message_id")
	if e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, g, e := s.channelFor(r)
	if e != nil {
		return Response{}, e
	}
	m, e := s.messageIn(c, id)
	if e != nil {
		return Response{}, e
	}
	if m.AuthorID != s.botID {
		if g == nil {
			return Response{}, apiErr(http.StatusForbidden, codeCannotActOnDM, "Cannot execute action on a DM channel")
		}
		if e := s.requireIn(g, c, s.botID, PermManageMessages); e != nil {
			return Response{}, e
		}
	}
	m.Deleted = true
	s.dispatchDeletes(c, []ID{m.ID})
	if g != nil && m.AuthorID != s.botID {
		s.audit(g, AuditMessageDelete, s.botID, m.AuthorID, r.Reason, nil, map[string]string{"channel_id": c.ID.String(), "count": "1"})
	}
	return Response{Status: http.StatusNoContent}, nil
}

// dispatchDeletes emits MESSAGE_DELETE for one message or MESSAGE_DELETE_BULK for several.
// Called with s.mu held.
func (s *Server) dispatchDeletes(c *Channel, ids []ID) {
	if len(ids) == 0 {
		return
	}
	intent := IntentGuildMessages
	if c.GuildID == 0 {
		intent = IntentDirectMessages
	}
	payload := map[string]any{"channel_id": c.ID}
	if c.GuildID != 0 {
		payload["guild_id"] = c.GuildID
	}
	if len(ids) == 1 {
		payload["id"] = ids[0]
		s.dispatch(c.GuildID, "MESSAGE_DELETE", intent, payload)
		return
	}
	payload["ids"] = append([]ID{}, ids...)
	s.dispatch(c.GuildID, "MESSAGE_DELETE_BULK", intent, payload)
}

// handleBulkDeleteMessages deletes 2–100 messages at once. Ids that name no message of the
// channel count toward the limits but are skipped, as Discord documents; any message older
// than two weeks refuses the whole call with 50034.
func (s *Server) handleBulkDeleteMessages(r *Request) (Response, *apiError) {
	var body struct {
		Messages []ID `json:"messages"`
	}
	if e := decodeBody(r, &body); e != nil {
		return Response{}, e
	}
	if n := len(body.Messages); n < 2 || n > 100 {
		return Response{}, apiErr(http.StatusBadRequest, codeTooFewOrManyMessages,
			"You must provide at least 2 and fewer than 100 messages to delete.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, g, e := s.channelFor(r)
	if e != nil {
		return Response{}, e
	}
	if g == nil {
		return Response{}, apiErr(http.StatusForbidden, codeCannotActOnDM, "Cannot execute action on a DM channel")
	}
	if e := s.requireIn(g, c, s.botID, PermManageMessages|PermReadMessageHistory); e != nil {
		return Response{}, e
	}
	oldest := s.now().Add(-bulkDeleteMaxAge)
	for _, id := range body.Messages {
		if id.Time().Before(oldest) {
			return Response{}, apiErr(http.StatusBadRequest, codeMessageTooOld, "A message provided was too old to bulk delete")
		}
	}
	var deleted []ID
	for _, id := range body.Messages {
		if m, e := s.messageIn(c, id); e == nil {
			m.Deleted = true
			deleted = append(deleted, id)
		}
	}
	if len(deleted) > 0 {
		if len(deleted) == 1 {
			// Discord still reports a bulk delete as one bulk event.
			payload := map[string]any{"channel_id": c.ID, "guild_id": c.GuildID, "ids": deleted}
			s.dispatch(c.GuildID, "MESSAGE_DELETE_BULK", IntentGuildMessages, payload)
		} else {
			s.dispatchDeletes(c, deleted)
		}
		s.audit(g, AuditMessageBulkDelete, s.botID, c.ID, r.Reason, nil, map[string]string{"count": strconv.Itoa(len(deleted))})
	}
	return Response{Status: http.StatusNoContent}, nil
}

// sharesGuildLocked reports whether user is a member of a guild the bot is in. Called with
// s.mu held.
func (s *Server) sharesGuildLocked(user ID) bool {
	for _, g := range s.st.guilds {
		if _, bot := g.Members[s.botID]; !bot {
			continue
		}
		if _, ok := g.Members[user]; ok {
			return true
		}
	}
	return false
}
