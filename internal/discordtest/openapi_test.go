package discordtest

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestSpecErrataStillApply: each correction names a node the spec has, so a newer spec that
// moves or fixes one is noticed here rather than silently validating less.
func TestSpecErrataStillApply(t *testing.T) {
	t.Parallel()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(openAPISpec))
	if err != nil {
		t.Fatal(err)
	}
	for _, pointer := range specErrata {
		keys := splitPointer(pointer)
		node, ok := lookup(doc, keys...).(map[string]any)
		if !ok {
			t.Errorf("erratum %s: no such node in the spec", pointer)
			continue
		}
		if typ, _ := json.Marshal(node["type"]); !bytes.Contains(typ, []byte(`"integer"`)) || bytes.Contains(typ, []byte(`"string"`)) {
			t.Errorf("erratum %s: the spec now types it %s; the correction may be obsolete", pointer, typ)
		}
	}
}

func splitPointer(p string) []string {
	var keys []string
	for _, k := range bytes.Split([]byte(p[1:]), []byte("/")) {
		k = bytes.ReplaceAll(bytes.ReplaceAll(k, []byte("~1"), []byte("/")), []byte("~0"), []byte("~"))
		keys = append(keys, string(k))
	}
	return keys
}

// TestFormErrorsNestLikeDiscord: validation failures become Discord's 50035 tree, with array
// indexes as keys and every failing field listed.
func TestFormErrorsNestLikeDiscord(t *testing.T) {
	t.Parallel()
	if err := discordSpec.load(); err != nil {
		t.Fatal(err)
	}
	op := discordSpec.ops["POST /guilds/{guild_id}/auto-moderation/rules"]
	schema, err := discordSpec.schema(op.pointer + "/requestBody/content/application~1json/schema")
	if err != nil {
		t.Fatal(err)
	}
	inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(
		`{"event_type":1,"trigger_type":1,"trigger_metadata":{"keyword_filter":["ok","` + string(bytes.Repeat([]byte("k"), 61)) + `"]},"actions":[{"type":1}]}`)))
	e := formErrors(validate(schema, inst))
	var got map[string]any
	if err := json.Unmarshal(e.Errors, &got); err != nil {
		t.Fatal(err)
	}
	want := `{"name":{"_errors":[{"code":"BASE_TYPE_REQUIRED","message":"This field is required"}]},` +
		`"trigger_metadata":{"keyword_filter":{"1":{"_errors":[{"code":"BASE_TYPE_MAX_LENGTH","message":"Must be 60 or fewer in length."}]}}}}`
	var wantTree map[string]any
	_ = json.Unmarshal([]byte(want), &wantTree)
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(wantTree)
	if !bytes.Equal(gotJSON, wantJSON) || e.Code != 50035 || e.Status != 400 {
		t.Fatalf("form errors = %d %d %s\nwant %s", e.Status, e.Code, gotJSON, wantJSON)
	}
}
