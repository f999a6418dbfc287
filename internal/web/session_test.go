package web

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// TestSessionLifetimes: a session is a row keyed by the SHA-256 of the cookie's id; it
// lives 24 hours unused and 7 days in all however often it is used, its idle clock is
// written at most once a minute, signing out deletes it (a copied cookie no longer works),
// an altered cookie is refused, and the purge deletes the expired rows only.
func TestSessionLifetimes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
		clk := clock.NewManual(start)
		s := &sessions{st: st, now: clk.Now}
		signIn := func() *http.Cookie {
			t.Helper()
			w := httptest.NewRecorder()
			if _, err := s.create(ctx, w, 42, "mod"); err != nil {
				t.Fatal(err)
			}
			return w.Result().Cookies()[0]
		}
		read := func(c *http.Cookie) (session, error) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(c)
			return s.read(ctx, r)
		}
		row := func(c *http.Cookie) (query.WebSession, error) {
			id, _ := base64.RawURLEncoding.DecodeString(c.Value)
			return st.Queries().GetWebSession(ctx, hashID(id))
		}

		cookie := signIn()
		if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure || cookie.Path != "/" {
			t.Errorf("cookie %+v: want HttpOnly, SameSite=Lax, not Secure over http, path /", cookie)
		}
		// The table holds the id's hash, never the id.
		id, _ := base64.RawURLEncoding.DecodeString(cookie.Value)
		sum := sha256.Sum256(id)
		if r, err := row(cookie); err != nil || r.IDHash != hex.EncodeToString(sum[:]) || strings.Contains(r.IDHash, cookie.Value) || r.UserID != 42 {
			t.Fatalf("row %+v, %v; want the SHA-256 of the id", r, err)
		}

		// The idle clock is written at most once a minute.
		clk.Advance(30 * time.Second)
		if sess, err := read(cookie); err != nil || sess.UserID != 42 || sess.Username != "mod" || sess.CSRF == "" {
			t.Fatalf("fresh session: %+v %v", sess, err)
		}
		if r, _ := row(cookie); r.LastSeenAt != start.UnixMilli() {
			t.Errorf("last seen written after 30 seconds: %d", r.LastSeenAt)
		}
		clk.Advance(31 * time.Second)
		if _, err := read(cookie); err != nil {
			t.Fatal(err)
		}
		if r, _ := row(cookie); r.LastSeenAt != clk.Now().UnixMilli() || r.ExpiresAt != clk.Now().Add(sessionIdle).UnixMilli() {
			t.Errorf("after 61 seconds: last seen %d, expires %d; want now and 24 hours on", r.LastSeenAt, r.ExpiresAt)
		}

		// Used every 20 hours: alive until 7 days from sign-in, not a moment longer.
		for range 8 {
			clk.Advance(20 * time.Hour)
			if sess, err := read(cookie); err != nil || sess.UserID != 42 {
				t.Fatalf("at %s: %v", clk.Now(), err)
			}
		}
		clk.Set(start.Add(sessionMaxAge))
		if _, err := read(cookie); !errors.Is(err, errEnded) {
			t.Errorf("after 7 days: %v; want ended", err)
		}
		if _, err := row(cookie); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("the expired session's row: %v; want it deleted on access", err)
		}

		// Unused for 24 hours.
		cookie = signIn()
		clk.Advance(sessionIdle - time.Second)
		if _, err := read(cookie); err != nil {
			t.Errorf("after 23:59:59 unused: %v", err)
		}
		clk.Advance(sessionIdle)
		if _, err := read(cookie); !errors.Is(err, errEnded) {
			t.Errorf("after 24 hours unused: %v; want ended", err)
		}

		// Signing out deletes the row: a copy of the cookie signs nobody in.
		cookie = signIn()
		copied := &http.Cookie{Name: cookie.Name, Value: cookie.Value}
		sess, err := read(cookie)
		if err != nil {
			t.Fatal(err)
		}
		other := signIn()
		if err := s.end(ctx, &sess); err != nil {
			t.Fatal(err)
		}
		if _, err := read(copied); !errors.Is(err, errEnded) {
			t.Errorf("a copied cookie after sign-out: %v; want ended", err)
		}
		if _, err := read(other); err != nil {
			t.Errorf("the user's other session after signing out of one: %v", err)
		}

		// Altered cookies.
		for name, v := range map[string]string{"longer": other.Value + "x", "not base64": "!!" + other.Value[2:], "short": other.Value[:20]} {
			if _, err := read(&http.Cookie{Name: sessionCookie, Value: v}); !errors.Is(err, errTampered) {
				t.Errorf("%s: %v; want tampered", name, err)
			}
		}
		forged := base64.RawURLEncoding.EncodeToString(make([]byte, 32)) // well formed, but no such session
		if _, err := read(&http.Cookie{Name: sessionCookie, Value: forged}); !errors.Is(err, errEnded) {
			t.Errorf("a forged id: %v; want ended", err)
		}
		if _, err := read(&http.Cookie{Name: "other", Value: "x"}); !errors.Is(err, errNoSession) {
			t.Errorf("no cookie: %v", err)
		}

		// The purge deletes what has expired and nothing else.
		clk.Advance(23 * time.Hour)
		fresh := signIn() // purges on the way: nothing has expired yet
		if n, err := s.purge(ctx); err != nil || n != 0 {
			t.Errorf("purge with nothing expired: %d %v", n, err)
		}
		clk.Advance(2 * time.Hour) // other: 25 hours unused; fresh: 2
		if n, err := s.purge(ctx); err != nil || n != 1 {
			t.Errorf("purge: %d %v; want the one expired session", n, err)
		}
		if _, err := row(other); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("the expired session survived the purge: %v", err)
		}
		if _, err := read(fresh); err != nil {
			t.Errorf("a live session after the purge: %v", err)
		}
	})
}

