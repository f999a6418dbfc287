package discordtest

import (
	"bytes"
	_ "embed" // Discord's OpenAPI spec
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// Validation against Discord's OpenAPI 3.1 spec (testdata/openapi.json, MIT, Copyright 2023
// Discord Inc.; see testdata/LICENSE-openapi). Every request body a client sends is checked
// against its operation's requestBody schema: a mismatch is a protocol violation, reported
// through s.report, and refused with Discord's 400 50035 Invalid Form Body, as Discord
// refuses it. Every body a handler returns is checked against the operation's response
// schema for its status, so the fake cannot drift from what real clients decode.
//
// OpenAPI 3.1 schemas are JSON Schema 2020-12, so the whole document is one schema resource
// and each operation's schema is compiled by its JSON pointer. Formats ("snowflake",
// "int64", "date-time", …) are annotations only, as the 2020-12 default has it: the spec's
// snowflakes are already constrained by a pattern, and the handlers check timestamps.

//go:embed testdata/openapi.json
var openAPISpec []byte

// specURL names the spec as a schema resource.
const specURL = "file:///discord/openapi.json"

// discordSpec is the parsed spec with its compiled schemas. It is shared by every Server in
// the process: the document is constant (embedded) and parsing it takes a quarter of a
// second, compiling an operation tens of milliseconds, which tests that each start their own
// server should not pay again. It is the package's one piece of shared state, a memo of
// constant data, and behaves the same whichever server fills it.
var discordSpec = &spec{}

type spec struct {
	once sync.Once
	err  error
	ops  map[string]*operation // by "METHOD /path"

	mu       sync.Mutex // guards compiler and schemas; compiling is not concurrency-safe
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
}

// operation is one method of one path of the spec.
type operation struct {
	id        string
	pointer   string // JSON pointer of the operation object
	request   bool   // has an application/json request body
	responses map[int]bool
}

// load parses the spec and indexes its operations, once.
func (sp *spec) load() error {
	sp.once.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(openAPISpec))
		if err != nil {
			sp.err = fmt.Errorf("parse the OpenAPI spec: %w", err)
			return
		}
		applyErrata(doc)
		sp.ops = indexOperations(doc)
		sp.compiler = jsonschema.NewCompiler()
		sp.compiler.DefaultDraft(jsonschema.Draft2020)
		if err := sp.compiler.AddResource(specURL, doc); err != nil {
			sp.err = fmt.Errorf("add the OpenAPI spec: %w", err)
			return
		}
		sp.schemas = map[string]*jsonschema.Schema{}
	})
	return sp.err
}

func indexOperations(doc any) map[string]*operation {
	ops := map[string]*operation{}
	paths, _ := lookup(doc, "paths").(map[string]any)
	for path, item := range paths {
		methods, _ := item.(map[string]any)
		for method, raw := range methods {
			o, ok := raw.(map[string]any)
			if !ok || method == "parameters" {
				continue
			}
			op := &operation{pointer: "/paths/" + escapePointer(path) + "/" + method, responses: map[int]bool{}}
			op.id, _ = o["operationId"].(string)
			op.request = lookup(o, "requestBody", "content", "application/json", "schema") != nil
			if resps, ok := o["responses"].(map[string]any); ok {
				for code := range resps {
					if n, err := strconv.Atoi(code); err == nil && lookup(resps, code, "content", "application/json", "schema") != nil {
						op.responses[n] = true
					}
				}
			}
			ops[strings.ToUpper(method)+" "+path] = op
		}
	}
	return ops
}

// schema compiles (once) and returns the schema at a pointer into the spec.
func (sp *spec) schema(pointer string) (*jsonschema.Schema, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if s, ok := sp.schemas[pointer]; ok {
		return s, nil
	}
	s, err := sp.compiler.Compile(specURL + "#" + pointer)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", pointer, err)
	}
	sp.schemas[pointer] = s
	return s, nil
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// lookup walks a parsed JSON document by keys; nil when a key is missing.
func lookup(doc any, keys ...string) any {
	for _, k := range keys {
		m, ok := doc.(map[string]any)
		if !ok {
			return nil
		}
		doc = m[k]
	}
	return doc
}

