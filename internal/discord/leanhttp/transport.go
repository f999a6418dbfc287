// Package leanhttp is an HTTP/1.1 client transport for gavel's REST calls over plain HTTP
// (the fake Discord of the tests and benchmarks, a rate-limit proxy in front of Discord):
// it writes a request and reads its response on the caller's goroutine, over a pooled
// keep-alive connection, where net/http's transport runs a reader and a writer goroutine per
// connection and hands every request and response between them and the caller (those
// goroutines were 13% of gavel's CPU samples per command: docs/benchmarks.md, issue 11,
// "Session 9").
//
// What it does not do itself it hands to the fallback transport unchanged: https (so Discord
// itself keeps net/http's TLS and HTTP/2), a request a proxy is configured for, a request
// that expects 100-continue, sends trailers or is a CONNECT. The response is parsed by
// net/http's http.ReadResponse, so status lines, headers, Content-Length and chunked bodies,
// 1xx answers and "Connection: close" mean what they mean to net/http.
//
// Connections: a response read to its end returns its connection to the pool (at most
// MaxIdlePerHost per host, dropped after IdleTimeout); one closed early, ended by the
// request's context or marked "Connection: close" is closed. An idle connection is checked
// before reuse (a peek at the socket that does not block), so a connection the server
// closed while idle is not written to. A request that fails on a reused connection before
// any byte of an answer is read is sent once more on a new connection when net/http would
// send it again: when it is idempotent (GET, HEAD, OPTIONS, TRACE, or an Idempotency-Key
// header) and its body can be had again.
package leanhttp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Transport is an http.RoundTripper. Its zero value is not usable: use New.
type Transport struct {
	fallback    http.RoundTripper
	proxy       func(*http.Request) (*url.URL, error)
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle     int
	idleTimeout time.Duration
	now         func() time.Time

	mu   sync.Mutex
	idle map[string][]*conn
}

// Option configures a Transport.
type Option func(*Transport)

// WithDialer sets how connections are made (default a net.Dialer with a 30 s timeout and
// 30 s TCP keep-alive, as http.DefaultTransport's).
func WithDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) Option {
	return func(t *Transport) { t.dial = dial }
}

// WithClock sets the clock idle connections are timed by (tests).
func WithClock(now func() time.Time) Option { return func(t *Transport) { t.now = now } }

// New returns a Transport that keeps at most maxIdlePerHost idle connections per host for
// idleTimeout each (0: 90 s, as http.DefaultTransport) and hands what it does not do itself
// to fallback, whose Proxy setting it follows.
func New(fallback *http.Transport, maxIdlePerHost int, idleTimeout time.Duration, opts ...Option) *Transport {
	if idleTimeout <= 0 {
		idleTimeout = 90 * time.Second
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t := &Transport{fallback: fallback, dial: d.DialContext, maxIdle: maxIdlePerHost,
		idleTimeout: idleTimeout, now: time.Now, idle: map[string][]*conn{}}
	t.proxy = fallback.Proxy
	for _, o := range opts {
		o(t)
	}
	return t
}

// handles reports whether t makes the request itself rather than its fallback.
func (t *Transport) handles(r *http.Request) bool {
	if r.URL == nil || r.URL.Scheme != "http" || r.URL.Host == "" || r.Method == http.MethodConnect ||
		len(r.Trailer) > 0 || len(r.Header["Expect"]) > 0 || len(r.Header["Upgrade"]) > 0 {
		return false
	}
	if t.proxy != nil {
		if p, err := t.proxy(r); p != nil || err != nil {
			return false
		}
	}
	return true
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !t.handles(r) {
		return t.fallback.RoundTrip(r)
	}
	ctx := r.Context()
	key := hostPort(r.URL.Host)
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			closeBody(r)
			return nil, err
		}
		c, err := t.get(ctx, key, attempt > 0)
		if err != nil {
			closeBody(r)
			return nil, err
		}
		if attempt > 0 && r.Body != nil && r.Body != http.NoBody {
			body, err := r.GetBody()
			if err != nil {
				c.close()
				return nil, err
			}
			r2 := *r
			r2.Body = body
			r = &r2
		}
		rs, retry, err := t.exchange(ctx, c, r)
		if err == nil {
			return rs, nil
		}
		if retry && attempt == 0 && c.reused && replayable(r) && ctx.Err() == nil {
			continue
		}
		return nil, contextError(ctx, err)
	}
}

