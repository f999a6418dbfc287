package router

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
)

// limitedPort answers its first n posts with a 429 asking to wait retry, then posts.
type limitedPort struct {
	n, calls int
	retry    time.Duration
	err      error
}

func (p *limitedPort) SendMessage(context.Context, discord.ChannelID, discord.Message) (discord.MessageID, error) {
	p.calls++
	if p.err != nil {
		return 0, p.err
	}
	if p.calls <= p.n {
		return 0, &discord.Error{Op: "send message", Status: http.StatusTooManyRequests, RetryAfter: p.retry}
	}
	return 42, nil
}

// TestReplyWaitsOutRateLimits: a reply that meets 429s is posted once the waits are over,
// not dropped; one that meets more than maxReplyTries, or an error that is not a rate
// limit, is given up with that error.
func TestReplyWaitsOutRateLimits(t *testing.T) {
	ctx := context.Background()
	p := &limitedPort{n: 2, retry: time.Millisecond}
	if id, err := sendRetrying(ctx, p, 1, discord.Message{Content: "Case #1"}); err != nil || id != 42 || p.calls != 3 {
		t.Errorf("after two 429s: id %d, err %v, %d calls; want the message posted on the third", id, err, p.calls)
	}
	p = &limitedPort{n: 100, retry: time.Millisecond}
	if _, err := sendRetrying(ctx, p, 1, discord.Message{}); discord.AsError(err) == nil || p.calls != maxReplyTries {
		t.Errorf("always 429: err %v after %d calls; want the 429 after %d", err, p.calls, maxReplyTries)
	}
	refused := &discord.Error{Op: "send message", Status: http.StatusForbidden, Code: 50013}
	p = &limitedPort{err: refused}
	if _, err := sendRetrying(ctx, p, 1, discord.Message{}); !errors.Is(err, refused) || p.calls != 1 {
		t.Errorf("403: err %v after %d calls; want it at once", err, p.calls)
	}
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	p = &limitedPort{n: 1, retry: time.Hour}
	if _, err := sendRetrying(short, p, 1, discord.Message{}); discord.AsError(err) == nil || p.calls != 1 {
		t.Errorf("a wait past the deadline: err %v after %d calls; want the 429 once the deadline comes", err, p.calls)
	}
}
