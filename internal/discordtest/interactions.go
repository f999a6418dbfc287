package discordtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Interactions: the records a user's slash command or click creates, the callback that
// acknowledges them, and the webhook endpoints for the original response and follow-ups
// (receiving-and-responding.mdx). Everything here is guarded by Server.mu.

// Interaction types.
const (
	InteractionPing               = 1
	InteractionApplicationCommand = 2
	InteractionMessageComponent   = 3
	InteractionAutocomplete       = 4
	InteractionModalSubmit        = 5
)

// Interaction callback types.
const (
	CallbackPong                     = 1
	CallbackChannelMessageWithSource = 4
	CallbackDeferredChannelMessage   = 5
	CallbackDeferredUpdateMessage    = 6
	CallbackUpdateMessage            = 7
	CallbackAutocompleteResult       = 8
	CallbackModal                    = 9
)

// Message flags the interaction endpoints look at.
const (
	MessageFlagSuppressEmbeds        = 1 << 2
	MessageFlagEphemeral             = 1 << 6
	MessageFlagLoading               = 1 << 7
	MessageFlagSuppressNotifications = 1 << 12
	MessageFlagIsVoiceMessage        = 1 << 13
	MessageFlagIsComponentsV2        = 1 << 15
)

// Message types of interaction responses.
const (
	messageTypeReply              = 19
	messageTypeChatInputCommand   = 20
	messageTypeContextMenuCommand = 23
)

const (
	defaultInteractionWindow   = 3 * time.Second
	defaultInteractionTokenTTL = 15 * time.Minute
	attachmentSizeLimit        = 10 << 20
	codeAlreadyAcknowledged    = 40060
)

// WithInteractionWindow sets how long after an interaction is created its callback is
// accepted (Discord: 3 seconds). The fake reads the time from its clock (WithClock).
func WithInteractionWindow(d time.Duration) Option {
	return setting(func(s *Server) { s.ext.gw.ix.window = d })
}

// WithInteractionTokenTTL sets how long an interaction token serves follow-ups and edits of
// the original response (Discord: 15 minutes).
func WithInteractionTokenTTL(d time.Duration) Option {
	return setting(func(s *Server) { s.ext.gw.ix.tokenTTL = d })
}

// Interaction is an interaction a user started. It is a snapshot: what the bot did with it
// is read with Responses, Acknowledged and WaitResponses.
type Interaction struct {
	ID        ID
	Token     string
	Type      int
	GuildID   ID // 0 in a DM
	ChannelID ID
	UserID    ID
	// Payload is the interaction object exactly as INTERACTION_CREATE carried it.
	Payload json.RawMessage

	srv *Server
}

// Responses lists what the bot showed for this interaction: the original response first,
// then the follow-ups (see Server.Responses).
func (i *Interaction) Responses() []Message { return i.srv.Responses(i.ID) }

// Acknowledged says whether the bot has answered the callback.
func (i *Interaction) Acknowledged() bool { return i.srv.Acknowledged(i.ID) }

// WaitResponses waits until the bot has shown at least n messages for this interaction
// (see Server.WaitResponses).
func (i *Interaction) WaitResponses(ctx context.Context, n int) ([]Message, error) {
	return i.srv.WaitResponses(ctx, i.ID, n)
}

type interactionStore struct {
	window   time.Duration
	tokenTTL time.Duration
	byID     map[ID]*interactionRecord
	byToken  map[string]*interactionRecord
	changed  chan struct{} // closed and replaced whenever an interaction changes
}

func newInteractionStore() interactionStore {
	return interactionStore{
		window: defaultInteractionWindow, tokenTTL: defaultInteractionTokenTTL,
		byID: map[ID]*interactionRecord{}, byToken: map[string]*interactionRecord{},
		changed: make(chan struct{}),
	}
}

func (st *interactionStore) notify() {
	close(st.changed)
	st.changed = make(chan struct{})
}

type interactionRecord struct {
	pub          *Interaction
	created      time.Time
	commandName  string
	acked        bool
	callbackType int
	callbackData json.RawMessage
	// original is the response message; for DEFERRED_UPDATE_MESSAGE and UPDATE_MESSAGE it
	// is the message the component is on.
	original  *Message
	followups []*Message
	// source is the message a component interaction came from.
	source *Message
}

func (s *Server) ixStore() *interactionStore { return &s.ext.gw.ix }