// TestWriteLimit: 20 writes at once, then one every 3 seconds; each user has a bucket of
// their own.
func TestWriteLimit(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	l := &writeLimiter{m: map[int64]*bucket{}, now: func() time.Time { return now }}
	for i := range writeBurst {
		if ok, _ := l.allow(1); !ok {
			t.Fatalf("write %d refused", i+1)
		}
	}
	ok, wait := l.allow(1)
	if ok || wait != 3*time.Second {
		t.Errorf("write %d: allowed %v, wait %s; want refused for 3s", writeBurst+1, ok, wait)
	}
	if ok, _ := l.allow(2); !ok {
		t.Error("another user was refused")
	}
	now = now.Add(3 * time.Second)
	if ok, _ := l.allow(1); !ok {
		t.Error("refused after the wait")
	}
	if ok, _ := l.allow(1); ok {
		t.Error("allowed twice after one refill")
	}
}

// TestPurgeLoop: the background purge runs every hour on the server's clock and deletes
// the sessions that have expired.
func TestPurgeLoop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		clk := clock.NewManual(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
		s := &Server{cfg: Config{Clock: clk}, log: slog.New(slog.DiscardHandler), sessions: &sessions{st: st, now: clk.Now}}
		w := httptest.NewRecorder()
		if _, err := s.sessions.create(ctx, w, 42, "mod"); err != nil {
			t.Fatal(err)
		}
		id, _ := base64.RawURLEncoding.DecodeString(w.Result().Cookies()[0].Value)
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.PurgeSessions(ctx)
		}()
		defer func() {
			cancel()
			<-done
		}()
		if err := clk.WaitArmed(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if got := clk.Armed(); len(got) != 1 || !got[0].Equal(clk.Now().Add(sessionPurgeEvery)) {
			t.Fatalf("armed %v; want one purge an hour on", got)
		}
		clk.Advance(sessionIdle + time.Minute) // the session has expired; the purge is due
		// The loop arms its next purge once this one is done.
		if err := clk.WaitArmedAfter(ctx, clk.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Queries().GetWebSession(ctx, hashID(id)); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("the expired session after the hourly purge: %v; want deleted", err)
		}
	})
}
