package commands

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/permissions"
)

// A Spec declares one command: a moderation action (ActionSpec builds it from the
// catalogue) or a tool (cases, config, purge, slowmode, automod), with its subcommands and
// parameters. Both front ends are generated from it: ParsePrefix reads the prefix form,
// FromSlash the slash options, and SlashDefinition registers it, so the two accept the same
// things.
type Spec struct {
	Name string
	// Aliases are other names for the prefix form (Discord knows only Name).
	Aliases     []string
	Description string
	// Subs are the subcommands; a Spec has Subs or Params, not both. Two levels at most
	// (config ranks set), as Discord allows.
	Subs []*Spec
	// Default is the subcommand a bare prefix command runs ("$cases" lists); "" for none.
	Default string
	// Route, when set, picks the subcommand for a prefix command whose next word is not a
	// subcommand's name: "$cases 12" views case 12, "$cases @user" lists the user's cases.
	// It returns the subcommand's name, and the word stays for that subcommand's parameters;
	// "" leaves the choice to Default. An error says why the word fits no subcommand (it
	// becomes the usage error's problem).
	Route  func(word string) (string, error)
	Params []Param
	// Check, when set, runs after either front end has read a leaf's parameters: it may
	// refuse them (its error becomes the usage error's problem) or normalize them in place
	// (an action's reason), so that both front ends end the same way.
	Check func(args Args) error
	// Native is the Discord permission a member needs for the command in a guild without
	// ranks; it also hides the slash command from members without it until the server says
	// otherwise. A subcommand without one uses its parent's (0: Manage Server).
	Native permissions.Permission
	// Rank is the rank `config ranks init` makes the command require (docs/commands.md lists
	// them). A top-level command always has one (0: every member); a subcommand has its own
	// only when Rank is above 0, and otherwise requires its parent's.
	Rank int
	// Open lets every member use the command (in a guild with ranks or without) until the
	// server requires a rank for it: posting a snippet, managing one's own. A subcommand is
	// open only when it says so itself.
	Open bool
	// Public makes the slash form answer in the channel for everyone to see, as the prefix
	// form does (posting a snippet); only a refusal stays ephemeral.
	Public bool
	// Action is the moderation action the command carries out; nil for a tool.
	Action *moderation.Action
	// Elsewhere names the flags that commands like this one take and this one does not, by
	// every spelling (d → duration), so that "$kick @x rude -d 1h" is told kick takes no
	// duration rather than only that -d is unknown.
	Elsewhere map[string]string

	parent *Spec
}

// Kind is what a parameter's value is.
type Kind int

// The parameter kinds.
const (
	// KindString is text; a positional string with Rest takes every remaining word.
	KindString Kind = iota
	KindInt
	KindBool
	KindUser
	KindChannel
	KindRole
	KindDuration
)

// Param is one parameter of a command.
type Param struct {
	Name        string
	Description string
	Kind        Kind
	Required    bool
	// Positional parameters come, in order, right after the command words in the prefix
	// form; the others are written -name value (-name alone for a boolean). Any parameter may
	// be written as a flag.
	Positional bool
	// Rest makes a positional string take every remaining word that is not a flag. One
	// positional parameter may have it; the positional parameters after it take the last
	// words, so that "config commands set cases modify 4" reads command "cases modify", rank 4.
	Rest bool
	// Aliases are short flag names (-r for -reason).
	Aliases []string
	// Min and Max bound an integer's value or a string's length (in characters). Both zero:
	// no bound.
	Min, Max int
	// Bounds limit a duration; a zero bound is no bound.
	Bounds duration.Bounds
	// Choices, when set, are the only values a string accepts (compared without letter case;
	// the value is the choice as written here).
	Choices []string
	// Clear lets a channel or role parameter say "none" (the value is then 0), to clear a
	// setting. The prefix form takes the word none; the slash form, whose pickers cannot say
	// none, gets a boolean option named clear beside the picker, which is then optional. A
	// command has at most one such parameter.
	Clear bool
	// Autocomplete makes the slash option ask gavel for suggestions as the user types
	// (Discord forbids it together with Choices).
	Autocomplete bool
	// Raw makes a Rest string take the rest of a prefix command exactly as it was typed, from
	// its first word on: line breaks, spacing, quotes and dashes kept, no flags read in it (a
	// snippet's content). Only the space around it is trimmed.
	Raw bool
	// Quoted keeps the quotes around the words of a string value that held spaces, so that
	// a tool reading a list ("free nitro", scam*) can tell where its entries end. Without
	// it, the words are joined bare.
	Quoted bool
	// Single makes a positional target take one user: a second user (a mention or an id)
	// right after it, before any other word, is refused rather than read as the start of
	// the reason ("$ban @a @b raid" would otherwise ban @a alone, for "<@b> raid").
	Single bool
	// Verbatim makes a Rest string take words that look like unknown flags as text (the
	// message automod test tries); elsewhere an unknown -word is refused.
	Verbatim bool
}

