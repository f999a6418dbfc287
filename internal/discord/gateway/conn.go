package gateway

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	dgw "github.com/disgoorg/disgo/gateway"
	"github.com/gorilla/websocket"
)

// apiVersion is the gateway version gavel speaks (disgo's REST and types are v10 too).
const apiVersion = 10

// maxPayload is the largest event Discord accepts from a client; a larger one closes the
// connection with 4002.
const maxPayload = 4096

// gatewayURL adds the query Discord expects to base (the configured URL or READY's
// resume_gateway_url), keeping any path it has.
func gatewayURL(base string, comp Compression) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("parse gateway URL %q: %w", base, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return "", fmt.Errorf("gateway URL %q: scheme must be ws or wss", base)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	q := u.Query()
	q.Set("v", strconv.Itoa(apiVersion))
	q.Set("encoding", "json")
	if comp == CompressionZlibStream {
		q.Set("compress", string(comp))
	} else {
		q.Del("compress")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// conn is one WebSocket connection. One goroutine (the reader) calls next; any goroutine
// may call write; shutdown belongs to the supervisor.
type conn struct {
	ws           *websocket.Conn
	writeTimeout time.Duration

	// Payloads from the reader to the supervisor. Unbuffered: once the supervisor stops
	// listening (done is closed) the reader gives up instead of blocking.
	ctrl       chan control
	done       chan struct{} // closed when the supervisor is finished with the connection
	readerDone chan struct{} // closed when the reader goroutine has returned

	frames *framer // zlib-stream only: cuts messages from the one inflated stream

	rbuf bytes.Buffer // without compression: the reader's buffer, reused from message to message

	// The reader stalls when the event buffer is full. It then reads nothing, ACKs
	// included, so a missing ACK says nothing about the connection: the supervisor does
	// not call it a zombie while the reader stalls or if it stalled since the heartbeat.
	stalled atomic.Bool
	stalls  atomic.Int64

	wmu sync.Mutex // gorilla allows one writer at a time
}

func newConn(ws *websocket.Conn, comp Compression, writeTimeout time.Duration) *conn {
	c := &conn{
		ws:           ws,
		writeTimeout: writeTimeout,
		ctrl:         make(chan control),
		done:         make(chan struct{}),
		readerDone:   make(chan struct{}),
	}
	if comp == CompressionZlibStream {
		c.frames = &framer{r: &lazyZlib{src: &frameReader{ws: ws}}}
	}
	return c
}

// maxKeptReadBuffer bounds the read buffer a connection keeps between messages.
const maxKeptReadBuffer = 1 << 20

// next returns the next message's JSON, in a slice of its own.
func (c *conn) next() ([]byte, error) {
	if c.frames != nil {
		return c.frames.next()
	}
	// Without transport compression every frame is one JSON message. It is read into the
	// connection's buffer and copied out at its size: gorilla's ReadMessage grows a new slice
	// from 512 bytes for every message, most of the gateway's allocations.
	_, r, err := c.ws.NextReader()
	if err != nil {
		return nil, err
	}
	c.rbuf.Reset()
	if _, err := c.rbuf.ReadFrom(r); err != nil {
		return nil, err
	}
	data := bytes.Clone(c.rbuf.Bytes())
	if c.rbuf.Cap() > maxKeptReadBuffer {
		c.rbuf = bytes.Buffer{} // a READY of a big bot: not kept for the connection's life
	}
	return data, nil
}

// write sends one payload as a text frame (clients never compress what they send).
func (c *conn) write(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.SetWriteDeadline(time.Now().Add(c.writeTimeout)); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, data); err != nil {
		return fmt.Errorf("write gateway payload: %w", err)
	}
	return nil
}

// shutdown ends the connection. With a code it sends a close frame and gives the server
// grace to answer (an orderly close), then drops the TCP connection and waits for the
// reader, which the dropped connection unblocks.
func (c *conn) shutdown(code int, reason string, grace time.Duration, kill <-chan struct{}) {
	close(c.done)
	if code != 0 {
		msg := websocket.FormatCloseMessage(code, reason)
		if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(grace)); err == nil {
			t := time.NewTimer(grace)
			select {
			case <-c.readerDone:
			case <-t.C:
			case <-kill:
			}
			t.Stop()
		}
	}
	_ = c.ws.Close()
	<-c.readerDone
}

// frameReader presents the binary frames of a zlib-stream connection as one byte stream, so
// one zlib reader inflates the whole connection as Discord's shared context requires.
// It blocks for the next frame only when the inflater needs more input, which happens
// after a message's Z_SYNC_FLUSH has already been read.
type frameReader struct {
	ws  *websocket.Conn
	cur io.Reader
}

