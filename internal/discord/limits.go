package discord

import (
	"strings"
	"unicode/utf8"
)

// Discord's limits on what a message may carry (message.mdx, "Embed Limits"). A message
// over any of them is refused with 400 50035, and the one who typed the command then gets
// no answer at all, so gavel cuts every message to them where it leaves (Fit).
const (
	MaxContent          = 2000
	MaxEmbeds           = 10
	MaxEmbedTitle       = 256
	MaxEmbedDescription = 4096
	MaxEmbedFields      = 25
	MaxFieldName        = 256
	MaxFieldValue       = 1024
	MaxFooter           = 2048
	MaxAuthorName       = 256
	// MaxEmbedTotal bounds the characters of all of a message's embeds together.
	MaxEmbedTotal = 6000
)

// ellipsis marks text that was cut.
const ellipsis = "…"

// Fit returns msg cut to Discord's limits: the content, each embed's texts and fields, the
// number of embeds and fields, and the embeds' total, with an ellipsis where text was cut.
// Discord counts characters after trimming, so Fit does too. A message within the limits is
// returned unchanged.
func (msg Message) Fit() Message {
	msg.Content = cut(msg.Content, MaxContent)
	if len(msg.Embeds) == 0 {
		return msg
	}
	embeds := make([]Embed, 0, min(len(msg.Embeds), MaxEmbeds))
	for _, e := range msg.Embeds[:min(len(msg.Embeds), MaxEmbeds)] {
		e.Title = cut(e.Title, MaxEmbedTitle)
		e.Description = cut(e.Description, MaxEmbedDescription)
		if len(e.Fields) > MaxEmbedFields {
			e.Fields = e.Fields[:MaxEmbedFields]
		}
		fields := make([]EmbedField, len(e.Fields))
		for i, f := range e.Fields {
			f.Name, f.Value = cut(f.Name, MaxFieldName), cut(f.Value, MaxFieldValue)
			fields[i] = f
		}
		e.Fields = fields
		if e.Footer != nil {
			f := *e.Footer
			f.Text = cut(f.Text, MaxFooter)
			e.Footer = &f
		}
		if e.Author != nil {
			a := *e.Author
			a.Name = cut(a.Name, MaxAuthorName)
			e.Author = &a
		}
		embeds = append(embeds, e)
	}
	msg.Embeds = fitTotal(embeds)
	return msg
}

// fitTotal brings the embeds within MaxEmbedTotal: the last embeds' descriptions are
// shortened first (they hold the long free text: reasons, histories), then their fields are
// dropped from the end, then whole embeds.
func fitTotal(embeds []Embed) []Embed {
	over := embedsSize(embeds) - MaxEmbedTotal
	for i := len(embeds) - 1; i >= 0 && over > 0; i-- {
		e := &embeds[i]
		if n := chars(e.Description); n > 0 {
			keep := max(n-over-1, 0) // one for the ellipsis
			e.Description = cut(e.Description, keep+1)
			over = embedsSize(embeds) - MaxEmbedTotal
		}
		for over > 0 && len(e.Fields) > 0 {
			e.Fields = e.Fields[:len(e.Fields)-1]
			over = embedsSize(embeds) - MaxEmbedTotal
		}
	}
	for over > 0 && len(embeds) > 1 {
		embeds = embeds[:len(embeds)-1]
		over = embedsSize(embeds) - MaxEmbedTotal
	}
	if over > 0 {
		// One embed of a title, footer and author alone cannot exceed the total (256 + 2048 +
		// 256), so this is unreachable; cut the footer to be sure all the same.
		if e := &embeds[0]; e.Footer != nil {
			e.Footer.Text = cut(e.Footer.Text, max(chars(e.Footer.Text)-over, 1))
		}
	}
	return embeds
}

// embedsSize counts the characters of embeds as Discord does toward MaxEmbedTotal.
func embedsSize(embeds []Embed) int {
	n := 0
	for _, e := range embeds {
		n += chars(e.Title) + chars(e.Description)
		for _, f := range e.Fields {
			n += chars(f.Name) + chars(f.Value)
		}
		if e.Footer != nil {
			n += chars(e.Footer.Text)
		}
		if e.Author != nil {
			n += chars(e.Author.Name)
		}
	}
	return n
}

func chars(s string) int { return utf8.RuneCountInString(strings.TrimSpace(s)) }

// cut shortens s to at most limit characters (as Discord counts them, after trimming),
// ending in an ellipsis when it was cut.
func cut(s string, limit int) string {
	if chars(s) <= limit {
		return s
	}
	s = strings.TrimSpace(s)
	if limit <= 0 {
		return ""
	}
	r := []rune(s)
	return strings.TrimRightFunc(string(r[:limit-1]), isSpace) + ellipsis
}

func isSpace(r rune) bool { return r == ' ' || r == '\n' || r == '\t' || r == '\r' }
