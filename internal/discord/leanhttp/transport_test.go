package leanhttp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// dialCounter wraps a dialer and counts (and keeps) the connections it made.
type dialCounter struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (d *dialCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

func (d *dialCounter) n() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

func newTransport(t *testing.T, opts ...Option) (*Transport, *dialCounter) {
	t.Helper()
	d := &dialCounter{}
	fb := http.DefaultTransport.(*http.Transport).Clone()
	fb.Proxy = nil
	tr := New(fb, 4, 0, append([]Option{WithDialer(d.dial)}, opts...)...)
	t.Cleanup(tr.CloseIdleConnections)
	return tr, d
}

func do(t *testing.T, c *http.Client, method, u, body string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	rq, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		rq.Header.Set(hdr[i], hdr[i+1])
	}
	rs, err := c.Do(rq)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer rs.Body.Close()
	b, err := io.ReadAll(rs.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, u, err)
	}
	return rs.StatusCode, string(b), rs.Header
}

func TestRoundTripAndReuse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("part one, "))
			w.(http.Flusher).Flush()
			w.Write([]byte("part two"))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/limited":
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"retry_after":1}`))
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(r.Method + " " + r.URL.RequestURI() + " " + r.Header.Get("Authorization") + " " +
				r.Header.Get("Content-Length") + " " + string(b)))
		}
	}))
	defer srv.Close()
	tr, d := newTransport(t)
	c := &http.Client{Transport: tr}

	st, got, _ := do(t, c, "POST", srv.URL+"/a?x=1", `{"k":"v"}`, "Authorization", "Bot t")
	if st != 200 || got != `POST /a?x=1 Bot t 9 {"k":"v"}` {
		t.Fatalf("POST: %d %q", st, got)
	}
	if st, got, _ = do(t, c, "GET", srv.URL+"/b", ""); st != 200 || got != "GET /b   " {
		t.Fatalf("GET: %d %q", st, got)
	}
	// An empty POST says its length, as net/http's does.
	if st, got, _ = do(t, c, "POST", srv.URL+"/c", ""); st != 200 || got != "POST /c  0 " {
		t.Fatalf("empty POST: %d %q", st, got)
	}
	if st, got, _ = do(t, c, "GET", srv.URL+"/chunked", ""); st != 200 || got != "part one, part two" {
		t.Fatalf("chunked: %d %q", st, got)
	}
	if st, got, _ = do(t, c, "DELETE", srv.URL+"/empty", ""); st != 204 || got != "" {
		t.Fatalf("204: %d %q", st, got)
	}
	st, got, h := do(t, c, "PUT", srv.URL+"/limited", "{}")
	if st != 429 || got != `{"retry_after":1}` || h.Get("X-RateLimit-Remaining") != "0" || h.Get("Retry-After") != "1" {
		t.Fatalf("429: %d %q %v", st, got, h)
	}
	if d.n() != 1 {
		t.Fatalf("%d connections for six sequential requests, want 1", d.n())
	}
}

func TestUnknownLengthBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write([]byte(r.Header.Get("Content-Length") + ":" + string(b)))
	}))
	defer srv.Close()
	tr, _ := newTransport(t)
	big := strings.Repeat("x", 100000)
	rq, _ := http.NewRequest("POST", srv.URL, io.MultiReader(strings.NewReader("ab"), strings.NewReader(big)))
	rs, err := (&http.Client{Transport: tr}).Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rs.Body)
	rs.Body.Close()
	if want := "100002:ab" + big; string(b) != want {
		t.Fatalf("got %d bytes %.40q, want %d", len(b), b, len(want))
	}
}

func TestInvalidHeaderRefused(t *testing.T) {
	tr, d := newTransport(t)
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	for _, h := range [][2]string{{"X-Audit-Log-Reason", "a\r\nX-Evil: 1"}, {"Bad Name", "v"}, {"X-A", "nul\x00"}} {
		rq, _ := http.NewRequest("GET", srv.URL, nil)
		rq.Header[h[0]] = []string{h[1]}
		if _, err := tr.RoundTrip(rq); err == nil {
			t.Errorf("header %q: %q sent", h[0], h[1])
		}
	}
	// The refused requests wrote nothing: their connection went back to the pool.
	if st, _, _ := do(t, &http.Client{Transport: tr}, "GET", srv.URL, ""); st != 200 || d.n() != 1 {
		t.Fatalf("after refusals: %d, %d connections", st, d.n())
	}
}

func TestConnectionClose(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	tr, d := newTransport(t)
	c := &http.Client{Transport: tr}
	do(t, c, "GET", srv.URL+"/close", "")
	do(t, c, "GET", srv.URL+"/keep", "")
	do(t, c, "GET", srv.URL+"/keep", "")
	if d.n() != 2 {
		t.Fatalf("%d connections, want 2 (the first closed by the server's answer)", d.n())
	}
}

// peekClosed blocks until the server's close of c has reached this end (a blocking peek
// returns 0), without reading anything.
func peekClosed(t *testing.T, c net.Conn) {
	t.Helper()
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	var n int
	raw.Control(func(fd uintptr) { n, _, err = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK) })
	if err != nil || n != 0 {
		t.Fatalf("peek: %d, %v", n, err)
	}
}

func TestIdleClosedByServerNotReused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	tr, d := newTransport(t)
	c := &http.Client{Transport: tr}
	do(t, c, "GET", srv.URL, "")
	srv.CloseClientConnections()
	peekClosed(t, d.conns[0])
	// A POST is not sent again after a failure: it must not be written to the closed
	// connection at all.
	if st, got, _ := do(t, c, "POST", srv.URL, "{}"); st != 200 || got != "ok" {
		t.Fatalf("POST after the server closed the idle connection: %d %q", st, got)
	}
	if d.n() != 2 {
		t.Fatalf("%d connections, want 2", d.n())
	}
}

func TestIdleTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	now := time.Unix(1000, 0)
	tr, d := newTransport(t, WithClock(func() time.Time { return now }))
	c := &http.Client{Transport: tr}
	do(t, c, "GET", srv.URL, "")
	now = now.Add(89 * time.Second)
	do(t, c, "GET", srv.URL, "")
	if d.n() != 1 {
		t.Fatalf("%d connections within the idle timeout, want 1", d.n())
	}
	now = now.Add(91 * time.Second)
	do(t, c, "GET", srv.URL, "")
	if d.n() != 2 {
		t.Fatalf("%d connections after the idle timeout, want 2", d.n())
	}
}

func TestMaxIdle(t *testing.T) {
	release := make(chan struct{})
	var entered sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered.Done()
		<-release
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	tr, d := newTransport(t) // 4 idle per host
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	entered.Add(6)
	for range 6 {
		wg.Go(func() { do(t, c, "GET", srv.URL, "") })
	}
	entered.Wait()
	close(release)
	wg.Wait()
	tr.mu.Lock()
	idle := len(tr.idle[hostPort(strings.TrimPrefix(srv.URL, "http://"))])
	tr.mu.Unlock()
	if d.n() != 6 || idle != 4 {
		t.Fatalf("%d connections, %d idle; want 6 and 4", d.n(), idle)
	}
}

func TestContextEndsRequest(t *testing.T) {
	entered := make(chan struct{}, 2)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			w.Write([]byte("head"))
			w.(http.Flusher).Flush()
		}
		entered <- struct{}{}
		<-done
	}))
	defer srv.Close()
	defer close(done)
	tr, _ := newTransport(t)
	c := &http.Client{Transport: tr}

	ctx, cancel := context.WithCancel(context.Background())
	rq, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	go func() { <-entered; cancel() }()
	if _, err := c.Do(rq); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while waiting for the answer: %v", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	rq, _ = http.NewRequestWithContext(ctx, "GET", srv.URL+"/body", nil)
	rs, err := c.Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	cancel()
	if _, err := io.ReadAll(rs.Body); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while reading the body: %v", err)
	}
	rs.Body.Close()

	// A deadline, past or passing while waiting for the answer, is the context's error,
	// as net/http's (the connection's deadline may pass before the context's timer fires).
	dctx, dcancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer dcancel()
	rq, _ = http.NewRequestWithContext(dctx, "GET", srv.URL, nil)
	if _, err := c.Do(rq); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("past deadline: %v", err)
	}
	dctx, dcancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer dcancel()
	rq, _ = http.NewRequestWithContext(dctx, "GET", srv.URL, nil)
	if _, err := c.Do(rq); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline passing while waiting: %v", err)
	}
}

// flakyServer answers the first request of each connection and closes the connection on
// reading its second, without answering.
func flakyServer(t *testing.T) (addr string, served *atomic.Int32) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	served = &atomic.Int32{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				rq, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				io.Copy(io.Discard, rq.Body)
				served.Add(1)
				c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
				http.ReadRequest(br)
			}()
		}
	}()
	return ln.Addr().String(), served
}

func TestRetryOnReusedConnection(t *testing.T) {
	addr, served := flakyServer(t)
	tr, d := newTransport(t)
	c := &http.Client{Transport: tr}
	do(t, c, "GET", "http://"+addr+"/", "")
	// The second GET goes on the pooled connection, which the server drops: sent again on
	// a new one, as net/http would.
	if st, got, _ := do(t, c, "GET", "http://"+addr+"/", ""); st != 200 || got != "ok" {
		t.Fatalf("GET retried: %d %q", st, got)
	}
	if d.n() != 2 || served.Load() != 2 {
		t.Fatalf("%d connections, %d served; want 2 and 2", d.n(), served.Load())
	}
	// A POST is not idempotent: it fails rather than being sent twice.
	rq, _ := http.NewRequest("POST", "http://"+addr+"/", strings.NewReader("{}"))
	if _, err := c.Do(rq); err == nil {
		t.Fatal("POST on a dropped connection succeeded")
	}
	if d.n() != 2 {
		t.Fatalf("%d connections after the POST, want 2 (no second attempt)", d.n())
	}
	// With an Idempotency-Key it is sent again.
	do(t, c, "GET", "http://"+addr+"/", "") // a new connection, pooled
	if st, _, _ := do(t, c, "POST", "http://"+addr+"/", "{}", "Idempotency-Key", "k"); st != 200 {
		t.Fatalf("POST with an Idempotency-Key: %d", st)
	}
}

func TestFallback(t *testing.T) {
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("tls")) }))
	defer tls.Close()
	fb := tls.Client().Transport.(*http.Transport).Clone()
	tr := New(fb, 4, 0, WithDialer(func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("leanhttp dialed")
	}))
	if st, got, _ := do(t, &http.Client{Transport: tr}, "GET", tls.URL, ""); st != 200 || got != "tls" {
		t.Fatalf("https: %d %q", st, got)
	}

	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("proxied " + r.URL.String()))
	}))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	fb = &http.Transport{Proxy: http.ProxyURL(pu)}
	tr = New(fb, 4, 0, WithDialer(func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("leanhttp dialed")
	}))
	if st, got, _ := do(t, &http.Client{Transport: tr}, "GET", "http://discord.invalid/api", ""); st != 200 || got != "proxied http://discord.invalid/api" {
		t.Fatalf("proxy: %d %q", st, got)
	}
}

// scripted is a connection whose reads are a fixed answer and whose writes go nowhere.
type scripted struct {
	r      *bytes.Reader
	closed bool
}

func (s *scripted) Read(p []byte) (int, error)       { return s.r.Read(p) }
func (s *scripted) Write(p []byte) (int, error)      { return len(p), nil }
func (s *scripted) Close() error                     { s.closed = true; return nil }
func (s *scripted) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (s *scripted) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (s *scripted) SetDeadline(time.Time) error      { return nil }
func (s *scripted) SetReadDeadline(time.Time) error  { return nil }
func (s *scripted) SetWriteDeadline(time.Time) error { return nil }

// FuzzResponse feeds arbitrary bytes as the server's answer: the transport must neither
// panic nor hang, must answer exactly what net/http's own parser reads of the same bytes
// (status, header, body, or an error), and must pool the connection only when the answer
// was read to its end and may be kept.
func FuzzResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3\r\n!!!\r\n0\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nX-RateLimit-Global: true\r\nContent-Length: 17\r\n\r\n{\"retry_after\":1}",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
		"HTTP/1.0 200 OK\r\n\r\nold",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nshort",
		"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"garbage",
		"",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		mk := func() *http.Request {
			rq, _ := http.NewRequest(method, "http://fuzz.invalid/x", nil)
			return rq
		}
		// net/http's reading of the same bytes, 1xx answers skipped as both transports do.
		var want *http.Response
		var wantBody []byte
		var wantErr error
		br := bufio.NewReader(bytes.NewReader(data))
		for {
			want, wantErr = http.ReadResponse(br, mk())
			if wantErr != nil || want.StatusCode >= 200 || want.StatusCode == 101 {
				break
			}
		}
		if wantErr == nil && want.StatusCode == 101 {
			wantErr = errors.New("101")
		}
		wantEOF := false
		if wantErr == nil {
			wantBody, wantErr = io.ReadAll(want.Body)
			wantEOF = wantErr == nil
		}

		conn := &scripted{r: bytes.NewReader(data)}
		tr := New(&http.Transport{}, 4, 0, WithDialer(func(context.Context, string, string) (net.Conn, error) {
			return conn, nil
		}))
		rs, err := tr.RoundTrip(mk())
		var got []byte
		if err == nil {
			got, err = io.ReadAll(rs.Body)
			rs.Body.Close()
		}
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("error %v, net/http's %v", err, wantErr)
		}
		if err != nil {
			if len(tr.idle["fuzz.invalid:80"]) != 0 {
				t.Fatal("a connection that failed was pooled")
			}
			return
		}
		if rs.StatusCode != want.StatusCode || !bytes.Equal(got, wantBody) || len(rs.Header) != len(want.Header) {
			t.Fatalf("got %d %v %q, net/http's %d %v %q", rs.StatusCode, rs.Header, got, want.StatusCode, want.Header, wantBody)
		}
		pooled := len(tr.idle["fuzz.invalid:80"]) == 1
		if pooled != (wantEOF && !want.Close) {
			t.Fatalf("pooled %v; read to the end %v, close %v", pooled, wantEOF, want.Close)
		}
		if pooled == conn.closed {
			t.Fatalf("pooled %v and closed %v", pooled, conn.closed)
		}
	})
}
