package automod

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavelbot/gavel/internal/discord"
)

func keywords(kw []string, allow ...string) Rule {
	return Rule{ID: 1, Name: "words", EventType: EventMessageSend, TriggerType: TriggerKeyword, Enabled: true,
		TriggerMetadata: TriggerMetadata{KeywordFilter: kw, AllowList: allow},
		Actions:         []Action{{Type: ActionBlockMessage}}}
}

func mustCompile(t testing.TB, rules []Rule, opts ...Option) *Engine {
	t.Helper()
	e, err := Compile(rules, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// engines returns the engine built each way it can be: DFA, NFA, and with a naive matcher
// plugged into the multiMatcher seam.
func engines(t testing.TB, rules []Rule) map[string]*Engine {
	return map[string]*Engine{
		"dfa":   mustCompile(t, rules),
		"nfa":   mustCompile(t, rules, WithNFA()),
		"naive": mustCompile(t, rules, withMatcher(buildIndexMatcher)),
	}
}

// indexMatcher is a multiMatcher made of strings.Index loops: the seam's second
// implementation, proving the engine does not depend on the Aho-Corasick library.
type indexMatcher struct{ patterns []string }

func buildIndexMatcher(patterns []string) multiMatcher { return &indexMatcher{patterns: patterns} }

func (m *indexMatcher) find(text []byte, sink occurrenceSink) {
	s := string(text)
	for p, pat := range m.patterns {
		for from := 0; ; {
			i := strings.Index(s[from:], pat)
			if i < 0 {
				break
			}
			sink.occurrence(p, from+i, from+i+len(pat))
			from += i + 1
		}
	}
}

type vector struct {
	keyword, content string
	matched          string // the matched text; "" for no match
}

// TestKeywordMatchingStrategies holds every example of auto-moderation.mdx's "Keyword
// Matching Strategies" tables (the bold part is what matched), and the derived negative and
// edge vectors of discord-api-notes.md §4.2.
func TestKeywordMatchingStrategies(t *testing.T) {
	t.Parallel()
	vectors := []vector{
		// Prefix - word must start with the keyword.
		{"cat*", "catch", "cat"}, {"cat*", "Catapult", "Cat"}, {"cat*", "CAttLE", "CAt"},
		{"tra*", "train", "tra"}, {"tra*", "trade", "tra"}, {"tra*", "TRAditional", "TRA"},
		{"the mat*", "the matrix", "the mat"},
		// Suffix - word must end with the keyword.
		{"*cat", "wildcat", "cat"}, {"*cat", "copyCat", "Cat"},
		{"*tra", "extra", "tra"}, {"*tra", "ultra", "tra"}, {"*tra", "orchesTRA", "TRA"},
		{"*the mat", "breathe mat", "the mat"},
		// Anywhere.
		{"*cat*", "location", "cat"}, {"*cat*", "eduCation", "Cat"},
		{"*tra*", "abstracted", "tra"}, {"*tra*", "outrage", "tra"},
		{"*the mat*", "breathe matter", "the mat"},
		// Whole word.
		{"cat", "cat", "cat"}, {"train", "train", "train"}, {"the mat", "the mat", "the mat"},
		// §4.2: whole word, case-insensitive.
		{"cat", "the cat sat", "cat"}, {"cat", "CAT", "CAT"},
		{"cat", "catch", ""}, {"cat", "wildcat", ""}, {"cat", "location", ""},
		{"cat*", "cat", "cat"},
		{"cat*", "wildcat", ""}, {"cat*", "location", ""}, {"cat*", "bobcat", ""},
		{"*cat", "cat", "cat"},
		{"*cat", "catch", ""}, {"*cat", "location", ""},
		{"*cat*", "catch", "cat"}, {"*cat*", "wildcat", "cat"}, {"*cat*", "cat", "cat"},
		{"*cat*", "c a t", ""}, {"*cat*", "dog", ""},
		{"the mat", "the matrix", ""}, {"the mat*", "the matrix", "the mat"},
		// Boundaries at punctuation, digits and non-Latin letters.
		{"cat", "cat!", "cat"}, {"cat", "(cat)", "cat"}, {"cat", "\"cat\"", "cat"}, {"cat", "cat's", "cat"},
		{"cat", "cat-like", "cat"}, {"cat", "#cat", "cat"}, {"cat", "cat_", "cat"}, {"cat", "cat.", "cat"},
		{"cat", "cat1", ""}, {"cat", "1cat", ""}, {"cat*", "cats2", "cat"}, {"*cat", "2cat", "cat"},
		{"cat", "écat", ""}, {"cat", "catü", ""}, {"cat", "кот cat", "cat"}, {"cat", "котcat", ""},
		{"cat", "猫cat", ""}, {"cat", "cat\u0301", ""}, // a combining accent belongs to the word
		{"cat", "cat\u00a0!", "cat"}, {"cat", "cat\nx", "cat"}, {"cat", "x\tcat", "cat"},
		{"кот", "КОТ!", "КОТ"}, {"кот*", "котик", "кот"}, {"*ßen", "STRAßEN", "ßEN"},
		{"éa", "ÉA", "ÉA"}, {"日本", "日本語", ""}, {"*日本*", "日本語", "日本"},
		// Case mapping that changes the encoded length: the match is reported in the
		// original text. (The Kelvin sign lowercases to k.)
		{"kat", "\u212Aat", "\u212Aat"}, {"kat", "\u212A\u212A \u212AAT", "\u212AAT"},
		// Keywords with punctuation inside or at their ends.
		{"i like c++", "I like C++ a lot", "I like C++"}, {"c++", "c++x", ""}, {"c++", "c+++", "c++"},
		{"a.b", "xa.b", ""}, {"*a.b", "xa.b", "a.b"},
		// A * that is not at an end is a literal character.
		{"c*t", "cat", ""}, {"c*t", "c*t", "c*t"}, {"**cat**", "*cat*", "*cat*"},
		// Overlapping matches: the whole word is found although "catcat" overlaps it.
		{"cat", "catcat cat", "cat"}, {"cat", "catcatcat", ""}, {"*cat", "catcat", "cat"},
		{"cat*", "catcat", "cat"}, {"aa", "aaa aa", "aa"}, {"*aa*", "aaa", "aa"},
	}
	for _, v := range vectors {
		for name, e := range engines(t, []Rule{keywords([]string{v.keyword})}) {
			ms := e.Evaluate(Message{Content: v.content})
			got := ""
			if len(ms) == 1 {
				got = ms[0].MatchedContent
				if ms[0].Keyword != v.keyword || v.content[ms[0].Start:ms[0].End] != got {
					t.Errorf("%s: %q on %q: match %+v", name, v.keyword, v.content, ms[0])
				}
			}
			if len(ms) > 1 || got != v.matched {
				t.Errorf("%s: keyword %q on %q matched %q; want %q", name, v.keyword, v.content, got, v.matched)
			}
		}
	}
}

func TestMatchPosition(t *testing.T) {
	t.Parallel()
	e := mustCompile(t, []Rule{keywords([]string{"cat"})})
	ms := e.Evaluate(Message{Content: "catcat cat"})
	if len(ms) != 1 || ms[0].Start != 7 || ms[0].End != 10 {
		t.Fatalf("got %+v; want the whole word at [7, 10)", ms)
	}
	// The leftmost match wins, then the longest, then the first keyword.
	e = mustCompile(t, []Rule{keywords([]string{"*at*", "*cat*", "*cats*", "dog"})})
	ms = e.Evaluate(Message{Content: "dog cats"})
	if len(ms) != 1 || ms[0].Keyword != "dog" {
		t.Errorf("leftmost: got %+v", ms)
	}
	ms = e.Evaluate(Message{Content: "the cats"})
	if len(ms) != 1 || ms[0].Keyword != "*cats*" || ms[0].MatchedContent != "cats" {
		t.Errorf("longest: got %+v", ms)
	}
	e = mustCompile(t, []Rule{keywords([]string{"*cat*", "cat"})})
	if ms = e.Evaluate(Message{Content: "cat"}); len(ms) != 1 || ms[0].Keyword != "*cat*" {
		t.Errorf("first keyword: got %+v", ms)
	}
}

func TestAllowList(t *testing.T) {
	t.Parallel()
	cases := []struct {
		keyword string
		allow   []string
		content string
		matched string
	}{
		{"cat", []string{"cat"}, "cat", ""}, // discord-api-notes §4.2
		{"*cat*", []string{"category"}, "category", ""},
		{"*cat*", []string{"category"}, "category cat", "cat"},           // another match is not covered
		{"*cat*", []string{"category"}, "categoryx", "cat"},              // the allow entry is a whole word
		{"*cat*", []string{"categ*"}, "categoryx", ""},                   // with its own wildcards
		{"*cat*", []string{"*cat"}, "bobcat", ""},                        // suffix
		{"*cat*", []string{"*cat"}, "bobcats", "cat"},                    // not at the word's end
		{"cat*", []string{"cat"}, "cat catch", "cat"},                    // "catch" is not allowed
		{"the mat", []string{"mat"}, "the mat", "the mat"},               // it must cover the whole match
		{"*at*", []string{"*scat*"}, "scatter at", "at"},                 // overlaps: the covered one is allowed
		{"*at*", []string{"*scat*", "at"}, "scatter at", ""},             // both covered
		{"cat", []string{"CAT"}, "Cat", ""},                              // case-insensitive
		{"*cat*", []string{"*cat*"}, "concatenate cat", ""},              // allow anywhere
		{"*ana*", []string{"banana"}, "banana bananas", "ana"},           // "bananas" is not "banana"
		{"*ana*", []string{"banana*"}, "banana bananas", ""},             // but "banana*" is
		{"*ana*", []string{"banana"}, "banana, banana.", ""},             // punctuation separates words
		{"*ana*", []string{"nan"}, "banana", "ana"},                      // partial cover does not allow
		{"*ana*", []string{"*nan*"}, "banana", "ana"},                    // "ana" at 1 is not inside "nan" at 2
		{"*ana*", []string{"*anan*"}, "banana", "ana"},                   // ana at 3 is not covered by anan at 1
		{"*ana*", []string{"*banana*"}, "banana", ""},                    // every occurrence is covered
		{"*ana*", []string{"*banana*"}, "bananana", "ana"},               // ana at 5 is not
		{"cat", []string{"cat*"}, "cat", ""},                             // a prefix entry covers the whole word
		{"cat", []string{"*cat"}, "cat", ""},                             // so does a suffix entry
		{"cat", []string{"*at"}, "cat", "cat"},                           // "at" does not cover "cat"
		{"cat", []string{"at"}, "cat", "cat"},                            // a whole word "at" is not in "cat"
		{"i like c++", []string{"like c++"}, "i like c++", "i like c++"}, // covers only part
	}
	for _, c := range cases {
		for name, e := range engines(t, []Rule{keywords([]string{c.keyword}, c.allow...)}) {
			ms := e.Evaluate(Message{Content: c.content})
			got := ""
			if len(ms) == 1 {
				got = ms[0].MatchedContent
			}
			if got != c.matched {
				t.Errorf("%s: %q allow %q on %q matched %q; want %q", name, c.keyword, c.allow, c.content, got, c.matched)
			}
		}
	}
}

func TestRegexRules(t *testing.T) {
	t.Parallel()
	r := exampleRule()
	r.ExemptRoles, r.ExemptChannels = nil, nil
	e := mustCompile(t, []Rule{r})
	cases := map[string]string{
		"192.168.0.1":        "192.168.0.1", // ^…$ regex
		"I like C++ a lot":   "I like C++",
		"a bat":              "bat",
		"catapult":           "cat", // cat* at 0 beats (b|c)at at 0: same span, keywords first
		"hotdog":             "dog",
		"bananas":            "ana",
		"the dog is in CAPS": "dog",
		"nothing here":       "",
	}
	for content, want := range cases {
		ms := e.Evaluate(Message{Content: content})
		got := ""
		if len(ms) == 1 {
			got = ms[0].MatchedContent
		}
		if got != want {
			t.Errorf("%q: matched %q; want %q (%+v)", content, got, want, ms)
		}
	}
	ms := e.Evaluate(Message{Content: "a bat"})
	if len(ms) != 1 || ms[0].Regex != "(b|c)at" || ms[0].Keyword != "" || len(ms[0].Actions) != 3 {
		t.Errorf("regex match: %+v", ms)
	}
	// The allow list covers regex matches too, and a later regex match is then reported.
	e = mustCompile(t, []Rule{{ID: 2, Name: "re", EventType: EventMessageSend, TriggerType: TriggerKeyword, Enabled: true,
		TriggerMetadata: TriggerMetadata{RegexPatterns: []string{`\bb\w+`}, AllowList: []string{"bat"}},
		Actions:         []Action{{Type: ActionBlockMessage}}}})
	if ms := e.Evaluate(Message{Content: "bat"}); len(ms) != 0 {
		t.Errorf("allowed regex match reported: %+v", ms)
	}
	if ms := e.Evaluate(Message{Content: "bat bot"}); len(ms) != 1 || ms[0].MatchedContent != "bot" || ms[0].Start != 4 {
		t.Errorf("got %+v; want bot at 4", ms)
	}
	if ms := e.Evaluate(Message{Content: "ébat"}); len(ms) != 0 {
		t.Errorf("\\b is a Unicode word boundary: %+v", ms)
	}
}

func TestExemptionsAndDisabledRules(t *testing.T) {
	t.Parallel()
	const role, channel, category, thread = 11, 22, 33, 44
	r := keywords([]string{"cat"})
	r.ExemptRoles = []discord.RoleID{role}
	r.ExemptChannels = []discord.ChannelID{channel, category}
	disabled := keywords([]string{"cat"})
	disabled.ID, disabled.Enabled = 2, false
	e := mustCompile(t, []Rule{r, disabled})
	cases := []struct {
		name string
		msg  Message
		want int
	}{
		{"applies", Message{Content: "cat", AuthorRoles: []discord.RoleID{1, 2}, ChannelID: 5}, 1},
		{"exempt role", Message{Content: "cat", AuthorRoles: []discord.RoleID{1, role}, ChannelID: 5}, 0},
		{"exempt channel", Message{Content: "cat", ChannelID: channel}, 0},
		{"channel in an exempt category", Message{Content: "cat", ChannelID: 5, ParentChannelIDs: []discord.ChannelID{category}}, 0},
		{"thread of an exempt channel", Message{Content: "cat", ChannelID: thread, ParentChannelIDs: []discord.ChannelID{channel}}, 0},
		{"thread elsewhere", Message{Content: "cat", ChannelID: thread, ParentChannelIDs: []discord.ChannelID{6, 7}}, 1},
	}
	for _, c := range cases {
		if got := e.Evaluate(c.msg); len(got) != c.want {
			t.Errorf("%s: %d matches (%+v); want %d", c.name, len(got), got, c.want)
		}
	}
}

func TestMentionSpam(t *testing.T) {
	t.Parallel()
	rule := Rule{ID: 3, Name: "mentions", EventType: EventMessageSend, TriggerType: TriggerMentionSpam, Enabled: true,
		TriggerMetadata: TriggerMetadata{MentionTotalLimit: 3},
		Actions:         []Action{{Type: ActionTimeout, DurationSeconds: 60}}}
	e := mustCompile(t, []Rule{rule})
	cases := []struct {
		users, roles []int64
		fires        bool
		count        int
	}{
		{[]int64{1, 2, 3}, nil, false, 3},              // at the limit
		{[]int64{1, 2}, []int64{7, 8}, true, 4},        // users and roles count together
		{[]int64{1, 1, 1, 2}, []int64{7, 7}, false, 3}, // each id once
		{nil, []int64{7, 8, 9, 10}, true, 4},
		{[]int64{5}, []int64{5, 6, 7}, true, 4}, // a user and a role with the same id are two mentions
	}
	for _, c := range cases {
		ms := e.Evaluate(Message{Content: "hi", MentionedUsers: discord.IDs[discord.UserID](c.users), MentionedRoles: discord.IDs[discord.RoleID](c.roles)})
		if (len(ms) == 1) != c.fires || c.fires && (ms[0].MentionCount != c.count || ms[0].TriggerType != TriggerMentionSpam || ms[0].Actions[0].Type != ActionTimeout) {
			t.Errorf("users %v roles %v: %+v; want fires=%v with %d", c.users, c.roles, ms, c.fires, c.count)
		}
	}
	many := make([]int64, 100)
	for i := range many {
		many[i] = int64(i % 60)
	}
	if ms := e.Evaluate(Message{MentionedUsers: discord.IDs[discord.UserID](many)}); len(ms) != 1 || ms[0].MentionCount != 60 {
		t.Errorf("100 mentions of 60 users: %+v", ms)
	}
}

func TestMentionsIn(t *testing.T) {
	t.Parallel()
	users, roles := MentionsIn("hi <@1> <@!2> <@&3> <@> <@x> <@&> <#4> <@99999999999999999999> <@5 <@6>")
	if !cmp.Equal(users, []discord.UserID{1, 2, 6}) || !cmp.Equal(roles, []discord.RoleID{3}) {
		t.Errorf("users %v roles %v", users, roles)
	}
}

func TestMemberProfile(t *testing.T) {
	t.Parallel()
	profile := Rule{ID: 4, Name: "names", EventType: EventMemberUpdate, TriggerType: TriggerMemberProfile, Enabled: true,
		TriggerMetadata: TriggerMetadata{KeywordFilter: []string{"*nitro*", "admin"}, RegexPatterns: []string{`^\d+$`}, AllowList: []string{"nitrogen"}},
		Actions:         []Action{{Type: ActionBlockMemberInteraction}}, ExemptRoles: []discord.RoleID{9}}
	message := keywords([]string{"admin"})
	e := mustCompile(t, []Rule{message, profile})
	ms := e.EvaluateProfile(Profile{UserID: 1, Fields: []string{"nitrogen fan", "Free NITRO", "admin"}})
	if len(ms) != 1 || ms[0].RuleID != 4 || ms[0].Field != 1 || ms[0].MatchedContent != "NITRO" || ms[0].Keyword != "*nitro*" {
		t.Errorf("got %+v; want *nitro* in field 1", ms)
	}
	// A keyword never spans two fields.
	if ms := e.EvaluateProfile(Profile{Fields: []string{"ad", "min"}}); len(ms) != 0 {
		t.Errorf("matched across fields: %+v", ms)
	}
	if ms := e.EvaluateProfile(Profile{Fields: []string{"12345"}}); len(ms) != 1 || ms[0].Regex != `^\d+$` {
		t.Errorf("regex on a name: %+v", ms)
	}
	if ms := e.EvaluateProfile(Profile{Roles: []discord.RoleID{9}, Fields: []string{"admin"}}); len(ms) != 0 {
		t.Errorf("exempt role: %+v", ms)
	}
	// Profile rules do not look at messages, nor message rules at profiles.
	if ms := e.Evaluate(Message{Content: "free nitro admin"}); len(ms) != 1 || ms[0].RuleID != 1 {
		t.Errorf("message: %+v", ms)
	}
}

func TestUnevaluated(t *testing.T) {
	t.Parallel()
	rules := []Rule{
		{ID: 1, Name: "spam", EventType: EventMessageSend, TriggerType: TriggerSpam, Enabled: true},
		{ID: 2, Name: "presets", EventType: EventMessageSend, TriggerType: TriggerKeywordPreset, Enabled: true,
			TriggerMetadata: TriggerMetadata{Presets: AllPresets(), AllowList: []string{"x"}}},
		{ID: 3, Name: "raids", EventType: EventMessageSend, TriggerType: TriggerMentionSpam, Enabled: true,
			TriggerMetadata: TriggerMetadata{MentionTotalLimit: 5, MentionRaidProtectionEnabled: true}},
		{ID: 4, Name: "off", EventType: EventMessageSend, TriggerType: TriggerSpam},
		{ID: 5, Name: "future", EventType: EventMessageSend, TriggerType: 9, Enabled: true},
		keywords([]string{"cat"}),
	}
	e := mustCompile(t, rules)
	var got []int64
	for _, u := range e.Unevaluated() {
		got = append(got, u.RuleID)
		if u.Reason == "" || u.RuleName == "" {
			t.Errorf("no reason: %+v", u)
		}
	}
	if !cmp.Equal(got, []int64{1, 2, 3, 5}) {
		t.Errorf("unevaluated %v; want 1, 2, 3, 5", got)
	}
	// Preset and spam rules never match locally, whatever the text.
	if ms := e.Evaluate(Message{Content: "buy cheap followers now x"}); len(ms) != 0 {
		t.Errorf("got %+v", ms)
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	rules := []Rule{
		keywords([]string{"ok", "*", "**"}),
		{ID: 2, Name: "re", EventType: EventMessageSend, TriggerType: TriggerKeyword, TriggerMetadata: TriggerMetadata{RegexPatterns: []string{`[a&&b]`}, AllowList: []string{"*"}}},
	}
	_, err := Compile(rules)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v; want ErrInvalid", err)
	}
	for _, want := range []string{`"words"`, `keyword_filter[1]: "*" is only wildcards`, `keyword_filter[2]`, `"re"`, "regex_patterns[0]", "&&", "allow_list[0]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	// Beyond Discord's limits is fine for rules gavel enforces itself.
	big := keywords(many("word", 5000))
	big.TriggerMetadata.RegexPatterns = manyRegexes(20)
	if _, err := Compile([]Rule{big, big, big, big, big, big, big}); err != nil {
		t.Errorf("large rule set: %v", err)
	}
	// No rules at all.
	if ms := mustCompile(t, nil).Evaluate(Message{Content: "cat"}); ms != nil {
		t.Errorf("got %+v", ms)
	}
}

// TestEngineMatchesNaive is the differential test: random rule sets (every wildcard form,
// allow lists, a regex now and then) and random messages over a small alphabet, so that
// keywords overlap ("catcat cat") and sit next to punctuation, digits, non-Latin letters and
// characters whose lowercase has another length. The engine, built each way, must give
// exactly the naive reference's matches.
func TestEngineMatchesNaive(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	letters := []string{"c", "a", "t", "C", "A", "T", " ", "!", "1", "é", "É", "\u212A", "k", "\u0301", "猫", "-", "*", "ß"}
	word := func(max int) string { return randomText(rng, letters[:12], max) }
	regexes := []string{`\bca`, `t\b`, `[ck]a+`, `\d`, `^a`, `é\B`}
	for i := range 400 {
		var rules []Rule
		for j := range 1 + rng.IntN(4) {
			r := keywords(nil)
			r.ID, r.Name = int64(j+1), fmt.Sprint("rule", j)
			for range 1 + rng.IntN(8) {
				k := word(4)
				if strings.Trim(k, "*") == "" {
					k = "ca"
				}
				if rng.IntN(2) == 0 {
					k = "*" + k
				}
				if rng.IntN(2) == 0 {
					k += "*"
				}
				r.TriggerMetadata.KeywordFilter = append(r.TriggerMetadata.KeywordFilter, k)
			}
			for range rng.IntN(3) {
				a := word(6)
				if strings.Trim(a, "*") == "" {
					a = "cat"
				}
				if rng.IntN(3) == 0 {
					a = "*" + a + "*"
				}
				r.TriggerMetadata.AllowList = append(r.TriggerMetadata.AllowList, a)
			}
			if rng.IntN(4) == 0 {
				r.TriggerMetadata.RegexPatterns = []string{regexes[rng.IntN(len(regexes))]}
			}
			rules = append(rules, r)
		}
		ref := newNaiveEngine(rules)
		built := engines(t, rules)
		for range 50 {
			msg := Message{Content: randomText(rng, letters, 24)}
			want := ref.evaluate(msg)
			for name, e := range built {
				if got := e.Evaluate(msg); !sameMatches(want, got) {
					t.Fatalf("#%d %s on %q with rules %+v (-naive +engine):\n%s", i, name, msg.Content, rules, cmp.Diff(want, got, cmpopts.EquateEmpty()))
				}
			}
		}
	}
}

func TestEngineConcurrentUse(t *testing.T) {
	t.Parallel()
	r := exampleRule()
	r.ExemptRoles, r.ExemptChannels = nil, nil
	e := mustCompile(t, []Rule{r, keywords([]string{"*dog*", "cat"}, "catalog")})
	ref := newNaiveEngine([]Rule{r, keywords([]string{"*dog*", "cat"}, "catalog")})
	texts := []string{"a bat and a cat", "hotdog", "192.168.0.1", "nothing", "catalog cat", "ÉCAT \u212Aat"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				msg := Message{Content: texts[(g+i)%len(texts)]}
				if diff := cmp.Diff(ref.evaluate(msg), e.Evaluate(msg), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%q:\n%s", msg.Content, diff)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// FuzzEvaluate: arbitrary keywords and text (invalid UTF-8 included) never panic, and the
// engine agrees with the naive reference.
func FuzzEvaluate(f *testing.F) {
	f.Add("cat", "*cat*", "catcat cat", "category")
	f.Add("*the mat", "mat", "breathe mat", "")
	f.Add("\u212Aat", "k*", "\u212A\u212Aat KAT", "x")
	f.Add("c++", "*", "a c++ b", "*c*")
	f.Fuzz(func(t *testing.T, kw1, kw2, content, allow string) {
		r := keywords([]string{kw1, kw2}, allow)
		if _, err := Compile([]Rule{r}); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		msg := Message{Content: content}
		want := newNaiveEngine([]Rule{r}).evaluate(msg)
		for name, e := range engines(t, []Rule{r}) {
			if got := e.Evaluate(msg); !sameMatches(want, got) {
				t.Fatalf("%s (-naive +engine):\n%s", name, cmp.Diff(want, got, cmpopts.EquateEmpty()))
			}
		}
	})
}

// sameMatches compares what the differential tests compare, cheaply (cmp.Diff only runs to
// explain a difference).
func sameMatches(a, b []Match) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.RuleID != y.RuleID || x.RuleName != y.RuleName || x.TriggerType != y.TriggerType || x.Keyword != y.Keyword ||
			x.Regex != y.Regex || x.MatchedContent != y.MatchedContent || x.Start != y.Start || x.End != y.End ||
			x.Field != y.Field || x.MentionCount != y.MentionCount || len(x.Actions) != len(y.Actions) {
			return false
		}
	}
	return true
}
