package gateway

import (
	"bytes"
	"strconv"
)

// An envelope is a gateway payload's op, s and t, with d left as a slice of the payload: not
// copied, not decoded.
type envelope struct {
	op int
	s  int
	t  string
	d  []byte
}

// maxEnvelopeDepth bounds the nesting splitEnvelope follows; a deeper payload (Discord sends
// none) goes to encoding/json.
const maxEnvelopeDepth = 64

// splitEnvelope reads a payload's envelope in one pass that also checks that the whole payload
// is valid JSON. encoding/json took three passes for it (validating, decoding, copying d), a
// third of the gateway's decoding time. ok is false for anything but the plain shape Discord
// sends (an object whose keys are exactly "op", "s", "t" and "d", unescaped, and others
// ignored; op and s integers or null; t an unescaped string or null): decode then asks
// encoding/json, which also words the error of a payload that is not JSON. When ok,
// encoding/json reads the same op, s, t and d (FuzzSplitEnvelope).
func splitEnvelope(data []byte) (env envelope, ok bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return envelope{}, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			key, end, ok := plainString(data, i)
			if !ok {
				return envelope{}, false
			}
			i = skipSpace(data, end)
			if i >= len(data) || data[i] != ':' {
				return envelope{}, false
			}
			i = skipSpace(data, i+1)
			vEnd, ok := skipValue(data, i)
			if !ok {
				return envelope{}, false
			}
			v := data[i:vEnd]
			// A null leaves the field as it was, as in encoding/json (a key may repeat).
			null := string(v) == "null"
			switch string(key) {
			case "op":
				if !null {
					if env.op, ok = integer(v); !ok {
						return envelope{}, false
					}
				}
			case "s":
				if !null {
					if env.s, ok = integer(v); !ok {
						return envelope{}, false
					}
				}
			case "t":
				switch {
				case null:
				case v[0] == '"' && bytes.IndexByte(v[1:len(v)-1], '\\') < 0:
					env.t = string(v[1 : len(v)-1])
				default:
					return envelope{}, false
				}
			case "d":
				env.d = v
			default:
				// encoding/json matches keys without regard to case: leave such a key to it.
				for _, k := range []string{"op", "s", "t", "d"} {
					if bytes.EqualFold(key, []byte(k)) {
						return envelope{}, false
					}
				}
			}
			i = skipSpace(data, vEnd)
			if i >= len(data) {
				return envelope{}, false
			}
			if data[i] == '}' {
				i++
				break
			}
			if data[i] != ',' {
				return envelope{}, false
			}
			i = skipSpace(data, i+1)
		}
	}
	if skipSpace(data, i) != len(data) {
		return envelope{}, false
	}
	return env, true
}

// integer reads a JSON integer that fits an int without question.
func integer(v []byte) (int, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, false
	}
	return n, true
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// plainString reads a string at data[i] that holds no escape, and returns its contents and
// the index after it.
func plainString(data []byte, i int) ([]byte, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, 0, false
	}
	end, ok := skipString(data, i)
	if !ok {
		return nil, 0, false
	}
	s := data[i+1 : end-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		return nil, 0, false
	}
	return s, end, true
}

// skipString checks the string that starts at data[i] (a '"') and returns the index after it.
func skipString(data []byte, i int) (int, bool) {
	for i++; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return 0, false
		case c == '\\':
			i++
			if i >= len(data) {
				return 0, false
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(data) {
					return 0, false
				}
				for _, h := range data[i+1 : i+5] {
					if !isHex(h) {
						return 0, false
					}
				}
				i += 4
			default:
				return 0, false
			}
		}
	}
	return 0, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skipNumber checks the number that starts at data[i] and returns the index after it.
