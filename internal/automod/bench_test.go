package automod

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/discord"
)

// The benchmark guild: keyword rules of 1000 keywords each (5 to 10 random letters, the four
// wildcard forms in equal shares), optionally 10 regexes per rule of the kind moderators
// write, and 100 allow-list entries per rule. Messages are about 140 bytes of everyday
// chat, some of it non-Latin, and 2% of them carry a keyword in a form that matches it.

var benchRegexes = benchRegexesFor(0)

// benchRegexesFor returns rule i's ten regexes: the same shapes with other words, so that
// each rule of the benchmark guild has regexes of its own.
func benchRegexesFor(i int) []string {
	pick := func(words ...string) string { return words[i%len(words)] }
	return []string{
		`\b(?:free|cheap)\s+` + pick("nitro", "robux", "vbucks", "gems", "coins", "skins") + `\b`,
		pick("discord", "dsc", "disc0rd", "discorcl", "discordd", "dlscord") + `(?:app)?\.(?:gg|com/invite)/[a-z0-9-]+`,
		`(?:https?://)?` + pick("bit", "tiny", "cut", "rb", "ow", "is") + `\.ly/\w+`,
		`\b\d{3}[-. ]\d{3}[-. ]\d{` + fmt.Sprint(4+i) + `}\b`,
		`[a-z0-9._%+-]+@` + pick("gmail", "yahoo", "proton", "outlook", "mail", "icloud") + `\.[a-z]{2,}`,
		`\b(?:buy|sell)\s+(?:` + pick("followers", "likes", "accounts", "views", "subs", "members") + `)\b`,
		`(?:[\u{1F300}-\u{1F5FF}]\s*){` + fmt.Sprint(6+i) + `,}`,
		`\bs+t+e+a+m+\s*` + pick("gift", "card", "code", "key", "wallet", "trade") + `\b`,
		`\b` + pick("kys", "stfu", "gtfo", "noob", "scam", "spam") + `\b`,
		`^(?:[0-9]{1,3}\.){3}[0-9]{1,` + fmt.Sprint(3+i) + `}$`,
	}
}

var benchWords = strings.Fields(`the be to of and a in that have I it for not on with he as you do at this but his
	by from they we say her she or an will my one all would there their what so up out if about who get which go me
	when make can like time no just him know take people into year your good some could them see other than then now
	look only come its over think also back after use two how our work first well way even new want because any these
	give day most us game server channel stream tonight lol yeah thanks please help question anyone raid boss level
	build patch update mod role voice chat meme music playlist song album café naïve déjà vu über Привет спасибо
	日本語 こんにちは 你好 😀 👍 🎉 !! ?? ... :) :( <3 #general @here 1v1 gg wp afk brb omg idk imo tbh`)

func benchKeyword(rng *rand.Rand) string {
	n := 5 + rng.IntN(6)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rng.IntN(26))
	}
	return string(b)
}

func benchRules(n int, regexes bool) []Rule {
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	var rules []Rule
	for i := range n {
		r := Rule{ID: int64(i + 1), Name: fmt.Sprint("rule ", i), EventType: EventMessageSend, TriggerType: TriggerKeyword,
			Enabled: true, Actions: []Action{{Type: ActionBlockMessage}}}
		for j := range MaxKeywords {
			k := benchKeyword(rng)
			switch j % 4 {
			case 1:
				k += "*"
			case 2:
				k = "*" + k
			case 3:
				k = "*" + k + "*"
			}
			r.TriggerMetadata.KeywordFilter = append(r.TriggerMetadata.KeywordFilter, k)
		}
		for range MaxAllowList {
			r.TriggerMetadata.AllowList = append(r.TriggerMetadata.AllowList, benchKeyword(rng)+"*")
		}
		if regexes {
			r.TriggerMetadata.RegexPatterns = benchRegexesFor(i)
		}
		rules = append(rules, r)
	}
	return rules
}

// benchMessages returns messages of about 140 bytes; every 50th carries a keyword of the
// rules, written so that it matches.
func benchMessages(rules []Rule, n int) []Message {
	rng := rand.New(rand.NewPCG(11, 13))
	out := make([]Message, n)
	for i := range out {
		var b strings.Builder
		for b.Len() < 130 {
			w := benchWords[rng.IntN(len(benchWords))]
			if rng.IntN(8) == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			b.WriteString(w)
			b.WriteString([]string{" ", " ", " ", ", ", ". "}[rng.IntN(5)])
		}
		text := b.String()
		if i%50 == 0 {
			r := rules[rng.IntN(len(rules))]
			k := r.TriggerMetadata.KeywordFilter[rng.IntN(len(r.TriggerMetadata.KeywordFilter))]
			core := strings.Trim(k, "*")
			if strings.HasPrefix(k, "*") {
				core = "x" + core
			}
			if strings.HasSuffix(k, "*") {
				core += "ing"
			}
			cut := strings.LastIndexByte(text[:len(text)/2], ' ') + 1
			text = text[:cut] + strings.ToUpper(core[:1]) + core[1:] + " " + text[cut:]
		}
		out[i] = Message{Content: text, AuthorRoles: []discord.RoleID{5, 6}, ChannelID: 9}
	}
	return out
}

type benchGuild struct {
	name    string
	rules   int
	regexes bool
}

var benchGuilds = []benchGuild{
	{"rules=1/keywords=1000/regexes=0", 1, false},
	{"rules=1/keywords=1000/regexes=10", 1, true},
	{"rules=6/keywords=6000/regexes=0", 6, false},
	{"rules=6/keywords=6000/regexes=60", 6, true},
}

// BenchmarkEvaluate measures one message through Engine.Evaluate, with the automaton as a
// DFA and as an NFA, against the naive reference (strings.Index per keyword, plus the same
// boundary checks, allow list and regexes) in the same run.
func BenchmarkEvaluate(b *testing.B) {
	for _, g := range benchGuilds {
		rules := benchRules(g.rules, g.regexes)
		msgs := benchMessages(rules, 2000)
		naive := newNaiveEngine(rules)
		hits := 0
		for _, m := range msgs {
			if len(naive.evaluate(m)) > 0 {
				hits++
			}
		}
		impls := map[string]func(Message) []Match{
			"dfa":   mustCompile(b, rules).Evaluate,
			"nfa":   mustCompile(b, rules, WithNFA()).Evaluate,
			"naive": naive.evaluate,
		}
		for _, name := range []string{"dfa", "nfa", "naive"} {
			eval := impls[name]
			b.Run(g.name+"/matcher="+name, func(b *testing.B) {
				i := 0
				for b.Loop() {
					eval(msgs[i%len(msgs)])
					i++
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
				b.ReportMetric(100*float64(hits)/float64(len(msgs)), "%hits")
			})
		}
	}
}

// BenchmarkCompile measures building the engine, and the heap it retains once built.
func BenchmarkCompile(b *testing.B) {
	for _, g := range benchGuilds {
		rules := benchRules(g.rules, g.regexes)
		for _, m := range []struct {
			name string
			opts []Option
		}{{"dfa", nil}, {"nfa", []Option{WithNFA()}}} {
			b.Run(g.name+"/matcher="+m.name, func(b *testing.B) {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				e := mustCompile(b, rules, m.opts...)
				runtime.GC()
				runtime.ReadMemStats(&after)
				retained := int64(after.HeapAlloc) - int64(before.HeapAlloc)
				runtime.KeepAlive(e)
				for b.Loop() {
					mustCompile(b, rules, m.opts...)
				}
				b.ReportMetric(float64(retained)/(1<<20), "retained-MiB")
			})
		}
	}
}
