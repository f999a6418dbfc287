package gateway

import (
	"bytes"
	"compress/zlib"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	dgw "github.com/disgoorg/disgo/gateway"
	"github.com/gorilla/websocket"
)

// scriptServer is a WebSocket server a test scripts payload by payload: the small double
// for protocol details the fake Discord cannot be made to do on cue.
type scriptServer struct {
	t     *testing.T
	srv   *httptest.Server
	conns chan *scriptConn

	mu     sync.Mutex
	reject int // upgrades still to refuse with 503
	dials  []dialRecord
	all    []*scriptConn
}

type dialRecord struct {
	path  string
	query url.Values
	at    time.Time
}

func newScriptServer(t *testing.T) *scriptServer {
	t.Helper()
	s := &scriptServer{t: t, conns: make(chan *scriptConn, 16)}
	up := websocket.Upgrader{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.dials = append(s.dials, dialRecord{path: r.URL.Path, query: r.URL.Query(), at: time.Now()})
		refuse := s.reject > 0
		if refuse {
			s.reject--
		}
		s.mu.Unlock()
		if refuse {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := &scriptConn{
			t:      t,
			ws:     ws,
			path:   r.URL.Path,
			query:  r.URL.Query(),
			in:     make(chan clientPayload, 256),
			closed: make(chan int, 1),
			gone:   make(chan struct{}),
		}
		if c.query.Get("compress") == "zlib-stream" {
			c.zw = zlib.NewWriter(&c.zbuf)
		}
		s.mu.Lock()
		s.all = append(s.all, c)
		s.mu.Unlock()
		go c.readLoop()
		s.conns <- c
	}))
	t.Cleanup(func() {
		s.mu.Lock()
		all := s.all
		s.mu.Unlock()
		for _, c := range all {
			_ = c.ws.Close()
			<-c.gone
		}
		s.srv.Close()
	})
	return s
}

// URL is the configured gateway URL; resumeURL is the one READY hands out.
func (s *scriptServer) URL() string { return "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/gw" }
func (s *scriptServer) resumeURL() string {
	return "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/resume"
}

func (s *scriptServer) refuse(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = n
}

func (s *scriptServer) dialLog() []dialRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]dialRecord(nil), s.dials...)
}

// accept returns the next connection.
func (s *scriptServer) accept() *scriptConn {
	s.t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(5 * time.Second):
		s.t.Fatal("no connection within 5s")
		return nil
	}
}

// noConnection asserts nobody connects within d.
func (s *scriptServer) noConnection(d time.Duration) {
	s.t.Helper()
	select {
	case c := <-s.conns:
		s.t.Fatalf("unexpected connection to %s", c.path)
	case <-time.After(d):
	}
}

type clientPayload struct {
	Op dgw.Opcode      `json:"op"`
	D  json.RawMessage `json:"d"`
	at time.Time
}

type scriptConn struct {
	t      *testing.T
	ws     *websocket.Conn
	path   string
	query  url.Values
	in     chan clientPayload
	closed chan int // the close code the client sent
	gone   chan struct{}

	autoAck bool // answer heartbeats with ACK (set before the first heartbeat)

	wmu  sync.Mutex
	zw   *zlib.Writer
	zbuf bytes.Buffer
}

func (c *scriptConn) readLoop() {
	defer close(c.gone)
	c.ws.SetCloseHandler(func(code int, text string) error {
		select {
		case c.closed <- code:
		default:
		}
		c.wmu.Lock()
		defer c.wmu.Unlock()
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
		return nil
	})
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var p clientPayload
		if err := json.Unmarshal(data, &p); err != nil {
			c.t.Errorf("client sent invalid JSON %q: %v", data, err)
			return
		}
		p.at = time.Now()
		c.wmu.Lock()
		ack := c.autoAck
		c.wmu.Unlock()
		if ack && p.Op == dgw.OpcodeHeartbeat {
			c.send(map[string]any{"op": 11})
		}
		select {
		case c.in <- p:
		default:
			c.t.Errorf("script connection: too many unread client payloads")
		}
	}
}