// ClearOption is the name of the slash option that stands for "none" (Param.Clear).
const ClearOption = "clear"

// Args are a parsed command: which (sub)command, and its parameters' values.
type Args struct {
	// Spec is the command that runs: the leaf subcommand.
	Spec *Spec
	// Values holds the parameters given, by name: string, int64, bool, time.Duration, or
	// int64 ids for users, channels and roles.
	Values map[string]any
}

// Command is the full name of the command that runs, as permissions know it: "cases
// modify", "config ranks set", "purge".
func (a Args) Command() string { return a.Spec.Path() }

// Has reports whether a parameter was given.
func (a Args) Has(name string) bool { _, ok := a.Values[name]; return ok }

// String returns a string parameter, "" when absent.
func (a Args) String(name string) string { s, _ := a.Values[name].(string); return s }

// Int returns an integer parameter, 0 when absent.
func (a Args) Int(name string) int64 { n, _ := a.Values[name].(int64); return n }

// Bool returns a boolean parameter, false when absent.
func (a Args) Bool(name string) bool { b, _ := a.Values[name].(bool); return b }

// ID returns a user, channel or role parameter, 0 when absent.
func (a Args) ID(name string) int64 { n, _ := a.Values[name].(int64); return n }

// Duration returns a duration parameter, 0 when absent.
func (a Args) Duration(name string) time.Duration { d, _ := a.Values[name].(time.Duration); return d }

// Link sets the parent pointers of a spec tree; call it once on each top-level Spec.
func (s *Spec) Link() *Spec {
	for _, sub := range s.Subs {
		sub.parent = s
		sub.Link()
	}
	return s
}

// Path is the spec's full name: its parents' names and its own.
func (s *Spec) Path() string {
	if s.parent == nil {
		return s.Name
	}
	return s.parent.Path() + " " + s.Name
}

// Root is the top-level command the spec belongs to.
func (s *Spec) Root() *Spec {
	for s.parent != nil {
		s = s.parent
	}
	return s
}

// Names returns the full names of the spec and every subcommand under it, parents first.
func (s *Spec) Names() []string {
	out := []string{s.Path()}
	for _, sub := range s.Subs {
		out = append(out, sub.Names()...)
	}
	return out
}

// Sub finds a subcommand by name or alias, ignoring letter case.
func (s *Spec) Sub(name string) (*Spec, bool) {
	name = strings.ToLower(name)
	for _, sub := range s.Subs {
		if sub.Name == name {
			return sub, true
		}
		for _, al := range sub.Aliases {
			if al == name {
				return sub, true
			}
		}
	}
	return nil, false
}

// Matches reports whether word names the spec (its name or an alias, any letter case).
func (s *Spec) Matches(word string) bool {
	word = strings.ToLower(word)
	if word == s.Name {
		return true
	}
	for _, al := range s.Aliases {
		if al == word {
			return true
		}
	}
	return false
}

// Usage is the prefix synopsis of a leaf command, or the list of a group's subcommands.
func (s *Spec) Usage(prefix string) string {
	if len(s.Subs) > 0 {
		var lines []string
		for _, sub := range s.Subs {
			if len(sub.Subs) > 0 {
				for _, leaf := range sub.Subs {
					lines = append(lines, leaf.Usage(prefix))
				}
				continue
			}
			lines = append(lines, sub.Usage(prefix))
		}
		return strings.Join(lines, "\n")
	}
	var b strings.Builder
	b.WriteString(prefix + s.Path())
	for _, p := range s.Params {
		if p.Positional {
			name := "<" + p.Name + ">"
			if p.Clear {
				name = "<" + p.hint() + ">"
			}
			if p.Rest {
				name = "<" + p.Name + "…>"
			}
			if !p.Required {
				name = "[" + strings.Trim(name, "<>") + "]"
			}
			b.WriteString(" " + name)
		}
	}
	for _, p := range s.Params {
		if p.Positional {
			continue
		}
		flag := "-" + p.Name
		if p.Kind != KindBool {
			flag += " " + p.hint()
		}
		if !p.Required {
			flag = "[" + flag + "]"
		}
		b.WriteString(" " + flag)
	}
	return b.String()
}

