package app_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/moderation"
)

// testDMTimeout is how long the tests' gavel waits for a DM before acting without it. gavel's
// 3 s (moderation.DefaultDMTimeout) is on the wall clock, and a process's first DM took 2.6 s
// under -race on a busy 2-core machine: a test that checks the DM was sent would fail by
// chance. moderation's TestSlowDMDoesNotHoldTheBan tests the 3 s itself.
const testDMTimeout = time.Minute

// newTestApp is app.New with the tests' DM timeout before the test's own options.
func newTestApp(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...app.Option) (*app.App, error) {
	return app.New(ctx, cfg, log, append([]app.Option{app.WithCoordinatorOptions(moderation.WithDMTimeout(testDMTimeout))}, opts...)...)
}
