package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestSessionLifetimes: a session lives 24 hours unused and 7 days in all, however often it
// is used; a cookie altered in any part, or signed with another key, is refused.
func TestSessionLifetimes(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s := &sessions{key: []byte(strings.Repeat("k", 32)), now: func() time.Time { return now }}
	w := httptest.NewRecorder()
	s.write(w, session{UserID: 42, Username: "mod", Issued: now.Unix(), Seen: now.Unix(), CSRF: "tok"})
	cookie := w.Result().Cookies()[0]
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Lax, not Secure over http", cookie)
	}
	read := func() (session, error) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(cookie)
		rec := httptest.NewRecorder()
		sess, err := s.read(rec, r)
		if cs := rec.Result().Cookies(); len(cs) > 0 {
			cookie = cs[0] // re-signed with the new last-seen time
		}
		return sess, err
	}
	// Used every 20 hours: alive until 7 days from sign-in.
	for range 8 {
		now = now.Add(20 * time.Hour)
		if sess, err := read(); err != nil || sess.UserID != 42 {
			t.Fatalf("at %s: %v", now, err)
		}
	}
	now = now.Add(20 * time.Hour) // 180 hours in all
	if _, err := read(); !errors.Is(err, errExpired) {
		t.Errorf("after 7 days: %v; want expired", err)
	}

	now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	w = httptest.NewRecorder()
	s.write(w, session{UserID: 42, Issued: now.Unix(), Seen: now.Unix(), CSRF: "tok"})
	cookie = w.Result().Cookies()[0]
	now = now.Add(24 * time.Hour)
	if _, err := read(); !errors.Is(err, errExpired) {
		t.Errorf("after 24 hours unused: %v; want expired", err)
	}

	good := cookie.Value
	other := &sessions{key: []byte(strings.Repeat("o", 32)), now: s.now}
	w = httptest.NewRecorder()
	other.write(w, session{UserID: 42, Issued: now.Unix(), Seen: now.Unix(), CSRF: "tok"})
	for name, v := range map[string]string{"payload": "x" + good, "signature": good + "x", "no dot": strings.ReplaceAll(good, ".", ""),
		"another key": w.Result().Cookies()[0].Value} {
		cookie = &http.Cookie{Name: sessionCookie, Value: v}
		if _, err := read(); !errors.Is(err, errTampered) {
			t.Errorf("%s: %v; want tampered", name, err)
		}
	}
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