// Responses lists the messages the bot showed for an interaction, as it last left them:
// the original response first (a deferred response still loading has MessageFlagLoading;
// after UPDATE_MESSAGE it is the updated component message), then the follow-ups in order.
// Ephemeral messages carry MessageFlagEphemeral; deleted ones are kept with Deleted set.
func (s *Server) Responses(interactionID ID) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.ixStore().byID[interactionID]
	if rec == nil {
		return nil
	}
	return rec.responses()
}

func (rec *interactionRecord) responses() []Message {
	var out []Message
	if rec.original != nil {
		out = append(out, copyMessage(rec.original))
	}
	for _, m := range rec.followups {
		out = append(out, copyMessage(m))
	}
	return out
}

// Acknowledged says whether an interaction's callback has been answered.
func (s *Server) Acknowledged(interactionID ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.ixStore().byID[interactionID]
	return rec != nil && rec.acked
}

// Callback returns the type and data of an interaction's callback (for autocomplete
// choices and modals, which create no message); ok is false until it is answered.
func (s *Server) Callback(interactionID ID) (typ int, data json.RawMessage, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.ixStore().byID[interactionID]
	if rec == nil || !rec.acked {
		return 0, nil, false
	}
	return rec.callbackType, append(json.RawMessage(nil), rec.callbackData...), true
}

// WaitResponses waits until an interaction has at least n response messages that are not
// loading (a deferred response counts once it has been filled in), and returns them all.
func (s *Server) WaitResponses(ctx context.Context, interactionID ID, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		st := s.ixStore()
		rec, ch := st.byID[interactionID], st.changed
		var msgs []Message
		if rec != nil {
			msgs = rec.responses()
		}
		s.mu.Unlock()
		if rec == nil {
			return nil, fmt.Errorf("discordtest: unknown interaction %s", interactionID)
		}
		shown := 0
		for _, m := range msgs {
			if m.Flags&MessageFlagLoading == 0 {
				shown++
			}
		}
		if shown >= n {
			return msgs, nil
		}
		select {
		case <-ctx.Done():
			return msgs, fmt.Errorf("discordtest: interaction %s has %d of %d responses: %w", interactionID, shown, n, context.Cause(ctx))
		case <-ch:
		}
	}
}

func (s *Server) interactionRoutes() {
	s.route(http.MethodPost, "/interactions/{interaction_id}/{interaction_token}/callback", authNone, s.handleCallback)
	// Discord's spec names these webhook routes {webhook_id}/{webhook_token}; for an
	// interaction they are the application id and the interaction token.
	s.route(http.MethodPost, "/webhooks/{webhook_id}/{webhook_token}", authNone, s.handleFollowup)
	for _, path := range []string{"/webhooks/{webhook_id}/{webhook_token}/messages/@original", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"} {
		s.route(http.MethodGet, path, authNone, s.handleWebhookMessage)
		s.route(http.MethodPatch, path, authNone, s.handleWebhookMessage)
		s.route(http.MethodDelete, path, authNone, s.handleWebhookMessage)
	}
}

