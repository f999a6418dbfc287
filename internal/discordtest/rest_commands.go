package discordtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
)

// Application command types and the option types that nest others.
const (
	commandChatInput = 1
	commandUser      = 2
	commandMessage   = 3
	commandEntry     = 4

	optionSubcommand      = 1
	optionSubcommandGroup = 2
)

// commandName is Discord's rule for CHAT_INPUT command and option names
// (application-commands.mdx "Application Command Naming"), in Go's syntax for scripts.
var commandName = regexp.MustCompile(`^[-_'\p{L}\p{N}\p{Devanagari}\p{Thai}]{1,32}$`)

type commandBody struct {
	rawOptions               json.RawMessage
	Name                     string           `json:"name"`
	NameLocalizations        json.RawMessage  `json:"name_localizations"`
	Description              opt[string]      `json:"description"`
	DescriptionLocalizations json.RawMessage  `json:"description_localizations"`
	Options                  []commandOption  `json:"options"`
	DefaultMemberPermissions opt[Permissions] `json:"default_member_permissions"`
	DMPermission             opt[bool]        `json:"dm_permission"`
	Contexts                 json.RawMessage  `json:"contexts"`
	IntegrationTypes         json.RawMessage  `json:"integration_types"`
	Type                     opt[int]         `json:"type"`
	NSFW                     bool             `json:"nsfw"`
}

