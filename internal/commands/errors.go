package commands

import (
	"errors"
	"strings"
)

// ErrUsage is matched by every error a moderator's input causes.
var ErrUsage = errors.New("usage")

// UsageError says what was wrong with a command and how to write it.
type UsageError struct {
	Problem string
	// Usage is the command's synopsis, e.g. "$ban <user> [reason…] [-purge 0-7] [-silent]".
	Usage string
	// Command is the full name of the command as far as it was read ("config ranks set", or
	// "config" when the subcommand was mistyped), so that the permission check runs before
	// anyone is shown how to write a command they may not use. "" when no command was
	// recognised.
	Command string
}

func (e *UsageError) Error() string {
	if e.Usage == "" {
		return e.Problem
	}
	return e.Problem + "\nUsage: " + e.Usage
}

// Is makes errors.Is(err, ErrUsage) true.
func (e *UsageError) Is(target error) bool { return target == ErrUsage }

// sentence writes a parse error as the problem of a usage error: capitalized, with a full
// stop, the same from either front end.
func sentence(err error) string {
	s := strings.TrimSuffix(err.Error(), ".")
	return upper(s) + "."
}
