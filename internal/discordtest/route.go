package discordtest

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// auth says what a route requires of the caller.
type auth int

const (
	authBot  auth = iota // Authorization: Bot <token>
	authNone             // interaction callbacks and webhooks (the token is in the path), GET /gateway
)

// Request is one REST call as a handler sees it.
type Request struct {
	HTTP *http.Request
	// Route is "METHOD /spec/path", e.g. "PUT /guilds/{guild_id}/bans/{user_id}".
	Route string
	Body  []byte
	// Reason is the decoded X-Audit-Log-Reason header ("" when absent).
	Reason string
	// bearer is the OAuth2 grant of a call made with a bearer token (GET /users/@me only).
	bearer *oauthGrant
}

// ID reads a snowflake path parameter; ok is false when it is missing or malformed.
func (r *Request) ID(name string) (ID, bool) { return ParseID(r.HTTP.PathValue(name)) }

// Response is what a handler returns: a status and a body (nil for 204).
type Response struct {
	Status int
	Body   any
}

type handler func(r *Request) (Response, *apiError)

// route registers an endpoint of API v10. specPath is the path as Discord's OpenAPI spec
// writes it ("/guilds/{guild_id}/bans/{user_id}"): it names the operation for validation and
// the route for rate-limit buckets.
func (s *Server) route(method, specPath string, a auth, h handler) {
	name := method + " " + specPath
	s.mux.HandleFunc(method+" /api/v10"+specPath, func(w http.ResponseWriter, hr *http.Request) {
		s.serve(w, hr, name, a, h)
	})
}

// serve runs one call through what Discord does before and after the handler: injected
// faults, rate limits, authentication, request validation, then response validation.
func (s *Server) serve(w http.ResponseWriter, hr *http.Request, name string, a auth, h handler) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	var body []byte
	defer func() {
		// After an injected drop the handler panics to abort; the call still counts.
		s.ext.observe.served(hr, name, body, sw.status, start, time.Since(start))
	}()
	body = s.serveTimed(sw, hr, name, a, h)
}

// serveTimed is serve's work; it returns the request body it read.
func (s *Server) serveTimed(w http.ResponseWriter, hr *http.Request, name string, a auth, h handler) []byte {
	s.log.Info("request", "method", hr.Method, "path", hr.URL.Path, "route", name)
	if s.ext.injectFault(w, hr, name) {
		return nil
	}
	if !s.ext.admit(w, hr, name) {
		return nil
	}
	var bearer *oauthGrant
	if a == authBot && hr.Header.Get("Authorization") != "Bot "+s.botToken {
		// A user's OAuth2 token reads who they are, and nothing else the fake serves.
		g, ok := s.bearer(hr.Header.Get("Authorization"))
		if !ok || name != "GET /users/@me" {
			writeError(w, errUnauthorized)
			return nil
		}
		bearer = &g
	}
	body, err := io.ReadAll(io.LimitReader(hr.Body, 10<<20))
	if err != nil {
		writeError(w, &apiError{Status: http.StatusBadRequest, Message: "could not read body", Code: 0})
		return nil
	}
	r := &Request{HTTP: hr, Route: name, Body: body, bearer: bearer}
	if reason := hr.Header.Get("X-Audit-Log-Reason"); reason != "" {
		// Clients URL-encode the header; PathUnescape keeps a literal "+" a plus.
		if dec, err := url.PathUnescape(reason); err == nil {
			r.Reason = dec
		} else {
			r.Reason = reason
		}
	}
	if e := s.ext.checkRequest(r); e != nil {
		writeError(w, e)
		return body
	}
	resp, e := h(r)
	if e != nil {
		writeError(w, e)
		return body
	}
	s.ext.checkResponse(r, resp)
	if resp.Status == 0 {
		resp.Status = http.StatusOK
	}
	if resp.Status == http.StatusNoContent {
		w.WriteHeader(http.StatusNoContent)
		return body
	}
	writeJSON(w, resp.Status, resp.Body)
	return body
}

// routes registers every endpoint the fake serves.
func (s *Server) routes() {
	s.restRoutes()
	s.oauthRoutes()
	s.gatewayRoutes()
	s.interactionRoutes()
	s.controlRoutes()
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
