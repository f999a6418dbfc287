package discordtest

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Discord's OAuth2 code flow, as a web application signing users in meets it:
//
//	GET  /oauth2/authorize          the consent page (Discord's is at discord.com/oauth2/authorize);
//	POST /oauth2/authorize          the user's answer: Authorize, or Cancel;
//	POST /api/v10/oauth2/token      the code exchanged for a bearer token;
//	GET  /api/v10/users/@me         with "Authorization: Bearer <token>", who signed in.
//
// The fake has no signed-in browser user, so its consent page asks who is signing in (a
// select of the fake's users); a browser test picks one and presses Authorize, a plain HTTP
// test posts the same form. The client is the application itself (OAuth2ClientID,
// OAuth2ClientSecret); redirect URIs must be registered with AddOAuth2Redirect, exactly as
// in the developer portal.

// Lifetimes of what the flow hands out, Discord's.
const (
	oauthCodeTTL  = 10 * time.Minute
	oauthTokenTTL = 7 * 24 * time.Hour
)

// oauthScopes are the scopes the fake knows; any other is refused at the consent page.
var oauthScopes = []string{"identify", "email", "guilds", "guilds.members.read"}

// oauth is the fake's OAuth2 state, under its own lock.
type oauth struct {
	mu        sync.Mutex
	secret    string
	redirects []string
	codes     map[string]oauthGrant
	tokens    map[string]oauthGrant
	// exchanges counts successful token exchanges, for tests.
	exchanges int
}

// oauthGrant is what a code or a token stands for.
type oauthGrant struct {
	user     ID
	scopes   []string
	redirect string
	expires  time.Time
}

func newOAuth() *oauth {
	return &oauth{secret: randomHex(16), codes: map[string]oauthGrant{}, tokens: map[string]oauthGrant{}}
}

// OAuth2ClientID is the OAuth2 client id: the application id, as in Discord.
func (s *Server) OAuth2ClientID() string { return s.appID.String() }

// OAuth2ClientSecret is the application's client secret.
func (s *Server) OAuth2ClientSecret() string {
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	return s.oauth.secret
}

// AddOAuth2Redirect registers a redirect URI, as the developer portal's OAuth2 page does;
// the authorize and token steps accept only registered URIs, compared exactly.
func (s *Server) AddOAuth2Redirect(uri string) {
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	s.oauth.redirects = append(s.oauth.redirects, uri)
}

// OAuth2AuthorizeURL is where a client sends the browser to sign in.
func (s *Server) OAuth2AuthorizeURL() string { return s.URL + "/oauth2/authorize" }

// OAuth2Exchanges is how many codes were exchanged for tokens.
func (s *Server) OAuth2Exchanges() int {
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	return s.oauth.exchanges
}

// bearer returns the grant of a bearer token, if it is live.
func (s *Server) bearer(header string) (oauthGrant, bool) {
	tok, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || tok == "" {
		return oauthGrant{}, false
	}
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	g, ok := s.oauth.tokens[tok]
	if !ok || !s.now().Before(g.expires) {
		return oauthGrant{}, false
	}
	return g, true
}

func (s *Server) oauthRoutes() {
	s.mux.HandleFunc("GET /oauth2/authorize", s.handleAuthorizePage)
	s.mux.HandleFunc("POST /oauth2/authorize", s.handleAuthorizeAnswer)
	// Discord serves the token endpoint with and without a version in the path.
	s.mux.HandleFunc("POST /api/v10/oauth2/token", s.handleToken)
	s.mux.HandleFunc("POST /api/oauth2/token", s.handleToken)
}

// authorizeRequest is the query of an authorize call, checked.
type authorizeRequest struct {
	ClientID, RedirectURI, Scope, State string
	scopes                              []string
}