// newInteractionLocked records an interaction and dispatches INTERACTION_CREATE. It
// panics when the user could not have started it: the fake's actions are test code, and a
// wrong id there is a bug in the test.
func (s *Server) newInteractionLocked(typ int, guild, channel, user ID, data map[string]any, message map[string]any) *interactionRecord {
	u, ok := s.st.users[user]
	if !ok {
		panic(fmt.Sprintf("discordtest: unknown user %s", user))
	}
	var g *Guild
	var c *Channel
	if guild != 0 {
		g = s.mustGuild(guild)
		c = g.Channels[channel]
		if c == nil {
			panic(fmt.Sprintf("discordtest: channel %s is not in guild %s", channel, guild))
		}
		if _, ok := g.Members[user]; !ok {
			panic(fmt.Sprintf("discordtest: user %s is not a member of guild %s", user, guild))
		}
	} else {
		c = s.dmChannelForActionLocked(u.ID, channel)
	}
	id := s.newID()
	token := base64.RawURLEncoding.EncodeToString([]byte("interaction:" + id.String() + ":" + randomHex(24)))
	p := map[string]any{
		"id": id, "application_id": s.appID, "type": typ, "token": token, "version": 1,
		"locale": "en-US", "entitlements": []any{}, "attachment_size_limit": attachmentSizeLimit,
		"channel_id": c.ID,
	}
	ch := s.channelObject(c)
	if g != nil {
		perms := channelPermissions(g, c, user, s.now())
		member := s.memberJSON(g.Members[user])
		member["permissions"] = perms
		ch["permissions"] = perms
		p["guild_id"] = g.ID
		p["guild"] = map[string]any{"id": g.ID, "locale": "en-US", "features": []string{}}
		p["guild_locale"] = "en-US"
		p["member"] = member
		p["app_permissions"] = channelPermissions(g, c, s.botID, s.now())
		p["authorizing_integration_owners"] = map[string]any{"0": g.ID}
		p["context"] = 0
	} else {
		dm := PermViewChannel | PermSendMessages | PermReadMessageHistory | PermAddReactions | PermEmbedLinks |
			permAttachFiles | PermMentionEveryone | 1<<18 /* USE_EXTERNAL_EMOJIS */
		ch["permissions"] = dm
		p["user"] = s.userJSON(user)
		p["app_permissions"] = dm
		p["authorizing_integration_owners"] = map[string]any{"0": "0"}
		p["context"] = 1
	}
	p["channel"] = ch
	if data != nil {
		p["data"] = data
	}
	if message != nil {
		p["message"] = message
	}
	raw, err := json.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("discordtest: cannot encode interaction: %v", err))
	}
	rec := &interactionRecord{
		pub:     &Interaction{ID: id, Token: token, Type: typ, GuildID: guild, ChannelID: c.ID, UserID: user, Payload: raw, srv: s},
		created: s.now(),
	}
	if data != nil {
		rec.commandName, _ = data["name"].(string)
	}
	st := s.ixStore()
	st.byID[id] = rec
	st.byToken[token] = rec
	st.notify()
	s.dispatch(guild, "INTERACTION_CREATE", 0, json.RawMessage(raw))
	return rec
}

// dmChannelForActionLocked returns the DM channel between the bot and user (creating it),
// or checks that channel is that DM.
func (s *Server) dmChannelForActionLocked(user, channel ID) *Channel {
	if channel != 0 {
		c := s.st.channels[channel]
		if c == nil || c.Type != ChannelDM {
			panic(fmt.Sprintf("discordtest: channel %s is not a DM channel", channel))
		}
		for _, r := range c.Recipients {
			if r == user {
				return c
			}
		}
		panic(fmt.Sprintf("discordtest: user %s is not a recipient of DM channel %s", user, channel))
	}
	return s.dmChannel(user)
}

// messageFields reads a message body: JSON, or multipart/form-data with payload_json.
// Uploaded files are read and dropped; when payload_json lists no attachments, one is
// listed per file, so a message carrying only a file is not empty.
func messageFields(r *Request) (map[string]json.RawMessage, *apiError) {
	body := r.Body
	var files []map[string]any
	mt, params, _ := mime.ParseMediaType(r.HTTP.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		body = nil
		bad := &apiError{Status: http.StatusBadRequest, Message: "Invalid Form Body", Code: 50035}
		mr := multipart.NewReader(bytes.NewReader(r.Body), params["boundary"])
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, bad
			}
			data, err := io.ReadAll(part)
			if err != nil {
				return nil, bad
			}
			switch {
			case part.FormName() == "payload_json":
				body = data
			case part.FileName() != "":
				files = append(files, map[string]any{"id": len(files), "filename": part.FileName()})
			}
		}
	}
	f := map[string]json.RawMessage{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &f); err != nil {
			return nil, &apiError{Status: http.StatusBadRequest, Message: "The request body contains invalid JSON.", Code: 50109}
		}
	}
	if _, listed := f["attachments"]; !listed && len(files) > 0 {
		f["attachments"], _ = json.Marshal(files)
	}
	return f, nil
}

