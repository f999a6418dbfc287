package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/escalation"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
)

const escalationFile = `
counts_for = "14d"

[[weight]]
type = "warn"
points = 1

[[weight]]
type = "automod"
points = 2
counts_for = "7d"

[[reason]]
match = "scam"
points = 5

[[policy]]
name = "strict"
enabled = true

  [[policy.threshold]]
  at = 3
  action = "timeout"
  duration = "1h"
  reset_below = 2

  [[policy.threshold]]
  at = 6
  action = "ban"
  approval = false
`

func TestEscalationCommands(t *testing.T) {
	t.Parallel()
	const (
		guild    discordtest.ID = 731000000000000100
		owner    discordtest.ID = 731000000000000201
		botRole  discordtest.ID = 731000000000000301
		auditlog discordtest.ID = 731000000000000401
	)
	s := discordtest.New(t, discordtest.WithSeed(discordtest.Seed{
		Users: []discordtest.User{{ID: owner, Username: "owner"}},
		Guilds: []discordtest.SeedGuild{{ID: guild, Name: "g", OwnerID: owner,
			Roles: []discordtest.Role{{ID: botRole, Name: "gavel", Position: 1,
				Permissions: discordtest.PermBanMembers | discordtest.PermModerateMembers | discordtest.PermViewChannel | discordtest.PermSendMessages}},
			BotRoles: []discordtest.ID{botRole},
			Members:  []discordtest.SeedMember{{UserID: owner}},
			Channels: []discordtest.Channel{{ID: auditlog, Type: discordtest.ChannelGuildText, Name: "audit-log"}},
		}},
	}))
	dir := t.TempDir()
	dbURL := "sqlite:" + filepath.Join(dir, "gavel.db")
	env := map[string]string{"GAVEL_DATABASE_URL": dbURL, "DISCORD_TOKEN": s.Token(), "GAVEL_DISCORD_API_URL": s.APIURL()}
	if got := gavel(t, dir, env, "migrate", "up"); got.code != 0 {
		t.Fatalf("migrate: %s", got.stderr)
	}
	ctx := context.Background()
	st, err := store.OpenURL(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := settings.NewService(st).SetChannel(ctx, discord.GuildID(guild), discord.UserID(owner), settings.AuditLog, discord.ChannelID(auditlog)); err != nil {
		t.Fatal(err)
	}
	g := guild.String()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file := write("escalation.toml", escalationFile)

	got := gavel(t, dir, env, "escalation", "plan", "--guild", g, file)
	if got.code != 0 {
		t.Fatalf("plan: %d %s", got.code, got.stderr)
	}
	for _, w := range []string{"~ counts_for: default (30 days) → 2 weeks", "+ weight warn: 1 points", "+ weight automod: 2 points for 1 week",
		`~ reasons: none → "scam" 5 points`, "+ policy strict (on): 3 → timeout for 1 hour, re-arms below 2; 6 → ban"} {
		if !strings.Contains(got.stdout, w) {
			t.Errorf("plan lacks %q:\n%s", w, got.stdout)
		}
	}
	got = gavel(t, dir, env, "escalation", "apply", "--guild", g, file)
	if got.code != 0 || !strings.Contains(got.stdout, "nothing was changed: run again with --yes") {
		t.Fatalf("apply without --yes: %d %q %q", got.code, got.stdout, got.stderr)
	}
	if _, v, _ := escalation.NewService(st).Config(ctx, discord.GuildID(guild)); v != 0 {
		t.Fatal("apply without --yes changed the settings")
	}
	got = gavel(t, dir, env, "escalation", "apply", "--guild", g, "--yes", file)
	if got.code != 0 || !strings.Contains(got.stdout, "applied 5 changes") {
		t.Fatalf("apply: %d %q %q", got.code, got.stdout, got.stderr)
	}
	cfg, v, err := escalation.NewService(st).Config(ctx, discord.GuildID(guild))
	if err != nil || v != 1 || len(cfg.Policies) != 1 || !cfg.Policies[0].Enabled || cfg.Policies[0].Thresholds[0].ResetBelow != 2 {
		t.Fatalf("settings after apply: %+v v%d %v", cfg, v, err)
	}
	posted := false
	for _, m := range s.Messages(auditlog) {
		posted = posted || strings.Contains(m.Content, "Escalation settings applied from the command line")
	}
	if !posted {
		t.Error("the audit-log channel was not told of the apply")
	}
	got = gavel(t, dir, env, "escalation", "export", "--guild", g)
	if got.code != 0 {
		t.Fatalf("export: %d %s", got.code, got.stderr)
	}
	back, err := escalation.ParseFile([]byte(got.stdout))
	if err != nil {
		t.Fatalf("the export does not parse: %v\n%s", err, got.stdout)
	}
	if p := escalation.MakePlan(cfg, back, v); !p.Empty() {
		t.Errorf("export differs from the settings: %s", p)
	}
	got = gavel(t, dir, env, "escalation", "plan", "--guild", g, file)
	if !strings.Contains(got.stdout, "no changes") {
		t.Errorf("plan after apply: %q", got.stdout)
	}
	bad := write("bad.toml", "[[policy]]\nname = \"x\"\n[[policy.threshold]]\nat = 101\naction = \"ban\"\n")
	got = gavel(t, dir, env, "escalation", "apply", "--guild", g, "--yes", bad)
	if got.code == 0 || !strings.Contains(got.stderr, "101 points is out of range; a threshold is 1 to 100 points") {
		t.Errorf("bad file: %d %q", got.code, got.stderr)
	}
}
