package discordtest

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Handler timing: how long the fake itself spends on each REST call, so that a benchmark
// can subtract Discord's share from a latency and report the client's own. The time runs
// from the moment the fake's handler is entered (after net/http has read the request line
// and headers) to the moment the response is written: injected faults and latency, rate
// limiting, authentication, reading the body, validation against the OpenAPI spec, waiting
// for the state lock, the handler itself and encoding the response. The network and
// net/http's own parsing are not in it.

// Served is one REST call as the fake served it.
type Served struct {
	// Route is "METHOD /spec/path", e.g. "POST /channels/{channel_id}/messages".
	Route string
	// Path is the request's URL path, ids included.
	Path string
	// Params are the route's path parameters by name ("channel_id": "1234…").
	Params map[string]string
	// Body is the request body as received.
	Body []byte
	// Status is the HTTP status the fake answered with (0 when it closed the connection
	// without a response, an injected drop).
	Status int
	// Start is when the fake's handler was entered; Duration how long it ran.
	Start    time.Time
	Duration time.Duration
}

// HandlerStats is the fake's cumulative handler time.
type HandlerStats struct {
	// Requests is how many REST calls were served; Total the time spent serving them.
	Requests int
	Total    time.Duration
	// Routes holds the same per route.
	Routes map[string]RouteHandlerStats
}

// RouteHandlerStats is one route's share of HandlerStats.
type RouteHandlerStats struct {
	Requests int
	Total    time.Duration
}

type observer struct {
	mu    sync.Mutex
	fn    func(Served)
	stats HandlerStats
}

func newObserver(*Server) *observer {
	return &observer{stats: HandlerStats{Routes: map[string]RouteHandlerStats{}}}
}

// WithRequestObserver calls fn after each REST call has been answered, with what was
// asked and how long the fake took; see SetRequestObserver.
func WithRequestObserver(fn func(Served)) Option {
	return func(c *config) {
		c.settings = append(c.settings, func(s *Server) { s.SetRequestObserver(fn) })
	}
}

// SetRequestObserver replaces the function called after each REST call has been answered
// (nil: none). fn runs on the request's goroutine once the response is written, outside
// every lock of the fake and outside the timed span; calls may be concurrent.
func (s *Server) SetRequestObserver(fn func(Served)) {
	o := s.ext.observe
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fn = fn
}

// HandlerStats returns the handler time counted so far.
func (s *Server) HandlerStats() HandlerStats {
	o := s.ext.observe
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.stats
	out.Routes = make(map[string]RouteHandlerStats, len(o.stats.Routes))
	for k, v := range o.stats.Routes {
		out.Routes[k] = v
	}
	return out
}

// ResetHandlerStats sets the handler time counted back to zero.
func (s *Server) ResetHandlerStats() {
	o := s.ext.observe
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stats = HandlerStats{Routes: map[string]RouteHandlerStats{}}
}

// statusWriter remembers the status written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Hijack lets an injected drop close the connection under the wrapper.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	return hj.Hijack()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// served counts one answered call and hands it to the observer.
func (o *observer) served(hr *http.Request, route string, body []byte, status int, start time.Time, d time.Duration) {
	o.mu.Lock()
	o.stats.Requests++
	o.stats.Total += d
	rs := o.stats.Routes[route]
	rs.Requests++
	rs.Total += d
	o.stats.Routes[route] = rs
	fn := o.fn
	o.mu.Unlock()
	if fn == nil {
		return
	}
	fn(Served{Route: route, Path: hr.URL.Path, Params: pathParams(hr, route), Body: body,
		Status: status, Start: start, Duration: d})
}

// pathParams reads the parameters a route names ("{guild_id}") from the request.
func pathParams(hr *http.Request, route string) map[string]string {
	out := map[string]string{}
	rest := route
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			return out
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return out
		}
		name := rest[open+1 : open+end]
		out[name] = hr.PathValue(name)
		rest = rest[open+end+1:]
	}
}