// hint is how a parameter's value is written, for usage lines.
func (p Param) hint() string {
	if len(p.Choices) > 0 {
		return strings.Join(p.Choices, "|")
	}
	switch p.Kind {
	case KindInt:
		if p.Min != 0 || p.Max != 0 {
			return fmt.Sprintf("%d-%d", p.Min, p.Max)
		}
		return "number"
	case KindUser:
		return "@user"
	case KindChannel:
		if p.Clear {
			return "#channel|none"
		}
		return "#channel"
	case KindRole:
		if p.Clear {
			return "@role|none"
		}
		return "@role"
	case KindDuration:
		return "duration"
	}
	return p.Name
}

// accepted says what a parameter accepts, for messages.
func (p Param) accepted() string {
	switch {
	case len(p.Choices) > 0:
		return "one of " + strings.Join(p.Choices, ", ")
	case p.Kind == KindInt && (p.Min != 0 || p.Max != 0):
		return fmt.Sprintf("a whole number from %d to %d", p.Min, p.Max)
	case p.Kind == KindInt:
		return "a whole number"
	case p.Kind == KindBool:
		return "yes or no (true/false, on/off)"
	case p.Kind == KindUser:
		return "a user: a mention (@name) or an id"
	case p.Kind == KindChannel && p.Clear:
		return "a channel: a mention (#name) or an id, or none to clear it"
	case p.Kind == KindChannel:
		return "a channel: a mention (#name) or an id"
	case p.Kind == KindRole && p.Clear:
		return "a role: a mention (@role) or an id, or none to clear it"
	case p.Kind == KindRole:
		return "a role: a mention (@role) or an id"
	case p.Kind == KindDuration:
		return "a duration, like 90m, 1.5h, 1w2d or 2 weeks"
	case p.Max > 0:
		return fmt.Sprintf("text of %d to %d characters", max(p.Min, 1), p.Max)
	}
	return "text"
}

// ParsePrefix reads a prefix command for one of specs, such as "$ban @user spamming -p 1 -s"
// or "$cases modify 12 -status inactive". ok is false when the message is not such a command
// (no prefix, or an unknown command word), so that the bot stays quiet; a known command
// written wrongly is a *UsageError that says what was wrong and how to write it.
//
// After the command and subcommand words come the positional parameters in order, and flags
// anywhere: a word starting with one or two dashes that names a parameter of the command
// (any letter case) is a flag, and anything else is a positional word. A flag's value is:
// for a boolean, the next word when it is yes/no, true/false or on/off (else the flag alone
// means true); for a string, every word up to the next flag; for a duration, the longest run
// of words that reads as one ("-d 2 weeks spamming" is two weeks); for the others, one word.
// A positional string with Rest (an action's reason) takes the words that are not flags,
// wherever they are.
func ParsePrefix(specs []*Spec, prefix, content string) (args Args, ok bool, err error) {
	if prefix == "" || !strings.HasPrefix(content, prefix) {
		return Args{}, false, nil
	}
	// "$ ban" is not a command: a prefix followed by a space is ordinary talk ("$ 5 each").
	if r, _ := utf8.DecodeRuneInString(content[len(prefix):]); unicode.IsSpace(r) {
		return Args{}, false, nil
	}
	text := content[len(prefix):]
	words, quoted := splitWords(text)
	if len(words) == 0 {
		return Args{}, false, nil
	}
	var spec *Spec
	for _, s := range specs {
		if s.Matches(words[0]) {
			spec = s
			break
		}
	}
	if spec == nil {
		return Args{}, false, nil
	}
	words, quoted = words[1:], quoted[1:]
	for len(spec.Subs) > 0 {
		if len(words) > 0 {
			if sub, found := spec.Sub(words[0]); found {
				spec, words, quoted = sub, words[1:], quoted[1:]
				continue
			}
		}
		target := spec.Default
		if len(words) > 0 && spec.Route != nil {
			name, err := spec.Route(words[0])
			if err != nil {
				return Args{}, true, &UsageError{Problem: err.Error(), Usage: spec.Usage(prefix), Command: spec.Path()}
			}
			if name != "" {
				target = name
			}
		}
		if target != "" {
			sub, found := spec.Sub(target)
			if !found {
				return Args{}, true, fmt.Errorf("commands: %s routes to %q, which is not a subcommand", spec.Path(), target)
			}
			if len(words) > 0 && !sub.takesPositional() {
				// The word cannot be the default's argument: it is a mistyped subcommand
				// ("$config bogus"), and saying so beats "one word too many".
				if _, _, _, isFlag := flagWord(words[0], quoted[0]); !isFlag {
					return Args{}, true, &UsageError{Problem: unknownSub(prefix, spec, words[0]), Usage: spec.Usage(prefix), Command: spec.Path()}
				}
			}
			spec = sub
			continue
		}
		problem := fmt.Sprintf("Say what to do: %s%s needs one of %s.", prefix, spec.Path(), subNames(spec))
		if len(words) > 0 {
			problem = unknownSub(prefix, spec, words[0])
		}
		return Args{}, true, &UsageError{Problem: problem, Usage: spec.Usage(prefix), Command: spec.Path()}
	}
	args, err = parseWords(spec, words, quoted, text)
	if err != nil {
		return Args{}, true, &UsageError{Problem: err.Error(), Usage: spec.Usage(prefix), Command: spec.Path()}
	}
	return args, true, nil
}