func (c *scriptConn) setAutoAck(on bool) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.autoAck = on
}

// send writes one payload, through the connection's zlib stream when it asked for one.
func (c *scriptConn) send(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		c.t.Fatalf("marshal: %v", err)
	}
	c.sendRaw(data, 1)
}

// sendRaw writes data; with zlib-stream it is compressed and split over parts frames.
func (c *scriptConn) sendRaw(data []byte, parts int) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.zw == nil {
		_ = c.ws.WriteMessage(websocket.TextMessage, data)
		return
	}
	c.zbuf.Reset()
	_, _ = c.zw.Write(data)
	_ = c.zw.Flush() // Z_SYNC_FLUSH: ends with 00 00 ff ff
	out := c.zbuf.Bytes()
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		c.t.Errorf("zlib flush did not end with the sync marker")
	}
	step := (len(out) + parts - 1) / parts
	for len(out) > 0 {
		n := min(step, len(out))
		_ = c.ws.WriteMessage(websocket.BinaryMessage, out[:n])
		out = out[n:]
	}
}

func (c *scriptConn) hello(interval time.Duration) {
	c.send(map[string]any{"op": 10, "d": map[string]any{"heartbeat_interval": interval.Milliseconds()}})
}

func (c *scriptConn) dispatch(seq int, t string, d any) {
	c.send(map[string]any{"op": 0, "s": seq, "t": t, "d": d})
}

func (c *scriptConn) ready(seq int, session, resumeURL string) {
	c.dispatch(seq, "READY", map[string]any{
		"v":                  10,
		"user":               map[string]any{"id": "123456789012345678", "username": "gavel", "discriminator": "0", "bot": true},
		"guilds":             []any{},
		"session_id":         session,
		"resume_gateway_url": resumeURL,
		"shard":              []int{0, 1},
		"application":        map[string]any{"id": "123456789012345678", "flags": 0},
	})
}

func (c *scriptConn) messageCreate(seq int, content string) {
	c.dispatch(seq, "MESSAGE_CREATE", map[string]any{
		"id": "1000", "channel_id": "2000", "content": content, "type": 0,
		"author":    map[string]any{"id": "3000", "username": "u", "discriminator": "0"},
		"timestamp": "2024-01-01T00:00:00Z", "tts": false, "mention_everyone": false,
		"mentions": []any{}, "mention_roles": []any{}, "attachments": []any{}, "embeds": []any{}, "pinned": false,
	})
}

func (c *scriptConn) closeWith(code int, text string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	_ = c.ws.Close()
}

// drop cuts the TCP connection without a close frame.
func (c *scriptConn) drop() { _ = c.ws.Close() }

// expect returns the next client payload, which must have opcode op.
func (c *scriptConn) expect(op dgw.Opcode) clientPayload {
	c.t.Helper()
	return c.expectWithin(op, 5*time.Second)
}

func (c *scriptConn) expectWithin(op dgw.Opcode, d time.Duration) clientPayload {
	c.t.Helper()
	select {
	case p := <-c.in:
		if p.Op != op {
			c.t.Fatalf("client sent op %d (%s), want op %d", p.Op, p.D, op)
		}
		return p
	case <-time.After(d):
		c.t.Fatalf("client sent no op %d within %v", op, d)
		return clientPayload{}
	}
}

// skipHeartbeats returns the next payload that is not a heartbeat.
func (c *scriptConn) next(skipHeartbeats bool) clientPayload {
	c.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case p := <-c.in:
			if skipHeartbeats && p.Op == dgw.OpcodeHeartbeat {
				continue
			}
			return p
		case <-deadline:
			c.t.Fatal("client sent nothing within 5s")
			return clientPayload{}
		}
	}
}

// expectClose waits for the client's close frame and returns its code.
func (c *scriptConn) expectClose() int {
	c.t.Helper()
	select {
	case code := <-c.closed:
		return code
	case <-time.After(5 * time.Second):
		c.t.Fatal("client sent no close frame within 5s")
		return 0
	}
}