// carriesMore says whether a message body has content beyond text, embeds and components
// (attachments, a poll or stickers), which keeps it from being empty.
func carriesMore(f map[string]json.RawMessage) bool {
	for _, k := range []string{"attachments", "sticker_ids"} {
		var items []json.RawMessage
		if json.Unmarshal(f[k], &items) == nil && len(items) > 0 {
			return true
		}
	}
	return !isNull(f["poll"])
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// applyMessageFields sets the fields a message create or edit carries; absent fields are
// left alone and null clears.
// Discord's message limits apply here as to a channel message: an interaction response, its
// edits and followups over 2000 characters or the embed limits are refused with 50035.
func applyMessageFields(m *Message, f map[string]json.RawMessage) *apiError {
	if raw, ok := f["content"]; ok {
		m.Content = ""
		if !isNull(raw) {
			if err := json.Unmarshal(raw, &m.Content); err != nil {
				return invalidForm("content", "BASE_TYPE_STRING", "Must be a string.")
			}
			if runeLen(m.Content) > 2000 {
				return invalidForm("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
			}
		}
	}
	if raw, ok := f["embeds"]; ok && !isNull(raw) {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return invalidForm("embeds", "BASE_TYPE_LIST", "Must be a list.")
		}
		if len(items) > 10 {
			return invalidForm("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
		}
		if e := checkEmbeds(items); e != nil {
			return e
		}
	}
	for name, dst := range map[string]*[]json.RawMessage{"embeds": &m.Embeds, "components": &m.Components} {
		raw, ok := f[name]
		if !ok {
			continue
		}
		*dst = nil
		if !isNull(raw) {
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				return invalidForm(name, "BASE_TYPE_LIST", "Must be a list.")
			}
			if name == "embeds" {
				items = normalizeEmbeds(items)
			} else {
				items = numberComponents(items)
			}
			*dst = items
		}
	}
	if raw, ok := f["allowed_mentions"]; ok {
		m.AllowedMentions = nil
		if !isNull(raw) {
			m.AllowedMentions = append(json.RawMessage(nil), raw...)
		}
	}
	return nil
}

func readFlags(f map[string]json.RawMessage) (int, *apiError) {
	raw, ok := f["flags"]
	if !ok || isNull(raw) {
		return 0, nil
	}
	var flags int
	if err := json.Unmarshal(raw, &flags); err != nil {
		return 0, invalidForm("flags", "NUMBER_TYPE_COERCE", "Value is not int.")
	}
	return flags, nil
}

func emptyMessage(m *Message) bool {
	return m.Content == "" && len(m.Embeds) == 0 && len(m.Components) == 0
}

var errEmptyMessage = &apiError{Status: http.StatusBadRequest, Message: "Cannot send an empty message", Code: codeEmptyMessage}

var errUnknownWebhook = errUnknown("Webhook", codeUnknownWebhook)

// responseType is the message type of a response to the interaction.
func (rec *interactionRecord) responseType() int {
	if rec.pub.Type == InteractionMessageComponent {
		return messageTypeReply
	}
	var d struct {
		Data struct {
			Type int `json:"type"`
		} `json:"data"`
	}
	_ = json.Unmarshal(rec.pub.Payload, &d)
	if d.Data.Type == 2 || d.Data.Type == 3 {
		return messageTypeContextMenuCommand
	}
	return messageTypeChatInputCommand
}

// newResponseLocked creates a message the interaction shows: stored with the interaction,
// and in the channel (with MESSAGE_CREATE) unless ephemeral.
func (s *Server) newResponseLocked(rec *interactionRecord, f map[string]json.RawMessage, flags int) (*Message, *apiError) {
	m := &Message{
		ID: s.newID(), ChannelID: rec.pub.ChannelID, GuildID: rec.pub.GuildID, AuthorID: s.botID,
		Type: rec.responseType(), Timestamp: s.now().UTC(), WebhookID: s.appID, InteractionID: rec.pub.ID, Flags: flags,
	}
	if e := applyMessageFields(m, f); e != nil {
		return nil, e
	}
	if m.Flags&MessageFlagLoading == 0 && emptyMessage(m) && !carriesMore(f) {
		return nil, errEmptyMessage
	}
	if m.Flags&MessageFlagEphemeral == 0 {
		s.postLocked(m)
		s.dispatchMessageLocked("MESSAGE_CREATE", m)
	}
	return m, nil
}

// editMessageLocked applies an edit to a message the interaction shows. Filling in a
// deferred response clears LOADING; later edits set edited_timestamp.
func (s *Server) editMessageLocked(m *Message, f map[string]json.RawMessage) *apiError {
	flags, e := readFlags(f)
	if e != nil {
		return e
	}
	edited := *m
	edited.Embeds = append([]json.RawMessage(nil), m.Embeds...)
	edited.Components = append([]json.RawMessage(nil), m.Components...)
	if e := applyMessageFields(&edited, f); e != nil {
		return e
	}
	if _, ok := f["flags"]; ok {
		// Only SUPPRESS_EMBEDS can be set and unset, IS_COMPONENTS_V2 only set (webhook.mdx).
		edited.Flags = edited.Flags&^MessageFlagSuppressEmbeds | flags&(MessageFlagSuppressEmbeds|MessageFlagIsComponentsV2)
	}
	if edited.Flags&MessageFlagLoading != 0 {
		edited.Flags &^= MessageFlagLoading
	} else {
		now := s.now().UTC()
		edited.EditedTimestamp = &now
	}
	if emptyMessage(&edited) && !carriesMore(f) {
		return errEmptyMessage
	}
	*m = edited
	s.messageEditedLocked()
	if m.Flags&MessageFlagEphemeral == 0 {
		s.dispatchMessageLocked("MESSAGE_UPDATE", m)
	}
	return nil
}

// dispatchMessageLocked dispatches MESSAGE_CREATE or MESSAGE_UPDATE for a bot message.
func (s *Server) dispatchMessageLocked(event string, m *Message) {
	d := s.responseJSONLocked(m)
	intent := IntentDirectMessages
	if m.GuildID != 0 {
		intent = IntentGuildMessages
		d["guild_id"] = m.GuildID
		if g := s.st.guilds[m.GuildID]; g != nil {
			if mem := g.Members[m.AuthorID]; mem != nil {
				d["member"] = partialMemberJSON(s.memberJSON(mem))
			}
		}
	}
	s.dispatch(m.GuildID, event, intent, d)
}

func partialMemberJSON(m map[string]any) map[string]any {
	delete(m, "user")
	return m
}

// responseJSONLocked renders a message, with the interaction metadata of the interaction
// that created it.
func (s *Server) responseJSONLocked(m *Message) map[string]any {
	out := s.messageJSON(m)
	if m.InteractionID == 0 {
		return out
	}
	rec := s.ixStore().byID[m.InteractionID]
	if rec == nil {
		return out
	}
	owners := map[string]any{"0": rec.pub.GuildID}
	if rec.pub.GuildID == 0 {
		owners = map[string]any{"0": "0"}
	}
	meta := map[string]any{"id": rec.pub.ID, "type": rec.pub.Type, "user": s.userJSON(rec.pub.UserID), "authorizing_integration_owners": owners}
	if rec.original != nil && rec.original != m {
		meta["original_response_message_id"] = rec.original.ID
	}
	if rec.pub.Type == InteractionMessageComponent && rec.source != nil {
		meta["interacted_message_id"] = rec.source.ID
	}
	out["interaction_metadata"] = meta
	out["application_id"] = s.appID
	if rec.pub.Type == InteractionApplicationCommand {
		out["interaction"] = map[string]any{"id": rec.pub.ID, "type": rec.pub.Type, "name": rec.commandName, "user": s.userJSON(rec.pub.UserID)}
	}
	return out
}

// callbackAllowed says whether a callback type answers an interaction type
// (receiving-and-responding.mdx "Interaction Callback Type").
func callbackAllowed(interaction, callback int) bool {
	switch callback {
	case CallbackPong:
		return interaction == InteractionPing
	case CallbackChannelMessageWithSource, CallbackDeferredChannelMessage:
		return interaction == InteractionApplicationCommand || interaction == InteractionMessageComponent || interaction == InteractionModalSubmit
	case CallbackDeferredUpdateMessage, CallbackUpdateMessage:
		return interaction == InteractionMessageComponent || interaction == InteractionModalSubmit
	case CallbackAutocompleteResult:
		return interaction == InteractionAutocomplete
	case CallbackModal:
		return interaction == InteractionApplicationCommand || interaction == InteractionMessageComponent
	}
	return false
}

func (s *Server) handleCallback(r *Request) (Response, *apiError) {
	id, _ := r.ID("interaction_id")
	token := r.HTTP.PathValue("interaction_token")
	body, e := messageFields(r)
	if e != nil {
		return Response{}, e
	}
	var typ int
	if raw, ok := body["type"]; !ok || isNull(raw) {
		return Response{}, invalidForm("type", "BASE_TYPE_REQUIRED", "This field is required")
	} else if err := json.Unmarshal(raw, &typ); err != nil {
		return Response{}, invalidForm("type", "NUMBER_TYPE_COERCE", "Value is not int.")
	}
	rawData := body["data"]

	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.ixStore()
	rec := st.byID[id]
	if rec == nil || rec.pub.Token != token {
		s.report("interaction callback for unknown interaction %s", id)
		return Response{}, errUnknown("interaction", codeUnknownInteraction)
	}
	if rec.acked {
		s.report("interaction %s acknowledged twice (callback type %d after %d)", id, typ, rec.callbackType)
		return Response{}, &apiError{Status: http.StatusBadRequest, Message: "Interaction has already been acknowledged.", Code: codeAlreadyAcknowledged}
	}
	if late := s.now().Sub(rec.created); late > st.window {
		s.report("interaction %s answered after %v, past the %v window", id, late, st.window)
		return Response{}, errUnknown("interaction", codeUnknownInteraction)
	}
	if !callbackAllowed(rec.pub.Type, typ) {
		s.report("interaction %s of type %d answered with callback type %d", id, rec.pub.Type, typ)
		return Response{}, invalidForm("type", "INTERACTION_RESPONSE_TYPE_INVALID", fmt.Sprintf("Interaction response type %d is invalid for interaction type %d.", typ, rec.pub.Type))
	}
	data := map[string]json.RawMessage{}
	if !isNull(rawData) {
		if err := json.Unmarshal(rawData, &data); err != nil {
			return Response{}, invalidForm("data", "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
		}
	}
	flags, e := readFlags(data)
	if e != nil {
		return Response{}, e
	}
	switch typ {
	case CallbackChannelMessageWithSource:
		allowed := MessageFlagSuppressEmbeds | MessageFlagEphemeral | MessageFlagIsComponentsV2 | MessageFlagIsVoiceMessage | MessageFlagSuppressNotifications
		m, e := s.newResponseLocked(rec, data, flags&allowed)
		if e != nil {
			return Response{}, e
		}
		rec.original = m
	case CallbackDeferredChannelMessage:
		// The user sees "thinking…" until the bot edits @original.
		m, e := s.newResponseLocked(rec, map[string]json.RawMessage{}, MessageFlagLoading|flags&MessageFlagEphemeral)
		if e != nil {
			return Response{}, e
		}
		rec.original = m
	case CallbackDeferredUpdateMessage:
		rec.original = rec.source
	case CallbackUpdateMessage:
		if rec.source == nil {
			return Response{}, errUnknown("Message", codeUnknownMessage)
		}
		if e := s.editMessageLocked(rec.source, data); e != nil {
			return Response{}, e
		}
		rec.original = rec.source
	}
	rec.acked = true
	rec.callbackType = typ
	rec.callbackData = append(json.RawMessage(nil), rawData...)
	st.notify()

	if v := r.HTTP.URL.Query().Get("with_response"); !strings.EqualFold(v, "true") && v != "1" {
		return Response{Status: http.StatusNoContent}, nil
	}
	ia := map[string]any{"id": rec.pub.ID, "type": rec.pub.Type, "channel_id": rec.pub.ChannelID}
	if rec.pub.GuildID != 0 {
		ia["guild_id"] = rec.pub.GuildID
	}
	out := map[string]any{"interaction": ia}
	if m := rec.original; m != nil && (typ == CallbackChannelMessageWithSource || typ == CallbackDeferredChannelMessage || typ == CallbackUpdateMessage) {
		ia["response_message_id"] = m.ID
		ia["response_message_loading"] = m.Flags&MessageFlagLoading != 0
		ia["response_message_ephemeral"] = m.Flags&MessageFlagEphemeral != 0
		if typ != CallbackDeferredChannelMessage {
			out["resource"] = map[string]any{"type": typ, "message": s.responseJSONLocked(m)}
		}
	}
	return Response{Status: http.StatusOK, Body: out}, nil
}

// webhookInteractionLocked finds the interaction behind a webhook id and token. The
// webhook exists once the interaction is acknowledged and until the token expires.
func (s *Server) webhookInteractionLocked(r *Request) (*interactionRecord, *apiError) {
	app, _ := r.ID("webhook_id")
	token := r.HTTP.PathValue("webhook_token")
	st := s.ixStore()
	rec := st.byToken[token]
	if app != s.appID || rec == nil {
		s.report("%s: unknown webhook (not an interaction of this application)", r.Route)
		return nil, errUnknownWebhook
	}
	if age := s.now().Sub(rec.created); age > st.tokenTTL {
		s.report("%s: interaction %s token used %v after creation, past its %v lifetime", r.Route, rec.pub.ID, age, st.tokenTTL)
		return nil, errUnknownWebhook
	}
	if !rec.acked {
		s.report("%s: interaction %s used before its callback was answered", r.Route, rec.pub.ID)
		return nil, errUnknownWebhook
	}
	return rec, nil
}

func (s *Server) handleFollowup(r *Request) (Response, *apiError) {
	f, e := messageFields(r)
	if e != nil {
		return Response{}, e
	}
	flags, e := readFlags(f)
	if e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, e := s.webhookInteractionLocked(r)
	if e != nil {
		return Response{}, e
	}
	if m := rec.original; m != nil && m.Flags&MessageFlagLoading != 0 && rec.callbackType == CallbackDeferredChannelMessage {
		// Right after a deferred response, a follow-up fills in the loading message and keeps
		// its ephemeral state (deprecated, but documented).
		if e := s.editMessageLocked(m, f); e != nil {
			return Response{}, e
		}
		s.ixStore().notify()
		return Response{Body: s.responseJSONLocked(m)}, nil
	}
	allowed := MessageFlagSuppressEmbeds | MessageFlagEphemeral | MessageFlagIsComponentsV2 | MessageFlagSuppressNotifications
	m, e := s.newResponseLocked(rec, f, flags&allowed)
	if e != nil {
		return Response{}, e
	}
	rec.followups = append(rec.followups, m)
	s.ixStore().notify()
	return Response{Body: s.responseJSONLocked(m)}, nil
}

// handleWebhookMessage serves GET, PATCH and DELETE of @original and of follow-ups.
func (s *Server) handleWebhookMessage(r *Request) (Response, *apiError) {
	var f map[string]json.RawMessage
	if r.HTTP.Method == http.MethodPatch {
		var e *apiError
		if f, e = messageFields(r); e != nil {
			return Response{}, e
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, e := s.webhookInteractionLocked(r)
	if e != nil {
		return Response{}, e
	}
	var m *Message
	if strings.HasSuffix(r.HTTP.URL.Path, "/messages/@original") {
		m = rec.original
	} else if id, ok := r.ID("message_id"); ok {
		for _, c := range append([]*Message{rec.original}, rec.followups...) {
			if c != nil && c.ID == id {
				m = c
			}
		}
	}
	if m == nil || m.Deleted {
		return Response{}, errUnknown("Message", codeUnknownMessage)
	}
	switch r.HTTP.Method {
	case http.MethodPatch:
		if e := s.editMessageLocked(m, f); e != nil {
			return Response{}, e
		}
		s.ixStore().notify()
	case http.MethodDelete:
		m.Deleted = true
		if m.Flags&MessageFlagEphemeral == 0 {
			d := map[string]any{"id": m.ID, "channel_id": m.ChannelID}
			intent := IntentDirectMessages
			if m.GuildID != 0 {
				d["guild_id"] = m.GuildID
				intent = IntentGuildMessages
			}
			s.dispatch(m.GuildID, "MESSAGE_DELETE", intent, d)
		}
		s.ixStore().notify()
		return Response{Status: http.StatusNoContent}, nil
	}
	return Response{Body: s.responseJSONLocked(m)}, nil
}

// findMessageLocked finds a message in a channel: a stored one, or an ephemeral response.
func (s *Server) findMessageLocked(channel, id ID) *Message {
	for _, m := range s.st.messages[channel] {
		if m.ID == id && !m.Deleted {
			return m
		}
	}
	for _, rec := range s.ixStore().byID {
		for _, m := range append([]*Message{rec.original}, rec.followups...) {
			if m != nil && m.ID == id && m.ChannelID == channel && !m.Deleted {
				return m
			}
		}
	}
	return nil
}

// numberComponents gives every component without an id one, as Discord does when it
// stores a message: counting from 1 in document order, skipping ids already taken.
func numberComponents(in []json.RawMessage) []json.RawMessage {
	var tree []any
	for _, raw := range in {
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return in
		}
		tree = append(tree, v)
	}
	taken := map[float64]bool{}
	var visit func(v any, f func(map[string]any))
	visit = func(v any, f func(map[string]any)) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		f(m)
		if children, ok := m["components"].([]any); ok {
			for _, c := range children {
				visit(c, f)
			}
		}
		for _, k := range []string{"component", "accessory"} {
			visit(m[k], f)
		}
	}
	for _, v := range tree {
		visit(v, func(m map[string]any) {
			if id, ok := m["id"].(float64); ok {
				taken[id] = true
			}
		})
	}
	next := float64(1)
	for _, v := range tree {
		visit(v, func(m map[string]any) {
			if _, ok := m["id"].(float64); ok {
				return
			}
			for taken[next] {
				next++
			}
			m["id"] = next
			taken[next] = true
		})
	}
	out := make([]json.RawMessage, len(tree))
	for i, v := range tree {
		out[i], _ = json.Marshal(v)
	}
	return out
}

// findComponent looks for a component by custom_id in a message's components, nested in
// action rows, sections and containers.
func findComponent(components []json.RawMessage, customID string) (map[string]any, bool) {
	var walk func(v any) (map[string]any, bool)
	walk = func(v any) (map[string]any, bool) {
		switch t := v.(type) {
		case map[string]any:
			if id, _ := t["custom_id"].(string); id == customID {
				return t, true
			}
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if c, ok := walk(t[k]); ok {
					return c, true
				}
			}
		case []any:
			for _, e := range t {
				if c, ok := walk(e); ok {
					return c, true
				}
			}
		}
		return nil, false
	}
	for _, raw := range components {
		var v any
		if json.Unmarshal(raw, &v) == nil {
			if c, ok := walk(v); ok {
				return c, true
			}
		}
	}
	return nil, false
}

// ClickButton is a user clicking a button (or any component with a custom_id) on a
// message, e.g. a pagination button: INTERACTION_CREATE of type 3 (MESSAGE_COMPONENT). It
// panics if the message is not in the channel or has no enabled component with customID,
// because a user could not click it. guild is 0 for a DM.
func (s *Server) ClickButton(guild, channel, user ID, messageID ID, customID string) *Interaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.findMessageLocked(channel, messageID)
	if m == nil {
		panic(fmt.Sprintf("discordtest: ClickButton: no message %s in channel %s", messageID, channel))
	}
	comp, ok := findComponent(m.Components, customID)
	if !ok {
		panic(fmt.Sprintf("discordtest: ClickButton: message %s has no component with custom_id %q", messageID, customID))
	}
	if disabled, _ := comp["disabled"].(bool); disabled {
		panic(fmt.Sprintf("discordtest: ClickButton: component %q on message %s is disabled", customID, messageID))
	}
	ctype, _ := comp["type"].(float64)
	data := map[string]any{"custom_id": customID, "component_type": int(ctype)}
	if int(ctype) != 2 {
		data["values"] = []string{}
	}
	msg := s.responseJSONLocked(m)
	if m.GuildID != 0 {
		msg["guild_id"] = m.GuildID
	}
	rec := s.newInteractionLocked(InteractionMessageComponent, guild, channel, user, data, msg)
	rec.source = m
	return rec.pub
}