// specErrata are the places where Discord's spec refuses what Discord itself accepts and
// clients send; applyErrata replaces each schema node, found by JSON pointer, in memory.
//
// All are permission bit sets: permissions.mdx says they are serialised as strings, because they
// outgrow 53-bit integers, and disgo (like every major library) sends "1024"; the spec types
// these request fields as integers only.
var specErrata = [...]string{
	"/paths/~1channels~1{channel_id}~1permissions~1{overwrite_id}/put/requestBody/content/application~1json/schema/properties/allow",
	"/paths/~1channels~1{channel_id}~1permissions~1{overwrite_id}/put/requestBody/content/application~1json/schema/properties/deny",
	"/components/schemas/ApplicationCommandCreateRequest/properties/default_member_permissions",
	"/components/schemas/ApplicationCommandUpdateRequest/properties/default_member_permissions",
	"/components/schemas/ApplicationCommandPatchRequestPartial/properties/default_member_permissions",
}

// permissionBits accepts a permission bit set as Discord does: a decimal string or an
// integer, or null.
func permissionBits() map[string]any {
	return map[string]any{"anyOf": []any{
		map[string]any{"type": "string", "pattern": "^[0-9]{1,20}$"},
		map[string]any{"type": "integer", "minimum": json.Number("0")},
		map[string]any{"type": "null"},
	}}
}

func applyErrata(doc any) {
	for _, pointer := range specErrata {
		keys := strings.Split(strings.TrimPrefix(pointer, "/"), "/")
		for i, k := range keys {
			keys[i] = strings.ReplaceAll(strings.ReplaceAll(k, "~1", "/"), "~0", "~")
		}
		parent, ok := lookup(doc, keys[:len(keys)-1]...).(map[string]any)
		last := keys[len(keys)-1]
		if !ok || parent[last] == nil {
			// A newer spec may have fixed or moved the node; nothing to correct.
			continue
		}
		parent[last] = permissionBits()
	}
}

type validator struct {
	s   *Server
	off atomic.Bool
}

func newValidator(s *Server) *validator { return &validator{s: s} }

// WithoutSpecValidation stops the fake checking request and response bodies against
// Discord's OpenAPI spec, which is most of what it spends per call. For benchmarks, where
// the fake should answer as fast as it can; tests keep validation on, since it is how a
// malformed request fails them. The handlers still refuse what they cannot decode.
func WithoutSpecValidation() Option {
	return func(c *config) {
		c.settings = append(c.settings, func(s *Server) { s.ext.spec.off.Store(true) })
	}
}

// operation finds a route's operation, or nil for routes the spec does not have.
func (v *validator) operation(route string) *operation {
	if err := discordSpec.load(); err != nil {
		v.s.report("%s: %v", route, err)
		return nil
	}
	return discordSpec.ops[route]
}

func (v *validator) checkRequest(r *Request) *apiError {
	if v.off.Load() {
		return nil
	}
	op := v.operation(r.Route)
	if op == nil || !op.request {
		return nil
	}
	body, ok := jsonBody(r)
	if !ok {
		v.s.report("%s (%s): request body: Content-Type %q is neither JSON nor multipart with payload_json", r.Route, op.id, r.HTTP.Header.Get("Content-Type"))
		return errContentType
	}
	// An absent body is how clients send "no parameters" (disgo sends none to unban), and
	// Discord accepts it; the handlers treat it as {}.
	if len(body) == 0 {
		return nil
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		v.s.report("%s (%s): request body: invalid JSON: %v", r.Route, op.id, err)
		return apiErr(http.StatusBadRequest, codeInvalidJSON, "The request body contains invalid JSON.")
	}
	schema, err := discordSpec.schema(op.pointer + "/requestBody/content/application~1json/schema")
	if err != nil {
		v.s.report("%s (%s): %v", r.Route, op.id, err)
		return nil
	}
	leaves := validate(schema, inst)
	if len(leaves) == 0 {
		return nil
	}
	v.s.report("%s (%s): request body: %s", r.Route, op.id, describe(leaves))
	return formErrors(leaves)
}

