package discord

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Discord's ids are snowflakes: 64-bit numbers that never exceed int64. Each kind of object
// gavel names has its own type, so passing a user's id where a guild's is expected, or
// swapping two arguments of Ban, does not compile. They convert to and from int64 only
// where gavel's ids leave its own code: at the Discord library's edge (disgoport, the
// router's translation) and at the store's (the sqlc rows and parameters stay int64).
type (
	// GuildID is a guild's id; the guild's @everyone role has the same number (see
	// GuildID.EveryoneRole).
	GuildID int64
	// UserID is a user's id; a member of a guild is named by the user's.
	UserID int64
	// ChannelID is a channel's or a thread's id.
	ChannelID int64
	// RoleID is a role's id.
	RoleID int64
	// MessageID is a message's id.
	MessageID int64
	// EventID names the gateway event a command came from: the message's id of a prefix
	// command, the interaction's id of a slash command or a click. A replayed event
	// carries the same id, which is how gavel handles each event once.
	EventID int64
)

// String writes the id in decimal, as Discord does.
func (id EventID) String() string { return strconv.FormatInt(int64(id), 10) }

// String writes the id in decimal, as Discord does.
func (id GuildID) String() string { return strconv.FormatInt(int64(id), 10) }

// String writes the id in decimal, as Discord does.
func (id UserID) String() string { return strconv.FormatInt(int64(id), 10) }

// String writes the id in decimal, as Discord does.
func (id ChannelID) String() string { return strconv.FormatInt(int64(id), 10) }

// String writes the id in decimal, as Discord does.
func (id RoleID) String() string { return strconv.FormatInt(int64(id), 10) }

// String writes the id in decimal, as Discord does.
func (id MessageID) String() string { return strconv.FormatInt(int64(id), 10) }

// EveryoneRole is the guild's @everyone role, whose id is the guild's.
func (id GuildID) EveryoneRole() RoleID { return RoleID(id) }

// Snowflake is any of gavel's id types.
type Snowflake interface {
	~int64
}

// ParseID reads an id written in decimal, as Discord writes them ("123456789012345678").
// Zero and negative numbers are not ids.
func ParseID[T Snowflake](s string) (T, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a Discord id; accepted: a positive decimal number like 123456789012345678", s)
	}
	return T(v), nil
}

// Int64s converts typed ids to int64, for the store's parameters and the Discord library.
func Int64s[T Snowflake](ids []T) []int64 {
	if ids == nil {
		return nil
	}
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	return out
}

// IDs converts int64 ids, read from the store or the Discord library, to a typed id.
func IDs[T Snowflake](ids []int64) []T {
	if ids == nil {
		return nil
	}
	out := make([]T, len(ids))
	for i, id := range ids {
		out[i] = T(id)
	}
	return out
}

// discordEpochMS is Discord's epoch (2015-01-01) in Unix milliseconds: a snowflake's top 42
// bits count milliseconds from it.
const discordEpochMS = 1420070400000

// CreatedAt is when the account was made: the time in its snowflake id.
func (id UserID) CreatedAt() time.Time {
	return time.UnixMilli(int64(id)>>22 + discordEpochMS).UTC()
}
