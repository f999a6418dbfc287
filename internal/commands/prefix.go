package commands

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/moderation"
)

// ParsePrefix reads a prefix command such as "$ban @user spamming links -p 1 -s". It
// returns ok false when the message is not a moderation command at all (no prefix, or an
// unknown command word), so that the bot stays quiet; a known command written wrongly is a
// *UsageError that says what was wrong and how to write it.
//
// After the command word comes the target, then the reason and flags in any order: a word
// starting with "-" that names a flag of the command (-purge, -p, --silent, …; any letter
// case) is a flag, anything else is part of the reason. Boolean flags take no value; -purge
// takes a number; -duration takes the words that follow as long as they read as a duration,
// so "-d 2 weeks spamming" is two weeks with the reason "spamming".
func ParsePrefix(cat *moderation.Catalogue, prefix, content string) (inv Invocation, ok bool, err error) {
	if prefix == "" || !strings.HasPrefix(content, prefix) {
		return Invocation{}, false, nil
	}
	words := strings.Fields(content[len(prefix):])
	if len(words) == 0 {
		return Invocation{}, false, nil
	}
	a, found := cat.Lookup(words[0])
	if !found {
		return Invocation{}, false, nil
	}
	inv = Invocation{Action: a}
	usage := Usage(prefix, a)
	fail := func(format string, args ...any) (Invocation, bool, error) {
		return Invocation{}, true, &UsageError{Problem: fmt.Sprintf(format, args...), Usage: usage}
	}
	rest := words[1:]
	if len(rest) == 0 || isFlag(a, rest[0]) {
		return fail("Say who: %s needs a %s.", a.Name, targetNoun(a.Target))
	}
	if id, ok := ParseUserRef(rest[0]); ok {
		inv.Target.ID = id
	} else if a.Target == moderation.TargetBanned {
		inv.Target.Name = strings.TrimPrefix(rest[0], "@")
	} else {
		return fail("%q is not a user: mention them (@name) or give their id.", rest[0])
	}
	rest = rest[1:]

	seen := map[moderation.FlagID]bool{}
	var reason []string
	for i := 0; i < len(rest); i++ {
		w := rest[i]
		use, isF := flagOf(a, w)
		if !isF {
			reason = append(reason, w)
			continue
		}
		spec := use.ID.Spec()
		if seen[use.ID] {
			return fail("-%s is given twice.", spec.Name)
		}
		seen[use.ID] = true
		switch use.ID {
		case moderation.FlagSilent:
			inv.Silent = true
		case moderation.FlagPurge:
			if i+1 >= len(rest) {
				return fail("-purge needs a number of days from 0 to 7.")
			}
			n, err := strconv.ParseInt(rest[i+1], 10, 64)
			if err != nil {
				return fail("-purge needs a number of days from 0 to 7, not %q.", rest[i+1])
			}
			if err := applyPurge(&inv, n); err != nil {
				return fail("%s.", upper(err.Error()))
			}
			i++
		case moderation.FlagDuration:
			// The longest run of following words (up to six) that reads as a duration.
			taken := 0
			var parseErr error
			for n := min(6, len(rest)-i-1); n >= 1; n-- {
				d, err := duration.Parse(strings.Join(rest[i+1:i+1+n], " "))
				if err != nil {
					if n == 1 {
						parseErr = err
					}
					continue
				}
				if err := use.Bounds.Check(d); err != nil {
					return fail("Duration %s.", strings.TrimSuffix(err.Error(), "."))
				}
				inv.Duration, taken = d, n
				break
			}
			if taken == 0 {
				if parseErr == nil {
					return fail("-duration needs a duration, like 90m, 1.5h, 1w2d or 2 weeks.")
				}
				return fail("%s.", upper(strings.TrimSuffix(parseErr.Error(), ".")))
			}
			i += taken
		}
	}
	inv.Reason = strings.Join(reason, " ")
	if err := finish(&inv); err != nil {
		return fail("%s.", upper(err.Error()))
	}
	return inv, true, nil
}

// flagOf reports whether word names one of the action's flags.
func flagOf(a *moderation.Action, word string) (moderation.FlagUse, bool) {
	if !strings.HasPrefix(word, "-") {
		return moderation.FlagUse{}, false
	}
	name := strings.ToLower(strings.TrimLeft(word, "-"))
	if name == "" || len(word)-len(strings.TrimLeft(word, "-")) > 2 {
		return moderation.FlagUse{}, false
	}
	for _, use := range a.Flags {
		spec := use.ID.Spec()
		if name == spec.Name {
			return use, true
		}
		for _, al := range spec.Aliases {
			if name == al {
				return use, true
			}
		}
	}
	return moderation.FlagUse{}, false
}

func isFlag(a *moderation.Action, word string) bool {
	_, ok := flagOf(a, word)
	return ok
}

func targetNoun(k moderation.TargetKind) string {
	switch k {
	case moderation.TargetUser:
		return "user (a mention or an id)"
	case moderation.TargetBanned:
		return "banned user (an id, a mention or their name)"
	default:
		return "member (a mention or an id)"
	}
}

func upper(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