func (v *validator) checkResponse(r *Request, resp Response) {
	if v.off.Load() {
		return
	}
	op := v.operation(r.Route)
	if op == nil {
		return
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	if resp.Body == nil {
		return
	}
	if !op.responses[status] {
		v.s.report("%s (%s): response: the spec has no JSON body for status %d", r.Route, op.id, status)
		return
	}
	raw, err := json.Marshal(resp.Body)
	if err != nil {
		v.s.report("%s (%s): response body: %v", r.Route, op.id, err)
		return
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		v.s.report("%s (%s): response body: %v", r.Route, op.id, err)
		return
	}
	schema, err := discordSpec.schema(fmt.Sprintf("%s/responses/%d/content/application~1json/schema", op.pointer, status))
	if err != nil {
		v.s.report("%s (%s): %v", r.Route, op.id, err)
		return
	}
	if leaves := validate(schema, inst); len(leaves) > 0 {
		v.s.report("%s (%s): response body: %s", r.Route, op.id, describe(leaves))
	}
}

// validate returns the errors that explain why inst does not match, or none.
func validate(schema *jsonschema.Schema, inst any) []*jsonschema.ValidationError {
	err := schema.Validate(inst)
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []*jsonschema.ValidationError{{ErrorKind: &kind.Group{}}}
	}
	return leavesOf(ve)
}

// leavesOf flattens a validation error into the failures that explain it. For oneOf and
// anyOf, only the branch that came closest counts (fewest failures, then fewest that are
// mere type or const mismatches): a keyword rule with a bad regex should be reported as a
// bad regex, not as "trigger_type must be 3" from the spam-rule branch.
func leavesOf(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	switch k := e.ErrorKind.(type) {
	case *kind.OneOf:
		if len(k.Subschemas) > 0 {
			// Several branches matched: the spec's union is ambiguous, the value is fine.
			return nil
		}
		return closestBranch(e)
	case *kind.AnyOf:
		return closestBranch(e)
	}
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leavesOf(c)...)
	}
	return out
}

func closestBranch(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if choices := constChoices(e); choices != nil {
		return choices
	}
	var best []*jsonschema.ValidationError
	bestScore := [2]int{1 << 30, 1 << 30}
	for _, c := range e.Causes {
		l := leavesOf(c)
		if len(l) == 0 {
			continue
		}
		weak := 0
		for _, x := range l {
			switch k := x.ErrorKind.(type) {
			case *kind.Type:
				weak++
				// "want null" is the optional half of a nullable union, never the point.
				if len(k.Want) == 1 && k.Want[0] == "null" {
					weak++
				}
			case *kind.Const, *kind.Enum:
				weak++
			}
		}
		if score := [2]int{len(l), weak}; score[0] < bestScore[0] || (score[0] == bestScore[0] && score[1] < bestScore[1]) {
			best, bestScore = l, score
		}
	}
	if best == nil {
		return []*jsonschema.ValidationError{e}
	}
	return best
}

// constChoices merges a union of constants (an enum spelled as oneOf const) that a value
// missed into one "must be one of" failure; nil when e is not such a union.
func constChoices(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	var want []any
	var got any
	var at []string
	for _, c := range e.Causes {
		l := leavesOf(c)
		if len(l) != 1 {
			return nil
		}
		k, ok := l[0].ErrorKind.(*kind.Const)
		if !ok {
			return nil
		}
		want, got, at = append(want, k.Want), k.Got, l[0].InstanceLocation
	}
	if len(want) == 0 {
		return nil
	}
	return []*jsonschema.ValidationError{{InstanceLocation: at, ErrorKind: &kind.Enum{Got: got, Want: want}}}
}

