package discordtest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// ID is a Discord snowflake. On the wire it is a JSON string, as in Discord's API; reading
// accepts a number too, because some clients send one.
type ID uint64

func (id ID) String() string { return strconv.FormatUint(uint64(id), 10) }

// MarshalJSON writes the id as a JSON string.
func (id ID) MarshalJSON() ([]byte, error) { return []byte(`"` + id.String() + `"`), nil }

// UnmarshalJSON reads a JSON string or number.
func (id *ID) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		*id = 0
		return nil
	}
	if len(s) >= 2 && s[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("snowflake %s: %w", b, err)
	}
	*id = ID(v)
	return nil
}

// ParseID reads a snowflake from a URL path segment.
func ParseID(s string) (ID, bool) {
	v, err := strconv.ParseUint(s, 10, 64)
	return ID(v), err == nil && v > 0
}

// discordEpoch is the first millisecond of 2015, where snowflake timestamps start.
const discordEpoch = 1420070400000

// idSource hands out snowflakes that carry their creation time, as Discord's do, and that
// increase strictly, so that "newest first" orderings in tests are deterministic.
type idSource struct {
	mu   sync.Mutex
	last uint64
}

func (s *idSource) next(now time.Time) ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := uint64(now.UnixMilli()-discordEpoch) << 22
	if v <= s.last {
		v = s.last + 1
	}
	s.last = v
	return ID(v)
}

// Time returns the creation time encoded in a snowflake.
func (id ID) Time() time.Time {
	return time.UnixMilli(int64(uint64(id)>>22) + discordEpoch).UTC()
}