// unknownSub says a word is none of a group's subcommands, with the nearest one.
func unknownSub(prefix string, spec *Spec, word string) string {
	var known []string
	for _, sub := range spec.Subs {
		known = append(known, sub.Name)
		known = append(known, sub.Aliases...)
	}
	problem := fmt.Sprintf("Unknown subcommand %q of %s%s; it is one of: %s.", excerpt(word), prefix, spec.Path(), subNames(spec))
	if near := Closest(word, known); near != "" {
		sub, _ := spec.Sub(near)
		problem += fmt.Sprintf(" Did you mean %s%s?", prefix, sub.Path())
	}
	return problem
}

// takesPositional reports whether a leaf reads words that are not flags.
func (s *Spec) takesPositional() bool {
	for _, p := range s.Params {
		if p.Positional {
			return true
		}
	}
	return false
}

func subNames(s *Spec) string {
	names := make([]string, len(s.Subs))
	for i, sub := range s.Subs {
		names[i] = sub.Name
	}
	return strings.Join(names, ", ")
}

// splitWords splits on spaces, keeping "quoted text" together (quotes removed), so that a
// rank name or a keyword may hold spaces. marks tell which words were quoted, and which
// followed the word before them with no space between (`"stop",` is two words, glued), so
// that a value of several words is put back as it was written.
func splitWords(text string) (out []string, marks []mark) {
	// At most one word more than there are separators: sized once, where growing by
	// append took five allocations for a command of a few words.
	n := 1
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case ' ', '\t', '\r', '\n', '"':
			n++
		}
	}
	out, marks = make([]string, 0, n), make([]mark, 0, n)
	glued := false
	s := text
	for {
		trimmed := strings.TrimLeft(s, " \t\r\n")
		glued = glued && len(trimmed) == len(s)
		s = trimmed
		if s == "" {
			return out, marks
		}
		start := len(text) - len(s)
		if s[0] == '"' {
			if end := strings.IndexByte(s[1:], '"'); end >= 0 {
				out, marks = append(out, s[1:1+end]), append(marks, mark{quoted: true, glued: glued, start: start})
				s, glued = s[2+end:], true
				continue
			}
		}
		end := strings.IndexAny(s, " \t\r\n")
		if end < 0 {
			return append(out, s), append(marks, mark{glued: glued, start: start})
		}
		out, marks = append(out, s[:end]), append(marks, mark{glued: glued, start: start})
		s, glued = s[end:], true
	}
}

// mark is what splitWords knows of a word beyond its text.
type mark struct {
	quoted bool
	// glued: no space between the word and the one before it.
	glued bool
	// start is where the word (its opening quote, when quoted) begins in the text split.
	start int
}

