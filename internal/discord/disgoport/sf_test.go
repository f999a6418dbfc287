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
