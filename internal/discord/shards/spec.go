package shards

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxCount bounds discord.shard_count. Discord's largest bots run a few thousand shards;
// the bound keeps a typo ("0-1000000") from allocating millions of shards.
const MaxCount = 65536

// Auto is the value of discord.shard_count and discord.shards that leaves the choice to
// gavel: the count Discord recommends, and the shards free in the database.
const Auto = "auto"

// AcceptedCount says what discord.shard_count accepts, for error messages.
var AcceptedCount = fmt.Sprintf(`"auto" (the count GET /gateway/bot recommends, raised when Discord asks for more) or a whole number from 1 to %d, such as shard_count = 16`, MaxCount)

// AcceptedIDs says what discord.shards accepts, for error messages.
var AcceptedIDs = fmt.Sprintf(`"auto" (take free shards from the database) or shard ids and ranges from 0 to %d separated by commas, such as shards = "0-15" or shards = "0,2,4-7"`, MaxCount-1)

// ParseCount reads discord.shard_count: 0 for "auto", or the count.
func ParseCount(s string) (int, error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, Auto) {
		return 0, nil
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 1 || n > MaxCount {
		return 0, fmt.Errorf("discord.shard_count %q: accepted is %s", s, AcceptedCount)
	}
	return n, nil
}

// ParseIDs reads discord.shards: nil for "auto", or the shard ids in increasing order. Ids
// may be listed and ranged ("0-3,8,10-11"), blanks around each part allowed; a range is
// inclusive and must not run backwards; an id may appear once.
func ParseIDs(s string) ([]int, error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, Auto) {
		return nil, nil
	}
	bad := func(why string) error {
		return fmt.Errorf("discord.shards %q: %s; accepted is %s", s, why, AcceptedIDs)
	}
	if t == "" {
		return nil, bad("it is empty")
	}
	id := func(p string) (int, error) {
		p = strings.TrimSpace(p)
		n, err := strconv.Atoi(p)
		if err != nil || strings.HasPrefix(p, "+") || strings.HasPrefix(p, "-") {
			return 0, bad(fmt.Sprintf("%q is not a shard id (a whole number from 0)", p))
		}
		if n >= MaxCount {
			return 0, bad(fmt.Sprintf("shard %d is beyond the largest shard id, %d", n, MaxCount-1))
		}
		return n, nil
	}
	seen := map[int]bool{}
	var out []int
	for _, part := range strings.Split(t, ",") {
		lo, hi := part, part
		if a, b, ok := strings.Cut(strings.TrimSpace(part), "-"); ok {
			lo, hi = a, b
		}
		from, err := id(lo)
		if err != nil {
			return nil, err
		}
		to, err := id(hi)
		if err != nil {
			return nil, err
		}
		if to < from {
			return nil, bad(fmt.Sprintf("the range %s runs backwards", strings.TrimSpace(part)))
		}
		for n := from; n <= to; n++ {
			if seen[n] {
				return nil, bad(fmt.Sprintf("shard %d is listed twice", n))
			}
			seen[n] = true
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// FormatIDs writes ids as ParseIDs reads them, ranges collapsed ("0-3,8"), for logs.
func FormatIDs(ids []int) string {
	var b strings.Builder
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(ids[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(ids[j]))
		}
		i = j + 1
	}
	return b.String()
}
