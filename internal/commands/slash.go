package commands

import (
	"fmt"
	"strconv"
	"strings"
)

// Discord's application command option types.
const (
	OptionSubCommand      = 1
	OptionSubCommandGroup = 2
	OptionString          = 3
	OptionInteger         = 4
	OptionBoolean         = 5
	OptionUser            = 6
	OptionChannel         = 7
	OptionRole            = 8
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

// FromSlash builds Args from a slash command: path is the command, subcommand group and
// subcommand names as Discord sends them (empty ones left out), opts the leaf's options
// (strings, float64 or int64 numbers, booleans, and ids as strings).
func FromSlash(specs []*Spec, path []string, opts map[string]any) (Args, error) {
	var spec *Spec
	for _, s := range specs {
		if len(path) > 0 && s.Name == path[0] {
			spec = s
		}
	}
	if spec == nil {
		return Args{}, &UsageError{Problem: fmt.Sprintf("/%s is not one of gavel's commands.", excerpt(strings.Join(path, " ")))}
	}
	for _, name := range path[1:] {
		sub, ok := spec.Sub(name)
		if !ok || sub.Name != name {
			return Args{}, &UsageError{Problem: fmt.Sprintf("/%s has no subcommand %q.", spec.Path(), excerpt(name)), Command: spec.Path()}
		}
		spec = sub
	}
	if len(spec.Subs) > 0 {
		return Args{}, &UsageError{Problem: fmt.Sprintf("/%s needs a subcommand: %s.", spec.Path(), subNames(spec)), Command: spec.Path()}
	}
	args := Args{Spec: spec, Values: map[string]any{}}
	fail := func(err error) (Args, error) {
		return Args{}, &UsageError{Problem: sentence(err), Command: spec.Path()}
	}
	cleared := clearParam(spec)
	for name, v := range opts {
		var p *Param
		for i := range spec.Params {
			if spec.Params[i].Name == name {
				p = &spec.Params[i]
			}
		}
		if p == nil && cleared != nil && name == ClearOption {
			if b, ok := v.(bool); !ok {
				return fail(fmt.Errorf("%s must be true or false", ClearOption))
			} else if b {
				if _, picked := opts[cleared.Name]; picked {
					return fail(fmt.Errorf("give either %s or %s:true, not both", cleared.Name, ClearOption))
				}
				args.Values[cleared.Name] = int64(0)
			}
			continue
		}
		if p == nil {
			return fail(fmt.Errorf("/%s has no option %q", spec.Path(), excerpt(name)))
		}
		var val any
		var err error
		switch p.Kind {
		case KindInt:
			n, ok := toInt(v)
			if !ok {
				return fail(fmt.Errorf("%s must be %s", p.Name, p.accepted()))
			}
			val, err = p.checkInt(n)
		case KindBool:
			b, ok := v.(bool)
			if !ok {
				return fail(fmt.Errorf("%s must be true or false", p.Name))
			}
			val = b
		default:
			s, ok := v.(string)
			if !ok {
				return fail(fmt.Errorf("%s must be %s", p.Name, p.accepted()))
			}
			val, err = p.parse(s)
		}
		if err != nil {
			return fail(err)
		}
		args.Values[p.Name] = val
	}
	if cleared != nil && cleared.Required && !args.Has(cleared.Name) {
		return fail(fmt.Errorf("%s needs %s, or %s:true to clear it", spec.Path(), cleared.Name, ClearOption))
	}
	if err := finish(spec, args, true); err != nil {
		return fail(err)
	}
	return args, nil
}

// clearParam is the spec's parameter that can say none (Param.Clear), or nil.
func clearParam(spec *Spec) *Param {
	for i := range spec.Params {
		if p := &spec.Params[i]; p.Clear && (p.Kind == KindChannel || p.Kind == KindRole) {
			return p
		}
	}
	return nil
}

// Choice is one fixed value of a string option.
type Choice struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// SlashDefinition is the spec as Discord registers it. Its Native permission, when set,
// hides it from members without that permission by default; gavel still checks ranks itself.
func (s *Spec) SlashDefinition() SlashCommand {
	cmd := SlashCommand{Type: 1, Name: s.Name, Description: truncate(s.Description, 100), Contexts: []int{0},
		Options: []*SlashOption{}}
	if s.Native != 0 {
		p := strconv.FormatUint(uint64(s.Native), 10)
		cmd.DefaultMemberPermissions = &p
	}
	if len(s.Subs) > 0 {
		cmd.Options = subOptions(s)
	} else {
		cmd.Options = paramOptions(s.Params)
	}
	return cmd
}

func subOptions(s *Spec) []*SlashOption {
	out := []*SlashOption{}
	for _, sub := range s.Subs {
		o := &SlashOption{Type: OptionSubCommand, Name: sub.Name, Description: truncate(sub.Description, 100)}
		if len(sub.Subs) > 0 {
			o.Type = OptionSubCommandGroup
			o.Options = subOptions(sub)
		} else {
			o.Options = paramOptions(sub.Params)
		}
		out = append(out, o)
	}
	return out
}

// paramOptions lists required options first, as Discord demands. A parameter that can be
// cleared is optional there, beside a boolean option that clears it.
func paramOptions(params []Param) []*SlashOption {
	var req, opt []*SlashOption
	for _, p := range params {
		o := &SlashOption{Name: p.Name, Description: truncate(p.Description, 100), Required: p.Required && !p.Clear}
		switch p.Kind {
		case KindInt:
			o.Type = OptionInteger
			if p.Min != 0 || p.Max != 0 {
				o.MinValue, o.MaxValue = intp(p.Min), intp(p.Max)
			}
		case KindBool:
			o.Type = OptionBoolean
		case KindUser:
			o.Type = OptionUser
		case KindChannel:
			o.Type = OptionChannel
		case KindRole:
			o.Type = OptionRole
		case KindDuration:
			o.Type = OptionString
			o.MinLength, o.MaxLength = intp(1), intp(100)
		default:
			o.Type = OptionString
			if len(p.Choices) > 0 && len(p.Choices) <= 25 {
				for _, c := range p.Choices {
					o.Choices = append(o.Choices, Choice{Name: c, Value: c})
				}
			} else if p.Max > 0 {
				o.MinLength, o.MaxLength = intp(max(p.Min, 1)), intp(p.Max)
			}
			// Discord refuses autocomplete beside choices: fixed choices win.
			o.Autocomplete = p.Autocomplete && len(o.Choices) == 0
		}
		if o.Required {
			req = append(req, o)
		} else {
			opt = append(opt, o)
		}
		if p.Clear && (p.Kind == KindChannel || p.Kind == KindRole) {
			opt = append(opt, &SlashOption{Type: OptionBoolean, Name: ClearOption,
				Description: truncate("Clear it instead of naming one ("+p.Name+")", 100)})
		}
	}
	return append(append([]*SlashOption{}, req...), opt...)
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

func upper(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
