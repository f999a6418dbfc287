package app_test

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/tools"
)

// TestCommandsDocumented keeps docs/commands.md complete: every action with its aliases and
// flags, and every tool command and subcommand, appears in it.
func TestCommandsDocumented(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/commands.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, a := range actions.Catalogue().Actions() {
		for _, name := range append([]string{a.Name}, a.Aliases...) {
			if !strings.Contains(doc, "`"+name+"`") {
				t.Errorf("docs/commands.md does not mention `%s` (action %s)", name, a.Name)
			}
		}
		for _, f := range a.Flags {
			spec := f.ID.Spec()
			if !strings.Contains(doc, "-"+spec.Name) {
				t.Errorf("docs/commands.md does not mention -%s (of %s)", spec.Name, a.Name)
			}
		}
	}
	set := tools.NewSet(&tools.Env{})
	for _, name := range set.Names() {
		if !strings.Contains(doc, name) {
			t.Errorf("docs/commands.md does not mention %q", name)
		}
	}
	for _, s := range set.Specs() {
		if !strings.Contains(doc, "## "+s.Name) {
			t.Errorf("docs/commands.md has no section for %s", s.Name)
		}
	}
}

// commandTree is every command as the app builds it.
func commandTree(t *testing.T) *commands.Tree {
	t.Helper()
	set := tools.NewSet(&tools.Env{})
	tree, err := commands.NewTree(append(commands.ActionSpecs(actions.Catalogue()), set.Specs()...)...)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// section is the text of docs/commands.md from the heading head to the next heading of
// its level or above.
func section(t *testing.T, doc, head string) string {
	t.Helper()
	i := strings.Index(doc, "\n"+head+"\n")
	if i < 0 {
		t.Fatalf("docs/commands.md has no heading %q", head)
	}
	rest := doc[i+len(head)+2:]
	level := strings.SplitN(head, " ", 2)[0]
	for _, h := range []string{"\n" + level + " ", "\n## "} {
		if j := strings.Index(rest, h); j >= 0 {
			rest = rest[:j]
		}
	}
	return rest
}

// TestDefaultRanksDocumented keeps the default ranks config ranks init gives (each
// command's Spec.Rank) and docs/commands.md in agreement: the Default ranks table lists
// exactly those, and the actions table's Default rank column says the same.
func TestDefaultRanksDocumented(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/commands.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	want := commandTree(t).DefaultRanks()

	documented := map[string]int{}
	cmdName := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(section(t, doc, "### Default ranks"), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 4 || !strings.Contains(cells[1], "`") {
			continue
		}
		rank, err := strconv.Atoi(strings.TrimSpace(cells[2]))
		if err != nil {
			t.Errorf("Default ranks row %q: rank %q is not a number", line, cells[2])
			continue
		}
		for _, m := range cmdName.FindAllStringSubmatch(cells[1], -1) {
			documented[m[1]] = rank
		}
	}
	if diff := cmp.Diff(want, documented); diff != "" {
		t.Errorf("docs/commands.md's Default ranks table and the commands' ranks differ (-code +docs):\n%s", diff)
	}

	// The actions table: | `name` | aliases | target | flags | default rank | …
	for _, line := range strings.Split(section(t, doc, "## Moderation actions"), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 7 {
			continue
		}
		m := cmdName.FindStringSubmatch(cells[1])
		if m == nil {
			continue
		}
		rank, err := strconv.Atoi(strings.TrimSpace(cells[5]))
		if err != nil {
			continue
		}
		if code, ok := want[m[1]]; !ok || code != rank {
			t.Errorf("docs/commands.md's actions table gives %s rank %d; the code %d", m[1], rank, code)
		}
	}
}

// TestPermissionsDocNamesRealCommands: every command docs/permissions.md names — in its
// examples, its tables and its refusal messages — is one of gavel's commands.
func TestPermissionsDocNamesRealCommands(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/permissions.md")
	if err != nil {
		t.Fatal(err)
	}
	tree := commandTree(t)
	known := map[string]bool{}
	for _, n := range tree.Names() {
		known[n] = true
	}
	check := func(where, name string) {
		name = strings.Join(strings.Fields(name), " ")
		if name == "<command>" {
			return
		}
		if !known[name] {
			t.Errorf("docs/permissions.md names %q (%s), which is not a gavel command", name, where)
		}
	}
	doc := string(b)
	for _, m := range regexp.MustCompile("to use `([^`]+)`").FindAllStringSubmatch(doc, -1) {
		check("a refusal", m[1])
	}
	for _, m := range regexp.MustCompile(`\$config commands set (?:"([^"]+)"|([a-z ]+?)) \d+`).FindAllStringSubmatch(doc, -1) {
		check("an example", m[1]+m[2])
	}
	for _, m := range regexp.MustCompile("`([a-z]+(?: [a-z]+)*)` (?:falls back|to|and its subcommands)").FindAllStringSubmatch(doc, -1) {
		check("a rule", m[1])
	}
	inTable := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "| command | Discord permission needed |") {
			inTable = true
			continue
		}
		if inTable && !strings.HasPrefix(line, "|") {
			inTable = false
		}
		if !inTable || strings.HasPrefix(line, "|---") {
			continue
		}
		first := strings.Split(line, "|")[1]
		first = regexp.MustCompile(`\([^)]*\)`).ReplaceAllString(first, "")
		for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(first, -1) {
			check("the fallback table", m[1])
		}
	}
}

// TestReadmeInvitePermissions keeps the README's invite in step with what gavel uses: the
// permissions= number is permissions.BotInvite, every permission is named, and every
// action's BotNeeds is among them.
func TestReadmeInvitePermissions(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := strings.Join(strings.Fields(string(b)), " ")
	want := permissions.BotInvite()
	m := regexp.MustCompile(`permissions=(\d+)`).FindAllStringSubmatch(readme, -1)
	if len(m) == 0 {
		t.Fatal("README.md has no invite URL with permissions=")
	}
	for _, g := range m {
		if n, _ := strconv.ParseUint(g[1], 10, 64); permissions.Permission(n) != want {
			t.Errorf("README.md invites with permissions=%s; gavel uses %d (%s)", g[1], uint64(want), want)
		}
	}
	for _, bp := range permissions.BotPermissions {
		if !strings.Contains(readme, "**"+bp.Name+"**") {
			t.Errorf("README.md does not name **%s** (%s)", bp.Name, bp.Why)
		}
	}
	for _, a := range actions.Catalogue().Actions() {
		if a.BotNeeds&^want != 0 {
			t.Errorf("action %s needs %s, which the invite does not give", a.Name, a.BotNeeds&^want)
		}
	}
	// Every message gavel sends needs these in the channel; the issue that found them
	// missing had a bot that could not reply.
	for _, p := range []permissions.Permission{permissions.ViewChannel, permissions.SendMessages, permissions.EmbedLinks} {
		if !want.Has(p) {
			t.Errorf("the invite lacks %s", p)
		}
	}
}
