package gateway

import (
	"errors"
	"fmt"
	"io"
)

// A framer cuts the inflated text of a zlib-stream connection into its messages, each a JSON
// object. encoding/json's Decoder did it with two passes of its scanner over every message
// (finding the value's end, then again to hand it to a RawMessage), as slow as the rest of the
// gateway's decoding together once MESSAGE_CREATE was decoded by gavel (docs/benchmarks.md,
// issue 16). The framer follows the brackets outside strings as the text arrives (one cheap
// pass, resumed across reads), and the message it cuts is checked by decode's own pass.
type framer struct {
	r   io.Reader
	buf []byte // buf[off:] is text read but not yet returned
	off int
	// The state of the message being cut, from buf[off]: scanned bytes, bracket depth, and
	// whether the scan is inside a string or just after a backslash in one.
	scanned      int
	depth        int
	inStr, escap bool
}

// maxFrameMessage bounds one message: a larger one (Discord's largest, a big guild's
// GUILD_CREATE, is a few MiB) is an error, not a buffer that grows without end.
const maxFrameMessage = 64 << 20

// next returns the next message, in a slice of its own.
func (f *framer) next() ([]byte, error) {
	for {
		if msg, ok, err := f.cut(); err != nil || ok {
			return msg, err
		}
		if len(f.buf)-f.off > maxFrameMessage {
			return nil, fmt.Errorf("zlib-stream: a message of more than %d bytes", maxFrameMessage)
		}
		// Keep the message being cut at the start of the buffer, and room to read into.
		if f.off > 0 {
			n := copy(f.buf, f.buf[f.off:])
			f.buf, f.off = f.buf[:n], 0
		}
		if cap(f.buf)-len(f.buf) < 4096 {
			grown := make([]byte, len(f.buf), 2*cap(f.buf)+8192)
			copy(grown, f.buf)
			f.buf = grown
		}
		n, err := f.r.Read(f.buf[len(f.buf):cap(f.buf)])
		f.buf = f.buf[:len(f.buf)+n]
		if err != nil && n == 0 {
			if errors.Is(err, io.EOF) && f.scanned > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// cut scans what has been read of the current message; ok when it is complete.
func (f *framer) cut() ([]byte, bool, error) {
	text := f.buf[f.off:]
	i := f.scanned
	if f.depth == 0 && !f.inStr {
		// Before the message: space, then its opening brace.
		i = skipSpace(text, i)
		if i == len(text) {
			f.off, f.scanned = len(f.buf), 0
			return nil, false, nil
		}
		if text[i] != '{' {
			return nil, false, fmt.Errorf("zlib-stream: a message starts with %q, not an object", text[i])
		}
		f.off += i
		text, i = text[i:], 0
	}
	for ; i < len(text); i++ {
		c := text[i]
		switch {
		case f.escap:
			f.escap = false
		case f.inStr:
			switch c {
			case '\\':
				f.escap = true
			case '"':
				f.inStr = false
			}
		case c == '"':
			f.inStr = true
		case c == '{' || c == '[':
			f.depth++
		case c == '}' || c == ']':
			f.depth--
			if f.depth == 0 {
				msg := text[:i+1]
				f.off += i + 1
				f.scanned = 0
				// The brackets balanced; whether it is JSON is decode's to check, as for an
				// uncompressed frame. One that does not balance as JSON would (a bracket out
				// of place) is not JSON either, and decode says so.
				msg = append([]byte(nil), msg...)
				if f.off == len(f.buf) && cap(f.buf) > maxKeptReadBuffer {
					f.buf, f.off = nil, 0 // a READY of a big bot: not kept for the connection's life
				}
				return msg, true, nil
			}
		}
	}
	f.scanned = i
	return nil, false, nil
}
