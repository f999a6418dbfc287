package commands

import (
	"fmt"
	"strconv"

	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Discord's application command option types.
const (
	OptionString  = 3
	OptionInteger = 4
	OptionBoolean = 5
	OptionUser    = 6
)

// SlashOption is one option of a slash command definition, as Discord's API takes it;
// subcommands and groups nest their options.
type SlashOption struct {
	Type        int      `json:"type"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Required    bool     `json:"required,omitempty"`
	MinValue    *int     `json:"min_value,omitempty"`
	MaxValue    *int     `json:"max_value,omitempty"`
	MinLength   *int     `json:"min_length,omitempty"`
	MaxLength   *int     `json:"max_length,omitempty"`
	Choices     []Choice `json:"choices,omitempty"`
	// Autocomplete asks gavel for suggestions as the user types; never with Choices.
	Autocomplete bool           `json:"autocomplete,omitempty"`
	Options      []*SlashOption `json:"options,omitempty"`
}

// SlashCommand is a chat-input command definition for the bulk-overwrite endpoint.
type SlashCommand struct {
	Type        int            `json:"type"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Options     []*SlashOption `json:"options"`
	// DefaultMemberPermissions hides the command from members without the Discord permission
	// it needs until a server says otherwise; gavel still checks ranks itself.
	DefaultMemberPermissions *string `json:"default_member_permissions"`
	// Contexts 0: guilds only.
	Contexts []int `json:"contexts"`
}

// SlashCommands generates the slash definitions of every catalogue action: the same flags
// as the prefix commands, with the same bounds, under the same names.
func SlashCommands(cat *moderation.Catalogue, native map[string]permissions.Permission) []SlashCommand {
	var out []SlashCommand
	for _, a := range cat.Actions() {
		cmd := SlashCommand{Type: 1, Name: a.Name, Description: truncate(a.Description, 100), Contexts: []int{0}}
		target := &SlashOption{Type: OptionUser, Name: "user", Description: "Who", Required: true}
		if a.Target == moderation.TargetBanned {
			target = &SlashOption{Type: OptionString, Name: "user", Description: "A banned user's id, mention or name", Required: true,
				MinLength: intp(1), MaxLength: intp(100)}
		}
		cmd.Options = append(cmd.Options, target)
		// Required options must come first in Discord's definitions.
		for _, f := range a.Flags {
			if f.Required {
				cmd.Options = append(cmd.Options, slashFlag(f))
			}
		}
		cmd.Options = append(cmd.Options, &SlashOption{Type: OptionString, Name: "reason", Description: "Why (recorded in the case)",
			MinLength: intp(1), MaxLength: intp(2000)})
		for _, f := range a.Flags {
			if !f.Required {
				cmd.Options = append(cmd.Options, slashFlag(f))
			}
		}
		if p, ok := native[a.Name]; ok {
			s := strconv.FormatUint(uint64(p), 10)
			cmd.DefaultMemberPermissions = &s
		}
		out = append(out, cmd)
	}
	return out
}

func slashFlag(f moderation.FlagUse) *SlashOption {
	spec := f.ID.Spec()
	o := &SlashOption{Name: spec.Name, Description: upper(spec.Help), Required: f.Required}
	switch f.ID {
	case moderation.FlagSilent:
		o.Type = OptionBoolean
	case moderation.FlagPurge:
		o.Type = OptionInteger
		o.MinValue, o.MaxValue = intp(moderation.MinPurgeDays), intp(moderation.MaxPurgeDays)
	case moderation.FlagDuration:
		o.Type = OptionString
		o.MinLength, o.MaxLength = intp(1), intp(100)
	}
	return o
}

// FromSlash builds an Invocation from a slash command's options (name → value as decoded
// from the interaction: strings, float64 or int64 numbers, booleans, and user ids as strings).
func FromSlash(cat *moderation.Catalogue, name string, opts map[string]any) (Invocation, error) {
	a, ok := cat.Lookup(name)
	if !ok || a.Name != name {
		return Invocation{}, &UsageError{Problem: fmt.Sprintf("/%s is not a moderation command.", name)}
	}
	inv := Invocation{Action: a}
	fail := func(format string, args ...any) (Invocation, error) {
		return Invocation{}, &UsageError{Problem: fmt.Sprintf(format, args...)}
	}
	ref, _ := opts["user"].(string)
	if id, ok := ParseUserRef(ref); ok {
		inv.Target.ID = id
	} else if a.Target == moderation.TargetBanned && ref != "" {
		inv.Target.Name = ref
	} else {
		return fail("Say who: /%s needs a %s.", a.Name, targetNoun(a.Target))
	}
	if r, ok := opts["reason"].(string); ok {
		inv.Reason = r
	}
	for _, f := range a.Flags {
		spec := f.ID.Spec()
		v, given := opts[spec.Name]
		if !given {
			continue
		}
		switch f.ID {
		case moderation.FlagSilent:
			b, ok := v.(bool)
			if !ok {
				return fail("silent must be true or false.")
			}
			inv.Silent = b
		case moderation.FlagPurge:
			n, ok := toInt(v)
			if !ok {
				return fail("purge must be a whole number of days from 0 to 7.")
			}
			if err := applyPurge(&inv, n); err != nil {
				return fail("%s.", upper(err.Error()))
			}
		case moderation.FlagDuration:
			s, ok := v.(string)
			if !ok {
				return fail("duration must be text like 90m or 2 weeks.")
			}
			if err := applyDuration(&inv, f, s); err != nil {
				return fail("%s.", upper(err.Error()))
			}
		}
	}
	for name := range opts {
		if name == "user" || name == "reason" {
			continue
		}
		known := false
		for _, f := range a.Flags {
			known = known || f.ID.Spec().Name == name
		}
		if !known {
			return fail("/%s has no option %q.", a.Name, name)
		}
	}
	if err := finish(&inv); err != nil {
		return fail("%s.", upper(err.Error()))
	}
	return inv, nil
}

func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		if n != float64(int64(n)) {
			return 0, false
		}
		return int64(n), true
	}
	return 0, false
}

func intp(n int) *int { return &n }

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
