package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/disgoport"
	"github.com/gavelbot/gavel/internal/escalation"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
)

// escalationCmd groups the escalation-settings-as-code commands, as automod's do for rules.
// export and plan read only the database; apply also posts the change to the guild's
// audit-log channel through Discord's API (DISCORD_TOKEN).
type escalationCmd struct {
	Export escalationExportCmd `cmd:"" help:"Write a guild's escalation settings (weights, policies, thresholds) as a file."`
	Plan   escalationPlanCmd   `cmd:"" help:"Print what applying an escalation file would change."`
	Apply  escalationApplyCmd  `cmd:"" help:"Make a guild's escalation settings match a file (with --yes; without, print the plan)."`
}

type escalationExportCmd struct {
	Guild  int64  `required:"" placeholder:"ID" help:"The guild whose settings to export."`
	Output string `short:"o" placeholder:"FILE" help:"Write to FILE instead of standard output (- is standard output)."`
}

type escalationPlanCmd struct {
	Guild int64  `required:"" placeholder:"ID" help:"The guild to compare with."`
	File  string `arg:"" placeholder:"ESCALATION.toml" help:"The escalation file."`
}

type escalationApplyCmd struct {
	Guild int64  `required:"" placeholder:"ID" help:"The guild to change."`
	File  string `arg:"" placeholder:"ESCALATION.toml" help:"The escalation file."`
	Yes   bool   `help:"Apply the changes; without it the plan is printed and nothing is changed."`
}

func checkGuild(id int64) error {
	if id <= 0 {
		return fmt.Errorf("--guild %d is not a Discord id; ids are positive numbers", id)
	}
	return nil
}

func (c escalationExportCmd) Run(ctx context.Context, rt *Runtime) error {
	if err := checkGuild(c.Guild); err != nil {
		return err
	}
	st, err := rt.openMigratedStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	cfg, _, err := escalation.NewService(st).Config(ctx, discord.GuildID(c.Guild))
	if err != nil {
		return err
	}
	b, err := cfg.Encode()
	if err != nil {
		return err
	}
	return writeOutput(rt.path(c.Output), rt.Stdout, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

func readEscalationFile(path string) (escalation.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return escalation.Config{}, fmt.Errorf("read escalation file: %w", err)
	}
	c, err := escalation.ParseFile(b)
	if err != nil {
		return escalation.Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func escalationPlan(ctx context.Context, st *store.Store, guild int64, path string) (escalation.Config, escalation.Plan, error) {
	next, err := readEscalationFile(path)
	if err != nil {
		return escalation.Config{}, escalation.Plan{}, err
	}
	cur, v, err := escalation.NewService(st).Config(ctx, discord.GuildID(guild))
	if err != nil {
		return escalation.Config{}, escalation.Plan{}, err
	}
	return next, escalation.MakePlan(cur, next, v), nil
}

func (c escalationPlanCmd) Run(ctx context.Context, rt *Runtime) error {
	if err := checkGuild(c.Guild); err != nil {
		return err
	}
	st, err := rt.openMigratedStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	_, plan, err := escalationPlan(ctx, st, c.Guild, rt.path(c.File))
	if err != nil {
		return err
	}
	fmt.Fprint(rt.Stdout, plan.String())
	return nil
}

func (c escalationApplyCmd) Run(ctx context.Context, rt *Runtime) error {
	if err := checkGuild(c.Guild); err != nil {
		return err
	}
	st, err := rt.openMigratedStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	next, plan, err := escalationPlan(ctx, st, c.Guild, rt.path(c.File))
	if err != nil {
		return err
	}
	fmt.Fprint(rt.Stdout, plan.String())
	if plan.Empty() {
		fmt.Fprintln(rt.Stdout, "nothing to apply: the guild already matches the file")
		return nil
	}
	if !c.Yes {
		fmt.Fprintln(rt.Stdout, "nothing was changed: run again with --yes to apply these changes")
		return nil
	}
	cfg, err := rt.LoadConfig()
	if err != nil {
		return err
	}
	// Every change is posted to the audit-log channel: the token is needed before anything
	// changes, not after.
	if cfg.Discord.Token == "" {
		return errors.New("DISCORD_TOKEN is not set: gavel escalation apply posts the change to the guild's audit-log channel through Discord's API; " + config.TokenHelp)
	}
	if err := config.CheckToken(cfg.Discord.Token); err != nil {
		return err
	}
	if err := st.CheckWritable(ctx); err != nil {
		return err
	}
	owner := discord.UserID(config.ApplicationID(string(cfg.Discord.Token)))
	svc := escalation.NewService(st)
	// Applied exactly as planned: settings changed since the plan are refused.
	if _, _, _, err := svc.Update(ctx, discord.GuildID(c.Guild), owner, plan.From, func(cur *escalation.Config) error {
		*cur = next
		return nil
	}); err != nil {
		if errors.Is(err, escalation.ErrStale) {
			return errors.New("the guild's escalation settings changed while the plan was made; run again to see the new plan")
		}
		return err
	}
	fmt.Fprintf(rt.Stdout, "applied %d changes\n", len(plan.Changes))
	port, err := disgoport.New(string(cfg.Discord.Token), disgoport.WithAPIURL(cfg.Discord.APIURL), disgoport.WithLogger(rt.logger(cfg)),
		disgoport.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		port.Close(cctx)
	}()
	g, err := settings.NewService(st).Get(ctx, discord.GuildID(c.Guild))
	if err != nil {
		fmt.Fprintf(rt.Stderr, "warning: the audit-log channel was not told (settings unreadable: %v)\n", err)
		return nil
	}
	if g.AuditlogChannelID == 0 {
		return nil
	}
	text := fmt.Sprintf("Escalation settings applied from the command line (gavel escalation apply %s):\n%s", filepath.Base(c.File), plan.String())
	if err := executor.New().Do(ctx, executor.OpMessages, func(ctx context.Context) error {
		_, err := port.SendMessage(ctx, g.AuditlogChannelID, discord.Message{Content: clip(text, 2000), AllowedMentions: &discord.AllowedMentions{}})
		return err
	}); err != nil {
		fmt.Fprintf(rt.Stderr, "warning: the audit-log channel was not told: %v\n", err)
	}
	return nil
}
