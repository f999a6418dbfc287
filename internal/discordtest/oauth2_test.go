package discordtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gavelbot/gavel/internal/discordtest"
)

// TestOAuth2CodeFlow walks Discord's code flow through the fake with the real oauth2
// client: the consent page and its answers, the exchange, who signed in, and every error.
func TestOAuth2CodeFlow(t *testing.T) {
	t.Parallel()
	const alice discordtest.ID = 700000000000000201
	s := discordtest.New(t, discordtest.WithSeed(discordtest.Seed{Users: []discordtest.User{{ID: alice, Username: "alice"}}}))
	const redirect = "http://127.0.0.1:1/auth/callback"
	s.AddOAuth2Redirect(redirect)
	conf := &oauth2.Config{ClientID: s.OAuth2ClientID(), ClientSecret: s.OAuth2ClientSecret(), RedirectURL: redirect, Scopes: []string{"identify"},
		Endpoint: oauth2.Endpoint{AuthURL: s.OAuth2AuthorizeURL(), TokenURL: s.APIURL() + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, http.DefaultClient)

	page := func(t *testing.T, u string) (int, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	answer := func(t *testing.T, authURL, decision, user string) *url.URL {
		t.Helper()
		u, _ := url.Parse(authURL)
		form := u.Query()
		form.Set("decision", decision)
		form.Set("user_id", user)
		resp, err := noFollow.PostForm(s.OAuth2AuthorizeURL(), form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("answer %s: status %d; want a redirect", decision, resp.StatusCode)
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}

	t.Run("bad requests get an error page", func(t *testing.T) {
		good := conf.AuthCodeURL("st4te")
		for _, c := range []struct{ name, from, to, want string }{
			{"client id", "client_id=" + s.OAuth2ClientID(), "client_id=1", "Unknown application"},
			{"redirect uri", url.QueryEscape(redirect), url.QueryEscape("http://evil.example/cb"), "Invalid OAuth2 redirect_uri"},
			{"state", "state=st4te", "state=", "Missing state"},
			{"scope", "scope=identify", "scope=bot.admin", "Invalid scope"},
		} {
			bad := strings.Replace(good, c.from, c.to, 1)
			if bad == good {
				t.Fatalf("%s: %q is not in %s", c.name, c.from, good)
			}
			if status, body := page(t, bad); status != http.StatusBadRequest || !strings.Contains(body, c.want) {
				t.Errorf("%s: status %d, body %q; want 400 saying %q", c.name, status, body, c.want)
			}
		}
	})

	t.Run("cancel", func(t *testing.T) {
		loc := answer(t, conf.AuthCodeURL("st4te"), "cancel", alice.String())
		if q := loc.Query(); q.Get("error") != "access_denied" || q.Get("state") != "st4te" || q.Get("code") != "" {
			t.Errorf("cancel redirected to %s; want error=access_denied with the state and no code", loc)
		}
	})

	t.Run("authorize, exchange, who", func(t *testing.T) {
		authURL := conf.AuthCodeURL("st4te")
		if status, body := page(t, authURL); status != http.StatusOK || !strings.Contains(body, "alice") || !strings.Contains(body, `id="authorize"`) {
			t.Fatalf("consent page: status %d, body %q", status, body)
		}
		loc := answer(t, authURL, "authorize", alice.String())
		if loc.Scheme+"://"+loc.Host+loc.Path != redirect || loc.Query().Get("state") != "st4te" || loc.Query().Get("code") == "" {
			t.Fatalf("authorize redirected to %s; want the redirect URI with the state and a code", loc)
		}
		code := loc.Query().Get("code")

		other := *conf
		other.RedirectURL = "http://127.0.0.1:1/other"
		var re *oauth2.RetrieveError
		if _, err := other.Exchange(ctx, code); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Errorf("exchange with another redirect URI: %v; want invalid_grant", err)
		}
		wrong := *conf
		wrong.ClientSecret = "nope"
		if _, err := wrong.Exchange(ctx, code); !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
			t.Errorf("exchange with a wrong secret: %v; want invalid_client", err)
		}
		tok, err := conf.Exchange(ctx, code)
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if _, err := conf.Exchange(ctx, code); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Errorf("a code used twice: %v; want invalid_grant", err)
		}
		if _, err := conf.Exchange(ctx, "forged"); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Errorf("a forged code: %v; want invalid_grant", err)
		}

		client := conf.Client(ctx, tok)
		resp, err := client.Get(s.APIURL() + "/users/@me")
		if err != nil {
			t.Fatal(err)
		}
		var me struct{ ID, Username string }
		err = json.NewDecoder(resp.Body).Decode(&me)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || me.ID != alice.String() || me.Username != "alice" {
			t.Errorf("GET /users/@me with the token: %d %+v %v; want alice", resp.StatusCode, me, err)
		}
		// The user's token reads who they are and nothing else.
		resp, err = client.Get(s.APIURL() + "/users/" + alice.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("another route with a user's token: %d; want 401", resp.StatusCode)
		}
		req, _ := http.NewRequest(http.MethodGet, s.APIURL()+"/users/@me", nil)
		req.Header.Set("Authorization", "Bearer forged")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a forged token: %d; want 401", resp.StatusCode)
		}
		if n := s.OAuth2Exchanges(); n != 1 {
			t.Errorf("%d exchanges counted; want 1", n)
		}
	})
}
