package discord_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gavelbot/gavel/internal/discord"
)

// withinLimits says which of Discord's limits msg breaks, or "".
func withinLimits(msg discord.Message) string {
	n := func(s string) int { return utf8.RuneCountInString(strings.TrimSpace(s)) }
	if n(msg.Content) > discord.MaxContent {
		return fmt.Sprintf("content of %d", n(msg.Content))
	}
	if len(msg.Embeds) > discord.MaxEmbeds {
		return fmt.Sprintf("%d embeds", len(msg.Embeds))
	}
	type text struct {
		what, s string
		max     int
	}
	total := 0
	for i, e := range msg.Embeds {
		texts := []text{{"title", e.Title, discord.MaxEmbedTitle}, {"description", e.Description, discord.MaxEmbedDescription}}
		if e.Footer != nil {
			texts = append(texts, text{"footer", e.Footer.Text, discord.MaxFooter})
		}
		if e.Author != nil {
			texts = append(texts, text{"author", e.Author.Name, discord.MaxAuthorName})
		}
		if len(e.Fields) > discord.MaxEmbedFields {
			return fmt.Sprintf("embed %d: %d fields", i, len(e.Fields))
		}
		for _, f := range e.Fields {
			texts = append(texts, text{"field name", f.Name, discord.MaxFieldName}, text{"field value", f.Value, discord.MaxFieldValue})
		}
		for _, t := range texts {
			total += n(t.s)
			if n(t.s) > t.max {
				return fmt.Sprintf("embed %d: %s of %d", i, t.what, n(t.s))
			}
		}
	}
	if total > discord.MaxEmbedTotal {
		return fmt.Sprintf("embeds of %d in all", total)
	}
	return ""
}

func TestFit(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	fields := make([]discord.EmbedField, 30)
	for i := range fields {
		fields[i] = discord.EmbedField{Name: long(300), Value: long(1500)}
	}
	msg := discord.Message{
		Content: "❌ " + long(5000) + " is not a user",
		Embeds: []discord.Embed{{
			Title: long(300), Description: long(5000), Fields: fields,
			Footer: &discord.EmbedFooter{Text: long(3000)}, Author: &discord.EmbedAuthor{Name: long(300)},
		}},
	}
	got := msg.Fit()
	if why := withinLimits(got); why != "" {
		t.Fatalf("Fit left %s", why)
	}
	if c := got.Content; utf8.RuneCountInString(c) != discord.MaxContent || !strings.HasSuffix(c, "…") || !strings.HasPrefix(c, "❌ xxx") {
		t.Errorf("content cut to %d characters, ending %q", utf8.RuneCountInString(c), c[len(c)-10:])
	}
	e := got.Embeds[0]
	if utf8.RuneCountInString(e.Title) != discord.MaxEmbedTitle || utf8.RuneCountInString(e.Author.Name) != discord.MaxAuthorName {
		t.Errorf("title %d, author %d characters", utf8.RuneCountInString(e.Title), utf8.RuneCountInString(e.Author.Name))
	}
	// The original is untouched (its footer and author are pointers).
	if len(msg.Embeds[0].Footer.Text) != 3000 || len(msg.Embeds[0].Fields) != 30 || len(msg.Embeds[0].Fields[0].Value) != 1500 {
		t.Error("Fit changed the message it was given")
	}

	// Within the limits: unchanged.
	ok := discord.Message{Content: long(2000), Embeds: []discord.Embed{{Title: long(256), Description: long(4096), Fields: fields[:1]}}}
	ok.Embeds[0].Fields = []discord.EmbedField{{Name: "a", Value: long(1024)}}
	if got := ok.Fit(); got.Content != ok.Content || got.Embeds[0].Description != ok.Embeds[0].Description || got.Embeds[0].Fields[0].Value != ok.Embeds[0].Fields[0].Value {
		t.Error("Fit changed a message within the limits")
	}
	// Several embeds over the total: the last ones give way first.
	two := discord.Message{Embeds: []discord.Embed{{Title: "first", Description: long(4000)}, {Title: "second", Description: long(4000)}}}
	got = two.Fit()
	if why := withinLimits(got); why != "" {
		t.Fatalf("two embeds: %s", why)
	}
	if got.Embeds[0].Description != two.Embeds[0].Description {
		t.Error("the first embed was cut before the last")
	}
	// Eleven embeds: ten are kept.
	if got := (discord.Message{Embeds: make([]discord.Embed, 11)}).Fit(); len(got.Embeds) != discord.MaxEmbeds {
		t.Errorf("%d embeds kept of 11", len(got.Embeds))
	}
}

func FuzzMessageFit(f *testing.F) {
	f.Add("content", "title", "description", "name", "value", "footer", 3, 2)
	f.Add(strings.Repeat("é ", 1500), strings.Repeat("t", 300), strings.Repeat("d\n", 2100), strings.Repeat("n", 300), strings.Repeat("v ", 600), strings.Repeat("f", 2100), 30, 12)
	f.Fuzz(func(t *testing.T, content, title, desc, name, value, footer string, nFields, nEmbeds int) {
		nFields, nEmbeds = max(0, nFields%40), max(0, nEmbeds%14)
		embeds := make([]discord.Embed, nEmbeds)
		for i := range embeds {
			fs := make([]discord.EmbedField, nFields)
			for j := range fs {
				fs[j] = discord.EmbedField{Name: name, Value: value}
			}
			embeds[i] = discord.Embed{Title: title, Description: desc, Fields: fs, Footer: &discord.EmbedFooter{Text: footer},
				Author: &discord.EmbedAuthor{Name: name}}
		}
		got := discord.Message{Content: content, Embeds: embeds}.Fit()
		if why := withinLimits(got); why != "" {
			t.Fatalf("Fit left %s", why)
		}
		if !utf8.ValidString(content) || got.Content == content {
			return
		}
		// What was cut keeps its beginning.
		if kept := strings.TrimSuffix(got.Content, "…"); !strings.HasPrefix(strings.TrimSpace(content), kept) {
			t.Fatalf("cut content %q does not begin the original", kept)
		}
	})
}
