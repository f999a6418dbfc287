package gateway

import (
	"errors"
	"fmt"
)

// Discord's gateway close codes (opcodes-and-status-codes.mdx, "Gateway Close Event Codes").
const (
	CloseUnknownError         = 4000
	CloseUnknownOpcode        = 4001
	CloseDecodeError          = 4002
	CloseNotAuthenticated     = 4003
	CloseAuthenticationFailed = 4004
	CloseAlreadyAuthenticated = 4005
	CloseInvalidSeq           = 4007
	CloseRateLimited          = 4008
	CloseSessionTimedOut      = 4009
	CloseInvalidShard         = 4010
	CloseShardingRequired     = 4011
	CloseInvalidAPIVersion    = 4012
	CloseInvalidIntents       = 4013
	CloseDisallowedIntents    = 4014
)

// closeNames are Discord's descriptions, so an error names the problem and not just a number.
var closeNames = map[int]string{
	CloseUnknownError:         "Unknown error",
	CloseUnknownOpcode:        "Unknown opcode",
	CloseDecodeError:          "Decode error",
	CloseNotAuthenticated:     "Not authenticated",
	CloseAuthenticationFailed: "Authentication failed",
	CloseAlreadyAuthenticated: "Already authenticated",
	CloseInvalidSeq:           "Invalid seq",
	CloseRateLimited:          "Rate limited",
	CloseSessionTimedOut:      "Session timed out",
	CloseInvalidShard:         "Invalid shard",
	CloseShardingRequired:     "Sharding required",
	CloseInvalidAPIVersion:    "Invalid API version",
	CloseInvalidIntents:       "Invalid intent(s)",
	CloseDisallowedIntents:    "Disallowed intent(s)",
}

// closeResumable is what gavel sends when it drops a connection it wants to resume (zombie,
// op 7, op 9 d=true): any code but 1000 and 1001 keeps the session alive on Discord's side,
// and 4000 is in the range RFC 6455 leaves to applications.
const closeResumable = 4000

// CloseError is a close frame Discord sent. Open returns it when the first connection is
// refused for good, and the close handler receives it when a later one is.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	name := closeNames[e.Code]
	if name == "" {
		name = "unrecognised close code"
	}
	if e.Reason == "" || e.Reason == name {
		return fmt.Sprintf("gateway closed with %d (%s)", e.Code, name)
	}
	return fmt.Sprintf("gateway closed with %d (%s): %s", e.Code, name, e.Reason)
}

// Fatal reports whether reconnecting cannot help: the token, shard, API version or intents
// are wrong, and retrying would only burn IDENTIFY calls (1000 a day, then Discord resets
// the token).
func (e *CloseError) Fatal() bool { return isFatalClose(e.Code) }

// Is makes errors.Is(err, &CloseError{Code: CloseAuthenticationFailed}) match on the code.
func (e *CloseError) Is(target error) bool {
	var t *CloseError
	return errors.As(target, &t) && t.Code == e.Code
}

func isFatalClose(code int) bool {
	switch code {
	case CloseAuthenticationFailed, CloseInvalidShard, CloseShardingRequired,
		CloseInvalidAPIVersion, CloseInvalidIntents, CloseDisallowedIntents:
		return true
	}
	return false
}

// endsSession reports whether the session behind the connection is gone, so the next
// connection must IDENTIFY instead of RESUME.
func endsSession(code int) bool {
	return code == CloseInvalidSeq || code == CloseSessionTimedOut
}
