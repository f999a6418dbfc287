package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// chunks reads data n bytes at a time, as the inflater hands the framer its text.
type chunks struct {
	data []byte
	n    int
}

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(c.n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// jsonMessages is how encoding/json's Decoder cut stream, which the framer replaces.
func jsonMessages(stream []byte) [][]byte {
	dec := json.NewDecoder(bytes.NewReader(stream))
	var out [][]byte
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return out
		}
		out = append(out, raw)
	}
}

func framerStream() []byte {
	var stream bytes.Buffer
	for _, m := range realMessages {
		stream.WriteString(`{"t":"MESSAGE_CREATE","s":1,"op":0,"d":` + m + "}")
	}
	stream.WriteString(` {"op":11} ` + "\n" + `{"op":0,"d":{"s":"} ] { [ \" \\\" \\","a":[[],{}]}}{"op":10,"d":{"heartbeat_interval":41250}}`)
	stream.WriteString(`{"op":0,"d":"` + strings.Repeat("x", 200000) + `"}`)
	return stream.Bytes()
}

func TestFramerCutsWhatEncodingJSONCuts(t *testing.T) {
	stream := framerStream()
	want := jsonMessages(stream)
	for _, n := range []int{1, 2, 7, 100, 4096, 1 << 20} {
		f := &framer{r: &chunks{data: stream, n: n}}
		for i, w := range want {
			got, err := f.next()
			if err != nil {
				t.Fatalf("read %d bytes at a time: message %d: %v", n, i, err)
			}
			if !bytes.Equal(got, w) {
				t.Fatalf("read %d bytes at a time: message %d:\n got %.200s\nwant %.200s", n, i, got, w)
			}
		}
		if got, err := f.next(); !errors.Is(err, io.EOF) {
			t.Fatalf("read %d bytes at a time: after the last: %q, %v; want io.EOF", n, got, err)
		}
	}
}

func TestFramerErrors(t *testing.T) {
	for _, tc := range []struct {
		stream string
		want   error
	}{
		{`{"op":11}{"op":`, io.ErrUnexpectedEOF},
		{`{"op":11} 12`, nil},
		{`{"op":11}]`, nil},
	} {
		f := &framer{r: &chunks{data: []byte(tc.stream), n: 3}}
		if _, err := f.next(); err != nil {
			t.Fatalf("%s: first: %v", tc.stream, err)
		}
		_, err := f.next()
		if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: second: %v; want %v", tc.stream, err, tc.want)
		}
	}
}

func FuzzFramer(f *testing.F) {
	f.Add(framerStream()[:4000], uint8(5))
	f.Add([]byte(`{"a":"}"}{"b":[{"c":"\""}]}`), uint8(1))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		fr := &framer{r: &chunks{data: stream, n: int(chunk)%64 + 1}}
		for i, w := range jsonMessages(stream) {
			if w[0] != '{' {
				return // the framer cuts objects only, as Discord sends
			}
			got, err := fr.next()
			if err != nil || !bytes.Equal(got, w) {
				t.Fatalf("%q message %d: got %q, %v; encoding/json %q", stream, i, got, err, w)
			}
		}
	})
}

// BenchmarkFraming cuts a thousand of the storm's messages from one inflated stream.
func BenchmarkFraming(b *testing.B) {
	msg := `{"t":"MESSAGE_CREATE","s":3,"op":0,"d":` + realMessages["storm message"] + `}`
	stream := []byte(strings.Repeat(msg, 1000))
	b.Run("framer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f := &framer{r: &chunks{data: stream, n: 32 << 10}}
			for range 1000 {
				if _, err := f.next(); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dec := json.NewDecoder(&chunks{data: stream, n: 32 << 10})
			for range 1000 {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
