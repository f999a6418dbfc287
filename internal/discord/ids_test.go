package discord_test

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/discord"
)

// TestSwappedIDsDoNotCompile type-checks this package's own source with one more file that
// mixes ids up, and expects the type checker to refuse each mix-up. The control snippet
// compiles, so a refusal is the ids' types at work and not a broken harness.
func TestSwappedIDsDoNotCompile(t *testing.T) {
	fset := token.NewFileSet()
	var files []*ast.File
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	check := func(body string) error {
		src := "package discord\nimport \"context\"\nvar _ = context.Background\nfunc snippet(ctx context.Context, p Port, g GuildID, u UserID, c ChannelID, r RoleID, m MessageID) {\n" + body + "\n}\n"
		f, err := parser.ParseFile(fset, "snippet.go", src, 0)
		if err != nil {
			t.Fatal(err)
		}
		conf := types.Config{Importer: importer.Default()}
		_, err = conf.Check("github.com/gavelbot/gavel/internal/discord", fset, append(files[:len(files):len(files)], f), nil)
		return err
	}
	if err := check(`_ = p.Ban(ctx, g, u, 0, "")
_ = p.AddRole(ctx, g, u, r, "")
_ = p.DeleteMessage(ctx, c, m, "")`); err != nil {
		t.Fatalf("the control snippet does not compile: %v", err)
	}
	for _, body := range []string{
		`_ = p.Ban(ctx, u, g, 0, "")`,
		`_ = p.Ban(ctx, GuildID(u), g, 0, "")`, // converting one argument does not make the other fit
		`var x UserID = g; _ = x`,
		`_ = p.AddRole(ctx, g, u, RoleID(u), ""); _ = p.AddRole(ctx, g, r, RoleID(u), "")`,
		`_ = p.DeleteMessage(ctx, ChannelID(m), ChannelID(m), "")`,
		`_ = g == GuildID(c) || c == m`,
	} {
		err := check(body)
		if err == nil {
			t.Errorf("%s: compiles; want a type error", body)
			continue
		}
		if !strings.Contains(err.Error(), "cannot use") && !strings.Contains(err.Error(), "mismatched types") {
			t.Errorf("%s: %v; want a type mismatch", body, err)
		}
	}
	if s := discord.GuildID(175928847299117063).String(); s != "175928847299117063" {
		t.Errorf("String = %q", s)
	}
}

func TestParseID(t *testing.T) {
	if id, err := discord.ParseID[discord.UserID](" 175928847299117063 "); err != nil || id != 175928847299117063 {
		t.Errorf("ParseID = %v, %v", id, err)
	}
	for _, bad := range []string{"", "0", "-5", "12a", "99999999999999999999"} {
		if _, err := discord.ParseID[discord.RoleID](bad); err == nil || !strings.Contains(err.Error(), "accepted:") {
			t.Errorf("ParseID(%q) = %v; want an error saying what is accepted", bad, err)
		}
	}
}
