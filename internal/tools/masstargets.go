package tools

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/moderation"
)

// massSelection is who a mass command names, as typed: users, a raid, and filters over the
// members, then the reason.
type massSelection struct {
	IDs []discord.UserID
	// Raid is a raid's number (raid:3); 0 when none.
	Raid int64
	// JoinedWithin keeps members who joined less than this long ago; zero: no such filter.
	JoinedWithin time.Duration
	// YoungerThan keeps members whose account is younger than this; zero: no such filter.
	YoungerThan time.Duration
	// Name keeps members whose username, display name or nickname the pattern matches (a
	// regular expression as Discord's AutoMod reads it, run by gavel's local engine).
	Name *automod.Regex
	// Reason is what follows the targets.
	Reason string
}

// filtered says the selection has a filter over the members.
func (s massSelection) filtered() bool {
	return s.JoinedWithin > 0 || s.YoungerThan > 0 || s.Name != nil
}

// Bounds of the filters.
var (
	joinedBounds = duration.Bounds{Min: time.Second, Max: 30 * duration.Day}
	ageBounds    = duration.Bounds{Min: time.Minute, Max: 5 * 365 * duration.Day}
)

// maxNamePattern is the longest name pattern, Discord's limit on an AutoMod regex.
const maxNamePattern = 260

// massTargetsHelp is what the targets accept, for every error.
const massTargetsHelp = "accepted: mentions or user ids, raid:<number>, joined:<duration> (joined within it), " +
	"age:<duration> (account younger than it), name:<pattern> (a regular expression on the name; quote it if it has spaces), then the reason"

// parseMassSelection reads the targets of a mass command: words that are targets, from the
// start, until the first word that is not one, which starts the reason. Filters select the
// members matching all of them; ids are added to those.
func parseMassSelection(text string) (massSelection, error) {
	var s massSelection
	seen := map[discord.UserID]bool{}
	rest := strings.TrimSpace(text)
	for rest != "" {
		word, after := nextWord(rest)
		if word == "" {
			return massSelection{}, fmt.Errorf("an unclosed quote in %q; %s", clipText(rest, 40), massTargetsHelp)
		}
		key, value, isFilter := strings.Cut(word, ":")
		if isFilter && !strings.HasPrefix(word, "<") {
			switch strings.ToLower(key) {
			case "raid":
				n, err := strconv.ParseInt(value, 10, 64)
				if err != nil || n < 1 || n > 1_000_000 {
					return massSelection{}, fmt.Errorf("raid:%s is not a raid number; give raid:<number>, like raid:3", clipText(value, 20))
				}
				if s.Raid != 0 && s.Raid != n {
					return massSelection{}, fmt.Errorf("two raids (raid:%d and raid:%d); name one", s.Raid, n)
				}
				s.Raid = n
			case "joined":
				d, err := duration.ParseWithin(unquote(value), joinedBounds)
				if err != nil {
					return massSelection{}, fmt.Errorf("joined: %v", err)
				}
				s.JoinedWithin = d
			case "age", "younger":
				d, err := duration.ParseWithin(unquote(value), ageBounds)
				if err != nil {
					return massSelection{}, fmt.Errorf("age: %v", err)
				}
				s.YoungerThan = d
			case "name":
				p := unquote(value)
				if p == "" || len([]rune(p)) > maxNamePattern {
					return massSelection{}, fmt.Errorf("name: give a pattern of 1 to %d characters", maxNamePattern)
				}
				re, err := automod.CompileRegex(p)
				if err != nil {
					return massSelection{}, fmt.Errorf("name: the pattern %q does not compile: %v; write a regular expression as Discord's AutoMod reads it, like ^free.?nitro", clipText(p, 60), err)
				}
				s.Name = re
			default:
				// Not a filter: the reason starts here ("reason: spam" is a reason).
				s.Reason = rest
				return s.check()
			}
			rest = after
			continue
		}
		id, ok := commands.ParseUserRef(word)
		if !ok || id <= 0 {
			s.Reason = rest
			return s.check()
		}
		if !seen[discord.UserID(id)] {
			seen[discord.UserID(id)] = true
			s.IDs = append(s.IDs, discord.UserID(id))
			if len(s.IDs) > moderation.MaxMassTargets {
				return massSelection{}, fmt.Errorf("more than %d users; a mass action takes at most %d: narrow it or split the list", moderation.MaxMassTargets, moderation.MaxMassTargets)
			}
		}
		rest = after
	}
	return s.check()
}

func (s massSelection) check() (massSelection, error) {
	if len(s.IDs) == 0 && s.Raid == 0 && !s.filtered() {
		return massSelection{}, fmt.Errorf("no targets; %s", massTargetsHelp)
	}
	s.Reason = strings.TrimSpace(s.Reason)
	return s, nil
}

// nextWord splits the first word off s: up to a space, except inside double quotes (which
// may follow a colon: name:"free nitro"). "" when a quote is not closed.
func nextWord(s string) (word, rest string) {
	inQuote := false
	for i, r := range s {
		switch {
		case r == '"':
			inQuote = !inQuote
		case !inQuote && (r == ' ' || r == '\t' || r == '\n'):
			return s[:i], strings.TrimSpace(s[i:])
		}
	}
	if inQuote {
		return "", ""
	}
	return s, ""
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

// matches says whether member m passes every filter of s at now.
func (s massSelection) matches(m discord.Member, now time.Time) bool {
	if s.JoinedWithin > 0 && (m.JoinedAt.IsZero() || now.Sub(m.JoinedAt) > s.JoinedWithin) {
		return false
	}
	if s.YoungerThan > 0 && now.Sub(m.User.ID.CreatedAt()) >= s.YoungerThan {
		return false
	}
	if s.Name != nil {
		if !s.Name.MatchString(m.User.Username) && !s.Name.MatchString(m.User.GlobalName) && (m.Nick == "" || !s.Name.MatchString(m.Nick)) {
			return false
		}
	}
	return true
}
