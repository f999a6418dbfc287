// Package sandbox is gavel sandbox: gavel running against the fake Discord
// (internal/discordtest) in the same process, on an embedded SQLite file, with a seeded
// server, the dashboard, and a Discord-like panel where you pick who you are (the owner, a
// moderator at one of several ranks, a member), type prefix or slash commands in a
// channel, press buttons, and see what Discord would show: replies (ephemeral ones only to
// you), the DMs each member received, the mod log, the audit log, bans and timeouts. It
// needs no token and no network; nothing leaves the process but the pages it serves.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/web"
)

// Options configure a sandbox.
type Options struct {
	// Addr is where the panel and the dashboard listen (port 0 picks a free one).
	Addr string
	// Database is the SQLite file; empty means a file in a fresh temporary directory,
	// removed when the sandbox stops.
	Database string
	// Log receives gavel's logs; nil discards them.
	Log *slog.Logger
}

// Sandbox is a running sandbox.
type Sandbox struct {
	fake  *discordtest.Server
	app   *app.App
	world World
	url   string
	log   *slog.Logger
	tmp   string
	dash  *web.Server
	panel *panel
}

// setupTimeout bounds each setup command's wait for gavel's answer.
const setupTimeout = 30 * time.Second

// New starts the fake Discord and builds gavel against it; Run runs them.
func New(ctx context.Context, o Options) (_ *Sandbox, err error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sb := &Sandbox{log: log}
	defer func() {
		if err != nil {
			sb.cleanup()
		}
	}()
	dbPath := o.Database
	if dbPath == "" {
		if sb.tmp, err = os.MkdirTemp("", "gavel-sandbox-"); err != nil {
			return nil, fmt.Errorf("sandbox: a temporary directory for the database: %w", err)
		}
		dbPath = filepath.Join(sb.tmp, "gavel.db")
	}
	world, seed := newWorld()
	sb.world = world
	// The fake's own log is quiet: its protocol checks would only speak of gavel's bugs.
	if sb.fake, err = discordtest.Start("127.0.0.1:0", discordtest.WithSeed(seed),
		discordtest.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		discordtest.WithReporter(func(format string, args ...any) {
			log.Warn("fake Discord: protocol violation", "detail", fmt.Sprintf(format, args...))
		}),
		discordtest.WithIdentifyInterval(0)); err != nil {
		return nil, fmt.Errorf("sandbox: starting the fake Discord: %w", err)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: listen on %s: %w", o.Addr, err)
	}
	sb.url = "http://" + ln.Addr().String()
	// The dashboard's OAuth2 sign-in still works against the fake; the panel signs in
	// without it.
	sb.fake.AddOAuth2Redirect(sb.url + "/auth/callback")

	cfg := config.Default()
	cfg.Database.URL = "sqlite:" + dbPath
	cfg.Discord.Token = config.Secret(sb.fake.Token())
	cfg.Discord.APIURL = sb.fake.APIURL()
	cfg.Discord.GatewayURL = sb.fake.GatewayURL
	cfg.Discord.Guilds = []string{world.Guild.String()}
	cfg.Web = config.Web{Addr: ln.Addr().String(), PublicURL: sb.url, ClientSecret: config.Secret(sb.fake.OAuth2ClientSecret())}
	if err := cfg.Validate(); err != nil {
		ln.Close()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	sb.app, err = app.New(ctx, cfg, log, app.WithWebListener(ln), app.WithSandbox(func(d *web.Server) http.Handler {
		sb.dash = d
		sb.panel = newPanel(sb.fake, world, d, log)
		return sb.panel.handler(d.Handler())
	}))
	if err != nil {
		ln.Close()
		return nil, err
	}
	return sb, nil
}

// URL is where to open the panel.
func (sb *Sandbox) URL() string { return sb.url + "/sandbox/" }

// ControlURL is the fake Discord's control API (docs/testing.md): act as any member from
// a program.
func (sb *Sandbox) ControlURL() string { return sb.fake.URL + "/control" }

// Fake is the fake Discord the sandbox runs on.
func (sb *Sandbox) Fake() *discordtest.Server { return sb.fake }

// World names the seeded server's members, roles and channels.
func (sb *Sandbox) World() World { return sb.world }

// Run runs gavel until ctx ends; ready is called once gavel is connected and the owner's
// setup has run, so the URL can be printed when it works.
func (sb *Sandbox) Run(ctx context.Context, ready func()) error {
	defer sb.cleanup()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- sb.app.Run(runCtx) }()
	readyCtx, cancel := context.WithTimeout(ctx, setupTimeout)
	err := sb.fake.WaitReady(readyCtx, 1)
	cancel()
	if err == nil {
		err = sb.setup(ctx)
	}
	if err != nil {
		// gavel's own error (the database, the gateway) says more than a timeout.
		select {
		case runErr := <-done:
			if runErr != nil {
				return runErr
			}
			return err
		default:
		}
		stop()
		<-done
		return err
	}
	if ready != nil {
		ready()
	}
	return <-done
}

// setup runs the owner's configuration commands one after another, each waiting for
// gavel's answer, so that ranks exist before roles are given them.
func (sb *Sandbox) setup(ctx context.Context) error {
	for _, text := range sb.world.setupCommands() {
		in, err := sb.fake.SlashText(sb.world.Guild, sb.world.AuditLog, sb.world.Owner, text)
		if err != nil {
			return fmt.Errorf("sandbox setup %q: %w", text, err)
		}
		wctx, cancel := context.WithTimeout(ctx, setupTimeout)
		_, err = in.WaitResponses(wctx, 1)
		cancel()
		if err != nil {
			return fmt.Errorf("sandbox setup %q: gavel did not answer: %w", text, err)
		}
	}
	sb.log.Info("sandbox ready", "url", sb.URL())
	return nil
}

func (sb *Sandbox) cleanup() {
	if sb.fake != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		sb.fake.Close(ctx)
		cancel()
	}
	if sb.tmp != "" {
		if err := os.RemoveAll(sb.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			sb.log.Warn("sandbox: removing the temporary database", "dir", sb.tmp, "err", err)
		}
	}
}
