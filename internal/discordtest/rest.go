package discordtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// endpoint is one REST route the fake serves.
type endpoint struct {
	method, path string
	h            handler
}

// restEndpoints lists the REST routes, each under the path Discord's OpenAPI spec gives it
// (the spec names the operation for validation and the route for rate limits). The list is
// also what the tests walk to make sure every route has a good and a bad request.
func (s *Server) restEndpoints() []endpoint {
	return []endpoint{
		{http.MethodGet, "/users/@me", s.handleGetCurrentUser},
		{http.MethodGet, "/users/{user_id}", s.handleGetUser},
		{http.MethodPost, "/users/@me/channels", s.handleCreateDM},
		{http.MethodGet, "/channels/{channel_id}", s.handleGetChannel},
		{http.MethodPatch, "/channels/{channel_id}", s.handleUpdateChannel},
		{http.MethodPut, "/channels/{channel_id}/permissions/{overwrite_id}", s.handlePutOverwrite},
		{http.MethodDelete, "/channels/{channel_id}/permissions/{overwrite_id}", s.handleDeleteOverwrite},
		{http.MethodGet, "/channels/{channel_id}/messages", s.handleListMessages},
		{http.MethodPost, "/channels/{channel_id}/messages", s.handleCreateMessage},
		{http.MethodPost, "/channels/{channel_id}/messages/bulk-delete", s.handleBulkDeleteMessages},
		{http.MethodGet, "/channels/{channel_id}/messages/{message_id}", s.handleGetMessage},
		{http.MethodPatch, "/channels/{channel_id}/messages/{message_id}", s.handleUpdateMessage},
		{http.MethodDelete, "/channels/{channel_id}/messages/{message_id}", s.handleDeleteMessage},
		{http.MethodGet, "/guilds/{guild_id}", s.handleGetGuild},
		{http.MethodPatch, "/guilds/{guild_id}", s.handleModifyGuild},
		{http.MethodPut, "/guilds/{guild_id}/incident-actions", s.handleIncidentActions},
		{http.MethodGet, "/guilds/{guild_id}/roles", s.handleListRoles},
		{http.MethodGet, "/guilds/{guild_id}/channels", s.handleListGuildChannels},
		{http.MethodPost, "/guilds/{guild_id}/channels", s.handleCreateGuildChannel},
		{http.MethodGet, "/guilds/{guild_id}/members", s.handleListMembers},
		{http.MethodGet, "/guilds/{guild_id}/members/{user_id}", s.handleGetMember},
		{http.MethodPatch, "/guilds/{guild_id}/members/{user_id}", s.handleUpdateMember},
		{http.MethodDelete, "/guilds/{guild_id}/members/{user_id}", s.handleKick},
		{http.MethodPut, "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", s.handleAddMemberRole},
		{http.MethodDelete, "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", s.handleRemoveMemberRole},
		{http.MethodGet, "/guilds/{guild_id}/bans", s.handleListBans},
		{http.MethodGet, "/guilds/{guild_id}/bans/{user_id}", s.handleGetBan},
		{http.MethodPut, "/guilds/{guild_id}/bans/{user_id}", s.handleBan},
		{http.MethodDelete, "/guilds/{guild_id}/bans/{user_id}", s.handleUnban},
		{http.MethodPost, "/guilds/{guild_id}/bulk-ban", s.handleBulkBan},
		{http.MethodGet, "/guilds/{guild_id}/audit-logs", s.handleAuditLog},
		{http.MethodGet, "/guilds/{guild_id}/auto-moderation/rules", s.handleListAutoModRules},
		{http.MethodPost, "/guilds/{guild_id}/auto-moderation/rules", s.handleCreateAutoModRule},
		{http.MethodGet, "/guilds/{guild_id}/auto-moderation/rules/{rule_id}", s.handleGetAutoModRule},
		{http.MethodPatch, "/guilds/{guild_id}/auto-moderation/rules/{rule_id}", s.handleUpdateAutoModRule},
		{http.MethodDelete, "/guilds/{guild_id}/auto-moderation/rules/{rule_id}", s.handleDeleteAutoModRule},
		{http.MethodGet, "/applications/{application_id}/commands", s.handleListCommands},
		{http.MethodPut, "/applications/{application_id}/commands", s.handleOverwriteCommands},
		{http.MethodGet, "/applications/{application_id}/guilds/{guild_id}/commands", s.handleListCommands},
		{http.MethodPut, "/applications/{application_id}/guilds/{guild_id}/commands", s.handleOverwriteCommands},
	}
}

// restRoutes registers the REST endpoints. Handlers take s.mu for their whole run, so every
// call is atomic, and dispatch gateway events while holding it, so events leave in the order
// the state changed.
func (s *Server) restRoutes() {
	for _, e := range s.restEndpoints() {
		s.route(e.method, e.path, authBot, e.h)
	}
	// Discord answers paths it does not know with a JSON 404, not Go's plain-text one.
	s.mux.HandleFunc("/api/v10/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Message: "404: Not Found", Code: 0})
	})
}

