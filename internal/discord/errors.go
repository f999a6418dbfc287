// Package discord holds what gavel's services need from Discord, in gavel's own terms: the
// error a failed call returns, and (with the bot) the narrow port the services call through.
package discord

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Discord's JSON error codes that change what gavel does.
const (
	CodeUnknownChannel     = 10003
	CodeUnknownGuild       = 10004
	CodeUnknownMember      = 10007
	CodeUnknownMessage     = 10008
	CodeUnknownRole        = 10011
	CodeUnknownUser        = 10013
	CodeUnknownBan         = 10026
	CodeUnknownInteraction = 10062
	// CodeAlreadyAcknowledged: an interaction's first response was given already.
	CodeAlreadyAcknowledged = 40060
	CodeUnknownAutoModRule  = 10066
	CodeMissingAccess       = 50001
	CodeCannotDMUser        = 50007
	CodeMissingPermissions  = 50013
	CodeInvalidFormBody     = 50035
	// CodeMaxNonMemberBans: the guild has banned as many users who are not members as
	// Discord allows for now.
	CodeMaxNonMemberBans = 30035
	// CodeFailedToBanUsers: a bulk ban banned nobody.
	CodeFailedToBanUsers = 500000
)

// Error is a Discord call that failed. Status is the HTTP status, or 0 when no response
// arrived (a network error or a timeout).
type Error struct {
	// Op names the call ("ban", "add role", …) for messages and metrics.
	Op      string
	Status  int
	Code    int
	Message string
	// RetryAfter is how long Discord asked us to wait (429), zero otherwise.
	RetryAfter time.Duration
	// Global says a 429 applies to every route, not just this one.
	Global bool
	Err    error
}

func (e *Error) Error() string {
	switch {
	case e.Status == 0:
		return fmt.Sprintf("discord %s: no response: %v", e.Op, e.Err)
	case e.Status == http.StatusTooManyRequests:
		return fmt.Sprintf("discord %s: rate limited for %s", e.Op, e.RetryAfter)
	case e.Code != 0:
		return fmt.Sprintf("discord %s: %d %s (code %d)", e.Op, e.Status, e.Message, e.Code)
	default:
		return fmt.Sprintf("discord %s: %d %s", e.Op, e.Status, e.Message)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable says whether trying the same call again may succeed: rate limits, Discord's own
// failures (5xx) and calls that got no answer. Other 4xx are final.
func (e *Error) Retryable() bool {
	return e.Status == 0 || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// Outage says whether the failure is Discord's rather than the request's: 5xx and no
// response. Only outages count toward a circuit breaker: a 403 or 404 says something about
// the target, not about Discord's health, and a 429 is Discord working as designed.
func (e *Error) Outage() bool { return e.Status == 0 || e.Status >= 500 }

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	var de *Error
	if errors.As(err, &de) {
		return de
	}
	return nil
}

// IsCode reports whether err is a Discord error with that JSON code.
func IsCode(err error, code int) bool {
	de := AsError(err)
	return de != nil && de.Code == code
}

// IsStatus reports whether err is a Discord error with that HTTP status.
func IsStatus(err error, status int) bool {
	de := AsError(err)
	return de != nil && de.Status == status
}
