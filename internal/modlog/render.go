package modlog

import (
	"fmt"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
)

// Tone is what an action does to its target, which a case's embed shows by its colour. Each
// action declares its tone (moderation.Action.Tone); the mod log and the DMs colour by it.
type Tone string

const (
	// Removal takes the target out of the server (ban, kick): red.
	Removal Tone = "removal"
	// Restriction limits what the target may do (timeout, jail, restrictions): orange.
	Restriction Tone = "restriction"
	// Lift undoes a removal or a restriction: green.
	Lift Tone = "lift"
	// Record only records (warn, note): blue.
	Record Tone = "record"
)

// Tones lists every tone.
func Tones() []Tone { return []Tone{Removal, Restriction, Lift, Record} }

// colorVoided is the grey of a voided case, whatever its tone.
const colorVoided = 0x95A5A6

// Color is the colour of a case's embed: its tone's, or grey once voided. A tone not known
// (none declared) colours as a record.
func Color(c cases.Case, t Tone) int {
	if c.Status == cases.Voided {
		return colorVoided
	}
	switch t {
	case Removal:
		return 0xE74C3C
	case Restriction:
		return 0xE67E22
	case Lift:
		return 0x2ECC71
	default:
		return 0x3498DB
	}
}

// View is everything a case's mod-log message shows: the case as it is now, its history (for
// how it ended or why it was voided), the people it names, and the reason of the case that
// ended it, when one did.
type View struct {
	Case cases.Case
	// Tone is what the case's action does (its colour).
	Tone      Tone
	Events    []cases.Event
	Target    discord.User
	Moderator discord.User
	// EndedBy is the case that lifted this one (its number is 0 when none did).
	EndedBy cases.Case
	// UpdatedBy is who made the newest change after the case was recorded (see LastUpdate);
	// its id is 0 when no one did.
	UpdatedBy discord.User
}

// LastUpdate is the newest change to a case after it was recorded and settled: what the
// footer's "updated by" names. Recording, settling (pending to active), scheduling its
// expiry and linking its messages are part of the case being given, not updates.
func LastUpdate(evs []cases.Event) (cases.Event, bool) {
	for i := len(evs) - 1; i >= 0; i-- {
		ev := evs[i]
		switch {
		case ev.Kind == cases.EventCreated, ev.Kind == cases.EventModlog, ev.Kind == cases.EventScheduled:
		case ev.Kind == cases.EventStatus && ev.Old == string(cases.Pending):
		case ev.Kind == cases.EventLinked && strings.HasPrefix(ev.Note, "lifts case #"):
		default:
			return ev, true
		}
	}
	return cases.Event{}, false
}

// Embed is a case as the mod-log channel shows it. The message is rendered again whenever
// the case changes, so it always shows the current reason, status, expiry and ending.
func Embed(v View) discord.Embed {
	c := v.Case
	title := fmt.Sprintf("Case #%d · %s", c.Number, c.Type)
	if c.Status == cases.Voided {
		title += " (voided)"
	}
	e := discord.Embed{
		Title:     title,
		Color:     Color(c, v.Tone),
		Timestamp: c.CreatedAt,
		Footer:    &discord.EmbedFooter{Text: footer(v)},
		Fields: []discord.EmbedField{
			{Name: "User", Value: userField(v.Target), Inline: true},
			{Name: "Moderator", Value: moderatorField(v.Moderator), Inline: true},
		},
		// The reason goes in the description: it may be 2000 characters, and a field holds 1024.
		Description: c.Reason,
	}
	if !c.ExpiresAt.IsZero() {
		if c.Processed {
			e.Fields = append(e.Fields, discord.EmbedField{Name: "Ended", Value: clip(ended(v), 1024), Inline: true})
		} else {
			e.Fields = append(e.Fields, discord.EmbedField{Name: "Ends", Value: discordTime(c.ExpiresAt), Inline: true})
		}
	} else if c.Processed {
		e.Fields = append(e.Fields, discord.EmbedField{Name: "Ended", Value: clip(ended(v), 1024), Inline: true})
	}
	if kind := c.Metadata[cases.MetaMass]; kind != "" {
		// A mass action's parent: what it does to how many, and where it stands (each chunk
		// adds a history note, which edits this message); its children post nothing.
		e.Title = fmt.Sprintf("Case #%d · MASS %s", c.Number, strings.ToUpper(kind))
		e.Fields[0] = discord.EmbedField{Name: "Targets", Value: c.Metadata["mass_targets"] + " users (their cases name this one as parent)", Inline: true}
		if n, ok := lastNote(v.Events); ok {
			e.Fields = append(e.Fields, discord.EmbedField{Name: "Progress", Value: clip(n, 1024)})
		}
	}
	if n := c.Metadata["lifts_case"]; n != "" {
		e.Fields = append(e.Fields, discord.EmbedField{Name: "Lifts", Value: "case #" + n, Inline: true})
	}
	if rule := c.Metadata["rule_name"]; rule != "" {
		by := "gavel"
		if c.Metadata["source"] == "discord_automod" {
			by = "Discord"
		}
		e.Fields = append(e.Fields, discord.EmbedField{Name: "AutoMod rule", Value: clip(fmt.Sprintf("%s (%s, %s)", rule, by, c.Metadata["actions"]), 1024)})
		if m := matched(c.Metadata); m != "" {
			e.Fields = append(e.Fields, discord.EmbedField{Name: "Matched", Value: clip(m, 1024)})
		}
	}
	if why := gaveUp(v.Events); why != "" && !c.Processed && c.Status == cases.Active {
		// The expiry failed for good: the message says so until someone acts on the case.
		e.Fields = append(e.Fields, discord.EmbedField{Name: "Expiry failed", Value: clip(why, 1024)})
	}
	if c.Status == cases.Voided {
		if why := voidedWhy(v.Events); why != "" {
			e.Fields = append(e.Fields, discord.EmbedField{Name: "Voided", Value: clip(why, 1024)})
		}
	}
	return e
}

