package commands_test

import (
	"testing"

	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/tools"
)

// BenchmarkParseWarn is the parser's share of a prefix command's CPU: a warn read by the
// whole tree (actions and tools), as the router reads every message that starts with the
// prefix.
func BenchmarkParseWarn(b *testing.B) {
	tree, err := commands.NewTree(append(actionTree(b).Specs(), tools.NewSet(&tools.Env{}).Specs()...)...)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		args, ok, err := tree.ParsePrefix("$", "$warn <@123456789012345678> spamming links in general -s")
		if !ok || err != nil {
			b.Fatal(err)
		}
		if _, err := commands.InvocationOf(args); err != nil {
			b.Fatal(err)
		}
	}
}