func parseWords(spec *Spec, words []string, quoted []mark, text string) (Args, error) {
	args := Args{Spec: spec, Values: map[string]any{}}
	var positional, tail []*Param // tail: the positional parameters after the Rest one
	var rest *Param
	for i := range spec.Params {
		p := &spec.Params[i]
		switch {
		case !p.Positional:
		case rest != nil:
			tail = append(tail, p)
		default:
			positional = append(positional, p)
			if p.Rest {
				rest = p
			}
		}
	}
	var restWords []string
	var restQuoted []mark
	next := 0       // the next positional parameter to fill
	single := false // the last positional word was a Single target (flags in between)
	for i := 0; i < len(words); i++ {
		w := words[i]
		if rest != nil && rest.Raw && !args.Has(rest.Name) {
			for next < len(positional) && positional[next] != rest && args.Has(positional[next].Name) {
				next++
			}
			if next < len(positional) && positional[next] == rest {
				// The rest of the message as typed is the value, dash-words and all.
				v, err := rest.parse(text[quoted[i].start:])
				if err != nil {
					return Args{}, err
				}
				args.Values[rest.Name] = v
				break
			}
		}
		if name, value, eq, ok := flagWord(w, quoted[i]); ok {
			p := spec.param(name)
			if p == nil && (rest == nil || !rest.Verbatim) {
				return Args{}, unknownFlag(spec, w, name)
			}
			if p != nil {
				if args.Has(p.Name) {
					return Args{}, fmt.Errorf("-%s is given twice", p.Name)
				}
				if p.Raw && !eq && i+1 < len(words) {
					// As a flag too, a raw value is the rest of the message as typed.
					v, err := p.parse(text[quoted[i+1].start:])
					if err != nil {
						return Args{}, err
					}
					args.Values[p.Name] = v
					break
				}
				vals, valMarks := words[i+1:], quoted[i+1:]
				if eq {
					// -name=value: the value is the first word after the flag.
					vals = append([]string{value}, vals...)
					valMarks = append([]mark{{}}, valMarks...)
				}
				n, err := takeFlag(&args, p, vals, valMarks, spec)
				if err != nil {
					return Args{}, err
				}
				if eq {
					if n == 0 {
						return Args{}, fmt.Errorf("-%s must be %s, not %q", p.Name, p.accepted(), excerpt(value))
					}
					n--
				}
				i += n
				continue
			}
		}
		// Fill the positional parameters in order; the Rest one gathers what is left.
		for next < len(positional) && positional[next] != rest && args.Has(positional[next].Name) {
			next++
		}
		if next < len(positional) && positional[next] != rest {
			p := positional[next]
			v, err := p.parse(w)
			if err != nil {
				return Args{}, err
			}
			args.Values[p.Name] = v
			next++
			single = p.Single
			continue
		}
		after := single
		single = false
		if after && len(restWords) == 0 && !quoted[i].quoted {
			if _, isUser := ParseUserRef(w); isUser {
				return Args{}, fmt.Errorf("One target per command: %s is a second user. gavel acts on one user at a time: run %s once for each of them. (A reason that starts with a mention goes in quotes: \"%s …\")",
					excerpt(w), spec.Path(), excerpt(w))
			}
		}
		if rest != nil {
			restWords, restQuoted = append(restWords, w), append(restQuoted, quoted[i])
			continue
		}
		return Args{}, fmt.Errorf("%q is one word too many (did you mean a flag? %s takes %s)", excerpt(w), spec.Path(), flagList(spec))
	}
	// The parameters after the Rest one take the last words, leaving the Rest one at least one
	// when it is required (so that a missing rank says "needs rank", not "rank must be…").
	for i := len(tail) - 1; i >= 0; i-- {
		p := tail[i]
		if args.Has(p.Name) {
			continue
		}
		if len(restWords) == 0 || rest.Required && !args.Has(rest.Name) && len(restWords) == 1 {
			break
		}
		v, err := p.parse(restWords[len(restWords)-1])
		if err != nil {
			return Args{}, err
		}
		args.Values[p.Name] = v
		restWords, restQuoted = restWords[:len(restWords)-1], restQuoted[:len(restQuoted)-1]
	}
	if rest != nil && len(restWords) > 0 {
		if args.Has(rest.Name) {
			// Given as a flag too: neither value may silently win over the other.
			return Args{}, fmt.Errorf("-%s is given twice (as -%s and as words)", rest.Name, rest.Name)
		}
		v, err := rest.parse(rest.join(restWords, restQuoted))
		if err != nil {
			return Args{}, err
		}
		args.Values[rest.Name] = v
	}
	if err := finish(spec, args, false); err != nil {
		return Args{}, err
	}
	return args, nil
}