func footer(v View) string {
	s := fmt.Sprintf("Case #%d · %s", v.Case.Number, v.Case.Status)
	if ev, ok := LastUpdate(v.Events); ok && v.UpdatedBy.ID != 0 {
		s += fmt.Sprintf(" · updated by %s · %s", name(v.UpdatedBy), ev.At.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return s
}

// Message is the whole mod-log message of a case: its embed, pinging no one.
func Message(v View) discord.Message {
	return discord.Message{Embeds: []discord.Embed{Embed(v)}, AllowedMentions: &discord.AllowedMentions{}}
}

// ended says how a processed case ended: "ended by #12 (temporary ban expired)", "superseded
// by case #5 (BAN)", or what the expiry found ("they were no longer banned …").
func ended(v View) string {
	when := ""
	var superseded, processed string
	for i := len(v.Events) - 1; i >= 0; i-- {
		ev := v.Events[i]
		switch ev.Kind {
		case cases.EventProcessed:
			if processed == "" {
				processed = strings.TrimPrefix(ev.Note, "expired; ")
				when = discordTime(ev.At)
			}
		case cases.EventSuperseded:
			if superseded == "" {
				superseded = ev.Note
			}
		}
	}
	var what string
	switch {
	case v.EndedBy.Number != 0:
		what = fmt.Sprintf("ended by #%d (%s)", v.EndedBy.Number, liftWhy(v.EndedBy))
	case superseded != "":
		what = superseded
	case processed != "":
		what = processed
	default:
		what = "ended"
	}
	if when == "" {
		return what
	}
	return when + " · " + what
}

// liftWhy is a lift case's reason as a parenthesis: "Temporary ban expired (case #1)" reads
// "temporary ban expired".
func liftWhy(l cases.Case) string {
	r := l.Reason
	if i := strings.LastIndex(r, " (case #"); i > 0 && strings.HasSuffix(r, ")") {
		r = r[:i]
	}
	if r == "" {
		return strings.ToLower(string(l.Type))
	}
	return strings.ToLower(r[:1]) + r[1:]
}

// gaveUp is the note of the newest "gave_up" row: the expiry that failed for good and why.
func gaveUp(evs []cases.Event) string {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == cases.EventGaveUp {
			return evs[i].Note
		}
	}
	return ""
}

// voidedWhy is the note of the newest change that voided the case.
func voidedWhy(evs []cases.Event) string {
	for i := len(evs) - 1; i >= 0; i-- {
		ev := evs[i]
		if ev.Kind == cases.EventVoided || (ev.Kind == cases.EventStatus && ev.New == string(cases.Voided)) {
			return ev.Note
		}
	}
	return ""
}

// EndedByNumber is the number of the case that lifted c, from c's history ("linked" rows
// naming it), or 0.
func EndedByNumber(evs []cases.Event) int64 {
	for i := len(evs) - 1; i >= 0; i-- {
		ev := evs[i]
		if ev.Kind == cases.EventLinked && strings.HasPrefix(ev.Note, "lifted by case #") {
			var n int64
			if _, err := fmt.Sscanf(ev.New, "#%d", &n); err == nil {
				return n
			}
		}
	}
	return 0
}

func matched(m map[string]string) string {
	keyword := m["matched_keyword"] + m["matched_regex"]
	content := m["matched_content"]
	switch {
	case keyword == "" && content == "" && m["mention_count"] != "":
		return m["mention_count"] + " distinct mentions"
	case keyword == "" && content == "" && m["source"] == "discord_automod":
		return "(Discord did not say)"
	case keyword == "" && content == "":
		return ""
	case keyword == "":
		return fmt.Sprintf("%q", content)
	case content == "" || content == keyword:
		return fmt.Sprintf("keyword %q", keyword)
	}
	return fmt.Sprintf("keyword %q in %q", keyword, content)
}

// name is how the embed names a user: the username, escaped (discord.EscapeMarkdown), or the
// id when gavel knows no name.
func name(u discord.User) string {
	if known(u) {
		return discord.EscapeMarkdown(u.Username)
	}
	return fmt.Sprint(u.ID)
}

// known says whether gavel knows a name for u beyond the id.
func known(u discord.User) bool {
	return u.Username != "" && u.Username != fmt.Sprint(u.ID)
}

// userField names the case's target: the mention, the name and the id (for searching and
// for when the mention cannot render); a user known only by id is named by it once.
func userField(u discord.User) string {
	if !known(u) {
		return fmt.Sprintf("<@%d> (%d)", u.ID, u.ID)
	}
	return fmt.Sprintf("<@%d> (%s, %d)", u.ID, name(u), u.ID)
}

func moderatorField(u discord.User) string {
	if !known(u) {
		return fmt.Sprintf("<@%d>", u.ID)
	}
	return fmt.Sprintf("<@%d> (%s)", u.ID, name(u))
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// discordTime renders t as a Discord timestamp, which every reader sees in their own time zone,
// with the relative form beside it.
func discordTime(t time.Time) string {
	return fmt.Sprintf("<t:%d:f> (<t:%d:R>)", t.Unix(), t.Unix())
}

// lastNote is the newest note in a case's history.
func lastNote(evs []cases.Event) (string, bool) {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == cases.EventNote {
			return evs[i].Note, true
		}
	}
	return "", false
}
