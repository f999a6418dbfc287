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

	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/disgoport"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
)

// automodCmd groups the rules-as-code commands. They talk to Discord's REST API with
// DISCORD_TOKEN (no gateway connection) and keep gavel-enforced rules in the database.
type automodCmd struct {
	Export automodExportCmd `cmd:"" help:"Write a guild's AutoMod rules (Discord's and gavel's) as a rules file."`
	Plan   automodPlanCmd   `cmd:"" help:"Print what applying a rules file would change: rules created, updated (field by field) and deleted."`
	Apply  automodApplyCmd  `cmd:"" help:"Make Discord's rules and gavel's stored rules match a rules file (with --yes; without, print the plan)."`
	Test   automodTestCmd   `cmd:"" help:"Show which rules would fire on a message, on which keyword, at which position."`
}

type automodExportCmd struct {
	Guild  int64  `required:"" placeholder:"ID" help:"The guild whose rules to export."`
	Output string `short:"o" placeholder:"FILE" help:"Write to FILE instead of standard output (- is standard output); written as cases export -o writes."`
}

type automodPlanCmd struct {
	Guild int64  `required:"" placeholder:"ID" help:"The guild to compare with."`
	File  string `arg:"" placeholder:"RULES.toml" help:"The rules file."`
}

type automodApplyCmd struct {
	Guild int64  `required:"" placeholder:"ID" help:"The guild to change."`
	File  string `arg:"" placeholder:"RULES.toml" help:"The rules file."`
	Yes   bool   `help:"Apply the changes; without it the plan is printed and nothing is changed."`
}

type automodTestCmd struct {
	Guild   int64  `placeholder:"ID" help:"The guild whose rules to test (Discord's and the stored gavel-enforced ones); not read when --rules is given."`
	Rules   string `placeholder:"RULES.toml" help:"Test the rules of this file instead of the guild's."`
	Message string `arg:"" help:"The message text."`
}

// automodEnv is what the commands that reach Discord need.
type automodEnv struct {
	cfg   config.Config
	st    *store.Store
	port  *disgoport.Adapter
	exec  *executor.Executor
	rules *automod.Service
	store *automod.Store
}

