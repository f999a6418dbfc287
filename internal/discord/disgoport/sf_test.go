package disgoport

import (
	"encoding/json"
	"strconv"
	"testing"
)

// sfReference is how a snowflake was read before the quoted-digits fast path: the JSON
// string decoded, then parsed.
func sfReference(b []byte) (int64, error) {
	str := string(b)
	if str == "null" {
		return 0, nil
	}
	if len(str) >= 2 && str[0] == '"' {
		if err := json.Unmarshal(b, &str); err != nil {
			return 0, err
		}
	}
	return strconv.ParseInt(str, 10, 64)
}

func TestSnowflakeReadsAsBefore(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`"0"`, `"1"`, `"1234567890123456789"`, `"9223372036854775807"`, `"9223372036854775808"`,
		`"9999999999999999999"`, `"18446744073709551616"`, `"-5"`, `"0012"`, `""`, `"12a"`,
		`"\u0031\u0032"`, `null`, `42`, `"`, `"1`, `"175928847299117063"`,
	} {
		var got sf
		err := got.UnmarshalJSON([]byte(in))
		want, wantErr := sfReference([]byte(in))
		if (err != nil) != (wantErr != nil) || (err == nil && int64(got) != want) {
			t.Errorf("%s: got %d, %v; want %d, %v", in, got, err, want, wantErr)
		}
	}
}

func FuzzSnowflake(f *testing.F) {
	for _, s := range []string{`"1234567890123456789"`, `"9223372036854775808"`, `null`, `"x"`, `7`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got sf
		err := got.UnmarshalJSON(b)
		want, wantErr := sfReference(b)
		if (err != nil) != (wantErr != nil) || (err == nil && int64(got) != want) {
			t.Fatalf("%q: got %d, %v; want %d, %v", b, got, err, want, wantErr)
		}
		if err == nil {
			out, _ := got.MarshalJSON()
			if string(out) != `"`+strconv.FormatInt(want, 10)+`"` {
				t.Fatalf("%q: written back as %s", b, out)
			}
		}
	})
}

// FuzzWireID: reading only the id of an answer gives what decoding it whole gave, and fails
// on what is not JSON. (Of a repeated "id" key it reads the last, as Field does, where
// encoding/json also reported an unreadable earlier one: Discord repeats no key.)
func FuzzWireID(f *testing.F) {
	for _, s := range []string{
		`{"id":"1234567890123456789","channel_id":"5","content":"x","author":{"id":"7"}}`,
		`{"content":"no id"}`, `{"ID":"12"}`, `{"i\u0064":"12"}`, `{"id":"1","id":"2"}`, `{"id":null}`,
		`{"id":12}`, `null`, `[]`, `{"id":"x"}`, `{"id":"1"`, ` {"a":{"id":"3"},"id":"4"} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var got wireID
		err := got.read(raw)
		if !json.Valid(raw) {
			if err == nil {
				t.Fatalf("%q is not JSON, read %d", raw, got.ID)
			}
			return
		}
		var want wireMessageIn
		if json.Unmarshal(raw, &want) != nil {
			return
		}
		if err != nil || got.ID != want.ID {
			t.Fatalf("%q: read %d, %v; want %d", raw, got.ID, err, want.ID)
		}
	})
}
