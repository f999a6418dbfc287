package discordtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// The control API acts as any member over HTTP and reads back what Discord would show
// them: what cmd/fakediscord serves so that a person or another program can drive a bot
// without a Discord client. Every body is JSON; an error is {"error": "..."} with 400 for
// a request that does not fit, 404 for something that does not exist, or Discord's own
// status and message when Discord would refuse (a member who may not post, a banned user
// joining). docs/testing.md lists the routes.

// controlWait bounds how long an act waits for the bot's first response, so that the
// answer of a command usually carries the reply; a slower bot's reply shows on the next read.
const controlWait = 5 * time.Second

func (s *Server) controlRoutes() {
	s.mux.HandleFunc("GET /control/guilds", s.controlGuilds)
	s.mux.HandleFunc("GET /control/guilds/{guild}", s.controlGuild)
	s.mux.HandleFunc("GET /control/guilds/{guild}/audit-log", s.controlAuditLog)
	s.mux.HandleFunc("GET /control/channels/{channel}/messages", s.controlMessages)
	s.mux.HandleFunc("GET /control/users/{user}/dms", s.controlDMs)
	s.mux.HandleFunc("GET /control/interactions/{interaction}", s.controlInteraction)
	s.mux.HandleFunc("POST /control/users", s.controlAddUser)
	s.mux.HandleFunc("POST /control/messages", s.controlSend)
	s.mux.HandleFunc("POST /control/slash", s.controlSlash)
	s.mux.HandleFunc("POST /control/buttons", s.controlButton)
	s.mux.HandleFunc("POST /control/joins", s.controlJoin)
	s.mux.HandleFunc("POST /control/leaves", s.controlLeave)
}

func writeControl(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func controlError(w http.ResponseWriter, err error) {
	writeControl(w, controlStatus(err), map[string]string{"error": err.Error()})
}

// readControl decodes a request body strictly: a misspelt field is an error.
func readControl(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("the body is not the JSON this route takes: %w", err)
	}
	return nil
}

func pathIDOf(r *http.Request, name string) (ID, error) {
	id, ok := ParseID(r.PathValue(name))
	if !ok {
		return 0, fmt.Errorf("%s %q is not an id (a snowflake in decimal)", name, r.PathValue(name))
	}
	return id, nil
}

func (s *Server) controlGuilds(w http.ResponseWriter, _ *http.Request) {
	var out []GuildView
	for _, id := range s.GuildIDs() {
		if g, ok := s.Guild(id); ok {
			out = append(out, g)
		}
	}
	writeControl(w, http.StatusOK, out)
}

func (s *Server) controlGuild(w http.ResponseWriter, r *http.Request) {
	id, err := pathIDOf(r, "guild")
	if err != nil {
		controlError(w, err)
		return
	}
	g, ok := s.Guild(id)
	if !ok {
		controlError(w, fmt.Errorf("%w guild %s", errNotFound, id))
		return
	}
	writeControl(w, http.StatusOK, g)
}

func (s *Server) controlAuditLog(w http.ResponseWriter, r *http.Request) {
	id, err := pathIDOf(r, "guild")
	if err != nil {
		controlError(w, err)
		return
	}
	if _, ok := s.Guild(id); !ok {
		controlError(w, fmt.Errorf("%w guild %s", errNotFound, id))
		return
	}
	entries := s.AuditLog(id)
	if entries == nil {
		entries = []AuditLogEntry{}
	}
	writeControl(w, http.StatusOK, entries)
}

// controlMessages is a channel as ?as=<user> sees it: with the ephemeral responses to
// that member's own interactions.
func (s *Server) controlMessages(w http.ResponseWriter, r *http.Request) {
	ch, err := pathIDOf(r, "channel")
	if err != nil {
		controlError(w, err)
		return
	}
	var viewer ID
	if as := r.URL.Query().Get("as"); as != "" {
		var ok bool
		if viewer, ok = ParseID(as); !ok {
			controlError(w, fmt.Errorf("as %q is not a user id", as))
			return
		}
	}
	msgs, err := s.ChannelAs(ch, viewer)
	if err != nil {
		controlError(w, fmt.Errorf("%w: %w", errNotFound, err))
		return
	}
	writeControl(w, http.StatusOK, orEmpty(msgs))
}

func orEmpty(m []MessageView) []MessageView {
	if m == nil {
		return []MessageView{}
	}
	return m
}

func (s *Server) controlDMs(w http.ResponseWriter, r *http.Request) {
	id, err := pathIDOf(r, "user")
	if err != nil {
		controlError(w, err)
		return
	}
	if _, ok := s.UserByID(id); !ok {
		controlError(w, fmt.Errorf("%w user %s", errNotFound, id))
		return
	}
	writeControl(w, http.StatusOK, orEmpty(s.DMsOf(id)))
}