func (rt *Runtime) automodEnv(ctx context.Context) (*automodEnv, error) {
	st, err := rt.openMigratedStore(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := rt.LoadConfig()
	if err != nil {
		st.Close()
		return nil, err
	}
	if cfg.Discord.Token == "" {
		st.Close()
		return nil, errors.New("DISCORD_TOKEN is not set: the automod commands read and change the guild's rules through Discord's API with the bot's token; " + config.TokenHelp)
	}
	if err := config.CheckToken(cfg.Discord.Token); err != nil {
		st.Close()
		return nil, err
	}
	port, err := disgoport.New(string(cfg.Discord.Token), disgoport.WithAPIURL(cfg.Discord.APIURL), disgoport.WithLogger(rt.logger(cfg)),
		disgoport.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	if err != nil {
		st.Close()
		return nil, err
	}
	// The executor waits out Discord's rate limits (a fresh process does not know its
	// buckets) and retries what failed on Discord's side.
	exec := executor.New()
	env := &automodEnv{cfg: cfg, st: st, port: port, exec: exec, store: automod.NewStore(st)}
	env.rules = automod.NewService(port, automod.WithExecutor(exec), automod.WithGavelRules(env.store))
	return env, nil
}

func (e *automodEnv) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.port.Close(ctx)
	e.st.Close()
}

func (c automodExportCmd) Run(ctx context.Context, rt *Runtime) error {
	env, err := rt.automodEnv(ctx)
	if err != nil {
		return err
	}
	defer env.close()
	rules, err := env.rules.List(ctx, discord.GuildID(c.Guild))
	if err != nil {
		return err
	}
	gavelRules, _, err := env.store.GavelRules(ctx, discord.GuildID(c.Guild))
	if err != nil {
		return err
	}
	b, renamed, err := automod.Export(rules, gavelRules)
	if err != nil {
		return err
	}
	for _, rn := range renamed {
		fmt.Fprintf(rt.Stderr, "rule %d shares its name %q with another rule; exported as %q (the file says so; applying it renames the rule on Discord)\n", rn.ID, rn.From, rn.To)
	}
	err = writeOutput(rt.path(c.Output), rt.Stdout, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	if c.Output == "" || c.Output == "-" {
		return nil
	}
	fmt.Fprintf(rt.Stderr, "wrote %d Discord and %d gavel-enforced rules to %s\n", len(rules), len(gavelRules), c.Output)
	return nil
}

func readRuleFile(path string) (automod.RuleFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return automod.RuleFile{}, fmt.Errorf("read rules file: %w", err)
	}
	f, err := automod.ParseFile(b)
	if err != nil {
		return automod.RuleFile{}, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// makePlan reads the file and what the guild has, and compares them.
func (e *automodEnv) makePlan(ctx context.Context, guildID discord.GuildID, path string) (automod.RuleFile, automod.Plan, error) {
	f, err := readRuleFile(path)
	if err != nil {
		return automod.RuleFile{}, automod.Plan{}, err
	}
	current, err := e.rules.List(ctx, guildID)
	if err != nil {
		return automod.RuleFile{}, automod.Plan{}, err
	}
	currentGavel, _, err := e.store.GavelRules(ctx, guildID)
	if err != nil {
		return automod.RuleFile{}, automod.Plan{}, err
	}
	plan, err := automod.MakePlan(f, current, currentGavel)
	if err != nil {
		return automod.RuleFile{}, automod.Plan{}, fmt.Errorf("%s: %w", path, err)
	}
	return f, plan, nil
}

func (c automodPlanCmd) Run(ctx context.Context, rt *Runtime) error {
	env, err := rt.automodEnv(ctx)
	if err != nil {
		return err
	}
	defer env.close()
	_, plan, err := env.makePlan(ctx, discord.GuildID(c.Guild), rt.path(c.File))
	if err != nil {
		return err
	}
	fmt.Fprint(rt.Stdout, plan.String())
	return nil
}

func (c automodApplyCmd) Run(ctx context.Context, rt *Runtime) error {
	env, err := rt.automodEnv(ctx)
	if err != nil {
		return err
	}
	defer env.close()
	f, plan, err := env.makePlan(ctx, discord.GuildID(c.Guild), rt.path(c.File))
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
	// Checked before Discord is changed: the gavel-enforced rules are stored last, and a
	// database that refuses them would leave the guild half applied.
	if err := env.st.CheckWritable(ctx); err != nil {
		return err
	}
	guilds := settings.NewService(env.st)
	svc := automod.NewService(env.port, automod.WithExecutor(env.exec), automod.WithReporter(func(ctx context.Context, guildID discord.GuildID, text string) {
		postAudit(ctx, rt, guilds, env, guildID, text)
	}))
	actor := automod.Actor{Name: "the command line (gavel automod apply " + filepath.Base(c.File) + ")"}
	done, err := svc.ApplyPlan(ctx, discord.GuildID(c.Guild), actor, plan, env.store, f.Gavel)
	if err != nil {
		return err
	}
	fmt.Fprintf(rt.Stdout, "applied %d changes\n", len(done.Done))
	return nil
}

// postAudit posts text to the guild's audit-log channel, when it has one.
func postAudit(ctx context.Context, rt *Runtime, guilds *settings.Service, env *automodEnv, guildID discord.GuildID, text string) {
	g, err := guilds.Get(ctx, guildID)
	if err != nil {
		fmt.Fprintf(rt.Stderr, "warning: the audit-log channel was not told (settings unreadable: %v)\n", err)
		return
	}
	if g.AuditlogChannelID == 0 {
		return
	}
	err = env.exec.Do(ctx, executor.OpMessages, func(ctx context.Context) error {
		_, err := env.port.SendMessage(ctx, g.AuditlogChannelID, discord.Message{Content: clip(text, 2000), AllowedMentions: &discord.AllowedMentions{}})
		return err
	})
	if err != nil {
		fmt.Fprintf(rt.Stderr, "warning: the audit-log channel was not told: %v\n", err)
	}
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func (c automodTestCmd) Run(ctx context.Context, rt *Runtime) error {
	if c.Rules != "" {
		f, err := readRuleFile(rt.path(c.Rules))
		if err != nil {
			return err
		}
		rep, err := automod.DryRun(f.Discord, f.Gavel, c.Message)
		if err != nil {
			return err
		}
		fmt.Fprint(rt.Stdout, rep.String())
		return nil
	}
	if c.Guild <= 0 {
		return errors.New("say whose rules to test: --guild ID (the guild's rules) or --rules RULES.toml (a file's)")
	}
	env, err := rt.automodEnv(ctx)
	if err != nil {
		return err
	}
	defer env.close()
	rep, err := env.rules.Test(ctx, discord.GuildID(c.Guild), c.Message)
	if err != nil {
		return err
	}
	fmt.Fprint(rt.Stdout, rep.String())
	return nil
}
