package commands

import (
	"strconv"
	"strings"
)

// ParseUserRef reads a user reference: a mention (<@123>, <@!123>) or a snowflake id.
func ParseUserRef(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "<@!") {
		s = "<@" + s[3:]
	}
	return parseMention(s, "<@")
}

// ParseChannelRef reads a channel reference: a mention (<#123>) or a snowflake id.
func ParseChannelRef(s string) (int64, bool) { return parseMention(strings.TrimSpace(s), "<#") }

// ParseRoleRef reads a role reference: a mention (<@&123>) or a snowflake id.
func ParseRoleRef(s string) (int64, bool) { return parseMention(strings.TrimSpace(s), "<@&") }

// parseMention reads "<open…id>" or a bare id of Discord's length (15 to 20 digits), so that
// a number a moderator meant as something else (a case number, a count) is not taken for an
// id.
func parseMention(s, open string) (int64, bool) {
	if strings.HasPrefix(s, open) && strings.HasSuffix(s, ">") {
		s = s[len(open) : len(s)-1]
	}
	if len(s) < 15 || len(s) > 20 {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}
