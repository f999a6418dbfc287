package disgoport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/disgoorg/disgo/rest"

	"github.com/gavelbot/gavel/internal/discord"
)

// mapError turns what disgo's client returned into gavel's terms:
//
//   - Discord answered with an error (*rest.Error): a *discord.Error with the status, the
//     JSON code and message, and for a 429 the wait (retry_after from the body, else the
//     Retry-After header) and whether it is global;
//   - the Limiter refused to wait past the deadline (*RateLimitedError): a 429 with that wait;
//   - no answer (connection refused or dropped, a timeout): a *discord.Error with Status 0;
//   - the caller cancelled: ctx's error, wrapped but not a *discord.Error, because it says
//     nothing about Discord and must neither be retried nor count toward a breaker;
//   - anything else (a body that would not encode or decode): a plain error, not retried,
//     since the request may have taken effect.
func mapError(op string, err error) error {
	if err == nil {
		return nil
	}
	var re *rest.Error
	if errors.As(err, &re) {
		de := &discord.Error{Op: op, Code: int(re.Code), Message: re.Message, Err: re}
		if re.Response != nil {
			de.Status = re.Response.StatusCode
			if de.Status == http.StatusTooManyRequests {
				var body rateLimitBody
				_ = json.Unmarshal(re.RsBody, &body)
				de.RetryAfter, de.Global = retryAfter(re.Response.Header, body)
			}
		}
		if de.Message == "" {
			// Discord's edge answers 5xx with text or HTML, not its JSON error.
			de.Message = http.StatusText(de.Status)
		}
		if details := formErrors(re.Errors); details != "" {
			de.Message += ": " + details
		}
		return de
	}
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		return &discord.Error{Op: op, Status: http.StatusTooManyRequests, Message: "rate limited (not sent: the wait outlasts the deadline)",
			RetryAfter: rl.RetryAfter, Global: rl.Global, Err: rl}
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("discord %s: %w", op, err)
	}
	if noResponse(err) {
		return &discord.Error{Op: op, Err: err}
	}
	return fmt.Errorf("discord %s: %w", op, err)
}

// formErrors flattens Discord's "errors" object of a 50035 Invalid Form Body into
// "field.path: message; …", so the log says which field Discord refused and why.
func formErrors(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var tree map[string]json.RawMessage
	if json.Unmarshal(raw, &tree) != nil {
		return ""
	}
	var out []string
	var walk func(path string, node map[string]json.RawMessage)
	walk = func(path string, node map[string]json.RawMessage) {
		keys := make([]string, 0, len(node))
		for k := range node {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "_errors" {
				var errs []struct {
					Message string `json:"message"`
				}
				_ = json.Unmarshal(node[k], &errs)
				for _, e := range errs {
					out = append(out, strings.TrimPrefix(path, ".")+": "+e.Message)
				}
				continue
			}
			var child map[string]json.RawMessage
			if json.Unmarshal(node[k], &child) == nil {
				walk(path+"."+k, child)
			}
		}
	}
	walk("", tree)
	return strings.Join(out, "; ")
}

// noResponse reports whether err means the request got no answer.
func noResponse(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
