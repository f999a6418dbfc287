package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"golang.org/x/oauth2"
)

// handleHome is the landing page: the servers when signed in, a sign-in link otherwise.
func (s *Server) handleHome(w http.ResponseWriter, r *http.Request, sess *session) error {
	if sess != nil {
		http.Redirect(w, r, "/servers", http.StatusSeeOther)
		return nil
	}
	s.render(w, http.StatusOK, "home", nil, "Sign in", s.cfg.Sandbox)
	return nil
}

// handleLogin sends the browser to Discord with a fresh state, kept on the server for
// stateTTL and in a cookie bound to this browser, so that a callback with a state from
// another browser (a sign-in forced on someone) is refused.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	st, ok := s.states.add()
	if !ok {
		s.fail(w, r, nil, &pageError{Status: http.StatusServiceUnavailable, Title: "Busy",
			Message: "Too many sign-ins are in progress; try again in a few minutes."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: st, Path: "/auth/", HttpOnly: true, Secure: s.sessions.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(stateTTL.Seconds())})
	http.Redirect(w, r, s.oauth.AuthCodeURL(st), http.StatusFound)
}

// handleCallback is where Discord sends the browser back: the state is checked, the code
// exchanged for a token, the token used once to read who signed in, and dropped.
func (s *Server) handleCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	again := func(status int, title, msg string) {
		s.fail(w, r, nil, &pageError{Status: status, Title: title, Message: msg, SignIn: true})
	}
	st := q.Get("state")
	c, err := r.Cookie(stateCookie)
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: "", Path: "/auth/", HttpOnly: true, Secure: s.sessions.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
	if st == "" || err != nil || c.Value != st || !s.states.take(st) {
		again(http.StatusBadRequest, "Sign-in refused", "This sign-in link is not one gavel started in this browser, or it is older than 10 minutes. Sign in again.")
		return
	}
	if e := q.Get("error"); e != "" {
		again(http.StatusUnauthorized, "Sign-in cancelled", fmt.Sprintf("Discord did not sign you in (%s). Sign in again to use the dashboard.", clip(e, 60)))
		return
	}
	code := q.Get("code")
	if code == "" {
		again(http.StatusBadRequest, "Sign-in refused", "Discord sent no code back. Sign in again.")
		return
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, s.cfg.HTTPClient)
	tok, err := s.oauth.Exchange(ctx, code)
	if err != nil {
		s.log.Warn("dashboard sign-in: code exchange failed", "err", err)
		again(http.StatusBadGateway, "Sign-in failed", "Discord did not accept the sign-in (the code was refused or has expired). Sign in again.")
		return
	}
	id, name, err := s.whoAmI(ctx, tok)
	if err != nil {
		s.log.Warn("dashboard sign-in: reading the user failed", "err", err)
		again(http.StatusBadGateway, "Sign-in failed", "gavel could not read who you are from Discord. Sign in again.")
		return
	}
	// The Discord token goes no further than this function: the session holds only who.
	if _, err := s.sessions.create(r.Context(), w, id, name); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	s.log.Info("dashboard sign-in", "user", id, "username", name)
	http.Redirect(w, r, "/servers", http.StatusSeeOther)
}

// whoAmI reads the signed-in user with their token.
func (s *Server) whoAmI(ctx context.Context, tok *oauth2.Token) (int64, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.meURL, nil)
	if err != nil {
		return 0, "", err
	}
	tok.SetAuthHeader(req)
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("GET /users/@me: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, "", fmt.Errorf("GET /users/@me: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, "", fmt.Errorf("GET /users/@me: status %d", resp.StatusCode)
	}
	var me struct {
		ID         string  `json:"id"`
		Username   string  `json:"username"`
		GlobalName *string `json:"global_name"`
	}
	if err := json.Unmarshal(body, &me); err != nil {
		return 0, "", fmt.Errorf("GET /users/@me: %w", err)
	}
	id, err := strconv.ParseInt(me.ID, 10, 64)
	if err != nil || id <= 0 {
		return 0, "", fmt.Errorf("GET /users/@me: id %q", me.ID)
	}
	name := me.Username
	if me.GlobalName != nil && *me.GlobalName != "" {
		name = *me.GlobalName
	}
	return id, name, nil
}

// handleLogout ends the session: its row is deleted, so the cookie signs nobody in any
// more, in this browser or wherever it was copied.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, sess *session) error {
	if err := s.sessions.end(r.Context(), sess); err != nil {
		return err
	}
	s.sessions.clear(w)
	s.log.Info("dashboard sign-out", "user", sess.UserID)
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}