type commandOption struct {
	Type        int               `json:"type"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Required    bool              `json:"required"`
	Choices     []json.RawMessage `json:"choices"`
	Options     []commandOption   `json:"options"`
}

// commandScope resolves where a commands route points: the global list (guild nil) or a
// guild's. Called with s.mu held.
func (s *Server) commandScope(r *Request) (*Guild, map[ID]*Command, *apiError) {
	app, e := pathID(r, "application_id")
	if e != nil {
		return nil, nil, e
	}
	if app != s.appID {
		return nil, nil, errMissingAccess
	}
	if r.HTTP.PathValue("guild_id") == "" {
		return nil, s.st.commands, nil
	}
	g, e := s.guildFor(r)
	if e != nil {
		return nil, nil, e
	}
	return g, g.Commands, nil
}

func sortedCommands(cmds map[ID]*Command) []*Command {
	out := make([]*Command, 0, len(cmds))
	for _, c := range cmds {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Server) handleListCommands(r *Request) (Response, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, cmds, e := s.commandScope(r)
	if e != nil {
		return Response{}, e
	}
	out := []Command{}
	for _, c := range sortedCommands(cmds) {
		out = append(out, copyCommand(c))
	}
	return Response{Body: out}, nil
}

// handleOverwriteCommands replaces a scope's commands with the list sent. A command that
// keeps its name and type keeps its id (its version changes when its definition does), as
// Discord does, so registrations stay stable across deploys.
func (s *Server) handleOverwriteCommands(r *Request) (Response, *apiError) {
	var body []commandBody
	raw, ok := jsonBody(r)
	if !ok {
		return Response{}, errContentType
	}
	if len(raw) == 0 || string(raw) == "null" {
		body = nil
	} else if err := json.Unmarshal(raw, &body); err != nil {
		return Response{}, apiErr(http.StatusBadRequest, codeInvalidJSON, "The request body contains invalid JSON.")
	} else {
		var raws []struct {
			Options json.RawMessage `json:"options"`
		}
		_ = json.Unmarshal(raw, &raws)
		for i := range body {
			if i < len(raws) {
				body[i].rawOptions = raws[i].Options
			}
		}
	}
	if e := checkCommands(body); e != nil {
		return Response{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, cmds, e := s.commandScope(r)
	if e != nil {
		return Response{}, e
	}
	byKey := map[string]*Command{}
	for _, c := range cmds {
		byKey[fmt.Sprint(c.Type, "/", c.Name)] = c
	}
	next := map[ID]*Command{}
	out := []Command{}
	for _, b := range body {
		c := s.commandFrom(b, g)
		if old, ok := byKey[fmt.Sprint(c.Type, "/", c.Name)]; ok {
			c.ID, c.Version = old.ID, old.Version
			if !sameCommand(old, c) {
				c.Version = s.newID()
			}
		}
		next[c.ID] = c
		out = append(out, copyCommand(c))
	}
	for id := range cmds {
		delete(cmds, id)
	}
	for id, c := range next {
		cmds[id] = c
	}
	return Response{Body: out}, nil
}

// commandFrom builds a stored command from a checked definition, with fresh ids.
func (s *Server) commandFrom(b commandBody, g *Guild) *Command {
	c := &Command{ID: s.newID(), ApplicationID: s.appID, Name: b.Name, Description: b.Description.V,
		Type: commandChatInput, NSFW: b.NSFW}
	c.Version = c.ID
	if g != nil {
		c.GuildID = g.ID
	}
	if b.Type.has() {
		c.Type = b.Type.V
	}
	if len(b.rawOptions) > 0 {
		// Kept as sent (min_length, autocomplete, channel_types, …), minus nulls, which
		// Discord drops.
		var opts any
		if err := json.Unmarshal(b.rawOptions, &opts); err == nil {
			if list, ok := dropNulls(opts).([]any); ok && len(list) > 0 {
				c.Options, _ = json.Marshal(list)
			}
		}
	}
	if b.DefaultMemberPermissions.has() {
		v := fmt.Sprint(uint64(b.DefaultMemberPermissions.V))
		c.DefaultMemberPermissions = &v
	}
	if b.DMPermission.has() {
		v := b.DMPermission.V
		c.DMPermission = &v
	}
	keep := func(raw json.RawMessage) json.RawMessage {
		if len(raw) == 0 || string(raw) == "null" {
			return nil
		}
		return append(json.RawMessage{}, raw...)
	}
	c.NameLocalizations = keep(b.NameLocalizations)
	c.DescriptionLocalizations = keep(b.DescriptionLocalizations)
	c.Contexts = keep(b.Contexts)
	c.IntegrationTypes = keep(b.IntegrationTypes)
	return c
}

// dropNulls removes null members from every object in a decoded JSON value.
func dropNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if x == nil {
				delete(v, k)
				continue
			}
			v[k] = dropNulls(x)
		}
	case []any:
		for i, x := range v {
			v[i] = dropNulls(x)
		}
	}
	return v
}

// sameCommand reports whether two commands have the same definition (ids and versions
// aside).
func sameCommand(a, b *Command) bool {
	x, y := *a, *b
	x.ID, x.Version, y.ID, y.Version = 0, 0, 0, 0
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

func copyCommand(c *Command) Command {
	out := *c
	clone := func(raw json.RawMessage) json.RawMessage {
		if raw == nil {
			return nil
		}
		return append(json.RawMessage{}, raw...)
	}
	out.Options = clone(c.Options)
	out.Contexts = clone(c.Contexts)
	out.NameLocalizations = clone(c.NameLocalizations)
	out.DescriptionLocalizations = clone(c.DescriptionLocalizations)
	out.IntegrationTypes = clone(c.IntegrationTypes)
	if c.DefaultMemberPermissions != nil {
		v := *c.DefaultMemberPermissions
		out.DefaultMemberPermissions = &v
	}
	if c.DMPermission != nil {
		v := *c.DMPermission
		out.DMPermission = &v
	}
	return out
}

// checkCommands applies Discord's rules for a bulk overwrite: names, descriptions, option
// counts and nesting, unique names per type, and the number of commands of each type.
func checkCommands(cmds []commandBody) *apiError {
	counts := map[int]int{}
	seen := map[string]bool{}
	for i, c := range cmds {
		at := func(field string) string { return fmt.Sprintf("%d.%s", i, field) }
		typ := commandChatInput
		if c.Type.has() {
			typ = c.Type.V
		}
		switch typ {
		case commandChatInput, commandEntry:
			if !commandName.MatchString(c.Name) || strings.ToLower(c.Name) != c.Name {
				return invalidForm(at("name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
			}
			if n := runeLen(c.Description.V); n < 1 || n > 100 {
				return invalidForm(at("description"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
			}
		case commandUser, commandMessage:
			if n := runeLen(c.Name); n < 1 || n > 32 {
				return invalidForm(at("name"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
			}
			if c.Description.V != "" {
				return invalidForm(at("description"), "APPLICATION_COMMAND_DESCRIPTION_NOT_ALLOWED", "Description must be empty for this command type.")
			}
			if len(c.Options) > 0 {
				return invalidForm(at("options"), "APPLICATION_COMMAND_OPTIONS_NOT_ALLOWED", "Options are only allowed for chat input commands.")
			}
		default:
			return invalidForm(at("type"), "BASE_TYPE_CHOICES", "Value must be one of "+quoteList(1, 2, 3, 4)+".")
		}
		key := fmt.Sprint(typ, "/", c.Name)
		if seen[key] {
			return invalidForm(at("name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique")
		}
		seen[key] = true
		counts[typ]++
		if e := checkOptions(at("options"), c.Options, 0); e != nil {
			return e
		}
	}
	if counts[commandChatInput] > 100 || counts[commandUser] > 15 || counts[commandMessage] > 15 {
		return apiErr(http.StatusBadRequest, codeMaxApplicationCmds, "Maximum number of application commands reached")
	}
	return nil
}

// checkOptions checks a level of options: at most 25, names and descriptions like
// commands, required before optional, at most 25 choices, and subcommands nested at most
// two deep.
func checkOptions(path string, opts []commandOption, depth int) *apiError {
	if len(opts) > 25 {
		return invalidForm(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
	}
	optional := false
	names := map[string]bool{}
	for i, o := range opts {
		at := func(field string) string { return fmt.Sprintf("%s.%d.%s", path, i, field) }
		if !commandName.MatchString(o.Name) || strings.ToLower(o.Name) != o.Name {
			return invalidForm(at("name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
		}
		if names[o.Name] {
			return invalidForm(at("name"), "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique")
		}
		names[o.Name] = true
		if n := runeLen(o.Description); n < 1 || n > 100 {
			return invalidForm(at("description"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
		}
		if o.Type < 1 || o.Type > 11 {
			return invalidForm(at("type"), "BASE_TYPE_CHOICES", "Value must be one of "+quoteList(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)+".")
		}
		if len(o.Choices) > 25 {
			return invalidForm(at("choices"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
		}
		if o.Required && optional {
			return invalidForm(at("required"), "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID", "Required options must be placed before non-required options")
		}
		optional = optional || !o.Required
		if o.Type == optionSubcommand || o.Type == optionSubcommandGroup {
			if depth >= 2 || (o.Type == optionSubcommandGroup && depth >= 1) {
				return invalidForm(at("type"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Subcommands nest at most two levels deep")
			}
			if e := checkOptions(at("options"), o.Options, depth+1); e != nil {
				return e
			}
		}
	}
	return nil
}
