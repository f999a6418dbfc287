package tools

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/commands"
)

const someUser = "700000000000000203"

func TestCasesRouting(t *testing.T) {
	t.Parallel()
	specs := []*commands.Spec{casesSpec().Link()}
	for _, tc := range []struct {
		in      string
		command string
		values  map[string]any
		problem string // a usage error containing this
	}{
		{in: "$cases", command: "cases list", values: map[string]any{}},
		{in: "$case 12", command: "cases view", values: map[string]any{"number": int64(12)}},
		{in: "$c 10000000", command: "cases view", values: map[string]any{"number": int64(10000000)}},
		{in: "$cases <@" + someUser + ">", command: "cases list", values: map[string]any{"user": int64(700000000000000203)}},
		{in: "$cases <@!" + someUser + "> -type warn", command: "cases list", values: map[string]any{"user": int64(700000000000000203), "type": "WARN"}},
		{in: "$cases " + someUser, command: "cases list", values: map[string]any{"user": int64(700000000000000203)}},
		{in: "$cases -status voided -page 3", command: "cases list", values: map[string]any{"status": "voided", "page": int64(3)}},
		{in: "$cases list -mod <@" + someUser + "> -type BAN -s active", command: "cases list",
			values: map[string]any{"moderator": int64(700000000000000203), "type": "BAN", "status": "active"}},
		{in: "$cases ls <@" + someUser + ">", command: "cases list", values: map[string]any{"user": int64(700000000000000203)}},
		{in: "$cases search spam links -u <@" + someUser + ">", command: "cases search", values: map[string]any{"text": "spam links", "user": int64(700000000000000203)}},
		{in: "$cases find spam", command: "cases search", values: map[string]any{"text": "spam"}},
		{in: "$cases v 5", command: "cases view", values: map[string]any{"number": int64(5)}},
		{in: "$cases show 5", command: "cases view", values: map[string]any{"number": int64(5)}},
		{in: "$cases modify 3 -reason spam in #general -status voided", command: "cases modify",
			values: map[string]any{"number": int64(3), "reason": "spam in #general", "status": "voided"}},
		{in: "$cases edit 3 -s active", command: "cases modify", values: map[string]any{"number": int64(3), "status": "active"}},
		{in: "$cases m 3", command: "cases modify", values: map[string]any{"number": int64(3)}},

		{in: "$cases 10000001", problem: "neither a case number"},
		{in: "$cases 0", problem: "neither a case number"},
		{in: "$cases foo", problem: "could not find case number or user"},
		{in: "$cases view", problem: "needs number"},
		{in: "$cases view 0", problem: "from 1 to 10000000"},
		{in: "$cases list -type frob", problem: "one of BAN"},
		{in: "$cases list -status inactive", problem: "one of pending, active, voided"},
		{in: "$cases modify 3 -status pending", problem: "one of active, voided"},
		{in: "$cases modify 3 -reason " + strings.Repeat("x", 2001), problem: "2001 characters"},
		{in: "$cases modify -reason x", problem: "number"},
	} {
		t.Run(tc.in[:min(len(tc.in), 40)], func(t *testing.T) {
			args, ok, err := commands.ParsePrefix(specs, "$", tc.in)
			if !ok {
				t.Fatal("not recognised as the cases command")
			}
			if tc.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problem) {
					t.Fatalf("err = %v; want a usage error containing %q", err, tc.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if args.Command() != tc.command {
				t.Errorf("command = %q; want %q", args.Command(), tc.command)
			}
			if diff := cmp.Diff(tc.values, args.Values); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCasesSlashAgreesWithPrefix(t *testing.T) {
	t.Parallel()
	specs := []*commands.Spec{casesSpec().Link()}
	slash, err := commands.FromSlash(specs, []string{"cases", "list"},
		map[string]any{"user": someUser, "type": "warn", "status": "active", "page": float64(2)})
	if err != nil {
		t.Fatal(err)
	}
	prefix, _, err := commands.ParsePrefix(specs, "$", "$cases list <@"+someUser+"> -type warn -status active -page 2")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(prefix.Values, slash.Values); diff != "" {
		t.Errorf("slash and prefix differ (-prefix +slash):\n%s", diff)
	}
	def := casesSpec().Link().SlashDefinition()
	b, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name":"list"`, `"name":"view"`, `"name":"modify"`, `"max_length":2000`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("slash definition lacks %s: %s", want, b)
		}
	}
}

func TestListIDRoundTrip(t *testing.T) {
	t.Parallel()
	for _, q := range []listQuery{
		{Page: 1},
		{Page: 2, UserID: 700000000000000203},
		{Page: maxListPage, UserID: 9223372036854775807, ModeratorID: 9223372036854775807, Type: cases.Snippetunban, Status: cases.Pending},
		{Page: 7, ModeratorID: 5, Status: cases.Voided},
		{Page: 3, Words: []string{"spam", "links"}},
		{Page: 1, UserID: 700000000000000203, Words: []string{"é1"}},
	} {
		for _, button := range []byte{buttonFirst, buttonPrev, buttonNext, buttonLast} {
			id := q.customID(button)
			if len(id) > 100 {
				t.Errorf("custom id %q is %d characters; Discord takes 100", id, len(id))
			}
			got, b, err := parseListID(id)
			if err != nil {
				t.Fatalf("parseListID(%q): %v", id, err)
			}
			if !reflect.DeepEqual(got, q) || b != button {
				t.Errorf("parseListID(%q) = %+v, %c; want %+v, %c", id, got, b, q, button)
			}
		}
	}
	for _, bad := range []string{"", "cases:", "cases:x:1:::::", "cases:n:0::::", "cases:n:1:::WARN", "cases:n:01::::",
		"cases:n:1:-5:::", "cases:n:1:::warn:", "cases:n:1::::Active", "cases:n:1:::::", "purge:n:1::::",
		fmt.Sprintf("cases:n:%d::::", maxListPage+1), "cases:n:1:007::::", "cases:n:1:::::", "cases:n:1:::::a b", "cases:n:1:::::a++b",
		"cases:n:1:::::+a", "cases:n:1:::::a:b"} {
		if q, _, err := parseListID(bad); err == nil {
			t.Errorf("parseListID(%q) = %+v; want an error", bad, q)
		}
	}
}

func FuzzParseListID(f *testing.F) {
	f.Add("cases:n:2:700000000000000203::WARN:active")
	f.Add("cases:l:1000000:1:2:SNIPPETUNBAN:pending")
	f.Add("cases:f:1::::")
	f.Add("cases:p:1:::ban:")
	f.Fuzz(func(t *testing.T, s string) {
		q, button, err := parseListID(s)
		if err != nil {
			return
		}
		// Whatever is accepted is exactly what the encoder writes, and stays in bounds.
		if again := q.customID(button); again != s {
			t.Fatalf("parseListID(%q) = %+v, re-encoded as %q", s, q, again)
		}
		if q.Page < 1 || q.Page > maxListPage || q.UserID < 0 || q.ModeratorID < 0 || len(s) > 100 {
			t.Fatalf("parseListID(%q) accepted %+v", s, q)
		}
	})
}

type button struct {
	Label    string `json:"label"`
	CustomID string `json:"custom_id"`
	Disabled bool   `json:"disabled"`
}

func buttonsOf(t *testing.T, raw json.RawMessage) []button {
	t.Helper()
	var rows []struct {
		Components []button `json:"components"`
	}
	if err := json.Unmarshal(raw, &rows); err != nil {
		t.Fatalf("components %s: %v", raw, err)
	}
	if len(rows) != 1 {
		t.Fatalf("components %s: want one row", raw)
	}
	return rows[0].Components
}

func TestListButtons(t *testing.T) {
	t.Parallel()
	if got := listButtons(listQuery{Page: 1}, 1); got != nil {
		t.Errorf("one page has buttons: %s", got)
	}
	if got := listButtons(listQuery{Page: 1}, 0); got != nil {
		t.Errorf("no page has buttons: %s", got)
	}
	q := listQuery{UserID: 700000000000000203, Type: cases.Warn}
	for _, tc := range []struct {
		page, pages int
		wantPages   [4]int
		disabled    [4]bool
	}{
		{1, 3, [4]int{1, 1, 2, 3}, [4]bool{true, true, false, false}},
		{2, 3, [4]int{1, 1, 3, 3}, [4]bool{false, false, false, false}},
		{3, 3, [4]int{1, 2, 3, 3}, [4]bool{false, false, true, true}},
		{2, 2, [4]int{1, 1, 2, 2}, [4]bool{false, false, true, true}},
	} {
		q.Page = tc.page
		bs := buttonsOf(t, listButtons(q, tc.pages))
		if len(bs) != 4 {
			t.Fatalf("page %d of %d: %d buttons; want first, previous, next, last", tc.page, tc.pages, len(bs))
		}
		seen := map[string]bool{}
		for i, b := range bs {
			got, _, err := parseListID(b.CustomID)
			if err != nil {
				t.Fatalf("button %q: %v", b.CustomID, err)
			}
			want := q
			want.Page = tc.wantPages[i]
			if !reflect.DeepEqual(got, want) || b.Disabled != tc.disabled[i] {
				t.Errorf("page %d of %d, %s: leads to %+v (disabled %t); want %+v (disabled %t)", tc.page, tc.pages, b.Label, got, b.Disabled, want, tc.disabled[i])
			}
			if seen[b.CustomID] {
				t.Errorf("custom id %q used twice in one message", b.CustomID)
			}
			seen[b.CustomID] = true
		}
	}
}

func TestListTitle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		q    listQuery
		want string
	}{
		{listQuery{Page: 1}, "Cases (23)"},
		{listQuery{Page: 1, UserID: 1}, "Cases for target (23)"},
		{listQuery{Page: 1, UserID: 1, ModeratorID: 2, Type: cases.Warn, Status: cases.Active}, "Cases for target, by mod, type WARN, status active (23)"},
	} {
		if got := listTitle(tc.q, "target", "mod", 23); got != tc.want {
			t.Errorf("listTitle(%+v) = %q; want %q", tc.q, got, tc.want)
		}
	}
}

func TestCaseEmbedFitsDiscordLimits(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	c := cases.Case{ID: 9, Number: 12, Type: cases.Tempban, Status: cases.Active, Reason: strings.Repeat("r", cases.MaxReasonLength),
		UserID: 700000000000000203, ModeratorID: 700000000000000202, CreatedAt: at, ExpiresAt: at.Add(time.Hour), ModlogMessageID: 77}
	names := map[int64]string{int64(c.UserID): "target", int64(c.ModeratorID): "mod"}
	for _, n := range []int{0, 1, 10, 40, 500} {
		events := []cases.Event{{Kind: cases.EventCreated, ActorID: c.ModeratorID, New: "pending", At: at}}
		for i := 1; i < n; i++ {
			events = append(events, cases.Event{Kind: cases.EventReason, ActorID: c.ModeratorID,
				Old: strings.Repeat("o", 2000), New: fmt.Sprintf("reason %d %s", i, strings.Repeat("n", 2000)), At: at.Add(time.Duration(i) * time.Minute)})
		}
		e := caseEmbed(c, events, names, "https://discord.com/channels/1/2/77")
		if len(e.Fields) > embedMaxFields {
			t.Errorf("%d events: %d fields", n, len(e.Fields))
		}
		history := ""
		for _, f := range e.Fields {
			if runes(f.Value) > embedMaxFieldValue || runes(f.Name) > 256 {
				t.Errorf("%d events: field %q is %d characters", n, f.Name, runes(f.Value))
			}
			if strings.HasPrefix(f.Name, "History") {
				history += f.Value + "\n"
			}
		}
		if size := embedSize(e); size > embedMaxTotal {
			t.Errorf("%d events: the embed is %d characters", n, size)
		}
		if n > 0 && !strings.Contains(history, "**created**") && !strings.Contains(history, fmt.Sprintf("reason %d", n-1)) {
			t.Errorf("%d events: the newest event is not shown:\n%s", n, history)
		}
		if n == 500 && !strings.Contains(history, "older events not shown") {
			t.Errorf("500 events: no note that some are left out:\n%s", history)
		}
		if n == 10 && strings.Contains(history, "not shown") {
			t.Errorf("10 events: something was left out:\n%s", history)
		}
	}
}

func TestEventLine(t *testing.T) {
	t.Parallel()
	at := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		ev   cases.Event
		want string
	}{
		{cases.Event{Kind: cases.EventCreated, ActorID: 5, New: "pending", At: at}, "<t:1700000000:R> **created** by <@5>: “pending”"},
		{cases.Event{Kind: cases.EventStatus, ActorID: 5, Old: "active", New: "voided", Note: "appeal", At: at}, "<t:1700000000:R> **status** by <@5>: “active” → “voided” (appeal)"},
		{cases.Event{Kind: cases.EventExpiry, ActorID: 5, New: "2026-01-01T00:00:00Z", At: at}, "<t:1700000000:R> **expiry** by <@5>: none → “2026-01-01T00:00:00Z”"},
	} {
		if got := eventLine(tc.ev); got != tc.want {
			t.Errorf("eventLine(%+v) = %q; want %q", tc.ev, got, tc.want)
		}
	}
}

// The case view's footer names the case by its number, not the row id; names are escaped.
func TestCaseEmbedFooterAndNames(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	c := cases.Case{ID: 120, Number: 1, Type: cases.Warn, Status: cases.Active, Reason: "r", UserID: 700000000000000203, ModeratorID: 700000000000000202, CreatedAt: at}
	e := caseEmbed(c, nil, map[int64]string{int64(c.UserID): "__init__", int64(c.ModeratorID): "mod"}, "")
	if e.Footer == nil || e.Footer.Text != "Case #1" {
		t.Errorf("footer %+v; want Case #1", e.Footer)
	}
	for _, f := range e.Fields {
		if f.Name == "User" && !strings.Contains(f.Value, `\_\_init\_\_`) {
			t.Errorf("User field %q does not escape the name", f.Value)
		}
	}
}