// SubmitModal is the user submitting the modal the bot answered an interaction with
// (callback type 9): INTERACTION_CREATE of type 5 (MODAL_SUBMIT) carrying, for every text
// input of the modal, the value in values by custom_id ("" when absent). It panics if the
// interaction was not answered with a modal.
func (s *Server) SubmitModal(from *Interaction, values map[string]string) *Interaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.ixStore().byID[from.ID]
	if rec == nil || !rec.acked || rec.callbackType != CallbackModal {
		panic(fmt.Sprintf("discordtest: SubmitModal: interaction %s was not answered with a modal", from.ID))
	}
	var modal struct {
		CustomID   string           `json:"custom_id"`
		Components []map[string]any `json:"components"`
	}
	if err := json.Unmarshal(rec.callbackData, &modal); err != nil {
		panic(fmt.Sprintf("discordtest: SubmitModal: modal of interaction %s: %v", from.ID, err))
	}
	input := func(c map[string]any) map[string]any {
		id, _ := c["custom_id"].(string)
		return map[string]any{"type": c["type"], "custom_id": id, "value": values[id]}
	}
	var submitted []map[string]any
	for _, top := range modal.Components {
		switch t, _ := top["type"].(float64); int(t) {
		case 1: // action row of text inputs
			var inner []map[string]any
			children, _ := top["components"].([]any)
			for _, c := range children {
				if cm, ok := c.(map[string]any); ok {
					inner = append(inner, input(cm))
				}
			}
			submitted = append(submitted, map[string]any{"type": 1, "components": inner})
		case 18: // label wrapping one component
			if cm, ok := top["component"].(map[string]any); ok {
				submitted = append(submitted, map[string]any{"type": 18, "component": input(cm)})
			}
		}
	}
	data := map[string]any{"custom_id": modal.CustomID, "components": submitted}
	var msg map[string]any
	if rec.source != nil {
		msg = s.responseJSONLocked(rec.source)
	}
	next := s.newInteractionLocked(InteractionModalSubmit, rec.pub.GuildID, rec.pub.ChannelID, rec.pub.UserID, data, msg)
	next.source = rec.source
	return next.pub
}