// contextError is the context's error when err is its doing: the context ended, or the
// connection's deadline, which is the context's, passed (it may pass a moment before the
// context's own timer fires). Otherwise it is err.
func contextError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if _, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return err
}

func closeBody(r *http.Request) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
}

// replayable is net/http's rule for sending a request again after its connection failed.
func replayable(r *http.Request) bool {
	if r.Body != nil && r.Body != http.NoBody && r.GetBody == nil {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return len(r.Header["Idempotency-Key"]) > 0 || len(r.Header["X-Idempotency-Key"]) > 0
}

func hostPort(host string) string {
	if _, port, err := net.SplitHostPort(host); err == nil && port != "" {
		return host
	}
	if len(host) > 0 && host[0] == '[' && host[len(host)-1] == ']' {
		return host + ":80"
	}
	return net.JoinHostPort(host, "80")
}

// conn is one connection of the pool.
type conn struct {
	nc        net.Conn
	raw       syscall.RawConn // nil when nc has none (tests' pipes)
	peek      peeker
	cr        countingReader
	br        *bufio.Reader
	buf       []byte
	key       string
	reused    bool
	idleSince time.Time
	deadline  time.Time
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *conn) close() { _ = c.nc.Close() }

// get returns an idle connection to key that is still open, or (fresh, or none) a new one.
func (t *Transport) get(ctx context.Context, key string, fresh bool) (*conn, error) {
	if !fresh {
		for {
			t.mu.Lock()
			list := t.idle[key]
			var c *conn
			if n := len(list); n > 0 {
				c = list[n-1]
				list[n-1] = nil
				t.idle[key] = list[:n-1]
			}
			t.mu.Unlock()
			if c == nil {
				break
			}
			if t.now().Sub(c.idleSince) < t.idleTimeout && c.br.Buffered() == 0 && c.peek.open(c.raw) {
				return c, nil
			}
			c.close()
		}
	}
	nc, err := t.dial(ctx, "tcp", key)
	if err != nil {
		return nil, err
	}
	c := &conn{nc: nc, key: key}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
			c.peek.init()
		}
	}
	c.cr.r = nc
	c.br = bufio.NewReaderSize(&c.cr, 4096)
	return c, nil
}

// put returns a connection whose response was read to its end to the pool.
func (t *Transport) put(c *conn) {
	c.reused = true
	c.idleSince = t.now()
	t.mu.Lock()
	if len(t.idle[c.key]) >= t.maxIdle {
		t.mu.Unlock()
		c.close()
		return
	}
	t.idle[c.key] = append(t.idle[c.key], c)
	t.mu.Unlock()
}

// CloseIdleConnections closes the idle connections, the fallback's too.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*conn{}
	t.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			c.close()
		}
	}
	if ci, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// aLongTimeAgo is a deadline that has passed: it ends a blocked read or write at once.
var aLongTimeAgo = time.Unix(1, 0)

// exchange writes r on c and reads its response's head. retry says nothing of an answer
// was read (the request may be sent again if replayable). On an error c is closed.
func (t *Transport) exchange(ctx context.Context, c *conn, r *http.Request) (*http.Response, bool, error) {
	var err error
	c.buf, err = appendRequest(c.buf[:0], r)
	closeBody(r)
	if err != nil {
		t.put(c)
		return nil, false, err
	}
	deadline, _ := ctx.Deadline()
	if !deadline.Equal(c.deadline) {
		if err := c.nc.SetDeadline(deadline); err != nil {
			c.close()
			return nil, true, err
		}
		c.deadline = deadline
	}
	// The request's context ends a blocked read or write by moving the deadline; no
	// goroutine waits for it.
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(aLongTimeAgo) })
	fail := func(err error, retry bool) (*http.Response, bool, error) {
		stop()
		c.close()
		return nil, retry, err
	}
	if _, err := c.nc.Write(c.buf); err != nil {
		return fail(err, true)
	}
	if cap(c.buf) > 64<<10 {
		c.buf = nil // a large body's buffer is not kept with the connection
	}
	read := c.cr.n - int64(c.br.Buffered())
	var rs *http.Response
	for {
		rs, err = http.ReadResponse(c.br, r)
		if err != nil {
			return fail(err, c.cr.n-int64(c.br.Buffered()) == read)
		}
		if rs.StatusCode >= 200 || rs.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		// An informational answer (100 Continue, 103 Early Hints) comes before the
		// response; it has no body.
	}
	if rs.StatusCode == http.StatusSwitchingProtocols {
		return fail(errors.New("leanhttp: unexpected 101 Switching Protocols"), false)
	}
	rs.Body = &body{rc: rs.Body, c: c, t: t, stop: stop, ctx: ctx, keep: !rs.Close && !r.Close}
	return rs, false, nil
}