func (f *frameReader) Read(p []byte) (int, error) {
	for {
		if f.cur != nil {
			n, err := f.cur.Read(p)
			if errors.Is(err, io.EOF) {
				f.cur = nil
				if n > 0 {
					return n, nil
				}
				continue
			}
			return n, err
		}
		mt, r, err := f.ws.NextReader()
		if err != nil {
			return 0, err
		}
		if mt != websocket.BinaryMessage {
			return 0, fmt.Errorf("zlib-stream: expected a binary frame, got frame type %d", mt)
		}
		f.cur = r
	}
}

// lazyZlib opens the zlib reader on first use, because opening reads the stream header and
// so blocks until the first frame arrives; that must happen on the reader goroutine.
type lazyZlib struct {
	src io.Reader
	zr  io.Reader
}

func (l *lazyZlib) Read(p []byte) (int, error) {
	if l.zr == nil {
		zr, err := zlib.NewReader(bufio.NewReader(l.src))
		if err != nil {
			return 0, fmt.Errorf("zlib-stream: %w", err)
		}
		l.zr = zr
	}
	return l.zr.Read(p)
}

// controlKind is what the reader tells the supervisor.
type controlKind int

const (
	ctrlHello controlKind = iota
	ctrlAck
	ctrlHeartbeatRequest
	ctrlReady // READY or RESUMED arrived
	ctrlReconnect
	ctrlInvalidSession
	ctrlReadError
)

type control struct {
	kind      controlKind
	interval  time.Duration // ctrlHello
	resumable bool          // ctrlInvalidSession
	resumed   bool          // ctrlReady: RESUMED rather than READY
	at        time.Time     // ctrlAck: when it arrived
	err       error         // ctrlReadError
}

// decode turns a payload into disgo's Message, which decodes d by opcode and event type.
// When d does not decode, the envelope still yields op, s and t, so a dispatch disgo cannot
// read still advances the sequence (resuming must not replay what was received). A
// dispatch that skip reports is returned without D: it advances the sequence and reaches no
// handler. The envelope is read by splitEnvelope; encoding/json reads what that leaves.
// With ownMessages, a MESSAGE_CREATE's d is gavel's *MessageCreate (decodeMessage).
func decode(data []byte, skip func(dgw.EventType, []byte) bool, ownMessages bool) (dgw.Message, error) {
	var m dgw.Message
	if env, ok := splitEnvelope(data); ok {
		m = dgw.Message{Op: dgw.Opcode(env.op), S: env.s, T: dgw.EventType(env.t), RawD: env.d}
	} else {
		var env struct {
			Op dgw.Opcode      `json:"op"`
			S  int             `json:"s"`
			T  dgw.EventType   `json:"t"`
			D  json.RawMessage `json:"d"`
		}
		if err := json.Unmarshal(data, &env); err != nil {
			return dgw.Message{}, fmt.Errorf("decode gateway payload: %w", err)
		}
		m = dgw.Message{Op: env.Op, S: env.S, T: env.T, RawD: env.D}
	}
	if m.Op != dgw.OpcodeDispatch {
		// The other opcodes are small and rare: disgo decodes them from the payload.
		var full dgw.Message
		if err := full.UnmarshalJSON(data); err != nil {
			return m, fmt.Errorf("decode op %d payload: %w", m.Op, err)
		}
		return full, nil
	}
	// d has been checked to be JSON (a skip function may rely on it, see Field).
	if skip != nil && skip(m.T, m.RawD) {
		return m, nil
	}
	if ownMessages && m.T == dgw.EventTypeMessageCreate {
		msg, err := decodeMessage(m.RawD)
		if err != nil {
			return m, fmt.Errorf("decode %s payload (op %d): %w", m.T, m.Op, err)
		}
		m.D = msg
		return m, nil
	}
	// What disgo's Message.UnmarshalJSON does for a dispatch, from the d already split off
	// (it would scan the whole payload again first).
	d, err := unmarshalEventData(m.RawD, m.T)
	if err != nil {
		return m, fmt.Errorf("decode %s payload (op %d): %w", m.T, m.Op, err)
	}
	m.D = d
	return m, nil
}

// unmarshalEventData is disgo's decoding of a dispatch's d, with its panics turned into
// errors: disgo v0.19.6 panics on some payloads (a message whose top-level component is not
// a layout component, found by FuzzMessageCreate), which would end the reader.
func unmarshalEventData(d []byte, t dgw.EventType) (ev dgw.EventData, err error) {
	defer func() {
		if r := recover(); r != nil {
			ev, err = nil, fmt.Errorf("disgo panicked decoding it: %v", r)
		}
	}()
	return dgw.UnmarshalEventData(d, t)
}

// encode marshals an outgoing payload and enforces Discord's size limit.
func encode(op dgw.Opcode, d dgw.MessageData) ([]byte, error) {
	data, err := json.Marshal(dgw.Message{Op: op, D: d})
	if err != nil {
		return nil, fmt.Errorf("encode op %d payload: %w", op, err)
	}
	if len(data) > maxPayload {
		return nil, fmt.Errorf("op %d payload is %d bytes: Discord accepts at most %d", op, len(data), maxPayload)
	}
	return data, nil
}