// describe renders failures for a report: "at '/delete_message_seconds': maximum: …".
func describe(leaves []*jsonschema.ValidationError) string {
	parts := make([]string, len(leaves))
	for i, l := range leaves {
		parts[i] = (&jsonschema.ValidationError{InstanceLocation: l.InstanceLocation, ErrorKind: l.ErrorKind}).Error()
	}
	return strings.Join(parts, "; ")
}

// formErrors turns failures into Discord's 50035 body: a tree of the fields with an
// "_errors" list at each failing one.
func formErrors(leaves []*jsonschema.ValidationError) *apiError {
	tree := map[string]any{}
	add := func(path []string, code, message string) {
		node := tree
		for _, p := range path {
			next, ok := node[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[p] = next
			}
			node = next
		}
		errs, _ := node["_errors"].([]map[string]string)
		node["_errors"] = append(errs, map[string]string{"code": code, "message": message})
	}
	for _, l := range leaves {
		path := l.InstanceLocation
		switch k := l.ErrorKind.(type) {
		case *kind.Required:
			for _, m := range k.Missing {
				add(append(append([]string{}, path...), m), "BASE_TYPE_REQUIRED", "This field is required")
			}
		default:
			code, message := discordError(l.ErrorKind)
			add(path, code, message)
		}
	}
	b, _ := json.Marshal(tree)
	return &apiError{Status: http.StatusBadRequest, Message: "Invalid Form Body", Code: 50035, Errors: b}
}

// discordError words a failure as Discord's form errors do.
func discordError(k jsonschema.ErrorKind) (code, message string) {
	switch k := k.(type) {
	case *kind.Maximum:
		return "NUMBER_TYPE_MAX", fmt.Sprintf("int value should be less than or equal to %s.", k.Want.RatString())
	case *kind.Minimum:
		return "NUMBER_TYPE_MIN", fmt.Sprintf("int value should be greater than or equal to %s.", k.Want.RatString())
	case *kind.MaxLength:
		return "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", k.Want)
	case *kind.MinLength:
		return "BASE_TYPE_MIN_LENGTH", fmt.Sprintf("Must be %d or more in length.", k.Want)
	case *kind.MaxItems:
		return "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", k.Want)
	case *kind.MinItems:
		return "BASE_TYPE_MIN_LENGTH", fmt.Sprintf("Must be %d or more in length.", k.Want)
	case *kind.Pattern:
		return "NUMBER_TYPE_COERCE", fmt.Sprintf("Value %q is not snowflake.", k.Got)
	case *kind.Enum:
		return "BASE_TYPE_CHOICES", "Value must be one of " + choiceList(k.Want) + "."
	case *kind.Const:
		return "BASE_TYPE_CHOICES", "Value must be one of " + choiceList([]any{k.Want}) + "."
	case *kind.UniqueItems:
		return "BASE_TYPE_DUPLICATES", "Duplicate values are not allowed."
	case *kind.Type:
		want := append([]string{}, k.Want...)
		sort.Strings(want)
		switch {
		case contains(want, "integer") || contains(want, "number"):
			return "NUMBER_TYPE_COERCE", fmt.Sprintf("Value of type %s is not int.", k.Got)
		case contains(want, "boolean"):
			return "BASE_TYPE_BOOLEAN", "Must be either true or false."
		case contains(want, "array"):
			return "BASE_TYPE_ARRAY", "Must be an array."
		case contains(want, "object"):
			return "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType"
		case contains(want, "string"):
			return "BASE_TYPE_STRING", "Must be a string."
		}
	}
	return "BASE_TYPE_INVALID", strings.TrimPrefix((&jsonschema.ValidationError{ErrorKind: k}).Error(), "at '': ")
}

// choiceList writes allowed values as Discord does: {1, 2, 3}.
func choiceList(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = fmt.Sprint(v)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
