package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Sessions are signed cookies rather than rows in the database: the cookie holds who signed
// in, when, when they were last seen and the session's CSRF token, under an HMAC-SHA256 of
// the session key. Nothing has to be written per request (the idle clock moves by
// re-signing the cookie), no table has to be kept in lockstep on two engines, and any
// process with the same key accepts the session. The price is revocation: signing out
// clears the cookie in that browser but cannot invalidate a copy of it; rotating
// GAVEL_WEB_SESSION_KEY (or restarting without one) signs everyone out.
const (
	sessionCookie = "gavel_session"
	stateCookie   = "gavel_oauth_state"
	// sessionMaxAge is a session's absolute life; sessionIdle how long it lasts unused.
	sessionMaxAge = 7 * 24 * time.Hour
	sessionIdle   = 24 * time.Hour
	// sessionRefresh is how stale "last seen" may get before the cookie is re-signed.
	sessionRefresh = time.Minute
	// stateTTL is how long a sign-in may take between leaving for Discord and coming back.
	stateTTL = 10 * time.Minute
	// maxPendingStates bounds the sign-ins in progress kept in memory.
	maxPendingStates = 10000
)

// session is who is signed in.
type session struct {
	UserID   int64  `json:"u,string"`
	Username string `json:"n"`
	Issued   int64  `json:"i"`
	Seen     int64  `json:"s"`
	CSRF     string `json:"c"`
}

var (
	errNoSession = errors.New("not signed in")
	errTampered  = errors.New("the session cookie is not valid: it was altered, or signed with another key")
	errExpired   = errors.New("the session has expired")
)

// sessions signs and reads session cookies.
type sessions struct {
	key    []byte
	secure bool
	now    func() time.Time
}

func (s *sessions) sign(payload []byte) string {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// write sets the session cookie.
func (s *sessions) write(w http.ResponseWriter, sess session) {
	payload, _ := json.Marshal(sess)
	value := base64.RawURLEncoding.EncodeToString(payload) + "." + s.sign(payload)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, Expires: time.Unix(sess.Issued, 0).Add(sessionMaxAge)})
}

// clear removes the session cookie.
func (s *sessions) clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// read returns the request's session, re-signing the cookie when its last-seen time is
// stale. The errors are errNoSession, errTampered and errExpired.
func (s *sessions) read(w http.ResponseWriter, r *http.Request) (session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return session{}, errNoSession
	}
	enc, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return session{}, errTampered
	}
	payload, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || !hmac.Equal([]byte(sig), []byte(s.sign(payload))) {
		return session{}, errTampered
	}
	var sess session
	if err := json.Unmarshal(payload, &sess); err != nil || sess.UserID <= 0 || sess.CSRF == "" {
		return session{}, errTampered
	}
	now := s.now()
	if now.Sub(time.Unix(sess.Issued, 0)) >= sessionMaxAge || now.Sub(time.Unix(sess.Seen, 0)) >= sessionIdle {
		return session{}, errExpired
	}
	if now.Sub(time.Unix(sess.Seen, 0)) >= sessionRefresh {
		sess.Seen = now.Unix()
		s.write(w, sess)
	}
	return sess, nil
}

// states are the sign-ins in progress: each state value handed to Discord, kept until it
// comes back or for stateTTL.
type states struct {
	mu  sync.Mutex
	m   map[string]time.Time
	now func() time.Time
}

// add makes a new state; false when too many sign-ins are in progress.
func (s *states) add() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.m) >= maxPendingStates {
		for k, exp := range s.m {
			if !now.Before(exp) {
				delete(s.m, k)
			}
		}
		if len(s.m) >= maxPendingStates {
			return "", false
		}
	}
	st := randomToken()
	s.m[st] = now.Add(stateTTL)
	return st, true
}

// take consumes a state: true when it was handed out and has not expired.
func (s *states) take(st string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.m[st]
	delete(s.m, st)
	return ok && s.now().Before(exp)
}

// randomToken is 32 random bytes, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