// OptionName is how a moderator writes a parameter in a front end: "-duration" in the
// prefix form, "duration:" in the slash form, so that a refusal names what they can type.
func OptionName(name string, slash bool) string {
	if slash {
		return name + ":"
	}
	return "-" + name
}

func flagList(spec *Spec) string {
	var names []string
	for _, p := range spec.Params {
		name := "-" + p.Name
		if len(p.Aliases) > 0 {
			name += " (-" + strings.Join(p.Aliases, ", -") + ")"
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return "no flags"
	}
	return strings.Join(names, ", ")
}

// flagWord reads a word written as a flag: one or two dashes, then a letter (-silent,
// --purge, -d, --bogus=3; not -1h, -_- or a lone dash), never a quoted word. name is
// lower-cased; value is what follows an equals sign, when eq.
func flagWord(word string, m mark) (name, value string, eq, ok bool) {
	if m.quoted || !strings.HasPrefix(word, "-") {
		return "", "", false, false
	}
	body := strings.TrimPrefix(strings.TrimPrefix(word, "-"), "-")
	if body == "" || !(body[0] >= 'a' && body[0] <= 'z' || body[0] >= 'A' && body[0] <= 'Z') {
		return "", "", false, false
	}
	name, value, eq = strings.Cut(body, "=")
	return strings.ToLower(name), value, eq, true
}

// param finds a parameter by its name or an alias (lower-case).
func (s *Spec) param(name string) *Param {
	for i := range s.Params {
		p := &s.Params[i]
		if p.Name == name {
			return p
		}
		for _, al := range p.Aliases {
			if al == name {
				return p
			}
		}
	}
	return nil
}

// unknownFlag refuses a -word the command does not take: a flag it would take under
// another command is named as such, a typo gets the nearest flag, and the message lists
// what the command takes and how to keep such a word as text.
func unknownFlag(spec *Spec, word, name string) error {
	var b strings.Builder
	if long, ok := spec.Elsewhere[name]; ok {
		fmt.Fprintf(&b, "%s takes no -%s", spec.Path(), long)
		if long != name {
			fmt.Fprintf(&b, " (%s)", excerpt(word))
		}
	} else {
		fmt.Fprintf(&b, "%s is not a flag of %s", excerpt(word), spec.Path())
		var known []string
		for _, p := range spec.Params {
			known = append(known, p.Name)
			known = append(known, p.Aliases...)
		}
		if near := Closest(name, known); near != "" {
			fmt.Fprintf(&b, "; did you mean -%s?", near)
		}
	}
	fmt.Fprintf(&b, "; %s takes %s. Words in quotes are kept as text: \"%s\"", spec.Path(), flagList(spec), excerpt(word))
	return errors.New(b.String())
}

// takeFlag reads a flag's value from the words after it and returns how many it used.
func takeFlag(args *Args, p *Param, after []string, quoted []mark, spec *Spec) (int, error) {
	switch p.Kind {
	case KindBool:
		// "-silent" alone is true; "-silent no" is read when the next word is a yes/no.
		if len(after) > 0 {
			if b, ok := parseBool(after[0]); ok {
				args.Values[p.Name] = b
				return 1, nil
			}
		}
		args.Values[p.Name] = true
		return 0, nil
	case KindString:
		// Up to the next word written as a flag, known or not (an unknown one is then
		// refused rather than swallowed into the value).
		n := 0
		for n < len(after) {
			if _, _, _, isFlag := flagWord(after[n], quoted[n]); isFlag {
				break
			}
			n++
		}
		if n == 0 {
			return 0, fmt.Errorf("-%s needs a value: %s", p.Name, p.accepted())
		}
		v, err := p.parse(p.join(after[:n], quoted[:n]))
		if err != nil {
			return 0, err
		}
		args.Values[p.Name] = v
		return n, nil
	case KindDuration:
		// The longest run that reads as a duration is the value; its bounds are checked after,
		// so that "2 days" out of bounds is not reported as "2 has no unit".
		var firstErr error
		for n := min(6, len(after)); n >= 1; n-- {
			d, err := duration.Parse(strings.Join(after[:n], " "))
			if err != nil {
				if n == 1 {
					firstErr = fmt.Errorf("%s: %w", p.Name, err)
				}
				continue
			}
			v, err := p.checkDuration(d)
			if err != nil {
				return 0, err
			}
			args.Values[p.Name] = v
			return n, nil
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("-%s needs a value: %s", p.Name, p.accepted())
		}
		return 0, firstErr
	}
	if len(after) == 0 {
		return 0, fmt.Errorf("-%s needs a value: %s", p.Name, p.accepted())
	}
	v, err := p.parse(after[0])
	if err != nil {
		return 0, err
	}
	args.Values[p.Name] = v
	return 1, nil
}

// join puts a string value's words back together, with a space where there was one; with
// Quoted, a word that was quoted gets its quotes back.
func (p Param) join(words []string, marks []mark) string {
	var b strings.Builder
	for i, w := range words {
		if i > 0 && !marks[i].glued {
			b.WriteByte(' ')
		}
		if p.Quoted && marks[i].quoted {
			w = `"` + w + `"`
		}
		b.WriteString(w)
	}
	return b.String()
}

// finish checks what every parse needs whatever its front end: the required parameters,
// then the spec's own Check. A missing option is named as its front end writes it: -name
// in the prefix form, name: in the slash form.
func finish(spec *Spec, args Args, slash bool) error {
	for _, p := range spec.Params {
		if !p.Required || args.Has(p.Name) {
			continue
		}
		switch {
		case slash:
			return fmt.Errorf("/%s needs the option %s (%s)", spec.Path(), OptionName(p.Name, true), p.accepted())
		case p.Positional:
			return fmt.Errorf("%s needs %s: %s", spec.Path(), p.Name, p.accepted())
		}
		return fmt.Errorf("%s needs %s: %s", spec.Path(), OptionName(p.Name, false), p.accepted())
	}
	if spec.Check != nil {
		return spec.Check(args)
	}
	return nil
}

// parse reads one parameter's value from text, and checks its bounds.
func (p Param) parse(text string) (any, error) {
	bad := func() error { return fmt.Errorf("%s must be %s, not %q", p.Name, p.accepted(), clip(text, 40)) }
	if p.Clear && (p.Kind == KindChannel || p.Kind == KindRole) && strings.EqualFold(strings.TrimSpace(text), "none") {
		return int64(0), nil
	}
	switch p.Kind {
	case KindInt:
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return nil, bad()
		}
		return p.checkInt(n)
	case KindBool:
		b, ok := parseBool(text)
		if !ok {
			return nil, bad()
		}
		return b, nil
	case KindUser:
		id, ok := ParseUserRef(text)
		if !ok {
			return nil, bad()
		}
		return id, nil
	case KindChannel:
		id, ok := ParseChannelRef(text)
		if !ok {
			return nil, bad()
		}
		return id, nil
	case KindRole:
		id, ok := ParseRoleRef(text)
		if !ok {
			return nil, bad()
		}
		return id, nil
	case KindDuration:
		d, err := duration.Parse(text)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		return p.checkDuration(d)
	}
	return p.checkString(text)
}

