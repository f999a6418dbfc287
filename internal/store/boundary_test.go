package store_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEngineStaysInStore holds issue 11's storage boundary: no package outside internal/store
// asks which engine it runs on (store.SQLite, store.Postgres: it asks what the store can do,
// Store.OneWriter and Store.Shared) or imports a database driver. Tests may (they pick
// engines to run on), and so may the store's own packages.
func TestEngineStaysInStore(t *testing.T) {
	root := filepath.Join("..", "..")
	drivers := []string{"github.com/jackc/", "modernc.org/sqlite", "github.com/lib/pq"}
	fset := token.NewFileSet()
	checked := 0
	for _, top := range []string{"cmd", "internal"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			rel = filepath.ToSlash(rel)
			if d.IsDir() {
				if rel == "internal/store" || strings.HasPrefix(rel, "internal/store/") || rel == "internal/testmain" {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			checked++
			storeName := ""
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				for _, drv := range drivers {
					if strings.HasPrefix(p, drv) {
						t.Errorf("%s imports the database driver %s: only internal/store may", rel, p)
					}
				}
				if p == "github.com/gavelbot/gavel/internal/store" {
					storeName = "store"
					if imp.Name != nil {
						storeName = imp.Name.Name
					}
				}
			}
			if storeName == "" {
				return nil
			}
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == storeName && (sel.Sel.Name == "SQLite" || sel.Sel.Name == "Postgres") {
					t.Errorf("%s: %s.%s asks which engine the store runs on; ask the store what it can do (OneWriter, Shared)",
						fset.Position(sel.Pos()), storeName, sel.Sel.Name)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 50 {
		t.Fatalf("checked %d files: the walk did not find the source tree", checked)
	}
}
