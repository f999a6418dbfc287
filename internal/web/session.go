package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// Sessions are rows of the database (web_sessions), so that signing out ends a session
// everywhere, a copied cookie included. The browser holds a random 32-byte session id; the
// table holds only its SHA-256, so a copy of the database signs nobody in. The CSRF token
// is derived from the id (a hash of it under another label) rather than stored, for the
// same reason. Reading a session is one indexed read; the idle clock is moved at most once
// a minute (sessionRefresh), so a page view is not a write.
const (
	sessionCookie = "gavel_session"
	stateCookie   = "gavel_oauth_state"
	// sessionMaxAge is a session's absolute life; sessionIdle how long it lasts unused.
	sessionMaxAge = 7 * 24 * time.Hour
	sessionIdle   = 24 * time.Hour
	// sessionRefresh is how stale "last seen" may get before it is written again: a session
	// may therefore end up to this much before 24 hours after its very last use.
	sessionRefresh = time.Minute
	// sessionPurgeEvery is how often the expired sessions are deleted in the background
	// (an expired session found on access is deleted at once).
	sessionPurgeEvery = time.Hour
	// stateTTL is how long a sign-in may take between leaving for Discord and coming back.
	stateTTL = 10 * time.Minute
	// maxPendingStates bounds the sign-ins in progress kept in memory.
	maxPendingStates = 10000
)

// session is who is signed in.
type session struct {
	UserID   int64
	Username string
	Created  time.Time
	Seen     time.Time
	CSRF     string
	// idHash is the key of the session's row.
	idHash string
}

var (
	errNoSession = errors.New("not signed in")
	errTampered  = errors.New("the session cookie is not valid: it was altered")
	// errEnded covers an expired session and one that is no longer in the table (signed
	// out, or expired and purged): from the cookie alone the two cannot be told apart.
	errEnded = errors.New("the session has ended")
)

// sessions keeps the sessions in the database and their ids in cookies.
type sessions struct {
	st     *store.Store
	secure bool
	now    func() time.Time
}

// hashID is the key a session id is stored under.
func hashID(id []byte) string {
	h := sha256.Sum256(id)
	return hex.EncodeToString(h[:])
}

// csrfOf derives a session's CSRF token from its id.
func csrfOf(id []byte) string {
	h := sha256.Sum256(append([]byte("gavel csrf\x00"), id...))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// expiresAt is when a session made at created and last seen at seen ends.
func expiresAt(created, seen time.Time) time.Time {
	return minTime(created.Add(sessionMaxAge), seen.Add(sessionIdle))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// create starts a session for a user, stores it and sets its cookie. Expired sessions are
// purged on the way, so that sign-ins keep the table small even between background purges.
func (s *sessions) create(ctx context.Context, w http.ResponseWriter, user int64, name string) (session, error) {
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return session{}, fmt.Errorf("making a session id: %w", err)
	}
	now := s.now()
	q := s.st.WriteQueries()
	if _, err := q.PurgeWebSessions(ctx, now.UnixMilli()); err != nil {
		return session{}, fmt.Errorf("purging expired sessions: %w", err)
	}
	sess := session{UserID: user, Username: name, Created: now, Seen: now, CSRF: csrfOf(id), idHash: hashID(id)}
	if err := q.InsertWebSession(ctx, query.InsertWebSessionParams{IDHash: sess.idHash, UserID: user, Username: name,
		CreatedAt: now.UnixMilli(), ExpiresAt: expiresAt(now, now).UnixMilli()}); err != nil {
		return session{}, fmt.Errorf("storing the session of user %d: %w", user, err)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: base64.RawURLEncoding.EncodeToString(id), Path: "/", HttpOnly: true,
		Secure: s.secure, SameSite: http.SameSiteLaxMode, Expires: now.Add(sessionMaxAge)})
	return sess, nil
}

// clear removes the session cookie from the browser.
func (s *sessions) clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// end deletes a session's row: its cookie, wherever copied, no longer signs anyone in.
func (s *sessions) end(ctx context.Context, sess *session) error {
	if err := s.st.WriteQueries().DeleteWebSession(ctx, sess.idHash); err != nil {
		return fmt.Errorf("deleting the session of user %d: %w", sess.UserID, err)
	}
	return nil
}

// read returns the request's session, moving its last-seen time when that is more than
// sessionRefresh old. The errors are errNoSession, errTampered, errEnded, and the
// database's.
func (s *sessions) read(ctx context.Context, r *http.Request) (session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return session{}, errNoSession
	}
	id, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(id) != 32 {
		return session{}, errTampered
	}
	key := hashID(id)
	row, err := s.st.Queries().GetWebSession(ctx, key)
	if errors.Is(err, sql.ErrNoRows) {
		return session{}, errEnded
	}
	if err != nil {
		return session{}, fmt.Errorf("reading a session: %w", err)
	}
	sess := session{UserID: row.UserID, Username: row.Username, Created: time.UnixMilli(row.CreatedAt), Seen: time.UnixMilli(row.LastSeenAt),
		CSRF: csrfOf(id), idHash: key}
	now := s.now()
	if !now.Before(expiresAt(sess.Created, sess.Seen)) {
		if err := s.end(ctx, &sess); err != nil {
			return session{}, err
		}
		return session{}, errEnded
	}
	if now.Sub(sess.Seen) >= sessionRefresh {
		sess.Seen = now
		if err := s.st.WriteQueries().TouchWebSession(ctx, query.TouchWebSessionParams{IDHash: key, LastSeenAt: now.UnixMilli(),
			ExpiresAt: expiresAt(sess.Created, now).UnixMilli()}); err != nil {
			return session{}, fmt.Errorf("moving the idle clock of a session: %w", err)
		}
	}
	return sess, nil
}

// purge deletes the sessions that have expired; it returns how many.
func (s *sessions) purge(ctx context.Context) (int64, error) {
	n, err := s.st.WriteQueries().PurgeWebSessions(ctx, s.now().UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("purging expired sessions: %w", err)
	}
	return n, nil
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