func (p Param) checkInt(n int64) (any, error) {
	if (p.Min != 0 || p.Max != 0) && (n < int64(p.Min) || n > int64(p.Max)) {
		return nil, fmt.Errorf("%s must be %s, not %d", p.Name, p.accepted(), n)
	}
	return n, nil
}

func (p Param) checkDuration(d time.Duration) (any, error) {
	if err := p.Bounds.Check(d); err != nil {
		return nil, fmt.Errorf("%s %w", p.Name, err)
	}
	return d, nil
}

func (p Param) checkString(s string) (any, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("%s is not valid text", p.Name)
	}
	if len(p.Choices) > 0 {
		for _, c := range p.Choices {
			if strings.EqualFold(c, s) {
				return c, nil
			}
		}
		return nil, fmt.Errorf("%s must be %s, not %q", p.Name, p.accepted(), clip(s, 40))
	}
	n := utf8.RuneCountInString(s)
	if n == 0 || p.Max > 0 && (n < p.Min || n > p.Max) {
		if n == 0 {
			return nil, fmt.Errorf("%s is empty; it must be %s", p.Name, p.accepted())
		}
		return nil, fmt.Errorf("%s is %d characters long; it must be %s", p.Name, n, p.accepted())
	}
	return s, nil
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "t", "yes", "y", "1", "on", "enable", "enabled":
		return true, true
	case "false", "f", "no", "n", "0", "off", "disable", "disabled":
		return false, true
	}
	return false, false
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