// appendRequest appends r's head and body as HTTP/1.1 to b.
func appendRequest(b []byte, r *http.Request) ([]byte, error) {
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	if !validValue(host) || !validToken(r.Method) {
		return b, errors.New("leanhttp: invalid method or host")
	}
	uri := r.URL.RequestURI()
	if !validValue(uri) {
		return b, errors.New("leanhttp: invalid request URI")
	}
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = append(b, uri...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	if len(r.Header["User-Agent"]) == 0 {
		b = append(b, "User-Agent: Go-http-client/1.1\r\n"...)
	}
	for k, vs := range r.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer", "Connection":
			continue
		}
		if !validToken(k) {
			return b, errors.New("leanhttp: invalid header field name " + strconv.Quote(k))
		}
		for _, v := range vs {
			if !validValue(v) {
				return b, errors.New("leanhttp: invalid header field value for " + k)
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if r.Close {
		b = append(b, "Connection: close\r\n"...)
	}
	head := len(b)
	// The body goes after the blank line; its length is known once it is read.
	var err error
	var n int
	if r.Body != nil && r.Body != http.NoBody {
		// Room for the Content-Length line and the blank line (at most 39 bytes), so that
		// the body only ever moves down to meet them.
		b = append(b, make([]byte, 40)...)
		start := len(b)
		if r.ContentLength > 0 {
			b = growTo(b, start+int(r.ContentLength))
			var m int
			m, err = io.ReadFull(r.Body, b[start:start+int(r.ContentLength)])
			b = b[:start+m]
		} else {
			b, err = readAll(b, r.Body)
		}
		if err != nil {
			return b, err
		}
		n = len(b) - start
		body := b[start:]
		b = b[:head]
		b = appendLength(b, r.Method, n)
		b = append(b, "\r\n"...)
		// Move the body up to the end of the head (copy handles the overlap).
		b = b[:len(b)+n]
		copy(b[len(b)-n:], body)
		return b, nil
	}
	b = appendLength(b, r.Method, 0)
	return append(b, "\r\n"...), nil
}

// appendLength writes Content-Length as net/http does: for a body, and for an empty one
// only on the methods that expect one.
func appendLength(b []byte, method string, n int) []byte {
	if n == 0 && method != http.MethodPost && method != http.MethodPut && method != http.MethodPatch {
		return b
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, "\r\n"...)
}

func growTo(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:n]
	}
	nb := make([]byte, n, n+n/4)
	copy(nb, b)
	return nb
}

func readAll(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// validToken: an HTTP token (a method, a header field name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || isSeparator(c) {
			return false
		}
	}
	return true
}

func isSeparator(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}':
		return true
	}
	return false
}

// validValue: no control characters but tab (a CR or LF would end the line early).
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// body is a response body; read to its end, it hands its connection back to the pool.
type body struct {
	rc   io.ReadCloser
	c    *conn
	t    *Transport
	stop func() bool
	ctx  context.Context
	keep bool
	err  error // once done: io.EOF, or errClosed
}

var errClosed = errors.New("leanhttp: read on closed response body")

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.finish(true)
	case err != nil:
		b.finish(false)
		err = contextError(b.ctx, err)
		b.err = err
	}
	return n, err
}

func (b *body) Close() error {
	if b.err == nil {
		b.finish(false)
		b.err = errClosed
	}
	return nil
}

// finish hands the connection back when the body was read to its end, the context did not
// end meanwhile and the connection may be kept; otherwise it closes it.
func (b *body) finish(eof bool) {
	if eof {
		b.err = io.EOF
	}
	if b.stop() && eof && b.keep {
		b.t.put(b.c)
		return
	}
	b.c.close()
}