func skipNumber(data []byte, i int) (int, bool) {
	digits := func(i int) (int, bool) {
		j := i
		for j < len(data) && '0' <= data[j] && data[j] <= '9' {
			j++
		}
		return j, j > i
	}
	if i < len(data) && data[i] == '-' {
		i++
	}
	if i >= len(data) {
		return 0, false
	}
	switch {
	case data[i] == '0':
		i++
	case '1' <= data[i] && data[i] <= '9':
		i, _ = digits(i)
	default:
		return 0, false
	}
	var ok bool
	if i < len(data) && data[i] == '.' {
		if i, ok = digits(i + 1); !ok {
			return 0, false
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i, ok = digits(i); !ok {
			return 0, false
		}
	}
	return i, true
}

// skipValue checks the JSON value that starts at data[i] and returns the index after it.
// Objects and arrays nest at most maxEnvelopeDepth deep.
func skipValue(data []byte, i int) (int, bool) {
	var stack [maxEnvelopeDepth]byte // the closing bracket of each open object or array
	depth := 0
	for {
		// A value at data[i].
		if i >= len(data) {
			return 0, false
		}
		var ok bool
		switch c := data[i]; {
		case c == '"':
			if i, ok = skipString(data, i); !ok {
				return 0, false
			}
		case c == '{' || c == '[':
			if depth == maxEnvelopeDepth {
				return 0, false
			}
			closing := byte('}')
			if c == '[' {
				closing = ']'
			}
			stack[depth] = closing
			depth++
			i = skipSpace(data, i+1)
			if i < len(data) && data[i] == closing {
				depth--
				i++
				break
			}
			if c == '{' {
				if i, ok = objectKey(data, i); !ok {
					return 0, false
				}
			}
			continue
		case c == '-' || '0' <= c && c <= '9':
			if i, ok = skipNumber(data, i); !ok {
				return 0, false
			}
		case bytes.HasPrefix(data[i:], []byte("true")):
			i += 4
		case bytes.HasPrefix(data[i:], []byte("false")):
			i += 5
		case bytes.HasPrefix(data[i:], []byte("null")):
			i += 4
		default:
			return 0, false
		}
		// After a value: the end of the enclosing objects and arrays, or the next member.
		for {
			if depth == 0 {
				return i, true
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return 0, false
			}
			if data[i] == stack[depth-1] {
				depth--
				i++
				continue
			}
			if data[i] != ',' {
				return 0, false
			}
			i = skipSpace(data, i+1)
			if stack[depth-1] == '}' {
				if i, ok = objectKey(data, i); !ok {
					return 0, false
				}
			}
			break
		}
	}
}

// objectKey checks an object's key and colon at data[i] and returns the index of its value.
func objectKey(data []byte, i int) (int, bool) {
	if i >= len(data) || data[i] != '"' {
		return 0, false
	}
	i, ok := skipString(data, i)
	if !ok {
		return 0, false
	}
	i = skipSpace(data, i)
	if i >= len(data) || data[i] != ':' {
		return 0, false
	}
	return skipSpace(data, i+1), true
}

// Field returns the value of key in the JSON object obj, which must be valid JSON (a
// dispatch's d as the gateway hands it to a skip function: it has been checked). It reports
// false when obj is not an object, when key is absent, and when a key differs from it only
// in case or holds an escape (encoding/json would match such a key; a caller that reads
// none cannot be misled by one). Of a repeated key it returns the last, as encoding/json.
func Field(obj []byte, key string) ([]byte, bool) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, false
	}
	i = skipSpace(obj, i+1)
	var found []byte
	for i < len(obj) && obj[i] == '"' {
		end, ok := skipString(obj, i)
		if !ok {
			return nil, false
		}
		k := obj[i+1 : end-1]
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return nil, false
		}
		i = skipSpace(obj, i+1)
		vEnd, ok := skipValue(obj, i)
		if !ok {
			return nil, false
		}
		switch {
		case string(k) == key:
			found = obj[i:vEnd]
		case bytes.IndexByte(k, '\\') >= 0 || bytes.EqualFold(k, []byte(key)):
			return nil, false
		}
		i = skipSpace(obj, vEnd)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	return found, found != nil
}