// interactionView is an interaction and what the bot showed for it. The responses are
// listed only to the member who used it (?as=), because ephemeral ones are theirs alone.
type interactionView struct {
	ID        ID            `json:"id"`
	Type      int           `json:"type"`
	GuildID   ID            `json:"guild_id,omitempty"`
	ChannelID ID            `json:"channel_id"`
	UserID    ID            `json:"user_id"`
	Responses []MessageView `json:"responses"`
}

func (s *Server) interactionViewOf(in *Interaction, viewer ID) interactionView {
	v := interactionView{ID: in.ID, Type: in.Type, GuildID: in.GuildID, ChannelID: in.ChannelID, UserID: in.UserID, Responses: []MessageView{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.ixStore().byID[in.ID]
	if rec == nil {
		return v
	}
	for _, m := range append([]*Message{rec.original}, rec.followups...) {
		if m == nil || m.Deleted || (m.Flags&MessageFlagEphemeral != 0 && viewer != in.UserID) {
			continue
		}
		v.Responses = append(v.Responses, s.messageViewLocked(m))
	}
	return v
}

func (s *Server) controlInteraction(w http.ResponseWriter, r *http.Request) {
	id, err := pathIDOf(r, "interaction")
	if err != nil {
		controlError(w, err)
		return
	}
	s.mu.Lock()
	rec := s.ixStore().byID[id]
	s.mu.Unlock()
	if rec == nil {
		controlError(w, fmt.Errorf("%w interaction %s", errNotFound, id))
		return
	}
	viewer, _ := ParseID(r.URL.Query().Get("as"))
	writeControl(w, http.StatusOK, s.interactionViewOf(rec.pub, viewer))
}

func (s *Server) controlAddUser(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Username  string `json:"username"`
		JoinGuild ID     `json:"join_guild"`
	}
	if err := readControl(r, &body); err != nil {
		controlError(w, err)
		return
	}
	id, err := s.TryAddUser(body.Username)
	if err != nil {
		controlError(w, err)
		return
	}
	if body.JoinGuild != 0 {
		if err := s.TryUserJoins(body.JoinGuild, id); err != nil {
			controlError(w, err)
			return
		}
	}
	u, _ := s.UserByID(id)
	writeControl(w, http.StatusCreated, u)
}

// actBody is who acts, and where.
type actBody struct {
	Guild   ID     `json:"guild"`
	Channel ID     `json:"channel"`
	User    ID     `json:"user"`
	Content string `json:"content"`
	Text    string `json:"text"`
	Message ID     `json:"message"`
	Custom  string `json:"custom_id"`
}

func (s *Server) controlSend(w http.ResponseWriter, r *http.Request) {
	var b actBody
	if err := readControl(r, &b); err != nil {
		controlError(w, err)
		return
	}
	if _, ok := s.UserByID(b.User); !ok {
		controlError(w, fmt.Errorf("%w user %s", errNotFound, b.User))
		return
	}
	if _, ok := s.Channel(b.Channel); !ok {
		controlError(w, fmt.Errorf("%w channel %s", errNotFound, b.Channel))
		return
	}
	m, err := s.TrySendMessage(b.Channel, b.User, b.Content)
	if err != nil {
		controlError(w, err)
		return
	}
	s.mu.Lock()
	v := s.messageViewLocked(&m)
	s.mu.Unlock()
	writeControl(w, http.StatusCreated, v)
}

// answer waits (at most controlWait, or until the client goes) for the bot's first
// response to in, and writes the interaction as its user sees it.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, in *Interaction) {
	ctx, cancel := context.WithTimeout(r.Context(), controlWait)
	defer cancel()
	if _, err := in.WaitResponses(ctx, 1); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		controlError(w, err)
		return
	}
	writeControl(w, http.StatusCreated, s.interactionViewOf(in, in.UserID))
}

func (s *Server) controlSlash(w http.ResponseWriter, r *http.Request) {
	var b actBody
	if err := readControl(r, &b); err != nil {
		controlError(w, err)
		return
	}
	in, err := s.SlashText(b.Guild, b.Channel, b.User, b.Text)
	if err != nil {
		controlError(w, err)
		return
	}
	s.answer(w, r, in)
}

func (s *Server) controlButton(w http.ResponseWriter, r *http.Request) {
	var b actBody
	if err := readControl(r, &b); err != nil {
		controlError(w, err)
		return
	}
	in, err := s.TryClickButton(b.Guild, b.Channel, b.User, b.Message, b.Custom)
	if err != nil {
		controlError(w, err)
		return
	}
	s.answer(w, r, in)
}

func (s *Server) controlJoin(w http.ResponseWriter, r *http.Request) {
	var b actBody
	if err := readControl(r, &b); err != nil {
		controlError(w, err)
		return
	}
	if err := s.TryUserJoins(b.Guild, b.User); err != nil {
		controlError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) controlLeave(w http.ResponseWriter, r *http.Request) {
	var b actBody
	if err := readControl(r, &b); err != nil {
		controlError(w, err)
		return
	}
	if err := s.TryUserLeaves(b.Guild, b.User); err != nil {
		controlError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
