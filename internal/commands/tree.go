package commands

import (
	"fmt"

	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Tree is every command gavel answers, actions and tools alike: one list of specs behind
// one prefix parser, one slash mapping and one set of names for permissions.
type Tree struct {
	specs []*Spec
}

// NewTree links specs into a tree. Two commands may not share a name or an alias, in the
// prefix form or the slash form.
func NewTree(specs ...*Spec) (*Tree, error) {
	seen := map[string]string{}
	for _, s := range specs {
		s.Link()
		for _, n := range append([]string{s.Name}, s.Aliases...) {
			if other, dup := seen[n]; dup {
				return nil, fmt.Errorf("commands: %q names both %s and %s", n, other, s.Name)
			}
			seen[n] = s.Name
		}
	}
	return &Tree{specs: specs}, nil
}

// ActionSpecs are the catalogue's commands.
func ActionSpecs(cat *moderation.Catalogue) []*Spec {
	var out []*Spec
	for _, a := range cat.Actions() {
		out = append(out, ActionSpec(a))
	}
	return out
}

// Specs lists the top-level commands.
func (t *Tree) Specs() []*Spec { return append([]*Spec(nil), t.specs...) }

// ParsePrefix reads a prefix command of the tree (see the function ParsePrefix).
func (t *Tree) ParsePrefix(prefix, content string) (Args, bool, error) {
	return ParsePrefix(t.specs, prefix, content)
}

// FromSlash reads a slash command of the tree (see the function FromSlash).
func (t *Tree) FromSlash(path []string, opts map[string]any) (Args, error) {
	return FromSlash(t.specs, path, opts)
}

// Has reports whether a slash command's name is one of the tree's.
func (t *Tree) Has(name string) bool {
	for _, s := range t.specs {
		if s.Name == name {
			return true
		}
	}
	return false
}

// Slash is every command's slash definition, for the bulk-overwrite endpoint.
func (t *Tree) Slash() []SlashCommand {
	out := make([]SlashCommand, len(t.specs))
	for i, s := range t.specs {
		out[i] = s.SlashDefinition()
	}
	return out
}

// Names are the full names of every command and subcommand, for the permission system.
func (t *Tree) Names() []string {
	var out []string
	for _, s := range t.specs {
		out = append(out, s.Names()...)
	}
	return out
}

// Native is the fallback table of the permission system: the Discord permission each
// command (or subcommand) declares.
func (t *Tree) Native() map[string]permissions.Permission {
	out := map[string]permissions.Permission{}
	var walk func(s *Spec)
	walk = func(s *Spec) {
		if s.Native != 0 {
			out[s.Path()] = s.Native
		}
		for _, sub := range s.Subs {
			walk(sub)
		}
	}
	for _, s := range t.specs {
		walk(s)
	}
	return out
}

// Open are the commands every member may use until the server requires a rank for them
// (Spec.Open), for the permission system.
func (t *Tree) Open() []string {
	var out []string
	var walk func(s *Spec)
	walk = func(s *Spec) {
		if s.Open {
			out = append(out, s.Path())
		}
		for _, sub := range s.Subs {
			walk(sub)
		}
	}
	for _, s := range t.specs {
		walk(s)
	}
	return out
}

// Leaf finds the command a slash command's path (command, group, subcommand) names.
func (t *Tree) Leaf(path []string) (*Spec, bool) {
	if len(path) == 0 {
		return nil, false
	}
	var spec *Spec
	for _, s := range t.specs {
		if s.Name == path[0] {
			spec = s
		}
	}
	if spec == nil {
		return nil, false
	}
	for _, name := range path[1:] {
		sub, ok := spec.Sub(name)
		if !ok {
			return nil, false
		}
		spec = sub
	}
	return spec, true
}

// DefaultRanks are the ranks `config ranks init` gives the commands: every top-level
// command's, and the subcommands' that declare one of their own (Spec.Rank).
func (t *Tree) DefaultRanks() map[string]int {
	out := map[string]int{}
	var walk func(s *Spec)
	walk = func(s *Spec) {
		if s.parent == nil || s.Rank > 0 {
			out[s.Path()] = s.Rank
		}
		for _, sub := range s.Subs {
			walk(sub)
		}
	}
	for _, s := range t.specs {
		walk(s)
	}
	return out
}