// More of Discord's JSON error codes.
const (
	codeCannotActOnDM        = 50003
	codeCannotEditOthers     = 50005
	codeEmptyMessage         = 50006
	codeCannotSendToUser     = 50007
	codeNonTextChannel       = 50008
	codeWrongChannelType     = 50024
	codeInvalidRole          = 50028
	codeInvalidRecipients    = 50033
	codeMessageTooOld        = 50034
	codeInvalidJSON          = 50109
	codeNotInVoice           = 40032
	codeFailedToBanUsers     = 500000
	codeMaxApplicationCmds   = 30032
	codeTooFewOrManyMessages = 50016
)

// errContentType is Discord's answer to a body that is neither JSON nor multipart.
var errContentType = &apiError{Status: http.StatusBadRequest, Message: "Invalid Form Body", Code: 50035,
	Errors: json.RawMessage(`{"_errors":[{"code":"CONTENT_TYPE_INVALID","message":"Expected \"Content-Type\" header to be one of {'application/json', 'multipart/form-data'}."}]}`)}

func apiErr(status, code int, message string) *apiError {
	return &apiError{Status: status, Message: message, Code: code}
}

// asError turns a possibly nil *apiError into an error without the typed-nil trap.
func asError(e *apiError) error {
	if e == nil {
		return nil
	}
	return e
}

// pathID reads a snowflake path parameter; a malformed one is Discord's 50035.
func pathID(r *Request, name string) (ID, *apiError) {
	raw := r.HTTP.PathValue(name)
	id, ok := ParseID(raw)
	if !ok {
		return 0, invalidForm(name, "NUMBER_TYPE_COERCE", fmt.Sprintf("Value %q is not snowflake.", raw))
	}
	return id, nil
}

// queryID reads an optional snowflake query parameter (0 when absent).
func queryID(r *Request, name string) (ID, *apiError) {
	raw := r.HTTP.URL.Query().Get(name)
	if raw == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return 0, invalidForm(name, "NUMBER_TYPE_COERCE", fmt.Sprintf("Value %q is not snowflake.", raw))
	}
	return ID(v), nil
}

// queryInt reads an optional integer query parameter within [lo, hi].
func queryInt(r *Request, name string, def, lo, hi int) (int, *apiError) {
	raw := r.HTTP.URL.Query().Get(name)
	if raw == "" {
		return def, nil
	}
	v, err := strconv.Atoi(raw)
	if err != nil {
		return 0, invalidForm(name, "NUMBER_TYPE_COERCE", fmt.Sprintf("Value %q is not int.", raw))
	}
	if v < lo {
		return 0, invalidForm(name, "NUMBER_TYPE_MIN", fmt.Sprintf("int value should be greater than or equal to %d.", lo))
	}
	if v > hi {
		return 0, invalidForm(name, "NUMBER_TYPE_MAX", fmt.Sprintf("int value should be less than or equal to %d.", hi))
	}
	return v, nil
}

// jsonBody returns a request's JSON: the body itself, or the payload_json part of a
// multipart/form-data body, which is how clients send messages with files (the files are
// not kept). ok is false for a body that cannot be read as either.
func jsonBody(r *Request) (body []byte, ok bool) {
	mt, params, _ := mime.ParseMediaType(r.HTTP.Header.Get("Content-Type"))
	switch mt {
	case "multipart/form-data":
		mr := multipart.NewReader(bytes.NewReader(r.Body), params["boundary"])
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return body, true
			}
			if err != nil {
				return nil, false
			}
			if part.FormName() == "payload_json" {
				if body, err = io.ReadAll(part); err != nil {
					return nil, false
				}
			}
		}
	case "", "application/json":
		return bytes.TrimSpace(r.Body), true
	}
	return nil, false
}

// decodeBody reads a JSON body into v; an empty body reads as {}.
func decodeBody(r *Request, v any) *apiError {
	body, ok := jsonBody(r)
	if !ok {
		return errContentType
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return invalidForm(te.Field, "BASE_TYPE_INVALID", fmt.Sprintf("Value of type %s is not valid here.", te.Value))
		}
		return apiErr(http.StatusBadRequest, codeInvalidJSON, "The request body contains invalid JSON.")
	}
	return nil
}

// opt is a JSON field that tells absent, null and a value apart, as Discord's PATCH
// endpoints do ("nick": null removes a nickname; no "nick" leaves it).
type opt[T any] struct {
	Set  bool
	Null bool
	V    T
}

