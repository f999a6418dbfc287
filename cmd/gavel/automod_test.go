package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
)

const rulesFile = `
[[rule]]
name = "scams"
trigger = "keyword"
keywords = ["nitro", "steam*"]

  [[rule.action]]
  type = "block"
  message = "No scams."

[[rule]]
name = "pings"
trigger = "mention_spam"
mention_limit = 5

  [[rule.action]]
  type = "timeout"
  duration = "10m"

[[rule]]
name = "many words"
enforce = "gavel"
trigger = "keyword"
keywords = ["badword"]

  [[rule.action]]
  type = "warn"
`

func TestAutomodCommands(t *testing.T) {
	t.Parallel()
	const (
		guild    discordtest.ID = 730000000000000100
		owner    discordtest.ID = 730000000000000201
		botRole  discordtest.ID = 730000000000000301
		auditlog discordtest.ID = 730000000000000401
	)
	s := discordtest.New(t, discordtest.WithSeed(discordtest.Seed{
		Users: []discordtest.User{{ID: owner, Username: "owner"}},
		Guilds: []discordtest.SeedGuild{{ID: guild, Name: "g", OwnerID: owner,
			Roles: []discordtest.Role{{ID: botRole, Name: "gavel", Position: 1,
				Permissions: discordtest.PermManageGuild | discordtest.PermModerateMembers | discordtest.PermViewChannel | discordtest.PermSendMessages}},
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
	func() {
		st, err := store.OpenURL(context.Background(), dbURL, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := settings.NewService(st).SetChannel(context.Background(), discord.GuildID(guild), discord.UserID(owner), settings.AuditLog, discord.ChannelID(auditlog)); err != nil {
			t.Fatal(err)
		}
	}()
	g := guild.String()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rules := write("rules.toml", rulesFile)

	got := gavel(t, dir, env, "automod", "plan", "--guild", g, rules)
	if got.code != 0 {
		t.Fatalf("plan: %d %s", got.code, got.stderr)
	}
	for _, w := range []string{`create discord rule "scams"`, `create discord rule "pings"`, `create gavel rule "many words"`, "3 to create, 0 to update, 0 to delete, 0 unchanged"} {
		if !strings.Contains(got.stdout, w) {
			t.Errorf("plan output lacks %q:\n%s", w, got.stdout)
		}
	}

	got = gavel(t, dir, env, "automod", "apply", "--guild", g, rules)
	if got.code != 0 || !strings.Contains(got.stdout, "nothing was changed: run again with --yes") || len(s.AutoModRules(guild)) != 0 {
		t.Fatalf("apply without --yes: %d %q %q; %d rules on Discord", got.code, got.stdout, got.stderr, len(s.AutoModRules(guild)))
	}

	got = gavel(t, dir, env, "automod", "apply", "--guild", g, "--yes", rules)
	if got.code != 0 || !strings.Contains(got.stdout, "applied 3 changes") {
		t.Fatalf("apply: %d %q %q", got.code, got.stdout, got.stderr)
	}
	if n := len(s.AutoModRules(guild)); n != 2 {
		t.Fatalf("Discord has %d rules; want 2", n)
	}
	func() {
		st, err := store.OpenURL(context.Background(), dbURL, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		gr, _, err := automod.NewStore(st).GavelRules(context.Background(), discord.GuildID(guild))
		if err != nil || len(gr) != 1 || gr[0].Name != "many words" {
			t.Fatalf("stored gavel rules: %+v %v", gr, err)
		}
	}()
	var reported bool
	for _, m := range s.Messages(auditlog) {
		reported = reported || strings.Contains(m.Content, "applied a rules file") && strings.Contains(m.Content, `create discord rule "scams"`)
	}
	if !reported {
		t.Errorf("the audit-log channel was not told: %+v", s.Messages(auditlog))
	}

	got = gavel(t, dir, env, "automod", "plan", "--guild", g, rules)
	if !strings.Contains(got.stdout, "0 to create, 0 to update, 0 to delete, 3 unchanged") {
		t.Errorf("plan after apply:\n%s%s", got.stdout, got.stderr)
	}

	// Export, and the export is a file that plans to nothing.
	got = gavel(t, dir, env, "automod", "export", "--guild", g, "-o", "exported.toml")
	if got.code != 0 {
		t.Fatalf("export: %s", got.stderr)
	}
	exported, err := os.ReadFile(filepath.Join(dir, "exported.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`name = "scams"`, `enforce = "gavel"`, `duration = "10m"`, `id = "`} {
		if !strings.Contains(string(exported), w) {
			t.Errorf("export lacks %q:\n%s", w, exported)
		}
	}
	got = gavel(t, dir, env, "automod", "plan", "--guild", g, "exported.toml")
	if !strings.Contains(got.stdout, "0 to create, 0 to update, 0 to delete, 3 unchanged") {
		t.Errorf("plan of the export:\n%s%s", got.stdout, got.stderr)
	}
	// A second export over a file someone made group-readable keeps its mode, and -o -
	// is standard output, not a file named "-".
	if err := os.Chmod(filepath.Join(dir, "exported.toml"), 0o640); err != nil {
		t.Fatal(err)
	}
	if got := gavel(t, dir, env, "automod", "export", "--guild", g, "-o", "exported.toml"); got.code != 0 {
		t.Fatalf("export again: %s", got.stderr)
	}
	if fi, err := os.Stat(filepath.Join(dir, "exported.toml")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("export over a 0640 file: %v, %v; want the mode kept", fi.Mode(), err)
	}
	if got := gavel(t, dir, env, "automod", "export", "--guild", g, "-o", "-"); got.code != 0 || got.stdout != string(exported) {
		t.Errorf("export -o -: code %d, stdout %q, want the file's content", got.code, got.stdout)
	}
	if _, err := os.Lstat(filepath.Join(dir, "-")); err == nil {
		t.Error(`export -o - created a file named "-"`)
	}

	// A changed file: field-level changes and a deletion.
	changed := strings.Replace(rulesFile, `keywords = ["nitro", "steam*"]`, `keywords = ["nitro", "gift*"]`, 1)
	changed = changed[:strings.Index(changed, "[[rule]]\nname = \"pings\"")] + changed[strings.Index(changed, "[[rule]]\nname = \"many words\""):]
	changedPath := write("changed.toml", changed)
	got = gavel(t, dir, env, "automod", "apply", "--guild", g, "--yes", changedPath)
	for _, w := range []string{`delete discord rule "pings"`, `update discord rule "scams"`, `keywords: added "gift*"; removed "steam*"`, "applied 2 changes"} {
		if !strings.Contains(got.stdout, w) {
			t.Errorf("apply of the changed file lacks %q:\n%s%s", w, got.stdout, got.stderr)
		}
	}
	if rs := s.AutoModRules(guild); len(rs) != 1 || rs[0].Name != "scams" {
		t.Errorf("Discord's rules after the change: %+v", rs)
	}

	// A file that breaks a limit changes nothing and says where.
	bad := write("bad.toml", strings.Replace(rulesFile, `mention_limit = 5`, `mention_limit = 51`, 1))
	got = gavel(t, dir, env, "automod", "apply", "--guild", g, "--yes", bad)
	if got.code != 1 || !strings.Contains(got.stderr, `automod rule "pings"`) || !strings.Contains(got.stderr, "trigger_metadata.mention_total_limit: 51 is out of range; accepted: 0 to 50") {
		t.Errorf("apply of a bad file: %d %q", got.code, got.stderr)
	}
	if rs := s.AutoModRules(guild); len(rs) != 1 {
		t.Errorf("a refused file changed Discord: %+v", rs)
	}

	// Dry runs: from a file, and from the guild.
	got = gavel(t, dir, env, "automod", "test", "--guild", g, "--rules", rules, "free Nitro and a badword")
	for _, w := range []string{`discord rule "scams" fires on keyword "nitro": "Nitro" at bytes 5–10, characters 5–10`, `gavel rule "many words" fires on keyword "badword"`} {
		if !strings.Contains(got.stdout, w) {
			t.Errorf("test --rules lacks %q:\n%s%s", w, got.stdout, got.stderr)
		}
	}
	got = gavel(t, dir, env, "automod", "test", "--guild", g, "a gift card")
	if !strings.Contains(got.stdout, `discord rule "scams" fires on keyword "gift*": "gift"`) {
		t.Errorf("test of the guild's rules:\n%s%s", got.stdout, got.stderr)
	}

	delete(env, "DISCORD_TOKEN")
	got = gavel(t, dir, env, "automod", "plan", "--guild", g, rules)
	if got.code != 1 || !strings.Contains(got.stderr, "DISCORD_TOKEN is not set") {
		t.Errorf("without a token: %d %q", got.code, got.stderr)
	}
}

// TestAutomodExportOfDuplicateNames: a guild whose rules share a name (renamed in Discord's
// settings, outside gavel) exports to a file that plan and apply accept: the later rule gets a
// unique name, the file and the command say so, and applying it renames the rule on Discord.
func TestAutomodExportOfDuplicateNames(t *testing.T) {
	t.Parallel()
	const (
		guild   discordtest.ID = 731000000000000100
		owner   discordtest.ID = 731000000000000201
		botRole discordtest.ID = 731000000000000301
	)
	s := discordtest.New(t, discordtest.WithSeed(discordtest.Seed{
		Users: []discordtest.User{{ID: owner, Username: "owner"}},
		Guilds: []discordtest.SeedGuild{{ID: guild, Name: "g", OwnerID: owner,
			Roles: []discordtest.Role{{ID: botRole, Name: "gavel", Position: 1,
				Permissions: discordtest.PermManageGuild | discordtest.PermModerateMembers | discordtest.PermViewChannel | discordtest.PermSendMessages}},
			BotRoles: []discordtest.ID{botRole},
			Members:  []discordtest.SeedMember{{UserID: owner}},
		}},
	}))
	dir := t.TempDir()
	env := map[string]string{"GAVEL_DATABASE_URL": "sqlite:" + filepath.Join(dir, "gavel.db"), "DISCORD_TOKEN": s.Token(), "GAVEL_DISCORD_API_URL": s.APIURL()}
	if got := gavel(t, dir, env, "migrate", "up"); got.code != 0 {
		t.Fatalf("migrate: %s", got.stderr)
	}
	g := guild.String()
	if err := os.WriteFile(filepath.Join(dir, "rules.toml"), []byte(rulesFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := gavel(t, dir, env, "automod", "apply", "--guild", g, "--yes", "rules.toml"); got.code != 0 {
		t.Fatalf("apply: %d %s", got.code, got.stderr)
	}
	var pings discordtest.ID
	for _, r := range s.AutoModRules(guild) {
		if r.Name == "pings" {
			pings = r.ID
		}
	}
	// Outside gavel: the mention rule is renamed to the keyword rule's name.
	if err := s.RenameAutoModRuleAs(guild, owner, pings, "scams"); err != nil {
		t.Fatal(err)
	}

	got := gavel(t, dir, env, "automod", "export", "--guild", g, "-o", "exported.toml")
	if got.code != 0 || !strings.Contains(got.stderr, `shares its name "scams" with another rule; exported as "scams (2)"`) {
		t.Fatalf("export: %d %q", got.code, got.stderr)
	}
	exported, err := os.ReadFile(filepath.Join(dir, "exported.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"# Some of these rules shared a name", `rule ` + pings.String() + `: "scams" -> "scams (2)"`, `name = "scams (2)"`, `name = "scams"`} {
		if !strings.Contains(string(exported), w) {
			t.Errorf("export lacks %q:\n%s", w, exported)
		}
	}
	got = gavel(t, dir, env, "automod", "plan", "--guild", g, "exported.toml")
	if got.code != 0 || !strings.Contains(got.stdout, "0 to create, 1 to update, 0 to delete, 2 unchanged") {
		t.Fatalf("plan of the export: %d\n%s%s", got.code, got.stdout, got.stderr)
	}
	if got = gavel(t, dir, env, "automod", "apply", "--guild", g, "--yes", "exported.toml"); got.code != 0 {
		t.Fatalf("apply of the export: %d %s", got.code, got.stderr)
	}
	names := map[string]bool{}
	for _, r := range s.AutoModRules(guild) {
		names[r.Name] = true
	}
	if !names["scams"] || !names["scams (2)"] || len(names) != 2 {
		t.Errorf("Discord's rule names after applying the export: %v", names)
	}
}
