package gateway

import (
	"bytes"
	"encoding/json"
	"testing"

	dgw "github.com/disgoorg/disgo/gateway"
)

// jsonEnvelope is what decode read with encoding/json before splitEnvelope.
type jsonEnvelope struct {
	Op dgw.Opcode      `json:"op"`
	S  int             `json:"s"`
	T  dgw.EventType   `json:"t"`
	D  json.RawMessage `json:"d"`
}

const messageCreate = `{"t":"MESSAGE_CREATE","s":42,"op":0,"d":{"type":0,"tts":false,"timestamp":"2026-12-07T00:00:00.000000+00:00","pinned":false,"mentions":[{"username":"x","id":"2"}],"id":"9","embeds":[{"title":"a \"quoted\" \u00e9 title","fields":[{"name":"n","value":"v","inline":true}]}],"content":"$ban <@2> spam","channel_id":"3","author":{"username":"mod","id":"1","bot":false},"guild_id":"4","nonce":"123","extra":-1.5e3}}`

func TestSplitEnvelopeReadsWhatEncodingJSONReads(t *testing.T) {
	for _, payload := range []string{
		messageCreate,
		`{"op":10,"d":{"heartbeat_interval":41250},"s":null,"t":null}`,
		`{"op":11}`,
		" {\n\t\"op\" : 0 , \"d\" : [1, 2.5, true, false, null, {}, []] , \"s\" : 7 , \"t\" : \"X\" }\r\n",
		`{"op":0,"t":"A","t":null,"s":3,"s":null,"x":{"op":"not the envelope's"}}`,
		`{}`,
	} {
		env, ok := splitEnvelope([]byte(payload))
		if !ok {
			t.Errorf("%s: not read", payload)
			continue
		}
		var want jsonEnvelope
		if err := json.Unmarshal([]byte(payload), &want); err != nil {
			t.Fatal(err)
		}
		if env.op != int(want.Op) || env.s != want.S || env.t != string(want.T) || !bytes.Equal(env.d, want.D) {
			t.Errorf("%s:\n got op %d s %d t %q d %s\nwant op %d s %d t %q d %s", payload, env.op, env.s, env.t, env.d, want.Op, want.S, want.T, want.D)
		}
	}
}

func TestSplitEnvelopeLeavesTheRestToEncodingJSON(t *testing.T) {
	for _, payload := range []string{
		``, `null`, `[]`, `{"op":0`, `{"op":0}x`, `{"op":0,}`, `{"op":"0"}`, `{"op":1.0}`, `{"op":1e2}`,
		`{"OP":0}`, `{"T":"X"}`, `{"\u006fp":0}`, `{"t":"A\u0042"}`, `{"t":1}`, `{"s":99999999999999999999}`,
		`{"d":{"a":01}}`, `{"d":"bad \x escape"}`, "{\"d\":\"raw \x01 control\"}", `{"d":[1,]}`, `{"d":{"a"}}`,
		`{"d":tru}`, `{"d":-}`, `{"d":1.}`, `{"d":1e}`, `{"d":"\u12"}`,
		`{"d":` + string(bytes.Repeat([]byte("["), maxEnvelopeDepth+1)) + string(bytes.Repeat([]byte("]"), maxEnvelopeDepth+1)) + `}`,
	} {
		if env, ok := splitEnvelope([]byte(payload)); ok {
			t.Errorf("%q read as %+v; want it left to encoding/json", payload, env)
		}
	}
}

func FuzzSplitEnvelope(f *testing.F) {
	for _, s := range []string{messageCreate, `{"op":11}`, `{"op":0,"d":[{"a":"\n"}],"s":1,"t":"X"}`, `{"op":0,"t":null}`, `{"d":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, ok := splitEnvelope(data)
		if !ok {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("%q read, but it is not valid JSON", data)
		}
		var want jsonEnvelope
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("%q read, but encoding/json says: %v", data, err)
		}
		if env.op != int(want.Op) || env.s != want.S || env.t != string(want.T) || !bytes.Equal(env.d, want.D) {
			t.Fatalf("%q: got op %d s %d t %q d %s, encoding/json op %d s %d t %q d %s", data, env.op, env.s, env.t, env.d, want.Op, want.S, want.T, want.D)
		}
		if env.d != nil {
			// Field reads what encoding/json reads, or declines.
			var obj map[string]json.RawMessage
			for _, key := range []string{"author", "a", "op"} {
				v, found := Field(env.d, key)
				if !found {
					continue
				}
				if err := json.Unmarshal(env.d, &obj); err != nil {
					t.Fatalf("Field found %s in %s, which is no object: %v", key, env.d, err)
				}
				if !bytes.Equal(v, obj[key]) {
					t.Fatalf("Field(%s, %s) = %s, encoding/json %s", env.d, key, v, obj[key])
				}
			}
		}
	})
}

func TestField(t *testing.T) {
	d := []byte(`{"content":"{\"author\":{\"bot\":true}}","author":{"bot":true,"id":"1"},"nested":{"author":1}}`)
	author, ok := Field(d, "author")
	if !ok || string(author) != `{"bot":true,"id":"1"}` {
		t.Fatalf("author = %s, %v", author, ok)
	}
	if bot, ok := Field(author, "bot"); !ok || string(bot) != "true" {
		t.Fatalf("bot = %s, %v", bot, ok)
	}
	for _, tc := range []struct{ obj, key string }{
		{`{"author":1,"Author":2}`, "author"},      // encoding/json would take Author
		{`{"\u0061uthor":2,"author":1}`, "author"}, // an escaped key: declined
		{`{"x":1}`, "author"},
		{`[{"author":1}]`, "author"},
		{`"author"`, "author"},
	} {
		if v, ok := Field([]byte(tc.obj), tc.key); ok {
			t.Errorf("Field(%s, %s) = %s; want not found", tc.obj, tc.key, v)
		}
	}
	if v, ok := Field([]byte(`{"author":1,"author":2}`), "author"); !ok || string(v) != "2" {
		t.Errorf("a repeated key: %s, %v; want the last, as encoding/json", v, ok)
	}
}

// BenchmarkDecode decodes a moderator's command (handed on) and a bot's mod-log post (skipped
// by a peek at its author, as router.SkipEvent does).
func BenchmarkDecode(b *testing.B) {
	botPost := `{"t":"MESSAGE_CREATE","s":43,"op":0,"d":{"type":0,"id":"10","channel_id":"5","guild_id":"4","content":"","author":{"username":"gavel","id":"7","bot":true},"embeds":[{"title":"Ban | case #12","color":15158332,"fields":[{"name":"User","value":"target (<@2>)","inline":true},{"name":"Moderator","value":"mod (<@1>)","inline":true},{"name":"Reason","value":"spam in every channel, links to a scam site, and a raid of new accounts"}],"footer":{"text":"case #12"},"timestamp":"2026-12-07T00:00:00.000Z"}],"mentions":[],"timestamp":"2026-12-07T00:00:00.000000+00:00"}}`
	skip := func(t dgw.EventType, d []byte) bool {
		author, ok := Field(d, "author")
		if !ok {
			return false
		}
		bot, ok := Field(author, "bot")
		return ok && string(bot) == "true"
	}
	for _, tc := range []struct{ name, payload string }{{"command", messageCreate}, {"bot-post", botPost}} {
		b.Run(tc.name, func(b *testing.B) {
			data := []byte(tc.payload)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decode(data, skip, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