// checkAuthorize validates an authorize request as Discord does: a wrong client id,
// redirect URI, response type or scope is an error page, never a redirect (the redirect URI
// cannot be trusted). The fake also requires state, so that a client forgetting its CSRF
// defence fails in tests.
func (s *Server) checkAuthorize(v url.Values) (authorizeRequest, string) {
	r := authorizeRequest{ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"), Scope: v.Get("scope"), State: v.Get("state")}
	if r.ClientID != s.OAuth2ClientID() {
		return r, fmt.Sprintf("Unknown application: client_id %q is not this application's id (%s).", r.ClientID, s.OAuth2ClientID())
	}
	s.oauth.mu.Lock()
	registered := slices.Contains(s.oauth.redirects, r.RedirectURI)
	s.oauth.mu.Unlock()
	if !registered {
		return r, fmt.Sprintf("Invalid OAuth2 redirect_uri: %q is not registered for this application.", r.RedirectURI)
	}
	if rt := v.Get("response_type"); rt != "code" {
		return r, fmt.Sprintf("Invalid response_type %q: only \"code\" is supported.", rt)
	}
	r.scopes = strings.Fields(r.Scope)
	if len(r.scopes) == 0 {
		return r, "No scope given: ask for at least one, such as identify."
	}
	for _, sc := range r.scopes {
		if !slices.Contains(oauthScopes, sc) {
			return r, fmt.Sprintf("Invalid scope %q: known scopes are %s.", sc, strings.Join(oauthScopes, ", "))
		}
	}
	if r.State == "" {
		return r, "Missing state: the fake requires a state parameter (a client's defence against cross-site request forgery)."
	}
	return r, ""
}

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize application</title></head>
<body>
<h1>An application wants to access your account</h1>
<p>Application {{.ClientID}} asks for: {{.Scope}}.</p>
<form method="post" action="/oauth2/authorize">
<input type="hidden" name="client_id" value="{{.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}">
<input type="hidden" name="response_type" value="code">
<input type="hidden" name="scope" value="{{.Scope}}">
<input type="hidden" name="state" value="{{.State}}">
<label for="user_id">Signed in to Discord as</label>
<select id="user_id" name="user_id">{{range .Users}}<option value="{{.ID}}">{{.Username}} ({{.ID}})</option>{{end}}</select>
<button id="authorize" name="decision" value="authorize" type="submit">Authorize</button>
<button id="cancel" name="decision" value="cancel" type="submit">Cancel</button>
</form>
</body></html>`))

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OAuth2 error</title></head>
<body><h1>OAuth2 error</h1><p id="error">{{.}}</p></body></html>`))

func writeOAuthErrorPage(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	_ = errorPage.Execute(w, msg)
}

func (s *Server) handleAuthorizePage(w http.ResponseWriter, hr *http.Request) {
	r, problem := s.checkAuthorize(hr.URL.Query())
	if problem != "" {
		writeOAuthErrorPage(w, problem)
		return
	}
	s.mu.Lock()
	var users []User
	for _, u := range s.st.users {
		if !u.Bot {
			users = append(users, *u)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(users, func(a, b User) int { return strings.Compare(a.Username, b.Username) })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = consentPage.Execute(w, struct {
		authorizeRequest
		Users []User
	}{r, users})
}

func (s *Server) handleAuthorizeAnswer(w http.ResponseWriter, hr *http.Request) {
	if err := hr.ParseForm(); err != nil {
		writeOAuthErrorPage(w, "The form could not be read: "+err.Error())
		return
	}
	r, problem := s.checkAuthorize(hr.PostForm)
	if problem != "" {
		writeOAuthErrorPage(w, problem)
		return
	}
	back, _ := url.Parse(r.RedirectURI)
	q := back.Query()
	q.Set("state", r.State)
	if hr.PostForm.Get("decision") != "authorize" {
		q.Set("error", "access_denied")
		q.Set("error_description", "The resource owner or authorization server denied the request")
		back.RawQuery = q.Encode()
		http.Redirect(w, hr, back.String(), http.StatusFound)
		return
	}
	user, ok := ParseID(hr.PostForm.Get("user_id"))
	s.mu.Lock()
	u, known := s.st.users[user]
	s.mu.Unlock()
	if !ok || !known || u.Bot {
		writeOAuthErrorPage(w, fmt.Sprintf("Unknown user %q: pick one of the listed users.", hr.PostForm.Get("user_id")))
		return
	}
	code := randomHex(15)
	s.oauth.mu.Lock()
	s.oauth.codes[code] = oauthGrant{user: user, scopes: r.scopes, redirect: r.RedirectURI, expires: s.now().Add(oauthCodeTTL)}
	s.oauth.mu.Unlock()
	q.Set("code", code)
	back.RawQuery = q.Encode()
	http.Redirect(w, hr, back.String(), http.StatusFound)
}

// oauthError is the token endpoint's error body (RFC 6749 §5.2), which Discord follows.
func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func (s *Server) handleToken(w http.ResponseWriter, hr *http.Request) {
	if err := hr.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form: "+err.Error())
		return
	}
	f := hr.PostForm
	id, secret, basic := hr.BasicAuth()
	if !basic {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	if id != s.OAuth2ClientID() || secret != s.OAuth2ClientSecret() {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Invalid client_id or client_secret.")
		return
	}
	if gt := f.Get("grant_type"); gt != "authorization_code" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("Unsupported grant_type %q.", gt))
		return
	}
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	code := f.Get("code")
	g, ok := s.oauth.codes[code]
	if !ok || !s.now().Before(g.expires) {
		oauthError(w, http.StatusBadRequest, "invalid_grant", `Invalid "code" in request.`)
		return
	}
	if f.Get("redirect_uri") != g.redirect {
		oauthError(w, http.StatusBadRequest, "invalid_grant", `Invalid "redirect_uri" in request.`)
		return
	}
	// A code is good for one exchange.
	delete(s.oauth.codes, code)
	tok := randomHex(15)
	g.expires = s.now().Add(oauthTokenTTL)
	s.oauth.tokens[tok] = g
	s.oauth.exchanges++
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(oauthTokenTTL.Seconds()),
		"refresh_token": randomHex(15), "scope": strings.Join(g.scopes, " ")})
}