func (o *opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// has reports whether the field carries a value.
func (o opt[T]) has() bool { return o.Set && !o.Null }

// guildFor resolves the request's {guild_id} to a guild the bot is in. Called with s.mu held.
func (s *Server) guildFor(r *Request) (*Guild, *apiError) {
	id, e := pathID(r, "guild_id")
	if e != nil {
		return nil, e
	}
	g, ok := s.st.guilds[id]
	if !ok {
		return nil, errUnknown("Guild", codeUnknownGuild)
	}
	if _, ok := g.Members[s.botID]; !ok {
		return nil, errMissingAccess
	}
	return g, nil
}

// channelFor resolves the request's {channel_id}. Guild channels need the bot in the guild
// and able to see the channel (Discord answers 50001 Missing Access otherwise); DM channels
// are the bot's own. Called with s.mu held.
func (s *Server) channelFor(r *Request) (*Channel, *Guild, *apiError) {
	id, e := pathID(r, "channel_id")
	if e != nil {
		return nil, nil, e
	}
	c, ok := s.st.channels[id]
	if !ok {
		return nil, nil, errUnknown("Channel", codeUnknownChannel)
	}
	if c.Type == ChannelDM {
		return c, nil, nil
	}
	g, ok := s.st.guilds[c.GuildID]
	if !ok {
		return nil, nil, errUnknown("Channel", codeUnknownChannel)
	}
	if _, ok := g.Members[s.botID]; !ok {
		return nil, nil, errMissingAccess
	}
	if channelPermissions(g, c, s.botID, s.now())&PermViewChannel == 0 {
		return nil, nil, errMissingAccess
	}
	return c, g, nil
}

// require checks actor's guild-level permissions.
func (s *Server) require(g *Guild, actor ID, perms Permissions) *apiError {
	if basePermissions(g, actor, s.now())&perms != perms {
		return errMissingPermission
	}
	return nil
}

// requireIn checks actor's permissions in a channel.
func (s *Server) requireIn(g *Guild, c *Channel, actor ID, perms Permissions) *apiError {
	if channelPermissions(g, c, actor, s.now())&perms != perms {
		return errMissingPermission
	}
	return nil
}

// auditChange is one entry of an audit-log entry's "changes".
type auditChange struct {
	Key string `json:"key"`
	New any    `json:"new_value,omitempty"`
	Old any    `json:"old_value,omitempty"`
}

// audit appends an entry to a guild's audit log and announces it with
// GUILD_AUDIT_LOG_ENTRY_CREATE, which Discord sends only to bots with VIEW_AUDIT_LOG.
// Called with s.mu held.
func (s *Server) audit(g *Guild, action int, actor, target ID, reason string, changes []auditChange, options map[string]string) *AuditLogEntry {
	e := &AuditLogEntry{ID: s.newID(), GuildID: g.ID, ActionType: action, UserID: actor, TargetID: target, Reason: reason}
	if len(changes) > 0 {
		e.Changes, _ = json.Marshal(changes)
	}
	if len(options) > 0 {
		e.Options, _ = json.Marshal(options)
	}
	if g.auditHeld {
		g.heldAudit = append(g.heldAudit, e)
		return e
	}
	s.publishAudit(g, e)
	return e
}

// publishAudit lists an entry in the guild's audit log and announces it. Called with s.mu
// held.
func (s *Server) publishAudit(g *Guild, e *AuditLogEntry) {
	g.AuditLog = append(g.AuditLog, e)
	if s.require(g, s.botID, PermViewAuditLog) == nil {
		payload := auditEntryJSON(e)
		payload["guild_id"] = g.ID
		s.dispatch(g.ID, "GUILD_AUDIT_LOG_ENTRY_CREATE", IntentGuildModeration, payload)
	}
}

// HoldAuditLog makes the entries that actions in guild write (REST calls and the *As
// methods) wait, unlisted and unannounced, until ReleaseAuditLog: the entry Discord
// writes a moment after the event it goes with.
func (s *Server) HoldAuditLog(guild ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustGuild(guild).auditHeld = true
}

// ReleaseAuditLog lists and announces, in order, the entries held since HoldAuditLog, and
// stops holding them.
func (s *Server) ReleaseAuditLog(guild ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	g.auditHeld = false
	for _, e := range g.heldAudit {
		s.publishAudit(g, e)
	}
	g.heldAudit = nil
}

func auditEntryJSON(e *AuditLogEntry) map[string]any {
	out := map[string]any{"id": e.ID, "action_type": e.ActionType, "user_id": e.UserID, "target_id": nil}
	if e.TargetID != 0 {
		out["target_id"] = e.TargetID.String()
	}
	if e.Reason != "" {
		out["reason"] = e.Reason
	}
	if len(e.Changes) > 0 {
		out["changes"] = append(json.RawMessage{}, e.Changes...)
	}
	if len(e.Options) > 0 {
		out["options"] = append(json.RawMessage{}, e.Options...)
	}
	return out
}

// formatTime writes a timestamp the way Discord does (RFC 3339 with microseconds).
func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000-07:00") }

// runeLen counts characters as Discord does (code points, not bytes).
func runeLen(s string) int { return len([]rune(s)) }

// idStrings renders ids as JSON strings for audit-log values.
func idStrings(ids []ID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

func containsID(ids []ID, id ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// quoteList renders allowed values for a BASE_TYPE_CHOICES message.
func quoteList(vals ...int) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = strconv.Itoa(v)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
