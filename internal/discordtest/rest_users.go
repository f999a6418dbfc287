package discordtest

import (
	"net/http"
	"slices"
)

func (s *Server) handleGetCurrentUser(r *Request) (Response, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.bearer != nil {
		// Discord answers a user's token with that user; without the identify scope, 401.
		if !slices.Contains(r.bearer.scopes, "identify") {
			return Response{}, errUnauthorized
		}
		u := s.userJSON(r.bearer.user)
		u["mfa_enabled"] = false
		u["locale"] = "en-US"
		return Response{Body: u}, nil
	}
	u := s.userJSON(s.botID)
	u["mfa_enabled"] = false
	u["locale"] = "en-US"
	u["verified"] = true
	u["email"] = nil
	return Response{Body: u}, nil
}

func (s *Server) handleGetUser(r *Request) (Response, *apiError) {
	id, e := pathID(r, "user_id")
	if e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.users[id]; !ok {
		return Response{}, errUnknown("User", codeUnknownUser)
	}
	return Response{Body: s.userJSON(id)}, nil
}

// handleCreateDM opens (or reopens) the bot's DM channel with a user: Discord returns the
// existing channel when there is one, so the id is stable per user.
func (s *Server) handleCreateDM(r *Request) (Response, *apiError) {
	var body struct {
		RecipientID opt[ID] `json:"recipient_id"`
	}
	if e := decodeBody(r, &body); e != nil {
		return Response{}, e
	}
	if !body.RecipientID.has() || body.RecipientID.V == 0 {
		return Response{}, invalidForm("recipient_id", "BASE_TYPE_REQUIRED", "This field is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	user := body.RecipientID.V
	if _, ok := s.st.users[user]; !ok || user == s.botID {
		return Response{}, apiErr(http.StatusBadRequest, codeInvalidRecipients, "Invalid Recipient(s)")
	}
	return Response{Body: s.channelObject(s.dmChannel(user))}, nil
}

// dmChannel returns the bot's DM channel with user, creating it. Called with s.mu held.
func (s *Server) dmChannel(user ID) *Channel {
	if id, ok := s.st.dms[user]; ok {
		return s.st.channels[id]
	}
	c := &Channel{ID: s.newID(), Type: ChannelDM, Recipients: []ID{user}, PermissionOverwrites: []Overwrite{}}
	s.st.channels[c.ID] = c
	s.st.dms[user] = c.ID
	return c
}

// SetDMsClosed makes the bot's messages to user fail with 403 50007 "Cannot send messages
// to this user" (closed reports whether DMs are closed), as when a user turns off DMs from
// server members or blocks the bot.
func (s *Server) SetDMsClosed(user ID, closed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.st.users[user]; ok {
		u.DMsClosed = closed
	}
}
